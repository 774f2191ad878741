"""Step ``path_mtu``: the hops from source to destination, each hop's MTU, and the PMTUD verdict."""

from __future__ import annotations

from dropsleuth.aws.topology import path_analysis_for
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.steps import StepEnvironment, StepSpec


def run(context: InvestigationContext, _environment: StepEnvironment) -> StepOutcome:
    analysis = path_analysis_for(context)
    data = analysis.to_dict()
    # The ranking compares hop MTUs with what the source sends (the path model's packet size).
    data["source_mtu"] = analysis.packet_size or context.source_mtu
    data["reachable"] = analysis.reachable
    hops = " → ".join(f"{h.kind.value}({h.mtu or '?'})" for h in analysis.hops)
    return StepOutcome(
        findings=tuple(analysis.findings()),
        checked=(
            (
                f"path {analysis.source} → {analysis.destination}: {len(analysis.hops)} hops [{hops}], "
                f"verdict {analysis.verdict.value}"
            ),
        ),
        data=data,
    )


STEP = StepSpec(
    name="path_mtu",
    checks="the hops between source and destination, each hop's MTU and whether it sends frag-needed",
    run=run,
    timeout_s=20.0,
)
