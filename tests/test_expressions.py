"""Tests of the scalar expression kernels, each case checked against an engine as the oracle.

DuckDB is the oracle for the default dialect. Every case runs the same SQL in gsql and in a
DuckDB connection over the same Arrow tables. The two results must match value by value:
floats within 1e-9 relative, and exact values (integers, decimals, strings, dates) exactly and
of the same kind on both sides. Python's `sqlite3` is the oracle for the `sqlite`
dialect. PostgreSQL and MySQL are not available here, so their cases state the results that
their manuals give.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import sqlite3
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

import gsql
from gsql.errors import ExecutionError
from gsql.sql.expressions import SCALAR_EXPRESSIONS

UTC = dt.UTC
REL_TOL = 1e-9

_STAMPS = [
    dt.datetime(2024, 1, 31, 23, 30, 15, 500000),
    dt.datetime(2023, 12, 31),
    None,
    dt.datetime(2024, 2, 29, 12),
    dt.datetime(1970, 1, 1, 0, 0, 1),
    dt.datetime(1969, 12, 31, 23, 59, 59),
]

# Rows are keyed by `k`, and every column has a NULL in row 3.
VALUES_TABLE = pa.table(
    {
        "k": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
        "i": pa.array([1, -7, None, 0, 7, 3], pa.int64()),
        "j": pa.array([2, 2, 5, None, -2, -3], pa.int64()),
        "f": pa.array([1.5, -2.5, None, float("nan"), 0.1, -0.0], pa.float64()),
        "d": pa.array(
            [
                decimal.Decimal(v) if v else None
                for v in ["1.25", "-2.50", None, "0.00", "10.05", "-0.05"]
            ],
            pa.decimal128(10, 2),
        ),
        "s": pa.array(["a%b", "x_y", None, "Ünïcödé", "  pad  ", "ab"], pa.string()),
        "day": pa.array(
            [
                dt.date(2024, 1, 31),
                dt.date(2023, 12, 31),
                None,
                dt.date(2024, 2, 29),
                dt.date(2000, 3, 1),
                dt.date(1999, 12, 31),
            ],
            pa.date32(),
        ),
        "ts": pa.array(_STAMPS, pa.timestamp("us")),
        "tsz": pa.array(
            [stamp.replace(tzinfo=UTC) if stamp else None for stamp in _STAMPS],
            pa.timestamp("us", tz="UTC"),
        ),
    }
)

# Every pair of TRUE, FALSE and NULL, for three-valued logic.
_TRUTH = [True, False, None]
LOGIC_TABLE = pa.table(
    {
        "k": pa.array(range(1, 10), pa.int64()),
        "a": pa.array([a for a in _TRUTH for _ in _TRUTH], pa.bool_()),
        "b": pa.array([b for _ in _TRUTH for b in _TRUTH], pa.bool_()),
    }
)

# Integer operands for the division and remainder cases of every dialect.
PAIRS_TABLE = pa.table(
    {
        "k": pa.array(range(1, 9), pa.int64()),
        "a": pa.array([7, -7, 7, -7, 0, None, 9, 1], pa.int64()),
        "b": pa.array([2, 2, -2, -2, 3, 2, None, 4], pa.int64()),
    }
)

# BIGINT values beyond 2**53, where a DOUBLE cannot represent every integer.
BIG_TABLE = pa.table(
    {
        "k": pa.array([1, 2, 3, 4], pa.int64()),
        "x": pa.array([2**60 + 1, 3, -(2**62), None], pa.int64()),
    }
)

TABLES = {"t": VALUES_TABLE, "p": LOGIC_TABLE, "pairs": PAIRS_TABLE, "big": BIG_TABLE}


@pytest.fixture(scope="module")
def context() -> gsql.Context:
    ctx = gsql.Context(engine="pandas")
    for name, table in TABLES.items():
        ctx.register(name, table)
    return ctx


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    for name, table in TABLES.items():
        connection.register(name, table)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def lite() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE pairs (k INTEGER, a INTEGER, b INTEGER)")
    rows = [tuple(row.values()) for row in PAIRS_TABLE.to_pylist()]
    connection.executemany("INSERT INTO pairs VALUES (?, ?, ?)", rows)
    yield connection
    connection.close()


# Comparing results ---------------------------------------------------------------------------


def _kind(value: Any) -> str:
    # `bool` is a subclass of `int`, and `datetime` of `date`, so the order of checks matters.
    for kind in (bool, int, float, decimal.Decimal, str, dt.datetime, dt.date, dt.timedelta):
        if isinstance(value, kind):
            return kind.__name__
    return type(value).__name__


def same_value(got: Any, expected: Any) -> bool:
    """Return whether two result cells agree: the same kind of value, floats within `REL_TOL`.

    Where the oracle returns a DOUBLE, gsql may return any number of the same value (DuckDB
    returns FLOOR of an integer as a DOUBLE). An exact oracle value (integer or DECIMAL) needs
    the same exact kind from gsql.
    """
    if got is None or expected is None:
        return got is None and expected is None
    if isinstance(expected, float) and _kind(got) in ("int", "Decimal"):
        got = float(got)
    if _kind(got) != _kind(expected):
        return False
    if isinstance(expected, float):
        if math.isnan(expected):
            return math.isnan(got)
        return got == expected or math.isclose(got, expected, rel_tol=REL_TOL)
    if isinstance(expected, dt.datetime):
        # An aware and a naive timestamp never match, even when their digits do.
        return (got.tzinfo is None) == (expected.tzinfo is None) and got == expected
    return got == expected


def assert_rows_match(got: Sequence[tuple[Any, ...]], expected: Sequence[tuple[Any, ...]]) -> None:
    assert len(got) == len(expected), f"gsql returned {len(got)} rows, the oracle {len(expected)}"
    mismatches = [
        (index, got_row, expected_row)
        for index, (got_row, expected_row) in enumerate(zip(got, expected))
        if len(got_row) != len(expected_row)
        or not all(same_value(g, e) for g, e in zip(got_row, expected_row))
    ]
    assert not mismatches, "rows differ (index, gsql, oracle): " + repr(mismatches)


def check_against_duckdb(context: gsql.Context, duck: duckdb.DuckDBPyConnection, sql: str) -> None:
    expected = duck.sql(sql).fetchall()
    got = context.sql(sql).rows()
    assert_rows_match(got, expected)


def over(table: str, expression: str) -> str:
    """Return a query that evaluates `expression` on each row of `table`, in `k` order."""
    return f"SELECT k, {expression} AS v FROM {table} ORDER BY k"


def bug(expression: str, reason: str) -> Any:
    """Return a case that gsql gets wrong today, marked as a strict xfail.

    `reason` gives gsql's result and the oracle's.
    """
    return pytest.param(
        expression, id=expression, marks=pytest.mark.xfail(strict=True, reason=reason)
    )


# Three-valued logic, over every pair of TRUE, FALSE and NULL --------------------------------

LOGIC_CASES = [
    "a AND b",
    "a OR b",
    "NOT a",
    "NOT (a AND b)",
    "a AND NOT b OR b IS NULL",
    "a IS NULL",
    "a IS NOT NULL",
    "a IS TRUE",
    "a IS NOT TRUE",
    "a IS FALSE",
    "a IS NOT FALSE",
    "a = b",
    "a <> b",
    "a IS NOT DISTINCT FROM b",
    "a IS DISTINCT FROM b",
    "a AND NULL",
    "a OR NULL",
    "CASE WHEN a THEN 'yes' WHEN NOT a THEN 'no' END",
    "IF(a OR b, 1, 0)",
    "COALESCE(a, b, FALSE)",
]


@pytest.mark.parametrize("expression", LOGIC_CASES)
def test_logic_matches_duckdb(context, duck, expression):
    check_against_duckdb(context, duck, over("p", expression))


# Expressions over columns with NULL, NaN, negatives, decimals, dates and timestamps ----------

COMPARISON_CASES = [
    "i = 1",
    "i <> 1",
    "i < j",
    "i <= j",
    "i > 0",
    "i >= 0",
    "i = d",
    "d > f",
    "i < 1.5",
    "s < 'b'",
    "s = 'Ünïcödé'",
    "i IS NOT DISTINCT FROM NULL",
    "i IS DISTINCT FROM 1",
    "f IS DISTINCT FROM f",
    "i = NULL",
    "NULL = NULL",
    "f = f",
    "f > 1e308",
    "f <> f",
]


@pytest.mark.parametrize("expression", COMPARISON_CASES)
def test_comparison_matches_duckdb(context, duck, expression):
    check_against_duckdb(context, duck, over("t", expression))


PREDICATE_CASES = [
    "i IN (1, 7)",
    "i IN (1, NULL)",
    "i NOT IN (1, 7)",
    # NOT IN over a list containing NULL is never TRUE: NULL for the other values, FALSE for 1.
    "i NOT IN (1, NULL)",
    "NULL IN (1, 2)",
    "i IN (j, 1)",
    "i IN (NULL)",
    "s IN ('a%b', 'ab')",
    "d IN (1.25, 0)",
    "day IN ('2024-01-31', '2000-03-01')",
    "i BETWEEN -7 AND 1",
    "i NOT BETWEEN 0 AND 5",
    "i BETWEEN NULL AND 5",
    "i BETWEEN 5 AND NULL",
    "i BETWEEN j AND 7",
    "f BETWEEN -3 AND 1.5",
    "day BETWEEN '2024-01-01' AND '2024-02-29'",
    "s LIKE 'a%'",
    "s LIKE '%b'",
    "s LIKE '_'",
    "s LIKE '_nïcödé'",
    "s LIKE 'a\\%b' ESCAPE '\\'",
    "s LIKE '%!%%' ESCAPE '!'",
    "s LIKE 'x!_y' ESCAPE '!'",
    "s LIKE 'x_y'",
    "s NOT LIKE '%b'",
    "s NOT LIKE '%!_%' ESCAPE '!'",
    "s ILIKE 'A%B'",
    "s ILIKE '%PAD%'",
    "s ILIKE 'ü%'",
    "s NOT ILIKE 'X%'",
    "s LIKE NULL",
]


@pytest.mark.parametrize("expression", PREDICATE_CASES)
def test_predicate_matches_duckdb(context, duck, expression):
    check_against_duckdb(context, duck, over("t", expression))


CONDITIONAL_CASES = [
    "CASE i WHEN 1 THEN 'one' WHEN -7 THEN 'minus seven' END",
    "CASE i WHEN 1 THEN 'one' ELSE 'other' END",
    "CASE i WHEN NULL THEN 'null' ELSE 'not matched' END",
    "CASE WHEN i > 0 THEN 'positive' WHEN i < 0 THEN 'negative' END",
    "CASE WHEN i > 0 THEN i WHEN f < 0 THEN f ELSE d END",
    "CASE WHEN s LIKE 'a%' THEN day END",
    "CASE WHEN NULL THEN 1 ELSE 2 END",
    "IF(i > 0, s, 'none')",
    "IF(i IS NULL, 0, i)",
    "COALESCE(i, j, 0)",
    "COALESCE(NULL, s)",
    "COALESCE(i, d)",
    "COALESCE(f, i)",
    "COALESCE(day, DATE '2000-01-01')",
    "NULLIF(i, 0)",
    "NULLIF(s, 'ab')",
    "NULLIF(i, NULL)",
    "NULLIF(NULL, i)",
    "NULLIF(d, 0)",
]


@pytest.mark.parametrize("expression", CONDITIONAL_CASES)
def test_conditional_matches_duckdb(context, duck, expression):
    check_against_duckdb(context, duck, over("t", expression))


ARITHMETIC_CASES = [
    "i + j",
    "i - j",
    "i * j",
    "-i",
    "-f",
    "-d",
    "(i + 1) * 2",
    "i / j",
    "f / 2",
    "d / 2",
    "i // j",
    "i % j",
    "i // -2",
    "i % -2",
    "i % 3",
    "-7 // 2",
    "7 // -2",
    "-7 % 2",
    "7 % -2",
    "-7.5 % 2",
    "f % 1",
    "d % 1",
    "i + d",
    "d + 1",
    "d - 0.005",
    "d * d",
    "d * 1.5",
    "d + f",
    "i + f",
    "i * 0.5",
    "i + NULL",
    "NULL * 2",
    "7.5 // 2",
    "f // 1",
]


@pytest.mark.parametrize("expression", ARITHMETIC_CASES)
def test_arithmetic_matches_duckdb(context, duck, expression):
    check_against_duckdb(context, duck, over("t", expression))


MATH_CASES = [
    "ABS(i)",
    "ABS(f)",
    "ABS(d)",
    "ROUND(f)",
    "ROUND(f, 1)",
    "ROUND(d)",
    "ROUND(d, 1)",
    "ROUND(i, -1)",
    "ROUND(f, -1)",
    # SQL rounds halves away from zero.
    "ROUND(2.5)",
    "ROUND(-2.5)",
    "ROUND(0.5::DOUBLE)",
    "ROUND(-1.5::DOUBLE)",
    "ROUND(-0.125, 2)",
    "ROUND(1234.5, -2)",
    "ROUND(25::DOUBLE, -1)",
    "ROUND(-25, -1)",
    "ROUND(i + 0.5)",
    "ROUND(2.675::DOUBLE, 2)",
    "FLOOR(f)",
    "CEIL(f)",
    "FLOOR(d)",
    "CEIL(d)",
    "FLOOR(-2.5)",
    "CEIL(-2.5)",
    "CEILING(i)",
    "FLOOR(i)",
]


@pytest.mark.parametrize("expression", MATH_CASES)
def test_math_matches_duckdb(context, duck, expression):
    check_against_duckdb(context, duck, over("t", expression))


STRING_CASES = [
    "LOWER(s)",
    "UPPER(s)",
    "LENGTH(s)",
    "LENGTH('Ünïcödé')",
    "SUBSTRING(s, 2)",
    "SUBSTRING(s, 2, 3)",
    "SUBSTRING(s, 1, 1)",
    "SUBSTRING(s, 0, 2)",
    "SUBSTRING(s, 0)",
    "SUBSTRING(s, -2)",
    "SUBSTRING(s, -3, 2)",
    "SUBSTRING(s, -10, 12)",
    "SUBSTRING(s, 20)",
    "SUBSTRING(s, 2, 0)",
    "SUBSTRING(s, NULL)",
    "SUBSTRING(s FROM 2 FOR 2)",
    "TRIM(s)",
    "TRIM(LEADING FROM s)",
    "TRIM(TRAILING FROM s)",
    "TRIM(BOTH 'ab' FROM s)",
    "TRIM(LEADING 'a' FROM s)",
    "TRIM(TRAILING 'b' FROM s)",
    "TRIM(LEADING 'Ü' FROM s)",
    "CONCAT(s, '!')",
    "CONCAT(s, NULL, '!')",
    "CONCAT(s, i)",
    "CONCAT(NULL, NULL)",
    "'a' || 'b'",
    "'x' || 1.5",
    "REPLACE(s, '%', 'pct')",
    "REPLACE(s, '_', '')",
    "REPLACE(s, 'ï', 'i')",
    "REPLACE(s, 'zz', 'y')",
    "REPLACE(s, '', 'x')",
    "REPLACE(s, NULL, 'x')",
    "UPPER(COALESCE(s, '-')) || LOWER('ÄB')",
]


# `||` propagates NULL in DuckDB, PostgreSQL and SQLite; only CONCAT skips NULL arguments.
_PIPE_BUG = "`||` with a NULL operand: gsql skips the NULL (as CONCAT does), DuckDB returns NULL"
STRING_BUGS = [
    "s || '!'",
    "'[' || s || ']'",
    "s || i",
    "s || NULL",
    "NULL || s",
    "'a' || NULL",
    "NULL || NULL",
]


@pytest.mark.parametrize("expression", STRING_CASES + STRING_BUGS)
def test_string_matches_duckdb(context, duck, expression):
    check_against_duckdb(context, duck, over("t", expression))


CAST_CASES = [
    "CAST(i AS DOUBLE)",
    "CAST(i AS VARCHAR)",
    "CAST(i AS DECIMAL(38, 2))",
    "CAST(d AS INTEGER)",
    "CAST(d AS BIGINT)",
    "CAST(d AS DOUBLE)",
    "CAST(d AS VARCHAR)",
    "CAST(d AS DECIMAL(5, 2))",
    "CAST(d AS DECIMAL(12, 4))",
    # DECIMAL to integer rounds halves away from zero.
    "CAST(2.5 AS INTEGER)",
    "CAST(-2.5 AS INTEGER)",
    "CAST(1.5::DOUBLE AS INTEGER)",
    "CAST(-1.5::DOUBLE AS INTEGER)",
    "CAST(2.7::DOUBLE AS BIGINT)",
    "CAST(-2.7::DOUBLE AS BIGINT)",
    "CAST(' 42 ' AS INTEGER)",
    "CAST('-3.25' AS DECIMAL(6, 2))",
    "CAST('1e3' AS DOUBLE)",
    "CAST('2024-02-29' AS DATE)",
    "CAST('2024-02-29 13:45:00' AS TIMESTAMP)",
    "CAST('2024-02-29 13:45:00+02' AS TIMESTAMPTZ)",
    "CAST(day AS TIMESTAMP)",
    "CAST(ts AS DATE)",
    "CAST(day AS VARCHAR)",
    "CAST(CAST(ts AS VARCHAR) AS TIMESTAMP)",
    "CAST('true' AS BOOLEAN)",
    "CAST(i AS BOOLEAN)",
    "CAST(NULL AS INTEGER)",
    "CAST(s AS VARCHAR)",
    "TRY_CAST(s AS INTEGER)",
    "TRY_CAST('12' AS INTEGER)",
    "TRY_CAST('2024-13-01' AS DATE)",
    "i::DOUBLE / 4",
    "CAST(f AS VARCHAR)",
    "CAST(2.5::DOUBLE AS INTEGER)",
    "CAST(-0.5::DOUBLE AS BIGINT)",
    "CAST(i AS DECIMAL(10, 2))",
    "CAST(d AS DECIMAL(5, 1))",
    "CAST(ts AS VARCHAR)",
    "CAST(0.0 AS BOOLEAN)",
]


@pytest.mark.parametrize("expression", CAST_CASES)
def test_cast_matches_duckdb(context, duck, expression):
    check_against_duckdb(context, duck, over("t", expression))


DATETIME_CASES = [
    "EXTRACT(year FROM day)",
    "EXTRACT(month FROM day)",
    "EXTRACT(day FROM day)",
    "EXTRACT(dow FROM day)",
    "EXTRACT(doy FROM day)",
    "EXTRACT(quarter FROM day)",
    "EXTRACT(epoch FROM day)",
    "EXTRACT(year FROM ts)",
    "EXTRACT(hour FROM ts)",
    "EXTRACT(dow FROM ts)",
    "EXTRACT(doy FROM ts)",
    "EXTRACT(quarter FROM ts)",
    "EXTRACT(epoch FROM ts)",
    "EXTRACT(month FROM tsz)",
    "EXTRACT(hour FROM tsz)",
    "EXTRACT(dow FROM tsz)",
    "EXTRACT(epoch FROM tsz)",
    "EXTRACT(year FROM DATE '1999-12-31')",
    "DATE_TRUNC('month', day)",
    "DATE_TRUNC('quarter', CAST(day AS DATE))",
    "DATE_TRUNC('year', ts)",
    "DATE_TRUNC('week', ts)",
    "DATE_TRUNC('day', ts)",
    "DATE_TRUNC('hour', ts)",
    "DATE_TRUNC('minute', tsz)",
    "DATE_TRUNC('month', tsz)",
    "day > '2024-01-01'",
    "day = '2024-02-29'",
    "'2000-01-01' < day",
    "ts < '2024-01-01 12:00:00'",
    "ts >= '1970-01-01'",
    "tsz >= '2024-02-29 12:00:00'",
    "day = ts",
    "day < DATE '2000-01-01'",
    "day - DATE '2024-01-01'",
    "day + 3",
    "day - 1",
    "ts + INTERVAL 90 MINUTE",
    "ts + INTERVAL 1 YEAR",
    "ts + INTERVAL '2 days'",
    "tsz + INTERVAL 1 DAY",
    "tsz + INTERVAL 1 MONTH",
    "day + INTERVAL 36 HOUR",
    "day + INTERVAL 1 MONTH",
    "day + INTERVAL '1 day'",
    # Adding months clamps the day to the end of the month: Jan 31 + 1 month is Feb 29 in 2024.
    "CAST(day + INTERVAL 1 MONTH AS DATE)",
    "CAST(day + INTERVAL 1 YEAR AS DATE)",
    "CAST(day + INTERVAL '1 day' AS DATE)",
    "ts - DATE '2024-01-01'",
]

_MINUS_INTERVAL = (
    "subtracting an INTERVAL raises ExecutionError (`cannot cast month_day_nano_interval to "
    "timestamp`): the interval is taken for a timestamp operand"
)
DATETIME_BUGS = [
    "day - INTERVAL '1 day'",
    "ts - INTERVAL 1 WEEK",
    "tsz - INTERVAL 1 MONTH",
]


@pytest.mark.parametrize("expression", DATETIME_CASES + DATETIME_BUGS)
def test_datetime_matches_duckdb(context, duck, expression):
    check_against_duckdb(context, duck, over("t", expression))


FUNCTION_CASES = [
    "STRPOS(s, 'b')",
    "POSITION('_' IN s)",
    "INSTR(s, 'ï')",
    "LEFT(s, 2)",
    "RIGHT(s, 2)",
    "LEFT(s, -1)",
    "RIGHT(s, -2)",
    "LPAD(s, 5, '*')",
    "RPAD(s, 5, '*')",
    "LPAD(s, 2, '*')",
    "SPLIT_PART(s, '_', 2)",
    "SPLIT_PART(s, '_', -1)",
    "SPLIT_PART(s, '', 1)",
    "STARTS_WITH(s, 'a')",
    "ENDS_WITH(s, 'b')",
    "CONTAINS(s, '%')",
    "REGEXP_MATCHES(s, '[a-z]_')",
    "REGEXP_MATCHES(s, '^a')",
    "REGEXP_REPLACE(s, '[aeiou]', '-')",
    "REGEXP_REPLACE(s, '[a-z]', '-', 'g')",
    "REGEXP_EXTRACT(s, '([a-z])_', 1)",
    "REGEXP_EXTRACT(s, '[a-z]+')",
    "REVERSE(s)",
    "CONCAT_WS('-', s, 'z')",
    "CONCAT_WS(',', i, j)",
    "CONCAT_WS(NULL, s, 'z')",
    "REPEAT(s, 2)",
    "REPEAT(s, 0)",
    "ASCII(s)",
    "CHR(65)",
    "CHR(252)",
    "GREATEST(i, j)",
    "LEAST(i, j)",
    "GREATEST(i, j, 0)",
    "GREATEST(i, NULL)",
    "LEAST(s, 'b')",
    "LEAST(day, '2024-01-01')",
    "SIGN(i)",
    "SQRT(f)",
    "SQRT(d)",
    "SQRT(-1)",
    "POW(i, 2)",
    "POWER(f, 0.5)",
    "POW(2, -1)",
    "LN(f)",
    "LN(0)",
    "LOG(f)",
    "LOG10(f)",
    "LOG(2, 8)",
    "LOG2(8)",
    "EXP(f)",
    "EXP(i)",
    "TRUNC(f)",
    "TRUNC(d)",
    "TRUNC(i)",
    "TRUNC(-2.7)",
    "YEAR(day)",
    "MONTH(ts)",
    "DAY(tsz)",
    "DAYOFWEEK(day)",
    "DAYOFYEAR(ts)",
    "QUARTER(day)",
    "DATE_PART('year', day)",
    "DATEPART('month', ts)",
    "DATE_PART('dow', tsz)",
    "DATE_PART('epoch', ts)",
    "DATE_ADD(day, INTERVAL 1 MONTH)",
    "DATE_ADD(ts, INTERVAL 2 HOUR)",
    # DATE_DIFF counts unit boundaries crossed, not whole units elapsed.
    "DATE_DIFF('day', day, ts)",
    "DATE_DIFF('month', day, DATE '2024-03-01')",
    "DATE_DIFF('year', ts, TIMESTAMP '2024-01-01')",
    "DATEDIFF('hour', ts, TIMESTAMP '2024-01-01')",
    "STRFTIME(ts, '%Y-%m-%d %H:%M')",
    "STRFTIME(day, '%d/%m/%Y')",
    "STRPTIME('2024-02-29 10:00', '%Y-%m-%d %H:%M')",
    "CURRENT_DATE",
    "LAST_DAY(day)",
    "LAST_DAY(ts)",
    "MAKE_DATE(2024, 2, 29)",
    "MAKE_DATE(i + 2000, 1, 1)",
    "EPOCH(ts)",
    "EPOCH(day)",
    "TO_TIMESTAMP(1.5)",
    "TO_TIMESTAMP(i)",
]

_CONCAT_WS_ALL_NULL = (
    "CONCAT_WS raises ExecutionError (`Length of values (5) does not match length of index "
    "(6)`) when every value of a row is NULL; DuckDB returns ''"
)
# Bitwise operators on the rows of `t`; `i` holds NULL and negative values. TRY turns the rows
# where its argument fails into NULL.
BITWISE_CASES = [
    "TRY(CAST(s AS INTEGER))",
    "i & 6",
    "i | 1",
    "xor(i, 3)",
    "ABS(i) << 2",
    "i >> 1",
    "~i",
    "bit_length(s)",
    "get_bit(CAST(i AS INTEGER)::BIT, 31)",
]


@pytest.mark.parametrize("expression", BITWISE_CASES)
def test_bitwise_matches_duckdb(context, duck, expression):
    check_against_duckdb(context, duck, over("t", expression))


def test_shift_overflow_raises(context):
    with pytest.raises(ExecutionError, match="1 << 63"):
        context.sql("SELECT 1 << 63")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("1 << 63", -(2**63), id="wraps-to-min-bigint"),
        pytest.param("1 << 64", 0, id="shifted-out"),
        pytest.param("-8 >> 1", -4, id="arithmetic-right-shift"),
        pytest.param("8 << -1", 4, id="negative-amount-shifts-right"),
    ],
)
def test_sqlite_shift_matches_sqlite(context, lite, expression, expected):
    assert lite.execute(f"SELECT {expression}").fetchone()[0] == expected
    assert context.sql(f"SELECT {expression}", dialect="sqlite").rows() == [(expected,)]


FUNCTION_BUGS = [
    "CONCAT_WS('-', s, i)",
    "CONCAT_WS('-', s, NULL)",
    "GREATEST(f, i)",
    "SIGN(f)",
    "SIGN(d)",
]


@pytest.mark.parametrize("expression", FUNCTION_CASES + FUNCTION_BUGS)
def test_function_matches_duckdb(context, duck, expression):
    check_against_duckdb(context, duck, over("t", expression))


# Functions that DuckDB spells differently: (dialect, expression in that dialect, the same in
# DuckDB's dialect).
DIALECT_CASES = [
    pytest.param(
        "mysql",
        "DATE_SUB(day, INTERVAL 1 DAY)",
        "day - INTERVAL 1 DAY",
        id="mysql-date-sub-day",
    ),
    pytest.param(
        "mysql",
        "DATE_SUB(ts, INTERVAL 2 MONTH)",
        "ts - INTERVAL 2 MONTH",
        id="mysql-date-sub-month",
    ),
    pytest.param(
        "postgres",
        "INITCAP('hello wORLD')",
        "'Hello World'",
        id="postgres-initcap",
    ),
]


@pytest.mark.parametrize(("dialect", "expression", "duckdb_expression"), DIALECT_CASES)
def test_dialect_function_matches_duckdb(context, duck, dialect, expression, duckdb_expression):
    expected = duck.sql(over("t", duckdb_expression)).fetchall()
    got = context.sql(over("t", expression), dialect=dialect).rows()
    assert_rows_match(got, expected)


_BIG_TO_DOUBLE = (
    "converting a BIGINT above 2**53 to DOUBLE raises ExecutionError (`Integer value ... not in "
    "range: -9007199254740992 to 9007199254740992`, a checked Arrow cast); DuckDB rounds to "
    "the nearest DOUBLE"
)
BIG_CASES = [
    "x - 1",
    "x * 1.5",
    "x + 0.5",
    "x // 2",
    "x % 7",
    "x = 1.5",
    "x > 2.5",
    "x / 2",
    "CAST(x AS DOUBLE)",
    "x + 0.5::DOUBLE",
]


@pytest.mark.parametrize("expression", BIG_CASES)
def test_big_integer_matches_duckdb(context, duck, expression):
    check_against_duckdb(context, duck, over("big", expression))


def test_avg_of_big_integers_matches_duckdb(context, duck):
    check_against_duckdb(context, duck, "SELECT AVG(x) FROM big")


# Errors where DuckDB raises too --------------------------------------------------------------

OVERFLOW_CASES = [
    pytest.param("9223372036854775807 + i", "overflow", id="add-overflow"),
    pytest.param("i - 9223372036854775807 - 10", "overflow", id="subtract-overflow"),
    pytest.param("i * 4611686018427387904", "overflow", id="multiply-overflow"),
    pytest.param("CAST(9223372036854775807 AS BIGINT) * 2", "overflow", id="constant-overflow"),
    pytest.param("ABS(-9223372036854775807 - 1)", "overflow", id="abs-overflow"),
    pytest.param("i // 0", "division by zero", id="integer-division-by-zero"),
    pytest.param("i % 0", "division by zero", id="modulo-by-zero"),
    pytest.param("CAST(300 AS TINYINT)", "cannot cast", id="cast-out-of-range"),
    pytest.param("CAST('2024-02-30' AS DATE)", "cannot cast", id="cast-invalid-date"),
    pytest.param("CAST(s AS INTEGER)", "cannot cast", id="cast-invalid-integer"),
    pytest.param("CAST('maybe' AS BOOLEAN)", "BOOLEAN", id="cast-invalid-boolean"),
    pytest.param(
        "CAST(f AS INTEGER)",
        "cannot cast",
        id="cast-nan-to-integer",
    ),
]


@pytest.mark.parametrize(("expression", "message"), OVERFLOW_CASES)
def test_error_raised_like_duckdb(context, duck, expression, message):
    sql = over("t", expression)
    with pytest.raises(duckdb.Error, match=r"(?i)overflow|division by zero|conver|out of range"):
        duck.sql(sql).fetchall()
    with pytest.raises(ExecutionError, match=message):
        context.sql(sql)


def test_integer_overflow_does_not_wrap(context):
    # Arrow's unchecked kernels would wrap 2**62 + 2**62 to -2**63.
    big = pa.table({"x": pa.array([2**62, 1], pa.int64())})
    context.register("wrap", big)
    with pytest.raises(ExecutionError, match="overflow"):
        context.sql("SELECT x + x FROM wrap")
    with pytest.raises(ExecutionError, match="overflow"):
        context.sql("SELECT x * 2 FROM wrap")


# SUM over BIGINT ----------------------------------------------------------------------------
# DuckDB widens SUM(BIGINT) to HUGEINT, so it is no oracle for the overflow. gsql keeps BIGINT,
# so it must raise rather than wrap.


@pytest.fixture(scope="module")
def sums(context) -> gsql.Context:
    context.register("many", pa.table({"x": pa.array([2**53] * 1100, pa.int64())}))
    context.register("two_huge", pa.table({"x": pa.array([2**62, 2**62], pa.int64())}))
    context.register("near_max", pa.table({"x": pa.array([2**62, 2**60, -5], pa.int64())}))
    return context


def test_sum_overflow_raises(sums):
    with pytest.raises(ExecutionError, match="integer overflow: SUM"):
        sums.sql("SELECT SUM(x) FROM many")


def test_sum_overflow_in_groups_raises(sums):
    with pytest.raises(ExecutionError, match="integer overflow: SUM"):
        sums.sql("SELECT x > 0 AS positive, SUM(x) FROM many GROUP BY positive")


def test_sum_overflow_of_huge_values(sums):
    with pytest.raises(ExecutionError, match="integer overflow: SUM"):
        sums.sql("SELECT SUM(x) FROM two_huge")


def test_sum_of_large_values_within_range(sums):
    assert sums.sql("SELECT SUM(x) FROM near_max").rows() == [(2**62 + 2**60 - 5,)]


def test_sum_matches_duckdb(context, duck):
    sql = "SELECT SUM(i), SUM(j), SUM(d) FROM t"
    check_against_duckdb(context, duck, sql)


# Division and remainder per dialect ----------------------------------------------------------

# SQLite: integer `/` truncates toward zero, `%` takes the sign of the dividend, and a zero
# divisor gives NULL.
SQLITE_CASES = [
    "x'303132'",
    "a / b",
    "a % b",
    "a * 1.0 / b",
    "a / 0",
    "-7 / 2",
    "-7 % 2",
    "7 / -2",
    "1 / 0",
    "7.0 / 2",
]


@pytest.mark.parametrize("expression", SQLITE_CASES)
def test_sqlite_division_matches_sqlite(context, lite, expression):
    sql = over("pairs", expression)
    expected = lite.execute(sql).fetchall()
    got = context.sql(sql, dialect="sqlite").rows()
    assert_rows_match(got, expected)


def test_sqlite_modulo_by_zero_is_null(context, lite):
    sql = over("pairs", "a % 0")
    expected = lite.execute(sql).fetchall()
    got = context.sql(sql, dialect="sqlite").rows()
    assert_rows_match(got, expected)


# PostgreSQL is not run here. Its manual (Mathematical Operators, version 11) states that integer
# `/` truncates. Its `%` takes the sign of the dividend, and a zero divisor raises "division by
# zero".
POSTGRES_CASES = [
    pytest.param("SELECT 7 / 2", [(3,)], id="7/2"),
    pytest.param("SELECT -7 / 2", [(-3,)], id="-7/2"),
    pytest.param("SELECT 7 / -2", [(-3,)], id="7/-2"),
    pytest.param("SELECT -7 % 2", [(-1,)], id="-7%2"),
    pytest.param("SELECT 7 % -2", [(1,)], id="7%-2"),
    pytest.param("SELECT 7.0 / 2", [(decimal.Decimal("3.5"),)], id="7.0/2"),
    pytest.param(
        "SELECT a / b FROM pairs ORDER BY k",
        [(3,), (-3,), (-3,), (3,), (0,), (None,), (None,), (0,)],
        id="column-division",
    ),
]


@pytest.mark.parametrize(("sql", "expected"), POSTGRES_CASES)
def test_postgres_division(context, sql, expected):
    rows = context.sql(sql, dialect="postgres").rows()
    assert rows == expected


DIVISION_BY_ZERO_ERRORS = [
    pytest.param("duckdb", "SELECT 1 // 0", id="duckdb-integer-division"),
    pytest.param("duckdb", "SELECT a // (b - b) FROM pairs", id="duckdb-column"),
    pytest.param("duckdb", "SELECT 5 % 0", id="duckdb-modulo"),
    pytest.param("postgres", "SELECT 1 / 0", id="postgres-constant"),
    pytest.param("postgres", "SELECT a / 0 FROM pairs", id="postgres-column"),
    pytest.param("postgres", "SELECT a % 0 FROM pairs", id="postgres-modulo"),
]


@pytest.mark.parametrize(("dialect", "sql"), DIVISION_BY_ZERO_ERRORS)
def test_division_by_zero_raises(context, dialect, sql):
    # DuckDB 2.0.1 raises for `//` and `%` by zero, and PostgreSQL for every division.
    with pytest.raises(ExecutionError, match="division by zero"):
        context.sql(sql, dialect=dialect)


def test_duckdb_double_division_by_zero_matches_duckdb(context, duck):
    # DuckDB 2.0.1's `/` is DOUBLE division: 1 / 0 is inf, -1 / 0 is -inf and 0 / 0 is NaN.
    check_against_duckdb(context, duck, "SELECT 1 / 0 AS a, -1 / 0 AS b, 0 / 0 AS c, 1.5 / 0 AS d")


# SQLite returns NULL for a zero divisor. So do MySQL and MariaDB, for `/` and `%` alike, unless
# the ERROR_FOR_DIVISION_BY_ZERO SQL mode is set (MariaDB manual, MOD).
DIVISION_BY_ZERO_NULLS = [
    pytest.param("sqlite", "SELECT 1 / 0", id="sqlite-constant"),
    pytest.param("sqlite", "SELECT a / (b - b) FROM pairs WHERE k = 1", id="sqlite-column"),
    pytest.param("mysql", "SELECT 1 / 0", id="mysql-constant"),
    pytest.param("mysql", "SELECT a / (b - b) FROM pairs WHERE k = 1", id="mysql-column"),
    pytest.param(
        "mysql",
        "SELECT 7 % 0",
        id="mysql-modulo",
    ),
]


@pytest.mark.parametrize(("dialect", "sql"), DIVISION_BY_ZERO_NULLS)
def test_division_by_zero_is_null(context, dialect, sql):
    assert context.sql(sql, dialect=dialect).rows() == [(None,)]


# Coverage of SCALAR_EXPRESSIONS ---------------------------------------------------------------


def _case_expressions() -> list[tuple[str, str]]:
    lists = [
        LOGIC_CASES,
        COMPARISON_CASES,
        PREDICATE_CASES,
        CONDITIONAL_CASES,
        ARITHMETIC_CASES,
        MATH_CASES,
        STRING_CASES,
        CAST_CASES,
        DATETIME_CASES,
        FUNCTION_CASES,
        FUNCTION_BUGS,
        BITWISE_CASES,
    ]
    found = []
    for cases in lists:
        for case in cases:
            text = case.values[0] if hasattr(case, "values") else case
            found.append(("duckdb", f"SELECT {text}"))
    found += [("sqlite", f"SELECT {text}") for text in SQLITE_CASES]
    found += [(case.values[0], f"SELECT {case.values[1]}") for case in DIALECT_CASES]
    return found


def test_cases_cover_every_scalar_expression():
    covered: set[type[exp.Expression]] = set()
    for dialect, sql in _case_expressions():
        covered |= {type(node) for node in sqlglot.parse_one(sql, read=dialect).walk()}
    missing = sorted(kind.__name__ for kind in SCALAR_EXPRESSIONS - covered)
    assert missing == []
