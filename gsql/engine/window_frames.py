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

from gsql.errors import ExecutionError, UnsupportedError
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
    order_values: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.permutation)


def group_starts(columns: list[pa.ChunkedArray], count: int) -> np.ndarray:
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
            both_nan = pc.and_(
                pc.fill_null(pc.is_nan(current), False), pc.fill_null(pc.is_nan(previous), False)
            )
            same = pc.or_(same, both_nan)
        flags[1:] |= ~same.to_numpy(zero_copy_only=False)
    return flags


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
    """Bound a GROUPS frame: its offsets count peer groups, and it always holds whole groups."""
    side, offset = bound
    if offset is None and side != "current":
        return layout.partition_start.copy() if side == "preceding" else layout.partition_end.copy()
    if offset is not None and not float(offset).is_integer():
        raise ExecutionError(f"a GROUPS frame offset must be an integer, not {offset}")
    shift = 0 if side == "current" else int(offset) * (-1 if side == "preceding" else 1)
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
    side: str, offset: float, call: plan.WindowCall, layout: Layout, is_start: bool
) -> np.ndarray:
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
