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

from dataclasses import dataclass

from dropsleuth.model import Evidence, Severity

INCIDENT_CONFIDENCE = 0.5
"""Below this confidence (support minus evidence against) a hypothesis with symptoms stays a warning."""


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
