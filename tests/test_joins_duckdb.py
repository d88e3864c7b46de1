"""Join forms checked against DuckDB: ASOF, LATERAL, subqueries in ON, USING chains.

Each query runs in gsql, on every engine of `--gsql-engines`, and in DuckDB over the same Arrow
tables, and the results are compared as multisets. The tables hold NULL keys, duplicate rows
and an empty table. ASOF data has no ties on the inequality column, because DuckDB returns an
arbitrary one of tied right rows.
"""

from __future__ import annotations

from collections import Counter

import duckdb
import pyarrow as pa
import pytest

import gsql
from tests.conftest import assert_same_multiset, duckdb_over, gsql_over
from gsql.errors import BindError, SqlSyntaxError, UnsupportedError

TABLES = {
    # Left rows for ASOF: a NULL key (id 3), a NULL time (id 4), a key without right rows (id 7),
    # and id 8 with the key and time of id 1.
    "l": pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6, 7, 8], pa.int64()),
            "k": pa.array([1, 1, None, 1, 2, 1, 3, 1], pa.int64()),
            "t": pa.array([10, 5, 10, None, 10, 1, 4, 10], pa.int64()),
        }
    ),
    # Right rows for ASOF: times differ within each key, with a NULL key and a NULL time.
    "r": pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6, 7], pa.int64()),
            "k": pa.array([1, 1, 1, None, 1, 2, 2], pa.int64()),
            "t": pa.array([3, 4, 7, 8, None, 10, 9], pa.int64()),
            "v": pa.array([100, 200, 300, 400, 500, 600, 50], pa.int64()),
        }
    ),
    "e": pa.table(
        {
            "id": pa.array([], pa.int64()),
            "k": pa.array([], pa.int64()),
            "t": pa.array([], pa.int64()),
            "v": pa.array([], pa.int64()),
        }
    ),
    # Rows for joins with subqueries in ON and for LATERAL.
    "a": pa.table(
        {
            "i": pa.array([1, 2, 3, None, 1], pa.int64()),
            "j": pa.array([10, 20, 30, 40, 10], pa.int64()),
        }
    ),
    "b": pa.table(
        {
            "i": pa.array([1, 2, 4, None, 2], pa.int64()),
            "j": pa.array([100, 200, 400, 999, 200], pa.int64()),
        }
    ),
    "s": pa.table(
        {
            "i": pa.array([1, 2, None], pa.int64()),
            "j": pa.array([10, 20, 99], pa.int64()),
        }
    ),
    "t1": pa.table(
        {"a": pa.array([1, 2, None], pa.int64()), "b": pa.array([10, 20, 30], pa.int64())}
    ),
    "t2": pa.table(
        {"a": pa.array([1, 3, None], pa.int64()), "c": pa.array([100, 300, 999], pa.int64())}
    ),
    "t3": pa.table({"a": pa.array([1, 3, 2], pa.int64()), "b": pa.array([1, 3, 2], pa.int64())}),
}


@pytest.fixture(scope="module")
def context(gsql_engine: str) -> gsql.Context:
    return gsql_over(TABLES, gsql_engine)


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb_over(TABLES)
    yield connection
    connection.close()



