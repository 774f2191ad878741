"""The CLI's start-up: commands listed from a static table, their modules imported only when run.

Speed is measured in bench/bench_coldstart.py; this checks what decides it (the imports) and that the table
``--help`` reads cannot drift from the commands' real help.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterable, Mapping

import pytest
import typer
import typer.main
from typer.testing import CliRunner

import dropsleuth.cli as cli_package
from dropsleuth.cli.main import COMMANDS, ROOT_HELP, CommandEntry, build_app, full_command, run

NOT_COMMAND_MODULES = {"main", "common", "__main__"}
# What `dropsleuth --help` must never load: the AWS SDK (~0.4 s here), pydantic (~0.2 s), the SQL engines.
HEAVY_FOR_HELP = ("boto3", "botocore", "pydantic", "duckdb", "sqlglot", "rich")
# The site agent's probes are plain sockets: no AWS SDK before the probe runs.
HEAVY_FOR_PROBE = ("boto3", "botocore", "pydantic", "duckdb", "sqlglot")


def first_paragraph(text: str | None) -> str:
    return " ".join((text or "").split("\n\n")[0].split())


def table_drift(
    entries: Iterable[CommandEntry], commands: Mapping[str, typer.core.TyperCommand]
) -> list[str]:
    """Where the static table and the modules' real commands disagree, one line each."""
    entries = list(entries)
    problems = [
        f"{name}: registered but not in the table"
        for name in commands
        if name not in {e.name for e in entries}
    ]
    for entry in entries:
        command = commands.get(entry.name)
        if command is None:
            problems.append(f"{entry.name}: in the table but no module registers it")
            continue
        if command.short_help:
            problems.append(f"{entry.name}: has a short_help the listing would not show")
        if first_paragraph(command.help) != entry.help:
            problems.append(
                f"{entry.name}: table says {entry.help!r}, command says {first_paragraph(command.help)!r}"
            )
    return problems


def commands_by_module() -> dict[str, dict[str, typer.core.TyperCommand]]:
    """Each command module's own commands, as its ``register(app)`` declares them."""
    found = {}
    for info in pkgutil.iter_modules(cli_package.__path__):
        if info.name in NOT_COMMAND_MODULES:
            continue
        module = __import__(f"dropsleuth.cli.{info.name}", fromlist=["register"])
        scratch = typer.Typer(rich_markup_mode=None)
        module.register(scratch)
        found[module.__name__] = dict(typer.main.get_group(scratch).commands)
    return found


def test_the_table_names_every_command_of_every_module_with_its_real_help() -> None:
    by_module = commands_by_module()
    assert {entry.module for entry in COMMANDS} == set(by_module), "a command module is missing from COMMANDS"
    for module, commands in by_module.items():
        assert table_drift([e for e in COMMANDS if e.module == module], commands) == [], module


def test_the_drift_check_catches_a_changed_help_a_missing_and_an_unknown_command() -> None:
    commands = commands_by_module()["dropsleuth.cli.audit"]
    edited = CommandEntry("audit", "dropsleuth.cli.audit", "Audit something else.")
    assert table_drift([edited], commands) == [
        f"audit: table says 'Audit something else.', command says {first_paragraph(commands['audit'].help)!r}"
    ]
    assert table_drift([], commands) == ["audit: registered but not in the table"]
    ghost = CommandEntry("ghost", "dropsleuth.cli.audit", "Nothing.")
    assert "ghost: in the table but no module registers it" in table_drift([*COMMANDS[:1], ghost], commands)


def test_lazy_help_reads_exactly_as_the_help_of_every_module_imported_up_front() -> None:
    eager = typer.Typer(name="dropsleuth", help=ROOT_HELP, add_completion=False, rich_markup_mode=None)
    eager.callback()(lambda: None)
    for module in sorted({entry.module for entry in COMMANDS}):  # as the app was built before the table
        __import__(module, fromlist=["register"]).register(eager)
    expected = CliRunner().invoke(eager, ["--help"], prog_name="dropsleuth")
    lazy = CliRunner().invoke(build_app(), ["--help"], prog_name="dropsleuth")
    assert "Commands" in expected.stdout
    assert lazy.stdout == expected.stdout


def test_full_command_holds_every_command_for_the_docs() -> None:
    command = full_command()
    assert set(command.commands) == {entry.name for entry in COMMANDS}
    assert set(command.commands["probe"].commands) >= {"pmtu", "responder", "interfaces", "run"}  # type: ignore[attr-defined]


def test_an_unknown_command_is_one_line_with_a_suggestion_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["audti"]) == 2
    assert capsys.readouterr().err == "dropsleuth: error: No such command 'audti'. Did you mean 'audit'?\n"


def modules_after_cli(*argv: str) -> set[str]:
    code = (
        "import json, sys\nfrom dropsleuth.cli.main import run\n"
        f"code = run({list(argv)!r})\nprint(json.dumps([code, sorted(sys.modules)]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    exit_code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert exit_code == 0
    return set(modules)


def top_level(modules: set[str], names: Iterable[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in set(names)}


def test_help_imports_no_command_module_nor_the_sdk_pydantic_or_the_engines() -> None:
    modules = modules_after_cli("--help")
    assert "dropsleuth.cli.main" in modules
    assert top_level(modules, HEAVY_FOR_HELP) == set()
    assert {m for m in modules if m.startswith("dropsleuth.cli.")} <= {
        "dropsleuth.cli.main",
        "dropsleuth.cli.common",
    }


def test_probe_pmtu_help_imports_only_the_probe_commands_and_no_aws_sdk() -> None:
    modules = modules_after_cli("probe", "pmtu", "--help")
    assert "dropsleuth.cli.probe" in modules
    assert top_level(modules, HEAVY_FOR_PROBE) == set()
    assert not {"dropsleuth.cli.investigate", "dropsleuth.cli.query", "dropsleuth.cli.demo"} & modules
