"""Compare gsql with DuckDB on random LATERAL joins, correlated subqueries and STRING_AGG windows.

The queries run over small Arrow tables with NULLs, duplicate keys, NaN and an empty table, in
gsql (`gsql.Context(engine="pandas")`) and in DuckDB. Results are compared as multisets, with
floats rounded to 9 significant digits and NaN as one marker. Every ORDER BY that feeds a LIMIT,
OFFSET, ROW_NUMBER, STRING_AGG or ROWS frame ends with a unique key or sorts by every output
column, so both engines must agree on the rows.

A gsql `UnsupportedError` or `BindError` counts as a refusal. Any other gsql exception on a query
that DuckDB runs is a crash, and different rows are a wrong result.

NaN stays out of every place where gsql takes the MAX of a float column (`MAX(f)`,
`f < ANY (...)`, `f <> ANY (...)`). The generator was written while gsql's MAX skipped NaN, a
difference since fixed; tests/test_differential_duckdb.py checks NaN in those forms.

Usage, from the repository root:
`PYTHONPATH=. python scripts/fuzz_subqueries.py --seed 1 --count 500 [--group lateral] [--show]`.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import signal
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb
import pyarrow as pa

import gsql
from gsql.errors import BindError, UnsupportedError

I64 = pa.int64()
NAN = float("nan")

# `o` is the outer table and `i`, `j` and `e` the inner ones. Only `o` has `b` and only `i`
# and `e` have `c`, so an unqualified `b` inside a subquery over `i` names the outer row.
# `f` contains NaN, and `g` is a float column without NaN.
TABLES = {
    "o": pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6, 7], I64),
            "a": pa.array([1, 2, 2, None, 3, 0, 5], I64),
            "b": pa.array([10, 20, 20, None, -5, 10, 150], I64),
            "f": pa.array([1.5, NAN, None, 2.0, 0.0, -1.0, NAN], pa.float64()),
            "g": pa.array([1.5, 2.0, None, 2.0, 0.0, -1.0, 0.5], pa.float64()),
            "s": pa.array(["x", "y", "y", None, "", "z", "x"], pa.string()),
        }
    ),
    "i": pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6, 7, 8, 9], I64),
            "a": pa.array([1, 2, 2, None, 4, 1, 3, 2, None], I64),
            "c": pa.array([100, 200, 200, None, 400, 50, -1, 5, 7], I64),
            "f": pa.array([0.5, 2.0, NAN, None, 1.0, 2.0, -3.0, NAN, 1.5], pa.float64()),
            "g": pa.array([0.5, 2.0, 1.5, None, 1.0, 2.0, -3.0, 2.0, 1.5], pa.float64()),
            "s": pa.array(["x", "y", None, "w", "y", "x", "", "y", None], pa.string()),
        }
    ),
    "j": pa.table(
        {
            "id": pa.array([1, 2, 3, 4], I64),
            "a": pa.array([1, 3, None, 2], I64),
            "c": pa.array([1, 30, 7, None], I64),
            "f": pa.array([1.0, None, NAN, 2.5], pa.float64()),
            "g": pa.array([1.0, None, 3.0, 2.5], pa.float64()),
            "s": pa.array(["x", None, "z", "y"], pa.string()),
        }
    ),
    "e": pa.table(
        {
            "id": pa.array([], I64),
            "a": pa.array([], I64),
            "c": pa.array([], I64),
            "f": pa.array([], pa.float64()),
            "g": pa.array([], pa.float64()),
            "s": pa.array([], pa.string()),
        }
    ),
}


def _big_table(rows: int = 150) -> pa.Table:
    """Build a table whose window frames are long enough for the per-frame loops of gsql."""
    generator = random.Random(7)
    return pa.table(
        {
            "id": pa.array(range(1, rows + 1), I64),
            "a": pa.array(
                [None if n % 9 == 4 else generator.randint(0, 3) for n in range(rows)], I64
            ),
            "c": pa.array(
                [None if n % 11 == 2 else generator.randint(-50, 50) for n in range(rows)], I64
            ),
            "f": pa.array(
                [NAN if n % 17 == 3 else generator.randint(-4, 4) / 2 for n in range(rows)],
                pa.float64(),
            ),
            "g": pa.array(
                [None if n % 13 == 5 else generator.randint(-4, 4) / 2 for n in range(rows)],
                pa.float64(),
            ),
            "s": pa.array(
                [
                    None if n % 7 == 1 else generator.choice(["", "p", "q", "rs"])
                    for n in range(rows)
                ],
                pa.string(),
            ),
        }
    )


TABLES["big"] = _big_table()

INNER = ["i", "i", "i", "j", "e"]
CMP = ["=", "<", "<=", ">", ">=", "<>"]


@dataclass
class Outcome:
    """Counts and findings of one fuzz run."""

    counts: Counter = field(default_factory=Counter)
    wrong: list[tuple[str, str, object, object]] = field(default_factory=list)
    crashes: list[tuple[str, str, str]] = field(default_factory=list)
    refusals: Counter = field(default_factory=Counter)
    refusal_examples: dict[str, str] = field(default_factory=dict)


# Normalisation ----------------------------------------------------------------------------------


def normalize_value(value: object) -> object:
    """Map a result value to a hashable form that both engines' values reach."""
    if value is None or isinstance(value, (bool, str, bytes)):
        return value
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return number
        return float(f"{number:.9g}") + 0.0
    if hasattr(value, "item"):
        return normalize_value(value.item())
    if isinstance(value, (list, tuple)):
        return tuple(normalize_value(item) for item in value)
    return value


