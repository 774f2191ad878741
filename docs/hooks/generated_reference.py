"""MkDocs hook: reference text generated from the code and the repository's files at every build.

- ``<!-- dropsleuth-cli-reference -->`` (docs/cli.md) becomes Typer's own Markdown rendering of every
  command, option and help text (``typer.cli.get_docs_for_click`` over
  ``dropsleuth.cli.main.full_command()``, the app with every command module imported).
- ``<!-- dropsleuth-include: events/<name>.json -->`` (the test events on docs/lambdas.md, the SQL files on
  docs/flow-logs.md, the agent's commented ``deploy/agent/site.yaml`` on docs/agent.md) becomes that file as
  a code block, as it is.

Nothing is copied by hand, so these pages cannot drift from the code, and the build needs no network.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

MARKER = "<!-- dropsleuth-cli-reference -->"
ROOT = Path(__file__).resolve().parents[2]
_INCLUDE_MARKER = re.compile(r"<!-- dropsleuth-include: ((?:events|deploy|queries)/[\w./-]+) -->")
_LANGUAGE = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".sql": "sql", ".service": "ini"}


def cli_reference_markdown() -> str:
    """Every command of ``dropsleuth`` in Markdown, its top heading at level 2."""
    import typer  # noqa: PLC0415 -- imported by the build, not when the hook module is loaded
    from typer.cli import get_docs_for_click  # noqa: PLC0415

    from dropsleuth.cli.main import full_command  # noqa: PLC0415

    command = full_command()
    context = typer.Context(command, info_name="dropsleuth")
    text = get_docs_for_click(obj=command, ctx=context, indent=1, name="dropsleuth")
    return text.strip() + "\n"


def included_file_markdown(relative_path: str) -> str:
    """A file of the repository as a code block, exactly as the file holds it."""
    path = ROOT / relative_path
    text = path.read_text(encoding="utf-8").rstrip("\n")
    return f"```{_LANGUAGE.get(path.suffix, '')}\n{text}\n```"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:  # noqa: ARG001 -- MkDocs API
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, cli_reference_markdown())
    return _INCLUDE_MARKER.sub(lambda match: included_file_markdown(match.group(1)), markdown)
