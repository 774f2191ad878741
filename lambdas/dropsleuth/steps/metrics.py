"""Step ``metrics``: the site's series, VPN tunnel state and the path's gateway drop counters.

Reads (``aws/metrics.py``) the host agent's throughput, frag-needed and path-MTU series for the site, AWS/VPN
``TunnelState`` of its VPN connection, and the drop counters of the NAT gateways and transit gateways the
path goes through (their ids from the path model over the VPC's topology). The onset and the flaps come from
``rules/onset.py``; the ranking scores them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dropsleuth.aws.drop_metrics import network_load_balancers, read_other_drops
from dropsleuth.aws.errors import AwsError
from dropsleuth.aws.metrics import DropCounter, metrics_context
from dropsleuth.aws.topology import path_analysis_for
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.rules import onset
from dropsleuth.rules.mtu_rulebook import HopKind
from dropsleuth.rules.onset import Point
from dropsleuth.rules.other_drops import DATA_KEY, assess_other_drops
from dropsleuth.steps import StepEnvironment, StepSkipped, StepSpec


def path_gateways(context: InvestigationContext) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """The NAT gateway and transit gateway ids on the path, and why none could be read ("" when read)."""
    try:
        hops = path_analysis_for(context).hops
    except AwsError as error:
        # The site's own series still answer; the report says the gateway counters were not read.
        return (), (), f"gateway drop counters not read ({error.kind}: {error})"
    nats = tuple(dict.fromkeys(h.resource_id for h in hops if h.kind is HopKind.NAT_GATEWAY))
    tgws = tuple(dict.fromkeys(h.resource_id for h in hops if h.kind is HopKind.TRANSIT_GATEWAY))
    return nats, tgws, ""


def _points(series: tuple[Point, ...]) -> list[dict[str, Any]]:
    return [{"at": at.isoformat(), "value": value} for at, value in series]


def _counter(counter: DropCounter) -> dict[str, Any]:
    return {
        "namespace": counter.namespace,
        "metric": counter.metric,
        "resource_id": counter.resource_id,
        "total": counter.total,
        "points": _points(counter.points),
    }


def run(context: InvestigationContext, environment: StepEnvironment) -> StepOutcome:
    site = context.site
    vpn = context.vpn_connection_id or (site.vpn_connection_id if site else None)
    nats, tgws, unread = path_gateways(context)
    if site is None and not vpn and not nats and not tgws:
        raise StepSkipped(
            "no site, VPN connection, NAT or transit gateway in the context: no metrics to read"
        )
    read = metrics_context(
        context.window.start,
        context.window.end,
        namespace=environment.settings.metrics_namespace,
        site=site.name if site else None,
        probe_targets=site.probe_targets if site else (),
        vpn_connection_id=vpn,
        nat_gateway_ids=nats,
        transit_gateway_ids=tgws,
    )
    started = onset.onset(read.throughput, read.frag_needed)
    checked = [
        f"metric {name}: {len(points)} points"
        for name, points in (
            ("throughput", read.throughput),
            ("frag_needed", read.frag_needed),
            ("tunnel_state", read.tunnel_state),
        )
        if site or (name == "tunnel_state" and vpn)
    ]
    checked.extend(f"metric PathMtu toward {target}: {len(p)} points" for target, p in read.path_mtu.items())
    checked.extend(
        f"metric PathMtuBlackHole toward {target}: {len(p)} points, "
        + (f"black hole in {sum(1 for _, v in p if v >= 1)}" if p else "no verdict")
        for target, p in read.black_hole.items()
    )
    checked.extend(
        f"{c.namespace} {c.metric} of {c.resource_id}: {c.total:g} packets dropped"
        for c in read.drop_counters
    )
    if unread:
        checked.append(unread)
    other_drops = _other_drops(
        context,
        nats=nats,
        site=site.name if site else None,
        environment=environment,
        started=started,
        checked=checked,
    )
    return StepOutcome(
        checked=tuple(checked),
        data={
            "throughput": _points(read.throughput),
            "frag_needed": _points(read.frag_needed),
            "tunnel_state": _points(read.tunnel_state),
            "path_mtu_by_target": {target: _points(p) for target, p in read.path_mtu.items()},
            "black_hole_by_target": {target: _points(p) for target, p in read.black_hole.items()},
            # One series for the ranking: the worst verdict of any target at each time.
            "black_hole_verdicts": _points(
                tuple(sorted(p for points in read.black_hole.values() for p in points))
            ),
            "retransmissions": _points(read.retransmissions),
            "tunnel_flaps": [at.isoformat() for at in onset.tunnel_flaps(read.tunnel_state)],
            "onset": started.isoformat() if started else None,
            "drop_counters": [_counter(c) for c in read.drop_counters],
            DATA_KEY: other_drops,
        },
    )


def _other_drops(
    context: InvestigationContext,
    *,
    nats: tuple[str, ...],
    site: str | None,
    environment: StepEnvironment,
    started: datetime | None,
    checked: list[str],
) -> dict[str, Any] | None:
    """The causes beyond PMTUD (host counters, NAT errors, NLB resets): their series, a checked line each."""
    try:
        balancers = network_load_balancers(context.vpc_id)
    except AwsError as error:
        balancers = ()
        checked.append(f"NOT checked: Network Load Balancer resets ({error.kind}: {error})")
    try:
        data = read_other_drops(
            context.window.start,
            context.window.end,
            site=site,
            nat_gateway_ids=nats,
            load_balancers=balancers,
            namespace=environment.settings.metrics_namespace,
        )
    except AwsError as error:
        # The PMTUD series above still answer; the causes beyond PMTUD are reported as not checked.
        checked.append(
            f"NOT checked: host drop counters, NAT gateway errors, NLB resets ({error.kind}: {error})"
        )
        return None
    checked.extend(assess_other_drops(data, started).checked)
    return data


STEP = StepSpec(
    name="metrics",
    checks="the site's throughput, frag-needed and path-MTU metrics, VPN tunnel state and NAT/TGW drops",
    run=run,
    timeout_s=20.0,
)