def normalize_rows(rows: list[tuple]) -> Counter:
    return Counter(tuple(normalize_value(value) for value in row) for row in rows)


# Building blocks --------------------------------------------------------------------------------


def pick(rng: random.Random, items: list) -> object:
    return items[rng.randrange(len(items))]


def correlation(
    rng: random.Random, inner: str = "x", outer: str = "o", equality: bool = False
) -> str:
    """Return one WHERE conjunct of a subquery that reads the outer row."""
    if equality:
        return pick(
            rng, [f"{inner}.a = {outer}.a", f"{inner}.s = {outer}.s", f"{inner}.id = {outer}.id"]
        )
    return pick(
        rng,
        [
            f"{inner}.a = {outer}.a",
            f"{inner}.a = {outer}.a",
            f"{inner}.a {pick(rng, CMP)} {outer}.a",
            f"{inner}.id {pick(rng, CMP)} {outer}.id",
            f"{inner}.c > {outer}.b",
            f"{inner}.s = {outer}.s",
            f"{inner}.a IS NOT DISTINCT FROM {outer}.a",
            f"{inner}.c + {outer}.id > {rng.randint(0, 200)}",
            f"({inner}.a = {outer}.a OR {inner}.id = {outer}.id)",
            f"{outer}.b > {rng.randint(-5, 25)}",
            f"{inner}.g < {outer}.g",
        ],
    )


def local_filter(rng: random.Random, inner: str = "x") -> str:
    return pick(
        rng,
        [
            f"{inner}.c > {rng.randint(-5, 250)}",
            f"{inner}.s <> 'x'",
            f"{inner}.a IS NOT NULL",
            f"{inner}.id % 2 = {rng.randint(0, 1)}",
        ],
    )


def where_clause(rng: random.Random, inner: str = "x", equality: bool = False) -> str:
    parts = [correlation(rng, inner, equality=equality)]
    if rng.random() < 0.3:
        parts.append(correlation(rng, inner, equality=equality))
    if rng.random() < 0.3:
        parts.append(local_filter(rng, inner))
    return " AND ".join(parts)


def aggregate(rng: random.Random, inner: str = "x", outer_ok: bool = True) -> str:
    """Return an aggregate call or an expression over aggregates (no MAX over NaN)."""
    choices = [
        "COUNT(*)",
        f"COUNT({inner}.c)",
        f"SUM({inner}.c)",
        f"MIN({inner}.c)",
        f"MAX({inner}.c)",
        f"AVG({inner}.c)",
        f"MIN({inner}.s)",
        f"MAX({inner}.g)",
        f"SUM({inner}.f)",
        f"COUNT(DISTINCT {inner}.a)",
        f"STRING_AGG({inner}.s, ',' ORDER BY {inner}.id)",
        f"BOOL_OR({inner}.c > 100)",
        f"COUNT(*) FILTER (WHERE {inner}.c > 100)",
        f"SUM({inner}.c) FILTER (WHERE {inner}.a > 1)",
        "COUNT(*) + 1",
        f"COALESCE(SUM({inner}.c), 0)",
        "CASE WHEN COUNT(*) = 0 THEN 'none' WHEN COUNT(*) = 1 THEN 'one' ELSE 'many' END",
        f"COUNT({inner}.c) * 10 + COUNT(*)",
        f"SUM({inner}.c) / NULLIF(COUNT(*), 0)",
    ]
    if outer_ok:
        choices += ["COUNT(*) + o.id", f"COALESCE(MAX({inner}.c), o.b)", "o.b"]
    return pick(rng, choices)


def plain_item(rng: random.Random, inner: str = "x", outer_ok: bool = True) -> str:
    choices = [
        f"{inner}.id",
        f"{inner}.c",
        f"{inner}.a",
        f"{inner}.s",
        f"{inner}.f",
        f"{inner}.c * 2 + 1",
    ]
    if outer_ok:
        choices += [f"{inner}.c + o.b", "o.a", f"{inner}.id * 100 + o.id"]
    return pick(rng, choices)


def select_items(items: list[str]) -> str:
    return ", ".join(f"{item} AS v{index}" for index, item in enumerate(items))


def limit_clause(rng: random.Random, count: int | None = None) -> str:
    if rng.random() < 0.15:
        # The standard spelling of OFFSET and LIMIT.
        rows = rng.randint(0, 3) if count is None else count
        fetch = (
            "FETCH FIRST ROW ONLY"
            if rows == 1 and rng.random() < 0.5
            else f"FETCH FIRST {rows} ROWS ONLY"
        )
        return f"{pick(rng, ['', f' OFFSET {rng.randint(0, 2)} ROWS'])} {fetch}"
    text = ""
    if rng.random() < 0.8:
        text += f" LIMIT {rng.randint(0, 3) if count is None else count}"
    if rng.random() < 0.4:
        text += f" OFFSET {rng.randint(0, 2)}"
    return text


def order_keys(rng: random.Random, width: int, tail: str | None) -> str:
    """Return ORDER BY keys: some select positions, then a unique key when there is one."""
    positions = rng.sample(range(1, width + 1), rng.randint(1, width))
    keys = [f"{p}{pick(rng, ['', ' DESC', ' NULLS FIRST', ' DESC NULLS LAST'])}" for p in positions]
    if tail is not None:
        keys.append(tail)
    else:
        keys += [str(p) for p in range(1, width + 1) if p not in positions]
    return ", ".join(keys)