ASOF_QUERIES = [
    "SELECT l.id, r.id FROM l ASOF JOIN r ON l.k = r.k AND l.t >= r.t",
    "SELECT l.id, r.id FROM l ASOF JOIN r ON l.k = r.k AND l.t > r.t",
    "SELECT l.id, r.id FROM l ASOF JOIN r ON l.k = r.k AND l.t <= r.t",
    "SELECT l.id, r.id FROM l ASOF JOIN r ON l.k = r.k AND l.t < r.t",
    "SELECT l.id, r.id FROM l ASOF JOIN r ON r.k = l.k AND r.t <= l.t",
    "SELECT l.id, r.id FROM l ASOF JOIN r ON l.t >= r.t",
    "SELECT l.id, r.id FROM l ASOF LEFT JOIN r ON l.k = r.k AND l.t >= r.t",
    "SELECT l.id, r.id FROM l ASOF RIGHT JOIN r ON l.k = r.k AND l.t >= r.t",
    "SELECT l.id, r.id FROM l ASOF FULL JOIN r ON l.k = r.k AND l.t >= r.t",
    "SELECT l.id FROM l ASOF SEMI JOIN r ON l.k = r.k AND l.t >= r.t AND r.v + l.id > 150",
    "SELECT l.id FROM l ASOF ANTI JOIN r ON l.k = r.k AND l.t >= r.t AND r.v + l.id > 150",
    # Other conjuncts take part in the match: the nearest row that satisfies them all wins.
    "SELECT l.id, r.id FROM l ASOF JOIN r ON l.k = r.k AND l.t >= r.t AND r.v > 150",
    "SELECT l.id, r.id FROM l ASOF LEFT JOIN r ON l.k = r.k AND l.t >= r.t AND r.v + l.id < 250",
    "SELECT l.id, r.id FROM l ASOF LEFT JOIN r ON l.k = r.k AND l.t >= r.t AND l.id > 2",
    "SELECT l.id, r.id FROM l ASOF JOIN r ON l.k IS NOT DISTINCT FROM r.k AND l.t >= r.t",
    "SELECT l.id, r.id FROM l ASOF JOIN r ON l.k + 0 = r.k AND l.t + 1 >= r.t * 1",
    "SELECT * FROM l ASOF JOIN r USING (k, t)",
    "SELECT * FROM l ASOF LEFT JOIN r USING (k, t)",
    # A WHERE filter on the right input applies after the match, not before it.
    "SELECT l.id, r.id FROM l ASOF JOIN r ON l.k = r.k AND l.t >= r.t WHERE r.v > 150",
    "SELECT l.id, e.id FROM l ASOF LEFT JOIN e ON l.k = e.k AND l.t >= e.t",
    "SELECT l.id, e.id FROM l ASOF JOIN e ON l.k = e.k AND l.t >= e.t",
    "SELECT e.id, r.id FROM e ASOF LEFT JOIN r ON e.k = r.k AND e.t >= r.t",
    "SELECT l.id, r.id, x.id FROM l ASOF JOIN r ON l.k = r.k AND l.t >= r.t JOIN l x ON x.id = r.id",
]


@pytest.mark.parametrize("sql", ASOF_QUERIES)
def test_asof_join_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_asof_full_join_empty_left(context):
    # DuckDB 2.0.1 is not a usable oracle here: it sometimes drops the right row with a NULL
    # key (id 4), and now and then does not finish. A FULL join keeps every right row once.
    sql = "SELECT e.id, r.id FROM e ASOF FULL JOIN r ON e.k = r.k AND e.t >= r.t"
    assert Counter(context.sql(sql).rows()) == Counter((None, i) for i in range(1, 8))


@pytest.mark.parametrize(
    ("sql", "error", "message"),
    [
        ("SELECT * FROM l ASOF JOIN r ON l.k = r.k", BindError, "needs one inequality"),
        (
            "SELECT * FROM l ASOF JOIN r ON l.t >= r.t AND l.t <= r.t + 5",
            BindError,
            "takes one inequality",
        ),
        (
            "SELECT * FROM l ASOF RIGHT JOIN r ON l.k = r.k AND l.t >= r.t AND l.id + r.v > 1",
            UnsupportedError,
            "ASOF RIGHT JOIN with a condition",
        ),
        (
            "SELECT * FROM l ASOF FULL JOIN r USING (k, t)",
            UnsupportedError,
            "ASOF FULL JOIN ... USING",
        ),
    ],
)
def test_asof_join_invalid_raises(context, sql, error, message):
    with pytest.raises(error, match=message):
        context.sql(sql)


OUTER_SUBQUERY_QUERIES = [
    "SELECT a.i, b.i FROM a LEFT JOIN b ON a.i IN (SELECT s.i FROM s WHERE s.i = a.i)",
    "SELECT a.i, b.i FROM a LEFT JOIN b ON b.i NOT IN (SELECT s.i FROM s)",
    "SELECT a.i, b.i FROM a RIGHT JOIN b ON b.i NOT IN (SELECT s.i FROM s WHERE s.j > a.j)",
    (
        "SELECT a.i, b.i, b.j FROM a FULL JOIN b "
        "ON b.i = a.i AND EXISTS (SELECT 1 FROM s WHERE s.i = a.i AND s.j * 10 = b.j)"
    ),
    "SELECT a.i, b.id FROM a LEFT JOIN e b ON EXISTS (SELECT 1 FROM s WHERE s.i = a.i)",
    "SELECT x.id, b.i FROM e x FULL JOIN b ON EXISTS (SELECT 1 FROM s WHERE s.i = b.i)",
    "SELECT a.i FROM a SEMI JOIN b ON b.i = a.i AND a.j < (SELECT MAX(j) FROM s)",
    "SELECT a.i FROM a ANTI JOIN b ON b.i = a.i AND b.j > (SELECT MAX(s.j) * 5 FROM s WHERE s.i = a.i)",
    "SELECT a.i, b.i FROM a LEFT JOIN b ON a.i = b.i + (SELECT MIN(i) FROM s) WHERE b.i IS NULL OR b.i > 0",
    (
        "SELECT a.i, b.i, x.i FROM a LEFT JOIN b ON a.i = b.i AND b.j IN (SELECT j * 10 FROM s) "
        "LEFT JOIN s x ON x.i = b.i"
    ),
]


