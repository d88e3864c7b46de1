"""Run the same SQL on several engines and compare each result with the first engine's.

The engines read the same table sources: each gsql engine through a `Context` of its own, and
DuckDB through Arrow tables that the sources read. The comparison follows `gsql.compare`, with
the row order rules taken from the query's ORDER BY as gsql's planner determines it.

>>> comparison = compare_engines({"t": "data/t.parquet"}, "SELECT COUNT(*) FROM t",
...                              engines=["pandas", "duckdb"])  # doctest: +SKIP
>>> comparison.verdict  # doctest: +SKIP
'equal'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gsql.compare import DEFAULT_ATOL, DEFAULT_RTOL, CompareOptions, Comparison, compare_results
from gsql.testing.engines import (
    EngineRun,
    EngineRunner,
    load_schemas,
    open_runner,
    shared_catalog,
)

if TYPE_CHECKING:
    from gsql.catalogs import Catalog
    from gsql.context import Context, Result

__all__ = [
    "DEFAULT_ENGINES",
    "EXIT_DIFFERENT",
    "EXIT_EQUAL",
    "EXIT_NOT_RUN",
    "VERDICTS",
    "EngineComparison",
    "assert_engines_agree",
    "check_engine_names",
    "compare_engines",
    "compare_queries",
    "compare_runs",
    "exit_code",
    "join_names",
    "run_reference",
]

DEFAULT_ENGINES = ("pandas", "dask")

# Exit codes of `gsql compare` and `gsql query --verify`. 8 follows the codes 2 to 7 of the
# error classes in `gsql.errors`, so a script can tell "could not run" from each of them.
EXIT_EQUAL = 0
EXIT_DIFFERENT = 1
EXIT_NOT_RUN = 8

VERDICTS = ("equal", "different", "error")


@dataclass
class EngineComparison:
    """The runs of one query on several engines, and each result compared with the baseline.

    Attributes:
        sql: the query text.
        runs: each engine's run, in the order in which the engines were given.
        baseline: the first engine whose run succeeded, or None when none did. The other
            results are compared with its result.
        comparisons: each other successful engine's comparison with the baseline, by engine.
            The baseline is the left side of each.
        options: the rules used, with `ordered` and `sort_keys` from the query's ORDER BY.
    """

    sql: str
    runs: dict[str, EngineRun]
    baseline: str | None
    comparisons: dict[str, Comparison]
    options: CompareOptions

    @property
    def engines(self) -> list[str]:
        return list(self.runs)

    @property
    def errors(self) -> dict[str, str]:
        """Each failed engine's error as `ErrorType: message`, by engine."""
        return {name: run.error_text for name, run in self.runs.items() if run.error_text}

    @property
    def timings(self) -> dict[str, float | None]:
        """Each engine's wall-clock seconds, None where the run failed."""
        return {name: run.seconds for name, run in self.runs.items()}

    @property
    def different(self) -> list[str]:
        """The engines whose result differs from the baseline's."""
        return [name for name, comparison in self.comparisons.items() if not comparison.equal]

    @property
    def verdict(self) -> str:
        """`different` when any result differs from the baseline's, else `error` when any
        engine failed, else `equal`."""
        if self.different:
            return "different"
        if self.errors:
            return "error"
        return "equal"

    @property
    def equal(self) -> bool:
        return self.verdict == "equal"

    def report(self) -> str:
        """Format the outcome for people: verdict, rules and tolerances, times, then details."""
        lines = [self._headline(), f"rules: {self.describe_rules()}", f"time: {self._times()}"]
        for name, text in self.errors.items():
            lines.append(f"{name} failed: {text}")
        for name in self.different:
            lines.extend(["", f"{name} against {self.baseline}:", self.comparisons[name].report()])
        return "\n".join(lines)

    def describe_rules(self) -> str:
        """Describe the row order rule and the float tolerances of the comparisons."""
        options = self.options
        if not options.ordered:
            order = "rows compared as a multiset (order ignored, duplicates counted)"
        elif options.sort_keys is None:
            order = "rows compared in order, every row in its position"
        else:
            names = self._column_names()
            keys = ", ".join(f"`{names[key]}`" for key in options.sort_keys if key < len(names))
            order = f"rows compared in order of sort keys ({keys}), ties in any order"
        return f"{order}; {self.describe_tolerances()}"

    def describe_tolerances(self) -> str:
        return f"floats equal within rtol={self.options.rtol!r}, atol={self.options.atol!r}"

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as plain JSON values, for `json.dumps(..., allow_nan=False)`."""
        options = dataclasses.asdict(self.options)
        if self.options.sort_keys is not None:
            options["sort_keys"] = list(self.options.sort_keys)
        return {
            "sql": self.sql,
            "verdict": self.verdict,
            "engines": self.engines,
            "baseline": self.baseline,
            "runs": {
                name: {"rows": run.rows, "seconds": run.seconds, "error": run.error_text}
                for name, run in self.runs.items()
            },
            "comparisons": {
                name: comparison.to_dict() for name, comparison in self.comparisons.items()
            },
            "options": options,
        }

    def _headline(self) -> str:
        if self.different:
            return (
                f"differences found: {join_names(self.different)} "
                f"{'differs' if len(self.different) == 1 else 'differ'} from {self.baseline}"
            )
        if self.errors:
            failed = list(self.errors)
            return f"could not run: {join_names(failed)} failed"
        rows = self.runs[self.baseline].rows if self.baseline else 0
        return f"all equal: {join_names(self.engines)} return the same {_count(rows or 0, 'row')}"

    def _times(self) -> str:
        parts = []
        for name, run in self.runs.items():
            parts.append(f"{name} failed" if run.seconds is None else f"{name} {run.seconds:.3f} s")
        return ", ".join(parts)

    def _column_names(self) -> list[str]:
        run = self.runs.get(self.baseline) if self.baseline else None
        return [] if run is None or run.table is None else list(run.table.column_names)


def check_engine_names(engines: Sequence[str]) -> list[str]:
    """Return the engine names in lower case, or raise ValueError for a list that compares nothing.

    Raises:
        ValueError: fewer than two engines, or a repeated engine.
    """
    names = [engine.strip().lower() for engine in engines]
    if len(names) < 2:
        raise ValueError(
            f"expected at least two engines to compare, but got {names!r}; add one, such as duckdb"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"engine `{repeated[0]}` is listed twice; list each engine once")
    return names


def compare_queries(
    ctx_or_tables: Context | Mapping[str, Any],
    statements: Sequence[str],
    engines: Sequence[str] = DEFAULT_ENGINES,
    dialect: str | None = None,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    nan_equals_null: bool = False,
    check_names: bool = True,
) -> list[EngineComparison]:
    """Run each statement on every engine and compare the results, one comparison per statement.

    Args:
        ctx_or_tables: a `gsql.Context`, whose tables, dialect and dask settings are used, or
            a dict from table name to any source that `Context.register` accepts.
        statements: SELECT statements, one query each.
        engines: engine names: gsql engines such as `pandas` and `dask`, and `duckdb`. The
            first engine that runs a query gives the baseline result for that query.
        dialect: the SQL dialect of the statements. None takes the Context's, else `duckdb`.
        rtol: relative float tolerance, as for `gsql.compare.CompareOptions`.
        atol: absolute float tolerance, as for `gsql.compare.CompareOptions`.
        nan_equals_null: whether NaN equals NULL.
        check_names: whether column names must match.

    Raises:
        ValueError: the engine list compares nothing (see `check_engine_names`), or a
            tolerance is invalid.
    """
    names = check_engine_names(engines)
    options = CompareOptions(
        rtol=rtol, atol=atol, nan_equals_null=nan_equals_null, check_names=check_names
    )
    catalog = shared_catalog(ctx_or_tables)
    runners = _open_runners(ctx_or_tables, catalog, names, dialect)
    try:
        comparisons = []
        for sql in statements:
            load_schemas(catalog, sql, _dialect_of(ctx_or_tables, dialect))
            comparisons.append(compare_runs(sql, [runner.run(sql) for runner in runners], options))
        return comparisons
    finally:
        for runner in runners:
            runner.close()


def compare_engines(
    ctx_or_tables: Context | Mapping[str, Any],
    sql: str,
    engines: Sequence[str] = DEFAULT_ENGINES,
    dialect: str | None = None,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    nan_equals_null: bool = False,
    check_names: bool = True,
) -> EngineComparison:
    """Run one query on every engine and compare each result with the first engine's.

    The arguments are those of `compare_queries`, with one query in place of a list.
    """
    return compare_queries(
        ctx_or_tables,
        [sql],
        engines,
        dialect,
        rtol=rtol,
        atol=atol,
        nan_equals_null=nan_equals_null,
        check_names=check_names,
    )[0]


def assert_engines_agree(
    ctx_or_tables: Context | Mapping[str, Any],
    sql: str,
    engines: Sequence[str] = DEFAULT_ENGINES,
    dialect: str | None = None,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    nan_equals_null: bool = False,
    check_names: bool = True,
) -> EngineComparison:
    """Raise AssertionError with the report unless every engine returns the same result.

    The arguments are those of `compare_engines`. An engine that fails, or is not available
    on this machine, fails the assertion too, and its exception is chained to the
    AssertionError. Returns the comparison when all results are equal.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    comparison = compare_engines(
        ctx_or_tables,
        sql,
        engines,
        dialect,
        rtol=rtol,
        atol=atol,
        nan_equals_null=nan_equals_null,
        check_names=check_names,
    )
    if comparison.equal:
        return comparison

    first_error = next((run.error for run in comparison.runs.values() if run.error), None)
    raise AssertionError(comparison.report()) from first_error


