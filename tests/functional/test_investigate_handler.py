"""The investigate Lambda's edges: input validation naming the field, fuzzed events, idempotency on
DynamoDB (moto) so a flapping alarm gives one investigation, delivery failures that keep the report."""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dropsleuth.aws.errors import InputError
from dropsleuth.config import Settings
from dropsleuth.handlers.investigate import handle
from dropsleuth.idempotency import LocalPersistenceLayer, persistence_store, run_once
from dropsleuth.requests import parse_request
from dropsleuth.sites import Site, SiteRegistry

EVENTS = Path(__file__).resolve().parents[2] / "events"
ALARM = json.loads((EVENTS / "investigate.json").read_text())
MANUAL = json.loads((EVENTS / "investigate_manual.json").read_text())
REGISTRY = SiteRegistry(
    sites=(
        Site(
            name="plant-7",
            cidrs=("192.168.50.0/24",),
            vpc_id="vpc-0a1b2c3d",
            wan_mtu=9000,
            upload_destination="10.40.1.0/24",
        ),
    )
)
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def with_change(event: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


_DELETE = object()


def test_alarm_event_maps_the_site_dimension_to_the_context() -> None:
    request = parse_request(ALARM, REGISTRY, now=NOW)
    ctx = request.context
    assert ctx.vpc_id == "vpc-0a1b2c3d"
    assert ctx.source.cidr == "192.168.50.0/24"
    assert ctx.destination.cidr == "10.40.1.0/24"
    assert ctx.source_mtu == 9000
    changed = datetime(2026, 11, 20, 9, 33, tzinfo=UTC)
    assert ctx.window.start == changed - timedelta(minutes=60)
    assert ctx.window.end == NOW  # lookahead capped at now
    assert request.trigger is not None
    assert request.trigger.alarm_name == "dropsleuth-plant-7-UploadThroughputMbps"


def test_manual_event_file_is_valid() -> None:
    request = parse_request(MANUAL, REGISTRY, now=NOW)
    assert request.context.window.start == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["detail", "state", "value"], _DELETE, "detail.state.value"),
        (["detail", "alarmName"], 42, "detail.alarmName"),
        (["detail", "state", "timestamp"], "yesterday", "detail.state.timestamp"),
        (
            ["detail", "configuration", "metrics"],
            [],
            "detail.configuration.metrics.metricStat.metric.dimensions.Site",
        ),
        (["detail", "state", "value"], "OK", "detail.state.value"),
        (["detail"], "not an object", "detail"),
    ],
)
def test_malformed_alarm_events_name_the_field(path: list[str], value: Any, field: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_request(with_change(ALARM, path, value), REGISTRY, now=NOW)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"vpc_id": "vpc-1", "source": "10.0.0.0/8"}, "destination"),
        ({"source": "10.0.0.0/8", "destination": "S3"}, "vpc_id"),
        ({"vpc_id": "vpc-1", "source": "10.0.0.0/33", "destination": "S3"}, "source"),
        ({"vpc_id": "vpc-1", "source": "10.0.0.0/8", "destination": "S3", "port": 70000}, "port"),
        (
            {
                "vpc_id": "vpc-1",
                "source": "10.0.0.0/8",
                "destination": "S3",
                "window": {"start": "x", "end": "2026-01-01T00:00:00Z"},
            },
            "window.start",
        ),
        ({"site": "nowhere"}, "site"),
        ({"site": "plant-7", "colour": "red"}, "colour"),
        ({"vpc_id": "subnet-1", "source": "10.0.0.0/8", "destination": "S3"}, "vpc_id"),
    ],
)
def test_malformed_manual_requests_name_the_field(event: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_request(event, REGISTRY, now=NOW)
    assert raised.value.field is not None
    assert raised.value.field.startswith(field)


def test_handler_answers_invalid_with_the_field_and_no_aws_call(aws: None) -> None:
    response = handle(
        {"site": "plant-7", "window": {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}},
        config=Settings(),
    )
    assert response["status"] == "invalid"
    assert response["error"]["field"] in {"window.end", "site"}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _mutations() -> st.SearchStrategy[Any]:
    keys = ["detail-type", "detail", "site", "vpc_id", "source", "destination", "window", "port", "resources"]
    alarmish = st.fixed_dictionaries(
        {"detail-type": st.just("CloudWatch Alarm State Change"), "detail": _json}
    )
    partial = st.dictionaries(st.sampled_from(keys), _json, max_size=5)
    return st.one_of(_json, alarmish, partial)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_fuzzed_events_never_raise(event: Any) -> None:
    # Anything but an InputError (naming its field) escapes and fails the test.
    with contextlib.suppress(InputError):
        parse_request(event, REGISTRY, now=NOW)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_fuzzed_events_through_the_handler_are_answered(event: Any) -> None:
    # No registry and no AWS: whatever arrives is answered, never raised.
    response = handle(event, config=Settings())
    assert response["status"] in {"invalid", "error", "investigated", "duplicate"}


def _alarm_at(stamp: datetime, name: str = "dropsleuth-plant-7-UploadThroughputMbps") -> dict[str, Any]:
    event = with_change(ALARM, ["detail", "state", "timestamp"], stamp.strftime("%Y-%m-%dT%H:%M:%S.000+0000"))
    event = with_change(event, ["detail", "alarmName"], name)
    return with_change(event, ["resources"], [f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}"])


# ALARM → OK → ALARM four times, straddling the half hour (a clock-bucketed key would split them).
FLAPS = [datetime(2026, 11, 20, 9, 29, tzinfo=UTC) + timedelta(minutes=m) for m in (0, 2, 15, 29)]


def _investigations(responses: list[dict[str, Any]]) -> list[str]:
    return [r["report"]["report_id"] for r in responses if r["status"] == "investigated"]


@pytest.mark.parametrize("table", [None, "idem"], ids=["local-store", "dynamodb"])
def test_an_alarm_flapping_four_times_gives_one_investigation(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str | None
) -> None:
    from dropsleuth import idempotency
    from dropsleuth.aws import clients

    if table:
        clients.dynamodb().create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    else:  # a fresh process-local store, as a new CLI run would have
        monkeypatch.setattr(idempotency, "_LOCAL_EPISODES", idempotency.LocalEpisodeStore())
        monkeypatch.setattr(idempotency, "_LOCAL_STORE", idempotency.LocalPersistenceLayer())
    sites = tmp_path / "sites.json"
    sites.write_text(json.dumps([REGISTRY.sites[0].model_dump(mode="json", exclude_none=True)]))
    config = Settings(sites_file=str(sites), idempotency_table=table)

    # Given four transitions of one incident, delivered in order, then a redelivery of the first
    responses = [handle(_alarm_at(at), config=config) for at in [*FLAPS, FLAPS[0]]]
    # then one investigation, and every other delivery gets its result back
    assert [r["status"] for r in responses] == ["investigated"] + ["duplicate"] * 4
    assert len({r["report"]["report_id"] for r in responses}) == 1
    assert len({r["idempotency_key"] for r in responses}) == 1

    # When the alarm fires again after more than half an hour of quiet, that is a new incident;
    # and another alarm of the same site at the same time is investigated on its own.
    later = handle(_alarm_at(FLAPS[-1] + timedelta(minutes=31)), config=config)
    other = handle(_alarm_at(FLAPS[0], name="dropsleuth-plant-7-FragNeededCount"), config=config)
    assert later["status"] == other["status"] == "investigated"
    assert len(set(_investigations([*responses, later, other]))) == 3


def test_dynamodb_idempotency_runs_a_flapping_alarm_once(aws: None) -> None:
    from dropsleuth.aws import clients

    clients.dynamodb().create_table(
        TableName="idem",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    store = persistence_store("idem")
    runs: list[int] = []

    def work() -> dict[str, Any]:
        runs.append(1)
        return {"status": "investigated", "n": len(runs)}

    results = [run_once("alarm-a#2026-11-20T09:30Z", work, store=store) for _ in range(4)]
    assert len(runs) == 1
    assert [r.replayed for r in results] == [False, True, True, True]
    assert all(r.result == {"status": "investigated", "n": 1} for r in results)
    assert clients.dynamodb().scan(TableName="idem")["Count"] == 1
    run_once("alarm-a#2026-11-20T10:30Z", work, store=store)
    assert len(runs) == 2


def test_local_store_is_used_without_a_table_and_a_failed_run_can_be_retried() -> None:
    store = persistence_store(None)
    assert isinstance(store, LocalPersistenceLayer)
    calls: list[int] = []

    def failing() -> dict[str, Any]:
        calls.append(1)
        raise RuntimeError("boom")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            run_once("key-retry-after-failure", failing, store=store)
    assert len(calls) == 2  # a failure leaves no record: the next delivery tries again


def test_concurrent_first_deliveries_agree_on_the_episode(aws: None) -> None:
    from dropsleuth.aws import clients
    from dropsleuth.idempotency import DynamoDBEpisodeStore

    dynamodb = clients.dynamodb()
    dynamodb.create_table(
        TableName="idem",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    first, second = FLAPS[0], FLAPS[1]
    rival = DynamoDBEpisodeStore("idem")
    raced: list[bool] = []

    def rival_claims_first(**_: Any) -> None:
        # Another delivery of the same incident wins the race to write the episode (once: the rival's
        # own write goes through this hook too).
        if not raced:
            raced.append(True)
            rival.claim("alarm-a", first)

    dynamodb.meta.events.register("before-call.dynamodb.PutItem", rival_claims_first)
    # Given the rival wrote the 09:29 episode between our read and our conditional write for 09:31
    episode = DynamoDBEpisodeStore("idem", client=dynamodb).claim("alarm-a", second)
    # then our write was refused, we read again, and both name the rival's episode start
    assert raced
    assert episode.start == first
    assert episode.latest == second
    item = dynamodb.get_item(TableName="idem", Key={"id": {"S": "episode#alarm-a"}})["Item"]
    assert datetime.fromisoformat(item["start"]["S"]) == first
