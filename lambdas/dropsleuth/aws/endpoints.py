"""Endpoints to addresses: an ENI, an instance or a subnet becomes the CIDR the flow-log queries filter on.

The flow-log queries select by address range (``source_cidr`` / ``destination_cidr``), so an endpoint
given as a resource id is looked up first: an ENI's primary private IPv4 address, an instance's primary
network interface's, a subnet's IPv4 CIDR block. A CIDR or an IP is used as given; an AWS service stays a
service (the queries match ``pkt-dst-aws-service``). The report says what each endpoint resolved to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import InputError, translate
from dropsleuth.aws.permissions import declare
from dropsleuth.context import Endpoint

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

PERMISSIONS = declare(
    "endpoints", "ec2:DescribeNetworkInterfaces", "ec2:DescribeInstances", "ec2:DescribeSubnets"
)


@dataclass(frozen=True)
class ResolvedEndpoint:
    """An endpoint as the queries and the path use it, and how it was found."""

    given: Endpoint
    address: Endpoint
    """A ``cidr``, ``ip`` or ``service`` endpoint."""
    how: str

    def describe(self) -> str:
        if self.address == self.given:
            return self.given.describe()
        return f"{self.given.describe()} → {self.address.describe()} ({self.how})"


def resolve_endpoint(endpoint: Endpoint, *, ec2: EC2Client | None = None) -> ResolvedEndpoint:
    """The address form of ``endpoint`` (unchanged when it already is one)."""
    if endpoint.cidr or endpoint.ip or endpoint.service:
        return ResolvedEndpoint(endpoint, endpoint, "as given")
    ec2 = ec2 or clients.ec2()
    try:
        if endpoint.eni_id:
            found = ec2.describe_network_interfaces(NetworkInterfaceIds=[endpoint.eni_id])[
                "NetworkInterfaces"
            ]
            if found:
                return ResolvedEndpoint(
                    endpoint, Endpoint(ip=found[0]["PrivateIpAddress"]), "the ENI's primary private IPv4"
                )
        elif endpoint.instance_id:
            reservations = ec2.describe_instances(InstanceIds=[endpoint.instance_id])["Reservations"]
            instances = [i for r in reservations for i in r.get("Instances", [])]
            if instances and instances[0].get("PrivateIpAddress"):
                return ResolvedEndpoint(
                    endpoint,
                    Endpoint(ip=instances[0]["PrivateIpAddress"]),
                    "the instance's primary private IPv4",
                )
        elif endpoint.subnet_id:
            subnets = ec2.describe_subnets(SubnetIds=[endpoint.subnet_id])["Subnets"]
            if subnets:
                return ResolvedEndpoint(endpoint, Endpoint(cidr=subnets[0]["CidrBlock"]), "the subnet's CIDR")
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="resolve endpoint") from error
    raise InputError(f"{endpoint.describe()} not found in this account and Region", field="endpoint")
