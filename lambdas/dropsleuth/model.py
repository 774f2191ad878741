"""The report contract: findings, their evidence and remediation, the steps that produced them.

These models are the JSON the Lambdas return, the CLI prints with ``--output json`` and the reports stored
in S3 carry. ``REPORT_SCHEMA_VERSION`` is bumped on any change a consumer could notice; finding codes are
stable: extend the enum, never rename a member.

Nothing here imports AWS code: the rules and the report renderers depend on this module, not the reverse.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

REPORT_SCHEMA_VERSION = "1.1"


class FindingCode(enum.StrEnum):
    """Stable identifiers of what dropsleuth can conclude (docs/report.md, "Finding codes")."""

    PMTUD_BLACKHOLE = "PMTUD_BLACKHOLE"
    NACL_BLOCKS_ICMP_FRAG_NEEDED = "NACL_BLOCKS_ICMP_FRAG_NEEDED"
    SG_MISSING_ICMP_FRAG_NEEDED = "SG_MISSING_ICMP_FRAG_NEEDED"
    MTU_MISMATCH = "MTU_MISMATCH"
    INTERFACE_MTU_UNEXPECTED = "INTERFACE_MTU_UNEXPECTED"
    HOST_FIREWALL_BLOCKS_ICMP = "HOST_FIREWALL_BLOCKS_ICMP"
    FLOW_REJECTED = "FLOW_REJECTED"
    THROUGHPUT_COLLAPSE = "THROUGHPUT_COLLAPSE"
    VPN_TUNNEL_FLAPPING = "VPN_TUNNEL_FLAPPING"
    RECENT_NETWORK_CHANGE = "RECENT_NETWORK_CHANGE"
    NO_ROUTE = "NO_ROUTE"
    FLOW_LOGS_DISABLED = "FLOW_LOGS_DISABLED"
    STEP_FAILED = "STEP_FAILED"
    # Drops beyond PMTUD (issue 15): each from the counter that shows it, graded against the onset.
    LISTEN_QUEUE_OVERFLOW = "LISTEN_QUEUE_OVERFLOW"
    RECEIVE_BUFFER_PRUNING = "RECEIVE_BUFFER_PRUNING"
    NIC_DROPS = "NIC_DROPS"
    CONNTRACK_TABLE_FULL = "CONNTRACK_TABLE_FULL"
    REVERSE_PATH_FILTER_DROPS = "REVERSE_PATH_FILTER_DROPS"
    ENA_ALLOWANCE_EXCEEDED = "ENA_ALLOWANCE_EXCEEDED"
    TCP_RETRANSMISSIONS_RISING = "TCP_RETRANSMISSIONS_RISING"
    NAT_PORT_EXHAUSTION = "NAT_PORT_EXHAUSTION"
    NAT_IDLE_TIMEOUT = "NAT_IDLE_TIMEOUT"
    LB_RESETS = "LB_RESETS"
    # Issue 15, host side (part A): the host firewall's drop rules by their counters, and qdisc drops.
    HOST_FIREWALL_DROPS = "HOST_FIREWALL_DROPS"
    QDISC_DROPS = "QDISC_DROPS"
    # The flow-log pattern of those drops (issue 15, part C): connection attempts without an answer, or
    # reset, per destination (query syn_rst_by_destination; rules/connection_attempts.py).
    SYNS_UNANSWERED = "SYNS_UNANSWERED"
    CONNECTION_RESETS = "CONNECTION_RESETS"
    # Issue 15, AWS side (part B): a transit gateway route (blackhole / missing) tied to its drop counter;
    # a security-group connection-tracking idle timeout shorter than the clients idle, and a NAT/NLB idle
    # timeout not longer than the clients' keepalive (risks).
    TRANSIT_GATEWAY_DROPS = "TRANSIT_GATEWAY_DROPS"
    SG_CONNTRACK_TIMEOUT_SHORT = "SG_CONNTRACK_TIMEOUT_SHORT"
    IDLE_TIMEOUT_MISMATCH = "IDLE_TIMEOUT_MISMATCH"
    # Issue 15, security-group connection tracking (part D): replies REJECTed on an interface that never saw
    # their requests, an asymmetric return path (query rejected_replies; rules/return_paths.py).
    ASYMMETRIC_RETURN_PATH = "ASYMMETRIC_RETURN_PATH"


class Severity(enum.StrEnum):
    """How urgently a finding needs a human. Ordered: ``Severity.rank`` sorts critical first."""

    CRITICAL = "critical"
    HIGH = "high"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.WARNING: 2, Severity.INFO: 3}


class StepStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class Evidence(_Model):
    """One fact a finding rests on, with the ids a person can look up.

    ``kind`` says what sort of fact it is (``nacl_entry``, ``security_group``, ``hop``, ``query_rows``,
    ``metric``, ``cloudtrail_event``, ``probe`` …); ``data`` carries it in machine-readable form.
    """

    kind: str
    summary: str
    resource_ids: tuple[str, ...] = ()
    data: dict[str, Any] = Field(default_factory=dict)


class Remediation(_Model):
    """The exact fix: what to do, and the commands that do it."""

    summary: str
    steps: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()


class Finding(_Model):
    code: FindingCode
    severity: Severity
    confidence: float = Field(ge=0.0, le=1.0)
    title: str
    detail: str = ""
    resource_ids: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    evidence_against: tuple[Evidence, ...] = ()
    """What argues against this finding (steady throughput, large packets getting through …)."""
    remediation: Remediation | None = None

    @field_validator("confidence")
    @classmethod
    def _round_confidence(cls, value: float) -> float:
        return round(value, 3)


class Step(_Model):
    """One piece of the work and how it ended: ok, failed (with why) or skipped (with why)."""

    name: str
    status: StepStatus
    reason: str = ""
    duration_s: float = 0.0
    data: dict[str, Any] = Field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC)


class Report(_Model):
    """What dropsleuth concluded, why, and what it looked at."""

    schema_version: str = REPORT_SCHEMA_VERSION
    report_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    created_at: datetime = Field(default_factory=_now)
    kind: str = "investigation"
    subject: dict[str, Any] = Field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    steps: tuple[Step, ...] = ()
    checked: tuple[str, ...] = ()
    timeline: dict[str, Any] = Field(default_factory=dict)

    @property
    def top_finding(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def codes(self) -> list[FindingCode]:
        return [f.code for f in self.findings]

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> Report:
        return cls.model_validate_json(text)


def rank_findings(findings: list[Finding] | tuple[Finding, ...]) -> tuple[Finding, ...]:
    """Most severe first, then most confident, then by code for a stable order."""
    return tuple(sorted(findings, key=lambda f: (f.severity.rank, -f.confidence, f.code.value, f.title)))
