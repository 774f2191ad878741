"""A lazy, cached boto3 client factory.

No client is created at import time: the first call builds it and later calls (warm Lambda invocations,
one CLI run) reuse it. Endpoints are left to boto3, which honours ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>``: the same code then runs against AWS, ``moto_server`` or LocalStack.
``--profile`` and ``--region`` from the CLI land in ``configure``. Tests call ``reset`` between accounts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import NoRegionError, ProfileNotFound

from dropsleuth.aws.errors import InputError

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient
    from mypy_boto3_cloudtrail import CloudTrailClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_sts import STSClient

# Standard retry mode backs off on throttling; the caps keep one slow call from eating a step's budget.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="dropsleuth",
)


@dataclass(frozen=True)
class Target:
    """Which account and Region to talk to; ``None`` means boto3's own resolution (env, config files)."""

    profile: str | None = None
    region: str | None = None


_target = Target()


def configure(*, profile: str | None = None, region: str | None = None) -> None:
    """Set the profile and Region every later client uses (the CLI's ``--profile`` / ``--region``)."""
    global _target  # noqa: PLW0603 -- one process talks to one account; a module setting is the honest shape
    _target = Target(profile=profile, region=region)
    reset()


_dependents: list[Callable[[], None]] = []


def on_reset(clear: Callable[[], None]) -> None:
    """Call ``clear`` whenever the clients are reset: for caches of objects built around a cached client
    (a Powertools parameters provider), which must not outlive the client they wrap."""
    _dependents.append(clear)


def reset() -> None:
    """Forget every cached session and client (tests switch accounts; ``configure`` changes targets)."""
    _session.cache_clear()
    _client.cache_clear()
    for clear in _dependents:
        clear()


@functools.cache
def _session(target: Target) -> boto3.session.Session:
    try:
        return boto3.session.Session(profile_name=target.profile, region_name=target.region)
    except ProfileNotFound as error:
        # A typo in --profile is bad input (one line, exit 2), not an AWS fault.
        raise InputError(
            f"unknown AWS profile {target.profile!r} (not in the AWS config or credentials file)",
            field="profile",
        ) from error


@functools.cache
def _client(service: str, target: Target) -> Any:
    try:
        return _session(target).client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]
    except NoRegionError as error:
        # No --region, no AWS_REGION, no Region in the profile: bad input (one line, exit 2), not a crash.
        raise InputError(
            "no AWS Region: give --region, set AWS_REGION, or set a region in the AWS profile", field="region"
        ) from error


def client(service: str) -> Any:
    """Any boto3 client, cached per service and target. Prefer the typed accessors below."""
    return _client(service, _target)


def session() -> boto3.session.Session:
    """The cached boto3 session of the current target, for libraries that take one (pyathena)."""
    return _session(_target)


def region() -> str:
    """The Region the clients use (boto3's resolution when none was configured)."""
    name = _session(_target).region_name
    return name or "us-east-1"


def partition_of(region_name: str | None) -> str:
    """The ARN partition of a Region (``aws``, ``aws-cn``, ``aws-us-gov``), from botocore's endpoint data."""
    return boto3.session.Session().get_partition_for_region(region_name or "us-east-1")


def ec2() -> EC2Client:
    return client("ec2")  # type: ignore[no-any-return]


def s3() -> S3Client:
    return client("s3")  # type: ignore[no-any-return]


def athena() -> AthenaClient:
    return client("athena")  # type: ignore[no-any-return]


def glue() -> GlueClient:
    return client("glue")  # type: ignore[no-any-return]


def cloudwatch() -> CloudWatchClient:
    return client("cloudwatch")  # type: ignore[no-any-return]


def cloudtrail() -> CloudTrailClient:
    return client("cloudtrail")  # type: ignore[no-any-return]


def logs() -> CloudWatchLogsClient:
    return client("logs")  # type: ignore[no-any-return]


def sns() -> SNSClient:
    return client("sns")  # type: ignore[no-any-return]


def ssm() -> SSMClient:
    return client("ssm")  # type: ignore[no-any-return]


def dynamodb() -> DynamoDBClient:
    return client("dynamodb")  # type: ignore[no-any-return]


def sts() -> STSClient:
    return client("sts")  # type: ignore[no-any-return]
