"""The `gsql` command line: run SQL over CSV and Parquet files, and keep a catalog of tables.

Each command parses its options, calls the library and renders the result with `gsql._render`.
Errors that gsql raises on purpose (`GsqlError`) become one `error: ...` message on standard
error and the exit code of their class, listed in `gsql.errors`. Usage errors exit with 2.

The module imports only typer and the standard library at the top, so `gsql --help` stays
fast. pandas, pyarrow and the engines load inside the commands that need them.
"""

from __future__ import annotations

import enum
import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from gsql import __version__
from gsql.errors import BindError, GsqlError, suggest

if TYPE_CHECKING:
    import pyarrow as pa

    from gsql.catalogs import Catalog, TableSource
    from gsql.context import Context, Result
    from gsql.testing.engine_comparison import EngineComparison

__all__ = ["app", "main"]

_DEFAULT_MAX_ROWS = 40


class OutputFormat(str, enum.Enum):
    """The formats of results on standard output."""

    table = "table"
    csv = "csv"
    tsv = "tsv"
    json = "json"
    ndjson = "ndjson"
    markdown = "markdown"


class SourceFormat(str, enum.Enum):
    """The file formats of registered tables."""

    csv = "csv"
    parquet = "parquet"


@dataclass
class _Settings:
    """The global options, shared by every command through `typer.Context.obj`."""

    catalog: Path | None
    debug: bool


