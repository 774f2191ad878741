"""Every Lambda in the catalog: its console test event exists, and the handler answers it without raising.

In an empty moto account the ids in the sample events do not exist: each handler must still answer with a
clear result or error (``ok`` false with the field or the fault), never an unhandled exception.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dropsleuth.config import ConfigError, Settings, settings
from dropsleuth.functions import FunctionSpec, catalog, check_cold_start
from tests.support import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
SPECS = catalog()


class LambdaContextStub:
    function_name = "dropsleuth-test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:dropsleuth-test"
    aws_request_id = "6f2c7a8e-0000-4000-8000-00000000000a"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def test_the_catalog_has_the_lambdas_of_the_design() -> None:
    assert {"audit_icmp", "investigate", "enable_flow_logs", "query_rejects", "publish_metrics"} <= set(SPECS)


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_spec_is_deployable(spec: FunctionSpec) -> None:
    event_file = ROOT / "events" / f"{spec.name}.json"
    assert event_file.is_file(), f"{spec.name} has no console test event"
    assert isinstance(json.loads(event_file.read_text()), dict)
    module_name, _, attribute = spec.handler.rpartition(".")
    assert callable(getattr(importlib.import_module(module_name), attribute))
    assert spec.actions, "a function that calls nothing needs no role: declare what it calls"
    assert all("*" not in action for action in spec.actions)
    assert set(spec.required_settings) <= set(Settings.model_fields)


def _answer(spec: FunctionSpec, event: dict[str, Any]) -> Any:
    module_name, _, attribute = spec.handler.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)(event, LambdaContextStub())


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_handler_answers_its_sample_event_in_an_empty_account(
    spec: FunctionSpec, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in spec.required_settings:
        monkeypatch.setenv(f"DROPSLEUTH_{name.upper()}", f"dropsleuth-test-{name.replace('_', '-')}")
    settings.cache_clear()
    try:
        answer = _answer(spec, json.loads((ROOT / "events" / f"{spec.name}.json").read_text()))
    finally:
        settings.cache_clear()
    assert isinstance(answer, dict)


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
@pytest.mark.parametrize("event", [[], "text", {"unexpected": {"deeply": [1, 2]}}, {"window": 5}], ids=repr)
def test_handler_never_raises_on_malformed_events(
    spec: FunctionSpec, event: Any, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in spec.required_settings:
        monkeypatch.setenv(f"DROPSLEUTH_{name.upper()}", f"dropsleuth-test-{name.replace('_', '-')}")
    settings.cache_clear()
    try:
        answer = _answer(spec, event)
    finally:
        settings.cache_clear()
    assert isinstance(answer, dict)


REQUIRING = [spec for spec in SPECS.values() if spec.required_settings]


def _lambda_env(
    spec: FunctionSpec, *, handler: str | None = None, unset: str | None = None
) -> dict[str, str]:
    """What Lambda gives the function: its name, its handler, and the settings the CDK app sets."""
    env = {k: v for k, v in subprocess_env().items() if not k.startswith("DROPSLEUTH_")}
    env.update({"AWS_LAMBDA_FUNCTION_NAME": f"DropSleuth-{spec.name}", "_HANDLER": handler or spec.handler})
    for name in spec.required_settings:
        if name != unset:
            env[f"DROPSLEUTH_{name.upper()}"] = f"dropsleuth-test-{name.replace('_', '-')}"
    return env


def _import_handler(spec: FunctionSpec, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    module = spec.handler.rpartition(".")[0]
    return subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_some_function_requires_settings() -> None:
    assert REQUIRING, "no spec declares required_settings: the cold-start check would test nothing"


@pytest.mark.parametrize("spec", REQUIRING, ids=[s.name for s in REQUIRING])
def test_cold_start_fails_naming_the_missing_variable(spec: FunctionSpec) -> None:
    """Lambda's init phase imports the handler module: a missing setting fails there, by name."""
    missing = spec.required_settings[-1]
    failed = _import_handler(spec, _lambda_env(spec, unset=missing))
    assert failed.returncode != 0
    assert f"DROPSLEUTH_{missing.upper()}" in failed.stderr
    assert "ConfigError" in failed.stderr

    assert _import_handler(spec, _lambda_env(spec)).returncode == 0


@pytest.mark.parametrize("spec", REQUIRING, ids=[s.name for s in REQUIRING])
def test_the_check_applies_only_to_the_handler_lambda_is_loading(spec: FunctionSpec) -> None:
    """Another function importing this module, the CLI and the tests import it without its settings."""
    missing = spec.required_settings[0]
    env = _lambda_env(spec, handler="dropsleuth.handlers.audit_icmp.handler", unset=missing)
    assert _import_handler(spec, env).returncode == 0, "another handler's cold start must not check it"
    check_cold_start(spec, {})  # outside Lambda: nothing to check

    with pytest.raises(ConfigError) as caught:
        check_cold_start(spec, _lambda_env(spec, unset=missing))
    assert caught.value.field == f"DROPSLEUTH_{missing.upper()}"
