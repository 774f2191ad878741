"""Helpers shared by test tiers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import FAKE_ENV

ROOT = Path(__file__).resolve().parents[1]


def subprocess_env(endpoint: str | None = None) -> dict[str, str]:
    """The environment for a ``dropsleuth`` subprocess: fake credentials and, if given, the endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(FAKE_ENV)
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def run_dropsleuth(
    endpoint: str | None, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m dropsleuth.cli ARGS`` as a user runs it, against ``endpoint`` (a moto server)."""
    return subprocess.run(
        [sys.executable, "-m", "dropsleuth.cli", *args], capture_output=True, text=True,
        env=subprocess_env(endpoint), cwd=ROOT, timeout=timeout, check=False,
    )  # fmt: skip


def seed_athena_results(rows: list[list[str]], columns: list[tuple[str, str]]) -> None:
    """Queue one result set for moto's Athena: the next query executed, whatever its SQL, returns it."""
    from moto.moto_api._internal.models import moto_api_backend

    header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
    moto_api_backend.set_athena_result(
        rows=[header, *({"Data": [{"VarCharValue": v} for v in row]} for row in rows)],
        column_info=[
            {
                "Name": n,
                "Label": n,
                "Type": t,
                "Nullable": "UNKNOWN",
                "CatalogName": "hive",
                "SchemaName": "",
                "TableName": "",
                "Precision": 0,
                "Scale": 0,
                "CaseSensitive": False,
            }
            for n, t in columns
        ],
        account_id="123456789012",
        region="eu-west-1",
    )
