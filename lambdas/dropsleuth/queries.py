"""The flow-log SQL in ``queries/``: loaded by name, bound from standard parameters, run on Athena or DuckDB.

Every ``.sql`` file is one Athena (Trino) statement with values only as ``?`` placeholders. Its header
names what each placeholder receives, in order::

    -- placeholders: year_first, year_last, …, start_epoch, end_epoch, source_first, source_last
    -- defaults: min_records=3

Callers pass *standard parameters* and the binding layer derives the placeholder values from them:

- ``start``, ``end``: timezone-aware datetimes (or ISO strings) of the window, UTC. They give the epoch
  bounds of the ``start`` column and the partition predicates (``year``/``month``/``day``/``hour`` strings,
  zero-padded). Files hold records by their **end** time, so the partition range runs to ``end`` plus
  the longest aggregation interval (10 minutes).
- ``source_cidr``, ``destination_cidr``: IPv4 CIDRs, bound as the first and last address as integers;
  the SQL compares them with the address computed by ``split_part``/``try_cast`` arithmetic, which Trino
  and DuckDB evaluate alike (``contains(cidr, ip)`` does not transpile offline: docs/reference/aws-facts.md).
- ``destination_service``: an AWS service name as in ``pkt-dst-aws-service`` (``S3``).
- any name in the file's ``defaults`` line (a number).

Engines share one protocol, ``FlowLogEngine.run(name, params) -> QueryResult``:

- ``AthenaEngine`` runs the file through pyathena with ``ExecutionParameters`` (SQL literals);
- ``LocalEngine`` transpiles the same file to DuckDB with sqlglot and runs it over a directory of flow-log
  files or the window's partitions downloaded from S3, with typed parameters and guards for the silent
  differences between the two engines (docs/reference/aws-facts.md, "DuckDB against Athena"; ``lint_sql``).
"""

from __future__ import annotations

import functools
import gzip
import ipaddress
import json
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import AwsError, AwsTimeoutError, InputError, translate
from dropsleuth.aws.permissions import declare
from dropsleuth.flowlogs.schema import FIELDS, FIELDS_BY_NAME, PARTITION_KEYS
from dropsleuth.sqlfiles import DDL_NAME, queries_dir, query_names

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from dropsleuth.config import Settings