@pytest.mark.parametrize("sql", OUTER_SUBQUERY_QUERIES)
def test_subquery_in_outer_join_on_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


LATERAL_QUERIES = [
    "SELECT a.i, q.j FROM a, LATERAL (SELECT b.j FROM b WHERE b.i = a.i) q",
    "SELECT a.i, q.j FROM a LEFT JOIN LATERAL (SELECT b.j FROM b WHERE b.i = a.i) q ON true",
    "SELECT a.i, q.j FROM a CROSS JOIN LATERAL (SELECT b.j FROM b WHERE b.i = a.i AND b.j > a.j * 9) q",
    "SELECT a.i, q.s FROM a, LATERAL (SELECT b.i, SUM(b.j) AS s FROM b WHERE b.i <= a.i GROUP BY b.i) q",
    "SELECT a.i, q.i FROM a, LATERAL (SELECT DISTINCT b.i FROM b WHERE b.i <= a.i) q",
    "SELECT a.i, q.j FROM a LEFT JOIN LATERAL (SELECT b.j FROM b WHERE b.i = a.i) q ON q.j > 100",
    "SELECT a.i, q.j FROM a LEFT JOIN LATERAL (SELECT e.v AS j FROM e WHERE e.k = a.i) q ON true",
    "SELECT a.i, q.v FROM a, LATERAL (SELECT a.j * 2 AS v) q",
    "SELECT a.i, q.j FROM a, LATERAL (SELECT t.j FROM (SELECT * FROM b WHERE b.i = a.i) t WHERE t.j > 100) q",
    "SELECT a.i, q.j FROM a, LATERAL (WITH c AS (SELECT * FROM b WHERE b.i = a.i) SELECT c.j FROM c) q",
    (
        "SELECT a.i, q.j FROM a LEFT JOIN LATERAL "
        "(SELECT b.j FROM b LEFT JOIN s ON s.i = b.i AND s.j > a.j WHERE b.i = a.i) q ON true"
    ),
    (
        "SELECT a.i, q.j, x.i FROM a, LATERAL (SELECT b.j FROM b WHERE b.i = a.i) q JOIN s x ON x.i = a.i "
        "WHERE a.j < 30"
    ),
]


@pytest.mark.parametrize("sql", LATERAL_QUERIES)
def test_lateral_join_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


# A LATERAL subquery that aggregates without GROUP BY has one row for every outer row, also for
# the outer rows that meet no rows (a = 3, NULL): COUNT is 0 there and the other aggregates NULL.
LATERAL_AGGREGATE_QUERIES = [
    "SELECT a.i, q.c FROM a, LATERAL (SELECT COUNT(*) AS c FROM b WHERE b.i = a.i) q",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT COUNT(b.j) c, SUM(b.j) s, MIN(b.j) m, AVG(b.j) v FROM b WHERE b.i = a.i) q",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT COUNT(*) + a.j AS c, COALESCE(SUM(b.j), -a.j) AS s FROM b WHERE b.i = a.i) q",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT COUNT(*) FILTER (WHERE b.j > 150) AS c, STRING_AGG(CAST(b.j AS VARCHAR), ',' ORDER BY b.j) AS g FROM b WHERE b.i = a.i) q",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT BOOL_AND(b.j > 100) AS x, COUNT(DISTINCT b.j) AS d FROM b WHERE b.i = a.i) q",
    "SELECT a.i, q.c FROM a, LATERAL (SELECT COUNT(*) AS c FROM b WHERE b.i = a.i HAVING COUNT(*) > 1) q",
    "SELECT a.i, q.c FROM a, LATERAL (SELECT COUNT(*) AS c FROM b WHERE b.i = a.i HAVING COUNT(*) = 0) q",
    "SELECT a.i, q.c FROM a LEFT JOIN LATERAL (SELECT COUNT(*) AS c FROM b WHERE b.i = a.i HAVING COUNT(*) > 1) q ON true",
    "SELECT a.i, q.c FROM a LEFT JOIN LATERAL (SELECT COUNT(*) AS c FROM b WHERE b.i = a.i) q ON q.c > 0",
    "SELECT a.i, q.c FROM a JOIN LATERAL (SELECT COUNT(*) AS c FROM b WHERE b.i = a.i) q ON q.c + a.j < 25",
    "SELECT a.i, q.s FROM a, LATERAL (SELECT SUM(b.j) AS s FROM b WHERE b.i = a.i AND a.j > 10) q",
    "SELECT a.i, q.c FROM a, LATERAL (SELECT COUNT(*) AS c FROM b JOIN s ON s.i = b.i WHERE b.i = a.i) q",
    "SELECT a.i, q.c FROM a, LATERAL (SELECT COUNT(*) AS c FROM e) q",
]


