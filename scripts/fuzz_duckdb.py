"""Compare gsql with DuckDB on random queries over small tables with NULLs, duplicates and NaN.

Each query runs in gsql (`gsql.Context(engine="pandas")`) and in DuckDB over the same Arrow
tables. Results are compared as multisets, or as lists when the query's outermost ORDER BY covers
every output column. A gsql `UnsupportedError` or `BindError` counts as a refusal, not a wrong
result. Any other gsql error on a query that DuckDB runs is listed as an error.

Usage, from the repository root: `PYTHONPATH=. python scripts/fuzz_duckdb.py --seed 1 --count 200 [--group windows] [--show]`.
"""

from __future__ import annotations

import argparse
import datetime
import math
import random
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


def _timestamps(values: list[int | None]) -> pa.Array:
    base = datetime.datetime(2024, 1, 1)
    days = [None if v is None else base + datetime.timedelta(days=v) for v in values]
    return pa.array(days, pa.timestamp("us"))


TABLES = {
    # `id` is unique so that ORDER BY ..., id fixes the row order. Rows 2 and 3 repeat every
    # other column.
    "t1": pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6, 7], I64),
            "a": pa.array([1, 2, 2, None, -1, 3, 0], I64),
            "b": pa.array([10, 20, 20, 30, None, -5, 10], I64),
            "f": pa.array([1.5, float("nan"), float("nan"), None, -2.0, 0.0, 1.5], pa.float64()),
            "s": pa.array(["x", "y", "y", None, "", "x", "z"], pa.string()),
            "d": _timestamps([0, 1, 1, None, 3, 7, 2]),
        }
    ),
    "t2": pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6], I64),
            "a": pa.array([1, 2, 4, None, 2, -1], I64),
            "c": pa.array([100, 200, 400, 999, 200, None], I64),
            "s": pa.array(["x", "y", None, "w", "y", "x"], pa.string()),
        }
    ),
    "t3": pa.table(
        {
            "id": pa.array([1, 2, 3, 4], I64),
            "a": pa.array([1, 3, None, 2], I64),
            "b": pa.array([1, 30, 7, None], I64),
        }
    ),
    "e": pa.table(
        {
            "id": pa.array([], I64),
            "a": pa.array([], I64),
            "b": pa.array([], I64),
            "c": pa.array([], I64),
        }
    ),
    # ASOF inputs: right times are unique within each key, so the nearest match is unique.
    "l": pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6, 7, 8], I64),
            "k": pa.array([1, 1, None, 1, 2, 1, 3, 1], I64),
            "t": pa.array([10, 5, 10, None, 10, 1, 4, 10], I64),
        }
    ),
    "r": pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6, 7, 8], I64),
            "k": pa.array([1, 1, 1, None, 1, 2, 2, 3], I64),
            "t": pa.array([3, 4, 7, 8, None, 10, 9, -2], I64),
            "v": pa.array([100, 200, 300, 400, 500, 600, 50, -7], I64),
        }
    ),
}


def _big_table(rows: int = 240) -> pa.Table:
    """Build a table large enough for the top-N path and the per-frame window loops.

    Values repeat, so sort keys tie. Every 7th `a`, 11th `s` and 13th `f` is NULL, and every
    17th `f` is NaN.
    """
    generator = random.Random(99)
    a = [None if i % 7 == 3 else generator.randint(-5, 20) for i in range(rows)]
    b = [generator.randint(-50, 50) for _ in range(rows)]
    f = []
    for i in range(rows):
        if i % 13 == 5:
            f.append(None)
        elif i % 17 == 2:
            f.append(float("nan"))
        else:
            f.append(generator.randint(-8, 8) / 2)
    s = [
        None if i % 11 == 4 else generator.choice(["", "x", "y", "z", "xy", "Y"])
        for i in range(rows)
    ]
    d = [None if i % 19 == 7 else generator.randint(0, 30) for i in range(rows)]
    return pa.table(
        {
            "id": pa.array(range(1, rows + 1), I64),
            "a": pa.array(a, I64),
            "b": pa.array(b, I64),
            "f": pa.array(f, pa.float64()),
            "s": pa.array(s, pa.string()),
            "d": _timestamps(d),
        }
    )


TABLES["big"] = _big_table()


@dataclass
class Outcome:
    """Counts and findings of one fuzz run."""

    counts: Counter = field(default_factory=Counter)
    wrong: list[tuple[str, str, object, object]] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)


# Value normalisation ---------------------------------------------------------------------------


def _normalize_value(value: object) -> object:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return number
        return round(number, 6) + 0.0
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _normalize_value(value.item())
    if isinstance(value, (list, tuple)):
        return tuple(_normalize_value(v) for v in value)
    return value


def normalize_rows(rows: list[tuple]) -> list[tuple]:
    return [tuple(_normalize_value(v) for v in row) for row in rows]


# Query generators ------------------------------------------------------------------------------
#
# Each generator returns a pair (sql, ordered). `ordered` is true when the outermost ORDER BY
# fixes the order of every row.

