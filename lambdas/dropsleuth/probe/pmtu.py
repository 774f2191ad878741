"""Path-MTU probes with the Don't-Fragment bit that tell a working path from a black hole.

Each probe is one datagram of an exact IP size sent from a fresh socket with
``IP_MTU_DISCOVER = IP_PMTUDISC_PROBE`` (DF set, the kernel's cached path MTU ignored, so an earlier
discovery cannot hide a black hole) and ``IP_RECVERR`` / ``IPV6_RECVERR`` (ICMP errors land in the socket's
error queue with the reporting router and the MTU it names). Probes of one round go out together, so a
black hole costs a few rounds of one short timeout each instead of one timeout per size: see ip(7), ipv6(7).

Three transports:
- ``icmp``: echo requests (no server needed). A "ping socket" (``SOCK_DGRAM``/``IPPROTO_ICMP``) when
  ``net.ipv4.ping_group_range`` admits us, else a raw socket (root / CAP_NET_RAW).
- ``udp``: datagrams to ``dropsleuth probe responder`` (an ICMP port-unreachable from the target counts as
  delivered too). The only mode that works in Lambda: no raw sockets there.
- ``tcp``: a real large-payload transfer to the responder with the system's normal PMTUD, which stalls on
  a black hole exactly like the user's uploads do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import errno
import ipaddress
import json
import os
import random
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dropsleuth.aws.errors import InputError
from dropsleuth.rules.pmtu_verdict import (
    HopLocation,
    HopReport,
    Outcome,
    PathVerdict,
    PmtuVerdict,
    ProbeOutcome,
    classify,
    first_round_sizes,
    floor_for,
    locate,
    next_round_sizes,
)

# <linux/in.h>, <linux/in6.h>, <linux/errqueue.h>: Python 3.11's socket module lacks these constants.
IP_MTU_DISCOVER = 10
IP_RECVERR = 11
IP_MTU = 14
IP_PMTUDISC_DO = 2
IP_PMTUDISC_PROBE = 3
IPV6_MTU_DISCOVER = 23
IPV6_MTU = 24
IPV6_RECVERR = 25
IPV6_PMTUDISC_DO = 2
IPV6_PMTUDISC_PROBE = 3
SO_EE_ORIGIN_LOCAL = 1
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3
_EE_STRUCT = struct.Struct("=IBBBBII")  # struct sock_extended_err

DEFAULT_PORT = 4821
_IPV4_HEADER = 20
_IPV6_HEADER = 40
_L4_HEADER = 8  # ICMP echo header and UDP header are both 8 bytes
_MAGIC = b"DSPROBE1"


class Mode(enum.StrEnum):
    icmp = "icmp"
    udp = "udp"
    tcp = "tcp"


@dataclass(frozen=True)
class ProbeSettings:
    mode: Mode = Mode.icmp
    port: int = DEFAULT_PORT
    first_timeout_s: float = 1.0
    """How long the first round waits for anything at all."""
    min_timeout_s: float = 0.2
    """Once the target has answered, a round waits ``max(min_timeout_s, 4 × RTT)``."""
    max_rounds: int = 8
    per_round: int = 96
    """Probes per narrowing round. A black-holed round costs one timeout whatever its size, so a wide
    round finds an MTU off the common list (1419, 1337, …: any gap of up to 97 bytes between two common
    MTUs) in one round after the first instead of two or three."""
    ceiling: int | None = None
    """The largest size to try; default the outgoing interface's MTU."""
    locate_hop: bool = False
    max_hops: int = 16


@dataclass(frozen=True)
class PmtuResult:
    target: str
    family: int
    mode: Mode
    interface: str | None
    interface_mtu: int
    verdict: PmtuVerdict
    probes: tuple[ProbeOutcome, ...]
    rounds: int
    elapsed_s: float
    verdict_s: float = 0.0
    """Time to the verdict, before any hop location."""
    rtt_s: float | None = None
    location: HopLocation | None = None
    socket_kind: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the CLI's ``--output json``)."""
        data = asdict(self)
        data["family"] = "ipv6" if self.family == socket.AF_INET6 else "ipv4"
        data["verdict"]["is_problem"] = self.verdict.is_problem
        return json.loads(json.dumps(data, default=str))  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------------------
# Targets and interfaces