# LATERAL subquery bodies ------------------------------------------------------------------------


def body_rows(rng: random.Random, inner: str) -> str:
    items = [plain_item(rng) for _ in range(rng.randint(1, 3))]
    sql = f"SELECT {select_items(items)} FROM {inner} x WHERE {where_clause(rng)}"
    if rng.random() < 0.4:
        sql += f" ORDER BY {order_keys(rng, len(items), 'x.id' + pick(rng, ['', ' DESC']))}"
        sql += limit_clause(rng)
    return sql


def body_aggregate(rng: random.Random, inner: str) -> str:
    items = [aggregate(rng) for _ in range(rng.randint(1, 3))]
    sql = f"SELECT {select_items(items)} FROM {inner} x WHERE {where_clause(rng)}"
    roll = rng.random()
    if roll < 0.35:
        sql += " HAVING " + pick(
            rng,
            [
                f"COUNT(*) > {rng.randint(0, 2)}",
                "COUNT(*) = 0",
                f"SUM(x.c) > {rng.randint(0, 300)}",
                f"o.b > {rng.randint(-5, 25)}",
                "COUNT(*) < o.id",
                "MIN(x.c) IS NULL",
            ],
        )
    elif roll < 0.55:
        sql += limit_clause(rng)
    elif roll < 0.6:
        sql += " ORDER BY COUNT(*)"
    return sql


def body_grouped(rng: random.Random, inner: str) -> str:
    key = pick(rng, ["x.a", "x.s", "x.a % 2", "x.a", "o.a", "o.s"])
    grouping = pick(
        rng,
        [
            key,
            key,
            f"GROUPING SETS (({key}), (x.id % 2))",
            f"ROLLUP ({key})",
            f"CUBE ({key})",
            f"GROUPING SETS (({key}), ())",
            "GROUPING SETS ((), ())",
            f"GROUPING SETS ((), ({key}), ())",
            f"ROLLUP ({key}, x.id % 2)",
        ],
    )
    items = [key] + [aggregate(rng) for _ in range(rng.randint(1, 2))]
    if grouping == "GROUPING SETS ((), ())":
        items = items[1:]
    elif any(word in grouping for word in ("ROLLUP", "CUBE", "SETS")) and rng.random() < 0.5:
        items.append(f"GROUPING({key})")
    sql = (
        f"SELECT {select_items(items)} FROM {inner} x WHERE {where_clause(rng)} GROUP BY {grouping}"
    )
    roll = rng.random()
    if roll < 0.3:
        sql += " HAVING " + pick(
            rng,
            [
                f"COUNT(*) > {rng.randint(0, 2)}",
                f"SUM(x.c) > {rng.randint(0, 300)}",
                f"o.b > {rng.randint(-5, 25)}",
                "COUNT(*) < o.id",
            ],
        )
    if roll > 0.6:
        sql += f" ORDER BY {order_keys(rng, len(items), None)}" + limit_clause(rng)
    return sql


def body_window(rng: random.Random, inner: str) -> str:
    window = pick(
        rng,
        [
            "ROW_NUMBER() OVER (ORDER BY x.id)",
            "ROW_NUMBER() OVER (PARTITION BY x.a ORDER BY x.id DESC)",
            "COUNT(*) OVER ()",
            "SUM(x.c) OVER (PARTITION BY x.a)",
            "SUM(x.c) OVER (ORDER BY x.id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)",
            "RANK() OVER (ORDER BY x.c)",
            "LAG(x.c) OVER (ORDER BY x.id)",
            "STRING_AGG(x.s, ',' ORDER BY x.id) OVER (PARTITION BY x.a)",
            "STRING_AGG(x.s, '|' ORDER BY x.id DESC) OVER (ORDER BY x.id)",
            "MIN(x.c) OVER (ORDER BY x.id) + o.b",
        ],
    )
    items = ["x.id", window]
    sql = f"SELECT {select_items(items)} FROM {inner} x WHERE {where_clause(rng)}"
    roll = rng.random()
    if roll < 0.35:
        sql += " QUALIFY " + pick(
            rng,
            [
                f"ROW_NUMBER() OVER (ORDER BY x.id) <= {rng.randint(1, 2)}",
                f"CAST(v1 AS VARCHAR) > '{rng.randint(0, 200)}'",
                f"COUNT(*) OVER () > {rng.randint(1, 3)}",
                "v1 IS NOT NULL",
            ],
        )
    elif roll < 0.6:
        sql += " ORDER BY x.id" + limit_clause(rng)
    return sql


def body_distinct(rng: random.Random, inner: str) -> str:
    item = pick(rng, ["x.a", "x.s", "x.c % 3", "x.a + o.id"])
    sql = f"SELECT DISTINCT {item} AS v0 FROM {inner} x WHERE {where_clause(rng)}"
    if rng.random() < 0.3:
        sql += " ORDER BY 1 NULLS FIRST" + limit_clause(rng)
    return sql


