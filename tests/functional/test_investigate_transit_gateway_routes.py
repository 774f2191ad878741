"""Transit gateway drops tied to the route that causes them, end to end on moto: a VPC reaching a site over a
VPN on a transit gateway, the TGW route table's route toward the site, the attachment's drop counters in
CloudWatch, and the report's finding or checked line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from dropsleuth.aws import transit_gateway_routes
from dropsleuth.aws.errors import translate
from dropsleuth.context import Endpoint, InvestigationContext, Window
from dropsleuth.investigate import investigate
from dropsleuth.model import FindingCode, Report, Severity
from dropsleuth.sites import Site
from dropsleuth.steps import StepEnvironment, default_steps
from tests.functional.test_metrics_context import START, put

SITE, SITE_CIDR, SITE_HOST = "plant-7", "192.168.50.0/24", "192.168.50.20"
ONSET_MINUTE = 30


@dataclass(frozen=True)
class TransitPath:
    vpc: str
    eni: str
    tgw: str
    table: str
    vpc_attachment: str
    vpn_attachment: str


def _vpc_behind_a_transit_gateway() -> TransitPath:
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24")["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    tgw = ec2.create_transit_gateway()["TransitGateway"]
    tgw_id = tgw["TransitGatewayId"]
    # Attachments are associated with the transit gateway's default route table (as in AWS by default).
    table = tgw["Options"]["AssociationDefaultRouteTableId"]
    vpc_attachment = ec2.create_transit_gateway_vpc_attachment(
        TransitGatewayId=tgw_id, VpcId=vpc, SubnetIds=[subnet]
    )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]
    cgw = ec2.create_customer_gateway(Type="ipsec.1", PublicIp="203.0.113.9", BgpAsn=65000)
    vpn = ec2.create_vpn_connection(
        Type="ipsec.1", CustomerGatewayId=cgw["CustomerGateway"]["CustomerGatewayId"], TransitGatewayId=tgw_id
    )["VpnConnection"]["VpnConnectionId"]
    vpn_attachment = ec2.describe_transit_gateway_attachments(
        Filters=[{"Name": "resource-id", "Values": [vpn]}]
    )["TransitGatewayAttachments"][0]["TransitGatewayAttachmentId"]
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"][0]
    ec2.create_route(
        RouteTableId=main["RouteTableId"], DestinationCidrBlock=SITE_CIDR, TransitGatewayId=tgw_id
    )
    # The way back to the VPC is routed.
    ec2.create_transit_gateway_route(
        TransitGatewayRouteTableId=table,
        DestinationCidrBlock="10.60.0.0/16",
        TransitGatewayAttachmentId=vpc_attachment,
    )
    return TransitPath(vpc, eni, tgw_id, table, vpc_attachment, vpn_attachment)


def _route_toward_the_site(path: TransitPath, *, blackhole: bool) -> None:
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    # A broader route stays active: the more specific one decides.
    ec2.create_transit_gateway_route(
        TransitGatewayRouteTableId=path.table,
        DestinationCidrBlock="192.168.0.0/16",
        TransitGatewayAttachmentId=path.vpn_attachment,
    )
    if blackhole:
        ec2.create_transit_gateway_route(
            TransitGatewayRouteTableId=path.table, DestinationCidrBlock=SITE_CIDR, Blackhole=True
        )


def _attachment_drops(path: TransitPath, attachment: str, metric: str, values: list[float]) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    # As AWS publishes attachment-level metrics: both dimensions.
    put(
        cloudwatch,
        "AWS/TransitGateway",
        metric,
        {"TransitGateway": path.tgw, "TransitGatewayAttachment": attachment},
        values,
    )


def _site_throughput_collapses() -> None:
    """The site agent's series: 40 Mbps, then 1.5 Mbps from the onset (the counters are graded at it)."""
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    values = [40.0] * ONSET_MINUTE + [1.5] * (60 - ONSET_MINUTE)
    put(cloudwatch, "DropSleuth", "UploadThroughputMbps", {"Site": SITE}, values)


def _investigate(path: TransitPath) -> Report:
    context = InvestigationContext(
        vpc_id=path.vpc,
        source=Endpoint(eni_id=path.eni),
        destination=Endpoint(ip=SITE_HOST),
        window=Window(start=START, end=START + timedelta(minutes=60)),
        # The site clamps MSS, so the VPN's smaller MTU is no black hole here: only the route is in question.
        site=Site(name=SITE, cidrs=(SITE_CIDR,), mss_clamp=1360),
    )
    steps = [s for s in default_steps() if s.name in {"path_mtu", "metrics"}]
    return investigate(context, steps=steps, environment=StepEnvironment())


def _tgw_findings(report: Report) -> list[Any]:
    return [f for f in report.findings if f.code is FindingCode.TRANSIT_GATEWAY_DROPS]


