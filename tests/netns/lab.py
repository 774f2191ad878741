"""A four-namespace lab where path MTU discovery works, black-holes, or meets a same-segment mismatch.

    edge (9000) ── gw (9000 | 1500) ── wan (1500 | 9000) ── cloud (9000)

docs/reference/aws-facts.md, "Linux PMTUD in a network-namespace lab": a TCP black hole needs both ends to
advertise an MSS above the bottleneck, and dropping ICMP frag-needed in the routers' OUTPUT chain (what they
generate) is what makes one; a FORWARD rule does not. The lab only ever sends traffic between its own
namespaces: addresses 10.66.x.x and fd66:x:: exist nowhere else. Namespace names carry this process's id, and
``Lab.destroy`` removes them (and with them every veth, route and firewall rule made inside them).

Used by tests/netns (pytest fixtures) and bench/bench_probe.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import heapq
import os
import select
import shutil
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
PREFIX = "dslab"
_CLONE_NEWNET = 0x40000000


def lab_unavailable_reason() -> str | None:
    """Why the lab cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    for tool in ("ip",):
        if shutil.which(tool) is None:
            return f"needs `{tool}` (run `make system-packages`)"
    if shutil.which("nft") is None and shutil.which("iptables") is None:
        return "needs nft or iptables (run `make system-packages`)"
    name = f"{PREFIX}-check-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        return f"cannot create network namespaces: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    return None


def sh(*argv: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = (["ip", "netns", "exec", netns] if netns else []) + list(argv)
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=30)


