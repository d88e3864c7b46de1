"""The Python API: a `Context` registers tables and runs SQL over them.

>>> import gsql
>>> ctx = gsql.Context(engine="pandas")
>>> ctx.register("t", pandas.DataFrame({"x": [1, 2, 3]}))
>>> ctx.sql("SELECT SUM(x) AS total FROM t").to_pandas()
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from gsql.catalogs import Catalog, TableSource, load_catalog, source_from_frame, source_from_path
from gsql.engine.backend import Backend, NodeTiming, execute_plan
from gsql.engine.gpu import ENGINE_NAMES, choose_engine
from gsql.errors import CatalogError, GsqlError, UnsupportedError
from gsql.sql import plan
from gsql.sql.bind import bind_query
from gsql.sql.build import Relation, build_plan
from gsql.sql.parse import parse_sql, resolve_dialect

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ENGINES", "Context", "Result"]

logger = logging.getLogger(__name__)

ENGINES = ENGINE_NAMES
GPU_ENGINES = ("cudf", "dask-cuda")
FALLBACK_POLICIES = ("warn", "error", "off")


@dataclass
class Result:
    """The result of one query: an Arrow table plus how it was computed.

    Attributes:
        names: output column names, in order.
        engine: the engine that ran the query.
        timings: per plan node, where it ran, its time in seconds and its row count.
        placements: per plan node, (node, engine that ran it, reason when it left the GPU).
        plan_text: the logical plan as `explain()` prints it.
        ordered: whether the query's outermost operation is an ORDER BY.
    """

    table: pa.Table
    engine: str
    plan_text: str
    planning_seconds: float
    execution_seconds: float
    timings: list[NodeTiming] = field(default_factory=list)
    ordered: bool = False
    sort_keys: list[int] = field(default_factory=list)
    placements: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return list(self.table.column_names)

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def to_arrow(self) -> pa.Table:
        return self.table

    def to_pandas(self) -> pd.DataFrame:
        """Return the rows as a pandas DataFrame with Arrow-backed dtypes."""
        import pandas as pd

        return self.table.to_pandas(types_mapper=pd.ArrowDtype)

    def to_pylist(self) -> list[dict[str, Any]]:
        return self.table.to_pylist()

    def rows(self) -> list[tuple[Any, ...]]:
        """Return the rows as tuples, in result order."""
        columns = [column.to_pylist() for column in self.table.columns]
        return list(zip(*columns)) if columns else [() for _ in range(self.table.num_rows)]

    def explain(self) -> str:
        return self.plan_text

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.table.__arrow_c_stream__(requested_schema)

    def __len__(self) -> int:
        return self.table.num_rows

    def __repr__(self) -> str:
        rows = "1 row" if self.table.num_rows == 1 else f"{self.table.num_rows} rows"
        columns = "1 column" if self.table.num_columns == 1 else f"{self.table.num_columns} columns"
        return f"<gsql.Result {rows} x {columns}, engine={self.engine}>"


class Context:
    """Tables and settings for running SQL.

    Args:
        engine: `pandas`, `cudf`, `dask`, `dask-cuda`, or `auto` (the default) to pick the best
            engine on this machine. `GSQL_ENGINE` sets the default.
        dialect: SQL dialect of queries (any dialect sqlglot reads); `duckdb` by default.
        catalog: a catalog file to load tables from, or a `Catalog`.
        scheduler: for the dask engines, a `distributed.Client` or a scheduler address such as
            `tcp://10.0.0.5:8786`. None uses `GSQL_SCHEDULER` when it is set. Without either,
            the dask engine uses dask's default scheduler (`gsql.engine.dask.connect()` starts
            a local cluster), and the dask-cuda engine starts dask-cuda's `LocalCUDACluster`.
        partitions: for the dask engines, the number of partitions that each scan produces at
            least; None means 2.
        fallback: the GPU engines' policy for a plan node they cannot run on the GPU. `warn`
            (the default, also set by `GSQL_FALLBACK`) runs it on the CPU and logs a warning.
            `off` runs it on the CPU silently. `error` raises `UnsupportedError` naming every
            reason.
        rmm_pool_size: for the dask-cuda engine's local cluster, the RMM memory pool that each
            worker allocates on its GPU at start: bytes (int), a fraction of the GPU's memory
            (float), or a string such as `"24GB"`; None allocates no pool.
        device_memory_limit: for the dask-cuda engine's local cluster, the device memory use
            (bytes as an int, a fraction of the GPU's memory as a float such as 0.8, or a string
            such as `"30GB"`) above which a worker spills data from the GPU to host memory; 0
            turns spilling off, and None keeps dask-cuda's default (0.8 in dask-cuda 26.10).
    """

    def __init__(
        self,
        engine: str | None = None,
        dialect: str | None = None,
        catalog: Catalog | str | os.PathLike[str] | None = None,
        *,
        scheduler: Any = None,
        partitions: int | None = None,
        fallback: str | None = None,
        rmm_pool_size: float | str | None = None,
        device_memory_limit: float | str | None = None,
    ) -> None:
        self.engine, self.engine_reason = _choose_engine(engine or os.environ.get("GSQL_ENGINE") or "auto")
        self.fallback = (fallback or os.environ.get("GSQL_FALLBACK") or "warn").lower()
        if self.fallback not in FALLBACK_POLICIES:
            raise GsqlError(
                f"unknown fallback policy `{fallback}`; choose one of: {', '.join(FALLBACK_POLICIES)}"
            )
        self.scheduler = scheduler
        self.partitions = partitions
        self.rmm_pool_size = rmm_pool_size
        self.device_memory_limit = device_memory_limit
        self.dialect = resolve_dialect(dialect)
        if catalog is None:
            self.catalog = Catalog()
        elif isinstance(catalog, Catalog):
            self.catalog = catalog
        else:
            self.catalog = load_catalog(Path(catalog))

    def register(self, name: str, source: Any, replace: bool = True, **options: Any) -> TableSource:
        """Register a file, glob, directory, pandas DataFrame or Arrow table as table `name`.

        Reader options take the keyword names of pandas' and cuDF's `read_csv`: `delimiter`,
        `header`, `names`, `dtype`, `na_values`, `quotechar`, `escapechar`, `encoding`,
        `compression`; `format` forces `csv` or `parquet`.
        """
        if isinstance(source, (str, os.PathLike)):
            table_source = source_from_path(name, source, **options)
        elif isinstance(source, TableSource):
            table_source = source
        else:
            if options:
                raise CatalogError(f"reader options {sorted(options)} apply to files only, not to in-memory tables")
            table_source = source_from_frame(name, _as_arrow_or_pandas(source))
        self.catalog.register(table_source, replace=replace)
        return table_source

    def deregister(self, name: str) -> None:
        self.catalog.drop(name)

    def tables(self) -> list[str]:
        return self.catalog.names()

    def plan(self, text: str, dialect: str | None = None) -> Relation:
        """Parse, bind and plan `text` without running it."""
        name = resolve_dialect(dialect) if dialect else self.dialect
        expression = parse_sql(text, name)
        if not isinstance(expression, (exp.Query, exp.Subquery)):
            keyword = expression.key.upper()
            raise UnsupportedError(
                f"statement `{keyword}` is not supported; gsql runs SELECT queries "
                "(register tables with `ctx.register` or `gsql register`)"
            )
        bound = bind_query(expression, self.catalog, name)
        return build_plan(bound)

    def explain(self, text: str, dialect: str | None = None, placement: bool | str | None = None) -> str:
        """Return the logical plan of `text` as an indented tree.

        With `placement` (the default on the GPU engines) the text also lists, for each plan
        node, whether a GPU engine would run it on the GPU and every reason it could not.
        `placement` may name the engine, `cudf` or `dask-cuda`; True means this context's
        engine when it is `dask-cuda`, else `cudf`. This is computed from the plan alone, so
        it works on a machine without a GPU.
        """
        name = resolve_dialect(dialect) if dialect else self.dialect
        relation = self.plan(text, name)
        text_plan = _explain_text(relation, self.engine)
        if placement is None and self.engine in GPU_ENGINES:
            placement = True
        if placement:
            if isinstance(placement, str):
                engine = placement
            else:
                engine = self.engine if self.engine in GPU_ENGINES else "cudf"
            if engine not in GPU_ENGINES:
                raise GsqlError(f"unknown GPU engine `{engine}`; choose one of: {', '.join(GPU_ENGINES)}")
            text_plan += "\n" + _placement_text(relation, name, engine)
        return text_plan

    def sql(self, text: str, dialect: str | None = None) -> Result:
        """Run one SELECT statement and return its `Result`."""
        started = time.perf_counter()
        name = resolve_dialect(dialect) if dialect else self.dialect
        relation = self.plan(text, name)
        planned = time.perf_counter()

        if self.engine in GPU_ENGINES and self.fallback == "error":
            _check_gpu_placement(relation, name)
        backend = self._backend(name)
        frame, timings = execute_plan(relation.node, backend)
        table = backend.to_arrow(frame, relation.node.columns, relation.shown_names())
        finished = time.perf_counter()

        logger.debug("planned in %.4f s, executed in %.4f s", planned - started, finished - planned)
        ordered, sort_keys = _ordering(relation)
        return Result(
            table=table,
            engine=backend.name,
            plan_text=_explain_text(relation, backend.name),
            planning_seconds=planned - started,
            execution_seconds=finished - planned,
            timings=timings,
            ordered=ordered,
            sort_keys=sort_keys,
            placements=_placements(backend, timings),
        )


    def _backend(self, dialect: str) -> Backend:
        if self.engine == "dask-cuda":
            return _dask_cuda_backend(
                dialect,
                self.scheduler,
                self.partitions,
                self.fallback,
                self.rmm_pool_size,
                self.device_memory_limit,
            )
        return _backend(self.engine, dialect, self.scheduler, self.partitions, self.fallback)


def _as_arrow_or_pandas(source: Any) -> Any:
    if isinstance(source, pa.Table):
        return source
    if hasattr(source, "__arrow_c_stream__") and not _is_pandas(source):
        return pa.table(source)
    return source


def _is_pandas(value: Any) -> bool:
    return type(value).__module__.startswith("pandas")


def _choose_engine(engine: str) -> tuple[str, str]:
    name, reason = choose_engine(engine)
    logger.info("engine %s: %s", name, reason)
    return name, reason


def _backend(
    engine: str, dialect: str, scheduler: Any = None, partitions: int | None = None, fallback: str = "warn"
) -> Backend:
    if engine == "dask":
        from gsql.engine.dask import DaskBackend, client_for

        return DaskBackend(dialect, client=client_for(scheduler), partitions=partitions)
    if engine == "cudf":
        from gsql.engine.cudf import CudfBackend

        return CudfBackend(dialect, fallback=fallback)
    if engine == "dask-cuda":
        return _dask_cuda_backend(dialect, scheduler, partitions, fallback)
    from gsql.engine.pandas_backend import PandasBackend

    return PandasBackend(dialect)


def _dask_cuda_backend(
    dialect: str,
    scheduler: Any,
    partitions: int | None,
    fallback: str,
    rmm_pool_size: int | str | None = None,
    device_memory_limit: int | str | float | None = None,
) -> Backend:
    from gsql.engine.dask import cuda_client_for
    from gsql.engine.dask.cuda import DaskCudaBackend

    # The backend imports cuDF and dask_cudf first, so a missing library is reported before
    # a cluster starts.
    backend = DaskCudaBackend(dialect, partitions=partitions, fallback=fallback)
    backend.client = cuda_client_for(scheduler, rmm_pool_size, device_memory_limit)
    return backend


def _placements(backend: Backend, timings: list[NodeTiming]) -> list[tuple[str, str, str]]:
    recorded = getattr(backend, "placements", None)
    if recorded:
        return [tuple(placement) for placement in recorded]
    return [(timing.node, timing.engine, "") for timing in timings]


_PLACE_NAMES = {"cudf": "GPU", "cudf+arrow": "GPU, some expressions on the CPU"}
_DASK_CUDA_PLACE_NAMES = {
    "cudf": "GPU partitions",
    "cudf+arrow": "GPU partitions, some expressions on the CPU",
}


def _placement_text(relation: Relation, dialect: str, engine_name: str = "cudf") -> str:
    from gsql.engine.cudf import explain_placement

    names = _DASK_CUDA_PLACE_NAMES if engine_name == "dask-cuda" else _PLACE_NAMES
    lines = [f"GPU placement on the {engine_name} engine:"]
    if engine_name == "dask-cuda":
        lines.append(
            "  (columns of different types that a join or set operation matches are cast on "
            "host copies of the partitions)"
        )
    for description, engine, reasons in explain_placement(relation.node, dialect):
        where = names.get(engine, "CPU" if engine_name == "cudf" else "CPU copies of the partitions")
        lines.append(f"  {description[:100]}: {where}")
        lines.extend(f"    - {reason}" for reason in reasons)
    return "\n".join(lines)


def _check_gpu_placement(relation: Relation, dialect: str) -> None:
    """Raise with every reason at once when the plan has nodes that cannot run on the GPU."""
    from gsql.engine.cudf import explain_placement

    problems = [
        f"{description[:80]}: {'; '.join(reasons) or 'runs on the CPU'}"
        for description, engine, reasons in explain_placement(relation.node, dialect)
        if engine == "pandas"
    ]
    if problems:
        raise UnsupportedError(
            "the query has plan nodes that cannot run on the GPU and --fallback is error:\n  "
            + "\n  ".join(problems)
        )


def _explain_text(relation: Relation, engine: str) -> str:
    columns = ", ".join(relation.shown_names())
    return f"Output [{columns}] on {engine}\n{plan.format_plan(relation.node, 1)}"


def _ordering(relation: Relation) -> tuple[bool, list[int]]:
    node = relation.node
    while isinstance(node, (plan.Limit, plan.Project)) and not isinstance(node, plan.Sort):
        if isinstance(node, plan.Project):
            # Only a projection that drops hidden sort columns keeps the order meaning.
            if not all(e.name == c for e, c in zip(node.expressions, node.columns)):
                break
        node = node.inputs[0]
    if not isinstance(node, plan.Sort):
        return False, []
    positions = [relation.node.columns.index(k.column) for k in node.keys if k.column in relation.node.columns]
    return True, positions
