"""Aggregates and value functions (FIRST_VALUE, NTH_VALUE...) over window frames.

COUNT, SUM and AVG use prefix sums over the frame's position ranges, and MIN and MAX a sparse
table (window_extremes.py). Every other aggregate runs once per distinct frame. The rows of a batch of distinct frames are gathered into one
table keyed by frame number, and the grouped aggregation code computes one result per frame.
Aggregates that only windows support use a NumPy reduction here instead.
"""

from __future__ import annotations

import decimal
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gsql.engine.aggregate import aggregate_table
from gsql.engine.window_extremes import frame_extreme
from gsql.engine.window_frames import Segments, frame_rows, frame_sizes
from gsql.errors import ExecutionError, UnsupportedError
from gsql.sql import plan

__all__ = ["frame_aggregate", "frame_value"]

_INT64_LIMIT = 2.0**63
# Rows gathered per batch of distinct frames, which bounds the memory that long frames take.
_GATHER_LIMIT = 1 << 22
# Mean distinct-frame length from which aggregates with a per-frame kernel loop over frames
# instead of gathering their rows. It is an estimate from timings of running frames over 5,000
# rows on a 2-core machine.
_LOOP_MIN_LENGTH = 32
# Aggregates that the grouped aggregation code computes per frame.
_GROUPED = frozenset(
    {
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "stddev_samp",
        "stddev_pop",
        "var_samp",
        "var_pop",
        "median",
        "bool_and",
        "bool_or",
        "string_agg",
        "percentile_cont",
        "percentile_disc",
    }
)
_PAIRS = frozenset(
    {
        "corr",
        "covar_pop",
        "covar_samp",
        "regr_avgx",
        "regr_avgy",
        "regr_count",
        "regr_intercept",
        "regr_r2",
        "regr_slope",
        "regr_sxx",
        "regr_sxy",
        "regr_syy",
    }
)
_BITWISE = {"bit_and": np.bitwise_and, "bit_or": np.bitwise_or, "bit_xor": np.bitwise_xor}


# Value functions ------------------------------------------------------------------------------


def frame_value(
    name: str, call: plan.WindowCall, values: pa.ChunkedArray, segments: Segments
) -> pa.Array:
    """Return FIRST_VALUE, LAST_VALUE, NTH_VALUE or ANY_VALUE of each row's frame."""
    array = values.combine_chunks()
    if call.options.get("ignore_nulls"):
        valid = np.flatnonzero(array.is_valid().to_numpy(zero_copy_only=False))
        counts = [
            np.searchsorted(valid, end) - np.searchsorted(valid, start) for start, end in segments
        ]
    else:
        valid = None
        counts = [end - start for start, end in segments]
    total = np.sum(counts, axis=0)
    if name in ("first_value", "any_value"):
        index = np.zeros(len(array), dtype=np.int64)
    elif name == "last_value":
        index = total - 1
    else:
        index = np.full(len(array), call.options["nth"] - 1, dtype=np.int64)
    found = (index >= 0) & (index < total)
    chosen = _nth_in_segments(segments, counts, np.where(found, index, 0), valid)
    taken = (
        pc.take(array, pa.array(np.where(found, chosen, 0), pa.int64())) if len(array) else array
    )
    return pc.if_else(pa.array(found), taken, pa.nulls(len(array), array.type))


def _nth_in_segments(
    segments: Segments, counts: list[np.ndarray], index: np.ndarray, valid: np.ndarray | None
) -> np.ndarray:
    """Return the position of the `index`-th frame row, counting only `valid` positions if given."""
    chosen = np.zeros(len(index), dtype=np.int64)
    remaining = index.copy()
    placed = np.zeros(len(index), dtype=bool)
    for (start, _), count in zip(segments, counts):
        here = ~placed & (remaining < count)
        if valid is None:
            chosen = np.where(here, start + remaining, chosen)
        elif len(valid):
            first = np.searchsorted(valid, start)
            chosen = np.where(here, valid[np.clip(first + remaining, 0, len(valid) - 1)], chosen)
        placed |= here
        remaining = np.where(placed, remaining, remaining - count)
    return chosen


