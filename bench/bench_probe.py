"""Time to a path-MTU verdict on the netns lab: dropsleuth's DF probes beside tracepath, same run.

Four cases: PMTUD working and a black hole (frag-needed dropped in the routers' OUTPUT), each on the LAN
and with ~50 ms of round-trip delay added by the lab's user-space relay (no netem in this kernel). The
kernel's cached path MTU is flushed before every run of either tool. tracepath is bounded by a timeout;
when it hits the bound its time is the bound and what it printed so far is judged.

Goal (issue #6): a correct black-hole verdict within 3 s.
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

TRACEPATH_TIMEOUT_S = 30.0
BOTTLENECK = 1500


def _dropsleuth(instance: Lab) -> tuple[float, str, bool, bool]:
    instance.flush_pmtu_cache()
    started = time.perf_counter()
    result = in_netns(instance.ns("edge"), lambda: probe_path(instance.cloud_ip, ProbeSettings()))
    elapsed = time.perf_counter() - started
    verdict = result.verdict
    expected = PathVerdict.BLACK_HOLE if instance.blackhole else PathVerdict.WORKS
    right = verdict.verdict is expected and verdict.path_mtu == BOTTLENECK
    return elapsed, f"{verdict.verdict.value} {verdict.path_mtu}", right, elapsed <= 3.0


def _tracepath(instance: Lab) -> tuple[float, str, bool, bool]:
    instance.flush_pmtu_cache()
    started = time.perf_counter()
    timed_out = False
    try:
        done = subprocess.run(
            ["ip", "netns", "exec", instance.ns("edge"), "tracepath", "-n", "-m", "8", instance.cloud_ip],
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
                ours, our_verdict, our_right, _ = _dropsleuth(instance)
                theirs, their_verdict, their_right, _ = _tracepath(instance)
            figures.append(
                Figure(
                    benchmark="probe",
                    measured=f"dropsleuth pmtu, {name}",
                    value=ours,
                    baseline="tracepath",
                    baseline_value=theirs,
                    note=(
                        f"dropsleuth: {our_verdict} ({'right' if our_right else 'WRONG'}); "
                        f"tracepath: {their_verdict} ({'right' if their_right else 'wrong'})"
                    ),
                )
            )
    return figures
