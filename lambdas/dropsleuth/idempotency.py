"""Investigate one incident once, however often its alarm is delivered or flaps.

Two records, both in one DynamoDB table when ``DROPSLEUTH_IDEMPOTENCY_TABLE`` is set (the deployed Lambda),
otherwise in process-local stores (the CLI, the demo, tests):

* the alarm's current **episode** (``rules.episodes``): which ALARM transitions are one incident. It is read
  and moved forward with a conditional write, so concurrent deliveries agree on the episode's start;
* Powertools idempotency, keyed on the alarm and its episode's start: EventBridge's at-least-once
  redelivery and every flap of the episode get the first investigation's result back.
"""

from __future__ import annotations

import datetime as dt
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord
from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import AwsError, translate
from dropsleuth.aws.permissions import declare
from dropsleuth.rules.episodes import Episode, is_newer, next_episode

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PERMISSIONS = declare(
    "idempotency",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)

# Outside Lambda (CLI, demo, tests) there is no remaining time to register: Powertools warns and carries on.
warnings.filterwarnings("ignore", message="Couldn't determine the remaining time left", category=UserWarning)

# A record lives a day: long after any redelivery or flap of the same transition.
RECORD_TTL_S = 24 * 3600


def store_failure(error: BaseException) -> AwsError:
    """The store's fault as the domain error of its kind (throttled stays throttled: it is retried)."""
    translated = translate(error) if isinstance(error, Exception) else AwsError(str(error))
    return type(translated)(
        f"idempotency store failed: {translated}", code=translated.code, operation=translated.operation
    )


class AlreadyInProgressError(AwsError):
    """Another invocation is investigating the same alarm transition right now."""

    kind = "in_progress"


class LocalPersistenceLayer(BasePersistenceLayer):
    """An in-memory Powertools persistence layer (thread-safe), with DynamoDB's put-if-absent semantics."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._records: dict[str, DataRecord] = {}
        self._lock = threading.Lock()

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with self._lock:
            record = self._records.get(idempotency_key)
        if record is None:
            raise IdempotencyItemNotFoundError
        return record

    def _put_record(self, data_record: DataRecord) -> None:
        # Powertools writes expiry times from the naive local clock; compare on the same clock.
        now = dt.datetime.now()  # noqa: DTZ005
        with self._lock:
            existing = self._records.get(data_record.idempotency_key)
            if existing is not None and not _replaceable(existing, now):
                raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
            self._records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self._records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self._records.pop(data_record.idempotency_key, None)


def _replaceable(record: DataRecord, now: dt.datetime) -> bool:
    """As DynamoDB's condition: expired, or in progress past its in-progress expiry."""
    if record.expiry_timestamp is not None and record.expiry_timestamp < int(now.timestamp()):
        return True
    return (
        record.status == STATUS_CONSTANTS["INPROGRESS"]
        and record.in_progress_expiry_timestamp is not None
        and record.in_progress_expiry_timestamp < int(now.timestamp() * 1000)
    )


_LOCAL_STORE = LocalPersistenceLayer()


def persistence_store(table: str | None) -> BasePersistenceLayer:
    """DynamoDB (through our client factory, so ``AWS_ENDPOINT_URL`` applies) or the local store."""
    if table:
        return DynamoDBPersistenceLayer(table_name=table, boto3_client=clients.dynamodb())
    return _LOCAL_STORE


# --- episodes: which transitions of an alarm are one incident ------------------------------------------


class EpisodeStore(Protocol):
    def claim(self, alarm: str, at: dt.datetime) -> Episode:
        """The episode of ``alarm`` that the transition at ``at`` belongs to, recorded for the next one."""
        ...


class LocalEpisodeStore:
    """Episodes in memory (thread-safe): the CLI, the demo and tests."""

    def __init__(self) -> None:
        self._episodes: dict[str, Episode] = {}
        self._lock = threading.Lock()

    def claim(self, alarm: str, at: dt.datetime) -> Episode:
        with self._lock:
            current = self._episodes.get(alarm)
            episode = next_episode(current, at)
            if is_newer(episode, current):
                self._episodes[alarm] = episode
        return episode


