"""The accuracy suite: incident classes replayed end to end, each with the answer an engineer expects.

Each class is a scenario (an account, its flow logs as S3 delivers them, the host agent's metrics and the
trail) built in the embedded account and investigated by the ``investigate`` handler, exactly as the demo
does. What a class expects is written here, apart from the scenario, and never reaches the code under
test: the top finding (or none), and which findings must not rise above warning. ``run_all`` scores top-1
accuracy and false alarms (high or critical findings a class forbids; on a healthy network, any).

Shared by ``tests/accuracy`` (one replay per class per session) and ``python -m bench accuracy``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dropsleuth.aws import clients
from dropsleuth.demo import replay
from dropsleuth.demo.embedded import embedded_account
from dropsleuth.demo.scenario import Scenario, load_scenario, parse_scenario
from dropsleuth.model import Finding, FindingCode, Report, Severity

CLASSES_DIR = Path(__file__).parent / "classes"
ROOT_CAUSES = frozenset(
    {FindingCode.PMTUD_BLACKHOLE, FindingCode.MTU_MISMATCH, FindingCode.FLOW_REJECTED, FindingCode.NO_ROUTE}
)
PAGES = frozenset({Severity.HIGH, Severity.CRITICAL})
EVERY_CODE = frozenset(FindingCode)


@dataclass(frozen=True)
class AccuracyClass:
    """One incident class and the diagnosis it must get."""

    name: str
    source: str
    """``demo:<name>`` (a demo scenario) or ``<file>.yaml`` under ``classes/``."""
    expected_top: FindingCode | None
    """The top finding's code; None: a healthy network, no root cause above information."""
    top_severities: frozenset[Severity]
    not_above_warning: frozenset[FindingCode] = frozenset()
    """Findings that would be false alarms at high or critical (a healthy class: every code)."""

    @property
    def expected_text(self) -> str:
        code = self.expected_top.value if self.expected_top else "none"
        return f"{code} ({'/'.join(sorted(s.value for s in self.top_severities))})"

    @property
    def healthy(self) -> bool:
        return self.expected_top is None or self.not_above_warning == EVERY_CODE

    def scenario(self) -> Scenario:
        if self.source.startswith("demo:"):
            return load_scenario(self.source.removeprefix("demo:"))
        return parse_scenario(yaml.safe_load((CLASSES_DIR / self.source).read_text(encoding="utf-8")))