def resolve_target(target: str) -> tuple[int, str]:
    """The address family and a literal address for ``target`` (an IP or a host name)."""
    try:
        address = ipaddress.ip_address(target)
    except ValueError:
        try:
            info = socket.getaddrinfo(target, None, type=socket.SOCK_DGRAM)
        except socket.gaierror as error:
            raise InputError(f"cannot resolve target {target!r}: {error}", field="target") from error
        family, *_, sockaddr = info[0]
        return int(family), str(sockaddr[0])
    return (socket.AF_INET6 if address.version == 6 else socket.AF_INET), str(address)


def route_interface(address: str) -> tuple[str | None, int | None]:
    """The outgoing interface toward ``address`` and its MTU (``ip route get``; None when unknown)."""
    ip = shutil.which("ip")
    if ip is None:
        return None, None
    completed = subprocess.run(  # noqa: S603 -- fixed argv, the address was parsed by ipaddress
        [ip, "-j", "route", "get", address], capture_output=True, text=True, timeout=5, check=False
    )
    if completed.returncode != 0:
        return None, None
    try:
        routes = json.loads(completed.stdout)
    except json.JSONDecodeError:
        return None, None
    device = routes[0].get("dev") if routes else None
    if not device:
        return None, None
    return str(device), interface_mtu(str(device))


def interface_mtu(name: str) -> int | None:
    """An interface's MTU (``ip link``, which answers for the caller's network namespace; else sysfs)."""
    ip = shutil.which("ip")
    if ip is not None:
        completed = subprocess.run(  # noqa: S603 -- fixed argv; name comes from the kernel's route
            [ip, "-j", "link", "show", "dev", name], capture_output=True, text=True, timeout=5, check=False
        )
        with contextlib.suppress(json.JSONDecodeError, IndexError, KeyError, TypeError, ValueError):
            return int(json.loads(completed.stdout)[0]["mtu"])
    path = Path("/sys/class/net") / name / "mtu"
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _socket_mtu(family: int, address: str) -> int:
    """The kernel's idea of the MTU toward ``address`` (the route's, possibly a cached path MTU)."""
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect((address, 9))
        level, option = (
            (socket.IPPROTO_IPV6, IPV6_MTU) if family == socket.AF_INET6 else (socket.IPPROTO_IP, IP_MTU)
        )
        return int(sock.getsockopt(level, option))


# ---------------------------------------------------------------------------------------------------------
# One round of probes


@dataclass
class _Probe:
    size: int
    ttl: int | None
    sock: socket.socket
    token: bytes
    echo_id: int = 0
    seq: int = 0
    sent_at: float = 0.0
    result: ProbeOutcome | None = None


def ping_sockets_allowed() -> bool:
    """Whether this process may open unprivileged ICMP "ping sockets" (``net.ipv4.ping_group_range``)."""
    try:
        low, high = (int(v) for v in Path("/proc/sys/net/ipv4/ping_group_range").read_text().split())
    except (OSError, ValueError):
        return False
    groups = {os.getgid(), *os.getgroups()}
    return any(low <= g <= high for g in groups)


def _icmp_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


