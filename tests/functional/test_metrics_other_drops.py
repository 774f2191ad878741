"""Host drop counters and NAT gateway errors read back from moto's CloudWatch, then graded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from dropsleuth.aws.drop_metrics import network_load_balancers, read_other_drops
from dropsleuth.model import FindingCode, Severity
from dropsleuth.rules.other_drops import assess_other_drops
from tests.functional.test_metrics_context import put

START = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
SITE, NAT = "plant-7", "nat-0123456789abcdef0"
ONSET = START + timedelta(minutes=40)


@pytest.fixture
def cloudwatch(aws: None) -> Any:
    return boto3.client("cloudwatch", region_name="eu-west-1")


def test_the_site_hosts_are_found_and_each_cause_is_graded(cloudwatch: Any) -> None:
    overflow = [0.0] * 40 + [95.0] * 50
    zero = [0.0] * 90
    for host, listen in (("ingest-1", overflow), ("ingest-2", zero)):
        # As the agent publishes them (dimensions sorted by name).
        dims = {"Host": host, "Site": SITE}
        put(cloudwatch, "DropSleuth", "TcpListenOverflows", dims, listen)
        put(cloudwatch, "DropSleuth", "NicRxDropped", dims, zero)
    # Another site's host, and a site-only rollup, are not this site's hosts.
    put(cloudwatch, "DropSleuth", "TcpListenOverflows", {"Site": "plant-8", "Host": "x"}, [500.0] * 90)
    put(cloudwatch, "DropSleuth", "TcpListenOverflows", {"Site": SITE}, [7.0] * 90)
    put(cloudwatch, "AWS/NATGateway", "ErrorPortAllocation", {"NatGatewayId": NAT}, zero)
    put(cloudwatch, "AWS/NATGateway", "IdleTimeoutCount", {"NatGatewayId": NAT}, [2.0] * 90)

    data = read_other_drops(
        START, START + timedelta(minutes=90), site=SITE, nat_gateway_ids=[NAT], cloudwatch=cloudwatch
    )

    assert set(data["hosts"]) == {"ingest-1", "ingest-2"}
    assert set(data["hosts"]["ingest-1"]) == {"TcpListenOverflows", "NicRxDropped"}
    assert sum(p["value"] for p in data["hosts"]["ingest-1"]["TcpListenOverflows"]) == 95 * 50
    result = assess_other_drops(data, ONSET)
    assert [(f.code, f.severity, f.resource_ids) for f in result.findings] == [
        (FindingCode.LISTEN_QUEUE_OVERFLOW, Severity.HIGH, ("ingest-1",))
    ]
    assert any(line.startswith("interface and driver drops: checked, clean") for line in result.checked)
    assert any(f"{NAT} port allocation: checked, clean" in line for line in result.checked)
    assert any(f"{NAT} idle timeouts: checked, not rising" in line for line in result.checked)
    # What no host published is unknown, not clean.
    assert any(line.startswith("connection-tracking table full: unknown") for line in result.checked)


def test_a_site_without_agents_reads_no_hosts(cloudwatch: Any) -> None:
    data = read_other_drops(START, START + timedelta(minutes=90), site=SITE, cloudwatch=cloudwatch)
    assert data == {
        "hosts": {},
        "firewall_rules": {},
        "qdiscs": {},
        "aws_resources": [],
        "aws": [],
        "transit_gateways": [],
        "instance_allowances": [],
    }
    assert "unknown" in assess_other_drops(data, ONSET).checked[0]


def test_the_vpcs_network_load_balancers_are_found_and_their_resets_graded(cloudwatch: Any) -> None:
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    elbv2 = boto3.client("elbv2", region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.90.1.0/24", AvailabilityZone="eu-west-1a")["Subnet"]
    nlb = elbv2.create_load_balancer(Name="ingest", Subnets=[subnet["SubnetId"]], Type="network")
    elbv2.create_load_balancer(Name="web", Subnets=[subnet["SubnetId"]], Type="application")
    other = ec2.create_vpc(CidrBlock="10.91.0.0/16")["Vpc"]["VpcId"]
    other_subnet = ec2.create_subnet(VpcId=other, CidrBlock="10.91.1.0/24", AvailabilityZone="eu-west-1a")
    elbv2.create_load_balancer(Name="elsewhere", Subnets=[other_subnet["Subnet"]["SubnetId"]], Type="network")
    arn = nlb["LoadBalancers"][0]["LoadBalancerArn"]
    dimension = arn.split(":loadbalancer/", 1)[1]

    found = network_load_balancers(vpc, elbv2=elbv2)

    assert found == (dimension,)
    assert dimension.startswith("net/")  # as AWS names a Network Load Balancer (demo/moto_fixes.py)
    put(
        cloudwatch,
        "AWS/NetworkELB",
        "TCP_ELB_Reset_Count",
        {"LoadBalancer": dimension},
        [0.0] * 40 + [60.0] * 50,
    )
    put(cloudwatch, "AWS/NetworkELB", "TCP_Target_Reset_Count", {"LoadBalancer": dimension}, [1.0] * 90)
    data = read_other_drops(
        START, START + timedelta(minutes=90), site=None, load_balancers=found, cloudwatch=cloudwatch
    )
    result = assess_other_drops(data, ONSET)
    assert [(f.code, f.severity, f.resource_ids) for f in result.findings] == [
        (FindingCode.LB_RESETS, Severity.HIGH, (dimension,))
    ]
    # TCP_Client_Reset_Count had no data: not evidence of anything, so left out.
    assert {e.data["metric"] for e in result.findings[0].evidence} == {
        "TCP_ELB_Reset_Count",
        "TCP_Target_Reset_Count",
    }


def test_the_firewall_rules_that_counted_are_listed_and_named_in_the_finding(cloudwatch: Any) -> None:
    rule = "nft inet site_fw input handle 3: tcp dport 443 counter drop"
    quiet = "iptables filter INPUT policy: DROP"
    dims = {"Host": "ingest-1", "Site": SITE}
    put(cloudwatch, "DropSleuth", "TcpListenOverflows", dims, [0.0] * 90)
    put(cloudwatch, "DropSleuth", "HostFirewallDrops", dims, [1.0] * 40 + [81.0] * 50)
    # As the agent publishes them: dimensions sorted by name (moto matches them in order).
    ruled = {"Host": "ingest-1", "Rule": rule, "Site": SITE}
    put(cloudwatch, "DropSleuth", "HostFirewallRuleDrops", ruled, [0.0] * 40 + [80.0] * 50)
    put(cloudwatch, "DropSleuth", "HostFirewallRuleDrops", {**ruled, "Rule": quiet}, [1.0] * 90)
    other_site = {"Host": "x", "Rule": rule, "Site": "plant-8"}
    put(cloudwatch, "DropSleuth", "HostFirewallRuleDrops", other_site, [9.0] * 90)

    data = read_other_drops(START, START + timedelta(minutes=90), site=SITE, cloudwatch=cloudwatch)

    assert set(data["firewall_rules"]) == {"ingest-1"}
    assert set(data["firewall_rules"]["ingest-1"]) == {rule, quiet}
    result = assess_other_drops(data, ONSET)
    (finding,) = [f for f in result.findings if f.code is FindingCode.HOST_FIREWALL_DROPS]
    assert finding.severity is Severity.HIGH
    lead = next(e for e in finding.evidence if e.kind == "firewall_rule")
    assert lead.data["rule"] == rule
    assert (lead.data["table"], lead.data["chain"], lead.data["handle"]) == ("inet site_fw", "input", 3)
    assert finding.remediation is not None
    assert finding.remediation.commands == (
        "nft -a list chain inet site_fw input",
        "nft insert rule inet site_fw input position 3 <MATCH> accept",
    )
