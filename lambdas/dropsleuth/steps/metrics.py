"""Step ``metrics``: the site's series, VPN tunnel state and the path's gateway drop counters.

Reads (``aws/metrics.py``) the host agent's throughput, frag-needed and path-MTU series for the site, AWS/VPN
``TunnelState`` of its VPN connection, and the drop counters of the NAT gateways and transit gateways the
path goes through (their ids from the path model over the VPC's topology). The onset and the flaps come from
``rules/onset.py``; the ranking scores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dropsleuth.aws.drop_metrics import (
    listener_idle_timeouts,
    load_balancer_dimension,
    network_load_balancer_arns,
    read_other_drops,
)
from dropsleuth.aws.errors import AwsError
from dropsleuth.aws.metrics import DropCounter, metrics_context
from dropsleuth.aws.topology import collect_topology, path_arguments
from dropsleuth.aws.transit_gateway_routes import route_lookups
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.rules import onset
from dropsleuth.rules.mtu_rulebook import HopKind
from dropsleuth.rules.onset import Point
from dropsleuth.rules.other_drops import DATA_KEY, assess_other_drops
from dropsleuth.rules.path import PathAnalysis, Topology, addressable, analyse_path
from dropsleuth.rules.path_ends import end_address, end_enis, end_instances
from dropsleuth.rules.transit_gateway import TransitGatewayCheck
from dropsleuth.steps import StepEnvironment, StepSkipped, StepSpec


@dataclass(frozen=True)
class PathRecords:
    """The VPC's records and the path over them; ``unread``: why they could not be read ("" when read)."""

    topology: Topology | None = None
    analysis: PathAnalysis | None = None
    unread: str = ""


def read_path(context: InvestigationContext) -> PathRecords:
    """The topology and the path model's walk from source to destination (read once for every check)."""
    try:
        topology = collect_topology(context.vpc_id)
    except AwsError as error:
        return PathRecords(unread=f"{error.kind}: {error}")
    analysis = analyse_path(
        topology,
        addressable(context.source, topology),
        addressable(context.destination, topology),
        **path_arguments(context),
    )
    return PathRecords(topology, analysis)


def path_gateways(path: PathRecords) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """The NAT gateway and transit gateway ids on the path, and why none could be read ("" when read)."""
    if path.analysis is None:
        # The site's own series still answer; the report says the gateway counters were not read.
        return (), (), f"gateway drop counters not read ({path.unread})"
    hops = path.analysis.hops
    nats = tuple(dict.fromkeys(h.resource_id for h in hops if h.kind is HopKind.NAT_GATEWAY))
    tgws = tuple(dict.fromkeys(h.resource_id for h in hops if h.kind is HopKind.TRANSIT_GATEWAY))
    return nats, tgws, ""


def transit_gateway_checks(
    context: InvestigationContext, path: PathRecords, tgws: tuple[str, ...]
) -> list[TransitGatewayCheck]:
    """For each transit gateway on the path, the routes its attachments use toward the other end."""
    if path.topology is None or path.analysis is None:
        return [TransitGatewayCheck(tgw, unread=f"the path was not read ({path.unread})") for tgw in tgws]
    topology, hops = path.topology, path.analysis.hops
    source = end_address(context.source, topology)
    destination = end_address(context.destination, topology)
    site_cidrs = context.site.cidrs if context.site else ()
    checks = []
    for tgw in tgws:
        if source is None or destination is None:
            end = context.source if source is None else context.destination
            checks.append(TransitGatewayCheck(tgw, unread=f"{end.describe()} is not an address to look up"))
            continue
        try:
            lookups = route_lookups(
                tgw,
                topology,
                hops,
                source_address=source,
                destination_address=destination,
                site_cidrs=site_cidrs,
            )
        except AwsError as error:
            checks.append(TransitGatewayCheck(tgw, unread=f"routes not read ({error.kind}: {error})"))
            continue
        checks.append(TransitGatewayCheck(tgw, tuple(lookups)))
    return checks


def _points(series: tuple[Point, ...]) -> list[dict[str, Any]]:
    return [{"at": at.isoformat(), "value": value} for at, value in series]