OPS = ["=", "<", "<=", ">", ">=", "<>", "IS NOT DISTINCT FROM", "IS DISTINCT FROM"]


def _pick(rng: random.Random, items: list) -> object:
    return items[rng.randrange(len(items))]


def _inner_filter(rng: random.Random, inner: str, outer: str) -> str:
    column = _pick(rng, ["a", "id"])
    conditions = [f"{inner}.{column} {_pick(rng, OPS[:6])} {outer}.{_pick(rng, ['a', 'id'])}"]
    if rng.random() < 0.4:
        other = "c" if inner == "t2" else "b"
        if inner == "t1":
            other = "b"
        conditions.append(f"{inner}.{other} {_pick(rng, ['>', '<', '<>'])} {rng.randint(-5, 250)}")
    if rng.random() < 0.2:
        conditions.append(f"{outer}.id % 2 = {rng.randint(0, 1)}")
    return " AND ".join(conditions)


def gen_lateral(rng: random.Random) -> tuple[str, bool]:
    inner = _pick(rng, ["t2", "t3", "e"])
    value = {"t2": "c", "t3": "b", "e": "c"}[inner]
    where = _inner_filter(rng, inner, "t1")
    shape = rng.randrange(7)
    if shape == 0:
        body = f"SELECT {inner}.{value} AS x FROM {inner} WHERE {where}"
    elif shape == 1:
        body = f"SELECT t1.b + {inner}.{value} AS x FROM {inner} WHERE {where}"
    elif shape == 2:
        body = f"SELECT {inner}.a AS x, COUNT(*) AS n FROM {inner} WHERE {where} GROUP BY {inner}.a"
    elif shape == 3:
        body = f"SELECT DISTINCT {inner}.a AS x FROM {inner} WHERE {where}"
    elif shape == 4:
        body = f"SELECT {inner}.{value} AS x FROM {inner} WHERE {where} ORDER BY {inner}.{value} NULLS FIRST, {inner}.id LIMIT {rng.randint(0, 2)}"
    elif shape == 5:
        body = _pick(
            rng,
            [
                "SELECT t1.a * 2 AS x",
                f"SELECT t1.a AS x UNION ALL SELECT {inner}.{value} FROM {inner} WHERE {where}",
                f"SELECT {inner}.{value} AS x, ROW_NUMBER() OVER (ORDER BY {inner}.id) AS rn FROM {inner} WHERE {where}",
                f"SELECT {inner}.a AS x FROM {inner} WHERE {where} AND EXISTS (SELECT 1 FROM t3 WHERE t3.a = t1.a)",
                f"SELECT {inner}.a AS x, SUM({inner}.{value}) AS n FROM {inner} WHERE {where} GROUP BY {inner}.a HAVING COUNT(*) > 1",
                f"SELECT {inner}.a AS x FROM {inner} WHERE {inner}.a IN (SELECT t3.a FROM t3 WHERE t3.b > t1.b)",
            ],
        )
    else:
        body = f"SELECT MAX({inner}.{value}) AS x FROM {inner} WHERE {where}"
    columns = "t1.id, q.*"
    form = rng.randrange(6)
    if form == 0:
        sql = f"SELECT {columns} FROM t1, LATERAL ({body}) q"
    elif form == 1:
        sql = f"SELECT {columns} FROM t1, ({body}) q"
    elif form == 2:
        on = _pick(rng, ["true", "q.x > 0", "q.x IS NULL", "t1.a = 2"])
        sql = f"SELECT {columns} FROM t1 LEFT JOIN LATERAL ({body}) q ON {on}"
    elif form == 3:
        sql = f"SELECT {columns} FROM t1 CROSS JOIN LATERAL ({body}) q JOIN t3 ON t3.a = t1.a"
    elif form == 4:
        sql = f"SELECT {columns}, q2.y FROM t1, LATERAL ({body}) q, LATERAL (SELECT q.x + t1.id AS y) q2"
    else:
        body = body.replace("t1.", "t0.")
        sql = f"SELECT t1.id, t0.id, q.* FROM t1 JOIN t1 t0 ON t0.a = t1.a, LATERAL ({body}) q"
    if rng.random() < 0.3:
        sql += f" WHERE t1.b {_pick(rng, ['>', '<', '<>'])} {rng.randint(-5, 25)}"
    return sql, False