def in_netns(name: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a thread that has entered network namespace ``name`` (sockets it opens stay there)."""
    libc = ctypes.CDLL(None, use_errno=True)
    box: dict[str, object] = {}

    def body() -> None:
        try:
            with open(f"/run/netns/{name}") as handle:  # noqa: PTH123 -- an fd for setns(2)
                entered = libc.setns(handle.fileno(), _CLONE_NEWNET) == 0
            if not entered:
                box["error"] = OSError(ctypes.get_errno(), f"setns({name}) failed")
                return
            box["value"] = fn()
        except BaseException as error:  # noqa: BLE001 -- re-raised in the caller's thread
            box["error"] = error

    thread = threading.Thread(target=body, name=f"netns-{name}")
    thread.start()
    thread.join(timeout=120)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def sweep_stale() -> None:
    """Remove lab namespaces left by runs whose process is gone (a crash between setup and teardown)."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.strip() else ""
        parts = name.split("-")
        stale = len(parts) >= 3 and parts[0] == PREFIX and parts[1].isdigit()
        if stale and not Path(f"/proc/{parts[1]}").exists():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


@dataclass
class Lab:
    """The namespaces and addresses of one lab instance."""

    tag: str
    blackhole: bool = False
    gw_edge_mtu: int = 9000
    delay_ms: float = 0.0
    bottleneck_mtu: int = 1500
    """The MTU of the gw–wan link, the path's narrowest."""
    names: dict[str, str] = field(default_factory=dict)
    relay: DelayRelay | None = None

    edge_ip = "10.66.1.2"
    gw_edge_ip = "10.66.1.1"
    gw_wan_ip = "10.66.2.1"
    wan_gw_ip = "10.66.2.2"
    wan_cloud_ip = "10.66.3.1"
    cloud_ip = "10.66.3.2"
    edge_ip6 = "fd66:1::2"
    gw_edge_ip6 = "fd66:1::1"
    gw_wan_ip6 = "fd66:2::1"
    wan_gw_ip6 = "fd66:2::2"
    cloud_ip6 = "fd66:3::2"
    edge_if = "e0"

    def ns(self, role: str) -> str:
        return self.names[role]

    def build(self) -> Lab:
        base = f"{PREFIX}-{os.getpid()}-{self.tag}"
        self.names = {role: f"{base}-{role}" for role in ("edge", "gw", "wan", "cloud")}
        try:
            self._build()
        except BaseException:
            self.destroy()
            raise
        return self

    def _build(self) -> None:
        for name in self.names.values():
            sh("ip", "netns", "add", name)
            sh("ip", "link", "set", "lo", "up", netns=name)
            # Duplicate address detection would keep link-local addresses tentative (and neighbour
            # discovery mute) for a second or two after each link comes up.
            for scope in ("all", "default"):
                sh("sysctl", "-qw", f"net.ipv6.conf.{scope}.accept_dad=0", netns=name)
        edge, gw, wan, cloud = (self.names[r] for r in ("edge", "gw", "wan", "cloud"))
        self._veth((edge, "e0", 9000), (gw, "g0", self.gw_edge_mtu))
        self._veth((gw, "g1", self.bottleneck_mtu), (wan, "w0", self.bottleneck_mtu))
        if self.delay_ms > 0:
            self.relay = DelayRelay(wan, "w1", cloud, "c0", self.delay_ms / 2000.0, mtu=9000)
            self.relay.start()
        else:
            self._veth((wan, "w1", 9000), (cloud, "c0", 9000))
        self._addr(edge, "e0", "10.66.1.2/24", "fd66:1::2/64")
        self._addr(gw, "g0", "10.66.1.1/24", "fd66:1::1/64")
        self._addr(gw, "g1", "10.66.2.1/24", "fd66:2::1/64")
        self._addr(wan, "w0", "10.66.2.2/24", "fd66:2::2/64")
        self._addr(wan, "w1", "10.66.3.1/24", "fd66:3::1/64")
        self._addr(cloud, "c0", "10.66.3.2/24", "fd66:3::2/64")
        for router in (gw, wan):
            sh("sysctl", "-qw", "net.ipv4.ip_forward=1", netns=router)
            sh("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1", netns=router)
        sh("ip", "route", "add", "default", "via", self.gw_edge_ip, netns=edge)
        sh("ip", "-6", "route", "add", "default", "via", self.gw_edge_ip6, netns=edge)
        sh("ip", "route", "add", "10.66.3.0/24", "via", self.wan_gw_ip, netns=gw)
        sh("ip", "-6", "route", "add", "fd66:3::/64", "via", self.wan_gw_ip6, netns=gw)
        sh("ip", "route", "add", "10.66.1.0/24", "via", self.gw_wan_ip, netns=wan)
        sh("ip", "-6", "route", "add", "fd66:1::/64", "via", self.gw_wan_ip6, netns=wan)
        sh("ip", "route", "add", "default", "via", self.wan_cloud_ip, netns=cloud)
        sh("ip", "-6", "route", "add", "default", "via", "fd66:3::1", netns=cloud)
        if self.blackhole:
            for router in (gw, wan):
                drop_frag_needed_in_output(router)
        if self.gw_edge_mtu < 9000:
            drop_oversize_frames(gw, "g0", self.gw_edge_mtu)

    def _veth(self, a: tuple[str, str, int], b: tuple[str, str, int]) -> None:
        (ns_a, if_a, mtu_a), (ns_b, if_b, mtu_b) = a, b
        sh("ip", "link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b)
        sh("ip", "link", "set", if_a, "mtu", str(mtu_a), "up", netns=ns_a)
        sh("ip", "link", "set", if_b, "mtu", str(mtu_b), "up", netns=ns_b)

    def _addr(self, ns: str, dev: str, v4: str, v6: str) -> None:
        sh("ip", "addr", "add", v4, "dev", dev, netns=ns)
        # nodad: duplicate address detection would hold the address back for a second or more.
        sh("ip", "-6", "addr", "add", v6, "dev", dev, "nodad", netns=ns)

    def flush_pmtu_cache(self) -> None:
        """Forget learned path MTUs (cached for 600 s, docs/reference/aws-facts.md) in every namespace."""
        for name in self.names.values():
            sh("ip", "route", "flush", "cache", netns=name, check=False)
            sh("ip", "-6", "route", "flush", "cache", netns=name, check=False)

    def destroy(self) -> None:
        if self.relay is not None:
            self.relay.stop()
            self.relay = None
        for name in self.names.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False, timeout=30)


def drop_frag_needed_in_output(netns: str) -> None:
    """Make a router a black hole: it generates frag-needed / Packet Too Big, its OUTPUT drops them."""
    if shutil.which("nft"):
        ruleset = (
            "table inet lab_blackhole {\n"
            "  chain output { type filter hook output priority 0; policy accept;\n"
            "    icmp type destination-unreachable icmp code frag-needed drop\n"
            "    icmpv6 type packet-too-big drop\n"
            "  }\n"
            "}\n"
        )
        subprocess.run(
            ["ip", "netns", "exec", netns, "nft", "-f", "-"],
            input=ruleset,
            text=True,
            check=True,
            capture_output=True,
            timeout=30,
        )
        return
    sh(
        "iptables",
        "-A",
        "OUTPUT",
        "-p",
        "icmp",
        "--icmp-type",
        "fragmentation-needed",
        "-j",
        "DROP",
        netns=netns,
    )
    sh(
        "ip6tables",
        "-A",
        "OUTPUT",
        "-p",
        "ipv6-icmp",
        "--icmpv6-type",
        "packet-too-big",
        "-j",
        "DROP",
        netns=netns,
    )


def drop_oversize_frames(netns: str, interface: str, mtu: int) -> None:
    """Make a veth drop received frames above its MTU, as a real NIC does (veth delivers them anyway)."""
    if shutil.which("nft"):
        ruleset = (
            "table inet lab_nic {\n"
            "  chain prerouting { type filter hook prerouting priority -300; policy accept;\n"
            f'    iifname "{interface}" meta length > {mtu} drop\n'
            "  }\n"
            "}\n"
        )
        subprocess.run(
            ["ip", "netns", "exec", netns, "nft", "-f", "-"],
            input=ruleset,
            text=True,
            check=True,
            capture_output=True,
            timeout=30,
        )
        return
    for tool in ("iptables", "ip6tables"):
        sh(
            tool,
            "-t",
            "raw",
            "-A",
            "PREROUTING",
            "-i",
            interface,
            "-m",
            "length",
            "--length",
            f"{mtu + 1}:65535",
            "-j",
            "DROP",
            netns=netns,
        )


@contextlib.contextmanager
def lab(tag: str, **options: object) -> Iterator[Lab]:
    """A lab for the duration of the block, removed even when the block fails."""
    instance = Lab(tag, **options)  # type: ignore[arg-type]
    instance.build()
    try:
        yield instance
    finally:
        instance.destroy()


# ---------------------------------------------------------------------------------------------------------
# A user-space delay relay: this kernel has no netem (docs/reference/aws-facts.md).

_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000


def _open_tun(netns: str, name: str) -> int:
    def body() -> int:
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
        return fd

    return in_netns(netns, body)


class DelayRelay:
    """Joins two namespaces with a TUN device in each and forwards IP packets between them after a delay.

    Packets keep their size and DF bit (the relay copies them as they are), so PMTUD behaves as on a wire
    with ``delay_s`` of one-way latency.
    """

    def __init__(self, ns_a: str, if_a: str, ns_b: str, if_b: str, delay_s: float, *, mtu: int) -> None:
        self.delay_s = delay_s
        self.fd_a = _open_tun(ns_a, if_a)
        self.fd_b = _open_tun(ns_b, if_b)
        for ns, dev in ((ns_a, if_a), (ns_b, if_b)):
            sh("ip", "link", "set", dev, "mtu", str(mtu), "up", netns=ns)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delay-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for fd in (self.fd_a, self.fd_b):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _run(self) -> None:
        queue: list[tuple[float, int, int, bytes]] = []
        counter = 0
        other = {self.fd_a: self.fd_b, self.fd_b: self.fd_a}
        while not self._stop.is_set():
            now = time.monotonic()
            while queue and queue[0][0] <= now:
                _, _, fd, packet = heapq.heappop(queue)
                with contextlib.suppress(OSError):
                    os.write(fd, packet)
            wait = min(0.05, max(0.0, queue[0][0] - now)) if queue else 0.05
            ready, _, _ = select.select([self.fd_a, self.fd_b], [], [], wait)
            for fd in ready:
                for _ in range(256):  # bounded burst per wake-up
                    try:
                        packet = os.read(fd, 65535)
                    except (BlockingIOError, OSError):
                        break
                    counter += 1
                    heapq.heappush(queue, (time.monotonic() + self.delay_s, counter, other[fd], packet))
