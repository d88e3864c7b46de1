"""cuDF partitions for the dask-cuda engine: logical types, per-partition work, and host copies.

A dask-cuda collection has `cudf.DataFrame` partitions and an empty `cudf.DataFrame` as its
dask meta. cuDF stores some Arrow types differently (see `gsql.engine.cudf.schemas`), so
`DevicePartitions` keeps, for each collection it builds, the logical meta: the empty pandas
frame with the Arrow dtypes that the pandas engine gives the same columns. The dask modules
read types from it through `partitionwise.logical_meta`.

Per-partition work runs in dask tasks as follows:

- A plan node (`map_node`) runs the cudf engine's dispatch on each partition: natively on the
  GPU when the cudf engine can, otherwise on a host copy with the pandas engine and back, per
  the fallback policy.
- A pandas helper of the dask modules (`map_host`), such as a cast to a common key type, runs
  on a host copy of each partition. Its result is copied back to the GPU.

NOTE: this module has run only against the pandas stand-in for cuDF of the tests, never on a
GPU with real cuDF.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from gsql.catalogs._arrow import cast_table
from gsql.engine.cudf.backend import CudfBackend, DeviceFrame, run_node
from gsql.engine.cudf.relational import reads_parquet_on_device
from gsql.engine.cudf.schemas import device_storage_problem
from gsql.engine.cudf.support import node_placement
from gsql.engine.pandas_backend import frame_from_table, table_from_frame
from gsql.errors import DataError, ExecutionError, UnsupportedError
from gsql.sql import plan

__all__ = ["DevicePartitions", "DeviceSettings"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceSettings:
    """The cudf engine settings that every task of a query uses.

    Attributes:
        dialect: the SQL dialect of the query.
        strict: raise cuDF errors on native paths instead of running the node on the host.
        fallback: `warn`, `off` or `error`, as `Context(fallback=...)` documents.
    """

    dialect: str
    strict: bool
    fallback: str

    def backend(self) -> CudfBackend:
        """Return a cudf engine for one task; it imports cuDF in the worker's process."""
        return CudfBackend(self.dialect, strict=self.strict, fallback=self.fallback)