def gen_asof(rng: random.Random) -> tuple[str, bool]:
    kind = _pick(rng, ["ASOF JOIN", "ASOF LEFT JOIN"])
    right = _pick(rng, ["r", "r", "r", "(SELECT * FROM r WHERE r.v <> 300)"])
    alias = "" if right == "r" else " r"
    op = _pick(rng, [">=", ">", "<=", "<"])
    conditions = []
    if rng.random() < 0.85:
        conditions.append(_pick(rng, ["l.k = r.k", "r.k = l.k", "l.k IS NOT DISTINCT FROM r.k"]))
    inequality = (
        f"l.t {op} r.t"
        if rng.random() < 0.7
        else f"r.t {'<=' if op == '>=' else '>=' if op == '<=' else '<' if op == '>' else '>'} l.t"
    )
    conditions.append(inequality)
    if rng.random() < 0.5:
        conditions.append(
            _pick(
                rng,
                [
                    f"r.v > {rng.randint(0, 400)}",
                    f"r.v + l.id < {rng.randint(100, 500)}",
                    f"l.id > {rng.randint(1, 6)}",
                    "r.id <> l.id",
                ],
            )
        )
    if rng.random() < 0.2:
        conditions[-1 if inequality == conditions[-1] else 0] = f"l.t + 0.5 {op} r.t"
        conditions = [c for c in conditions if c != inequality] + (
            [] if any("0.5" in c for c in conditions) else [f"l.t + 0.5 {op} r.t"]
        )
    rng.shuffle(conditions)
    sql = f"SELECT l.id, r.id, r.v FROM l {kind} {right}{alias} ON {' AND '.join(conditions)}"
    if rng.random() < 0.3:
        sql += _pick(rng, [" WHERE r.v > 150", " WHERE l.k = 1", " WHERE r.id IS NULL"])
    return sql, False


def gen_outer_on_subquery(rng: random.Random) -> tuple[str, bool]:
    kind = _pick(rng, ["LEFT JOIN", "FULL JOIN", "RIGHT JOIN", "JOIN", "LEFT JOIN", "FULL JOIN"])
    other = _pick(rng, ["t3", "e", "t1"])
    predicates = [
        f"EXISTS (SELECT 1 FROM {other} x WHERE x.a = t1.a)",
        f"NOT EXISTS (SELECT 1 FROM {other} x WHERE x.a = t2.a AND x.id > t1.id)",
        f"t1.a IN (SELECT x.a FROM {other} x)",
        f"t2.a NOT IN (SELECT x.a FROM {other} x WHERE x.id <> t1.id)",
        f"t2.c > (SELECT MIN(x.b) FROM {other} x WHERE x.a = t1.a)",
        f"t1.b < (SELECT MAX(x.id) * 10 FROM {other} x)",
    ]
    conditions = [_pick(rng, predicates)]
    if rng.random() < 0.7:
        conditions.insert(0, "t1.a = t2.a")
    sql = f"SELECT t1.id, t2.id FROM t1 {kind} t2 ON {' AND '.join(conditions)}"
    if rng.random() < 0.3:
        sql += _pick(rng, [" WHERE t2.id IS NULL", " WHERE t1.id IS NULL OR t1.id > 2"])
    return sql, False


def gen_using(rng: random.Random) -> tuple[str, bool]:
    kinds = ["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"]
    sources = [
        "(SELECT a, b FROM t1)",
        "(SELECT a, c FROM t2)",
        "(SELECT a, b AS c FROM t3)",
        "(SELECT a, b FROM e)",
    ]
    count = rng.randint(2, 4)
    parts = [f"{_pick(rng, sources)} q0"]
    for index in range(1, count):
        source = _pick(rng, sources)
        if rng.random() < 0.4:
            parts.append(f"NATURAL {_pick(rng, kinds)} {source} q{index}")
        else:
            parts.append(f"{_pick(rng, kinds)} {source} q{index} USING (a)")
    columns = _pick(rng, ["*", "a", "a, COUNT(*)"])
    sql = f"SELECT {columns} FROM {' '.join(parts)}"
    if columns == "a, COUNT(*)":
        sql += " GROUP BY a"
    return sql, False