def body_nested(rng: random.Random, inner: str) -> str:
    form = rng.randrange(6)
    if form == 0:
        return f"SELECT d.v0 FROM ({body_rows(rng, inner)}) d"
    if form == 1:
        return f"SELECT d.id AS v0, d.c AS v1 FROM (SELECT x.id, x.a, x.c FROM {inner} x WHERE {local_filter(rng)}) d WHERE {correlation(rng, 'd')}"
    if form == 2:
        return f"WITH w AS (SELECT x.id, x.a, x.c, x.s, x.g FROM {inner} x WHERE {correlation(rng)}) SELECT w.id AS v0, w.c AS v1 FROM w"
    if form == 3:
        return f"WITH w AS (SELECT x.id, x.a, x.c, x.s, x.g FROM {inner} x) SELECT COUNT(*) AS v0, SUM(w.c) AS v1 FROM w WHERE {correlation(rng, 'w')}"
    if form == 4:
        return f"SELECT d.v0, COUNT(*) AS n FROM (SELECT x.a AS v0 FROM {inner} x WHERE {correlation(rng)}) d GROUP BY d.v0"
    return f"SELECT x.id AS v0, y.id AS v1 FROM {inner} x JOIN j y ON y.a = x.a WHERE {correlation(rng)}"


def body_unqualified(rng: random.Random, inner: str) -> str:
    """Return a body whose columns are unqualified: `b` is the outer row's, the rest the inner's."""
    return pick(
        rng,
        [
            f"SELECT id AS v0, c AS v1 FROM {inner} WHERE c > b",
            f"SELECT id AS v0 FROM {inner} WHERE a = {rng.randint(1, 3)}",
            f"SELECT COUNT(*) AS v0 FROM {inner} WHERE c < b",
            f"SELECT id AS v0, b AS v1 FROM {inner} WHERE a < b % 7",
            f"SELECT s AS v0 FROM {inner} WHERE s = 'y'",
            f"SELECT a AS v0, COUNT(*) AS v1 FROM {inner} WHERE c <> b GROUP BY a",
            f"SELECT id AS v0, a + b AS v1 FROM {inner} WHERE id <= b % 4",
        ],
    )


BODIES = [body_rows, body_aggregate, body_grouped, body_window, body_distinct, body_nested]


def lateral_body(rng: random.Random) -> str:
    return pick(rng, BODIES)(rng, pick(rng, INNER))


# Pieces whose value is a string or a boolean, which DuckDB does not compare with a number.
_NOT_NUMERIC = ("STRING_AGG", "'none'", "x.s", "o.s", "BOOL_OR", "d.v0")


def numeric(rng: random.Random, make: Callable[[random.Random], str]) -> str:
    """Return the first SQL from `make` whose first column is a number, drawing up to 50 times."""
    for _ in range(50):
        sql = make(rng)
        first = sql.split(" AS v1")[0].split(" FROM ")[0]
        if not any(piece in first for piece in _NOT_NUMERIC):
            return sql
    return "SELECT x.id AS v0 FROM i x WHERE x.a = o.a"


def gen_lateral(rng: random.Random) -> str:
    """Return a query with a LATERAL subquery, explicit or implicit, in one of several places."""
    body = lateral_body(rng)
    form = rng.randrange(11)
    if form == 0:
        return f"SELECT o.id, q.* FROM o, LATERAL ({body}) q"
    if form == 1:
        return f"SELECT o.id, q.* FROM o, ({body}) q"
    if form == 2:
        on = pick(
            rng, ["true", "q.v0 IS NULL", "o.b > 10", "CAST(q.v0 AS VARCHAR) < '3'", "o.id % 3 = 0"]
        )
        return f"SELECT o.id, q.* FROM o LEFT JOIN LATERAL ({body}) q ON {on}"
    if form == 3:
        on = pick(rng, ["true", "o.b > 10", "CAST(q.v0 AS VARCHAR) < '3'", "q.v0 IS NOT NULL"])
        return f"SELECT o.id, q.* FROM o JOIN LATERAL ({body}) q ON {on}"
    if form == 4:
        second = pick(
            rng,
            [
                "SELECT q.v0 AS w",
                "SELECT COUNT(*) AS w FROM j y WHERE y.a = o.a",
                "SELECT y.id AS w FROM j y WHERE y.a = o.a ORDER BY y.id LIMIT 1",
                "SELECT y.id AS w FROM j y WHERE y.id <= o.id",
            ],
        )
        return f"SELECT o.id, q.*, r.w FROM o, LATERAL ({body}) q, LATERAL ({second}) r"
    if form == 5:
        return f"SELECT o.a, COUNT(*), COUNT(q.v0) FROM o, LATERAL ({body}) q GROUP BY o.a"
    if form == 6:
        return f"WITH lat AS (SELECT o.id, q.* FROM o, LATERAL ({body}) q) SELECT * FROM lat"
    if form == 7:
        body = numeric(rng, lateral_body)
        return f"SELECT z.id FROM j z WHERE z.id IN (SELECT q.v0 FROM o, LATERAL ({body}) q)"
    if form == 8:
        return f"SELECT o.id, q.* FROM (SELECT * FROM o WHERE o.id <> {rng.randint(1, 7)}) o, LATERAL ({body}) q"
    if form == 9:
        if rng.random() < 0.3:
            rows = pick(rng, ["(o.id + 1)", "(o.a), (o.b)", "(1), (o.id)", "(o.s)"])
            return f"SELECT o.id, w.* FROM o, {pick(rng, ['', 'LATERAL '])}(VALUES {rows}) w(v0)"
        return f"SELECT o.id, q.* FROM o, ({body_unqualified(rng, pick(rng, INNER))}) q"
    return f"SELECT o.id, q.* FROM o CROSS JOIN LATERAL ({body}) q WHERE o.id {pick(rng, CMP)} {rng.randint(1, 6)}"