class _Transport:
    """Opens one fresh socket per probe, builds its payload and recognises its answers."""

    def __init__(self, family: int, address: str, settings: ProbeSettings) -> None:
        self.family = family
        self.address = address
        self.settings = settings
        self.v6 = family == socket.AF_INET6
        self.header = _IPV6_HEADER if self.v6 else _IPV4_HEADER
        self.kind = "udp"
        if settings.mode is Mode.icmp:
            self.kind = "icmp-ping-socket" if ping_sockets_allowed() else "icmp-raw"

    def open(self, size: int, ttl: int | None, shared: socket.socket | None = None) -> _Probe:
        """A probe on a fresh socket; raw probes of one round share one fresh socket (``shared``),
        because every raw ICMP socket receives every reply and a socket per probe multiplies the copies."""
        if shared is not None:
            return self._new_probe(size, ttl, shared)
        proto = socket.IPPROTO_ICMPV6 if self.v6 else socket.IPPROTO_ICMP
        if self.kind == "icmp-ping-socket":
            sock = socket.socket(self.family, socket.SOCK_DGRAM, proto)
        elif self.kind == "icmp-raw":
            try:
                sock = socket.socket(self.family, socket.SOCK_RAW, proto)
            except PermissionError as error:
                raise InputError(
                    "ICMP probes need root (raw sockets) or net.ipv4.ping_group_range covering this user; "
                    "use --mode udp with a responder instead",
                    field="mode",
                ) from error
        else:
            sock = socket.socket(self.family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        if self.kind == "icmp-raw":
            # Room for every reply of a round (up to ~40 probes of up to 9 kB) before we read them.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        if self.v6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE)
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        port = self.settings.port if self.kind == "udp" else 0
        sock.connect((self.address, port))
        return self._new_probe(size, ttl, sock)

    def set_ttl(self, sock: socket.socket, ttl: int | None) -> None:
        """The hop limit for the next send (-1: the system default)."""
        if self.v6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, -1 if ttl is None else ttl)
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, -1 if ttl is None else ttl)

    def _new_probe(self, size: int, ttl: int | None, sock: socket.socket) -> _Probe:
        token = random.randbytes(8)  # noqa: S311 -- matching answers to probes, not security
        probe = _Probe(size, ttl, sock, token)
        if self.kind == "icmp-ping-socket":
            # The kernel picks the echo identifier of a ping socket: its local "port".
            probe.echo_id = sock.getsockname()[1] & 0xFFFF
        else:
            probe.echo_id = random.getrandbits(16)
        probe.seq = random.getrandbits(16)
        return probe

    def payload(self, probe: _Probe) -> bytes:
        body_len = probe.size - self.header - _L4_HEADER
        body = (_MAGIC + probe.token).ljust(max(body_len, 0), b"\xa5")[: max(body_len, 0)]
        if self.kind == "udp":
            return body
        echo_type = 128 if self.v6 else 8
        header = struct.pack("!BBHHH", echo_type, 0, 0, probe.echo_id, probe.seq)
        if self.kind == "icmp-raw" and not self.v6:
            # The kernel fills in ICMPv6 checksums on raw sockets (RFC 3542), not ICMPv4 ones.
            checksum = _icmp_checksum(header + body)
            header = struct.pack("!BBHHH", echo_type, 0, checksum, probe.echo_id, probe.seq)
        return header + body

    def is_answer(self, probe: _Probe, data: bytes) -> bool:
        """Whether a received datagram answers this probe."""
        if self.kind == "udp":
            return _MAGIC + probe.token in data[:64]
        if self.kind == "icmp-raw" and not self.v6:
            data = data[(data[0] & 0x0F) * 4 :] if data else data  # raw IPv4 sockets see the IP header
        if len(data) < 8:
            return False
        reply_type = 129 if self.v6 else 0
        kind, _, _, echo_id, seq = struct.unpack("!BBHHH", data[:8])
        if kind != reply_type or seq != probe.seq:
            return False
        return self.kind == "icmp-ping-socket" or echo_id == probe.echo_id

    def error_is_ours(self, probe: _Probe, original: bytes) -> bool:
        """Whether a queued error quotes this probe (raw sockets see every ICMP error of their protocol)."""
        if self.kind != "icmp-raw":
            return True
        if len(original) < 8:
            return False
        echo_id, seq = struct.unpack("!HH", original[4:8])
        return bool(echo_id == probe.echo_id and seq == probe.seq)


def _parse_error(ancillary: list[tuple[int, int, bytes]]) -> tuple[int, int, int, int, str | None]:
    """(origin, type, code, info, offender) from an ``IP_RECVERR``/``IPV6_RECVERR`` control message."""
    for level, kind, data in ancillary:
        if (level, kind) not in ((socket.IPPROTO_IP, IP_RECVERR), (socket.IPPROTO_IPV6, IPV6_RECVERR)):
            continue
        _errno, origin, icmp_type, code, _pad, info, _data = _EE_STRUCT.unpack_from(data)
        offender: str | None = None
        rest = data[_EE_STRUCT.size :]
        if len(rest) >= 8:
            sa_family = struct.unpack_from("=H", rest)[0]
            if sa_family == socket.AF_INET:
                offender = socket.inet_ntop(socket.AF_INET, rest[4:8])
            elif sa_family == socket.AF_INET6 and len(rest) >= 24:
                offender = socket.inet_ntop(socket.AF_INET6, rest[8:24])
        return origin, icmp_type, code, info, offender
    return 0, 0, 0, 0, None


