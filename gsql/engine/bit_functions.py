"""Kernels for DuckDB's functions of BIT strings: BIT_COUNT, BIT_LENGTH, OCTET_LENGTH, GET_BIT,
SET_BIT, BIT_POSITION and BITSTRING.

Each kernel accepts the argument types that DuckDB 2.0 accepts and raises for the others. The
work on the bits is in `bit_strings`. Importing this module registers the kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from gsql.engine import bit_strings
from gsql.engine.arrow_kernels import (
    ANONYMOUS_KERNELS,
    KERNELS,
    Evaluator,
    Value,
    _is_string,
    cast_value,
    duckdb_integer,
)
from gsql.errors import BindError, ExecutionError, UnsupportedError
from gsql.types import BIT, is_bit

__all__ = ["BIT_FUNCTION_KERNELS", "BIT_FUNCTION_NAMES"]


def _arguments(evaluator: Evaluator, expression: exp.Anonymous, count: int) -> list[Value]:
    if len(expression.expressions) != count:
        raise BindError(
            f"{expression.name.upper()} takes {count} argument{'s' if count > 1 else ''}, "
            f"not {len(expression.expressions)}"
        )
    return [evaluator.evaluate(argument) for argument in expression.expressions]


def _is_null(value: Value) -> bool:
    return pa.types.is_null(value.type)


def _bits_argument(value: Value, function: str) -> Value:
    """Return the argument as BIT. Text casts to BIT, as a string literal does in DuckDB."""
    if is_bit(value.type):
        return value
    if _is_string(value.type):
        return cast_value(value, BIT)
    raise ExecutionError(f"{function} needs a BIT string, not a value of type `{value.type}`")


def _bit_count(evaluator: Evaluator, expression: exp.Anonymous) -> Value:
    """Count the 1 bits of a BIT string, as BIGINT, or of an integer, as TINYINT (BIT_COUNT)."""
    (value,) = _arguments(evaluator, expression, 1)
    if _is_null(value):
        return pa.scalar(None, pa.int64())
    if is_bit(value.type):
        return bit_strings.bit_count(value)
    if not pa.types.is_integer(value.type):
        raise ExecutionError(f"BIT_COUNT needs a BIT string or an integer, not `{value.type}`")
    width = value.type.bit_width
    if pa.types.is_int64(value.type):
        typed = duckdb_integer(expression.expressions[0], value)
        if typed is None and _has_negative(value):
            # The count of a negative number depends on its width, which may differ from DuckDB's.
            raise UnsupportedError(
                f"BIT_COUNT of the negative BIGINT value `{expression.expressions[0].sql()[:80]}` "
                "is not supported; cast it to INTEGER or BIGINT first"
            )
        width = (typed if typed is not None else value).type.bit_width
    return _popcount(value, width)


def _has_negative(value: Value) -> bool:
    smallest = value.as_py() if isinstance(value, pa.Scalar) else pc.min(value).as_py()
    return smallest is not None and smallest < 0


def _popcount(value: Value, width: int) -> Value:
    mask = np.uint64((1 << width) - 1)
    if isinstance(value, pa.Scalar):
        if not value.is_valid:
            return pa.scalar(None, pa.int8())
        return pa.scalar((value.as_py() & int(mask)).bit_count(), pa.int8())
    numbers = pc.fill_null(value, 0).to_numpy(zero_copy_only=False)
    unsigned = (
        numbers.astype(np.int64).view(np.uint64)
        if numbers.dtype.kind == "i"
        else numbers.astype(np.uint64)
    )
    counts = np.bitwise_count(unsigned & mask).astype(np.int8)
    valid = pc.is_valid(value).to_numpy(zero_copy_only=False)
    return pa.chunked_array([pa.array(counts, pa.int8(), mask=~valid)])


def _bit_length(evaluator: Evaluator, expression: exp.BitLength) -> Value:
    """Count the bits of a BIT string, or 8 times the UTF-8 bytes of text (BIT_LENGTH)."""
    value = evaluator.evaluate(expression.this)
    if _is_null(value):
        return pa.scalar(None, pa.int64())
    if is_bit(value.type):
        return pc.cast(pc.binary_length(value), pa.int64())
    if _is_string(value.type):
        return pc.multiply(pc.cast(pc.binary_length(value), pa.int64()), 8)
    raise ExecutionError(f"BIT_LENGTH needs a BIT string or text, not `{value.type}`")


def _octet_length(evaluator: Evaluator, expression: exp.Anonymous) -> Value:
    """Count the bytes of a BLOB, or of a BIT string in DuckDB's storage (OCTET_LENGTH)."""
    (value,) = _arguments(evaluator, expression, 1)
    if _is_null(value):
        return pa.scalar(None, pa.int64())
    if is_bit(value.type):
        return bit_strings.octet_length(value)
    if pa.types.is_large_binary(value.type):
        return pc.cast(pc.binary_length(value), pa.int64())
    raise ExecutionError(f"OCTET_LENGTH needs a BIT string or a BLOB, not `{value.type}`")


