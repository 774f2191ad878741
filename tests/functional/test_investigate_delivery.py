"""Failures that retry: a report that could not be stored fails the invocation (after the SNS summary), so
the idempotency record is not completed and the retry investigates again; transient faults are raised,
permanent ones answered."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dropsleuth.aws.errors import AccessDeniedError, ThrottledError
from dropsleuth.config import Settings
from dropsleuth.handlers import investigate as investigate_handler
from dropsleuth.handlers.investigate import DELIVERY_FAILURES, ReportNotStoredError, handle
from dropsleuth.observability import metrics
from dropsleuth.sites import Site, SiteRegistry

EVENTS = Path(__file__).resolve().parents[2] / "events"
REGISTRY = SiteRegistry(
    sites=(
        Site(
            name="plant-7",
            cidrs=("192.168.50.0/24",),
            vpc_id="vpc-0a1b2c3d",
            upload_destination="10.40.1.0/24",
        ),
    )
)
REPORTS = "dropsleuth-reports-test"


def _alarm() -> dict[str, Any]:
    event = json.loads((EVENTS / "investigate.json").read_text())
    event["detail"]["state"]["timestamp"] = datetime(2026, 11, 20, 9, 29, tzinfo=UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.000+0000"
    )
    return dict(event)


@pytest.fixture
def deployed(aws: None, tmp_path: Path) -> dict[str, Any]:
    """The stack's idempotency table and report topic (with a queue subscribed to read it), no bucket yet."""
    from dropsleuth.aws import clients

    clients.dynamodb().create_table(
        TableName="idem",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    topic = clients.sns().create_topic(Name="reports")["TopicArn"]
    sqs = clients.client("sqs")
    queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    clients.sns().subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sites = tmp_path / "sites.json"
    sites.write_text(json.dumps([REGISTRY.sites[0].model_dump(mode="json", exclude_none=True)]))
    config = Settings(
        sites_file=str(sites), idempotency_table="idem", report_bucket=REPORTS, report_topic_arn=topic
    )
    return {"config": config, "queue_url": queue_url}


def _summaries(queue_url: str) -> list[str]:
    from dropsleuth.aws import clients

    messages = clients.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"])["Message"] for m in messages.get("Messages", [])]


def _completed_records() -> list[dict[str, Any]]:
    from dropsleuth.aws import clients

    items = clients.dynamodb().scan(TableName="idem")["Items"]
    return [i for i in items if i.get("status", {}).get("S") == "COMPLETED"]


def test_a_report_bucket_outage_fails_the_invocation_and_the_retry_investigates_again(
    deployed: dict[str, Any],
) -> None:
    from dropsleuth.aws import clients

    config, queue_url = deployed["config"], deployed["queue_url"]
    metrics.clear_metrics()
    # Given the report bucket cannot be written (it does not exist: an outage, a deleted bucket)
    # when the alarm's event is delivered
    with pytest.raises(ReportNotStoredError) as failed:
        handle(_alarm(), config=config)
    # then the invocation fails (Lambda retries it, then sends it to the failure queue), after the summary
    # went out and the failure was counted for the DeliveryFailures alarm
    assert failed.value.kind == "report_not_stored"
    assert REPORTS in str(failed.value)
    assert len(_summaries(queue_url)) == 1
    assert DELIVERY_FAILURES in metrics.metric_set
    metrics.clear_metrics()
    # and nothing is recorded as done
    assert _completed_records() == []

    # When the bucket is back and Lambda retries the same event
    clients.s3().create_bucket(Bucket=REPORTS, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    retried = handle(_alarm(), config=config)
    # then it is investigated again (not "duplicate") and the report is stored
    assert retried["status"] == "investigated"
    keys = [o["Key"] for o in clients.s3().list_objects_v2(Bucket=REPORTS)["Contents"]]
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == ["report.html", "report.json", "report.md"]
    assert len(_completed_records()) == 1
    # and only now does a redelivery get the stored result back
    assert handle(_alarm(), config=config)["status"] == "duplicate"
    assert DELIVERY_FAILURES not in metrics.metric_set


@pytest.mark.parametrize(
    ("fault", "raised"),
    [
        (ThrottledError("GetItem: ThrottlingException: slow down", code="ThrottlingException"), True),
        (AccessDeniedError("GetItem: AccessDeniedException: no", code="AccessDeniedException"), False),
    ],
    ids=["throttled-is-raised", "access-denied-is-answered"],
)
def test_idempotency_store_faults_are_raised_when_transient_and_answered_when_permanent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: Exception, raised: bool
) -> None:
    class FailingEpisodes:
        def claim(self, alarm: str, at: datetime) -> Any:
            raise fault

    monkeypatch.setattr(investigate_handler, "episode_store", lambda table: FailingEpisodes())
    sites = tmp_path / "sites.json"
    sites.write_text(json.dumps([REGISTRY.sites[0].model_dump(mode="json", exclude_none=True)]))
    config = Settings(sites_file=str(sites), idempotency_table="idem")
    if raised:
        with pytest.raises(ThrottledError):
            handle(_alarm(), config=config)
    else:
        answer = handle(_alarm(), config=config)
        assert answer["status"] == "error"
        assert answer["error"]["kind"] == "access_denied"
