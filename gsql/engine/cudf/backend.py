"""`CudfBackend`: runs a plan on one GPU with cuDF, node by node, falling back to the host.

Every frame of this engine is a `DeviceFrame`: a `cudf.DataFrame` and its logical schema, the
Arrow schema that the pandas engine gives the same node (see `schemas`). A node runs natively
(`relational`) when `support.node_fallback_reason` allows it; otherwise, or when a native
handler meets something it cannot do at run time, its inputs are copied to the host, the pandas
engine's handler runs, and the result is copied back. `placements` records where each node ran
and why.

A result that the GPU cannot hold (a column type that `schemas.device_storage_problem`
rejects) stays on the host as a pandas frame; the nodes above it then run on the host too.

NOTE: no line of this package has run on a GPU. Its CPU tests use a pandas stand-in for cuDF.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from gsql.engine.backend import Backend, Handler
from gsql.engine.cudf import relational
from gsql.engine.cudf.schemas import device_storage_problem, output_schema, restore, storage_type
from gsql.engine.cudf.support import node_fallback_reason
from gsql.engine.pandas_backend import PandasBackend, frame_from_table, table_from_frame
from gsql.errors import EngineUnavailableError, GsqlError, UnsupportedError
from gsql.sql import plan

__all__ = ["STRICT_VARIABLE", "CudfBackend", "DeviceFrame", "DeviceUnsupported", "Placement", "run_node"]

logger = logging.getLogger(__name__)

STRICT_VARIABLE = "GSQL_CUDF_STRICT"
"""Set to 1 to raise cuDF errors on native paths instead of falling back to the host."""


class DeviceUnsupported(Exception):
    """Raised by a native handler for an input it cannot process on the GPU; the node then runs on the host."""


@dataclass
class DeviceFrame:
    """A cuDF frame with the logical Arrow schema of its columns.

    The frame's index is always a RangeIndex from 0, so cuDF never aligns two columns of it.
    """

    frame: Any
    schema: pa.Schema

    def __len__(self) -> int:
        return len(self.frame)


@dataclass
class Placement:
    """Where one plan node ran: `cudf`, `cudf+arrow` or `pandas` (see `support`), and why."""

    node: str
    engine: str
    reason: str

    def __iter__(self) -> Any:
        return iter((self.node, self.engine, self.reason))


class CudfBackend(Backend):
    """Runs plans on one GPU with cuDF DataFrames.

    Args:
        dialect: the SQL dialect of the query.
        strict: raise errors of cuDF on native paths instead of running the node on the host.
            None reads `GSQL_CUDF_STRICT`.

    Raises:
        EngineUnavailableError: cuDF does not import.
    """

    name = "cudf"

    def __init__(self, dialect: str, strict: bool | None = None, fallback: str = "warn") -> None:
        super().__init__(dialect)
        self.fallback = fallback
        try:
            import cudf
        except Exception as error:  # a broken CUDA install raises RuntimeError or OSError
            from gsql.engine.gpu import cuda_extra, inspect_gpus, install_command

            extra = cuda_extra(inspect_gpus().cuda_major)
            raise EngineUnavailableError(
                f"the cudf engine needs cuDF, which failed to import ({error}); "
                f"install it with `{install_command(extra)}`"
            ) from None
        self.cudf = cudf
        self.strict = os.environ.get(STRICT_VARIABLE) == "1" if strict is None else strict
        self.pandas = PandasBackend(dialect)
        self.placements: list[Placement] = []
        self._device_types: dict[pa.DataType, Any] = {}

    # Dispatch --------------------------------------------------------------------------------

    def handler(self, node: plan.Node) -> Handler:
        """Return a handler that runs `node` natively or on the host, and records where."""
        self.pandas.handler(node)  # raises UnsupportedError for a node no engine handles
        return run_node

    def to_arrow(self, frame: Any, columns: list[str], names: list[str]) -> pa.Table:
        """Copy the result to the host as an Arrow table with the pandas engine's types."""
        if isinstance(frame, pd.DataFrame):
            return self.pandas.to_arrow(frame, columns, names)
        table = self.download(frame)
        if not columns:
            return pa.table({"__rows": pa.nulls(len(frame))}).drop_columns(["__rows"])
        return table.select(columns).rename_columns(names)

    def num_rows(self, frame: Any) -> int:
        return len(frame)

    # Moving frames between host and GPU -----------------------------------------------------

    def upload(self, table: pa.Table) -> DeviceFrame:
        """Copy an Arrow table to the GPU.

        Raises:
            DeviceUnsupported: a column has a type that the GPU frame cannot hold.
        """
        for field in table.schema:
            problem = device_storage_problem(field.type)
            if problem:
                raise DeviceUnsupported(f"column `{field.name}`: {problem}")
        if table.num_columns == 0:
            empty = self.cudf.DataFrame(index=self.cudf.RangeIndex(table.num_rows))
            return DeviceFrame(empty, table.schema)
        stored = pa.table(
            {name: column.cast(storage_type(column.type)) for name, column in zip(table.column_names, table.columns)}
        )
        return DeviceFrame(self.cudf.DataFrame.from_arrow(stored), table.schema)

    def upload_array(self, array: pa.ChunkedArray | pa.Array, logical: pa.DataType) -> Any:
        """Copy one array to the GPU as a Series of `logical`'s storage type."""
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if array.type != logical and not pa.types.is_null(logical):
            array = array.cast(logical)
        series = self.cudf.Series.from_arrow(array.cast(storage_type(array.type)))
        return self.conform_series(series, logical)

    def download(self, frame: DeviceFrame) -> pa.Table:
        """Copy a GPU frame to the host as an Arrow table of its logical types."""
        if not frame.schema.names:
            return pa.table({"__rows": pa.nulls(len(frame))}).drop_columns(["__rows"])
        table = frame.frame.to_arrow(preserve_index=False)
        columns = {
            field.name: restore(table.column(field.name), field.type) for field in frame.schema
        }
        return pa.table(columns)

    def download_columns(self, frame: DeviceFrame, names: list[str]) -> dict[str, pa.ChunkedArray]:
        """Copy some columns of a GPU frame to the host, with their logical types."""
        if not names:
            return {}
        subset = DeviceFrame(frame.frame[names], pa.schema([frame.schema.field(name) for name in names]))
        table = self.download(subset)
        return {name: table.column(name) for name in names}

    def device_dtype(self, logical: pa.DataType) -> Any:
        """Return the cuDF dtype that a column of `logical` type has on the GPU."""
        found = self._device_types.get(logical)
        if found is None:
            empty = pa.table({"x": pa.array([], storage_type(logical) if not pa.types.is_null(logical) else pa.null())})
            found = self.cudf.DataFrame.from_arrow(empty)["x"].dtype
            self._device_types[logical] = found
        return found

    def conform_series(self, series: Any, logical: pa.DataType) -> Any:
        """Cast a GPU column to the storage dtype of `logical` when it has another dtype."""
        if pa.types.is_null(logical):
            return series
        target = self.device_dtype(logical)
        return series if series.dtype == target else series.astype(target)

    def conform(self, frame: Any, schema: pa.Schema) -> DeviceFrame:
        """Wrap a cuDF frame with its logical schema, casting columns whose dtype differs."""
        frame = frame.reset_index(drop=True)
        for field in schema:
            if pa.types.is_null(field.type):
                continue
            column = frame[field.name]
            target = self.device_dtype(field.type)
            if column.dtype != target:
                frame[field.name] = column.astype(target)
        return DeviceFrame(frame, schema)

    def to_host(self, frame: Any) -> pd.DataFrame:
        """Return a node input as a pandas engine frame, copying it from the GPU if needed."""
        if isinstance(frame, pd.DataFrame):
            return frame
        return frame_from_table(self.download(frame))

    def to_device(self, frame: Any) -> DeviceFrame:
        """Return a node input as a GPU frame, copying it from the host if needed.

        Raises:
            DeviceUnsupported: the frame has a column type that the GPU frame cannot hold.
        """
        if isinstance(frame, DeviceFrame):
            return frame
        return self.upload(table_from_frame(frame))

    def record(self, node: plan.Node, engine: str, reason: str) -> None:
        if engine == "pandas" and self.fallback == "error":
            raise UnsupportedError(
                f"{type(node).__name__} cannot run on the GPU: {reason}; "
                "use --fallback warn to run it on the CPU"
            )
        self.placements.append(Placement(node.describe()[:200], engine, reason))
        if engine == "pandas" and self.fallback == "warn":
            logger.warning("%s ran on the host: %s", type(node).__name__, reason)


