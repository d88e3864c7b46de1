"""Sort and Limit with an exact global order.

A Sort concatenates the partitions, in order, into one and sorts it there with the pandas
engine's stable sort, which places NULLs per key as the ORDER BY requests and NaN above
every number. Dask's `sort_values` is not used: it takes one NULL placement for all keys, and it
range-partitions on quantiles of the first key only.

A Limit over a Sort first keeps the first `offset + limit` rows of each sorted partition,
in parallel, and sorts only those rows in one partition. The result is the same as a full
sort: a row among the first n overall is among the first n of its own partition, and the
stable sort of partitions concatenated in order breaks ties by input position.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dask.dataframe as dd

from gsql.engine.dask.partitionwise import map_pandas, single_partition
from gsql.sql import plan

if TYPE_CHECKING:
    from gsql.engine.dask.backend import DaskBackend

__all__ = ["limit", "sort"]


def sort(backend: DaskBackend, node: plan.Sort, inputs: list[dd.DataFrame]) -> dd.DataFrame:
    frame = inputs[0]
    # A Limit right above this node reads the unsorted input to sort only its first rows.
    backend.sort_inputs[id(node)] = frame
    return map_pandas(single_partition(frame), node, backend.dialect)


def limit(backend: DaskBackend, node: plan.Limit, inputs: list[dd.DataFrame]) -> dd.DataFrame:
    frame = inputs[0]
    if node.limit is not None:
        count = node.offset + node.limit
        first_rows = plan.Limit(node.columns, limit=count)
        unsorted = backend.sort_inputs.get(id(node.input))
        if unsorted is not None and unsorted.npartitions > 1:
            assert isinstance(node.input, plan.Sort)
            heads = _sorted_heads(backend, node.input, unsorted, count)
            frame = map_pandas(single_partition(heads), node.input, backend.dialect)
        elif frame.npartitions > 1:
            # Without an order any rows will do, but OFFSET must count from one sequence.
            frame = map_pandas(frame, first_rows, backend.dialect)
    # NOTE: without a LIMIT, every row moves into one partition so that OFFSET can count them.
    return map_pandas(single_partition(frame), node, backend.dialect)


def _sorted_heads(
    backend: DaskBackend, node: plan.Sort, frame: dd.DataFrame, count: int
) -> dd.DataFrame:
    """Sort each partition and keep its first `count` rows."""
    sorted_partitions = map_pandas(frame, node, backend.dialect)
    return map_pandas(
        sorted_partitions, plan.Limit(list(node.columns), limit=count), backend.dialect
    )
