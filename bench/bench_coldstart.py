"""Cold start: what each Lambda handler costs to import in a fresh interpreter, and the CLI's start-up.

Every Lambda cold start imports its handler module before any work; the figure is that import's time,
measured inside a fresh ``python`` process (best of five), against ``import boto3`` measured the same way in
the same run (the runtime's own SDK: a handler cannot cost less). Goal: each handler ≤ 0.25 s.

The CLI's figures are whole processes — ``dropsleuth --help``, ``dropsleuth probe pmtu --help``, and
``dropsleuth probe pmtu 127.0.0.1 --mode nope``: the whole start of a probe (argument parsing and coercion,
the probe module's import) up to the point where it would send its first packet, which the bad mode stops
with exit 2, so nothing is sent — as an operator waits for them, against the same interpreter running
``import boto3``. Goal: ≤ 0.3 s each.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import Figure
from dropsleuth.functions import handler_modules

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


def process_time(argv: list[str], exit_code: int = 0) -> float:
    """The best of ``REPEAT`` wall times of a whole process that ends with ``exit_code``, in seconds."""
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        done = subprocess.run(argv, check=False, capture_output=True, env=_environment())
        times.append(time.perf_counter() - started)
        if done.returncode != exit_code:
            raise RuntimeError(f"{argv} exited {done.returncode}, not {exit_code}: {done.stderr[-500:]!r}")
    return min(times)


def run() -> list[Figure]:
    boto3 = import_time("boto3")
    figures = [
        Figure(
            "coldstart",
            f"import {module} (fresh interpreter)",
            import_time(module),
            "import boto3 (fresh interpreter)",
            boto3,
            note="goal ≤ 0.25 s absolute",
        )
        for module in handler_modules()
    ]
    cli = str(Path(sys.executable).with_name("dropsleuth"))
    boto3_process = process_time([sys.executable, "-c", "import boto3"])
    starts = (
        ([cli, "--help"], 0),
        ([cli, "probe", "pmtu", "--help"], 0),
        ([cli, "probe", "pmtu", "127.0.0.1", "--mode", "nope"], 2),  # stops just before the first probe
    )
    for argv, exit_code in starts:
        figures.append(
            Figure(
                "coldstart",
                " ".join(["dropsleuth", *argv[1:]]) + " (whole process)",
                process_time(argv, exit_code),
                "python -c 'import boto3' (whole process)",
                boto3_process,
                note="goal ≤ 0.3 s absolute",
            )
        )
    return figures