class _Group(TyperGroup):
    """The command group that turns a `GsqlError` from any command into a message and exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GsqlError as error:
            settings = ctx.obj if isinstance(ctx.obj, _Settings) else None
            if settings is not None and settings.debug:
                traceback.print_exception(error, file=sys.stderr)
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(error.exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="gsql",
    help="Run SQL over CSV and Parquet files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A log handler that writes to the current `sys.stderr`, which test runners replace."""

    @property
    def stream(self) -> Any:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _configure_logging(verbose: int) -> None:
    package_logger = logging.getLogger("gsql")
    levels = {0: logging.WARNING, 1: logging.INFO}
    package_logger.setLevel(levels.get(verbose, logging.DEBUG))
    if verbose and not any(isinstance(h, _StderrHandler) for h in package_logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        package_logger.addHandler(handler)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gsql {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    catalog: Annotated[
        Path | None,
        typer.Option(
            "--catalog",
            envvar="GSQL_CATALOG",
            metavar="PATH",
            help="Catalog file of registered tables. [default: ./gsql.toml]",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="Log INFO messages of the gsql logger to standard error, and DEBUG ones with -vv.",
        ),
    ] = 0,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Run SQL over CSV and Parquet files, with tables from a catalog file or from --table."""
    ctx.obj = _Settings(catalog=catalog, debug=debug)
    _configure_logging(verbose)


# Options shared by several commands.

_FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file", "-f", metavar="FILE", help="Read the SQL from FILE (- for standard input)."
    ),
]
_TableOption = Annotated[
    list[str] | None,
    typer.Option(
        "--table",
        "-t",
        metavar="NAME=PATH",
        help="Add the file, directory or glob PATH as table NAME for this query. "
        "Repeatable. It replaces a catalog table of the same name.",
    ),
]
_DialectOption = Annotated[
    str | None,
    typer.Option(
        "--dialect", "-d", metavar="DIALECT", help="SQL dialect of the query. [default: duckdb]"
    ),
]
_EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        "-e",
        envvar="GSQL_ENGINE",
        metavar="ENGINE",
        help="Engine to run the query on: auto, pandas, cudf, dask or dask-cuda; auto picks "
        "cudf when a GPU is visible and cuDF imports, else pandas. [default: auto]",
    ),
]
_SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        envvar="GSQL_SCHEDULER",
        metavar="ADDRESS",
        help="Address of a running dask scheduler for the dask engines, such as "
        "tcp://10.0.0.5:8786. [default: a local cluster]",
    ),
]
_FallbackOption = Annotated[
    str | None,
    typer.Option(
        "--fallback",
        envvar="GSQL_FALLBACK",
        metavar="POLICY",
        help="What the cudf and dask-cuda engines do with a plan node they cannot run on the "
        "GPU: warn (run it on the CPU and warn), off (run it on the CPU silently) or error "
        "(fail, naming every reason). [default: warn]",
    ),
]
_RmmPoolOption = Annotated[
    str | None,
    typer.Option(
        "--rmm-pool-size",
        metavar="SIZE",
        help="dask-cuda engine without --scheduler: the RMM memory pool that each worker of "
        "the local cluster allocates on its GPU at start, in bytes, with a unit such as 24GB, "
        "or as a fraction of the GPU's memory such as 0.5. [default: no pool]",
    ),
]
_DeviceMemoryOption = Annotated[
    str | None,
    typer.Option(
        "--device-memory-limit",
        metavar="SIZE",
        help="dask-cuda engine without --scheduler: the device memory use above which a "
        "worker of the local cluster spills data from the GPU to host memory, in bytes, with "
        "a unit such as 30GB, or as a fraction of the GPU's memory such as 0.8; 0 turns "
        "spilling off. [default: dask-cuda's, 0.8]",
    ),
]
_FormatOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        "-F",
        help="Output format. [default: table on a terminal, csv otherwise]",
        show_default=False,
    ),
]
_SqlArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="SQL", help="The SQL query. Give it here or with -f.", show_default=False
    ),
]


@app.command()
def query(
    ctx: typer.Context,
    sql: _SqlArgument = None,
    file: _FileOption = None,
    table: _TableOption = None,
    dialect: _DialectOption = None,
    engine: _EngineOption = None,
    scheduler: _SchedulerOption = None,
    fallback: _FallbackOption = None,
    rmm_pool_size: _RmmPoolOption = None,
    device_memory_limit: _DeviceMemoryOption = None,
    format_: _FormatOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the result to FILE instead of standard output, in the format of its "
            "extension: .csv, .tsv, .json, .ndjson, .jsonl, .parquet or .pq.",
        ),
    ] = None,
    max_rows: Annotated[
        int | None,
        typer.Option(
            "--max-rows",
            min=0,
            metavar="N",
            help=f"Rows to show in table format, 0 for all. [default: {_DEFAULT_MAX_ROWS}]",
            show_default=False,
        ),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Also run the query on a reference engine and compare the results. Exit with "
            "1 and print the differences when they differ.",
        ),
    ] = False,
    verify_engine: Annotated[
        str | None,
        typer.Option(
            "--verify-engine",
            metavar="ENGINE",
            help="Reference engine of --verify, such as duckdb or pandas. Implies --verify. "
            "[default: pandas, or duckdb when the query runs on pandas]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a SQL query and print or write its result."""
    from gsql import _render

    text = _read_sql(ctx, sql, file)
    tables = _parse_tables(table)
    output_format = _output_file_format(ctx, output, format_, max_rows)
    shown_format = _stdout_format(format_)
    if max_rows is not None and output is None and shown_format is not OutputFormat.table:
        ctx.fail(
            f"--max-rows applies to --format table only, not {shown_format.value}; "
            "use LIMIT in the query to cut other formats"
        )

    context = _open_context(
        ctx,
        engine,
        dialect,
        tables,
        scheduler=scheduler,
        fallback=fallback,
        rmm_pool_size=_device_size(rmm_pool_size),
        device_memory_limit=_device_size(device_memory_limit),
    )
    started = time.perf_counter()
    result = context.sql(text)
    elapsed = time.perf_counter() - started
    verification = None
    if verify or verify_engine is not None:
        verification = _verify_result(context, text, result, elapsed, verify_engine)

    if output is not None and output_format is not None:
        _render.write_file(result.table, output, output_format)
        typer.echo(f"wrote {_rows_text(result.num_rows)} to {output} in {elapsed:.2f} s", err=True)
    elif shown_format is OutputFormat.table:
        _render.print_table(result.table, _DEFAULT_MAX_ROWS if max_rows is None else max_rows)
        typer.echo(f"{_rows_text(result.num_rows)} in {elapsed:.2f} s on {result.engine}", err=True)
    else:
        _render.write_stdout(result.table, shown_format.value, sys.stdout)

    if verification is not None:
        from gsql.testing.engine_comparison import exit_code

        typer.echo(verification.report(), err=True)
        raise typer.Exit(exit_code([verification]))


@app.command()
def compare(
    ctx: typer.Context,
    sql: _SqlArgument = None,
    file: _FileOption = None,
    engines: Annotated[
        str,
        typer.Option(
            "--engines",
            metavar="A,B,...",
            help="Comma-separated engines to run the SQL on: gsql engines such as pandas and "
            "dask, and duckdb. Each result is compared with the first engine's.",
        ),
    ] = "pandas,duckdb",
    table: _TableOption = None,
    dialect: _DialectOption = None,
    rtol: Annotated[
        float | None,
        typer.Option(
            "--rtol",
            metavar="X",
            help="Relative tolerance for floats, in [0, 1). [default: 1e-9]",
            show_default=False,
        ),
    ] = None,
    atol: Annotated[
        float | None,
        typer.Option(
            "--atol",
            metavar="X",
            help="Absolute tolerance for floats, 0 or more. [default: 1e-12]",
            show_default=False,
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            metavar="FILE",
            help="Also write the comparison as JSON to FILE, which is replaced atomically.",
        ),
    ] = None,
) -> None:
    """Run SQL on several engines and compare the results.

    Exit with 0 when all results are equal, 1 when any differ and 8 when an engine could not
    run. Column names are compared too, so alias computed columns when comparing with duckdb.
    """
    from gsql.testing import compare_report, engine_comparison

    text = _read_sql(ctx, sql, file)
    statements = compare_report.split_statements(text, dialect)
    if not statements:
        ctx.fail("no SQL statements to compare; give a query as an argument or with -f FILE")
    names = _engine_names(engines)
    tolerances = _tolerances(rtol, atol)
    if report is not None and not report.parent.is_dir():
        raise typer.BadParameter(
            f"directory `{report.parent}` of `{report}` does not exist; create it first",
            param_hint="'--report'",
        )

    context = _open_context(ctx, "pandas", dialect, _parse_tables(table))
    _require_engines(names)
    comparisons = engine_comparison.compare_queries(context, statements, names, **tolerances)
    if len(comparisons) == 1:
        typer.echo(comparisons[0].report())
    else:
        compare_report.print_summary(comparisons, sys.stdout)

    if report is not None:
        document = compare_report.report_document(comparisons, context.dialect)
        try:
            compare_report.write_report(report, document)
        except GsqlError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(engine_comparison.EXIT_NOT_RUN) from None
        typer.echo(f"wrote report to {report}", err=True)
    raise typer.Exit(engine_comparison.exit_code(comparisons))


@app.command()
def explain(
    ctx: typer.Context,
    sql: _SqlArgument = None,
    file: _FileOption = None,
    table: _TableOption = None,
    dialect: _DialectOption = None,
    engine: _EngineOption = None,
    placement: Annotated[
        bool,
        typer.Option(
            "--placement",
            help="Also show where the cudf engine (or dask-cuda with --engine dask-cuda) would "
            "run each plan node, and every reason a node cannot run on the GPU. On by default "
            "with --engine cudf or dask-cuda; needs no GPU.",
        ),
    ] = False,
) -> None:
    """Print the logical plan of a SQL query without running it."""
    text = _read_sql(ctx, sql, file)
    requested = (engine or "").strip().lower()
    gpu_engine = requested in ("cudf", "dask-cuda")
    # The plan and the GPU placement need no GPU, so a GPU engine is explained on pandas.
    context = _open_context(ctx, "pandas" if gpu_engine else engine, dialect, _parse_tables(table))
    placement_request: bool | str = requested if gpu_engine else placement
    typer.echo(context.explain(text, placement=placement_request))


@app.command()
def doctor() -> None:
    """Report library versions, GPUs and what to install.

    Print the Python, gsql and library versions, the visible GPUs, the engine that auto picks
    and the pip command that installs what is missing.
    """
    from gsql.doctor import format_doctor, run_doctor

    typer.echo(format_doctor(run_doctor()))


@app.command()
def register(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Table name to use in SQL.")],
    path: Annotated[
        str, typer.Argument(metavar="PATH", help="A CSV or Parquet file, a directory or a glob.")
    ],
    format_: Annotated[
        SourceFormat | None,
        typer.Option("--format", help="File format. [default: from the file extension]"),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option(
            metavar="CHAR", help=r"CSV field delimiter, one character. \t or tab means a tab."
        ),
    ] = None,
    no_header: Annotated[
        bool, typer.Option("--no-header", help="The CSV files have no header row.")
    ] = False,
    names: Annotated[
        str | None,
        typer.Option(
            metavar="A,B,C", help="Column names, comma-separated. They replace the header."
        ),
    ] = None,
    dtype: Annotated[
        list[str] | None,
        typer.Option(
            metavar="COLUMN=TYPE",
            help="Type of a column, as SQL (BIGINT, DECIMAL(12,2), DATE) or Arrow (float64). "
            "Repeatable.",
        ),
    ] = None,
    na_value: Annotated[
        list[str] | None,
        typer.Option(
            metavar="TEXT",
            help="Text that means NULL, in addition to pandas' defaults such as NA and NULL. "
            "Repeatable.",
        ),
    ] = None,
    quotechar: Annotated[
        str | None,
        typer.Option(metavar="CHAR", help="CSV quote character, or an empty string for none."),
    ] = None,
    escapechar: Annotated[
        str | None, typer.Option(metavar="CHAR", help="CSV escape character.")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(metavar="CODEC", help="Text encoding of CSV files. [default: utf-8]"),
    ] = None,
    compression: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="CSV compression: gzip, bz2, zstd or none. [default: from the extension]",
        ),
    ] = None,
    hive_partitioning: Annotated[
        bool | None,
        typer.Option(
            "--hive-partitioning/--no-hive-partitioning",
            help="Read key=value folder names of Parquet files as columns. "
            "[default: on for a directory or glob]",
            show_default=False,
        ),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a table of the same name.")
    ] = False,
) -> None:
    """Register a file, directory or glob as a table.

    The file is read first, so a missing or malformed file leaves the catalog file unchanged.
    Key=value folder names of Parquet files become columns, but those of CSV files do not.
    """
    from gsql.catalogs import load_catalog, save_catalog, source_from_path

    options: dict[str, Any] = {
        "delimiter": _delimiter(delimiter),
        "names": _split_names(names),
        "dtype": _parse_pairs(dtype, "--dtype", "COLUMN=TYPE", "dep_delay=DOUBLE"),
        "na_values": na_value or None,
        "quotechar": quotechar,
        "escapechar": escapechar,
        "encoding": encoding,
        "compression": compression,
        "hive_partitioning": hive_partitioning,
    }
    options = {key: value for key, value in options.items() if value is not None}
    if no_header:
        options["header"] = None

    catalog_path = _catalog_path(ctx)
    catalog = load_catalog(catalog_path)
    absolute = os.path.abspath(os.path.expanduser(path))
    source = source_from_path(name, absolute, format_.value if format_ else None, **options)
    catalog.register(source, replace=replace)
    schema = source.arrow_schema()
    save_catalog(catalog, catalog_path)
    typer.echo(
        f"registered table `{name}` ({source.format}, {len(schema)} columns) in {catalog_path}",
        err=True,
    )


