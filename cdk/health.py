"""The toolkit watching itself: alarms on its own failures, to the report topic (where people listen).

An investigation that failed for good, a function that errors or is throttled, a report that could not
be stored: each would otherwise go unseen, and the next real incident would find a broken toolkit. Every
alarm here publishes to the stack's SNS topic (its key lets CloudWatch publish: ``cdk.monitoring``):

- ``FailureQueue``: an event on the failure queue (an asynchronous invocation that failed after Lambda's
  retries, or a schedule/alarm event EventBridge could not deliver);
- ``<function>-Errors`` and ``<function>-Throttles``: any in five minutes (``AWS/Lambda``);
- ``DeliveryFailures``: a report not stored or a summary not published (the investigate function's
  metric, through Powertools' EMF with its ``service`` dimension).

Missing data is "not breaching": a quiet toolkit is a healthy one.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from dropsleuth.handlers.investigate import DELIVERY_FAILURES

HEALTH_PERIOD = Duration.minutes(5)


class ToolkitHealth(Construct):
    """One alarm per way the toolkit can fail, each publishing to ``topic``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.Function],
        failures: sqs.IQueue,
        topic: sns.ITopic,
        namespace: str,
        service: str,
        alarm_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        notify = actions.SnsAction(topic)

        def alarm(name: str, metric: cloudwatch.IMetric, description: str) -> None:
            made = cloudwatch.Alarm(
                self,
                name,
                alarm_name=f"{alarm_prefix}-toolkit-{name}",
                alarm_description=f"dropsleuth toolkit: {description}",
                metric=metric,
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            made.add_alarm_action(notify)
            self.alarms[name] = made

        alarm(
            "FailureQueue",
            failures.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            "an event failed for good (after Lambda's or EventBridge's retries): see the failure queue",
        )
        for name, function in sorted(functions.items()):
            label = name.replace("_", "-")
            alarm(
                f"{label}-Errors",
                function.metric_errors(period=HEALTH_PERIOD, statistic="Sum"),
                f"{name} failed (an invocation raised: it is retried, then sent to the failure queue)",
            )
            alarm(
                f"{label}-Throttles",
                function.metric_throttles(period=HEALTH_PERIOD, statistic="Sum"),
                f"{name} was throttled (its reserved concurrency or the account's limit is reached)",
            )
        alarm(
            DELIVERY_FAILURES,
            cloudwatch.Metric(
                namespace=namespace,
                metric_name=DELIVERY_FAILURES,
                dimensions_map={"service": service},
                statistic="Sum",
                period=HEALTH_PERIOD,
            ),
            "a report could not be stored or its summary not published",
        )
