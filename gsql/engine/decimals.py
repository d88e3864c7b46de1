"""Exact decimal arithmetic on 64-bit integers when the values fit.

Arrow's decimal128 kernels are about twenty times slower than its int64 kernels. A decimal of
scale s is an integer count of 10**-s units, so when every unscaled value fits in 64 bits,
`+`, `-` and `*` run as checked int64 arithmetic. Any overflow makes the caller fall back to
decimal128 arithmetic, so results are always exact. A result stays a `DecimalUnits` (int64
values and a decimal type) until a caller needs the decimal128 array, so the inner operations
of `a * (1 - b) * (1 + c)` never build decimal128 arrays.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["DecimalUnits", "decimal_to_double", "fast_decimal_arithmetic", "known_units"]

_FUNCTIONS = {"add_checked", "subtract_checked", "multiply_checked"}


@dataclass(frozen=True, eq=False)
class DecimalUnits:
    """A decimal128 column held as int64 counts of 10**-scale, the exact value of each row."""

    units: pa.ChunkedArray
    type: pa.Decimal128Type

    def to_decimal(self) -> pa.ChunkedArray:
        """Build the decimal128 array, remembering its units for later operations."""
        decimals = _to_decimal(self.units, self.type)
        _remember_units(decimals, self.units)
        return decimals


Operand = pa.ChunkedArray | pa.Scalar | DecimalUnits


def fast_decimal_arithmetic(
    function: str, left: Operand, right: Operand, result: pa.DataType
) -> DecimalUnits | None:
    """Compute `left <function> right` as the decimal type `result`, or None if it cannot.

    Operands are decimals or integers; at least one must be an array.
    """
    if function not in _FUNCTIONS or not pa.types.is_decimal128(result):
        return None
    if isinstance(left, pa.Scalar) and isinstance(right, pa.Scalar):
        return None
    left_scale, right_scale = _scale(left.type), _scale(right.type)
    if left_scale is None or right_scale is None:
        return None
    if function == "multiply_checked":
        if left_scale + right_scale != result.scale:
            return None
    elif max(left_scale, right_scale) != result.scale:
        return None

    left_units = _unscaled(left)
    right_units = _unscaled(right)
    if left_units is None or right_units is None:
        return None
    try:
        if function != "multiply_checked":
            left_units = _rescale(left_units, result.scale - left_scale)
            right_units = _rescale(right_units, result.scale - right_scale)
        units = getattr(pc, function)(left_units, right_units)
    except pa.ArrowInvalid:
        return None  # an int64 overflow: the caller uses decimal128 arithmetic instead
    if _too_wide(units, result.precision):
        return None
    return DecimalUnits(units, result)


# Decimal arrays that were converted to int64, and results of the int64 path, keep their
# unscaled integers here. The next operation or aggregate on them (`a * (1 - b) * (1 + c)`,
# then SUM) skips the conversion. An entry is removed when its decimal array is freed.
_UNITS: dict[int, tuple[weakref.ref, pa.ChunkedArray]] = {}


def _remember_units(decimals: pa.ChunkedArray, units: pa.ChunkedArray) -> None:
    key = id(decimals)
    _UNITS[key] = (weakref.ref(decimals, lambda _, key=key: _UNITS.pop(key, None)), units)


def _remembered_units(value) -> pa.ChunkedArray | None:
    entry = _UNITS.get(id(value))
    if entry is not None and entry[0]() is value:
        return entry[1]
    return None


def known_units(value: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """Return the int64 units already computed for this very decimal array object, if any.

    The lookup is by object identity. A caller with the very array the units were computed
    for gets them back, and any other array, even one with equal values, gets None.
    """
    return _remembered_units(value)


def _scale(value_type: pa.DataType) -> int | None:
    if pa.types.is_decimal128(value_type):
        return value_type.scale
    if pa.types.is_integer(value_type):
        return 0
    return None


def _rescale(units, shift: int):
    if shift == 0:
        return units
    return pc.multiply_checked(units, pa.scalar(10**shift, pa.int64()))


def _unscaled(value):
    """Return the unscaled integers of a decimal as int64, or None when one does not fit."""
    if isinstance(value, DecimalUnits):
        return value.units
    if pa.types.is_integer(value.type):
        return value.cast(pa.int64()) if not isinstance(value, pa.Scalar) else pa.scalar(value.as_py(), pa.int64()) if value.is_valid else pa.scalar(None, pa.int64())
    if isinstance(value, pa.Scalar):
        if not value.is_valid:
            return pa.scalar(None, pa.int64())
        units = int(value.as_py().scaleb(value.type.scale))
        return pa.scalar(units, pa.int64()) if -(2**63) <= units < 2**63 else None
    remembered = _remembered_units(value)
    if remembered is not None:
        return remembered
    chunks = []
    for chunk in value.chunks:
        converted = _unscaled_chunk(chunk)
        if converted is None:
            return None
        chunks.append(converted)
    units = pa.chunked_array(chunks, type=pa.int64())
    _remember_units(value, units)
    return units


def _unscaled_chunk(chunk: pa.Array) -> pa.Array | None:
    if len(chunk) == 0:
        return pa.array([], pa.int64())
    # Seen as DECIMAL(38, 0), the array contains the unscaled integers themselves, and Arrow's
    # checked cast to int64 fails exactly when one of them does not fit in 64 bits.
    try:
        return chunk.view(pa.decimal128(38, 0)).cast(pa.int64())
    except pa.ArrowInvalid:
        return None


def _too_wide(units: pa.ChunkedArray, precision: int) -> bool:
    if precision >= 19:
        return False
    return _largest_magnitude(units) >= 10**precision


def _largest_magnitude(units: pa.ChunkedArray | pa.Array) -> int:
    """Return the largest absolute value of int64 units as a Python int (0 when all NULL)."""
    extremes = pc.min_max(units)
    low, high = extremes["min"].as_py(), extremes["max"].as_py()
    if low is None:
        return 0
    return max(abs(low), abs(high))


def _to_decimal(units: pa.ChunkedArray, result: pa.DataType) -> pa.ChunkedArray:
    return pa.chunked_array([_decimal_chunk(chunk, result) for chunk in units.chunks], type=result)


def _decimal_chunk(chunk: pa.Array, result: pa.DataType) -> pa.Array:
    """Widen one int64 chunk to 128-bit little-endian words: the value, then its sign."""
    count = len(chunk)
    if count == 0:
        return pa.array([], result)
    # The value slots of NULL rows are copied as they are; the validity bitmap hides them.
    low = np.frombuffer(chunk.buffers()[1], dtype="<i8", count=count, offset=8 * chunk.offset)
    # Arrow's memory pool reuses freed memory, where a large NumPy array gets fresh pages from
    # the system, each of which faults on its first write.
    buffer = pa.allocate_buffer(16 * count)
    words = np.frombuffer(buffer, dtype="<i8").reshape(count, 2)
    words[:, 0] = low
    np.right_shift(low, 63, out=words[:, 1])
    validity = pc.is_valid(chunk).buffers()[1] if chunk.null_count else None
    return pa.Array.from_buffers(result, count, [validity, buffer], chunk.null_count)


def decimal_to_double(value, target: pa.DataType):
    """Convert decimals to the nearest DOUBLE.

    Arrow's cast multiplies by a power of ten and can miss the nearest double
    (2.675 becomes 2.6750000000000003); dividing the unscaled integer by 10**scale is
    correctly rounded whenever the integer has at most 15 digits.
    """
    scale = value.type.scale
    units = _unscaled(value)
    if units is None or (value.type.precision > 15 and _too_wide(units if not isinstance(units, pa.Scalar) else pa.chunked_array([pa.array([units.as_py()], pa.int64())]), 15)):
        return pc.cast(value, target, safe=False)
    quotient = pc.divide(pc.cast(units, pa.float64()), float(10**scale)) if scale >= 0 else pc.multiply(pc.cast(units, pa.float64()), float(10**-scale))
    return pc.cast(quotient, target) if target != pa.float64() else quotient