# Optimistic concurrency: a claim reads the episode, then writes it on condition that nobody moved it
# meanwhile; a lost race re-reads. Two concurrent deliveries cannot both win, so they agree on the start.
_CLAIM_ATTEMPTS = 5


class DynamoDBEpisodeStore:
    """Episodes as items ``episode#<alarm>`` of the idempotency table (its key ``id``, TTL ``expiration``)."""

    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self._table = table
        self._client = client

    def claim(self, alarm: str, at: dt.datetime) -> Episode:
        dynamodb = self._client or clients.dynamodb()
        key: dict[str, Any] = {"id": {"S": f"episode#{alarm}"}}
        try:
            for _ in range(_CLAIM_ATTEMPTS):
                item = dynamodb.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
                current = _episode_of_item(item)
                episode = next_episode(current, at)
                if not is_newer(episode, current):
                    return episode
                item = {**key, **_item_of(episode)}
                try:
                    dynamodb.put_item(TableName=self._table, Item=item, **_unchanged(current))
                except ClientError as error:
                    if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                        raise
                    continue  # another delivery moved the episode first: read it again
                return episode
        except (ClientError, BotoCoreError) as error:
            raise store_failure(error) from error
        raise AwsError(f"idempotency store failed: the episode of {alarm} kept changing under us")


def _episode_of_item(item: dict[str, Any] | None) -> Episode | None:
    if not item:
        return None
    return Episode(
        start=dt.datetime.fromisoformat(item["start"]["S"]),
        latest=dt.datetime.fromisoformat(item["latest"]["S"]),
    )


def _item_of(episode: Episode) -> dict[str, Any]:
    # Kept a day past the episode's longest possible end, like the idempotency records.
    expires = int(episode.latest.timestamp()) + RECORD_TTL_S
    return {
        "start": {"S": episode.start.isoformat()},
        "latest": {"S": episode.latest.isoformat()},
        "expiration": {"N": str(expires)},
    }


def _unchanged(current: Episode | None) -> dict[str, Any]:
    """The condition of the write: the item is still what was read (or still absent)."""
    if current is None:
        return {"ConditionExpression": "attribute_not_exists(id)"}
    return {
        "ConditionExpression": "#start = :start AND #latest = :latest",
        "ExpressionAttributeNames": {"#start": "start", "#latest": "latest"},
        "ExpressionAttributeValues": {
            ":start": {"S": current.start.isoformat()},
            ":latest": {"S": current.latest.isoformat()},
        },
    }


_LOCAL_EPISODES = LocalEpisodeStore()


def episode_store(table: str | None) -> EpisodeStore:
    """DynamoDB (the idempotency table) or the process-local store."""
    return DynamoDBEpisodeStore(table) if table else _LOCAL_EPISODES


@dataclass(frozen=True)
class OnceResult:
    result: dict[str, Any]
    replayed: bool
    """True when the result is a stored one: this transition was investigated before."""


def run_once(
    key: str,
    work: Callable[[], dict[str, Any]],
    *,
    store: BasePersistenceLayer,
    lambda_context: Any = None,
    ttl_s: int = RECORD_TTL_S,
) -> OnceResult:
    """Run ``work`` unless a result for ``key`` is stored; return the result and whether it was replayed."""
    executed = threading.Event()
    config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=ttl_s)
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)

    @idempotent_function(data_keyword_argument="request", persistence_store=store, config=config)  # type: ignore[untyped-decorator]
    def investigate_once(request: dict[str, str]) -> dict[str, Any]:  # noqa: ARG001 -- hashed by Powertools
        executed.set()
        return work()

    try:
        result = investigate_once(request={"key": key})
    except IdempotencyAlreadyInProgressError as error:
        raise AlreadyInProgressError(f"an investigation of {key} is already running") from error
    except IdempotencyPersistenceLayerError as error:
        raise store_failure(error.__cause__ or error) from error
    return OnceResult(result=result, replayed=not executed.is_set())