def _correlated_predicate(rng: random.Random) -> str:
    inner = _pick(rng, ["t2", "t3", "e"])
    value = {"t2": "c", "t3": "b", "e": "c"}[inner]
    where = _inner_filter(rng, inner, "t1")
    choices = [
        f"EXISTS (SELECT 1 FROM {inner} WHERE {where})",
        f"NOT EXISTS (SELECT 1 FROM {inner} WHERE {where})",
        f"t1.a IN (SELECT {inner}.a FROM {inner} WHERE {where})",
        f"t1.a NOT IN (SELECT {inner}.a FROM {inner} WHERE {where})",
        f"t1.b {_pick(rng, OPS[:6])} (SELECT MAX({inner}.{value}) FROM {inner} WHERE {where})",
        f"t1.b {_pick(rng, OPS[:6])} (SELECT COUNT(*) FROM {inner} WHERE {where})",
        f"t1.a {_pick(rng, OPS[:6])} ANY (SELECT {inner}.a FROM {inner} WHERE {where})",
        f"t1.a {_pick(rng, OPS[:6])} ALL (SELECT {inner}.a FROM {inner} WHERE {where})",
        f"(t1.a, t1.b) IN (SELECT {inner}.a, {inner}.{value} / 10 FROM {inner})",
        f"(t1.a, t1.b) NOT IN (SELECT {inner}.a, {inner}.{value} / 10 FROM {inner})",
        f"(t1.a, t1.b) {_pick(rng, ['<', '>', '<=', '>=', '=', '<>'])} ANY (SELECT {inner}.a, {inner}.{value} / 10 FROM {inner})",
        f"(t1.a, t1.b) {_pick(rng, ['<', '>', '='])} ALL (SELECT {inner}.a, {inner}.{value} / 10 FROM {inner})",
        f"EXISTS (SELECT 1 FROM (SELECT * FROM {inner} WHERE {where}) d WHERE d.id > {rng.randint(0, 4)})",
        f"t1.a IN (SELECT d.a FROM (SELECT {inner}.a, ROW_NUMBER() OVER (PARTITION BY {inner}.a ORDER BY {inner}.id) AS rn FROM {inner} WHERE {where}) d WHERE d.rn = 1)",
        f"t1.a NOT IN (SELECT {inner}.a FROM {inner} WHERE {where} QUALIFY ROW_NUMBER() OVER (ORDER BY {inner}.id) <= {rng.randint(1, 3)})",
        f"t1.b {_pick(rng, ['<', '>'])} (SELECT SUM({inner}.{value}) FROM {inner} WHERE {inner}.a = t1.a) / 10",
        f"t1.f {_pick(rng, ['IN', 'NOT IN'])} (SELECT x.f FROM t1 x WHERE x.{_pick(rng, ['id', 'a', 's'])} {_pick(rng, OPS[:6])} t1.{_pick(rng, ['id', 'a', 's'])})",
        f"t1.f {_pick(rng, OPS[:6])} {_pick(rng, ['ANY', 'ALL'])} (SELECT x.f FROM t1 x WHERE x.id <> t1.id)",
    ]
    return _pick(rng, choices)


def gen_correlated(rng: random.Random) -> tuple[str, bool]:
    shape = rng.randrange(7)
    if shape == 5:
        inner = _pick(rng, ["t2", "t3", "e"])
        forms = [
            f"SELECT t1.id FROM t1 WHERE EXISTS (SELECT 1 FROM {inner} WHERE {inner}.a = t1.a AND EXISTS (SELECT 1 FROM t3 WHERE t3.a = {inner}.a AND t3.id <> t1.id))",
            f"SELECT t1.id FROM t1 WHERE t1.b > (SELECT MIN(t3.b) FROM t3 WHERE t3.id IN (SELECT {inner}.id FROM {inner} WHERE {inner}.a = t1.a))",
            f"SELECT t1.a, COUNT(*) FROM t1 GROUP BY t1.a HAVING COUNT(*) {_pick(rng, ['>', '<=', '='])} (SELECT COUNT(*) FROM {inner} WHERE {inner}.a = t1.a)",
            f"SELECT t1.a FROM t1 GROUP BY t1.a HAVING EXISTS (SELECT 1 FROM {inner} WHERE {inner}.id * 10 > SUM(t1.b))",
            f"SELECT t1.id, CASE WHEN t1.a > 1 THEN (SELECT MAX({inner}.id) FROM {inner} WHERE {inner}.a = t1.a) ELSE -1 END FROM t1",
            f"SELECT t1.id FROM t1 WHERE t1.a IN (SELECT t1.b / 10 FROM {inner})",
            f"SELECT t1.id FROM t1 WHERE t1.a NOT IN (SELECT {inner}.a FROM {inner} WHERE {inner}.id = t1.id) OR t1.s = 'y'",
            f"SELECT t1.id, (SELECT MAX(t1.a) FROM {inner} WHERE {inner}.a = t1.a) FROM t1",
            f"SELECT t1.id FROM t1 WHERE (SELECT COUNT(*) FROM {inner} WHERE {inner}.a = t1.a) = 0",
            f"SELECT t1.id, (SELECT COUNT(*) FROM {inner} WHERE {inner}.a = t1.a) + (SELECT COUNT(*) FROM t3 WHERE t3.a = t1.a) FROM t1",
            f"SELECT t1.s, (SELECT MAX(t1.b) + COUNT(*) FROM {inner} WHERE {inner}.s = t1.s) FROM t1 GROUP BY t1.s",
            f"SELECT t1.id FROM t1 ORDER BY (SELECT COUNT(*) FROM {inner} WHERE {inner}.a <= t1.a), t1.id",
        ]
        return _pick(rng, forms), False
    if shape == 6:
        inner = _pick(rng, ["t2", "t3", "e"])
        value = {"t2": "c", "t3": "b", "e": "c"}[inner]
        forms = [
            f"SELECT t1.id, (t1.a, t1.b) IN (SELECT {inner}.a, {inner}.{value} / 10 FROM {inner}) FROM t1",
            f"SELECT t1.id, (t1.a, t1.b) {_pick(rng, ['<', '>', '<=', '>=', '<>'])} ANY (SELECT {inner}.a, {inner}.{value} / 10 FROM {inner}) FROM t1",
            f"SELECT t1.id, (t1.a, t1.s) {_pick(rng, ['<', '>', '=', '<>'])} ALL (SELECT {inner}.a, 'y' FROM {inner}) FROM t1",
            f"SELECT t1.id, (t1.a, t1.b) NOT IN (SELECT {inner}.a, {inner}.{value} / 10 FROM {inner} WHERE {inner}.a IS NOT NULL) FROM t1",
            f"SELECT t1.id, (t1.a, 10) = ANY (SELECT {inner}.a, {inner}.{value} FROM {inner}) FROM t1",
        ]
        return _pick(rng, forms), False
    if shape == 0:
        predicate = _correlated_predicate(rng)
        if rng.random() < 0.4:
            predicate = f"{predicate} {_pick(rng, ['AND', 'OR'])} {_correlated_predicate(rng)}"
        return f"SELECT t1.id FROM t1 WHERE {predicate}", False
    if shape == 1:
        return f"SELECT t1.id, {_correlated_predicate(rng)} FROM t1", False
    if shape == 2:
        inner = _pick(rng, ["t2", "t3", "e"])
        aggregate = _pick(
            rng, ["MAX(t1.a)", "SUM(t1.b)", "COUNT(t1.a)", "MIN(t1.b + 1)", "COUNT(*)"]
        )
        forms = [
            f"SELECT (SELECT {aggregate}) FROM t1",
            f"SELECT t1.a, (SELECT {aggregate}) FROM t1 GROUP BY t1.a",
            f"SELECT t1.a, (SELECT {aggregate} FROM {inner} WHERE {inner}.a = t1.a) FROM t1 GROUP BY t1.a",
            f"SELECT (SELECT {aggregate} FROM {inner} LIMIT 1) FROM t1",
            f"SELECT t1.s, (SELECT {aggregate} + MAX({inner}.id) FROM {inner}) FROM t1 GROUP BY t1.s",
        ]
        return _pick(rng, forms), False
    if shape == 3:
        inner = _pick(rng, ["t2", "t3", "e"])
        value = {"t2": "c", "t3": "b", "e": "c"}[inner]
        forms = [
            f"SELECT t1.id, (SELECT {inner}.{value} FROM {inner} WHERE {inner}.a = t1.a ORDER BY {inner}.id LIMIT 1) FROM t1",
            f"SELECT t1.id, (SELECT SUM({inner}.{value}) OVER () FROM {inner} WHERE {inner}.id = t1.id) FROM t1",
            f"SELECT t1.id, (SELECT COUNT(*) FROM (SELECT {inner}.a FROM {inner} WHERE {inner}.a <= t1.a) d) FROM t1",
            f"SELECT t1.id, (SELECT {inner}.{value} FROM {inner} WHERE {inner}.a = t1.a) FROM t1",
        ]
        return _pick(rng, forms), False
    # A scalar subquery in the select list combined with a filter on it.
    inner = _pick(rng, ["t2", "t3"])
    return (
        f"SELECT t1.id, x FROM (SELECT t1.id, (SELECT MIN({inner}.id) FROM {inner} WHERE {inner}.a = t1.a) AS x FROM t1) t1 WHERE x IS {_pick(rng, ['', 'NOT '])}NULL",
        False,
    )


