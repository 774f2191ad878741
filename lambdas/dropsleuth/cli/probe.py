"""``dropsleuth probe …`` (the host-side agent) and ``dropsleuth netplan-check``.

Exit codes: 0 ok, 1 a problem worth a page (black hole, blocked ICMP, wrong MTU, a failed post-change
test), 2 bad input, 3 AWS refused or failed, 4 unknown: the check could not read what it checks (the
reason is printed; never an all-clear).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dropsleuth.aws.errors import InputError
from dropsleuth.cli.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_UNKNOWN,
    LightGroup,
    OutputFormat,
    OutputOption,
    ProfileOption,
    RegionOption,
    connect,
    print_json,
)
from dropsleuth.rules.pmtu_verdict import PathVerdict

if TYPE_CHECKING:  # pydantic's models load with the checks that return findings, not at start-up
    from dropsleuth.model import Finding

probe_app = typer.Typer(
    name="probe",
    help="The host-side agent: path-MTU probes, interfaces, counters, firewall, upload, the scheduled agent.",
    no_args_is_help=True,
    rich_markup_mode=None,
    cls=LightGroup,
)


netplan_app = typer.Typer(
    name="netplan",
    help="Guarded netplan changes: validate, record, apply, test the path MTU, revert on failure.",
    no_args_is_help=True,
    rich_markup_mode=None,
    cls=LightGroup,
)


def register(app: typer.Typer) -> None:
    app.add_typer(probe_app, name="probe")
    app.add_typer(netplan_app, name="netplan")
    app.command("netplan-check", help="Check a netplan file before applying it.")(netplan_check)


def _emit(output: OutputFormat, data: dict[str, Any], lines: list[str]) -> None:
    if output is OutputFormat.json:
        print_json(data)
    else:
        for line in lines:
            typer.echo(line)


def _finding_lines(findings: list[Finding] | tuple[Finding, ...]) -> list[str]:
    lines = []
    for f in findings:
        lines.append(f"[{f.severity.value}] {f.code.value}: {f.title}")
        if f.detail:
            lines.append(f"    {f.detail}")
        if f.remediation:
            lines.extend(f"    fix: {command}" for command in f.remediation.commands)
            if not f.remediation.commands:
                lines.append(f"    fix: {f.remediation.summary}")
    return lines


def _expectations(items: list[str] | None) -> dict[str, int]:
    from dropsleuth.probe.interfaces import parse_expectations  # noqa: PLC0415 -- keep CLI start fast

    try:
        return parse_expectations(items or [])
    except ValueError as error:
        raise InputError(f"--expect: {error}", field="expect") from error


@probe_app.command("pmtu")
def pmtu_command(
    target: Annotated[str, typer.Argument(help="An IP address or host name.")],
    mode: Annotated[
        str, typer.Option("--mode", help="icmp (no server needed), udp or tcp (responder).")
    ] = "icmp",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="The responder's port.")] = 4821,
    locate: Annotated[
        bool, typer.Option("--locate/--no-locate", help="Find the hop where large packets die.")
    ] = True,
    ceiling: Annotated[
        int | None, typer.Option("--max-size", help="Largest size to try (default: interface MTU).")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> int:
    """DF probes toward TARGET: path MTU, and whether PMTUD works or black-holes."""
    from dropsleuth.probe import pmtu  # noqa: PLC0415

    try:
        chosen = pmtu.Mode(mode)
    except ValueError as error:
        raise InputError(f"--mode must be icmp, udp or tcp, not {mode!r}", field="mode") from error
    result = pmtu.probe_path(
        target, pmtu.ProbeSettings(mode=chosen, port=port, locate_hop=locate, ceiling=ceiling)
    )
    verdict = result.verdict
    lines = [
        (
            f"target {result.target} via {result.interface or '?'} (MTU {result.interface_mtu}), "
            f"{result.mode.value} probes ({result.socket_kind})"
        ),
        f"verdict: {verdict.verdict.value.upper().replace('_', ' ')}"
        + (f", path MTU {verdict.path_mtu}" if verdict.path_mtu else ""),
        f"  {verdict.explanation}",
    ]
    if result.location is not None:
        lines.append(f"  where: {result.location.explanation}")
    lines.append(
        f"  {len(result.probes)} probes in {result.rounds} rounds, verdict after {result.verdict_s:.2f} s"
    )
    _emit(output, result.to_dict(), lines)
    return EXIT_OK if verdict.verdict is PathVerdict.WORKS else EXIT_PROBLEM


@probe_app.command("responder")
def responder_command(
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 4821,
    bind: Annotated[str, typer.Option("--bind", help="Address to listen on (:: for IPv4 and IPv6).")] = "::",
    duration: Annotated[float | None, typer.Option("--duration", help="Stop after N seconds.")] = None,
) -> int:
    """Answer UDP and TCP probes (run it at the far end of the path)."""
    from dropsleuth.probe.pmtu import Responder  # noqa: PLC0415

    try:
        responder = Responder(bind, port)
    except OSError as error:
        raise InputError(f"cannot listen on [{bind}]:{port}: {error.strerror}", field="port") from error
    typer.echo(f"answering probes on [{bind}]:{responder.port} (udp and tcp)", err=True)
    try:
        responder.serve(duration)
    except KeyboardInterrupt:
        responder.stop()
    return EXIT_OK


@probe_app.command("interfaces")
def interfaces_command(
    expect: Annotated[list[str] | None, typer.Option("--expect", help="IFACE=MTU, repeatable.")] = None,
    output: OutputOption = OutputFormat.table,
) -> int:
    """Each interface's MTU, checked against the expected ones."""
    from dropsleuth.probe import interfaces  # noqa: PLC0415

    expected = _expectations(expect)
    states = interfaces.list_interfaces()
    default = interfaces.default_route_interfaces()
    present = {s.name for s in states}
    # An expected interface that is not there cannot be checked: unknown, with the reason, not a pass.
    vanished = sorted(name for name in expected if name not in present)
    found = interfaces.check_interfaces(states, {k: v for k, v in expected.items() if k in present}, default)
    lines = [
        f"{s.name:<16} mtu {s.mtu:<6} {'up' if s.up else 'down'}"
        + (f"  expected {expected[s.name]}" if s.name in expected else "")
        + ("  (default route)" if s.name in default else "")
        for s in states
    ]
    unknown = [
        f"UNKNOWN: {name} is not present (vanished or renamed?): its MTU cannot be checked; present: "
        f"{', '.join(sorted(present)) or 'none'}"
        for name in vanished
    ]
    data = {
        "interfaces": [s.__dict__ for s in states],
        "default_route": default,
        "findings": [f.model_dump(mode="json") for f in found],
        "unknown": vanished,
    }
    _emit(output, data, lines + _finding_lines(found) + unknown)
    return EXIT_PROBLEM if found else EXIT_UNKNOWN if vanished else EXIT_OK


