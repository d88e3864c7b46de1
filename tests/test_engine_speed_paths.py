"""Fast paths of the pandas engine, checked against DuckDB on tables that reach their edges.

The paths are decimal `+ - *` kept on int64 between operations and shared by output columns,
SUM and AVG of decimals on int64 units, and GROUP BY of short strings packed into int64 codes.
The last is a WHERE conjunction that narrows its columns condition by condition. Each test runs
the same SQL on gsql and DuckDB over the same Arrow tables. Decimals must match exactly, and
doubles within the relative 1e-9 of `gsql.compare`.
"""

from __future__ import annotations

import decimal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import gsql
from gsql.compare import CompareOptions, compare_results
from gsql.engine.aggregate import aggregate_table
from gsql.engine.group_keys import pack_short_string_keys, unpack_strings
from gsql.errors import ExecutionError
from gsql.sql import plan

D = decimal.Decimal


def _decimals(values: list[str | None], precision: int, scale: int) -> pa.Array:
    return pa.array([None if v is None else D(v) for v in values], pa.decimal128(precision, scale))


def _chunked_table(columns: dict[str, pa.Array], pieces: int = 3) -> pa.Table:
    """Split a table into several record batches, so that every column has several chunks."""
    table = pa.table(columns)
    step = max(1, -(-table.num_rows // pieces))
    batches = [batch for start in range(0, table.num_rows, step) for batch in table.slice(start, step).to_batches()]
    return pa.Table.from_batches(batches, table.schema)


PRICES = _chunked_table(
    {
        "k": pa.array(["A", "B", "A", None, "", "A", "B", "héé", "seven77", "A", "B", None], pa.large_string()),
        "flag": pa.array(["N", "O", "N", "F", "O", "N", "F", "F", "O", "N", "O", "N"], pa.large_string()),
        "a": _decimals(["10.50", "-3.25", "0.00", None, "99999.99", "1.01", "-0.01", "7.77", "2.50", "3.00", "4.40", "5.55"], 15, 2),
        "b": _decimals(["0.05", "0.10", None, "0.07", "0.00", "0.06", "0.04", "0.09", "0.01", "0.02", "0.03", "0.08"], 15, 2),
        "c": _decimals(["0.08", "0.00", "0.02", "0.01", None, "0.03", "0.04", "0.05", "0.06", "0.07", "0.00", "0.01"], 15, 2),
        "q": pa.array([17, 36, 8, 28, 24, 32, 38, 45, 49, 27, 2, 28], pa.int64()),
    }
)

# Values whose int64 units overflow when multiplied, and values beyond the int64 range, which
# must leave the int64 path for decimal128 arithmetic.
WIDE = _chunked_table(
    {
        "g": pa.array([1, 1, 2, 2, 3], pa.int64()),
        "w": _decimals(["9999999999999999.99", "-9999999999999999.98", "1.00", None, "0.01"], 18, 2),
        "big": _decimals(["123456789012345678901234.50", "1.00", "-2.00", "3.00", None], 38, 2),
    },
    pieces=2,
)

# `s` varies in length and has NULLs, `t` and `u` have one length each, and `long` has a value
# of eight bytes, too long to pack.
STRINGS = _chunked_table(
    {
        "s": pa.array(["x", "xy", "", None, "x", "xy\x00", "seven77", "abc", "ü", "x", None, ""], pa.string()),
        "t": pa.array(["ab", "ab", "cd", "ab", "cd", "ab", "ab", "cd", "ab", "ab", "cd", "ab"], pa.large_string()),
        "u": pa.array(["abc", "abd", "abc", "abc", "xyz", "abd", "abc", "abc", "abc", "abc", "abc", "abc"]),
        "long": pa.array(["a", "b", "eight888", "a", "b", "a", None, "a", "b", "a", "b", "a"]),
        "v": pa.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], pa.int64()),
    },
    pieces=4,
)


@pytest.fixture(scope="module")
def engines() -> tuple[gsql.Context, duckdb.DuckDBPyConnection]:
    context = gsql.Context(engine="pandas")
    oracle = duckdb.connect()
    for name, table in {"prices": PRICES, "wide": WIDE, "strings": STRINGS}.items():
        context.register(name, table)
        oracle.register(name, table)
    return context, oracle


