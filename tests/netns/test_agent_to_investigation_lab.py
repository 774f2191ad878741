"""The issue's end-to-end: in the lab, the WAN interface goes to MTU 9000 between two agent cycles; the
agent's own code measures and publishes (moto_server); an investigation on moto, with a registry that
declares only ``expected_mtus`` and the probe target's address, finds the black hole, the interface at 9000
and the change, with the agent's verdict toward the target as evidence."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dropsleuth.aws import clients
from dropsleuth.config import Settings
from dropsleuth.context import Endpoint, InvestigationContext, Window
from dropsleuth.investigate import investigate
from dropsleuth.model import FindingCode
from dropsleuth.probe import agent
from dropsleuth.probe.changelog import ChangeLogWriter
from dropsleuth.sites import Site
from dropsleuth.steps import StepEnvironment
from dropsleuth.steps.changes import STEP as CHANGES
from dropsleuth.steps.metrics import STEP as METRICS
from dropsleuth.steps.path import STEP as PATH
from tests.netns.lab import Lab, in_netns, sh
from tests.support import site_behind_a_vpn

pytestmark = pytest.mark.netns

SITE = "lab-site"
SITE_CIDR = "10.66.1.0/24"  # the lab's edge segment: the site's hosts


def test_an_mtu_change_between_two_cycles_is_found_by_the_investigation(
    blackhole_lab: Lab, moto_endpoint: str, tmp_path: Path
) -> None:
    clients.reset()
    edge = blackhole_lab.ns("edge")
    config = agent.AgentConfig(
        site=SITE,
        host="edge-1",
        targets=(agent.TargetConfig(address=blackhole_lab.cloud_ip, name="cloud"),),
        counters=False,
        spool=agent.SpoolConfig(path=str(tmp_path / "spool.jsonl")),
    )
    state = agent.AgentState()
    writer = ChangeLogWriter(SITE, "edge-1")
    started = datetime.now(UTC)

    def cycle() -> None:
        # Measured inside the edge namespace, published from here (where moto_server listens).
        points = in_netns(edge, lambda: agent.collect(config, state))
        assert agent.publish(config, agent.with_site_rollups(points)).error is None
        agent.send_changes(state, writer)

    # Given e0 at the expected 1500 for a cycle, then at 9000 (what netplan did in SITE-2847)
    sh("ip", "link", "set", "dev", "e0", "mtu", "1500", netns=edge)
    cycle()
    sh("ip", "link", "set", "dev", "e0", "mtu", "9000", netns=edge)
    cycle()
    assert state.pending_changes == []  # the change record reached the account

    # When the investigation runs on the account, knowing only what a registry declares
    network = site_behind_a_vpn(SITE_CIDR, vpc_cidr="10.70.0.0/16", subnet_cidr="10.70.1.0/24")
    site = Site(
        name=SITE, cidrs=(SITE_CIDR,), vpc_id=network.vpc_id, expected_mtus={"e0": 1500},
        probe_targets=(blackhole_lab.cloud_ip,),
    )  # fmt: skip
    context = InvestigationContext(
        vpc_id=network.vpc_id,
        source=Endpoint(cidr=SITE_CIDR),
        destination=Endpoint(eni_id=network.eni_id),
        window=Window(start=started - timedelta(minutes=5), end=datetime.now(UTC) + timedelta(minutes=1)),
        site=site,
    )
    trail = (
        tmp_path / "trail"
    )  # the account's CloudTrail files: no AWS-side change (moto has no LookupEvents)
    trail.mkdir()
    environment = StepEnvironment(settings=Settings(changes_source=str(trail)))
    report = investigate(context, steps=(METRICS, PATH, CHANGES), environment=environment)

    # Then: the black hole, sent at the 9000 the agent measured, with the agent's verdict toward the target
    codes = [f.code for f in report.findings]
    assert codes[0] is FindingCode.PMTUD_BLACKHOLE, [f.title for f in report.findings]
    top = report.findings[0]
    assert "the source sends 9000" in top.title
    verdicts = [e for e in top.evidence if "PathMtuBlackHole" in e.summary]
    assert [e.data["target"] for e in verdicts] == [blackhole_lab.cloud_ip]
    # the interface, measured at 9000 where 1500 is expected, with the agent's change record
    (interface,) = [f for f in report.findings if f.code is FindingCode.INTERFACE_MTU_UNEXPECTED]
    measured = next(e for e in interface.evidence if e.kind == "metric").data
    assert (measured["interface"], measured["measured_mtu"], measured["expected_mtu"]) == ("e0", 9000, 1500)
    change = next(e for e in interface.evidence if e.kind == "change_event").data
    assert (change["host"], change["before"], change["after"]) == ("edge-1", 1500, 9000)
    assert any(f"site change records in /dropsleuth/site-changes/{SITE}: 1" in c for c in report.checked)
    assert os.environ["AWS_ENDPOINT_URL"] == moto_endpoint
