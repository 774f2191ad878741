"""Each function's policy, built from the IAM actions its code declares (``FunctionSpec.actions``).

The declarations say *which actions*; this module says *on what*. An action is scoped to the toolkit's own
resources wherever the action supports resource-level permissions and the resource is known at deploy time
(S3 to the toolkit's buckets, SSM to the sites parameter, SNS to the report topic, DynamoDB to the
idempotency table, Athena to the workgroup, Glue to the flow-logs table). Every other action gets ``*``:
either it supports no resource-level permission (``ec2:Describe*``, ``cloudwatch:GetMetricData``,
``cloudtrail:LookupEvents``, ``xray:*``), or it acts on the user's network resources, which are named at run
time (a VPC given in an alarm's site). Source: the Service Authorization Reference, per service.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

# S3 actions on objects (resource type "object"); the others act on the bucket.
S3_OBJECT_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectAttributes",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "s3:GetObjectTagging",
        "s3:PutObjectTagging",
    }
)
S3_WRITE_ACTIONS = frozenset(
    {"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:PutObjectTagging"}
)

# Athena actions authorised on a workgroup (Service Authorization Reference, "Amazon Athena").
ATHENA_WORKGROUP_ACTIONS = frozenset(
    {
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:GetQueryResultsStream",
        "athena:GetQueryRuntimeStatistics",
        "athena:StopQueryExecution",
        "athena:BatchGetQueryExecution",
        "athena:ListQueryExecutions",
        "athena:GetWorkGroup",
        "athena:GetNamedQuery",
        "athena:BatchGetNamedQuery",
        "athena:ListNamedQueries",
    }
)

# Glue Data Catalog reads, authorised on the catalog, the database and the table together.
GLUE_TABLE_ACTIONS = frozenset(
    {"glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"}
)

SSM_PARAMETER_ACTIONS = frozenset({"ssm:GetParameter", "ssm:GetParameters"})


@dataclass(frozen=True)
class ToolkitResources:
    """ARNs of what the toolkit owns (CloudFormation tokens at synth time)."""

    readable_bucket_arns: tuple[str, ...]
    """Buckets a function may read: flow logs, Athena results, reports."""
    writable_bucket_arns: tuple[str, ...]
    """Buckets a function may write: Athena results, reports (never the flow logs themselves)."""
    sites_parameter_arn: str
    report_topic_arn: str
    idempotency_table_arn: str
    workgroup_arn: str
    glue_arns: tuple[str, ...]
    """The catalog, the database and the flow-logs table."""


WILDCARD = "*"


def resources_for(action: str, toolkit: ToolkitResources) -> tuple[str, ...]:
    """The resources an action is granted on; ``("*",)`` where it cannot be scoped."""
    service = action.split(":", 1)[0]
    if service == "s3":
        if action in S3_OBJECT_ACTIONS:
            buckets = (
                toolkit.writable_bucket_arns if action in S3_WRITE_ACTIONS else toolkit.readable_bucket_arns
            )
            return tuple(f"{arn}/*" for arn in buckets)
        return toolkit.readable_bucket_arns
    if action in SSM_PARAMETER_ACTIONS:
        return (toolkit.sites_parameter_arn,)
    if action == "sns:Publish":
        return (toolkit.report_topic_arn,)
    if service == "dynamodb":
        return (toolkit.idempotency_table_arn,)
    if action in ATHENA_WORKGROUP_ACTIONS:
        return (toolkit.workgroup_arn,)
    if action in GLUE_TABLE_ACTIONS:
        return toolkit.glue_arns
    return (WILDCARD,)


def condition_for(action: str, namespace: str) -> tuple[tuple[str, str, str], ...]:
    """Conditions that narrow an unscopable action: metrics may go to the toolkit's namespace only."""
    if action == "cloudwatch:PutMetricData":
        return (("StringEquals", "cloudwatch:namespace", namespace),)
    return ()


@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[tuple[str, str, str], ...] = ()

    def condition_document(self) -> dict[str, dict[str, str]] | None:
        """The ``Condition`` block, or None when the statement has none."""
        document: dict[str, dict[str, str]] = defaultdict(dict)
        for operator, key, value in self.conditions:
            document[operator][key] = value
        return dict(document) or None


def grouped_statements(
    actions: Iterable[str], toolkit: ToolkitResources, *, namespace: str
) -> list[Statement]:
    """One statement per (resources, conditions): actions that share both are granted together."""
    groups: dict[tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]], list[str]] = defaultdict(list)
    for action in sorted(set(actions)):
        groups[(resources_for(action, toolkit), condition_for(action, namespace))].append(action)
    return [Statement(tuple(acts), resources, conditions) for (resources, conditions), acts in groups.items()]
