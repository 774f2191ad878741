"""Severity from symptoms: configuration alone is a risk; an incident needs evidence of drops now.

The rule (docs/severity.md): a hypothesis built only from configuration — a hop smaller than what the
sender sends, a hop that sends no frag-needed, a NACL that denies it, an MSS clamp nobody confirmed — is a
latent risk: severity warning, worded with its condition and how to verify it. It becomes high only with a
symptom in the investigation's window (a throughput collapse, stalled flows, REJECTed ICMP toward the
sender, the host agent's black-hole verdict, retransmissions rising, frag-needed arriving with no
recovery), and critical when the symptom is the throughput collapse itself. Evidence against the
hypothesis (steady throughput, no stalled flows, flows whose packets are larger than the suspected hop)
lowers its confidence; below ``INCIDENT_CONFIDENCE`` the symptoms are not enough to page anyone.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dropsleuth.model import Evidence, Finding, FindingCode, Severity

INCIDENT_CONFIDENCE = 0.5
"""Below this confidence (support minus evidence against) a hypothesis with symptoms stays a warning."""

CONFIGURATION_RISK = Severity.WARNING
"""What a check of configuration alone reports (the audit, ``probe firewall``, ``probe interfaces``)."""

CAUSE_ONCE_DROPPING: Mapping[FindingCode, Severity] = {
    # A NACL that denies frag-needed is the fix's place when the path is black-holing now (the audit
    # alone reports it as a risk): an investigation whose window shows drops raises it to high.
    FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED: Severity.HIGH,
}
"""Configuration findings that become an incident's cause, and at what severity, once drops show."""


@dataclass(frozen=True)
class Observation:
    """One piece of evidence for or against a hypothesis: why, how much it weighs, and what shows it."""

    reason: str
    weight: float
    evidence: tuple[Evidence, ...] = ()
    symptom: bool = False
    """A sign that traffic is being dropped now (not configuration that could drop it)."""


def incident_severity(
    symptoms: list[Observation] | tuple[Observation, ...], confidence: float, *, collapse: bool
) -> Severity:
    """Warning without a symptom (a risk); high with one; critical when throughput collapsed too."""
    if not symptoms or confidence < INCIDENT_CONFIDENCE:
        return Severity.WARNING
    return Severity.CRITICAL if collapse else Severity.HIGH


def supporting_severity(finding: Finding, *, drops_seen: bool) -> Severity:
    """A supporting finding's severity in an investigation: at most a warning without drops in the window,
    at most high with them (only a root cause is critical), and raised to high with them when it is a
    configuration that causes the drops (``CAUSE_ONCE_DROPPING``)."""
    ceiling = Severity.HIGH if drops_seen else Severity.WARNING
    severity = finding.severity if finding.severity.rank >= ceiling.rank else ceiling
    raised = CAUSE_ONCE_DROPPING.get(finding.code) if drops_seen else None
    return raised if raised is not None and raised.rank < severity.rank else severity