def assert_matches_duckdb(engines, sql: str) -> None:
    context, oracle = engines
    result = context.sql(sql)
    expected = oracle.sql(sql).to_arrow_table()
    options = CompareOptions(ordered=result.ordered, sort_keys=result.sort_keys or None)
    comparison = compare_results(result.table, expected, options, "gsql", "duckdb")
    assert comparison.equal, comparison.report()


DECIMAL_ARITHMETIC = [
    "SELECT a * (1 - b) AS x, a * (1 - b) * (1 + c) AS y FROM prices",
    "SELECT (a + b) - c AS x, a - (b - c) AS y, -a * b AS z FROM prices",
    "SELECT a * b * c AS x, (a * b) * (a * b) AS y, 2 * a + q AS z FROM prices",
    "SELECT a * (1 - b) + a * (1 - b) AS x, k FROM prices WHERE a * (1 - b) > 1",
    "SELECT w + w AS y, w - 1 AS z, CAST(w AS DECIMAL(20, 2)) * w AS v FROM wide",
    "SELECT big + big AS x, big + w AS y, big - 1 AS z, (big - w) + 0.5 AS v FROM wide",
]


@pytest.mark.parametrize("sql", DECIMAL_ARITHMETIC)
def test_decimal_arithmetic_matches_duckdb(engines, sql: str) -> None:
    assert_matches_duckdb(engines, sql)


DECIMAL_AGGREGATES = [
    "SELECT flag, sum(a) AS s, avg(a) AS m, count(a) AS n, sum(b) AS sb, avg(b) AS mb FROM prices GROUP BY flag",
    "SELECT sum(a * (1 - b)) AS x, sum(a * (1 - b) * (1 + c)) AS y, avg(c) AS z FROM prices",
    "SELECT flag, sum(x) AS s, avg(x) AS m FROM (SELECT flag, a * (1 - b) AS x FROM prices) GROUP BY flag",
    "SELECT k, sum(a) AS s, avg(a) AS m, sum(q) AS sq, avg(q) AS mq FROM prices GROUP BY k",
    "SELECT sum(a) AS s, avg(a) AS m FROM prices WHERE a IS NULL",
    "SELECT g, sum(w) AS s, avg(w) AS m, sum(big) AS sb, avg(big) AS mb FROM wide GROUP BY g",
    "SELECT flag, sum(DISTINCT a) AS s, avg(DISTINCT b) AS m, median(a) AS md FROM prices GROUP BY flag",
    "SELECT sum(DISTINCT a) AS s, avg(DISTINCT a) AS m FROM prices",
]


@pytest.mark.parametrize("sql", DECIMAL_AGGREGATES)
def test_decimal_aggregate_matches_duckdb(engines, sql: str) -> None:
    assert_matches_duckdb(engines, sql)


def test_sum_distinct_decimal_keeps_scale() -> None:
    context = gsql.Context(engine="pandas")
    row = context.sql("SELECT sum(DISTINCT x) AS s FROM (VALUES (1.5), (2.5), (2.5)) t(x)").rows()[0]

    assert row == (D("4.0"),)


def test_integer_sum_overflow_beside_median_raises() -> None:
    context = gsql.Context(engine="pandas")
    sql = "SELECT median(x) AS m, sum(x) AS s FROM (VALUES (9223372036854775807), (1)) t(x)"

    with pytest.raises(ExecutionError, match="integer overflow: SUM"):
        context.sql(sql)


_HUGE = "CAST('9' || repeat('9', 37) AS DECIMAL(38, 0))"


@pytest.mark.parametrize(
    "sql",
    [
        f"SELECT sum(x) AS s FROM (VALUES ({_HUGE}), ({_HUGE})) t(x)",
        f"SELECT k, avg(x) AS a FROM (VALUES (1, {_HUGE}), (2, {_HUGE}), (2, {_HUGE})) t(k, x) GROUP BY k",
        f"SELECT median(x) AS m, sum(x) AS s FROM (VALUES ({_HUGE}), ({_HUGE})) t(x)",
    ],
)
def test_decimal_sum_overflow_raises(sql: str) -> None:
    context = gsql.Context(engine="pandas")

    with pytest.raises(ExecutionError, match="decimal overflow"):
        context.sql(sql)
    with pytest.raises(duckdb.OutOfRangeException):
        duckdb.sql(sql).fetchall()


