"""Each function's policy, built from the IAM actions its code declares (``FunctionSpec.actions``).

The declarations say *which actions*; this module says *on what*. An action is scoped to the toolkit's own
resources wherever the action supports resource-level permissions and the resource is known at deploy time
(S3 to the toolkit's buckets, SSM to the sites parameter, SNS to the report topic, DynamoDB to the
idempotency table, Athena to the workgroup, Glue to the flow-logs table). An action the code declares
``scoped`` (``dropsleuth.aws.permissions.Scope``) gets the resources and conditions it declares: the
mutating EC2 actions, which may delete or tag only what the toolkit created. Every other action gets ``*``:
either it supports no resource-level permission (``ec2:Describe*``, ``cloudwatch:GetMetricData``,
``cloudtrail:LookupEvents``, ``xray:*``), or it acts on the user's network resources, which are named at run
time (a VPC given in an alarm's site); ``wildcard_reason`` says which, per action, for cdk-nag. Source: the
Service Authorization Reference, per service.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dropsleuth.aws.permissions import Condition, Scope

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

# The only KMS key a function uses: the report topic's (publishing encrypts through it).
REPORT_TOPIC_KEY_ACTIONS = frozenset({"kms:GenerateDataKey", "kms:Decrypt"})


@dataclass(frozen=True)
class ToolkitResources:
    """ARNs of what the toolkit owns (CloudFormation tokens at synth time)."""

    readable_bucket_arns: tuple[str, ...]
    """Buckets a function may read: flow logs, Athena results, reports."""
    writable_bucket_arns: tuple[str, ...]
    """Buckets a function may write: Athena results, reports (never the flow logs themselves)."""
    sites_parameter_arn: str
    report_topic_arn: str
    report_topic_key_arn: str
    """The KMS key the report topic is encrypted with (publishers encrypt through it)."""
    idempotency_table_arn: str
    workgroup_arn: str
    glue_arns: tuple[str, ...]
    """The catalog, the database and the flow-logs table."""
    partition: str
    region: str
    account: str
    """Fill the ``${Partition}``, ``${Region}`` and ``${Account}`` of declared ARN patterns."""
    registry_vpc_ids: tuple[str, ...] = ()
    """The VPCs the site registry names: ``${RegistryVpc}`` in a declared pattern (``*`` when none)."""

    def arn(self, pattern: str) -> str:
        """A declared ARN pattern in this deployment's partition, Region and account."""
        return (
            pattern.replace("${Partition}", self.partition)
            .replace("${Region}", self.region)
            .replace("${Account}", self.account)
        )

    def arns(self, pattern: str) -> tuple[str, ...]:
        """``arn``, once per registry VPC where the pattern names ``${RegistryVpc}``."""
        if "${RegistryVpc}" not in pattern:
            return (self.arn(pattern),)
        vpcs = self.registry_vpc_ids or ("*",)
        return tuple(self.arn(pattern.replace("${RegistryVpc}", vpc)) for vpc in vpcs)

    def condition(self, condition: Condition) -> Condition:
        """A declared condition with its ARN patterns filled in."""
        values = tuple(value for pattern in condition.values for value in self.arns(pattern))
        return Condition(condition.operator, condition.key, values)


WILDCARD = "*"

# Why an action that stays on ``*`` cannot be narrowed (Service Authorization Reference, per service).
_NO_RESOURCE_LEVEL = "supports no resource-level permissions"
_USER_RESOURCES = "acts on the user's network resources (ENIs, gateways, VPCs, subnets), named at run time"
_WILDCARD_REASONS = {
    "cloudwatch:PutMetricData": f"{_NO_RESOURCE_LEVEL}; the toolkit namespace only (cloudwatch:namespace)",
    "ec2:CreateNetworkInsightsPath": _USER_RESOURCES,
    "ec2:StartNetworkInsightsAnalysis": f"{_USER_RESOURCES}; the path analysed is one it just created",
    "ec2:CreateFlowLogs": _USER_RESOURCES,
    "ec2:GetManagedPrefixListEntries": "reads AWS-managed or the user's prefix lists, named at run time",
    "logs:CreateLogDelivery": f"{_NO_RESOURCE_LEVEL}; AWS checks it inside CreateFlowLogs",
    "logs:DeleteLogDelivery": f"{_NO_RESOURCE_LEVEL}; AWS checks it inside CreateFlowLogs",
    # Reachability Analyzer Guide, "Required API permissions for Reachability Analyzer".
    "tiros:CreateQuery": f"{_NO_RESOURCE_LEVEL}; AWS checks it inside StartNetworkInsightsAnalysis",
    "ec2:SearchTransitGatewayRoutes": "read-only; Reachability Analyzer reads the user's transit gateway "
    "route tables, named only inside the analysis",
}
_READ_ONLY_VERBS = ("Describe", "Get", "List", "Lookup")


