"""``dropsleuth demo``: the embedded account (moto) replaying an incident, investigated end to end.

The replay puts the scenario's network, flow logs, metrics and alarm into an in-process moto account and
calls the ``investigate`` Lambda handler with the alarm's EventBridge event; the report it returns is
printed here and its files written to ``--out``. No AWS credentials are used or needed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dropsleuth.cli.common import OutputFormat, OutputOption, render_report
from dropsleuth.demo.scenario import load_scenario, scenario_names
from dropsleuth.extras import needs_extra


def demo(
    scenario: Annotated[
        str, typer.Option("--scenario", help=f"Incident to replay: {', '.join(scenario_names())}.")
    ] = "wan-mtu-9000",
    out: Annotated[Path, typer.Option("--out", help="Directory for the report files.")] = Path("demo-output"),
    output: OutputOption = OutputFormat.table,
) -> None:
    """Replay an incident on an embedded account and investigate it, with no AWS credentials needed."""
    # moto, Powertools and the local engine come with the `demo` extra: loaded only when the demo runs.
    with needs_extra("demo", "the embedded account"):
        import moto  # noqa: F401, PLC0415 -- checked first: it is what only the demo extra brings

        from dropsleuth.demo import replay  # noqa: PLC0415
        from dropsleuth.demo.embedded import embedded_account  # noqa: PLC0415
        from dropsleuth.report.render import headline  # noqa: PLC0415
        from dropsleuth.report.store import store_report_dir  # noqa: PLC0415

    spec = load_scenario(scenario)
    err = Console(stderr=True, highlight=False)
    started = time.perf_counter()
    err.print(f"[bold]scenario[/bold] {spec.name}: {spec.title}")
    with embedded_account(spec.region):
        with err.status("building the embedded account and its last 90 minutes …"):
            prepared = replay.prepare(spec)
        err.print(
            f"  account ready: VPC {prepared.built.id('vpc')}, {prepared.records} flow-log records in "
            f"{prepared.flow_log_files} Parquet files, metrics for site {spec.site.name}"
        )
        trigger = prepared.event.get("detail", {}).get("alarmName") or "a manual request"
        with err.status(f"alarm {trigger} → investigate handler …"):
            done = replay.run(prepared)
    response = done.response
    if response.get("status") not in {"investigated", "duplicate"}:
        err.print(f"[red]investigation did not run: {response}[/red]")
        raise typer.Exit(3)
    report = done.report
    render_report(report, output)
    stored = store_report_dir(report, out)
    delivery = response.get("delivery", {})
    err.print(f"\n[bold]{headline(report)}[/bold]")
    if delivery.get("stored"):
        err.print(f"report stored in the embedded account: {delivery['stored']['html']}")
    for note in done.notifications:
        err.print(f"SNS summary published: {note['subject']!r}")
    err.print(f"report files: {', '.join(sorted(stored.files.values()))}")
    err.print(f"[dim]demo took {time.perf_counter() - started:.1f} s[/dim]")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
