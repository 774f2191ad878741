"""Monitoring: the report topic, per-site alarms on the toolkit's metrics, and one dashboard.

Alarms come from ``dropsleuth.metrics_catalog.ALARMED`` (one list for the agent, the Lambdas and here),
one per site and metric, on namespace ``DropSleuth`` with the ``Site`` dimension. Their period × datapoints
stays within 3 minutes: the point of the toolkit is to page before a 15-minute false green.

``FragNeededCount`` alarms on a *rise*, above CloudWatch's anomaly detection band for the site's series
(``MetricSpec.anomaly_std_devs``; why a fixed "> 0" is wrong is written beside ``FRAG_NEEDED``). The band is
a model CloudWatch trains on the metric's own history (CloudWatch User Guide, "Using CloudWatch anomaly
detection"): a new site's band is wide until it has some history, and an anomaly alarm is billed as
three standard alarms.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from dropsleuth.metrics_catalog import ALARMED, NAMESPACE, REJECTED_ICMP, SITE_DIMENSION, MetricSpec
from dropsleuth.sites import Site, SiteRegistry

ALARM_BUDGET_S = 180

_COMPARISON = {
    "LessThanThreshold": cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    "GreaterThanThreshold": cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    "GreaterThanOrEqualToThreshold": cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    "GreaterThanUpperThreshold": cloudwatch.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
}
_MISSING = {
    "breaching": cloudwatch.TreatMissingData.BREACHING,
    "notBreaching": cloudwatch.TreatMissingData.NOT_BREACHING,
    "missing": cloudwatch.TreatMissingData.MISSING,
    "ignore": cloudwatch.TreatMissingData.IGNORE,
}


def alarm_threshold(metric: MetricSpec, site: Site) -> float:
    """The site's own upload floor for throughput; the catalogue's default otherwise."""
    if metric.name == "UploadThroughputMbps" and site.min_upload_mbps is not None:
        return site.min_upload_mbps
    if metric.default_threshold is None:
        raise ValueError(f"{metric.name} is alarmed but has no default threshold")
    return metric.default_threshold


def alarm_name(prefix: str, site: Site, metric: MetricSpec) -> str:
    return f"{prefix}-{site.name}-{metric.name}"


def site_metric(
    metric: MetricSpec, site: Site, *, statistic: str | None = None, label: str | None = None
) -> cloudwatch.Metric:
    """The site's series; no label on alarms (a label turns the alarm into a metric-math alarm)."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=metric.name,
        dimensions_map={SITE_DIMENSION: site.name},
        statistic=statistic or metric.alarm_statistic,
        period=Duration.seconds(metric.alarm_period_s),
        label=label,
    )


