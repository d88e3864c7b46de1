"""Inner-join order, filters implied by ORs and merged filters: the plan changes, the result
must not.

Each query runs in gsql and in DuckDB over the same Arrow tables; results are compared as
multisets. The tables hold NULLs in keys and in filtered columns, duplicates, and a table of
very different size, so that the join order and the derived filters really change the plan.
"""

from __future__ import annotations

from collections import Counter

import duckdb
import pyarrow as pa
import pytest

import gsql
from tests.conftest import duckdb_over, gsql_over
from gsql.sql import plan as plan_nodes
from gsql.sql.implied import implied_filters
from gsql.sql.joinorder import selectivity
from gsql.sql.parse import parse_sql

NATION = pa.table(
    {
        "n_key": pa.array([0, 1, 2, 3, None], pa.int64()),
        "n_name": pa.array(["FRANCE", "GERMANY", "PERU", None, "FRANCE"]),
    }
)
SUPPLIER = pa.table(
    {
        "s_key": pa.array(range(40), pa.int64()),
        "s_nation": pa.array([i % 5 if i % 7 else None for i in range(40)], pa.int64()),
    }
)
ITEM = pa.table(
    {
        "i_supp": pa.array([i % 45 for i in range(600)], pa.int64()),
        "i_cust": pa.array([i % 31 if i % 11 else None for i in range(600)], pa.int64()),
        "i_price": pa.array([float(i % 97) for i in range(600)], pa.float64()),
    }
)
CUSTOMER = pa.table(
    {
        "c_key": pa.array(range(30), pa.int64()),
        "c_nation": pa.array([i % 4 for i in range(30)], pa.int64()),
    }
)
DIVISORS = pa.table(
    {
        "x": pa.array([0, 1, 2, None, 5], pa.int64()),
        "s": pa.array(["1", "a", "3", None, "x"]),
    }
)
TABLES = {
    "nation": NATION,
    "supplier": SUPPLIER,
    "item": ITEM,
    "customer": CUSTOMER,
    "divisors": DIVISORS,
}


@pytest.fixture(scope="module")
def context() -> gsql.Context:
    return gsql_over(TABLES)


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb_over(TABLES)
    yield connection
    connection.close()


PAIR = """
SELECT n1.n_name, n2.n_name, count(*), sum(i_price)
FROM supplier, item, customer, nation n1, nation n2
WHERE s_key = i_supp AND c_key = i_cust AND s_nation = n1.n_key AND c_nation = n2.n_key
  AND {condition}
GROUP BY 1, 2
"""

CONDITIONS = [
    "((n1.n_name = 'FRANCE' AND n2.n_name = 'GERMANY') OR (n1.n_name = 'GERMANY' AND n2.n_name = 'FRANCE'))",
    # One branch reads n2 only: nothing can be derived for n1, but n2 still gets a filter.
    "((n1.n_name = 'FRANCE' AND n2.n_name = 'GERMANY') OR n2.n_name = 'PERU')",
    # NULL names: the derived filter drops them, as the original OR does.
    "((n1.n_name IS NULL AND n2.n_name = 'GERMANY') OR (n1.n_name = 'PERU' AND n2.n_name IS NOT NULL))",
    # NOT over an OR is not an OR: nothing is derived, and the result stays the same.
    "NOT ((n1.n_name = 'FRANCE' AND n2.n_name = 'GERMANY') OR (n1.n_name = 'GERMANY'))",
    # A branch mixing both tables in one conjunct.
    "((n1.n_name = n2.n_name AND i_price > 50) OR (n1.n_name = 'PERU' AND i_price < 10))",
]


@pytest.mark.parametrize("condition", CONDITIONS)
def test_or_across_tables_matches_duckdb(context, duck, condition):
    sql = PAIR.format(condition=condition)
    assert Counter(context.sql(sql).rows()) == Counter(duck.sql(sql).fetchall())


def test_or_across_tables_filters_each_side_first(context):
    sql = PAIR.format(condition=CONDITIONS[0])
    text = context.explain(sql)
    assert "Filter ((\"n1.n_name\" = 'FRANCE') OR (\"n1.n_name\" = 'GERMANY'))" in text
    assert "Filter ((\"n2.n_name\" = 'GERMANY') OR (\"n2.n_name\" = 'FRANCE'))" in text


@pytest.mark.parametrize(
    "condition, derived",
    [
        ("(t.a = 1 AND u.b = 2) OR (t.a = 3 AND u.b = 4)", "(t.a = 1) OR (t.a = 3)"),
        ("(t.a = 1 AND t.c > 0 AND u.b = 2) OR t.a = 3", "(t.a = 1 AND t.c > 0) OR (t.a = 3)"),
        ("(t.a = 1 AND u.b = 2) OR u.b = 4", None),
        ("t.a = 1 AND u.b = 2", None),
        ("(t.a = RANDOM() AND u.b = 2) OR (t.a = 3 AND u.b = 4)", None),
        ("(t.a IN (SELECT 1) AND u.b = 2) OR (t.a = 3 AND u.b = 4)", None),
    ],
)
def test_implied_filter_derivation(condition, derived):
    predicate = parse_sql(f"SELECT 1 FROM t, u WHERE {condition}").args["where"].this
    found = implied_filters(predicate, {"t"})
    if derived is None:
        assert found is None
    else:
        assert found is not None
        assert found.sql() == f"({derived})"


