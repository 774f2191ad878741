"""Domain errors the adapters raise instead of botocore's ``ClientError``.

Callers (the investigation, the CLI, the handlers) catch ``AwsError`` and turn it into a failed step or
one clear line; they never see a botocore traceback.
"""

from __future__ import annotations

import re


class DropsleuthError(Exception):
    """Base of every error dropsleuth raises on purpose."""


class InputError(DropsleuthError):
    """The caller gave something unusable (a malformed CIDR, an unknown id). ``field`` names it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AwsError(DropsleuthError):
    """An AWS call failed. ``kind`` classifies it for the report: see ``classify``."""

    kind = "aws"

    def __init__(self, message: str, *, code: str = "", operation: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation


class AccessDeniedError(AwsError):
    kind = "access_denied"


class ThrottledError(AwsError):
    kind = "throttled"


class AwsTimeoutError(AwsError):
    kind = "timeout"


class NotFoundError(AwsError):
    kind = "not_found"


class UnsupportedError(AwsError):
    """The endpoint does not implement the API (moto for Reachability Analyzer, say)."""

    kind = "unsupported"


class ServerError(AwsError):
    """AWS answered with an internal error (HTTP 5xx, ``InternalFailure``): that call failed."""

    kind = "server_error"


_ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthFailure",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
}
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "RequestThrottled",
    "RequestThrottledException",
}
_UNSUPPORTED = {
    "NotImplemented",
    "UnsupportedOperation",
    "InvalidAction",
    "UnknownOperation",
    "UnknownOperationException",
}
_SERVER = {"InternalFailure", "InternalError", "InternalServerError", "ServiceUnavailable", "Unavailable"}
# Local emulators answer an action they lack with an internal-error code whose message says so
# (LocalStack: "... not yet implemented", HTTP 501); AWS's own InternalFailure never does.
_NOT_IMPLEMENTED = re.compile(r"not (yet )?(been )?implemented", re.IGNORECASE)


def _is_unsupported(code: str, message: str, status: int | None) -> bool:
    if code in _UNSUPPORTED or status == 501:
        return True
    return (code in _SERVER or code.isdigit()) and bool(_NOT_IMPLEMENTED.search(message))


def translate(error: Exception, *, operation: str = "") -> AwsError:
    """Map a botocore exception to the domain error a caller can act on (``raise translate(e) from e``)."""
    # botocore loads here, not with the module: InputError is raised by code that never calls AWS (the
    # site agent's probes, the CLI's argument checks), which must start without botocore's 0.2 s import.
    from botocore.exceptions import (  # noqa: PLC0415
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )
    from botocore.parsers import ResponseParserError  # noqa: PLC0415

    if isinstance(error, AwsError):
        return error
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = str(error.response.get("Error", {}).get("Message", "")) or str(error)
        op = operation or getattr(error, "operation_name", "")
        text = f"{op}: {code}: {message}" if op else f"{code}: {message}"
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # HTTP 403 is AWS's answer to a refused request (AccessDenied, a bad signature, an expired token),
        # whatever the code's spelling; moto answers JSON-protocol services with a bare "403" code.
        if code in _ACCESS_DENIED or status == 403:
            return AccessDeniedError(text, code=code, operation=op)
        if code in _THROTTLED:
            return ThrottledError(text, code=code, operation=op)
        if code.endswith(("NotFound", ".NotFound", "NotFoundException")) or code in {
            "NoSuchBucket",
            "NoSuchKey",
        }:
            return NotFoundError(text, code=code, operation=op)
        if _is_unsupported(code, message, status):
            return UnsupportedError(text, code=code, operation=op)
        if code in _SERVER or (isinstance(status, int) and status >= 500):
            return ServerError(text, code=code, operation=op)
        return AwsError(text, code=code, operation=op)
    if isinstance(error, ResponseParserError):
        # AWS always answers in its protocol's format (XML or JSON), errors included. An unparseable
        # "500 Internal Server Error" page comes from a local endpoint that lacks the action (moto_server
        # answers unimplemented actions so), not from AWS.
        if "Internal Server Error" in str(error) or _NOT_IMPLEMENTED.search(str(error)):
            return UnsupportedError(
                f"{operation or 'API'}: the endpoint answered with a non-AWS HTTP 500 page (an emulator "
                "without this API)",
                operation=operation,
            )
        return AwsError(f"{operation or 'AWS call'}: unparseable response: {error}", operation=operation)
    if isinstance(error, ConnectTimeoutError | ReadTimeoutError | TimeoutError):
        return AwsTimeoutError(f"{operation or 'AWS call'}: timed out: {error}", operation=operation)
    if isinstance(error, NoCredentialsError):
        return AccessDeniedError(f"no AWS credentials: {error}", code="NoCredentials", operation=operation)
    if isinstance(error, EndpointConnectionError):
        return AwsTimeoutError(f"cannot reach the endpoint: {error}", operation=operation)
    if isinstance(error, NotImplementedError):
        return UnsupportedError(
            f"{operation or 'API'} is not implemented by this endpoint", operation=operation
        )
    if isinstance(error, BotoCoreError):
        return AwsError(f"{operation or 'AWS call'}: {error}", operation=operation)
    return AwsError(f"{operation or 'AWS call'}: {type(error).__name__}: {error}", operation=operation)


# Worth another attempt: the same call may succeed in a moment (throttling, AWS's own 5xx, a timeout).
_TRANSIENT = (ThrottledError, ServerError, AwsTimeoutError)


def is_transient(error: BaseException) -> bool:
    """True for a fault that a retry of the same request may not meet (throttling, HTTP 5xx, timeouts).

    A Lambda re-raises these so that Lambda's own retries (asynchronous invocations: two, then the failure
    queue) apply; a permanent fault (access denied, not found, bad input) is answered instead, because a
    retry would meet it again.
    """
    return isinstance(error, _TRANSIENT)
