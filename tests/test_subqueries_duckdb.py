"""Subquery forms checked against DuckDB: row comparisons, outer aggregates, correlated forms.

Each query runs in gsql and in DuckDB over the same Arrow tables, and each case selects the
predicate itself, so TRUE, FALSE and NULL are all compared. The tables hold NULLs in every
column, duplicate rows, and an empty table.
"""

from __future__ import annotations

import itertools

import duckdb
import pyarrow as pa
import pytest

import gsql
from tests.conftest import assert_same_multiset, duckdb_over, gsql_over
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
    # Outer and inner tables for correlated subqueries: NULL keys and values, duplicates.
    "o": pa.table(
        {
            "k": pa.array([1, 1, 2, 3, None, 4], pa.int64()),
            "v": pa.array([5, None, 7, 2, 3, 9], pa.int64()),
        }
    ),
    "i": pa.table(
        {
            "k": pa.array([1, 1, 2, 2, None, 3], pa.int64()),
            "v": pa.array([5, 6, None, 7, 2, 2], pa.int64()),
        }
    ),
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
    return gsql_over(TABLES)


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb_over(TABLES)
    yield connection
    connection.close()



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


# Aggregates of the enclosing query inside subqueries -------------------------------------------

OUTER_AGGREGATE_CASES = [
    "SELECT (SELECT MAX(o.v)) FROM o",
    "SELECT (SELECT MAX(o.v) + MIN(o.k)) AS m, COUNT(*) FROM o",
    "SELECT o.k, (SELECT MAX(o.v) + o.k) FROM o GROUP BY o.k",
    "SELECT o.k, (SELECT COUNT(o.v)) FROM o GROUP BY o.k",
    "SELECT o.k, (SELECT COUNT(*) FROM i WHERE i.v > MIN(o.v)) FROM o GROUP BY o.k",
    "SELECT o.k FROM o GROUP BY o.k HAVING (SELECT SUM(o.v)) > 4",
    "SELECT (SELECT COUNT(o.v) FILTER (WHERE o.k > 1)) FROM o",
    "SELECT (SELECT COUNT(DISTINCT o.k)) FROM o",
    # Over no rows the aggregate still gives one row, unless the outer query groups.
    "SELECT (SELECT MAX(e.x)) FROM e",
    "SELECT (SELECT COUNT(e.x)) FROM e",
    "SELECT (SELECT MAX(e.x)) FROM e GROUP BY e.y",
    "SELECT 1 IN (SELECT (SELECT MIN(o.k))) FROM o",
    # An uncorrelated subquery in the argument keeps the aggregate in the enclosing query...
    "SELECT (SELECT MAX(o.v + (SELECT 1))) FROM o",
    # ...but a column read only inside a subquery leaves it in the subquery that contains it.
    "SELECT o.k, (SELECT MAX((SELECT o.v + 1))) FROM o",
    "SELECT (SELECT MAX((SELECT n.c))) FROM (SELECT NULL AS c) AS n",
    "SELECT 9 IN (SELECT MAX(o.v) UNION ALL SELECT i.v FROM i) FROM o",
    "SELECT o.k, 5 NOT IN (SELECT MAX(o.v) UNION SELECT i.v FROM i WHERE i.k = o.k) FROM o GROUP BY o.k",
]


@pytest.mark.parametrize("sql", OUTER_AGGREGATE_CASES)
def test_outer_aggregate_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_outer_aggregate_in_order_by(context, duck):
    sql = "SELECT o.k FROM o GROUP BY o.k ORDER BY (SELECT MAX(o.v)) NULLS FIRST, o.k"
    assert context.sql(sql).rows() == duck.sql(sql).fetchall()


def test_outer_aggregate_in_where_unsupported(context):
    with pytest.raises(UnsupportedError, match="over columns of the enclosing query"):
        context.sql("SELECT o.k FROM o WHERE o.v IN (SELECT MAX(o.v))")


# Correlated IN, EXISTS, ANY and ALL ------------------------------------------------------------