def _classify_error(
    origin: int,
    icmp_type: int,
    code: int,
    info: int,
    *,
    v6: bool,
    offender: str | None,
    target: str,
    udp: bool,
) -> tuple[Outcome, int | None]:
    if origin == SO_EE_ORIGIN_LOCAL:
        return Outcome.LOCAL_TOO_BIG, info or None
    if v6 and origin == SO_EE_ORIGIN_ICMP6:
        if icmp_type == 2:
            return Outcome.TOO_BIG, info
        if icmp_type == 3:
            return Outcome.TIME_EXCEEDED, None
        if icmp_type == 1 and code == 4 and udp and offender == target:
            return Outcome.REPLY, None  # port unreachable from the target itself: it arrived
        return Outcome.UNREACHABLE, None
    if origin == SO_EE_ORIGIN_ICMP:
        if icmp_type == 3 and code == 4:
            return Outcome.TOO_BIG, info
        if icmp_type == 11:
            return Outcome.TIME_EXCEEDED, None
        if icmp_type == 3 and code == 3 and udp and offender == target:
            return Outcome.REPLY, None
        return Outcome.UNREACHABLE, None
    return Outcome.UNREACHABLE, None


def _drain(transport: _Transport, sock: socket.socket, probes: Sequence[_Probe], now: float) -> None:
    """Read a socket's error queue and data until empty; give each probe its first meaningful answer."""
    for _ in range(256):  # bounded: a round holds a few dozen probes
        try:
            original, ancillary, _flags, _addr = sock.recvmsg(2048, 1024, socket.MSG_ERRQUEUE)
        except OSError:
            break
        origin, icmp_type, code, info, offender = _parse_error(ancillary)
        outcome, mtu = _classify_error(
            origin,
            icmp_type,
            code,
            info,
            v6=transport.v6,
            offender=offender,
            target=transport.address,
            udp=transport.kind == "udp",
        )
        for probe in probes:
            if probe.result is not None or not transport.error_is_ours(probe, original):
                continue
            if outcome is Outcome.REPLY and probe.ttl is not None and offender != transport.address:
                continue
            probe.result = ProbeOutcome(probe.size, outcome, probe.ttl, offender, mtu, now - probe.sent_at)
            break
    for _ in range(256):
        try:
            data, sender = sock.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:
            # A pending ICMP error surfaces once more as the socket error (ECONNREFUSED …): already read.
            continue
        for probe in probes:
            if probe.result is None and transport.is_answer(probe, data):
                reporter = sender[0] if isinstance(sender, tuple) and sender else transport.address
                probe.result = ProbeOutcome(
                    probe.size, Outcome.REPLY, probe.ttl, reporter, None, now - probe.sent_at
                )
                break


def run_round(
    transport: _Transport,
    sizes: Sequence[tuple[int, int | None]],
    *,
    timeout_s: float,
    answered_wait: Callable[[float], float] | None = None,
) -> list[ProbeOutcome]:
    """Send one probe per (size, ttl) from fresh sockets at once and wait for their answers.

    The round ends when every probe has an answer or at the deadline. ``answered_wait(rtt)`` may shorten
    the deadline once the first reply shows the round-trip time.
    """
    probes: list[_Probe] = []
    sockets: dict[int, socket.socket] = {}
    on_socket: dict[int, list[_Probe]] = {}
    poller = select.poll()
    try:
        shared: socket.socket | None = None
        for size, ttl in sizes:
            probe = transport.open(size, ttl, shared)
            if transport.kind == "icmp-raw":
                shared = probe.sock
            probes.append(probe)
        start = time.monotonic()
        deadline = start + timeout_s
        for probe in probes:
            probe.sent_at = time.monotonic()
            try:
                transport.set_ttl(probe.sock, probe.ttl)
                probe.sock.send(transport.payload(probe))
            except OSError as error:
                if error.errno == errno.EMSGSIZE:
                    probe.result = ProbeOutcome(probe.size, Outcome.LOCAL_TOO_BIG, probe.ttl)
                    continue
                if error.errno == errno.ENOBUFS:
                    # The local device dropped it (veth to a peer with a smaller MTU): lost, no ICMP.
                    probe.result = ProbeOutcome(probe.size, Outcome.TIMEOUT, probe.ttl)
                    continue
                if error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                    probe.result = ProbeOutcome(probe.size, Outcome.UNREACHABLE, probe.ttl)
                    continue
                raise
            fd = probe.sock.fileno()
            if fd not in sockets:
                sockets[fd] = probe.sock
                poller.register(fd, select.POLLIN | select.POLLERR)
            on_socket.setdefault(fd, []).append(probe)
        shortened = False
        while True:
            now = time.monotonic()
            if all(p.result is not None for p in probes) or now >= deadline:
                break
            for fd, _event in poller.poll(max(1, int((deadline - now) * 1000))):
                _drain(transport, sockets[fd], on_socket[fd], time.monotonic())
            if not shortened and answered_wait is not None:
                rtts = [
                    p.result.rtt_s
                    for p in probes
                    if p.result is not None
                    and p.result.outcome is Outcome.REPLY
                    and p.result.rtt_s is not None
                ]
                if rtts:
                    shortened = True
                    deadline = min(deadline, start + answered_wait(min(rtts)))
        return [
            p.result if p.result is not None else ProbeOutcome(p.size, Outcome.TIMEOUT, p.ttl) for p in probes
        ]
    finally:
        for probe in probes:
            probe.sock.close()