def test_decimal_sum_near_limit_matches_duckdb() -> None:
    # The largest value times the row count passes 10**38, but no group's sum does.
    sql = (
        f"SELECT k, sum(x) AS s, avg(x) AS a FROM (VALUES (1, {_HUGE}), (2, {_HUGE}), (2, -{_HUGE}), "
        "(2, 5), (3, NULL)) t(k, x) GROUP BY k"
    )
    context = gsql.Context(engine="pandas")
    expected = duckdb.sql(sql).to_arrow_table()
    comparison = compare_results(context.sql(sql).table, expected, CompareOptions(), "gsql", "duckdb")

    assert comparison.equal, comparison.report()


STRING_GROUPS = [
    "SELECT s, count(*) AS n, sum(v) AS total FROM strings GROUP BY s",
    "SELECT t, count(*) AS n FROM strings GROUP BY t",
    "SELECT u, t, count(*) AS n, max(v) AS high FROM strings GROUP BY u, t",
    "SELECT s, t, count(*) AS n, min(v) AS low FROM strings GROUP BY s, t",
    "SELECT long, s, count(*) AS n FROM strings GROUP BY long, s",
    "SELECT s, count(*) AS n FROM strings WHERE s IS NOT NULL AND s <> '' GROUP BY s",
    "SELECT k, flag, count(*) AS n, sum(a) AS s FROM prices GROUP BY k, flag",
    "SELECT t, count(*) AS n FROM strings WHERE v > 100 GROUP BY t",
]


@pytest.mark.parametrize("sql", STRING_GROUPS)
def test_group_by_short_strings_matches_duckdb(engines, sql: str) -> None:
    assert_matches_duckdb(engines, sql)


@pytest.mark.parametrize("name", ["s", "t", "u"])
@pytest.mark.parametrize("string_type", [pa.string(), pa.large_string()])
def test_string_codes_round_trip(name: str, string_type: pa.DataType) -> None:
    column = STRINGS.column(name).cast(string_type)
    sliced = pa.chunked_array([chunk.slice(1) for chunk in column.chunks], string_type)
    for strings in (column, sliced):
        packed, packing = pack_short_string_keys(pa.table({name: strings}), [name])
        codes = packed.column(name)
        values = strings.to_pylist()
        pairs = list(zip(values, codes.to_pylist()))

        assert codes.type == pa.int64()
        assert unpack_strings(codes, packing[name]).to_pylist() == values
        assert all((a == b) == (code_a == code_b) for a, code_a in pairs for b, code_b in pairs)


def test_long_strings_stay_unpacked() -> None:
    table = STRINGS.select(["long"])
    packed, packing = pack_short_string_keys(table, ["long"])

    assert packing == {}
    assert packed.equals(table)


@pytest.mark.parametrize("string_type", [pa.string(), pa.large_string()])
def test_short_string_keys_keep_type(string_type: pa.DataType) -> None:
    keyed = pa.Table.from_batches(
        STRINGS.select(["s", "v"]).cast(pa.schema([("s", string_type), ("v", pa.int64())])).to_batches()
    )
    node = plan.Aggregate(["s", "total"], keys=["s"], aggregates=[plan.AggregateCall("sum", "v")])
    grouped = aggregate_table(keyed, node)
    expected = duckdb.sql("SELECT s, sum(v) AS total FROM keyed GROUP BY s").to_arrow_table()

    assert grouped.schema.field("s").type == string_type
    assert sorted(grouped.to_pylist(), key=repr) == sorted(expected.to_pylist(), key=repr)


CONJUNCTIONS = [
    "SELECT k, a FROM prices WHERE q > 10 AND b < 0.08 AND a > 0 AND q < 40",
    "SELECT k FROM prices WHERE b BETWEEN 0.02 AND 0.07 AND c IS NOT NULL AND q < 30 AND b > 0.02",
    "SELECT count(*) AS n FROM prices WHERE a > 0 AND b > 0 AND c > 0",
    "SELECT k, q FROM prices WHERE q > 0 AND TRUE AND q < 30",
    "SELECT k, q FROM prices WHERE q > 0 AND q > 1 AND q > 2",
    "SELECT k FROM prices WHERE q > 40 AND q < 40",
    "SELECT k FROM prices WHERE b IS NULL AND a > 0",
    "SELECT k, q FROM prices WHERE q <> 17 AND 100 // (q - 17) > 2 AND a IS NOT NULL",
]


