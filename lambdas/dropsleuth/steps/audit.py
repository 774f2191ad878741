"""Step ``icmp_audit``: do the NACLs and security groups on the path admit ICMP frag-needed both ways?"""

from __future__ import annotations

from dropsleuth.audit import audit_icmp
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.steps import StepEnvironment, StepSpec


def peer_cidrs(context: InvestigationContext) -> tuple[str, ...]:
    """The peers whose frag-needed must get through: the site's CIDRs, else the source's own."""
    if context.site is not None and context.site.cidrs:
        return context.site.cidrs
    if context.source.cidr:
        return (context.source.cidr,)
    if context.source.ip:
        return (f"{context.source.ip}/{128 if ':' in context.source.ip else 32}",)
    return ()


def run(context: InvestigationContext, _environment: StepEnvironment) -> StepOutcome:
    result = audit_icmp(
        context.vpc_id,
        subnet_ids=context.subnet_ids,
        eni_ids=context.eni_ids,
        peer_cidrs=peer_cidrs(context),
    )
    return StepOutcome(
        findings=result.findings,
        checked=result.checked,
        data={"peers": list(result.peers)},
    )


STEP = StepSpec(
    name="icmp_audit",
    checks="NACLs and security groups on the path admit ICMP frag-needed (type 3 code 4) in both directions",
    run=run,
    timeout_s=20.0,
)
