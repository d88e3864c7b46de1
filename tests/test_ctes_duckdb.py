"""Recursive CTEs against DuckDB: USING KEY, aggregates in USING KEY, and `recurring.<cte>`.

Each query runs in gsql and in a DuckDB connection over the same Arrow tables, and the results
are compared as multisets. Error cases check that gsql raises its own error where DuckDB
raises one too.
"""

from __future__ import annotations

from collections import Counter

import duckdb
import pyarrow as pa
import pytest

import gsql
from tests.conftest import assert_same_multiset, duckdb_over, gsql_over
from gsql.errors import BindError, SqlSyntaxError, UnsupportedError
from gsql.sql.parse import USING_KEY, parse_sql

TABLES = {
    "edges": pa.table(
        {
            "src": pa.array([1, 1, 2, 3, 4, 2], pa.int64()),
            "dst": pa.array([2, 3, 4, 4, 5, 5], pa.int64()),
        }
    ),
    "readings": pa.table(
        {
            "it": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "v": pa.array([10, None, 20, 25, 30], pa.int64()),
            "w": pa.array(["b", "a", None, "c", "a"], pa.string()),
        }
    ),
}


@pytest.fixture(scope="module")
def context() -> gsql.Context:
    return gsql_over(TABLES)


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb_over(TABLES)
    yield connection
    connection.close()



# USING KEY ------------------------------------------------------------------------------------

USING_KEY_CASES = [
    # One row per key, replaced by each run.
    (
        "WITH RECURSIVE t(k, v) USING KEY (k) AS (SELECT 1, 0 UNION ALL SELECT k, v + 1 FROM t WHERE v < 3) "
        "SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t USING KEY (k) AS (SELECT 1 AS k, 0 AS v UNION ALL SELECT k, v + 1 FROM t WHERE v < 2) "
        "SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(a, b, v) USING KEY (a, b) AS (VALUES (1, 1, 0), (1, 2, 0) "
        "UNION ALL SELECT a, 3 - b, v + 1 FROM t WHERE v < 2) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(k, v) USING KEY (k, k) AS (SELECT 1, 0 UNION ALL SELECT k, v + 1 FROM t WHERE v < 3) "
        "SELECT * FROM t"
    ),
    # The last row of a key wins, in the base rows and within a run.
    (
        "WITH RECURSIVE t(k, v) USING KEY (k) AS (VALUES (1, 1), (1, 2), (1, 3) "
        "UNION ALL SELECT k, v FROM t WHERE false) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(k, v, i) USING KEY (k) AS (SELECT 1, 0, 0 "
        "UNION ALL SELECT k, v + 1, i + 1 FROM t, (VALUES (1), (2), (3)) AS s(x) WHERE i < 1 AND x = 3) "
        "SELECT * FROM t"
    ),
    # The next run reads every row of the previous run, not one row per key.
    (
        "WITH RECURSIVE t(k, v, i) USING KEY (k) AS (VALUES (1, 1, 0), (1, 2, 0) "
        "UNION ALL SELECT k * 10 + v, v, i + 1 FROM t WHERE i < 1) SELECT * FROM t"
    ),
    # NULL keys are equal to each other.
    (
        "WITH RECURSIVE t(k, v, i) USING KEY (k) AS (VALUES (NULL::INTEGER, 1, 0), (NULL, 2, 0) "
        "UNION ALL SELECT k, v + 1, i + 1 FROM t WHERE i < 3 AND v = 2) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(k, v) USING KEY (k) AS (VALUES ('x', 1), (NULL, 1) "
        "UNION ALL SELECT k, v + 1 FROM t WHERE v < 3) SELECT * FROM t"
    ),
    # UNION drops a row equal to the current row of its key, which ends the recursion.
    "WITH RECURSIVE t(k, v) USING KEY (k) AS (SELECT 1, 0 UNION SELECT k, v FROM t) SELECT * FROM t",
    (
        "WITH RECURSIVE t(k, v, i) USING KEY (k) AS (SELECT 1, 0, 0 UNION SELECT 2, 0, 0 FROM t WHERE i < 3) "
        "SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(k, v, i) USING KEY (k) AS (SELECT 1, 0, 0 "
        "UNION SELECT k + 1, 0, i + 1 FROM t, (VALUES (1), (1)) AS s(x) WHERE i < 1) SELECT * FROM t"
    ),
    # A key over a graph: the last distance written for each node.
    (
        "WITH RECURSIVE reach(node, hops) USING KEY (node) AS (SELECT 1, 0 "
        "UNION ALL SELECT e.dst, reach.hops + 1 FROM reach JOIN edges AS e ON e.src = reach.node) "
        "SELECT * FROM reach"
    ),
    (
        "WITH RECURSIVE t(k, v) USING KEY (k) AS (SELECT 1, 0 UNION ALL SELECT k, v + 1 FROM t WHERE v < 3) "
        "SELECT 'USING KEY (v)' AS text, k, v FROM t"
    ),
]