def wildcard_reason(action: str) -> str:
    """Why ``action`` is granted on ``*``; an action with no known reason is a programming error."""
    if action in _WILDCARD_REASONS:
        return _WILDCARD_REASONS[action]
    if action.split(":", 1)[1].startswith(_READ_ONLY_VERBS):
        return f"read-only, {_NO_RESOURCE_LEVEL}"
    raise KeyError(f"{action} would be granted on '*' with no stated reason: scope it or give one here")


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
    if action in REPORT_TOPIC_KEY_ACTIONS:
        return (toolkit.report_topic_key_arn,)
    if service == "dynamodb":
        return (toolkit.idempotency_table_arn,)
    if action in ATHENA_WORKGROUP_ACTIONS:
        return (toolkit.workgroup_arn,)
    if action in GLUE_TABLE_ACTIONS:
        return toolkit.glue_arns
    return (WILDCARD,)


def condition_for(action: str, namespace: str) -> tuple[Condition, ...]:
    """Conditions that narrow an unscopable action: metrics may go to the toolkit's namespace only."""
    if action == "cloudwatch:PutMetricData":
        return (Condition("StringEquals", "cloudwatch:namespace", (namespace,)),)
    return ()


@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()
    reasons: tuple[str, ...] = ()
    """Per action (same order), why its resources hold a wildcard; "" where they hold none."""

    def condition_document(self) -> dict[str, dict[str, str | list[str]]] | None:
        """The ``Condition`` block, or None when the statement has none."""
        document: dict[str, dict[str, str | list[str]]] = defaultdict(dict)
        for condition in self.conditions:
            values = condition.values
            document[condition.operator][condition.key] = values[0] if len(values) == 1 else list(values)
        return dict(document) or None


def _grants(
    action: str, scopes: tuple[Scope, ...], toolkit: ToolkitResources, namespace: str
) -> list[tuple[tuple[str, ...], tuple[Condition, ...], str]]:
    """(resources, conditions, wildcard reason) for each statement that grants ``action``."""
    if not scopes:
        resources = resources_for(action, toolkit)
        reason = wildcard_reason(action) if resources == (WILDCARD,) else ""
        return [(resources, condition_for(action, namespace), reason)]
    return [
        (
            tuple(arn for r in scope.resources for arn in toolkit.arns(r)) or resources_for(action, toolkit),
            (*(toolkit.condition(c) for c in scope.conditions), *condition_for(action, namespace)),
            scope.reason,
        )
        for scope in scopes
    ]


def grouped_statements(
    actions: Iterable[str],
    toolkit: ToolkitResources,
    *,
    namespace: str,
    scopes: Mapping[str, tuple[Scope, ...]] | None = None,
) -> list[Statement]:
    """One statement per (resources, conditions): actions that share both are granted together.

    ``scopes`` are the declared scopes per action (``FunctionSpec.grants``); an action without one is
    scoped by ``resources_for``.
    """
    groups: dict[tuple[tuple[str, ...], tuple[Condition, ...]], dict[str, str]] = defaultdict(dict)
    for action in sorted(set(actions)):
        for resources, conditions, reason in _grants(
            action, (scopes or {}).get(action, ()), toolkit, namespace
        ):
            groups[(resources, conditions)][action] = reason
    return [
        Statement(tuple(acts), resources, conditions, tuple(acts.values()))
        for (resources, conditions), acts in groups.items()
    ]