def test_a_blackhole_route_whose_drops_rose_at_the_onset_is_the_high_finding_with_the_route_and_fix(
    aws: None,
) -> None:
    path = _vpc_behind_a_transit_gateway()
    _route_toward_the_site(path, blackhole=True)
    _site_throughput_collapses()
    _attachment_drops(
        path, path.vpc_attachment, "PacketDropCountBlackhole", [0.0] * ONSET_MINUTE + [120.0] * 30
    )
    _attachment_drops(path, path.vpn_attachment, "PacketDropCountBlackhole", [0.0] * 60)

    report = _investigate(path)

    (finding,) = _tgw_findings(report)
    assert finding.severity is Severity.HIGH
    assert report.findings[0] == finding
    assert path.table in finding.resource_ids
    assert path.vpc_attachment in finding.resource_ids
    route = next(e for e in finding.evidence if e.kind == "transit_gateway_route")
    assert route.data["state"] == "blackhole"
    assert route.data["route"]["DestinationCidrBlock"] == SITE_CIDR
    assert route.data["route_table_id"] == path.table
    counter = next(e for e in finding.evidence if e.kind == "metric")
    assert (counter.data["before_total"], counter.data["during_total"]) == (0, 3600)
    assert counter.data["metric"] == "PacketDropCountBlackhole"
    assert finding.remediation is not None
    assert finding.remediation.commands[0] == (
        f"aws ec2 replace-transit-gateway-route --transit-gateway-route-table-id {path.table} "
        f"--destination-cidr-block {SITE_CIDR} --transit-gateway-attachment-id {path.vpn_attachment}"
    )
    # The way back (from the VPN attachment toward the VPC) is routed and dropped nothing.
    assert any(
        line.startswith(f"transit gateway {path.tgw}: checked, clean — traffic from {path.vpn_attachment}")
        and "PacketDropCountBlackhole 0" in line
        and "10.60.0.0/16" in line
        for line in report.checked
    ), report.checked


def test_a_blackhole_route_with_no_drops_counted_is_a_warning_risk(aws: None) -> None:
    path = _vpc_behind_a_transit_gateway()
    _route_toward_the_site(path, blackhole=True)
    _site_throughput_collapses()
    _attachment_drops(path, path.vpc_attachment, "PacketDropCountBlackhole", [0.0] * 60)
    _attachment_drops(path, path.vpn_attachment, "PacketDropCountBlackhole", [0.0] * 60)

    report = _investigate(path)

    (finding,) = _tgw_findings(report)
    assert finding.severity is Severity.WARNING
    assert "a risk" in finding.title


def test_an_active_route_with_quiet_counters_is_checked_clean_with_the_route(aws: None) -> None:
    path = _vpc_behind_a_transit_gateway()
    _route_toward_the_site(path, blackhole=False)
    _site_throughput_collapses()
    for attachment in (path.vpc_attachment, path.vpn_attachment):
        for metric in ("PacketDropCountBlackhole", "PacketDropCountNoRoute"):
            _attachment_drops(path, attachment, metric, [0.0] * 60)

    report = _investigate(path)

    assert _tgw_findings(report) == []
    line = next(
        line
        for line in report.checked
        if line.startswith(f"transit gateway {path.tgw}: checked, clean — traffic from {path.vpc_attachment}")
    )
    # The more specific route is the one used, and the counters are named with their numbers.
    assert f"{path.table}: 192.168.0.0/16 →" in line
    assert "(active, static)" in line
    assert "PacketDropCountBlackhole 0" in line


def test_no_route_toward_the_site_with_no_route_drops_rising_is_high_and_the_fix_creates_the_site_route(
    aws: None,
) -> None:
    path = _vpc_behind_a_transit_gateway()
    _site_throughput_collapses()
    _attachment_drops(path, path.vpc_attachment, "PacketDropCountNoRoute", [0.0] * ONSET_MINUTE + [80.0] * 30)

    report = _investigate(path)

    (finding,) = _tgw_findings(report)
    assert finding.severity is Severity.HIGH
    assert f"no route for {SITE_HOST}" in finding.title
    assert finding.remediation is not None
    # The site registry's CIDR, not a /32, toward the site's VPN attachment.
    assert finding.remediation.commands[0] == (
        f"aws ec2 create-transit-gateway-route --transit-gateway-route-table-id {path.table} "
        f"--destination-cidr-block {SITE_CIDR} --transit-gateway-attachment-id {path.vpn_attachment}"
    )


def test_routes_that_cannot_be_read_are_unknown_not_clean(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _vpc_behind_a_transit_gateway()
    _route_toward_the_site(path, blackhole=True)

    def refuse(*_: Any, **__: Any) -> Any:
        # What the adapter raises when AWS refuses SearchTransitGatewayRoutes.
        denied = ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "Search")
        raise translate(denied, operation="SearchTransitGatewayRoutes")

    monkeypatch.setattr(transit_gateway_routes, "search_covering_route", refuse)
    report = _investigate(path)

    assert _tgw_findings(report) == []
    assert any(
        line.startswith(f"transit gateway {path.tgw}: unknown — routes not read") for line in report.checked
    ), report.checked


def test_every_call_the_transit_gateway_check_makes_is_declared_for_investigate(aws: None) -> None:
    from dropsleuth.aws import clients
    from dropsleuth.aws.permissions import record_api_calls
    from dropsleuth.handlers.investigate import FUNCTION

    path = _vpc_behind_a_transit_gateway()
    _route_toward_the_site(path, blackhole=True)
    clients.reset()
    with record_api_calls() as recorder:
        _investigate(path)

    declared = {action for permissions in FUNCTION.permissions for action in permissions.actions}
    assert "ec2:SearchTransitGatewayRoutes" in recorder.actions
    assert recorder.actions - declared == set()