# ---------------------------------------------------------------------------------------------------------
# The search


def probe_path(target: str, settings: ProbeSettings | None = None) -> PmtuResult:
    """Find the path MTU toward ``target`` and classify the path (works / black hole / mixed)."""
    settings = settings or ProbeSettings()
    family, address = resolve_target(target)
    if settings.mode is Mode.tcp:
        return tcp_probe(target, settings)
    started = time.monotonic()
    interface, mtu = route_interface(address)
    notes: list[str] = []
    if mtu is None:
        mtu = _socket_mtu(family, address)
        notes.append("interface MTU from the socket (ip route get unavailable)")
    # An IP packet's length field is 16 bits: nothing above 65535 exists (loopback's MTU is 65536).
    ceiling = min(settings.ceiling or mtu, 65535)
    floor = floor_for(family == socket.AF_INET6)
    if ceiling < floor:
        raise InputError(f"ceiling {ceiling} is below the floor {floor}", field="ceiling")
    transport = _Transport(family, address, settings)
    rtt_holder: list[float] = []

    def answered_wait(rtt: float) -> float:
        rtt_holder.append(rtt)
        return max(settings.min_timeout_s, 4 * rtt)

    outcomes = run_round(
        transport,
        [(s, None) for s in first_round_sizes(floor, ceiling)],
        timeout_s=settings.first_timeout_s,
        answered_wait=answered_wait,
    )
    rounds = 1
    timeout = max(settings.min_timeout_s, 4 * min(rtt_holder)) if rtt_holder else settings.first_timeout_s
    while rounds < settings.max_rounds:
        sizes = next_round_sizes(outcomes, floor, ceiling, per_round=settings.per_round)
        if not sizes:
            break
        outcomes += run_round(transport, [(s, None) for s in sizes], timeout_s=timeout)
        rounds += 1
    verdict = classify(outcomes, ceiling=ceiling)
    verdict_s = round(time.monotonic() - started, 3)
    location = None
    if settings.locate_hop and verdict.is_problem and verdict.largest_ok and verdict.smallest_lost:
        location, hop_outcomes = locate_hop(
            transport, verdict.largest_ok, verdict.smallest_lost, settings.max_hops, timeout
        )
        outcomes += hop_outcomes
    return PmtuResult(
        target=address,
        family=family,
        mode=settings.mode,
        interface=interface,
        interface_mtu=mtu,
        verdict=verdict,
        probes=tuple(outcomes),
        rounds=rounds,
        elapsed_s=round(time.monotonic() - started, 3),
        verdict_s=verdict_s,
        rtt_s=round(min(rtt_holder), 6) if rtt_holder else None,
        location=location,
        socket_kind=transport.kind,
        notes=tuple(notes),
    )


