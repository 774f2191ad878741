"""The Lambdas: one function per ``FunctionSpec`` in ``dropsleuth.functions.catalog()``.

A new handler module with a ``FUNCTION`` spec is deployed with no change here: arm64, python3.13, its
dependencies bundled from uv.lock (cdk/packaging.py), its own role whose "declared" policy holds exactly the
actions the code declares (scoped by ``cdk.policy``), X-Ray tracing, a log group with retention, failures of
asynchronous invocations (EventBridge) sent to one encrypted SQS queue, and an EventBridge schedule when the
spec asks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.nag import acknowledge
from cdk.policy import Statement, ToolkitResources, grouped_statements
from dropsleuth.config import Settings
from dropsleuth.functions import FunctionSpec

# Actions a function's role holds besides its declarations, granted by CDK for the platform itself:
# writing its own log group, sending failed async events to the failure queue, X-Ray segments.
PLATFORM_ACTIONS = frozenset(
    {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
)

ENV_PREFIX = "DROPSLEUTH_"
SERVICE_NAME = "dropsleuth"
"""Powertools' service name: the ``service`` dimension of the functions' own metrics (EMF)."""

_OBJECT_KEYS_REASON = (
    "objects of the toolkit's own bucket, whose keys (report names, query results, flow-log partitions) "
    "are made at run time"
)


def settings_environment(values: Mapping[str, Any]) -> dict[str, str]:
    """``DROPSLEUTH_<FIELD>`` variables for ``Settings`` fields; an unknown field is a programming error."""
    unknown = set(values) - set(Settings.model_fields)
    if unknown:
        raise KeyError(f"not Settings fields: {sorted(unknown)}")
    environment: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        environment[f"{ENV_PREFIX}{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return environment


def function_name(stack_name: str, spec: FunctionSpec) -> str:
    """``<stack>-<name>`` with Lambda's allowed characters, at most 64 of them."""
    name = re.sub(r"[^A-Za-z0-9-_]", "-", f"{stack_name}-{spec.name.replace('_', '-')}")
    return name[:64]


def nag_resource_name(stack: Stack, resource: str) -> str:
    """How cdk-nag spells a policy resource in an IAM5 finding (``<Logical.Arn>/*`` for a token)."""
    resolved = stack.resolve(resource)
    return _nag_spelling(resolved)


def _nag_spelling(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_nag_spelling(part) for part in parts)
    return str(value)


class Investigator(Construct):
    """The functions of the catalog, their roles, the failure queue and the schedules."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        specs: Mapping[str, FunctionSpec],
        code: lambda_.Code,
        settings: Mapping[str, Any],
        toolkit: ToolkitResources,
        namespace: str,
        log_retention: logs.RetentionDays,
        reserved_concurrency: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.settings = dict(settings)
        self.environment = {
            **settings_environment(settings),
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": namespace,
        }
        self.failures = sqs.Queue(
            self,
            "Failures",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.failures,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter destination of the functions and schedules.",
        )
        self.functions: dict[str, lambda_.Function] = {}
        self.declared_policies: dict[str, iam.Policy] = {}
        for name, spec in sorted(specs.items()):
            self._check_required_settings(spec)
            self.functions[name] = self._function(
                stack=stack,
                spec=spec,
                code=code,
                toolkit=toolkit,
                namespace=namespace,
                log_retention=log_retention,
                reserved=(reserved_concurrency or {}).get(name) or None,
            )

    def _check_required_settings(self, spec: FunctionSpec) -> None:
        missing = [s for s in spec.required_settings if f"{ENV_PREFIX}{s.upper()}" not in self.environment]
        if missing:
            raise ValueError(f"function {spec.name} requires settings the stack does not provide: {missing}")

    def _function(
        self,
        *,
        stack: Stack,
        spec: FunctionSpec,
        code: lambda_.Code,
        toolkit: ToolkitResources,
        namespace: str,
        log_retention: logs.RetentionDays,
        reserved: int | None,
    ) -> lambda_.Function:
        scope = Construct(self, spec.name)
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"dropsleuth {spec.name}: the actions its code declares, nothing else",
        )
        # Only what this deployment's settings switch on: with allow_enable_flow_logs off, no create grant.
        granted = spec.grants_for(self.settings)
        statements = grouped_statements(granted, toolkit, namespace=namespace, scopes=granted)
        if statements:
            policy = iam.Policy(
                scope,
                "Declared",
                statements=[
                    iam.PolicyStatement(
                        actions=list(s.actions),
                        resources=list(s.resources),
                        conditions=s.condition_document(),
                    )
                    for s in statements
                ],
            )
            policy.attach_to_role(role)
            self.declared_policies[spec.name] = policy
            self._acknowledge_wildcards(stack, policy, statements)

        log_group = logs.LogGroup(scope, "Logs", retention=log_retention)
        function = lambda_.Function(
            scope,
            "Function",
            function_name=function_name(stack.stack_name, spec),
            description=spec.description[:256],
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler=spec.handler,
            code=code,
            role=role,
            timeout=Duration.seconds(spec.timeout_s),
            memory_size=spec.memory_mb,
            environment=self.environment,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            on_failure=destinations.SqsDestination(self.failures),
            retry_attempts=2,
            # An event older than this is not retried again: it goes to the failure queue (and pages).
            max_event_age=Duration.seconds(spec.max_event_age_s),
            reserved_concurrent_executions=reserved,
        )
        log_group.grant_write(role)
        acknowledge(
            function,
            "AwsSolutions-L1",
            "python3.13 is the runtime the asset's locked dependencies are built and tested for.",
        )
        default_policy = role.node.try_find_child("DefaultPolicy")
        if default_policy is not None:
            acknowledge(
                default_policy,
                "AwsSolutions-IAM5[Resource::*]",
                "xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.",
            )
        if spec.schedule_minutes:
            events.Rule(
                scope,
                "Schedule",
                description=f"dropsleuth {spec.name} every {spec.schedule_minutes} min",
                schedule=events.Schedule.rate(Duration.minutes(spec.schedule_minutes)),
                targets=[
                    targets.LambdaFunction(
                        function,
                        dead_letter_queue=self.failures,
                        retry_attempts=2,
                        max_event_age=Duration.seconds(spec.max_event_age_s),
                    )
                ],
            )
        return function

    @staticmethod
    def _acknowledge_wildcards(stack: Stack, policy: iam.Policy, statements: list[Statement]) -> None:
        """One acknowledgement per wildcard resource, giving each action's own reason for it."""
        reasons: dict[str, list[str]] = {}
        for statement in statements:
            for resource in statement.resources:
                spelled = nag_resource_name(stack, resource)
                if "*" not in spelled:
                    continue
                for action, why in zip(statement.actions, statement.reasons, strict=True):
                    # No declared reason: an S3 object ARN (bucket/*), the one wildcard resources_for() makes.
                    reasons.setdefault(spelled, []).append(f"{action}: {why or _OBJECT_KEYS_REASON}")
        for spelled, why in reasons.items():
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::{spelled}]",
                "; ".join(why) + ". Source: the Service Authorization Reference.",
            )
