"""Window functions with an ORDER BY among their arguments, as DuckDB runs them.

`RANK(ORDER BY k) OVER (...)`, `LEAD(x ORDER BY k) OVER (...)` or `FIRST_VALUE(x ORDER BY k)`
rank or pick rows within the current row's frame, ordered by the argument keys. Rows with equal
keys keep the window's order. The current row need not lie inside its own frame:

- ROW_NUMBER is 1 + the frame rows ordered before the current row.
- RANK is 1 + the frame rows with smaller keys.
- CUME_DIST is the share of frame rows with keys up to the current row's.
- PERCENT_RANK is (RANK - 1) / (frame size - 1), or 0 for frames of fewer than two rows.
- NTILE splits the frame into buckets. A current row outside the frame takes the bucket of the
  frame's last row, and an empty frame gives NULL.
- LAG and LEAD step from the current row's place in the frame order, as if the current row
  were inserted there when it is outside the frame.

These rules match DuckDB 2.0's results on the cases in tests/test_window_functions_duckdb.py.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gsql.engine.sorting import sort_indices
from gsql.engine.window_frames import Layout, Segments, frame_rows, group_starts
from gsql.sql import plan

__all__ = ["argument_ranks", "ordered_function"]


def argument_ranks(call: plan.WindowCall, layout: Layout, table: pa.Table) -> pa.Array:
    """Return each row's position in the order of `call.argument_order`, in sorted row order."""
    _, by_rank = _argument_order(call, layout, table)
    rank_of = np.empty(layout.size, dtype=np.int64)
    rank_of[by_rank] = np.arange(layout.size)
    return pa.array(rank_of, pa.int64())


def _argument_order(call: plan.WindowCall, layout: Layout, table: pa.Table):
    """Return the argument keys in sorted row order and the row positions ordered by them."""
    take = pa.array(layout.permutation)
    keys = pa.table(
        {
            f"k{i}": pc.take(table.column(key.column), take)
            for i, key in enumerate(call.argument_order)
        }
    )
    sort_keys = [
        plan.SortKey(f"k{i}", key.descending, key.nulls_first)
        for i, key in enumerate(call.argument_order)
    ]
    # The sort is stable, so rows with equal argument keys stay in window order.
    by_rank = sort_indices(keys, sort_keys).to_numpy() if layout.size else np.zeros(0, np.int64)
    return keys, by_rank


def ordered_function(
    call: plan.WindowCall,
    layout: Layout,
    table: pa.Table,
    columns: list[pa.ChunkedArray],
    segments: Segments,
) -> pa.Array:
    """Return the values of `call`, whose `argument_order` orders each frame, in sorted row order."""
    keys, by_rank = _argument_order(call, layout, table)
    rank_of = np.empty(layout.size, dtype=np.int64)
    rank_of[by_rank] = np.arange(layout.size)
    peer_of = np.empty(layout.size, dtype=np.int64)
    peer_of[by_rank] = np.cumsum(_key_changes(keys.take(pa.array(by_rank, pa.int64())))) - 1

    name = call.function
    if name in ("first_value", "last_value", "nth_value"):
        return _ordered_value(call, columns[0], segments, rank_of, by_rank)
    if name in ("lag", "lead"):
        return _ordered_shift(call, columns, segments, rank_of, by_rank)
    return _ordered_rank(call, layout.size, segments, rank_of, peer_of)


def _key_changes(keys: pa.Table) -> np.ndarray:
    return group_starts([keys.column(i) for i in range(keys.num_columns)], keys.num_rows)


def _frames(segments: Segments, size: int, values: np.ndarray, valid: np.ndarray | None = None):
    """Yield each row with the sorted `values` of its frame rows, sorting each distinct frame once."""
    cache: dict[tuple[int, ...], np.ndarray] = {}
    for row in range(size):
        key = tuple(int(bound[row]) for pair in segments for bound in pair)
        found = cache.get(key)
        if found is None:
            rows = frame_rows(segments, row)
            if valid is not None:
                rows = rows[valid[rows]]
            found = np.sort(values[rows])
            cache[key] = found
        yield row, found


