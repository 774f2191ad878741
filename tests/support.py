"""Helpers shared by test tiers."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import FAKE_ENV

ROOT = Path(__file__).resolve().parents[1]


def subprocess_env(endpoint: str | None = None) -> dict[str, str]:
    """The environment for a ``dropsleuth`` subprocess: fake credentials and, if given, the endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(FAKE_ENV)
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def run_dropsleuth(
    endpoint: str | None, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m dropsleuth.cli ARGS`` as a user runs it, against ``endpoint`` (a moto server)."""
    return subprocess.run(
        [sys.executable, "-m", "dropsleuth.cli", *args], capture_output=True, text=True,
        env=subprocess_env(endpoint), cwd=ROOT, timeout=timeout, check=False,
    )  # fmt: skip


def seed_athena_results(rows: list[list[str]], columns: list[tuple[str, str]]) -> None:
    """Queue one result set for moto's Athena: the next query executed, whatever its SQL, returns it."""
    from moto.moto_api._internal.models import moto_api_backend

    header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
    moto_api_backend.set_athena_result(
        rows=[header, *({"Data": [{"VarCharValue": v} for v in row]} for row in rows)],
        column_info=[
            {
                "Name": n,
                "Label": n,
                "Type": t,
                "Nullable": "UNKNOWN",
                "CatalogName": "hive",
                "SchemaName": "",
                "TableName": "",
                "Precision": 0,
                "Scale": 0,
                "CaseSensitive": False,
            }
            for n, t in columns
        ],
        account_id="123456789012",
        region="eu-west-1",
    )


@dataclass(frozen=True)
class SiteBehindVpn:
    vpc_id: str
    subnet_id: str
    vgw_id: str
    eni_id: str
    group_id: str
    """The instance's (the VPC's default) security group."""


def site_behind_a_vpn(
    site_cidr: str,
    *,
    vpc_cidr: str = "10.30.0.0/16",
    subnet_cidr: str = "10.30.1.0/24",
    admit_site_port: int | None = None,
) -> SiteBehindVpn:
    """A moto VPC reaching ``site_cidr`` over a Site-to-Site VPN (the main route table via the VGW), with one
    m5.large instance in the default security group, which admits the site on ``admit_site_port`` if given."""
    import boto3

    from dropsleuth.demo.account import amazon_linux_image

    ec2 = boto3.client("ec2", region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock=vpc_cidr)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=subnet_cidr)["Subnet"]["SubnetId"]
    vgw = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpcId=vpc, VpnGatewayId=vgw)
    cgw = ec2.create_customer_gateway(Type="ipsec.1", PublicIp="198.51.100.9", BgpAsn=65001)
    ec2.create_vpn_connection(
        Type="ipsec.1", CustomerGatewayId=cgw["CustomerGateway"]["CustomerGatewayId"], VpnGatewayId=vgw
    )
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"][0]
    ec2.create_route(RouteTableId=main["RouteTableId"], DestinationCidrBlock=site_cidr, GatewayId=vgw)
    if admit_site_port is not None:
        default_sg = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"][0]["GroupId"]
        port = admit_site_port
        ec2.authorize_security_group_ingress(
            GroupId=default_sg,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": site_cidr}]}
            ],
        )
    ami = amazon_linux_image(ec2)
    instance = ec2.run_instances(
        ImageId=ami, InstanceType="m5.large", MinCount=1, MaxCount=1, SubnetId=subnet
    )
    interface = instance["Instances"][0]["NetworkInterfaces"][0]
    return SiteBehindVpn(vpc, subnet, vgw, interface["NetworkInterfaceId"], interface["Groups"][0]["GroupId"])
