"""Every Lambda in the catalog: its console test event exists, and the handler answers it without raising.

In an empty moto account the ids in the sample events do not exist: each handler must still answer with a
clear result or error (``ok`` false with the field or the fault), never an unhandled exception.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from dropsleuth.config import Settings, settings
from dropsleuth.functions import FunctionSpec, catalog

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