# Aggregates -----------------------------------------------------------------------------------


def frame_aggregate(
    call: plan.WindowCall,
    columns: list[pa.ChunkedArray],
    mask: np.ndarray | None,
    segments: Segments,
) -> pa.Array:
    """Return the aggregate `call.function` over each row's frame.

    `mask` marks the rows that pass the call's FILTER. The others count as NULL inputs.
    """
    name = call.function
    arrays = [column.combine_chunks() for column in columns]
    if mask is not None:
        arrays = [_masked(array, mask) for array in arrays]
    if name == "count_star":
        if mask is None:
            return pa.array(frame_sizes(segments), pa.int64())
        return pa.array(_segment_total(_prefix(mask.astype(np.int64)), segments), pa.int64())
    distinct = call.options.get("distinct", False)
    if name in ("count", "sum", "avg") and not distinct:
        return _prefix_aggregate(name, arrays[0], segments)
    if name == "any_value":
        return frame_value("any_value", call, pa.chunked_array([arrays[0]]), segments)
    if name in ("min", "max"):
        # DISTINCT never changes MIN or MAX.
        return frame_extreme(name, arrays[0], segments)
    if name in ("bool_and", "bool_or") and pa.types.is_boolean(arrays[0].type):
        return _frame_logic(name, arrays[0], segments)
    return _per_frame(call, arrays, segments)


def _masked(array: pa.Array, mask: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(mask), array, pa.nulls(len(array), array.type))


def _prefix(values: np.ndarray) -> np.ndarray:
    prefix = np.zeros(len(values) + 1, dtype=values.dtype)
    np.cumsum(values, out=prefix[1:])
    return prefix


def _segment_total(prefix: np.ndarray, segments: Segments) -> np.ndarray:
    total = None
    for start, end in segments:
        part = prefix[end] - prefix[start]
        total = part if total is None else total + part
    return total


def _prefix_aggregate(name: str, array: pa.Array, segments: Segments) -> pa.Array:
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    count = _segment_total(_prefix(valid.astype(np.int64)), segments)
    if name == "count":
        return pa.array(count, pa.int64())
    return _frame_sum(name, array, valid, segments, count, count == 0)


def _frame_logic(name: str, array: pa.Array, segments: Segments) -> pa.Array:
    """Return BOOL_AND or BOOL_OR from counts of TRUE and non-NULL values in each frame."""
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    true = array.fill_null(False).to_numpy(zero_copy_only=False).astype(bool) & valid
    count = _segment_total(_prefix(valid.astype(np.int64)), segments)
    true_count = _segment_total(_prefix(true.astype(np.int64)), segments)
    result = true_count == count if name == "bool_and" else true_count > 0
    return pa.array(result, pa.bool_(), mask=count == 0)