def test_join_starts_from_the_smallest_filtered_input(context):
    sql = PAIR.format(condition=CONDITIONS[0])
    root = context.plan(sql).node
    joins = [node for node in _walk(root) if isinstance(node, plan_nodes.Join)]
    deepest = joins[-1]
    scans = {node.alias for node in _walk(deepest) if isinstance(node, plan_nodes.Scan)}
    assert len(scans) == 2 and ("n1" in scans or "n2" in scans)


def test_selectivity_orders_conditions():
    def share(condition: str) -> float:
        return selectivity(parse_sql(f"SELECT 1 FROM t WHERE {condition}").args["where"].this)

    assert share("a = 1") < share("a > 1") < share("a <> 1")
    assert share("a = 1 AND b = 2") < share("a = 1")
    assert share("a = 1 OR b = 2") > share("a = 1")


def _walk(node):
    yield node
    for child in node.inputs:
        yield from _walk(child)


# Conditions of one AND run left to right, each on the rows that passed the ones before. So a
# guard written first protects the conditions after it, in one WHERE clause and in filters
# merged from several clauses.
GUARDED = [
    "SELECT x FROM divisors WHERE x <> 0 AND 10 // x > 1",
    "SELECT x FROM divisors WHERE x <> 0 AND 10 % x = 0",
    "SELECT s FROM divisors WHERE s IN ('1', '3') AND CAST(s AS INTEGER) > 1",
    "SELECT * FROM (SELECT x FROM divisors WHERE x <> 0) AS d WHERE 10 // x > 1",
    "SELECT x FROM divisors WHERE x <> 0 AND x > 1 AND x < 5 AND 10 // x = 5",
    "SELECT x FROM divisors WHERE x IS NULL AND TRUE",
    "SELECT x FROM divisors WHERE x > 0 AND FALSE",
]


@pytest.mark.parametrize("sql", GUARDED)
def test_conjunction_runs_in_order(context, duck, sql):
    assert Counter(context.sql(sql).rows()) == Counter(duck.sql(sql).fetchall())


def test_stacked_filters_become_one(context):
    sql = "SELECT d1.x FROM divisors AS d1, divisors AS d2 WHERE d1.x <> 0 AND d1.x > 1 AND d1.x = d2.x"
    filters = [line for line in context.explain(sql).splitlines() if line.strip().startswith("Filter")]
    assert len(filters) == 1, filters
    assert any("<> 0" in line and "> 1" in line for line in filters)


def test_filter_only_column_dropped_before_join(context, duck):
    sql = "SELECT s_key FROM supplier, nation WHERE s_nation = n_key AND n_name = 'PERU'"
    lines = [line.strip() for line in context.explain(sql).splitlines()]
    position = lines.index("Filter \"nation.n_name\" = 'PERU'")
    assert lines[position - 1] == "Project nation.n_key"
    assert Counter(context.sql(sql).rows()) == Counter(duck.sql(sql).fetchall())


# `a = b AND b = c` implies `a = c`. The planner may join on it, but the result must not change.
CHAINS = [
    "SELECT s_key, c_key FROM supplier, customer, nation WHERE s_nation = n_key AND c_nation = n_key",
    "SELECT count(*) FROM supplier, customer, nation WHERE c_nation = s_nation AND s_nation = n_key AND n_name = 'PERU'",
    "SELECT count(*) FROM item, supplier, customer WHERE i_supp = s_key AND s_key = c_key AND i_cust = c_key",
    # A string column equal to an integer column through casts: no chain is inferred.
    "SELECT count(*) FROM divisors, nation, supplier WHERE TRY_CAST(divisors.s AS BIGINT) = n_key AND n_key = s_nation",
]


@pytest.mark.parametrize("sql", CHAINS)
def test_equality_chain_matches_duckdb(context, duck, sql):
    assert Counter(context.sql(sql).rows()) == Counter(duck.sql(sql).fetchall())


def test_equality_chain_joins_directly(context):
    sql = "SELECT s_key, c_key FROM supplier, customer, nation WHERE c_nation = s_nation AND s_nation = n_key AND n_name = 'PERU'"
    text = context.explain(sql)
    assert "customer.c_nation = nation.n_key" in text or "nation.n_key = customer.c_nation" in text


def test_equality_chain_needs_one_type():
    from gsql.sql.implied import implied_equalities
    from gsql.sql.subqueries import conjuncts

    predicate = parse_sql("SELECT 1 FROM a, b, c WHERE a.x = b.y AND b.y = c.z").args["where"].this
    parts = list(conjuncts(predicate))
    same = implied_equalities(parts, lambda column: pa.int64())
    assert [e.sql() for e in same] == ["a.x = c.z"]
    mixed = implied_equalities(parts, lambda column: pa.string() if column.table == "b" else pa.int64())
    assert mixed == []


