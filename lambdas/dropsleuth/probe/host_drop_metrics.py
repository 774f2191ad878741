"""The agent's hook for the drop counters beyond ICMP: one reading per cycle, published as deltas.

Each cycle reads ``host_counters`` once, subtracts the previous reading (kept in a small JSON file next to
the agent's state, so a timer's one-shot runs publish deltas too) and returns one datapoint per
``metrics_catalog.HOST_DROP_METRICS`` metric with dimensions ``Site`` and ``Host``, plus the levels: the
conntrack table's fill and ``HOST_GAUGE_METRICS`` (the settings, the fullest listener). The host
firewall's drops are also published per rule (``HostFirewallRuleDrops``, dimension ``Rule``) for the
rules that counted in the interval, at most ``FIREWALL_RULES_PER_CYCLE`` of them, and the qdisc drops per
root qdisc (``QdiscDropsByQdisc``, dimension ``Qdisc``) the same way. A source the host lacks
publishes nothing (the investigation then says "unknown"), never a zero; the reasons are logged (info)
each cycle.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dropsleuth import metrics_catalog as catalog
from dropsleuth.probe.counters import read_boot_id
from dropsleuth.probe.firewall import read_ruleset
from dropsleuth.probe.host_counters import (
    FIREWALL_TOTAL,
    CommandText,
    EthtoolStats,
    FirewallReader,
    HostCounters,
    firewall_rule_deltas,
    host_counter_deltas,
    qdisc_deltas,
    read_host_counters,
    run_ethtool_stats,
    run_ss_listeners,
    run_tc_qdisc,
    totals_by_metric,
)
from dropsleuth.probe.spool import Datapoint

HOST_STATE_FILE = "host-counters.json"
log = logging.getLogger("dropsleuth.agent.host_drops")


def _load(path: Path, *, boot_id: str | None, now: float, max_age_s: float) -> HostCounters | None:
    """The previous reading, unless it is from another boot, too old, from the future or unreadable."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        previous = HostCounters(
            taken_at=float(record["taken_at"]),
            counters={str(k): int(v) for k, v in record["counters"].items()},
            gauges={str(k): int(v) for k, v in record.get("gauges", {}).items()},
        )
        saved_boot = record.get("boot_id")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if boot_id is None or saved_boot != boot_id or not 0 <= now - previous.taken_at <= max_age_s:
        return None
    return previous


def _save(path: Path, reading: HostCounters, boot_id: str | None) -> None:
    record: dict[str, Any] = {"boot_id": boot_id, **asdict(reading)}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(record, separators=(",", ":")), encoding="utf-8")
    temporary.replace(path)


def host_drop_points(
    site: str,
    *,
    state_file: Path,
    now: float,
    max_age_s: float,
    proc: Path | None = None,
    host: str | None = None,
    ethtool: EthtoolStats | None = run_ethtool_stats,
    tc: CommandText | None = run_tc_qdisc,
    firewall: FirewallReader | None = read_ruleset,
    listeners: CommandText | None = run_ss_listeners,
) -> list[Datapoint]:
    """This cycle's datapoints: the levels every cycle, the counters' deltas from the second cycle on (a
    delta needs a previous reading).

    ``proc``: a /proc-like directory as ``counters.CounterSource`` takes it; its parent is then the
    root-like tree read here (default this host's ``/``).
    """
    root = proc.parent if proc is not None else Path("/")
    boot_id = read_boot_id(proc)
    current = read_host_counters(
        root, ethtool=ethtool, tc=tc, firewall=firewall, listeners=listeners, wall_clock=now
    )
    previous = _load(state_file, boot_id=boot_id, now=now, max_age_s=max_age_s)
    _save(state_file, current, boot_id)
    for source, reason in sorted(current.unknown.items()):
        log.info("host drop counter %s not published: %s", source, reason)
    dimensions = {catalog.SITE_DIMENSION: site, catalog.HOST_DIMENSION: host or socket.gethostname()}
    points = []
    limit = current.gauges.get("conntrack.max")
    if limit:
        used = 100.0 * current.gauges.get("conntrack.count", 0) / limit
        spec = catalog.CONNTRACK_USED
        points.append(Datapoint(spec.name, round(used, 2), spec.unit, now, dict(dimensions)))
    points.extend(
        Datapoint(spec.name, float(current.gauges[key]), spec.unit, now, dict(dimensions))
        for key, spec in catalog.HOST_GAUGE_METRICS.items()
        if key in current.gauges
    )
    if previous is None:
        return points
    deltas = host_counter_deltas(previous, current)
    totals = totals_by_metric(deltas)
    if "firewall.drop_rules" in previous.gauges and "firewall.drop_rules" in current.gauges:
        # Read both times: no drop rule counted (or there is none) is a true zero, published as such.
        totals.setdefault(FIREWALL_TOTAL, 0)
    points.extend(
        Datapoint(spec.name, float(totals[key]), spec.unit, now, dict(dimensions))
        for key, spec in catalog.HOST_DROP_METRICS.items()
        if key in totals
    )
    points.extend(
        _attributed(
            firewall_rule_deltas(deltas),
            catalog.HOST_FIREWALL_RULE_DROPS,
            dimension=catalog.RULE_DIMENSION,
            limit=catalog.FIREWALL_RULES_PER_CYCLE,
            dimensions=dimensions,
            now=now,
        )
    )
    points.extend(
        _attributed(
            qdisc_deltas(deltas),
            catalog.QDISC_DROPS_BY_QDISC,
            dimension=catalog.QDISC_DIMENSION,
            limit=catalog.QDISCS_PER_CYCLE,
            dimensions=dimensions,
            now=now,
        )
    )
    return points


def _attributed(
    by_reference: dict[str, int],
    spec: catalog.MetricSpec,
    *,
    dimension: str,
    limit: int,
    dimensions: dict[str, str],
    now: float,
) -> list[Datapoint]:
    """One datapoint per rule (or qdisc) that counted in the interval, most first, at most ``limit``: one
    that counted nothing publishes nothing, so the metrics stay as few as the things that really drop."""
    counted = sorted(((n, ref) for ref, n in by_reference.items() if n > 0), key=lambda c: (-c[0], c[1]))
    return [
        Datapoint(spec.name, float(n), spec.unit, now, {**dimensions, dimension: reference})
        for n, reference in counted[:limit]
    ]