@pytest.mark.parametrize("sql", USING_KEY_CASES)
def test_using_key_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


# recurring.<cte> ------------------------------------------------------------------------------

RECURRING_CASES = [
    # The recurring table is the result as it stood when the run began.
    (
        "WITH RECURSIVE t(k, v) USING KEY (k) AS (SELECT 1, 0 "
        "UNION ALL SELECT n.k, r.v + 1 FROM t AS n JOIN recurring.t AS r USING (k) WHERE n.v < 3) "
        "SELECT k, v FROM t"
    ),
    (
        "WITH RECURSIVE t(k, v) USING KEY (k) AS (SELECT 1, 0 "
        "UNION ALL SELECT k + 1, (SELECT count(*) FROM recurring.t) FROM t WHERE k < 4) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(k, v) USING KEY (k) AS (SELECT 1, 1 "
        "UNION ALL SELECT k, v + 1 FROM recurring.t WHERE v < 3) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(k, v) USING KEY (k) AS (SELECT NULL::INTEGER, 10 "
        "UNION ALL SELECT r.k, r.v + 1 FROM t AS n, recurring.t AS r WHERE false) SELECT k, v FROM t"
    ),
    # Without a key it is every row added so far.
    (
        "WITH RECURSIVE t(n) AS (SELECT 1 "
        "UNION ALL SELECT (SELECT count(*) FROM recurring.t) + n FROM t WHERE n < 20) SELECT * FROM t"
    ),
    "WITH RECURSIVE t(k) AS (SELECT 1 UNION SELECT k + 1 FROM recurring.t WHERE k < 3) SELECT * FROM t",
    (
        "WITH RECURSIVE reach(a, b) AS (SELECT src, dst FROM edges "
        "UNION SELECT r1.a, r2.b FROM recurring.reach AS r1 JOIN recurring.reach AS r2 ON r1.b = r2.a) "
        "SELECT * FROM reach"
    ),
    (
        "WITH RECURSIVE broken(c) AS (VALUES ('c2'), ('c4'), ('c5')), "
        "deps(c, p, s) AS (VALUES ('c1', 'c2', 'c3'), ('c3', 'c4', 'c5'), ('c4', 'c6', 'c7')), "
        "fail(c) AS (SELECT c FROM broken "
        "UNION SELECT d.c FROM deps AS d, recurring.fail AS f1, recurring.fail AS f2 "
        "WHERE f1.c = d.p AND f2.c = d.s) SELECT * FROM fail"
    ),
]


@pytest.mark.parametrize("sql", RECURRING_CASES)
def test_recurring_table_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_recurring_outside_recursion_raises(context, duck):
    sql = "WITH RECURSIVE t(k) AS (SELECT 1 UNION SELECT k + 1 FROM t WHERE k < 3) SELECT * FROM recurring.t"
    with pytest.raises(duckdb.Error):
        duck.sql(sql).fetchall()
    with pytest.raises(BindError, match="recursive term"):
        context.sql(sql)


# Aggregates in USING KEY ---------------------------------------------------------------------

