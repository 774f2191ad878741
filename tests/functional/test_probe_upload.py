"""The upload health check against moto S3: multipart, timed, its test object deleted; failures clean up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError

from dropsleuth.aws.errors import AwsError, InputError
from dropsleuth.probe import upload
from tests.support import subprocess_env

DROPSLEUTH = str(Path(sys.executable).with_name("dropsleuth"))
BUCKET = "upload-health"


def _bucket(client: object) -> None:
    client.create_bucket(  # type: ignore[attr-defined]
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )


def _leftovers(client: object) -> tuple[list, list]:
    objects = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])  # type: ignore[attr-defined]
    uploads = client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])  # type: ignore[attr-defined]
    return objects, uploads


def test_a_multipart_upload_is_timed_and_its_object_deleted(aws: None) -> None:
    s3 = boto3.client("s3")
    _bucket(s3)
    uploaded: list[int] = []
    s3.meta.events.register(
        "before-parameter-build.s3.UploadPart", lambda params, **_: uploaded.append(len(params["Body"]))
    )
    result = upload.measure_upload(BUCKET, size_bytes=11 * 1024 * 1024, part_bytes=upload.MIN_PART, s3=s3)
    assert result.parts == 3
    assert uploaded == [upload.MIN_PART, upload.MIN_PART, 1024 * 1024]  # the last part may be smaller
    assert result.bytes == 11 * 1024 * 1024
    assert result.key.startswith(upload.KEY_PREFIX)
    assert result.seconds > 0
    assert result.mbps == pytest.approx(result.bytes * 8 / result.seconds / 1e6)
    assert result.mbps > 0
    assert result.deleted is True
    assert _leftovers(s3) == ([], [])


def test_a_failure_mid_upload_aborts_it(aws: None) -> None:
    s3 = boto3.client("s3", config=Config(retries={"max_attempts": 1}))
    _bucket(s3)

    def connection_lost(request: object, **_: object) -> None:
        if "partNumber=2" in request.url:  # type: ignore[attr-defined]
            raise ConnectionClosedError(endpoint_url=request.url)  # type: ignore[attr-defined]

    s3.meta.events.register("before-send.s3.UploadPart", connection_lost)
    with pytest.raises(AwsError) as failed:
        upload.measure_upload(BUCKET, size_bytes=11 * 1024 * 1024, part_bytes=upload.MIN_PART, s3=s3)
    assert failed.value.operation == "upload test"
    assert _leftovers(s3) == ([], [])  # the multipart upload was aborted, nothing completed


def test_a_missing_bucket_is_a_clear_error(aws: None) -> None:
    with pytest.raises(AwsError) as failed:
        upload.measure_upload("no-such-bucket-here", size_bytes=1024)
    assert failed.value.code == "NoSuchBucket"
    assert failed.value.kind == "not_found"
    assert str(failed.value) == "upload test: NoSuchBucket: The specified bucket does not exist"


@pytest.mark.parametrize(
    ("text", "size"), [("16MiB", 16 * 1024**2), ("8MB", 8_000_000), ("1048576", 1048576), ("1.5KiB", 1536)]
)
def test_parse_size(text: str, size: int) -> None:
    assert upload.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-5MiB", "MiB"])
def test_parse_size_rejects_nonsense(text: str) -> None:
    with pytest.raises(InputError):
        upload.parse_size(text)


def _cli(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DROPSLEUTH, "probe", "upload", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(endpoint),
        check=False,
    )


def test_cli_exit_codes(moto_endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    _bucket(s3)
    fast = _cli(moto_endpoint, "--bucket", BUCKET, "--size", "6MiB", "--min-mbps", "0.001", "-o", "json")
    assert fast.returncode == 0, fast.stderr
    document = json.loads(fast.stdout)
    assert document["bytes"] == 6 * 1024 * 1024
    assert document["mbps"] > 0.001
    assert document["deleted"] is True
    slow = _cli(moto_endpoint, "--bucket", BUCKET, "--size", "6MiB", "--min-mbps", "1e12")
    assert slow.returncode == 1, slow.stderr
    assert "Mbps" in slow.stdout
    assert _leftovers(s3) == ([], [])
    missing = _cli(moto_endpoint, "--bucket", "no-such-bucket-here", "--size", "1MiB")
    assert missing.returncode == 3
    assert missing.stderr.strip().count("\n") == 0
    assert "NoSuchBucket: The specified bucket does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = _cli(moto_endpoint, "--bucket", BUCKET, "--size", "lots")
    assert bad.returncode == 2
    assert "size" in bad.stderr


def test_the_agent_writes_its_test_objects_under_its_sites_prefix(aws: None, tmp_path: Path) -> None:
    # The site-agent role may write only under dropsleuth-upload-test/<its site>/ (cdk/site_agents.py).
    from dropsleuth.aws import clients
    from dropsleuth.probe import agent

    s3 = clients.s3()  # the client the agent's upload uses
    _bucket(s3)
    keys: list[str] = []
    s3.meta.events.register(
        "before-parameter-build.s3.CreateMultipartUpload", lambda params, **_: keys.append(params["Key"])
    )
    config = agent.AgentConfig(
        site="plant-7",
        counters=False,
        upload=agent.UploadConfig(bucket=BUCKET, size="6MiB"),
        spool=agent.SpoolConfig(path=str(tmp_path / "spool.jsonl")),
    )
    points = agent.collect(config, agent.AgentState(), read_interfaces=lambda: {"interfaces": {}})
    assert [p.name for p in points if p.name == "UploadThroughputMbps"] == ["UploadThroughputMbps"]
    (key,) = keys
    assert key.startswith("dropsleuth-upload-test/plant-7/")
