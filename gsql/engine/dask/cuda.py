"""`DaskCudaBackend`: the dask engine's plans on collections of cuDF partitions.

The handlers are the dask engine's. While they build a node's collection, the dask settings
put `dataframe.backend` to `cudf`, and `partitionwise.using_device` routes their
per-partition steps to the cudf engine (see `device`). `placements` records, per plan node,
whether its partition work runs on the GPU and why not.

NOTE: this backend has run only with the tests' pandas stand-in for cuDF and a stand-in for
dask-cuda's `LocalCUDACluster`, never on a GPU.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dask
import dask.dataframe as dd
import pandas as pd
import pyarrow as pa

from gsql.engine.backend import Handler
from gsql.engine.cudf.backend import STRICT_VARIABLE, Placement
from gsql.engine.cudf.support import node_placement
from gsql.engine.dask.backend import DaskBackend, dask_settings
from gsql.engine.dask.device import DevicePartitions, DeviceSettings
from gsql.engine.dask.partitionwise import using_device
from gsql.engine.pandas_backend import PandasBackend, frame_from_table, table_from_frame
from gsql.errors import EngineUnavailableError, UnsupportedError
from gsql.sql import plan

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["DaskCudaBackend"]

logger = logging.getLogger(__name__)

# Placements in the order of how much of a node runs on the host.
_PLACEMENT_ORDER = ("dask-cuda", "dask-cuda+arrow", "dask-cuda+pandas")


class DaskCudaBackend(DaskBackend):
    """Runs plans on `dask.dataframe` collections whose partitions are `cudf.DataFrame`s.

    Args:
        dialect: the SQL dialect of the query.
        client: the `distributed.Client` of the dask-cuda cluster; None uses dask's default
            scheduler, whose threads then share the GPUs of this process.
        partitions: as for `DaskBackend`.
        fallback: the policy for a node whose partitions cannot be processed on the GPU.
            `warn` and `off` run it on host copies of the partitions. `error` raises
            `UnsupportedError` while the collection is built, or in the task for a cuDF error
            found at run time.
        strict: raise cuDF errors of native paths instead of running the node on the host;
            None reads `GSQL_CUDF_STRICT`.

    Raises:
        EngineUnavailableError: cuDF or dask_cudf does not import.
    """

    name = "dask-cuda"

    def __init__(
        self,
        dialect: str,
        client: Client | None = None,
        partitions: int | None = None,
        fallback: str = "warn",
        strict: bool | None = None,
    ) -> None:
        super().__init__(dialect, client=client, partitions=partitions)
        _import_dask_cudf()
        if strict is None:
            strict = os.environ.get(STRICT_VARIABLE) == "1"
        self.fallback = fallback
        self.device = DevicePartitions(DeviceSettings(dialect, strict, fallback))
        self.placements: list[Placement] = []

    @contextlib.contextmanager
    def _device_settings(self) -> Iterator[None]:
        with (
            dask_settings(),
            dask.config.set({"dataframe.backend": "cudf"}),
            using_device(self.device),
        ):
            yield

    def settings(self) -> contextlib.AbstractContextManager[None]:
        """Return the dask engine's settings plus the cudf dataframe backend and cuDF partitions."""
        return self._device_settings()

    def handler(self, node: plan.Node) -> Handler:
        """Return the dask engine's handler of `node`, recording where its partition work runs."""
        handler = super().handler(node)

        @functools.wraps(handler)
        def placed(backend: Any, node: plan.Node, inputs: list[Any]) -> Any:
            self.device.steps = []
            result = handler(backend, node, inputs)
            self._record(node, self.device.steps)
            return result

        return placed

    def _record(self, node: plan.Node, steps: list[tuple[str, str]]) -> None:
        if not steps:
            # Scans, unions and DISTINCT are dask's own operations on cuDF partitions, and
            # VALUES and recursive CTEs are built on the host, as on the cudf engine.
            placement, reasons = node_placement(node, None, self.dialect)
            steps = [
                ("dask-cuda+pandas" if placement == "pandas" else "dask-cuda", "; ".join(reasons))
            ]
        engine = max((placement for placement, _ in steps), key=_PLACEMENT_ORDER.index)
        reasons = list(
            dict.fromkeys(
                reason for placement, reason in steps if reason and placement != "dask-cuda"
            )
        )
        reason = "; ".join(reasons)
        if engine == "dask-cuda+pandas":
            if self.fallback == "error":
                raise UnsupportedError(
                    f"{type(node).__name__} cannot run on the GPU partitions: {reason}; "
                    "use --fallback warn to run it on host copies of the partitions"
                )
            if self.fallback == "warn":
                logger.warning(
                    "%s runs on host copies of the partitions: %s", type(node).__name__, reason
                )
        self.placements.append(Placement(node.describe()[:200], engine, reason))

    def compute(self, frame: dd.DataFrame) -> pd.DataFrame:
        """Compute a collection and copy it to the host as a pandas engine frame."""
        logical = self.device.logical_meta(frame)
        computed = super().compute(frame)
        backend = self.device.converter
        if not isinstance(computed, backend.cudf.DataFrame):
            # Only the pandas stand-in for cuDF of the tests gets here: dask's pandas code
            # returns plain pandas frames for its subclass.
            computed = backend.cudf.DataFrame(computed)
        schema = table_from_frame(logical).schema
        return frame_from_table(backend.download(backend.conform(computed, schema)))

    def to_arrow(self, frame: dd.DataFrame, columns: list[str], names: list[str]) -> pa.Table:
        """Compute the collection, copy it to the host, and return `columns` under `names`."""
        if columns:
            selected = self.device.register(
                frame[columns], self.device.logical_meta(frame)[columns]
            )
        else:
            selected = frame
        computed = self.compute(selected)
        return PandasBackend(self.dialect).to_arrow(computed, columns, names)


def _import_dask_cudf() -> None:
    try:
        import dask_cudf  # noqa: F401  (registers dask's dispatch functions for cuDF objects)
    except Exception as error:  # noqa: BLE001  (a broken CUDA install raises RuntimeError or OSError)
        from gsql.engine.gpu import cuda_extra, inspect_gpus, install_command

        extra = cuda_extra(inspect_gpus().cuda_major)
        raise EngineUnavailableError(
            f"the dask-cuda engine needs dask_cudf, which failed to import ({error}); "
            f"install it with `{install_command(extra)}`"
        ) from None