CORRELATED_CASES = [
    # Over a UNION: the OR of the test on each branch.
    "SELECT o.k, o.v, o.v IN (SELECT i.v FROM i WHERE i.k = o.k UNION ALL SELECT NULL) FROM o",
    "SELECT o.k, o.v, o.v NOT IN (SELECT i.v FROM i WHERE i.k = o.k UNION SELECT 5) FROM o",
    "SELECT o.k, o.v, o.v IN (SELECT i.v FROM i WHERE i.k = o.k UNION SELECT i.v FROM i WHERE i.v = o.v + 1) FROM o",
    "SELECT o.k, EXISTS (SELECT 1 FROM i WHERE i.k = o.k UNION ALL SELECT 1 FROM e) FROM o",
    "SELECT o.k, NOT EXISTS (SELECT i.v FROM i WHERE i.k = o.k UNION SELECT x FROM e) FROM o",
    # Over a one-row aggregate: the plain comparison with its value.
    "SELECT o.k, o.v, o.v IN (SELECT MAX(i.v) FROM i WHERE i.k = o.k) FROM o",
    "SELECT o.k, o.v, o.v NOT IN (SELECT COUNT(*) FROM i WHERE i.k = o.k) FROM o",
    "SELECT o.k, o.v, o.v > ANY (SELECT MIN(i.v) FROM i WHERE i.k = o.k) FROM o",
    "SELECT o.k, o.v, o.v <= ALL (SELECT SUM(i.v) FROM i WHERE i.k < o.k) FROM o",
    "SELECT o.k, o.v, o.v <> ANY (SELECT MAX(o.v + i.v) FROM i) FROM o",
    # = ANY is IN and <> ALL is NOT IN, correlated too.
    "SELECT o.k, o.v, o.v = ANY (SELECT i.v FROM i WHERE i.k = o.k) FROM o",
    "SELECT o.k, o.v, o.v <> ALL (SELECT i.v FROM i WHERE i.k = o.k) FROM o",
    # A correlated reference in the ON condition of a LEFT JOIN inside the subquery.
    "SELECT o.k, (SELECT COUNT(*) FROM i LEFT JOIN i AS j ON j.k = o.k AND j.v = i.v) FROM o",
    "SELECT o.k, (SELECT MIN(j.v) FROM i LEFT JOIN i AS j ON j.k = o.k) FROM o",
    "SELECT o.k, o.v IN (SELECT j.v FROM i JOIN i AS j ON j.k = i.k AND j.k = o.k) FROM o",
    # A RIGHT JOIN inside the subquery with the correlation outside its ON condition.
    "SELECT o.k, (SELECT COUNT(*) FROM i RIGHT JOIN i AS j ON j.v = i.k + 4 WHERE j.v > o.v) FROM o",
]


@pytest.mark.parametrize("sql", CORRELATED_CASES)
def test_correlated_subquery_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_correlated_right_join_condition_unsupported(context):
    sql = "SELECT o.k, (SELECT COUNT(*) FROM i RIGHT JOIN i AS j ON j.k = o.k) FROM o"
    with pytest.raises(UnsupportedError, match="ON condition"):
        context.sql(sql)


# Correlated `x op ANY/ALL (q)` for op other than `=`: q's COUNT(*), COUNT, MIN and MAX per
# outer row decide it, with NULLs in x and in q, empty q, and equality and range correlation.
CORRELATED_QUANTIFIED_CASES = [
    f"SELECT o.k, o.v, o.v {operator} {quantifier} (SELECT i.v FROM i WHERE {correlation}) FROM o"
    for operator in ("<", ">=", "<>")
    for quantifier in ("ANY", "ALL")
    for correlation in ("i.k = o.k", "i.k < o.k", "i.v > o.v AND i.k IS NOT NULL")
] + [
    "SELECT o.k, o.v, o.v < ALL (SELECT i.v + o.k FROM i WHERE i.k = o.k) FROM o",
    "SELECT o.k, o.v, o.v > ANY (SELECT DISTINCT i.v FROM i WHERE i.k <= o.k) FROM o",
    "SELECT o.k, o.v, o.v > ANY (SELECT SUM(i.v) FROM i WHERE i.k <= o.k GROUP BY i.k) FROM o",
    "SELECT o.k, o.v FROM o WHERE o.v >= ALL (SELECT i.v FROM i WHERE i.k = o.k)",
    "SELECT o.k, o.v FROM o WHERE NOT o.v < ANY (SELECT i.v FROM i WHERE i.k <> o.k)",
]


