"""Triggers: a CloudWatch alarm going to ALARM starts an investigation.

One EventBridge rule on ``aws.cloudwatch`` / "CloudWatch Alarm State Change" with ``state.value`` ALARM,
for the toolkit's own alarms (by exact name) and for the user's alarms (by name prefix, context
``alarm_prefixes``). It targets the ``investigate`` function when the catalog has one; until then the rule
exists without a target (it matches and does nothing), so the pattern can be reviewed and tested.
Source: CloudWatch User Guide, "Alarm events and EventBridge".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct


def alarm_pattern_names(alarm_names: Sequence[str], prefixes: Sequence[str]) -> list[Any]:
    """The ``alarmName`` filter: exact names, then ``{"prefix": ...}`` matchers."""
    return [*sorted(alarm_names), *({"prefix": p} for p in sorted(set(prefixes)))]


class AlarmTrigger(Construct):
    """The rule that sends alarm state changes to ALARM to the investigation."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_names: Sequence[str],
        prefixes: Sequence[str],
        investigate: lambda_.IFunction | None,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rule: events.Rule | None = None
        names = alarm_pattern_names(alarm_names, prefixes)
        if not names:
            return  # no site and no prefix: no alarm to listen to
        self.rule = events.Rule(
            self,
            "AlarmToInvestigation",
            description="dropsleuth: investigate when a watched CloudWatch alarm enters ALARM",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={"alarmName": names, "state": {"value": ["ALARM"]}},
            ),
        )
        if investigate is not None:
            self.rule.add_target(
                targets.LambdaFunction(
                    investigate,
                    dead_letter_queue=dead_letter_queue,
                    retry_attempts=2,
                    # An alarm's event older than an hour is not worth an investigation any more.
                    max_event_age=Duration.hours(1),
                )
            )
