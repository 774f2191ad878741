"""Monitoring and triggers: per-site alarms within the 3-minute budget, dashboard, topic, alarm rule."""

from __future__ import annotations

import json

from cdk.investigator import Investigator
from dropsleuth.metrics_catalog import ALARMED, NAMESPACE
from tests.infra.conftest import Synthesized, flatten, statements


def watched(alarm: dict) -> dict:
    """The metric an alarm watches, with its period, for a threshold alarm or an anomaly-band alarm."""
    if "MetricName" in alarm:
        return {k: alarm[k] for k in ("Namespace", "MetricName", "Dimensions", "Period", "Statistic")}
    (stat,) = [q["MetricStat"] for q in alarm["Metrics"] if "MetricStat" in q]
    return {**stat["Metric"], "Period": stat["Period"], "Statistic": stat["Stat"]}


def site_alarms(synthesized: Synthesized) -> list[dict]:
    """The per-site alarms (the toolkit's own health alarms are ``tests/infra/test_infra_health.py``'s)."""
    return [synthesized.resource(alarm) for alarm in synthesized.stack.monitoring.alarms]


def test_every_site_has_an_alarm_per_alarmed_metric(synthesized: Synthesized) -> None:
    registry = synthesized.stack.sites.registry
    assert registry.sites, "cdk.json's example registry should hold sites"
    alarms = [watched(a["Properties"]) for a in site_alarms(synthesized)]
    assert len(alarms) == len(registry.sites) * len(ALARMED)
    seen = {(a["Dimensions"][0]["Value"], a["MetricName"]) for a in alarms}
    assert seen == {(s.name, m.name) for s in registry.sites for m in ALARMED}
    for alarm in alarms:
        assert alarm["Namespace"] == NAMESPACE
        assert [d["Name"] for d in alarm["Dimensions"]] == ["Site"]


def test_an_onset_reaches_alarm_within_three_minutes(synthesized: Synthesized) -> None:
    for alarm in site_alarms(synthesized):
        props = alarm["Properties"]
        assert watched(props)["Period"] * props["DatapointsToAlarm"] <= 180, props["AlarmName"]
        assert props["EvaluationPeriods"] >= props["DatapointsToAlarm"]


def test_frag_needed_alarms_on_a_rise_above_the_sites_anomaly_band(synthesized: Synthesized) -> None:
    """Not "> 0": with PMTUD working a site counts a steady trickle; the alarm fires above its usual level."""
    frag = [
        a["Properties"]
        for a in site_alarms(synthesized)
        if watched(a["Properties"])["MetricName"] == "FragNeededCount"
    ]
    assert len(frag) == len(synthesized.stack.sites.registry.sites)
    for alarm in frag:
        assert alarm["ComparisonOperator"] == "GreaterThanUpperThreshold"
        assert "Threshold" not in alarm
        queries = {q["Id"]: q for q in alarm["Metrics"]}
        band = queries[alarm["ThresholdMetricId"]]
        (series_id,) = [i for i, q in queries.items() if "MetricStat" in q]
        assert band["Expression"] == f"ANOMALY_DETECTION_BAND({series_id}, 2)"
        assert queries[series_id]["ReturnData"] is True
        assert watched(alarm)["Statistic"] == "Sum"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (2, 2)


def test_throughput_threshold_is_the_sites_own_floor(synthesized: Synthesized) -> None:
    registry = synthesized.stack.sites.registry
    by_site = {
        a["Properties"]["Dimensions"][0]["Value"]: a["Properties"]
        for a in site_alarms(synthesized)
        if a["Properties"].get("MetricName") == "UploadThroughputMbps"
    }
    default = next(m for m in ALARMED if m.name == "UploadThroughputMbps").default_threshold
    for site in registry.sites:
        expected = site.min_upload_mbps if site.min_upload_mbps is not None else default
        assert by_site[site.name]["Threshold"] == expected
        assert by_site[site.name]["ComparisonOperator"] == "LessThanThreshold"