@app.command()
def tables(
    ctx: typer.Context,
    format_: _FormatOption = None,
) -> None:
    """List the tables of the catalog file.

    Print the name, format and path of each table, one row per path.
    """
    import pyarrow as pa

    from gsql.catalogs import load_catalog

    catalog_path = _catalog_path(ctx)
    rows = [
        {"name": source.name, "format": source.format, "path": path}
        for source in load_catalog(catalog_path)
        for path in source.paths
    ]
    schema = pa.schema([("name", pa.string()), ("format", pa.string()), ("path", pa.string())])
    listing = pa.Table.from_pylist(rows, schema=schema)
    if not rows:
        typer.echo(
            f"no tables in catalog file {catalog_path}; add one with `gsql register NAME PATH`",
            err=True,
        )
    _print_listing(listing, format_)


@app.command()
def describe(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Table name.")],
    format_: _FormatOption = None,
) -> None:
    """Show the columns and types of a catalog table.

    In table format, a last line gives the row count of Parquet tables, which store it.
    """
    import pyarrow as pa

    from gsql.catalogs import load_catalog
    from gsql.types import sql_type

    catalog_path = _catalog_path(ctx)
    source = _catalog_table(load_catalog(catalog_path), name, catalog_path)
    schema = source.arrow_schema()
    columns = pa.table(
        {
            "column": pa.array(schema.names, pa.string()),
            "type": pa.array([sql_type(field.type).sql() for field in schema], pa.string()),
            "arrow_type": pa.array([str(field.type) for field in schema], pa.string()),
        }
    )
    shown_format = _print_listing(columns, format_)
    row_count = source.row_count()
    if row_count is not None and shown_format is OutputFormat.table:
        typer.echo(_rows_text(row_count))