def locate_hop(
    transport: _Transport, small: int, large: int, max_hops: int, timeout_s: float
) -> tuple[HopLocation, list[ProbeOutcome]]:
    """TTL-limited pairs of a passing and a vanishing size, all hops at once, to find where large ones die.

    Routers rate-limit ICMP time-exceeded (Linux: ``net.ipv4.icmp_ratelimit``, one a second per destination
    after a burst of six), but a round asks each router for at most two (its TTL's pair), well inside the
    burst: so the hop silent for the large probe is asked once more at once, not after a second's pause,
    and the location costs two short rounds (issue #17: within 2 s at 50 ms RTT).
    """
    ttls = list(range(1, max_hops + 1))
    wait = timeout_s
    outcomes = run_round(transport, [pair for t in ttls for pair in ((small, t), (large, t))], timeout_s=wait)
    location = locate(_hop_reports(outcomes, small, large, transport.address))
    if location.first_silent_ttl is not None:
        retry = run_round(transport, [(large, location.first_silent_ttl)], timeout_s=wait)
        if retry[0].outcome is not Outcome.TIMEOUT:
            outcomes += retry
    reports = _hop_reports(outcomes, small, large, transport.address)
    return locate(reports), outcomes


def _hop_reports(outcomes: Sequence[ProbeOutcome], small: int, large: int, target: str) -> list[HopReport]:
    reports = []
    reached_at: int | None = None
    ttls = sorted({o.ttl for o in outcomes if o.ttl is not None})
    for ttl in ttls:

        def answer(size: int, ttl: int = ttl) -> tuple[str | None, bool]:
            hits = [o for o in outcomes if o.ttl == ttl and o.size == size]
            for hit in hits:
                if hit.outcome is Outcome.REPLY:
                    return target, True
            for hit in hits:
                if hit.outcome is Outcome.TIME_EXCEEDED:
                    return hit.reporter, False
            return None, False

        small_reporter, small_reached = answer(small)
        large_reporter, large_reached = answer(large)
        reports.append(HopReport(ttl, small_reporter, large_reporter, small_reached, large_reached))
        if small_reached:
            reached_at = ttl
            break
    return [r for r in reports if reached_at is None or r.ttl <= reached_at]


# ---------------------------------------------------------------------------------------------------------
# TCP: a real large transfer with the system's own PMTUD
#
# Linux's packetization-layer PMTUD (RFC 4821, ``net.ipv4.tcp_mtu_probing``, per network namespace, IPv6
# TCP included) hides a black hole from a TCP transfer: with 1 the kernel lowers the MSS after repeated
# timeouts and the transfer completes ~3–7 s late (measured 3.2–6.6 s, docs/reference/aws-facts.md); with 2
# every connection starts at ``tcp_base_mss`` (1024) and never relies on ICMP. Neither fixes the path: other
# hosts, UDP and the return direction still black-hole, and with 1 every new connection stalls. So the TCP
# verdict is about the path, not about whether this host copes: a transfer whose MSS the kernel lowered
# although no ICMP lowered its path MTU is a black hole "rescued by tcp_mtu_probing after N s"; with 2, where
# the transfer cannot show it, the verdict comes from UDP DF probes to the same responder.

_TCP_INFO = struct.Struct("=8B24I")  # struct tcp_info (<linux/tcp.h>) up to tcpi_total_retrans
_TI_SND_MSS = 8 + 2
_TI_PMTU = 8 + 13
_TI_TOTAL_RETRANS = 8 + 23
RESCUE_WAIT_S = 15.0
"""How long a transfer may take when tcp_mtu_probing=1 could still rescue it (measured: up to ~6.6 s)."""


def tcp_mtu_probing() -> int | None:
    """``net.ipv4.tcp_mtu_probing`` in the calling thread's network namespace (None when unreadable)."""
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_mtu_probing").read_text().strip())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class TcpTransfer:
    """What one TCP transfer to the responder showed (``TCP_INFO`` read at connect and at the end)."""

    family: int
    payload_bytes: int
    delivered: bool
    stalled: bool
    seconds: float
    mss_at_connect: int | None = None
    mss_at_end: int | None = None
    kernel_pmtu: int | None = None
    """``tcpi_pmtu``: lowered only by an ICMP frag-needed / Packet Too Big the kernel accepted."""
    retransmits: int | None = None
    error: str = ""


def _tcp_info(sock: socket.socket) -> tuple[int, ...] | None:
    with contextlib.suppress(OSError, struct.error):
        return _TCP_INFO.unpack(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO.size))
    return None