# A correlated aggregate inside an expression: outer rows without matches get the expression
# over no rows (COUNT 0, other aggregates NULL), not NULL. Outer aggregates mix in too.
CORRELATED_EXPRESSION_CASES = [
    "SELECT o.k, (SELECT COUNT(*) + 1 FROM i WHERE i.k = o.k) FROM o",
    "SELECT o.k, (SELECT COALESCE(SUM(i.v), -1) FROM i WHERE i.k = o.k) FROM o",
    "SELECT o.k, (SELECT CASE WHEN COUNT(*) = 0 THEN 'none' ELSE 'some' END FROM i WHERE i.k = o.k) FROM o",
    "SELECT o.k, (SELECT COUNT(i.v) * 2 + o.v FROM i WHERE i.k < o.k) FROM o",
    "SELECT o.k, (SELECT COUNT(*) + o.v FROM i WHERE i.k = o.k) FROM o",
    "SELECT o.k, (SELECT COUNT(*) + 1 FROM i WHERE i.k = o.k LIMIT 1) FROM o",
    "SELECT o.k, (SELECT COUNT(*) + 1 FROM i WHERE i.k = o.k OFFSET 1) FROM o",
    "SELECT o.k, (SELECT MAX(o.v) + COUNT(*) FROM i WHERE i.k = o.k) FROM o GROUP BY o.k",
    "SELECT o.k, (SELECT COUNT(o.v) + MAX(i.v) FROM i) FROM o GROUP BY o.k",
    "SELECT o.k, (SELECT SUM(o.v) + MAX(e.x) FROM e) FROM o GROUP BY o.k",
]


@pytest.mark.parametrize("sql", CORRELATED_EXPRESSION_CASES)
def test_correlated_aggregate_expression_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


@pytest.mark.parametrize("sql", CORRELATED_QUANTIFIED_CASES)
def test_correlated_quantified_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


# Subqueries as predicates ----------------------------------------------------------------------

PREDICATE_CASES = [
    # DuckDB reads a nonzero integer as TRUE.
    "SELECT o.k FROM o WHERE (SELECT COUNT(*) FROM i WHERE i.k = o.k)",
    "SELECT o.k FROM o WHERE o.v > 2 AND (SELECT MAX(i.v) > 5 FROM i WHERE i.k = o.k)",
]


@pytest.mark.parametrize("sql", PREDICATE_CASES)
def test_subquery_predicate_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


# Window functions in correlated subqueries -----------------------------------------------------

# A window function reads only the rows of its own outer row, so these run per outer row.
WINDOW_CASES = [
    "SELECT o.k, o.k IN (SELECT ROW_NUMBER() OVER () FROM i WHERE i.k > o.k) FROM o",
    "SELECT o.k, o.v, (SELECT COUNT(*) OVER () FROM i WHERE i.v = o.v AND i.v > 2) FROM o",
    "SELECT o.k, (SELECT SUM(i.v) OVER (ORDER BY i.v) FROM i WHERE i.k = o.k AND i.v > 5) FROM o",
    "SELECT o.k, EXISTS (SELECT 1 FROM i WHERE i.k >= o.k QUALIFY ROW_NUMBER() OVER () = 3) FROM o",
    "SELECT o.k, o.v, o.v NOT IN (SELECT i.v FROM i WHERE i.k = o.k QUALIFY ROW_NUMBER() OVER (ORDER BY i.v NULLS FIRST) <= 1) FROM o",
    "SELECT o.k FROM o WHERE NOT EXISTS (SELECT 1 FROM i WHERE i.v > o.v QUALIFY ROW_NUMBER() OVER (ORDER BY i.v, i.k) <= 2)",
    "SELECT (SELECT MAX(42) OVER (PARTITION BY (SELECT n.c))) FROM (SELECT NULL AS c) AS n",
    "SELECT (SELECT MAX((SELECT n.c)) OVER ()) FROM (SELECT NULL AS c) AS n",
    # Subqueries inside aggregate and window arguments of the query itself.
    "SELECT SUM((SELECT COUNT(*) FROM i WHERE i.k = o.k)) FROM o",
    "SELECT o.k, SUM((SELECT MAX(i.v) FROM i WHERE i.k <= o.k)) OVER (ORDER BY o.k, o.v) FROM o",
]


