"""Network changes from CloudTrail: who changed what on which resource, and when.

Two sources of the same records (CloudTrail's event format, "CloudTrail record contents" in the CloudTrail
User Guide):

- ``recent_network_changes``: the ``LookupEvents`` API (the last 90 days of management events), one
  lookup per resource (the API takes a single lookup attribute per call), paginated, capped.
- ``trail_file_changes``: the JSON files a trail delivers (``{"Records": [...]}``, gzip or not) under
  ``s3://bucket/prefix`` or a local directory. Changes from here are labelled with where they were read.

Only network-changing API calls are kept (``NETWORK_EVENTS``); everything else CloudTrail records about a
resource (describes, tags, console logins) is dropped here, whatever its ``eventSource`` says. What changed
on a site host is not in CloudTrail: the site agent writes it as change records (``aws/site_changes.py``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import InputError, translate
from dropsleuth.aws.permissions import declare

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail import CloudTrailClient
    from mypy_boto3_s3 import S3Client

PERMISSIONS = declare("changes", "cloudtrail:LookupEvents", "s3:ListBucket", "s3:GetObject")

LOOKUP_EVENTS_SOURCE = "CloudTrail LookupEvents"
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
# LookupEvents returns at most 50 events a page and is rate-limited to 2 requests per second per account
# and Region (CloudTrail API Reference, LookupEvents): cap the pages read per resource.
MAX_EVENTS_PER_RESOURCE = 500
_SUMMARY_PARAMETERS = 6


@dataclass(frozen=True)
class NetworkChange:
    """One change to the network: when, which API call, by whom, on what, and where it was read."""

    at: datetime
    event_name: str
    summary: str
    actor: str = ""
    resource_ids: tuple[str, ...] = ()
    source: str = LOOKUP_EVENTS_SOURCE
    event_id: str = ""
    details: Mapping[str, Any] | None = None
    """A site change record's own fields (kind, host, interface, before, after, ticket)."""

    def to_dict(self) -> dict[str, Any]:
        """The step-data form the ranking reads (``dropsleuth.rules.ranking``: ``changes``)."""
        data: dict[str, Any] = {
            "at": self.at.isoformat(),
            "event_name": self.event_name,
            "summary": self.summary,
            "actor": self.actor,
            "resource_ids": list(self.resource_ids),
            "source": self.source,
        }
        if self.details is not None:
            data["site_change"] = dict(self.details)
        return data


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _actor(record: Mapping[str, Any], fallback: str = "") -> str:
    identity = _mapping(record.get("userIdentity"))
    session = _mapping(_mapping(identity.get("sessionContext")).get("sessionIssuer"))
    return str(
        identity.get("arn")
        or identity.get("userName")
        or session.get("arn")
        or identity.get("principalId")
        or fallback
    )


def _what(name: str, record: Mapping[str, Any], resources: tuple[str, ...]) -> str:
    """What the call did: the call and its scalar parameters."""
    parameters = _mapping(record.get("requestParameters"))
    scalars = [f"{k}={v}" for k, v in parameters.items() if isinstance(v, str | int | float | bool)]
    detail = f" ({', '.join(scalars[:_SUMMARY_PARAMETERS])})" if scalars else ""
    return f"{name} on {', '.join(resources) or 'the network'}{detail}"


def change_of(
    record: Mapping[str, Any],
    *,
    source: str = LOOKUP_EVENTS_SOURCE,
    resources: Iterable[str] = (),
    username: str = "",
) -> NetworkChange | None:
    """A CloudTrail record as a change, or None when it does not change the network (or has no time).

    ``resources`` and ``username`` are what LookupEvents reports beside the record (its ``Resources`` and
    ``Username``): EC2 records name their resources in ``requestParameters``, not in ``resources``.
    """
    name = str(record.get("eventName") or "")
    if name not in NETWORK_EVENTS:
        return None
    try:
        at = datetime.fromisoformat(str(record.get("eventTime", "")).replace("Z", "+00:00"))
    except ValueError:
        return None
    named = (
        str(r.get("ARN") or r.get("resourceName"))
        for r in record.get("resources") or ()
        if isinstance(r, Mapping) and (r.get("ARN") or r.get("resourceName"))
    )
    ids = tuple(dict.fromkeys([*named, *resources]))
    return NetworkChange(
        at=at if at.tzinfo else at.replace(tzinfo=UTC),
        event_name=name,
        summary=_what(name, record, ids),
        actor=_actor(record, username),
        resource_ids=ids,
        source=source,
        event_id=str(record.get("eventID") or ""),
    )