class Monitoring(Construct):
    """Report topic, alarms per site, dashboard."""

    def __init__(
        self, scope: Construct, construct_id: str, *, registry: SiteRegistry, alarm_prefix: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarm_prefix = alarm_prefix
        # A key of the stack's own, not the AWS managed alias/aws/sns: CloudWatch alarms (the toolkit's own
        # health alarms publish here) cannot publish to a topic encrypted with the AWS managed key, whose
        # policy cannot be changed; a customer managed key's policy lets cloudwatch.amazonaws.com use it.
        # Publishers (the Lambdas) need kms:GenerateDataKey and kms:Decrypt on it, declared beside the
        # publish call (report/store.py). Source: SNS Developer Guide, "Data encryption" → "Key management"
        # ("Enable compatibility between event sources from AWS services and encrypted topics").
        self.topic_key = kms.Key(
            self,
            "ReportsKey",
            description="dropsleuth: encrypts the report topic; CloudWatch alarms may publish through it",
            enable_key_rotation=True,
        )
        self.topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(
            self,
            "Reports",
            display_name="dropsleuth reports",
            enforce_ssl=True,
            master_key=self.topic_key,
        )
        self.alarms: list[cloudwatch.Alarm] = []
        self.alarm_names: list[str] = []
        for site in registry.sites:
            for metric in ALARMED:
                if metric.alarm_period_s * metric.alarm_datapoints > ALARM_BUDGET_S:
                    raise ValueError(f"{metric.name}: alarm would take over {ALARM_BUDGET_S} s to fire")
                self.alarm_names.append(alarm_name(alarm_prefix, site, metric))
                self.alarms.append(self._alarm(site, metric))
        self.dashboard = self._dashboard(registry)

    def _alarm(self, site: Site, metric: MetricSpec) -> cloudwatch.Alarm:
        common: dict[str, Any] = {
            "alarm_name": alarm_name(self.alarm_prefix, site, metric),
            "alarm_description": f"dropsleuth: {metric.description} ({site.name})",
            "metric": site_metric(metric, site),
            "comparison_operator": _COMPARISON[metric.alarm_comparison or "GreaterThanThreshold"],
            "evaluation_periods": metric.alarm_datapoints,
            "datapoints_to_alarm": metric.alarm_datapoints,
            "treat_missing_data": _MISSING[metric.treat_missing_data],
        }
        construct_id = f"{site.name}-{metric.name}"
        if metric.anomaly_std_devs is not None:
            return cloudwatch.AnomalyDetectionAlarm(
                self, construct_id, std_devs=metric.anomaly_std_devs, **common
            )
        return cloudwatch.Alarm(self, construct_id, threshold=alarm_threshold(metric, site), **common)

    @staticmethod
    def _graph(site: Site, metric: MetricSpec) -> cloudwatch.GraphWidget:
        """The site's series with what its alarm compares it to: the threshold, or the anomaly band."""
        series = site_metric(metric, site, label=f"{site.name} {metric.name}")
        if metric.anomaly_std_devs is not None:
            band = cloudwatch.MathExpression(
                expression=f"ANOMALY_DETECTION_BAND(m1, {metric.anomaly_std_devs:g})",
                using_metrics={"m1": series},
                label="expected band",
                period=Duration.seconds(metric.alarm_period_s),
            )
            return cloudwatch.GraphWidget(title=f"{site.name}: {metric.name}", left=[series, band], width=6)
        return cloudwatch.GraphWidget(
            title=f"{site.name}: {metric.name}",
            left=[series],
            left_annotations=[
                cloudwatch.HorizontalAnnotation(value=alarm_threshold(metric, site), label="alarm threshold")
            ],
            width=6,
        )

    def _dashboard(self, registry: SiteRegistry) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{Stack.of(self).stack_name}-dropsleuth"
        )
        if self.alarms:
            dashboard.add_widgets(
                cloudwatch.AlarmStatusWidget(title="dropsleuth alarms", alarms=list(self.alarms), width=24)
            )
        for site in registry.sites:
            dashboard.add_widgets(
                *[self._graph(site, metric) for metric in ALARMED],
                # Flow logs cannot be graphed from Athena: publish_metrics turns REJECTed ICMP into a metric.
                # It publishes no count of all REJECTs (the queries' icmp_rejects only), so none is graphed.
                cloudwatch.GraphWidget(
                    title=f"{site.name}: flow-log REJECTs of ICMP",
                    left=[
                        site_metric(REJECTED_ICMP, site, statistic="Sum", label=f"{site.name} ICMP REJECTs")
                    ],
                    width=12,
                ),
            )
            if site.vpn_connection_id:
                dashboard.add_widgets(
                    cloudwatch.GraphWidget(
                        title=f"{site.name}: VPN tunnel state ({site.vpn_connection_id})",
                        left=[
                            cloudwatch.Metric(
                                namespace="AWS/VPN",
                                metric_name="TunnelState",
                                dimensions_map={"VpnId": site.vpn_connection_id},
                                statistic="Minimum",
                                period=Duration.minutes(1),
                            )
                        ],
                        left_y_axis=cloudwatch.YAxisProps(min=0, max=1),
                        width=12,
                    )
                )
        return dashboard
