"""Helpers shared by test tiers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import FAKE_ENV

ROOT = Path(__file__).resolve().parents[1]


def subprocess_env(endpoint: str | None = None) -> dict[str, str]:
    """The environment for a ``dropsleuth`` subprocess: fake credentials and, if given, the endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(FAKE_ENV)
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def run_dropsleuth(
    endpoint: str | None, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m dropsleuth.cli ARGS`` as a user runs it, against ``endpoint`` (a moto server)."""
    return subprocess.run(
        [sys.executable, "-m", "dropsleuth.cli", *args], capture_output=True, text=True,
        env=subprocess_env(endpoint), cwd=ROOT, timeout=timeout, check=False,
    )  # fmt: skip
