"""The ranking: hypotheses scored from agreeing evidence, never from names or ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dropsleuth.context import Endpoint, InvestigationContext, StepOutcome, Window
from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity
from dropsleuth.rules import ranking

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ONSET_MIN = 30


def context(**overrides: Any) -> InvestigationContext:
    values: dict[str, Any] = {
        "vpc_id": "vpc-0abc",
        "source": Endpoint(cidr="10.20.0.0/24"),
        "destination": Endpoint(service="S3"),
        "window": Window(start=T0, end=T0 + timedelta(minutes=90)),
        "port": 443,
        "source_mtu": 9000,
    }
    values.update(overrides)
    return InvestigationContext(**values)


def minute(n: int) -> str:
    return (T0 + timedelta(minutes=n)).isoformat()


def throughput(*, collapse: bool) -> list[dict[str, Any]]:
    rows = []
    for n in range(90):
        bad = collapse and ONSET_MIN <= n < ONSET_MIN + 45
        rows.append({"minute": minute(n), "mbps": 1.8 if bad else 42.0 + (n % 3)})
    return rows


def nacl_finding() -> Finding:
    return Finding(
        code=FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED,
        severity=Severity.HIGH,
        confidence=0.95,
        title="acl-0123 rule 90 denies ICMP type 3 code 4 inbound",
        resource_ids=("acl-0123",),
        evidence=(Evidence(kind="nacl_entry", summary="rule 90 deny icmp", resource_ids=("acl-0123",)),),
        remediation=Remediation(
            summary="Allow ICMP 3/4 in acl-0123",
            commands=("aws ec2 create-network-acl-entry --network-acl-id acl-0123 --rule-number 89 ...",),
        ),
    )


def vpn_hops(*, sends_frag_needed: bool | None) -> list[dict[str, Any]]:
    return [
        {"kind": "vpn", "resource_id": "vpn-0777", "mtu": 1446, "sends_frag_needed": sends_frag_needed},
        {"kind": "vgw", "resource_id": "vgw-0888", "mtu": 1446, "sends_frag_needed": sends_frag_needed},
        {"kind": "gateway_endpoint", "resource_id": "vpce-01", "mtu": 9001, "sends_frag_needed": True},
    ]


def incident_outcomes(**drop: bool) -> dict[str, StepOutcome]:
    """Every piece of the PMTUD incident's evidence; ``drop`` removes pieces by name."""
    queries: dict[str, Any] = {"upload_throughput": throughput(collapse=not drop.get("collapse"))}
    if not drop.get("icmp_rejects"):
        queries["icmp_rejects"] = [{"minute": minute(n), "rejects": 3} for n in range(ONSET_MIN, 75)]
    outcomes = {
        "flow_log_queries": StepOutcome(data=queries),
        "path_mtu": StepOutcome(
            data={"hops": vpn_hops(sends_frag_needed=None), "source_mtu": 9000, "path_mtu": 1446}
        ),
    }
    if not drop.get("nacl"):
        outcomes["icmp_audit"] = StepOutcome(findings=(nacl_finding(),))
    if not drop.get("change"):
        outcomes["recent_changes"] = StepOutcome(
            data={
                "changes": [
                    {
                        "at": minute(ONSET_MIN - 2),
                        "summary": "WAN interface MTU set to 9000",
                        "event_name": "ModifyInterfaceMtu",
                        "actor": "netops",
                    }
                ]
            }
        )
    return outcomes


def test_detect_collapse_finds_onset_level_and_recovery() -> None:
    rows = throughput(collapse=True)
    series = tuple((datetime.fromisoformat(r["minute"]), float(r["mbps"])) for r in rows)
    collapse = ranking.detect_collapse(series, source="flow-log")
    assert collapse is not None
    assert collapse.onset == T0 + timedelta(minutes=ONSET_MIN)
    assert collapse.recovered_at == T0 + timedelta(minutes=ONSET_MIN + 45)
    assert collapse.baseline > 40
    assert collapse.during == pytest.approx(1.8)


def test_a_single_dip_is_not_a_collapse() -> None:
    rows = throughput(collapse=False)
    rows[40]["mbps"] = 0.5
    series = tuple((datetime.fromisoformat(r["minute"]), float(r["mbps"])) for r in rows)
    assert ranking.detect_collapse(series, source="flow-log") is None