@app.command()
def drop(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Table name.")],
) -> None:
    """Remove a table from the catalog file.

    Its files are left in place.
    """
    from gsql.catalogs import load_catalog, save_catalog

    catalog_path = _catalog_path(ctx)
    catalog = load_catalog(catalog_path)
    registered = _catalog_table(catalog, name, catalog_path).name
    catalog.drop(name)
    save_catalog(catalog, catalog_path)
    typer.echo(f"dropped table `{registered}` from {catalog_path}", err=True)


def main() -> None:
    """Run the command line, as the `gsql` script and `python -m gsql` do."""
    app()


# Helpers of the commands


def _read_sql(ctx: typer.Context, sql: str | None, file: Path | None) -> str:
    if sql is not None and file is not None:
        ctx.fail("give the SQL as an argument or with -f FILE, not both")
    if sql is not None:
        return sql
    if file is None:
        ctx.fail("missing SQL: give the query as an argument, or a file with -f FILE")
    if str(file) == "-":
        return sys.stdin.read()
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else f"not UTF-8 text ({error})"
        raise typer.BadParameter(f"cannot read SQL file `{file}`: {reason}", param_hint="'-f'")


def _parse_tables(values: list[str] | None) -> list[tuple[str, str]]:
    pairs = _parse_pairs(values, "--table", "NAME=PATH", "flights=data/flights.csv")
    return list((pairs or {}).items())