@pytest.mark.parametrize("sql", CONJUNCTIONS)
def test_conjunction_matches_duckdb(engines, sql: str) -> None:
    assert_matches_duckdb(engines, sql)


RANGES = [
    "SELECT k, q FROM prices WHERE q >= 8 AND q < 36 AND a > 0",
    "SELECT k, q FROM prices WHERE q > 0 AND q <= 28 AND q <> 24 AND b BETWEEN 0.02 AND 0.08 AND b <> 0.05",
    "SELECT k FROM prices WHERE a IS NOT NULL AND a > 1 AND a < 8",
    "SELECT k FROM prices WHERE q > 100 AND q < 200",
    "SELECT s FROM strings WHERE s <> 'xy' AND s >= 'seven77' AND s < 'x'",
    "SELECT k FROM prices WHERE k <> 'héé' AND k <> '' AND CAST(q AS VARCHAR) <> '17'",
    "SELECT k, q FROM prices WHERE k IN ('A', 'B', NULL) AND flag <> 'F' AND q > 10 AND a > 1.00 AND b < c",
    "SELECT k FROM prices WHERE NOT k IN ('A', '') AND q < 40 AND q > 5",
]


@pytest.mark.parametrize("sql", RANGES)
def test_range_conjunction_matches_duckdb(engines, sql: str) -> None:
    assert_matches_duckdb(engines, sql)


def test_range_conjunction_keeps_guard() -> None:
    texts = pa.table({"s": pa.array(["1", "2", "abc", "5", None]), "n": pa.array([1, 2, 3, 4, 5])})
    context = gsql.Context(engine="pandas")
    context.register("texts", texts)
    sql = "SELECT s FROM texts WHERE s <> 'abc' AND CAST(s AS INT) > 1"

    assert context.sql(sql).rows() == duckdb.sql(sql).fetchall()


def test_reordered_conjunction_keeps_guard() -> None:
    # The TINYINT cast reads an integer column, so it would run before the string guard, and
    # it fails for 300 and 1000.
    texts = pa.table({"s": pa.array(["small", "big", "small", "huge"]), "n": pa.array([5, 300, -7, 1000])})
    context = gsql.Context(engine="pandas")
    context.register("texts", texts)
    sql = "SELECT n FROM texts WHERE s = 'small' AND CAST(n AS TINYINT) > 0"
    guarded = "SELECT n FROM texts WHERE s = 'small' AND CASE WHEN s = 'small' THEN CAST(n AS TINYINT) END > 0"

    assert context.sql(sql).rows() == duckdb.sql(guarded).fetchall()


def test_conjunction_guards_later_conditions(engines) -> None:
    context, _ = engines
    sql = "SELECT q FROM prices WHERE a > 0 AND 100 // (q - 17) > 3"

    with pytest.raises(ExecutionError, match="division by zero"):
        context.sql(sql)
    assert_matches_duckdb(engines, sql.replace("WHERE", "WHERE q <> 17 AND"))


def _large_table(rows: int = 250_000) -> pa.Table:
    numbers = pa.array(range(rows), pa.int64())
    return pa.table(
        {
            "n": numbers,
            "price": pc.cast(pc.cast(numbers, pa.decimal128(38, 2)), pa.decimal128(15, 2)),
            "tag": pc.cast(pc.bit_wise_and(numbers, 7), pa.large_string()),
        }
    )


@pytest.mark.parametrize(
    "where", ["n % 3 = 0", "n % 3 = 0 AND n > 1000 AND tag <> '3'", "n >= 0 AND n < 200000"]
)
def test_large_filter_matches_duckdb(where: str) -> None:
    table = _large_table()
    sql = f"SELECT tag, count(*) AS rows, sum(price) AS total, max(n) AS top FROM big WHERE {where} GROUP BY tag"
    engines = (gsql.Context(engine="pandas"), duckdb.connect())
    engines[0].register("big", table)
    engines[1].register("big", table)

    assert_matches_duckdb(engines, sql)


_EVEN_ROWS = "SELECT count(*) AS rows, max(tag) AS tag FROM big WHERE n % 2 = 0"