@pytest.mark.parametrize("sql", LATERAL_AGGREGATE_QUERIES)
def test_lateral_aggregate_without_group_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


# The grand-total set `()` of GROUPING SETS, ROLLUP and CUBE gives a row even for an outer row
# that meets no rows, once for each `()` set.
LATERAL_GROUPING_SETS_QUERIES = [
    "SELECT a.i, q.* FROM a, LATERAL (SELECT b.i AS k, COUNT(*) AS c, GROUPING(b.i) AS g, SUM(b.j) + a.j AS s FROM b WHERE b.i = a.i GROUP BY ROLLUP (b.i)) q",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT b.i AS k, b.j AS v, COUNT(*) AS c, GROUPING(b.i, b.j) AS g FROM b WHERE b.i <= a.i GROUP BY CUBE (b.i, b.j)) q",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT b.i AS k, COUNT(*) AS c FROM b WHERE b.i = a.i GROUP BY GROUPING SETS ((), (), (b.i))) q",
    "SELECT a.i, q.* FROM a LEFT JOIN LATERAL (SELECT b.i AS k, COUNT(*) AS c FROM b WHERE b.i = a.i GROUP BY ROLLUP (b.i)) q ON true",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT b.i AS k, MAX(b.j) AS m FROM b WHERE b.i = a.i GROUP BY GROUPING SETS ((b.i), (b.j))) q",
    "SELECT * FROM a, LATERAL (SELECT COUNT(*) FROM b WHERE b.i = a.i GROUP BY CUBE (b.j)) AS s",
    "SELECT * FROM a, (SELECT COUNT(*) AS n FROM b WHERE b.i = a.i GROUP BY GROUPING SETS ((), (b.j))) AS s",
]


@pytest.mark.parametrize("sql", LATERAL_GROUPING_SETS_QUERIES)
def test_lateral_grouping_sets_match_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


# DuckDB reads a subquery in FROM that names an earlier item's column as LATERAL, with or
# without the table name. The subquery's own columns win over the earlier item's.
IMPLICIT_LATERAL_QUERIES = [
    "SELECT a.i, q.v FROM a, (SELECT a.j * 2 AS v) q",
    "SELECT * FROM (SELECT 42) t(x), (SELECT x * 2 AS y) q",
    "SELECT * FROM (SELECT 42) t(x), (SELECT x, y FROM (SELECT 1 AS y) u) q",
    "SELECT * FROM (SELECT 42) t(x), (SELECT x FROM (SELECT 1 AS x) u) q",
    "SELECT * FROM (VALUES (1), (2)) t(x) LEFT JOIN (SELECT SUM(z) AS s FROM (SELECT 42 AS z) WHERE x = 1) ON true",
    "SELECT * FROM (VALUES (1), (2)) t(x), (SELECT * FROM (VALUES (1), (2)) u(y)) q(z)",
]


@pytest.mark.parametrize("sql", IMPLICIT_LATERAL_QUERIES)
def test_implicit_lateral_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


