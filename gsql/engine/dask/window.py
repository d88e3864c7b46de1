"""Window: bring each window partition into one dask partition, then run the pandas engine.

A window function reads only the rows of its own PARTITION BY group, so a hash shuffle on the
PARTITION BY columns that every call of the node shares makes each partition's result exact.
Calls that share no column, or a call without PARTITION BY, see all rows at once: the
collection then goes into one partition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dask.dataframe as dd

from gsql.engine.dask.partitionwise import map_pandas, shuffle, single_partition
from gsql.sql import plan

if TYPE_CHECKING:
    from gsql.engine.dask.backend import DaskBackend

__all__ = ["window"]


def window(backend: DaskBackend, node: plan.Window, inputs: list[dd.DataFrame]) -> dd.DataFrame:
    frame = inputs[0]
    shared = _shared_partition_columns(node.calls)
    if shared and frame.npartitions > 1:
        frame = shuffle(frame, shared)
    else:
        frame = single_partition(frame)
    return map_pandas(frame, node, backend.dialect)


def _shared_partition_columns(calls: list[plan.WindowCall]) -> list[str]:
    """Return the PARTITION BY columns common to every call, in the first call's order."""
    if not calls:
        return []
    shared = [column for column in calls[0].partition_by]
    for call in calls[1:]:
        shared = [column for column in shared if column in call.partition_by]
    return shared
