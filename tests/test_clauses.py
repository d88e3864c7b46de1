"""Clauses the planner does not run must raise, never be skipped; GROUP BY ALL must group right."""

from __future__ import annotations

from collections import Counter

import duckdb
import pyarrow as pa
import pytest

import gsql
from gsql.errors import BindError, UnsupportedError

TABLE = pa.table({"a": [1, 2, 2, None], "b": [5, 6, 7, 8], "c": ["x", "y", "z", "w"]})


@pytest.fixture(scope="module")
def context() -> gsql.Context:
    ctx = gsql.Context(engine="pandas")
    ctx.register("f", TABLE)
    return ctx


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.register("f", TABLE)
    yield connection
    connection.close()


@pytest.mark.parametrize(
    "sql, message",
    [
        ("SELECT * FROM f TABLESAMPLE 10%", "TABLESAMPLE is not supported"),
        ("SELECT * FROM (SELECT * FROM f) AS s TABLESAMPLE 10%", "TABLESAMPLE is not supported"),
        ("SELECT * FROM f LIMIT 10%", "a LIMIT in percent is not supported"),
        ("SELECT * FROM f AT (VERSION => 1)", "time travel"),
        ("SELECT *, count(*) FROM f GROUP BY ALL", "GROUP BY ALL with `\\*`"),
    ],
)
def test_skipped_clause_raises(context, sql, message):
    with pytest.raises(UnsupportedError, match=message):
        context.sql(sql)


def test_fetch_with_ties_raises():
    context = gsql.Context(engine="pandas", dialect="postgres")
    context.register("f", TABLE)
    with pytest.raises(UnsupportedError, match="WITH TIES"):
        context.sql("SELECT * FROM f ORDER BY a FETCH FIRST 1 ROWS WITH TIES")


@pytest.mark.parametrize(
    "sql",
    ["SELECT * REPLACE (1 AS nosuch) FROM f", "SELECT * EXCLUDE (nosuch) FROM f", "SELECT f.* EXCLUDE (d) FROM f"],
)
def test_star_list_names_missing_column(context, sql):
    with pytest.raises(BindError, match="is not a column that `\\*` reads"):
        context.sql(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * EXCLUDE (b) FROM f",
        "SELECT * REPLACE (b + 1 AS b) FROM f",
        "SELECT f.* EXCLUDE (c) FROM f",
        "SELECT a, count(*) FROM f GROUP BY ALL",
        "SELECT a, c, sum(b) + 1 FROM f GROUP BY ALL",
        "SELECT sum(b) FROM f GROUP BY ALL",
        "SELECT a % 2 AS m, max(b) FROM f GROUP BY ALL",
        "SELECT sum(b) FROM f WHERE b > 100 GROUP BY ALL",
    ],
)
def test_clause_matches_duckdb(context, duck, sql):
    assert Counter(context.sql(sql).rows()) == Counter(duck.sql(sql).fetchall())
