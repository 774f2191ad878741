"""Every endpoint form resolves to addresses for the queries and the path, and the report names them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from dropsleuth.aws.endpoints import resolve_endpoint
from dropsleuth.aws.errors import AwsError, InputError
from dropsleuth.aws.topology import path_analysis_for
from dropsleuth.context import Endpoint, InvestigationContext, Window
from dropsleuth.flowlogs.synth import Destination, TrafficTimeline, synthesize, write_parquet
from dropsleuth.queries import LocalEngine
from dropsleuth.requests import parse_endpoint
from dropsleuth.rules.mtu_rulebook import HopKind
from dropsleuth.steps import StepEnvironment
from dropsleuth.steps import queries as query_step
from tests.support import site_behind_a_vpn

SITE = "172.20.30.0/24"
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "field"),
    [("eni-0123456789abcdef0", "eni_id"), ("i-0123456789abcdef0", "instance_id"),
     ("subnet-0123456789abcdef0", "subnet_id"), ("10.0.0.0/24", "cidr"), ("10.0.0.5", "ip"),
     ("S3", "service")],
)  # fmt: skip
def test_every_form_parses_from_text(text: str, field: str) -> None:
    assert getattr(parse_endpoint(text, "destination"), field) == text


def test_eni_instance_and_subnet_resolve_to_their_addresses(aws: None) -> None:
    vpc = site_behind_a_vpn(SITE, subnet_cidr="10.30.1.0/24")
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[vpc.eni_id])["NetworkInterfaces"][0]
    ip, instance = eni["PrivateIpAddress"], eni["Attachment"]["InstanceId"]

    assert resolve_endpoint(Endpoint(eni_id=vpc.eni_id)).address == Endpoint(ip=ip)
    by_instance = resolve_endpoint(Endpoint(instance_id=instance))
    assert by_instance.address == Endpoint(ip=ip)
    assert by_instance.describe() == f"{instance} → {ip} (the instance's primary private IPv4)"
    assert resolve_endpoint(Endpoint(subnet_id=vpc.subnet_id)).address == Endpoint(cidr="10.30.1.0/24")
    assert resolve_endpoint(Endpoint(cidr=SITE)).address == Endpoint(cidr=SITE)


def test_an_unknown_id_fails_the_lookup_loudly(aws: None) -> None:
    site_behind_a_vpn(SITE)
    with pytest.raises((AwsError, InputError)):
        resolve_endpoint(Endpoint(instance_id="i-0123456789abcdef0"))


@pytest.mark.parametrize("form", ["eni_id", "instance_id", "subnet_id"])
def test_resource_destinations_get_the_throughput_query_and_the_report_names_the_address(
    aws: None, tmp_path: Path, form: str
) -> None:
    vpc = site_behind_a_vpn(SITE, subnet_cidr="10.30.1.0/24")
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[vpc.eni_id])["NetworkInterfaces"][0]
    ip = eni["PrivateIpAddress"]
    ids = {"eni_id": vpc.eni_id, "instance_id": eni["Attachment"]["InstanceId"], "subnet_id": vpc.subnet_id}
    timeline = TrafficTimeline(
        start=START, duration_minutes=30, vpc_id=vpc.vpc_id, vpc_cidr="10.30.0.0/16", subnet_id=vpc.subnet_id,
        eni_ids=(vpc.eni_id,), eni_ips=(ip,), site_cidr=SITE, site_hosts=("172.20.30.10",),
        # A /32 destination: the synthesizer's flows go to that one address, the ENI's.
        destination=Destination(cidr=f"{ip}/32", service=None),
    )  # fmt: skip
    write_parquet(synthesize(timeline), tmp_path)
    context = InvestigationContext(
        vpc_id=vpc.vpc_id,
        source=Endpoint(cidr=SITE),
        destination=Endpoint(**{form: ids[form]}),
        window=Window(start=START, end=START + timedelta(minutes=30)),
    )

    outcome = query_step.run(context, StepEnvironment(engine=LocalEngine(tmp_path)))

    assert len(outcome.data["upload_throughput"]) >= 25
    assert not any("not run" in line for line in outcome.checked)
    assert outcome.checked[0].startswith(f"destination {ids[form]} → ")
    # The path model walks the same destination: the instance's ENI, the subnet's range.
    analysis = path_analysis_for(context.model_copy(update={"source_mtu": 1500}))
    assert [h.kind for h in analysis.hops][:2] == [HopKind.SITE, HopKind.VPN]
