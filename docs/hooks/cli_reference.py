"""MkDocs hook: writes the CLI reference into docs/cli.md from the Typer app itself, at every build.

The page holds a marker; the hook replaces it with Typer's own Markdown rendering of every command, option
and help text (``typer.cli.get_docs_for_click`` over ``typer.main.get_command(build_app())``). Nothing is
copied by hand, so the reference cannot drift from the code, and it needs no network.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- dropsleuth-cli-reference -->"


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


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:  # noqa: ARG001 -- MkDocs API
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference_markdown())
