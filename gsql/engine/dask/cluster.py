"""Connections to a dask cluster: a running scheduler by address, or a local cluster.

The dask engine's local cluster runs threads of this process. The dask-cuda engine's local
cluster is dask-cuda's `LocalCUDACluster`, with one worker process per visible GPU.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from gsql.errors import EngineUnavailableError, GsqlError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["SCHEDULER_VARIABLE", "client_for", "connect", "connect_cuda", "cuda_client_for"]

logger = logging.getLogger(__name__)

SCHEDULER_VARIABLE = "GSQL_SCHEDULER"
"""The environment variable that gives the scheduler address when none is passed."""

# One client per scheduler address, so that each query does not open a new connection.
_clients: dict[str, Client] = {}

# The HTTP servers of a local cluster's scheduler and workers, on free loopback ports.
_LOOPBACK_HTTP = {"dashboard_address": "127.0.0.1:0", "worker_dashboard_address": "127.0.0.1:0"}

# One client of a local dask-cuda cluster per (RMM pool size, device memory limit).
_cuda_clients: dict[tuple[Any, Any], Client] = {}


def connect(scheduler: str | None = None, workers: int | None = None) -> Client:
    """Connect to a dask scheduler, or start a local cluster when there is no address.

    The local cluster runs its workers as threads of this process (`processes=False`), so its
    scheduler and workers talk over dask's in-process transport. The scheduler and each
    worker still start an HTTP server (dashboard, health and metrics routes): gsql binds them
    to a free port of 127.0.0.1, because dask's defaults listen on every interface (port 8787
    and a random one, seen with distributed 2026.8 even with `dashboard_address=None`).
    Closing the returned client closes such a cluster too.

    Args:
        scheduler: a scheduler address such as `tcp://10.0.0.5:8786`. When None, the
            `GSQL_SCHEDULER` environment variable gives it. When that is unset too, a local
            cluster starts.
        workers: the number of workers of a local cluster; None lets dask choose from the
            number of CPU cores. It must be None when connecting to a scheduler.

    Raises:
        EngineUnavailableError: `distributed` is not installed, or connecting to the scheduler
            failed.
        GsqlError: `workers` is given together with a scheduler address, or is below 1.
    """
    client_class = _client_class()
    address = scheduler or os.environ.get(SCHEDULER_VARIABLE)
    if workers is not None and workers < 1:
        raise GsqlError(f"invalid worker count {workers}: expected 1 or more")

    if address:
        if workers is not None:
            raise GsqlError(
                f"`workers` sets the size of a local cluster, but scheduler `{address}` was given; "
                "pass only one of them"
            )
        try:
            client = client_class(address, set_as_default=False)
        except OSError as error:
            raise EngineUnavailableError(
                f"cannot connect to the dask scheduler at `{address}`: {error}; check that it "
                f"runs and is reachable, or unset {SCHEDULER_VARIABLE}"
            ) from None
        logger.info("connected to the dask scheduler at %s", address)
        return client

    options: dict[str, Any] = {"processes": False, **_LOOPBACK_HTTP}
    if workers is not None:
        options["n_workers"] = workers
    client = client_class(set_as_default=False, **options)
    logger.info(
        "started a local dask cluster of %d worker(s)", len(client.scheduler_info()["workers"])
    )
    return client


def client_for(scheduler: Client | str | None) -> Client | None:
    """Return the client for the dask engine's `scheduler` setting.

    A `Client` is used as it is. An address connects once per process and reuses the client
    afterwards. None falls back to `GSQL_SCHEDULER`. When that is unset too, the result is None
    and dask's default scheduler runs the queries: a distributed client set as the default, or
    else a thread pool.
    """
    if scheduler is None:
        scheduler = os.environ.get(SCHEDULER_VARIABLE) or None
        if scheduler is None:
            return None
    if not isinstance(scheduler, str):
        return scheduler

    client = _clients.get(scheduler)
    if client is None or client.status in ("closing", "closed"):
        client = connect(scheduler)
        _clients[scheduler] = client
    return client


def _client_class() -> type[Client]:
    try:
        from distributed import Client
    except ImportError as error:
        raise EngineUnavailableError(
            f"a dask cluster needs the `distributed` package, which failed to import ({error}); "
            "install it with `pip install 'gsql[dask]'`"
        ) from None
    return Client


def connect_cuda(
    scheduler: str | None = None,
    rmm_pool_size: int | str | None = None,
    device_memory_limit: int | str | None = None,
) -> Client:
    """Connect to a dask scheduler, or start dask-cuda's `LocalCUDACluster` when there is none.

    The local cluster has one worker process per GPU that `CUDA_VISIBLE_DEVICES` shows. gsql
    makes it listen on 127.0.0.1, HTTP servers included. Closing the returned client
    leaves the cluster running until this process exits.

    Args:
        scheduler: a scheduler address; None reads `GSQL_SCHEDULER`, and when that is unset
            too, a local cluster starts.
        rmm_pool_size: the size of the RMM memory pool that each worker allocates on its GPU
            at start, in bytes or as a string such as `"24GB"`; None allocates no pool.
        device_memory_limit: the device memory use, in bytes, as a string such as `"30GB"`
            or as a fraction of the GPU's memory such as `0.8`, above which a worker spills
            data from the GPU to host memory; None keeps dask-cuda's default.

    Raises:
        EngineUnavailableError: dask-cuda or `distributed` is not installed, or connecting to
            the scheduler failed.
        GsqlError: a memory option is given together with a scheduler address.
    """
    address = scheduler or os.environ.get(SCHEDULER_VARIABLE)
    options = _cuda_cluster_options(rmm_pool_size, device_memory_limit)
    if address:
        if options:
            raise GsqlError(
                f"{' and '.join(f'`{name}`' for name in options)} configure a local dask-cuda "
                f"cluster, but scheduler `{address}` was given; set them on its workers "
                "(`dask cuda worker --rmm-pool-size ...`) instead"
            )
        return connect(address)

    cluster_class = _cuda_cluster_class()
    cluster = cluster_class(host="127.0.0.1", **_LOOPBACK_HTTP, **options)
    client = _client_class()(cluster, set_as_default=False)
    logger.info(
        "started a local dask-cuda cluster of %d worker(s) with %s",
        len(client.scheduler_info()["workers"]),
        ", ".join(f"{name}={value}" for name, value in options.items()) or "default settings",
    )
    return client


def cuda_client_for(
    scheduler: Client | str | None,
    rmm_pool_size: int | str | None = None,
    device_memory_limit: int | str | None = None,
) -> Client:
    """Return the client for the dask-cuda engine's settings.

    A `Client` is used as it is, and an address (or `GSQL_SCHEDULER`) connects once per
    process. Without either, one local dask-cuda cluster per set of memory options starts on
    first use and serves the later queries of this process.
    """
    if scheduler is None:
        scheduler = os.environ.get(SCHEDULER_VARIABLE) or None
    if scheduler is not None and not isinstance(scheduler, str):
        return scheduler
    if scheduler is not None:
        if _cuda_cluster_options(rmm_pool_size, device_memory_limit):
            # Raises GsqlError: the memory options apply to a local cluster only.
            return connect_cuda(scheduler, rmm_pool_size, device_memory_limit)
        client = client_for(scheduler)
        assert client is not None
        return client

    key = (rmm_pool_size, device_memory_limit)
    client = _cuda_clients.get(key)
    if client is None or client.status in ("closing", "closed"):
        client = connect_cuda(None, rmm_pool_size, device_memory_limit)
        _cuda_clients[key] = client
    return client


def _cuda_cluster_options(
    rmm_pool_size: int | str | None, device_memory_limit: int | str | None
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if rmm_pool_size is not None:
        options["rmm_pool_size"] = rmm_pool_size
    if device_memory_limit is not None:
        options["device_memory_limit"] = device_memory_limit
    return options


def _cuda_cluster_class() -> Any:
    try:
        from dask_cuda import LocalCUDACluster
    except Exception as error:  # noqa: BLE001  (a broken CUDA install raises RuntimeError or OSError)
        from gsql.engine.gpu import cuda_extra, inspect_gpus, install_command

        extra = cuda_extra(inspect_gpus().cuda_major)
        raise EngineUnavailableError(
            f"the dask-cuda engine needs dask-cuda, which failed to import ({error}); "
            f"install it with `{install_command(extra)}`, or pass a scheduler address"
        ) from None
    return LocalCUDACluster
