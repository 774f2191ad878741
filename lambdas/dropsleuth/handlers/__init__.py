"""Thin Lambda entry points, one module per function, each exposing ``handler`` and ``FUNCTION``."""