def _parse_pairs(
    values: list[str] | None, option: str, form: str, example: str
) -> dict[str, str] | None:
    """Split `KEY=VALUE` option values into a dict, or return None when the option is absent."""
    if not values:
        return None
    pairs: dict[str, str] = {}
    for value in values:
        key, separator, item = value.partition("=")
        if not separator or not key.strip() or not item:
            raise typer.BadParameter(
                f"expected {form}, such as {example}, but got `{value}`",
                param_hint=f"'{option}'",
            )
        pairs[key.strip()] = item
    return pairs


def _split_names(names: str | None) -> list[str] | None:
    if names is None:
        return None
    return [name.strip() for name in names.split(",")]


def _delimiter(value: str | None) -> str | None:
    # A shell passes `\t` as two characters, so it and `tab` are read as the tab character.
    if value in ("\\t", "tab"):
        return "\t"
    return value


def _output_file_format(
    ctx: typer.Context,
    output: Path | None,
    format_: OutputFormat | None,
    max_rows: int | None,
) -> str | None:
    """Return the format of the `-o` file, rejecting an unknown extension and clashing options."""
    from gsql import _render

    if output is None:
        return None
    output_format = _render.file_format(output)
    if output_format is None:
        choices = ", ".join(_render.FILE_FORMATS)
        raise typer.BadParameter(
            f"unknown extension `{output.suffix or output.name}` of `{output}`; "
            f"use one of: {choices}",
            param_hint="'-o'",
        )
    if format_ is not None:
        ctx.fail("give either --format or -o FILE: the file's extension sets its format")
    if max_rows is not None:
        ctx.fail("--max-rows applies to --format table only; -o FILE writes every row")
    return output_format


def _catalog_path(ctx: typer.Context) -> Path:
    from gsql.catalogs import default_catalog_path

    settings = ctx.find_object(_Settings)
    return default_catalog_path(settings.catalog if settings else None)


def _catalog_table(catalog: Catalog, name: str, catalog_path: Path) -> TableSource:
    if name not in catalog:
        hint = suggest(name, catalog.names()) or "; `gsql tables` lists the registered tables"
        raise BindError(f"unknown table `{name}` in catalog file `{catalog_path}`{hint}")
    return catalog.get(name)


