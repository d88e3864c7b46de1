"""Leaf collections: Scan of a table source and Values of literal rows.

Parquet sources become one partition per row group, each read by a task with the same type
normalisation as `TableSource.read`. CSV files and in-memory tables are read once on the
client and split into partitions, so reading them is not parallel yet. With a distributed
client the partitions are scattered to the workers rather than put into the task graph.

On the dask-cuda engine each partition is copied to the GPU by its task, and Parquet row groups
are read by cuDF's reader where the cudf engine would use it (see `device`).
"""

from __future__ import annotations

import functools
import itertools
from typing import TYPE_CHECKING

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from gsql.catalogs._arrow import cast_table
from gsql.catalogs.parquet import ParquetReader
from gsql.engine.dask.partitionwise import device_partitions, logical_meta
from gsql.engine.pandas_backend import PandasBackend, frame_from_table
from gsql.errors import DataError, ExecutionError
from gsql.sql import plan

if TYPE_CHECKING:
    from gsql.engine.dask.backend import DaskBackend

__all__ = ["partition_count", "scan", "values"]


def partition_count(minimum: int, rows: int) -> int:
    """Return how many partitions a scan of `rows` rows gets: `minimum`, but never an empty one."""
    return max(1, min(minimum, rows))


def scan(backend: DaskBackend, node: plan.Scan, inputs: list[dd.DataFrame]) -> dd.DataFrame:
    if node.source.format == "parquet":
        frame = _scan_parquet(node, backend.partitions)
        if frame is not None:
            return frame
    return _to_device(_scan_whole(node, backend))


def _to_device(frame: dd.DataFrame) -> dd.DataFrame:
    """Copy the pandas partitions of `frame` to the GPU on the dask-cuda engine."""
    device = device_partitions()
    return frame if device is None else device.from_host(frame)


def _scan_whole(node: plan.Scan, backend: DaskBackend) -> dd.DataFrame:
    # NOTE: CSV and in-memory sources are read whole on the client, and every query sends
    # their rows to the workers again.
    table = node.source.read(columns=node.source_columns).rename_columns(node.columns)
    frame = frame_from_table(table)
    count = partition_count(backend.partitions, table.num_rows)
    if backend.client is None:
        return dd.from_pandas(frame, npartitions=count, sort=False).clear_divisions()

    bounds = np.linspace(0, len(frame), count + 1).astype(int)
    pieces = [
        frame.iloc[start:stop].reset_index(drop=True) for start, stop in itertools.pairwise(bounds)
    ]
    futures = backend.client.scatter(pieces, hash=False)
    return dd.from_delayed(futures, meta=frame.iloc[:0], verify_meta=False)


def _scan_parquet(node: plan.Scan, minimum: int) -> dd.DataFrame | None:
    """Read one partition per row group, splitting partitions further to reach `minimum`.

    Returns None for files without row groups, which the caller reads whole.
    """
    source = node.source
    reader = ParquetReader(source.name, source.paths, source.options)
    dataset = reader.dataset()
    schema = reader.arrow_schema()
    pieces = [
        piece for fragment in dataset.get_fragments() for piece in fragment.split_by_row_group()
    ]
    if not pieces:
        return None

    device = device_partitions()
    if device is not None:
        frame = device.from_parquet_pieces(node, pieces, dataset.schema, schema)
    else:
        read = functools.partial(
            _read_piece,
            physical=dataset.schema,
            schema=schema,
            columns=list(node.source_columns),
            names=list(node.columns),
        )
        empty = schema.empty_table().select(list(node.source_columns)).rename_columns(node.columns)
        frame = dd.from_map(read, pieces, meta=frame_from_table(empty), enforce_metadata=False)

    count = partition_count(minimum, reader.row_count())
    if frame.npartitions < count:
        # Dask splits each partition after reading it, so every row group is read once.
        split = frame.repartition(npartitions=count)
        if device is not None:
            device.register(split, logical_meta(frame))
        frame = split
    return frame


def _read_piece(
    piece: ds.ParquetFileFragment,
    physical: pa.Schema,
    schema: pa.Schema,
    columns: list[str],
    names: list[str],
) -> pd.DataFrame:
    """Read the columns of one row group, cast to the source schema's normalised types."""
    try:
        # The dataset schema lets the fragment fill Hive partition columns from its folder names.
        table = piece.to_table(schema=physical, columns=list(dict.fromkeys(columns)))
    except (pa.ArrowException, OSError) as error:
        raise DataError(
            f"cannot read Parquet file `{piece.path}`: {error}; check that it is a Parquet file"
        ) from None
    table = cast_table(table, schema, piece.path)
    return frame_from_table(table.select(columns).rename_columns(names))


def values(backend: DaskBackend, node: plan.Values, inputs: list[dd.DataFrame]) -> dd.DataFrame:
    """Build the literal rows on the client: they are part of the query text, so they are few."""
    frame = PandasBackend.handlers[plan.Values](PandasBackend(backend.dialect), node, [])
    return _to_device(dd.from_pandas(frame, npartitions=1, sort=False).clear_divisions())


def recursive(
    backend: DaskBackend, node: plan.Recursive, inputs: list[dd.DataFrame]
) -> dd.DataFrame:
    """Run a recursive CTE on the client with the pandas engine.

    Each iteration depends on the previous one, so the recursion does not split into tasks;
    the base rows are computed first and the result becomes one partition.
    """
    pandas_backend = PandasBackend(backend.dialect)
    base = backend.compute(inputs[0])
    frame = PandasBackend.handlers[plan.Recursive](pandas_backend, node, [base])
    return _to_device(dd.from_pandas(frame, npartitions=1, sort=False).clear_divisions())


def working_table(
    backend: DaskBackend, node: plan.WorkingTable, inputs: list[dd.DataFrame]
) -> dd.DataFrame:
    """Reject a working table outside its recursion: the pandas engine runs recursive terms."""
    raise ExecutionError("a recursive CTE's working table was read outside its recursion")
