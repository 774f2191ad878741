"""Each incident class is diagnosed right: its expected top finding, and no false alarm.

The classes and what they expect are in ``suite.py``; the summary table prints at the end of the run.
"""

from __future__ import annotations

import pytest

from tests.accuracy.suite import CLASSES, PAGES, AccountPool, AccuracyClass

# Grouped by Region so that each Region's embedded account is built once.
ORDERED = sorted(CLASSES, key=lambda c: c.scenario().region)


def test_there_are_at_least_twelve_classes_and_healthy_networks_among_them() -> None:
    assert len(CLASSES) >= 12
    assert len({c.name for c in CLASSES}) == len(CLASSES)
    assert sum(c.healthy for c in CLASSES) >= 5


@pytest.mark.parametrize("cls", ORDERED, ids=[c.name for c in ORDERED])
def test_class_is_diagnosed_right_without_false_alarms(accounts: AccountPool, cls: AccuracyClass) -> None:
    outcome = accounts.outcome(cls)
    findings = [f"{f.severity.value} {f.code.value}: {f.title}" for f in outcome.report.findings]
    assert outcome.correct, f"top finding {outcome.top_text}, expected {cls.expected_text}: {findings}"
    assert not outcome.false_alarms, [f.title for f in outcome.false_alarms]
    if cls.healthy:
        assert not [f for f in outcome.report.findings if f.severity in PAGES], findings


def test_a_healthy_vpn_site_report_explains_the_latent_risk_and_how_to_verify(accounts: AccountPool) -> None:
    cls = next(c for c in CLASSES if c.source == "vpn-1500-unknown-clamp.yaml")
    top = accounts.outcome(cls).top
    assert top is not None
    assert "works only if the customer gateway clamps MSS to ≤ 1366; verify" in top.title
    assert "To verify:" in top.detail
    # The 1,419-byte packets the flow logs saw arriving count against a black hole.
    assert any(e.data.get("query") == "flow_packet_sizes" for e in top.evidence_against)


def test_aws_clamp_site_names_the_caveat_in_what_was_checked(accounts: AccountPool) -> None:
    cls = next(c for c in CLASSES if c.source == "vpn-1500-aws-clamp.yaml")
    report = accounts.outcome(cls).report
    assert any("verify the negotiated phase 2 algorithms" in line for line in report.checked)


def test_the_agent_only_black_hole_points_at_the_site(accounts: AccountPool) -> None:
    cls = next(c for c in CLASSES if c.source == "agent-only-black-hole.yaml")
    top = accounts.outcome(cls).top
    assert top is not None
    direction = next(e for e in top.evidence if e.kind == "direction")
    assert direction.data["direction"] == "site → AWS"
    assert "site's own gateway" in direction.data["fix_at"]
