"""Writes site change records (``dropsleuth.change_records``) to the site's CloudWatch Logs group.

The store: log group ``/dropsleuth/site-changes/<site>`` (``metrics_catalog.change_log_group``), one log
stream per host, one event per record, the event's timestamp the record's ``at``. Why CloudWatch Logs:
the group is per site, so IAM grants an agent exactly its own site's group (ARN-level, no key prefix
conditions); the investigation reads only its window server-side (``FilterLogEvents`` ``startTime`` /
``endTime``) instead of listing objects; retention is a property of the group; and an operator finds the
records in the console beside the agent's metrics.

The agent creates its stream (and the group, when the CDK app did not) on first use, so a fresh host needs
no manual step. A record that cannot be written is kept by the caller and sent next cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth import metrics_catalog as catalog
from dropsleuth.aws import clients, errors
from dropsleuth.aws.permissions import declare, scoped
from dropsleuth.change_records import ChangeRecord

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

log = logging.getLogger("dropsleuth.agent.changelog")

_GROUP_ARN = f"arn:${{Partition}}:logs:${{Region}}:${{Account}}:log-group:{catalog.CHANGE_LOG_GROUP_PREFIX}*"
_WHY = "the site change-record groups only; the agent's own credentials narrow it to its site's group"
PERMISSIONS = declare(
    "probe_changelog",
    scoped("logs:CreateLogGroup", resources=(_GROUP_ARN,), reason=_WHY),
    scoped("logs:CreateLogStream", resources=(f"{_GROUP_ARN}:log-stream:*",), reason=_WHY),
    scoped("logs:PutLogEvents", resources=(f"{_GROUP_ARN}:log-stream:*",), reason=_WHY),
)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class ChangeLogWriter:
    """Appends change records to ``site``'s group, in the stream named after ``host``."""

    def __init__(self, site: str, host: str, *, logs: CloudWatchLogsClient | None = None) -> None:
        self.group = catalog.change_log_group(site)
        self.stream = host
        self._logs = logs

    @property
    def logs(self) -> CloudWatchLogsClient:
        if self._logs is None:
            self._logs = clients.logs()
        return self._logs

    def _ensure_stream(self) -> None:
        try:
            self.logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        except ClientError as error:
            if _code(error) == "ResourceAlreadyExistsException":
                return
            if _code(error) != "ResourceNotFoundException":
                raise
            try:
                self.logs.create_log_group(logGroupName=self.group)
            except ClientError as group_error:
                if _code(group_error) != "ResourceAlreadyExistsException":
                    raise
            self.logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)

    def write(self, records: Sequence[ChangeRecord]) -> None:
        """Send ``records`` (oldest first); raises AwsError when CloudWatch Logs refuses or is unreachable."""
        if not records:
            return
        events = [
            {"timestamp": int(r.at.timestamp() * 1000), "message": r.to_json()}
            for r in sorted(records, key=lambda r: r.at)
        ]
        try:
            try:
                self.logs.put_log_events(
                    logGroupName=self.group,
                    logStreamName=self.stream,
                    logEvents=events,  # type: ignore[arg-type]
                )
            except ClientError as error:
                if _code(error) != "ResourceNotFoundException":
                    raise
                self._ensure_stream()
                self.logs.put_log_events(
                    logGroupName=self.group,
                    logStreamName=self.stream,
                    logEvents=events,  # type: ignore[arg-type]
                )
        except (ClientError, BotoCoreError) as error:
            raise errors.translate(error, operation="PutLogEvents") from error
        log.info("%d change records written to %s/%s", len(records), self.group, self.stream)
