"""The dask engine: plans over `dask.dataframe` collections of pandas partitions.

Each partition is a pandas DataFrame with Arrow-backed columns, the frame type of the pandas
engine, and the per-partition work runs the pandas engine's own handlers. Dask supplies the
parallelism: hash shuffles, concatenation and the scheduler, local or distributed.

The dask-cuda engine (`DaskCudaBackend`, in `cuda`) runs the same handlers on cuDF partitions.
Importing it imports cuDF and dask_cudf, so this package exports it lazily.

`import gsql` never imports this package. Importing it without dask installed raises
`EngineUnavailableError`.
"""

from __future__ import annotations

from gsql.errors import EngineUnavailableError

try:
    import dask.dataframe  # noqa: F401
except ImportError as error:
    raise EngineUnavailableError(
        f"the dask engine needs dask, which failed to import ({error}); "
        "install it with `pip install 'gsql[dask]'`"
    ) from None

from gsql.engine.dask.backend import DEFAULT_PARTITIONS, DaskBackend
from gsql.engine.dask.cluster import (
    SCHEDULER_VARIABLE,
    client_for,
    connect,
    connect_cuda,
    cuda_client_for,
)

__all__ = [
    "DEFAULT_PARTITIONS",
    "SCHEDULER_VARIABLE",
    "DaskBackend",
    "client_for",
    "connect",
    "connect_cuda",
    "cuda_client_for",
]
