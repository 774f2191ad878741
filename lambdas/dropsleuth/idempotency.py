"""Investigate the same alarm transition once, however often it is delivered or flaps.

Powertools idempotency does the bookkeeping: DynamoDB when ``DROPSLEUTH_IDEMPOTENCY_TABLE`` is set (the
deployed Lambda), otherwise a process-local store (the CLI, the demo, tests). The key is computed by
``dropsleuth.requests`` — for an alarm, its name and the dedupe bucket of its transition time — so
EventBridge's at-least-once redelivery and an alarm flapping ALARM→OK→ALARM inside the bucket both give one
investigation; the later calls get the first call's result back.
"""

from __future__ import annotations

import datetime as dt
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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

from dropsleuth.aws import clients
from dropsleuth.aws.errors import AwsError
from dropsleuth.aws.permissions import declare

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
        cause = error.__cause__ or error
        raise AwsError(f"idempotency store failed: {cause}") from error
    return OnceResult(result=result, replayed=not executed.is_set())
