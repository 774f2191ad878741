"""Step ``recent_changes``: network changes on the involved resources in the hours before the window.

The changes come from CloudTrail ``LookupEvents`` (``aws/changes.py``), or — when
``DROPSLEUTH_CHANGES_SOURCE`` names ``s3://bucket/prefix`` or a directory — from the trail files there (the
embedded demo's source); the report says which. The ranking decides which change is a suspect from its
time against the onset (``RECENT_NETWORK_CHANGE`` with who, when, what and the minutes before the onset);
this step only collects.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from dropsleuth.aws.changes import (
    LOOKUP_EVENTS_SOURCE,
    NetworkChange,
    recent_network_changes,
    trail_file_changes,
)
from dropsleuth.aws.topology import packet_filter_ids
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.steps import StepEnvironment, StepSpec

LOOKBACK = timedelta(hours=6)
"""How long before the window a change is still looked for (a typical change window and more)."""


def involved_resources(context: InvestigationContext) -> tuple[str, ...]:
    """The resources named by the context: the VPC, subnets, ENIs, the VPN connection."""
    ids = [context.vpc_id, *context.subnet_ids, *context.eni_ids]
    if context.vpn_connection_id:
        ids.append(context.vpn_connection_id)
    ids.extend(e.eni_id for e in (context.source, context.destination) if e.eni_id)
    return tuple(dict.fromkeys(ids))


def relevant(
    changes: Iterable[NetworkChange], context: InvestigationContext, *, involved: Iterable[str]
) -> list[NetworkChange]:
    """Changes in [window start − LOOKBACK, window end] that touch ``involved`` (or name no resource)."""
    ids = set(involved)
    start, end = context.window.start - LOOKBACK, context.window.end
    kept = {
        (change.at, change.summary): change
        for change in changes
        if start <= change.at <= end
        and (not change.resource_ids or any(i in r for r in change.resource_ids for i in ids))
    }
    return sorted(kept.values(), key=lambda c: c.at)


def run(context: InvestigationContext, environment: StepEnvironment) -> StepOutcome:
    trail = environment.settings.changes_source
    # The VPC's NACLs, SGs and route tables are on every path in it: their changes count too.
    involved = (*involved_resources(context), *packet_filter_ids(context.vpc_id))
    if trail:
        found = trail_file_changes(trail)
    else:
        found = recent_network_changes(involved, context.window.start - LOOKBACK, context.window.end)
    changes = relevant(found, context, involved=involved)
    where = trail or LOOKUP_EVENTS_SOURCE
    return StepOutcome(
        checked=(f"network changes on {len(involved)} resources from {where}: {len(changes)}",),
        data={"changes": [change.to_dict() for change in changes]},
    )


STEP = StepSpec(
    name="recent_changes",
    checks="network changes (CloudTrail) on the involved resources before the onset",
    run=run,
    timeout_s=20.0,
)
