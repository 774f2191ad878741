"""Severity from symptoms (docs/severity.md): configuration alone is a risk; drops in the window make it an
incident; evidence against lowers confidence and is shown; the VPN hop as it is; direction of the loss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dropsleuth.context import Endpoint, InvestigationContext, StepOutcome, Window
from dropsleuth.model import Evidence, Finding, FindingCode, Severity
from dropsleuth.rules import mtu_rulebook as book
from dropsleuth.rules import ranking
from dropsleuth.rules.path import End, Verdict, analyse_path
from dropsleuth.rules.severity import Observation, incident_severity
from tests.unit.test_path_model import APP_ENI, VPN_ON_VGW, topology

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SITE = "172.20.30.0/24"
SITE_ROUTE = [{"DestinationCidrBlock": "172.20.0.0/16", "GatewayId": "vgw-1", "State": "active"}]


def minute(n: int) -> str:
    return (T0 + timedelta(minutes=n)).isoformat()


def context(*, site_is_source: bool = True, **overrides: Any) -> InvestigationContext:
    site, vpc = Endpoint(cidr=SITE), Endpoint(cidr="10.60.1.0/24")
    values: dict[str, Any] = {
        "vpc_id": "vpc-0abc",
        "source": site if site_is_source else vpc,
        "destination": vpc if site_is_source else site,
        "window": Window(start=T0, end=T0 + timedelta(minutes=90)),
        "source_mtu": 1500,
    }
    return InvestigationContext(**(values | overrides))


def vpn_path(*, site_is_source: bool = True) -> list[dict[str, Any]]:
    """The path model's hops for a 1500-byte site over a VPN whose tunnel options are not known."""
    site = {"kind": "site", "resource_id": "site", "mtu": 1500, "sends_frag_needed": None}
    vpn = {"kind": "vpn", "resource_id": "vpn-0777", "mtu": 1406, "mtu_max": 1446, "sends_frag_needed": False}
    eni = {"kind": "eni", "resource_id": "eni-0app", "mtu": 9001, "sends_frag_needed": None}
    return [site, vpn, eni] if site_is_source else [eni, vpn, site]


def steady(mbps: float = 30.0) -> list[dict[str, Any]]:
    return [{"minute": minute(n), "mbps": mbps + (n % 3)} for n in range(90)]


def collapsed() -> list[dict[str, Any]]:
    return [{"minute": minute(n), "mbps": 0.9 if 30 <= n < 80 else 30.0 + (n % 3)} for n in range(90)]


def outcomes(*, site_is_source: bool = True, **queries: Any) -> dict[str, StepOutcome]:
    data: dict[str, Any] = {"upload_throughput": steady(), "stalled_flows": [], "icmp_rejects": []}
    data.update(queries)
    return {
        "flow_log_queries": StepOutcome(data=data),
        "path_mtu": StepOutcome(
            data={"hops": vpn_path(site_is_source=site_is_source), "source_mtu": 1500, "path_mtu": 1406}
        ),
    }


def black_hole(findings: tuple[Finding, ...]) -> Finding:
    return next(f for f in findings if f.code is FindingCode.PMTUD_BLACKHOLE)


# --- the rule itself ------------------------------------------------------------------------------------


def test_the_severity_rule_in_one_table() -> None:
    symptom = [Observation("REJECTed ICMP toward the source", 0.15, symptom=True)]
    assert incident_severity([], 0.9, collapse=False) is Severity.WARNING
    assert incident_severity([], 0.9, collapse=True) is Severity.WARNING
    assert incident_severity(symptom, 0.7, collapse=False) is Severity.HIGH
    assert incident_severity(symptom, 0.7, collapse=True) is Severity.CRITICAL
    assert incident_severity(symptom, 0.3, collapse=False) is Severity.WARNING


# --- configuration alone: a latent risk, worded with its condition --------------------------------------