@pytest.mark.parametrize("sql", WINDOW_CASES)
def test_window_in_subquery_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


# Subqueries in FROM and ON ---------------------------------------------------------------------

FROM_CASES = [
    # DuckDB names unaliased subqueries of one FROM clause unnamed_subquery, unnamed_subquery2...
    "SELECT unnamed_subquery.a, unnamed_subquery2.b FROM (SELECT 42 a), (SELECT 43 b)",
    "SELECT unnamed_subquery.b FROM (SELECT 42 a) AS x, (SELECT 43 b)",
    "SELECT * FROM (SELECT unnamed_subquery.a FROM (SELECT 42 a)), (SELECT unnamed_subquery.b FROM (SELECT 43 b))",
    # A FROM-first query with several subqueries, inside another FROM.
    "SELECT * FROM (FROM (SELECT 42 a), (SELECT 43 b)) JOIN (SELECT 44 c) ON (true)",
    # ON conjuncts on the NULL-supplying side filter that side, subqueries too.
    "SELECT o.k, i.v FROM o LEFT JOIN i ON (SELECT i.v) > 5",
    "SELECT o.k, i.v FROM o LEFT JOIN i ON i.v > 100",
    "SELECT o.k, i.v FROM o RIGHT JOIN i ON o.k > 100",
    "SELECT o.k, i.v FROM o LEFT JOIN i ON EXISTS (SELECT 1 FROM e WHERE e.x = i.v)",
    "SELECT o.k, i.k FROM o LEFT JOIN i ON i.k IN (SELECT x FROM r)",
    # A column of the null type in a join.
    "SELECT o.k, n.c FROM o LEFT JOIN (SELECT 1 AS k, NULL AS c) AS n ON o.k = n.k",
]


@pytest.mark.parametrize("sql", FROM_CASES)
def test_from_and_on_subquery_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_on_subquery_of_both_sides(context, duck):
    assert_same_multiset(context, duck, "SELECT o.k, i.k FROM o LEFT JOIN i ON i.v IN (SELECT o.v)")


# Derived tables that read the enclosing query -------------------------------------------------

# Inside a subquery that runs per outer row, such a derived table reads one outer row at a time.
CORRELATED_DERIVED_CASES = [
    "SELECT o.k, o.v, EXISTS (SELECT 1 FROM (SELECT i.v FROM i WHERE i.k = o.k) AS d WHERE d.v <> o.v) FROM o",
    "SELECT o.k, (SELECT COUNT(*) FROM (SELECT o.v + i.v AS s FROM i) AS d WHERE d.s > 8) FROM o",
    "SELECT o.k, o.v IN (SELECT d.m FROM (SELECT i.k, MAX(i.v) AS m FROM i WHERE i.v < o.v GROUP BY i.k) AS d) FROM o",
    "SELECT o.k, (SELECT COUNT(*) FROM (SELECT DISTINCT i.v FROM i WHERE i.k <= o.k) AS d) FROM o",
    "SELECT o.k, (SELECT MAX(d.r) FROM (SELECT ROW_NUMBER() OVER () AS r FROM i WHERE i.k = o.k) AS d) FROM o",
    "SELECT o.k, (SELECT COUNT(*) FROM i LEFT JOIN (SELECT i2.v FROM i AS i2 WHERE i2.k = o.k) AS d ON d.v = i.v) FROM o",
    "SELECT o.k, 1 = ANY (SELECT 1 FROM i JOIN (SELECT COUNT(*) AS n GROUP BY o.k) AS d ON TRUE) FROM o",
    # The derived table is the subquery's only FROM item and reads two outer tables.
    "SELECT a.k, b.v, EXISTS (SELECT 1 FROM (SELECT a.k + b.v AS s) AS d WHERE d.s > 6) FROM o AS a, i AS b WHERE a.k = b.k",
]


