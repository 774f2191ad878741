"""``dropsleuth query NAME``: run one flow-log query of ``queries/`` on Athena or locally (DuckDB)."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dropsleuth.aws.errors import InputError
from dropsleuth.cli.common import OutputFormat, OutputOption, ProfileOption, RegionOption, connect, print_json
from dropsleuth.config import load_settings
from dropsleuth.sqlfiles import query_names


class EngineChoice(enum.StrEnum):
    athena = "athena"
    local = "local"


def parse_params(items: list[str]) -> dict[str, Any]:
    """``k=v`` pairs into a dict; a malformed or repeated pair is an ``InputError`` naming it."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--param wants key=value, got {item!r}", field="param")
        if key.strip() in params:
            raise InputError(f"--param {key.strip()} given twice", field=key.strip())
        params[key.strip()] = value.strip()
    return params


def query(
    name: Annotated[str, typer.Argument(help="Query name: " + ", ".join(query_names()))],
    start: Annotated[str, typer.Option("--start", help="Window start, ISO 8601 with zone (…Z).")],
    end: Annotated[str, typer.Option("--end", help="Window end, ISO 8601 with zone (…Z).")],
    flow_logs: Annotated[
        str | None,
        typer.Option(
            "--flow-logs", help="s3://bucket/prefix or a directory of flow-log files (local engine)."
        ),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="source_cidr=…, destination_service=S3, …")
    ] = None,
    engine: Annotated[
        EngineChoice | None,
        typer.Option("--engine", help="athena (DROPSLEUTH_ATHENA_*) or local (DuckDB over --flow-logs)."),
    ] = None,
    output: OutputOption = OutputFormat.table,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """Run a named flow-log query over a window and print its rows and the bytes it scanned."""
    from dropsleuth import queries  # noqa: PLC0415 -- sqlglot, and the engine's extra, only when run

    connect(profile, region)
    params = parse_params(param or []) | {
        "start": queries.parse_time(start, field_name="start"),
        "end": queries.parse_time(end, field_name="end"),
    }
    queries.load_query(name)
    chosen = engine.value if engine else ("local" if flow_logs else "athena")
    runner = queries.engine_from_settings(load_settings(), engine=chosen, flow_logs=flow_logs)  # type: ignore[arg-type]
    result = runner.run(name, params)
    if output is OutputFormat.json:
        print_json(result.to_json())
        return
    table = Table(title=f"{name} ({result.engine}, {result.bytes_scanned or 0} bytes scanned)")
    for column in result.columns:
        table.add_column(column)
    for row in result.to_json()["rows"]:
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()))
    Console(width=200).print(table)


def register(app: typer.Typer) -> None:
    app.command("query")(query)