def _frame_sum(
    name: str,
    array: pa.Array,
    valid: np.ndarray,
    segments: Segments,
    count: np.ndarray,
    empty: np.ndarray,
) -> pa.Array:
    kind = array.type
    if pa.types.is_decimal(kind):
        # Exact: prefix sums of Python Decimals.
        items = np.array(
            [v if v is not None else decimal.Decimal(0) for v in array.to_pylist()], dtype=object
        )
        prefix = (
            np.concatenate([[decimal.Decimal(0)], np.cumsum(items)])
            if len(items)
            else np.array([decimal.Decimal(0)], dtype=object)
        )
        totals = _segment_total(prefix, segments)
        if name == "avg":
            averages = [None if e else float(t) / c for t, c, e in zip(totals, count, empty)]
            return pa.array(averages, pa.float64())
        return pa.array(
            [None if e else t for t, e in zip(totals, empty)], pa.decimal128(38, kind.scale)
        )
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        numbers = np.where(
            valid, array.fill_null(0).cast(pa.int64()).to_numpy(zero_copy_only=False), 0
        )
        if np.abs(_prefix(numbers.astype(np.float64))).max(initial=0) >= _INT64_LIMIT:
            raise ExecutionError("integer overflow: a window SUM exceeds the BIGINT range")
        totals = _segment_total(_prefix(numbers.astype(np.int64)), segments)
        if name == "avg":
            with np.errstate(divide="ignore", invalid="ignore"):
                return pa.array(totals / np.maximum(count, 1), pa.float64(), mask=empty)
        return pa.array(totals, pa.int64(), mask=empty)
    if pa.types.is_floating(kind):
        numbers = np.where(
            valid,
            array.fill_null(0).cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False),
            0.0,
        )
        if not np.all(np.isfinite(numbers)):
            totals = np.array(
                [numbers[frame_rows(segments, row)].sum() for row in range(len(numbers))]
            )
        else:
            # NOTE: differences of prefix sums can lose low-order digits when a moving frame
            # follows much larger values; results are exact to about 1e-12 relative otherwise.
            totals = _segment_total(_prefix(numbers), segments)
        if name == "avg":
            with np.errstate(divide="ignore", invalid="ignore"):
                return pa.array(totals / np.maximum(count, 1), pa.float64(), mask=empty)
        return pa.array(totals, pa.float64(), mask=empty)
    raise ExecutionError(f"{name.upper()} needs a numeric argument, not `{kind}`")


# Aggregates computed once per distinct frame --------------------------------------------------


def _per_frame(call: plan.WindowCall, arrays: list[pa.Array], segments: Segments) -> pa.Array:
    """Compute the aggregate once per distinct frame and give each row its frame's result."""
    reduce = _reducer(call)
    size = len(arrays[0])
    sizes = frame_sizes(segments)
    bounds = (
        np.stack([array for pair in segments for array in pair], axis=1)
        if size
        else np.zeros((0, 2 * len(segments)), np.int64)
    )
    present = np.flatnonzero(sizes > 0)
    frames, frame_of_row = np.unique(bounds[present], axis=0, return_inverse=True)
    frame_of_row = frame_of_row.reshape(-1)
    lengths = np.zeros(len(frames), dtype=np.int64)
    for position in range(len(segments)):
        lengths += frames[:, 2 * position + 1] - frames[:, 2 * position]

    parts: list[pa.Array] = []
    loop = _frame_loop_function(call, arrays[0])
    if loop is not None and len(frames) and lengths.mean() >= _LOOP_MIN_LENGTH:
        # Long frames: one Arrow or NumPy call per frame costs less than gathering their rows.
        parts.append(_loop_over_frames(loop, arrays[0], frames, len(segments)))
    else:
        first = 0
        while first < len(frames):
            stop = _batch_end(lengths, first)
            group, rows = _gather(frames[first:stop], len(segments))
            taken = [array.take(pa.array(rows, pa.int64())) for array in arrays]
            parts.append(reduce(group, taken, stop - first))
            first = stop

    empty_result = 0 if call.function in ("count", "regr_count") else None
    result_type = parts[0].type if parts else _empty_type(call, arrays)
    per_frame = pa.concat_arrays(parts) if parts else pa.array([], result_type)
    slots = np.full(size, -1, dtype=np.int64)
    slots[present] = frame_of_row
    taken = (
        per_frame.take(pa.array(np.maximum(slots, 0), pa.int64()))
        if len(per_frame)
        else pa.nulls(size, result_type)
    )
    return pc.if_else(pa.array(slots < 0), pa.scalar(empty_result, result_type), taken)


