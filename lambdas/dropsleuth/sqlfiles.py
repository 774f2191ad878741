"""Where the flow-log SQL files are and which queries they hold, without loading any SQL library.

The command line lists the query names in its help; that must work with the plain install, which has no
sqlglot or DuckDB (``dropsleuth.queries`` parses and runs the files).
"""

from __future__ import annotations

import os
from pathlib import Path

# The Athena DDL of the flow-log table: in queries/ for CDK's named queries, not a query an engine runs.
DDL_NAME = "create_flow_logs_table"


def queries_dir() -> Path:
    """Where the ``.sql`` files are: ``DROPSLEUTH_QUERIES_DIR``, else the package's ``sql/`` folder.

    In the repository ``sql/`` is a symlink to the top-level ``queries/``; the wheel and the Lambda asset
    carry the files themselves, so an installed ``dropsleuth`` reads the same SQL as the tests."""
    configured = os.environ.get("DROPSLEUTH_QUERIES_DIR")
    return Path(configured) if configured else Path(__file__).parent / "sql"


def query_names() -> list[str]:
    """The names of the SELECT queries an engine can run (the DDL excluded)."""
    return sorted(p.stem for p in queries_dir().glob("*.sql") if p.stem != DDL_NAME)
