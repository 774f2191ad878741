"""Helpers shared by test tiers."""

from __future__ import annotations

import os

from tests.conftest import FAKE_ENV


def subprocess_env(endpoint: str | None = None) -> dict[str, str]:
    """The environment for a ``dropsleuth`` subprocess: fake credentials and, if given, the endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(FAKE_ENV)
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


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
