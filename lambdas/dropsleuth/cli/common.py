"""What every command shares: the account options, output formats and the exit-code contract.

Exit codes: 0 success; 1 it ran and found a problem worth a page; 2 bad input (one clear line);
3 it could not complete because AWS refused or failed (one clear line).
"""

from __future__ import annotations

import enum
import json
import sys
from typing import Annotated, Any, NoReturn

import typer

from dropsleuth.aws import clients

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_BAD_INPUT = 2
EXIT_AWS_ERROR = 3


class OutputFormat(enum.StrEnum):
    json = "json"
    table = "table"
    markdown = "markdown"


ProfileOption = Annotated[str | None, typer.Option("--profile", help="AWS profile to use.")]
RegionOption = Annotated[str | None, typer.Option("--region", help="AWS Region to use.")]
OutputOption = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format.")]


def connect(profile: str | None, region: str | None) -> None:
    """Point every client at the account and Region the user chose (``AWS_ENDPOINT_URL`` still applies)."""
    if profile or region:
        clients.configure(profile=profile, region=region)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """One clear line on stderr and the exit code."""
    typer.echo(f"dropsleuth: error: {message}", err=True)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
