"""The test session's network guard: no request to a real AWS endpoint, no connection off this machine.

Two layers, because neither alone is enough:

- botocore: ``URLLib3Session.send`` is where every boto3 request leaves the process (urllib3 opens its own
  sockets, so patching ``socket.create_connection`` alone misses it). moto's in-process ``mock_aws`` and
  botocore's ``Stubber`` answer from ``before-send`` / ``before-call`` handlers, before ``send`` is ever
  reached, so only a request that would really go out arrives here; it is refused unless its endpoint host
  is loopback (``moto_server`` on 127.0.0.1). The check runs before DNS, so a refused request sends nothing.
- sockets: ``connect`` / ``connect_ex`` / ``sendto`` of an IPv4/IPv6 socket to a non-loopback address is
  refused (``sendto`` because an unconnected UDP or ICMP socket never calls ``connect``), for
  whatever does not go through botocore (urllib, pyathena's own HTTP, a stray probe). The exception is a
  socket that lives in another network namespace (made by a thread of ``tests/netns/lab.py``'s
  ``in_netns``): the probe tests talk in-process to the lab's 10.66.x.x / fd66:: addresses there, and a
  namespace the test made has no route off this machine. A socket keeps the namespace it was made in
  whichever thread uses it later (the lab's responder is served from another thread), so the socket's own
  namespace is asked for (``SIOCGSKNS``), and the thread's (``/proc/thread-self/ns/net``) where the kernel
  cannot tell.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.httpsession import URLLib3Session

_INSTALLED_MARK = "_dropsleuth_network_guard"
_NETNS_PATH = Path("/proc/thread-self/ns/net")
# ioctl(2) on a socket: a file descriptor of the network namespace the socket belongs to (Linux ≥ 4.9,
# linux/sockios.h).
_SIOCGSKNS = 0x894C


class RealNetworkRefusedError(RuntimeError):
    """A test tried to reach something other than this machine (or a namespace the test created)."""


def is_loopback_host(host: str | None) -> bool:
    """``localhost``, 127.0.0.0/8 and ::1 (brackets and an IPv6 zone tolerated); names resolve to nothing."""
    if not host:
        return False
    name = host.strip("[]").split("%", 1)[0].rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


def check_endpoint_url(url: str) -> None:
    """Refuse a botocore request whose endpoint host is not loopback."""
    host = urlsplit(url).hostname
    if not is_loopback_host(host):
        raise RealNetworkRefusedError(
            f"tests must not reach real AWS: refused a request to {host} ({url.split('?', 1)[0]}); "
            "use moto (the `aws` fixture) or moto_server on 127.0.0.1 (`moto_endpoint`)"
        )


def _namespace_of_this_thread() -> tuple[int, int] | None:
    try:
        stat = _NETNS_PATH.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


_SESSION_NAMESPACE = _namespace_of_this_thread()


def _namespace_of_socket(sock: socket.socket) -> tuple[int, int] | None:
    with contextlib.suppress(OSError):
        namespace_fd = fcntl.ioctl(sock.fileno(), _SIOCGSKNS)
        try:
            stat = os.fstat(namespace_fd)
        finally:
            os.close(namespace_fd)
        return stat.st_dev, stat.st_ino
    return None


def in_session_namespace(sock: socket.socket | None = None) -> bool:
    """Whether ``sock`` (else the calling thread) is in the network namespace the session started in."""
    here = (_namespace_of_socket(sock) if sock is not None else None) or _namespace_of_this_thread()
    return here is None or here == _SESSION_NAMESPACE


def check_socket_address(sock: socket.socket, address: Any) -> None:
    """Refuse an IPv4/IPv6 connection off this machine from the session's own network namespace."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # Unix sockets, netlink: nothing leaves the machine
    host = address[0] if isinstance(address, tuple) and address else address
    if is_loopback_host(str(host)) or not in_session_namespace(sock):
        return
    raise RealNetworkRefusedError(
        f"tests send traffic only to 127.0.0.0/8 or to namespaces they created: refused connect to {address}"
    )


def install() -> None:
    """Patch botocore's send and the socket class (idempotent: conftest may be imported twice)."""
    if getattr(URLLib3Session, _INSTALLED_MARK, False):
        return
    real_send = URLLib3Session.send
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto

    def guarded_send(self: URLLib3Session, request: Any) -> Any:
        check_endpoint_url(request.url)
        return real_send(self, request)

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check_socket_address(self, address)
        real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check_socket_address(self, address)
        return real_connect_ex(self, address)

    def guarded_sendto(self: socket.socket, data: Any, *flags_and_address: Any) -> int:
        # sendto(data, address) or sendto(data, flags, address): the address is the last argument.
        if flags_and_address:
            check_socket_address(self, flags_and_address[-1])
        return real_sendto(self, data, *flags_and_address)  # type: ignore[call-overload,no-any-return]

    URLLib3Session.send = guarded_send  # type: ignore[method-assign]
    socket.socket.connect = guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign,assignment]
    socket.socket.sendto = guarded_sendto  # type: ignore[method-assign,assignment]
    setattr(URLLib3Session, _INSTALLED_MARK, True)
