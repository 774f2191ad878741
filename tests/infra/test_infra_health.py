"""The toolkit watching itself: failure alarms to the report topic, capped concurrency, bounded event age."""

from __future__ import annotations

from typing import Any

import pytest

from dropsleuth.functions import catalog
from dropsleuth.handlers.investigate import DELIVERY_FAILURES
from tests.infra.conftest import Synthesized

SPECS = catalog()


def _alarm(synthesized: Synthesized, name: str) -> dict[str, Any]:
    return synthesized.resource(synthesized.stack.health.alarms[name])["Properties"]


def _pages_the_report_topic(synthesized: Synthesized, props: dict[str, Any]) -> None:
    topic_id = synthesized.logical_id(synthesized.stack.monitoring.topic)
    assert props["AlarmActions"] == [{"Ref": topic_id}]
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["Threshold"] == 0
    assert props["TreatMissingData"] == "notBreaching"


def test_an_event_on_the_failure_queue_pages(synthesized: Synthesized) -> None:
    props = _alarm(synthesized, "FailureQueue")
    _pages_the_report_topic(synthesized, props)
    assert props["Namespace"] == "AWS/SQS"
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
    queue_id = synthesized.logical_id(synthesized.stack.investigator.failures)
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_each_functions_errors_and_throttles_page(synthesized: Synthesized, name: str, metric: str) -> None:
    props = _alarm(synthesized, f"{name.replace('_', '-')}-{metric}")
    _pages_the_report_topic(synthesized, props)
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == ("AWS/Lambda", metric, "Sum")
    function_id = synthesized.logical_id(synthesized.stack.investigator.functions[name])
    assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]


def test_delivery_failures_page(synthesized: Synthesized) -> None:
    props = _alarm(synthesized, DELIVERY_FAILURES)
    _pages_the_report_topic(synthesized, props)
    assert (props["Namespace"], props["MetricName"]) == ("DropSleuth", DELIVERY_FAILURES)
    # Powertools' EMF puts the service name on every metric: the alarm must name the same dimension.
    variables = synthesized.resource(synthesized.stack.investigator.functions["investigate"])["Properties"][
        "Environment"
    ]["Variables"]
    assert props["Dimensions"] == [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]


def test_investigate_has_a_small_reserved_concurrency_and_the_others_share_the_pool(
    synthesized: Synthesized,
) -> None:
    for name, function in synthesized.stack.investigator.functions.items():
        reserved = synthesized.resource(function)["Properties"].get("ReservedConcurrentExecutions")
        assert reserved == (3 if name == "investigate" else None), name


@pytest.mark.parametrize("name", sorted(SPECS))
def test_async_events_have_a_maximum_age(synthesized: Synthesized, name: str) -> None:
    function_id = synthesized.logical_id(synthesized.stack.investigator.functions[name])
    (config,) = [
        c["Properties"]
        for c in synthesized.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert config["MaximumEventAgeInSeconds"] == SPECS[name].max_event_age_s
    assert config["MaximumRetryAttempts"] == 2


def test_eventbridge_targets_give_up_on_old_events(synthesized: Synthesized) -> None:
    ages = [
        target["RetryPolicy"]["MaximumEventAgeInSeconds"]
        for rule in synthesized.resources("AWS::Events::Rule").values()
        for target in rule["Properties"].get("Targets", [])
    ]
    assert ages
    assert all(0 < age <= 3600 for age in ages)
