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

import gzip
import ipaddress
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import sqlglot
from botocore.exceptions import BotoCoreError, ClientError
from sqlglot import exp

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
    "source_first": "source_cidr",
    "source_last": "source_cidr",
    "destination_first": "destination",
    "destination_last": "destination",
    "destination_service": "destination",
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
    if "destination" in needs:
        service = params.get("destination_service") or ""
        cidr = params.get("destination_cidr") or ""
        if bool(service) == bool(cidr):
            raise InputError(
                f"{query.name} needs exactly one of 'destination_service' and 'destination_cidr'",
                field="destination_service",
            )
        # The branch not asked for is bound so that it matches nothing: no service is named "" and
        # BETWEEN 1 AND 0 is empty.
        values["destination_service"] = str(service)
        values["destination_first"], values["destination_last"] = (
            ipv4_range(cidr, field_name="destination_cidr") if cidr else (1, 0)
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

_FRACTIONAL_TYPES = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT, exp.DataType.Type.DECIMAL}


def _fractional(node: Any) -> bool:
    if isinstance(node, exp.Cast | exp.TryCast):
        return node.to.this in _FRACTIONAL_TYPES
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
    problems = lint_sql(sql)
    if problems:
        raise InputError("query not portable to DuckDB: " + "; ".join(problems), field="name")
    return sqlglot.transpile(sql, read="athena", write="duckdb")[0]


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
_DUCKDB_TYPES = {"int": "INTEGER", "bigint": "BIGINT", "string": "VARCHAR"}


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class LocalEngine:
    """The SQL of ``queries/`` on DuckDB over flow-log files (Parquet, or gzip text with a header line).

    ``source`` is a directory laid out as AWS delivers (``…/year=YYYY/month=MM/day=DD/hour=HH/``) or
    ``s3://bucket/prefix``, from which only the hour partitions of the window are downloaded (through
    ``dropsleuth.aws.clients``, so ``AWS_ENDPOINT_URL`` and moto apply) into ``cache_dir``.
    """

    engine = "duckdb"

    def __init__(
        self, source: str | Path, *, cache_dir: str | Path | None = None, s3: S3Client | None = None
    ) -> None:
        self.source = str(source)
        self._s3 = s3
        self._cache_dir = Path(cache_dir) if cache_dir else None
        if not self.source.startswith("s3://") and not Path(self.source).is_dir():
            raise InputError(f"flow logs: no such directory: {self.source}", field="flow_logs")

    def run(self, name: str, params: Mapping[str, Any]) -> QueryResult:
        """Run ``queries/<name>.sql`` with ``params`` (see the module's docstring) on DuckDB."""
        query = load_query(name)
        if query.is_ddl:
            raise InputError("the DDL runs on Athena only", field="name")
        sql = to_duckdb(query.text)
        values = bind(query, params)
        root = self._root_for(query, params)
        connection = self.connect(root)
        try:
            with tempfile.TemporaryDirectory(prefix="dropsleuth-profile-") as tmp:
                profile = Path(tmp) / "profile.json"
                connection.execute("PRAGMA enable_profiling='json'")
                connection.execute(f"SET profiling_output={_sql_string(str(profile))}")
                # Through Arrow: DuckDB's own conversion of TIMESTAMPTZ needs pytz; Arrow's uses zoneinfo.
                table = connection.sql(sql, params=values).to_arrow_table()
                columns = tuple(table.column_names)
                rows = [{c: _normalise(v) for c, v in row.items()} for row in table.to_pylist()]
                connection.execute("PRAGMA disable_profiling")
                bytes_read = _profiled_bytes(profile)
        finally:
            connection.close()
        return QueryResult(name, columns, rows, bytes_read, self.engine)

    def connect(self, root: Path) -> Any:
        """A DuckDB connection in UTC with the view ``vpc_flow_logs`` over the files under ``root``."""
        import duckdb  # noqa: PLC0415 -- heavy; only the local engine needs it

        connection = duckdb.connect()
        # DuckDB truncates timestamps in the session's time zone; Athena's is UTC.
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(f"CREATE VIEW flow_logs_files AS {_files_view(root)}")
        present = {row[0] for row in connection.execute("DESCRIBE flow_logs_files").fetchall()}
        absent = [
            f"CAST(NULL AS {_DUCKDB_TYPES[f.athena_type]}) AS {f.column}"
            for f in FIELDS
            if f.column not in present
        ]
        extra = "".join(", " + column for column in absent)
        # Identifiers and types from the schema catalogue; no value of the caller's in this text.
        connection.execute(f"CREATE VIEW {TABLE} AS SELECT *{extra} FROM flow_logs_files")  # noqa: S608
        return connection

    def _root_for(self, query: SqlQuery, params: Mapping[str, Any]) -> Path:
        if not self.source.startswith("s3://"):
            return Path(self.source)
        values = derive_values(query, params)
        start = datetime.fromtimestamp(values["start_epoch"], UTC)
        end = datetime.fromtimestamp(values["end_epoch"], UTC) + PARTITION_SLACK
        if self._cache_dir is None:
            self._cache_dir = Path(tempfile.mkdtemp(prefix="dropsleuth-flowlogs-"))
        download_window(self.source, start, end, self._cache_dir, s3=self._s3)
        return self._cache_dir


