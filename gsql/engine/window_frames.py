"""Window frames as position ranges over rows sorted by partition and ORDER BY keys.

A frame is one range `[start, end)` of positions per row, or up to three disjoint ranges when
an EXCLUDE clause cuts rows out of it. `Segments` lists those ranges in position order, each as
a pair of arrays with one entry per row; an empty range has `end == start`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gsql.engine.sorting import interval_keys
from gsql.errors import BindError, ExecutionError, UnsupportedError
from gsql.sql import plan

__all__ = ["Layout", "Segments", "frame_rows", "frame_segments", "frame_sizes", "group_starts"]

Segments = list[tuple[np.ndarray, np.ndarray]]


@dataclass
class Layout:
    """Positions of the sorted rows: partition and peer-group bounds for each row."""

    permutation: np.ndarray
    partition_start: np.ndarray
    partition_end: np.ndarray
    peer_start: np.ndarray
    peer_end: np.ndarray
    peer_id: np.ndarray
    # The single ORDER BY key in sorted order, which RANGE offsets read; None for several keys.
    order_values: pa.ChunkedArray | None = None

    @property
    def size(self) -> int:
        return len(self.permutation)


def group_starts(columns: list[pa.ChunkedArray], count: int) -> np.ndarray:
    """Flag the rows whose keys differ from the previous row's (NULL equals NULL, NaN equals NaN)."""
    flags = np.zeros(count, dtype=bool)
    if count:
        flags[0] = True
    for column in _comparable(columns):
        if count < 2:
            break
        current, previous = column.slice(1), column.slice(0, count - 1)
        same = pc.fill_null(pc.equal(current, previous), False)
        both_null = pc.and_(pc.is_null(current), pc.is_null(previous))
        same = pc.or_(same, both_null)
        if pa.types.is_floating(column.type):
            both_nan = pc.and_(
                pc.fill_null(pc.is_nan(current), False), pc.fill_null(pc.is_nan(previous), False)
            )
            same = pc.or_(same, both_nan)
        flags[1:] |= ~same.to_numpy(zero_copy_only=False)
    return flags


def _comparable(columns: list[pa.ChunkedArray]) -> list[pa.ChunkedArray | pa.Array]:
    """Replace INTERVAL columns, which Arrow cannot compare, by their normalized parts."""
    result: list[pa.ChunkedArray | pa.Array] = []
    for column in columns:
        if pa.types.is_interval(column.type):
            result.extend(interval_keys(column))
        else:
            result.append(column)
    return result


def frame_segments(call: plan.WindowCall, layout: Layout) -> Segments:
    """Return the frame of every row, with its EXCLUDE clause applied."""
    start, end = _frame_bounds(call, layout)
    exclude = (call.frame or {}).get("exclude")
    if exclude is None:
        return [(start, end)]
    positions = np.arange(layout.size)
    if exclude == "current row":
        cut = [(positions, positions + 1)]
    elif exclude == "group":
        cut = [(layout.peer_start, layout.peer_end)]
    else:
        # EXCLUDE TIES removes the peers of the current row but keeps the row itself.
        cut = [(layout.peer_start, positions), (positions + 1, layout.peer_end)]
    segments: Segments = []
    low = start
    for cut_start, cut_end in cut:
        segments.append(_clipped(low, np.minimum(end, cut_start), start, end))
        low = np.maximum(low, cut_end)
    segments.append(_clipped(low, end, start, end))
    return segments


