"""Which optional part of dropsleuth a missing module belongs to, so a command can say what to install.

The plain ``pip install dropsleuth`` is the CLI and the site agent. Everything heavier is an extra of
pyproject.toml; a command that reaches for a module of an extra that is not installed ends with one line
naming the extra, never a traceback. Keep this table in step with pyproject.toml's extras (a test does).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dropsleuth.aws.errors import InputError

# Top-level import name → (extra, what it is for). Only modules of extras: a missing core module is a bug.
EXTRA_OF_MODULE: dict[str, tuple[str, str]] = {
    "duckdb": ("local", "the local SQL engine"),
    "sqlglot": ("local", "the local SQL engine"),
    "aws_lambda_powertools": ("lambda", "the investigation and the Lambda handlers"),
    "aws_xray_sdk": ("lambda", "the investigation and the Lambda handlers"),
    "pyathena": ("lambda", "Athena queries"),
    "moto": ("demo", "the embedded demo account"),
    "pyarrow": ("local", "the local SQL engine"),
}


@dataclass(frozen=True)
class MissingExtra:
    """A module of an extra that is not installed, and the extra that brings it."""

    module: str
    extra: str
    purpose: str

    def message(self) -> str:
        return (
            f"this command needs {self.purpose} ({self.module} is not installed): "
            f"pip install 'dropsleuth[{self.extra}]'"
        )


def missing_extra(error: ModuleNotFoundError) -> MissingExtra | None:
    """The extra behind ``error``, or None when the missing module is not one of an extra's."""
    top = (error.name or "").split(".")[0]
    known = EXTRA_OF_MODULE.get(top)
    return MissingExtra(top, *known) if known else None


class MissingExtraError(InputError):
    """A command needs an extra that is not installed (the message names it)."""


@contextmanager
def needs_extra(extra: str, purpose: str) -> Iterator[None]:
    """Name ``extra`` (not the first missing module's) when imports in the block find an extra missing:
    ``dropsleuth demo`` needs the whole ``demo`` extra, whichever of its modules is found missing first."""
    try:
        yield
    except ModuleNotFoundError as error:
        found = missing_extra(error)
        if found is None:
            raise
        message = MissingExtra(found.module, extra, purpose).message()
        raise MissingExtraError(message, field="extra") from error
