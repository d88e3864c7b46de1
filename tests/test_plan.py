"""Tests of the plan builder: coverage of the dispatch tables, plan shapes, and query semantics.

DuckDB is the oracle for results: each query runs in gsql and in a DuckDB connection over the
same Arrow tables. Queries with an outermost ORDER BY are compared row by row, others as
multisets. Plan shapes are read from `Context.explain`, one node a line, indented two spaces
a level.
"""

from __future__ import annotations

import inspect
from collections import Counter
from typing import Any

import duckdb
import pyarrow as pa
import pytest

import gsql
from gsql.engine.arrow_kernels import KERNELS
from gsql.engine.pandas_backend import PandasBackend
from gsql.errors import BindError, ExecutionError, UnsupportedError
from gsql.sql import plan
from gsql.sql.expressions import SCALAR_EXPRESSIONS

# `(g, x)` is unique, so ORDER BY g, x gives one order in every engine.
TABLES = {
    "a": pa.table(
        {
            "id": pa.array([1, 2, 3, None, 2, 4], pa.int64()),
            "x": pa.array([10, 20, 30, 40, None, 50], pa.int64()),
            "g": pa.array(["p", "q", "p", None, None, "q"], pa.string()),
        }
    ),
    "b": pa.table(
        {
            "id": pa.array([1, 2, None, 5, 2], pa.int64()),
            "w": pa.array([100, 200, 300, 500, None], pa.int64()),
        }
    ),
    "empty": pa.table({"id": pa.array([], pa.int64()), "x": pa.array([], pa.int64())}),
    "wide": pa.table({name: pa.array([1, 2, 3], pa.int64()) for name in "stuvxyz"}),
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


def assert_same_order(context: gsql.Context, duck: duckdb.DuckDBPyConnection, sql: str) -> None:
    assert context.sql(sql).rows() == duck.sql(sql).fetchall()


def assert_same_multiset(context: gsql.Context, duck: duckdb.DuckDBPyConnection, sql: str) -> None:
    assert Counter(context.sql(sql).rows()) == Counter(duck.sql(sql).fetchall())


def bug(sql: str, reason: str) -> Any:
    """Return a case that gsql gets wrong today, marked as a strict xfail.

    `reason` gives gsql's result and the oracle's.
    """
    return pytest.param(sql, id=sql, marks=pytest.mark.xfail(strict=True, reason=reason))


# Dispatch tables ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    sorted(SCALAR_EXPRESSIONS, key=lambda kind: kind.__name__),
    ids=lambda kind: kind.__name__,
)
def test_scalar_expression_has_kernel(kind):
    assert kind in KERNELS


def _plan_node_classes() -> list[type[plan.Node]]:
    return sorted(
        (
            member
            for _, member in inspect.getmembers(plan, inspect.isclass)
            if issubclass(member, plan.Node) and member is not plan.Node
        ),
        key=lambda member: member.__name__,
    )


@pytest.mark.parametrize(
    "node_class", _plan_node_classes(), ids=lambda node_class: node_class.__name__
)
def test_plan_node_has_pandas_handler(node_class):
    assert node_class in PandasBackend.handlers


def test_plan_node_classes_found():
    names = {node_class.__name__ for node_class in _plan_node_classes()}
    assert {"Scan", "Filter", "Project", "Aggregate", "Join", "MarkJoin", "Sort"} <= names


# Plan shapes ----------------------------------------------------------------------------------