def _get_bit(evaluator: Evaluator, expression: exp.Getbit) -> Value:
    """Return the bit at the 0-based index from the left, as INTEGER: GET_BIT(bits, index)."""
    if not expression.args.get("zero_is_msb"):
        raise UnsupportedError(
            f"`{expression.sql()[:80]}` counts bits from the right, which gsql does not support"
        )
    value = evaluator.evaluate(expression.this)
    index = evaluator.evaluate(expression.expression)
    if _is_null(value) or _is_null(index):
        return pa.scalar(None, pa.int32())
    return bit_strings.get_bit(_bits_argument(value, "GET_BIT"), index)


def _set_bit(evaluator: Evaluator, expression: exp.Anonymous) -> Value:
    """Replace the bit at the 0-based index from the left: SET_BIT(bits, index, bit)."""
    value, index, new_bit = _arguments(evaluator, expression, 3)
    if any(_is_null(argument) for argument in (value, index, new_bit)):
        return pa.scalar(None, BIT)
    return bit_strings.set_bit(_bits_argument(value, "SET_BIT"), index, new_bit)


def _bit_position(evaluator: Evaluator, expression: exp.Anonymous) -> Value:
    """Find the 1-based position of the first match, or 0: BIT_POSITION(needle, bits)."""
    needle, value = _arguments(evaluator, expression, 2)
    if _is_null(needle) or _is_null(value):
        return pa.scalar(None, pa.int32())
    needle = _bits_argument(needle, "BIT_POSITION")
    return bit_strings.bit_position(needle, _bits_argument(value, "BIT_POSITION"))


def _bitstring(evaluator: Evaluator, expression: exp.Anonymous) -> Value:
    """Pad the bits with zeros on the left to `length` bits: BITSTRING(bits, length)."""
    value, length = _arguments(evaluator, expression, 2)
    if _is_null(value) or _is_null(length):
        return pa.scalar(None, BIT)
    if _is_string(value.type):
        # Unlike a CAST, which reads '' as the bit string 0, DuckDB's BITSTRING rejects ''.
        lengths = pc.utf8_length(value)
        shortest = lengths.as_py() if isinstance(lengths, pa.Scalar) else pc.min(lengths).as_py()
        if shortest == 0:
            raise ExecutionError("BITSTRING cannot pad an empty string; give at least one bit")
    return bit_strings.pad_bits(_bits_argument(value, "BITSTRING"), length)


_ANONYMOUS: dict[str, Callable[[Evaluator, Any], Value]] = {
    "bit_count": _bit_count,
    "octet_length": _octet_length,
    "set_bit": _set_bit,
    "bit_position": _bit_position,
    "bitstring": _bitstring,
}

BIT_FUNCTION_NAMES = frozenset(_ANONYMOUS)
"""The functions of this module that sqlglot parses as `Anonymous`, by lowercase name."""

BIT_FUNCTION_KERNELS: dict[type[exp.Expression], Callable[[Evaluator, Any], Value]] = {
    exp.BitLength: _bit_length,
    exp.Getbit: _get_bit,
}

KERNELS.update(BIT_FUNCTION_KERNELS)
ANONYMOUS_KERNELS.update(_ANONYMOUS)
