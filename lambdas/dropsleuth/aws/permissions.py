"""IAM actions declared beside the code that calls them (Cloud Custodian's habit).

Each adapter module declares what it calls::

    PERMISSIONS = declare("inventory", "ec2:DescribeVpcs", "ec2:DescribeSubnets")

The Lambda catalog (``dropsleuth.functions``) lists which declarations each function needs, the CDK app
builds each function's policy from exactly those actions, and a test records the API calls the code makes
under moto (``ApiCallRecorder``) and fails when one is not declared.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_ACTION = re.compile(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$")


@dataclass(frozen=True)
class Permissions:
    """A named set of IAM actions (no wildcards: each action is spelled out)."""

    name: str
    actions: frozenset[str]

    def __or__(self, other: Permissions) -> Permissions:
        return Permissions(f"{self.name}+{other.name}", self.actions | other.actions)


_REGISTRY: dict[str, Permissions] = {}


def declare(name: str, *actions: str) -> Permissions:
    """Register and return the IAM actions the module ``name`` calls."""
    for action in actions:
        if not _ACTION.match(action):
            raise ValueError(f"{name}: {action!r} is not a fully spelled IAM action (service:Action)")
    permissions = Permissions(name, frozenset(actions))
    _REGISTRY[name] = permissions
    return permissions


def declared() -> dict[str, Permissions]:
    """Every declaration made so far (import the adapters first)."""
    return dict(_REGISTRY)


def union(parts: Iterable[Permissions]) -> frozenset[str]:
    result: set[str] = set()
    for part in parts:
        result |= part.actions
    return frozenset(result)


# botocore service names whose IAM prefix differs.
_IAM_PREFIX = {"monitoring": "cloudwatch", "s3api": "s3"}

# Operations whose IAM action is not named after the operation.
# Source: the Service Authorization Reference, "Actions defined by Amazon S3" (ListObjectsV2 is authorised
# by s3:ListBucket; HeadObject by s3:GetObject; the multipart calls by s3:PutObject).
_ACTION_FOR_OPERATION = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "s3:GetBucketLocation": "s3:GetBucketLocation",
    "ssm:GetParameter": "ssm:GetParameter",
}


def iam_action(service: str, operation: str) -> str:
    """The IAM action that authorises a botocore operation (``ec2``, ``DescribeVpcs`` → ``ec2:Describe…``)."""
    prefix = _IAM_PREFIX.get(service, service)
    action = f"{prefix}:{operation}"
    return _ACTION_FOR_OPERATION.get(action, action)


@dataclass
class ApiCallRecorder:
    """Collects the IAM actions of every API call made through boto3 while active."""

    actions: set[str] = field(default_factory=set)

    def _on_call(self, model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        self.actions.add(iam_action(service, model.name))


@contextmanager
def record_api_calls() -> Iterator[ApiCallRecorder]:
    """Record the actions of every client created while the block runs.

    Clients made before the block are not hooked: call ``dropsleuth.aws.clients.reset()`` first.
    """
    from botocore.session import Session as BotocoreSession  # noqa: PLC0415 -- only tests record

    recorder = ApiCallRecorder()
    original = BotocoreSession.create_client

    def create_client(self: BotocoreSession, *args: Any, **kwargs: Any) -> Any:
        made = original(self, *args, **kwargs)
        made.meta.events.register("before-call", recorder._on_call)
        return made

    BotocoreSession.create_client = create_client  # type: ignore[method-assign]
    try:
        yield recorder
    finally:
        BotocoreSession.create_client = original  # type: ignore[method-assign]