def _frame_loop_function(call: plan.WindowCall, values: pa.Array):
    """Return a function of one frame's values for aggregates that suit a loop, or None."""
    if call.options.get("distinct"):
        return None
    name = call.function
    numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
    if name in ("stddev_samp", "stddev_pop", "var_samp", "var_pop") and numeric:
        ddof = 1 if name.endswith("samp") else 0
        kernel = pc.stddev if name.startswith("stddev") else pc.variance
        return pa.float64(), lambda frame: _spread(kernel, frame, ddof)
    if name in ("median", "percentile_cont") and numeric:
        fraction = call.options.get("fraction", 0.5)
        return pa.float64(), lambda frame: _continuous_percentile(frame, fraction)
    if name == "percentile_disc" and numeric:
        fraction = call.options["fraction"]
        return values.type, lambda frame: _discrete_percentile(frame, fraction)
    return None


def _spread(kernel, frame: pa.Array, ddof: int) -> float | None:
    """Return the variance or standard deviation of one frame's non-NULL values.

    A population statistic of a single value is 0.0 even when that value is NaN, as in
    DuckDB 2.0, where Arrow's kernel would return NaN.
    """
    if ddof == 0 and frame.null_count == len(frame) - 1:
        return 0.0
    return kernel(frame.cast(pa.float64()), ddof=ddof, min_count=1).as_py()


def _continuous_percentile(frame: pa.Array, fraction: float) -> float | None:
    """Interpolate between the two values around `fraction` of the sorted non-NULL values."""
    numbers = np.sort(pc.drop_null(frame).cast(pa.float64()).to_numpy(zero_copy_only=False))
    if len(numbers) == 0:
        return None
    position = fraction * (len(numbers) - 1)
    low, high = math.floor(position), math.ceil(position)
    return float(numbers[low] + (numbers[high] - numbers[low]) * (position - low))


def _discrete_percentile(frame: pa.Array, fraction: float) -> Any:
    """Return the first sorted non-NULL value at or above `fraction` of them."""
    values = pc.drop_null(frame)
    if len(values) == 0:
        return None
    ordered = values.take(pc.sort_indices(values))
    return ordered[max(math.ceil(fraction * len(values)) - 1, 0)].as_py()


def _loop_over_frames(loop, values: pa.Array, frames: np.ndarray, segment_count: int) -> pa.Array:
    result_type, function = loop
    results = []
    for bounds in frames.tolist():
        pieces = [
            values.slice(bounds[2 * position], bounds[2 * position + 1] - bounds[2 * position])
            for position in range(segment_count)
        ]
        frame = pieces[0] if segment_count == 1 else pa.concat_arrays(pieces)
        results.append(function(frame))
    return pa.array(results, result_type)


def _batch_end(lengths: np.ndarray, first: int) -> int:
    """Return the end of a batch of frames starting at `first` that gathers about the limit."""
    totals = np.cumsum(lengths[first:])
    return first + max(int(np.searchsorted(totals, _GATHER_LIMIT, side="right")), 1)