@probe_app.command("counters")
def counters_command(
    interval: Annotated[
        float, typer.Option("--interval", min=0, help="Seconds between the two readings.")
    ] = 0,
    install_counter: Annotated[
        bool,
        typer.Option("--install-counter", help="Add the exact frag-needed counting rule (nft/iptables)."),
    ] = False,
    remove_counter: Annotated[
        bool, typer.Option("--remove-counter", help="Remove that rule and exit.")
    ] = False,
    output: OutputOption = OutputFormat.table,
) -> int:
    """Frag-needed received, TCP retransmissions, overflows, interface drops (totals, or deltas)."""
    import time  # noqa: PLC0415

    from dropsleuth.probe import counters  # noqa: PLC0415

    if install_counter and remove_counter:
        raise InputError("give --install-counter or --remove-counter, not both", field="install_counter")
    if remove_counter:
        removed = counters.remove_counter()
        _emit(
            output,
            {"removed": removed},
            ["counting rule removed" if removed else "no counting rule was installed"],
        )
        return EXIT_OK
    backend = counters.install_counter() if install_counter else None
    first = counters.snapshot()
    data: dict[str, Any]
    values: dict[str, int]
    if interval > 0:
        time.sleep(interval)
        data = counters.deltas(first, counters.snapshot())
        values = dict(data["counters"])
    else:
        data = {
            "counters": first.values,
            "interfaces": first.interfaces,
            "frag_needed_exact": first.frag_needed_exact,
        }
        values = first.values
    data["notes"] = list(first.notes)
    if backend:
        data["counter_backend"] = backend
    label = "exact" if first.frag_needed_exact else "approximate"
    lines = [
        f"{name:<24} {value}" + (f"  ({label})" if name == "frag_needed" else "")
        for name, value in values.items()
    ]
    lines += [f"note: {n}" for n in first.notes]
    data["unread"] = list(first.unread)
    if first.unread:
        lines += [f"UNKNOWN: {reason}: those counters are not known (not zero)" for reason in first.unread]
    _emit(output, data, lines)
    return EXIT_UNKNOWN if first.unread else EXIT_OK