WINDOW_ORDER_KEYS = ["a", "b", "f", "s", "d"]


def gen_windows(rng: random.Random) -> tuple[str, bool]:
    partition = _pick(rng, ["", "PARTITION BY s ", "PARTITION BY a % 2 ", "PARTITION BY b > 10 "])
    key = _pick(rng, WINDOW_ORDER_KEYS)
    direction = _pick(rng, ["", " DESC", " NULLS FIRST", " DESC NULLS LAST"])
    unique = rng.random() < 0.5
    order = f"ORDER BY {key}{direction}" + (", id" if unique else "")
    kind = _pick(rng, ["ROWS", "GROUPS", "RANGE", "none"])
    if kind == "ROWS" and not unique:
        order += ", id"
    frame = ""
    if kind != "none":
        temporal = False
        if kind == "RANGE" and rng.random() < 0.7:
            # RANGE offsets need a single numeric or temporal ORDER BY key.
            key = _pick(rng, ["a", "b", "d", "f"])
            order = f"ORDER BY {key}{direction}"
            temporal = key == "d"

        def offset() -> str:
            amount = rng.randint(0, 2)
            return f"INTERVAL {amount} DAY" if temporal else str(amount)

        bounds = [
            "UNBOUNDED PRECEDING",
            f"{offset()} PRECEDING",
            "CURRENT ROW",
            f"{offset()} FOLLOWING",
            "UNBOUNDED FOLLOWING",
        ]
        if kind == "RANGE" and order.count(",") > 0:
            bounds = [bounds[0], bounds[2], bounds[2], bounds[4]]
        start = rng.randrange(len(bounds) - 1)
        end = rng.randrange(max(start, 1), len(bounds))
        frame = f" {kind} BETWEEN {bounds[start]} AND {bounds[end]}"
        if rng.random() < 0.4:
            frame += f" EXCLUDE {_pick(rng, ['CURRENT ROW', 'GROUP', 'TIES', 'NO OTHERS'])}"
    over = f"{partition}{order}{frame}"
    functions = [
        "SUM(b)",
        "COUNT(*)",
        "COUNT(a)",
        "MIN(s)",
        "MAX(f)",
        "AVG(b)",
        "COUNT(DISTINCT a)",
        "SUM(DISTINCT b)",
        "SUM(b) FILTER (WHERE a > 0)",
        "COUNT(*) FILTER (WHERE s IS NOT NULL)",
        "FIRST_VALUE(a IGNORE NULLS)",
        "LAST_VALUE(b IGNORE NULLS)",
        "NTH_VALUE(a, 2 IGNORE NULLS)",
        "FIRST_VALUE(s)",
        "STRING_AGG(s, ',' ORDER BY s, id)",
        "BOOL_OR(a > 1)",
        "BOOL_AND(b > 0)",
        "STDDEV_SAMP(b)",
        "VAR_POP(f)",
        "MEDIAN(b)",
        "QUANTILE_DISC(a, 0.25)",
        "MODE(a)",
        "BIT_XOR(b)",
        "BIT_AND(a)",
        "CORR(b, a)",
        "COVAR_SAMP(b, f)",
        "REGR_SLOPE(b, a)",
        "REGR_COUNT(b, a)",
        "AVG(DISTINCT f)",
        "COUNT(DISTINCT s) FILTER (WHERE b > 0)",
        "LAST_VALUE(s IGNORE NULLS)",
        "NTH_VALUE(b, 1)",
        "SUM(f)",
        "MIN(d)",
    ]
    function = _pick(rng, functions)
    if ", id" not in order and function.startswith(
        ("FIRST_VALUE", "LAST_VALUE", "NTH_VALUE", "MODE")
    ):
        # These pick one row of a frame, so tied sort keys would leave the result arbitrary.
        function = _pick(rng, functions[:9])
    sql_windows = [f"{function} OVER ({over})"]
    if rng.random() < 0.3:
        ranking = _pick(
            rng,
            [
                "RANK(ORDER BY a) OVER ()",
                "ROW_NUMBER(ORDER BY b, id) OVER (PARTITION BY s)",
                "DENSE_RANK(ORDER BY f DESC) OVER (PARTITION BY a % 2)",
                "LAG(b IGNORE NULLS) OVER (ORDER BY id)",
                "LEAD(a, 2 IGNORE NULLS) OVER (PARTITION BY s ORDER BY id)",
                "CUME_DIST(ORDER BY b) OVER ()",
                "NTILE(2) OVER (ORDER BY id)",
            ],
        )
        sql_windows.append(ranking)
    sql = f"SELECT id, {', '.join(sql_windows)} FROM {_pick(rng, ['t1', 't1', 'big'])}"
    if rng.random() < 0.1:
        sql = f"SELECT id, {', '.join(sql_windows)} FROM (SELECT * FROM t1 WHERE id > 100) t1"
    elif rng.random() < 0.1:
        group_over = f"ORDER BY a{direction}" + _pick(
            rng,
            [
                "",
                " ROWS BETWEEN 1 PRECEDING AND CURRENT ROW",
                " RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING",
                " GROUPS BETWEEN CURRENT ROW AND 1 FOLLOWING EXCLUDE CURRENT ROW",
            ],
        )
        return (
            f"SELECT a, SUM(SUM(b)) OVER ({group_over}), COUNT(*) FILTER (WHERE s = 'y') FROM t1 GROUP BY a",
            False,
        )
    if rng.random() < 0.2:
        sql += f" QUALIFY {sql_windows[0]} IS NOT NULL"
    return sql, False


