"""MIN and MAX over window frames.

Numbers, booleans, dates and timestamps use a sparse table: level k contains the extreme of
every run of 2**k rows, so the extreme of any range is that of two overlapping runs. That costs
O(n log n) to build and O(1) per frame range, whatever the frames look like. Other types (text,
decimals) take Arrow's MIN or MAX once per distinct frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gsql.engine.window_frames import Segments, frame_rows

__all__ = ["frame_extreme"]


def frame_extreme(name: str, array: pa.Array, segments: Segments) -> pa.Array:
    """Return MIN or MAX of `array` over each row's frame; NULL where the frame has no values."""
    numbers = _as_numbers(array)
    if numbers is None:
        return _per_frame_extreme(name, array, segments)
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    counts = np.zeros(len(array) + 1, dtype=np.int64)
    np.cumsum(valid, out=counts[1:])
    present = np.zeros(len(array), dtype=np.int64)
    for start, end in segments:
        present += counts[end] - counts[start]

    combine, filler = _combiner(name, numbers.dtype)
    filled = np.where(valid, numbers, filler)
    levels = _sparse_table(filled, combine)
    result = np.full(len(array), filler, dtype=numbers.dtype)
    for start, end in segments:
        result = combine(result, _range_extreme(levels, start, end, filler, combine))
    return _from_numbers(result, array.type, present == 0)


def _as_numbers(array: pa.Array) -> np.ndarray | None:
    """Return the values as an int64 or float64 NumPy array that orders like SQL, or None."""
    kind = array.type
    if pa.types.is_floating(kind):
        return array.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
    if pa.types.is_integer(kind) and kind != pa.uint64():
        return array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    if pa.types.is_boolean(kind):
        return array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    if pa.types.is_date32(kind):
        return array.cast(pa.int32()).cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    if pa.types.is_date64(kind) or pa.types.is_timestamp(kind):
        return array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    return None


def _from_numbers(values: np.ndarray, kind: pa.DataType, null: np.ndarray) -> pa.Array:
    if pa.types.is_floating(kind):
        return pa.array(values, pa.float64(), mask=null).cast(kind)
    if pa.types.is_date32(kind):
        return (
            pa.array(np.where(null, 0, values), pa.int64(), mask=null).cast(pa.int32()).cast(kind)
        )
    if pa.types.is_boolean(kind):
        return pa.array(values != 0, pa.bool_(), mask=null)
    return pa.array(np.where(null, 0, values), pa.int64(), mask=null).cast(kind)


def _combiner(name: str, dtype: np.dtype) -> tuple[Any, Any]:
    """Return the pairwise extreme and the filler for NULLs, which never wins against a value.

    SQL orders NaN above every number, so MAX keeps NaN (np.maximum propagates it) and MIN
    returns NaN only when every value is NaN (np.fmin skips it). NULLs become NaN under MIN and
    -inf under MAX, which the frame's value count then separates from real values.
    """
    if np.issubdtype(dtype, np.floating):
        return (np.fmin, np.nan) if name == "min" else (np.maximum, -np.inf)
    limits = np.iinfo(np.int64)
    return (np.minimum, limits.max) if name == "min" else (np.maximum, limits.min)


def _sparse_table(values: np.ndarray, combine) -> list[np.ndarray]:
    levels = [values]
    width = 1
    while 2 * width <= len(values):
        previous = levels[-1]
        levels.append(combine(previous[:-width], previous[width:]))
        width *= 2
    return levels


def _range_extreme(
    levels: list[np.ndarray], start: np.ndarray, end: np.ndarray, filler: Any, combine
) -> np.ndarray:
    """Return the extreme of positions [start, end) for each row, `filler` for empty ranges."""
    length = end - start
    empty = length <= 0
    safe_length = np.where(empty, 1, length)
    level = np.floor(np.log2(safe_length)).astype(np.int64)
    # Guard against rounding in log2 right at powers of two.
    level = np.where((1 << (level + 1)) <= safe_length, level + 1, level)
    level = np.where((1 << level) > safe_length, level - 1, level)
    result = np.full(len(start), filler, dtype=levels[0].dtype)
    for number in np.unique(level[~empty]):
        rows = np.flatnonzero((level == number) & ~empty)
        table = levels[number]
        left = table[start[rows]]
        right = table[end[rows] - (1 << number)]
        result[rows] = combine(left, right)
    return result


def _per_frame_extreme(name: str, array: pa.Array, segments: Segments) -> pa.Array:
    function = pc.min if name == "min" else pc.max
    results: list[Any] = []
    cache: dict[tuple[int, ...], Any] = {}
    for row in range(len(array)):
        key = tuple(int(bound[row]) for pair in segments for bound in pair)
        if key not in cache:
            cache[key] = _extreme_of_frame(function, array, segments, row)
        results.append(cache[key])
    return pa.array(results, array.type)


def _extreme_of_frame(function, array: pa.Array, segments: Segments, row: int) -> Any:
    if len(segments) == 1:
        start, end = int(segments[0][0][row]), int(segments[0][1][row])
        return function(array.slice(start, end - start)).as_py() if end > start else None
    rows = frame_rows(segments, row)
    return function(array.take(pa.array(rows, pa.int64()))).as_py() if len(rows) else None
