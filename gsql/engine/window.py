"""Window functions over an Arrow table, with SQL's partitions, peers and frames.

Rows are sorted once by partition and ORDER BY keys. In that order each row has the bounds
of its partition and of its peer group (rows with equal ORDER BY keys), and every frame becomes
position ranges (gsql/engine/window_frames.py). Ranking and offset functions work on those
bounds here; aggregates and value functions over frames are in window_aggregates.py, and
functions with an ORDER BY among their arguments in window_ordered.py. Results are scattered
back to the input order.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gsql.engine.sorting import sort_indices
from gsql.engine.window_aggregates import frame_aggregate, frame_value
from gsql.engine.window_frames import Layout, frame_segments, group_starts
from gsql.engine.window_ordered import argument_ranks, ordered_function
from gsql.sql import plan

__all__ = ["compute_window", "output_order"]


def compute_window(table: pa.Table, call: plan.WindowCall) -> pa.ChunkedArray:
    """Return the values of one window function for every row of `table`, in input order."""
    layout = _layout(table, call)
    take = pa.array(layout.permutation)
    columns = [pc.take(table.column(name), take) for name in call.arguments]
    if call.argument_order and call.function != "string_agg":
        result = ordered_function(call, layout, table, columns, frame_segments(call, layout))
    else:
        if call.argument_order:
            # The frame's rows are aggregated in the order of their argument keys.
            columns.append(pa.chunked_array([argument_ranks(call, layout, table)]))
        result = _evaluate(call, layout, columns, _filter_mask(table, call, take))
    inverse = np.empty(layout.size, dtype=np.int64)
    inverse[layout.permutation] = np.arange(layout.size)
    return pa.chunked_array([pc.take(result, pa.array(inverse))])


def output_order(table: pa.Table, calls: list[plan.WindowCall]) -> np.ndarray | None:
    """Return the row order that DuckDB gives a Window node's output, or None to keep the input's.

    SQL leaves the order of rows without an outer ORDER BY open. DuckDB returns them sorted by
    each window's ORDER BY in turn, and gsql does the same for windows without PARTITION BY,
    because only for those does DuckDB's order not depend on its hash partitioning.
    """
    order = None
    for call in calls:
        if call.partition_by or not call.order_by or table.num_rows < 2:
            continue
        current = table if order is None else table.take(pa.array(order))
        step = sort_indices(current, list(call.order_by)).to_numpy()
        order = step if order is None else order[step]
    return order


def _layout(table: pa.Table, call: plan.WindowCall) -> Layout:
    keys = [plan.SortKey(name, False, True) for name in call.partition_by] + list(call.order_by)
    count = table.num_rows
    if keys and count > 1:
        permutation = sort_indices(table, keys).to_numpy()
    else:
        permutation = np.arange(count)
    take = pa.array(permutation)

    partition_columns = [pc.take(table.column(name), take) for name in call.partition_by]
    order_columns = [pc.take(table.column(key.column), take) for key in call.order_by]
    partition_flags = group_starts(partition_columns, count)
    peer_flags = partition_flags | group_starts(order_columns, count)

    partition_start, partition_end = _bounds(partition_flags)
    peer_start, peer_end = _bounds(peer_flags)
    peer_id = np.cumsum(peer_flags) - 1
    order_values = order_columns[0] if len(order_columns) == 1 else None
    return Layout(
        permutation, partition_start, partition_end, peer_start, peer_end, peer_id, order_values
    )


def _bounds(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's group start and end (exclusive) from the group-start flags."""
    count = len(flags)
    starts = np.flatnonzero(flags)
    ends = np.append(starts[1:], count)
    group = np.cumsum(flags) - 1
    return starts[group], ends[group]


def _filter_mask(table: pa.Table, call: plan.WindowCall, take: pa.Array) -> np.ndarray | None:
    """Return where the FILTER condition is true, in sorted row order; NULL counts as false."""
    if call.filter is None:
        return None
    condition = pc.take(table.column(call.filter), take)
    return pc.fill_null(condition, False).to_numpy(zero_copy_only=False).astype(bool)