@pytest.mark.parametrize("sql", CORRELATED_DERIVED_CASES)
def test_correlated_derived_table_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_correlated_derived_ungrouped_aggregate_unsupported(context):
    sql = "SELECT o.k, (SELECT MAX(d.n) FROM (SELECT COUNT(*) AS n FROM i WHERE i.k = o.k) AS d) FROM o"
    with pytest.raises(UnsupportedError, match="aggregates without GROUP BY"):
        context.sql(sql)


def test_table_as_value_unsupported(context):
    with pytest.raises(UnsupportedError, match="table `c0` used as a value"):
        context.sql("SELECT (SELECT c0 OFFSET 1) FROM (VALUES (1)) c0")


# A grand-total grouping set yields a row for an outer row that meets no input rows, which the
# per-row plans cannot produce, so these raise instead of dropping that row.
GRAND_TOTAL_PER_ROW = [
    "SELECT o.k, (SELECT SUM(d.n) FROM (SELECT COUNT(*) AS n FROM i WHERE i.k = o.k GROUP BY GROUPING SETS ((), (i.v))) AS d) FROM o",
    "SELECT o.k, EXISTS (SELECT 1 FROM (SELECT COUNT(*) AS n FROM i WHERE i.k = o.k GROUP BY ROLLUP (i.v)) AS d) FROM o",
]


@pytest.mark.parametrize("sql", GRAND_TOTAL_PER_ROW)
def test_grand_total_per_outer_row_raises(context, sql):
    with pytest.raises(UnsupportedError, match="GROUPING SETS, ROLLUP or CUBE"):
        context.sql(sql)


LATERAL_COLUMN_NAMES = [
    "SELECT o.k, s.a FROM o, LATERAL (SELECT o.v + 1) AS s(a)",
    "SELECT o.k, s.a, s.b FROM o, LATERAL (SELECT o.v + 1 AS y, 7) AS s(a, b)",
    "SELECT o.k, s.c FROM o, (SELECT o.v * 2 AS c) AS s",
]


@pytest.mark.parametrize("sql", LATERAL_COLUMN_NAMES)
def test_lateral_column_names_match_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


# LIMIT, OFFSET and GROUP BY in correlated subqueries -------------------------------------------