@probe_app.command("firewall")
def firewall_command(output: OutputOption = OutputFormat.table) -> int:
    """Check this host's iptables and nft rules for drops of ICMP frag-needed / Packet Too Big."""
    from dropsleuth.probe.firewall import check_firewall  # noqa: PLC0415

    check = check_firewall()
    lines = [f"read: {', '.join(check.sources) or 'nothing'}"] + [f"note: {n}" for n in check.notes]
    lines += [f"not read: {reason}" for reason in check.unread]
    if check.status == "unknown":
        lines.append(
            "UNKNOWN: could not read every ruleset, so no all-clear (run as root or with CAP_NET_ADMIN)"
        )
    lines += _finding_lines(check.findings) or (
        ["no rule drops frag-needed / Packet Too Big"] if check.status == "clear" else []
    )
    data = {
        "status": check.status,
        "sources": list(check.sources),
        "notes": list(check.notes),
        "unread": list(check.unread),
        "findings": [f.model_dump(mode="json") for f in check.findings],
    }
    _emit(output, data, lines)
    return {"blocked": EXIT_PROBLEM, "unknown": EXIT_UNKNOWN}.get(check.status, EXIT_OK)


@probe_app.command("upload")
def upload_command(
    bucket: Annotated[str, typer.Option("--bucket", help="A bucket the test object may be written to.")],
    size: Annotated[str, typer.Option("--size", help="Payload size, e.g. 16MiB.")] = "16MiB",
    min_mbps: Annotated[
        float | None, typer.Option("--min-mbps", help="Exit 1 below this throughput.")
    ] = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    output: OutputOption = OutputFormat.table,
) -> int:
    """Upload a large object to S3 (multipart), report megabits per second, delete it."""
    from dropsleuth.probe import upload  # noqa: PLC0415

    connect(profile, region)
    result = upload.measure_upload(bucket, size_bytes=upload.parse_size(size))
    data = {**result.__dict__, "mbps": round(result.mbps, 3)}
    lines = [
        (
            f"uploaded {result.bytes} bytes in {result.parts} parts in {result.seconds:.2f} s: "
            f"{result.mbps:.1f} Mbps"
        ),
        "test object deleted" if result.deleted else f"could not delete s3://{bucket}/{result.key}",
    ]
    _emit(output, data, lines)
    return EXIT_PROBLEM if min_mbps is not None and result.mbps < min_mbps else EXIT_OK


@probe_app.command("post-change")
def post_change_command(
    target: Annotated[str, typer.Option("--target", help="Address to test large payloads toward.")],
    duration: Annotated[float, typer.Option("--duration", min=1, help="Seconds to keep testing.")] = 300,
    every: Annotated[float, typer.Option("--every", min=1, help="Seconds between tests.")] = 5,
    mode: Annotated[str, typer.Option("--mode", help="icmp, udp or tcp.")] = "icmp",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 4821,
    output: OutputOption = OutputFormat.table,
) -> int:
    """After a change: large-payload probes for --duration seconds; exit 1 loudly on any failure."""
    from dropsleuth.probe import pmtu  # noqa: PLC0415
    from dropsleuth.probe.postchange import post_change  # noqa: PLC0415

    try:
        chosen = pmtu.Mode(mode)
    except ValueError as error:
        raise InputError(f"--mode must be icmp, udp or tcp, not {mode!r}", field="mode") from error
    report = post_change(
        target, duration_s=duration, every_s=every, settings=pmtu.ProbeSettings(mode=chosen, port=port)
    )
    data = {
        "target": target,
        "runs": report.runs,
        "failures": report.failures,
        "path_mtus": sorted(report.path_mtus),
    }
    if report.ok:
        lines = [
            (
                f"OK: {report.runs} large-payload tests toward {target} passed "
                f"(path MTU {sorted(report.path_mtus)})"
            )
        ]
    else:
        lines = [f"FAILED: {len(report.failures)} of {report.runs} tests toward {target} failed:"]
        lines += [f"  {f}" for f in report.failures]
    _emit(output, data, lines)
    if not report.ok and output is not OutputFormat.json:
        typer.echo(f"dropsleuth: post-change test FAILED toward {target}", err=True)
    return EXIT_OK if report.ok else EXIT_PROBLEM


