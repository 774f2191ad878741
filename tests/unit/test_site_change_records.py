"""Site change records (pure): what the agent observes between two snapshots, the one format, and how the
investigation turns the agent's measurements into INTERFACE_MTU_UNEXPECTED and black-hole evidence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from dropsleuth.change_records import SCHEMA, ChangeRecordError, observed_changes, parse_record
from dropsleuth.metrics_catalog import change_log_group, target_dimension
from dropsleuth.model import FindingCode, Severity
from dropsleuth.rules.path import choose_source_mtu
from dropsleuth.rules.site_measurements import interface_mtu_findings, value_at

T0 = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def _host(mtu: int = 1500, *, up: bool = True, addresses: tuple[str, ...] = ("192.0.2.1/24",),
          default: tuple[str, ...] = ("eno1",)) -> dict[str, object]:  # fmt: skip
    return {
        "interfaces": {"eno1": {"mtu": mtu, "up": up, "addresses": list(addresses)}},
        "default_route": list(default),
    }


def _observe(before: dict[str, object], after: dict[str, object]) -> list[tuple[str, object, object]]:
    records = observed_changes(before, after, site="s", host="h", at=T0, since=T0 - timedelta(minutes=1))
    return [(r.kind, r.before, r.after) for r in records]


def test_nothing_changed_is_no_record() -> None:
    assert _observe(_host(), _host()) == []


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (_host(9000), [("interface_mtu", 1500, 9000)]),
        (_host(up=False), [("interface_link", True, False)]),
        (_host(addresses=("192.0.2.7/24",)), [("interface_addresses", ["192.0.2.1/24"], ["192.0.2.7/24"])]),
        (_host(default=()), [("default_route", ["eno1"], [])]),
        (
            {"interfaces": {}, "default_route": ["eno1"]},
            [("interface_removed", _host()["interfaces"]["eno1"], None)],
        ),  # type: ignore[index]
    ],
)
def test_each_kind_of_change_is_one_record(after: dict[str, object], expected: list[object]) -> None:
    assert _observe(_host(), after) == expected


def test_a_record_round_trips_through_its_one_line_form() -> None:
    (record,) = observed_changes(_host(), _host(9000), site="plant-7", host="edge", at=T0, since=None)
    assert record.summary == "edge: interface eno1 MTU changed from 1500 to 9000"
    line = record.to_json()
    assert json.loads(line)["schema"] == SCHEMA
    assert parse_record(line) == record


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ("not json", "not JSON"),
        (json.dumps({"eventSource": "site.dropsleuth", "eventName": "SetInterfaceMtu"}), "not a dropsleuth"),
        (json.dumps({"schema": SCHEMA, "site": "s"}), "host"),
        (
            json.dumps({"schema": SCHEMA, "site": "s", "host": "h", "at": "2026-12-07T05:00:00", "kind":
                        "interface_mtu", "actor": "a", "summary": "x"}),
            "time zone",
        ),
    ],
)  # fmt: skip
def test_anything_else_is_refused_with_the_reason(message: str, why: str) -> None:
    with pytest.raises(ChangeRecordError, match=why):
        parse_record(message)


def test_the_contract_names() -> None:
    assert change_log_group("plant-7") == "/dropsleuth/site-changes/plant-7"
    assert target_dimension(" 10.40.1.10 ") == "10.40.1.10"
    assert target_dimension("2001:DB8::1") == "2001:db8::1"


def test_the_measured_mtu_is_the_senders_and_says_so() -> None:
    mtu, why = choose_source_mtu(expected_mtus={"eno1": 1500}, measured_mtus={"eno1": 9000}, wan_mtu=1500)
    assert mtu == 9000
    assert why == "the host agent measured eno1 at 9000 (InterfaceMtu), the registry expects 1500"
    mtu, why = choose_source_mtu(expected_mtus={"eno1": 1500}, measured_mtus={"eno1": None})
    assert mtu == 1500
    assert "not confirmed" in why


def _data(points: list[tuple[int, float]], *, change_minute: int | None = 28) -> dict[str, object]:
    changes = []
    if change_minute is not None:
        changes.append({
            "at": (T0 + timedelta(minutes=change_minute)).isoformat(), "summary": "h: eno1 1500 → 9000",
            "actor": "dropsleuth agent (observed)", "resource_ids": ["h:eno1"],
            "site_change": {"kind": "interface_mtu", "interface": "eno1", "before": 1500, "after": 9000},
        })  # fmt: skip
    return {
        "interface_mtus": {
            "eno1": {
                "expected": 1500,
                "points": [{"at": (T0 + timedelta(minutes=m)).isoformat(), "value": v} for m, v in points],
            }
        },
        "changes": changes,
    }


def test_the_mtu_at_the_onset_decides_and_the_change_is_its_evidence() -> None:
    data = _data([(0, 1500.0), (28, 9000.0), (75, 1500.0)])
    (finding,) = interface_mtu_findings(data, T0 + timedelta(minutes=30), black_hole_now=True)
    assert finding.code is FindingCode.INTERFACE_MTU_UNEXPECTED
    assert finding.severity is Severity.HIGH
    assert finding.title == "interface eno1 runs at MTU 9000, the site expects 1500"
    assert [e.kind for e in finding.evidence] == ["metric", "change_event"]


def test_without_a_black_hole_now_it_is_a_risk() -> None:
    data = _data([(0, 9000.0)], change_minute=None)
    (finding,) = interface_mtu_findings(data, None, black_hole_now=False)
    assert finding.severity is Severity.WARNING
    assert [e.kind for e in finding.evidence] == ["metric"]


def test_an_mtu_as_expected_at_the_onset_is_no_finding() -> None:
    data = _data([(0, 1500.0), (80, 9000.0)])
    assert interface_mtu_findings(data, T0 + timedelta(minutes=30), black_hole_now=True) == []
    assert value_at([], T0) is None
