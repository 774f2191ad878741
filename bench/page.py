"""``docs/benchmarks.md``: the figures of the last run of each benchmark, written by ``make bench``.

Numbers are never copied into the docs by hand: the page holds one section per benchmark, each with the date,
the machine (cores, CPU architecture, Python) and the command of the run that produced it. Running some
benchmarks (``python -m bench audit``) replaces only their sections; a benchmark that failed keeps its
previous, dated section.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.harness import Figure

PAGE = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"

INTRO = """# Benchmarks

Speed is measured in benchmarks, never in timed tests. Each figure stands beside a baseline measured in the
same run, on the same data, because the machines this runs on are shared and noisy: read the **ratio**, not
the absolute time. Where a baseline is assumed rather than measured, the figure's note says so.

This page is written by `make bench` (`python -m bench`, every `bench/bench_*.py`); `python -m bench NAME …`
rewrites only the named benchmarks' sections. Each section says when, where and with which command its
figures were measured. The probe benchmark needs root and network namespaces; the queries benchmark
generates 10 M flow-log records once and caches them under `bench/results/`.

Reading them: **audit** — the cost of evaluating every SG and NACL rule against frag-needed, beside merely
iterating them (the goal: under a second). **investigate** — the concurrent investigation beside its
slowest step alone (≈ 1 means it costs the slowest step, not the sum) and beside the steps one after another.
**path** — the first analysis (which builds the route index) and later ones, beside reading the routes once.
**probe** — dropsleuth's DF probes beside tracepath in the same lab, with the verdict each gave (right or
wrong). **queries** — bytes and records a 1-hour window reads beside the whole table and beside a query
without partition predicates shaped like the VPC console's `VpcFlowLogsRejectedTraffic`; a small window's
records-per-second figure is low because each query's fixed cost dominates it. **host_counters** — one agent
cycle reading every drop counter beyond ICMP (and writing its state) beside reading `/proc/net/netstat` alone
(the goal: well under a second per cycle).
"""

_SECTION = re.compile(r"<!-- bench:(?P<name>[\w-]+) -->\n.*?<!-- /bench:(?P=name) -->\n", re.DOTALL)


@dataclass(frozen=True)
class Run:
    """Where and how a set of figures was measured."""

    when: str
    cores: int | None
    command: str
    machine: str = ""

    @classmethod
    def now(cls, *, when: datetime, cores: int | None, command: str) -> Run:
        machine = f"{platform.machine()}, Python {platform.python_version()}"
        return cls(when=f"{when:%Y-%m-%d %H:%M} UTC", cores=cores, command=command, machine=machine)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_section(name: str, about: str, figures: Sequence[Figure], run: Run) -> str:
    """One benchmark's section: what it measures, where and when, and its figures as a table."""
    cores = f"{run.cores} cores" if run.cores else "an unknown number of cores"
    where = f"{cores}, {run.machine}" if run.machine else cores
    lines = [
        f"<!-- bench:{name} -->",
        f"## {name}",
        "",
        about.strip(),
        "",
        f"Measured {run.when} on {where}, with `{run.command}`.",
        "",
        "| measured | value | baseline | baseline value | ratio | note |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {_cell(f.measured)} | {f.value:.4g} {f.unit} | {_cell(f.baseline)} "
        f"| {f.baseline_value:.4g} {f.unit} | {f.ratio:.3g} | {_cell(f.note)} |"
        for f in figures
    ]
    lines.append(f"<!-- /bench:{name} -->")
    return "\n".join(lines) + "\n"


def sections_of(page: str) -> dict[str, str]:
    """The benchmark sections already on a page, by benchmark name."""
    return {m.group("name"): m.group(0) for m in _SECTION.finditer(page)}


def updated_page(existing: str, new_sections: Mapping[str, str]) -> str:
    """The page with ``new_sections`` replacing (or joining) the existing ones, in name order."""
    sections = sections_of(existing) | dict(new_sections)
    return INTRO + "\n" + "\n".join(sections[name] for name in sorted(sections))


def write_page(results: Iterable[tuple[str, str, Sequence[Figure]]], run: Run, *, path: Path = PAGE) -> Path:
    """Write (name, about, figures) of each benchmark that ran into the page at ``path``."""
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    new = {name: render_section(name, about, figures, run) for name, about, figures in results if figures}
    path.write_text(updated_page(existing, new), encoding="utf-8")
    return path


def about_of(module_doc: str | None) -> str:
    """A benchmark's description: the first paragraph of its module docstring, on one line."""
    first = (module_doc or "").strip().split("\n\n", 1)[0]
    return " ".join(first.split())
