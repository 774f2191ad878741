"""Cold start: what each Lambda handler costs to import in a fresh interpreter, and the CLI's start-up.

Every Lambda cold start imports its handler module before any work; the figure is that import's time,
measured inside a fresh ``python`` process (best of five), against ``import boto3`` measured the same way in
the same run (the runtime's own SDK: a handler cannot cost less). Goal: each handler ≤ 0.25 s.

The CLI's figures are whole processes — ``dropsleuth --help`` and ``dropsleuth probe pmtu --help`` — as an
operator waits for them, against the same interpreter running ``import boto3``. Goal: ≤ 0.3 s each.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import Figure

HANDLERS = (
    "investigate",
    "audit_icmp",
    "enable_flow_logs",
    "query_rejects",
    "reachability",
    "publish_metrics",
)
REPEAT = 5
_TIMED_IMPORT = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def _environment() -> dict[str, str]:
    # As outside Lambda (tracing off, as Powertools decides it there), with no user configuration.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DROPSLEUTH_", "POWERTOOLS_"))}
    env.pop("LAMBDA_TASK_ROOT", None)
    return env


def import_time(module: str) -> float:
    """The best of ``REPEAT`` imports of ``module``, each in a fresh interpreter, in seconds."""
    times = []
    for _ in range(REPEAT):
        done = subprocess.run(
            [sys.executable, "-c", _TIMED_IMPORT.format(module=module)],
            capture_output=True,
            text=True,
            check=True,
            env=_environment(),
        )
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return min(times)


def process_time(argv: list[str]) -> float:
    """The best of ``REPEAT`` wall times of a whole process, in seconds."""
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True, env=_environment())
        times.append(time.perf_counter() - started)
    return min(times)


def run() -> list[Figure]:
    boto3 = import_time("boto3")
    figures = [
        Figure(
            "coldstart",
            f"import dropsleuth.handlers.{name} (fresh interpreter)",
            import_time(f"dropsleuth.handlers.{name}"),
            "import boto3 (fresh interpreter)",
            boto3,
            note="goal ≤ 0.25 s absolute",
        )
        for name in HANDLERS
    ]
    cli = str(Path(sys.executable).with_name("dropsleuth"))
    boto3_process = process_time([sys.executable, "-c", "import boto3"])
    for argv, goal in (([cli, "--help"], 0.3), ([cli, "probe", "pmtu", "--help"], 0.3)):
        figures.append(
            Figure(
                "coldstart",
                " ".join(["dropsleuth", *argv[1:]]) + " (whole process)",
                process_time(argv),
                "python -c 'import boto3' (whole process)",
                boto3_process,
                note=f"goal ≤ {goal:g} s absolute",
            )
        )
    return figures
