"""The one stack: storage, flow-logs lake, sites, monitoring, the functions and the alarm trigger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk.health import ToolkitHealth
from cdk.investigator import SERVICE_NAME, Investigator
from cdk.lake import FlowLogsLake
from cdk.monitoring import Monitoring
from cdk.policy import ToolkitResources
from cdk.site_agents import SiteAgents, SiteAgentsConfig
from cdk.sites import SitesParameter
from cdk.storage import AccessLogs, ReportStore
from cdk.triggers import AlarmTrigger
from dropsleuth.functions import FunctionSpec
from dropsleuth.metrics_catalog import NAMESPACE
from dropsleuth.sites import SiteRegistry

INVESTIGATE = "investigate"


@dataclass(frozen=True)
class DeployConfig:
    """What a deployment can choose, from CDK context (cdk.json, overridden with ``-c key=value``)."""

    stack_name: str = "DropSleuth"
    registry: SiteRegistry = field(default_factory=SiteRegistry)
    alarm_prefixes: tuple[str, ...] = ()
    flow_logs_prefix: str = ""
    flow_logs_retention_days: int = 365
    report_retention_days: int = 365
    access_log_retention_days: int = 90
    log_retention_days: int = 30
    athena_bytes_scanned_cutoff: int = 10 * 1024**3
    allow_enable_flow_logs: bool = False
    max_reachability_analyses: int = 2
    docs_url: str | None = None  # the published docs site, for the reports' runbook links
    investigate_reserved_concurrency: int = 3
    """Investigations that may run at once (0: none reserved, the account's pool). An alarm storm then
    queues and retries instead of running unlimited paid Reachability Analyzer and Athena work. An account
    whose concurrency limit is still the new-account 10 cannot reserve any: set 0 there."""
    queries_dir: Path = Path("queries")
    site_agents: SiteAgentsConfig | None = None
    """IAM Roles Anywhere for on-premises site agents (context ``site_agents``); None: not created."""


class DropSleuthStack(Stack):
    """Everything dropsleuth deploys, one construct per capability."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        specs: Mapping[str, FunctionSpec],
        code: lambda_.Code,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="dropsleuth: finds why TCP traffic is dropped (PMTUD black holes, ICMP blocked)",
            **kwargs,
        )
        access_logs = AccessLogs(self, "AccessLogs", retention_days=config.access_log_retention_days)
        self.lake = FlowLogsLake(
            self,
            "FlowLogsLake",
            access_logs=access_logs.bucket,
            prefix=config.flow_logs_prefix,
            table_name="vpc_flow_logs",
            queries_dir=config.queries_dir,
            retention_days=config.flow_logs_retention_days,
            bytes_scanned_cutoff=config.athena_bytes_scanned_cutoff,
        )
        self.reports = ReportStore(
            self,
            "ReportStore",
            access_logs=access_logs.bucket,
            report_retention_days=config.report_retention_days,
        )
        self.sites = SitesParameter(
            self, "Sites", registry=config.registry, name=f"/{config.stack_name}/sites"
        )
        self.monitoring = Monitoring(
            self, "Monitoring", registry=config.registry, alarm_prefix=config.stack_name
        )

        lake = self.lake
        glue_base = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        toolkit = ToolkitResources(
            readable_bucket_arns=(
                lake.bucket.bucket_arn,
                lake.results_bucket.bucket_arn,
                self.reports.bucket.bucket_arn,
            ),
            writable_bucket_arns=(lake.results_bucket.bucket_arn, self.reports.bucket.bucket_arn),
            sites_parameter_arn=self.sites.parameter.parameter_arn,
            report_topic_arn=self.monitoring.topic.topic_arn,
            report_topic_key_arn=self.monitoring.topic_key.key_arn,
            idempotency_table_arn=self.reports.idempotency_table.table_arn,
            workgroup_arn=f"arn:{Aws.PARTITION}:athena:{Aws.REGION}:{Aws.ACCOUNT_ID}:workgroup/{lake.workgroup_name}",
            glue_arns=(
                f"{glue_base}:catalog",
                f"{glue_base}:database/{lake.database_name}",
                f"{glue_base}:table/{lake.database_name}/{lake.table_name}",
            ),
            partition=Aws.PARTITION,
            region=Aws.REGION,
            account=Aws.ACCOUNT_ID,
            registry_vpc_ids=tuple(sorted({s.vpc_id for s in config.registry.sites if s.vpc_id})),
        )
        # Every value a Lambda reads through dropsleuth.config.Settings (DROPSLEUTH_<FIELD>).
        settings = {
            "sites_parameter": self.sites.parameter.parameter_name,
            "report_bucket": self.reports.bucket.bucket_name,
            "report_topic_arn": self.monitoring.topic.topic_arn,
            "flow_logs_bucket": lake.bucket.bucket_name,
            "flow_logs_prefix": lake.prefix,
            "athena_workgroup": lake.workgroup_name,
            "athena_database": lake.database_name,
            "athena_table": lake.table_name,
            "athena_output": lake.output_location,
            "idempotency_table": self.reports.idempotency_table.table_name,
            "allow_enable_flow_logs": config.allow_enable_flow_logs,
            "max_reachability_analyses": config.max_reachability_analyses,
            "metrics_namespace": NAMESPACE,
            "docs_url": config.docs_url,
        }
        self.investigator = Investigator(
            self,
            "Investigator",
            specs=specs,
            code=code,
            settings=settings,
            toolkit=toolkit,
            namespace=NAMESPACE,
            log_retention=_retention(config.log_retention_days),
            reserved_concurrency={INVESTIGATE: config.investigate_reserved_concurrency},
        )
        self.health = ToolkitHealth(
            self,
            "Health",
            functions=self.investigator.functions,
            failures=self.investigator.failures,
            topic=self.monitoring.topic,
            namespace=NAMESPACE,
            service=SERVICE_NAME,
            alarm_prefix=config.stack_name,
        )
        self.trigger = AlarmTrigger(
            self,
            "Trigger",
            alarm_names=self.monitoring.alarm_names,
            prefixes=config.alarm_prefixes,
            investigate=self.investigator.functions.get(INVESTIGATE),
            dead_letter_queue=self.investigator.failures,
        )

        if config.site_agents is not None:
            self.site_agents = SiteAgents(self, "SiteAgents", config=config.site_agents, namespace=NAMESPACE)

        CfnOutput(self, "FlowLogsBucket", value=lake.bucket.bucket_name)
        CfnOutput(self, "ReportBucket", value=self.reports.bucket.bucket_name)
        CfnOutput(self, "ReportTopic", value=self.monitoring.topic.topic_arn)
        CfnOutput(self, "AthenaWorkGroup", value=lake.workgroup_name)
        CfnOutput(self, "SitesParameter", value=self.sites.parameter.parameter_name)
        for name, function in sorted(self.investigator.functions.items()):
            CfnOutput(self, f"Function-{name}".replace("_", ""), value=function.function_name)


# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy, retentionInDays).
_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def _retention(days: int) -> logs.RetentionDays:
    """The shortest allowed CloudWatch Logs retention that keeps logs at least ``days`` days."""
    for allowed in sorted(_RETENTION):
        if allowed >= days:
            return _RETENTION[allowed]
    return _RETENTION[max(_RETENTION)]