# Athena with pyathena: the query API, the Glue catalog it reads the table from, the data it scans and the
# results bucket it writes to (Athena User Guide, "Access to Amazon S3" and "Fine-grained access to
# databases and tables in the AWS Glue Data Catalog").
PERMISSIONS = declare(
    "athena_queries",
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetPartitions",
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
# The local engine reading the window's partitions from a flow-logs bucket.
LOCAL_S3_PERMISSIONS = declare("flowlogs_local_reader", "s3:ListBucket", "s3:GetObject")

ATHENA_QUERY_TIMEOUT_S = 120.0
"""How long one Athena query may run when nothing tighter is asked (an investigation's step asks less)."""

TABLE = "vpc_flow_logs"
"""The table name the SQL files use; engines point it at the configured table or a local view."""

# A record whose start lies in the window ends at most one aggregation interval later (10 minutes at most,
# VPC User Guide, "Aggregation interval"), and S3 files hold records by their end time.
PARTITION_SLACK = timedelta(minutes=10)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_HEADER = re.compile(r"^--\s*(placeholders|defaults):\s*(.*)$")
_WINDOW_PLACEHOLDERS = (
    "year_first",
    "year_last",
    "month_first",
    "month_last",
    "day_first",
    "day_last",
    "hour_first",
    "hour_last",
    "hour_key_first",
    "hour_key_last",
    "start_epoch",
    "end_epoch",
)
_CIDR_PLACEHOLDERS = {
    "source_like": "source_cidr",
    "source_is_prefix": "source_cidr",
    "source_first": "source_cidr",
    "source_last": "source_cidr",
    "destination_first": "destination",
    "destination_last": "destination",
    "destination_service": "destination",
    "destination_like": "destination",
}
STANDARD_PARAMETERS = ("start", "end", "source_cidr", "destination_cidr", "destination_service")


@dataclass(frozen=True)
class SqlQuery:
    """One file of ``queries/``: its Athena text and what its placeholders receive, in order."""

    name: str
    text: str
    description: str
    placeholders: tuple[str, ...] = ()
    defaults: dict[str, float] = field(default_factory=dict)

    @property
    def is_ddl(self) -> bool:
        return self.name == DDL_NAME

    @property
    def needs(self) -> frozenset[str]:
        """The standard parameters this query cannot run without."""
        needed: set[str] = set()
        for placeholder in self.placeholders:
            if placeholder in _WINDOW_PLACEHOLDERS:
                needed |= {"start", "end"}
            elif placeholder in _CIDR_PLACEHOLDERS:
                needed.add(_CIDR_PLACEHOLDERS[placeholder])
        return frozenset(needed)


def load_query(name: str) -> SqlQuery:
    """Read ``queries/<name>.sql`` and its header; an unknown or malformed name is an ``InputError``."""
    if not _NAME.match(name):
        raise InputError(f"not a query name: {name!r}", field="name")
    path = queries_dir() / f"{name}.sql"
    if not path.is_file():
        known = ", ".join(query_names())
        raise InputError(f"unknown query {name!r} (known: {known})", field="name")
    text = path.read_text(encoding="utf-8")
    placeholders: tuple[str, ...] = ()
    defaults: dict[str, float] = {}
    description = ""
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        header = _HEADER.match(line)
        if header and header.group(1) == "placeholders":
            placeholders = tuple(p.strip() for p in header.group(2).split(",") if p.strip())
        elif header:
            for item in header.group(2).split(","):
                key, _, value = item.partition("=")
                defaults[key.strip()] = float(value)
        elif not description:
            description = line.lstrip("- ").split(":", 1)[-1].strip()
    return SqlQuery(name, text, description, placeholders, defaults)


# --- binding ------------------------------------------------------------------------------------------


def parse_time(value: Any, *, field_name: str) -> datetime:
    """A timezone-aware datetime from a datetime or an ISO 8601 string (``Z`` accepted), in UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as error:
            raise InputError(f"{field_name}: not an ISO 8601 time: {value!r}", field=field_name) from error
    if not isinstance(value, datetime):
        raise InputError(f"{field_name}: expected a time, got {type(value).__name__}", field=field_name)
    if value.tzinfo is None:
        raise InputError(f"{field_name}: give a time zone (e.g. 2026-11-20T09:00:00Z)", field=field_name)
    return value.astimezone(UTC)


def ipv4_range(cidr: Any, *, field_name: str) -> tuple[int, int]:
    """First and last address of an IPv4 CIDR as integers (the SQL's address arithmetic is IPv4 only)."""
    try:
        network = ipaddress.ip_network(str(cidr).strip(), strict=False)
    except ValueError as error:
        raise InputError(f"{field_name}: not a CIDR: {cidr!r}", field=field_name) from error
    if network.version != 4:
        raise InputError(f"{field_name}: only IPv4 CIDRs are supported: {cidr}", field=field_name)
    return int(network.network_address), int(network.broadcast_address)


def octet_prefix_pattern(first: int, last: int) -> tuple[str, bool]:
    """A LIKE pattern every dotted address from ``first`` to ``last`` matches (their common whole octets),
    and whether it matches exactly those addresses.

    ``192.168.50.0/24`` gives ``('192.168.50.%', True)``, ``192.168.50.10/32`` ``('192.168.50.10', True)``,
    ``172.16.0.0/12`` ``('172.%', False)``, ``0.0.0.0/0`` ``('%', True)``. The queries test the pattern
    beside the exact range: a cheap string test first, the arithmetic only where the pattern is not exact.
    """
    octets = []
    for shift in (24, 16, 8, 0):
        if (first >> shift) & 0xFF != (last >> shift) & 0xFF:
            break
        octets.append(str((first >> shift) & 0xFF))
    if len(octets) == 4:
        return ".".join(octets), True
    span = 1 << (8 * (4 - len(octets)))
    exact = first % span == 0 and last == first + span - 1
    return "".join(f"{octet}." for octet in octets) + "%", exact


def partition_bounds(start: datetime, end: datetime) -> dict[str, str]:
    """String bounds on year/month/day/hour that cover every hour partition from ``start`` to ``end``.

    Each column gets its own range (a superset where the window crosses a month or day), and
    ``hour_key_*`` bounds ``concat(year, month, day, hour)`` exactly. Values are strings with AWS's zero
    padding: partitions are strings, and ``hour = 14`` against a string partition fails in Athena.
    """
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    last = end.astimezone(UTC)
    same_year = first.year == last.year
    same_month = same_year and first.month == last.month
    same_day = same_month and first.day == last.day
    return {
        "year_first": f"{first.year:04d}",
        "year_last": f"{last.year:04d}",
        "month_first": f"{first.month:02d}" if same_year else "01",
        "month_last": f"{last.month:02d}" if same_year else "12",
        "day_first": f"{first.day:02d}" if same_month else "01",
        "day_last": f"{last.day:02d}" if same_month else "31",
        "hour_first": f"{first.hour:02d}" if same_day else "00",
        "hour_last": f"{last.hour:02d}" if same_day else "23",
        "hour_key_first": first.strftime("%Y%m%d%H"),
        "hour_key_last": last.strftime("%Y%m%d%H"),
    }


def _number(value: Any, *, field_name: str) -> float:
    if isinstance(value, bool):
        raise InputError(f"{field_name}: expected a number", field=field_name)
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise InputError(f"{field_name}: expected a number, got {value!r}", field=field_name) from error


def derive_values(query: SqlQuery, params: Mapping[str, Any]) -> dict[str, Any]:
    """Every placeholder value of ``query`` from the standard parameters, typed for DuckDB.

    Raises ``InputError`` naming the parameter that is unknown, missing or malformed.
    """
    allowed = set(STANDARD_PARAMETERS) | set(query.defaults)
    for key in params:
        if key not in allowed:
            raise InputError(
                f"{query.name} takes no parameter {key!r} (it takes: {', '.join(sorted(allowed))})",
                field=key,
            )
    values: dict[str, Any] = {}
    needs = query.needs
    if "start" in needs:
        for key in ("start", "end"):
            if params.get(key) in (None, ""):
                raise InputError(f"{query.name} needs {key!r}", field=key)
        start = parse_time(params["start"], field_name="start")
        end = parse_time(params["end"], field_name="end")
        if end <= start:
            raise InputError("end must be after start", field="end")
        values |= partition_bounds(start, end + PARTITION_SLACK)
        values["start_epoch"] = int(start.timestamp())
        values["end_epoch"] = int(end.timestamp())
    if "source_cidr" in needs:
        if not params.get("source_cidr"):
            raise InputError(f"{query.name} needs 'source_cidr'", field="source_cidr")
        values["source_first"], values["source_last"] = ipv4_range(
            params["source_cidr"], field_name="source_cidr"
        )
        values["source_like"], values["source_is_prefix"] = octet_prefix_pattern(
            values["source_first"], values["source_last"]
        )
    if "destination" in needs:
        service = params.get("destination_service") or ""
        cidr = params.get("destination_cidr") or ""
        if bool(service) == bool(cidr):
            raise InputError(
                f"{query.name} needs exactly one of 'destination_service' and 'destination_cidr'",
                field="destination_service",
            )
        # The branch not asked for is bound so that it matches nothing: no service is named "", no
        # address is LIKE "" and BETWEEN 1 AND 0 is empty.
        values["destination_service"] = str(service)
        values["destination_first"], values["destination_last"] = (
            ipv4_range(cidr, field_name="destination_cidr") if cidr else (1, 0)
        )
        values["destination_like"] = (
            octet_prefix_pattern(values["destination_first"], values["destination_last"])[0] if cidr else ""
        )
    for key, default in query.defaults.items():
        number = _number(params.get(key, default), field_name=key)
        values[key] = int(number) if number.is_integer() else number
    return values


def bind(query: SqlQuery, params: Mapping[str, Any]) -> list[Any]:
    """The typed placeholder values of ``query`` in order (DuckDB's binding)."""
    values = derive_values(query, params)
    return [values[name] for name in query.placeholders]


def athena_literal(value: Any) -> str:
    """A value as the SQL literal Athena's ``ExecutionParameters`` want (strings quoted, quotes doubled)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def athena_parameters(query: SqlQuery, params: Mapping[str, Any]) -> list[str]:
    """The ``ExecutionParameters`` of ``query``: the same values as ``bind``, as SQL literals."""
    return [athena_literal(v) for v in bind(query, params)]


def render_ddl(location: str, *, table: str = TABLE) -> str:
    """The table DDL over ``location`` (``schema.table_location(...)``), for Athena.

    Athena takes no parameters in DDL, so the location is validated and written in.
    """
    if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[A-Za-z0-9!_.*()=\-/]*)?/", location):
        raise InputError(f"not an S3 folder URI ending in '/': {location!r}", field="location")
    text = load_query(DDL_NAME).text.replace("@location@", location)
    return retarget(text, table) if table != TABLE else text


def retarget(sql: str, table: str, *, dialect: str = "athena") -> str:
    """``sql`` with the table ``vpc_flow_logs`` replaced by ``table`` (``db.table`` allowed), via sqlglot."""
    import sqlglot  # noqa: PLC0415 -- 0.3 s to import; the Lambdas use it only when they query
    from sqlglot import exp  # noqa: PLC0415

    parts = table.split(".")
    if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p) for p in parts) or len(parts) > 2:
        raise InputError(f"not a table name: {table!r}", field="table")
    tree = sqlglot.parse_one(sql, read="athena")
    for node in tree.find_all(exp.Table):
        if node.name == TABLE and not node.db:
            node.set("this", exp.to_identifier(parts[-1]))
            if len(parts) == 2:
                node.set("db", exp.to_identifier(parts[0]))
    return tree.sql(dialect=dialect)


# --- guards against the silent differences between Trino and DuckDB -------------------------------------

_FRACTIONAL_TYPES = {"DOUBLE", "FLOAT", "DECIMAL"}


def _fractional(node: Any) -> bool:
    from sqlglot import exp  # noqa: PLC0415 -- see lint_sql

    if isinstance(node, exp.Cast | exp.TryCast):
        return node.to.this.name in _FRACTIONAL_TYPES
    if isinstance(node, exp.Literal) and not node.is_string:
        return any(c in node.this for c in ".eE")
    if isinstance(node, exp.Avg):
        return True
    if isinstance(node, exp.Paren | exp.Nullif | exp.Coalesce):
        return _fractional(node.this)
    if isinstance(node, exp.Binary):
        return _fractional(node.left) or _fractional(node.right)
    return False


_CLAUSE_NAMES = {
    "expressions": "the SELECT list",
    "where": "WHERE",
    "having": "HAVING",
    "joins": "a JOIN",
    "limit": "LIMIT",
    "offset": "OFFSET",
    "order": "ORDER BY",
    "group": "GROUP BY",
    "from_": "FROM",
    "from": "FROM",
    "qualify": "QUALIFY",
    "with_": "WITH",
    "with": "WITH",
}


def _placeholder_clause(placeholder: Any) -> str:
    """The clause of the innermost query that holds ``placeholder``: ``WHERE``, ``HAVING``, ``LIMIT``, …

    The innermost query counts: ``WHERE x IN (SELECT ? …)`` puts the placeholder in a SELECT list.
    """
    from sqlglot import exp  # noqa: PLC0415 -- see lint_sql

    node: Any = placeholder
    while node.parent is not None:
        if isinstance(node.parent, exp.Query):
            key = str(node.arg_key)
            return _CLAUSE_NAMES.get(key, key)
        node = node.parent
    return "a statement that is not a query"


def lint_sql(sql: str) -> list[str]:
    """Constructs that Athena and DuckDB evaluate differently or that Athena refuses, found in ``sql``.

    docs/reference/aws-facts.md, "DuckDB against Athena": DuckDB's ``count_if`` is NULL over no rows (0 in
    Trino); integer division truncates in Trino only; ``approx_percentile`` differs on small groups;
    ``contains(cidr, ip)`` does not transpile; DuckDB accepts ``hour = 14`` against a string partition and
    ``?`` anywhere, Athena only in a WHERE clause (Athena User Guide, "Use parameterized queries",
    Considerations and limitations: not in HAVING, the SELECT list, LIMIT or JOIN … ON); a SELECT over the
    table without partition predicates scans it all.
    """
    import sqlglot  # noqa: PLC0415 -- 0.3 s to import; the Lambdas use it only when they query
    from sqlglot import exp  # noqa: PLC0415

    tree = sqlglot.parse_one(sql, read="athena")
    problems = [
        "count_if outside coalesce(…, 0): NULL over no rows in DuckDB, 0 in Trino"
        for count_if in tree.find_all(exp.CountIf)
        if not isinstance(count_if.parent, exp.Coalesce)
    ]
    problems += [
        f"integer division truncates in Trino only: {div.sql('athena')}"
        for div in tree.find_all(exp.Div)
        if not (_fractional(div.left) or _fractional(div.right))
    ]
    problems += [
        f"{func.sql('athena')} is not portable between Athena and DuckDB"
        for func in tree.find_all(exp.Anonymous, exp.ApproxQuantile, exp.ArrayContains)
        if not isinstance(func, exp.Anonymous) or func.name.lower() in {"contains", "approx_percentile"}
    ]
    problems += [
        f"partition compared with a number (a string in Athena): {column.parent.sql('athena')}"
        for column in tree.find_all(exp.Column)
        if column.name in PARTITION_KEYS
        and isinstance(column.parent, exp.Predicate)
        and any(isinstance(o, exp.Literal) and not o.is_string for o in column.parent.iter_expressions())
    ]
    problems += [
        f"placeholder in {clause} (Athena takes ? only in a WHERE clause): "
        + (placeholder.parent.sql("athena") if placeholder.parent else "?")
        for placeholder in tree.find_all(exp.Placeholder)
        if (clause := _placeholder_clause(placeholder)) != "WHERE"
    ]
    for select in tree.find_all(exp.Select):
        from_ = select.args.get("from_") or select.args.get("from")
        reads_table = from_ is not None and any(t.name == TABLE for t in from_.find_all(exp.Table))
        if not reads_table:
            continue
        if any(isinstance(e, exp.Star) for e in select.expressions):
            problems.append("SELECT * over the flow-log table reads every column")
        where = select.args.get("where")
        filtered = {c.name for c in where.find_all(exp.Column)} if where else set()
        missing = [k for k in (*PARTITION_KEYS, "start") if k not in filtered]
        if missing:
            problems.append(f"SELECT over {TABLE} without predicates on {', '.join(missing)}")
    return problems


def to_duckdb(sql: str) -> str:
    """The DuckDB text of an Athena statement (sqlglot), refusing what would run differently."""
    import sqlglot  # noqa: PLC0415 -- 0.3 s to import; the Lambdas use it only when they query
    from sqlglot import exp  # noqa: PLC0415

    problems = lint_sql(sql)
    if problems:
        raise InputError("query not portable to DuckDB: " + "; ".join(problems), field="name")
    tree = sqlglot.parse_one(sql, read="athena")
    # sqlglot writes split_part as string_split + array_extract wrapped in COALESCE(…, ''): DuckDB's own
    # split_part means exactly that ('' past the last field) and is 3x cheaper on the address arithmetic.
    tree = tree.transform(
        lambda node: (
            exp.Anonymous(
                this="split_part", expressions=[node.this, node.args["delimiter"], node.args["part_index"]]
            )
            if isinstance(node, exp.SplitPart)
            else node
        )
    )
    return tree.sql(dialect="duckdb")


# --- results and engines ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryResult:
    """What a query returned: column names, rows as dicts, the bytes it scanned and the engine that ran it."""

    name: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    bytes_scanned: int | None
    engine: str
    query_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.name,
            "engine": self.engine,
            "query_id": self.query_id,
            "bytes_scanned": self.bytes_scanned,
            "columns": list(self.columns),
            "rows": [{k: _jsonable(v) for k, v in row.items()} for row in self.rows],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def _normalise(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        # DuckDB sums BIGINT into HUGEINT (Arrow decimal128); Athena returns bigint.
        return int(value)
    return value


class FlowLogEngine(Protocol):
    """Runs a named query of ``queries/`` with standard parameters."""

    engine: str

    def run(self, name: str, params: Mapping[str, Any]) -> QueryResult: ...


class QueryFailedError(AwsError):
    """Athena ended the query FAILED or CANCELLED; the message carries its StateChangeReason."""

    kind = "query_failed"


class QueryTimeoutError(AwsTimeoutError):
    """The query did not finish within the engine's timeout and was stopped."""


# DuckDB would otherwise infer partition types from the values (``year`` as BIGINT, ``day`` flipping with
# the data) where Athena has strings.
_HIVE_TYPES = "{" + ", ".join(f"'{k}': 'VARCHAR'" for k in PARTITION_KEYS) + "}"
_HIVE_OPTIONS = f"hive_partitioning = true, hive_types = {_HIVE_TYPES}, hive_types_autocast = false"
_DUCKDB_TYPES = {"int": "INTEGER", "bigint": "BIGINT", "string": "VARCHAR"}
_FLOW_LOG_SUFFIXES = (".parquet", ".log.gz")


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class NoFlowLogsError(InputError):
    """The window's hour partitions under a flow-log location hold no file: the location is wrong (or
    delivery has not happened yet), which must never read as "nothing was rejected"."""


# --- flow-log locations ------------------------------------------------------------------------------------

# S3 delivery with Hive-compatible, per-hour partitions writes under <prefix>/ (VPC User Guide, "Flow log
# files" under "Publish flow logs to Amazon S3"):
#   AWSLogs/aws-account-id=ID/aws-service=vpcflowlogs/aws-region=R/year=YYYY/month=MM/day=DD/hour=HH/
# A location may name any folder down to the Region's: the levels it leaves out are listed.
_LAYOUT = ("AWSLogs", "aws-account-id=", "aws-service=vpcflowlogs", "aws-region=")
_LAYOUT_TEXT = "AWSLogs/aws-account-id=…/aws-service=vpcflowlogs/aws-region=…/"


@dataclass(frozen=True)
class FlowLogLocation:
    """A flow-log location as given (``s3://bucket[/prefix]`` or a directory) and how deep into AWS's
    layout it already is: ``depth`` of the four folders ``AWSLogs``, account, service, Region.

    ``base`` is the S3 key prefix (``""`` or ending in ``/``) or the directory (ending in ``/``). A
    directory that holds ``year=`` folders itself (files copied without AWS's prefix) is at depth 4.
    """

    given: str
    base: str
    depth: int
    bucket: str | None = None

    @classmethod
    def parse(cls, source: str | Path) -> FlowLogLocation:
        """The location of ``source``; a path below a Region folder or outside AWS's layout is an
        ``InputError`` naming ``flow_logs``."""
        given = str(source)
        if given.startswith("s3://"):
            bucket, prefix = _split_s3(given)
            segments = [s for s in prefix.split("/") if s]
            depth = _layout_depth(segments, given)
            return cls(given, "".join(s + "/" for s in segments), depth, bucket)
        directory = Path(given)
        if not directory.is_dir():
            raise InputError(f"flow logs: no such directory: {given}", field="flow_logs")
        depth = _layout_depth(list(directory.parts), given)
        if depth == 0 and not (directory / "AWSLogs").is_dir() and any(directory.glob("year=*")):
            depth = len(_LAYOUT)
        return cls(given, directory.as_posix().rstrip("/") + "/", depth)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.base}" if self.bucket is not None else self.base

    def expected(self, hour: datetime) -> str:
        """Where the files of ``hour`` should be, for the error that says none are there."""
        levels = (f"{level}…" if level.endswith("=") else level for level in _LAYOUT[self.depth :])
        return self.uri + "".join(f"{level}/" for level in levels) + _hour_folder(hour)


