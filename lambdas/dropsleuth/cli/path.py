"""``dropsleuth path``: the hops between two ends, each hop's MTU and whether PMTUD can work across it."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dropsleuth.aws.errors import InputError
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
from dropsleuth.context import Endpoint
from dropsleuth.rules.path import PathAnalysis, Verdict

_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{1,62}$")


def parse_endpoint(text: str, *, field: str) -> Endpoint:
    """A CIDR, an IP, an ``eni-…``/``i-…``/``subnet-…`` id or an AWS service name (``s3``) → ``Endpoint``;
    else InputError."""
    value = text.strip()
    for prefix, key, what in (("eni-", "eni_id", "ENI"), ("i-", "instance_id", "instance"),
                              ("subnet-", "subnet_id", "subnet")):  # fmt: skip
        if value.startswith(prefix):
            if not re.fullmatch(rf"{prefix}[0-9a-f]{{8,17}}", value):
                raise InputError(f"--{field}: not an {what} id: {value!r}", field=field)
            return Endpoint(**{key: value})
    if "/" in value:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as error:
            raise InputError(f"--{field}: not a CIDR: {value!r}", field=field) from error
        return Endpoint(cidr=value)
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        return Endpoint(ip=value)
    if _SERVICE_NAME.match(value.lower()) and not value.replace(".", "").isdigit():
        return Endpoint(service=value.lower())
    raise InputError(
        f"--{field}: {value!r} is not a CIDR, an IP, an eni-… id or a service name such as s3", field=field
    )


def _render_table(analysis: PathAnalysis) -> None:
    console = Console(width=160)
    table = Table(title=f"{analysis.source} → {analysis.destination} (TCP {analysis.port})")
    for column in ("#", "hop", "resource", "MTU", "sends frag-needed", "note"):
        table.add_column(column)
    for number, hop in enumerate(analysis.hops, start=1):
        frag = {True: "yes", False: "NO", None: "n/a"}[hop.sends_frag_needed]
        marker = " ◀" if analysis.limiting_hop is hop else ""
        table.add_row(
            str(number),
            hop.kind.value + marker,
            hop.resource_id,
            "" if hop.mtu is None else str(hop.mtu),
            frag,
            hop.rule.note,
        )
    console.print(table)
    console.print(f"verdict: {analysis.verdict.value}", highlight=False)
    if analysis.packet_size and analysis.path_mtu:
        console.print(
            f"packets sent: {analysis.packet_size} bytes; path MTU: {analysis.path_mtu} "
            f"(MSS {analysis.recommended_mss})",
            highlight=False,
        )
    if analysis.no_route_reason:
        console.print(f"no route: {analysis.no_route_reason}", highlight=False)
    for finding in analysis.findings():
        console.print(f"[{finding.severity.value}] {finding.code.value}: {finding.title}", highlight=False)
        if finding.remediation:
            for command in finding.remediation.commands:
                console.print(f"  $ {command}", highlight=False, soft_wrap=True)
    for assumption in analysis.assumptions:
        console.print(f"assumed: {assumption}", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("path")
    def path_command(
        vpc: Annotated[str, typer.Option("--vpc", help="The VPC the path crosses (vpc-…).")],
        source: Annotated[str, typer.Option(help="CIDR, IP, eni-… or a service name.")],
        destination: Annotated[str, typer.Option(help="CIDR, IP, eni-… or a service name (s3).")],
        port: Annotated[int, typer.Option(min=1, max=65535, help="TCP destination port.")] = 443,
        source_mtu: Annotated[
            int | None, typer.Option(min=576, max=9216, help="MTU the sender sends with (a site's WAN MTU).")
        ] = None,
        destination_mtu: Annotated[
            int | None, typer.Option(min=576, max=9216, help="The receiver's MTU, when known.")
        ] = None,
        mss_clamp: Annotated[
            int | None, typer.Option(min=536, max=9176, help="An MSS clamp already in place on the path.")
        ] = None,
        vpn_connection: Annotated[
            str | None, typer.Option("--vpn-connection", help="The VPN the site uses (vpn-…).")
        ] = None,
        profile: ProfileOption = None,
        region: RegionOption = None,
        output: OutputOption = OutputFormat.table,
    ) -> None:
        """Hop MTUs and the PMTUD verdict between a source and a destination (exit 1 on a black hole)."""
        from dropsleuth.aws.topology import collect_topology  # noqa: PLC0415 -- keep CLI start-up light
        from dropsleuth.rules.path import addressable, analyse_path  # noqa: PLC0415

        if not re.fullmatch(r"vpc-[0-9a-f]{8,17}", vpc):
            raise InputError(f"--vpc: not a VPC id: {vpc!r}", field="vpc")
        source_end = parse_endpoint(source, field="source")
        destination_end = parse_endpoint(destination, field="destination")
        connect(profile, region)
        topology = collect_topology(vpc)
        analysis = analyse_path(
            topology,
            addressable(source_end, topology),
            addressable(destination_end, topology),
            port=port,
            source_mtu=source_mtu,
            destination_mtu=destination_mtu,
            mss_clamp=mss_clamp,
            vpn_connection_id=vpn_connection,
        )
        if output is OutputFormat.json:
            print_json(analysis.document())
        else:
            _render_table(analysis)
        problem = analysis.verdict in (Verdict.PMTUD_BLACKHOLE, Verdict.NO_ROUTE)
        raise typer.Exit(EXIT_PROBLEM if problem else EXIT_OK)