# Correlated scalar subqueries -------------------------------------------------------------------


def scalar_subquery(rng: random.Random) -> str:
    inner = pick(rng, INNER)
    form = rng.randrange(9)
    where = where_clause(rng)
    if form <= 2:
        sql = f"SELECT {aggregate(rng)} FROM {inner} x WHERE {where}"
        if rng.random() < 0.3:
            sql += limit_clause(rng, rng.randint(0, 1))
        return sql
    if form == 3:
        return f"SELECT {plain_item(rng)} FROM {inner} x WHERE {where} ORDER BY {pick(rng, ['x.c', 'x.s', 'x.g', '1'])}{pick(rng, ['', ' DESC', ' NULLS FIRST'])}, x.id{pick(rng, ['', ' DESC'])} LIMIT 1{pick(rng, ['', ' OFFSET 1', ' OFFSET 2'])}"
    if form == 4:
        where = where_clause(rng, equality=True)
        return f"SELECT {aggregate(rng)} FROM {inner} x WHERE {where} GROUP BY x.a"
    if form == 5:
        return f"SELECT {aggregate(rng)} FROM {inner} x WHERE {where} GROUP BY x.a ORDER BY 1 NULLS FIRST, x.a NULLS FIRST LIMIT 1{pick(rng, ['', ' OFFSET 1'])}"
    if form == 6:
        return f"SELECT DISTINCT {pick(rng, ['x.a', 'x.a * 0', 'o.a'])} FROM {inner} x WHERE {where_clause(rng, equality=True)} AND x.a IS NOT NULL"
    if form == 7:
        having = pick(
            rng, ["o.b > 10", "COUNT(*) > o.id", "SUM(x.c) > o.b", "MIN(x.c) < o.b", "o.a IS NULL"]
        )
        filters = ["", f"WHERE {local_filter(rng)} ", f"WHERE {correlation(rng)} "]
        return f"SELECT {aggregate(rng, outer_ok=False)} FROM {inner} x {pick(rng, filters)}HAVING {having}"
    if rng.random() < 0.2:
        return pick(
            rng,
            [
                "SELECT SUM(w.m) FROM (VALUES (o.id), (o.a)) w(m)",
                "SELECT w.m FROM (VALUES (o.b + 1)) w(m)",
            ],
        )
    return f"SELECT d.v FROM (SELECT {aggregate(rng)} AS v FROM {inner} x WHERE {where}) d"


def gen_scalar(rng: random.Random) -> str:
    sub = scalar_subquery(rng)
    form = rng.randrange(6)
    if form <= 1:
        return f"SELECT o.id, ({sub}) FROM o"
    if form == 2:
        sub = numeric(rng, scalar_subquery)
        return f"SELECT o.id FROM o WHERE o.b {pick(rng, CMP)} ({sub})"
    if form == 3:
        return f"SELECT o.id, COALESCE(CAST(({sub}) AS VARCHAR), '-'), CASE WHEN o.a > 1 THEN ({sub}) END FROM o"
    if form == 4:
        return f"SELECT o.a, COUNT(*) FROM o GROUP BY o.a HAVING COUNT(*) {pick(rng, CMP)} (SELECT COUNT(*) FROM {pick(rng, INNER)} x WHERE x.a = o.a)"
    return (
        f"SELECT o.id, ({sub}) AS r FROM o ORDER BY r NULLS FIRST, o.id LIMIT {rng.randint(1, 5)}"
    )