# Each outer row keeps the rows that LIMIT and OFFSET select in ORDER BY order. Every ORDER BY
# here orders the rows of one outer row without ties, so the kept rows are deterministic.
CORRELATED_LIMIT_CASES = [
    "SELECT o.k, (SELECT i.v FROM i WHERE i.k = o.k ORDER BY i.v DESC LIMIT 1) FROM o",
    "SELECT o.k, (SELECT i.v FROM i WHERE i.k = o.k ORDER BY i.v NULLS FIRST LIMIT 1) FROM o",
    "SELECT o.k, (SELECT i.v FROM i WHERE i.k = o.k ORDER BY i.v LIMIT 1 OFFSET 1) FROM o",
    "SELECT o.k, (SELECT i.v FROM i WHERE i.k = o.k ORDER BY i.v LIMIT 1 OFFSET 5) FROM o",
    "SELECT o.k, (SELECT i.v FROM i WHERE i.k = o.k ORDER BY i.v FETCH FIRST 1 ROWS ONLY) FROM o",
    "SELECT o.k, (SELECT i.v FROM i WHERE i.k = o.k ORDER BY ALL LIMIT 1) FROM o",
    # ORDER BY an alias, a position, an expression over the outer row, a column not selected.
    "SELECT o.k, (SELECT i.v AS w FROM i WHERE i.k >= o.k ORDER BY w DESC, 1 LIMIT 1 OFFSET 2) FROM o",
    "SELECT o.k, o.v, (SELECT i.v FROM i ORDER BY abs(i.v - o.v), i.v LIMIT 1) FROM o",
    "SELECT o.k, (SELECT i.v FROM i, r WHERE i.k = o.k AND r.x = i.k ORDER BY r.y DESC NULLS LAST, i.v LIMIT 1) FROM o",
    "SELECT o.k FROM o WHERE o.v = (SELECT i.v FROM i WHERE i.k = o.k ORDER BY i.v DESC LIMIT 1)",
    # LIMIT after a window function, QUALIFY and DISTINCT.
    "SELECT o.k, (SELECT ROW_NUMBER() OVER (ORDER BY i.v) FROM i WHERE i.k = o.k ORDER BY 1 DESC LIMIT 1) FROM o",
    "SELECT o.k, (SELECT i.v FROM i WHERE i.k = o.k QUALIFY ROW_NUMBER() OVER (ORDER BY i.v) <= 2 ORDER BY i.v DESC NULLS LAST LIMIT 1) FROM o",
    "SELECT o.k, (SELECT DISTINCT i.k FROM i WHERE i.k >= o.k ORDER BY i.k DESC LIMIT 1 OFFSET 1) FROM o",
    "SELECT o.k, (SELECT DISTINCT i.k FROM i WHERE i.k = o.k) FROM o",
    # An aggregate without GROUP BY has one row: LIMIT 0 and OFFSET 1 leave NULL, even for COUNT.
    "SELECT o.k, (SELECT COUNT(*) FROM i WHERE i.k = o.k LIMIT 1) FROM o",
    "SELECT o.k, (SELECT COUNT(*) FROM i WHERE i.k = o.k LIMIT 0) FROM o",
    "SELECT o.k, (SELECT COUNT(*) FROM i WHERE i.k = o.k OFFSET 1) FROM o",
    "SELECT o.k, (SELECT SUM(i.v) + 1 FROM i WHERE i.k < o.k ORDER BY 1 LIMIT 5 OFFSET 0) FROM o",
    "SELECT o.k, (SELECT SUM(o.v + i.v) FROM i WHERE i.k = o.k LIMIT 1) FROM o",
    "SELECT o.k, (SELECT o.v + MAX(i.v) FROM i WHERE i.k > o.k LIMIT 1) FROM o",
    # GROUP BY: groups per outer row, then LIMIT picks one of them.
    "SELECT o.k, (SELECT i.k FROM i WHERE i.k = o.k GROUP BY i.k) FROM o",
    "SELECT o.k, (SELECT MAX(i.v) FROM i WHERE i.k = o.k GROUP BY i.v ORDER BY 1 LIMIT 1) FROM o",
    "SELECT o.k, (SELECT COUNT(*) FROM i WHERE i.k <= o.k GROUP BY i.k ORDER BY COUNT(*) DESC, i.k LIMIT 1) FROM o",
    "SELECT o.k, (SELECT i.k FROM i WHERE i.v >= o.v GROUP BY i.k HAVING COUNT(*) > 1 ORDER BY i.k DESC LIMIT 1) FROM o",
    "SELECT o.k, (SELECT o.v + MAX(i.v) FROM i GROUP BY i.k ORDER BY 1 DESC NULLS LAST LIMIT 1) FROM o",
    # EXISTS: LIMIT n >= 1 changes nothing, LIMIT 0 is FALSE, OFFSET m needs more than m rows.
    "SELECT o.k, EXISTS (SELECT 1 FROM i WHERE i.k = o.k LIMIT 1) FROM o",
    "SELECT o.k, EXISTS (SELECT 1 FROM i WHERE i.k = o.k LIMIT 0) FROM o",
    "SELECT o.k, EXISTS (SELECT 1 FROM i WHERE i.k = o.k OFFSET 1) FROM o",
    "SELECT o.k, NOT EXISTS (SELECT 1 FROM i WHERE i.k >= o.k LIMIT 1 OFFSET 2) FROM o",
    "SELECT o.k, EXISTS (SELECT DISTINCT i.k FROM i WHERE i.k = o.k OFFSET 1) FROM o",
    "SELECT o.k, EXISTS (SELECT DISTINCT i.k, i.v FROM i WHERE i.k = o.k ORDER BY i.v OFFSET 1) FROM o",
    # IN over the kept rows.
    "SELECT o.k, o.v, o.v IN (SELECT i.v FROM i WHERE i.k = o.k ORDER BY i.v LIMIT 1) FROM o",
    "SELECT o.k, o.v, o.v NOT IN (SELECT i.v FROM i WHERE i.k >= o.k ORDER BY i.v DESC LIMIT 2 OFFSET 1) FROM o",
    "SELECT o.k, o.v, o.v IN (SELECT i.v FROM i WHERE i.k >= o.k ORDER BY i.k, i.v LIMIT 0) FROM o",
    "SELECT o.k, o.v, o.v IN (SELECT DISTINCT i.v FROM i WHERE i.k >= o.k ORDER BY i.v LIMIT 2) FROM o",
    "SELECT o.k, o.v, o.v IN (SELECT MAX(i.v) FROM i WHERE i.k = o.k OFFSET 1) FROM o",
    "SELECT o.k, o.v, o.v <> ALL (SELECT i.v FROM i WHERE i.k = o.k ORDER BY i.v LIMIT 1) FROM o",
    "SELECT o.k, o.v, o.v > ALL (SELECT MIN(i.v) FROM i WHERE i.k = o.k OFFSET 1) FROM o",
    # Grouped EXISTS and IN: an equality correlation joins on the group keys plus the inner key.
    "SELECT o.k, o.v IN (SELECT MAX(i.v) FROM i WHERE i.k = o.k GROUP BY i.v) FROM o",
    "SELECT o.k, EXISTS (SELECT 1 FROM i WHERE i.k = o.k GROUP BY i.v HAVING COUNT(*) > 1) FROM o",
    "SELECT o.k, EXISTS (SELECT 1 FROM i WHERE i.k < o.k GROUP BY i.v HAVING COUNT(*) > 1) FROM o",
    "SELECT o.k, o.v IN (SELECT COUNT(*) FROM i WHERE i.k <= o.k GROUP BY i.k) FROM o",
]


