"""``dropsleuth investigate``: the investigation from a laptop, against an account or any AWS endpoint.

Either an event file (an EventBridge alarm event, or a manual request as the Lambda takes it) or the
context on the command line. The steps run concurrently; their progress is shown on stderr while they run.
Exit 1 when the top finding is critical or high (worth a page), 0 otherwise, 2 on bad input.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from dropsleuth.aws.errors import InputError
from dropsleuth.cli.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    OutputFormat,
    OutputOption,
    ProfileOption,
    RegionOption,
    connect,
    render_report,
)
from dropsleuth.config import load_settings
from dropsleuth.model import Severity, StepStatus

# The investigation's modules (Powertools, the SQL engines) load when the command runs: `dropsleuth --help`
# and the agent's commands work with the plain install, and a missing extra is named by cli/main.py.
if TYPE_CHECKING:
    from dropsleuth.investigate import StepRecord
    from dropsleuth.sites import SiteRegistry
    from dropsleuth.steps import StepEnvironment

_STATUS_STYLE = {StepStatus.OK: "green", StepStatus.FAILED: "red", StepStatus.SKIPPED: "yellow"}


def _registry(sites: Path | None) -> SiteRegistry | None:
    from dropsleuth.sites import load_registry_file, load_registry_parameter  # noqa: PLC0415

    if sites is not None:
        if not sites.is_file():
            raise InputError(f"no such site registry file: {sites}", field="sites")
        return load_registry_file(sites)
    config = load_settings()
    if config.sites_file:
        return load_registry_file(config.sites_file)
    if config.sites_parameter:
        return load_registry_parameter(config.sites_parameter)
    return None


def _event(
    event_file: Path | None,
    *,
    site: str | None,
    vpc: str | None,
    source: str | None,
    destination: str | None,
    port: int | None,
    start: str | None,
    end: str | None,
) -> dict[str, Any]:
    if event_file is not None:
        if any(v is not None for v in (site, vpc, source, destination, start, end)):
            raise InputError("give either --event or the context options, not both", field="event")
        try:
            document = json.loads(event_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(f"cannot read the event file {event_file}: {error}", field="event") from error
        if not isinstance(document, dict):
            raise InputError("the event file must hold a JSON object", field="event")
        return document
    given = (("site", site), ("vpc_id", vpc), ("source", source), ("destination", destination))
    request: dict[str, Any] = {key: value for key, value in given if value is not None}
    if port is not None:
        request["port"] = port
    if start is not None or end is not None:
        if start is None or end is None:
            raise InputError("give both --start and --end", field="start" if start is None else "end")
        request["window"] = {"start": start, "end": end}
    if not request:
        raise InputError("give --event FILE, or --vpc/--site with --source and --destination", field="event")
    return request


def _environment(engine: str | None, flow_logs: str | None) -> StepEnvironment:
    from dropsleuth.queries import AthenaEngine, LocalEngine  # noqa: PLC0415
    from dropsleuth.steps import StepEnvironment  # noqa: PLC0415

    config = load_settings()
    chosen: Any = None
    if engine == "athena":
        config.require("athena_workgroup", "athena_database")
        assert config.athena_workgroup is not None
        assert config.athena_database is not None
        chosen = AthenaEngine(
            config.athena_workgroup, config.athena_database, config.athena_table, config.athena_output
        )
    elif engine == "local" or flow_logs:
        if not flow_logs:
            raise InputError("--engine local needs --flow-logs s3://bucket/prefix or DIR", field="flow_logs")
        chosen = LocalEngine(flow_logs)
    return StepEnvironment(settings=config, engine=chosen, flow_logs=flow_logs)


def investigate_command(
    event: Annotated[
        Path | None,
        typer.Option("--event", help="An alarm event or manual request (JSON), as the Lambda takes."),
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="A site of the registry.")] = None,
    vpc: Annotated[str | None, typer.Option("--vpc", help="VPC id.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="CIDR, IP, ENI id or AWS service.")] = None,
    destination: Annotated[
        str | None, typer.Option("--destination", help="CIDR, IP, ENI id or AWS service (S3).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port of the traffic (443).")] = None,
    start: Annotated[str | None, typer.Option("--start", help="Window start, ISO 8601 with zone.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Window end, ISO 8601 with zone.")] = None,
    sites: Annotated[Path | None, typer.Option("--sites", help="Site registry file (JSON or YAML).")] = None,
    engine: Annotated[
        str | None, typer.Option("--engine", help="Flow-log SQL engine: athena or local (DuckDB).")
    ] = None,
    flow_logs: Annotated[
        str | None,
        typer.Option("--flow-logs", help="Flow logs for the local engine: s3://bucket/prefix or DIR."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write report.json/.md/.html here.")] = None,
    output: OutputOption = OutputFormat.table,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """Investigate why traffic is dropped: concurrent evidence → ranked root cause → report."""
    from dropsleuth.investigate import investigate  # noqa: PLC0415
    from dropsleuth.report.render import headline  # noqa: PLC0415
    from dropsleuth.report.store import store_report_dir  # noqa: PLC0415
    from dropsleuth.requests import parse_request  # noqa: PLC0415

    _logs_to_stderr()
    if engine not in (None, "athena", "local"):
        raise InputError(f"--engine must be athena or local, not {engine!r}", field="engine")
    connect(profile, region)
    document = _event(
        event, site=site, vpc=vpc, source=source, destination=destination, port=port, start=start, end=end
    )
    request = parse_request(document, _registry(sites), now=datetime.now(UTC))
    environment = _environment(engine, flow_logs)
    err = Console(stderr=True, highlight=False)

    def progress(name: str, record: StepRecord | None) -> None:
        if record is None:
            err.print(f"  [dim]… {name}[/dim]")
            return
        style = _STATUS_STYLE[record.status]
        reason = f": {record.reason}" if record.reason else ""
        err.print(f"  [{style}]{record.status.value:7}[/{style}] {name} ({record.duration_s:.1f} s){reason}")

    err.print(
        f"[bold]investigating[/bold] {request.context.source.describe()} → "
        f"{request.context.destination.describe()} in {request.context.vpc_id}"
    )
    with err.status("steps running …"):
        report = investigate(request.context, environment=environment, listener=progress)
    render_report(report, output)
    if out is not None:
        stored = store_report_dir(report, out)
        err.print(f"report files: {', '.join(sorted(stored.files.values()))}")
    err.print(f"[bold]{headline(report)}[/bold]")
    top = report.top_finding
    worth_a_page = top is not None and top.severity in {Severity.CRITICAL, Severity.HIGH}
    raise typer.Exit(EXIT_PROBLEM if worth_a_page else EXIT_OK)


def _logs_to_stderr() -> None:
    """Keep stdout for the report (``--output json`` is parsed by scripts): structured logs go to stderr,
    warnings and worse only (the step table already says what failed)."""
    import logging  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from dropsleuth.observability import logger  # noqa: PLC0415

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)
    logger.setLevel("ERROR")


def register(app: typer.Typer) -> None:
    app.command("investigate")(investigate_command)
