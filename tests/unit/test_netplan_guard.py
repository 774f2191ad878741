"""The netplan guard's decisions without a network: keep only a tested *and* confirmed change; restore the
files exactly; record apply and revert. The lab test does it for real (tests/netns/test_netplan_guard_lab.py).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from dropsleuth.aws.errors import AwsTimeoutError, InputError
from dropsleuth.change_records import ChangeRecord
from dropsleuth.probe import pmtu
from dropsleuth.probe.netplan_guard import GuardPlan, GuardTarget, apply_guarded
from dropsleuth.rules.pmtu_verdict import PathVerdict, PmtuVerdict

OLD = "network:\n  version: 2\n  ethernets:\n    eno1: {mtu: 1500}\n"
NEW = "network:\n  version: 2\n  ethernets:\n    eno1: {mtu: 1500}\n    eno2: {mtu: 9000}\n"


def _works(target: str, settings: pmtu.ProbeSettings) -> pmtu.PmtuResult:
    verdict = PmtuVerdict(PathVerdict.WORKS, 1500, 1500, None)
    return pmtu.PmtuResult(target, socket.AF_INET, settings.mode, "eno1", 1500, verdict, (), 1, 0.0)


def _plan(tmp_path: Path, **changes: object) -> GuardPlan:
    (tmp_path / "netplan").mkdir(exist_ok=True)
    (tmp_path / "netplan" / "50-site.yaml").write_text(OLD)
    new = tmp_path / "50-site.yaml"
    new.write_text(NEW)
    fields: dict[str, object] = {
        "files": (new,), "netplan_dir": tmp_path / "netplan", "backup_dir": tmp_path / "backups",
        "expected_mtus": {"eno1": 1500}, "targets": (GuardTarget("192.0.2.10"),), "site": "plant-7",
        "host": "edge", "current_default": "eno1", "duration_s": 2, "every_s": 1, "ticket": "CHG-1",
    }  # fmt: skip
    fields.update(changes)
    return GuardPlan(**fields)  # type: ignore[arg-type]


def _guard(plan: GuardPlan, *, confirmed: bool) -> tuple[object, list[ChangeRecord], list[Sequence[str]]]:
    records: list[ChangeRecord] = []
    commands: list[Sequence[str]] = []

    def run(command: Sequence[str]) -> str | None:
        commands.append(tuple(command))
        return None

    outcome = apply_guarded(
        plan, confirm=lambda: confirmed, record=records.append, probe=_works, run=run, sleep=lambda _s: None
    )
    return outcome, records, commands


def test_a_tested_and_confirmed_change_is_kept(tmp_path: Path) -> None:
    outcome, records, commands = _guard(_plan(tmp_path), confirmed=True)
    assert outcome.status == "kept"  # type: ignore[attr-defined]
    assert (tmp_path / "netplan" / "50-site.yaml").read_text() == NEW
    assert commands == [("netplan", "apply")]
    assert [r.kind for r in records] == ["netplan_apply"]
    assert records[0].summary == "edge: netplan apply of 50-site.yaml: eno2 added (mtu 9000)"


def test_a_change_the_operator_does_not_confirm_is_reverted(tmp_path: Path) -> None:
    outcome, records, commands = _guard(_plan(tmp_path), confirmed=False)
    assert outcome.status == "reverted"  # type: ignore[attr-defined]
    assert outcome.reason == "the operator did not confirm the change"  # type: ignore[attr-defined]
    assert (tmp_path / "netplan" / "50-site.yaml").read_text() == OLD
    assert commands == [("netplan", "apply"), ("netplan", "apply")]
    assert [(r.kind, r.ticket) for r in records] == [("netplan_apply", "CHG-1"), ("netplan_revert", "CHG-1")]


def test_a_new_file_is_removed_on_revert(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    extra = tmp_path / "60-cameras.yaml"
    extra.write_text("network:\n  version: 2\n  ethernets:\n    eno2: {mtu: 9000}\n")
    outcome, _, _ = _guard(_plan(tmp_path, files=(*plan.files, extra)), confirmed=False)
    assert outcome.status == "reverted"  # type: ignore[attr-defined]
    assert not (tmp_path / "netplan" / "60-cameras.yaml").exists()


def test_without_targets_nothing_is_applied(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no probe targets"):
        _guard(_plan(tmp_path, targets=()), confirmed=True)
    assert (tmp_path / "netplan" / "50-site.yaml").read_text() == OLD


def _guard_with_upload(plan: GuardPlan, upload: Callable[[], float]) -> object:
    return apply_guarded(
        plan, confirm=lambda: True, record=lambda _r: None, probe=_works, run=lambda _c: None,
        sleep=lambda _s: None, upload=upload,
    )  # fmt: skip


def test_the_site_upload_test_runs_after_the_probes_and_keeps_a_good_change(tmp_path: Path) -> None:
    outcome = _guard_with_upload(_plan(tmp_path), lambda: 41.5)
    assert outcome.status == "kept"  # type: ignore[attr-defined]
    assert outcome.upload_mbps == 41.5  # type: ignore[attr-defined]


def test_an_upload_that_does_not_finish_reverts_the_change_although_the_probes_passed(tmp_path: Path) -> None:
    def stalled() -> float:
        raise AwsTimeoutError("UploadPart: read timeout")

    outcome = _guard_with_upload(_plan(tmp_path), stalled)
    assert outcome.status == "reverted"  # type: ignore[attr-defined]
    assert "the upload test did not finish" in outcome.reason  # type: ignore[attr-defined]
    assert (tmp_path / "netplan" / "50-site.yaml").read_text() == OLD


def test_an_upload_below_the_minimum_reverts_the_change(tmp_path: Path) -> None:
    outcome = _guard_with_upload(_plan(tmp_path, min_upload_mbps=10.0), lambda: 1.8)
    assert outcome.status == "reverted"  # type: ignore[attr-defined]
    assert "1.8 Mbps, below the 10 Mbps required" in outcome.reason  # type: ignore[attr-defined]
