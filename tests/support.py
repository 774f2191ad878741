"""Helpers shared by test tiers."""

from __future__ import annotations

import os

from tests.conftest import FAKE_ENV


def subprocess_env(endpoint: str | None = None) -> dict[str, str]:
    """The environment for a ``dropsleuth`` subprocess: fake credentials and, if given, the endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(FAKE_ENV)
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env
