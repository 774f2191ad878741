"""The session's network guard (tests/network_guard.py) refuses real AWS before any packet leaves."""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from typing import Any

import boto3
import pytest
import urllib3.connectionpool

from tests.network_guard import (
    RealNetworkRefusedError,
    check_endpoint_url,
    in_session_namespace,
    is_loopback_host,
)

_CLONE_NEWNET = 0x40000000


@pytest.fixture
def no_traffic(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record any DNS lookup or urllib3 request: a refused call must make neither."""
    attempts: list[str] = []

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(f"getaddrinfo {host}")
        raise OSError("DNS is off in this test")

    def urlopen(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        attempts.append(f"urlopen {self.host}{url}")
        raise OSError("HTTP is off in this test")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "urlopen", urlopen)
    return attempts


def test_a_boto3_call_to_a_real_endpoint_is_refused_without_traffic(no_traffic: list[str]) -> None:
    # Given a client aimed at the real EC2 endpoint (fake credentials from the root conftest)
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url="https://ec2.us-east-1.amazonaws.com")
    # When it makes a call, Then the guard refuses it with a message that says what to use instead
    with pytest.raises(RealNetworkRefusedError, match=r"ec2\.us-east-1\.amazonaws\.com.*moto"):
        ec2.describe_vpcs()
    # And nothing was resolved or sent
    assert no_traffic == []


def test_the_default_endpoint_is_refused_too(no_traffic: list[str]) -> None:
    sts = boto3.client("sts", region_name="eu-west-1")
    with pytest.raises(RealNetworkRefusedError, match=r"sts\.eu-west-1\.amazonaws\.com"):
        sts.get_caller_identity()
    assert no_traffic == []


def test_moto_still_answers_real_hostnames(aws: None) -> None:
    # mock_aws answers before botocore sends, so the guard never sees these requests
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    assert [v["VpcId"] for v in ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"]] == [vpc]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.4.5", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("ec2.us-east-1.amazonaws.com", False),
        ("10.0.0.1", False),
        ("128.0.0.1", False),
        ("localhost.amazonaws.com", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_hosts(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_endpoint_urls_on_loopback_pass() -> None:
    check_endpoint_url("http://127.0.0.1:5000/")
    check_endpoint_url("http://localhost:4566/2016-11-15")
    with pytest.raises(RealNetworkRefusedError):
        check_endpoint_url("https://s3.amazonaws.com/bucket")


def test_a_socket_to_another_machine_is_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(RealNetworkRefusedError, match=r"192\.0\.2\.1"),
    ):
        sock.connect(("192.0.2.1", 9))  # TEST-NET-1 (RFC 5737): refused before the kernel sees it
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock, pytest.raises(RealNetworkRefusedError):
        sock.connect_ex(("2001:db8::1", 443))


def test_a_datagram_sent_unconnected_to_another_machine_is_refused() -> None:
    # A UDP probe never calls connect(): sendto carries the address (with or without flags).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(RealNetworkRefusedError, match=r"192\.0\.2\.1"):
            sock.sendto(b"x", ("192.0.2.1", 9))
        with pytest.raises(RealNetworkRefusedError):
            sock.sendto(b"x", 0, ("192.0.2.1", 9))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
            receiver.bind(("127.0.0.1", 0))
            assert sock.sendto(b"ok", receiver.getsockname()) == 2
            assert receiver.recv(16) == b"ok"


def test_a_socket_on_loopback_connects() -> None:
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        client.connect(server.getsockname())
        accepted, _ = server.accept()
        accepted.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a network namespace")
def test_a_thread_in_its_own_network_namespace_is_let_through() -> None:
    # Given a thread that has moved into a fresh, empty network namespace (as tests/netns/lab.py's threads do)
    box: dict[str, Any] = {}

    def body() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(_CLONE_NEWNET) != 0:
            box["skip"] = f"unshare failed: errno {ctypes.get_errno()}"
            return
        box["in_session"] = in_session_namespace()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect(("192.0.2.1", 9))
            except RealNetworkRefusedError as error:
                box["refused"] = error
            except OSError as error:  # the kernel's answer: the namespace has no route at all
                box["kernel"] = error.errno

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(timeout=30)
    if "skip" in box:
        pytest.skip(box["skip"])
    # Then the guard knows it is elsewhere and leaves the decision to that namespace's kernel
    assert box["in_session"] is False
    assert "refused" not in box
    assert box["kernel"] is not None
    # And the session's own thread is still guarded
    assert in_session_namespace() is True