AGGREGATE_CASES = [
    (
        "WITH RECURSIVE t(a, b) USING KEY (a, max(b)) AS (SELECT 1, 5 "
        "UNION ALL SELECT a, b - 1 FROM t WHERE b > 0) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(a, b) USING KEY (a, avg(b)) AS (SELECT 1, 5 "
        "UNION ALL SELECT a, b - 1 FROM t WHERE b > 0) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(k, v, i) USING KEY (k, sum(v)) AS (VALUES (1, 1, 0), (2, 5, 0), (1, 2, 0) "
        "UNION ALL SELECT k, v, i + 1 FROM t WHERE i < 2) SELECT * FROM t"
    ),
    # recurring.t shows the aggregated values.
    (
        "WITH RECURSIVE t(k, v, i) USING KEY (k, sum(v)) AS (VALUES (1, 1, 0), (2, 5, 0), (1, 2, 0) "
        "UNION ALL SELECT k, v, i + 1 FROM recurring.t WHERE i < 2) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(k, v, i) USING KEY (k, count(v), max(i)) AS (VALUES (1, NULL, 0) "
        "UNION ALL SELECT k, NULL, i + 1 FROM t WHERE i < 2) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(key, iter, c) USING KEY (key, count() AS iter, count(c)) AS (SELECT 1, 1, 1 "
        "UNION ALL SELECT key, iter + 1, c FROM t WHERE iter < 8) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(key, b) USING KEY (key, countif(b % 2 = 0) AS b) AS (SELECT 1, 0 "
        "UNION ALL SELECT key, b + 1 FROM t WHERE b < 10) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(a, b) USING KEY (a, string_agg(b, ', ')) AS (SELECT 1, 5 "
        "UNION ALL SELECT a, b - 1 FROM t WHERE b > 0) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(a, b) USING KEY (a, string_agg(':a') AS b) AS (VALUES (1, 2), (1, 3) "
        "UNION ALL SELECT a, b + 1 FROM t WHERE b < 4) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(a, b) USING KEY (a, any_value(b)) AS (SELECT 1, 5 "
        "UNION ALL SELECT a, b - 1 FROM t WHERE b > 0) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(a, b, i) USING KEY (a, any_value(b)) AS (SELECT 1, NULL::INTEGER, 0 "
        "UNION ALL SELECT a, i + 7, i + 1 FROM t WHERE i < 3) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(key, iter, b, c) USING KEY (key, bool_and(b), bool_or(c)) AS (SELECT 1, 1, TRUE, TRUE "
        "UNION ALL SELECT key, iter + 1, NOT b, NOT c FROM t WHERE iter < 8) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(k, v, w) USING KEY (k, max(v), min(w)) AS (VALUES (1, 1, 'b') "
        "UNION ALL SELECT k, v + 1, 'a' FROM t WHERE v < 2) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(k, v, i) USING KEY (k, max(v + i) AS v) AS (VALUES (1, 1, 0) "
        "UNION ALL SELECT k, 1, i + 1 FROM t WHERE i < 2) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(k, v) USING KEY (k, max(t.v)) AS (VALUES (1, 1) "
        "UNION ALL SELECT k, v + 1 FROM t WHERE v < 2) SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(k, v, i) USING KEY (k, stddev(v)) AS (VALUES (1, 1, 0) "
        "UNION ALL SELECT k, 4, i + 1 FROM t WHERE i < 2) SELECT * FROM t"
    ),
    # Shortest distances: the minimum over every path found.
    (
        "WITH RECURSIVE dist(node, d) USING KEY (node, min(d)) AS (SELECT 1, 0 "
        "UNION ALL SELECT e.dst, dist.d + 1 FROM dist JOIN edges AS e ON e.src = dist.node) "
        "SELECT * FROM dist"
    ),
    # One key per reading, and the running sum over a table joined in each run.
    (
        "WITH RECURSIVE t(key, iter, v, w) USING KEY (key, sum(v), max(w)) AS ("
        "SELECT 1, it, v, w FROM readings WHERE it = 1 "
        "UNION ALL SELECT t.key, t.iter + 1, r.v, r.w FROM t, readings AS r WHERE t.iter + 1 = r.it) "
        "SELECT * FROM t"
    ),
]


@pytest.mark.parametrize("sql", AGGREGATE_CASES)
def test_using_key_aggregate_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_avg_in_using_key_is_double(context):
    sql = (
        "WITH RECURSIVE t(a, b) USING KEY (a, avg(b)) AS (SELECT 1, 5 "
        "UNION ALL SELECT a, b - 1 FROM t WHERE b > 0) SELECT * FROM t"
    )
    assert context.sql(sql).to_arrow().schema.field("b").type == pa.float64()


# Errors ---------------------------------------------------------------------------------------

