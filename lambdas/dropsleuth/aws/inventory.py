"""What the ICMP audit needs from EC2: subnets, their NACLs, ENIs, their security groups, prefix lists.

Every list call uses a paginator and a server-side filter on the VPC, so a large account costs a few
pages, not a scan. An id the user gave that EC2 does not know becomes an ``InputError`` naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import InputError, NotFoundError, translate
from dropsleuth.aws.permissions import declare

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

PERMISSIONS = declare(
    "inventory",
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:GetManagedPrefixListEntries",
)


@dataclass(frozen=True)
class NetworkInventory:
    """A VPC's filtering configuration, as ``describe_*`` returned it."""

    vpc: dict[str, Any]
    subnets: list[dict[str, Any]]
    network_acls: list[dict[str, Any]]
    network_interfaces: list[dict[str, Any]]
    security_groups: dict[str, dict[str, Any]]
    prefix_lists: dict[str, list[str]] = field(default_factory=dict)

    @property
    def vpc_id(self) -> str:
        return str(self.vpc["VpcId"])

    def nacl_for_subnet(self, subnet_id: str) -> dict[str, Any]:
        """The NACL associated with the subnet, else the VPC's default NACL (what AWS applies)."""
        default = None
        for acl in self.network_acls:
            if any(a.get("SubnetId") == subnet_id for a in acl.get("Associations", ())):
                return acl
            if acl.get("IsDefault"):
                default = acl
        if default is None:
            raise NotFoundError(f"no network ACL applies to {subnet_id} (and no default NACL found)")
        return default

    def groups_of(self, eni: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            self.security_groups[g["GroupId"]]
            for g in eni.get("Groups", ())
            if g["GroupId"] in self.security_groups
        ]


def _pages(ec2: EC2Client, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    paginator = ec2.get_paginator(operation)  # type: ignore[call-overload]
    for page in paginator.paginate(**kwargs):
        yield from page.get(key, ())


def _call(operation: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation=operation) from error


def _unknown_id(error: NotFoundError, field_name: str, ids: Sequence[str]) -> InputError:
    return InputError(
        f"unknown {field_name.replace('_', ' ')}: {', '.join(ids)} ({error.code})", field=field_name
    )


def collect_inventory(
    vpc_id: str,
    *,
    subnet_ids: Sequence[str] = (),
    eni_ids: Sequence[str] = (),
    ec2: EC2Client | None = None,
) -> NetworkInventory:
    """Collect the VPC's subnets, NACLs, ENIs, security groups and referenced prefix lists.

    ``subnet_ids`` and ``eni_ids`` narrow the scope; they must belong to the VPC.
    """
    ec2 = ec2 or clients.ec2()
    vpc_filter = [{"Name": "vpc-id", "Values": [vpc_id]}]
    try:
        vpcs = _call("DescribeVpcs", ec2.describe_vpcs, VpcIds=[vpc_id])["Vpcs"]
    except NotFoundError as error:
        raise _unknown_id(error, "vpc_id", [vpc_id]) from error
    if not vpcs:
        raise InputError(f"unknown VPC id: {vpc_id}", field="vpc_id")

    # Narrowed to subnets: EC2 filters the ENIs by subnet, so a busy VPC costs the pages of those subnets.
    eni_filters = vpc_filter + (
        [{"Name": "subnet-id", "Values": list(subnet_ids)}] if subnet_ids and not eni_ids else []
    )
    try:
        enis = _list(
            ec2,
            "describe_network_interfaces",
            "NetworkInterfaces",
            "DescribeNetworkInterfaces",
            Filters=eni_filters,
            **({"NetworkInterfaceIds": list(eni_ids)} if eni_ids else {}),
        )
    except NotFoundError as error:
        raise _unknown_id(error, "eni_ids", eni_ids) from error
    _check_found("eni_ids", eni_ids, (e["NetworkInterfaceId"] for e in enis), vpc_id)

    # Narrowed to ENIs without subnets: the ENIs' own subnets are the ones on the path.
    wanted_subnets = list(subnet_ids) or (sorted({e["SubnetId"] for e in enis}) if eni_ids else [])
    try:
        subnets = _list(
            ec2,
            "describe_subnets",
            "Subnets",
            "DescribeSubnets",
            Filters=vpc_filter,
            **({"SubnetIds": wanted_subnets} if wanted_subnets else {}),
        )
    except NotFoundError as error:
        raise _unknown_id(error, "subnet_ids", wanted_subnets) from error
    _check_found("subnet_ids", subnet_ids, (s["SubnetId"] for s in subnets), vpc_id)

    acls = _list(ec2, "describe_network_acls", "NetworkAcls", "DescribeNetworkAcls", Filters=vpc_filter)

    group_ids = sorted({g["GroupId"] for e in enis for g in e.get("Groups", ())})
    groups = (
        _list(ec2, "describe_security_groups", "SecurityGroups", "DescribeSecurityGroups", GroupIds=group_ids)
        if group_ids
        else []
    )
    prefix_lists = _prefix_lists(ec2, groups)
    return NetworkInventory(
        vpc=vpcs[0],
        subnets=subnets,
        network_acls=acls,
        network_interfaces=enis,
        security_groups={g["GroupId"]: g for g in groups},
        prefix_lists=prefix_lists,
    )


def _list(ec2: EC2Client, method: str, key: str, operation: str, **kwargs: Any) -> list[dict[str, Any]]:
    try:
        return list(_pages(ec2, method, key, **kwargs))
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation=operation) from error


def _check_found(field_name: str, wanted: Sequence[str], found: Iterable[str], vpc_id: str) -> None:
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise InputError(f"not in {vpc_id}: {', '.join(missing)}", field=field_name)


def _prefix_lists(ec2: EC2Client, groups: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Resolve the managed prefix lists the groups' rules reference into their CIDRs."""
    referenced = sorted(
        {
            item["PrefixListId"]
            for group in groups
            for key in ("IpPermissions", "IpPermissionsEgress")
            for permission in group.get(key, ())
            for item in permission.get("PrefixListIds", ())
        }
    )
    resolved: dict[str, list[str]] = {}
    for prefix_list_id in referenced:
        entries = _list(
            ec2,
            "get_managed_prefix_list_entries",
            "Entries",
            "GetManagedPrefixListEntries",
            PrefixListId=prefix_list_id,
        )
        resolved[prefix_list_id] = [e["Cidr"] for e in entries]
    return resolved