def run_node(backend: CudfBackend, node: plan.Node, inputs: list[Any]) -> Any:
    """Run `node` natively on the GPU when the cudf engine can, else on the host, and record where."""
    reason = node_fallback_reason(node)
    if reason is None:
        try:
            return _run_native(backend, node, inputs)
        except DeviceUnsupported as error:
            reason = str(error)
        except (NotImplementedError, TypeError) as error:
            # A cuDF error on a native path: the host result is the reference, so it replaces it.
            if backend.strict or isinstance(error, GsqlError):
                raise
            reason = f"cuDF raised {type(error).__name__}: {error}"
    return _run_on_host(backend, node, inputs, reason)


def _run_native(backend: CudfBackend, node: plan.Node, inputs: list[Any]) -> DeviceFrame:
    device_inputs = [backend.to_device(frame) for frame in inputs]
    schema = output_schema(node, [frame.schema for frame in device_inputs], backend.dialect)
    if schema is None:
        raise DeviceUnsupported("the pandas engine gives no output schema for this node on empty input")
    frame, notes = relational.HANDLERS[type(node)](backend, node, device_inputs)
    result = backend.conform(frame, schema)
    backend.record(node, "cudf+arrow" if notes else "cudf", "; ".join(notes))
    return result


def _run_on_host(backend: CudfBackend, node: plan.Node, inputs: list[Any], reason: str) -> Any:
    host_inputs = [backend.to_host(frame) for frame in inputs]
    result = backend.pandas.handler(node)(backend.pandas, node, host_inputs)
    backend.record(node, "pandas", reason)
    try:
        return backend.upload(table_from_frame(result))
    except DeviceUnsupported as error:
        logger.info("%s result stays on the host: %s", type(node).__name__, error)
        return result