# Statements that DuckDB rejects too, with the gsql error and part of its message.
ERROR_CASES = [
    ("USING KEY (a, b + 1)", BindError, "can't be used in the USING KEY clause"),
    ("USING KEY (a, avg(b)::INTEGER)", BindError, "can't be used in the USING KEY clause"),
    ("USING KEY (a, sum(b) OVER ())", BindError, "window function"),
    ("USING KEY (a AS b, max(b))", BindError, "only direct calls to an aggregate function"),
    ("USING KEY (max(b))", BindError, "at least one key column"),
    ("USING KEY (a, max(b), min(b))", BindError, "referenced multiple times"),
    ("USING KEY (a, b, max(b))", BindError, "both key and aggregate"),
    ("USING KEY (a, sum(b) AS w)", BindError, "could not find column `w`"),
    ("USING KEY (z)", BindError, "not a column of `t`"),
    ("USING KEY (a, sum(DISTINCT b))", UnsupportedError, "DISTINCT"),
    ("USING KEY (a, sum(b) FILTER (WHERE b > 1))", UnsupportedError, "FILTER"),
    ("USING KEY (a, avg(*))", UnsupportedError, r"\*"),
]


@pytest.mark.parametrize(("clause", "error", "message"), ERROR_CASES)
def test_using_key_error_raises(context, duck, clause, error, message):
    sql = f"WITH RECURSIVE t(a, b) {clause} AS (SELECT 1, 1 UNION ALL SELECT a, b + 1 FROM t WHERE b < 5) SELECT * FROM t"
    with pytest.raises(duckdb.Error):
        duck.sql(sql).fetchall()
    with pytest.raises(error, match=message):
        context.sql(sql)


UNSUPPORTED_CASES = [
    # DuckDB returns a list for MIN with a count.
    (
        "WITH RECURSIVE t(a, b) USING KEY (a, min(b, 3)) AS (SELECT 1, 5 "
        "UNION ALL SELECT a, b - 1 FROM t WHERE b > 0) SELECT * FROM t"
    ),
    # DuckDB runs these with rules gsql does not reproduce.
    "WITH RECURSIVE t(k, v) USING KEY (k) AS (SELECT 1, 1 UNION ALL SELECT 1, 3) SELECT * FROM t",
    (
        "WITH RECURSIVE t(k, v, i) USING KEY (k, sum(v)) AS (SELECT 1, 1, 0 "
        "UNION SELECT k, 1, i + 1 FROM t WHERE i < 3) SELECT * FROM t"
    ),
]


@pytest.mark.parametrize("sql", UNSUPPORTED_CASES)
def test_using_key_unsupported_raises(context, sql):
    with pytest.raises(UnsupportedError):
        context.sql(sql)


# Parsing --------------------------------------------------------------------------------------


def test_using_key_items_kept_on_cte():
    expression = parse_sql(
        "WITH RECURSIVE t(a, b) USING KEY (a, max(b) AS b) AS (SELECT 1, 2 UNION ALL SELECT a, b FROM t) "
        "SELECT 'USING KEY (a)' FROM t"
    )
    cte = next(expression.find_all(gsql.sql.parse.exp.CTE))
    items = cte.meta[USING_KEY]
    assert [item.sql() for item in items] == ["a", "MAX(b) AS b"]
    assert expression.expressions[0].name == "USING KEY (a)"


def test_using_key_invalid_item_raises():
    with pytest.raises(SqlSyntaxError, match="line 1, column"):
        parse_sql(
            "WITH RECURSIVE t(a) USING KEY (a + ) AS (SELECT 1 UNION ALL SELECT a FROM t) SELECT 1"
        )


def test_using_key_without_cte_raises():
    with pytest.raises(SqlSyntaxError, match="USING KEY must follow"):
        parse_sql("SELECT 1 USING KEY (a)")


def test_join_using_key_column_still_parses():
    expression = parse_sql("SELECT * FROM edges AS a JOIN edges AS b USING (src)")
    assert expression.args["joins"][0].args["using"][0].name == "src"


# Other engines ---------------------------------------------------------------------------------


def test_using_key_on_dask_engine(duck):
    pytest.importorskip("dask.dataframe")
    context = gsql.Context(engine="dask")
    for name, table in TABLES.items():
        context.register(name, table)
    sql = AGGREGATE_CASES[-1]
    assert Counter(context.sql(sql).rows()) == Counter(duck.sql(sql).fetchall())


# Column aliases, shadowed tables and unread CTEs -----------------------------------------------