def test_a_vpn_that_could_black_hole_with_healthy_traffic_is_a_warning_with_its_condition() -> None:
    findings = ranking.rank(context(), outcomes())
    top = findings[0]
    assert top.code is FindingCode.PMTUD_BLACKHOLE
    assert top.severity is Severity.WARNING
    assert "Latent" in top.title
    # The tunnel's MTU as a range: its cipher and NAT-T are not known.
    assert "carries 1406–1446 bytes, the source sends 1500" in top.title
    # MSS = the tunnel's smallest MTU (1406) − 40 (RFC 879).
    assert "works only if the customer gateway clamps MSS to ≤ 1366; verify" in top.title
    assert "To verify:" in top.detail
    assert "adjust-mss" in top.detail
    assert all(f.severity in {Severity.WARNING, Severity.INFO} for f in findings)


def test_steady_throughput_and_no_stalled_flows_are_shown_as_evidence_against() -> None:
    top = black_hole(ranking.rank(context(), outcomes()))
    assert "Evidence against:" in top.detail
    assert "throughput held steady" in top.detail
    assert "no stalled flows" in top.detail
    assert any(e.kind == "metric" and "steady" in e.summary for e in top.evidence_against)


@pytest.mark.parametrize(
    ("symptom", "queries", "metrics", "severity"),
    [
        ("icmp_rejects", {"icmp_rejects": [{"minute": minute(n), "rejects": 4} for n in range(30, 60)]}, {},
         Severity.HIGH),
        ("collapse", {"upload_throughput": collapsed(),
                      "icmp_rejects": [{"minute": minute(n), "rejects": 4} for n in range(30, 60)]}, {},
         Severity.CRITICAL),
        ("agent verdict", {}, {"black_hole_verdicts": [{"at": minute(n), "value": 1} for n in range(30, 40)]},
         Severity.HIGH),
        ("retransmissions", {}, {"retransmissions": [{"at": minute(n), "value": 5 if n < 70 else 400}
                                                     for n in range(90)]}, Severity.HIGH),
        ("stalled flows", {"stalled_flows": [{"srcaddr": "172.20.30.10", "records": 6}]}, {},
         Severity.HIGH),
    ],
)  # fmt: skip
def test_a_symptom_in_the_window_makes_it_an_incident(
    symptom: str, queries: dict[str, Any], metrics: dict[str, Any], severity: Severity
) -> None:
    steps = outcomes(**queries)
    if metrics:
        steps["metrics"] = StepOutcome(data=metrics)
    findings = ranking.rank(context(), steps)
    top = findings[0]
    assert top.code is FindingCode.PMTUD_BLACKHOLE, symptom
    assert top.severity is severity, symptom
    assert "Latent" not in top.title


def test_large_packets_arriving_from_the_site_count_against_a_black_hole() -> None:
    rejects = {"icmp_rejects": [{"minute": minute(n), "rejects": 2} for n in range(30, 35)]}
    large = [{"srcaddr": "172.20.30.10", "dstaddr": "10.60.1.10", "total_packets": 900,
              "bytes_per_packet": 1437.5}]  # fmt: skip
    without = black_hole(ranking.rank(context(), outcomes(**rejects)))
    refuted = black_hole(ranking.rank(context(), outcomes(**rejects, flow_packet_sizes=large)))
    assert without.severity is Severity.HIGH
    assert refuted.confidence < without.confidence
    # The symptom is still there, but large packets do get through: not enough to page anyone.
    assert refuted.severity is Severity.WARNING
    assert any(e.data.get("query") == "flow_packet_sizes" for e in refuted.evidence_against)
    assert "1438" in refuted.detail or "1437" in refuted.detail


def test_flows_sent_by_an_instance_prove_nothing_about_the_hop_ahead_of_them() -> None:
    # AWS → site: the ENI records packets before they reach the VPN, so their size is no evidence.
    large = [
        {"srcaddr": "10.60.1.10", "dstaddr": "172.20.30.10", "total_packets": 900, "bytes_per_packet": 8000}
    ]
    top = black_hole(
        ranking.rank(context(site_is_source=False), outcomes(site_is_source=False, flow_packet_sizes=large))
    )
    assert not any(e.data.get("query") == "flow_packet_sizes" for e in top.evidence_against)