def test_all_evidence_agreeing_gives_a_critical_high_confidence_black_hole() -> None:
    findings = ranking.rank(context(), incident_outcomes())
    top = findings[0]
    assert top.code is FindingCode.PMTUD_BLACKHOLE
    assert top.severity is Severity.CRITICAL
    assert top.confidence >= 0.8
    assert "acl-0123" in top.resource_ids
    kinds = {e.kind for e in top.evidence}
    assert {"hop", "query_rows", "metric", "change_event", "nacl_entry"} <= kinds
    assert top.remediation is not None
    assert any("create-network-acl-entry" in c for c in top.remediation.commands)
    # MSS = 1446 − 40 (RFC 879), from the smallest hop, not a constant.
    assert any("1406" in step for step in top.remediation.steps)
    # The symptom and the change are kept, below the root cause and never critical.
    codes = [f.code for f in findings]
    assert FindingCode.THROUGHPUT_COLLAPSE in codes
    assert FindingCode.RECENT_NETWORK_CHANGE in codes
    assert [f.severity for f in findings[1:]].count(Severity.CRITICAL) == 0


@pytest.mark.parametrize("piece", ["collapse", "icmp_rejects", "nacl", "change"])
def test_each_piece_of_evidence_adds_confidence(piece: str) -> None:
    full = ranking.rank(context(), incident_outcomes())[0]
    partial = ranking.rank(context(), incident_outcomes(**{piece: True}))[0]
    assert partial.code is FindingCode.PMTUD_BLACKHOLE
    assert partial.confidence < full.confidence


def test_without_collapse_the_black_hole_is_latent_not_critical() -> None:
    top = ranking.rank(context(), incident_outcomes(collapse=True))[0]
    assert top.code is FindingCode.PMTUD_BLACKHOLE
    assert top.severity is Severity.HIGH


def test_no_smaller_hop_means_no_black_hole_even_with_a_blocking_nacl() -> None:
    outcomes = incident_outcomes()
    outcomes["path_mtu"] = StepOutcome(
        data={"hops": vpn_hops(sends_frag_needed=None), "source_mtu": 1400, "path_mtu": 1446}
    )
    findings = ranking.rank(context(source_mtu=1400), outcomes)
    assert FindingCode.PMTUD_BLACKHOLE not in [f.code for f in findings]
    assert FindingCode.MTU_MISMATCH not in [f.code for f in findings]
    # The blocking NACL is still reported, as a supporting finding, and the collapse stays unexplained.
    assert FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED in [f.code for f in findings]
    collapse = next(f for f in findings if f.code is FindingCode.THROUGHPUT_COLLAPSE)
    assert collapse.severity is Severity.HIGH


def test_smaller_hop_with_icmp_admitted_is_a_mismatch_not_a_black_hole() -> None:
    outcomes = {
        "path_mtu": StepOutcome(
            data={
                "hops": [
                    {"kind": "eni", "resource_id": "eni-01", "mtu": 9001, "sends_frag_needed": True},
                    {"kind": "igw", "resource_id": "igw-01", "mtu": 1500, "sends_frag_needed": True},
                ],
                "source_mtu": 9001,
            }
        ),
        "metrics": StepOutcome(data={"frag_needed": [{"at": minute(n), "value": 2} for n in range(10, 20)]}),
        "flow_log_queries": StepOutcome(data={"upload_throughput": throughput(collapse=False)}),
    }
    findings = ranking.rank(context(source_mtu=9001), outcomes)
    top = findings[0]
    assert top.code is FindingCode.MTU_MISMATCH
    assert top.severity is Severity.WARNING
    assert "not a black hole" in top.title
    assert all(f.severity is not Severity.CRITICAL for f in findings)


def test_frag_needed_arriving_at_hosts_weakens_a_black_hole() -> None:
    outcomes = incident_outcomes()
    base = ranking.rank(context(), outcomes)[0]
    outcomes["metrics"] = StepOutcome(
        data={"frag_needed": [{"at": minute(n), "value": 5} for n in range(ONSET_MIN, ONSET_MIN + 10)]}
    )
    weaker = ranking.rank(context(), outcomes)[0]
    assert weaker.confidence < base.confidence


def test_rejected_tcp_on_the_symptom_port_is_flow_rejected() -> None:
    rows = [
        {
            "srcaddr": "10.20.0.5",
            "dstaddr": "10.0.1.10",
            "srcport": 50000 + i,
            "dstport": 443,
            "protocol": 6,
            "packets": 40,
            "interface_id": "eni-0aa",
        }
        for i in range(3)
    ]
    outcomes = {
        "flow_log_queries": StepOutcome(
            data={"upload_throughput": throughput(collapse=True), "top_rejected_flows": rows}
        ),
        "path_mtu": StepOutcome(data={"hops": vpn_hops(sends_frag_needed=None), "source_mtu": 1400}),
    }
    findings = ranking.rank(context(source_mtu=1400), outcomes)
    assert findings[0].code is FindingCode.FLOW_REJECTED
    assert findings[0].severity is Severity.CRITICAL
    assert "eni-0aa" in findings[0].resource_ids
    assert FindingCode.PMTUD_BLACKHOLE not in [f.code for f in findings]


