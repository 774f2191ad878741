"""Time to a path-MTU verdict on the netns lab: a whole `dropsleuth probe pmtu` process beside tracepath.

Bottlenecks of 1500 (on the probe's list of common MTUs) and 1419, 1337, 1280 (1419: AWS's recommended MSS
clamp of 1379 plus 40; 1337 on no list; 1280 the IPv6 minimum, common on tunnels), each a black hole
(frag-needed dropped in the routers' OUTPUT chain) on the LAN and with ~50 ms of round-trip delay added by
the lab's user-space relay (no netem in this kernel); plus PMTUD working at 1500. The kernel's cached path
MTU is flushed before every run. dropsleuth runs as an operator runs it, a whole process in the site
namespace: ``--no-locate`` (the verdict alone) and ``--locate`` (the default, with hop location).
tracepath runs as ``tracepath -n TARGET``, bounded by ``TRACEPATH_TIMEOUT_S``; when it hits the bound its
time is the bound and what it printed so far is judged.

Goals (issue #17): the right verdict in ≤ 1 s on the LAN and ≤ 1.5 s at 50 ms RTT; with hop location
≤ 2 s at 50 ms. Each figure says whether it was met; the note carries the probe's own time to the verdict
(``verdict_s``, without the process start-up) and its rounds.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import Figure
from dropsleuth.rules.pmtu_verdict import PathVerdict
from tests.netns.lab import Lab, lab, lab_unavailable_reason, sweep_stale

TRACEPATH_TIMEOUT_S = 30.0
CASES = (  # (bottleneck, black hole)
    (1500, False),
    (1500, True),
    (1419, True),
    (1337, True),
    (1280, True),
)


def _goal(delay_ms: float, locate: bool) -> float | None:
    if locate:
        return 2.0 if delay_ms else None
    return 1.5 if delay_ms else 1.0


def _dropsleuth(instance: Lab, *, locate: bool) -> tuple[float, str, bool]:
    instance.flush_pmtu_cache()
    cli = str(Path(sys.executable).with_name("dropsleuth"))
    argv = ["ip", "netns", "exec", instance.ns("edge"), cli, "probe", "pmtu", instance.cloud_ip]
    argv += ["--locate" if locate else "--no-locate", "--output", "json"]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.perf_counter() - started
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        return elapsed, f"no JSON (exit {done.returncode}): {done.stderr.strip()[-200:]}", False
    verdict = result["verdict"]
    expected = PathVerdict.BLACK_HOLE if instance.blackhole else PathVerdict.WORKS
    right = verdict["verdict"] == expected.value and verdict["path_mtu"] == instance.bottleneck_mtu
    summary = (
        f"{verdict['verdict']} {verdict['path_mtu']} in {result['rounds']} rounds, "
        f"verdict_s {result['verdict_s']:.2f}, elapsed_s {result['elapsed_s']:.2f}"
    )
    if locate and instance.blackhole:
        location = result.get("location") or {}
        # The lab's large packets die after the first router (gw, TTL 1).
        right = right and location.get("last_ttl_seen") == 1
        summary += f", last hop seen TTL {location.get('last_ttl_seen')}"
    return elapsed, summary, right


def _tracepath(instance: Lab) -> tuple[float, str, bool]:
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
        raw = expired.stdout or b""
        output = raw.decode() if isinstance(raw, bytes) else raw
    elapsed = time.perf_counter() - started
    pmtus = [int(m) for m in re.findall(r"pmtu (\d+)", output)]
    reported = pmtus[-1] if pmtus else None
    # tracepath has no notion of a black hole: the best it can do is report the right path MTU.
    right = reported == instance.bottleneck_mtu and not timed_out
    summary = f"pmtu {reported}" + (f", stopped at {TRACEPATH_TIMEOUT_S:.0f} s" if timed_out else "")
    return elapsed, summary, right


def run() -> list[Figure]:
    reason = lab_unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"bench_probe needs the netns lab: {reason}")
    if shutil.which("tracepath") is None:
        raise RuntimeError("bench_probe needs tracepath (make system-packages)")
    sweep_stale()
    figures = []
    for bottleneck, blackhole in CASES:
        for delay_ms in (0.0, 50.0):
            name = (
                f"{'black hole' if blackhole else 'PMTUD works'} at {bottleneck}, "
                f"{'LAN' if not delay_ms else '+50 ms RTT'}"
            )
            tag = f"p{bottleneck}{int(blackhole)}{int(delay_ms)}"
            options = {"blackhole": blackhole, "delay_ms": delay_ms, "bottleneck_mtu": bottleneck}
            with lab(tag, **options) as instance:
                ours = {locate: _dropsleuth(instance, locate=locate) for locate in (False, True)}
                theirs, their_verdict, their_right = _tracepath(instance)
            for locate, (value, our_verdict, our_right) in ours.items():
                goal = _goal(delay_ms, locate)
                met = our_right and (goal is None or value <= goal)
                goal_text = f"; goal right in ≤ {goal:g} s: {'met' if met else 'MISSED'}" if goal else ""
                figures.append(
                    Figure(
                        benchmark="probe",
                        measured=f"dropsleuth probe pmtu {'--locate' if locate else '--no-locate'}, {name}",
                        value=value,
                        baseline="tracepath -n",
                        baseline_value=theirs,
                        note=(
                            f"dropsleuth: {our_verdict} ({'right' if our_right else 'WRONG'}); "
                            f"tracepath: {their_verdict} ({'right' if their_right else 'wrong'}){goal_text}"
                        ),
                    )
                )
    return figures