def _layout_depth(segments: list[str], given: str) -> int:
    """How many levels of AWS's layout end ``segments`` (0 when ``AWSLogs`` is not among them)."""
    if "AWSLogs" not in segments:
        return 0
    below = segments[len(segments) - segments[::-1].index("AWSLogs") :]
    if len(below) < len(_LAYOUT) and all(
        name.startswith(level) if level.endswith("=") else name == level
        for name, level in zip(below, _LAYOUT[1:], strict=False)
    ):
        return 1 + len(below)
    raise InputError(
        f"flow logs: {given} is not a folder of AWS's layout down to a Region; give s3://bucket, "
        f"s3://bucket/prefix, …/AWSLogs/ or a folder of …/{_LAYOUT_TEXT} (Hive-compatible partitions)",
        field="flow_logs",
    )


def _hour_folder(hour: datetime) -> str:
    return f"year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}/"


def hours(start: datetime, end: datetime) -> Iterator[datetime]:
    """Every UTC hour from the one containing ``start`` to the one containing ``end``."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while hour <= end:
        yield hour
        hour += timedelta(hours=1)


class _Folders(Protocol):
    """What the partition walk needs of a store: subfolder names and the flow-log files of a folder."""

    def subfolders(self, folder: str) -> list[str]: ...

    def files(self, folder: str) -> list[str]: ...


class _LocalFolders:
    def subfolders(self, folder: str) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(folder) if e.is_dir())
        except FileNotFoundError:
            return []

    def files(self, folder: str) -> list[str]:
        try:
            return sorted(
                e.path for e in os.scandir(folder) if e.is_file() and e.name.endswith(_FLOW_LOG_SUFFIXES)
            )
        except FileNotFoundError:
            return []


class _S3Folders:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.sizes: dict[str, int] = {}

    def subfolders(self, folder: str) -> list[str]:
        found: list[str] = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=folder, Delimiter="/"
        )
        for page in pages:
            found.extend(p["Prefix"][len(folder) :].rstrip("/") for p in page.get("CommonPrefixes", []))
        return found

    def files(self, folder: str) -> list[str]:
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder):
            for item in page.get("Contents", []):
                if item["Key"].endswith(_FLOW_LOG_SUFFIXES):
                    keys.append(item["Key"])
                    self.sizes[item["Key"]] = item["Size"]
        return keys


def region_folders(location: FlowLogLocation, store: _Folders) -> list[str]:
    """The Region folders (``…/aws-region=R/``) under ``location``, listing only the levels it leaves out."""
    folders = [location.base]
    for level in _LAYOUT[location.depth :]:
        if level.endswith("="):
            folders = [
                f"{f}{name}/" for f in folders for name in store.subfolders(f) if name.startswith(level)
            ]
        else:
            folders = [f"{f}{level}/" for f in folders]
    return folders


def window_files(location: FlowLogLocation, store: _Folders, start: datetime, end: datetime) -> list[str]:
    """The flow-log files of the hour partitions from ``start`` to ``end`` (keys or paths)."""
    return [
        file
        for folder in region_folders(location, store)
        for hour in hours(start, end)
        for file in store.files(folder + _hour_folder(hour))
    ]


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise InputError(f"not an S3 URI: {uri!r}", field="flow_logs")
    return bucket, prefix.strip("/")


def download_window(
    uri: str, start: datetime, end: datetime, target: Path, *, s3: S3Client | None = None
) -> list[Path]:
    """Download the hour partitions from ``start`` to ``end`` under an S3 location into ``target``.

    Only those partitions are listed and fetched; a file already there with the same size is kept.
    """
    location = FlowLogLocation.parse(uri)
    assert location.bucket is not None
    store = _S3Folders(s3 or clients.s3(), location.bucket)
    downloaded: list[Path] = []
    try:
        for key in window_files(location, store, start, end):
            local = target / key
            if not (local.is_file() and local.stat().st_size == store.sizes[key]):
                local.parent.mkdir(parents=True, exist_ok=True)
                store.s3.download_file(location.bucket, key, str(local))
            downloaded.append(local)
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="download flow logs") from error
    return downloaded


# --- the local engine ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _duckdb_text(athena_text: str) -> str:
    """``to_duckdb`` once per query text: transpiling costs more than running a query over one hour."""
    return to_duckdb(athena_text)


class LocalEngine:
    """The SQL of ``queries/`` on DuckDB over flow-log files (Parquet, or gzip text with a header line).

    ``source`` is a directory or ``s3://bucket[/prefix]``, at any depth of AWS's layout down to a Region
    folder (``FlowLogLocation``). For each window only its hour partitions are listed — and from S3
    downloaded (through ``dropsleuth.aws.clients``, so ``AWS_ENDPOINT_URL`` and moto apply) — once, then
    every query over that window reads one DuckDB view over those files. A window whose partitions hold
    no file raises ``NoFlowLogsError``.

    One DuckDB database per engine; ``run`` is thread-safe and queries run concurrently, each on its own
    cursor. Downloads go to ``cache_dir``, or to a temporary directory the engine removes when closed
    (``with LocalEngine(...) as engine``, ``close()``, or at the latest when it is garbage-collected).
    """

    engine = "duckdb"

    def __init__(
        self, source: str | Path, *, cache_dir: str | Path | None = None, s3: S3Client | None = None
    ) -> None:
        self.source = str(source)
        self.location = FlowLogLocation.parse(source)
        self._s3 = s3
        self._cache_dir = Path(cache_dir) if cache_dir else None
        self._owned_dir: Path | None = None
        self._cleanup: weakref.finalize[Any, Any] | None = None
        self._lock = threading.Lock()
        self._database: Any = None
        self._schemas: dict[tuple[str, str], str] = {}

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the DuckDB database and remove the temporary directory the engine made."""
        with self._lock:
            if self._database is not None:
                self._database.close()
                self._database = None
            self._schemas.clear()
            if self._cleanup is not None:
                self._cleanup()

    def _work_dir(self) -> Path:
        """Where downloads (and profiles) go: ``cache_dir``, or one temporary directory per engine."""
        if self._cache_dir is not None:
            return self._cache_dir
        if self._owned_dir is None or not self._owned_dir.is_dir():
            self._owned_dir = Path(tempfile.mkdtemp(prefix="dropsleuth-flowlogs-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._owned_dir, ignore_errors=True)
        return self._owned_dir

    def run(self, name: str, params: Mapping[str, Any]) -> QueryResult:
        """Run ``queries/<name>.sql`` with ``params`` (see the module's docstring) on DuckDB."""
        query = load_query(name)
        if query.is_ddl:
            raise InputError("the DDL runs on Athena only", field="name")
        sql = _duckdb_text(query.text)
        values = derive_values(query, params)
        schema = self._schema_for(values)
        cursor = self._database.cursor()
        profile = self._work_dir() / f"profile-{threading.get_ident()}-{time.perf_counter_ns()}.json"
        try:
            # DuckDB truncates timestamps in the session's time zone; Athena's is UTC.
            cursor.execute("SET TimeZone = 'UTC'")
            cursor.execute(f"USE memory.{schema}")
            cursor.execute("PRAGMA enable_profiling='json'")
            cursor.execute(f"SET profiling_output={_sql_string(str(profile))}")
            # Through Arrow: DuckDB's own conversion of TIMESTAMPTZ needs pytz; Arrow's uses zoneinfo.
            table = cursor.sql(sql, params=[values[p] for p in query.placeholders]).to_arrow_table()
            cursor.execute("PRAGMA disable_profiling")
        finally:
            cursor.close()
        columns = tuple(table.column_names)
        rows = _arrow_rows(table)
        bytes_read = _profiled_bytes(profile)
        profile.unlink(missing_ok=True)
        return QueryResult(name, columns, rows, bytes_read, self.engine)

    def _schema_for(self, values: Mapping[str, Any]) -> str:
        """The DuckDB schema whose ``vpc_flow_logs`` view reads the window's files, made once per window."""
        window = (values["hour_key_first"], values["hour_key_last"])
        with self._lock:
            if window not in self._schemas:
                first, last = (datetime.strptime(k, "%Y%m%d%H").replace(tzinfo=UTC) for k in window)
                files = self._fetch(first, last)
                if not files:
                    start = datetime.fromtimestamp(values["start_epoch"], UTC)
                    end = datetime.fromtimestamp(values["end_epoch"], UTC)
                    raise NoFlowLogsError(
                        f"no flow-log files for {start:%Y-%m-%dT%H:%MZ}–{end:%Y-%m-%dT%H:%MZ} (hour "
                        f"partitions {first:%Y-%m-%d %H}h to {last:%Y-%m-%d %H}h) under {self.source}; "
                        f"expected {self.location.expected(first)}",
                        field="flow_logs",
                    )
                if self._database is None:
                    import duckdb  # noqa: PLC0415 -- heavy; only the local engine needs it

                    self._database = duckdb.connect()
                schema = f"window_{len(self._schemas)}"
                _create_views(self._database, _files_select(files), schema=schema)
                self._schemas[window] = schema
            return self._schemas[window]

    def _fetch(self, first: datetime, last: datetime) -> list[Path]:
        """The window's files on this machine: listed in the directory, or downloaded from S3."""
        if self.location.bucket is None:
            return [Path(p) for p in window_files(self.location, _LocalFolders(), first, last)]
        return download_window(self.source, first, last, self._work_dir(), s3=self._s3)

    def connect(self, root: Path) -> Any:
        """A DuckDB connection in UTC with the view ``vpc_flow_logs`` over every flow-log file under ``root``
        (for inspection; ``run`` reads only the window's partitions)."""
        import duckdb  # noqa: PLC0415 -- heavy; only the local engine needs it

        connection = duckdb.connect()
        connection.execute("SET TimeZone = 'UTC'")
        files = sorted(p for suffix in _FLOW_LOG_SUFFIXES for p in root.rglob(f"*{suffix}"))
        _create_views(connection, _files_select(files))
        return connection


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _arrow_rows(table: Any) -> list[dict[str, Any]]:
    """Rows of an Arrow table as ``_normalise`` gives them, converted column by column.

    Arrow's own ``to_pylist`` resolves the time zone of every timestamp (0.6 s for a month of minutes);
    epoch microseconds plus a timedelta give the same UTC datetimes for a tenth of that.
    """
    import pyarrow as pa  # noqa: PLC0415 -- comes with the local engine's DuckDB results

    columns: list[list[Any]] = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_timestamp(kind) and kind.tz is not None:
            micros = column.cast(pa.timestamp("us", tz=kind.tz)).cast(pa.int64()).to_pylist()
            columns.append([None if v is None else _EPOCH + timedelta(microseconds=v) for v in micros])
        elif pa.types.is_decimal(kind) and kind.scale == 0:
            try:
                columns.append(column.cast(pa.int64()).to_pylist())
            except pa.ArrowInvalid:  # beyond 64 bits: keep Decimal, as _normalise does
                columns.append([_normalise(v) for v in column.to_pylist()])
        else:
            columns.append([_normalise(v) for v in column.to_pylist()])
    names = table.column_names
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _create_views(connection: Any, files_select: str, *, schema: str = "main") -> None:
    """``<schema>.vpc_flow_logs``: every field of the catalogue, NULL where the files lack it."""
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    connection.execute(f"CREATE VIEW {schema}.flow_logs_files AS {files_select}")
    present = {row[0] for row in connection.execute(f"DESCRIBE {schema}.flow_logs_files").fetchall()}
    absent = [
        f"CAST(NULL AS {_DUCKDB_TYPES[f.athena_type]}) AS {f.column}"
        for f in FIELDS
        if f.column not in present
    ]
    extra = "".join(", " + column for column in absent)
    # Identifiers and types from the schema catalogue; no value of the caller's in this text.
    connection.execute(
        f"CREATE VIEW {schema}.{TABLE} AS SELECT *{extra} FROM {schema}.flow_logs_files"  # noqa: S608
    )


def _files_select(files: Sequence[Path]) -> str:
    """The SELECT over ``files``: the Parquet ones if any, else the gzip text ones, else an empty table.

    The files are named one by one: DuckDB then globs nothing, and its text auto-detection (which would
    re-read unrelated files) is off, the columns coming from the files' header line.
    """
    parquet = [p for p in files if p.name.endswith(".parquet")]
    if parquet:
        # No union_by_name: it reads every file's footer at bind time. Like the Athena table, one
        # location holds one format; columns a format lacks are added as NULLs by ``_create_views``.
        listed = ", ".join(_sql_string(p.as_posix()) for p in parquet)
        return f"SELECT * FROM read_parquet([{listed}], {_HIVE_OPTIONS})"  # noqa: S608
    text_files = [p for p in files if p.name.endswith(".log.gz")]
    if text_files:
        fields = _text_header(text_files)
        columns = ", ".join(
            f"{_sql_string(column)}: {_sql_string(kind)}" for column, kind in _text_columns(fields)
        )
        listed = ", ".join(_sql_string(p.as_posix()) for p in text_files)
        # Paths and names are quoted with _sql_string; no value of the caller's is in this text.
        options = f"delim = ' ', header = true, auto_detect = false, columns = {{{columns}}}, nullstr = '-'"
        return f"SELECT * FROM read_csv([{listed}], {options}, compression = 'gzip', {_HIVE_OPTIONS})"  # noqa: S608
    keys = ", ".join(f"CAST(NULL AS VARCHAR) AS {k}" for k in PARTITION_KEYS)
    return f"SELECT {keys} WHERE false"


def _text_columns(fields: Sequence[str]) -> list[tuple[str, str]]:
    """Column name and DuckDB type of each field of a text header (unknown fields as VARCHAR)."""
    columns = []
    for name in fields:
        known = FIELDS_BY_NAME.get(name)
        columns.append(
            (known.column, _DUCKDB_TYPES[known.athena_type]) if known else (name.replace("-", "_"), "VARCHAR")
        )
    return columns


def _text_header(files: Sequence[Path]) -> list[str]:
    headers = set()
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            headers.add(handle.readline().strip())
    if len(headers) != 1:
        raise InputError("flow-log text files with different formats in one source", field="flow_logs")
    return headers.pop().split()


def _profiled_bytes(profile: Path) -> int | None:
    try:
        data = json.loads(profile.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("io", {}).get("total_bytes_read")
    return int(value) if value is not None else None


class AthenaEngine:
    """The SQL of ``queries/`` on Athena through pyathena, with ``ExecutionParameters``.

    A query that ends FAILED or CANCELLED raises ``QueryFailedError`` with Athena's StateChangeReason;
    one still running after ``timeout_s`` is stopped and raises ``QueryTimeoutError``.
    """

    engine = "athena"

    def __init__(
        self,
        workgroup: str,
        database: str,
        table: str,
        output_location: str | None,
        timeout_s: float = ATHENA_QUERY_TIMEOUT_S,
        *,
        poll_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workgroup = workgroup
        self.database = database
        self.table = table
        self.output_location = output_location
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self._clock = clock

    def statement(self, name: str) -> str:
        """The Athena text of a query, pointed at this engine's database and table."""
        query = load_query(name)
        lint = lint_sql(query.text)
        if lint:
            raise InputError(f"{name}: " + "; ".join(lint), field="name")
        return retarget(query.text, f"{self.database}.{self.table}")

    def run(self, name: str, params: Mapping[str, Any]) -> QueryResult:
        """Run ``queries/<name>.sql`` with ``params`` on Athena (see the module's docstring)."""
        from pyathena import connect  # noqa: PLC0415 -- only the Athena engine needs it
        from pyathena.error import Error as PyAthenaError  # noqa: PLC0415
        from pyathena.util import RetryConfig  # noqa: PLC0415

        query = load_query(name)
        if query.is_ddl:
            raise InputError("create the table with render_ddl()", field="name")
        sql = self.statement(name)
        parameters = athena_parameters(query, params)
        deadline = self._clock() + self.timeout_s
        athena = clients.athena()

        def on_poll(execution: Any) -> None:
            if execution.state in ("QUEUED", "RUNNING") and self._clock() > deadline:
                try:
                    athena.stop_query_execution(QueryExecutionId=execution.query_id)
                except (ClientError, BotoCoreError) as error:
                    raise translate(error, operation="StopQueryExecution") from error
                raise QueryTimeoutError(
                    f"{name}: Athena query {execution.query_id} still {execution.state} after "
                    f"{self.timeout_s:g} s; stopped",
                    operation="GetQueryExecution",
                )

        connection = connect(
            session=clients.session(),
            # The project's client config (standard retries, connect/read timeouts), and no second retry
            # layer on top of botocore's: pyathena's own default retries for up to minutes past a deadline.
            config=clients.CLIENT_CONFIG,
            retry_config=RetryConfig(attempt=1),
            work_group=self.workgroup,
            s3_staging_dir=self.output_location or "",
            schema_name=self.database,
            poll_interval=self.poll_interval_s,
            on_poll=on_poll,
        )
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, parameters, paramstyle="qmark")
            except PyAthenaError as error:
                cause = error.__cause__
                if isinstance(cause, ClientError | BotoCoreError):
                    raise translate(cause, operation="Athena") from error
                raise QueryFailedError(
                    f"{name}: Athena query {cursor.query_id} failed: {error}",
                    code="QueryFailed",
                    operation="GetQueryExecution",
                ) from error
            columns = tuple(d[0] for d in cursor.description or ())
            rows = [
                {c: _normalise(v) for c, v in zip(columns, row, strict=True)} for row in cursor.fetchall()
            ]
            return QueryResult(
                name, columns, rows, cursor.data_scanned_in_bytes, self.engine, query_id=cursor.query_id
            )
        finally:
            connection.close()


EngineName = Literal["athena", "local"]


def engine_from_settings(
    settings: Settings, *, engine: EngineName | None = None, flow_logs: str | Path | None = None
) -> FlowLogEngine:
    """The engine the configuration asks for.

    ``engine="local"`` (or a ``flow_logs`` directory/URI) gives a ``LocalEngine`` over ``flow_logs`` or
    ``s3://DROPSLEUTH_FLOW_LOGS_BUCKET/DROPSLEUTH_FLOW_LOGS_PREFIX``; otherwise Athena with
    ``DROPSLEUTH_ATHENA_WORKGROUP``/``_DATABASE``/``_TABLE``/``_OUTPUT``.
    """
    if engine == "local" or (engine is None and flow_logs is not None):
        if flow_logs is None:
            settings.require("flow_logs_bucket")
            flow_logs = f"s3://{settings.flow_logs_bucket}/{settings.flow_logs_prefix}"
        return LocalEngine(flow_logs)
    settings.require("athena_workgroup", "athena_database")
    assert settings.athena_workgroup is not None
    assert settings.athena_database is not None
    return AthenaEngine(
        settings.athena_workgroup, settings.athena_database, settings.athena_table, settings.athena_output
    )