# --- direction --------------------------------------------------------------------------------------------


def test_site_to_aws_names_the_customer_gateway_as_the_icmp_sender_and_the_fix() -> None:
    top = black_hole(ranking.rank(context(), outcomes()))
    direction = next(e for e in top.evidence if e.kind == "direction")
    assert direction.data["direction"] == "site → AWS"
    assert "customer gateway" in direction.data["frag_needed_from"]
    assert direction.data["frag_needed_to"] == SITE
    assert "customer gateway" in direction.data["fix_at"]
    assert top.remediation is not None
    assert top.remediation.steps[0].startswith("Where the fix goes (site → AWS)")


def test_aws_to_site_says_the_aws_end_never_sends_frag_needed() -> None:
    top = black_hole(ranking.rank(context(site_is_source=False), outcomes(site_is_source=False)))
    direction = next(e for e in top.evidence if e.kind == "direction")
    assert direction.data["direction"] == "AWS → site"
    assert "never" in direction.data["frag_needed_from"]
    assert "MSS clamp" in direction.data["fix_at"]


def test_a_blocking_nacl_is_where_the_fix_goes_first() -> None:
    nacl = Finding(
        code=FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED, severity=Severity.HIGH, confidence=0.9,
        title="acl-0123 rule 50 denies ICMP type 3", resource_ids=("acl-0123",),
    )  # fmt: skip
    steps = outcomes()
    steps["icmp_audit"] = StepOutcome(findings=(nacl,))
    top = black_hole(ranking.rank(context(), steps))
    direction = next(e for e in top.evidence if e.kind == "direction")
    assert direction.data["fix_at"].startswith("acl-0123: allow ICMP type 3 code 4")


# --- supporting findings follow the same rule -----------------------------------------------------------


def test_a_blocking_nacl_alone_is_a_warning_and_high_once_drops_show() -> None:
    # As the audit reports it: configuration alone, a warning.
    nacl = Finding(
        code=FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED, severity=Severity.WARNING, confidence=0.9,
        title="acl-0123 rule 50 denies ICMP type 3", resource_ids=("acl-0123",),
    )  # fmt: skip
    quiet = outcomes()
    quiet["icmp_audit"] = StepOutcome(findings=(nacl,))
    dropping = outcomes(icmp_rejects=[{"minute": minute(n), "rejects": 3} for n in range(30, 60)])
    dropping["icmp_audit"] = StepOutcome(findings=(nacl,))
    by_code = {f.code: f for f in ranking.rank(context(), quiet)}
    assert by_code[FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED].severity is Severity.WARNING
    by_code = {f.code: f for f in ranking.rank(context(), dropping)}
    assert by_code[FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED].severity is Severity.HIGH


def flow_logs_disabled() -> Finding:
    return Finding(
        code=FindingCode.FLOW_LOGS_DISABLED, severity=Severity.HIGH, confidence=1.0,
        title="No flow logs on vpc-0abc", resource_ids=("vpc-0abc",),
        evidence=(Evidence(kind="flow_logs", summary="no flow log on the resource"),),
    )  # fmt: skip


def test_flow_logs_disabled_with_records_in_the_window_is_information_naming_the_source() -> None:
    steps = outcomes(flow_log_location="s3://central-logs/AWSLogs/")
    steps["flow_logs"] = StepOutcome(findings=(flow_logs_disabled(),))
    finding = next(f for f in ranking.rank(context(), steps) if f.code is FindingCode.FLOW_LOGS_DISABLED)
    assert finding.severity is Severity.INFO
    assert "s3://central-logs/AWSLogs/" in finding.title
    assert any(e.kind == "flow_log_records" and e.data["rows"] == 90 for e in finding.evidence)