def _files_view(root: Path) -> str:
    """The SELECT over the flow-log files under ``root``: Parquet if any, else gzip text, else empty.

    Globs name the flow-log extensions only: DuckDB's text auto-detection over a whole directory would
    re-read unrelated files, so it is off and the columns come from the files' header line.
    """
    parquet = f"{root.as_posix().rstrip('/')}/**/*.parquet"
    text = f"{root.as_posix().rstrip('/')}/**/*.log.gz"
    hive = f"hive_partitioning = true, hive_types = {_HIVE_TYPES}, hive_types_autocast = false"
    if any(root.rglob("*.parquet")):
        # No union_by_name: it reads every file's footer at bind time, before partition pruning (a 1-hour
        # query over 30 days then reads 12 MB of footers). Like the Athena table, one source holds one
        # format; columns a format lacks are added as NULLs by ``connect``.
        return f"SELECT * FROM read_parquet({_sql_string(parquet)}, {hive})"  # noqa: S608
    text_files = sorted(root.rglob("*.log.gz"))
    if text_files:
        fields = _text_header(text_files)
        columns = ", ".join(
            f"{_sql_string(column)}: {_sql_string(kind)}" for column, kind in _text_columns(fields)
        )
        # Paths and names are quoted with _sql_string; no value of the caller's is in this text.
        options = f"delim = ' ', header = true, auto_detect = false, columns = {{{columns}}}, nullstr = '-'"
        return f"SELECT * FROM read_csv({_sql_string(text)}, {options}, compression = 'gzip', {hive})"  # noqa: S608
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


def hours(start: datetime, end: datetime) -> Iterator[datetime]:
    """Every UTC hour from the one containing ``start`` to the one containing ``end``."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while hour <= end:
        yield hour
        hour += timedelta(hours=1)


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise InputError(f"not an S3 URI: {uri!r}", field="flow_logs")
    return bucket, prefix.strip("/")


def _common_prefixes(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    found: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        found.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
    return found


def region_roots(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    """The ``…/aws-account-id=*/aws-service=vpcflowlogs/aws-region=*/`` folders under ``prefix``."""
    if "aws-region=" in prefix:
        return [prefix.rstrip("/") + "/"]
    base = f"{prefix}/AWSLogs/" if prefix else "AWSLogs/"
    roots = []
    for account in _common_prefixes(s3, bucket, base):
        roots.extend(_common_prefixes(s3, bucket, f"{account}aws-service=vpcflowlogs/"))
    return roots


def download_window(
    uri: str, start: datetime, end: datetime, target: Path, *, s3: S3Client | None = None
) -> list[Path]:
    """Download the hour partitions from ``start`` to ``end`` under ``s3://bucket/prefix`` into ``target``.

    Only those partitions are listed and fetched; a file already there with the same size is kept.
    """
    client = s3 or clients.s3()
    bucket, prefix = _split_s3(uri)
    downloaded: list[Path] = []
    try:
        for root in region_roots(client, bucket, prefix):
            for hour in hours(start, end):
                folder = f"{root}year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}/"
                for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
                    for item in page.get("Contents", []):
                        key = item["Key"]
                        local = target / key
                        if not (local.is_file() and local.stat().st_size == item["Size"]):
                            local.parent.mkdir(parents=True, exist_ok=True)
                            client.download_file(bucket, key, str(local))
                        downloaded.append(local)
    except (ClientError, BotoCoreError) as error:
        raise translate(error, operation="download flow logs") from error
    return downloaded


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
