"""Running the pandas engine's handlers on each partition, and the helpers that line partitions up.

Filter, Project and SingleRow are handled here: each is the pandas handler mapped over the
partitions. The other modules use `map_pandas` for their per-partition steps and
`co_partition` to bring equal keys of two collections into partitions with the same number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa

from gsql.engine.arrow_kernels import cast_value, common_type
from gsql.engine.pandas_backend import PandasBackend, table_from_frame
from gsql.sql import plan

if TYPE_CHECKING:
    from gsql.engine.dask.backend import DaskBackend

__all__ = [
    "SHUFFLE_METHOD",
    "align_types",
    "arrow_type",
    "cast_column",
    "cast_columns",
    "co_partition",
    "detached",
    "filter_",
    "map_pandas",
    "project",
    "single_partition",
    "single_row",
]

SHUFFLE_METHOD = "tasks"
"""The dask shuffle method that gsql requests. When tried with distributed 2026.8, the `p2p`
shuffle returned decimal Arrow columns as `object` columns, which the Arrow kernels reject."""


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
    return frame.repartition(npartitions=1)


def co_partition(
    left: dd.DataFrame, right: dd.DataFrame, left_keys: list[str], right_keys: list[str]
) -> tuple[dd.DataFrame, dd.DataFrame]:
    """Hash-shuffle both collections so that equal keys land in partitions with the same number.

    Dask maps a row to a partition from the hash of its key values, not of the column names,
    so this holds when each key pair has the same dtype: call `align_types` first. Rows with
    NULL keys hash alike, which group-by and set operations need and joins ignore.
    """
    count = max(left.npartitions, right.npartitions)
    left = left.shuffle(
        on=left_keys, npartitions=count, shuffle_method=SHUFFLE_METHOD, ignore_index=True
    )
    right = right.shuffle(
        on=right_keys, npartitions=count, shuffle_method=SHUFFLE_METHOD, ignore_index=True
    )
    return left, right


def arrow_type(frame: dd.DataFrame | pd.DataFrame, column: str) -> pa.DataType:
    """Return the Arrow type of a column, from the collection's metadata for a collection."""
    meta = frame._meta if isinstance(frame, dd.DataFrame) else frame
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
    meta = _cast_partition(frame._meta, types)
    return frame.map_partitions(_cast_partition, types, meta=meta, clear_divisions=True)


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
