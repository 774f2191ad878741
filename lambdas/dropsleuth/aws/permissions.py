"""IAM actions declared beside the code that calls them (Cloud Custodian's habit).

Each adapter module declares what it calls::

    PERMISSIONS = declare("inventory", "ec2:DescribeVpcs", "ec2:DescribeSubnets")

The Lambda catalog (``dropsleuth.functions``) lists which declarations each function needs, the CDK app
builds each function's policy from exactly those actions, and a test records the API calls the code makes
under moto (``ApiCallRecorder``) and fails when one is not declared.

An action that changes something and can be narrowed is declared ``scoped`` beside the call that needs it:
the resources it may touch (ARN patterns with the Service Authorization Reference's ``${Partition}``,
``${Region}`` and ``${Account}`` placeholders, filled in by the CDK app) and the conditions it is granted
under, with the reason a wildcard remains. The toolkit tags what it creates (``TOOLKIT_TAG_KEY``, tag on
create), so it may delete only what carries that tag, and tag only inside its own create calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_ACTION = re.compile(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$")


# The tag every resource dropsleuth creates carries (``TagSpecifications`` on the create call), and that its
# delete permissions require (``aws:ResourceTag/<key>``).
TOOLKIT_TAG_KEY = "dropsleuth:created-by"
TOOLKIT_TAG_VALUE = "dropsleuth"


@dataclass(frozen=True)
class Condition:
    """One IAM condition: ``{operator: {key: values}}`` (several values match any of them)."""

    operator: str
    key: str
    values: tuple[str, ...]


def created_by_toolkit() -> Condition:
    """The resource carries the toolkit's tag (the global ``aws:ResourceTag/${TagKey}`` condition key)."""
    return Condition("StringEquals", f"aws:ResourceTag/{TOOLKIT_TAG_KEY}", (TOOLKIT_TAG_VALUE,))


def requested_toolkit_tag() -> Condition:
    """The create request tags the new resource with the toolkit's tag (``aws:RequestTag/${TagKey}``)."""
    return Condition("StringEquals", f"aws:RequestTag/{TOOLKIT_TAG_KEY}", (TOOLKIT_TAG_VALUE,))


def tag_on_create(*create_actions: str) -> Condition:
    """``ec2:CreateTags`` only inside these create calls, never on an existing resource.

    EC2 authorises the tags of a create call's ``TagSpecifications`` as ``ec2:CreateTags`` with the
    ``ec2:CreateAction`` key set to the create operation (EC2 User Guide, "Grant permission to tag
    Amazon EC2 resources during creation").
    """
    return Condition("StringEquals", "ec2:CreateAction", tuple(create_actions))


def ec2_arns(*resource_types: str) -> tuple[str, ...]:
    """Every resource of these EC2 types in the deployment's account and Region (ARN patterns)."""
    return tuple(f"arn:${{Partition}}:ec2:${{Region}}:${{Account}}:{kind}/*" for kind in resource_types)


@dataclass(frozen=True)
class Scope:
    """Where and under which conditions one action is granted, and why a wildcard is left in it."""

    resources: tuple[str, ...] = ()
    """ARN patterns; empty: the CDK app's own scoping (``cdk.policy.resources_for``)."""
    conditions: tuple[Condition, ...] = ()
    reason: str = ""
    """Why the remaining wildcard (``network-insights-path/*``) is as narrow as it gets."""


@dataclass(frozen=True)
class Scoped:
    """An action with its scope, as passed to ``declare``."""

    action: str
    scope: Scope


def scoped(
    action: str,
    *,
    resources: tuple[str, ...] = (),
    conditions: tuple[Condition, ...] = (),
    reason: str,
) -> Scoped:
    return Scoped(action, Scope(resources, conditions, reason))


@dataclass(frozen=True)
class Permissions:
    """A named set of IAM actions (no wildcards: each action is spelled out), some of them scoped."""

    name: str
    actions: frozenset[str]
    scopes: tuple[tuple[str, Scope], ...] = ()
    """``(action, scope)`` for the scoped actions; an action absent here is granted on ``*``."""

    def __or__(self, other: Permissions) -> Permissions:
        merged = grants((self, other))
        return Permissions(
            f"{self.name}+{other.name}",
            self.actions | other.actions,
            tuple((action, scope) for action, scopes in sorted(merged.items()) for scope in scopes),
        )


_REGISTRY: dict[str, Permissions] = {}


def declare(name: str, *actions: str | Scoped) -> Permissions:
    """Register and return the IAM actions the module ``name`` calls (plain or ``scoped``)."""
    names: list[str] = []
    scopes: list[tuple[str, Scope]] = []
    for entry in actions:
        action = entry.action if isinstance(entry, Scoped) else entry
        if not _ACTION.match(action):
            raise ValueError(f"{name}: {action!r} is not a fully spelled IAM action (service:Action)")
        names.append(action)
        if isinstance(entry, Scoped):
            if not entry.scope.reason.strip():
                raise ValueError(f"{name}: the scope of {action} needs a reason")
            scopes.append((action, entry.scope))
    both = {a for a in actions if isinstance(a, str)} & {action for action, _ in scopes}
    if both:
        raise ValueError(f"{name}: {sorted(both)} declared both scoped and unscoped")
    permissions = Permissions(name, frozenset(names), tuple(scopes))
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


def grants(parts: Iterable[Permissions]) -> dict[str, tuple[Scope, ...]]:
    """Each action of ``parts`` with the scopes it is granted under; ``()`` means unscoped.

    A union can only widen: an action one part declares unscoped stays unscoped; an action every part
    scopes is granted once per distinct scope (one statement each).
    """
    result: dict[str, tuple[Scope, ...]] = {}
    for part in parts:
        own: dict[str, tuple[Scope, ...]] = {}
        for action, scope in part.scopes:
            own[action] = (*own.get(action, ()), scope)
        for action in part.actions:
            mine = own.get(action, ())
            if action not in result:
                result[action] = mine
            elif not result[action] or not mine:
                result[action] = ()
            else:
                result[action] = tuple(dict.fromkeys((*result[action], *mine)))
    return result


# botocore service names whose IAM prefix differs.
_IAM_PREFIX = {"monitoring": "cloudwatch", "s3api": "s3", "elbv2": "elasticloadbalancing"}

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
        # Before the parameters are built, not "before-call": botocore's Stubber answers at "before-call"
        # and stops the chain there, so a stubbed call (Reachability Analyzer) would go unrecorded.
        made.meta.events.register("before-parameter-build", recorder._on_call)
        return made

    BotocoreSession.create_client = create_client  # type: ignore[method-assign]
    try:
        yield recorder
    finally:
        BotocoreSession.create_client = original  # type: ignore[method-assign]
