"""Step ``recent_changes``: network changes on the involved resources in the hours before the window.

Two sources of the same records (CloudTrail's event format, "CloudTrail record contents" in the
CloudTrail User Guide): the ``LookupEvents`` API (the last 90 days of management events), or — when
``DROPSLEUTH_CHANGES_SOURCE`` names ``s3://bucket/prefix`` — the JSON files a trail delivers to S3
(``{"Records": [...]}``, gzip or not), which also carry change records written by the site's tooling
(``eventSource`` ``site.dropsleuth``, e.g. a netplan MTU change). The ranking decides which change is a
suspect from its time against the onset; this step only collects.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import InputError, translate
from dropsleuth.aws.permissions import declare
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.steps import StepEnvironment, StepSpec

PERMISSIONS = declare(
    "investigate_changes",
    "cloudtrail:LookupEvents",
    "s3:ListBucket",
    "s3:GetObject",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeRouteTables",
)

LOOKBACK = timedelta(hours=6)
SITE_EVENT_SOURCE = "site.dropsleuth"
# API calls that change how packets flow (EC2 API Reference); anything else is not a network change.
NETWORK_EVENTS = frozenset(
    {
        "CreateNetworkAclEntry",
        "ReplaceNetworkAclEntry",
        "DeleteNetworkAclEntry",
        "ReplaceNetworkAclAssociation",
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
        "ModifySecurityGroupRules",
        "ModifyNetworkInterfaceAttribute",
        "CreateRoute",
        "ReplaceRoute",
        "DeleteRoute",
        "ReplaceRouteTableAssociation",
        "ModifyVpnConnection",
        "ModifyVpnConnectionOptions",
        "ModifyVpnTunnelOptions",
        "ModifyTransitGatewayVpcAttachment",
        "ModifyInstanceAttribute",
        "ModifyVpcEndpoint",
    }
)
_MAX_LOOKUP_PAGES = 10


def involved_resources(context: InvestigationContext) -> tuple[str, ...]:
    ids = [context.vpc_id, *context.subnet_ids, *context.eni_ids]
    if context.vpn_connection_id:
        ids.append(context.vpn_connection_id)
    ids.extend(e.eni_id for e in (context.source, context.destination) if e.eni_id)
    return tuple(dict.fromkeys(ids))


def change_of(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """A CloudTrail record as the ranking's change (None when it does not change the network)."""
    name = str(record.get("eventName") or "")
    source = str(record.get("eventSource") or "")
    if name not in NETWORK_EVENTS and source != SITE_EVENT_SOURCE:
        return None
    try:
        at = datetime.fromisoformat(str(record.get("eventTime", "")).replace("Z", "+00:00"))
    except ValueError:
        return None
    identity = record.get("userIdentity") if isinstance(record.get("userIdentity"), dict) else {}
    actor = str(identity.get("arn") or identity.get("userName") or identity.get("principalId") or "")  # type: ignore[union-attr]
    resources = tuple(
        str(r.get("ARN") or r.get("resourceName"))
        for r in record.get("resources") or ()
        if isinstance(r, dict) and (r.get("ARN") or r.get("resourceName"))
    )
    extra = record.get("additionalEventData") if isinstance(record.get("additionalEventData"), dict) else {}
    summary = str(extra.get("summary") or f"{name} on {', '.join(resources) or 'the network'}")  # type: ignore[union-attr]
    return {
        "at": at.isoformat(),
        "event_name": name,
        "summary": summary,
        "actor": actor,
        "resource_ids": resources,
    }


def relevant(
    changes: Iterable[dict[str, Any]], context: InvestigationContext, *, also: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Changes in [window start − LOOKBACK, window end] that touch the involved resources (or the site)."""
    involved = {*involved_resources(context), *also}
    start, end = context.window.start - LOOKBACK, context.window.end
    kept = []
    for change in changes:
        at = datetime.fromisoformat(change["at"])
        touches = not change["resource_ids"] or any(
            any(i in r for i in involved) for r in change["resource_ids"]
        )
        if start <= at <= end and touches:
            kept.append(change)
    return sorted(kept, key=lambda c: c["at"])


def from_s3(uri: str) -> list[dict[str, Any]]:
    """Every network change in the CloudTrail-format files under ``s3://bucket/prefix``."""
    if not uri.startswith("s3://"):
        raise InputError(f"changes source must be s3://bucket/prefix, not {uri!r}", field="changes_source")
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    s3 = clients.s3()
    changes = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                if item["Key"].endswith(".gz"):
                    body = gzip.decompress(body)
                document = json.loads(body)
                for record in document.get("Records", []) if isinstance(document, dict) else []:
                    change = change_of(record) if isinstance(record, dict) else None
                    if change:
                        changes.append(change)
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="GetObject") from error
    except ValueError as error:
        raise InputError(
            f"changes source {uri}: not CloudTrail JSON: {error}", field="changes_source"
        ) from error
    return changes


def from_cloudtrail(context: InvestigationContext) -> list[dict[str, Any]]:
    """LookupEvents by each involved resource over the lookback (one attribute per call, as the API wants)."""
    cloudtrail = clients.cloudtrail()
    changes = []
    try:
        for resource in involved_resources(context):
            pages = cloudtrail.get_paginator("lookup_events").paginate(
                LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": resource}],
                StartTime=context.window.start - LOOKBACK,
                EndTime=context.window.end,
                PaginationConfig={"MaxItems": 50 * _MAX_LOOKUP_PAGES},
            )
            for page in pages:
                for event in page.get("Events", []):
                    record = json.loads(event.get("CloudTrailEvent") or "{}")
                    change = change_of(record)
                    if change:
                        changes.append(change)
    except (ClientError, BotoCoreError, NotImplementedError) as error:
        raise translate(error, operation="LookupEvents") from error
    return changes


def packet_filters(vpc_id: str) -> tuple[str, ...]:
    """The VPC's NACLs, security groups and route tables: a change to any of them can change the path."""
    ec2 = clients.ec2()
    vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    try:
        nacls = [a["NetworkAclId"] for a in ec2.describe_network_acls(Filters=vpc)["NetworkAcls"]]  # type: ignore[arg-type]
        groups = [g["GroupId"] for g in ec2.describe_security_groups(Filters=vpc)["SecurityGroups"]]  # type: ignore[arg-type]
        tables = [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=vpc)["RouteTables"]]  # type: ignore[arg-type]
    except (ClientError, BotoCoreError) as error:
        raise translate(error) from error
    return (*nacls, *groups, *tables)


def run(context: InvestigationContext, environment: StepEnvironment) -> StepOutcome:
    source = environment.settings.changes_source
    found = from_s3(source) if source else from_cloudtrail(context)
    extra = packet_filters(context.vpc_id)
    changes = relevant({(c["at"], c["summary"]): c for c in found}.values(), context, also=extra)
    where = source or "CloudTrail LookupEvents"
    return StepOutcome(
        checked=(
            f"network changes on {len(involved_resources(context))} resources from {where}: {len(changes)}",
        ),
        data={"changes": changes},
    )


STEP = StepSpec(
    name="recent_changes",
    checks="network changes (CloudTrail) on the involved resources before the onset",
    run=run,
    timeout_s=20.0,
)