FROM_CASES = [
    "SELECT * FROM edges AS e(a, b)",
    "SELECT p, dst FROM edges AS _(p)",
    "WITH c AS (SELECT 1 AS a, 2 AS b) SELECT * FROM c AS d(x, y)",
    "WITH c AS (SELECT 1 AS a, 2 AS b) SELECT x, b FROM c AS d(x)",
    # A derived table with column aliases inside the recursive term, joined to the working table.
    (
        "WITH RECURSIVE t(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
        "FROM (SELECT t.x + 1 FROM edges AS _(p) FULL OUTER JOIN t ON t.x = p) AS _(x) WHERE x < 10) "
        "SELECT * FROM edges AS _(p) RIGHT OUTER JOIN t ON t.x = p"
    ),
    (
        "WITH RECURSIVE parent(p, c) AS (VALUES ('c1', 'c2'), ('c1', 'c3'), ('c3', 'c4'), ('c4', 'c6')), "
        "ancestor(a, c) AS (FROM parent UNION SELECT a1.x, a2.y "
        "FROM recurring.ancestor AS a1(x, z) NATURAL JOIN recurring.ancestor AS a2(z, y)) "
        "SELECT * FROM ancestor"
    ),
    # `main.edges` is the table even inside a CTE named `edges`.
    (
        "WITH edges AS (SELECT * FROM main.edges WHERE src >= (SELECT max(src) FROM main.edges)), "
        "later AS (SELECT * FROM edges) SELECT * FROM later"
    ),
    # DuckDB never binds a CTE that nothing reads.
    "WITH unread AS (SELECT no_such_column FROM edges) SELECT count(*) FROM edges",
    (
        "SELECT w, (WITH t AS (SELECT w) SELECT x FROM (VALUES ('a')) AS _(x) WHERE x IN (SELECT w)) "
        "FROM readings"
    ),
]


@pytest.mark.parametrize("sql", FROM_CASES)
def test_from_item_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_column_alias_names_result(context):
    assert context.sql("SELECT * FROM edges AS e(a)").to_arrow().column_names == ["a", "dst"]


def test_too_many_column_aliases_raises(context, duck):
    sql = "SELECT * FROM edges AS e(a, b, c)"
    with pytest.raises(duckdb.Error):
        duck.sql(sql).fetchall()
    with pytest.raises(BindError, match="has 2 columns but its alias names 3"):
        context.sql(sql)


# ORDER BY a table's row -------------------------------------------------------------------------

ROWS = "(VALUES (1, NULL), (1, 2), (NULL, 1), (NULL, NULL), (0, 5)) AS t(a, b)"
ORDER_BY_ROW_CASES = [
    f"SELECT * FROM {ROWS} ORDER BY t",
    f"SELECT * FROM {ROWS} ORDER BY t NULLS FIRST",
    f"SELECT * FROM {ROWS} ORDER BY t DESC",
    f"SELECT * FROM {ROWS} ORDER BY t DESC NULLS LAST",
    (
        "SELECT s.x, t.a, t.b FROM (VALUES (1), (2), (3)) AS s(x) "
        "LEFT JOIN (VALUES (1, NULL), (NULL, 1)) AS t(a, b) ON s.x = t.a OR (s.x = 3 AND t.a IS NULL) "
        "ORDER BY t NULLS FIRST, s.x"
    ),
    (
        "WITH RECURSIVE t(x) AS (SELECT 1 UNION ALL SELECT x + 2 FROM t WHERE x < 9) "
        "SELECT * FROM edges AS _(p) RIGHT OUTER JOIN t ON t.x = p ORDER BY p, t NULLS LAST, dst"
    ),
]


@pytest.mark.parametrize("sql", ORDER_BY_ROW_CASES)
def test_order_by_row_matches_duckdb(context, duck, sql):
    assert context.sql(sql).rows() == duck.sql(sql).fetchall()


def test_order_by_row_other_dialect_raises():
    context = gsql.Context(engine="pandas", dialect="postgres")
    with pytest.raises(UnsupportedError, match="ORDER BY the table `t`"):
        context.sql(f"SELECT * FROM {ROWS} ORDER BY t")


# CORR and COVAR, grouped and in USING KEY --------------------------------------------------------

