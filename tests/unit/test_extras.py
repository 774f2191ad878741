"""The extras table that names a missing extra agrees with pyproject.toml's extras."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import packages_distributions, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from dropsleuth.extras import EXTRA_OF_MODULE, MissingExtraError, missing_extra, needs_extra

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text("utf-8"))
EXTRAS: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]
CORE = PYPROJECT["project"]["dependencies"]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(requirements: list[str]) -> set[str]:
    """The distributions the requirements install, with the extras they ask for (as installed here)."""
    found: set[str] = set()
    pending = [Requirement(r) for r in requirements]
    while pending:
        requirement = pending.pop()
        name = _canonical(requirement.name)
        if name in found or name == "dropsleuth":
            continue
        found.add(name)
        for text in requires(name) or []:
            child = Requirement(text)
            wanted = [{"extra": e} for e in requirement.extras] or [{"extra": ""}]
            if child.marker is None or any(child.marker.evaluate(env) for env in wanted):
                pending.append(child)
    return found


@pytest.mark.parametrize("module", sorted(EXTRA_OF_MODULE))
def test_each_module_is_brought_by_the_extra_the_message_names(module: str) -> None:
    extra, _ = EXTRA_OF_MODULE[module]
    (distribution,) = {_canonical(d) for d in packages_distributions()[module]}
    assert distribution in _closure(EXTRAS[extra]), (module, extra)
    assert distribution not in _closure(CORE)


def test_a_missing_extra_module_is_named_and_others_are_not() -> None:
    found = missing_extra(ModuleNotFoundError("No module named 'duckdb'", name="duckdb"))
    assert found is not None
    assert found.extra == "local"
    assert "pip install 'dropsleuth[local]'" in found.message()
    assert missing_extra(ModuleNotFoundError("No module named 'yaml'", name="yaml")) is None


def test_needs_extra_names_the_commands_extra_whichever_module_is_missing() -> None:
    with pytest.raises(MissingExtraError, match=r"dropsleuth\[demo\]"), needs_extra("demo", "the demo"):
        raise ModuleNotFoundError("No module named 'aws_lambda_powertools'", name="aws_lambda_powertools")
    with pytest.raises(ModuleNotFoundError), needs_extra("demo", "the demo"):
        raise ModuleNotFoundError("No module named 'dropsleuth.nothing'", name="dropsleuth.nothing")