def tcp_transfer_verdict(transfer: TcpTransfer, *, probing: int | None) -> PmtuVerdict | None:
    """The path's verdict from one transfer, or None when the transfer cannot tell (tcp_mtu_probing=2
    and nothing lowered: TCP never needed ICMP)."""
    probing_text = f"tcp_mtu_probing={probing}" if probing is not None else "tcp_mtu_probing"
    if not transfer.delivered:
        if transfer.stalled:
            despite = f" despite {probing_text}" if probing else ""
            return PmtuVerdict(
                PathVerdict.BLACK_HOLE,
                None,
                None,
                None,
                explanation=f"TCP connected but the transfer stalled for {transfer.seconds:.1f} s on "
                f"full-size segments{despite}: a path MTU black hole (confirm the size with --mode icmp "
                "or --mode udp)",
            )
        return PmtuVerdict(PathVerdict.UNREACHABLE, None, None, None, explanation=transfer.error)
    # IP + TCP headers without options: what separates a path MTU from the MSS it allows.
    headers = 60 if transfer.family == socket.AF_INET6 else 40
    pmtu_mss = transfer.kernel_pmtu - headers if transfer.kernel_pmtu else None
    lowered_without_icmp = (
        transfer.mss_at_connect is not None
        and transfer.mss_at_end is not None
        and pmtu_mss is not None
        and transfer.mss_at_end < transfer.mss_at_connect <= pmtu_mss
    )
    if lowered_without_icmp:
        return PmtuVerdict(
            PathVerdict.BLACK_HOLE,
            None,
            None,
            None,
            explanation=f"rescued by {probing_text} after {transfer.seconds:.1f} s: full-size segments "
            f"vanished without ICMP (the kernel's path MTU is still {transfer.kernel_pmtu}) until the "
            f"kernel's own probing cut the MSS from {transfer.mss_at_connect} to {transfer.mss_at_end}. "
            "A black hole, mitigated on this host only: every new connection stalls like this, and other "
            "hosts, UDP and the return direction are not rescued; allow ICMP frag-needed / Packet Too "
            "Big on the path or clamp the MSS",
        )
    if probing is not None and probing >= 2:
        return None
    learned = transfer.kernel_pmtu
    # ICMP lowered the kernel's path MTU below what the connection started with: PMTUD did its work.
    icmp_lowered = bool(pmtu_mss and transfer.mss_at_connect and pmtu_mss < transfer.mss_at_connect)
    return PmtuVerdict(
        PathVerdict.WORKS,
        learned,
        learned,
        None,
        learned if icmp_lowered else None,
        None,
        converged=True,
        explanation=f"{transfer.payload_bytes} bytes delivered over TCP in {transfer.seconds:.2f} s; "
        f"the kernel's path MTU is {learned}",
    )


def tcp_transfer(
    family: int, address: str, port: int, *, wait_s: float, payload_bytes: int = 256 * 1024
) -> TcpTransfer:
    """Connect to the responder, send ``payload_bytes``, wait (at most ``wait_s``) for the count back.

    Uses the normal ``IP_PMTUDISC_DO``: working PMTUD shrinks the segments and the transfer completes.
    """
    started = time.monotonic()
    deadline = started + wait_s
    at_connect: tuple[int, ...] | None = None
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.settimeout(wait_s)
            sock.connect((address, port))
            at_connect = _tcp_info(sock)
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            sock.sendall(struct.pack("!Q", payload_bytes) + b"\xa5" * payload_bytes)
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            answer = sock.recv(64)
        except TimeoutError:
            return TcpTransfer(family, payload_bytes, False, True, round(time.monotonic() - started, 3))
        except OSError as error:
            return TcpTransfer(
                family,
                payload_bytes,
                False,
                False,
                round(time.monotonic() - started, 3),
                error=f"{error.strerror or error}",
            )
        seconds = round(time.monotonic() - started, 3)
        at_end = _tcp_info(sock)
    delivered = answer.startswith(b"OK ") and answer[3:].split()[:1] == [str(payload_bytes).encode()]
    return TcpTransfer(
        family,
        payload_bytes,
        delivered,
        False,
        seconds,
        mss_at_connect=at_connect[_TI_SND_MSS] if at_connect else None,
        mss_at_end=at_end[_TI_SND_MSS] if at_end else None,
        kernel_pmtu=at_end[_TI_PMTU] if at_end else None,
        retransmits=at_end[_TI_TOTAL_RETRANS] if at_end else None,
        error="" if delivered else f"unexpected answer {answer[:32]!r}",
    )