def _ordered_rank(
    call: plan.WindowCall, size: int, segments: Segments, rank_of: np.ndarray, peer_of: np.ndarray
) -> pa.Array:
    name = call.function
    by_order = name in ("row_number", "ntile")
    values = rank_of if by_order else peer_of
    results = np.zeros(
        size, dtype=np.float64 if name in ("percent_rank", "cume_dist") else np.int64
    )
    null = np.zeros(size, dtype=bool)
    buckets = call.options.get("buckets")
    for row, frame in _frames(segments, size, values):
        count = len(frame)
        before = int(np.searchsorted(frame, values[row], side="left"))
        if name in ("row_number", "rank"):
            results[row] = before + 1
        elif name == "percent_rank":
            results[row] = before / (count - 1) if count > 1 else 0.0
        elif name == "cume_dist":
            results[row] = (
                np.searchsorted(frame, values[row], side="right") / count if count else 0.0
            )
        elif count == 0 or buckets is None:
            null[row] = True
        else:
            results[row] = _bucket(min(before, count - 1), count, buckets)
    kind = pa.float64() if results.dtype == np.float64 else pa.int64()
    return pa.array(results, kind, mask=null)


def _bucket(index: int, count: int, buckets: int) -> int:
    """Return the 1-based NTILE bucket of the `index`-th of `count` rows; larger buckets first."""
    buckets = min(buckets, count)
    small, large_count = divmod(count, buckets)
    in_large = large_count * (small + 1)
    if index < in_large:
        return 1 + index // (small + 1)
    return 1 + large_count + (index - in_large) // small


def _ordered_value(
    call: plan.WindowCall,
    values: pa.ChunkedArray,
    segments: Segments,
    rank_of: np.ndarray,
    by_rank: np.ndarray,
) -> pa.Array:
    array = values.combine_chunks()
    size = len(array)
    valid = (
        array.is_valid().to_numpy(zero_copy_only=False)
        if call.options.get("ignore_nulls")
        else None
    )
    chosen = np.zeros(size, dtype=np.int64)
    found = np.zeros(size, dtype=bool)
    for row, frame in _frames(segments, size, rank_of, valid):
        if call.function == "first_value":
            index = 0
        elif call.function == "last_value":
            index = len(frame) - 1
        else:
            index = call.options["nth"] - 1
        if 0 <= index < len(frame):
            chosen[row] = by_rank[frame[index]]
            found[row] = True
    taken = pc.take(array, pa.array(chosen, pa.int64())) if size else array
    return pc.if_else(pa.array(found), taken, pa.nulls(size, array.type))


def _ordered_shift(
    call: plan.WindowCall,
    columns: list[pa.ChunkedArray],
    segments: Segments,
    rank_of: np.ndarray,
    by_rank: np.ndarray,
) -> pa.Array:
    array = columns[0].combine_chunks()
    size = len(array)
    offset = int(call.options.get("offset", 1))
    chosen = np.zeros(size, dtype=np.int64)
    found = np.zeros(size, dtype=bool)
    for row, frame in _frames(segments, size, rank_of):
        place = int(np.searchsorted(frame, rank_of[row], side="left"))
        inside = place < len(frame) and frame[place] == rank_of[row]
        if call.function == "lag":
            index = place - offset
        else:
            index = place + offset - (0 if inside else 1)
        if 0 <= index < len(frame):
            chosen[row] = by_rank[frame[index]]
            found[row] = True
    taken = pc.take(array, pa.array(chosen, pa.int64())) if size else array
    if len(columns) > 1:
        fallback = columns[1].combine_chunks()
        fallback = fallback if fallback.type == array.type else fallback.cast(array.type)
    else:
        fallback = pa.nulls(size, array.type)
    return pc.if_else(pa.array(found), taken, fallback)
