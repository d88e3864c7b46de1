"""BIT strings: casts, operators, functions and aggregates, with DuckDB 2.0's rules.

A BIT value is stored as the ASCII digits of its bits (see `gsql.types.BIT`), so `0101` is
b"0101". The kernels work on the bytes of whole Arrow arrays with NumPy: for two digits `a` and
`b`, `a & b` and `a | b` are again digits, `(a ^ b) | 0x30` is their XOR and `a ^ 1` the
complement. Functions that DuckDB defines per value (casts to integers, BIT_POSITION) run per
non-NULL value in Python.

Every function takes and returns Arrow values: a `pyarrow.ChunkedArray`, a `pyarrow.Array` or
a `pyarrow.Scalar` that stands for every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gsql.errors import ExecutionError, UnsupportedError
from gsql.types import BIT, is_bit

__all__ = [
    "BITWISE_NAMES",
    "aggregate_bits",
    "bit_count",
    "bit_position",
    "bitwise_bits",
    "cast_bits",
    "get_bit",
    "not_bits",
    "octet_length",
    "pad_bits",
    "set_bit",
    "shift_bits",
]

Value = pa.ChunkedArray | pa.Array | pa.Scalar

_ZERO = 0x30  # the ASCII digit 0, and 0x31 is the digit 1

# The SQL name of each bitwise operation, as DuckDB's messages spell it.
BITWISE_NAMES = {"and": "AND", "or": "OR", "xor": "XOR"}

_BYTE_OPERATIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "and": np.bitwise_and,
    "or": np.bitwise_or,
    "xor": lambda left, right: np.bitwise_xor(left, right) | _ZERO,
}
_REDUCTIONS = {"and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}


@dataclass
class _Bits:
    """The rows of a BIT value: each row's digits are `data[starts[i] : starts[i] + lengths[i]]`."""

    starts: np.ndarray
    lengths: np.ndarray
    data: np.ndarray
    valid: np.ndarray


def _unpack(value: Value, rows: int) -> _Bits:
    """Read a BIT value as `rows` rows; a scalar stands for every row."""
    if isinstance(value, pa.Scalar):
        present = value.is_valid
        digits = np.frombuffer(value.as_py() or b"", np.uint8)
        return _Bits(
            np.zeros(rows, np.int64),
            np.full(rows, len(digits), np.int64),
            digits,
            np.full(rows, present, bool),
        )
    array = value.combine_chunks() if isinstance(value, pa.ChunkedArray) else value
    buffers = array.buffers()
    offsets = np.frombuffer(
        buffers[1], np.int32, count=len(array) + 1, offset=array.offset * 4
    ).astype(np.int64)
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None else np.empty(0, np.uint8)
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    return _Bits(offsets[:-1], np.diff(offsets), data, valid)


