"""Time to a path-MTU verdict on the netns lab: dropsleuth's DF probes beside tracepath, same run.

Four cases: PMTUD working and a black hole (frag-needed dropped in the routers' OUTPUT), each on the LAN
and with ~50 ms of round-trip delay added by the lab's user-space relay (no netem in this kernel). The
kernel's cached path MTU is flushed before every run of either tool. dropsleuth runs twice: without hop
location (the verdict alone) and with it (as ``dropsleuth probe pmtu`` does by default). tracepath runs as
an operator would run it (``tracepath -n TARGET``: default maximum hops), bounded by a generous timeout;
when it hits the bound its time is the bound and what it printed so far is judged.

Goal (issue #6): a correct black-hole verdict within 3 s; each black-hole figure says whether it was met.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time

from bench.harness import Figure
from dropsleuth.probe.pmtu import ProbeSettings, probe_path
from dropsleuth.rules.pmtu_verdict import PathVerdict
from tests.netns.lab import Lab, in_netns, lab, lab_unavailable_reason, sweep_stale

TRACEPATH_TIMEOUT_S = 150.0
BOTTLENECK = 1500
GOAL_S = 3.0


def _dropsleuth(instance: Lab, *, locate_hop: bool) -> tuple[float, str, bool, bool]:
    instance.flush_pmtu_cache()
    started = time.perf_counter()
    result = in_netns(
        instance.ns("edge"), lambda: probe_path(instance.cloud_ip, ProbeSettings(locate_hop=locate_hop))
    )
    elapsed = time.perf_counter() - started
    verdict = result.verdict
    expected = PathVerdict.BLACK_HOLE if instance.blackhole else PathVerdict.WORKS
    right = verdict.verdict is expected and verdict.path_mtu == BOTTLENECK
    summary = f"{verdict.verdict.value} {verdict.path_mtu}"
    if locate_hop and result.location is not None:
        # The lab's large packets die after the first router (gw, TTL 1).
        located = result.location.last_ttl_seen == 1
        right = right and located
        summary += f", last hop seen TTL {result.location.last_ttl_seen}"
    return elapsed, summary, right, right and elapsed <= GOAL_S


def _tracepath(instance: Lab) -> tuple[float, str, bool, bool]:
    instance.flush_pmtu_cache()
    started = time.perf_counter()
    timed_out = False
    try:
        done = subprocess.run(
            ["ip", "netns", "exec", instance.ns("edge"), "tracepath", "-n", instance.cloud_ip],
            capture_output=True,
            text=True,
            timeout=TRACEPATH_TIMEOUT_S,
            check=False,
        )
        output = done.stdout
    except subprocess.TimeoutExpired as expired:
        timed_out = True
        output = (
            (expired.stdout or b"").decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        )
    elapsed = time.perf_counter() - started
    pmtus = [int(m) for m in re.findall(r"pmtu (\d+)", output)]
    reported = pmtus[-1] if pmtus else None
    # tracepath has no notion of a black hole: the best it can do is report the right path MTU.
    right = reported == BOTTLENECK and not timed_out
    summary = f"pmtu {reported}" + (f", timed out at {TRACEPATH_TIMEOUT_S:.0f} s" if timed_out else "")
    return elapsed, summary, right, timed_out


def run() -> list[Figure]:
    reason = lab_unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"bench_probe needs the netns lab: {reason}")
    if shutil.which("tracepath") is None:
        raise RuntimeError("bench_probe needs tracepath (make system-packages)")
    sweep_stale()
    figures = []
    for blackhole in (False, True):
        for delay_ms in (0.0, 50.0):
            name = (
                f"{'black hole' if blackhole else 'PMTUD works'}, {'LAN' if not delay_ms else '+50 ms RTT'}"
            )
            with lab(f"b{int(blackhole)}{int(delay_ms)}", blackhole=blackhole, delay_ms=delay_ms) as instance:
                ours = {locate: _dropsleuth(instance, locate_hop=locate) for locate in (False, True)}
                theirs, their_verdict, their_right, _ = _tracepath(instance)
            for locate, (value, our_verdict, our_right, goal_met) in ours.items():
                goal = ""
                if blackhole:
                    goal = f"; goal right in ≤ {GOAL_S:.0f} s: {'met' if goal_met else 'MISSED'}"
                figures.append(
                    Figure(
                        benchmark="probe",
                        measured=f"dropsleuth pmtu {'(locate on)' if locate else '--no-locate'}, {name}",
                        value=value,
                        baseline="tracepath",
                        baseline_value=theirs,
                        note=(
                            f"dropsleuth: {our_verdict} ({'right' if our_right else 'WRONG'}); "
                            f"tracepath: {their_verdict} ({'right' if their_right else 'wrong'}){goal}"
                        ),
                    )
                )
    return figures
