"""Subquery forms checked against DuckDB: row comparisons with IN, ANY and ALL.

Each query runs in gsql and in DuckDB over the same Arrow tables, and each case selects the
predicate itself, so TRUE, FALSE and NULL are all compared. The tables hold NULLs in every
column, duplicate rows, and an empty table.
"""

from __future__ import annotations

import itertools
from collections import Counter

import duckdb
import pyarrow as pa
import pytest

import gsql
from gsql.errors import BindError, UnsupportedError

# Left rows: every pair over {NULL, 0, 1, 2}. Right rows: pairs with NULLs and a duplicate.
_VALUES = [None, 0, 1, 2]
_PAIRS = list(itertools.product(_VALUES, repeat=2))
TABLES = {
    "l": pa.table(
        {
            "id": pa.array(range(len(_PAIRS)), pa.int64()),
            "a": pa.array([a for a, _ in _PAIRS], pa.int64()),
            "b": pa.array([b for _, b in _PAIRS], pa.int32()),
        }
    ),
    "r": pa.table(
        {
            "x": pa.array([1, 1, None, 2, 0, 2], pa.int64()),
            "y": pa.array([1, 1, 2, None, None, 0], pa.int64()),
            "kind": pa.array(["p", "p", "q", "q", "s", "s"], pa.string()),
        }
    ),
    "e": pa.table({"x": pa.array([], pa.int64()), "y": pa.array([], pa.int64())}),
    "t3": pa.table(
        {
            "a": pa.array([0, 1, None, 1, 2], pa.int64()),
            "b": pa.array([1, None, 1, 1, 2], pa.int64()),
            "c": pa.array(["x", "y", "z", None, "x"], pa.string()),
        }
    ),
}


@pytest.fixture(scope="module")
def context() -> gsql.Context:
    ctx = gsql.Context(engine="pandas")
    for name, table in TABLES.items():
        ctx.register(name, table)
    return ctx


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for name, table in TABLES.items():
        connection.register(name, table)
    yield connection
    connection.close()


def assert_same_multiset(context: gsql.Context, duck: duckdb.DuckDBPyConnection, sql: str) -> None:
    assert Counter(context.sql(sql).rows()) == Counter(duck.sql(sql).fetchall())


# Row comparisons with a subquery ---------------------------------------------------------------

# The subqueries: rows with NULL fields and a duplicate, only NULL-free rows, one row, none.
_SUBQUERIES = [
    "SELECT x, y FROM r",
    "SELECT x, y FROM r WHERE x IS NOT NULL AND y IS NOT NULL",
    "SELECT x, y FROM r WHERE kind = 's'",
    "SELECT x, y FROM e",
    "SELECT 1, NULL::INT",
    "SELECT NULL::INT, NULL::INT",
]
_OPERATORS = ["=", "<>", "<", "<=", ">", ">="]

ROW_QUANTIFIED_CASES = [
    f"SELECT id, (a, b) {operator} {quantifier} ({subquery}) FROM l"
    for operator in _OPERATORS
    for quantifier in ("ANY", "ALL")
    for subquery in _SUBQUERIES
]
ROW_IN_CASES = [
    f"SELECT id, (a, b) {keyword} ({subquery}) FROM l"
    for keyword in ("IN", "NOT IN")
    for subquery in _SUBQUERIES
]
ROW_OTHER_CASES = [
    # ROW(...) spells the same row value; fields may be expressions.
    "SELECT id, ROW(a, b) IN (SELECT x, y FROM r) FROM l",
    "SELECT id, ROW(a + 1, b) > ANY (SELECT x, y FROM r) FROM l",
    # Three fields, a string among them.
    "SELECT t3.a, t3.b, t3.c, (t3.a, t3.b, t3.c) IN (SELECT a, b, c FROM t3 AS s WHERE s.a > 0) FROM t3",
    "SELECT t3.a, t3.b, t3.c, (t3.a, t3.b, t3.c) < ALL (SELECT a, b, c FROM t3 AS s WHERE s.b = 1) FROM t3",
    "SELECT t3.a, t3.b, t3.c, (t3.a, t3.b, t3.c) <> ANY (SELECT a, b, c FROM t3 AS s) FROM t3",
    # In WHERE, only TRUE keeps a row; fields of different integer widths compare.
    "SELECT id FROM l WHERE (a, b) NOT IN (SELECT x, y FROM r)",
    "SELECT id FROM l WHERE (b, a) >= ALL (SELECT x, y FROM r WHERE kind <> 'q')",
    # Literal rows against a grouped subquery.
    "SELECT (1, 2) = ANY (SELECT x, COUNT(*) FROM r GROUP BY x)",
    "SELECT (0, 0) < ANY (SELECT MIN(x), MAX(y) FROM r)",
    # A row comparison over an aggregated outer query.
    "SELECT kind, (kind, COUNT(*)) IN (SELECT 'p', 2 UNION ALL SELECT 's', NULL) FROM r GROUP BY kind",
]


@pytest.mark.parametrize("sql", ROW_QUANTIFIED_CASES + ROW_IN_CASES + ROW_OTHER_CASES)
def test_row_comparison_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_row_comparison_width_mismatch(context):
    with pytest.raises(BindError, match="has 2 fields but subquery"):
        context.sql("SELECT (1, 2) < ANY (SELECT 1, 2, 3)")


def test_row_comparison_with_one_column_unsupported(context):
    with pytest.raises(UnsupportedError, match="one column of subquery"):
        context.sql("SELECT (1, 2) IN (SELECT x FROM r)")


def test_correlated_row_comparison_unsupported(context, duck):
    # DuckDB rejects these too ("not yet supported").
    sql = "SELECT (a, b) IN (SELECT x, y FROM r WHERE r.x = l.a) FROM l"
    with pytest.raises(duckdb.Error, match="not yet supported"):
        duck.sql(sql).fetchall()
    with pytest.raises(UnsupportedError, match="correlated row comparison"):
        context.sql(sql)