def gen_nested(rng: random.Random) -> str:
    """Return correlated subqueries in other clauses, over joins, and two levels deep."""
    inner = pick(rng, INNER)
    match = pick(
        rng,
        [
            "x.a = o.a",
            "x.a IS NOT DISTINCT FROM o.a",
            "x.a = o.a + 1",
            "x.a + 1 = o.a",
            "COALESCE(x.a, 0) = COALESCE(o.a, 0)",
            "x.s = o.s AND x.id <> o.id",
            "x.id < o.id",
        ],
    )
    count = f"(SELECT COUNT(*) FROM {inner} x WHERE {match})"
    value = f"(SELECT SUM(x.c) FROM {inner} x WHERE {match})"
    first = f"(SELECT x.c FROM {inner} x WHERE {match} ORDER BY x.c DESC NULLS LAST, x.id LIMIT 1)"
    forms = [
        f"SELECT o.id FROM o WHERE {count} > 1 OR o.b > {rng.randint(0, 30)}",
        f"SELECT o.id, CASE WHEN {count} = 0 THEN 'none' WHEN {value} > 100 THEN 'big' ELSE 'small' END FROM o",
        f"SELECT {count} AS n, COUNT(*) FROM o GROUP BY n",
        f"SELECT o.a, COUNT(*) FROM o GROUP BY o.a HAVING COALESCE({value}, 0) {pick(rng, CMP)} {rng.randint(0, 400)}",
        f"SELECT o.id, y.id FROM o JOIN j y ON y.a = o.a AND y.c < COALESCE({first}, 1000)",
        f"SELECT o.id, y.id, (SELECT COUNT(*) FROM {inner} x WHERE x.a = o.a AND x.id > y.id) FROM o LEFT JOIN j y ON y.a = o.a",
        f"SELECT o.id, (SELECT COUNT(*) FROM {inner} x WHERE {match} AND EXISTS (SELECT 1 FROM j y WHERE y.a = x.a AND y.id <= o.id)) FROM o",
        f"SELECT o.id, (SELECT MAX(x.c) FROM {inner} x WHERE {match} AND x.c < (SELECT MAX(y.c) FROM j y WHERE y.id <= o.id)) FROM o",
        f"SELECT o.id, (SELECT COUNT(*) FROM {inner} x JOIN j y ON y.a = x.a WHERE {match}) FROM o",
        f"SELECT o.id, (SELECT COUNT(*) FROM {inner} x LEFT JOIN j y ON y.a = x.a AND y.id < o.id WHERE x.id <= o.id) FROM o",
        f"SELECT d.id, d.n FROM (SELECT o.id, {count} AS n FROM o) d WHERE d.n > 0",
        f"WITH c AS (SELECT o.id, {value} AS v FROM o) SELECT * FROM c",
        f"SELECT o.id, (SELECT x.id FROM {inner} x WHERE {match} QUALIFY ROW_NUMBER() OVER (ORDER BY x.id DESC) = 1) FROM o",
        f"SELECT o.id, (SELECT ROW_NUMBER() OVER (ORDER BY x.id) FROM {inner} x WHERE {match} ORDER BY x.id DESC LIMIT 1) FROM o",
        f"SELECT o.id, (SELECT DISTINCT x.a FROM {inner} x WHERE {match} ORDER BY x.a NULLS FIRST LIMIT 1 OFFSET {rng.randint(0, 1)}) FROM o",
        f"SELECT o.id, {first} FROM o ORDER BY 2 NULLS FIRST, 1",
        f"SELECT o.id, (SELECT COUNT(*) FROM {inner} x WHERE {match}) + (SELECT COUNT(*) FROM j x WHERE x.a = o.a) FROM o",
        f"SELECT o.id, o.b {pick(rng, CMP)} {pick(rng, ['ANY', 'ALL'])} (SELECT x.c - o.b FROM {inner} x WHERE {match}) FROM o",
        f"SELECT o.id, SUM(o.b) OVER (PARTITION BY {count} ORDER BY o.id) FROM o",
        f"SELECT o.id FROM o WHERE o.a IN (SELECT x.a FROM {inner} x WHERE {match} GROUP BY x.a HAVING COUNT(*) > 1)",
        f"SELECT o.id, (SELECT COUNT(*) FROM {inner} x WHERE {match} GROUP BY x.a HAVING MIN(x.c) < o.b) FROM o",
    ]
    return pick(rng, forms)


def gen_alias(rng: random.Random) -> str:
    """Return a query whose subquery reads an earlier select-list alias (DuckDB's lateral alias)."""
    if rng.random() < 0.15:
        return gen_alias_tricky(rng)
    key = pick(rng, ["o.a + 1", "o.b", "o.a * 2", "o.s", "o.id"])
    inner = pick(rng, INNER)
    column = "x.s" if key == "o.s" else pick(rng, ["x.a", "x.id", "x.c"])
    sub = pick(
        rng,
        [
            "SELECT k + 1",
            f"SELECT COUNT(*) FROM {inner} x WHERE {column} = k",
            f"SELECT MAX(x.c) FROM {inner} x WHERE {column} {pick(rng, CMP)} k",
            f"SELECT x.id FROM {inner} x WHERE {column} = k ORDER BY x.id LIMIT 1",
            f"SELECT COUNT(*) + k FROM {inner} x WHERE x.a = o.a",
            f"SELECT k FROM {inner} x WHERE x.id = 1",
        ],
    )
    if key == "o.s" and "+" in sub:
        sub = f"SELECT COUNT(*) FROM {inner} x WHERE x.s = k"
    form = rng.randrange(6)
    if form == 2 and "o.a" in sub:
        form = 0
    if form >= 3 and "SELECT k" not in sub:
        # A subquery in WHERE, HAVING or ORDER BY that reads a select-list alias.
        sub = sub.replace("o.a", "o.id")
        if form == 3:
            return f"SELECT o.id, {key} AS k FROM o WHERE ({sub}) > 0"
        if form == 4:
            return f"SELECT {key} AS k, COUNT(*) FROM o GROUP BY k HAVING ({sub}) IS NOT NULL"
        return f"SELECT o.id, {key} AS k FROM o ORDER BY ({sub}) NULLS FIRST, o.id LIMIT 4"
    if form == 0:
        return f"SELECT {key} AS k, ({sub}) AS r FROM o"
    if form == 1:
        return f"SELECT o.id, {key} AS k, ({sub}) AS r FROM o WHERE o.id > {rng.randint(0, 4)}"
    return f"SELECT {key} AS k, ({sub}) AS r FROM o GROUP BY k"