QUIET = frozenset({Severity.WARNING, Severity.INFO})
_NOT_PMTUD = frozenset(
    {
        FindingCode.PMTUD_BLACKHOLE,
        FindingCode.MTU_MISMATCH,
        FindingCode.FLOW_REJECTED,
        FindingCode.NO_ROUTE,
        FindingCode.FLOW_LOGS_DISABLED,
    }
)
"""False alarms for a cause beyond PMTUD: the PMTUD hypotheses and the access/route ones."""
INCIDENT = frozenset({Severity.HIGH, Severity.CRITICAL})
CLASSES: tuple[AccuracyClass, ...] = (
    AccuracyClass("healthy VPN, site MTU under the tunnel", "demo:healthy", None, QUIET, EVERY_CODE),
    AccuracyClass(
        "healthy VPN, 1500 site, clamp unknown",
        "vpn-1500-unknown-clamp.yaml",
        FindingCode.PMTUD_BLACKHOLE,
        frozenset({Severity.WARNING}),
        EVERY_CODE,
    ),
    AccuracyClass("healthy VPN, AWS clamp 1379 recorded", "vpn-1500-aws-clamp.yaml", None, QUIET, EVERY_CODE),
    AccuracyClass("Direct Connect with jumbo frames", "dx-jumbo.yaml", None, QUIET, EVERY_CODE),
    AccuracyClass(
        "TGW (8500) with 9001 instances",
        "tgw-jumbo.yaml",
        FindingCode.MTU_MISMATCH,
        frozenset({Severity.WARNING}),
        EVERY_CODE,
    ),
    AccuracyClass(
        "PMTUD works through the IGW",
        "demo:pmtud-works",
        FindingCode.MTU_MISMATCH,
        frozenset({Severity.WARNING}),
        EVERY_CODE,
    ),
    AccuracyClass(
        "healthy, scanner REJECTs on other ports", "scanner-rejects-healthy.yaml", None, QUIET, EVERY_CODE
    ),
    AccuracyClass(
        "NACL denies frag-needed over a VPN",
        "demo:df-flag-vpn",
        FindingCode.PMTUD_BLACKHOLE,
        INCIDENT,
        frozenset({FindingCode.FLOW_REJECTED, FindingCode.NO_ROUTE, FindingCode.FLOW_LOGS_DISABLED}),
    ),
    AccuracyClass(
        "WAN MTU 9000 behind a 1500 gateway",
        "demo:wan-mtu-9000",
        FindingCode.PMTUD_BLACKHOLE,
        INCIDENT,
        frozenset({FindingCode.FLOW_REJECTED, FindingCode.NO_ROUTE, FindingCode.FLOW_LOGS_DISABLED}),
    ),
    AccuracyClass(
        "agent-only black hole (on-prem gateway)",
        "agent-only-black-hole.yaml",
        FindingCode.PMTUD_BLACKHOLE,
        INCIDENT,
        frozenset({FindingCode.FLOW_REJECTED, FindingCode.NO_ROUTE, FindingCode.MTU_MISMATCH}),
    ),
    AccuracyClass(
        "security-group change REJECTs the site",
        "demo:sg-rejects",
        FindingCode.FLOW_REJECTED,
        INCIDENT,
        frozenset({FindingCode.PMTUD_BLACKHOLE, FindingCode.MTU_MISMATCH, FindingCode.NO_ROUTE}),
    ),
    AccuracyClass(
        "NACL missing the ephemeral return range",
        "nacl-ephemeral-missing.yaml",
        FindingCode.FLOW_REJECTED,
        INCIDENT,
        frozenset({FindingCode.PMTUD_BLACKHOLE, FindingCode.MTU_MISMATCH, FindingCode.NO_ROUTE}),
    ),
    AccuracyClass(
        "route to the site deleted",
        "route-deleted.yaml",
        FindingCode.NO_ROUTE,
        INCIDENT,
        frozenset({FindingCode.PMTUD_BLACKHOLE, FindingCode.MTU_MISMATCH, FindingCode.FLOW_REJECTED}),
    ),
    # Causes beyond PMTUD on the AWS side (issue 15): each from the counter that shows it.
    AccuracyClass(
        "NAT gateway out of source ports",
        "demo:nat-port-exhaustion",
        FindingCode.NAT_PORT_EXHAUSTION,
        frozenset({Severity.HIGH}),
        _NOT_PMTUD | {FindingCode.SYNS_UNANSWERED, FindingCode.LB_RESETS, FindingCode.ENA_ALLOWANCE_EXCEEDED},
    ),
    AccuracyClass(
        "NLB resets connections idle past its timeout",
        "nlb-idle-resets.yaml",
        FindingCode.LB_RESETS,
        frozenset({Severity.HIGH}),
        _NOT_PMTUD | {FindingCode.NAT_PORT_EXHAUSTION, FindingCode.ENA_ALLOWANCE_EXCEEDED},
    ),
    AccuracyClass(
        "instance over its ENA packets-per-second allowance",
        "ena-pps-allowance.yaml",
        FindingCode.ENA_ALLOWANCE_EXCEEDED,
        frozenset({Severity.HIGH}),
        _NOT_PMTUD | {FindingCode.NAT_PORT_EXHAUSTION, FindingCode.LB_RESETS, FindingCode.NIC_DROPS},
    ),
    AccuracyClass(
        "transit gateway blackhole route",
        "tgw-blackhole.yaml",
        FindingCode.TRANSIT_GATEWAY_DROPS,
        frozenset({Severity.HIGH}),
        _NOT_PMTUD | {FindingCode.NAT_PORT_EXHAUSTION, FindingCode.LB_RESETS},
    ),
    # Causes beyond PMTUD on the host side, from the agent's counters and the settings that explain them.
    AccuracyClass(
        "receive buffers overflow on the ingest host",
        "receive-buffer-pruning.yaml",
        FindingCode.RECEIVE_BUFFER_PRUNING,
        frozenset({Severity.HIGH}),
        _NOT_PMTUD | {FindingCode.NIC_DROPS, FindingCode.CONNTRACK_TABLE_FULL},
    ),
    AccuracyClass(
        "connection-tracking table full on the ingest host",
        "conntrack-table-full.yaml",
        FindingCode.CONNTRACK_TABLE_FULL,
        frozenset({Severity.HIGH}),
        _NOT_PMTUD | {FindingCode.NIC_DROPS, FindingCode.RECEIVE_BUFFER_PRUNING},
    ),
    AccuracyClass(
        "strict rp_filter drops an asymmetric path",
        "rp-filter-asymmetric.yaml",
        FindingCode.REVERSE_PATH_FILTER_DROPS,
        frozenset({Severity.HIGH}),
        _NOT_PMTUD | {FindingCode.NIC_DROPS, FindingCode.CONNTRACK_TABLE_FULL},
    ),
    AccuracyClass(
        "receive ring overflows on the ingest host",
        "nic-ring-drops.yaml",
        FindingCode.NIC_DROPS,
        frozenset({Severity.HIGH}),
        _NOT_PMTUD | {FindingCode.ENA_ALLOWANCE_EXCEEDED, FindingCode.RECEIVE_BUFFER_PRUNING},
    ),
    AccuracyClass(
        "a host firewall rule drops the uploads",
        "host-firewall-drops.yaml",
        FindingCode.HOST_FIREWALL_DROPS,
        frozenset({Severity.HIGH}),
        _NOT_PMTUD | {FindingCode.NIC_DROPS, FindingCode.QDISC_DROPS},
    ),
    AccuracyClass(
        "a shaper caps the site's uplink",
        "qdisc-shaper-drops.yaml",
        FindingCode.QDISC_DROPS,
        frozenset({Severity.HIGH}),
        _NOT_PMTUD | {FindingCode.NIC_DROPS, FindingCode.HOST_FIREWALL_DROPS},
    ),
    AccuracyClass(
        "NAT port errors at their usual rate, no incident",
        "nat-port-errors-background.yaml",
        FindingCode.NAT_PORT_EXHAUSTION,
        frozenset({Severity.WARNING}),
        EVERY_CODE,
    ),
)


