"""Nothing left behind: delete the toolkit's Reachability Analyzer paths and analyses older than an hour.

The investigation deletes what it creates in a ``finally`` (``aws/reachability.py``), and its deadlines
leave that ``finally`` time to run (``dropsleuth.deadlines``). A Lambda can still be cut short (its
timeout, an out-of-memory kill), leaving a path that counts against the 1,000-path quota. This sweeper,
scheduled hourly, deletes every Network Insights path and analysis that carries the toolkit's tag (set on
create) and is older than ``MAX_AGE``: analyses first, because a path with analyses cannot be deleted.
It touches nothing untagged: another team's paths are not the toolkit's to remove, and the role may delete
only what carries the tag (``PERMISSIONS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import AwsError, translate
from dropsleuth.aws.permissions import (
    TOOLKIT_TAG_KEY,
    TOOLKIT_TAG_VALUE,
    created_by_toolkit,
    declare,
    ec2_arns,
    scoped,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

# Deleting Network Insights paths and analyses: only those the toolkit tagged when it created them. Shared
# with aws/reachability.py, which deletes what it created in the same way.
DELETE_TOOLKIT_INSIGHTS = (
    scoped(
        "ec2:DeleteNetworkInsightsAnalysis",
        resources=ec2_arns("network-insights-analysis"),
        conditions=(created_by_toolkit(),),
        reason="analysis ids are made at run time; only analyses tagged by the toolkit on creation",
    ),
    scoped(
        "ec2:DeleteNetworkInsightsPath",
        resources=ec2_arns("network-insights-path"),
        conditions=(created_by_toolkit(),),
        reason="path ids are made at run time; only paths tagged by the toolkit on creation",
    ),
)

PERMISSIONS = declare(
    "insights_sweeper",
    "ec2:DescribeNetworkInsightsPaths",
    "ec2:DescribeNetworkInsightsAnalyses",
    *DELETE_TOOLKIT_INSIGHTS,
)

MAX_AGE = timedelta(hours=1)
"""Older than any investigation (a Lambda runs 15 minutes at most): no running analysis is swept."""


def is_toolkits(resource: Mapping[str, Any]) -> bool:
    """The resource carries the toolkit's tag (set by ``TagSpecifications`` on create)."""
    return any(
        t.get("Key") == TOOLKIT_TAG_KEY and t.get("Value") == TOOLKIT_TAG_VALUE
        for t in resource.get("Tags") or ()
    )


@dataclass(frozen=True)
class SweepPlan:
    analyses: tuple[str, ...]
    paths: tuple[str, ...]


def stale(
    paths: Sequence[Mapping[str, Any]],
    analyses: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    max_age: timedelta = MAX_AGE,
) -> SweepPlan:
    """What to delete: the toolkit's analyses and paths created before ``now - max_age`` (pure).

    A stale path's tagged analyses go too, whatever their age, since the path cannot go without them; a
    path that still has an analysis not the toolkit's is kept (its deletion would fail, and is not ours).
    """
    cutoff = now - max_age
    old_paths = {
        p["NetworkInsightsPathId"] for p in paths if is_toolkits(p) and _when(p, "CreatedDate", now) < cutoff
    }
    doomed = [
        a
        for a in analyses
        if is_toolkits(a)
        and (_when(a, "StartDate", now) < cutoff or a.get("NetworkInsightsPathId") in old_paths)
    ]
    foreign = {a.get("NetworkInsightsPathId") for a in analyses if not is_toolkits(a)}
    return SweepPlan(
        analyses=tuple(sorted(a["NetworkInsightsAnalysisId"] for a in doomed)),
        paths=tuple(sorted(old_paths - foreign)),
    )


def _when(resource: Mapping[str, Any], key: str, now: datetime) -> datetime:
    value = resource.get(key)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return now  # no date given: treat as new, never swept on a guess


@dataclass
class SweepResult:
    deleted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"deleted": self.deleted, "failed": self.failed}


def _pages(client: EC2Client, operation: str, key: str) -> Iterable[Mapping[str, Any]]:
    try:
        for page in client.get_paginator(operation).paginate():  # type: ignore[call-overload]
            yield from page.get(key, ())
    except (ClientError, BotoCoreError, NotImplementedError) as error:
        raise translate(error, operation=operation) from error


def sweep_network_insights(
    *, now: datetime | None = None, max_age: timedelta = MAX_AGE, ec2: EC2Client | None = None
) -> SweepResult:
    """Delete the toolkit's stale analyses, then its stale paths; a failed delete is recorded, not raised."""
    client = ec2 or clients.ec2()
    paths = list(_pages(client, "describe_network_insights_paths", "NetworkInsightsPaths"))
    analyses = list(_pages(client, "describe_network_insights_analyses", "NetworkInsightsAnalyses"))
    plan = stale(paths, analyses, now=now or datetime.now(UTC), max_age=max_age)
    result = SweepResult()
    for operation, key, ids in (
        ("delete_network_insights_analysis", "NetworkInsightsAnalysisId", plan.analyses),
        ("delete_network_insights_path", "NetworkInsightsPathId", plan.paths),
    ):
        for resource_id in ids:
            try:
                getattr(client, operation)(**{key: resource_id})
            except (ClientError, BotoCoreError) as error:
                failure: AwsError = translate(error, operation=operation)
                result.failed[resource_id] = f"{failure.kind}: {failure}"
            else:
                result.deleted.append(resource_id)
    return result