def _drop_counter_line(counter: DropCounter) -> str:
    """The checked line of a gateway drop counter; a series with no point in the window is not a zero."""
    where = f"{counter.namespace} {counter.metric} of {counter.resource_id}"
    if not counter.points:
        return f"{where}: unknown — no data in the window (not read as 0)"
    return f"{where}: {counter.total:g} packets dropped in {len(counter.points)} min"


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
    path = read_path(context)
    nats, tgws, unread = path_gateways(path)
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
    checked.extend(_drop_counter_line(c) for c in read.drop_counters)
    if unread:
        checked.append(unread)
    other_drops = _other_drops(
        context,
        nats=nats,
        transit_gateways=transit_gateway_checks(context, path, tgws),
        instances=_path_instances(context, path),
        connection_tracking=connection_tracking_data(context, path),
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
    transit_gateways: list[TransitGatewayCheck],
    instances: tuple[str, ...],
    connection_tracking: dict[str, Any],
    site: str | None,
    environment: StepEnvironment,
    started: datetime | None,
    checked: list[str],
) -> dict[str, Any] | None:
    """The causes beyond PMTUD (host counters, NAT errors, NLB resets, transit gateway routes): their series,
    a checked line each."""
    keepalive = context.site.client_keepalive_s if context.site else None
    idle_timeouts: dict[str, Any] = {
        "client_keepalive_s": keepalive,
        "nat_gateways": list(nats),
        "unread": "",
    }
    try:
        arns = network_load_balancer_arns(context.vpc_id)
    except AwsError as error:
        arns = ()
        checked.append(f"NOT checked: Network Load Balancer resets ({error.kind}: {error})")
        idle_timeouts["unread"] = f"the VPC's load balancers not read ({error.kind}: {error})"
    balancers = tuple(load_balancer_dimension(arn) for arn in arns)
    idle_timeouts["load_balancers"] = list(balancers)
    try:
        # Only worth reading when there is a keepalive to compare with.
        listeners = listener_idle_timeouts(arns) if keepalive else []
        idle_timeouts["listeners"] = [listener.as_data() for listener in listeners]
    except AwsError as error:
        idle_timeouts["unread"] = f"listener attributes not read ({error.kind}: {error})"
    try:
        data = read_other_drops(
            context.window.start,
            context.window.end,
            site=site,
            nat_gateway_ids=nats,
            load_balancers=balancers,
            transit_gateways=transit_gateways,
            instances=instances,
            namespace=environment.settings.metrics_namespace,
        )
    except AwsError as error:
        # The PMTUD series above still answer; the causes beyond PMTUD are reported as not checked.
        checked.append(
            "NOT checked: host drop counters, NAT gateway errors, NLB resets, transit gateway routes "
            f"({error.kind}: {error})"
        )
        return None
    data["connection_tracking"] = connection_tracking
    data["idle_timeouts"] = idle_timeouts
    checked.extend(assess_other_drops(data, started).checked)
    return data


def connection_tracking_data(context: InvestigationContext, path: PathRecords) -> dict[str, Any]:
    """The destination's ENIs with their connection-tracking configuration, from the topology's records."""
    interfaces = (
        [
            {
                "eni_id": eni.get("NetworkInterfaceId"),
                "instance_id": (eni.get("Attachment") or {}).get("InstanceId"),
                "configuration": eni.get("ConnectionTrackingConfiguration"),
            }
            for eni in end_enis(context.destination, path.topology)
        ]
        if path.topology is not None
        else []
    )
    keepalive = context.site.client_keepalive_s if context.site else None
    return {"client_keepalive_s": keepalive, "interfaces": interfaces}


def _path_instances(context: InvestigationContext, path: PathRecords) -> tuple[str, ...]:
    """The EC2 instances behind the path's source and destination (for their network allowances)."""
    if path.topology is None:
        return ()
    ends = (context.source, context.destination)
    return tuple(dict.fromkeys(i for end in ends for i in end_instances(end, path.topology)))


STEP = StepSpec(
    name="metrics",
    checks="the site's throughput, frag-needed and path-MTU metrics, VPN tunnel state and NAT/TGW drops",
    run=run,
    timeout_s=20.0,
)
