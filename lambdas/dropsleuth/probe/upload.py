"""A real large-payload upload to S3 (multipart), timed: the health check that sees a black hole as it is
felt (throughput collapse), where a small health-check request still passes. The test object is deleted."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients, errors
from dropsleuth.aws.errors import InputError
from dropsleuth.aws.permissions import declare

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

# S3 multipart: parts are at least 5 MiB except the last (Amazon S3 User Guide, "Multipart upload limits").
MIN_PART = 5 * 1024 * 1024
DEFAULT_SIZE = 16 * 1024 * 1024
KEY_PREFIX = "dropsleuth-upload-test/"


def site_prefix(site: str) -> str:
    """The key prefix of a site agent's test objects: per site, so its role can be limited to its own."""
    return f"{KEY_PREFIX}{site}/"


PERMISSIONS = declare("probe_upload", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")


@dataclass(frozen=True)
class UploadResult:
    bucket: str
    key: str
    bytes: int
    seconds: float
    parts: int
    deleted: bool

    @property
    def mbps(self) -> float:
        """Megabits per second (10^6 bits), as the UploadThroughputMbps metric is defined."""
        return self.bytes * 8 / self.seconds / 1e6 if self.seconds > 0 else 0.0


def parse_size(text: str) -> int:
    """``16MiB``, ``8MB``, ``1048576`` → bytes."""
    units = {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "b": 1}
    lowered = text.strip().lower()
    for suffix, factor in units.items():
        if lowered.endswith(suffix) and lowered[: -len(suffix)].strip().replace(".", "", 1).isdigit():
            return int(float(lowered[: -len(suffix)]) * factor)
    if lowered.isdigit():
        return int(lowered)
    raise InputError(f"not a size: {text!r} (use e.g. 16MiB)", field="size")


def measure_upload(
    bucket: str,
    *,
    size_bytes: int = DEFAULT_SIZE,
    part_bytes: int = 8 * 1024 * 1024,
    key_prefix: str = KEY_PREFIX,
    s3: S3Client | None = None,
) -> UploadResult:
    """Upload ``size_bytes`` of random data as a multipart object, time it, delete it."""
    if size_bytes < 1:
        raise InputError("upload size must be positive", field="size")
    part_bytes = max(part_bytes, MIN_PART)
    client = s3 or clients.s3()
    key = f"{key_prefix}{uuid.uuid4().hex}"
    # Random bytes: compression anywhere on the path must not flatter the figure.
    block = os.urandom(min(part_bytes, size_bytes))
    upload_id: str | None = None
    started = time.monotonic()
    parts: list[CompletedPartTypeDef] = []
    try:
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        offset, number = 0, 1
        while offset < size_bytes:
            length = min(part_bytes, size_bytes - offset)
            answer = client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=block[:length]
            )
            parts.append({"ETag": answer["ETag"], "PartNumber": number})
            offset += length
            number += 1
        client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
        upload_id = None
        elapsed = time.monotonic() - started
    except (ClientError, BotoCoreError) as error:
        raise errors.translate(error, operation="upload test") from error
    finally:
        if upload_id is not None:
            # On failure the bucket's lifecycle rule for incomplete uploads cleans up what remains.
            with contextlib.suppress(ClientError, BotoCoreError):
                client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    deleted = True
    try:
        client.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError):
        deleted = False
    return UploadResult(bucket, key, size_bytes, elapsed, len(parts), deleted)
