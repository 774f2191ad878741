"""Reading a flow-log query's result rows (pure): values as Athena and DuckDB return them, as Python.

Athena returns every value as a string and DuckDB as its own type, so each rule that reads rows takes its
numbers, times and evidence through these.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def as_int(value: object) -> int:
    """An integer column's value (0 when it is empty or not a number)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return 0


def epoch_utc(value: object) -> datetime | None:
    """Epoch seconds (the ``start`` column) as UTC, else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value.strip().isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    return None


def hhmm(at: datetime | None) -> str:
    """``09:24 UTC`` (``?`` when unknown), as titles show a time."""
    return at.strftime("%H:%M UTC") if at else "?"


def jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as evidence data: scalars kept, anything else (decimals, timestamps) as text."""
    return {k: v if isinstance(v, str | int | float | bool) or v is None else str(v) for k, v in row.items()}
