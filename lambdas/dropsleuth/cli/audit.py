"""``dropsleuth audit``: are ICMP frag-needed messages admitted by the NACLs and SGs of a VPC?"""

from __future__ import annotations

from typing import Annotated

import typer

from dropsleuth.audit import audit_report
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
from dropsleuth.model import FindingCode


def audit(
    vpc: Annotated[str, typer.Option("--vpc", help="VPC id, e.g. vpc-0a1b2c3d.")],
    subnet: Annotated[list[str] | None, typer.Option("--subnet", help="Narrow to these subnets.")] = None,
    eni: Annotated[
        list[str] | None, typer.Option("--eni", help="Narrow to these ENIs (and their subnets).")
    ] = None,
    peer_cidr: Annotated[
        list[str] | None,
        typer.Option("--peer-cidr", help="The far ends of the path (default: 0.0.0.0/0 and ::/0)."),
    ] = None,
    output: OutputOption = OutputFormat.table,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """Audit NACLs and security groups for blocked ICMP fragmentation-needed.

    Exits 1 when a NACL blocks frag-needed (a black hole wherever MTUs differ), 0 otherwise. Findings are
    warnings: configuration alone is a risk; `dropsleuth investigate` says whether traffic drops now.
    """
    connect(profile, region)
    report = audit_report(vpc, subnet_ids=subnet or (), eni_ids=eni or (), peer_cidrs=peer_cidr or ())
    render_report(report, output)
    blocking = any(f.code is FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED for f in report.findings)
    raise typer.Exit(EXIT_PROBLEM if blocking else EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
