"""Distinct and the set operations UNION, INTERSECT and EXCEPT, with or without ALL.

Duplicates are found with dask's `drop_duplicates`, which hash-shuffles on every column, so
equal rows meet in one partition; NULL equals NULL there, as SQL's set operations require.
INTERSECT and EXCEPT co-partition both inputs on every column and run the pandas engine's
set operation on each pair of partitions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa

from gsql.engine.arrow_kernels import set_operation_type
from gsql.engine.dask.partitionwise import (
    arrow_type,
    cast_column,
    co_partition,
    concat,
    drop_duplicates,
    logical_meta,
    map_pandas,
    map_partitions,
    single_partition,
)
from gsql.sql import plan

if TYPE_CHECKING:
    from gsql.engine.dask.backend import DaskBackend

__all__ = ["distinct", "set_operation"]


def distinct(backend: DaskBackend, node: plan.Distinct, inputs: list[dd.DataFrame]) -> dd.DataFrame:
    frame = inputs[0]
    if len(frame.columns) == 0:
        # Rows without columns are all equal: the result is at most one row.
        return map_pandas(single_partition(frame), node, backend.dialect)
    return drop_duplicates(frame)


def set_operation(
    backend: DaskBackend, node: plan.SetOperation, inputs: list[dd.DataFrame]
) -> dd.DataFrame:
    left, right = _align_inputs(node, *inputs, backend.dialect)
    if node.kind == "union":
        combined = concat([left, right])
        if node.all:
            return combined
        return distinct(backend, plan.Distinct(list(node.columns)), [combined])

    if node.columns:
        left, right = co_partition(left, right, list(node.columns), list(node.columns))
    else:
        left, right = single_partition(left), single_partition(right)
    return map_pandas(left, node, backend.dialect, [right])


def _align_inputs(
    node: plan.SetOperation, left: dd.DataFrame, right: dd.DataFrame, dialect: str
) -> tuple[dd.DataFrame, dd.DataFrame]:
    """Name both inputs' columns as the node's, and cast each column pair to a common type."""
    types: dict[str, pa.DataType] = {}
    for name, left_column, right_column in zip(node.columns, left.columns, right.columns):
        left_type = arrow_type(left, left_column)
        right_type = arrow_type(right, right_column)
        types[name] = set_operation_type(left_type, right_type, dialect)
    return _conform_input(left, node.columns, types), _conform_input(right, node.columns, types)


def _conform_input(
    frame: dd.DataFrame, columns: list[str], types: dict[str, pa.DataType]
) -> dd.DataFrame:
    options = {"columns": list(columns), "types": types}
    meta = _conform_partition(logical_meta(frame), **options)
    reason = "set operation inputs are renamed and cast by the Arrow kernels on the host"
    return map_partitions(frame, _conform_partition, meta=meta, reason=reason, **options)


def _conform_partition(
    frame: pd.DataFrame, columns: list[str], types: dict[str, pa.DataType]
) -> pd.DataFrame:
    result = frame.set_axis(columns, axis=1)
    for name, target in types.items():
        if arrow_type(result, name) != target:
            result[name] = cast_column(result, name, target)
    return result
