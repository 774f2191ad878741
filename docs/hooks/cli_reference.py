"""MkDocs hook: reference text generated from the code and the repository's files at every build.

- ``<!-- dropsleuth-cli-reference -->`` (docs/cli.md) becomes Typer's own Markdown rendering of every
  command, option and help text (``typer.cli.get_docs_for_click`` over
  ``typer.main.get_command(build_app())``).
- ``<!-- dropsleuth-event: events/<name>.json -->`` (docs/lambdas.md) becomes that test event, as the file
  holds it.

Nothing is copied by hand, so these pages cannot drift from the code, and the build needs no network.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

MARKER = "<!-- dropsleuth-cli-reference -->"
ROOT = Path(__file__).resolve().parents[2]
_EVENT_MARKER = re.compile(r"<!-- dropsleuth-event: (events/[\w-]+\.json) -->")


def cli_reference_markdown() -> str:
    """Every command of ``dropsleuth`` in Markdown, its top heading at level 2."""
    import typer  # noqa: PLC0415 -- imported by the build, not when the hook module is loaded
    import typer.main  # noqa: PLC0415
    from typer.cli import get_docs_for_click  # noqa: PLC0415

    from dropsleuth.cli.main import build_app  # noqa: PLC0415

    command = typer.main.get_command(build_app())
    context = typer.Context(command, info_name="dropsleuth")
    text = get_docs_for_click(obj=command, ctx=context, indent=1, name="dropsleuth")
    return text.strip() + "\n"


def test_event_markdown(relative_path: str) -> str:
    """A test event file of the repository as a JSON code block, exactly as the file holds it."""
    text = (ROOT / relative_path).read_text(encoding="utf-8").rstrip("\n")
    return f"```json\n{text}\n```"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:  # noqa: ARG001 -- MkDocs API
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, cli_reference_markdown())
    return _EVENT_MARKER.sub(lambda match: test_event_markdown(match.group(1)), markdown)