@probe_app.command("run")
def run_command(
    config: Annotated[Path, typer.Option("--config", help="site.yaml")],
    interval: Annotated[int | None, typer.Option("--interval", min=1, help="Seconds between cycles.")] = None,
    cycles: Annotated[
        int | None, typer.Option("--cycles", min=1, help="Stop after N cycles (timer use: 1).")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="One cycle (same as --cycles 1).")] = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> int:
    """Run the probes on a schedule and publish them to CloudWatch, spooling while it is unreachable."""
    import logging  # noqa: PLC0415

    from dropsleuth.probe import agent  # noqa: PLC0415

    # The journal stamps each line with the time and unit: level, logger and message are what it lacks.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = agent.load_config(config)
    connect(profile, region or settings.region)
    results = agent.run(settings, cycles=1 if once else cycles, interval_s=interval)
    for result in results:
        typer.echo(json.dumps(agent.summary(result)), err=True)
    return EXIT_OK


def netplan_check(
    file: Annotated[Path, typer.Argument(help="The netplan YAML about to be applied.")],
    expect: Annotated[list[str] | None, typer.Option("--expect", help="IFACE=MTU, repeatable.")] = None,
    default_interface: Annotated[
        str | None,
        typer.Option("--default-interface", help="Today's default-route interface (default: read)."),
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> int:
    """Check a netplan file: MTU on the wrong interface, VLAN above its parent, default route moved."""
    from dropsleuth.probe.netplan import check_file  # noqa: PLC0415

    found = check_file(file, _expectations(expect), current_default=default_interface)
    data = {"file": str(file), "findings": [f.model_dump(mode="json") for f in found]}
    _emit(output, data, _finding_lines(found) or [f"{file}: no MTU or default-route problem found"])
    return EXIT_PROBLEM if found else EXIT_OK


def _ask_to_keep(timeout_s: float) -> bool:
    """Ask on the terminal whether to keep the change; no answer within ``timeout_s`` is a no."""
    import select  # noqa: PLC0415
    import sys  # noqa: PLC0415

    typer.echo(
        f"Keep this change? Type 'yes' within {timeout_s:.0f} s, anything else (or nothing) reverts it: ",
        err=True,
        nl=False,
    )
    if not sys.stdin.isatty():
        typer.echo("(no terminal: not confirmed)", err=True)
        return False
    ready, _, _ = select.select([sys.stdin], [], [], timeout_s)
    answer = sys.stdin.readline().strip().lower() if ready else ""
    return answer in {"y", "yes"}


@netplan_app.command("apply")
def netplan_apply_command(
    files: Annotated[list[Path], typer.Argument(help="The new netplan YAML file(s) to install.")],
    config: Annotated[
        Path, typer.Option("--config", help="The agent's site.yaml: site, expected MTUs, probe targets.")
    ] = Path("/etc/dropsleuth/site.yaml"),
    netplan_dir: Annotated[Path, typer.Option("--netplan-dir", help="Where the files are installed.")] = Path(
        "/etc/netplan"
    ),
    backup_dir: Annotated[Path, typer.Option("--backup-dir", help="Where replaced files are kept.")] = Path(
        "/var/lib/dropsleuth/netplan-backups"
    ),
    expect: Annotated[
        list[str] | None, typer.Option("--expect", help="IFACE=MTU, repeatable (adds to site.yaml's).")
    ] = None,
    target: Annotated[
        list[str] | None, typer.Option("--target", help="Address to test toward (adds to site.yaml's).")
    ] = None,
    default_interface: Annotated[
        str | None,
        typer.Option("--default-interface", help="Today's default-route interface (default: read)."),
    ] = None,
    ticket: Annotated[str | None, typer.Option("--ticket", help="The change ticket, recorded.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Apply even when validation fails (still tested, reverted).")
    ] = False,
    duration: Annotated[
        float, typer.Option("--test-duration", min=1, help="Seconds of post-change testing.")
    ] = 300,
    every: Annotated[float, typer.Option("--every", min=0.1, help="Seconds between test rounds.")] = 5,
    yes: Annotated[
        bool, typer.Option("--yes", help="Keep the change when the test passes, without asking.")
    ] = False,
    confirm_timeout: Annotated[
        float, typer.Option("--confirm-timeout", min=1, help="Seconds to wait for the operator's yes.")
    ] = 120,
    apply_command: Annotated[
        str, typer.Option("--apply-command", help="Applies the files (split like a shell, not run by one).")
    ] = "netplan apply",
    revert_command: Annotated[
        str, typer.Option("--revert-command", help="Applies the restored files.")
    ] = "netplan apply",
    min_upload_mbps: Annotated[
        float,
        typer.Option("--min-upload-mbps", min=0, help="With site.yaml's upload test: the least to keep it."),
    ] = 0.0,
    output: OutputOption = OutputFormat.table,
) -> int:
    """Validate, record, apply, test DF probes for --test-duration, keep on success, else revert."""
    import shlex  # noqa: PLC0415
    import socket  # noqa: PLC0415
    import time  # noqa: PLC0415

    from dropsleuth.probe import agent  # noqa: PLC0415
    from dropsleuth.probe.changelog import ChangeLogWriter  # noqa: PLC0415
    from dropsleuth.probe.counters import read_boot_id  # noqa: PLC0415
    from dropsleuth.probe.interfaces import default_route_interfaces  # noqa: PLC0415
    from dropsleuth.probe.netplan_guard import GuardPlan, GuardTarget, apply_guarded  # noqa: PLC0415
    from dropsleuth.probe.pmtu import ProbeSettings  # noqa: PLC0415

    settings = agent.load_config(config)
    if not netplan_dir.is_dir():
        raise InputError(f"--netplan-dir {netplan_dir} is not a directory", field="netplan_dir")
    targets = [GuardTarget(t.address, ProbeSettings(mode=t.mode, port=t.port)) for t in settings.targets]
    targets += [GuardTarget(address) for address in target or []]
    if default_interface is None:
        defaults = default_route_interfaces()
        default_interface = defaults[0] if defaults else None
    plan = GuardPlan(
        files=tuple(files),
        netplan_dir=netplan_dir,
        backup_dir=backup_dir,
        expected_mtus={**settings.expected_mtus, **_expectations(expect)},
        targets=tuple(targets),
        site=settings.site,
        host=settings.host or socket.gethostname(),
        current_default=default_interface,
        apply_command=tuple(shlex.split(apply_command)),
        revert_command=tuple(shlex.split(revert_command)),
        duration_s=duration,
        every_s=every,
        force=force,
        ticket=ticket,
        min_upload_mbps=min_upload_mbps,
    )
    upload_test = None
    if settings.upload is not None:
        from dropsleuth.probe import upload  # noqa: PLC0415

        configured = settings.upload

        def upload_test() -> float:
            return upload.measure_upload(
                configured.bucket,
                size_bytes=upload.parse_size(configured.size),
                key_prefix=upload.site_prefix(settings.site),
            ).mbps

    # The agent's own state file (its pending change records): loaded so its counter snapshot is kept.
    state = agent.AgentState.load(
        agent.state_path(settings), boot_id=read_boot_id(), now=time.time(), max_age_s=float("inf")
    )
    writer = ChangeLogWriter(plan.site, plan.host)

    def record(change: Any) -> None:
        # Queued in the agent's state first (durable), then sent; what cannot be sent now goes with the
        # agent's next cycle.
        state.pending_changes.append(change.model_dump(mode="json", by_alias=True))
        state.save()
        if agent.send_changes(state, writer) == 0 and state.pending_changes:
            typer.echo(f"note: change record queued in {state.path} (not sent yet)", err=True)
            state.save()

    outcome = apply_guarded(plan, confirm=(lambda: True) if yes else lambda: _ask_to_keep(confirm_timeout),
                            record=record, upload=upload_test)  # fmt: skip
    data = {
        "status": outcome.status,
        "reason": outcome.reason,
        "changes": outcome.changes,
        "findings": [f.model_dump(mode="json") for f in outcome.findings],
        "test_runs": outcome.test_runs,
        "test_failures": outcome.test_failures,
        "upload_mbps": outcome.upload_mbps,
        "records": [r.model_dump(mode="json", by_alias=True) for r in outcome.records],
    }
    lines = [f"changes: {line}" for line in outcome.changes] + _finding_lines(outcome.findings)
    lines += [f"test: {failure}" for failure in outcome.test_failures]
    lines.append(
        {
            "refused": f"REFUSED: {outcome.reason}",
            "kept": f"KEPT: {outcome.test_runs} test rounds passed toward "
            f"{', '.join(t.address for t in plan.targets)}"
            + (f"; upload test {outcome.upload_mbps:.1f} Mbps" if outcome.upload_mbps is not None else ""),
            "reverted": f"REVERTED: {outcome.reason}",
        }[outcome.status]
    )
    _emit(output, data, lines)
    return EXIT_OK if outcome.status == "kept" else EXIT_PROBLEM
