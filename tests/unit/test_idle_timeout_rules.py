"""The clients' keepalive against the NAT gateway's and the NLB listeners' idle timeouts (pure rules)."""

from __future__ import annotations

from dropsleuth.model import FindingCode, Severity
from dropsleuth.rules.idle_timeouts import ListenerTimeout, assess_idle_timeouts, listener_idle_timeout

TCP = ListenerTimeout(
    "net/ingest/1", "arn:aws:elasticloadbalancing:eu-west-1:1:listener/net/ingest/1/2", "TCP", 443, 120
)
TLS = ListenerTimeout(
    "net/ingest/1", "arn:aws:elasticloadbalancing:eu-west-1:1:listener/net/ingest/1/3", "TLS", 8443, 350
)


def test_the_listener_timeout_is_read_from_its_attribute_and_tls_is_fixed() -> None:
    assert listener_idle_timeout("TCP", [{"Key": "tcp.idle_timeout.seconds", "Value": "900"}]) == 900
    assert listener_idle_timeout("TCP", [{"Key": "other", "Value": "1"}]) is None
    assert listener_idle_timeout("TLS", []) == 350


def test_a_keepalive_not_shorter_than_a_timeout_is_a_warning_risk_with_the_fix() -> None:
    result = assess_idle_timeouts(keepalive_s=300, listeners=[TCP, TLS], nat_gateways=["nat-1"])
    assert [(f.code, f.severity, f.resource_ids) for f in result.findings] == [
        (FindingCode.IDLE_TIMEOUT_MISMATCH, Severity.WARNING, ("net/ingest/1",))
    ]
    (finding,) = result.findings
    assert finding.evidence[0].data["idle_timeout_s"] == 120
    assert finding.remediation is not None
    assert finding.remediation.commands == (
        (
            f"aws elbv2 modify-listener-attributes --listener-arn {TCP.listener_arn} "
            "--attributes Key=tcp.idle_timeout.seconds,Value=360"
        ),
        "sysctl -w net.ipv4.tcp_keepalive_time=70",
    )
    assert result.checked == [
        "NAT gateway nat-1 idle timeout: checked — 350 s, longer than the clients' keepalive (300 s)",
        (
            "load balancer net/ingest/1 TLS:8443 idle timeout: checked — 350 s, longer than the clients' "
            "keepalive (300 s)"
        ),
    ]


def test_a_nat_gateway_cannot_be_changed_so_its_fix_is_the_keepalive() -> None:
    (finding,) = assess_idle_timeouts(keepalive_s=350, listeners=[], nat_gateways=["nat-1"]).findings
    assert finding.remediation is not None
    assert finding.remediation.commands == ("sysctl -w net.ipv4.tcp_keepalive_time=300",)


def test_without_a_keepalive_in_the_registry_it_is_unknown_and_without_timeouts_nothing() -> None:
    unknown = assess_idle_timeouts(
        keepalive_s=None, listeners=[], nat_gateways=[], load_balancers=["net/a/1"]
    )
    assert unknown.findings == []
    assert unknown.checked[0].startswith("idle-timeout mismatch (NAT gateways, NLB listeners): unknown")
    nothing = assess_idle_timeouts(keepalive_s=300, listeners=[], nat_gateways=[])
    assert (nothing.findings, nothing.checked) == ([], [])
