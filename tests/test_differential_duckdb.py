"""Queries found by the differential fuzzer (`scripts/fuzz_duckdb.py`), checked against DuckDB.

Each case was a wrong result once, reduced to a minimal query. Further tests run the fuzzer
itself with a fixed seed, and random join and LATERAL queries, and expect no wrong result.
"""

from __future__ import annotations

import importlib.util
import pathlib
import random
import sys
from collections import Counter

import duckdb
import pyarrow as pa
import pytest

import gsql

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "scripts" / "fuzz_duckdb.py"


def _load_fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_duckdb", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # The dataclasses of the script look their module up in sys.modules.
    sys.modules.setdefault("fuzz_duckdb", module)
    spec.loader.exec_module(module)
    return module


fuzz = _load_fuzzer()

# A column whose only non-NULL value is NaN, long enough that window frames of 81 rows take the
# per-frame loop instead of the grouped aggregation code.
LONG = pa.table(
    {
        "x": pa.array(range(100), pa.int64()),
        "y": pa.array([float("nan")] + [None] * 99, pa.float64()),
    }
)


@pytest.fixture(scope="module")
def context() -> gsql.Context:
    ctx = fuzz.make_context()
    ctx.register("long", LONG)
    return ctx


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = fuzz.make_duck()
    connection.register("long", LONG)
    yield connection
    connection.close()


def assert_same_multiset(context: gsql.Context, duck: duckdb.DuckDBPyConnection, sql: str) -> None:
    actual = fuzz.normalize_rows(context.sql(sql).rows())
    expected = fuzz.normalize_rows(duck.sql(sql).fetchall())
    assert Counter(actual) == Counter(expected)


FOUND_QUERIES = [
    # A population variance of one NaN value is 0.0 in DuckDB, not NaN.
    "SELECT id, VAR_POP(f) OVER (PARTITION BY s ORDER BY a DESC, id) FROM t1",
    "SELECT id, STDDEV_POP(f) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND CURRENT ROW) FROM t1",
    "SELECT id, STDDEV_POP(f) FILTER (WHERE id <> 3) OVER (PARTITION BY s) FROM t1",
    "SELECT x, VAR_POP(y) OVER (ORDER BY x ROWS BETWEEN 40 PRECEDING AND 40 FOLLOWING) FROM long",
    "SELECT id, REGR_SXX(f, f) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND CURRENT ROW) FROM t1",
    "SELECT id, REGR_SYY(f, b) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) FROM t1",
    # NaN is above every number, so MAX is NaN when a group contains one, in ANY and ALL too.
    "SELECT MAX(f), MIN(f) FROM t1",
    "SELECT s, MAX(f), MIN(f) FROM t1 GROUP BY s",
    "SELECT MAX(DISTINCT f), MAX(f) FILTER (WHERE id > 1) FROM t1",
    "SELECT t1.id FROM t1 WHERE t1.f < ANY (SELECT x.f FROM t1 x WHERE x.id > 1)",
    "SELECT t1.id, t1.f > ALL (SELECT x.f FROM t1 x WHERE x.id < 4) FROM t1",
    "SELECT t1.id FROM t1 WHERE t1.f < ANY (SELECT x.f FROM t1 x WHERE x.id <> t1.id)",
    "SELECT t1.id, t1.f > ALL (SELECT x.f FROM t1 x WHERE x.id <> t1.id) FROM t1",
    # NaN equals NaN in a correlated IN, as it does in `=`.
    "SELECT t1.id, t1.f IN (SELECT f FROM t1 x WHERE x.id < t1.id) FROM t1",
    "SELECT t1.id FROM t1 WHERE t1.f NOT IN (SELECT f FROM t1 x WHERE x.id < t1.id)",
    "SELECT t1.id, t1.f = ANY (SELECT x.f FROM t1 x WHERE x.s = t1.s AND x.id <> t1.id) FROM t1",
]


@pytest.mark.parametrize("sql", FOUND_QUERIES)
def test_found_query_matches_duckdb(context, duck, sql):
    assert_same_multiset(context, duck, sql)


def test_fuzzer_fixed_seed_no_wrong_result():
    outcome = fuzz.run(seed=20261204, count=30)
    assert outcome.wrong == []
    for group in fuzz.GENERATORS:
        assert outcome.counts[f"{group}:same"] > 0, group


def _equality_graph_query(rng: random.Random) -> str:
    """Return an inner join of 3 to 5 tables whose WHERE has chains and cycles of equalities."""
    count = rng.randint(3, 5)
    names = [f"{rng.choice(['t1', 't2', 't3'])} x{index}" for index in range(count)]
    conditions = set()
    for _ in range(rng.randint(count - 1, count + 3)):
        left, right = rng.sample(range(count), 2)
        conditions.add(f"x{left}.{rng.choice(['a', 'id'])} = x{right}.{rng.choice(['a', 'id'])}")
    if rng.random() < 0.3:
        index = rng.randrange(count)
        conditions.add(f"x{index}.a = x{index}.id")
    if rng.random() < 0.4:
        conditions.add(f"x{rng.randrange(count)}.id > {rng.randint(0, 3)}")
    columns = ", ".join(f"x{index}.id" for index in range(count))
    return f"SELECT {columns} FROM {', '.join(names)} WHERE {' AND '.join(sorted(conditions))}"


