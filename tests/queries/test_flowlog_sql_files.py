"""The files of queries/: they parse as Athena and Trino, their headers match their placeholders, the DDL
matches the schema catalogue, and the Athena text an engine sends is the file's, retargeted."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from dropsleuth import queries, sqlfiles
from dropsleuth.aws.errors import InputError
from dropsleuth.flowlogs.schema import FIELDS, PARTITION_KEYS, projection_properties, table_location

ALL_FILES = [*sqlfiles.query_names(), sqlfiles.DDL_NAME]
REQUIRED = {"rejects_timeline", "top_rejected_flows", "icmp_rejects", "upload_throughput", "stalled_flows"}


def test_the_required_queries_exist() -> None:
    assert set(sqlfiles.query_names()) >= REQUIRED


@pytest.mark.parametrize("name", ALL_FILES)
@pytest.mark.parametrize("dialect", ["athena", "trino"])
def test_every_file_is_one_statement_in_athena_and_trino(name: str, dialect: str) -> None:
    if name == sqlfiles.DDL_NAME and dialect == "trino":
        # Athena runs DDL in its Hive dialect (backquoted names, STORED AS, TBLPROPERTIES), which Trino's
        # parser rightly refuses; the SELECTs run on Trino.
        with pytest.raises(sqlglot.errors.ParseError):
            sqlglot.parse(queries.load_query(name).text, read=dialect)
        return
    statements = [s for s in sqlglot.parse(queries.load_query(name).text, read=dialect) if s is not None]
    assert len(statements) == 1


@pytest.mark.parametrize("name", sqlfiles.query_names())
def test_header_names_every_placeholder_in_order(name: str) -> None:
    query = queries.load_query(name)
    tree = sqlglot.parse_one(query.text, read="athena")
    assert len(list(tree.find_all(exp.Placeholder))) == len(query.placeholders)
    assert query.placeholders[:12] == queries._WINDOW_PLACEHOLDERS
    assert query.description


def test_ddl_has_the_schema_columns_types_and_projection() -> None:
    location = table_location("flow-logs-bucket", "vpc", "123456789012", "eu-west-1")
    tree = sqlglot.parse_one(queries.render_ddl(location), read="athena")
    columns = [(c.name, c.args["kind"].sql("hive").lower()) for c in tree.this.expressions]
    assert columns == [(f.column, f.athena_type) for f in FIELDS]
    properties = tree.args["properties"]
    partitioned = properties.find(exp.PartitionedByProperty)
    assert [c.name for c in partitioned.this.expressions] == list(PARTITION_KEYS)
    table_properties = {
        p.this.this: p.args["value"].this for p in properties.expressions if type(p) is exp.Property
    }
    assert table_properties == projection_properties(location)
    assert properties.find(exp.LocationProperty).this.this == location
    assert properties.find(exp.FileFormatProperty).this.name.upper() == "PARQUET"


def test_ddl_refuses_a_location_that_could_break_out_of_its_literal() -> None:
    with pytest.raises(InputError):
        queries.render_ddl("s3://bucket/x'); DROP TABLE t; --/")


def test_athena_text_points_at_the_configured_table_and_keeps_its_placeholders() -> None:
    engine = queries.AthenaEngine("primary", "dropsleuth", "flow_logs_v5", "s3://results/")
    for name in sqlfiles.query_names():
        text = engine.statement(name)
        tree = sqlglot.parse_one(text, read="athena")
        tables = {(t.db, t.name) for t in tree.find_all(exp.Table)} - {
            ("", cte.alias) for cte in tree.find_all(exp.CTE)
        }
        assert tables == {("dropsleuth", "flow_logs_v5")}
        assert len(list(tree.find_all(exp.Placeholder))) == len(queries.load_query(name).placeholders)


def test_unknown_query_names_are_input_errors() -> None:
    for name in ("nope", "../etc/passwd", "Rejects"):
        with pytest.raises(InputError) as caught:
            queries.load_query(name)
        assert caught.value.field == "name"
