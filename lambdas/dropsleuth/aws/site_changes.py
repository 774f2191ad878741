"""Reads a site's change records (``dropsleuth.change_records``) from its CloudWatch Logs group.

``FilterLogEvents`` over [start, end] on ``/dropsleuth/site-changes/<site>`` (``metrics_catalog``),
paginated and capped. Every message must parse as a change record *for that site*; one that does not is
skipped and counted (the step says how many), never accepted for where it claims to come from. A group
that does not exist is an error the step reports ("no change records: the group does not exist"), not an
empty answer: no record from nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth import metrics_catalog as catalog
from dropsleuth.aws import clients
from dropsleuth.aws.changes import NetworkChange
from dropsleuth.aws.errors import NotFoundError, translate
from dropsleuth.aws.permissions import declare, scoped
from dropsleuth.change_records import ChangeRecord, ChangeRecordError, parse_record

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

PERMISSIONS = declare(
    "site_changes",
    scoped(
        "logs:FilterLogEvents",
        resources=(
            f"arn:${{Partition}}:logs:${{Region}}:${{Account}}:log-group:{catalog.CHANGE_LOG_GROUP_PREFIX}*",
        ),
        reason="reads the site change-record groups only; which site is the investigation's",
    ),
)

# FilterLogEvents returns up to 10,000 events (1 MB) a page; a site changing more often than this in a
# few hours is itself the finding, and the newest records are the ones that matter.
MAX_RECORDS = 2000


class ChangeStoreMissingError(NotFoundError):
    """The site's change-record group does not exist: no agent has ever written there."""


@dataclass(frozen=True)
class SiteChanges:
    group: str
    records: tuple[ChangeRecord, ...] = ()
    rejected: tuple[str, ...] = field(default_factory=tuple)
    """Why each skipped message is not a change record of this site."""


def site_change_records(
    site: str, start: datetime, end: datetime, *, logs: CloudWatchLogsClient | None = None
) -> SiteChanges:
    """The change records ``site``'s hosts wrote for [start, end], oldest first."""
    client = logs or clients.logs()
    group = catalog.change_log_group(site)
    records: list[ChangeRecord] = []
    rejected: list[str] = []
    try:
        pages = client.get_paginator("filter_log_events").paginate(
            logGroupName=group,
            startTime=int(start.timestamp() * 1000),
            endTime=int(end.timestamp() * 1000),
            PaginationConfig={"MaxItems": MAX_RECORDS},
        )
        for page in pages:
            for event in page.get("events", []):
                try:
                    record = parse_record(event.get("message", ""))
                except ChangeRecordError as error:
                    rejected.append(f"{event.get('logStreamName', '?')}: {error}")
                    continue
                if record.site != site:
                    rejected.append(f"{event.get('logStreamName', '?')}: a record of site {record.site!r}")
                    continue
                records.append(record)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise ChangeStoreMissingError(
                f"log group {group} does not exist: no site agent or netplan guard has written change "
                "records for this site",
                code="ResourceNotFoundException",
                operation="FilterLogEvents",
            ) from error
        raise translate(error, operation="FilterLogEvents") from error
    except BotoCoreError as error:
        raise translate(error, operation="FilterLogEvents") from error
    return SiteChanges(group, tuple(sorted(records, key=lambda r: r.at)), tuple(rejected))


def as_network_change(record: ChangeRecord, *, group: str) -> NetworkChange:
    """A site change record in the form the ranking reads, labelled with the group it was read from."""
    ticket = f" (ticket {record.ticket})" if record.ticket else ""
    return NetworkChange(
        at=record.at,
        event_name=record.kind,
        summary=f"{record.summary}{ticket}",
        actor=record.actor,
        resource_ids=(f"{record.host}:{record.interface}" if record.interface else record.host,),
        source=group,
        details={
            "kind": record.kind,
            "host": record.host,
            "interface": record.interface,
            "before": record.before,
            "after": record.after,
            "since": record.since.isoformat() if record.since else None,
            "ticket": record.ticket,
        },
    )