def _pack(lengths: np.ndarray, data: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Build a BIT array whose valid rows hold `lengths` digits each, taken in order from `data`."""
    lengths = np.where(valid, lengths, 0)
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise ExecutionError("a BIT result of more than 2**31 bits in one batch is not supported")
    nulls = int(len(valid) - np.count_nonzero(valid))
    validity = pa.array(valid, pa.bool_()).buffers()[1] if nulls else None
    buffers = [
        validity,
        pa.py_buffer(offsets.astype(np.int32)),
        pa.py_buffer(data.astype(np.uint8)),
    ]
    return pa.Array.from_buffers(BIT, len(lengths), buffers, null_count=nulls)


def _positions(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return, for every digit of rows with `lengths` digits, its row and its index in the row."""
    total = int(lengths.sum())
    rows = np.repeat(np.arange(len(lengths)), lengths)
    firsts = np.cumsum(lengths) - lengths
    return rows, np.arange(total, dtype=np.int64) - firsts[rows]


def _result(array: pa.Array, scalar: bool) -> Value:
    if scalar:
        return array[0]
    return pa.chunked_array([array])


def _rows(*values: Value) -> tuple[int, bool]:
    """Return the row count of the values that are arrays (1 if none is) and whether none is."""
    for value in values:
        if not isinstance(value, pa.Scalar):
            return len(value), False
    return 1, True


def _as_numbers(value: Value, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Return an integer value as int64 numbers and a validity mask, `rows` long."""
    if isinstance(value, pa.Scalar):
        number = value.as_py() if value.is_valid else 0
        return np.full(rows, number, np.int64), np.full(rows, value.is_valid, bool)
    numbers = pc.fill_null(value, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return numbers, pc.is_valid(value).to_numpy(zero_copy_only=False)


def _check_integer(value: Value, argument: str) -> None:
    if not (pa.types.is_integer(value.type) or pa.types.is_null(value.type)):
        raise ExecutionError(f"{argument} must be an integer, not `{value.type}`")


# Casts ----------------------------------------------------------------------------------------


def cast_bits(value: Value, target: pa.DataType) -> Value:
    """Cast to or from BIT with DuckDB's rules.

    Text may contain only the digits 0 and 1, and an empty string casts to the one-bit string
    `0`, as DuckDB 2.0 casts it. An integer becomes the bits of its two's complement, as wide as
    its type, and a BIT string becomes an integer when it is at most as wide as the type. A BLOB
    gives 8 bits per byte, and a BIT string gives a BLOB with zeros padded on the left to whole
    bytes.
    """
    source = value.type
    if is_bit(target):
        if pa.types.is_string(source) or pa.types.is_large_string(source):
            return _bits_from_text(value)
        if pa.types.is_integer(source):
            return _per_value(value, lambda number: _integer_bits(number, source), BIT)
        if pa.types.is_large_binary(source) or pa.types.is_binary(source):
            return _per_value(value, _blob_bits, BIT)
        raise UnsupportedError(f"CAST from `{source}` to BIT is not supported")
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        return pc.cast(value, target)
    if pa.types.is_integer(target):
        return _per_value(value, lambda digits: _bits_integer(digits, target), target)
    if pa.types.is_boolean(target):
        return _per_value(value, lambda digits: b"1" in digits, target)
    if pa.types.is_large_binary(target):
        return _per_value(value, _bits_blob, target)
    raise UnsupportedError(f"CAST from BIT to `{target}` is not supported")


def _per_value(value: Value, function: Callable[[Any], Any], result_type: pa.DataType) -> Value:
    if isinstance(value, pa.Scalar):
        item = value.as_py()
        return pa.scalar(None if item is None else function(item), result_type)
    results = [None if item is None else function(item) for item in value.to_pylist()]
    return pa.chunked_array([pa.array(results, type=result_type)])


def _bits_from_text(value: Value) -> Value:
    rows, scalar = _rows(value)
    binary = (
        pc.cast(value, BIT)
        if not scalar
        else pa.scalar(None if not value.is_valid else value.as_py().encode(), BIT)
    )
    bits = _unpack(binary, rows)
    rows_of, indexes = _positions(np.where(bits.valid, bits.lengths, 0))
    digits = bits.data[bits.starts[rows_of] + indexes]
    bad = (digits != _ZERO) & (digits != _ZERO + 1)
    if bad.any():
        row = int(rows_of[np.argmax(bad)])
        text = binary.as_py() if scalar else binary[row].as_py()
        raise ExecutionError(
            f"cannot cast {text.decode(errors='replace')!r} to BIT: a bit string may contain "
            "only the characters 0 and 1"
        )
    empty = bits.valid & (bits.lengths == 0)
    if empty.any():
        lengths = np.where(empty, 1, bits.lengths)
        data = _gather(bits, lengths, fill=~empty)
        return _result(_pack(lengths, data, bits.valid), scalar)
    return binary


def _gather(bits: _Bits, lengths: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Copy the digits of each valid row; rows where `fill` is false get `lengths` zeros."""
    lengths = np.where(bits.valid, lengths, 0)
    rows, indexes = _positions(lengths)
    data = np.full(len(rows), _ZERO, np.uint8)
    copied = fill[rows]
    data[copied] = bits.data[bits.starts[rows[copied]] + indexes[copied]]
    return data


def _integer_bits(number: int, source: pa.DataType) -> bytes:
    width = source.bit_width
    return format(number % (1 << width), f"0{width}b").encode()


def _blob_bits(blob: bytes) -> bytes:
    if not blob:
        raise ExecutionError("cannot cast an empty BLOB to BIT")
    return "".join(format(byte, "08b") for byte in blob).encode()


def _bits_blob(digits: bytes) -> bytes:
    padded = digits.rjust(-(-len(digits) // 8) * 8, b"0")
    return int(padded, 2).to_bytes(len(padded) // 8, "big")


def _bits_integer(digits: bytes, target: pa.DataType) -> int:
    width = target.bit_width
    if len(digits) > width:
        raise ExecutionError(
            f"cannot cast a BIT string of {len(digits)} bits to `{target}`, which has {width} bits"
        )
    number = int(digits, 2)
    if len(digits) == width and pa.types.is_signed_integer(target) and number >> (width - 1):
        number -= 1 << width
    return number


# Operators ------------------------------------------------------------------------------------


def bitwise_bits(operation: str, left: Value, right: Value) -> Value:
    """Combine two BIT strings of equal length bit by bit: `and`, `or` or `xor`."""
    rows, scalar = _rows(left, right)
    first, second = _unpack(left, rows), _unpack(right, rows)
    valid = first.valid & second.valid
    different = valid & (first.lengths != second.lengths)
    if different.any():
        row = int(np.argmax(different))
        raise ExecutionError(
            f"cannot {BITWISE_NAMES[operation]} bit strings of different lengths "
            f"({first.lengths[row]} and {second.lengths[row]} bits)"
        )
    lengths = np.where(valid, first.lengths, 0)
    rows_of, indexes = _positions(lengths)
    left_digits = first.data[first.starts[rows_of] + indexes]
    right_digits = second.data[second.starts[rows_of] + indexes]
    data = _BYTE_OPERATIONS[operation](left_digits, right_digits)
    return _result(_pack(lengths, data, valid), scalar)


def not_bits(value: Value) -> Value:
    """Complement every bit."""
    rows, scalar = _rows(value)
    bits = _unpack(value, rows)
    data = _gather(bits, bits.lengths, fill=np.ones(rows, bool)) ^ 1
    return _result(_pack(bits.lengths, data, bits.valid), scalar)


def shift_bits(value: Value, amount: Value, left: bool) -> Value:
    """Shift the bits by `amount` places, keeping the length and filling with zeros.

    As in DuckDB 2.0, a negative amount raises for `<<` and shifts every bit out for `>>`.
    """
    _check_integer(amount, "the shift amount of a BIT string")
    rows, scalar = _rows(value, amount)
    bits = _unpack(value, rows)
    places, present = _as_numbers(amount, rows)
    valid = bits.valid & present
    if left and (valid & (places < 0)).any():
        negative = int(places[np.argmax(valid & (places < 0))])
        raise ExecutionError(f"cannot left-shift a BIT string by the negative amount {negative}")
    places = np.where(places < 0, bits.lengths, np.minimum(places, bits.lengths))
    lengths = np.where(valid, bits.lengths, 0)
    rows_of, indexes = _positions(lengths)
    sources = indexes + places[rows_of] if left else indexes - places[rows_of]
    inside = (sources >= 0) & (sources < bits.lengths[rows_of])
    data = np.full(len(rows_of), _ZERO, np.uint8)
    data[inside] = bits.data[bits.starts[rows_of[inside]] + sources[inside]]
    return _result(_pack(lengths, data, valid), scalar)


# Functions ------------------------------------------------------------------------------------


def bit_count(value: Value) -> Value:
    """Count the bits that are 1, as BIGINT."""
    rows, scalar = _rows(value)
    bits = _unpack(value, rows)
    rows_of, indexes = _positions(np.where(bits.valid, bits.lengths, 0))
    ones = bits.data[bits.starts[rows_of] + indexes] == _ZERO + 1
    counts = np.bincount(rows_of[ones], minlength=rows).astype(np.int64)
    array = pa.array(counts, pa.int64(), mask=~bits.valid)
    return _result(array, scalar)


def octet_length(value: Value) -> Value:
    """Return DuckDB's storage size of the bits in bytes: the bit count divided by 8, rounded up."""
    lengths = pc.binary_length(value)
    return pc.cast(pc.divide(pc.add(lengths, 7), 8), pa.int64())


def get_bit(value: Value, index: Value) -> Value:
    """Return the bit at the 0-based `index`, counted from the left, as INTEGER."""
    _check_integer(index, "the bit index of GET_BIT")
    rows, scalar = _rows(value, index)
    bits = _unpack(value, rows)
    positions, present = _as_numbers(index, rows)
    valid = bits.valid & present
    _check_indexes(positions, bits.lengths, valid)
    numbers = np.zeros(rows, np.int32)
    numbers[valid] = bits.data[bits.starts[valid] + positions[valid]] == _ZERO + 1
    return _result(pa.array(numbers, pa.int32(), mask=~valid), scalar)


def set_bit(value: Value, index: Value, new_bit: Value) -> Value:
    """Return the BIT string with the bit at the 0-based `index` set to `new_bit`, 0 or 1."""
    _check_integer(index, "the bit index of SET_BIT")
    _check_integer(new_bit, "the new bit of SET_BIT")
    rows, scalar = _rows(value, index, new_bit)
    bits = _unpack(value, rows)
    positions, index_present = _as_numbers(index, rows)
    numbers, bit_present = _as_numbers(new_bit, rows)
    valid = bits.valid & index_present & bit_present
    if (valid & (numbers != 0) & (numbers != 1)).any():
        raise ExecutionError("the new bit of SET_BIT must be 0 or 1")
    _check_indexes(positions, bits.lengths, valid)
    lengths = np.where(valid, bits.lengths, 0)
    data = _gather(bits, lengths, fill=np.ones(rows, bool))
    firsts = np.cumsum(lengths) - lengths
    targets = valid & (lengths > 0)
    data[firsts[targets] + positions[targets]] = _ZERO + numbers[targets]
    return _result(_pack(lengths, data, valid), scalar)


def _check_indexes(positions: np.ndarray, lengths: np.ndarray, valid: np.ndarray) -> None:
    outside = valid & ((positions < 0) | (positions >= lengths))
    if outside.any():
        row = int(np.argmax(outside))
        raise ExecutionError(
            f"bit index {positions[row]} is out of the valid range 0..{lengths[row] - 1}"
        )


def bit_position(needle: Value, value: Value) -> Value:
    """Return the 1-based position of the first `needle` bits in `value`, or 0, as INTEGER."""
    rows, scalar = _rows(needle, value)
    needles = _python_values(needle, rows)
    values = _python_values(value, rows)
    positions = [
        None if item is None or pattern is None else item.find(pattern) + 1
        for pattern, item in zip(needles, values)
    ]
    return _result(pa.array(positions, pa.int32()), scalar)


def _python_values(value: Value, rows: int) -> list[Any]:
    if isinstance(value, pa.Scalar):
        return [value.as_py()] * rows
    return value.to_pylist()


def pad_bits(value: Value, length: Value) -> Value:
    """Pad a BIT string with zeros on the left to `length` bits (DuckDB's BITSTRING function)."""
    _check_integer(length, "the length of BITSTRING")
    rows, scalar = _rows(value, length)
    values = _python_values(value, rows)
    lengths = _python_values(length, rows)
    padded = []
    for digits, size in zip(values, lengths):
        if digits is None or size is None:
            padded.append(None)
            continue
        if size < len(digits):
            raise ExecutionError(
                f"the length {size} of BITSTRING is shorter than the {len(digits)} bits it pads"
            )
        padded.append(digits.rjust(size, b"0"))
    return _result(pa.array(padded, BIT), scalar)


# Aggregates -----------------------------------------------------------------------------------


def aggregate_bits(operation: str, values: Value, group: np.ndarray, size: int) -> pa.Array:
    """Combine the non-NULL BIT strings of each group bit by bit: `and`, `or` or `xor`.

    A group without values gives NULL, and a group whose strings differ in length raises.
    """
    bits = _unpack(values, len(group))
    valid = bits.valid
    groups = group[valid]
    lengths = bits.lengths[valid]
    longest = np.zeros(size, np.int64)
    shortest = np.full(size, np.iinfo(np.int64).max)
    np.maximum.at(longest, groups, lengths)
    np.minimum.at(shortest, groups, lengths)
    present = np.bincount(groups, minlength=size) > 0
    if (present & (longest != shortest)).any():
        raise ExecutionError(
            f"cannot {BITWISE_NAMES[operation]} bit strings of different lengths in "
            f"BIT_{BITWISE_NAMES[operation]}"
        )

    rows_of, indexes = _positions(lengths)
    starts = bits.starts[valid]
    digits = bits.data[starts[rows_of] + indexes] & 1
    element_groups = groups[rows_of]
    order = np.lexsort((indexes, element_groups))
    digits, element_groups, indexes = digits[order], element_groups[order], indexes[order]
    if len(digits):
        boundaries = np.flatnonzero(
            (np.diff(element_groups, prepend=-1) != 0) | (np.diff(indexes, prepend=-1) != 0)
        )
        reduced = _REDUCTIONS[operation].reduceat(digits, boundaries) + _ZERO
    else:
        reduced = np.empty(0, np.uint8)
    return _pack(np.where(present, longest, 0), reduced, present)
