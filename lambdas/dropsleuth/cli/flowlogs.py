"""``dropsleuth flowlogs status|enable``: flow-log coverage of a VPC, and enabling what is missing."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dropsleuth.aws import flowlogs
from dropsleuth.cli.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    OutputFormat,
    OutputOption,
    ProfileOption,
    RegionOption,
    connect,
    print_json,
)

VpcOption = Annotated[str, typer.Option("--vpc", help="VPC id, e.g. vpc-0a1b2c3d.")]
SubnetOption = Annotated[list[str] | None, typer.Option("--subnet", help="Also check/enable these subnets.")]
EniOption = Annotated[list[str] | None, typer.Option("--eni", help="Also check/enable these ENIs.")]

app = typer.Typer(help="VPC Flow Logs: coverage and enabling.", no_args_is_help=True)


@app.command("status")
def status(
    vpc: VpcOption,
    subnet: SubnetOption = None,
    eni: EniOption = None,
    output: OutputOption = OutputFormat.table,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """Which resources flow logs cover, and what each existing flow log lacks (fields, traffic type,
    S3, 1-minute aggregation, Parquet in per-hour Hive partitions) or does not report.

    Exits 1 when a resource is not covered or covered only by an incomplete flow log.
    """
    connect(profile, region)
    result = flowlogs.flow_logs_status(vpc, subnet_ids=subnet or (), eni_ids=eni or ())
    if output is OutputFormat.json:
        print_json(
            result.model_dump(mode="json")
            | {"findings": [f.model_dump(mode="json") for f in result.findings()]}
        )
    else:
        table = Table(title=f"flow logs of {vpc}")
        for column in ("resource", "state", "flow logs", "lacks", "unknown"):
            table.add_column(column)
        by_id = {f.flow_log_id: f for f in result.flow_logs}

        def unknown(ids: tuple[str, ...]) -> str:
            return "; ".join(sorted({u for i in ids for u in by_id[i].unknowns()}))

        for resource in [vpc, *(subnet or ()), *(eni or ())]:
            if resource in result.covered:
                ids = result.covered[resource]
                table.add_row(resource, "covered", ", ".join(ids), "", unknown(ids))
            elif resource in result.incomplete:
                ids = result.incomplete[resource]
                lacks = "; ".join(sorted({p for i in ids for p in by_id[i].shortcomings()}))
                table.add_row(resource, "incomplete", ", ".join(ids), lacks, unknown(ids))
            else:
                table.add_row(resource, "not covered", "", "", "")
        Console(width=160).print(table)
    raise typer.Exit(EXIT_OK if result.ok else EXIT_PROBLEM)


@app.command("enable")
def enable(
    vpc: VpcOption,
    bucket: Annotated[str, typer.Option("--bucket", help="S3 bucket the flow logs are delivered to.")],
    prefix: Annotated[str, typer.Option("--prefix", help="Folder in the bucket (before AWSLogs/).")] = "",
    subnet: SubnetOption = None,
    eni: EniOption = None,
    add_if_incomplete: Annotated[
        bool,
        typer.Option("--add-if-incomplete", help="Add a second, complete flow log where one lacks fields."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be created; create nothing.")
    ] = False,
    output: OutputOption = OutputFormat.table,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """Create the missing flow logs (S3, Parquet, hourly Hive partitions, 1-minute, ALL, full format).

    Idempotent: a covered resource gets nothing new. Never deletes or replaces a flow log.
    Exits 1 when a creation failed.
    """
    connect(profile, region)
    result = flowlogs.enable_flow_logs(
        vpc,
        bucket,
        prefix=prefix,
        subnet_ids=subnet or (),
        eni_ids=eni or (),
        add_if_incomplete=add_if_incomplete,
        dry_run=dry_run,
    )
    if output is OutputFormat.json:
        print_json(result.model_dump(mode="json"))
    else:
        table = Table(title=f"flow logs → {result.destination}" + (" (dry run)" if dry_run else ""))
        for column in ("resource", "type", "action", "flow log", "detail"):
            table.add_column(column)
        for action in result.actions:
            table.add_row(
                action.resource_id,
                action.resource_type,
                action.action,
                action.flow_log_id or "",
                action.detail,
            )
        Console(width=160).print(table)
    raise typer.Exit(EXIT_PROBLEM if result.failed else EXIT_OK)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="flowlogs")
