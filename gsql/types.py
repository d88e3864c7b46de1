"""Conversions between SQL types (sqlglot `DataType`) and Arrow types.

Arrow types are gsql's physical types on every engine: pandas columns are `pd.ArrowDtype`, and
cuDF columns convert to and from Arrow without loss.
"""

from __future__ import annotations

import pyarrow as pa
import sqlglot
from sqlglot import exp

from gsql.errors import UnsupportedError

__all__ = [
    "BIT",
    "arrow_type",
    "frame_arrow_type",
    "is_bit",
    "normalize_arrow_type",
    "parse_type",
    "sql_type",
]

Type = exp.DataType.Type

# BIT strings (DuckDB's BIT, PostgreSQL's BIT VARYING) have no Arrow type. gsql stores a bit
# string as the ASCII digits of its bits, `0101` as b"0101", in Arrow `binary`: the variant with
# 32-bit offsets, which no other SQL type uses because scans turn every file's `binary` column
# into `large_binary` (BLOB). Byte order then is DuckDB's order of bit strings, and Arrow's and
# pandas' hashing, sorting and joins work on the values unchanged.
BIT = pa.binary()

_SIMPLE_TYPES: dict[exp.DataType.Type, pa.DataType] = {
    Type.BOOLEAN: pa.bool_(),
    Type.TINYINT: pa.int8(),
    Type.SMALLINT: pa.int16(),
    Type.INT: pa.int32(),
    Type.BIGINT: pa.int64(),
    Type.UTINYINT: pa.uint8(),
    Type.USMALLINT: pa.uint16(),
    Type.UINT: pa.uint32(),
    Type.UBIGINT: pa.uint64(),
    Type.FLOAT: pa.float32(),
    Type.DOUBLE: pa.float64(),
    Type.VARCHAR: pa.large_string(),
    Type.NVARCHAR: pa.large_string(),
    Type.CHAR: pa.large_string(),
    Type.NCHAR: pa.large_string(),
    Type.TEXT: pa.large_string(),
    Type.NAME: pa.large_string(),
    Type.DATE: pa.date32(),
    Type.DATE32: pa.date32(),
    Type.DATETIME: pa.timestamp("us"),
    Type.TIMESTAMP: pa.timestamp("us"),
    Type.TIMESTAMPNTZ: pa.timestamp("us"),
    Type.TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
    Type.TIMESTAMPLTZ: pa.timestamp("us", tz="UTC"),
    Type.TIMESTAMP_S: pa.timestamp("s"),
    Type.TIMESTAMP_MS: pa.timestamp("ms"),
    Type.TIMESTAMP_NS: pa.timestamp("ns"),
    Type.TIME: pa.time64("us"),
    Type.BINARY: pa.large_binary(),
    Type.VARBINARY: pa.large_binary(),
    Type.BLOB: pa.large_binary(),
    Type.NULL: pa.null(),
}

# The widest exact decimal that Arrow stores in 128 bits.
_MAX_DECIMAL128_PRECISION = 38


def parse_type(text: str, dialect: str | None = None) -> exp.DataType:
    """Parse a SQL type name such as `DECIMAL(12,2)` or `BIGINT` in the given dialect."""
    try:
        return exp.DataType.build(text, dialect=dialect)
    except (sqlglot.errors.ParseError, ValueError) as error:
        raise UnsupportedError(f"unknown SQL type `{text}`: {error}") from None


def arrow_type(data_type: exp.DataType | str, dialect: str | None = None) -> pa.DataType:
    """Map a SQL type to the Arrow type that gsql stores it as.

    >>> arrow_type("DECIMAL(12, 2)")
    Decimal128Type(decimal128(12, 2))
    """
    if isinstance(data_type, str):
        data_type = parse_type(data_type, dialect)
    kind = data_type.this

    if kind in (Type.DECIMAL, Type.BIGDECIMAL, Type.DECIMAL128):
        return _decimal_type(data_type)
    if kind in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[kind]
    if kind == Type.BIT:
        # DuckDB accepts a length, BIT(4), and ignores it: every BIT value keeps its own length.
        return BIT
    raise UnsupportedError(
        f"SQL type `{data_type.sql()}` is not supported; use one of BOOLEAN, the integer and "
        "floating types, DECIMAL, VARCHAR, DATE, TIMESTAMP, TIMESTAMPTZ or BIT"
    )


def is_bit(arrow: pa.DataType) -> bool:
    """Return whether `arrow` is the type of gsql's BIT strings."""
    return arrow == BIT


def _decimal_type(data_type: exp.DataType) -> pa.DataType:
    params = [param.this for param in data_type.expressions]
    numbers = [int(param.this) if isinstance(param, exp.Literal) else int(str(param)) for param in params]
    # DuckDB and Postgres read a bare DECIMAL as DECIMAL(18, 3); SQL Server as (18, 0). gsql
    # follows DuckDB because it is the reference engine of the test suite.
    precision = numbers[0] if numbers else 18
    if len(numbers) > 1:
        scale = numbers[1]
    else:
        scale = 0 if numbers else 3
    if precision > _MAX_DECIMAL128_PRECISION:
        raise UnsupportedError(
            f"DECIMAL precision {precision} is above the maximum of {_MAX_DECIMAL128_PRECISION}"
        )
    return pa.decimal128(precision, scale)


def sql_type(arrow: pa.DataType) -> exp.DataType:
    """Map an Arrow type to the SQL type that sqlglot's binder and type annotator use."""
    if pa.types.is_dictionary(arrow):
        return sql_type(arrow.value_type)
    if pa.types.is_decimal(arrow):
        return exp.DataType.build(f"DECIMAL({arrow.precision}, {arrow.scale})")
    if is_bit(arrow):
        return exp.DataType.build(Type.BIT)
    if pa.types.is_timestamp(arrow):
        return exp.DataType.build("TIMESTAMPTZ" if arrow.tz else "TIMESTAMP")
    for kind, candidate in _SIMPLE_TYPES.items():
        if candidate == arrow:
            return exp.DataType.build(kind)
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or pa.types.is_string_view(arrow):
        return exp.DataType.build("VARCHAR")
    if pa.types.is_date(arrow):
        return exp.DataType.build("DATE")
    if pa.types.is_time(arrow):
        return exp.DataType.build("TIME")
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
        return exp.DataType.build("VARBINARY")
    return exp.DataType.build("UNKNOWN")


def normalize_arrow_type(arrow: pa.DataType) -> pa.DataType:
    """Return the type that scans cast a column to before pandas or cuDF reads it.

    Parquet written by newer tools stores strings as `string_view`, which pandas' Arrow-backed
    arrays cannot `take` (pyarrow 26 has no kernel for it), and dictionary-encoded columns
    would make every engine handle two physical layouts of one logical type. A file's `binary`
    column is a BLOB, so it becomes `large_binary` and never reads as a BIT string.
    """
    if pa.types.is_dictionary(arrow):
        return normalize_arrow_type(arrow.value_type)
    if pa.types.is_string_view(arrow) or pa.types.is_string(arrow):
        return pa.large_string()
    if pa.types.is_binary_view(arrow) or pa.types.is_binary(arrow):
        return pa.large_binary()
    if pa.types.is_date64(arrow):
        return pa.date32()
    return arrow


def frame_arrow_type(arrow: pa.DataType) -> pa.DataType:
    """Return the type that a computed column is stored as in a frame.

    It is `normalize_arrow_type`'s type, except that BIT strings keep their own type.
    """
    if is_bit(arrow):
        return arrow
    return normalize_arrow_type(arrow)