def _gather(frames: np.ndarray, segment_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the frame number and position of every row of `frames`, frame by frame in order."""
    groups, rows = [], []
    numbers = np.arange(len(frames))
    for position in range(segment_count):
        starts, ends = frames[:, 2 * position], frames[:, 2 * position + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
        rows.append(np.repeat(starts, lengths) + np.arange(total) - offsets)
        groups.append(np.repeat(numbers, lengths))
    group = np.concatenate(groups)
    row = np.concatenate(rows)
    order = np.argsort(group, kind="stable")
    return group[order], row[order]


def _empty_type(call: plan.WindowCall, arrays: list[pa.Array]) -> pa.DataType:
    if call.function in ("count", "regr_count"):
        return pa.int64()
    if (
        call.function in _PAIRS
        or call.function in ("avg", "median", "percentile_cont")
        or call.function.startswith(("stddev", "var"))
    ):
        return pa.float64()
    if call.function == "string_agg":
        return pa.large_string()
    if call.function.startswith("bool"):
        return pa.bool_()
    if call.function == "sum" and pa.types.is_integer(arrays[0].type):
        return pa.int64()
    return arrays[0].type


def _reducer(call: plan.WindowCall):
    name = call.function
    if name in _GROUPED and call.argument_order:
        # The last array contains the rank of each row in the argument order.
        return lambda group, arrays, count: _grouped(call, group, arrays[0], count, arrays[-1])
    if name in _GROUPED:
        return lambda group, arrays, count: _grouped(call, group, arrays[0], count)
    if name in _PAIRS:
        return lambda group, arrays, count: _pair_statistic(
            name, group, arrays[0], arrays[1], count
        )
    if name in _BITWISE:
        return lambda group, arrays, count: _bitwise(name, group, arrays[0], count)
    if name == "mode":
        return lambda group, arrays, count: _mode(group, arrays[0], count)
    raise UnsupportedError(f"window aggregate `{name}` is not supported")


def _grouped(
    call: plan.WindowCall,
    group: np.ndarray,
    values: pa.Array,
    count: int,
    ranks: pa.Array | None = None,
) -> pa.Array:
    """Run the grouped aggregation code with one group per frame.

    `ranks`, when given, orders the rows of each frame (an ORDER BY among the arguments).
    """
    options = {
        key: value for key, value in call.options.items() if key in ("separator", "fraction")
    }
    table = pa.table({"frame": pa.array(group, pa.int64()), "value": values})
    if ranks is not None:
        table = table.append_column("rank", ranks)
        options["order_by"] = [plan.SortKey("rank")]
    aggregate = plan.AggregateCall(
        call.function, "value", bool(call.options.get("distinct")), options
    )
    node = plan.Aggregate(["frame", "result"], input=None, keys=["frame"], aggregates=[aggregate])
    result = aggregate_table(table, node)
    slots = np.full(count, -1, dtype=np.int64)
    slots[result.column("frame").to_numpy()] = np.arange(result.num_rows)
    values_out = result.column("result").combine_chunks()
    taken = values_out.take(pa.array(np.maximum(slots, 0), pa.int64()))
    missing = pa.scalar(0 if call.function == "count" else None, values_out.type)
    if call.function in ("var_pop", "stddev_pop") and not call.options.get("distinct"):
        taken = _single_value_spread(taken, group, values, count)
    return pc.if_else(pa.array(slots < 0), missing, taken)


def _single_value_spread(
    spread: pa.Array, group: np.ndarray, values: pa.Array, count: int
) -> pa.Array:
    """Set a population variance or deviation to 0.0 in frames with one non-NULL value.

    DuckDB 2.0 returns 0.0 there even when the value is NaN, where Arrow's kernel returns NaN.
    NOTE: GROUP BY aggregates still return NaN for a group whose only value is NaN.
    """
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    single = np.bincount(group[valid], minlength=count) == 1
    return pc.if_else(pa.array(single), pa.scalar(0.0, spread.type), spread)


def _pair_statistic(name: str, group: np.ndarray, y: pa.Array, x: pa.Array, count: int) -> pa.Array:
    """Compute a covariance, correlation or regression aggregate of (y, x) pairs per frame.

    Only pairs where both values are non-NULL count. Means come first and the sums of squares
    are centred on them, which keeps rounding errors small for data far from zero.
    """
    both = (y.is_valid().to_numpy(zero_copy_only=False)) & (
        x.is_valid().to_numpy(zero_copy_only=False)
    )
    group = group[both]
    y_values = _floats(y)[both]
    x_values = _floats(x)[both]
    n = np.bincount(group, minlength=count).astype(np.float64)
    if name == "regr_count":
        return pa.array(n.astype(np.int64), pa.int64())
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_y = np.bincount(group, y_values, minlength=count) / n
        mean_x = np.bincount(group, x_values, minlength=count) / n
        dy = y_values - mean_y[group]
        dx = x_values - mean_x[group]
        syy = np.bincount(group, dy * dy, minlength=count)
        sxx = np.bincount(group, dx * dx, minlength=count)
        sxy = np.bincount(group, dx * dy, minlength=count)
        result, null = _pair_result(name, n, mean_y, mean_x, syy, sxx, sxy)
    return pa.array(result, pa.float64(), mask=null | (n == 0))


def _pair_result(name: str, n, mean_y, mean_x, syy, sxx, sxy) -> tuple[np.ndarray, np.ndarray]:
    """Finish a pair statistic from centred sums and return the values with a NULL mask.

    A zero variance gives NaN (0/0) for CORR and REGR_SLOPE, and NULL for REGR_INTERCEPT and
    REGR_R2, as DuckDB 2.0 does.
    """
    no_null = np.zeros(len(n), dtype=bool)
    if name == "covar_pop":
        return sxy / n, no_null
    if name == "covar_samp":
        return sxy / (n - 1), n < 2
    if name == "corr":
        return (sxy / n) / (np.sqrt(sxx / n) * np.sqrt(syy / n)), no_null
    if name == "regr_avgx":
        return mean_x, no_null
    if name == "regr_avgy":
        return mean_y, no_null
    # DuckDB 2.0 gives 0.0 for the sums of squares of a single pair, even one with a NaN.
    if name == "regr_sxx":
        return np.where(n == 1, 0.0, sxx), no_null
    if name == "regr_syy":
        return np.where(n == 1, 0.0, syy), no_null
    if name == "regr_sxy":
        return sxy, no_null
    if name == "regr_slope":
        return sxy / sxx, no_null
    if name == "regr_intercept":
        return mean_y - (sxy / sxx) * mean_x, sxx == 0
    # regr_r2
    r2 = np.where(syy == 0, 1.0, (sxy * sxy) / (sxx * syy))
    return r2, sxx == 0


def _floats(values: pa.Array) -> np.ndarray:
    if not (
        pa.types.is_integer(values.type)
        or pa.types.is_floating(values.type)
        or pa.types.is_decimal(values.type)
    ):
        raise ExecutionError(f"statistical aggregates need numeric arguments, not `{values.type}`")
    return values.cast(pa.float64(), safe=False).fill_null(0.0).to_numpy(zero_copy_only=False)


def _bitwise(name: str, group: np.ndarray, values: pa.Array, count: int) -> pa.Array:
    if not pa.types.is_integer(values.type):
        raise ExecutionError(f"{name.upper()} needs an integer argument, not `{values.type}`")
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    group = group[valid]
    numbers = values.fill_null(0).to_numpy(zero_copy_only=False)[valid]
    result = np.zeros(count, dtype=numbers.dtype)
    present = np.zeros(count, dtype=bool)
    if len(group):
        # `group` ascends, so each frame's values are one contiguous run.
        starts = np.flatnonzero(np.diff(group, prepend=-1) != 0)
        result[group[starts]] = _BITWISE[name].reduceat(numbers, starts)
        present[group[starts]] = True
    return pa.array(result, values.type, mask=~present)


def _mode(group: np.ndarray, values: pa.Array, count: int) -> pa.Array:
    """Return each frame's most frequent non-NULL value; a tie goes to the value seen first."""
    table = pa.table(
        {
            "frame": pa.array(group, pa.int64()),
            "value": values,
            "position": pa.array(np.arange(len(group)), pa.int64()),
        }
    ).filter(values.is_valid())
    counted = table.group_by(["frame", "value"], use_threads=False).aggregate(
        [("position", "count"), ("position", "min")]
    )
    order = pc.sort_indices(
        counted,
        sort_keys=[
            ("frame", "ascending"),
            ("position_count", "descending"),
            ("position_min", "ascending"),
        ],
    )
    counted = counted.take(order)
    frames = counted.column("frame").to_numpy()
    firsts = np.flatnonzero(np.diff(frames, prepend=-1) != 0)
    slots = np.full(count, -1, dtype=np.int64)
    slots[frames[firsts]] = firsts
    winners = counted.column("value").combine_chunks()
    if len(winners) == 0:
        return pa.nulls(count, values.type)
    taken = winners.take(pa.array(np.maximum(slots, 0), pa.int64()))
    return pc.if_else(pa.array(slots < 0), pa.scalar(None, values.type), taken)