def recent_network_changes(
    resource_ids: Iterable[str],
    start: datetime,
    end: datetime,
    *,
    cloudtrail: CloudTrailClient | None = None,
) -> list[NetworkChange]:
    """The network changes CloudTrail recorded on any of ``resource_ids`` in [start, end], oldest first.

    LookupEvents takes one lookup attribute per call and allows about 2 calls a second, so the number of
    lookups is bounded: one per resource (``ResourceName``) while there are fewer resources than network
    event names, else one per network event name (``EventName``), keeping the events that name one of the
    resources. An event found through several lookups is kept once (by event id).
    """
    client = cloudtrail or clients.cloudtrail()
    wanted = tuple(dict.fromkeys(resource_ids))
    by_event_name = len(wanted) > len(NETWORK_EVENTS)
    lookups = (
        [("EventName", name) for name in sorted(NETWORK_EVENTS)]
        if by_event_name
        else [("ResourceName", resource) for resource in wanted]
    )
    found: dict[str, NetworkChange] = {}
    try:
        for key, value in lookups:
            pages = client.get_paginator("lookup_events").paginate(
                LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}],  # type: ignore[typeddict-item]
                StartTime=start,
                EndTime=end,
                PaginationConfig={"MaxItems": MAX_EVENTS_PER_RESOURCE},
            )
            for page in pages:
                for event in page.get("Events", []):
                    if by_event_name and not _names_any(event, wanted):
                        continue
                    change = _lookup_event_change(event)
                    if change is not None:
                        found.setdefault(change.event_id or f"{change.at}/{change.summary}", change)
    except (ClientError, BotoCoreError, NotImplementedError) as error:
        raise translate(error, operation="LookupEvents") from error
    return sorted(found.values(), key=lambda c: c.at)


def _names_any(event: Mapping[str, Any], resource_ids: tuple[str, ...]) -> bool:
    """Whether a LookupEvents event concerns one of the resources (its Resources, or the record's text)."""
    named = {str(r.get("ResourceName")) for r in event.get("Resources") or () if isinstance(r, Mapping)}
    if named.intersection(resource_ids):
        return True
    text = str(event.get("CloudTrailEvent") or "")
    return any(resource in text for resource in resource_ids)


def _lookup_event_change(event: Mapping[str, Any]) -> NetworkChange | None:
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        return None
    if not isinstance(record, Mapping):
        return None
    # EventName and EventId beside the record are the same as inside it; the record is the full one.
    record = {"eventName": event.get("EventName"), "eventID": event.get("EventId"), **record}
    if "eventTime" not in record and isinstance(event.get("EventTime"), datetime):
        record["eventTime"] = event["EventTime"].isoformat()
    resources = [str(r["ResourceName"]) for r in event.get("Resources") or () if r.get("ResourceName")]
    return change_of(record, resources=resources, username=str(event.get("Username") or ""))


def trail_file_changes(location: str, *, s3: S3Client | None = None) -> list[NetworkChange]:
    """Every network change in the trail files under ``s3://bucket/prefix`` or a local directory."""
    if location.startswith("s3://"):
        documents = _s3_documents(location, s3=s3 or clients.s3())
    elif Path(location).is_dir():
        documents = _local_documents(Path(location))
    else:
        raise InputError(
            f"changes source must be s3://bucket/prefix or a directory, not {location!r}",
            field="changes_source",
        )
    changes = []
    try:
        for body in documents:
            document = json.loads(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)
            records = document.get("Records", []) if isinstance(document, dict) else []
            for record in records:
                change = change_of(record, source=location) if isinstance(record, Mapping) else None
                if change is not None:
                    changes.append(change)
    except (ValueError, OSError) as error:
        raise InputError(
            f"changes source {location}: not CloudTrail JSON: {error}", field="changes_source"
        ) from error
    return sorted(changes, key=lambda c: c.at)


def _s3_documents(uri: str, *, s3: S3Client) -> Iterator[bytes]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="GetObject") from error


def _local_documents(directory: Path) -> Iterator[bytes]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name.endswith((".json", ".json.gz")):
            yield path.read_bytes()
