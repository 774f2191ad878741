"""The ``dropsleuth`` entry point: builds the app from the command modules and maps errors to exit codes."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

# Typer ≥ 0.26 parses with its own vendored copy of click (pyproject.toml bounds typer to that series), which
# raises typer.Exit/typer.Abort and its own UsageError; click itself is not installed with dropsleuth.
from typer._click.exceptions import UsageError

from dropsleuth.aws.errors import AwsError, InputError
from dropsleuth.cli.common import EXIT_AWS_ERROR, EXIT_BAD_INPUT
from dropsleuth.extras import missing_extra

_NOT_COMMAND_MODULES = {"main", "common", "__main__"}


def _root() -> None:
    """Find out why TCP traffic is being dropped: PMTUD black holes, blocked ICMP, MTU mismatches."""


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="dropsleuth",
        help="Find out why TCP traffic is being dropped: PMTUD black holes, blocked ICMP, MTU mismatches.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    # A group callback keeps `dropsleuth <command>` a group even while only one command module exists
    # (Typer otherwise promotes a lone command to the root and rejects its name as an extra argument).
    app.callback()(_root)
    import dropsleuth.cli as package  # noqa: PLC0415

    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if module_info.name in _NOT_COMMAND_MODULES:
            continue
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        module.register(app)
    return app


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
