"""LIKE and ILIKE in every pattern shape, against DuckDB.

Patterns made of `%` and literal text take Arrow's substring kernels instead of a regular
expression, so each shape is checked on strings with NULLs, newlines, case differences and
non-ASCII letters.
"""

from __future__ import annotations

import random
from collections import Counter

import duckdb
import pyarrow as pa
import pytest

import gsql

PATTERNS = [
    "%", "%%", "", "a", "a%", "%a", "%a%", "a%b", "ab%b", "a%%b", "%a%b%", "%ab%",
    "%a%b", "a%b%", "A%", "%B", "%é%", "a_b", "%a_%",
]  # fmt: skip


@pytest.fixture(scope="module")
def engines():
    generator = random.Random(3)
    strings = ["".join(generator.choice("abAB\né") for _ in range(generator.randint(0, 5))) for _ in range(300)]
    table = pa.table({"s": pa.array([*strings, None, "", "ab", "abb", "ba"], pa.large_string())})
    context = gsql.Context(engine="pandas")
    context.register("t", table)
    connection = duckdb.connect()
    connection.register("t", table)
    yield context, connection
    connection.close()


@pytest.mark.parametrize("operator", ["LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"])
@pytest.mark.parametrize("pattern", PATTERNS)
def test_like_shape_matches_duckdb(engines, operator, pattern):
    context, connection = engines
    sql = f"SELECT s, s {operator} '{pattern}' FROM t"
    assert Counter(context.sql(sql).rows()) == Counter(connection.sql(sql).fetchall())


def test_like_newline_inside_percent(engines):
    context, connection = engines
    sql = "SELECT s FROM t WHERE s LIKE '%' || chr(10) || '%'"
    assert Counter(context.sql(sql).rows()) == Counter(connection.sql(sql).fetchall())