def _open_context(
    ctx: typer.Context,
    engine: str | None,
    dialect: str | None,
    tables: list[tuple[str, str]],
    scheduler: str | None = None,
    fallback: str | None = None,
    rmm_pool_size: str | float | None = None,
    device_memory_limit: str | float | None = None,
) -> Context:
    from gsql.catalogs import load_catalog
    from gsql.context import Context

    context = Context(
        engine=engine,
        dialect=dialect,
        catalog=load_catalog(_catalog_path(ctx)),
        scheduler=scheduler,
        fallback=fallback,
        rmm_pool_size=rmm_pool_size,
        device_memory_limit=device_memory_limit,
    )
    for name, path in tables:
        context.register(name, path)
    return context


def _device_size(text: str | None) -> str | float | None:
    """Return a device memory size option as dask-cuda takes it: a number, or the text."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    # dask-cuda reads a number of at most 1 as a fraction of the GPU's memory, else as bytes.
    return value if value <= 1 else int(value)


def _engine_names(engines: str) -> list[str]:
    """Split and check the --engines list of `gsql compare`."""
    from gsql.testing.engine_comparison import check_engine_names
    from gsql.testing.engines import known_engines

    known = known_engines()
    names = [name.strip().lower() for name in engines.split(",") if name.strip()]
    for name in names:
        if name not in known:
            raise typer.BadParameter(
                f"unknown engine `{name}`; choose from: {', '.join(known)}{suggest(name, known)}",
                param_hint="'--engines'",
            )
    try:
        return check_engine_names(names)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="'--engines'") from None


def _tolerances(rtol: float | None, atol: float | None) -> dict[str, float]:
    """Return the --rtol and --atol values that were given, after checking them."""
    from gsql.compare import CompareOptions

    tolerances = {}
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is None:
            continue
        try:
            CompareOptions(**{name: value})
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint=f"'--{name}'") from None
        tolerances[name] = value
    return tolerances


def _require_engines(names: list[str]) -> None:
    """Exit with the could-not-run code, naming each engine that cannot run on this machine."""
    from gsql.testing.engine_comparison import EXIT_NOT_RUN
    from gsql.testing.engines import unavailable_reason

    missing = {name: reason for name in names if (reason := unavailable_reason(name))}
    for name, reason in missing.items():
        typer.echo(f"error: engine `{name}` is not available: {reason}", err=True)
    if missing:
        raise typer.Exit(EXIT_NOT_RUN)


def _verify_result(
    context: Context, sql: str, result: Result, seconds: float, requested: str | None
) -> EngineComparison:
    """Run `sql` on the reference engine of --verify and compare its result with `result`."""
    from gsql.testing.engine_comparison import run_reference

    reference = _reference_engine(result.engine, requested)
    return run_reference(context, sql, result, seconds, reference)


def _reference_engine(engine: str, requested: str | None) -> str:
    """Return the --verify reference engine for a query that ran on `engine`."""
    from gsql.testing.engine_comparison import EXIT_NOT_RUN
    from gsql.testing.engines import known_engines, unavailable_reason

    if requested is None:
        reference = "duckdb" if engine == "pandas" else "pandas"
    else:
        reference = requested.strip().lower()
        known = [name for name in known_engines() if name != engine]
        if reference not in known:
            raise typer.BadParameter(
                f"invalid reference engine `{requested}` for a query on {engine}; "
                f"choose from: {', '.join(known)}",
                param_hint="'--verify-engine'",
            )

    reason = unavailable_reason(reference)
    if reason is not None:
        fix = "" if requested else "; or name another reference engine with --verify-engine"
        typer.echo(
            f"error: cannot verify: reference engine `{reference}` is not available: {reason}{fix}",
            err=True,
        )
        raise typer.Exit(EXIT_NOT_RUN)
    return reference


def _print_listing(listing: pa.Table, format_: OutputFormat | None) -> OutputFormat:
    """Print a catalog listing in full in the requested format, and return that format."""
    from gsql import _render

    shown_format = _stdout_format(format_)
    if shown_format is OutputFormat.table:
        _render.print_table(listing, max_rows=0)
    else:
        _render.write_stdout(listing, shown_format.value, sys.stdout)
    return shown_format


def _stdout_format(format_: OutputFormat | None) -> OutputFormat:
    if format_ is not None:
        return format_
    return OutputFormat.table if sys.stdout.isatty() else OutputFormat.csv


def _rows_text(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"
