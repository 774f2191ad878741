"""Step ``path_mtu``: the hops from source to destination, each hop's MTU, and the PMTUD verdict.

The sender's MTU (``rules/path.py`` ``choose_source_mtu``): the request's ``source_mtu``, else what the host
agent measured (``InterfaceMtu``, its largest value in the window, for the interfaces the registry's
``expected_mtus`` names), else the registry's ``wan_mtu`` (declared), else an expected MTU (labelled
unconfirmed), else unknown (the receiver's MTU bounds it). The measured series go into the step's data
(``interface_mtus``) so the ranking can compare the value at the onset with the expectation
(``rules/site_measurements.py``). The agent's ``PathMtu`` is
not used as the sender's MTU — it measures the smallest hop, so a 1406 measured across a VPN that black-holes
9000-byte packets would hide the problem; the metrics step reads it, and the report sets it beside the
modelled path MTU (``rules/ranking.py`` ``measured_path_mtu_notes``). The MSS clamp is the request's or the
registry's ``mss_clamp``; the VPN / Direct Connect choice uses the registry's ``link`` and ``dx_mtu``
(``aws/topology.py`` ``path_arguments``).
"""

from __future__ import annotations

from typing import Any

from dropsleuth.aws.errors import AwsError
from dropsleuth.aws.metrics import MetricQuery, read_series
from dropsleuth.aws.topology import path_analysis_for
from dropsleuth.context import InvestigationContext, StepOutcome
from dropsleuth.metrics_catalog import INTERFACE_DIMENSION, INTERFACE_MTU, SITE_DIMENSION
from dropsleuth.rules.path import choose_source_mtu
from dropsleuth.steps import StepEnvironment, StepSpec


def _interface_queries(context: InvestigationContext, namespace: str) -> list[MetricQuery]:
    """The host agent's ``InterfaceMtu`` of each interface the registry expects an MTU on."""
    site = context.site
    if site is None:
        return []
    dims = ((SITE_DIMENSION, site.name),)
    return [
        MetricQuery(f"iface_{i}", namespace, INTERFACE_MTU.name, (*dims, (INTERFACE_DIMENSION, name)),
                    "Maximum", name)
        for i, name in enumerate(sorted(site.expected_mtus))
    ]  # fmt: skip


def _interface_mtus(
    context: InvestigationContext, namespace: str
) -> tuple[dict[str, tuple[tuple[Any, float], ...]], str]:
    """The agent's measured MTU series per expected interface over the window, and a read failure."""
    queries = _interface_queries(context, namespace)
    if not queries:
        return {}, ""
    try:
        series = read_series(queries, context.window.start, context.window.end)
    except AwsError as error:
        return {}, f"host agent InterfaceMtu not read ({error.kind}: {error}): the registry alone decides"
    return {query.resource_id: series.get(query.query_id, ()) for query in queries}, ""


def run(context: InvestigationContext, environment: StepEnvironment) -> StepOutcome:
    site = context.site
    measured, unread = _interface_mtus(context, environment.settings.metrics_namespace)
    source_mtu, source_mtu_from = choose_source_mtu(
        given=context.source_mtu,
        wan_mtu=site.wan_mtu if site else None,
        expected_mtus=site.expected_mtus if site else None,
        measured_mtus={name: int(max(v for _, v in points)) if points else None
                       for name, points in measured.items()},
    )  # fmt: skip
    analysis = path_analysis_for(context, source_mtu=source_mtu)
    data: dict[str, Any] = analysis.to_dict()
    # The ranking compares hop MTUs with what the source sends (the path model's packet size).
    data["source_mtu"] = analysis.packet_size or context.source_mtu
    data["source_mtu_from"] = source_mtu_from
    data["reachable"] = analysis.reachable
    data["interface_mtus"] = {
        name: {
            "expected": site.expected_mtus.get(name) if site else None,
            "points": [{"at": at.isoformat(), "value": value} for at, value in points],
        }
        for name, points in measured.items()
    }
    hops = " → ".join(f"{h.kind.value}({h.mtu or '?'})" for h in analysis.hops)
    checked = [
        (
            f"path {analysis.source} → {analysis.destination}: {len(analysis.hops)} hops [{hops}], "
            f"verdict {analysis.verdict.value}"
        ),
        f"sender MTU {source_mtu if source_mtu is not None else 'unknown'}: {source_mtu_from}",
    ]
    checked.extend(
        f"metric InterfaceMtu of {name}: {len(points)} points" for name, points in measured.items()
    )
    if unread:
        checked.append(unread)
    checked.extend(f"path caveat: {note}" for note in analysis.assumptions)
    return StepOutcome(findings=tuple(analysis.findings()), checked=tuple(checked), data=data)


STEP = StepSpec(
    name="path_mtu",
    checks="the hops between source and destination, each hop's MTU and whether it sends frag-needed",
    run=run,
    timeout_s=20.0,
)
