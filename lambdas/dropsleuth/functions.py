"""The catalog of Lambda functions: what each runs, needs and is allowed to call.

Each module in ``dropsleuth.handlers`` exposes ``FUNCTION = FunctionSpec(...)`` beside its handler. The
CDK app deploys one function per spec, with a policy of exactly ``spec.actions``; the README and the
console test events (``events/<name>.json``) follow the same list.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field

from dropsleuth.aws.permissions import Permissions, union


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
    """Names of ``Settings`` fields the function cannot start without (validated at cold start)."""
    schedule_minutes: int | None = None
    """Run on an EventBridge schedule every N minutes (``publish_metrics``)."""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def actions(self) -> frozenset[str]:
        return union(self.permissions)


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
