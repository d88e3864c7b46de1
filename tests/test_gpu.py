"""The GPU side: detection, engine choice, `gsql doctor`, placement, and the cudf engine.

Tests marked `gpu` run the oracle queries on real cuDF and compare each result with the pandas
engine's. They skip where no GPU is visible, and fail instead when `GSQL_REQUIRE_GPU=1`, so a
GPU machine cannot pass them by skipping.

The other tests run everywhere. The cudf engine's logic runs against `FakeCudf`, a stand-in
built on pandas with Arrow dtypes that offers the part of cuDF's API that the engine calls.
It checks gsql's logic (NULL rules, fallbacks, type restoration), not cuDF's own behaviour.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pandas.core.strings.accessor import StringMethods

import gsql
from gsql.compare import CompareOptions, compare_results
from gsql.engine import gpu
from gsql.engine.arrow_kernels import like_to_regex
from gsql.engine.backend import execute_plan
from gsql.errors import EngineUnavailableError
from gsql.sql import plan
from gsql.sql.expressions import SCALAR_EXPRESSIONS
from tests.conftest import flights_files

ROOT = Path(__file__).resolve().parent.parent
FLIGHT_QUERIES = [
    statement.strip()
    for statement in (Path(__file__).parent / "oracle" / "flights.sql").read_text().split(";\n")
    if statement.strip()
]
TPCH_TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]
TPCH_QUERY_DIR = ROOT.parent / "shared" / "tpch" / "queries"

REQUIRE_GPU = os.environ.get("GSQL_REQUIRE_GPU") == "1"
DETECTION = gpu.inspect_gpus()


# A pandas stand-in for cuDF -----------------------------------------------------------------------


class _FakeStringMethods(StringMethods):
    def like(self, pat: str, esc: str | None = None) -> Any:
        return self.contains(like_to_regex(pat, esc or None), regex=True)


class FakeSeries(pd.Series):
    @property
    def _constructor(self) -> type:
        return FakeSeries

    @property
    def _constructor_expanddim(self) -> type:
        return FakeFrame

    @property
    def str(self) -> _FakeStringMethods:  # type: ignore[override]
        return _FakeStringMethods(self)

    @classmethod
    def from_arrow(cls, array: pa.Array) -> FakeSeries:
        return cls(pd.arrays.ArrowExtensionArray(pa.chunked_array([array])))

    def to_arrow(self) -> pa.Array:
        return pa.array(self.array)

    def round(self, decimals: int = 0, how: str = "half_even") -> FakeSeries:  # type: ignore[override]
        mode = {"half_up": "half_towards_infinity", "half_even": "half_to_even"}[how]
        rounded = pc.round(pa.chunked_array([pa.array(self.array)]), decimals, round_mode=mode)
        return FakeSeries(pd.arrays.ArrowExtensionArray(rounded), index=self.index)


class FakeFrame(pd.DataFrame):
    @property
    def _constructor(self) -> type:
        return FakeFrame

    @property
    def _constructor_sliced(self) -> type:
        return FakeSeries

    @classmethod
    def from_arrow(cls, table: pa.Table) -> FakeFrame:
        return cls(table.to_pandas(types_mapper=pd.ArrowDtype))

    def to_arrow(self, preserve_index: bool | None = None) -> pa.Table:
        return pa.Table.from_pandas(pd.DataFrame(self), preserve_index=False)

    def merge(self, right: pd.DataFrame, how: str = "inner", on: Any = None, **options: Any) -> FakeFrame:  # type: ignore[override]
        if how not in ("leftsemi", "leftanti"):
            return FakeFrame(super().merge(right, how=how, on=on, **options))
        marked = super().merge(right.drop_duplicates(), how="left", on=on, indicator=True)
        keep = marked["_merge"] == ("both" if how == "leftsemi" else "left_only")
        return FakeFrame(marked.loc[keep, list(self.columns)])


def fake_cudf() -> types.ModuleType:
    """Return a module that offers the part of cuDF's API that gsql's cudf engine calls."""
    module = types.ModuleType("cudf")
    module.__version__ = "0.0-fake"  # type: ignore[attr-defined]
    module.DataFrame = FakeFrame  # type: ignore[attr-defined]
    module.Series = FakeSeries  # type: ignore[attr-defined]
    module.RangeIndex = pd.RangeIndex  # type: ignore[attr-defined]
    module.concat = lambda frames, **options: FakeFrame(pd.concat(frames, **options))  # type: ignore[attr-defined]
    module.read_parquet = _read_parquet  # type: ignore[attr-defined]
    return module


def _read_parquet(paths: list[str], columns: list[str] | None = None) -> FakeFrame:
    # cuDF reads Parquet's `string_view` columns as strings; pandas cannot hold `string_view`.
    table = pa.concat_tables([pq.read_table(path, columns=columns) for path in paths])
    fields = [
        field.with_type(pa.large_string()) if pa.types.is_string_view(field.type) else field
        for field in table.schema
    ]
    return FakeFrame.from_arrow(table.cast(pa.schema(fields)))


@pytest.fixture()
def cudf_stand_in(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = fake_cudf()
    monkeypatch.setitem(sys.modules, "cudf", module)
    return module


def run_on(backend: Any, context: gsql.Context, sql: str) -> tuple[pa.Table, Any]:
    relation = context.plan(sql)
    frame, _ = execute_plan(relation.node, backend)
    return backend.to_arrow(frame, relation.node.columns, relation.shown_names()), relation


def assert_same_as_pandas(context: gsql.Context, backend: Any, sql: str) -> None:
    expected = context.sql(sql)
    table, _ = run_on(backend, context, sql)
    assert table.schema.types == expected.table.schema.types, sql
    options = CompareOptions(ordered=expected.ordered, sort_keys=expected.sort_keys or None)
    comparison = compare_results(table, expected.table, options, "cudf", "pandas")
    assert comparison.equal, comparison.report()


@pytest.fixture(scope="module")
def flights_context() -> gsql.Context:
    context = gsql.Context(engine="pandas")
    for table, path in flights_files().items():
        context.register(table, path)
    return context


# Detection --------------------------------------------------------------------------------------


def test_detection_hidden_by_empty_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    detection = gpu.inspect_gpus()
    assert detection.gpus == []
    assert "CUDA_VISIBLE_DEVICES" in detection.reason
    assert gpu.detect_gpus() == []


def test_detection_without_pynvml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    detection = gpu.inspect_gpus()
    assert detection.gpus == []
    assert "nvidia-ml-py" in detection.reason


class _FakeNvml:
    """An NVML with two GPUs and a CUDA 12.4 driver."""

    class NVMLError(Exception):
        pass

    def __init__(self, fail_init: bool = False) -> None:
        self.fail_init = fail_init
        self.shut_down = False

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise self.NVMLError("Driver Not Loaded")

    def nvmlShutdown(self) -> None:
        self.shut_down = True

    def nvmlSystemGetDriverVersion(self) -> bytes:
        return b"550.54.15"

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return 12040

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> str:
        return f"NVIDIA Test {handle}"

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return f"GPU-{handle}aaaa-bbbb"

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return types.SimpleNamespace(total=80 * 2**30, free=79 * 2**30, used=2**30)


@pytest.mark.parametrize(
    ("visible", "expected"),
    [(None, [0, 1]), ("1", [1]), ("1,0", [1, 0]), ("0,7,1", [0]), ("GPU-1aa", [1]), ("-1", [])],
)
def test_detection_applies_visible_devices(monkeypatch: pytest.MonkeyPatch, visible: str | None, expected: list[int]) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", _FakeNvml())
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert [device.index for device in gpu.detect_gpus()] == expected


def test_detection_reports_driver_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = _FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    detection = gpu.inspect_gpus()
    assert detection.driver_version == "550.54.15"
    assert detection.cuda_driver_version == "12.4"
    assert detection.cuda_major == 12
    assert detection.gpus[0].memory_gib == 80.0
    assert nvml.shut_down


def test_detection_without_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", _FakeNvml(fail_init=True))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    detection = gpu.inspect_gpus()
    assert detection.gpus == []
    assert "Driver Not Loaded" in detection.reason


# Engine choice ----------------------------------------------------------------------------------


def _no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu, "inspect_gpus", lambda: gpu.GpuDetection(reason="test: no GPU"))


def _one_gpu(monkeypatch: pytest.MonkeyPatch, cuda: str = "12.4") -> None:
    device = gpu.GpuInfo(0, "NVIDIA Test", "GPU-0", 2**34, 2**34, "550", cuda)
    monkeypatch.setattr(gpu, "inspect_gpus", lambda: gpu.GpuDetection([device], "1 GPU(s) visible", "550", cuda))


def test_choose_auto_without_gpu_is_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_gpu(monkeypatch)
    engine, reason = gpu.choose_engine("auto")
    assert engine == "pandas"
    assert "no GPU is visible" in reason
    assert "test: no GPU" in reason


def test_choose_auto_with_gpu_and_cudf(monkeypatch: pytest.MonkeyPatch) -> None:
    _one_gpu(monkeypatch)
    monkeypatch.setattr(gpu, "cudf_importable", lambda: (True, "cudf 26.10.02"))
    engine, reason = gpu.choose_engine("AUTO")
    assert engine == "cudf"
    assert "NVIDIA Test" in reason


def test_choose_auto_with_gpu_without_cudf(monkeypatch: pytest.MonkeyPatch) -> None:
    _one_gpu(monkeypatch, cuda="12.4")
    monkeypatch.setattr(gpu, "cudf_importable", lambda: (False, "ModuleNotFoundError: No module named 'cudf'"))
    engine, reason = gpu.choose_engine("auto")
    assert engine == "pandas"
    assert "pip install 'gsql[cu12]'" in reason


@pytest.mark.parametrize(("cuda", "extra"), [("13.0", "cu13"), ("12.8", "cu12")])
def test_choose_cudf_names_extra_by_cuda_version(monkeypatch: pytest.MonkeyPatch, cuda: str, extra: str) -> None:
    _one_gpu(monkeypatch, cuda=cuda)
    monkeypatch.setattr(gpu, "cudf_importable", lambda: (False, "No module named 'cudf'"))
    with pytest.raises(EngineUnavailableError, match=rf"pip install 'gsql\[{extra}\]'"):
        gpu.choose_engine("cudf")


def test_choose_cudf_without_gpu_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_gpu(monkeypatch)
    with pytest.raises(EngineUnavailableError, match="needs an NVIDIA GPU.*test: no GPU"):
        gpu.choose_engine("cudf")


def test_choose_dask_cuda_without_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    _one_gpu(monkeypatch, cuda="13.0")
    monkeypatch.setattr(gpu, "_installed", lambda *modules: [m for m in modules if m.startswith("dask_cu")])
    with pytest.raises(EngineUnavailableError, match=r"`dask_cudf`, `dask_cuda`.*gsql\[cu13\]"):
        gpu.choose_engine("dask-cuda")


def test_choose_dask_without_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu, "_installed", lambda *modules: list(modules))
    with pytest.raises(EngineUnavailableError, match=r"gsql\[dask\]"):
        gpu.choose_engine("dask")


def test_choose_unknown_engine() -> None:
    with pytest.raises(EngineUnavailableError, match="unknown engine `cuda`; choose one of: auto, pandas, cudf, dask, dask-cuda"):
        gpu.choose_engine("cuda")


def test_choose_pandas_is_requested() -> None:
    assert gpu.choose_engine("pandas") == ("pandas", "requested")


def test_cudf_backend_without_cudf_names_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from gsql.engine.cudf import CudfBackend

    monkeypatch.setitem(sys.modules, "cudf", None)
    with pytest.raises(EngineUnavailableError, match=r"pip install 'gsql\[cu1[23]\]'"):
        CudfBackend("duckdb")


def test_import_gsql_loads_no_gpu_library() -> None:
    code = (
        "import sys, gsql, gsql.context, gsql.doctor, gsql.engine.gpu, gsql.engine.cudf; "
        "gsql.doctor.format_doctor(gsql.doctor.run_doctor()) if not gsql.engine.gpu.detect_gpus() else None; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cudf', 'dask', 'rmm', 'pynvml', 'dask_cuda', 'dask_cudf')))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = output.stdout.strip()
    assert loaded in ("[]", "['pynvml']"), loaded


# Doctor -----------------------------------------------------------------------------------------


def test_doctor_on_this_machine() -> None:
    from gsql.doctor import format_doctor, run_doctor

    report = run_doctor()
    text = format_doctor(report)
    assert f"gsql {gsql.__version__}" in text
    assert "pyarrow" in text
    assert "engine auto:" in text
    if not report.detection.gpus:
        assert report.imports["cudf"] == "not tried: no GPU"
        assert "pip install 'gsql[cu13]'" in text


def test_doctor_with_gpu_missing_cudf(monkeypatch: pytest.MonkeyPatch) -> None:
    from gsql import doctor

    device = gpu.GpuInfo(0, "NVIDIA Test", "GPU-0", 2**34, 2**34, "580", "13.0")
    detection = gpu.GpuDetection([device], "1 GPU(s) visible", "580", "13.0")
    monkeypatch.setattr(doctor, "inspect_gpus", lambda: detection)
    monkeypatch.setattr(doctor, "_try_import", lambda module: f"failed: ModuleNotFoundError: No module named '{module}'")
    monkeypatch.setattr(doctor, "choose_engine", lambda requested: ("pandas", "test"))
    text = doctor.format_doctor(doctor.run_doctor())
    assert "[0] NVIDIA Test, 16.0 GiB" in text
    assert "supports CUDA 13.0" in text
    assert "pip install 'gsql[cu13]'" in text


# Placement --------------------------------------------------------------------------------------


def test_registry_every_node_has_handler_or_reason() -> None:
    from gsql.engine.cudf import relational
    from gsql.engine.cudf.support import NATIVE_NODES, NODE_FALLBACKS

    node_classes = [
        value for value in vars(plan).values()
        if isinstance(value, type) and issubclass(value, plan.Node) and value is not plan.Node
    ]
    for node_class in node_classes:
        native = node_class in NATIVE_NODES and node_class in relational.HANDLERS
        assert native or NODE_FALLBACKS.get(node_class), node_class.__name__
    assert set(relational.HANDLERS) == set(NATIVE_NODES)


def test_registry_every_expression_has_kernel_or_reason() -> None:
    from gsql.engine.cudf.expressions import DEVICE_KERNELS
    from gsql.engine.cudf.support import EXPRESSION_FALLBACKS, NATIVE_EXPRESSIONS

    for kind in SCALAR_EXPRESSIONS:
        native = kind in NATIVE_EXPRESSIONS and kind in DEVICE_KERNELS
        assert native or EXPRESSION_FALLBACKS.get(kind), kind.__name__
    assert set(DEVICE_KERNELS) == set(NATIVE_EXPRESSIONS)
    assert not set(NATIVE_EXPRESSIONS) & set(EXPRESSION_FALLBACKS)


def test_explain_placement_lists_every_node(flights_context: gsql.Context) -> None:
    from gsql.engine.cudf import explain_placement

    sql = (
        "SELECT a.name, COUNT(*) AS n, ROW_NUMBER() OVER (ORDER BY COUNT(*)) AS r "
        "FROM flights f JOIN airlines a ON f.carrier = a.carrier "
        "WHERE f.month % 2 = 1 AND a.name LIKE '%Air%' GROUP BY a.name ORDER BY n DESC"
    )
    relation = flights_context.plan(sql)
    entries = explain_placement(relation.node)
    descriptions = [description for description, _, _ in entries]

    def count_nodes(node: plan.Node, seen: set[int]) -> int:
        if id(node) in seen:
            return 0
        seen.add(id(node))
        return 1 + sum(count_nodes(child, seen) for child in node.inputs)

    assert len(entries) == count_nodes(relation.node, set())
    assert descriptions[-1] == relation.node.describe()
    placements = {description.split()[0]: (engine, reasons) for description, engine, reasons in entries}
    assert placements["Window"][0] == "pandas"
    assert "window functions" in placements["Window"][1][0]
    assert placements["Join"] == ("cudf", [])
    modulo_filter = next(entry for entry in entries if "% 2" in entry[0])
    assert modulo_filter[1] == "cudf+arrow"
    assert any("remainder" in reason for reason in modulo_filter[2])
    for _, engine, reasons in entries:
        assert engine in ("cudf", "cudf+arrow", "pandas")
        assert bool(reasons) == (engine != "cudf")


def test_explain_placement_names_every_reason(flights_context: gsql.Context) -> None:
    from gsql.engine.cudf import explain_placement

    sql = "SELECT REGEXP_REPLACE(name, 'a', 'b') AS r, carrier % 2 AS m FROM airlines"
    entries = explain_placement(flights_context.plan(sql).node)
    project = next(entry for entry in entries if entry[0].startswith("Project"))
    assert project[1] == "cudf+arrow"
    assert len(project[2]) == 2


# The cudf engine on the stand-in ------------------------------------------------------------------


@pytest.mark.parametrize("sql", FLIGHT_QUERIES, ids=[f"q{i:02d}" for i in range(1, len(FLIGHT_QUERIES) + 1)])
def test_cudf_logic_matches_pandas_on_flights(cudf_stand_in: Any, flights_context: gsql.Context, sql: str) -> None:
    from gsql.engine.cudf import CudfBackend

    backend = CudfBackend("duckdb", strict=True)
    assert_same_as_pandas(flights_context, backend, sql)
    assert backend.placements


NULL_CASES = [
    ("SELECT COUNT(*) AS n FROM t WHERE NOT (a > 1 AND b)", "three-valued AND under NOT"),
    ("SELECT COUNT(*) AS n FROM t WHERE a > 1 OR b", "three-valued OR"),
    ("SELECT a, b, a IN (1, NULL) AS i, a NOT IN (1, NULL) AS ni FROM t", "IN with NULL"),
    ("SELECT s, s LIKE 'x%' AS l, s NOT LIKE 'x%' AS nl, s = 'xy' AS e FROM t", "string NULLs"),
    # pandas' group-by skips NaN where cuDF keeps it as a value, so the stand-in aggregates `e`.
    ("SELECT a, COUNT(*) AS n, COUNT(b) AS nb, SUM(e) AS s, AVG(e) AS m FROM t GROUP BY a", "NULL group and all-NULL sum"),
    ("SELECT l.a, r.a AS ra FROM t l FULL JOIN t r ON l.a = r.a", "NULL keys never match"),
    ("SELECT a, c FROM t ORDER BY a DESC NULLS FIRST, c NULLS LAST", "per-key NULL placement"),
    ("SELECT a FROM t INTERSECT SELECT a FROM t", "NULL equals NULL in INTERSECT"),
    ("SELECT a FROM t EXCEPT ALL SELECT a FROM t WHERE a = 1", "EXCEPT ALL"),
    ("SELECT CASE WHEN b THEN s ELSE 'no' END AS c, COALESCE(a, 0) + 1 AS z FROM t", "CASE and COALESCE"),
    ("SELECT d, EXTRACT(year FROM d) AS y, d > DATE '2020-01-01' AS later FROM t", "dates keep their type"),
]


@pytest.fixture()
def null_context() -> gsql.Context:
    context = gsql.Context(engine="pandas")
    context.register(
        "t",
        pa.table(
            {
                "a": pa.array([1, 2, None, 2, None], pa.int64()),
                "b": pa.array([True, None, False, None, True]),
                "c": pa.array([None, None, 1.5, None, float("nan")]),
                "e": pa.array([None, None, 1.5, None, 2.5]),
                "s": pa.array(["xy", None, "ab", "xz", None]),
                "d": pa.array([None, 18000, 19000, 18500, 20000], pa.date32()),
            }
        ),
    )
    return context


@pytest.mark.parametrize(("sql", "case"), NULL_CASES, ids=[case for _, case in NULL_CASES])
def test_cudf_logic_null_rules(cudf_stand_in: Any, null_context: gsql.Context, sql: str, case: str) -> None:
    from gsql.engine.cudf import CudfBackend

    assert_same_as_pandas(null_context, CudfBackend("duckdb", strict=True), sql)


def test_cudf_integer_overflow_raises(cudf_stand_in: Any) -> None:
    from gsql.engine.cudf import CudfBackend

    context = gsql.Context(engine="pandas")
    context.register("t", pa.table({"a": pa.array([2**62, 2**62], pa.int64())}))
    backend = CudfBackend("duckdb", strict=True)
    with pytest.raises(gsql.ExecutionError, match="overflow"):
        run_on(backend, context, "SELECT a + a AS x FROM t")
    with pytest.raises(gsql.ExecutionError, match="BIGINT range"):
        run_on(backend, context, "SELECT SUM(a) AS x FROM t")


def test_cudf_fallback_is_recorded(cudf_stand_in: Any, flights_context: gsql.Context) -> None:
    from gsql.engine.cudf import CudfBackend

    backend = CudfBackend("duckdb")
    run_on(backend, flights_context, "SELECT carrier, ROW_NUMBER() OVER (ORDER BY carrier) AS r FROM airlines")
    engines = {placement.engine for placement in backend.placements}
    assert "pandas" in engines
    window = next(placement for placement in backend.placements if placement.node.startswith("Window"))
    assert window.reason == "window functions have no cuDF implementation yet"


def test_cudf_reads_parquet_natively(cudf_stand_in: Any, tmp_path: Path) -> None:
    from gsql.engine.cudf import CudfBackend

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"k": ["a", "b", None], "v": pa.array([1, 2, 3], pa.int32())}), path)
    context = gsql.Context(engine="pandas")
    context.register("t", str(path))
    backend = CudfBackend("duckdb", strict=True)
    assert_same_as_pandas(context, backend, "SELECT k, SUM(v) AS s FROM t GROUP BY k")
    assert backend.placements[0].engine == "cudf"


# On a real GPU ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_cudf() -> None:
    problem = None
    if not DETECTION.gpus:
        problem = f"no GPU visible: {DETECTION.reason}"
    else:
        imported, text = gpu.cudf_importable()
        if not imported:
            problem = f"cuDF does not import: {text}"
    if problem and REQUIRE_GPU:
        pytest.fail(f"GSQL_REQUIRE_GPU=1 but {problem}")
    if problem:
        pytest.skip(problem)


@pytest.mark.gpu
@pytest.mark.parametrize("sql", FLIGHT_QUERIES, ids=[f"q{i:02d}" for i in range(1, len(FLIGHT_QUERIES) + 1)])
def test_gpu_flights_match_pandas(real_cudf: None, flights_context: gsql.Context, sql: str) -> None:
    from gsql.engine.cudf import CudfBackend

    backend = CudfBackend("duckdb")
    assert_same_as_pandas(flights_context, backend, sql)


@pytest.fixture(scope="module")
def tpch_context(tpch_sf001: Path) -> gsql.Context:
    context = gsql.Context(engine="pandas")
    for table in TPCH_TABLES:
        context.register(table, str(tpch_sf001 / f"{table}.parquet"))
    return context


def _tpch_queries() -> list[Path]:
    directory = TPCH_QUERY_DIR if TPCH_QUERY_DIR.exists() else ROOT / "bench" / "tpch_queries"
    return sorted(directory.glob("q*.sql"))


@pytest.mark.gpu
@pytest.mark.parametrize("query_file", _tpch_queries(), ids=lambda path: path.stem)
def test_gpu_tpch_matches_pandas(real_cudf: None, tpch_context: gsql.Context, query_file: Path) -> None:
    from gsql.engine.cudf import CudfBackend

    assert_same_as_pandas(tpch_context, CudfBackend("duckdb"), query_file.read_text())


@pytest.mark.parametrize("query_file", _tpch_queries(), ids=lambda path: path.stem)
def test_cudf_logic_matches_pandas_on_tpch(cudf_stand_in: Any, tpch_context: gsql.Context, query_file: Path) -> None:
    from gsql.engine.cudf import CudfBackend

    assert_same_as_pandas(tpch_context, CudfBackend("duckdb", strict=True), query_file.read_text())


@pytest.mark.gpu
@pytest.mark.parametrize("sql", FLIGHT_QUERIES, ids=[f"q{i:02d}" for i in range(1, len(FLIGHT_QUERIES) + 1)])
def test_gpu_dask_cuda_flights_match_pandas(real_cudf: None, flights_context: gsql.Context, sql: str) -> None:
    # Starts dask-cuda's LocalCUDACluster on the first query; the later queries reuse it.
    context = gsql.Context(engine="dask-cuda", catalog=flights_context.catalog, partitions=2)
    result = context.sql(sql)
    expected = flights_context.sql(sql)
    options = CompareOptions(ordered=expected.ordered, sort_keys=expected.sort_keys or None)
    comparison = compare_results(result.table, expected.table, options, "dask-cuda", "pandas")
    assert result.engine == "dask-cuda"
    assert comparison.equal, comparison.report()


@pytest.mark.parametrize("engine", ["cudf", "dask-cuda"])
def test_gpu_engine_without_gpu_names_extra(engine: str) -> None:
    from gsql.engine.gpu import inspect_gpus

    if inspect_gpus().gpus:
        pytest.skip("a GPU is visible, so the engine does not fail for want of one")
    with pytest.raises(gsql.errors.EngineUnavailableError, match=r"gsql\[cu13\]"):
        gsql.Context(engine=engine).sql("SELECT 1")


def test_result_repr_counts_in_singular() -> None:
    result = gsql.Context(engine="pandas").sql("SELECT 1 AS a")
    assert repr(result) == "<gsql.Result 1 row x 1 column, engine=pandas>"
