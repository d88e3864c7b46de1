"""Connections to a dask cluster: a running scheduler by address, or a local cluster of threads."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from gsql.errors import EngineUnavailableError, GsqlError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["SCHEDULER_VARIABLE", "client_for", "connect"]

logger = logging.getLogger(__name__)

SCHEDULER_VARIABLE = "GSQL_SCHEDULER"
"""The environment variable that gives the scheduler address when none is passed."""

# One client per scheduler address, so that each query does not open a new connection.
_clients: dict[str, Client] = {}


def connect(scheduler: str | None = None, workers: int | None = None) -> Client:
    """Connect to a dask scheduler, or start a local cluster when there is no address.

    The local cluster runs its workers as threads of this process (`processes=False`), so its
    scheduler and workers talk over dask's in-process transport and open no network port, and
    it has no dashboard. Closing the returned client closes such a cluster too.

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

    options: dict[str, Any] = {"processes": False, "dashboard_address": None}
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
