"""Storing a report: its three files to S3 (or a directory) and its summary to SNS."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import translate
from dropsleuth.aws.permissions import declare
from dropsleuth.model import Report
from dropsleuth.report.render import report_views, summary_subject, summary_text

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient

# The report topic is encrypted with the stack's own KMS key: publishing to it needs kms:GenerateDataKey
# and kms:Decrypt on that key, which SNS checks inside Publish (SNS Developer Guide, "Data encryption" →
# "Key management", permissions of publishers to encrypted topics). The buckets use SSE-S3: no KMS there.
PERMISSIONS = declare("report_store", "s3:PutObject", "sns:Publish", "kms:GenerateDataKey", "kms:Decrypt")

_CONTENT_TYPES = {
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class StoredReport:
    """Where the report went: its S3 keys (or files) and the link people follow."""

    location: str
    files: dict[str, str]
    link: str


def report_prefix(report: Report) -> str:
    """``reports/{site}/{time}/``: the site (or VPC) and the report's creation time, both path-safe."""
    site = str(report.subject.get("site") or report.subject.get("vpc_id") or "unknown")
    stamp = report.created_at.strftime("%Y-%m-%dT%H-%M-%SZ")
    return f"reports/{_UNSAFE.sub('_', site)}/{stamp}-{report.report_id[:8]}/"


def store_report_s3(report: Report, bucket: str, *, s3: S3Client | None = None) -> StoredReport:
    """Write ``report.json``, ``report.md`` and ``report.html`` under the report's prefix."""
    s3 = s3 or clients.s3()
    prefix = report_prefix(report)
    files = {}
    for extension, body in report_views(report).items():
        key = f"{prefix}report.{extension}"
        try:
            s3.put_object(
                Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType=_CONTENT_TYPES[extension]
            )
        except (ClientError, BotoCoreError) as error:
            raise translate(error, operation="PutObject") from error
        files[extension] = f"s3://{bucket}/{key}"
    link = f"https://s3.console.aws.amazon.com/s3/object/{bucket}?prefix={prefix}report.html"
    return StoredReport(location=f"s3://{bucket}/{prefix}", files=files, link=link)


def store_report_dir(report: Report, directory: str | Path) -> StoredReport:
    """Write the three files into ``directory`` (the CLI's ``--out``, the demo)."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    files = {}
    for extension, body in report_views(report).items():
        path = target / f"report.{extension}"
        path.write_text(body, encoding="utf-8")
        files[extension] = str(path)
    return StoredReport(location=str(target), files=files, link=files["html"])


def publish_summary(report: Report, topic_arn: str, *, link: str | None, sns: SNSClient | None = None) -> str:
    """Publish what, where, the fix and the link; returns the SNS message id."""
    sns = sns or clients.sns()
    try:
        response = sns.publish(
            TopicArn=topic_arn, Subject=summary_subject(report), Message=summary_text(report, link=link)
        )
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="Publish") from error
    return response["MessageId"]