PAIRS = (
    "(VALUES (1, 1, 2), (1, 2, 5), (1, 4, 1), (2, 1.5, 2.5), (2, 3.25, 1), (3, NULL, 1), "
    "(4, 7, 7), (5, 1, 1), (5, 1, 2), (6, 1e300, 1e300), (6, -1e300, -1e300), "
    "(7, 1.5, 'nan'::DOUBLE), (7, 2, 5)) AS t(g, x, y)"
)
PAIR_CASES = [
    f"SELECT g, corr(x, y), covar_samp(x, y), covar_pop(x, y) FROM {PAIRS} GROUP BY g",
    f"SELECT corr(y, x), covar_samp(y, x), covar_pop(y, x) FROM {PAIRS} WHERE g < 3",
    f"SELECT g, corr(x, y) FILTER (WHERE x > 1), covar_pop(x + 1, y * 2) FROM {PAIRS} GROUP BY g",
    f"SELECT corr(x, y) FROM {PAIRS} WHERE false",
    "SELECT corr(v, it), covar_samp(it, v), covar_pop(v, v) FROM readings",
    (
        "WITH RECURSIVE t(key, iter, x, y) USING KEY (key, covar_samp(x, y) AS x, covar_pop(x, y) AS y) "
        "AS (SELECT 1, it, v, it FROM readings WHERE it = 1 "
        "UNION ALL SELECT t.key, t.iter + 1, r.v, r.it * 3 FROM t, readings AS r WHERE t.iter + 1 = r.it) "
        "SELECT * FROM t"
    ),
    (
        "WITH RECURSIVE t(k, iter, v, v2) USING KEY (k, corr(v, v2) AS v2) AS ("
        "SELECT it % 2, it, v, it FROM readings WHERE it < 3 "
        "UNION ALL SELECT t.k, t.iter + 2, r.v, r.it * r.it FROM t, readings AS r WHERE t.iter + 2 = r.it) "
        "SELECT k, v2 FROM t"
    ),
]


def _close(left: object, right: object) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return left == pytest.approx(right, rel=1e-12, nan_ok=True)
    return left == right


@pytest.mark.parametrize("sql", PAIR_CASES)
def test_pair_aggregate_matches_duckdb(context, duck, sql):
    rows = sorted(context.sql(sql).rows(), key=repr)
    expected = sorted(duck.sql(sql).fetchall(), key=repr)
    assert len(rows) == len(expected)
    for row, expected_row in zip(rows, expected):
        assert all(_close(a, b) for a, b in zip(row, expected_row)), (row, expected_row)


def test_pair_aggregate_on_dask_engine(duck):
    pytest.importorskip("dask.dataframe")
    context = gsql.Context(engine="dask")
    sql = PAIR_CASES[0]
    rows = sorted(context.sql(sql).rows(), key=repr)
    expected = sorted(duck.sql(sql).fetchall(), key=repr)
    assert len(rows) == len(expected)
    for row, expected_row in zip(rows, expected):
        assert all(_close(a, b) for a, b in zip(row, expected_row)), (row, expected_row)


def test_pair_aggregate_of_text_raises(context):
    with pytest.raises(gsql.GsqlError, match="CORR needs numeric arguments"):
        context.sql("SELECT corr(w, v) FROM readings")


# Duplicate column names in derived tables ---------------------------------------------------------

DUPLICATE_NAME_CASES = [
    (
        "WITH c AS (SELECT a1, * FROM (VALUES (1)) AS t0(c1) "
        "LEFT JOIN (SELECT c1 AS a1 FROM (VALUES (1), (2)) AS t1(c1)) ON t0.c1 = a1) SELECT a1 FROM c"
    ),
    "SELECT a FROM (SELECT 1 AS a, 2 AS a) AS s JOIN (SELECT 1 AS b) AS u ON true",
    "SELECT s.a + u.b FROM (SELECT 1 AS a, 2 AS a) AS s JOIN (SELECT 1 AS b) AS u ON true",
    "SELECT count(*) FROM (SELECT 1 AS a, 2 AS a) AS s",
    "WITH c AS (SELECT 1 AS a, 2 AS a) SELECT a, (SELECT max(a) FROM c) FROM c",
]


@pytest.mark.parametrize("sql", DUPLICATE_NAME_CASES)
def test_duplicate_names_match_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM (SELECT 1 AS a, 2 AS a) AS s",
        "SELECT s.* FROM (SELECT 1 AS a, 2 AS a) AS s",
        "SELECT * FROM (SELECT 1 AS a, 2 AS a) AS s NATURAL JOIN (SELECT 1 AS a) AS u",
    ],
)
def test_duplicate_names_read_whole_raise(context, sql):
    # A NATURAL join meets the duplicate as an ambiguous USING column first.
    with pytest.raises(BindError, match="appears twice|is ambiguous"):
        context.sql(sql)
