"""Running the pandas engine's handlers on each partition, and the helpers that line partitions up.

Filter, Project and SingleRow are handled here: each is the pandas handler mapped over the
partitions. The other modules use `map_pandas` for their per-partition steps and
`co_partition` to bring equal keys of two collections into partitions with the same number.

The dask-cuda engine runs the same modules on collections of cuDF partitions. While it builds a
node, `device_partitions()` returns its `DevicePartitions` (see `device`), and the helpers
here route through it: `map_pandas` runs the cudf engine's handler on each partition,
`map_partitions` runs a pandas function on a host copy of each partition, and `logical_meta`
returns a collection's empty pandas frame with the Arrow types that the pandas engine gives it.
Modules must therefore use these helpers, not the collection's `_meta` or `map_partitions`.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa

from gsql.engine.arrow_kernels import cast_value, common_type
from gsql.engine.pandas_backend import PandasBackend, table_from_frame
from gsql.sql import plan

if TYPE_CHECKING:
    from gsql.engine.dask.backend import DaskBackend
    from gsql.engine.dask.device import DevicePartitions

__all__ = [
    "SHUFFLE_METHOD",
    "align_types",
    "arrow_type",
    "cast_column",
    "cast_columns",
    "co_partition",
    "concat",
    "detached",
    "device_partitions",
    "drop_duplicates",
    "filter_",
    "logical_meta",
    "map_pandas",
    "map_partitions",
    "project",
    "shuffle",
    "single_partition",
    "single_row",
    "using_device",
]

SHUFFLE_METHOD = "tasks"
"""The dask shuffle method that gsql requests. When tried with distributed 2026.8, the `p2p`
shuffle returned decimal Arrow columns as `object` columns, which the Arrow kernels reject."""


# The dask-cuda engine's partition helpers while it builds a node; None on the dask engine.
_DEVICE: contextvars.ContextVar[DevicePartitions | None] = contextvars.ContextVar(
    "gsql_dask_device", default=None
)


@contextlib.contextmanager
def using_device(device: DevicePartitions | None) -> Iterator[None]:
    """Route the helpers of this module through `device` (cuDF partitions) inside the block."""
    token = _DEVICE.set(device)
    try:
        yield
    finally:
        _DEVICE.reset(token)


def device_partitions() -> DevicePartitions | None:
    """Return the dask-cuda engine's partition helpers, or None when partitions are pandas frames."""
    return _DEVICE.get()


def logical_meta(frame: dd.DataFrame) -> pd.DataFrame:
    """Return the empty pandas frame whose Arrow dtypes are the logical types of `frame`'s columns.

    On the dask engine that is the collection's own meta. cuDF partitions store some types
    differently (a DATE is a `datetime64[s]` column), so the dask-cuda engine keeps the logical
    types beside the collection.
    """
    device = _DEVICE.get()
    if device is None:
        return frame._meta
    return device.logical_meta(frame)


def map_partitions(
    frame: dd.DataFrame,
    function: Callable[..., pd.DataFrame],
    *others: dd.DataFrame,
    meta: pd.DataFrame,
    reason: str = "",
    **options: Any,
) -> dd.DataFrame:
    """Map a function of pandas frames over the partitions of `frame` and `others`.

    `meta` is the function's result on the inputs' `logical_meta`. On the dask-cuda engine each
    task copies its partitions to the host, runs `function` and copies the result back, and
    `reason` gives why the step runs on the host (for `Result.placements`).
    """
    device = _DEVICE.get()
    if device is not None:
        return device.map_host(frame, function, others, meta=meta, reason=reason, options=options)
    return frame.map_partitions(
        function, *others, meta=meta, align_dataframes=False, clear_divisions=True, **options
    )


def shuffle(frame: dd.DataFrame, on: list[str], npartitions: int | None = None) -> dd.DataFrame:
    """Hash-shuffle `frame` on the columns `on` with gsql's shuffle method."""
    shuffled = frame.shuffle(
        on=on, npartitions=npartitions, shuffle_method=SHUFFLE_METHOD, ignore_index=True
    )
    return _same_schema(shuffled, frame)


def drop_duplicates(frame: dd.DataFrame) -> dd.DataFrame:
    """Remove duplicate rows with dask's hash-shuffling `drop_duplicates`; NULL equals NULL."""
    unique = frame.drop_duplicates(split_out=True, shuffle_method=SHUFFLE_METHOD, ignore_index=True)
    return _same_schema(unique, frame)


def concat(frames: list[dd.DataFrame]) -> dd.DataFrame:
    """Concatenate collections with the same columns and logical types, keeping their order."""
    return _same_schema(dd.concat(frames), frames[0])


def _same_schema(result: dd.DataFrame, source: dd.DataFrame) -> dd.DataFrame:
    device = _DEVICE.get()
    if device is not None:
        device.register(result, device.logical_meta(source))
    return result


def detached(node: plan.Node) -> plan.Node:
    """Return a copy of `node` without its input nodes, small enough to send to the workers."""
    changes = {
        field.name: None
        for field in dataclasses.fields(node)
        if isinstance(getattr(node, field.name), plan.Node)
    }
    return dataclasses.replace(node, **changes)