def test_rejects_on_other_ports_are_not_the_symptom() -> None:
    rows = [{"srcaddr": "1.2.3.4", "dstaddr": "10.0.1.10", "srcport": 4000, "dstport": 22, "protocol": 6}]
    outcomes = {"flow_log_queries": StepOutcome(data={"top_rejected_flows": rows})}
    assert FindingCode.FLOW_REJECTED not in [f.code for f in ranking.rank(context(), outcomes)]


def test_healthy_network_has_no_critical_and_nothing_to_fix() -> None:
    outcomes = {
        "flow_log_queries": StepOutcome(data={"upload_throughput": throughput(collapse=False)}),
        "path_mtu": StepOutcome(data={"hops": vpn_hops(sends_frag_needed=None), "source_mtu": 1400}),
        "icmp_audit": StepOutcome(checked=("acl-1 admits ICMP 3/4 both ways",)),
    }
    findings = ranking.rank(context(source_mtu=1400), outcomes)
    assert all(f.severity in {Severity.WARNING, Severity.INFO} for f in findings)
    assert not [f for f in findings if f.code in {FindingCode.PMTUD_BLACKHOLE, FindingCode.FLOW_REJECTED}]


def test_a_change_long_before_the_onset_is_not_a_suspect() -> None:
    outcomes = incident_outcomes()
    outcomes["recent_changes"] = StepOutcome(
        data={"changes": [{"at": minute(ONSET_MIN - 600), "summary": "old SG change"}]}
    )
    findings = ranking.rank(context(), outcomes)
    change = next(f for f in findings if f.code is FindingCode.RECENT_NETWORK_CHANGE)
    assert change.severity is Severity.INFO
    top = findings[0]
    assert not [e for e in top.evidence if e.kind == "change_event"]


def test_failed_steps_become_step_failed_findings_with_the_reason() -> None:
    findings = ranking.rank(context(), {}, failed_steps={"metrics": "throttled: Rate exceeded"})
    assert [f.code for f in findings] == [FindingCode.STEP_FAILED]
    assert "throttled" in findings[0].title
    assert findings[0].severity is Severity.INFO


def test_vpn_flaps_are_reported_as_a_warning() -> None:
    outcomes = incident_outcomes()
    outcomes["metrics"] = StepOutcome(data={"tunnel_flaps": [minute(ONSET_MIN + k * 7) for k in range(4)]})
    findings = ranking.rank(context(), outcomes)
    flap = next(f for f in findings if f.code is FindingCode.VPN_TUNNEL_FLAPPING)
    assert flap.severity is Severity.WARNING
    assert "4 times" in flap.title


def test_timeline_carries_series_and_markers() -> None:
    timeline = ranking.timeline(context(alarm={"changed_at": minute(33)}), incident_outcomes())
    kinds = [m["kind"] for m in timeline["markers"]]
    assert {"onset", "change", "alarm", "recovery"} <= set(kinds)
    assert len(timeline["throughput_mbps"]) == 90
    assert timeline["throughput_source"] == "flow-log"


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8))
_rows = st.lists(
    st.dictionaries(st.sampled_from(["minute", "mbps", "at", "value", "protocol", "dstport"]), _scalars),
    max_size=5,
)
_data = st.dictionaries(
    st.sampled_from(
        [
            "upload_throughput",
            "icmp_rejects",
            "throughput",
            "frag_needed",
            "tunnel_flaps",
            "hops",
            "changes",
            "top_rejected_flows",
            "source_mtu",
            "path_mtu",
            "onset",
            "reachable",
        ]
    ),
    st.one_of(_scalars, _rows),
)


@settings(max_examples=300, deadline=None)
@given(_data)
def test_malformed_step_data_never_breaks_the_ranking(data: dict[str, Any]) -> None:
    findings = ranking.rank(context(), {"x": StepOutcome(data=data)})
    ranking.timeline(context(), {"x": StepOutcome(data=data)})
    assert all(isinstance(f, Finding) for f in findings)


def test_the_agents_measured_path_mtu_is_set_beside_the_modelled_one() -> None:
    path = StepOutcome(data={"path_mtu": 1406})
    metrics = StepOutcome(
        data={
            "path_mtu_by_target": {
                "10.40.1.10": [{"at": minute(m), "value": v} for m, v in ((1, 1406.0), (2, 1300.0))],
                "10.40.2.10": [{"at": minute(1), "value": 1406.0}],
                "10.40.3.10": [],
            }
        }
    )
    notes = ranking.measured_path_mtu_notes({"path_mtu": path, "metrics": metrics})
    assert notes == (
        (
            "host agent measured path MTU 1300 toward 10.40.1.10 (modelled: 1406); below the model's: a hop "
            "or clamp the model does not see"
        ),
        "host agent measured path MTU 1406 toward 10.40.2.10 (modelled: 1406)",
    )
    # Without the path step, the measurement is still reported, against an unknown model.
    (alone,) = ranking.measured_path_mtu_notes({"metrics": metrics})[:1]
    assert alone.endswith("(modelled: ?)")
