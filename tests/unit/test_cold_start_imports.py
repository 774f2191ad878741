"""What a Lambda cold start imports: the local engine's libraries and the X-Ray SDK only where they are used.

Speed is measured in bench/bench_coldstart.py; this checks the imports that decide it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from dropsleuth.functions import handler_modules

HEAVY = ("sqlglot", "duckdb", "pyarrow", "aws_xray_sdk")


def imported_after(code: str, **env: str) -> set[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_TASK_ROOT"))}
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env=clean | env,
        timeout=120,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_no_handler_imports_the_local_engine_or_the_xray_sdk_outside_lambda() -> None:
    modules = imported_after("\n".join(f"import {module}" for module in handler_modules()))
    assert "dropsleuth.handlers.investigate" in modules
    assert {m for m in modules if m.split(".")[0] in HEAVY} == set()


def test_in_lambda_with_tracing_on_the_handlers_are_traced_by_powertools() -> None:
    code = (
        "import dropsleuth.handlers.audit_icmp as h\n"
        "from aws_lambda_powertools import Tracer\n"
        "assert isinstance(h.tracer, Tracer)"
    )
    assert "aws_xray_sdk" in imported_after(code, LAMBDA_TASK_ROOT="/var/task")
    assert "aws_xray_sdk" not in imported_after(
        "import dropsleuth.handlers.audit_icmp",
        LAMBDA_TASK_ROOT="/var/task",
        POWERTOOLS_TRACE_DISABLED="true",
    )