def gen_recursive(rng: random.Random) -> tuple[str, bool]:
    limit = rng.randint(1, 4)
    forms = [
        f"WITH RECURSIVE c(k, v) USING KEY (k) AS (SELECT a, b FROM t3 WHERE a IS NOT NULL UNION SELECT c.k, c.v + 1 FROM c WHERE c.v < {limit * 10}) SELECT * FROM c",
        f"WITH RECURSIVE c(k, v, i) USING KEY (k) AS (SELECT 1, 0, 0 UNION SELECT c.k + (c.i % 2), c.v + c.i, c.i + 1 FROM c WHERE c.i < {limit}) SELECT * FROM c",
        f"WITH RECURSIVE c(k, v, i) USING KEY (k) AS (SELECT a, 0, 0 FROM t2 WHERE a IS NOT NULL GROUP BY a UNION SELECT t3.a, c.v + t3.id, c.i + 1 FROM c JOIN t3 ON t3.a = c.k + 1 WHERE c.i < {limit}) SELECT * FROM c",
        f"WITH RECURSIVE c(k, v, i) USING KEY (k) AS (SELECT 1, 0, 0 UNION SELECT c.k, (SELECT COUNT(*) FROM recurring.c), c.i + 1 FROM c WHERE c.i < {limit}) SELECT * FROM c",
        f"WITH RECURSIVE c(k, v, i) USING KEY (k) AS (SELECT id, 0, 0 FROM t3 UNION SELECT c.k + 1, c.v + 1, c.i + 1 FROM c WHERE c.i < {limit} AND c.k + 1 NOT IN (SELECT k FROM recurring.c)) SELECT * FROM c",
        f"WITH RECURSIVE c(k, v) AS (SELECT a, b FROM t3 UNION SELECT c.k + 1, c.v FROM c WHERE c.k < {limit + 2}) SELECT * FROM c",
        f"WITH RECURSIVE c(k, v, i) USING KEY (k) AS (SELECT 1, 0, 0 UNION ALL SELECT r.k, r.v + c.v, c.i + 1 FROM c, recurring.c r WHERE c.i < {limit}) SELECT * FROM c",
    ]
    return _pick(rng, forms), False


