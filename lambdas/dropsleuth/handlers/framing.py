"""What every handler does around its core call: validate the event, map errors to a clear response.

A bad event returns ``{"ok": false, "error": {"type": "ValidationError", "field": ..., "message": ...}}``
(the console shows it; an asynchronous invocation does not retry a request that can never succeed).
Permanent AWS faults return ``{"ok": false, "error": {"type": "AwsError", "kind": "access_denied", ...}}``;
transient ones (throttling, HTTP 5xx, timeouts: ``is_transient``) are raised again, so the invocation fails
and Lambda retries it (then the failure queue, which pages).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, Field, ValidationError

from dropsleuth.aws.errors import AwsError, InputError, is_transient

RequestT = TypeVar("RequestT", bound=BaseModel)


class EventValidationError(InputError):
    """The event does not match the handler's request model; ``field`` is the first faulty field."""


def parse_event(model: type[RequestT], event: Any) -> RequestT:
    """Validate the Lambda event against the request model; the error names the first faulty field."""
    if not isinstance(event, dict):
        raise EventValidationError(f"the event must be a JSON object, not {type(event).__name__}", field="$")
    try:
        return model.model_validate(event)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "$"
        raise EventValidationError(f"{where}: {first['msg']}", field=where) from error


def error_response(error: Exception) -> dict[str, Any]:
    """The handler's answer when it cannot do its job; the reason is always stated."""
    if isinstance(error, InputError):
        return {
            "ok": False,
            "error": {"type": "ValidationError", "field": error.field, "message": str(error)},
        }
    if isinstance(error, AwsError):
        if is_transient(error):
            raise error
        return {
            "ok": False,
            "error": {"type": "AwsError", "kind": error.kind, "code": error.code, "message": str(error)},
        }
    raise error


def _ids_with_prefix(prefix: str) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    def check(values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not re.fullmatch(rf"{prefix}[0-9a-f]{{8,17}}", value):
                raise ValueError(f"not a {prefix.rstrip('-')} id: {value}")
        return values

    return check


def _cidrs(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        ipaddress.ip_network(value, strict=False)
    return values


# Field types the request models share: an event field that fails names itself in the validation error.
VpcId = Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$")]
SubnetIds = Annotated[tuple[str, ...], Field(max_length=50), AfterValidator(_ids_with_prefix("subnet-"))]
EniIds = Annotated[tuple[str, ...], Field(max_length=50), AfterValidator(_ids_with_prefix("eni-"))]
Cidrs = Annotated[tuple[str, ...], Field(max_length=50), AfterValidator(_cidrs)]