def _evaluate(
    call: plan.WindowCall, layout: Layout, columns: list[pa.ChunkedArray], mask: np.ndarray | None
) -> pa.Array:
    name = call.function
    positions = np.arange(layout.size)
    if name == "row_number":
        return pa.array(positions - layout.partition_start + 1, pa.int64())
    if name == "rank":
        return pa.array(layout.peer_start - layout.partition_start + 1, pa.int64())
    if name == "dense_rank":
        first_peer = layout.peer_id[layout.partition_start] if layout.size else layout.peer_id
        return pa.array(layout.peer_id - first_peer + 1, pa.int64())
    if name == "percent_rank":
        size = layout.partition_end - layout.partition_start
        rank = layout.peer_start - layout.partition_start
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(size > 1, rank / np.maximum(size - 1, 1), 0.0)
        return pa.array(value, pa.float64())
    if name == "cume_dist":
        size = layout.partition_end - layout.partition_start
        return pa.array((layout.peer_end - layout.partition_start) / size, pa.float64())
    if name == "ntile":
        if call.options["buckets"] is None:
            return pa.nulls(layout.size, pa.int64())
        return pa.array(_ntile(layout, call.options["buckets"]), pa.int64())
    if name in ("lag", "lead"):
        if call.options.get("ignore_nulls"):
            return _shifted_ignoring_nulls(name, layout, columns, call.options.get("offset", 1))
        return _shifted(name, layout, columns, call.options.get("offset", 1))

    segments = frame_segments(call, layout)
    if name in ("first_value", "last_value", "nth_value"):
        return frame_value(name, call, columns[0], segments)
    return frame_aggregate(call, columns, mask, segments)


def _ntile(layout: Layout, buckets: int) -> np.ndarray:
    # Buckets differ in size by at most one row, and the larger buckets come first.
    size = layout.partition_end - layout.partition_start
    position = np.arange(layout.size) - layout.partition_start
    small, remainder = np.divmod(size, buckets)
    large = small + 1
    in_large = position < remainder * large
    with np.errstate(divide="ignore", invalid="ignore"):
        bucket = np.where(
            in_large,
            position // np.maximum(large, 1),
            remainder + (position - remainder * large) // np.maximum(small, 1),
        )
    return bucket + 1


def _shifted(name: str, layout: Layout, columns: list[pa.ChunkedArray], offset: int) -> pa.Array:
    positions = np.arange(layout.size)
    source = positions - offset if name == "lag" else positions + offset
    inside = (source >= layout.partition_start) & (source < layout.partition_end)
    values = columns[0].combine_chunks()
    taken = (
        pc.take(values, pa.array(np.where(inside, source, 0), pa.int64()))
        if layout.size
        else values
    )
    if len(columns) > 1:
        default = columns[1].combine_chunks()
        if default.type != values.type:
            default = default.cast(values.type)
        fallback = default
    else:
        fallback = pa.nulls(layout.size, values.type)
    return pc.if_else(pa.array(inside), taken, fallback)


def _shifted_ignoring_nulls(
    name: str, layout: Layout, columns: list[pa.ChunkedArray], offset: int
) -> pa.Array:
    """LAG/LEAD IGNORE NULLS: the offset-th non-NULL value before or after each row."""
    if offset == 0:
        # An offset of 0 is the row itself, NULL or not.
        return _shifted(name, layout, columns, 0)
    values = columns[0].combine_chunks()
    valid = np.flatnonzero(values.is_valid().to_numpy(zero_copy_only=False))
    positions = np.arange(layout.size)
    if name == "lag":
        index = np.searchsorted(valid, positions, side="left") - offset
    else:
        index = np.searchsorted(valid, positions, side="right") + offset - 1
    inside = (index >= 0) & (index < len(valid))
    source = np.where(
        inside, valid[np.clip(index, 0, max(len(valid) - 1, 0))] if len(valid) else 0, 0
    )
    inside &= (source >= layout.partition_start) & (source < layout.partition_end)
    taken = pc.take(values, pa.array(source, pa.int64())) if layout.size else values
    if len(columns) > 1:
        fallback = columns[1].combine_chunks()
        fallback = fallback if fallback.type == values.type else fallback.cast(values.type)
    else:
        fallback = pa.nulls(layout.size, values.type)
    return pc.if_else(pa.array(inside), taken, fallback)