def _count_in_child(connection) -> None:
    context = gsql.Context(engine="pandas")
    context.register("big", _large_table())
    connection.send(context.sql(_EVEN_ROWS).rows())


def test_large_filter_runs_after_fork() -> None:
    multiprocessing = pytest.importorskip("multiprocessing")
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("this platform cannot fork")
    big = _large_table()
    context = gsql.Context(engine="pandas")
    context.register("big", big)
    context.sql(_EVEN_ROWS).rows()  # filters several columns, on the thread pool
    fork = multiprocessing.get_context("fork")
    receiver, sender = fork.Pipe(duplex=False)
    child = fork.Process(target=_count_in_child, args=(sender,))
    child.start()
    finished = receiver.poll(60)
    child.join(5)
    if child.is_alive():
        child.kill()

    assert finished, "the query in the forked process did not finish within 60 s"
    assert receiver.recv() == duckdb.sql(_EVEN_ROWS).fetchall()


# Semi-join reduction of joined aggregates -------------------------------------------------------

OUTER = pa.table(
    {
        "k": pa.array([1, 2, 2, 3, None, 7, 9], pa.int64()),
        "j": pa.array([1, 1, 2, 2, 1, None, 1], pa.int64()),
        "f": pa.array([5, 1, 6, 7, 9, 8, 6], pa.int64()),
    }
)
INNER = pa.table(
    {
        "k": pa.array([1, 1, 2, 3, 3, 3, 4, 4, None, 7, 8], pa.int64()),
        "j": pa.array([1, 2, 2, 2, 2, 1, 1, 1, 1, None, 1], pa.int64()),
        "x": pa.array([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], pa.int64()),
        "d": _decimals(["1.5", "2.5", "0.5", None, "1.0", "2.0", "3.0", "4.0", "5.0", "6.0", "7.0"], 10, 1),
    }
)

SEMI_JOINS = [
    # Correlated scalar subqueries, decorrelated into a LEFT join with an aggregate.
    "SELECT o.k, (SELECT sum(i.x) FROM i WHERE i.k = o.k) AS s FROM o WHERE o.f > 5",
    "SELECT o.k, o.j, (SELECT avg(i.d) FROM i WHERE i.k = o.k AND i.j = o.j) AS a FROM o WHERE o.f > 1",
    "SELECT count(*) AS n FROM o WHERE o.f > 5 AND o.f > (SELECT count(*) FROM i WHERE i.k = o.k)",
    "SELECT o.k, (SELECT i.x FROM i WHERE i.k = o.k AND i.j = 2) AS x FROM o WHERE o.f > 5 AND o.k <> 3",
    # Joins with a grouped derived table, renamed, filtered by HAVING, or joined on one key of two.
    "SELECT o.k, g.s FROM o JOIN (SELECT k AS key, sum(x) AS s FROM i GROUP BY k) g ON g.key = o.k WHERE o.f > 5",
    "SELECT o.k, g.s FROM o JOIN (SELECT k, j, sum(x) AS s FROM i GROUP BY k, j) g ON g.k = o.k WHERE o.f > 6",
    "SELECT o.k, g.n FROM (SELECT k, count(*) AS n FROM i GROUP BY k HAVING count(*) > 1) g JOIN o ON o.k = g.k WHERE o.f < 7",
    "SELECT o.k, g.s FROM o LEFT JOIN (SELECT k, sum(d) AS s FROM i GROUP BY k) g ON g.k = o.k WHERE o.f > 5",
    # The aggregate's rows are kept where the join cannot drop them.
    "SELECT o.k, g.s FROM o RIGHT JOIN (SELECT k, sum(x) AS s FROM i GROUP BY k) g ON g.k = o.k WHERE o.f > 5 OR o.f IS NULL",
    "SELECT o.k, g.k AS gk, g.s FROM (SELECT * FROM o WHERE f > 5) o FULL JOIN (SELECT k, sum(x) AS s FROM i GROUP BY k) g ON g.k = o.k",
    (
        "WITH g AS (SELECT k, sum(x) AS s FROM i GROUP BY k) SELECT o.k, g.s FROM o JOIN g ON g.k = o.k "
        "WHERE o.f > 5 UNION ALL SELECT k, s FROM g"
    ),
    "SELECT o.k, g.s FROM o JOIN (SELECT k, sum(x) AS s FROM i GROUP BY k) g ON g.k = o.k + 0.0 WHERE o.f > 5",
]


