"""DF path-MTU probes on a real network: working PMTUD, a black hole, a same-segment mismatch."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dropsleuth.probe.pmtu import Mode, ProbeSettings, Responder, probe_path
from dropsleuth.rules.pmtu_verdict import PathVerdict
from tests.netns.lab import Lab, in_netns, sh

pytestmark = pytest.mark.netns

DROPSLEUTH = str(Path(sys.executable).with_name("dropsleuth"))


def _probe(lab: Lab, target: str, **settings: object) -> object:
    return in_netns(lab.ns("edge"), lambda: probe_path(target, ProbeSettings(**settings)))  # type: ignore[arg-type]


@pytest.fixture
def responder(request: pytest.FixtureRequest) -> Iterator[Responder]:
    """A UDP/TCP responder listening inside the cloud namespace of the lab the test uses."""
    lab: Lab = request.getfixturevalue(request.param)
    server = in_netns(lab.ns("cloud"), lambda: Responder("::", 4821))
    thread = threading.Thread(target=server.serve, kwargs={"duration_s": 60}, daemon=True)
    thread.start()
    yield server
    server.stop()
    thread.join(timeout=5)


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_working_pmtud_reports_the_router_and_its_mtu(working_lab: Lab, v6: bool) -> None:
    target = working_lab.cloud_ip6 if v6 else working_lab.cloud_ip
    result = _probe(working_lab, target)
    assert result.verdict.verdict is PathVerdict.WORKS
    assert result.verdict.path_mtu == 1500
    assert result.verdict.reported_by == (working_lab.gw_edge_ip6 if v6 else working_lab.gw_edge_ip)
    assert result.interface == "e0"
    assert result.interface_mtu == 9000


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_black_hole_is_found_and_located_after_the_first_router(blackhole_lab: Lab, v6: bool) -> None:
    target = blackhole_lab.cloud_ip6 if v6 else blackhole_lab.cloud_ip
    result = _probe(blackhole_lab, target, locate_hop=True)
    assert result.verdict.verdict is PathVerdict.BLACK_HOLE
    assert result.verdict.largest_ok == 1500
    assert result.verdict.smallest_lost == 1501
    assert result.verdict.reported_mtu is None
    assert result.location is not None
    assert result.location.last_ttl_seen == 1
    assert result.location.last_hop_seen == (blackhole_lab.gw_edge_ip6 if v6 else blackhole_lab.gw_edge_ip)


def test_probe_ignores_a_path_mtu_the_kernel_cached_earlier(working_lab: Lab) -> None:
    """Learn PMTU 1500 with PMTUD working, then make it a black hole: the cached value must not hide it."""
    first = _probe(working_lab, working_lab.cloud_ip)
    assert first.verdict.verdict is PathVerdict.WORKS
    route = sh("ip", "route", "get", working_lab.cloud_ip, netns=working_lab.ns("edge")).stdout
    assert "mtu 1500" in route  # the kernel now remembers 1500 for ten minutes
    from tests.netns.lab import drop_frag_needed_in_output

    drop_frag_needed_in_output(working_lab.ns("gw"))
    second = _probe(working_lab, working_lab.cloud_ip)
    assert second.verdict.verdict is PathVerdict.BLACK_HOLE


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_same_segment_mismatch_dies_before_the_first_router(mismatch_lab: Lab, v6: bool) -> None:
    target = mismatch_lab.cloud_ip6 if v6 else mismatch_lab.cloud_ip
    result = _probe(mismatch_lab, target, locate_hop=True)
    assert result.verdict.verdict is PathVerdict.BLACK_HOLE
    assert result.verdict.largest_ok == 1500
    assert result.location is not None
    assert result.location.last_ttl_seen == 0


def test_ping_socket_is_used_when_the_group_range_allows_it(blackhole_lab: Lab) -> None:
    sh("sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647", netns=blackhole_lab.ns("edge"))
    result = _probe(blackhole_lab, blackhole_lab.cloud_ip)
    assert result.socket_kind == "icmp-ping-socket"
    assert result.verdict.verdict is PathVerdict.BLACK_HOLE
    assert result.verdict.largest_ok == 1500


@pytest.mark.parametrize("responder", ["working_lab"], indirect=True)
def test_udp_probes_to_the_responder_see_working_pmtud(working_lab: Lab, responder: Responder) -> None:
    result = _probe(working_lab, working_lab.cloud_ip, mode=Mode.udp)
    assert result.verdict.verdict is PathVerdict.WORKS
    assert result.verdict.path_mtu == 1500
    assert responder.answered > 0


@pytest.mark.parametrize("responder", ["blackhole_lab"], indirect=True)
def test_udp_and_tcp_see_the_black_hole(blackhole_lab: Lab, responder: Responder) -> None:
    udp = _probe(blackhole_lab, blackhole_lab.cloud_ip6, mode=Mode.udp)
    assert udp.verdict.verdict is PathVerdict.BLACK_HOLE
    assert udp.verdict.largest_ok == 1500
    tcp = _probe(blackhole_lab, blackhole_lab.cloud_ip, mode=Mode.tcp)
    assert tcp.verdict.verdict is PathVerdict.BLACK_HOLE


@pytest.mark.parametrize("responder", ["working_lab"], indirect=True)
def test_tcp_transfer_completes_when_pmtud_works(working_lab: Lab, responder: Responder) -> None:
    result = _probe(working_lab, working_lab.cloud_ip, mode=Mode.tcp)
    assert result.verdict.verdict is PathVerdict.WORKS
    assert result.verdict.path_mtu == 1500  # the kernel learned it from the router's frag-needed


def test_cli_exit_codes_and_json(working_lab: Lab, blackhole_lab: Lab) -> None:
    def cli(lab: Lab) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                lab.ns("edge"),
                DROPSLEUTH,
                "probe",
                "pmtu",
                lab.cloud_ip,
                "--no-locate",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    ok = cli(working_lab)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["verdict"]["verdict"] == "works"
    bad = cli(blackhole_lab)
    assert bad.returncode == 1, bad.stderr
    document = json.loads(bad.stdout)
    assert document["verdict"]["verdict"] == "black_hole"
    assert document["verdict"]["is_problem"] is True


@pytest.mark.parametrize("responder", ["blackhole_lab"], indirect=True)
def test_tcp_mode_is_not_fooled_by_tcp_mtu_probing_rescuing_a_black_hole(
    blackhole_lab: Lab, responder: Responder
) -> None:
    """With tcp_mtu_probing=1 the transfer completes seconds late: still a black hole, said as such."""
    sh("sysctl", "-qw", "net.ipv4.tcp_mtu_probing=1", netns=blackhole_lab.ns("edge"))
    result = _probe(blackhole_lab, blackhole_lab.cloud_ip, mode=Mode.tcp)
    assert result.verdict.verdict is PathVerdict.BLACK_HOLE
    assert "rescued by tcp_mtu_probing=1 after" in result.verdict.explanation
    assert "tcp_mtu_probing=1 in this network namespace" in result.notes
    assert result.elapsed_s >= 1.0  # it waited for the rescue instead of calling a stall at 3 s blindly


@pytest.mark.parametrize("responder", ["blackhole_lab"], indirect=True)
def test_tcp_mode_with_tcp_mtu_probing_2_asks_udp_df_probes(blackhole_lab: Lab, responder: Responder) -> None:
    """With 2 TCP never stalls (it starts at 1024-byte segments); the path is still a black hole."""
    sh("sysctl", "-qw", "net.ipv4.tcp_mtu_probing=2", netns=blackhole_lab.ns("edge"))
    result = _probe(blackhole_lab, blackhole_lab.cloud_ip6, mode=Mode.tcp)
    assert result.verdict.verdict is PathVerdict.BLACK_HOLE
    assert result.verdict.largest_ok == 1500
    assert "UDP DF probes" in result.verdict.explanation
    assert responder.answered > 1  # the transfer and the UDP probes


@pytest.mark.parametrize("probing", [1, 2])
@pytest.mark.parametrize("responder", ["working_lab"], indirect=True)
def test_tcp_mode_with_tcp_mtu_probing_still_sees_working_pmtud(
    working_lab: Lab, responder: Responder, probing: int
) -> None:
    sh("sysctl", "-qw", f"net.ipv4.tcp_mtu_probing={probing}", netns=working_lab.ns("edge"))
    result = _probe(working_lab, working_lab.cloud_ip, mode=Mode.tcp)
    assert result.verdict.verdict is PathVerdict.WORKS, result.verdict.explanation
    assert result.verdict.path_mtu == 1500
