"""The documentation's promises: a short README, references that resolve, a CLI reference from the code."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from types import ModuleType

import click

from dropsleuth.cli.main import full_command

ROOT = Path(__file__).resolve().parents[2]
README_LIMIT = 12_000
# Top-level folders of this repository and the package's own folders, as the code and docs name them.
REPO_FOLDERS = ("docs", "lambdas", "tests", "queries", "events", "cdk", "deploy", "bench")
PACKAGE_FOLDERS = ("rules", "aws", "probe", "report", "handlers", "demo", "flowlogs", "steps", "cli")
_EXTENSIONS = r"(?:md|py|sql|json|ya?ml|toml|txt|service|timer|html)"
# docs/report.md, tests/netns/lab.py#L5, queries/*.sql — a path that starts at a repository folder.
_REPO_PATH = re.compile(rf"(?<![\w./:@-])((?:{'|'.join(REPO_FOLDERS)})/[\w./*-]*\.{_EXTENSIONS})(?![\w/])")
# rules/path.py, probe/pmtu.py — a module named from inside the package.
_PACKAGE_PATH = re.compile(rf"(?<![\w./:@-])((?:{'|'.join(PACKAGE_FOLDERS)})/[\w./-]*\.py)(?![\w/])")
# FACTS.md, DESIGN.md, README.md — a project document named by its file name alone.
_DOCUMENT_NAME = re.compile(r"(?<![\w./-])([A-Z][A-Z_]+\.md)\b")


def project_text_files() -> list[Path]:
    """Every file git would commit (tracked or new, not ignored), except lock files and binaries."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = []
    for name in listing:
        path = ROOT / name
        if name.endswith((".lock", "package-lock.json", ".png")) or not path.is_file():
            continue
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        files.append(path)
    return files


def _exists(pattern: str, base: Path) -> bool:
    return any(base.glob(pattern)) if "*" in pattern else (base / pattern).exists()


def dangling_references(path: Path, text: str) -> list[str]:
    """The file references in ``text`` that name nothing in this repository."""
    where = path.relative_to(ROOT)
    checks = (
        (_REPO_PATH, lambda name: _exists(name, ROOT)),
        (_PACKAGE_PATH, lambda name: _exists(name, ROOT / "lambdas" / "dropsleuth")),
        (_DOCUMENT_NAME, lambda name: (ROOT / name).exists() or (ROOT / "docs" / name).exists()),
    )
    return [
        f"{where}: {match.group(1)}"
        for pattern, exists in checks
        for match in pattern.finditer(text)
        if not exists(match.group(1))
    ]


def test_no_file_references_a_path_that_is_not_in_the_repository() -> None:
    # This file names missing paths on purpose, as examples for the check below.
    files = [path for path in project_text_files() if path != Path(__file__).resolve()]
    missing = [m for path in files for m in dangling_references(path, path.read_text())]
    assert missing == []


def test_the_reference_check_catches_a_missing_document_and_a_missing_module() -> None:
    text = 'see FACTS.md, "VPC Flow Logs"; rules/no_such_rule.py; docs/nope.md; docs/report.md'
    missing = dangling_references(ROOT / "README.md", text)
    assert missing == ["README.md: docs/nope.md", "README.md: rules/no_such_rule.py", "README.md: FACTS.md"]


def test_readme_is_a_front_door_of_at_most_12000_characters() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme) <= README_LIMIT, f"README.md has {len(readme)} characters; move detail into docs/"
    for command in ("make demo", "make test"):
        assert command in readme


def test_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", readme) if "://" not in t]
    assert targets, "the README links into the docs"
    assert [t for t in targets if not (ROOT / t).exists()] == []


def _reference_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generated_reference", ROOT / "docs" / "hooks" / "generated_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _command_paths(command: click.Command, prefix: str = "dropsleuth") -> list[str]:
    paths = [prefix]
    if isinstance(command, click.Group) or hasattr(command, "commands"):
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            paths += _command_paths(sub, f"{prefix} {name}")
    return paths


def test_cli_reference_is_generated_from_the_typer_app_with_every_command() -> None:
    hook = _reference_hook()
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert hook.MARKER in page, "docs/cli.md must keep the marker the build hook replaces"

    rendered = hook.on_page_markdown(page, page=None, config=None, files=None)

    assert hook.MARKER not in rendered
    command = full_command()
    for path in _command_paths(command):
        assert f"`{path}`" in rendered, f"{path} is missing from the generated CLI reference"
    assert "--flow-logs" in rendered  # options come with their help text


def test_lambdas_page_shows_every_test_event_as_the_file_holds_it() -> None:
    hook = _reference_hook()
    page = (ROOT / "docs" / "lambdas.md").read_text(encoding="utf-8")

    rendered = hook.on_page_markdown(page, page=None, config=None, files=None)

    assert "dropsleuth-include" not in rendered
    for event in sorted((ROOT / "events").glob("*.json")):
        assert f"```json\n{event.read_text().rstrip()}\n```" in rendered, f"{event.name} is not on the page"


def test_agent_page_shows_the_commented_example_configuration() -> None:
    hook = _reference_hook()
    page = (ROOT / "docs" / "agent.md").read_text(encoding="utf-8")
    rendered = hook.on_page_markdown(page, page=None, config=None, files=None)
    example = (ROOT / "deploy" / "agent" / "site.yaml").read_text(encoding="utf-8").rstrip()
    assert f"```yaml\n{example}\n```" in rendered


def test_flow_logs_page_shows_every_sql_file_as_it_is() -> None:
    hook = _reference_hook()
    page = (ROOT / "docs" / "flow-logs.md").read_text(encoding="utf-8")
    rendered = hook.on_page_markdown(page, page=None, config=None, files=None)
    for sql in sorted((ROOT / "queries").glob("*.sql")):
        assert f"```sql\n{sql.read_text().rstrip()}\n```" in rendered, f"{sql.name} is not on the page"