def plan_lines(context: gsql.Context, sql: str) -> list[tuple[int, str]]:
    """Return each line of the plan as (depth, text)."""
    lines = []
    for line in context.explain(sql).splitlines():
        stripped = line.lstrip(" ")
        lines.append(((len(line) - len(stripped)) // 2, stripped))
    return lines


def find_line(lines: list[tuple[int, str]], prefix: str) -> int:
    matches = [index for index, (_, text) in enumerate(lines) if text.startswith(prefix)]
    assert len(matches) == 1, f"expected one line starting with {prefix!r} in {lines}"
    return matches[0]


def is_below(lines: list[tuple[int, str]], ancestor: int, descendant: int) -> bool:
    """Return whether line `descendant` lies in the subtree of line `ancestor`."""
    depth = lines[ancestor][0]
    if descendant <= ancestor:
        return False
    return all(lines[index][0] > depth for index in range(ancestor + 1, descendant + 1))


SCAN_COLUMN_CASES = [
    pytest.param("SELECT x FROM wide WHERE z > 1", "Scan wide", "(x, z)", id="select-and-where"),
    pytest.param("SELECT COUNT(*) FROM wide", "Scan wide", "(no columns)", id="count-star"),
    pytest.param("SELECT SUM(v) FROM wide GROUP BY s", "Scan wide", "(s, v)", id="group-by"),
    pytest.param("SELECT t FROM wide ORDER BY y", "Scan wide", "(t, y)", id="order-by-hidden"),
    pytest.param(
        "SELECT a.x FROM a JOIN b ON a.id = b.id WHERE b.w > 1", "Scan a", "(id, x)", id="join-left"
    ),
    pytest.param(
        "SELECT a.x FROM a JOIN b ON a.id = b.id WHERE b.w > 1",
        "Scan b",
        "(id, w)",
        id="join-right",
    ),
    pytest.param(
        "WITH c AS (SELECT * FROM wide) SELECT c1.s, c2.t FROM c c1, c c2 WHERE c1.s = c2.s",
        "Scan wide",
        "(s, t)",
        id="cte-read-twice",
    ),
    pytest.param(
        "SELECT s FROM (SELECT s, t, u FROM wide) AS sub WHERE t > 1",
        "Scan wide",
        "(s, t)",
        id="derived-table",
    ),
]


@pytest.mark.parametrize(("sql", "scan", "columns"), SCAN_COLUMN_CASES)
def test_scan_reads_only_needed_columns(context, sql, scan, columns):
    lines = plan_lines(context, sql)
    scans = [text for _, text in lines if text.startswith(scan + " ")]
    assert scans, f"no `{scan}` line in {lines}"
    assert all(text.endswith(columns) for text in scans), scans


def test_comma_join_becomes_keyed_join(context):
    lines = plan_lines(context, "SELECT a.x, b.w FROM a, b WHERE a.id = b.id")
    texts = [text for _, text in lines]
    assert "Join INNER on a.id = b.id" in texts or "Join INNER on b.id = a.id" in texts
    assert not any("CROSS" in text for text in texts)
    assert not any(text.startswith("Filter") for text in texts)


def test_comma_join_keeps_residual(context):
    texts = [text for _, text in plan_lines(context, "SELECT a.x FROM a, b WHERE a.x < b.w")]
    assert 'Join INNER on TRUE residual "a.x" < "b.w"' in texts


def test_three_way_join_avoids_cross_product(context):
    sql = "SELECT a.x FROM a, wide, b WHERE wide.s = b.id AND a.id = b.id"
    texts = [text for _, text in plan_lines(context, sql)]
    joins = [text for text in texts if text.startswith("Join")]
    assert len(joins) == 2
    for text in joins:
        assert text.startswith("Join INNER on ")
        assert "TRUE" not in text


def test_filters_pushed_below_inner_join(context):
    sql = "SELECT a.x, b.w FROM a JOIN b ON a.id = b.id WHERE a.x > 10 AND b.w > 150"
    lines = plan_lines(context, sql)
    join = find_line(lines, "Join INNER")
    left_filter = find_line(lines, 'Filter "a.x" > 10')
    right_filter = find_line(lines, 'Filter "b.w" > 150')
    assert is_below(lines, join, left_filter)
    assert is_below(lines, join, right_filter)


def test_preserved_side_filter_below_left_join(context):
    sql = "SELECT a.x, b.w FROM a LEFT JOIN b ON a.id = b.id WHERE a.x > 10"
    lines = plan_lines(context, sql)
    assert is_below(lines, find_line(lines, "Join LEFT"), find_line(lines, 'Filter "a.x" > 10'))


LEFT_JOIN_FILTERS = [
    pytest.param('"b.w" IS NULL', "b.w IS NULL", id="is-null"),
    pytest.param('COALESCE("b.w", 0) < 150', "COALESCE(b.w, 0) < 150", id="coalesce"),
    pytest.param('"b.w" > 150', "b.w > 150", id="comparison"),
]


@pytest.mark.parametrize(("plan_predicate", "where"), LEFT_JOIN_FILTERS)
def test_null_side_filter_above_left_join(context, duck, plan_predicate, where):
    # Below the join, `b.w IS NULL` would drop the b rows with a value before matching, so the
    # a rows that match only those would come back padded with NULLs and pass the filter.
    sql = f"SELECT a.id, a.x, b.w FROM a LEFT JOIN b ON a.id = b.id WHERE {where}"
    lines = plan_lines(context, sql)
    join = find_line(lines, "Join LEFT")
    predicate = find_line(lines, f"Filter {plan_predicate}")
    assert predicate < join
    assert is_below(lines, predicate, join)
    assert_same_multiset(context, duck, sql)


def test_null_side_filter_above_right_join(context, duck):
    sql = "SELECT a.x, b.w FROM a RIGHT JOIN b ON a.id = b.id WHERE a.x IS NULL"
    lines = plan_lines(context, sql)
    assert find_line(lines, 'Filter "a.x" IS NULL') < find_line(lines, "Join RIGHT")
    assert_same_multiset(context, duck, sql)


# Unsupported constructs -----------------------------------------------------------------------

UNSUPPORTED_CASES = [
    pytest.param(
        "SELECT STRING_AGG(DISTINCT g, ',') OVER () FROM a",
        "DISTINCT in the window aggregate",
        id="window-distinct-string-agg",
    ),
    pytest.param(
        "WITH RECURSIVE r(n) AS (SELECT 1 INTERSECT SELECT n + 1 FROM r) SELECT n FROM r",
        "must be `base UNION",
        id="recursive-cte-without-union",
    ),
    pytest.param(
        "SELECT * FROM a, LATERAL (SELECT COUNT(*) AS n FROM b WHERE b.id = a.id GROUP BY ROLLUP (b.id) "
        "HAVING COUNT(*) > 1) AS l",
        "HAVING with a grand-total grouping set in a LATERAL subquery",
        id="lateral-rollup-having",
    ),
    pytest.param(
        "SELECT (SELECT DISTINCT w FROM b WHERE b.id > a.id ORDER BY b.id LIMIT 1) FROM a",
        "outside the select list of a correlated SELECT DISTINCT with LIMIT",
        id="correlated-distinct-limit",
    ),
    pytest.param("SELECT frobnicate(x) FROM a", "function `FROBNICATE`", id="unknown-function"),
    pytest.param(
        "SELECT x FROM a WHERE x > ALL (SELECT w FROM b WHERE b.id = a.id UNION SELECT 1)",
        r"correlated ANY or ALL needs a SELECT",
        id="correlated-all-subquery",
    ),
    pytest.param("SELECT DISTINCT ON (g) g, x FROM a", "DISTINCT ON", id="distinct-on"),
    pytest.param("SELECT id FROM a UNION BY NAME SELECT id FROM b", "BY NAME", id="union-by-name"),
    pytest.param(
        "SELECT x FROM a LIMIT x", "LIMIT must be a non-negative integer", id="limit-column"
    ),
]


@pytest.mark.parametrize(("sql", "message"), UNSUPPORTED_CASES)
def test_unsupported_construct_raises(context, sql, message):
    with pytest.raises(UnsupportedError, match=message):
        context.sql(sql)


# GROUP BY and aggregates ----------------------------------------------------------------------

GROUP_BY_ERRORS = [
    pytest.param(
        "SELECT g, x FROM a GROUP BY g",
        "`a.x` must appear in the GROUP BY clause",
        id="bare-column",
    ),
    pytest.param(
        "SELECT g, x + 1 FROM a GROUP BY g",
        "`a.x` must appear in the GROUP BY clause",
        id="in-expression",
    ),
    pytest.param(
        "SELECT x FROM a GROUP BY g", "`a.x` must appear in the GROUP BY clause", id="only-column"
    ),
    pytest.param(
        "SELECT g, COUNT(*) FROM a GROUP BY g HAVING x > 1",
        "`a.x` must appear in the GROUP BY clause",
        id="having",
    ),
    pytest.param(
        "SELECT x, COUNT(*) FROM a", "`a.x` must appear in the GROUP BY clause", id="no-group-by"
    ),
    pytest.param(
        "SELECT g FROM a WHERE SUM(x) > 1 GROUP BY g",
        r"aggregate `SUM\(a.x\)` is not allowed here",
        id="aggregate-in-where",
    ),
    pytest.param("SELECT SUM(MAX(x)) FROM a", "cannot be nested", id="nested-aggregate"),
]


@pytest.mark.parametrize(("sql", "message"), GROUP_BY_ERRORS)
def test_group_by_error_raises_bind_error(context, sql, message):
    with pytest.raises(BindError, match=message):
        context.sql(sql)


AGGREGATE_CASES = [
    # Over empty input an aggregate without GROUP BY returns one row: COUNT 0, the others NULL.
    "SELECT COUNT(*), COUNT(x), SUM(x), MIN(x), MAX(x), AVG(x) FROM empty",
    "SELECT COUNT(*), SUM(x) FROM a WHERE x > 1000",
    "SELECT COUNT(*) AS n FROM a WHERE FALSE",
    # A GROUP BY over empty input returns no rows.
    "SELECT id, COUNT(*) FROM empty GROUP BY id",
    # NULL keys form one group.
    "SELECT g, COUNT(*), SUM(x) FROM a GROUP BY g",
    "SELECT id, COUNT(x) FROM a GROUP BY id",
    "SELECT g, id, COUNT(*) FROM a GROUP BY g, id",
    "SELECT x % 20 AS m, COUNT(*) FROM a GROUP BY m",
    "SELECT x % 20, COUNT(*) FROM a GROUP BY x % 20",
    "SELECT g, SUM(x) FROM a GROUP BY 1",
    "SELECT COUNT(DISTINCT g), COUNT(DISTINCT id), COUNT(g) FROM a",
    "SELECT g, SUM(x) AS s FROM a GROUP BY g HAVING SUM(x) > 30",
    "SELECT g FROM a GROUP BY g HAVING COUNT(*) = 2",
    "SELECT COUNT(*) FILTER (WHERE x > 10), SUM(x) FILTER (WHERE g = 'p') FROM a",
    "SELECT DISTINCT g FROM a",
    "SELECT DISTINCT g, id FROM a",
    "SELECT AVG(DISTINCT id), SUM(DISTINCT id), MEDIAN(x) FROM a",
    # Grouping sets: the NULL group of `g` and the rolled-up row (also NULL) stay apart.
    "SELECT g, SUM(x) FROM a GROUP BY ROLLUP (g)",
    "SELECT g, SUM(x) FROM a GROUP BY GROUPING SETS ((g), ())",
    "SELECT g, SUM(x) FROM a GROUP BY GROUPING SETS ((g), ()) HAVING SUM(x) > 30",
    "SELECT g, id, COUNT(*), SUM(x) FROM a GROUP BY CUBE (g, id)",
    "SELECT g, id, GROUPING(g, id), COUNT(*) FROM a GROUP BY ROLLUP (g, id)",
]


@pytest.mark.parametrize("sql", AGGREGATE_CASES)
def test_aggregate_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


# ORDER BY, LIMIT and OFFSET -------------------------------------------------------------------

ORDER_CASES = [
    "SELECT x AS v FROM a ORDER BY v",
    "SELECT g, x FROM a ORDER BY 2 DESC, 1",
    "SELECT g, x FROM a ORDER BY g, x",
    "SELECT g FROM a ORDER BY x",
    "SELECT g FROM a ORDER BY x + 1 DESC",
    "SELECT g FROM a ORDER BY a.x * -1",
    "SELECT a.x FROM a ORDER BY -a.x",
    "SELECT x FROM a ORDER BY x DESC",
    "SELECT x FROM a ORDER BY x NULLS FIRST",
    "SELECT x FROM a ORDER BY x DESC NULLS FIRST",
    "SELECT x FROM a ORDER BY x DESC NULLS LAST",
    "SELECT g, x FROM a ORDER BY g ASC NULLS FIRST, x DESC NULLS LAST",
    "SELECT g, x FROM a ORDER BY g DESC NULLS LAST, x ASC NULLS FIRST",
    "SELECT g, x FROM a ORDER BY g DESC NULLS FIRST, x DESC NULLS FIRST",
    "SELECT g, COUNT(*) AS n FROM a GROUP BY g ORDER BY MAX(x) DESC NULLS LAST",
    "SELECT g, COUNT(*) AS n FROM a GROUP BY g ORDER BY n DESC, g NULLS FIRST",
    "SELECT DISTINCT g FROM a ORDER BY g",
    "SELECT x FROM a ORDER BY x LIMIT 2",
    "SELECT x FROM a ORDER BY x LIMIT 2 OFFSET 1",
    "SELECT x FROM a ORDER BY x NULLS FIRST LIMIT 3",
    "SELECT x FROM a ORDER BY x OFFSET 4",
    "SELECT x FROM a ORDER BY x LIMIT 10 OFFSET 10",
    "SELECT x FROM a ORDER BY x LIMIT 0",
    "SELECT x FROM (SELECT x FROM a ORDER BY x DESC LIMIT 2) AS top ORDER BY x",
    "SELECT id FROM a UNION SELECT id FROM b ORDER BY id DESC NULLS LAST LIMIT 3",
    "SELECT id, g FROM a UNION SELECT id, NULL FROM b ORDER BY 1 NULLS FIRST, 2",
]

_ORDER_BY_SELECTED = (
    "an ORDER BY expression over a column of the select list raises BindError `unknown "
    "column`; DuckDB sorts by it"
)
ORDER_BUGS = [
    "SELECT x FROM a ORDER BY -x",
    "SELECT x FROM a ORDER BY x * 2 DESC",
    "SELECT x AS v FROM a ORDER BY v + 1",
    "SELECT x, g FROM a ORDER BY COALESCE(g, 'z'), x",
    "SELECT g, SUM(x) AS s FROM a GROUP BY g ORDER BY -s, g",
]


@pytest.mark.parametrize("sql", ORDER_CASES + ORDER_BUGS)
def test_order_matches_duckdb(context, duck, sql):
    assert_same_order(context, duck, sql)


def test_postgres_desc_puts_nulls_first(context):
    # PostgreSQL treats NULL as larger than every value; DuckDB puts NULLs last in both directions.
    rows = context.sql("SELECT x FROM a ORDER BY x DESC", dialect="postgres").rows()
    assert rows == [(None,), (50,), (40,), (30,), (20,), (10,)]


def test_order_by_position_out_of_range(context):
    with pytest.raises(BindError, match="3"):
        context.sql("SELECT g FROM a ORDER BY 3")


# Set operations -------------------------------------------------------------------------------

SET_OPERATION_CASES = [
    "SELECT id FROM a UNION SELECT id FROM b",
    "SELECT id FROM a UNION ALL SELECT id FROM b",
    "SELECT id FROM a INTERSECT SELECT id FROM b",
    "SELECT id FROM a INTERSECT ALL SELECT id FROM b",
    "SELECT id FROM a EXCEPT SELECT id FROM b",
    "SELECT id FROM a EXCEPT ALL SELECT id FROM b",
    "SELECT id FROM b EXCEPT ALL SELECT id FROM a",
    "SELECT id, g FROM a INTERSECT SELECT id, g FROM a",
    "SELECT g FROM a EXCEPT SELECT NULL",
    "SELECT 1 AS n UNION ALL SELECT NULL UNION ALL SELECT 1",
    "SELECT 1 AS n UNION SELECT NULL UNION SELECT NULL",
    "SELECT * FROM (VALUES (1), (NULL), (NULL)) v(n) INTERSECT ALL SELECT * FROM (VALUES (NULL), (1), (NULL), (NULL)) w(m)",
    "SELECT * FROM (VALUES (1), (NULL), (NULL)) v(n) EXCEPT ALL SELECT * FROM (VALUES (NULL)) w(m)",
    "SELECT * FROM (VALUES (1, NULL), (NULL, 'x')) v(n, s) UNION SELECT * FROM (VALUES (1, NULL), (NULL, 'x'), (2, 'y')) w(n, s)",
    "SELECT id, x FROM a UNION SELECT id, w FROM b",
    # DuckDB makes a column of text and another type VARCHAR in a set operation.
    "SELECT 1 UNION ALL SELECT 'asdf'",
    "SELECT 'x' UNION SELECT 2.5",
    "SELECT DATE '2020-01-01' UNION ALL SELECT 'abc'",
    "SELECT NULL UNION ALL SELECT 'asdf'",
]


@pytest.mark.parametrize("sql", SET_OPERATION_CASES)
def test_set_operation_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


@pytest.mark.parametrize(
    "sql",
    [
        # DuckDB binds an ORDER BY name that no result column has to a later branch's column.
        "SELECT * FROM (VALUES (42, 84), (1, 2)) s1(c1, c2) UNION ALL SELECT * FROM (VALUES (84, 42)) s2(c2, c3) ORDER BY c3",
        "SELECT * FROM (VALUES (42, 84)) s1(c1, c2) UNION ALL SELECT * FROM (VALUES (84, 42)) s2(c2, c3) ORDER BY c2",
        "SELECT 1 AS a UNION SELECT 2 AS b UNION SELECT 3 AS c ORDER BY c DESC",
    ],
)
def test_set_operation_order_by_branch_name(context, duck, sql):
    assert context.sql(sql).rows() == duck.sql(sql).fetchall()


def test_set_operation_width_mismatch(context):
    with pytest.raises(BindError, match="same number of columns"):
        context.sql("SELECT id FROM a UNION SELECT id, w FROM b")


# Subqueries -----------------------------------------------------------------------------------

# Each case selects the predicate itself, so the oracle checks TRUE, FALSE and NULL exactly.
SUBQUERY_CASES = [
    "SELECT a.id, a.x, EXISTS (SELECT 1 FROM b WHERE b.id = a.id) FROM a",
    "SELECT a.id, a.x, NOT EXISTS (SELECT 1 FROM b WHERE b.id = a.id) FROM a",
    "SELECT id, x FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.id = a.id AND b.w > a.x * 5)",
    "SELECT id, x FROM a WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.id = a.id)",
    "SELECT id, x FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.w > 400)",
    "SELECT id, x FROM a WHERE NOT EXISTS (SELECT 1 FROM empty)",
    # The subquery has a NULL, and a.id has a NULL probe.
    "SELECT a.id, a.id IN (SELECT id FROM b) FROM a",
    "SELECT a.id, a.id NOT IN (SELECT id FROM b) FROM a",
    "SELECT a.id, a.id IN (SELECT id FROM b WHERE id IS NOT NULL) FROM a",
    "SELECT a.id, a.id NOT IN (SELECT id FROM b WHERE id IS NOT NULL) FROM a",
    # Over an empty subquery NOT IN is TRUE even for a NULL probe.
    "SELECT a.id, a.id NOT IN (SELECT id FROM b WHERE w > 1000) FROM a",
    "SELECT a.id, a.id IN (SELECT id FROM empty) FROM a",
    "SELECT id FROM a WHERE id NOT IN (SELECT id FROM b)",
    "SELECT id FROM a WHERE id IN (SELECT id FROM b)",
    "SELECT a.id, a.x, a.id IN (SELECT b.id FROM b WHERE b.w = a.x * 10) FROM a",
    "SELECT a.id, a.x, a.id NOT IN (SELECT b.id FROM b WHERE b.w >= a.x * 10) FROM a",
    "SELECT a.id, a.x, a.x NOT IN (SELECT b.w / 10 FROM b WHERE b.id = a.id) FROM a",
    "SELECT a.id, a.x, a.id IN (SELECT b.id FROM b WHERE b.w = a.x * 10 OR b.w IS NULL) FROM a",
    "SELECT g, x FROM a WHERE x > (SELECT AVG(w) / 10 FROM b)",
    "SELECT (SELECT w FROM b WHERE id = 5) AS w",
    "SELECT (SELECT w FROM b WHERE id = 99) AS w",
    # A correlated COUNT is 0, not NULL, for outer rows without matches (and for a NULL key).
    "SELECT a.x, (SELECT COUNT(*) FROM b WHERE b.id = a.id) AS n FROM a",
    "SELECT a.x, (SELECT COUNT(b.w) FROM b WHERE b.id = a.id) AS n FROM a",
    "SELECT a.x, (SELECT SUM(b.w) FROM b WHERE b.id = a.id) AS total FROM a",
    "SELECT a.x, (SELECT MAX(b.w) FROM b WHERE b.id = a.id) AS top FROM a",
    "SELECT a.x FROM a JOIN b ON b.w = (SELECT MAX(w) FROM b AS b2 WHERE b2.id = a.id)",
]


@pytest.mark.parametrize("sql", SUBQUERY_CASES)
def test_subquery_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_scalar_subquery_several_rows_raises(context):
    with pytest.raises(ExecutionError, match="scalar subquery returned 5 rows"):
        context.sql("SELECT (SELECT w FROM b) AS w")


def test_scalar_subquery_several_rows_in_where(context):
    with pytest.raises(ExecutionError, match="must return at most one row"):
        context.sql("SELECT x FROM a WHERE x > (SELECT id FROM b)")


def test_correlated_count_without_match_is_zero(context):
    sql = "SELECT a.x, (SELECT COUNT(*) FROM b WHERE b.id = a.id) AS n FROM a ORDER BY a.x"
    assert context.sql(sql).rows() == [(10, 1), (20, 2), (30, 0), (40, 0), (50, 0), (None, 2)]


# FROM items, CTEs and joins -------------------------------------------------------------------

FROM_CASES = [
    "SELECT 1 + 1 AS two, 'x' AS s, NULL AS n",
    "SELECT 1 WHERE FALSE",
    "SELECT COUNT(*)",
    "WITH c AS (SELECT id, x FROM a WHERE x > 10) SELECT c1.id, c2.x FROM c c1 JOIN c c2 ON c1.id = c2.id",
    "WITH c AS (SELECT g, SUM(x) AS s FROM a GROUP BY g) SELECT * FROM c WHERE s > (SELECT MIN(s) FROM c)",
    "WITH c AS (SELECT 1 AS n), d AS (SELECT n + 1 AS m FROM c) SELECT n, m FROM c, d",
    "SELECT * FROM (VALUES (1, 'a'), (2, NULL), (NULL, 'c')) v(n, s)",
    "SELECT v.n * 2, v.s FROM (VALUES (1, 'a'), (2, 'b')) v(n, s) WHERE v.n > 1",
    "SELECT a.x, v.label FROM a JOIN (VALUES (1, 'one'), (2, 'two')) v(id, label) ON a.id = v.id",
    "SELECT s.total FROM (SELECT SUM(x) AS total FROM a) AS s",
    # NULL join keys never match, in inner and outer joins alike.
    "SELECT a.id, b.w FROM a JOIN b ON a.id = b.id",
    "SELECT a.id, a.x, b.w FROM a LEFT JOIN b ON a.id = b.id",
    "SELECT a.id, b.id, b.w FROM a RIGHT JOIN b ON a.id = b.id",
    "SELECT a.id, b.id, b.w FROM a FULL JOIN b ON a.id = b.id",
    "SELECT a.x, b.w FROM a, b WHERE a.id = b.id",
    "SELECT a.x, b.w FROM a JOIN b ON a.id = b.id AND a.x < b.w",
    "SELECT a.id, a.x, b.w FROM a LEFT JOIN b ON a.id = b.id AND b.w > 150",
    "SELECT a.id, a.x, b.w FROM a LEFT JOIN b ON a.id = b.id AND a.x > 15",
    "SELECT a.x, b.w, c.w FROM a LEFT JOIN b ON a.id = b.id JOIN b c ON c.id = a.id",
    "SELECT a.x, b.w FROM a JOIN b ON a.id + 1 = b.id",
    "SELECT COUNT(*) FROM a, b",
    "SELECT a.x, e.x FROM a LEFT JOIN empty e ON a.id = e.id",
    "SELECT a.x FROM a JOIN empty e ON a.id = e.id",
]


@pytest.mark.parametrize("sql", FROM_CASES)
def test_from_clause_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_null_join_keys_never_match(context):
    left = context.sql(
        "SELECT a.x, b.w FROM a LEFT JOIN b ON a.id = b.id WHERE a.id IS NULL"
    ).rows()
    inner = context.sql("SELECT COUNT(*) FROM a JOIN b ON a.id = b.id WHERE b.id IS NULL").rows()
    assert left == [(40, None)]
    assert inner == [(0,)]
