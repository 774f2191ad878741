"""Run every benchmark under bench/ (or those named) and print one table of figures and ratios."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

import bench
from bench.harness import Figure
from bench.page import PAGE, Run, about_of, write_page


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help="benchmark modules to run (default: all), e.g. audit")
    parser.add_argument("--page", type=Path, default=PAGE, help="the Markdown page the figures go to")
    parser.add_argument("--no-page", action="store_true", help="print the figures only")
    args = parser.parse_args()
    modules = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(bench.__file__).parent)])
        if m.name.startswith("bench_")
    )
    if args.names:
        modules = [m for m in modules if m.removeprefix("bench_") in args.names or m in args.names]
    figures: list[Figure] = []
    results: list[tuple[str, str, list[Figure]]] = []
    failed = []
    for name in modules:
        print(f"running {name} …", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            produced = module.run()
        except Exception:  # noqa: BLE001 -- one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            continue
        figures.extend(produced)
        results.append((name.removeprefix("bench_"), about_of(module.__doc__), produced))
    table = Table(title="dropsleuth benchmarks")
    for column in ("benchmark", "measured", "value", "baseline", "baseline value", "ratio", "note"):
        table.add_column(column)
    for f in figures:
        table.add_row(
            f.benchmark,
            f.measured,
            f"{f.value:.4g} {f.unit}",
            f.baseline,
            f"{f.baseline_value:.4g} {f.unit}",
            f"{f.ratio:.3g}",
            f.note,
        )
    Console(width=200).print(table)
    for f in figures:
        print(f.line())
    if not args.no_page:
        command = " ".join(["python -m bench", *args.names])
        run = Run.now(when=datetime.now(UTC), cores=os.cpu_count(), command=command)
        print(f"wrote {write_page(results, run, path=args.page)}", file=sys.stderr)
    if failed:
        kept = "their sections on the page keep the previous run"
        print(f"failed ({kept}): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