# Window functions and QUALIFY in a LATERAL subquery see the rows of one outer row at a time.
LATERAL_WINDOW_QUERIES = [
    "SELECT a.i, q.* FROM a, LATERAL (SELECT b.j, ROW_NUMBER() OVER (ORDER BY b.j DESC) AS r FROM b WHERE b.i <= a.i) q",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT b.i, b.j FROM b WHERE b.i >= a.i QUALIFY RANK() OVER (ORDER BY b.j) = 1) q",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT b.i, SUM(b.j) AS s, RANK() OVER (ORDER BY SUM(b.j)) AS r FROM b WHERE b.i >= a.i GROUP BY b.i) q",
    "SELECT * FROM (SELECT 42) t(x), (SELECT x * 2 QUALIFY ROW_NUMBER() OVER () < 10)",
]


# LIMIT and OFFSET in a LATERAL subquery count the rows of each outer row; the ORDER BY keys
# make every case deterministic.
LATERAL_LIMIT_QUERIES = [
    "SELECT a.i, q.j FROM a, LATERAL (SELECT b.j FROM b WHERE b.i >= a.i ORDER BY b.j LIMIT 1) q",
    "SELECT a.i, q.j FROM a, LATERAL (SELECT b.j FROM b WHERE b.i >= a.i ORDER BY b.j DESC LIMIT 2 OFFSET 1) q",
    "SELECT a.i, q.j FROM a LEFT JOIN LATERAL (SELECT b.j FROM b WHERE b.i >= a.i ORDER BY 1 OFFSET 2) q ON true",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT b.i AS k, SUM(b.j) AS s FROM b WHERE b.i <= a.i GROUP BY b.i ORDER BY s DESC LIMIT 1) q",
    "SELECT a.i, q.j FROM a, LATERAL (SELECT b.j FROM b WHERE b.i >= a.i ORDER BY b.j LIMIT 0) q",
    "SELECT a.i, q.n FROM a, LATERAL (SELECT b.j + a.j AS n FROM b WHERE b.i = 2 LIMIT 1) q",
]


# UNION, INTERSECT and EXCEPT inside a LATERAL subquery combine the rows of one outer row.
LATERAL_SET_OPERATION_QUERIES = [
    "SELECT a.i, q.* FROM a, LATERAL (SELECT b.j FROM b WHERE b.i = a.i UNION ALL SELECT s.j FROM s WHERE s.i = a.i) q",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT b.i FROM b WHERE b.j > a.j UNION SELECT s.i FROM s) q",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT b.i FROM b WHERE b.j > a.j INTERSECT SELECT s.i FROM s WHERE s.j < a.j) q",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT b.i FROM b WHERE b.j > a.j EXCEPT ALL SELECT s.i FROM s WHERE s.j <= a.j) q",
    "SELECT a.i, q.* FROM a LEFT JOIN LATERAL (SELECT b.i FROM b WHERE b.j > a.j EXCEPT SELECT a.i) q ON true",
    "SELECT a.i, q.* FROM a, LATERAL (SELECT a.i AS v UNION ALL SELECT a.j UNION ALL (SELECT b.j FROM b WHERE b.i = a.i)) q",
]


@pytest.mark.parametrize("sql", LATERAL_SET_OPERATION_QUERIES)
def test_lateral_set_operation_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


@pytest.mark.parametrize("sql", LATERAL_LIMIT_QUERIES)
def test_lateral_limit_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


@pytest.mark.parametrize("sql", LATERAL_WINDOW_QUERIES)
def test_lateral_window_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "SELECT a.i, q.c FROM a, LATERAL (SELECT COUNT(*) OVER () AS c, SUM(b.j) FROM b WHERE b.i = a.i) q",
            "window function",
        ),
        (
            "SELECT a.i, q.c FROM a, LATERAL (SELECT (SELECT MAX(s.j) FROM s) + COUNT(*) AS c FROM b WHERE b.i = a.i) q",
            "subquery in the select list",
        ),
        (
            "SELECT a.i, q.j FROM a, LATERAL (SELECT DISTINCT b.j FROM b WHERE b.i = a.i LIMIT 1) q",
            "LIMIT or OFFSET with DISTINCT",
        ),
        (
            "SELECT a.i, q.j FROM a RIGHT JOIN LATERAL (SELECT b.j FROM b WHERE b.i = a.i) q ON true",
            "RIGHT JOIN",
        ),
    ],
)
def test_lateral_join_unsupported_raises(context, sql, message):
    with pytest.raises(UnsupportedError, match=message):
        context.sql(sql)