class DevicePartitions:
    """Builds dask collections of cuDF partitions and remembers their logical types.

    Args:
        settings: the cudf engine settings of the tasks.

    Attributes:
        steps: (placement, reason) of each per-partition step of the node being built, where
            placement is `dask-cuda`, `dask-cuda+arrow` or `dask-cuda+pandas`.
    """

    def __init__(self, settings: DeviceSettings) -> None:
        self.settings = settings
        # Copies empty metas to cuDF on the client; the fallback policy applies to tasks only.
        self.converter = CudfBackend(settings.dialect, strict=settings.strict, fallback="off")
        self.metas: dict[str, pd.DataFrame] = {}
        self.steps: list[tuple[str, str]] = []

    # Logical types ---------------------------------------------------------------------------

    def logical_meta(self, frame: dd.DataFrame) -> pd.DataFrame:
        """Return the logical meta of a collection that this object built.

        Raises:
            ExecutionError: the collection was built without `register`, which is a bug in gsql.
        """
        meta = self.metas.get(frame._name)
        if meta is None:
            raise ExecutionError(
                f"the dask-cuda engine has no column types for collection `{frame._name}`; "
                "this is a bug in gsql, so please report the query"
            )
        return meta

    def register(self, frame: dd.DataFrame, logical: pd.DataFrame) -> dd.DataFrame:
        """Record `logical` as the logical meta of `frame`, and return `frame`.

        Raises:
            UnsupportedError: a column has a type that a cuDF partition cannot hold.
        """
        schema = table_from_frame(logical.iloc[:0]).schema
        for field in schema:
            problem = device_storage_problem(field.type)
            if problem:
                raise UnsupportedError(
                    f"the dask-cuda engine cannot hold column `{field.name}` in cuDF "
                    f"partitions: {problem}; run the query on the dask engine"
                )
        self.metas[frame._name] = logical.iloc[:0]
        return frame

    def device_meta(self, logical: pd.DataFrame) -> Any:
        """Return the empty cuDF frame whose dtypes store the columns of `logical`."""
        return self.converter.upload(table_from_frame(logical.iloc[:0])).frame

    def schema(self, frame: dd.DataFrame) -> pa.Schema:
        return table_from_frame(self.logical_meta(frame)).schema

    # Building collections --------------------------------------------------------------------

    def from_host(self, frame: dd.DataFrame) -> dd.DataFrame:
        """Copy each partition of a collection of pandas frames to the GPU, in its task."""
        logical = frame._meta
        copied = frame.map_partitions(
            _upload_partition,
            settings=self.settings,
            meta=self.device_meta(logical),
            clear_divisions=True,
        )
        return self.register(copied, logical)

    def from_parquet_pieces(
        self,
        node: plan.Scan,
        pieces: list[ds.ParquetFileFragment],
        physical: pa.Schema,
        schema: pa.Schema,
    ) -> dd.DataFrame:
        """Read one cuDF partition per Parquet row group.

        cuDF's reader reads the row group when the cudf engine would read the file with it.
        Otherwise pyarrow reads it on the worker's host, as on the dask engine, and the task
        copies the partition to the GPU.
        """
        columns = list(node.source_columns)
        empty = schema.empty_table().select(columns).rename_columns(node.columns)
        read = functools.partial(
            _read_piece_to_device,
            settings=self.settings,
            on_device=reads_parquet_on_device(node),
            physical=physical,
            schema=schema,
            columns=columns,
            logical=empty.schema,
        )
        logical = frame_from_table(empty)
        frame = dd.from_map(read, pieces, meta=self.device_meta(logical), enforce_metadata=False)
        return self.register(frame, logical)

    def map_node(
        self,
        frame: dd.DataFrame,
        node: plan.Node,
        others: Sequence[dd.DataFrame] = (),
        position: int = 0,
    ) -> dd.DataFrame:
        """Map the cudf engine's dispatch of `node` over the partitions of `frame`.

        `others` and `position` are as for `partitionwise.map_pandas`.
        """
        from gsql.engine.dask.partitionwise import detached, run_pandas

        inputs = list(others)
        inputs.insert(position, frame)
        schemas = [self.schema(collection) for collection in inputs]
        step = self._node_step(node, schemas)
        self.steps.append(step)
        settings = self.settings
        if step[0] == "dask-cuda+pandas":
            # The backend warned or raised once for the whole node while building it, so the
            # tasks need not warn again for each partition.
            settings = dataclasses.replace(settings, fallback="off")

        metas = [self.logical_meta(other) for other in others]
        options = {"node": detached(node), "dialect": self.settings.dialect, "position": position}
        logical = run_pandas(self.logical_meta(frame), *metas, **options).iloc[:0]
        result = frame.map_partitions(
            _run_node_on_partition,
            *others,
            node=options["node"],
            position=position,
            schemas=schemas,
            settings=settings,
            meta=self.device_meta(logical),
            align_dataframes=False,
            clear_divisions=True,
        )
        return self.register(result, logical)

    def map_host(
        self,
        frame: dd.DataFrame,
        function: Callable[..., pd.DataFrame],
        others: Sequence[dd.DataFrame],
        meta: pd.DataFrame,
        reason: str,
        options: dict[str, Any],
    ) -> dd.DataFrame:
        """Map a function of pandas frames over host copies of the partitions."""
        self.steps.append(("dask-cuda+arrow", reason or "a step runs on the host"))
        schemas = [self.schema(collection) for collection in (frame, *others)]
        result = frame.map_partitions(
            _run_on_host,
            *others,
            function=function,
            schemas=schemas,
            options=options,
            settings=self.settings,
            meta=self.device_meta(meta),
            align_dataframes=False,
            clear_divisions=True,
        )
        return self.register(result, meta)

    def runs_on_device(self, node: plan.Node) -> bool:
        """Return whether the cudf engine runs `node` on the GPU as a whole."""
        return node_placement(node, None, self.settings.dialect)[0] != "pandas"

    def _node_step(self, node: plan.Node, schemas: list[pa.Schema]) -> tuple[str, str]:
        fields = [field for schema in schemas for field in schema]
        placement, reasons = node_placement(node, pa.schema(fields), self.settings.dialect)
        labels = {"cudf": "dask-cuda", "cudf+arrow": "dask-cuda+arrow"}
        return labels.get(placement, "dask-cuda+pandas"), "; ".join(reasons)