def _join_tables(rng: random.Random, count: int) -> tuple[list[str], list[str]]:
    names = []
    for index in range(count):
        names.append(f"{_pick(rng, ['t1', 't2', 't3', 't1', 't2', 't3', 'e'])} x{index}")
    conditions = []
    for index in range(1, count):
        other = rng.randrange(index)
        conditions.append(
            f"x{index}.{_pick(rng, ['a', 'id'])} = x{other}.{_pick(rng, ['a', 'id'])}"
        )
    return names, conditions


def gen_planner(rng: random.Random) -> tuple[str, bool]:
    count = rng.randint(1, 6) if rng.random() < 0.6 else rng.randint(3, 6)
    names, conditions = _join_tables(rng, count)
    extra = []
    for _ in range(rng.randint(0, 3)):
        left = rng.randrange(count)
        right = rng.randrange(count)
        extra.append(
            _pick(
                rng,
                [
                    f"(x{left}.a = 1 OR x{right}.id > {rng.randint(0, 5)})",
                    f"(x{left}.a = x{right}.id AND x{left}.id > 1 OR x{left}.id = x{right}.a AND x{right}.id < 4)",
                    f"x{left}.id {_pick(rng, OPS)} {rng.randint(-1, 5)}",
                    f"x{left}.a IS NOT NULL",
                    f"(x{left}.id = 1 OR x{left}.id = 3 OR x{left}.a IS NULL)",
                    f"x{left}.id + x{right}.id < {rng.randint(2, 9)}",
                    f"x{left}.a IN (1, 2, NULL)",
                    f"NOT (x{left}.a < 2 OR x{right}.id = 2)",
                    f"(x{left}.a = x{right}.a OR x{left}.a IS NULL)",
                    f"x{left}.id IS NULL",
                    f"COALESCE(x{left}.a, 0) = COALESCE(x{right}.a, 0)",
                ],
            )
        )
    where_parts = conditions + extra
    rng.shuffle(where_parts)
    style = rng.random()
    if style < 0.6 or count == 1:
        from_clause = ", ".join(names)
        where = " AND ".join(where_parts)
    else:
        pieces = [names[0]]
        for index in range(1, count):
            kind = _pick(rng, ["JOIN", "JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"])
            pieces.append(f"{kind} {names[index]} ON {conditions[index - 1]}")
        from_clause = " ".join(pieces)
        where = " AND ".join(extra)
    columns = [f"x{index}.id" for index in range(count)]
    select = ", ".join(columns)
    sql = f"SELECT {select} FROM {from_clause}"
    if where:
        sql += f" WHERE {where}"
    if rng.random() < 0.5:
        keys = []
        for index in range(count):
            keys.append(
                f"x{index}.id{_pick(rng, ['', ' DESC', ' NULLS FIRST', ' DESC NULLS LAST'])}"
            )
        rng.shuffle(keys)
        sql += " ORDER BY " + ", ".join(keys)
        sql += f" LIMIT {rng.randint(0, 6)}"
        if rng.random() < 0.5:
            sql += f" OFFSET {rng.randint(0, 4)}"
        return sql, True
    return sql, False