def _clipped(
    low: np.ndarray, high: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    low = np.clip(low, start, end)
    return low, np.maximum(np.clip(high, start, end), low)


def frame_sizes(segments: Segments) -> np.ndarray:
    """Return the number of rows in each row's frame."""
    total = np.zeros(len(segments[0][0]), dtype=np.int64)
    for start, end in segments:
        total += end - start
    return total


def frame_rows(segments: Segments, row: int) -> np.ndarray:
    """Return the positions in the frame of `row`, ascending."""
    if len(segments) == 1:
        return np.arange(segments[0][0][row], segments[0][1][row])
    return np.concatenate([np.arange(start[row], end[row]) for start, end in segments])


def _frame_bounds(call: plan.WindowCall, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    frame = call.frame or {"kind": "rows", "start": ("preceding", None), "end": ("following", None)}
    positions = np.arange(layout.size)
    if frame["kind"] == "rows":
        start = _row_bound(frame["start"], positions, layout, is_start=True)
        end = _row_bound(frame["end"], positions, layout, is_start=False) + 1
    elif frame["kind"] == "groups":
        start = _group_bound(frame["start"], layout, is_start=True)
        end = _group_bound(frame["end"], layout, is_start=False)
    else:
        start = _range_bound(frame["start"], call, layout, is_start=True)
        end = _range_bound(frame["end"], call, layout, is_start=False)
    start = np.clip(start, layout.partition_start, layout.partition_end)
    end = np.clip(end, layout.partition_start, layout.partition_end)
    return start, np.maximum(end, start)


def _row_bound(
    bound: tuple[str, Any], positions: np.ndarray, layout: Layout, is_start: bool
) -> np.ndarray:
    side, offset = bound
    if side == "current":
        return positions.copy()
    if offset is None:
        return layout.partition_start.copy() if side == "preceding" else layout.partition_end - 1
    if not float(offset).is_integer():
        raise ExecutionError(f"a ROWS frame offset must be an integer, not {offset}")
    offset = int(offset)
    return positions - offset if side == "preceding" else positions + offset


def _group_bound(bound: tuple[str, Any], layout: Layout, is_start: bool) -> np.ndarray:
    """Bound a GROUPS frame: its offsets count peer groups, and it always contains whole groups."""
    side, offset = bound
    if offset is None and side != "current":
        return layout.partition_start.copy() if side == "preceding" else layout.partition_end.copy()
    if offset is not None and not float(offset).is_integer():
        raise ExecutionError(f"a GROUPS frame offset must be an integer, not {offset}")
    shift = 0
    if side == "preceding":
        shift = -int(offset)
    elif side == "following":
        shift = int(offset)
    group_starts = np.flatnonzero(np.diff(layout.peer_id, prepend=-1) != 0)
    group_ends = np.append(group_starts[1:], layout.size)
    first_group = layout.peer_id[layout.partition_start] if layout.size else layout.peer_id
    last_group = layout.peer_id[layout.partition_end - 1] if layout.size else layout.peer_id
    target = layout.peer_id + shift
    inside = np.clip(target, 0, max(len(group_starts) - 1, 0))
    bounds = group_starts[inside] if is_start else group_ends[inside]
    bounds = np.where(target < first_group, layout.partition_start, bounds)
    return np.where(target > last_group, layout.partition_end, bounds)


def _range_bound(
    bound: tuple[str, Any], call: plan.WindowCall, layout: Layout, is_start: bool
) -> np.ndarray:
    side, offset = bound
    if side == "current":
        return layout.peer_start.copy() if is_start else layout.peer_end.copy()
    if offset is None:
        return layout.partition_start.copy() if side == "preceding" else layout.partition_end.copy()
    return _range_offset_bound(side, offset, call, layout, is_start)


def _range_offset_bound(
    side: str, offset: Any, call: plan.WindowCall, layout: Layout, is_start: bool
) -> np.ndarray:
    """Bound a RANGE frame at `key - offset` or `key + offset` of the single ORDER BY key.

    Rows whose key is NULL have their peer group (the other NULL rows) as the frame.
    """
    if len(call.order_by) != 1 or layout.order_values is None:
        raise ExecutionError("a RANGE frame with an offset needs exactly one ORDER BY key")
    keys, valid, step = _range_keys(layout.order_values, offset)
    # Work on keys that ascend in the sorted order: negated for a descending ORDER BY. In that
    # space "n PRECEDING" is always `key - n` and "n FOLLOWING" is `key + n`.
    ordered = -keys if call.order_by[0].descending else keys
    bounds = layout.peer_start.copy() if is_start else layout.peer_end.copy()
    starts = np.unique(layout.partition_start)
    for start in starts:
        end = layout.partition_end[start]
        segment = np.arange(start, end)
        present = segment[valid[start:end]]
        if len(present) == 0:
            continue
        values = ordered[present]
        targets = values + (step if side == "following" else -step)
        side_name = "left" if is_start else "right"
        positions = np.searchsorted(values, targets, side=side_name)
        bounds[present] = present[0] + positions
    return bounds


_DAY_NANOSECONDS = 86_400 * 10**9
_UNIT_NANOSECONDS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def _range_keys(column: pa.ChunkedArray, offset: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """Return the ORDER BY keys, where they are valid, and the offset, in one numeric scale."""
    kind = column.type
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    if isinstance(offset, plan.FrameInterval):
        return _interval_range_keys(column, offset), valid, _interval_step(kind, offset)
    if pa.types.is_date(kind):
        column = column.cast(pa.int32()) if pa.types.is_date32(kind) else column.cast(pa.int64())
    elif not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        raise UnsupportedError(f"RANGE offsets need a numeric or date ORDER BY key, not `{kind}`")
    keys = column.cast(pa.float64(), safe=False).fill_null(0.0).to_numpy(zero_copy_only=False)
    keys = keys.astype(np.float64)
    # NaN keys, like NULL keys, get their peer group as the frame.
    return keys, valid & ~np.isnan(keys), offset


def _interval_step(kind: pa.DataType, offset: plan.FrameInterval) -> int:
    if offset.months and not pa.types.is_interval(kind):
        # NOTE: months and years have no fixed length over dates, so this would need
        # calendar arithmetic per row.
        raise UnsupportedError(
            "RANGE offsets in months or years over DATE or TIMESTAMP keys are not supported"
        )
    return (offset.months * 30 + offset.days) * _DAY_NANOSECONDS + offset.nanoseconds


def _interval_range_keys(column: pa.ChunkedArray, offset: plan.FrameInterval) -> np.ndarray:
    """Return DATE, TIMESTAMP or INTERVAL keys as int64 nanoseconds, months counting 30 days."""
    kind = column.type
    if pa.types.is_interval(kind):
        # NOTE: DuckDB compares intervals part by part after normalizing; the total agrees with
        # that order unless the parts of one interval have different signs.
        months, days, nanoseconds = (part.fill_null(0).to_numpy() for part in interval_keys(column))
        return (months * 30 + days) * _DAY_NANOSECONDS + nanoseconds
    if pa.types.is_date32(kind):
        return column.cast(pa.int32()).fill_null(0).to_numpy().astype(np.int64) * _DAY_NANOSECONDS
    if pa.types.is_date64(kind):
        return column.cast(pa.int64()).fill_null(0).to_numpy() * 10**6
    if pa.types.is_timestamp(kind):
        return column.cast(pa.int64()).fill_null(0).to_numpy() * _UNIT_NANOSECONDS[kind.unit]
    raise BindError(
        f"an INTERVAL frame offset needs a DATE, TIMESTAMP or INTERVAL ORDER BY key, not `{kind}`"
    )