def test_flow_logs_disabled_without_records_stays_a_gap() -> None:
    steps = {"flow_logs": StepOutcome(findings=(flow_logs_disabled(),))}
    finding = next(f for f in ranking.rank(context(), steps) if f.code is FindingCode.FLOW_LOGS_DISABLED)
    # No drops seen (nothing was read): a gap to fix, reported as a warning, not a page.
    assert finding.severity is Severity.WARNING
    assert "records found" not in finding.title


# --- the VPN hop as it is -----------------------------------------------------------------------------------


def _tunnels(*tunnels: tuple[list[str], list[str]]) -> dict[str, Any]:
    return {
        "VpnConnectionId": "vpn-1",
        "Options": {
            "TunnelOptions": [
                {
                    "OutsideIpAddress": f"203.0.113.{i}",
                    "Phase1EncryptionAlgorithms": [{"Value": "AES256"}],
                    "Phase2EncryptionAlgorithms": [{"Value": e} for e in enc],
                    "Phase2IntegrityAlgorithms": [{"Value": a} for a in integ],
                }
                for i, (enc, integ) in enumerate(tunnels, 1)
            ]
        },
    }


@pytest.mark.parametrize(
    ("tunnels", "low", "high"),
    [
        (None, 1406, 1446),  # options unknown: every cipher, NAT-T either way
        (_tunnels((["AES256-GCM-16"], []), (["AES256-GCM-16"], [])), 1438, 1446),
        (_tunnels((["AES256"], ["SHA2-512"]), (["AES256"], ["SHA2-512"])), 1406, 1422),
        (_tunnels((["AES256-GCM-16"], []), (["AES128"], ["SHA1"])), 1422, 1446),
    ],
)
def test_the_vpn_hop_is_a_range_from_its_tunnel_options(tunnels: Any, low: int, high: int) -> None:
    assert book.vpn_rule(tunnels).mtu_range == (low, high)


@pytest.mark.parametrize(
    ("nat_traversal", "low", "high"), [(None, 1406, 1446), (True, 1406, 1438), (False, 1422, 1446)]
)
def test_a_known_nat_traversal_narrows_the_range(nat_traversal: bool | None, low: int, high: int) -> None:
    assert book.vpn_rule(None, nat_traversal=nat_traversal).mtu_range == (low, high)
    gcm = _tunnels((["AES256-GCM-16"], []))
    assert book.vpn_rule(gcm, nat_traversal=nat_traversal).mtu_range == (
        {None: 1438, True: 1438, False: 1446}[nat_traversal],
        {None: 1446, True: 1438, False: 1446}[nat_traversal],
    )


def vpn_analysis(*, mss_clamp: int | None = None, source_mtu: int = 1500, vpn: dict[str, Any] | None = None):
    return analyse_path(
        topology(SITE_ROUTE, vpn_connections=(vpn or VPN_ON_VGW,)),
        End(cidr="172.20.30.0/24"),
        End(eni_id=APP_ENI),
        source_mtu=source_mtu,
        mss_clamp=mss_clamp,
    )


def test_aws_generated_mss_clamp_1379_is_not_a_black_hole_but_a_caveat_to_verify() -> None:
    analysis = vpn_analysis(mss_clamp=book.VPN_AWS_CONFIG_MSS)
    assert analysis.verdict is Verdict.OK
    assert analysis.findings() == []
    assert any("verify the negotiated phase 2 algorithms" in note for note in analysis.assumptions)
    assert any("1406–1446" in note for note in analysis.assumptions)


def test_a_clamp_fitting_only_the_best_cipher_is_a_possible_black_hole_and_a_warning() -> None:
    analysis = vpn_analysis(mss_clamp=1400)  # 1440-byte packets: only AES-GCM without NAT-T carries them
    assert analysis.verdict is Verdict.PMTUD_BLACKHOLE
    assert analysis.mtu_uncertain
    finding = next(f for f in analysis.findings() if f.code is FindingCode.PMTUD_BLACKHOLE)
    assert finding.severity is Severity.WARNING
    assert finding.title.startswith("Possible PMTUD black hole")
    assert "1406–1446" in finding.title


