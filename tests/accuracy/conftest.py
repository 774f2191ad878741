"""The accuracy suite's shared accounts and its summary table in the test output."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.accuracy.suite import AccountPool, Outcome, table

_RESULTS: list[Outcome] = []


@pytest.fixture(scope="module")
def accounts() -> Iterator[AccountPool]:
    """The embedded accounts the classes are built in, shared by this module's tests, closed after it."""
    pool = AccountPool()
    try:
        yield pool
    finally:
        _RESULTS.extend(pool.outcomes.values())
        pool.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _RESULTS:
        terminalreporter.write_sep("=", "dropsleuth accuracy (tests/accuracy)")
        terminalreporter.write_line(table(_RESULTS))
