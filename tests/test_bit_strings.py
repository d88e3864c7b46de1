"""Tests of BIT strings, checked against DuckDB 2.0 as the oracle.

gsql returns a BIT value as the bytes of its digits (b"0101"), where DuckDB's Python API
returns the text "0101", so BIT columns of gsql's results are decoded before the comparison.
The same file covers DuckDB's row constructor `ROW(...)` in row comparisons with subqueries.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import duckdb
import pyarrow as pa
import pytest

import gsql
from gsql.engine.cudf.support import explain_placement
from gsql.errors import ExecutionError, UnsupportedError
from gsql.sql.parse import parse_sql
from gsql.types import BIT, arrow_type, is_bit, sql_type

# Bit strings as text; `a` and `b` have equal lengths in each row, `c` may differ from `a`.
BITS_TABLE = pa.table(
    {
        "k": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
        "g": pa.array([1, 1, 2, 2, 2, 3], pa.int64()),
        "a": pa.array(["0101", "1", None, "0011", "1111", "000000001"], pa.large_string()),
        "b": pa.array(["0011", "0", "1010", None, "1000", "111111111"], pa.large_string()),
        "c": pa.array(["1", "0101", "11", "0011", None, "0"], pa.large_string()),
        "n": pa.array([1, 0, 2, None, 3, 8], pa.int32()),
    }
)


@pytest.fixture(scope="module")
def context() -> gsql.Context:
    ctx = gsql.Context(engine="pandas")
    ctx.register("t", BITS_TABLE)
    return ctx


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.register("t", BITS_TABLE)
    yield connection
    connection.close()


def gsql_rows(context: gsql.Context, sql: str) -> list[tuple[Any, ...]]:
    """Run `sql` in gsql and return its rows with each BIT value as text, as DuckDB returns it."""
    table = context.sql(sql).table
    columns = []
    for field, column in zip(table.schema, table.columns):
        values = column.to_pylist()
        if is_bit(field.type):
            values = [None if value is None else value.decode() for value in values]
        columns.append(values)
    return list(zip(*columns))


def check(context: gsql.Context, duck: duckdb.DuckDBPyConnection, sql: str) -> None:
    assert gsql_rows(context, sql) == duck.sql(sql).fetchall()


def over(expression: str) -> str:
    return f"SELECT k, {expression} AS v FROM t ORDER BY k"


# Types ----------------------------------------------------------------------------------------


def test_bit_type_maps_both_ways():
    assert arrow_type("BIT") == BIT
    assert arrow_type("BIT(4)") == BIT
    assert arrow_type("BITSTRING", "duckdb") == BIT
    assert sql_type(BIT).sql() == "BIT"
    assert arrow_type("BLOB") != BIT


def test_parquet_binary_reads_as_blob(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "blobs.parquet"
    pq.write_table(pa.table({"x": pa.array([b"01"], pa.binary())}), path)
    context = gsql.Context(engine="pandas")
    context.register("blobs", str(path))
    assert context.sql("SELECT x FROM blobs").table.schema.field("x").type == pa.large_binary()
    with pytest.raises(ExecutionError, match="needs integer operands"):
        context.sql("SELECT x << 1 FROM blobs")


# Casts ----------------------------------------------------------------------------------------

CAST_CASES = [
    "a::BIT",
    "CAST(a AS BIT)::VARCHAR",
    "CAST(a AS BITSTRING)",
    "a::BIT(4)",
    "length(a::BIT)",
    "a::BIT || b",
    "concat(a::BIT, 'x')",
    "TRY_CAST(a AS BIT)",
    "CAST(n AS BIT)",
    "CAST(n::TINYINT AS BIT)",
    "CAST(n::SMALLINT AS BIT)",
    "CAST(n::UTINYINT AS BIT)",
    "CAST(-n AS BIT)",
    "CAST(n::BIGINT AS BIT)",
    "c::BIT::INTEGER",
    "c::BIT::BIGINT",
    "c::BIT::UBIGINT",
    "c::BIT::BOOLEAN",
    "a::BIT::BLOB",
    "a::BLOB::BIT",
    "b::BIT::VARCHAR::BIT",
]


@pytest.mark.parametrize("expression", CAST_CASES)
def test_cast_matches_duckdb(context, duck, expression):
    check(context, duck, over(expression))


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT ''::BIT",
        "SELECT 5::BIT, (-1)::BIT, (-5)::BIT, 3000000000::BIT, 5::BIGINT::BIT",
        "SELECT (-1)::TINYINT::BIT, 5::USMALLINT::BIT, 5::UBIGINT::BIT",
        "SELECT '11111111'::BIT::TINYINT, '11111111'::BIT::SMALLINT, '1'::BIT::INT",
        "SELECT '000000001'::BIT::BLOB, '111111111'::BIT::BLOB, 'ab'::BLOB::BIT",
        "SELECT CAST(NULL AS BIT), NULL::BIT::VARCHAR",
    ],
)
def test_constant_cast_matches_duckdb(context, duck, sql):
    check(context, duck, sql)


def test_invalid_character_names_value(context):
    with pytest.raises(ExecutionError, match="'01a1' to BIT"):
        context.sql("SELECT '01a1'::BIT")
    with pytest.raises(ExecutionError, match="' 01' to BIT"):
        context.sql("SELECT ' 01'::BIT")


def test_try_cast_invalid_gives_null(context):
    rows = gsql_rows(context, "SELECT TRY_CAST(s AS BIT) FROM (VALUES ('01'), ('2'), (NULL)) v(s)")
    assert rows == [("01",), (None,), (None,)]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT '000000001'::BIT::TINYINT", "9 bits to `int8`"),
        ("SELECT ''::BLOB::BIT", "empty BLOB"),
        ("SELECT '01'::BIT::DOUBLE", "BIT to `double`"),
        ("SELECT 1.5::BIT", "to BIT is not supported"),
    ],
)
def test_unsupported_or_invalid_cast_raises(context, sql, message):
    with pytest.raises((ExecutionError, UnsupportedError), match=message):
        context.sql(sql)


def test_cast_of_computed_bigint_raises(context):
    # DuckDB types 1 + 2 as INTEGER (32 bits) where gsql computes a BIGINT (64 bits).
    with pytest.raises(UnsupportedError, match="cast it to INTEGER or BIGINT first"):
        context.sql("SELECT (1 + 2)::BIT")
    with pytest.raises(UnsupportedError, match="CAST of the BIGINT value"):
        context.sql("SELECT k::BIT FROM t")


# Comparisons and ordering ---------------------------------------------------------------------


def test_order_of_random_bit_strings_matches_duckdb(context, duck):
    generator = random.Random(7)
    texts = sorted(
        {
            "".join(generator.choice("01") for _ in range(generator.randint(1, 12)))
            for _ in range(150)
        }
    )
    pairs = [(generator.choice(texts), generator.choice(texts)) for _ in range(300)]
    table = pa.table({"x": [left for left, _ in pairs], "y": [right for _, right in pairs]})
    local = gsql.Context(engine="pandas")
    local.register("pairs", table)
    oracle = duckdb.connect()
    oracle.register("pairs", table)
    sql = (
        "SELECT x, y, x::BIT < y::BIT, x::BIT = y::BIT, x::BIT >= y::BIT, x::BIT <> y::BIT "
        "FROM pairs ORDER BY x, y"
    )
    assert gsql_rows(local, sql) == oracle.sql(sql).fetchall()
    ordered = "SELECT x::BIT AS b FROM pairs ORDER BY b, x"
    assert gsql_rows(local, ordered) == oracle.sql(ordered).fetchall()


COMPARISON_CASES = [
    "a::BIT < c::BIT",
    "a::BIT = c::BIT",
    "a::BIT > '0100'",
    "'0100' <= a::BIT",
    "a::BIT IN ('0101', '1')",
    "a::BIT BETWEEN '0'::BIT AND '1'::BIT",
    "a::BIT IS NOT DISTINCT FROM c::BIT",
    "coalesce(a::BIT, b::BIT)",
    "nullif(a::BIT, '0101'::BIT)",
    "CASE WHEN k > 2 THEN a::BIT ELSE '1' END",
    "greatest(a::BIT, c::BIT)",
    "least(a::BIT, c::BIT)",
]


@pytest.mark.parametrize("expression", COMPARISON_CASES)
def test_comparison_matches_duckdb(context, duck, expression):
    check(context, duck, over(expression))


def test_bit_with_integer_raises(context):
    with pytest.raises(ExecutionError, match="BIT string with a value of type `int64`"):
        context.sql("SELECT '0101'::BIT = 5")


# Operators ------------------------------------------------------------------------------------

OPERATOR_CASES = [
    "a::BIT & b::BIT",
    "a::BIT | b::BIT",
    "xor(a::BIT, b::BIT)",
    "~a::BIT",
    "a::BIT & b::BIT & a::BIT",
    "a::BIT << n",
    "a::BIT >> n",
    "a::BIT << 1",
    "a::BIT >> 2",
    "a::BIT << 20",
    "a::BIT >> -1",
    "a::BIT & NULL",
    "a::BIT << NULL",
    "~NULL::BIT",
    "(a::BIT << 1) | (a::BIT >> 1)",
]


@pytest.mark.parametrize("expression", OPERATOR_CASES)
def test_operator_matches_duckdb(context, duck, expression):
    check(context, duck, over(expression))


def test_constant_operators_match_duckdb(context, duck):
    check(
        context,
        duck,
        "SELECT '0101'::BIT & '0011'::BIT, '0101'::BIT | '0011', xor('0101'::BIT, '0011'::BIT), "
        "~'0101'::BIT, '0101'::BIT << 1, '0101'::BIT >> 3, '0011' & '0101'::BIT",
    )


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT '0101'::BIT & '011'::BIT", "cannot AND bit strings of different lengths"),
        ("SELECT '0101'::BIT | '011'::BIT", "cannot OR bit strings of different lengths"),
        ("SELECT xor('0101'::BIT, '011'::BIT)", "cannot XOR bit strings of different lengths"),
        ("SELECT a::BIT & c::BIT FROM t", r"\(4 and 1 bits\)"),
        ("SELECT '0101'::BIT << -1", "negative amount -1"),
        ("SELECT '0101'::BIT << 1.5", "must be an integer"),
        ("SELECT '0101'::BIT & 5", "BIT string with a value of type `int64`"),
        ("SELECT '0101'::BIT + 1", "cannot apply `ADD` to a BIT string"),
        ("SELECT -('0101'::BIT)", "cannot negate a BIT string"),
    ],
)
def test_invalid_operator_raises(context, sql, message):
    with pytest.raises(ExecutionError, match=message):
        context.sql(sql)


# Functions ------------------------------------------------------------------------------------

FUNCTION_CASES = [
    "bit_count(a::BIT)",
    "bit_length(a::BIT)",
    "bit_length(a)",
    "octet_length(a::BIT)",
    "octet_length(a::BLOB)",
    "get_bit(a::BIT, 0)",
    "get_bit(c::BIT, 0)",
    "set_bit(a::BIT, 0, 1)",
    "set_bit(c::BIT, 0, 0)",
    "bit_position('1'::BIT, a::BIT)",
    "bit_position('11'::BIT, b::BIT)",
    "bitstring(a, 12)",
    "bitstring(a::BIT, 9)",
    "bit_count(n)",
    "bit_count(-n)",
    "bit_count(n::TINYINT)",
]


@pytest.mark.parametrize("expression", FUNCTION_CASES)
def test_function_matches_duckdb(context, duck, expression):
    check(context, duck, over(expression))


def test_constant_functions_match_duckdb(context, duck):
    check(
        context,
        duck,
        "SELECT bit_count(5), bit_count(-1), bit_count(-1::BIGINT), bit_count(255::UTINYINT), "
        "get_bit('0101'::BIT, NULL), set_bit('0101'::BIT, NULL, 1), "
        "bit_position(''::BIT, '01'::BIT)",
    )


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT get_bit('0101'::BIT, 4)", r"bit index 4 is out of the valid range 0\.\.3"),
        ("SELECT set_bit('0101'::BIT, -1, 1)", "bit index -1"),
        ("SELECT set_bit('0101'::BIT, 0, 2)", "must be 0 or 1"),
        ("SELECT bitstring('0101', 3)", "shorter than the 4 bits"),
        ("SELECT bitstring('', 3)", "empty string"),
        ("SELECT bit_count('ab'::BLOB)", "BIT string or an integer"),
        ("SELECT octet_length('abc')", "BIT string or a BLOB"),
    ],
)
def test_invalid_function_call_raises(context, sql, message):
    with pytest.raises(ExecutionError, match=message):
        context.sql(sql)


def test_bit_count_of_negative_bigint_column_raises(context):
    with pytest.raises(UnsupportedError, match="negative BIGINT"):
        context.sql("SELECT bit_count(-k) FROM t")


# Aggregates -----------------------------------------------------------------------------------

AGGREGATE_CASES = [
    "SELECT bit_and(a::BIT), bit_or(a::BIT), bit_xor(a::BIT) FROM t WHERE length(a) = 4",
    (
        "SELECT g, bit_and(b::BIT), bit_or(b::BIT), bit_xor(b::BIT) FROM t WHERE k < 6 AND k <> 2 "
        "GROUP BY g ORDER BY g"
    ),
    "SELECT g, bit_or(a::BIT) FROM t WHERE k <> 2 GROUP BY g ORDER BY g",
    (
        "SELECT bit_xor(DISTINCT a::BIT) FROM (SELECT k, a FROM t UNION ALL SELECT k, a FROM t) "
        "WHERE length(a) = 4"
    ),
    "SELECT bit_xor(a::BIT) FILTER (WHERE a > '0100') FROM t WHERE length(a) = 4",
    "SELECT bit_and(a::BIT) FROM t WHERE k > 100",
    "SELECT g, bit_and(n), bit_or(n), bit_xor(n), bit_or(n::TINYINT) FROM t GROUP BY g ORDER BY g",
    "SELECT bit_xor(DISTINCT n % 2) FROM t",
    "SELECT min(a::BIT), max(a::BIT), count(DISTINCT a::BIT) FROM t",
    "SELECT a::BIT AS bits, count(*) FROM t GROUP BY bits ORDER BY bits",
    "SELECT string_agg(a::BIT, ',' ORDER BY k) FROM t",
]


@pytest.mark.parametrize("sql", AGGREGATE_CASES)
def test_aggregate_matches_duckdb(context, duck, sql):
    check(context, duck, sql)


def test_aggregate_of_different_lengths_raises(context):
    with pytest.raises(ExecutionError, match="cannot AND bit strings of different lengths"):
        context.sql("SELECT bit_and(a::BIT) FROM t")


def test_aggregate_of_decimals_raises(context):
    with pytest.raises(ExecutionError, match="BIT_OR needs an integer or BIT argument"):
        context.sql("SELECT bit_or(x) FROM (VALUES (1.5), (2.5)) v(x)")


def test_group_by_bit_with_null_key(context, duck):
    # A non-native aggregate groups through a join that must match the NULL key too.
    check(
        context,
        duck,
        "SELECT a::BIT AS bits, median(k) FROM t GROUP BY bits ORDER BY bits NULLS LAST",
    )


def test_window_bit_aggregate_raises(context):
    # NOTE: window frames compute BIT_AND, BIT_OR and BIT_XOR of integers only.
    with pytest.raises(ExecutionError, match="BIT_OR"):
        context.sql("SELECT bit_or(a::BIT) OVER (ORDER BY k) FROM t")


RECURSIVE_CASES = [
    (
        "WITH RECURSIVE tbl(key, b) USING KEY (key, bit_or(b)) AS (SELECT 1, '0001'::BIT "
        "UNION ALL SELECT key, b << 1 FROM tbl WHERE b < '1000'::BIT) TABLE tbl"
    ),
    (
        "WITH RECURSIVE tbl(key, b) USING KEY (key, bit_and(b)) AS (SELECT 1, '1111'::BIT "
        "UNION ALL SELECT key, b << 1 FROM tbl WHERE b > '0000'::BIT) TABLE tbl"
    ),
    (
        "WITH RECURSIVE tbl(key, b) USING KEY (key, bit_xor(b)) AS (SELECT 1, '1111'::BIT "
        "UNION ALL SELECT key, b << 1 FROM tbl WHERE b > '0000'::BIT) TABLE tbl"
    ),
    (
        "WITH RECURSIVE tbl(key, n) USING KEY (key, bit_or(n)) AS (SELECT 1, 1 "
        "UNION ALL SELECT key, n * 2 FROM tbl WHERE n < 64) TABLE tbl"
    ),
]


@pytest.mark.parametrize("sql", RECURSIVE_CASES)
def test_recursive_using_key_aggregate_matches_duckdb(context, duck, sql):
    check(context, duck, sql)


# The cudf engine ------------------------------------------------------------------------------


def test_placement_names_bit_reason(context):
    plan = context.plan("SELECT k, a::BIT << 1 AS s FROM t")
    entries = explain_placement(plan.node)
    project = next(entry for entry in entries if "<<" in entry[0])
    assert project[1] == "pandas"
    assert "BIT strings have no cuDF column type" in project[2][0]


def test_cudf_stand_in_matches_pandas(context, monkeypatch):
    from tests.test_gpu import fake_cudf, run_on

    monkeypatch.setitem(sys.modules, "cudf", fake_cudf())
    from gsql.engine.cudf import CudfBackend

    backend = CudfBackend("duckdb", strict=True)
    sql = "SELECT g, bit_or(a::BIT << 1) AS o FROM t WHERE length(a) = 4 GROUP BY g ORDER BY g"
    table, _ = run_on(backend, context, sql)
    assert table.equals(context.sql(sql).table)
    reasons = [placement.reason for placement in backend.placements]
    assert any("BIT strings" in reason for reason in reasons)


# Row constructors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ROW(0, 0) < ANY (SELECT 1, 0)", "SELECT ROW(0, 0) < ANY (SELECT 1, 0)"),
        ("SELECT ROW(1,2) <= ALL(SELECT 1, 0)", "SELECT ROW(1, 2) <= ALL (SELECT 1, 0)"),
        ("SELECT ROW(a, b) > (SELECT 1, 0) FROM t", "SELECT ROW(a, b) > (SELECT 1, 0) FROM t"),
        ("SELECT CAST(x AS ROW(a INT))", "SELECT CAST(x AS STRUCT(a INT))"),
        ("SELECT CAST(x AS MAP(INT, ROW(a INT)))", "SELECT CAST(x AS MAP(INT, STRUCT(a INT)))"),
        ("SELECT x::STRUCT(a ROW(b INT))", "SELECT CAST(x AS STRUCT(a STRUCT(b INT)))"),
        ("SELECT ROW(1, 2)::ROW(a INT, b INT)", "SELECT CAST(ROW(1, 2) AS STRUCT(a INT, b INT))"),
        ("SELECT 1 AS row", "SELECT 1 AS row"),
    ],
)
def test_row_constructor_parses(sql, expected):
    assert parse_sql(sql).sql("duckdb") == expected


ROW_CASES = [
    "SELECT ROW(0, 0) < ANY (SELECT 1, 0)",
    "SELECT ROW(1, 2) <= ALL (SELECT 1, 0 UNION ALL SELECT 1, 2)",
    "SELECT ROW(1, NULL) < ANY (SELECT 1, 0)",
    "SELECT k, ROW(k, n) > ANY (SELECT 3, 1) FROM t ORDER BY k",
    "SELECT row(1, 2) = ANY (SELECT s FROM (VALUES (row(1, NULL::INT))) rhs(s))",
    "SELECT row(NULL::INT, 3) = ANY (SELECT s FROM (VALUES (row(1, 2))) rhs(s))",
    "SELECT row(NULL::INT, 2) = ANY (SELECT s FROM (VALUES (row(NULL::INT, 2))) rhs(s))",
    "SELECT row(1, 2) <> ALL (SELECT s FROM (VALUES (row(1, NULL::INT)), (row(1, 2))) rhs(s))",
    "SELECT row(1, 2) < ANY (SELECT s FROM (VALUES (row(1, NULL::INT))) rhs(s))",
    "SELECT row(1, 2) IN (SELECT s FROM (VALUES (7, row(1, 2))) rhs(x, s))",
    (
        "SELECT k, (n, 2) = ANY (SELECT s FROM (VALUES (row(1, 2)), (row(NULL, 2))) rhs(s)) "
        "FROM t ORDER BY k"
    ),
]


@pytest.mark.parametrize("sql", ROW_CASES)
def test_row_comparison_matches_duckdb(context, duck, sql):
    check(context, duck, sql)


def test_row_valued_column_with_where_raises(context):
    with pytest.raises(UnsupportedError, match="one column of subquery"):
        context.sql("SELECT row(1, 2) = ANY (SELECT s FROM (VALUES (row(1, 2))) rhs(s) WHERE true)")