USING_QUERIES = [
    "SELECT * FROM t1 FULL JOIN t2 USING (a) JOIN t3 USING (a)",
    "SELECT * FROM t1 RIGHT JOIN t2 USING (a) JOIN t3 USING (a)",
    "SELECT * FROM t1 FULL JOIN t2 USING (a) LEFT JOIN t3 USING (a)",
    "SELECT a, b, c FROM t1 FULL JOIN t2 USING (a)",
    "SELECT * FROM t1 JOIN t2 USING (a) JOIN t3 t3b USING (a)",
    "SELECT * FROM t1 NATURAL FULL JOIN t2 JOIN t3 USING (a)",
    "SELECT * FROM t1 SEMI JOIN t2 USING (a) JOIN t3 USING (a)",
    "SELECT * FROM t1 ANTI JOIN t2 USING (a) FULL JOIN t3 USING (a)",
]


PARENTHESIZED_QUERIES = [
    "SELECT t1.a, t2.a, t3.a FROM t1 LEFT JOIN (t2 LEFT JOIN t3 ON t2.a = t3.a) ON t1.a = t2.a",
    "SELECT t1.a, t2.a, t3.a FROM t1 LEFT JOIN (t2 JOIN t3 ON t2.a = t3.a) ON t1.a = t2.a",
    "SELECT t1.a, t2.a, t3.a FROM t1 FULL JOIN (t2 LEFT JOIN t3 ON t2.a = t3.a) ON t1.a = t3.a",
    "SELECT t1.a, t2.a, t3.a FROM t1 JOIN (t2 LEFT JOIN t3 ON t2.a = t3.a) ON t1.a = t2.a WHERE t3.b IS NULL",
    "SELECT t1.a, t2.a, t3.a FROM t1 LEFT JOIN (t2 LEFT JOIN t3 ON t2.a = t3.a) ON false",
    "SELECT t1.a, t2.a, t3.a FROM t1 RIGHT JOIN (t2 FULL JOIN t3 ON t2.a = t3.a) ON t1.a = t3.a",
]


@pytest.mark.parametrize("sql", PARENTHESIZED_QUERIES)
def test_parenthesized_outer_join_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM t1 JOIN t2 USING (a) JOIN t3 ON t3.b = t1.b",
        "SELECT * FROM t1 NATURAL JOIN t2 JOIN t3 ON t3.b = t1.b",
    ],
)
def test_star_hiding_later_column_raises(context, sql):
    with pytest.raises(UnsupportedError, match="merged by an earlier USING"):
        context.sql(sql)


@pytest.mark.parametrize("sql", USING_QUERIES)
def test_using_chain_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_using_ambiguous_column_raises(context):
    with pytest.raises(BindError, match="`b` in USING is ambiguous"):
        context.sql("SELECT * FROM t1 JOIN t3 USING (a) JOIN t3 t3b USING (b)")


def test_using_qualified_column_raises(context):
    with pytest.raises(SqlSyntaxError, match="USING takes column names without a table"):
        context.sql("SELECT * FROM t1 JOIN t2 USING (t1.a)")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a.i, b.i FROM a LEFT JOIN b ON b.i > 1000",
        "SELECT a.i, b.i FROM a RIGHT JOIN b ON a.i > 1000",
        "SELECT a.i, b.i FROM a FULL JOIN b ON b.i > 1000",
    ],
)
def test_outer_join_with_emptied_input_keeps_rows(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_timestamp_string_cast_to_date(context, duck):
    sql = "SELECT CAST('2022-01-01 10:00:00' AS DATE) AS d, DATE '2022-01-02' > '2022-01-01 23:59:59' AS later"
    assert_same_multiset(context, duck, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a.i, EXISTS (SELECT 1 FROM s x SEMI JOIN s y ON x.i = y.i AND y.j > a.j) FROM a",
        "SELECT a.i, EXISTS (SELECT 1 FROM s x ANTI JOIN s y ON x.i = y.i AND y.j > a.j) FROM a",
        "SELECT a.i, (SELECT COUNT(*) FROM s x LEFT JOIN s y ON x.i = y.i AND y.j > a.j WHERE y.i IS NULL) FROM a",
        "SELECT a.i, EXISTS (SELECT 1 FROM s x POSITIONAL JOIN s y WHERE y.i = a.i) FROM a",
    ],
)
def test_outer_column_in_subquery_join_on(context, duck, sql):
    assert_same_multiset(context, duck, sql)
