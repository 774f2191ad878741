"""Run every benchmark under bench/ (or those named) and print one table of figures and ratios."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import traceback
from pathlib import Path

from rich.console import Console
from rich.table import Table

import bench
from bench.harness import Figure


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help="benchmark modules to run (default: all), e.g. audit")
    args = parser.parse_args()
    modules = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(bench.__file__).parent)])
        if m.name.startswith("bench_")
    )
    if args.names:
        modules = [m for m in modules if m.removeprefix("bench_") in args.names or m in args.names]
    figures: list[Figure] = []
    failed = []
    for name in modules:
        print(f"running {name} …", file=sys.stderr, flush=True)
        try:
            figures.extend(importlib.import_module(f"bench.{name}").run())
        except Exception:  # noqa: BLE001 -- one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
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
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