@pytest.mark.parametrize("sql", CORRELATED_LIMIT_CASES)
def test_correlated_limit_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_correlated_limit_without_order_picks_a_row(context):
    # Without ORDER BY, LIMIT 1 may keep any of the outer row's matches.
    rows = context.sql("SELECT o.k, (SELECT i.v FROM i WHERE i.k = o.k LIMIT 1) FROM o").rows()
    matches = {1: {5, 6}, 2: {None, 7}, 3: {2}, 4: {None}, None: {None}}
    assert len(rows) == 6
    for key, value in rows:
        assert value in matches[key]


def test_correlated_limit_two_rows_raises(context, duck):
    sql = "SELECT o.k, (SELECT i.v FROM i WHERE i.k = o.k ORDER BY i.v LIMIT 2) FROM o"
    with pytest.raises(duckdb.Error, match="More than one row"):
        duck.sql(sql).fetchall()
    with pytest.raises(gsql.errors.ExecutionError, match="returned 2 rows"):
        context.sql(sql)


def test_correlated_distinct_order_outside_select_unsupported(context):
    sql = "SELECT o.k, (SELECT DISTINCT i.v FROM i WHERE i.k = o.k ORDER BY i.k LIMIT 1) FROM o"
    with pytest.raises(UnsupportedError, match="outside the select list of a correlated SELECT DISTINCT"):
        context.sql(sql)


# An aggregate without GROUP BY gives one row even over no rows, so EXISTS over it is TRUE.
UNGROUPED_AGGREGATE_CASES = [
    "SELECT EXISTS (SELECT MAX(x) FROM e)",
    "SELECT NOT EXISTS (SELECT MAX(x) FROM e OFFSET 1)",
    "SELECT o.k, EXISTS (SELECT MAX(x) FROM e WHERE e.x = o.k) FROM o",
    "SELECT o.k, EXISTS (SELECT MAX(i.v) FROM i WHERE i.k > o.k) FROM o",
    "SELECT o.k, EXISTS (SELECT MAX(i.v + o.v) FROM i WHERE i.k = o.k) FROM o",
    "SELECT o.k FROM o WHERE NOT EXISTS (SELECT MAX(i.v) FROM i WHERE i.k = o.k)",
]


@pytest.mark.parametrize("sql", UNGROUPED_AGGREGATE_CASES)
def test_exists_over_ungrouped_aggregate_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


# Subqueries whose HAVING reads the enclosing query -------------------------------------------

