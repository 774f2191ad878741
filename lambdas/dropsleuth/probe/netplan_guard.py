"""``dropsleuth netplan apply``: a network change as one guarded step, with an automatic way back.

1. **Validate** the new netplan files (YAML, ``network:``) against the site's expected MTUs and today's
   default route (``rules/netplan.py``); changing the interface that carries the default route (the WAN)
   to another MTU than expected is named as such. Any finding refuses the change unless ``force``.
2. **Record** the change (``change_records``, kind ``netplan_apply``, with the ticket) in the agent's state
   file and send it to the site's change log; a record that cannot be sent now goes with the agent's next
   cycle.
3. **Back up** the files it replaces, install the new ones, run the apply command (default
   ``netplan apply``).
4. **Test** for ``duration_s`` (default 5 minutes): DF probes toward every target at the outgoing
   interface's MTU, every ``every_s`` seconds; any black hole, mixed verdict or lost reachability fails it.
   Then, when the site configures an upload test, one large upload: it must finish (a black hole stalls
   large transfers while probes of a fixed size may still pass) and reach ``min_upload_mbps``.
5. **Keep** the change only when the test passed *and* the operator confirmed; otherwise restore the
   backed-up files, run the revert command (default ``netplan apply`` again, over the old files) and record
   a ``netplan_revert`` with the reason. The same safety ``netplan try`` gives, plus the path-MTU check.
"""

from __future__ import annotations

import getpass
import logging
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dropsleuth.aws.errors import AwsError, InputError
from dropsleuth.change_records import ChangeKind, ChangeRecord
from dropsleuth.model import Finding
from dropsleuth.probe.netplan import load_netplan_file
from dropsleuth.probe.pmtu import PmtuResult, ProbeSettings, probe_path
from dropsleuth.rules.netplan import check_netplan, interfaces_of
from dropsleuth.rules.pmtu_verdict import PathVerdict

log = logging.getLogger("dropsleuth.agent.netplan")

DEFAULT_DURATION_S = 300.0
COMMAND_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class GuardTarget:
    address: str
    settings: ProbeSettings = field(default_factory=ProbeSettings)


@dataclass(frozen=True)
class GuardPlan:
    """What to apply, where, checked against what, tested toward which targets."""

    files: tuple[Path, ...]
    netplan_dir: Path
    backup_dir: Path
    expected_mtus: Mapping[str, int]
    targets: tuple[GuardTarget, ...]
    site: str
    host: str
    current_default: str | None = None
    apply_command: tuple[str, ...] = ("netplan", "apply")
    revert_command: tuple[str, ...] = ("netplan", "apply")
    duration_s: float = DEFAULT_DURATION_S
    every_s: float = 5.0
    force: bool = False
    ticket: str | None = None
    min_upload_mbps: float = 0.0
    """With an upload test: the least throughput that keeps the change (0: it must only finish)."""


@dataclass
class GuardOutcome:
    status: str
    """``refused``, ``kept``, ``reverted``."""
    findings: list[Finding] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    """What the new files change, one line per interface setting."""
    test_runs: int = 0
    test_failures: list[str] = field(default_factory=list)
    upload_mbps: float | None = None
    """The post-change upload's throughput, when the site configures an upload test and it finished."""
    reason: str = ""
    records: list[ChangeRecord] = field(default_factory=list)


