"""Window functions over an Arrow table, with SQL's partitions, peers and frames.

Rows are sorted once by partition and ORDER BY keys. In that order each row has the bounds
of its partition and of its peer group (rows with equal ORDER BY keys), and every frame becomes
a half-open range of positions `[start, end)`. Aggregates over frames use prefix sums; results
are scattered back to the input order.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gsql.engine.sorting import sort_indices
from gsql.errors import ExecutionError, UnsupportedError
from gsql.sql import plan

__all__ = ["compute_window"]

_INT64_LIMIT = 2.0**63


@dataclass
class _Layout:
    """Positions of the sorted rows: partition and peer-group bounds for each row."""

    permutation: np.ndarray
    partition_start: np.ndarray
    partition_end: np.ndarray
    peer_start: np.ndarray
    peer_end: np.ndarray
    peer_id: np.ndarray
    order_values: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.permutation)


def compute_window(table: pa.Table, call: plan.WindowCall) -> pa.ChunkedArray:
    """Return the values of one window function for every row of `table`, in input order."""
    layout = _layout(table, call)
    columns = [pc.take(table.column(name), pa.array(layout.permutation)) for name in call.arguments]
    result = _evaluate(call, layout, columns)
    inverse = np.empty(layout.size, dtype=np.int64)
    inverse[layout.permutation] = np.arange(layout.size)
    return pa.chunked_array([pc.take(result, pa.array(inverse))])


def _layout(table: pa.Table, call: plan.WindowCall) -> _Layout:
    keys = [plan.SortKey(name, False, True) for name in call.partition_by] + list(call.order_by)
    count = table.num_rows
    if keys and count > 1:
        permutation = sort_indices(table, keys).to_numpy()
    else:
        permutation = np.arange(count)
    take = pa.array(permutation)

    partition_columns = [pc.take(table.column(name), take) for name in call.partition_by]
    order_columns = [pc.take(table.column(key.column), take) for key in call.order_by]
    partition_flags = _group_starts(partition_columns, count)
    peer_flags = partition_flags | _group_starts(order_columns, count)

    partition_start, partition_end = _bounds(partition_flags)
    peer_start, peer_end = _bounds(peer_flags)
    peer_id = np.cumsum(peer_flags) - 1
    order_values = _numeric_keys(order_columns[0]) if len(order_columns) == 1 else None
    return _Layout(permutation, partition_start, partition_end, peer_start, peer_end, peer_id, order_values)


def _numeric_keys(column: pa.ChunkedArray) -> np.ndarray | None:
    """Return an ORDER BY key as float64 (NULL as NaN) for RANGE offsets, or None if not numeric."""
    kind = column.type
    if pa.types.is_date(kind):
        column = column.cast(pa.int32()) if pa.types.is_date32(kind) else column.cast(pa.int64())
    elif not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        return None
    return column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False).astype(np.float64)


def _group_starts(columns: list[pa.ChunkedArray], count: int) -> np.ndarray:
    """Flag the rows whose keys differ from the previous row's (NULL equals NULL, NaN equals NaN)."""
    flags = np.zeros(count, dtype=bool)
    if count:
        flags[0] = True
    for column in columns:
        if count < 2:
            break
        current, previous = column.slice(1), column.slice(0, count - 1)
        same = pc.fill_null(pc.equal(current, previous), False)
        both_null = pc.and_(pc.is_null(current), pc.is_null(previous))
        same = pc.or_(same, both_null)
        if pa.types.is_floating(column.type):
            both_nan = pc.and_(pc.fill_null(pc.is_nan(current), False), pc.fill_null(pc.is_nan(previous), False))
            same = pc.or_(same, both_nan)
        flags[1:] |= ~same.to_numpy(zero_copy_only=False)
    return flags