def tcp_probe(target: str, settings: ProbeSettings, *, payload_bytes: int = 256 * 1024) -> PmtuResult:
    """A large TCP transfer to the responder, judged as a PMTUD expert would (see above)."""
    family, address = resolve_target(target)
    started = time.monotonic()
    interface, mtu = route_interface(address)
    mtu = mtu or _socket_mtu(family, address)
    probing = tcp_mtu_probing()
    stall_s = max(settings.first_timeout_s * 3, 3.0)
    # With tcp_mtu_probing=1 a stalled transfer may still be rescued: wait for it, to report it as such.
    wait_s = max(stall_s, RESCUE_WAIT_S) if probing == 1 else stall_s
    transfer = tcp_transfer(family, address, settings.port, wait_s=wait_s, payload_bytes=payload_bytes)
    notes = [f"tcp_mtu_probing={probing} in this network namespace"] if probing else []
    verdict = tcp_transfer_verdict(transfer, probing=probing)
    probes: tuple[ProbeOutcome, ...] = ()
    rounds = 1
    if verdict is None:
        udp = probe_path(target, dataclasses.replace(settings, mode=Mode.udp, locate_hop=False))
        probes, rounds = udp.probes, 1 + udp.rounds
        verdict = dataclasses.replace(
            udp.verdict,
            explanation=f"tcp_mtu_probing={probing} here: TCP starts small and never relies on ICMP, so "
            f"the transfer ({transfer.seconds:.2f} s) cannot show a black hole; UDP DF probes to the "
            f"responder: {udp.verdict.explanation}"
            + (
                " (TCP from this host is mitigated; other hosts and UDP are not)"
                if udp.verdict.is_problem
                else ""
            ),
        )
        notes.append("verdict from UDP DF probes to the responder (tcp_mtu_probing=2)")
    return PmtuResult(
        target=address,
        family=family,
        mode=Mode.tcp,
        interface=interface,
        interface_mtu=mtu,
        verdict=verdict,
        probes=probes,
        rounds=rounds,
        elapsed_s=round(time.monotonic() - started, 3),
        verdict_s=round(time.monotonic() - started, 3),
        socket_kind="tcp",
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------------------------------------
# The responder


class Responder:
    """Answers UDP probes (a short reply quoting the probe's token) and TCP transfers (``OK <bytes>``).

    Runs until ``stop()`` or its ``duration_s``; every wait is bounded so it never hangs a test.
    """

    def __init__(self, bind: str = "::", port: int = DEFAULT_PORT) -> None:
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        self.udp = socket.socket(family, socket.SOCK_DGRAM)
        self.tcp = socket.socket(family, socket.SOCK_STREAM)
        for sock in (self.udp, self.tcp):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind((bind, port))
        self.tcp.listen(16)
        self.port = self.udp.getsockname()[1]
        self._stop = threading.Event()
        self.answered = 0

    def stop(self) -> None:
        self._stop.set()

    def serve(self, duration_s: float | None = None) -> None:
        end = time.monotonic() + duration_s if duration_s else None
        try:
            while not self._stop.is_set() and (end is None or time.monotonic() < end):
                ready, _, _ = select.select([self.udp, self.tcp], [], [], 0.2)
                for sock in ready:
                    if sock is self.udp:
                        self._answer_udp()
                    else:
                        connection, _ = self.tcp.accept()
                        threading.Thread(target=self._answer_tcp, args=(connection,), daemon=True).start()
        finally:
            self.udp.close()
            self.tcp.close()

    def _answer_udp(self) -> None:
        with contextlib.suppress(OSError):
            data, sender = self.udp.recvfrom(65535)
            if data.startswith(_MAGIC):
                self.udp.sendto(data[:16] + struct.pack("!I", len(data)), sender)
                self.answered += 1

    def _answer_tcp(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError, struct.error):
            connection.settimeout(30)
            header = b""
            while len(header) < 8:
                chunk = connection.recv(8 - len(header))
                if not chunk:
                    return
                header += chunk
            (expected,) = struct.unpack("!Q", header)
            received = 0
            while received < expected:
                chunk = connection.recv(min(65536, expected - received))
                if not chunk:
                    return
                received += len(chunk)
            connection.sendall(f"OK {received}\n".encode())
            self.answered += 1
