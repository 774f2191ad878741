"""``dropsleuth demo``: the embedded account (moto) replaying an incident, diagnosed end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dropsleuth.audit import audit_report
from dropsleuth.cli.common import OutputFormat, OutputOption, render_report
from dropsleuth.demo.account import build_account
from dropsleuth.demo.embedded import embedded_account
from dropsleuth.demo.scenario import load_scenario, scenario_names
from dropsleuth.report.store import store_report_dir


def demo(
    scenario: Annotated[
        str, typer.Option("--scenario", help=f"Incident to replay: {', '.join(scenario_names())}.")
    ] = "wan-mtu-9000",
    out: Annotated[Path, typer.Option("--out", help="Directory for the report files.")] = Path("demo-output"),
    output: OutputOption = OutputFormat.table,
) -> None:
    """Build the embedded account for a scenario and audit it, with no AWS credentials needed."""
    spec = load_scenario(scenario)
    with embedded_account(spec.region):
        built = build_account(spec)
        assert built.site is not None
        typer.echo(f"embedded account: {spec.title}", err=True)
        report = audit_report(built.id("vpc"), eni_ids=built.site.eni_ids, peer_cidrs=())
    render_report(report, output)
    stored = store_report_dir(report, out)
    typer.echo(f"report written to {stored.location} ({', '.join(sorted(stored.files))})", err=True)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