def compare_runs(sql: str, runs: Sequence[EngineRun], options: CompareOptions) -> EngineComparison:
    """Compare each successful run with the first successful one.

    `options` gives the tolerances. Its `ordered` and `sort_keys` are replaced by those of the
    first gsql run that succeeded, which come from the query's ORDER BY. When no gsql run
    succeeded, rows are compared as a multiset.
    """
    successful = [run for run in runs if run.ok]
    baseline = successful[0] if successful else None
    ordering = next((run for run in successful if run.ordered is not None), None)
    if ordering is None or not ordering.ordered:
        options = dataclasses.replace(options, ordered=False, sort_keys=None)
    else:
        options = dataclasses.replace(options, ordered=True, sort_keys=ordering.sort_keys or None)

    comparisons = {}
    if baseline is not None:
        for run in successful[1:]:
            comparisons[run.engine] = compare_results(
                baseline.table, run.table, options, baseline.engine, run.engine
            )
    return EngineComparison(
        sql=sql,
        runs={run.engine: run for run in runs},
        baseline=baseline.engine if baseline else None,
        comparisons=comparisons,
        options=options,
    )


def run_reference(
    context: Context,
    sql: str,
    result: Result,
    seconds: float,
    reference: str,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> EngineComparison:
    """Run `sql` on the reference engine and compare its result with `result` from `context`.

    The reference engine reads the Context's tables. The Context's result is the baseline.
    """
    main = EngineRun(
        result.engine,
        table=result.table,
        seconds=seconds,
        ordered=result.ordered,
        sort_keys=list(result.sort_keys),
        node_timings=list(result.timings),
    )
    runner = _open_runners(context, context.catalog, [reference], None)[0]
    try:
        reference_run = runner.run(sql)
    finally:
        runner.close()
    return compare_runs(sql, [main, reference_run], CompareOptions(rtol=rtol, atol=atol))


def exit_code(comparisons: Sequence[EngineComparison]) -> int:
    """Return `EXIT_DIFFERENT` when any query's results differ, else `EXIT_NOT_RUN` when any
    engine failed, else `EXIT_EQUAL`."""
    verdicts = {comparison.verdict for comparison in comparisons}
    if "different" in verdicts:
        return EXIT_DIFFERENT
    if "error" in verdicts:
        return EXIT_NOT_RUN
    return EXIT_EQUAL


def _open_runners(
    ctx_or_tables: Context | Mapping[str, Any],
    catalog: Catalog,
    engines: Sequence[str],
    dialect: str | None,
) -> list[EngineRunner]:
    from gsql.context import Context

    settings: dict[str, Any] = {}
    if isinstance(ctx_or_tables, Context):
        settings["scheduler"] = getattr(ctx_or_tables, "scheduler", None)
        settings["partitions"] = getattr(ctx_or_tables, "partitions", None)
    dialect = _dialect_of(ctx_or_tables, dialect)
    return [open_runner(engine, catalog, dialect, **settings) for engine in engines]


def _dialect_of(ctx_or_tables: Context | Mapping[str, Any], dialect: str | None) -> str | None:
    from gsql.context import Context

    if dialect is None and isinstance(ctx_or_tables, Context):
        return ctx_or_tables.dialect
    return dialect


def join_names(names: Sequence[str]) -> str:
    """Join names as an English list: `a`, `a and b`, `a, b and c`."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"
