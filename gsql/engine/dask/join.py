"""Join and MarkJoin: co-partition both inputs on the keys, then join each pair of partitions.

A hash shuffle on the key columns puts every row whose keys are equal into partitions with
the same number on both sides. Each pair of partitions then joins with the pandas engine's
Arrow hash join, which already has SQL's rules: NULL keys never match, an outer join keeps
unmatched rows, and a residual ON predicate decides which pairs match. `dd.merge` is not used
because pandas' merge matches NULL keys with each other, and because an outer join with a
residual predicate needs the whole key group in one place, which co-partitioning gives.

When one input has a single partition, it goes whole to every partition of the other
instead (a broadcast join), for the join kinds where that is exact. A join without keys has
nothing to hash: it broadcasts one side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gsql.engine.dask.partitionwise import (
    align_types,
    co_partition,
    drop_duplicates,
    logical_meta,
    map_pandas,
    map_partitions,
    single_partition,
)
from gsql.engine.pandas_backend import table_from_frame
from gsql.sql import plan

if TYPE_CHECKING:
    from gsql.engine.dask.backend import DaskBackend

__all__ = ["join", "mark_join"]


def join(backend: DaskBackend, node: plan.Join, inputs: list[dd.DataFrame]) -> dd.DataFrame:
    left, right = inputs
    if node.kind == "positional":
        # Row positions are global, so both sides meet in one partition.
        return map_pandas(single_partition(left), node, backend.dialect, [single_partition(right)])
    if not node.left_keys:
        return _join_without_keys(backend, node, left, right)

    left, right = align_types(left, right, node.left_keys, node.right_keys)
    # Broadcasting one side is exact when the other side's unmatched rows are the only
    # ones kept: each of its rows then meets every row it can match.
    if right.npartitions == 1 and node.kind in ("inner", "left"):
        return map_pandas(left, node, backend.dialect, [right])
    if left.npartitions == 1 and node.kind in ("inner", "right"):
        return map_pandas(right, node, backend.dialect, [left], position=1)
    left, right = co_partition(left, right, node.left_keys, node.right_keys)
    return map_pandas(left, node, backend.dialect, [right])


def _join_without_keys(
    backend: DaskBackend, node: plan.Join, left: dd.DataFrame, right: dd.DataFrame
) -> dd.DataFrame:
    """Join on a residual predicate only, or a cross join, by broadcasting one side."""
    broadcast_left = node.kind == "right" or (
        node.kind in ("inner", "cross") and left.npartitions < right.npartitions
    )
    if node.kind == "full":
        # Unmatched rows of both sides must be found: both sides meet in one partition.
        return map_pandas(single_partition(left), node, backend.dialect, [single_partition(right)])
    if broadcast_left:
        return map_pandas(right, node, backend.dialect, [single_partition(left)], position=1)
    return map_pandas(left, node, backend.dialect, [single_partition(right)])


def mark_join(
    backend: DaskBackend, node: plan.MarkJoin, inputs: list[dd.DataFrame]
) -> dd.DataFrame:
    """Mark each left row: each left row must meet every right row that can match it."""
    left, right = inputs
    if node.left_keys:
        left, right = align_types(left, right, node.left_keys, node.right_keys)
        if right.npartitions > 1:
            left, right = co_partition(left, right, node.left_keys, node.right_keys)
        return map_pandas(left, node, backend.dialect, [right])
    if node.probe_left is not None and node.residual is None and right.npartitions > 1:
        return _partitioned_in(node, left, right)
    # No equality key to partition by (EXISTS, or a correlation by a residual predicate only):
    # every left partition meets the whole right side.
    return map_pandas(left, node, backend.dialect, [single_partition(right)])


def _partitioned_in(node: plan.MarkJoin, left: dd.DataFrame, right: dd.DataFrame) -> dd.DataFrame:
    """Evaluate `probe IN (subquery)` by co-partitioning the probes and the distinct values.

    Whether a value is found is local to the partition of its hash. Whether the subquery
    returned rows at all, and whether one of them is NULL, are global: a one-row collection
    of those two counts goes to every partition.
    """
    assert node.probe_left is not None and node.probe_right is not None
    reason = "IN (subquery) marks are computed by the Arrow kernels on the host"
    values_meta = _select_values(logical_meta(right), node.probe_right)
    values = map_partitions(
        right, _select_values, meta=values_meta, reason=reason, column=node.probe_right
    )
    left, values = align_types(left, values, [node.probe_left], ["__value"])

    count_meta = _count_values(logical_meta(values))
    counts = map_partitions(values, _count_values, meta=count_meta, reason=reason)
    totals = map_partitions(single_partition(counts), _sum_counts, meta=count_meta, reason=reason)

    present = map_partitions(values, _drop_nulls, meta=logical_meta(values), reason=reason)
    present = drop_duplicates(present)
    left, present = co_partition(left, present, [node.probe_left], ["__value"])

    options = {"probe": node.probe_left, "mark": node.mark}
    meta = _mark_in_partition(logical_meta(left), logical_meta(present), count_meta, **options)
    return map_partitions(
        left, _mark_in_partition, present, totals, meta=meta, reason=reason, **options
    )


def _select_values(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame[[column]].set_axis(["__value"], axis=1)


def _count_values(frame: pd.DataFrame) -> pd.DataFrame:
    column = frame["__value"]
    counts = {"rows": [len(column)], "nulls": [int(column.isna().sum())]}
    return pd.DataFrame(
        {name: pd.array(items, dtype="int64[pyarrow]") for name, items in counts.items()}
    )


def _sum_counts(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sum().to_frame().T.astype("int64[pyarrow]")


def _drop_nulls(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["__value"].notna()]


def _mark_in_partition(
    frame: pd.DataFrame, present: pd.DataFrame, totals: pd.DataFrame, probe: str, mark: str
) -> pd.DataFrame:
    """Append SQL's `probe IN (values)` to one partition of probes.

    The mark is FALSE when the subquery returned no rows. Otherwise it is TRUE when the probe
    is among the values, NULL when the probe or one of the values is NULL, and FALSE else.
    """
    rows, nulls = (int(totals[name].iloc[0]) if len(totals) else 0 for name in ("rows", "nulls"))
    probes = table_from_frame(frame[[probe]]).column(0)
    if rows == 0:
        result = pa.chunked_array([pa.repeat(pa.scalar(False), len(frame))], pa.bool_())
    else:
        value_set = table_from_frame(present).column(0).combine_chunks()
        found = pc.fill_null(pc.is_in(probes, value_set=value_set, skip_nulls=True), False)
        unknown = pc.is_null(probes)
        if nulls > 0:
            unknown = pc.or_(unknown, pc.invert(found))
        result = pc.if_else(found, True, pc.if_else(unknown, pa.scalar(None, pa.bool_()), False))
    marked = frame.copy(deep=False)
    marked[mark] = pd.Series(pd.arrays.ArrowExtensionArray(result), index=frame.index, copy=False)
    return marked