def _merged(documents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """netplan merges its files in lexical order; for the checks, later files' interfaces win."""
    merged: dict[str, Any] = {"network": {}}
    for document in documents:
        for section, entries in (document.get("network") or {}).items():
            if isinstance(entries, Mapping):
                merged["network"].setdefault(section, {}).update(entries)
            else:
                merged["network"][section] = entries
    return merged


def _installed_documents(
    netplan_dir: Path, replacing: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Every YAML in ``netplan_dir`` as it will be after the change (the new files in their place)."""
    names = sorted({p.name for p in netplan_dir.glob("*.yaml")} | set(replacing))
    documents = []
    for name in names:
        if name in replacing:
            documents.append(dict(replacing[name]))
        else:
            documents.append(load_netplan_file(netplan_dir / name))
    return documents


def describe_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What changes per interface between two merged netplan documents (MTU, presence, default route)."""
    old, new = interfaces_of(before), interfaces_of(after)
    lines = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            lines.append(f"{name} added (mtu {new[name].mtu or 'default'})")
        elif name not in new:
            lines.append(f"{name} removed")
        else:
            if old[name].mtu != new[name].mtu:
                lines.append(f"{name} mtu {old[name].mtu or 'default'} -> {new[name].mtu or 'default'}")
            if old[name].default_route != new[name].default_route:
                lines.append(f"{name} default route {'added' if new[name].default_route else 'removed'}")
    return lines


def validate(plan: GuardPlan) -> tuple[list[Finding], list[str], dict[str, Any], dict[str, Any]]:
    """Findings for the change, the per-interface lines, and the merged configuration before and after."""
    replacing = {path.name: load_netplan_file(path) for path in plan.files}
    before = _merged([load_netplan_file(p) for p in sorted(plan.netplan_dir.glob("*.yaml"))])
    after = _merged(_installed_documents(plan.netplan_dir, replacing))
    findings = check_netplan(after, plan.expected_mtus, plan.current_default)
    if plan.current_default:
        wan = interfaces_of(after).get(plan.current_default)
        want = plan.expected_mtus.get(plan.current_default)
        if wan is not None and wan.mtu is not None and want is not None and wan.mtu != want:
            wan_text = (
                f"you are changing {plan.current_default}, the WAN interface (it carries the default route), "
                f"to MTU {wan.mtu}; the site expects {want}"
            )
            findings = [
                f.model_copy(update={"title": f"{wan_text}. {f.title}"})
                if plan.current_default in f.resource_ids
                else f
                for f in findings
            ]
    return findings, describe_changes(before, after), before, after


def _run(command: Sequence[str]) -> str | None:
    """Run an apply/revert command; None when it succeeded, else why it did not."""
    try:
        done = subprocess.run(  # noqa: S603 -- the operator's configured command, no shell
            list(command), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        return f"{command[0]}: command not found"
    except subprocess.TimeoutExpired:
        return f"{' '.join(command)} did not finish within {COMMAND_TIMEOUT_S:g} s"
    if done.returncode != 0:
        return f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-300:]}"
    return None


def post_change_test(
    targets: Sequence[GuardTarget],
    *,
    duration_s: float,
    every_s: float,
    probe: Callable[[str, ProbeSettings], PmtuResult] = probe_path,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, list[str]]:
    """Probe every target every ``every_s`` seconds for ``duration_s``: (rounds, failures)."""
    started = clock()
    rounds = 0
    failures: list[str] = []
    while True:
        rounds += 1
        for target in targets:
            try:
                result = probe(target.address, target.settings)
            except (OSError, InputError) as error:
                failures.append(f"t+{clock() - started:.0f}s {target.address}: probe failed: {error}")
                continue
            if result.verdict.verdict is not PathVerdict.WORKS:
                failures.append(
                    f"t+{clock() - started:.0f}s {target.address} via {result.interface} (MTU "
                    f"{result.interface_mtu}): {result.verdict.verdict.value}: {result.verdict.explanation}"
                )
        if failures:
            return rounds, failures  # no reason to keep a broken change any longer
        remaining = duration_s - (clock() - started)
        if remaining <= 0:
            return rounds, failures
        sleep(min(every_s, remaining))


def upload_test(upload: Callable[[], float], *, min_mbps: float) -> tuple[float | None, str | None]:
    """One large upload after the change: (megabits per second, None) or (what it measured, why it fails)."""
    try:
        mbps = upload()
    except (OSError, AwsError, InputError) as error:
        return None, f"the upload test did not finish: {error}"
    if mbps < min_mbps:
        return mbps, f"the upload test reached {mbps:.1f} Mbps, below the {min_mbps:g} Mbps required"
    return mbps, None


def _record(plan: GuardPlan, kind: ChangeKind, summary: str, before: Any, after: Any) -> ChangeRecord:
    return ChangeRecord(
        site=plan.site,
        host=plan.host,
        at=datetime.now(UTC),
        kind=kind,
        before=before,
        after=after,
        actor=f"dropsleuth netplan apply by {getpass.getuser()}",
        ticket=plan.ticket,
        summary=f"{plan.host}: {summary}",
    )


def apply_guarded(
    plan: GuardPlan,
    *,
    confirm: Callable[[], bool],
    record: Callable[[ChangeRecord], None],
    probe: Callable[[str, ProbeSettings], PmtuResult] = probe_path,
    run: Callable[[Sequence[str]], str | None] = _run,
    sleep: Callable[[float], None] = time.sleep,
    upload: Callable[[], float] | None = None,
) -> GuardOutcome:
    """Validate, record, apply, test, and keep or revert (see the module's docstring).

    ``upload``: the site's upload test (returns megabits per second), run once after the probes passed."""
    if not plan.targets:
        raise InputError(
            "no probe targets: the post-change test would test nothing (site.yaml targets, or --target)",
            field="target",
        )
    findings, changes, _, _ = validate(plan)
    outcome = GuardOutcome("refused", findings=findings, changes=changes)
    if findings and not plan.force:
        outcome.reason = "the change fails validation (use --force to apply it anyway, under test)"
        return outcome
    what = "; ".join(changes) or "no interface setting changes"
    files = ", ".join(p.name for p in plan.files)
    applied = _record(plan, "netplan_apply", f"netplan apply of {files}: {what}", None, changes)
    record(applied)
    outcome.records.append(applied)
    backups = _back_up(plan)
    for path in plan.files:
        shutil.copyfile(path, plan.netplan_dir / path.name)
    failure = run(plan.apply_command)
    if failure is None:
        outcome.test_runs, outcome.test_failures = post_change_test(
            plan.targets, duration_s=plan.duration_s, every_s=plan.every_s, probe=probe, sleep=sleep
        )
        if not outcome.test_failures and upload is not None:
            outcome.upload_mbps, upload_failure = upload_test(upload, min_mbps=plan.min_upload_mbps)
            if upload_failure:
                outcome.test_failures.append(upload_failure)
        if outcome.test_failures:
            failure = f"the post-change test failed: {outcome.test_failures[0]}"
        elif not confirm():
            failure = "the operator did not confirm the change"
    else:
        failure = f"the apply command failed: {failure}"
    if failure is None:
        outcome.status = "kept"
        return outcome
    _restore(plan, backups)
    revert_failure = run(plan.revert_command)
    outcome.status = "reverted"
    outcome.reason = failure + (
        f"; and the revert command failed too: {revert_failure}" if revert_failure else ""
    )
    reverted = _record(
        plan, "netplan_revert", f"netplan change of {files} reverted: {failure}", changes, None
    )
    record(reverted)
    outcome.records.append(reverted)
    return outcome


def _back_up(plan: GuardPlan) -> dict[str, Path | None]:
    """Copy each file about to be replaced into a new backup directory; None: the file is new."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    directory = plan.backup_dir / stamp
    directory.mkdir(parents=True, exist_ok=False)
    backups: dict[str, Path | None] = {}
    for path in plan.files:
        installed = plan.netplan_dir / path.name
        if installed.exists():
            backups[path.name] = Path(shutil.copy2(installed, directory / path.name))
        else:
            backups[path.name] = None
    log.info("netplan files backed up to %s", directory)
    return backups


def _restore(plan: GuardPlan, backups: Mapping[str, Path | None]) -> None:
    for name, saved in backups.items():
        installed = plan.netplan_dir / name
        if saved is None:
            installed.unlink(missing_ok=True)
        else:
            shutil.copy2(saved, installed)