@dataclass
class Outcome:
    """How one class was diagnosed."""

    cls: AccuracyClass
    report: Report
    seconds: float
    false_alarms: list[Finding] = field(default_factory=list)

    @property
    def top(self) -> Finding | None:
        return self.report.top_finding

    @property
    def correct(self) -> bool:
        """Top-1: the expected top finding at an expected severity (healthy: no root cause above info)."""
        top = self.top
        if self.cls.expected_top is None:
            return not any(
                f.code in ROOT_CAUSES and f.severity is not Severity.INFO for f in self.report.findings
            )
        return (
            top is not None and top.code is self.cls.expected_top and top.severity in self.cls.top_severities
        )

    @property
    def top_text(self) -> str:
        top = self.top
        return f"{top.code.value} ({top.severity.value})" if top else "—"


def false_alarms(cls: AccuracyClass, report: Report) -> list[Finding]:
    """High or critical findings the class forbids."""
    return [f for f in report.findings if f.severity in PAGES and f.code in cls.not_above_warning]


def run_class(cls: AccuracyClass) -> Outcome:
    """Build the class's account and history and investigate it (inside ``embedded_account``)."""
    scenario = cls.scenario()
    started = time.perf_counter()
    prepared = replay.prepare(scenario)
    clients.reset()
    done = replay.run(prepared)
    if done.response.get("status") != "investigated":
        raise AssertionError(f"{cls.name}: the handler answered {done.response}")
    report = done.report
    return Outcome(cls, report, time.perf_counter() - started, false_alarms(cls, report))


class AccountPool:
    """One embedded account per Region, shared by the classes of that Region (each builds its own VPC,
    buckets, site and metrics, named by its scenario, so they do not see each other, and moto's backends
    load once). Classes are run in turn; moving to another Region closes the previous account.

    moto's GetMetricData reads every datapoint the account holds for each query, and the host classes
    publish some 30 metrics a minute: the classes of issue 15 have Regions of their own (eu-west-2,
    eu-north-1), so that no Region's metrics step nears its 20 s timeout."""

    def __init__(self) -> None:
        self._stack: ExitStack | None = None
        self._region: str | None = None
        self.outcomes: dict[str, Outcome] = {}

    def outcome(self, cls: AccuracyClass) -> Outcome:
        if cls.name not in self.outcomes:
            region = cls.scenario().region
            if region != self._region:
                self.close()
                self._stack = ExitStack()
                self._stack.enter_context(embedded_account(region))
                self._region = region
            self.outcomes[cls.name] = run_class(cls)
        return self.outcomes[cls.name]

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack, self._region = None, None


def run_all(classes: Iterable[AccuracyClass] = CLASSES) -> list[Outcome]:
    """Every class, grouped by Region, in the order given."""
    classes = tuple(classes)
    pool = AccountPool()
    try:
        for cls in sorted(classes, key=lambda c: c.scenario().region):
            pool.outcome(cls)
    finally:
        pool.close()
    return [pool.outcomes[cls.name] for cls in classes]


def table(outcomes: list[Outcome]) -> str:
    """The summary: one row per class, then top-1 accuracy and false alarms on healthy networks."""
    header = ("class", "expected top", "got top", "top-1", "false alarms", "s")
    rows = [
        (
            o.cls.name,
            o.cls.expected_text,
            o.top_text,
            "ok" if o.correct else "WRONG",
            str(len(o.false_alarms)) + ("" if not o.false_alarms else f" ({o.false_alarms[0].code.value})"),
            f"{o.seconds:.1f}",
        )
        for o in outcomes
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    correct = sum(o.correct for o in outcomes)
    healthy = [o for o in outcomes if o.cls.healthy]
    paged = sum(1 for o in healthy for f in o.report.findings if f.severity in PAGES)
    lines.append(
        f"top-1 accuracy {correct}/{len(outcomes)} ({correct / len(outcomes):.0%}); "
        f"false alarms {sum(len(o.false_alarms) for o in outcomes)}; "
        f"high/critical findings on {len(healthy)} healthy networks: {paged}"
    )
    return "\n".join(lines)