def test_equality_graphs_match_duckdb():
    # Implied equalities and join ordering over cycles such as a.x = b.y AND b.y = a.z, where
    # two columns of one table meet in one chain.
    context = gsql.Context(engine="pandas")
    connection = duckdb.connect()
    for name, table in fuzz.TABLES.items():
        context.register(name, table)
        connection.register(name, table)
    rng = random.Random(5)
    for _ in range(150):
        sql = _equality_graph_query(rng)
        assert Counter(context.sql(sql).rows()) == Counter(connection.sql(sql).fetchall()), sql
    connection.close()


_LATERAL_AGGREGATES = [
    "COUNT(*)",
    "COUNT(y.c)",
    "SUM(y.c)",
    "MIN(y.s)",
    "MAX(y.c) + x.a",
    "AVG(y.c)",
    "STRING_AGG(y.s, ',' ORDER BY y.s)",
    "BOOL_OR(y.c > 150)",
    "COUNT(DISTINCT y.a)",
    "COALESCE(SUM(y.c), x.b)",
]


def _lateral_body(rng: random.Random) -> tuple[str, str]:
    """Return a random LATERAL subquery over t2 that reads t1's row `x`, and its kind."""
    correlation = rng.choice(
        ["y.a = x.a", "y.a <= x.a", "y.c > x.b", "y.s = x.s", "y.id < x.id AND y.a IS NOT NULL", None]
    )
    where = f" WHERE {correlation}" if correlation else ""
    chosen = rng.sample(_LATERAL_AGGREGATES, rng.randint(1, 3))
    aggregates = ", ".join(f"{call} AS v{index}" for index, call in enumerate(chosen))
    having = " HAVING COUNT(*) > 1" if rng.random() < 0.25 else ""
    kind = rng.choice(["plain", "group", "aggregate", "rollup", "window", "limit"])
    if kind == "plain":
        return f"SELECT y.id AS yid, y.c + x.id AS v FROM t2 y{where}", kind
    if kind == "group":
        return f"SELECT y.a AS k, {aggregates} FROM t2 y{where} GROUP BY y.a{having}", kind
    if kind == "aggregate":
        return f"SELECT {aggregates} FROM t2 y{where}{having}", kind
    if kind == "rollup":
        select = f"SELECT y.a AS k, GROUPING(y.a) AS g, {aggregates} FROM t2 y{where}"
        return f"{select} GROUP BY ROLLUP (y.a)", kind
    if kind == "window":
        windows = "ROW_NUMBER() OVER (ORDER BY y.c, y.id) AS r, SUM(y.c) OVER (PARTITION BY y.a) AS w"
        return f"SELECT y.id AS yid, {windows} FROM t2 y{where}", kind
    limit = f"LIMIT {rng.randint(0, 3)} OFFSET {rng.randint(0, 2)}"
    order = "ORDER BY y.c DESC NULLS LAST, y.id"
    return f"SELECT y.id AS yid, y.c AS v FROM t2 y{where} {order} {limit}", kind


def _lateral_query(rng: random.Random) -> str:
    body, kind = _lateral_body(rng)
    form = rng.choice(["comma", "implicit", "left", "inner"])
    if form == "comma":
        return f"SELECT x.id, q.* FROM t1 x, LATERAL ({body}) q"
    if form == "implicit":
        return f"SELECT x.id, q.* FROM t1 x, ({body}) q"
    aggregated = kind in ("group", "aggregate", "rollup")
    if form == "left":
        if aggregated:
            test = "q.v0 IS NOT NULL"
        elif kind == "window":
            test = "q.r = 1"
        else:
            test = "q.v > 100"
        return f"SELECT x.id, q.* FROM t1 x LEFT JOIN LATERAL ({body}) q ON {rng.choice(['true', test])}"
    test = "q.v0 IS NOT NULL OR x.id > 3" if aggregated else "true"
    return f"SELECT x.id, q.* FROM t1 x JOIN LATERAL ({body}) q ON {test}"


def test_random_lateral_queries_match_duckdb(context, duck):
    # The subqueries aggregate with and without GROUP BY, with ROLLUP, windows, LIMIT and
    # HAVING, and join by comma, implicitly, LEFT and INNER. Each outer row of t1 must get the
    # rows DuckDB gives it, also when it meets no rows of t2.
    rng = random.Random(11)
    for _ in range(150):
        sql = _lateral_query(rng)
        actual = Counter(fuzz.normalize_rows(context.sql(sql).rows()))
        expected = Counter(fuzz.normalize_rows(duck.sql(sql).fetchall()))
        assert actual == expected, sql
