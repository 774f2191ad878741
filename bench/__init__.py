"""Benchmarks: each ``bench_*.py`` module exposes ``run() -> list[Figure]``; ``python -m bench`` runs them."""
