"""Run one query on one engine: gsql's own engines, or DuckDB as an outside oracle.

An engine runner keeps the state that repeated queries on one engine share. For a gsql engine that is a
`Context`, and for DuckDB a connection with the tables registered as Arrow tables. Every runner
of one comparison reads the same `TableSource` objects, so the engines see the same typed data:
DuckDB gets each table through `TableSource.read()`, and never reads the files itself.

`unavailable_reason` reports whether an engine can run on this machine, for the `gsql compare`
command and the pytest plugin.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from gsql.catalogs import Catalog
    from gsql.context import Context
    from gsql.engine.backend import NodeTiming

__all__ = [
    "EXTERNAL_ENGINES",
    "GPU_ENGINES",
    "EngineRun",
    "EngineRunner",
    "gsql_engines",
    "known_engines",
    "load_schemas",
    "open_runner",
    "shared_catalog",
    "unavailable_reason",
]

logger = logging.getLogger(__name__)

EXTERNAL_ENGINES = ("duckdb",)
"""Engines outside gsql that serve as oracles. They run the SQL text themselves."""

GPU_ENGINES = ("cudf", "dask-cuda")
"""gsql engines that need an NVIDIA GPU. The pytest plugin fails instead of skipping them when
`GSQL_REQUIRE_GPU=1` is set."""

_INSTALL_COMMANDS = {
    "dask": "pip install 'gsql[dask]'",
    "duckdb": "pip install duckdb",
}


def gsql_engines() -> list[str]:
    """Return the names of gsql's own engines, without `auto`."""
    from gsql.context import ENGINES

    return [engine for engine in ENGINES if engine != "auto"]


def known_engines() -> list[str]:
    """Return every engine name that a comparison accepts, available on this machine or not."""
    names = gsql_engines() + list(EXTERNAL_ENGINES)
    return names + [engine for engine in GPU_ENGINES if engine not in names]


@functools.cache
def unavailable_reason(engine: str) -> str | None:
    """Return why `engine` cannot run on this machine, or None when it can.

    A gsql engine is available when `gsql.Context(engine=engine)` constructs and runs a
    one-row query. DuckDB is available when the `duckdb` package imports. The result is cached
    for the life of the process. Where a package is missing, the reason ends with the pip
    command that installs it.
    """
    if engine in EXTERNAL_ENGINES:
        return _duckdb_unavailable_reason()
    if engine in GPU_ENGINES and engine not in gsql_engines():
        engines = ", ".join(gsql_engines())
        return f"this version of gsql has no `{engine}` engine; its engines are {engines}"

    import pyarrow as pa

    from gsql.context import Context

    try:
        context = Context(engine=engine)
        context.register("probe", pa.table({"x": [1]}))
        context.sql("SELECT x FROM probe")
    # Any failure of the probe query means that the engine cannot run here, whatever the
    # exception type: a missing library, a missing GPU, or a broken installation.
    except Exception as error:
        logger.debug("engine %s failed its probe query", engine, exc_info=True)
        return _with_install_command(engine, str(error))
    return None


def _duckdb_unavailable_reason() -> str | None:
    try:
        import duckdb  # noqa: F401
    except ImportError as error:
        return (
            f"the duckdb engine needs the `duckdb` package, which failed to import ({error}); "
            f"install it with `{_INSTALL_COMMANDS['duckdb']}`"
        )
    return None


def _with_install_command(engine: str, reason: str) -> str:
    command = _INSTALL_COMMANDS.get(engine)
    if command is None or "pip install" in reason:
        return reason
    return f"{reason}; install it with `{command}`"


@dataclass
class EngineRun:
    """One engine's run of one query.

    Attributes:
        engine: the engine name, as requested.
        table: the result, or None when the run failed.
        seconds: wall-clock time of the run. For DuckDB it leaves out reading the tables,
            which happens once, before the first query that names them.
        error: the exception that the run raised, or None.
        ordered: whether the query's outermost operation is an ORDER BY, as gsql's planner
            decides it. None for DuckDB and for failed runs.
        sort_keys: 0-based output positions of the ORDER BY keys, as in `gsql.Result`.
        node_timings: gsql's time and row count per plan node; empty for DuckDB.
    """

    engine: str
    table: pa.Table | None = None
    seconds: float | None = None
    error: Exception | None = None
    ordered: bool | None = None
    sort_keys: list[int] = field(default_factory=list)
    node_timings: list[NodeTiming] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.table is not None

    @property
    def rows(self) -> int | None:
        return None if self.table is None else self.table.num_rows

    @property
    def error_text(self) -> str | None:
        """The error as `ErrorType: message`, or None."""
        if self.error is None:
            return None
        return f"{type(self.error).__name__}: {self.error}"


class EngineRunner(Protocol):
    """Runs queries on one engine over a fixed catalog of tables."""

    engine: str

    def run(self, sql: str) -> EngineRun: ...

    def close(self) -> None: ...