# The aggregation reads only the subquery's own rows, and HAVING then tests an outer value, an
# aggregate of the outer query or both.
OUTER_HAVING_CASES = [
    "SELECT o.k, (SELECT COUNT(*) FROM i HAVING COUNT(*) > o.k) FROM o",
    "SELECT o.k, (SELECT SUM(i.v) FROM i WHERE i.v > 5 HAVING o.v > 4) FROM o",
    "SELECT o.k, (SELECT 1 HAVING o.v > 4) FROM o",
    "SELECT o.k, o.v IN (SELECT COUNT(*) + 1 FROM i HAVING COUNT(*) < o.v) FROM o",
    "SELECT o.k, EXISTS (SELECT 1 FROM i HAVING MIN(o.v) > 4) FROM o GROUP BY o.k",
    "SELECT o.k, o.k = ALL (SELECT 1 FROM i HAVING MIN(o.v) IS NULL) FROM o GROUP BY o.k",
    "SELECT o.k, o.k > ANY (SELECT COUNT(*) - 5 FROM i HAVING MAX(o.v) > 3) FROM o GROUP BY o.k",
    "SELECT o.k, o.k < ALL (SELECT MAX(i.k) FROM i HAVING MAX(o.v) > 6) FROM o GROUP BY o.k",
    # The outer column is written unqualified.
    "SELECT o.k, (SELECT COUNT(*) FROM r HAVING MIN(v) > 4) FROM o GROUP BY o.k",
]


@pytest.mark.parametrize("sql", OUTER_HAVING_CASES)
def test_outer_reference_in_having_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_correlated_where_and_having_unsupported(context):
    sql = "SELECT o.k, (SELECT COUNT(*) FROM i WHERE i.k = o.k HAVING COUNT(*) > 1) FROM o"
    with pytest.raises(UnsupportedError, match="HAVING"):
        context.sql(sql)


# Select-list aliases read inside subqueries ---------------------------------------------------

# DuckDB reads an alias of an earlier select-list item inside a later item's subquery, unless a
# table in scope has a column of that name.
LATERAL_ALIAS_CASES = [
    "SELECT o.v AS w, (SELECT MAX(i.v) FROM i WHERE i.v < w) FROM o",
    "SELECT o.k + 1 AS n, n IN (SELECT i.k + n FROM i) FROM o",
    "SELECT o.k AS a, a * 2 AS b, (SELECT b + MAX(i.v) FROM i WHERE i.k = a) FROM o",
    "SELECT o.v AS w, (SELECT i.k FROM i WHERE i.v < w ORDER BY i.v DESC LIMIT 1) FROM o",
    "SELECT o.v AS w, (SELECT (SELECT w + i.v) FROM i WHERE i.k = 3) FROM o",
    # Grouped by the alias: the subquery reads the group key.
    "SELECT o.k + 1 AS n, n IN (SELECT i.k + n FROM i) FROM o GROUP BY n",
    "SELECT o.k + 1 AS n, (SELECT MAX(i.v) FROM i WHERE i.k = n) FROM o GROUP BY n",
    "SELECT o.k + 1 AS n, (SELECT MIN(i.v) FROM i WHERE i.k < n) FROM o GROUP BY o.k",
    "SELECT SUM(o.v) AS s, (SELECT s + MAX(i.v) FROM i) FROM o GROUP BY o.k",
    # Real columns win: `x` is a column of r, `v` of i.
    "SELECT o.v * 2 AS x, (SELECT COUNT(*) FROM r WHERE r.y = x) FROM o",
    "SELECT o.k AS v, (SELECT MAX(v) FROM i) FROM o",
]


@pytest.mark.parametrize("sql", LATERAL_ALIAS_CASES)
def test_lateral_alias_in_subquery_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_alias_defined_later_is_unknown(context, duck):
    sql = "SELECT (SELECT w + 1) AS z, o.v AS w FROM o"
    with pytest.raises(duckdb.Error, match="cannot be referenced before it is defined"):
        duck.sql(sql).fetchall()
    with pytest.raises(BindError, match="unknown column `w`"):
        context.sql(sql)


def test_fetch_first_matches_duckdb(context, duck):
    sql = "SELECT x FROM r ORDER BY x NULLS FIRST OFFSET 1 ROWS FETCH FIRST 2 ROWS ONLY"
    assert context.sql(sql).rows() == duck.sql(sql).fetchall()
