"""Short string group keys packed into int64 codes, which Arrow groups several times faster.

Arrow's hash aggregation hashes integer keys much faster than strings. Measured with pyarrow 26
on a shared 2-core machine, three SUMs over 5.9 million TPC-H lineitem rows grouped by two
one-character strings took 0.15 s, and grouped by integer codes of the same keys 0.03 s. A
string of at most seven bytes fits in an int64 together with its length, so the codes group
exactly as the strings do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["StringPacking", "pack_short_string_keys", "unpack_strings"]

# Strings of at most this many bytes are packed into one int64 with their length.
_PACKED_BYTES = 7
# Little-endian unsigned types that read 1, 2 or 4 bytes as the low bytes of an int64 code.
_WORD_TYPES = {1: np.dtype(np.uint8), 2: np.dtype("<u2"), 4: np.dtype("<u4")}


@dataclass(frozen=True)
class StringPacking:
    """The packing of a string key: its type, and the byte length that all values share."""

    type: pa.DataType
    # None when the lengths differ, so that each code also contains its string's length.
    length: int | None


def pack_short_string_keys(work: pa.Table, keys: list[str]) -> tuple[pa.Table, dict[str, StringPacking]]:
    """Replace string keys whose values are all short by int64 codes that group the same way.

    A code contains the string's bytes and its length, so two codes are equal exactly when the
    strings are. NULLs stay NULL. When every value has the same length, the code contains the
    bytes alone. Returns the new table and the packing of each replaced key.
    """
    packed: dict[str, StringPacking] = {}
    for key in keys:
        column = work.column(key)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        if len(column) == 0:
            continue
        extremes = pc.min_max(pc.binary_length(column))
        shortest, longest = extremes["min"].as_py(), extremes["max"].as_py()
        if longest is None or longest > _PACKED_BYTES:
            continue
        # NULL slots may hold any bytes, so only a column without NULLs is laid out evenly.
        fixed = longest if shortest == longest and column.null_count == 0 else None
        chunks = [_pack_chunk(chunk, longest, fixed) for chunk in column.chunks]
        work = work.set_column(work.schema.get_field_index(key), key, pa.chunked_array(chunks, pa.int64()))
        packed[key] = StringPacking(column.type, fixed)
    return work, packed


def _pack_chunk(chunk: pa.Array, longest: int, fixed: int | None) -> pa.Array:
    count = len(chunk)
    if count == 0:
        return pa.array([], pa.int64())
    _, offset_buffer, data_buffer = chunk.buffers()
    offset_type = np.dtype(np.int64 if pa.types.is_large_string(chunk.type) else np.int32)
    offsets = np.frombuffer(offset_buffer, dtype=offset_type, count=count + 1, offset=chunk.offset * offset_type.itemsize)
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(1, np.uint8)
    if fixed is not None:
        # Equal lengths without NULLs: the values lie back to back from the first offset.
        first = int(offsets[0])
        values = data[first : first + count * fixed]
        if fixed in _WORD_TYPES:
            codes = values.view(_WORD_TYPES[fixed]).astype(np.int64)
        else:
            codes = np.zeros((count, 8), dtype=np.uint8)
            codes[:, :fixed] = values.reshape(count, fixed)
            codes = codes.view("<i8").reshape(count)
        return pa.array(codes, pa.int64())
    starts = offsets[:-1].astype(np.int64)
    lengths = np.diff(offsets).astype(np.int64)
    codes = lengths << 56
    last = len(data) - 1
    for position in range(longest):
        # Bytes past a string's end belong to the next string and must not enter its code.
        byte = data[np.minimum(starts + position, last)].astype(np.int64)
        byte[lengths <= position] = 0
        codes |= byte << (8 * position)
    validity = None
    if chunk.null_count:
        # NULL slots may have any length and bytes; zero codes keep them out of the way.
        valid = pc.is_valid(chunk)
        codes[~valid.to_numpy(zero_copy_only=False)] = 0
        validity = valid.buffers()[1]
    return pa.Array.from_buffers(pa.int64(), count, [validity, pa.py_buffer(codes)], chunk.null_count)


def unpack_strings(codes: pa.ChunkedArray, packing: StringPacking) -> pa.Array:
    """Turn the int64 codes of `pack_short_string_keys` back into strings."""
    values = pc.fill_null(codes, 0).to_numpy().astype("<i8")
    if packing.length is None:
        lengths = values >> 56
    else:
        lengths = np.full(len(values), packing.length, dtype=np.int64)
    data = values.view(np.uint8).reshape(len(values), 8)[:, :_PACKED_BYTES]
    data = data[np.arange(_PACKED_BYTES) < lengths[:, None]]
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))]
    strings = pa.Array.from_buffers(pa.large_string(), len(values), buffers, 0).cast(packing.type)
    if codes.null_count == 0:
        return strings
    return pc.if_else(pc.is_null(codes), pa.scalar(None, packing.type), strings)
