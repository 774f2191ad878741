"""Diagnosis accuracy over the incident classes of tests/accuracy, with the same summary table.

Not a speed figure: the ratio is classes diagnosed right (top-1) over classes run, and the second figure
counts high/critical findings on healthy networks against their count (the goal: 0). Wall time per class
is in the table.
"""

from __future__ import annotations

from bench.harness import Figure


def run() -> list[Figure]:
    # The suite lives with the tests (its classes are test data); the bench runs it from the repository.
    from tests.accuracy.suite import CLASSES, PAGES, run_all, table  # noqa: PLC0415

    outcomes = run_all(CLASSES)
    print(table(outcomes), flush=True)
    correct = sum(o.correct for o in outcomes)
    healthy = [o for o in outcomes if o.cls.healthy]
    paged = sum(1 for o in healthy for f in o.report.findings if f.severity in PAGES)
    return [
        Figure(
            "accuracy", "classes diagnosed right (top-1)", correct, "classes run", len(outcomes), "classes"
        ),
        Figure(
            "accuracy",
            "high/critical findings on healthy networks",
            paged,
            "healthy networks",
            len(healthy),
            "findings",
            note="goal: 0",
        ),
    ]