@pytest.fixture(scope="module")
def semi_engines() -> tuple[gsql.Context, duckdb.DuckDBPyConnection]:
    context = gsql.Context(engine="pandas")
    oracle = duckdb.connect()
    for name, table in {"o": OUTER, "i": INNER}.items():
        context.register(name, table)
        oracle.register(name, table)
    return context, oracle


@pytest.mark.parametrize("sql", SEMI_JOINS)
def test_joined_aggregate_matches_duckdb(semi_engines, sql: str) -> None:
    assert_matches_duckdb(semi_engines, sql)


def _mark_joins(context: gsql.Context, sql: str) -> int:
    return context.explain(sql).count("MarkJoin _semi")


def test_scalar_subquery_aggregate_is_reduced(semi_engines) -> None:
    context, _ = semi_engines
    sql = "SELECT o.k, (SELECT sum(i.x) FROM i WHERE i.k = o.k) AS s FROM o WHERE o.f > 5"

    assert _mark_joins(context, sql) == 1


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT o.k, (SELECT sum(i.x) FROM i WHERE i.k = o.k) AS s FROM o",
        "SELECT o.k, g.k AS gk FROM (SELECT * FROM o WHERE f > 5) o FULL JOIN (SELECT k FROM i GROUP BY k) g ON g.k = o.k",
        (
            "WITH g AS (SELECT k, sum(x) AS s FROM i GROUP BY k) SELECT o.k, g.s FROM o JOIN g ON g.k = o.k "
            "WHERE o.f > 5 UNION ALL SELECT k, s FROM g"
        ),
        "SELECT o.k, (SELECT i.x FROM i WHERE i.k = o.k AND i.j = 2) AS x FROM o WHERE o.f > 5",
    ],
    ids=["unfiltered other side", "full join", "aggregate read twice", "input from other side"],
)
def test_aggregate_is_not_reduced(semi_engines, sql: str) -> None:
    context, _ = semi_engines

    assert _mark_joins(context, sql) == 0


# Hash joins that take the build side's columns by row number -------------------------------------

SMALL = pa.table(
    {
        "k": pa.array([1, 2, 2, None, 5], pa.int64()),
        "name": pa.array(["one", "two", "zwei", "none", None], pa.large_string()),
        "price": _decimals(["1.10", "2.20", None, "4.40", "5.50"], 12, 2),
        "nothing": pa.nulls(5, pa.null()),
    }
)
LARGE = pa.table(
    {
        "k": pa.array([i % 7 if i % 5 else None for i in range(40)], pa.int64()),
        "n": pa.array(range(40), pa.int64()),
        "label": pa.array([f"row{i}" if i % 3 else None for i in range(40)], pa.large_string()),
    }
)

BUILD_SIDE_JOINS = [
    "SELECT l.n, l.label, s.name, s.price FROM large l JOIN small s ON l.k = s.k",
    "SELECT l.n, s.name, s.price FROM large l LEFT JOIN small s ON l.k = s.k",
    "SELECT l.n, s.k, s.name FROM large l RIGHT JOIN small s ON l.k = s.k",
    "SELECT l.n, l.k, s.k AS sk, s.name, s.price FROM large l FULL JOIN small s ON l.k = s.k",
    "SELECT s.name, l.label, l.n FROM small s LEFT JOIN large l ON l.k = s.k",
    "SELECT s.name, l.label FROM small s FULL JOIN large l ON l.k = s.k AND l.n > 10",
    "SELECT l.n, s.name, s.nothing FROM large l LEFT JOIN small s ON l.k = s.k",
    "SELECT a.k, a.name, b.name AS other FROM small a JOIN small b ON a.k = b.k AND a.price = b.price",
]


@pytest.fixture(scope="module")
def join_engines() -> tuple[gsql.Context, duckdb.DuckDBPyConnection]:
    context = gsql.Context(engine="pandas")
    oracle = duckdb.connect()
    for name, table in {"small": SMALL, "large": LARGE}.items():
        context.register(name, table)
        oracle.register(name, table)
    return context, oracle


@pytest.mark.parametrize("sql", BUILD_SIDE_JOINS)
def test_build_side_join_matches_duckdb(join_engines, sql: str) -> None:
    assert_matches_duckdb(join_engines, sql)
