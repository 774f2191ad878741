"""The ``dropsleuth`` entry point: the app, its commands loaded when run, and errors mapped to exit codes.

Start-up is what an operator waits for (``dropsleuth --help``, ``dropsleuth probe pmtu`` on a site host), so
the root group lists its commands from the static table below and imports a command module only when that
command is run or its own help is asked for (the idiom click documents as lazily loaded subcommands).
tests/unit/test_cli_startup.py fails when the table drifts from the modules' real commands.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

import typer
import typer.main

# Typer ≥ 0.26 parses with its own vendored copy of click (pyproject.toml bounds typer to that series), which
# raises typer.Exit/typer.Abort and its own UsageError; click itself is not installed with dropsleuth.
from typer._click import Context, HelpFormatter
from typer._click.exceptions import UsageError
from typer._click.utils import make_default_short_help

from dropsleuth.aws.errors import AwsError, InputError
from dropsleuth.cli.common import EXIT_AWS_ERROR, EXIT_BAD_INPUT, LightGroup
from dropsleuth.extras import missing_extra

ROOT_HELP = "Find out why TCP traffic is being dropped: PMTUD black holes, blocked ICMP, MTU mismatches."


@dataclass(frozen=True)
class CommandEntry:
    """A top-level command as ``--help`` lists it: its name, the module whose ``register(app)`` adds it,
    and the first paragraph of its help (what click shortens into the listing)."""

    name: str
    module: str
    help: str


# In the order Typer lists them (commands, then groups), so the listing reads as it did when every module
# was imported up front.
COMMANDS: tuple[CommandEntry, ...] = (
    CommandEntry(
        "audit",
        "dropsleuth.cli.audit",
        "Audit NACLs and security groups for blocked ICMP fragmentation-needed.",
    ),
    CommandEntry(
        "demo",
        "dropsleuth.cli.demo",
        "Replay an incident on an embedded account and investigate it, with no AWS credentials needed.",
    ),
    CommandEntry(
        "investigate",
        "dropsleuth.cli.investigate",
        "Investigate why traffic is dropped: concurrent evidence → ranked root cause → report.",
    ),
    CommandEntry(
        "path",
        "dropsleuth.cli.path",
        "Hop MTUs and the PMTUD verdict between a source and a destination (exit 1 on a black hole).",
    ),
    CommandEntry("netplan-check", "dropsleuth.cli.probe", "Check a netplan file before applying it."),
    CommandEntry(
        "query",
        "dropsleuth.cli.query",
        "Run a named flow-log query over a window and print its rows and the bytes it scanned.",
    ),
    CommandEntry("flowlogs", "dropsleuth.cli.flowlogs", "VPC Flow Logs: coverage and enabling."),
    CommandEntry(
        "probe",
        "dropsleuth.cli.probe",
        "The host-side agent: path-MTU probes, interfaces, counters, firewall, upload, the scheduled agent.",
    ),
    CommandEntry(
        "netplan",
        "dropsleuth.cli.probe",
        "Guarded netplan changes: validate, record, apply, test the path MTU, revert on failure.",
    ),
)

_TABLE_NAMES = frozenset(entry.name for entry in COMMANDS)


class LazyGroup(LightGroup):
    """The root group: knows its commands from ``COMMANDS`` and imports a module on first use."""

    def list_commands(self, ctx: Context) -> list[str]:  # noqa: ARG002 -- click's signature
        return [entry.name for entry in COMMANDS] + [n for n in self.commands if n not in _TABLE_NAMES]

    def get_command(self, ctx: Context, cmd_name: str) -> Any:  # noqa: ARG002 -- click's signature
        if cmd_name not in self.commands:
            entry = next((e for e in COMMANDS if e.name == cmd_name), None)
            if entry is not None:
                self.load(entry.module)
        return self.commands.get(cmd_name)

    def load(self, module_name: str) -> None:
        """Import one command module and add every command its ``register(app)`` declares."""
        scratch = typer.Typer(rich_markup_mode=self.rich_markup_mode, suggest_commands=self.suggest_commands)
        importlib.import_module(module_name).register(scratch)
        for name, command in typer.main.get_group(scratch).commands.items():
            self.commands.setdefault(name, command)

    def load_all(self) -> None:
        """Every command, as the generated CLI reference and the tests need them."""
        for module_name in dict.fromkeys(entry.module for entry in COMMANDS):
            self.load(module_name)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:  # noqa: ARG002
        # Click's own listing asks each command for its short help, which would import every module; the
        # table holds that help's first paragraph, shortened here exactly as click shortens it.
        limit = formatter.width - 6 - max(len(entry.name) for entry in COMMANDS)
        with formatter.section("Commands"):
            formatter.write_dl([(e.name, make_default_short_help(e.help, limit)) for e in COMMANDS])

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Any, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as error:
            # Typer suggests close names from the loaded commands only; here most are not loaded yet.
            from difflib import get_close_matches  # noqa: PLC0415

            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches and "Did you mean" not in error.message:
                suggestions = ", ".join(f"{m!r}" for m in matches)
                error.message = f"{error.message.rstrip('.')}. Did you mean {suggestions}?"
            raise


def _root() -> None:
    """Find out why TCP traffic is being dropped: PMTUD black holes, blocked ICMP, MTU mismatches."""


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="dropsleuth",
        cls=LazyGroup,
        help=ROOT_HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    # A group callback keeps `dropsleuth <command>` a group although no command is registered up front
    # (Typer otherwise builds a lone command, or nothing, instead of a group).
    app.callback()(_root)
    return app


def full_command() -> LazyGroup:
    """The root click group with every command module imported: for the docs build and the tests."""
    command = typer.main.get_command(build_app())
    assert isinstance(command, LazyGroup)
    command.load_all()
    return command


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; every failure the user can cause or AWS can raise ends in one line and an exit code."""
    app = build_app()
    command = typer.main.get_command(app)
    try:
        result = command.main(
            args=argv if argv is not None else sys.argv[1:], prog_name="dropsleuth", standalone_mode=False
        )
    except typer.Exit as done:
        return int(done.exit_code)
    except typer.Abort:
        typer.echo("dropsleuth: aborted", err=True)
        return 130
    except UsageError as error:
        typer.echo(f"dropsleuth: error: {error.format_message()}", err=True)
        return EXIT_BAD_INPUT
    except InputError as error:
        typer.echo(f"dropsleuth: error: {error}", err=True)
        return EXIT_BAD_INPUT
    except AwsError as error:
        typer.echo(f"dropsleuth: AWS error ({error.kind}): {error}", err=True)
        return EXIT_AWS_ERROR
    except ModuleNotFoundError as error:
        extra = missing_extra(error)
        if extra is None:  # not an optional dependency: a real bug, keep its traceback
            raise
        typer.echo(f"dropsleuth: error: {extra.message()}", err=True)
        return EXIT_BAD_INPUT
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())
