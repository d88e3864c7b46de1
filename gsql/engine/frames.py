"""Conversions between pandas frames of Arrow-backed columns and Arrow tables, and a thread
pool that computes one result per column.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow as pa

__all__ = ["column_of", "frame_from_table", "map_columns", "table_from_frame"]


def frame_from_table(table: pa.Table) -> pd.DataFrame:
    """Wrap an Arrow table as a DataFrame of `pd.ArrowDtype` columns without copying."""
    frame = table.to_pandas(types_mapper=pd.ArrowDtype, self_destruct=False)
    if frame.columns.size == 0:
        frame = pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    return frame


def table_from_frame(frame: pd.DataFrame) -> pa.Table:
    """Return the Arrow table of a frame; Arrow-backed columns are not copied."""
    if frame.columns.size == 0:
        return pa.table({"__rows": pa.nulls(len(frame), pa.null())}).drop_columns(["__rows"])
    arrays = []
    names = []
    for name, series in frame.items():
        if not isinstance(series.array, pd.arrays.ArrowExtensionArray):
            return pa.Table.from_pandas(frame, preserve_index=False)
        arrays.append(series.array.__arrow_array__())
        names.append(str(name))
    # Taking the Arrow arrays directly skips the thread pool that `Table.from_pandas` starts,
    # which took about 2 ms a call in a profile of TPC-H q07, more than the conversion itself.
    return pa.Table.from_arrays(arrays, names=names)


def column_of(frame: pd.DataFrame, name: str) -> pa.ChunkedArray:
    """Return a column of a frame as Arrow data, without a copy when it is Arrow-backed."""
    array = frame[name].array
    if hasattr(array, "__arrow_array__"):
        result = array.__arrow_array__()
        return result if isinstance(result, pa.ChunkedArray) else pa.chunked_array([result])
    return pa.chunked_array([pa.array(frame[name])])


# Frames with at least this many rows compute their columns on several threads.
_PARALLEL_ROWS = 100_000
# The thread pool, with the id of the process that started it. A process forked from that one
# has none of the pool's threads, so it starts its own pool.
_POOL: tuple[int, ThreadPoolExecutor] | None = None


def map_columns(
    compute: Callable[[str], pa.ChunkedArray], names: list[str], rows: int
) -> dict[str, pa.ChunkedArray]:
    """Compute one array per column name, on several threads when `rows` (the row count) is large.

    Arrow's `filter` and `take` run on one thread and release the GIL, so computing the columns
    of a frame at once keeps every core busy, as DuckDB does.
    """
    global _POOL
    if rows < _PARALLEL_ROWS or len(names) < 2:
        return {name: compute(name) for name in names}
    if _POOL is None or _POOL[0] != os.getpid():
        pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="gsql-columns")
        _POOL = (os.getpid(), pool)
    return dict(zip(names, _POOL[1].map(compute, names)))
