"""Step ``recent_changes``: network changes on the involved resources in the hours before the window.

Two sources, each named in the report:

- AWS-side changes from CloudTrail ``LookupEvents`` (``aws/changes.py``), or — when
  ``DROPSLEUTH_CHANGES_SOURCE`` names ``s3://bucket/prefix`` or a directory — from the trail files there;
- site-side changes (an interface's MTU, link, addresses, the default route; a guarded netplan apply) from
  the site's change records, which its agent writes to CloudWatch Logs (``aws/site_changes.py``). A site
  with no record store is said so ("not read: ..."), never reported as "no changes".
 The ranking decides which change is a suspect from its
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
from dropsleuth.aws.errors import AwsError
from dropsleuth.aws.site_changes import as_network_change, site_change_records
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
    for end in (context.source, context.destination):
        ids.extend(i for i in (end.eni_id, end.instance_id, end.subnet_id) if i)
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
    checked = [f"network changes on {len(involved)} resources from {where}: {len(changes)}"]
    site_changes, site_checked = _site_changes(context)
    checked.extend(site_checked)
    changes = sorted([*changes, *site_changes], key=lambda c: c.at)
    return StepOutcome(checked=tuple(checked), data={"changes": [change.to_dict() for change in changes]})


def _site_changes(context: InvestigationContext) -> tuple[list[NetworkChange], list[str]]:
    """The site's own change records over the lookback and window, and what the report says about them."""
    if context.site is None:
        return [], []
    try:
        read = site_change_records(context.site.name, context.window.start - LOOKBACK, context.window.end)
    except AwsError as error:
        return [], [f"site change records of {context.site.name} not read ({error.kind}: {error})"]
    lines = [f"site change records in {read.group}: {len(read.records)}"]
    if read.rejected:
        lines.append(
            f"{len(read.rejected)} messages in {read.group} are not change records of this site, skipped "
            f"(first: {read.rejected[0]})"
        )
    return [as_network_change(record, group=read.group) for record in read.records], lines


STEP = StepSpec(
    name="recent_changes",
    checks="network changes (CloudTrail, the site's change records) before the onset",
    run=run,
    timeout_s=20.0,
)