def gen_alias_tricky(rng: random.Random) -> str:
    """Return an alias reference where the alias is an aggregate or its table name is reused."""
    inner = pick(rng, ["i", "j", "o"])
    if rng.random() < 0.5:
        key = pick(
            rng, ["COUNT(*)", "COUNT(1)", "SUM(o.b)", "MAX(o.id)", "COUNT(*) + 1", "MIN(o.a)"]
        )
        sub = pick(
            rng,
            [
                "SELECT k",
                "SELECT k * 10",
                f"SELECT MAX(x.c) + k FROM {inner} x",
                f"SELECT x.id FROM {inner} x WHERE x.id = k",
                f"SELECT COUNT(*) FROM {inner} x WHERE x.id <= k",
            ],
        )
        group = pick(rng, ["", " GROUP BY o.a", " GROUP BY o.s"])
        keys = "" if not group else group.removeprefix(" GROUP BY ") + ", "
        return f"SELECT {keys}{key} AS k, ({sub}) AS r FROM o{group}"
    key = pick(rng, ["o.a", "o.id * 2", "o.id", "o.s"])
    table = pick(rng, ["o", "i o", "j o"])
    column = "o.s" if key == "o.s" else pick(rng, ["o.a", "o.id"])
    sub = pick(
        rng,
        [
            f"SELECT COUNT(*) FROM {table} WHERE {column} = k",
            f"SELECT COUNT(*) FROM {table} WHERE {column} < k",
            f"SELECT MIN(o.id) FROM {table} WHERE {column} <> k",
        ],
    )
    return f"SELECT {key} AS k, ({sub}) AS r FROM o"


# Quantified comparisons -------------------------------------------------------------------------


def gen_quantified(rng: random.Random) -> str:
    inner = pick(rng, INNER)
    quantifier = pick(rng, ["ANY", "ALL", "SOME"])
    operator = pick(rng, CMP)
    outer_column, inner_column = pick(
        rng,
        [("o.b", "x.c"), ("o.a", "x.a"), ("o.g", "x.g"), ("o.s", "x.s"), ("o.b / 10", "x.c / 10")],
    )
    membership = (operator == "=" and quantifier != "ALL") or (
        operator == "<>" and quantifier == "ALL"
    )
    # These forms never take the MAX of the subquery's values, so NaN may take part.
    uses_min_only = (operator in (">", ">=") and quantifier != "ALL") or (
        operator in ("<", "<=") and quantifier == "ALL"
    )
    if (membership or uses_min_only) and rng.random() < 0.5:
        outer_column, inner_column = "o.f", "x.f"
    where = where_clause(rng)
    sub = pick(
        rng,
        [
            f"SELECT {inner_column} FROM {inner} x WHERE {where}",
            f"SELECT {inner_column} FROM {inner} x WHERE {where}",
            f"SELECT DISTINCT {inner_column} FROM {inner} x WHERE {where}",
            f"SELECT {inner_column} FROM {inner} x WHERE {where} ORDER BY x.id LIMIT {rng.randint(0, 3)}",
            f"SELECT MIN({inner_column}) FROM {inner} x WHERE {where} GROUP BY x.a",
            f"SELECT {pick(rng, ['MIN', 'MAX'] if 'f' not in inner_column else ['MIN'])}({inner_column}) FROM {inner} x WHERE {where}",
            f"SELECT {inner_column} FROM {inner} x WHERE {where} AND {inner_column} IS NOT NULL",
            f"SELECT {inner_column} FROM {inner} x WHERE {local_filter(rng)}",
        ],
    )
    comparison = f"{outer_column} {operator} {quantifier} ({sub})"
    form = rng.randrange(4)
    if form <= 1:
        return f"SELECT o.id, {comparison} FROM o"
    if form == 2:
        return f"SELECT o.id FROM o WHERE {comparison}"
    return f"SELECT o.id FROM o WHERE NOT ({comparison}) OR o.id = {rng.randint(1, 7)}"


# STRING_AGG over windows ------------------------------------------------------------------------


def gen_string_agg(rng: random.Random) -> str:
    keys = pick(
        rng,
        [
            "x.id",
            "x.id DESC",
            "x.c NULLS FIRST, x.id",
            "x.s DESC NULLS LAST, x.id",
            "x.g, x.id DESC",
        ],
    )
    value = pick(rng, ["x.s", "CAST(x.c AS VARCHAR)", "x.s || '!'", "CAST(x.a AS VARCHAR)"])
    separator = pick(rng, ["','", "'-'", "''", "', '"])
    call = f"STRING_AGG({value}, {separator} ORDER BY {keys})"
    if rng.random() < 0.2:
        call += f" FILTER (WHERE x.c > {rng.randint(0, 200)})"
    partition = pick(rng, ["", "PARTITION BY x.a", "PARTITION BY x.s", "PARTITION BY x.a % 2"])
    order = pick(rng, ["", "ORDER BY x.id", "ORDER BY x.c", "ORDER BY x.a DESC", "ORDER BY x.g"])
    frame = ""
    if order and rng.random() < 0.6:
        unit = pick(
            rng, ["ROWS", "GROUPS", "RANGE"] if order != "ORDER BY x.g" else ["ROWS", "GROUPS"]
        )
        start = pick(rng, ["UNBOUNDED PRECEDING", "1 PRECEDING", "CURRENT ROW"])
        end = pick(rng, ["CURRENT ROW", "1 FOLLOWING", "UNBOUNDED FOLLOWING"])
        if start == "CURRENT ROW" and end == "CURRENT ROW":
            end = "UNBOUNDED FOLLOWING"
        if unit == "ROWS":
            # ROWS frames over tied sort keys depend on the order of the ties.
            order += ", x.id"
        frame = f" {unit} BETWEEN {start} AND {end}"
        if rng.random() < 0.2:
            frame += pick(rng, [" EXCLUDE CURRENT ROW", " EXCLUDE TIES", " EXCLUDE GROUP"])
    over = " ".join(part for part in (partition, order) if part) + frame
    table = pick(rng, ["i", "i", "j", "e", "big", "big"])
    if rng.random() < 0.1:
        return f"SELECT x.a, STRING_AGG(MIN(x.s), ',' ORDER BY x.a NULLS FIRST) OVER ({pick(rng, ['', 'ORDER BY x.a'])}) FROM {table} x GROUP BY x.a"
    form = rng.randrange(3)
    if table == "big" and form == 2:
        form = 0
    if form == 0:
        return f"SELECT x.id, {call} OVER ({over}) FROM {table} x"
    if form == 1:
        return f"SELECT x.id, {call} OVER ({over}) AS w FROM {table} x QUALIFY w IS NOT NULL"
    return f"SELECT o.id, q.* FROM o, LATERAL (SELECT x.id, {call} OVER ({over}) AS w FROM {table} x WHERE {correlation(rng)}) q"


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "lateral": gen_lateral,
    "scalar": gen_scalar,
    "alias": gen_alias,
    "nested": gen_nested,
    "quantified": gen_quantified,
    "string_agg": gen_string_agg,
}


