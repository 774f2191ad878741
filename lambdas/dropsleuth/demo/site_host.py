"""The embedded demo's site host, and the site agent running on it once a minute.

The scenario's ``agent`` section describes the host (its interfaces, default route, the path toward its
probe targets) and what was done to it (``interface_changes``). The replay runs the agent's own cycle
(``probe.agent.collect``, ``send_changes``, ``to_metric_data``) against this host: the interface snapshot
is the host's state that minute, and the DF probes go through a simulated path that answers each probe
size as a network would (the agent's own round logic and verdict, ``rules.pmtu_verdict``). So the
``InterfaceMtu``, ``PathMtu``, ``PathMtuBlackHole`` series and the change records in the embedded account
are exactly what the agent's code produces — the demo writes no metric or record of its own for the host.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dropsleuth.demo.scenario import AgentSpec
from dropsleuth.probe import agent, pmtu
from dropsleuth.probe.changelog import ChangeLogWriter
from dropsleuth.rules.pmtu_verdict import (
    Outcome,
    ProbeOutcome,
    classify,
    first_round_sizes,
    floor_for,
    next_round_sizes,
)


def path_at(spec: AgentSpec, minute: int) -> AgentSpec:
    """The host as it probes at ``minute``: the path's latest change up to then applied."""
    changes = [c for c in sorted(spec.path_changes, key=lambda c: c.minute) if c.minute <= minute]
    if not changes:
        return spec
    latest = changes[-1]
    return spec.model_copy(
        update={"path_mtu": latest.path_mtu, "frag_needed_returns": latest.frag_needed_returns}
    )


def host_snapshot(spec: AgentSpec, minute: int) -> dict[str, Any]:
    """The host's interfaces at ``minute`` (``probe.interfaces.snapshot``'s shape), changes applied."""
    interfaces = {
        i.name: {"mtu": i.mtu, "up": i.up, "addresses": sorted(i.addresses)} for i in spec.interfaces
    }
    for change in sorted(spec.interface_changes, key=lambda c: c.minute):
        if change.minute > minute or change.interface not in interfaces:
            continue
        if change.mtu is not None:
            interfaces[change.interface]["mtu"] = change.mtu
        if change.up is not None:
            interfaces[change.interface]["up"] = change.up
    return {"interfaces": interfaces, "default_route": sorted(spec.default_route)}


def simulated_probe(
    spec: AgentSpec, interface_mtu: int
) -> Callable[[str, pmtu.ProbeSettings], pmtu.PmtuResult]:
    """A DF probe toward a target over the scenario's path: probes up to ``path_mtu`` are answered, larger
    ones get a frag-needed (``frag_needed_returns``) or vanish; the host cannot send above its MTU."""

    def answer(size: int) -> ProbeOutcome:
        if size > interface_mtu:
            return ProbeOutcome(size, Outcome.LOCAL_TOO_BIG)
        if size <= spec.path_mtu:
            return ProbeOutcome(size, Outcome.REPLY, rtt_s=0.02)
        if spec.frag_needed_returns:
            return ProbeOutcome(size, Outcome.TOO_BIG, reporter="site-gateway", mtu=spec.path_mtu)
        return ProbeOutcome(size, Outcome.TIMEOUT)

    def probe(target: str, settings: pmtu.ProbeSettings) -> pmtu.PmtuResult:
        floor, ceiling = floor_for(False), interface_mtu
        outcomes = [answer(size) for size in first_round_sizes(floor, ceiling)]
        rounds = 1
        while rounds < settings.max_rounds:
            sizes = next_round_sizes(outcomes, floor, ceiling, per_round=settings.per_round)
            if not sizes:
                break
            outcomes += [answer(size) for size in sizes]
            rounds += 1
        return pmtu.PmtuResult(
            target=target,
            family=socket.AF_INET,
            mode=settings.mode,
            interface=spec.default_route[0] if spec.default_route else None,
            interface_mtu=interface_mtu,
            verdict=classify(outcomes, ceiling=ceiling),
            probes=tuple(outcomes),
            rounds=rounds,
            elapsed_s=0.0,
        )

    return probe


def run_agent(
    spec: AgentSpec,
    *,
    site: str,
    expected_mtus: dict[str, int],
    start: datetime,
    minutes: int,
    publish: Callable[[list[Any]], None],
    writer: ChangeLogWriter | None = None,
) -> None:
    """The agent's cycle once a minute over the simulated host; metric data goes to ``publish``, change
    records to the site's change log (the agent's writer)."""
    config = agent.AgentConfig(
        site=site,
        host=spec.host,
        expected_mtus=expected_mtus,
        targets=tuple(agent.TargetConfig(address=t) for t in spec.targets),
        counters=False,
    )
    state = agent.AgentState()
    changes = writer or ChangeLogWriter(site, spec.host)
    # The agent's journal lines (each black-hole verdict, each change) are not the demo's output.
    journal = logging.getLogger("dropsleuth.agent")
    level = journal.level
    journal.setLevel(logging.ERROR)
    try:
        _cycles(config, state, spec, changes, start=start, minutes=minutes, publish=publish)
    finally:
        journal.setLevel(level)


def _cycles(
    config: agent.AgentConfig,
    state: agent.AgentState,
    spec: AgentSpec,
    changes: ChangeLogWriter,
    *,
    start: datetime,
    minutes: int,
    publish: Callable[[list[Any]], None],
) -> None:
    for minute in range(minutes):
        when = (start + timedelta(minutes=minute)).timestamp()
        snapshot = host_snapshot(spec, minute)
        route_mtu = max(
            (
                snapshot["interfaces"][name]["mtu"]
                for name in spec.default_route
                if name in snapshot["interfaces"]
            ),
            default=1500,
        )
        points = agent.collect(
            config,
            state,
            probe=simulated_probe(path_at(spec, minute), route_mtu),
            now=lambda when=when: when,  # type: ignore[misc]
            read_interfaces=lambda snapshot=snapshot: snapshot,  # type: ignore[misc]
        )
        agent.send_changes(state, changes)
        publish(agent.to_metric_data(agent.with_site_rollups(points)))