def test_a_clamp_known_to_fit_the_negotiable_ciphers_is_ok() -> None:
    gcm = _tunnels((["AES256-GCM-16"], []), (["AES256-GCM-16"], []))
    assert vpn_analysis(mss_clamp=1398, vpn={**VPN_ON_VGW, **gcm}).verdict is Verdict.OK  # 1438 fits


def test_a_1500_byte_site_without_a_clamp_exceeds_every_case_but_is_still_only_a_risk() -> None:
    analysis = vpn_analysis()
    assert analysis.verdict is Verdict.PMTUD_BLACKHOLE
    assert not analysis.mtu_uncertain
    assert {f.severity for f in analysis.findings()} == {Severity.WARNING}


def test_the_registry_clamp_reaches_the_ranking_through_the_path_data() -> None:
    analysis = vpn_analysis(mss_clamp=book.VPN_AWS_CONFIG_MSS)
    steps = {
        "path_mtu": StepOutcome(data=analysis.to_dict() | {"source_mtu": analysis.packet_size}),
        "flow_log_queries": StepOutcome(data={"upload_throughput": steady()}),
    }
    findings = ranking.rank(context(mss_clamp=book.VPN_AWS_CONFIG_MSS), steps)
    assert FindingCode.PMTUD_BLACKHOLE not in [f.code for f in findings]
    assert all(f.severity in {Severity.WARNING, Severity.INFO} for f in findings)


def test_the_registry_nat_traversal_reaches_the_path_model_and_decides_a_borderline_clamp() -> None:
    from dropsleuth.aws.topology import path_arguments
    from dropsleuth.sites import Site

    site = Site(name="depot", cidrs=(SITE,), mss_clamp=1400, nat_traversal=False)
    arguments = path_arguments(context(site=site))
    assert arguments["nat_traversal"] is False
    gcm = {**VPN_ON_VGW, **_tunnels((["AES256-GCM-16"], []), (["AES256-GCM-16"], []))}
    topo = topology(SITE_ROUTE, vpn_connections=(gcm,))
    ends = (End(cidr=SITE), End(eni_id=APP_ENI))
    # 1,440-byte packets: AES-GCM carries 1446 without NAT-T, 1438 with it.
    unknown = analyse_path(topo, *ends, source_mtu=1500, mss_clamp=1400)
    assert unknown.verdict is Verdict.PMTUD_BLACKHOLE
    assert unknown.mtu_uncertain
    assert (
        analyse_path(topo, *ends, source_mtu=1500, mss_clamp=1400, nat_traversal=False).verdict is Verdict.OK
    )
    assert analyse_path(topo, *ends, source_mtu=1500, mss_clamp=1400, nat_traversal=True).verdict is (
        Verdict.PMTUD_BLACKHOLE
    )


def test_a_supporting_finding_is_never_raised_past_what_its_configuration_can_cause() -> None:
    # A missing SG rule is context (SGs are stateful): drops in the window do not make it high.
    sg = Finding(
        code=FindingCode.SG_MISSING_ICMP_FRAG_NEEDED, severity=Severity.WARNING, confidence=0.6,
        title="sg-0123 admits no ICMP type 3 code 4", resource_ids=("sg-0123",),
    )  # fmt: skip
    dropping = outcomes(icmp_rejects=[{"minute": minute(n), "rejects": 3} for n in range(30, 60)])
    dropping["icmp_audit"] = StepOutcome(findings=(sg,))
    by_code = {f.code: f for f in ranking.rank(context(), dropping)}
    assert by_code[FindingCode.SG_MISSING_ICMP_FRAG_NEEDED].severity is Severity.WARNING