def open_runner(
    engine: str,
    catalog: Catalog,
    dialect: str | None = None,
    *,
    scheduler: Any = None,
    partitions: int | None = None,
) -> EngineRunner:
    """Return a runner of `engine` over the tables of `catalog`.

    Args:
        engine: a gsql engine such as `pandas` or `dask`, or `duckdb`.
        catalog: the tables. The runner shares its `TableSource` objects.
        dialect: the SQL dialect of the queries; None means gsql's default, `duckdb`. DuckDB
            gets queries of another dialect translated by sqlglot.
        scheduler: the dask engine's scheduler, as for `gsql.Context`.
        partitions: the dask engine's partition count, as for `gsql.Context`.
    """
    if engine in EXTERNAL_ENGINES:
        return _DuckDBRunner(catalog, dialect)
    return _GsqlRunner(engine, catalog, dialect, scheduler, partitions)


def shared_catalog(tables: Context | Mapping[str, Any]) -> Catalog:
    """Return the catalog of a Context, or a new catalog of the tables of a name-to-source dict.

    A source is anything that `Context.register` accepts: a path, a DataFrame, an Arrow table
    or a `TableSource`.
    """
    from gsql.context import Context

    if isinstance(tables, Context):
        return tables.catalog

    scratch = Context(engine="pandas")
    for name, source in tables.items():
        scratch.register(name, source)
    return scratch.catalog


class _GsqlRunner:
    def __init__(
        self,
        engine: str,
        catalog: Catalog,
        dialect: str | None,
        scheduler: Any,
        partitions: int | None,
    ) -> None:
        self.engine = engine
        self._catalog = catalog
        self._dialect = dialect
        self._scheduler = scheduler
        self._partitions = partitions
        self._context: Context | None = None

    def run(self, sql: str) -> EngineRun:
        started = time.perf_counter()
        try:
            result = self._get_context().sql(sql)
        # A comparison reports each engine's failure beside the other engines' results, so any
        # exception, a bug in an engine included, becomes part of the run's record.
        except Exception as error:
            logger.debug("engine %s failed", self.engine, exc_info=True)
            return EngineRun(self.engine, error=error)

        return EngineRun(
            self.engine,
            table=result.table,
            seconds=time.perf_counter() - started,
            ordered=result.ordered,
            sort_keys=list(result.sort_keys),
            node_timings=list(result.timings),
        )

    def close(self) -> None:
        self._context = None

    def _get_context(self) -> Context:
        from gsql.catalogs import Catalog
        from gsql.context import Context

        if self._context is None:
            # A catalog of its own, holding the same sources, keeps engines from sharing
            # registrations while they share the sources' cached schemas.
            self._context = Context(
                engine=self.engine,
                dialect=self._dialect,
                catalog=Catalog(self._catalog),
                scheduler=self._scheduler,
                partitions=self._partitions,
            )
        return self._context


class _DuckDBRunner:
    engine = "duckdb"

    def __init__(self, catalog: Catalog, dialect: str | None) -> None:
        self._catalog = catalog
        self._dialect = dialect
        self._connection: Any = None
        self._registered: set[str] = set()

    def run(self, sql: str) -> EngineRun:
        try:
            text = self._translate(sql)
            self._register_tables(text)
            started = time.perf_counter()
            table = self._get_connection().sql(text).to_arrow_table()
        # As for gsql's engines, any exception, DuckDB's own errors included, is recorded.
        except Exception as error:
            logger.debug("duckdb failed", exc_info=True)
            return EngineRun(self.engine, error=error)
        return EngineRun(self.engine, table=table, seconds=time.perf_counter() - started)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._registered.clear()

    def _get_connection(self) -> Any:
        if self._connection is None:
            reason = _duckdb_unavailable_reason()
            if reason is not None:
                from gsql.errors import EngineUnavailableError

                raise EngineUnavailableError(reason)
            import duckdb

            self._connection = duckdb.connect()
        return self._connection

    def _translate(self, sql: str) -> str:
        from gsql.sql.parse import resolve_dialect

        dialect = resolve_dialect(self._dialect)
        if dialect == "duckdb":
            return sql

        import sqlglot

        return sqlglot.transpile(sql, read=dialect, write="duckdb")[0]

    def _register_tables(self, sql: str) -> None:
        """Register each catalog table that `sql` names, reading it once per runner."""
        connection = self._get_connection()
        for name in _table_names(sql):
            key = name.lower()
            if key in self._registered or name not in self._catalog:
                continue
            source = self._catalog.get(name)
            connection.register(source.name, source.read())
            self._registered.add(key)
            logger.debug("registered table `%s` in duckdb", source.name)


def load_schemas(catalog: Catalog, sql: str, dialect: str | None = None) -> None:
    """Infer the schema of each catalog table that `sql` names, ahead of timed runs.

    Engines that share a `TableSource` share its cached schema, so without this step the first
    engine's time would include inferring it, such as parsing a sample of a CSV file. A table
    that fails to load is left for the engines to report.
    """
    from gsql.errors import GsqlError

    for name in _table_names(sql, dialect):
        if name not in catalog:
            continue
        try:
            catalog.get(name).arrow_schema()
        except GsqlError:
            logger.debug("cannot infer the schema of table `%s`", name, exc_info=True)


def _table_names(sql: str, dialect: str | None = "duckdb") -> set[str]:
    """Return the names of the tables that `sql` reads, CTE names included."""
    import sqlglot
    from sqlglot import exp

    try:
        statement = sqlglot.parse_one(sql, read=dialect or "duckdb")
    except sqlglot.errors.SqlglotError:
        # The engines report the syntax error themselves when they run the query.
        return set()
    if statement is None:
        return set()
    return {table.name for table in statement.find_all(exp.Table) if table.name}