def _bounds(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's group start and end (exclusive) from the group-start flags."""
    count = len(flags)
    starts = np.flatnonzero(flags)
    ends = np.append(starts[1:], count)
    group = np.cumsum(flags) - 1
    return starts[group], ends[group]


def _evaluate(call: plan.WindowCall, layout: _Layout, columns: list[pa.ChunkedArray]) -> pa.Array:
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
        return pa.array(_ntile(layout, call.options["buckets"]), pa.int64())
    if name in ("lag", "lead"):
        if call.options.get("ignore_nulls"):
            return _shifted_ignoring_nulls(name, layout, columns, call.options.get("offset", 1))
        return _shifted(name, layout, columns, call.options.get("offset", 1))

    start, end = _frame_bounds(call, layout)
    values = columns[0] if columns else None
    if name in ("first_value", "last_value", "nth_value"):
        return _frame_value(name, call, values, start, end)
    return _frame_aggregate(name, values, start, end, call.options)


def _ntile(layout: _Layout, buckets: int) -> np.ndarray:
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


def _shifted(name: str, layout: _Layout, columns: list[pa.ChunkedArray], offset: int) -> pa.Array:
    positions = np.arange(layout.size)
    source = positions - offset if name == "lag" else positions + offset
    inside = (source >= layout.partition_start) & (source < layout.partition_end)
    values = columns[0].combine_chunks()
    taken = pc.take(values, pa.array(np.where(inside, source, 0), pa.int64())) if layout.size else values
    if len(columns) > 1:
        default = columns[1].combine_chunks()
        if default.type != values.type:
            default = default.cast(values.type)
        fallback = default
    else:
        fallback = pa.nulls(layout.size, values.type)
    return pc.if_else(pa.array(inside), taken, fallback)


def _shifted_ignoring_nulls(name: str, layout: _Layout, columns: list[pa.ChunkedArray], offset: int) -> pa.Array:
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
    source = np.where(inside, valid[np.clip(index, 0, max(len(valid) - 1, 0))] if len(valid) else 0, 0)
    inside &= (source >= layout.partition_start) & (source < layout.partition_end)
    taken = pc.take(values, pa.array(source, pa.int64())) if layout.size else values
    if len(columns) > 1:
        fallback = columns[1].combine_chunks()
        fallback = fallback if fallback.type == values.type else fallback.cast(values.type)
    else:
        fallback = pa.nulls(layout.size, values.type)
    return pc.if_else(pa.array(inside), taken, fallback)


def _frame_bounds(call: plan.WindowCall, layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    frame = call.frame or {"kind": "rows", "start": ("preceding", None), "end": ("following", None)}
    positions = np.arange(layout.size)
    if frame["kind"] == "rows":
        start = _row_bound(frame["start"], positions, layout, is_start=True)
        end = _row_bound(frame["end"], positions, layout, is_start=False) + 1
    else:
        start = _range_bound(frame["start"], call, layout, is_start=True)
        end = _range_bound(frame["end"], call, layout, is_start=False)
    start = np.clip(start, layout.partition_start, layout.partition_end)
    end = np.clip(end, layout.partition_start, layout.partition_end)
    return start, np.maximum(end, start)


def _row_bound(bound: tuple[str, Any], positions: np.ndarray, layout: _Layout, is_start: bool) -> np.ndarray:
    side, offset = bound
    if side == "current":
        return positions.copy()
    if offset is None:
        return layout.partition_start.copy() if side == "preceding" else layout.partition_end - 1
    if not float(offset).is_integer():
        raise ExecutionError(f"a ROWS frame offset must be an integer, not {offset}")
    offset = int(offset)
    return positions - offset if side == "preceding" else positions + offset


def _range_bound(bound: tuple[str, Any], call: plan.WindowCall, layout: _Layout, is_start: bool) -> np.ndarray:
    side, offset = bound
    if side == "current":
        return layout.peer_start.copy() if is_start else layout.peer_end.copy()
    if offset is None:
        return layout.partition_start.copy() if side == "preceding" else layout.partition_end.copy()
    return _range_offset_bound(side, offset, call, layout, is_start)


def _range_offset_bound(side: str, offset: float, call: plan.WindowCall, layout: _Layout, is_start: bool) -> np.ndarray:
    """Bound a RANGE frame at `key - offset` or `key + offset` of the single ORDER BY key.

    Rows whose key is NULL have their peer group (the other NULL rows) as the frame.
    """
    if len(call.order_by) != 1:
        raise ExecutionError("a RANGE frame with an offset needs exactly one ORDER BY key")
    keys = layout.order_values
    if keys is None:
        raise UnsupportedError("RANGE offsets need a numeric or date ORDER BY key")
    # Work on keys that ascend in the sorted order: negated for a descending ORDER BY. In that
    # space "n PRECEDING" is always `key - n` and "n FOLLOWING" is `key + n`.
    ordered = -keys if call.order_by[0].descending else keys
    bounds = layout.peer_start.copy() if is_start else layout.peer_end.copy()
    valid = ~np.isnan(ordered)
    starts = np.unique(layout.partition_start)
    for start in starts:
        end = layout.partition_end[start]
        segment = np.arange(start, end)
        present = segment[valid[start:end]]
        if len(present) == 0:
            continue
        values = ordered[present]
        targets = values + (offset if side == "following" else -offset)
        side_name = "left" if is_start else "right"
        positions = np.searchsorted(values, targets, side=side_name)
        bounds[present] = present[0] + positions
    return bounds


def _frame_value(name: str, call: plan.WindowCall, values: pa.ChunkedArray, start: np.ndarray, end: np.ndarray) -> pa.Array:
    array = values.combine_chunks()
    if call.options.get("ignore_nulls"):
        valid = np.flatnonzero(array.is_valid().to_numpy(zero_copy_only=False))
        if name == "first_value":
            index = np.searchsorted(valid, start)
            found = index < len(valid)
            chosen = np.where(found, valid[np.minimum(index, max(len(valid) - 1, 0))] if len(valid) else 0, 0)
            ok = found & (chosen < end)
        elif name == "last_value":
            index = np.searchsorted(valid, end) - 1
            found = index >= 0
            chosen = np.where(found, valid[np.maximum(index, 0)] if len(valid) else 0, 0)
            ok = found & (chosen >= start)
        else:
            raise UnsupportedError("NTH_VALUE with IGNORE NULLS is not supported")
    else:
        if name == "first_value":
            chosen = start
        elif name == "last_value":
            chosen = end - 1
        else:
            chosen = start + call.options["nth"] - 1
        ok = (chosen >= start) & (chosen < end)
    taken = pc.take(array, pa.array(np.where(ok, chosen, 0), pa.int64())) if len(array) else array
    return pc.if_else(pa.array(ok), taken, pa.nulls(len(array), array.type))


def _frame_aggregate(
    name: str, values: pa.ChunkedArray | None, start: np.ndarray, end: np.ndarray, options: dict[str, Any]
) -> pa.Array:
    if name == "count_star":
        return pa.array(end - start, pa.int64())
    array = values.combine_chunks()
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    counts = _prefix(valid.astype(np.int64))
    count = counts[end] - counts[start]
    if name == "count":
        return pa.array(count, pa.int64())
    empty = count == 0
    if name in ("sum", "avg"):
        return _frame_sum(name, array, valid, start, end, count, empty)
    if name in ("min", "max"):
        return _frame_extreme(name, array, valid, start, end, empty)
    return _frame_generic(name, array, start, end, empty, options)


def _frame_generic(name, array: pa.Array, start, end, empty, options: dict[str, Any]) -> pa.Array:
    """Compute one aggregate per distinct frame with Arrow's scalar aggregates.

    This costs one call per distinct frame, so it suits frames over whole partitions best.
    """
    compute = _GENERIC_AGGREGATES.get(name)
    if compute is None:
        raise UnsupportedError(f"window aggregate `{name}` is not supported")
    results: list[Any] = []
    cache: dict[tuple[int, int], Any] = {}
    for first, stop, is_empty in zip(start.tolist(), end.tolist(), empty.tolist()):
        if is_empty:
            results.append(None)
            continue
        key = (first, stop)
        if key not in cache:
            cache[key] = compute(array.slice(first, stop - first), options)
        results.append(cache[key])
    result_type = pa.float64()
    if name == "string_agg":
        result_type = pa.large_string()
    elif name.startswith("bool"):
        result_type = pa.bool_()
    return pa.array(results, result_type)


def _median(values: pa.Array, options: dict[str, Any]) -> float | None:
    numbers = np.sort(pc.drop_null(values).cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False))
    if len(numbers) == 0:
        return None
    middle = len(numbers) // 2
    return float(numbers[middle]) if len(numbers) % 2 else float((numbers[middle - 1] + numbers[middle]) / 2)


def _as_float(values: pa.Array) -> pa.Array:
    return values.cast(pa.float64(), safe=False)


_GENERIC_AGGREGATES = {
    "stddev_samp": lambda v, o: pc.stddev(_as_float(v), ddof=1, min_count=1).as_py(),
    "stddev_pop": lambda v, o: pc.stddev(_as_float(v), ddof=0, min_count=1).as_py(),
    "var_samp": lambda v, o: pc.variance(_as_float(v), ddof=1, min_count=1).as_py(),
    "var_pop": lambda v, o: pc.variance(_as_float(v), ddof=0, min_count=1).as_py(),
    "median": _median,
    "bool_and": lambda v, o: pc.all(v, min_count=1).as_py(),
    "bool_or": lambda v, o: pc.any(v, min_count=1).as_py(),
    "string_agg": lambda v, o: o.get("separator", ",").join(
        str(item) for item in v.to_pylist() if item is not None
    ) or None,
}


def _prefix(values: np.ndarray) -> np.ndarray:
    prefix = np.zeros(len(values) + 1, dtype=values.dtype)
    np.cumsum(values, out=prefix[1:])
    return prefix


def _frame_sum(name, array: pa.Array, valid, start, end, count, empty) -> pa.Array:
    kind = array.type
    if pa.types.is_decimal(kind):
        # Exact: prefix sums of Python Decimals.
        items = np.array([v if v is not None else decimal.Decimal(0) for v in array.to_pylist()], dtype=object)
        prefix = np.concatenate([[decimal.Decimal(0)], np.cumsum(items)]) if len(items) else np.array([decimal.Decimal(0)], dtype=object)
        totals = prefix[end] - prefix[start]
        if name == "avg":
            averages = [None if e else float(t) / c for t, c, e in zip(totals, count, empty)]
            return pa.array(averages, pa.float64())
        return pa.array([None if e else t for t, e in zip(totals, empty)], pa.decimal128(38, kind.scale))
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        numbers = np.where(valid, array.fill_null(0).cast(pa.int64()).to_numpy(zero_copy_only=False), 0)
        prefix_float = _prefix(numbers.astype(np.float64))
        if np.abs(prefix_float).max(initial=0) >= _INT64_LIMIT:
            raise ExecutionError("integer overflow: a window SUM exceeds the BIGINT range")
        prefix = _prefix(numbers.astype(np.int64))
        totals = prefix[end] - prefix[start]
        if name == "avg":
            with np.errstate(divide="ignore", invalid="ignore"):
                return pa.array(totals / np.maximum(count, 1), pa.float64(), mask=empty)
        return pa.array(totals, pa.int64(), mask=empty)
    if pa.types.is_floating(kind):
        numbers = np.where(valid, array.fill_null(0).cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False), 0.0)
        if not np.all(np.isfinite(numbers)):
            totals = np.array([numbers[s:e].sum() for s, e in zip(start, end)])
        else:
            # NOTE: differences of prefix sums can lose low-order digits when a moving frame
            # follows much larger values; results are exact to about 1e-12 relative otherwise.
            prefix = _prefix(numbers)
            totals = prefix[end] - prefix[start]
        if name == "avg":
            with np.errstate(divide="ignore", invalid="ignore"):
                return pa.array(totals / np.maximum(count, 1), pa.float64(), mask=empty)
        return pa.array(totals, pa.float64(), mask=empty)
    raise ExecutionError(f"{name.upper()} needs a numeric argument, not `{kind}`")


def _frame_extreme(name, array: pa.Array, valid, start, end, empty) -> pa.Array:
    function = pc.min if name == "min" else pc.max
    results: list[Any] = []
    cache: dict[tuple[int, int], Any] = {}
    for first, stop, is_empty in zip(start.tolist(), end.tolist(), empty.tolist()):
        if is_empty:
            results.append(None)
            continue
        key = (first, stop)
        if key not in cache:
            cache[key] = function(array.slice(first, stop - first)).as_py()
        results.append(cache[key])
    return pa.array(results, array.type)