# Tasks: these run on the workers ----------------------------------------------------------------


def _device_input(backend: CudfBackend, partition: Any, schema: pa.Schema) -> DeviceFrame:
    frame = partition.reset_index(drop=True)
    if not isinstance(frame, backend.cudf.DataFrame):
        # Only the pandas stand-in for cuDF of the tests gets here: dask's pandas code
        # returns plain pandas frames for its subclass.
        frame = backend.cudf.DataFrame(frame)
    return DeviceFrame(frame, schema)


def _device_output(backend: CudfBackend, result: Any, name: str) -> Any:
    if isinstance(result, pd.DataFrame) and not isinstance(result, backend.cudf.DataFrame):
        # `run_node` keeps a result on the host only when the GPU cannot hold its types, and
        # `DevicePartitions.register` rejects those types before the query runs.
        raise UnsupportedError(f"the result of {name} cannot be held in a cuDF partition")
    return result.frame


def _run_node_on_partition(
    partition: Any,
    *others: Any,
    node: plan.Node,
    position: int,
    schemas: list[pa.Schema],
    settings: DeviceSettings,
) -> Any:
    backend = settings.backend()
    partitions = list(others)
    partitions.insert(position, partition)
    inputs = [_device_input(backend, item, schema) for item, schema in zip(partitions, schemas)]
    result = run_node(backend, node, inputs)
    return _device_output(backend, result, type(node).__name__)


def _run_on_host(
    partition: Any,
    *others: Any,
    function: Callable[..., pd.DataFrame],
    schemas: list[pa.Schema],
    options: dict[str, Any],
    settings: DeviceSettings,
) -> Any:
    backend = settings.backend()
    frames = [
        backend.to_host(_device_input(backend, item, schema))
        for item, schema in zip((partition, *others), schemas)
    ]
    result = function(*frames, **options)
    return backend.upload(table_from_frame(result.reset_index(drop=True))).frame


def _upload_partition(partition: pd.DataFrame, settings: DeviceSettings) -> Any:
    backend = settings.backend()
    return backend.upload(table_from_frame(partition.reset_index(drop=True))).frame


def _read_piece_to_device(
    piece: ds.ParquetFileFragment,
    settings: DeviceSettings,
    on_device: bool,
    physical: pa.Schema,
    schema: pa.Schema,
    columns: list[str],
    logical: pa.Schema,
) -> Any:
    """Read one row group into a cuDF frame with the columns named and typed as `logical`."""
    backend = settings.backend()
    if on_device:
        row_groups = [[group.id for group in piece.row_groups]]
        try:
            frame = backend.cudf.read_parquet(
                piece.path, columns=list(dict.fromkeys(columns)), row_groups=row_groups
            )
        except (RuntimeError, OSError, ValueError) as error:
            logger.warning("cuDF could not read `%s`, so pyarrow reads it: %s", piece.path, error)
        else:
            renamed = backend.cudf.DataFrame(
                {name: frame[column] for column, name in zip(columns, logical.names)}
            )
            return backend.conform(renamed, logical).frame

    try:
        table = piece.to_table(schema=physical, columns=list(dict.fromkeys(columns)))
    except (pa.ArrowException, OSError) as error:
        raise DataError(
            f"cannot read Parquet file `{piece.path}`: {error}; check that it is a Parquet file"
        ) from None
    table = cast_table(table, schema, piece.path).select(columns).rename_columns(logical.names)
    return backend.upload(table).frame
