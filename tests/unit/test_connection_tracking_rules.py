"""Security-group connection tracking: the destination ENIs' TCP idle timeout against the clients'
keepalive (pure rules over DescribeNetworkInterfaces records, in the documented
``ConnectionTrackingConfiguration`` shape: moto does not return that field)."""

from __future__ import annotations

import pytest

from dropsleuth.model import FindingCode, Severity
from dropsleuth.rules.connection_tracking import TrackedInterface, assess_connection_tracking
from dropsleuth.rules.other_drops import assess_other_drops


def eni(timeout: int | None) -> TrackedInterface:
    configuration = None if timeout is None else {"TcpEstablishedTimeout": timeout, "UdpTimeout": 30}
    return TrackedInterface("eni-1", "i-1", configuration)


@pytest.mark.parametrize(
    ("timeout", "keepalive", "risk"),
    [
        (300, None, True),  # below AWS's own 350 s NAT/NLB idle timeout
        (350, None, False),
        (432_000, None, False),
        (600, 900, True),  # the clients idle 900 s between keepalives: the entry is gone at 600 s
        (900, 900, True),  # a keepalive due exactly at expiry races it
        (1_200, 900, False),
        (300, 120, False),  # short, but the clients' keepalives keep the connection tracked
    ],
)
def test_a_timeout_not_longer_than_the_clients_idle_is_a_warning_risk(
    timeout: int, keepalive: int | None, risk: bool
) -> None:
    result = assess_connection_tracking([eni(timeout)], keepalive_s=keepalive)
    assert [(f.code, f.severity) for f in result.findings] == (
        [(FindingCode.SG_CONNTRACK_TIMEOUT_SHORT, Severity.WARNING)] if risk else []
    )
    assert bool(result.checked) is not risk


def test_the_finding_carries_the_configuration_and_the_exact_fix() -> None:
    (finding,) = assess_connection_tracking([eni(120)], keepalive_s=600).findings
    assert finding.resource_ids == ("eni-1", "i-1")
    assert finding.evidence[0].data["connection_tracking"]["TcpEstablishedTimeout"] == 120
    assert finding.evidence[0].data["threshold_s"] == 600
    assert finding.remediation is not None
    assert finding.remediation.commands == (
        (
            "aws ec2 modify-network-interface-attribute --network-interface-id eni-1 "
            "--connection-tracking-specification TcpEstablishedTimeout=432000"
        ),
        "sysctl -w net.ipv4.tcp_keepalive_time=60",
    )


def test_no_configuration_on_the_eni_says_the_default_applies() -> None:
    result = assess_connection_tracking([eni(None)], keepalive_s=None)
    assert result.findings == []
    assert result.checked == [
        (
            "security-group connection tracking of eni-1: checked — DescribeNetworkInterfaces returns no "
            "ConnectionTrackingConfiguration: the instance type's default applies (432,000 s; 350 s on "
            "Nitro v6 types)"
        )
    ]


def test_the_registry_keepalive_reaches_the_rule_through_the_other_drops_data() -> None:
    data = {
        "connection_tracking": {
            "client_keepalive_s": 900,
            "interfaces": [
                {"eni_id": "eni-1", "instance_id": "i-1", "configuration": {"TcpEstablishedTimeout": 600}},
                {"eni_id": "eni-2", "instance_id": None, "configuration": {"TcpEstablishedTimeout": 3600}},
            ],
        }
    }
    result = assess_other_drops(data, None)
    assert [f.resource_ids for f in result.findings if f.code is FindingCode.SG_CONNTRACK_TIMEOUT_SHORT] == [
        ("eni-1", "i-1")
    ]
    assert any(
        line.startswith("security-group connection tracking of eni-2: checked") for line in result.checked
    )