# Running ----------------------------------------------------------------------------------------


class QueryTimeout(Exception):
    """A query ran past the time limit of one comparison."""


def _on_alarm(signum, frame):
    raise QueryTimeout


def make_context(tables: dict[str, pa.Table] = TABLES) -> gsql.Context:
    context = gsql.Context(engine="pandas")
    for name, table in tables.items():
        context.register(name, table)
    return context


def make_duck(tables: dict[str, pa.Table] = TABLES) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for name, table in tables.items():
        connection.register(name, table)
    return connection


def compare(context, duck, sql: str, group: str, outcome: Outcome, seconds: int = 20) -> str:
    """Run one query on both engines, record the outcome and return its kind."""
    try:
        expected = normalize_rows(duck.sql(sql).fetchall())
        duck_error = None
    except duckdb.Error as error:
        expected, duck_error = None, error
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(seconds)
    try:
        actual = normalize_rows(context.sql(sql).rows())
    except (UnsupportedError, BindError) as error:
        signal.alarm(0)
        kind = "refused" if duck_error is None else "both_fail"
        if duck_error is None:
            message = re.sub(r"`[^`]*`", "`…`", f"{type(error).__name__}: {error}")
            outcome.refusals[message] += 1
            outcome.refusal_examples.setdefault(message, sql)
        outcome.counts[f"{group}:{kind}"] += 1
        return kind
    except Exception as error:  # noqa: BLE001 - every other failure is a finding
        signal.alarm(0)
        kind = "crash" if duck_error is None else "both_fail"
        if duck_error is None:
            outcome.crashes.append((group, sql, f"{type(error).__name__}: {error}"))
        outcome.counts[f"{group}:{kind}"] += 1
        return kind
    signal.alarm(0)
    if duck_error is not None:
        outcome.counts[f"{group}:duck_only_fail"] += 1
        outcome.wrong.append((group, sql, actual, f"DuckDB raised {duck_error}"))
        return "duck_only_fail"
    if actual == expected:
        outcome.counts[f"{group}:same"] += 1
        return "same"
    outcome.counts[f"{group}:wrong"] += 1
    outcome.wrong.append((group, sql, actual, expected))
    return "wrong"


def run(seed: int, count: int, groups: list[str] | None = None) -> Outcome:
    """Run `count` random queries per group, drawn from `seed`."""
    rng = random.Random(seed)
    context = make_context()
    duck = make_duck()
    outcome = Outcome()
    for group in groups or list(GENERATORS):
        for _ in range(count):
            sql = GENERATORS[group](rng)
            outcome.counts[f"{group}:run"] += 1
            compare(context, duck, sql, group, outcome)
    duck.close()
    return outcome


def _show_rows(rows: object) -> str:
    if isinstance(rows, str):
        return rows
    return repr(sorted(rows.elements(), key=repr)[:16])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="seed of the query generator")
    parser.add_argument("--count", type=int, default=200, help="queries per feature group")
    parser.add_argument(
        "--group",
        action="append",
        choices=sorted(GENERATORS),
        help="group to run; repeat for several",
    )
    parser.add_argument(
        "--show", action="store_true", help="print the crashes and refusal counts too"
    )
    args = parser.parse_args(argv)
    outcome = run(args.seed, args.count, args.group)
    kinds = ("run", "same", "refused", "crash", "both_fail", "duck_only_fail", "wrong")
    for group in args.group or list(GENERATORS):
        print(group, {kind: outcome.counts[f"{group}:{kind}"] for kind in kinds})
    for group, sql, actual, expected in outcome.wrong:
        if isinstance(expected, str) and not args.show:
            continue
        print(
            f"WRONG [{group}] {sql}\n  gsql:   {_show_rows(actual)}\n  duckdb: {_show_rows(expected)}"
        )
    for group, sql, message in outcome.crashes:
        print(f"CRASH [{group}] {sql}\n  {message[:300]}")
    if args.show:
        for message, number in outcome.refusals.most_common(25):
            print(f"REFUSED x{number}: {message[:200]}\n  e.g. {outcome.refusal_examples[message]}")
    return 1 if outcome.wrong or outcome.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
