"""``make bench`` writes its figures to docs/benchmarks.md, dated, with the machine and the command."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

import bench.__main__ as bench_main
from bench.harness import Figure
from bench.page import INTRO, PAGE, Run, about_of, sections_of, write_page

RUN = Run(
    when="2026-12-07 08:00 UTC", cores=2, command="python -m bench audit", machine="x86_64, Python 3.11"
)
AUDIT = [Figure("audit", "evaluate 90,000 rules", 0.12, "iterate the same rules", 0.008, note="goal: met")]
PATH_FIGURES = [Figure("path", "first analysis", 0.06, "read the routes once", 0.04)]


def test_a_section_names_the_date_the_machine_the_command_and_each_ratio(tmp_path: Path) -> None:
    page = write_page([("audit", "What the audit costs.", AUDIT)], RUN, path=tmp_path / "benchmarks.md")
    text = page.read_text()
    assert text.startswith(INTRO)
    assert (
        "Measured 2026-12-07 08:00 UTC on 2 cores, x86_64, Python 3.11, with `python -m bench audit`." in text
    )
    assert "| evaluate 90,000 rules | 0.12 s | iterate the same rules | 0.008 s | 15 | goal: met |" in text
    assert "What the audit costs." in text


def test_running_some_benchmarks_replaces_only_their_sections(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    write_page([("audit", "Audit.", AUDIT), ("path", "Path.", PATH_FIGURES)], RUN, path=page)
    later = Run(when="2026-12-08 09:00 UTC", cores=4, command="python -m bench audit")
    faster = [Figure("audit", "evaluate 90,000 rules", 0.06, "iterate the same rules", 0.008)]

    write_page([("audit", "Audit.", faster)], later, path=page)

    sections = sections_of(page.read_text())
    assert set(sections) == {"audit", "path"}
    assert "2026-12-08 09:00 UTC on 4 cores" in sections["audit"]
    assert "0.06 s" in sections["audit"]
    assert "2026-12-07 08:00 UTC" in sections["path"]  # untouched, still dated by its own run


def test_a_benchmark_without_figures_keeps_its_previous_section(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    write_page([("audit", "Audit.", AUDIT)], RUN, path=page)
    before = page.read_text()
    write_page([("audit", "Audit.", [])], RUN, path=page)
    assert page.read_text() == before


def test_cells_with_pipes_do_not_break_the_table(tmp_path: Path) -> None:
    odd = [Figure("audit", "a | b", 1.0, "c", 2.0, note="x | y")]
    text = write_page([("audit", "A.", odd)], RUN, path=tmp_path / "b.md").read_text()
    assert "| a \\| b | 1 s | c | 2 s | 0.5 | x \\| y |" in text


def test_about_is_the_first_paragraph_of_the_module_docstring() -> None:
    assert about_of("First line\n   continues.\n\nSecond paragraph.") == "First line continues."


def test_make_bench_writes_the_page_with_the_run_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = ModuleType("bench.bench_audit")
    fake.__doc__ = "Rule evaluation over a synthetic account.\n\nMore detail."
    fake.run = lambda: AUDIT  # type: ignore[attr-defined]
    real_import = bench_main.importlib.import_module
    monkeypatch.setattr(
        bench_main.importlib,
        "import_module",
        lambda name: fake if name == "bench.bench_audit" else real_import(name),
    )
    page = tmp_path / "benchmarks.md"
    monkeypatch.setattr(sys, "argv", ["python -m bench", "audit", "--page", str(page)])

    assert bench_main.main() == 0

    section = sections_of(page.read_text())["audit"]
    assert "with `python -m bench audit`" in section
    assert f"on {os.cpu_count()} cores" in section
    assert datetime.now(UTC).strftime("%Y-%m-%d") in section
    assert "Rule evaluation over a synthetic account." in section


def test_the_committed_page_has_a_section_per_benchmark() -> None:
    names = {p.stem.removeprefix("bench_") for p in (PAGE.parents[1] / "bench").glob("bench_*.py")}
    assert set(sections_of(PAGE.read_text())) == names
