"""What every command shares: the account options, output formats and the exit-code contract.

Light on purpose: every command module imports it, and ``dropsleuth --help`` and ``dropsleuth probe …``
must start without boto3, pydantic or Rich's renderer, so those load inside the functions that use them.

Exit codes: 0 success; 1 it ran and found a problem worth a page; 2 bad input (one clear line);
3 it could not complete because AWS refused or failed (one clear line).
"""

from __future__ import annotations

import enum
import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import typer.core
from typer._click import Context
from typer._coercion import PassThroughRuntimeParam

if TYPE_CHECKING:
    from dropsleuth.model import Report

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_BAD_INPUT = 2
EXIT_AWS_ERROR = 3
# A check that could not read what it checks (no privilege, a tool that hung, an interface that vanished):
# neither clear nor a finding. Distinct so a script or a monitor never reads it as an all-clear.
EXIT_UNKNOWN = 4


class OutputFormat(enum.StrEnum):
    json = "json"
    table = "table"
    markdown = "markdown"


ProfileOption = Annotated[str | None, typer.Option("--profile", help="AWS profile to use.")]
RegionOption = Annotated[str | None, typer.Option("--region", help="AWS Region to use.")]
OutputOption = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format.")]


class LightGroup(typer.core.TyperGroup):
    """A Typer group whose ``--help`` flag starts without pydantic.

    Typer 0.29 coerces every parameter through a pydantic ``TypeAdapter`` that it builds on first use, even
    for a group's ``--help`` flag when it is absent (value ``None``): 0.25 s of pydantic to reach a
    subcommand. The flag is a plain boolean that never needs coercing, so it gets Typer's pass-through.
    """

    def get_help_option(self, ctx: Context) -> Any:
        option = super().get_help_option(ctx)
        if isinstance(option, typer.core.TyperOption) and option._runtime_param is None:
            option._runtime_param = PassThroughRuntimeParam(
                parameter_info=option.type_descriptor.parameter_info, annotation=bool
            )
        return option


def connect(profile: str | None, region: str | None) -> None:
    """Point every client at the account and Region the user chose (``AWS_ENDPOINT_URL`` still applies)."""
    if profile or region:
        from dropsleuth.aws import clients  # noqa: PLC0415 -- boto3, only for commands that call AWS

        clients.configure(profile=profile, region=region)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """One clear line on stderr and the exit code."""
    typer.echo(f"dropsleuth: error: {message}", err=True)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def render_report(report: Report, output: OutputFormat) -> None:
    """Print a report as JSON (the contract), Markdown, or a readable terminal table."""
    if output is OutputFormat.json:
        sys.stdout.write(report.to_json() + "\n")
        return
    if output is OutputFormat.markdown:
        from dropsleuth.report.render import to_markdown  # noqa: PLC0415 -- only this output needs it

        sys.stdout.write(to_markdown(report) + "\n")
        return
    from rich.console import Console  # noqa: PLC0415 -- Rich's renderer only when a table is printed
    from rich.table import Table  # noqa: PLC0415

    from dropsleuth.report.runbook import runbook_link  # noqa: PLC0415

    console = Console(width=max(Console().width, 120))
    if not report.findings:
        console.print("[green]No findings.[/green]")
    for number, finding in enumerate(report.findings, start=1):
        style = _SEVERITY_STYLE.get(finding.severity, "")
        console.print(
            f"[{style}]{number}. {finding.code.value}[/{style}] ({finding.severity.value}, "
            f"confidence {finding.confidence:.2f}): {finding.title}",
            highlight=False,
        )
        for evidence in finding.evidence:
            console.print(f"   evidence: {evidence.summary}", highlight=False, markup=False)
        if finding.remediation:
            console.print(f"   fix: {finding.remediation.summary}", highlight=False, markup=False)
            for fix_step in finding.remediation.steps:
                console.print(f"     - {fix_step}", highlight=False, markup=False)
            for command in finding.remediation.commands:
                console.print(f"     $ {command}", highlight=False, markup=False, soft_wrap=True)
        console.print(f"   runbook: {runbook_link(finding.code)}", highlight=False, markup=False)
    table = Table(title="Steps", show_lines=False)
    for column in ("step", "status", "seconds", "reason"):
        table.add_column(column)
    for step in report.steps:
        table.add_row(step.name, step.status.value, f"{step.duration_s:.2f}", step.reason)
    console.print(table)
    if report.checked:
        console.print(f"[dim]checked {len(report.checked)} things; --output json lists them[/dim]")


# Keyed by ``Severity`` values (a StrEnum, so its members look these up) to keep pydantic out of start-up.
_SEVERITY_STYLE = {
    "critical": "bold red",
    "high": "red",
    "warning": "yellow",
    "info": "cyan",
}
