"""Window functions checked against DuckDB: frames with EXCLUDE and GROUPS, FILTER, DISTINCT,
statistical and bitwise aggregates, and DuckDB's ORDER BY among a function's arguments.

Each query runs in gsql, on every engine of `--gsql-engines`, and in DuckDB over the same Arrow
table, and ends in `ORDER BY id` so rows compare one by one. Every ORDER BY that picks single
rows (ROWS frames, FIRST_VALUE, LEAD) ends in the unique `id`, because SQL leaves the order of
tied rows open and DuckDB's sort is not stable.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import random

import duckdb
import pyarrow as pa
import pytest

import gsql
from gsql.engine import window_aggregates
from gsql.errors import BindError, UnsupportedError


def _table() -> pa.Table:
    generator = random.Random(7)
    size = 36

    def pick(choices: list) -> list:
        return [generator.choice(choices) for _ in range(size)]

    return pa.table(
        {
            "id": pa.array(range(size), pa.int64()),
            "p": pa.array(pick([1, 2, 3, None]), pa.int64()),
            "o": pa.array(pick([1, 2, 3, 4, 5, None]), pa.int64()),
            "x": pa.array(pick([1, 2, 3, 4, 5, 6, 7, None]), pa.int64()),
            "y": pa.array(pick([1.5, 2.0, -3.0, 4.25, 10.0, None]), pa.float64()),
            "s": pa.array(pick(["a", "b", "c", None]), pa.string()),
        }
    )


TABLE = _table()


@pytest.fixture(scope="module")
def context(gsql_engine: str) -> gsql.Context:
    ctx = gsql.Context(engine=gsql_engine)
    ctx.register("t", TABLE)
    return ctx


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.register("t", TABLE)
    yield connection
    connection.close()


def _same(want: object, got: object) -> bool:
    if want is None or got is None:
        return want is got
    if isinstance(want, float) or isinstance(got, float):
        if isinstance(want, float) and math.isnan(want):
            return isinstance(got, float) and math.isnan(got)
        return math.isclose(float(want), float(got), rel_tol=1e-9, abs_tol=1e-12)
    return want == got


def assert_matches_duckdb(context: gsql.Context, duck: duckdb.DuckDBPyConnection, sql: str) -> None:
    expected = duck.sql(sql).fetchall()
    actual = context.sql(sql).rows()
    assert len(actual) == len(expected)
    for want, got in zip(expected, actual):
        assert all(_same(a, b) for a, b in zip(want, got)), f"expected {want}, got {got}"


def _query(function: str, over: str) -> str:
    return f"SELECT id, {function} OVER ({over}) AS w FROM t ORDER BY id"


# Frames with EXCLUDE and GROUPS ----------------------------------------------------------------

EXCLUDE_OVERS = [
    f"PARTITION BY p ORDER BY o, id {frame} EXCLUDE {exclude}"
    for frame in (
        "ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING",
        "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING",
        "GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING",
    )
    for exclude in ("CURRENT ROW", "GROUP", "TIES", "NO OTHERS")
] + [
    "ORDER BY o RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE TIES",
    "ORDER BY o RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING EXCLUDE GROUP",
    "ORDER BY o DESC GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW",
]
EXCLUDE_FUNCTIONS = ["SUM(x)", "COUNT(*)", "MIN(s)", "MAX(y)", "AVG(x)", "COUNT(DISTINCT x)"]


@pytest.mark.parametrize("over", EXCLUDE_OVERS)
@pytest.mark.parametrize("function", EXCLUDE_FUNCTIONS)
def test_exclude_aggregate_matches_duckdb(context, duck, function, over):
    assert_matches_duckdb(context, duck, _query(function, over))


VALUE_FUNCTIONS = [
    "FIRST_VALUE(x)",
    "LAST_VALUE(x)",
    "NTH_VALUE(x, 3)",
    "FIRST_VALUE(x IGNORE NULLS)",
    "LAST_VALUE(x IGNORE NULLS)",
    "NTH_VALUE(x, 2 IGNORE NULLS)",
    "ANY_VALUE(x)",
    "STRING_AGG(s, '-')",
]
VALUE_OVERS = [
    "PARTITION BY p ORDER BY o, id ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING EXCLUDE CURRENT ROW",
    "ORDER BY o, id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE TIES",
    "ORDER BY o, id ROWS BETWEEN 1 FOLLOWING AND 3 FOLLOWING",
    "ORDER BY id GROUPS BETWEEN 2 PRECEDING AND 1 PRECEDING",
    "PARTITION BY p ORDER BY id DESC GROUPS BETWEEN CURRENT ROW AND 3 FOLLOWING EXCLUDE GROUP",
]


@pytest.mark.parametrize("over", VALUE_OVERS)
@pytest.mark.parametrize("function", VALUE_FUNCTIONS)
def test_frame_value_matches_duckdb(context, duck, function, over):
    assert_matches_duckdb(context, duck, _query(function, over))


@pytest.mark.parametrize(
    "over",
    [
        "ORDER BY o GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW",
        "ORDER BY o NULLS FIRST GROUPS BETWEEN CURRENT ROW AND 2 FOLLOWING",
        "PARTITION BY p ORDER BY o DESC GROUPS BETWEEN 2 PRECEDING AND 1 PRECEDING",
        "PARTITION BY p ORDER BY o GROUPS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING",
    ],
)
def test_groups_frame_matches_duckdb(context, duck, over):
    assert_matches_duckdb(context, duck, _query("SUM(x)", over))


# Aggregates per frame ---------------------------------------------------------------------------

AGGREGATES = [
    "SUM(x) FILTER (WHERE y > 0)",
    "COUNT(*) FILTER (WHERE s = 'a')",
    "AVG(x) FILTER (WHERE o IS NULL)",
    "MEDIAN(x) FILTER (WHERE x <> 3)",
    "ANY_VALUE(s) FILTER (WHERE x > 4)",
    "COUNT(DISTINCT s)",
    "SUM(DISTINCT x)",
    "AVG(DISTINCT x)",
    "MAX(DISTINCT s)",
    "MEDIAN(y)",
    "QUANTILE_CONT(x, 0.25)",
    "QUANTILE_DISC(y, 0.75)",
    "STDDEV_SAMP(y)",
    "VAR_POP(x)",
    "BOOL_OR(x > 5)",
    "BIT_AND(x)",
    "BIT_OR(x)",
    "BIT_XOR(x)",
    "MODE(x)",
    "MODE(s)",
    "CORR(y, x)",
    "COVAR_POP(y, x)",
    "COVAR_SAMP(y, x)",
    "REGR_AVGX(y, x)",
    "REGR_AVGY(y, x)",
    "REGR_COUNT(y, x)",
    "REGR_INTERCEPT(y, x)",
    "REGR_R2(y, x)",
    "REGR_SLOPE(y, x)",
    "REGR_SXX(y, x)",
    "REGR_SXY(y, x)",
    "REGR_SYY(y, x)",
]
AGGREGATE_OVERS = [
    "PARTITION BY p",
    "ORDER BY o, id ROWS BETWEEN 3 PRECEDING AND 1 FOLLOWING",
    "PARTITION BY p ORDER BY o, id ROWS BETWEEN 1 FOLLOWING AND 2 FOLLOWING",
    "ORDER BY o, id",
]
# MODE and ANY_VALUE pick among tied rows by frame order, which ties in `o` leave open.
ORDER_FREE_AGGREGATES = [name for name in AGGREGATES if not name.startswith(("MODE", "ANY_VALUE"))]


@pytest.mark.parametrize("over", AGGREGATE_OVERS)
@pytest.mark.parametrize("function", AGGREGATES)
def test_frame_aggregate_matches_duckdb(context, duck, function, over):
    assert_matches_duckdb(context, duck, _query(function, over))


@pytest.mark.parametrize("function", ORDER_FREE_AGGREGATES)
def test_range_frame_aggregate_matches_duckdb(context, duck, function):
    assert_matches_duckdb(context, duck, _query(function, "PARTITION BY p ORDER BY o"))


def test_frame_aggregate_in_small_batches(context, duck, monkeypatch):
    # Gathering only a few rows per batch splits the distinct frames over many batches.
    monkeypatch.setattr(window_aggregates, "_GATHER_LIMIT", 5)
    sql = _query("MEDIAN(x)", "ORDER BY o, id ROWS BETWEEN 4 PRECEDING AND CURRENT ROW")
    assert_matches_duckdb(context, duck, sql)


def test_frame_aggregate_over_empty_table(context):
    sql = "SELECT MODE(x) OVER (ORDER BY id ROWS 2 PRECEDING) AS m FROM t WHERE id < 0"
    assert context.sql(sql).rows() == []


# ORDER BY among the arguments -------------------------------------------------------------------

ORDERED_FUNCTIONS = [
    "ROW_NUMBER(ORDER BY x, id)",
    "RANK(ORDER BY x)",
    "RANK(ORDER BY s DESC NULLS FIRST)",
    "PERCENT_RANK(ORDER BY x)",
    "CUME_DIST(ORDER BY s)",
    "NTILE(3 ORDER BY x, id)",
    "LEAD(x ORDER BY x, id)",
    "LAG(x, 2, -1 ORDER BY y DESC, id)",
    "LEAD(s, 1, 'none' ORDER BY s, id DESC)",
    "FIRST_VALUE(x ORDER BY y, id)",
    "LAST_VALUE(s ORDER BY x, id IGNORE NULLS)",
    "NTH_VALUE(x, 2 ORDER BY s DESC, id)",
    "FIRST_VALUE(x ORDER BY s, id IGNORE NULLS)",
    "STRING_AGG(s, ',' ORDER BY x, id)",
    "STRING_AGG(s, '-' ORDER BY s DESC NULLS FIRST, id)",
    "STRING_AGG(s, ',' ORDER BY y, id) FILTER (WHERE x > 1)",
    "SUM(x ORDER BY y DESC)",
    "MAX(s ORDER BY x)",
]
ORDERED_OVERS = [
    "PARTITION BY p ORDER BY o, id",
    "ORDER BY o, id ROWS BETWEEN 3 PRECEDING AND 2 FOLLOWING",
    "ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 4 FOLLOWING",
    "PARTITION BY p ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING",
    "ORDER BY o RANGE BETWEEN 1 PRECEDING AND CURRENT ROW",
]


@pytest.mark.parametrize("over", ORDERED_OVERS)
@pytest.mark.parametrize("function", ORDERED_FUNCTIONS)
def test_argument_order_matches_duckdb(context, duck, function, over):
    assert_matches_duckdb(context, duck, _query(function, over))


def test_ntile_of_null_is_null(context, duck):
    assert_matches_duckdb(context, duck, _query("NTILE(NULL)", "PARTITION BY p ORDER BY id"))


def test_unordered_window_output_follows_window_order(context, duck):
    sql = "SELECT id, ROW_NUMBER() OVER (ORDER BY o DESC, id) AS r FROM t"
    assert context.sql(sql).rows() == duck.sql(sql).fetchall()


def test_frame_after_current_row_is_empty(context):
    # DuckDB 2.0.1 rejects this frame; its later development head runs it as an empty frame.
    sql = "SELECT id, COUNT(*) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND CURRENT ROW) FROM t"
    assert {count for _, count in context.sql(sql).rows()} == {0}


# Errors -----------------------------------------------------------------------------------------

WINDOW_ERRORS = [
    pytest.param(
        "SELECT SUM(x) OVER (w) FROM t WINDOW w AS (ORDER BY id ROWS 1 PRECEDING)",
        "has a frame clause",
        id="copy-framed-window",
    ),
    pytest.param(
        "SELECT COUNT(*) OVER w FROM t WINDOW w AS (base), base AS (ORDER BY id)",
        "does not exist",
        id="forward-window-reference",
    ),
    pytest.param(
        "SELECT RANK() FILTER (WHERE x > 1) OVER (ORDER BY id) FROM t",
        "FILTER is not allowed",
        id="filter-on-rank",
    ),
    pytest.param(
        "SELECT DENSE_RANK(ORDER BY x) OVER (ORDER BY id) FROM t",
        "ORDER BY inside the arguments",
        id="dense-rank-argument-order",
    ),
    pytest.param(
        "SELECT RANK(ORDER BY x) OVER (ORDER BY id ROWS 2 PRECEDING EXCLUDE TIES) FROM t",
        "EXCLUDE is not allowed",
        id="exclude-with-argument-order",
    ),
    pytest.param(
        "SELECT SUM(x) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND 1 PRECEDING) FROM t",
        "cannot end at a preceding row",
        id="frame-ends-before-start",
    ),
]


@pytest.mark.parametrize(("sql", "message"), WINDOW_ERRORS)
def test_invalid_window_raises(context, sql, message):
    with pytest.raises(BindError, match=message):
        context.sql(sql)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        pytest.param(
            "SELECT STRING_AGG(DISTINCT s, ',') OVER () FROM t",
            "DISTINCT in the window aggregate",
            id="distinct-string-agg",
        ),
        pytest.param(
            "SELECT ANY_VALUE(s ORDER BY x) OVER () FROM t",
            "ORDER BY inside the window aggregate",
            id="ordered-any-value",
        ),
        pytest.param(
            "SELECT LEAD(x ORDER BY y IGNORE NULLS) OVER (ORDER BY id) FROM t",
            "IGNORE NULLS in `LEAD",
            id="lead-ignore-nulls-argument-order",
        ),
        pytest.param(
            "SELECT APPROX_COUNT_DISTINCT(x) OVER () FROM t",
            "window function `APPROX_DISTINCT",
            id="approximate-count",
        ),
    ],
)
def test_unsupported_window_raises(context, sql, message):
    with pytest.raises(UnsupportedError, match=message):
        context.sql(sql)


# INTERVAL offsets and INTERVAL keys -------------------------------------------------------------

TIMES = pa.table(
    {
        "id": pa.array(range(8), pa.int64()),
        "d": pa.array(
            [
                dt.date(2023, 1, 1),
                dt.date(2023, 1, 2),
                dt.date(2023, 1, 2),
                None,
                dt.date(2023, 1, 5),
                dt.date(2023, 1, 9),
                dt.date(2023, 1, 4),
                dt.date(2023, 1, 3),
            ]
        ),
        "ts": pa.array(
            [
                dt.datetime(2023, 1, 1, 10),
                dt.datetime(2023, 1, 1, 12),
                dt.datetime(2023, 1, 2, 9),
                None,
                dt.datetime(2023, 1, 1, 11, 30),
                dt.datetime(2023, 1, 3),
                dt.datetime(2023, 1, 1, 10),
                dt.datetime(2023, 1, 2, 10),
            ],
            pa.timestamp("us"),
        ),
        "f": pa.array([1.0, math.nan, 2.0, None, 3.5, math.nan, 0.5, 2.5]),
        "x": pa.array(range(1, 9), pa.int64()),
    }
)


@pytest.fixture(scope="module")
def times(gsql_engine: str) -> tuple[gsql.Context, duckdb.DuckDBPyConnection]:
    ctx = gsql.Context(engine=gsql_engine)
    ctx.register("times", TIMES)
    connection = duckdb.connect()
    connection.register("times", TIMES)
    return ctx, connection


@pytest.mark.parametrize(
    "over",
    [
        "ORDER BY d RANGE BETWEEN INTERVAL 2 DAYS PRECEDING AND INTERVAL 1 DAY PRECEDING",
        "ORDER BY d DESC RANGE BETWEEN INTERVAL 2 DAYS PRECEDING AND CURRENT ROW",
        "ORDER BY ts RANGE BETWEEN INTERVAL 90 MINUTES PRECEDING AND INTERVAL 1 HOUR FOLLOWING",
        "ORDER BY ts DESC RANGE BETWEEN INTERVAL '1' DAY PRECEDING AND CURRENT ROW",
        "ORDER BY f RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING",
        "ORDER BY f DESC RANGE BETWEEN 1 PRECEDING AND 0.5 FOLLOWING",
    ],
)
def test_range_offset_matches_duckdb(times, over):
    context, duck = times
    sql = f"SELECT id, SUM(x) OVER ({over}) AS w FROM times ORDER BY id"
    assert context.sql(sql).rows() == duck.sql(sql).fetchall()


def test_range_month_offset_over_dates_raises(times):
    context, _ = times
    sql = "SELECT SUM(x) OVER (ORDER BY d RANGE INTERVAL 1 MONTH PRECEDING) FROM times"
    with pytest.raises(UnsupportedError, match="months or years over DATE or TIMESTAMP"):
        context.sql(sql)


INTERVALS = (
    "(VALUES (1, INTERVAL 30 DAY), (2, INTERVAL 1 MONTH), (3, INTERVAL 29 DAY),"
    " (4, INTERVAL 25 HOUR), (5, INTERVAL 1 DAY), (6, NULL), (7, INTERVAL '-2' DAY),"
    " (8, INTERVAL 720 HOUR), (9, INTERVAL 1 YEAR)) AS v(id, k)"
)


@pytest.mark.parametrize(
    "sql",
    [
        f"SELECT id, ROW_NUMBER() OVER (ORDER BY k, id) FROM {INTERVALS} ORDER BY k, id",
        f"SELECT id, COUNT(*) OVER (PARTITION BY k) FROM {INTERVALS} ORDER BY k DESC, id",
        (
            "SELECT id, SUM(id) OVER (ORDER BY k RANGE BETWEEN INTERVAL 4 DAY PRECEDING AND"
            f" CURRENT ROW) FROM {INTERVALS} ORDER BY id"
        ),
    ],
)
def test_interval_keys_match_duckdb(context, duck, sql):
    # Intervals compare after normalization, so 30 days, 1 month and 720 hours are peers.
    assert context.sql(sql).rows() == duck.sql(sql).fetchall()


# MIN and MAX over every column type ------------------------------------------------------------


def _typed_table() -> pa.Table:
    generator = random.Random(3)
    size = 30

    def pick(choices: list) -> list:
        return [generator.choice(choices) for _ in range(size)]

    return pa.table(
        {
            "id": pa.array(range(size), pa.int64()),
            "i8": pa.array(pick([-5, 3, 7, None, 127]), pa.int8()),
            "u": pa.array(pick([1, 2**63 + 5, None, 7]), pa.uint64()),
            "f": pa.array(pick([1.0, math.nan, -math.inf, math.inf, None, 2.5])),
            "d": pa.array(pick([dt.date(2020, 1, 1), dt.date(1969, 5, 3), None])),
            "ts": pa.array(pick([dt.datetime(2020, 1, 1, 5), None, dt.datetime(1950, 3, 3)])),
            "b": pa.array(pick([True, False, None])),
            "dec": pa.array(pick([decimal.Decimal("1.50"), decimal.Decimal("-2.25"), None])),
            "s": pa.array(pick(["b", "a", None, "c"])),
        }
    )


TYPED = _typed_table()


@pytest.fixture(scope="module")
def typed(gsql_engine: str) -> tuple[gsql.Context, duckdb.DuckDBPyConnection]:
    ctx = gsql.Context(engine=gsql_engine)
    ctx.register("typed", TYPED)
    connection = duckdb.connect()
    connection.register("typed", TYPED)
    return ctx, connection


@pytest.mark.parametrize("column", ["i8", "u", "f", "d", "ts", "b", "dec", "s"])
@pytest.mark.parametrize("function", ["MIN", "MAX"])
@pytest.mark.parametrize(
    "over",
    [
        "ORDER BY id ROWS BETWEEN 3 PRECEDING AND 2 FOLLOWING EXCLUDE CURRENT ROW",
        "ORDER BY id ROWS UNBOUNDED PRECEDING",
        "ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 2 FOLLOWING",
    ],
)
def test_frame_extreme_matches_duckdb(typed, column, function, over):
    context, duck = typed
    sql = f"SELECT id, {function}({column}) OVER ({over}) AS w FROM typed ORDER BY id"
    expected = duck.sql(sql).fetchall()
    actual = context.sql(sql).rows()
    assert len(actual) == len(expected)
    for want, got in zip(expected, actual):
        assert all(_same(a, b) for a, b in zip(want, got)), f"expected {want}, got {got}"


# Long frames, which loop over frames instead of gathering their rows ---------------------------

LONG = pa.table(
    {
        "id": pa.array(range(300), pa.int64()),
        "x": pa.array([None if i % 7 == 0 else (i * 37) % 101 for i in range(300)], pa.int64()),
        "y": pa.array([None if i % 11 == 0 else ((i * 53) % 97) / 8 for i in range(300)]),
    }
)


@pytest.fixture(scope="module")
def long_frames(gsql_engine: str) -> tuple[gsql.Context, duckdb.DuckDBPyConnection]:
    ctx = gsql.Context(engine=gsql_engine)
    ctx.register("long", LONG)
    connection = duckdb.connect()
    connection.register("long", LONG)
    return ctx, connection


@pytest.mark.parametrize(
    "function",
    [
        "STDDEV_SAMP(y)",
        "STDDEV_POP(x)",
        "VAR_SAMP(x)",
        "VAR_POP(y)",
        "MEDIAN(x)",
        "QUANTILE_CONT(y, 0.3)",
        "QUANTILE_DISC(x, 0.8)",
        "BOOL_AND(x > 3)",
        "BOOL_OR(y > 11)",
    ],
)
@pytest.mark.parametrize(
    "over",
    [
        "ORDER BY id ROWS UNBOUNDED PRECEDING",
        "ORDER BY id ROWS BETWEEN 40 PRECEDING AND 40 FOLLOWING EXCLUDE CURRENT ROW",
    ],
)
def test_long_frame_aggregate_matches_duckdb(long_frames, function, over):
    context, duck = long_frames
    sql = f"SELECT id, {function} OVER ({over}) AS w FROM long ORDER BY id"
    expected = duck.sql(sql).fetchall()
    actual = context.sql(sql).rows()
    assert len(actual) == len(expected)
    for want, got in zip(expected, actual):
        assert all(_same(a, b) for a, b in zip(want, got)), f"expected {want}, got {got}"