def gen_topn(rng: random.Random) -> tuple[str, bool]:
    # The leading keys have ties and NULLs. `id` ends every ORDER BY, so the order is total.
    keys = rng.sample(["a", "b", "f", "s", "d", "a % 2", "-b"], rng.randint(1, 3))
    parts = [
        f"{key}{_pick(rng, ['', ' DESC', ' NULLS FIRST', ' NULLS LAST', ' DESC NULLS FIRST'])}"
        for key in keys
    ]
    parts.append(f"id{_pick(rng, ['', ' DESC'])}")
    table = _pick(rng, ["t1", "big", "big"])
    sql = f"SELECT id, a, b, f, s FROM {table}"
    if rng.random() < 0.4:
        sql += f" WHERE b > {rng.randint(-10, 20)} AND a IS NOT NULL OR s = 'y'"
    if rng.random() < 0.3:
        # Only the sort keys are selected, so tied rows are equal and the order is still total.
        keys = [key for key in keys if key not in ("f",)] or ["a"]
        parts = parts[: len(keys)]
        parts = [
            f"{key}{_pick(rng, ['', ' DESC', ' NULLS FIRST', ' DESC NULLS FIRST'])}" for key in keys
        ]
        distinct = _pick(rng, ["", "DISTINCT "])
        sql = f"SELECT {distinct}{', '.join(keys)} FROM {table}"
    elif rng.random() < 0.2:
        sql = f"SELECT id, a, b, f, s, w FROM (SELECT *, SUM(b) OVER (PARTITION BY a) AS w FROM {table}) t1"
        parts.insert(0, _pick(rng, ["w", "w DESC", "w NULLS FIRST"]))
    limit = rng.randint(0, 8) if table == "t1" else rng.choice([0, 1, 3, 10, 25, 59])
    sql += f" ORDER BY {', '.join(parts)} LIMIT {limit}"
    if rng.random() < 0.5:
        sql += f" OFFSET {rng.randint(0, 7) if table == 't1' else rng.choice([1, 5, 20])}"
    return sql, True


GENERATORS: dict[str, Callable[[random.Random], tuple[str, bool]]] = {
    "lateral": gen_lateral,
    "asof": gen_asof,
    "outer_on_subquery": gen_outer_on_subquery,
    "using_natural": gen_using,
    "correlated": gen_correlated,
    "windows": gen_windows,
    "recursive": gen_recursive,
    "planner": gen_planner,
    "topn": gen_topn,
}


# Running ---------------------------------------------------------------------------------------


def make_context() -> gsql.Context:
    context = gsql.Context(engine="pandas")
    for name, table in TABLES.items():
        context.register(name, table)
    return context


def make_duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for name, table in TABLES.items():
        connection.register(name, table)
    return connection


def compare(
    context: gsql.Context,
    duck: duckdb.DuckDBPyConnection,
    sql: str,
    ordered: bool,
    group: str,
    outcome: Outcome,
) -> None:
    """Run one query on both sides and record how the results relate."""
    try:
        expected = duck.sql(sql).fetchall()
        duck_error = None
    except duckdb.Error as error:
        expected = None
        duck_error = error
    try:
        actual = context.sql(sql).rows()
    except (UnsupportedError, BindError):
        outcome.counts[f"{group}:refused"] += 1
        if duck_error is None:
            outcome.counts["refused"] += 1
        return
    except Exception as error:  # noqa: BLE001 - every other failure is a finding to list
        if duck_error is None:
            outcome.counts[f"{group}:error"] += 1
            outcome.errors.append((group, sql, f"{type(error).__name__}: {error}"))
        else:
            outcome.counts[f"{group}:both_fail"] += 1
        return
    if duck_error is not None:
        outcome.counts[f"{group}:wrong"] += 1
        outcome.wrong.append((group, sql, actual, f"DuckDB raised {duck_error}"))
        return
    left = normalize_rows(actual)
    right = normalize_rows(expected)
    same = left == right if ordered else Counter(left) == Counter(right)
    if same:
        outcome.counts[f"{group}:same"] += 1
    else:
        outcome.counts[f"{group}:wrong"] += 1
        outcome.wrong.append((group, sql, actual, expected))


def run(seed: int, count: int, groups: list[str] | None = None) -> Outcome:
    """Run `count` random queries per group, drawn from `seed`."""
    rng = random.Random(seed)
    context = make_context()
    duck = make_duck()
    outcome = Outcome()
    chosen = groups or list(GENERATORS)
    for group in chosen:
        for _ in range(count):
            sql, ordered = GENERATORS[group](rng)
            outcome.counts[f"{group}:run"] += 1
            compare(context, duck, sql, ordered, group, outcome)
    duck.close()
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="seed of the query generator")
    parser.add_argument("--count", type=int, default=100, help="queries per feature group")
    parser.add_argument(
        "--group",
        action="append",
        choices=sorted(GENERATORS),
        help="feature group to run; repeat for several",
    )
    parser.add_argument("--show", action="store_true", help="print the gsql errors too")
    args = parser.parse_args(argv)
    outcome = run(args.seed, args.count, args.group)
    for group in args.group or list(GENERATORS):
        counts = {
            kind: outcome.counts[f"{group}:{kind}"]
            for kind in ("run", "same", "refused", "error", "both_fail", "wrong")
        }
        print(group, counts)
    for group, sql, actual, expected in outcome.wrong:
        print(
            f"WRONG [{group}] {sql}\n  gsql:   {sorted(map(repr, actual))[:12]}\n  duckdb: {expected if isinstance(expected, str) else sorted(map(repr, expected))[:12]}"
        )
    if args.show:
        for group, sql, message in outcome.errors:
            print(f"ERROR [{group}] {sql}\n  {message[:300]}")
    return 1 if outcome.wrong else 0


if __name__ == "__main__":
    sys.exit(main())