def run_pandas(
    frame: pd.DataFrame, *others: pd.DataFrame, node: plan.Node, dialect: str, position: int = 0
) -> pd.DataFrame:
    """Run the pandas engine's handler of `node` on one partition.

    `others` are the partitions of the node's other inputs, and `position` is the place of
    `frame` among the node's inputs.
    """
    inputs = [_with_range_index(other) for other in others]
    inputs.insert(position, _with_range_index(frame))
    handler = PandasBackend.handlers[type(node)]
    return handler(PandasBackend(dialect), node, inputs)


def _with_range_index(frame: pd.DataFrame) -> pd.DataFrame:
    # Shuffles and concatenation keep each row's old index label, so labels repeat. The
    # pandas handlers align new columns by label and expect the labels 0..n-1.
    if isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1:
        return frame
    return frame.reset_index(drop=True)


def map_pandas(
    frame: dd.DataFrame,
    node: plan.Node,
    dialect: str,
    others: Sequence[dd.DataFrame] = (),
    position: int = 0,
) -> dd.DataFrame:
    """Map the pandas engine's handler of `node` over the partitions of `frame`.

    Each collection in `others` either has one partition, which every call receives whole
    (a broadcast), or as many partitions as `frame`, matched by partition number.
    """
    device = _DEVICE.get()
    if device is not None:
        return device.map_node(frame, node, others, position)
    options = {"node": detached(node), "dialect": dialect, "position": position}
    metas = [other._meta for other in others]
    meta = run_pandas(frame._meta, *metas, **options).iloc[:0]
    return frame.map_partitions(
        run_pandas,
        *others,
        meta=meta,
        align_dataframes=False,
        clear_divisions=True,
        **options,
    )


def single_partition(frame: dd.DataFrame) -> dd.DataFrame:
    """Concatenate the partitions of `frame` into one, keeping their order."""
    if frame.npartitions == 1:
        return frame
    return _same_schema(frame.repartition(npartitions=1), frame)


def co_partition(
    left: dd.DataFrame, right: dd.DataFrame, left_keys: list[str], right_keys: list[str]
) -> tuple[dd.DataFrame, dd.DataFrame]:
    """Hash-shuffle both collections so that equal keys land in partitions with the same number.

    Dask maps a row to a partition from the hash of its key values, not of the column names,
    so this holds when each key pair has the same dtype: call `align_types` first. Rows with
    NULL keys hash alike, which group-by and set operations need and joins ignore.
    """
    count = max(left.npartitions, right.npartitions)
    return shuffle(left, left_keys, count), shuffle(right, right_keys, count)


def arrow_type(frame: dd.DataFrame | pd.DataFrame, column: str) -> pa.DataType:
    """Return the Arrow type of a column, from the collection's metadata for a collection."""
    meta = logical_meta(frame) if isinstance(frame, dd.DataFrame) else frame
    dtype = meta[column].dtype
    return dtype.pyarrow_dtype if isinstance(dtype, pd.ArrowDtype) else pa.from_numpy_dtype(dtype)


def cast_column(frame: pd.DataFrame, column: str, target: pa.DataType) -> pd.Series:
    """Return one column of a partition cast to `target` with SQL's cast rules."""
    array = cast_value(table_from_frame(frame[[column]]).column(0), target)
    return pd.Series(pd.arrays.ArrowExtensionArray(array), index=frame.index, copy=False)


def align_types(
    left: dd.DataFrame, right: dd.DataFrame, left_columns: list[str], right_columns: list[str]
) -> tuple[dd.DataFrame, dd.DataFrame]:
    """Cast each pair of columns to their common type, as the pandas engine does for join keys."""
    left_casts: dict[str, pa.DataType] = {}
    right_casts: dict[str, pa.DataType] = {}
    for left_column, right_column in zip(left_columns, right_columns):
        left_type = arrow_type(left, left_column)
        right_type = arrow_type(right, right_column)
        if left_type == right_type:
            continue
        target = common_type([left_type, right_type])
        if pa.types.is_null(target):
            target = pa.int32()
        if left_type != target:
            left_casts[left_column] = target
        if right_type != target:
            right_casts[right_column] = target
    return cast_columns(left, left_casts), cast_columns(right, right_casts)


def cast_columns(frame: dd.DataFrame, types: dict[str, pa.DataType]) -> dd.DataFrame:
    """Cast the named columns of every partition with SQL's cast rules."""
    if not types:
        return frame
    meta = _cast_partition(logical_meta(frame), types)
    return map_partitions(
        frame,
        _cast_partition,
        meta=meta,
        reason="columns are cast to a common type by the Arrow kernels on the host",
        types=types,
    )


def _cast_partition(frame: pd.DataFrame, types: dict[str, pa.DataType]) -> pd.DataFrame:
    result = frame.copy(deep=False)
    for name, target in types.items():
        result[name] = cast_column(frame, name, target)
    return result


# Node handlers ------------------------------------------------------------------------------


def filter_(backend: DaskBackend, node: plan.Filter, inputs: list[dd.DataFrame]) -> dd.DataFrame:
    return map_pandas(inputs[0], node, backend.dialect)


def project(backend: DaskBackend, node: plan.Project, inputs: list[dd.DataFrame]) -> dd.DataFrame:
    return map_pandas(inputs[0], node, backend.dialect)


def single_row(
    backend: DaskBackend, node: plan.SingleRow, inputs: list[dd.DataFrame]
) -> dd.DataFrame:
    """Check a scalar subquery's result in one partition.

    More than one row raises `ExecutionError` when the query computes, not when it is planned.
    """
    return map_pandas(single_partition(inputs[0]), node, backend.dialect)
