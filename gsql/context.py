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
        return f"<gsql.Result {self.table.num_rows} rows x {self.table.num_columns} columns, engine={self.engine}>"


class Context:
    """Tables and settings for running SQL.

    Args:
        engine: `pandas`, `dask`, or `auto` (the default) to pick the best engine on this
            machine. `GSQL_ENGINE` sets the default.
        dialect: SQL dialect of queries (any dialect sqlglot reads); `duckdb` by default.
        catalog: a catalog file to load tables from, or a `Catalog`.
        scheduler: for the dask engine, a `distributed.Client` or a scheduler address such as
            `tcp://10.0.0.5:8786`. None uses `GSQL_SCHEDULER` when it is set, else dask's
            default scheduler. `gsql.engine.dask.connect()` starts a local cluster.
        partitions: for the dask engine, the number of partitions that each scan produces at
            least; None means 2.
        fallback: the cudf engine's policy for a plan node it cannot run on the GPU. `warn`
            (the default, also set by `GSQL_FALLBACK`) runs it on the CPU and logs a warning.
            `off` runs it on the CPU silently. `error` raises `UnsupportedError` naming every
            reason.
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
    ) -> None:
        self.engine, self.engine_reason = _choose_engine(engine or os.environ.get("GSQL_ENGINE") or "auto")
        self.fallback = (fallback or os.environ.get("GSQL_FALLBACK") or "warn").lower()
        if self.fallback not in FALLBACK_POLICIES:
            raise GsqlError(
                f"unknown fallback policy `{fallback}`; choose one of: {', '.join(FALLBACK_POLICIES)}"
            )
        self.scheduler = scheduler
        self.partitions = partitions
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

    def explain(self, text: str, dialect: str | None = None, placement: bool | None = None) -> str:
        """Return the logical plan of `text` as an indented tree.

        With `placement` (the default on the cudf engine) the text also lists, for each plan
        node, whether the cudf engine would run it on the GPU and every reason it could not.
        This is computed from the plan alone, so it works on a machine without a GPU.
        """
        name = resolve_dialect(dialect) if dialect else self.dialect
        relation = self.plan(text, name)
        text_plan = _explain_text(relation, self.engine)
        if placement or (placement is None and self.engine in ("cudf", "dask-cuda")):
            text_plan += "\n" + _placement_text(relation, name)
        return text_plan

    def sql(self, text: str, dialect: str | None = None) -> Result:
        """Run one SELECT statement and return its `Result`."""
        started = time.perf_counter()
        name = resolve_dialect(dialect) if dialect else self.dialect
        relation = self.plan(text, name)
        planned = time.perf_counter()

        if self.engine == "cudf" and self.fallback == "error":
            _check_gpu_placement(relation, name)
        backend = _backend(self.engine, name, self.scheduler, self.partitions, self.fallback)
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
        raise UnsupportedError(
            "the dask-cuda engine is not implemented yet; use `cudf` for one GPU or `dask` "
            "for a cluster of CPUs"
        )
    from gsql.engine.pandas_backend import PandasBackend

    return PandasBackend(dialect)


def _placements(backend: Backend, timings: list[NodeTiming]) -> list[tuple[str, str, str]]:
    recorded = getattr(backend, "placements", None)
    if recorded:
        return [tuple(placement) for placement in recorded]
    return [(timing.node, timing.engine, "") for timing in timings]


_PLACE_NAMES = {"cudf": "GPU", "cudf+arrow": "GPU, some expressions on the CPU"}


def _placement_text(relation: Relation, dialect: str) -> str:
    from gsql.engine.cudf import explain_placement

    lines = ["GPU placement on the cudf engine:"]
    for description, engine, reasons in explain_placement(relation.node, dialect):
        where = _PLACE_NAMES.get(engine, "CPU")
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
