"""The catalog of Lambda functions: what each runs, needs and is allowed to call.

Each module in ``dropsleuth.handlers`` exposes ``FUNCTION = FunctionSpec(...)`` beside its handler. The
CDK app deploys one function per spec, with a policy of exactly ``spec.actions``; the README and the
console test events (``events/<name>.json``) follow the same list.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dropsleuth.aws.permissions import Permissions, Scope, grants, union
from dropsleuth.config import load_settings


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    """Short name, also the test event's file name and the CLI-facing name (``audit_icmp``)."""
    handler: str
    """Dotted path of the handler callable, as Lambda's ``Handler`` setting wants it."""
    description: str
    permissions: tuple[Permissions, ...]
    timeout_s: int = 60
    memory_mb: int = 512
    required_settings: tuple[str, ...] = ()
    """Names of ``Settings`` fields the function cannot start without (validated at cold start, see
    ``check_cold_start``; the CDK app also refuses to synthesize a function it would not give them)."""
    schedule_minutes: int | None = None
    """Run on an EventBridge schedule every N minutes (``publish_metrics``)."""
    extra: dict[str, str] = field(default_factory=dict)
    granted_when: dict[str, tuple[Permissions, ...]] = field(default_factory=dict)
    """Permissions granted only when the ``Settings`` flag named by the key is true in the deployment
    (``allow_enable_flow_logs`` → creating flow logs): with the flag off, the role cannot do it at all."""
    max_event_age_s: int = 3600
    """How long Lambda keeps retrying an asynchronous event (EventBridge) before it goes to the failure
    queue: an alarm older than an hour is investigated from the report it already has, or not at all."""

    def __post_init__(self) -> None:
        check_cold_start(self)

    @property
    def actions(self) -> frozenset[str]:
        """Every action the code may call, flags on or off (what the call recorder checks against)."""
        return union((*self.permissions, *(p for parts in self.granted_when.values() for p in parts)))

    @property
    def grants(self) -> dict[str, tuple[Scope, ...]]:
        """Each action with the scopes its declarations give it (``()``: unscoped), every flag on."""
        return grants((*self.permissions, *(p for parts in self.granted_when.values() for p in parts)))

    def permissions_for(self, settings: Mapping[str, Any]) -> tuple[Permissions, ...]:
        """The declarations the role gets in a deployment with these settings (``Settings`` field names)."""
        flagged = (
            p for flag, parts in sorted(self.granted_when.items()) if settings.get(flag) for p in parts
        )
        return (*self.permissions, *flagged)

    def grants_for(self, settings: Mapping[str, Any]) -> dict[str, tuple[Scope, ...]]:
        """``grants`` of the declarations this deployment's settings switch on."""
        return grants(self.permissions_for(settings))


def running_handler(environ: dict[str, str] | None = None) -> str | None:
    """The handler the Lambda runtime is loading, or None outside Lambda.

    Lambda sets ``AWS_LAMBDA_FUNCTION_NAME`` and ``_HANDLER`` (the function's Handler setting) in every
    execution environment (Lambda Developer Guide, "Defined runtime environment variables").
    """
    env = os.environ if environ is None else environ
    if not env.get("AWS_LAMBDA_FUNCTION_NAME"):
        return None
    return env.get("_HANDLER") or None


def check_cold_start(spec: FunctionSpec, environ: dict[str, str] | None = None) -> None:
    """Fail the cold start of the function ``spec`` describes when one of its required settings is unset.

    Runs when a handler module defines its ``FUNCTION``, that is while Lambda imports the handler (the
    init phase): a missing variable then fails every invocation with its name (``ConfigError``) before any
    event is read or any AWS client is made. Outside Lambda, and in a Lambda running another handler that
    imports this module, it does nothing: the CLI, the tests and the CDK app import every handler freely.
    """
    if running_handler(environ) != spec.handler:
        return
    load_settings(environ).require(*spec.required_settings)


def catalog() -> dict[str, FunctionSpec]:
    """Every function the handlers package declares, by name."""
    import dropsleuth.handlers as package  # noqa: PLC0415 -- import on demand: handlers pull in adapters

    specs: dict[str, FunctionSpec] = {}
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        spec = getattr(module, "FUNCTION", None)
        if isinstance(spec, FunctionSpec):
            specs[spec.name] = spec
    return specs


def handler_modules() -> list[str]:
    """The module of every deployed handler (``dropsleuth.handlers.<name>``), sorted."""
    return sorted({spec.handler.rpartition(".")[0] for spec in catalog().values()})