def test_dashboard_shows_site_series_icmp_rejects_and_vpn_tunnels(synthesized: Synthesized) -> None:
    (dashboard,) = synthesized.resources("AWS::CloudWatch::Dashboard").values()
    body = flatten(dashboard["Properties"]["DashboardBody"])
    widgets = json.loads(body)["widgets"]
    metrics = [m for w in widgets for m in w.get("properties", {}).get("metrics", [])]
    names = {(m[0], m[1]) for m in metrics if isinstance(m[0], str) and len(m) > 1}
    for metric in ALARMED:
        assert (NAMESPACE, metric.name) in names
    assert (NAMESPACE, "RejectedIcmpCount") in names
    vpns = {s.vpn_connection_id for s in synthesized.stack.sites.registry.sites if s.vpn_connection_id}
    tunnel = [m for m in metrics if m[:2] == ["AWS/VPN", "TunnelState"]]
    assert {m[3] for m in tunnel} == vpns


def test_report_topic_is_encrypted_and_tls_only(synthesized: Synthesized) -> None:
    (topic,) = synthesized.resources("AWS::SNS::Topic").values()
    # The stack's own key (CloudWatch alarms cannot publish through the AWS managed alias/aws/sns), whose
    # policy lets CloudWatch use it, rotated yearly.
    key_id = synthesized.logical_id(synthesized.stack.monitoring.topic_key)
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    key = synthesized.template["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert [sorted(s["Action"]) for s in cloudwatch] == [["kms:Decrypt", "kms:GenerateDataKey"]]
    (policy,) = synthesized.resources("AWS::SNS::TopicPolicy").values()
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements(policy)
    )


def test_alarm_rule_matches_the_toolkits_alarms_entering_alarm(synthesized: Synthesized) -> None:
    rules = [
        r["Properties"]
        for r in synthesized.resources("AWS::Events::Rule").values()
        if "EventPattern" in r["Properties"]
    ]
    (rule,) = rules
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.cloudwatch"]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert pattern["detail"]["state"] == {"value": ["ALARM"]}
    alarm_names = {a["Properties"]["AlarmName"] for a in site_alarms(synthesized)}
    assert {n for n in pattern["detail"]["alarmName"] if isinstance(n, str)} == alarm_names
    investigate = synthesized.stack.investigator.functions.get("investigate")
    targets = rule.get("Targets", [])
    if investigate is None:
        assert targets == []
    else:
        assert [t["Arn"] for t in targets] == [{"Fn::GetAtt": [synthesized.logical_id(investigate), "Arn"]}]


def test_investigator_wires_investigate_schedules_and_user_prefixes() -> None:
    """Construct level, with specs made for the test: the trigger's target, a schedule, user prefixes."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk.assertions import Match, Template

    from cdk.policy import ToolkitResources
    from cdk.triggers import AlarmTrigger
    from dropsleuth.aws.permissions import Permissions
    from dropsleuth.functions import FunctionSpec

    stack = Stack(App(), "T")
    specs = {
        "investigate": FunctionSpec("investigate", "m.handler", "test", (Permissions("t", frozenset()),)),
        "publish_metrics": FunctionSpec(
            "publish_metrics", "p.handler", "test", (Permissions("p", frozenset()),), schedule_minutes=5
        ),
    }
    arn = "arn:aws:s3:::b"
    investigator = Investigator(
        stack,
        "I",
        specs=specs,
        code=lambda_.Code.from_inline("def handler(e, c): pass"),
        settings={},
        toolkit=ToolkitResources((arn,), (arn,), "p", "t", "k", "d", "w", ("g",), "aws", "eu-west-1", "1"),
        namespace="DropSleuth",
        log_retention=logs.RetentionDays.ONE_WEEK,
    )
    AlarmTrigger(
        stack,
        "Trig",
        alarm_names=["DropSleuth-a-UploadThroughputMbps"],
        prefixes=["prod-vpn-", "prod-vpn-"],
        investigate=investigator.functions["investigate"],
        dead_letter_queue=investigator.failures,
    )
    template = Template.from_stack(stack)
    investigate_id = stack.resolve(investigator.functions["investigate"].node.default_child.logical_id)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "detail": {
                    "alarmName": ["DropSleuth-a-UploadThroughputMbps", {"prefix": "prod-vpn-"}],
                    "state": {"value": ["ALARM"]},
                }
            },
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [investigate_id, "Arn"]}})],
        },
    )
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(5 minutes)"})
    # A function with no declared actions gets no declared policy at all.
    assert investigator.declared_policies == {}
