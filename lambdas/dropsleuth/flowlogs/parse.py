"""Parse flow-log records in AWS's text formats: the v2 default and any custom ``LogFormat``.

Text files delivered to S3 begin with a header line naming the fields (``version account-id …``);
CloudWatch Logs events have no header, so the caller gives the fields (``fields=`` or ``log_format=``).
A missing value is ``-`` (``NODATA``/``SKIPDATA`` records leave most fields empty) and becomes ``None``;
numeric fields become ``int``. Records are dicts keyed by ``schema`` column names (``tcp_flags``), the
shape the synthesizer writes and the engines read.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from dropsleuth.aws.errors import InputError
from dropsleuth.flowlogs.schema import DEFAULT_V2_FIELDS, FIELDS_BY_NAME

_FORMAT_FIELD = re.compile(r"\$\{([a-z0-9-]+)\}")
_NUMERIC = {"int", "bigint"}


class FlowLogParseError(InputError):
    """A line that does not fit the format (wrong field count, a number that is not one)."""


def parse_log_format(log_format: str) -> tuple[str, ...]:
    """The field names of a ``LogFormat`` string: ``"${version} ${srcaddr}"`` → ``("version", "srcaddr")``."""
    fields = tuple(_FORMAT_FIELD.findall(log_format))
    if not fields or _FORMAT_FIELD.sub("", log_format).strip():
        raise FlowLogParseError(f"not a flow-log LogFormat: {log_format!r}", field="log_format")
    return fields


def _is_header(tokens: Sequence[str]) -> bool:
    # A header names fields; unknown (newer) field names still look like lower-case words with hyphens.
    return tokens[0] == "version" and all(re.fullmatch(r"[a-z][a-z0-9-]*", t) for t in tokens)


def _column(name: str) -> str:
    return name.replace("-", "_")


_MISSING = "-"


def _convert(name: str, token: str, line_number: int) -> Any:
    if token == _MISSING:
        return None
    field = FIELDS_BY_NAME.get(name)
    if field is not None and field.athena_type in _NUMERIC:
        try:
            return int(token)
        except ValueError as error:
            raise FlowLogParseError(
                f"line {line_number}: {name} is not a number: {token!r}", field=name
            ) from error
    return token


def parse_lines(
    lines: Iterable[str], *, fields: Sequence[str] | None = None, log_format: str | None = None
) -> Iterator[dict[str, Any]]:
    """Records from text lines.

    The format is, in order of precedence: ``fields``, ``log_format``, the first line if it is a header,
    or the v2 default. Blank lines are skipped; a line with the wrong number of fields raises
    ``FlowLogParseError`` with its line number.
    """
    names: tuple[str, ...] | None = None
    if fields is not None:
        names = tuple(fields)
    elif log_format is not None:
        names = parse_log_format(log_format)
    for line_number, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        if names is None:
            if _is_header(tokens):
                names = tuple(tokens)
                continue
            names = DEFAULT_V2_FIELDS
        elif line_number == 1 and fields is None and tuple(tokens) == names:
            continue
        if len(tokens) != len(names):
            raise FlowLogParseError(
                f"line {line_number}: {len(tokens)} fields where the format has {len(names)}", field="line"
            )
        pairs = zip(names, tokens, strict=True)
        yield {_column(name): _convert(name, token, line_number) for name, token in pairs}


def read_text_file(path: str | Path, **format_options: Any) -> list[dict[str, Any]]:
    """Every record of a flow-log text file (gzip or plain), with ``parse_lines``'s format options."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return list(parse_lines(handle, **format_options))
