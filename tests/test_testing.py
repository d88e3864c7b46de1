"""Tests of `gsql.testing`: engine comparisons, `gsql compare`, `gsql query --verify` and the
pytest plugin.

DuckDB is the outside engine throughout. A difference between engines is planted by wrapping
one engine runner's `run` so that it changes the result, because the engines agree on every
real query used here. The last test runs the 22 TPC-H queries through `gsql compare -f`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner, Result

import gsql
from gsql.cli import app
from gsql.context import ENGINES
from gsql.errors import ExecutionError
from gsql.testing import assert_engines_agree, compare_engines
from gsql.testing import engines as engines_module
from gsql.testing.compare_report import split_statements
from tests.conftest import ROOT

pytest_plugins = ["pytester"]

TPCH_TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]
TPCH_QUERIES = sorted((ROOT / "bench" / "tpch_queries").glob("q*.sql"))
SCORES_CSV = "id,team,score\n1,red,1.5\n2,blue,2.25\n3,red,\n4,green,-0.5\n"
SCORES_BY_TEAM = "SELECT team, SUM(score) AS total FROM scores GROUP BY team ORDER BY team"


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test in an empty directory with the scores table, and no gsql settings."""
    monkeypatch.chdir(tmp_path)
    for variable in ("GSQL_CATALOG", "GSQL_ENGINE", "GSQL_REQUIRE_GPU"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "scores.csv").write_text(SCORES_CSV)
    return tmp_path


@pytest.fixture
def fresh_availability():
    """Forget cached engine availability before and after a test that hides a package."""
    engines_module.unavailable_reason.cache_clear()
    yield
    engines_module.unavailable_reason.cache_clear()


def gsql_cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def compare_scores(*args: str) -> Result:
    return gsql_cli("compare", SCORES_BY_TEAM, "--table", "scores=scores.csv", *args)


def plant_difference(
    monkeypatch: pytest.MonkeyPatch, runner_class: type, change=lambda column: pc.add(column, 1)
) -> None:
    """Make every run of `runner_class` return its result with `change` applied to `total`."""
    original = runner_class.run

    def run_with_difference(self, sql: str) -> engines_module.EngineRun:
        run = original(self, sql)
        if run.table is not None and "total" in run.table.column_names:
            position = run.table.column_names.index("total")
            changed = change(run.table.column(position))
            run.table = run.table.set_column(position, "total", changed)
        return run

    monkeypatch.setattr(runner_class, "run", run_with_difference)


def hide_module(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make `import name` raise ImportError for each name until the test ends."""
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def tpch_tables(directory: Path) -> dict[str, Path]:
    return {table: directory / f"{table}.parquet" for table in TPCH_TABLES}


# assert_engines_agree and compare_engines


def test_assert_engines_agree_on_tpch_q01(tpch_sf001: Path) -> None:
    sql = (ROOT / "bench" / "tpch_queries" / "q01.sql").read_text()

    comparison = assert_engines_agree(tpch_tables(tpch_sf001), sql, engines=["pandas", "duckdb"])

    assert comparison.verdict == "equal"
    assert comparison.runs["pandas"].rows == 4
    assert comparison.runs["duckdb"].rows == 4
    assert comparison.options.ordered
    assert comparison.options.sort_keys == (0, 1)


def test_assert_engines_agree_reports_difference(monkeypatch) -> None:
    plant_difference(monkeypatch, engines_module._DuckDBRunner)

    with pytest.raises(
        AssertionError, match="differences found: duckdb differs from pandas"
    ) as caught:
        assert_engines_agree({"scores": "scores.csv"}, SCORES_BY_TEAM, engines=["pandas", "duckdb"])

    report = str(caught.value)
    assert "rtol=1e-09, atol=1e-12" in report
    assert "pandas and duckdb differ" in report
    assert "`total`: values differ in 3 of 3 paired rows" in report


def test_assert_engines_agree_chains_engine_error() -> None:
    # Integer division by zero raises in gsql (and in DuckDB 2.0.1).
    with pytest.raises(AssertionError, match="could not run: pandas and duckdb failed") as caught:
        assert_engines_agree({"scores": "scores.csv"}, "SELECT 1 // 0 AS x", ["pandas", "duckdb"])

    assert isinstance(caught.value.__cause__, ExecutionError)
    assert "pandas failed: ExecutionError: " in str(caught.value)
    assert "division by zero" in str(caught.value)


def test_compare_engines_accepts_context_and_frames() -> None:
    context = gsql.Context(engine="pandas")
    context.register("people", pa.table({"id": [1, 2, 3], "name": ["a", "b", None]}))

    comparison = compare_engines(
        context, "SELECT name, id FROM people ORDER BY id DESC", ["pandas", "duckdb"]
    )

    assert comparison.verdict == "equal"
    assert comparison.baseline == "pandas"
    assert comparison.options.sort_keys == (1,)
    assert set(comparison.timings) == {"pandas", "duckdb"}
    assert comparison.errors == {}


def test_compare_engines_translates_dialect_for_duckdb() -> None:
    # In MySQL "none" is a string; DuckDB would read it as a column name.
    sql = 'SELECT team, IFNULL(CAST(score AS CHAR), "none") AS shown FROM scores'

    comparison = compare_engines({"scores": "scores.csv"}, sql, ["pandas", "duckdb"], "mysql")

    assert comparison.errors == {}
    assert comparison.verdict == "equal"


def test_compare_engines_uses_tolerances(monkeypatch) -> None:
    plant_difference(
        monkeypatch, engines_module._DuckDBRunner, lambda column: pc.multiply(column, 1 + 1e-7)
    )
    tables = {"scores": "scores.csv"}

    strict = compare_engines(tables, SCORES_BY_TEAM, ["pandas", "duckdb"])
    loose = compare_engines(tables, SCORES_BY_TEAM, ["pandas", "duckdb"], rtol=1e-6)

    assert strict.verdict == "different"
    assert loose.verdict == "equal"
    assert "rtol=1e-06" in loose.report()


@pytest.mark.parametrize(
    ("engines", "message"),
    [
        (["pandas"], "at least two engines"),
        (["pandas", "Pandas"], "listed twice"),
        (["duckdb", "duckdb"], "listed twice"),
    ],
)
def test_compare_engines_rejects_engine_list(engines, message) -> None:
    with pytest.raises(ValueError, match=message):
        compare_engines({"scores": "scores.csv"}, "SELECT 1 AS x", engines)


def test_unavailable_engine_is_a_failed_run(monkeypatch, fresh_availability) -> None:
    hide_module(monkeypatch, "duckdb")

    comparison = compare_engines({"scores": "scores.csv"}, "SELECT 1 AS x", ["pandas", "duckdb"])

    assert comparison.verdict == "error"
    assert "pip install duckdb" in comparison.errors["duckdb"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT 1; SELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT ';' AS s;\n\nSELECT 2;\n", ["SELECT ';' AS s", "SELECT 2"]),
        (
            "SELECT 1 -- a; comment\n; /* ; */ SELECT 2",
            ["SELECT 1 -- a; comment", "/* ; */ SELECT 2"],
        ),
        ('SELECT "a;b" FROM t', ['SELECT "a;b" FROM t']),
        ("; ;\n-- only a comment\n", []),
    ],
)
def test_split_statements(text, expected) -> None:
    assert split_statements(text) == expected


# gsql compare


def test_compare_equal_exits_0() -> None:
    result = compare_scores("--engines", "pandas,duckdb")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("all equal: pandas and duckdb return the same 3 rows\n")
    assert "floats equal within rtol=1e-09, atol=1e-12" in result.stdout
    assert "rows compared in order of sort keys (`team`)" in result.stdout


def test_compare_states_given_tolerances() -> None:
    result = compare_scores("--rtol", "1e-6", "--atol", "0")

    assert result.exit_code == 0, result.output
    assert "rtol=1e-06, atol=0.0" in result.stdout


def test_compare_different_exits_1(monkeypatch) -> None:
    plant_difference(monkeypatch, engines_module._DuckDBRunner)

    result = compare_scores("--engines", "pandas,duckdb")

    assert result.exit_code == 1
    assert result.stdout.startswith("differences found: duckdb differs from pandas\n")
    assert "duckdb against pandas:" in result.stdout
    assert "extra rows (in duckdb, not in pandas)" in result.stdout


def test_compare_failed_query_exits_8() -> None:
    result = gsql_cli("compare", "SELECT nosuch FROM scores", "--table", "scores=scores.csv")

    assert result.exit_code == 8
    assert result.stdout.startswith("could not run: pandas and duckdb failed\n")
    assert "pandas failed: BindError: unknown column `nosuch`" in result.stdout


def test_compare_unavailable_gpu_engine_exits_8() -> None:
    if engines_module.unavailable_reason("cudf") is None:
        pytest.skip("the cudf engine runs on this machine")

    result = compare_scores("--engines", "pandas,cudf")

    assert result.exit_code == 8
    assert "error: engine `cudf` is not available" in result.stderr
    assert result.stdout == ""


def test_compare_missing_duckdb_names_pip(monkeypatch, fresh_availability) -> None:
    hide_module(monkeypatch, "duckdb")

    result = compare_scores("--engines", "pandas,duckdb")

    assert result.exit_code == 8
    assert "error: engine `duckdb` is not available" in result.stderr
    assert "install it with `pip install duckdb`" in result.stderr


def test_compare_missing_dask_names_extra(monkeypatch, fresh_availability) -> None:
    if "dask" not in ENGINES:
        pytest.skip("this gsql has no dask engine")
    monkeypatch.delitem(sys.modules, "gsql.engine.dask", raising=False)
    hide_module(monkeypatch, "dask.dataframe")

    result = compare_scores("--engines", "pandas,dask")

    assert result.exit_code == 8
    assert "error: engine `dask` is not available" in result.stderr
    assert "pip install 'gsql[dask]'" in result.stderr


@pytest.mark.parametrize(
    ("engines", "message"),
    [
        ("pandas,pnadas", "unknown engine `pnadas`"),
        ("pandas", "at least two engines"),
        ("pandas,duckdb,pandas", "listed twice"),
    ],
)
def test_compare_invalid_engines_rejected(engines, message) -> None:
    result = compare_scores("--engines", engines)

    assert result.exit_code == 2
    assert message in result.stderr


def test_compare_invalid_rtol_rejected() -> None:
    result = compare_scores("--rtol", "1.5")

    assert result.exit_code == 2
    assert "invalid rtol 1.5" in result.stderr


def test_compare_file_prints_summary(workdir: Path) -> None:
    (workdir / "queries.sql").write_text(
        f"-- totals per team\n{SCORES_BY_TEAM};\n"
        "SELECT COUNT(*) AS n FROM scores;\n"
        "SELECT nosuch FROM scores;\n"
    )

    result = gsql_cli("compare", "-f", "queries.sql", "--table", "scores=scores.csv")

    assert result.exit_code == 8, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "#",
        "verdict",
        "rows",
        "pandas",
        "s",
        "duckdb",
        "s",
        "engines",
        "query",
    ]
    assert lines[1].split()[:3] == ["1", "equal", "3"]
    assert lines[1].endswith(
        "all equal                     SELECT team, SUM(score) AS total FROM scores GROU…"
    )
    assert lines[2].split()[:3] == ["2", "equal", "1"]
    assert lines[3].split()[:5] == ["3", "error", "-", "failed", "failed"]
    assert "query 3: could not run: pandas and duckdb failed" in result.stdout
    assert lines[-1] == (
        "3 queries on pandas and duckdb: 2 equal, 0 different, 1 could not run; "
        "floats equal within rtol=1e-09, atol=1e-12"
    )


def test_compare_file_with_difference_exits_1(workdir: Path, monkeypatch) -> None:
    plant_difference(monkeypatch, engines_module._DuckDBRunner)
    (workdir / "queries.sql").write_text(f"SELECT COUNT(*) AS n FROM scores; {SCORES_BY_TEAM}")

    result = gsql_cli("compare", "-f", "queries.sql", "--table", "scores=scores.csv")

    assert result.exit_code == 1, result.output
    assert "different" in result.stdout.splitlines()[2]
    assert "duckdb differs" in result.stdout.splitlines()[2]
    assert "query 2: differences found: duckdb differs from pandas" in result.stdout


def test_compare_report_json(workdir: Path, monkeypatch) -> None:
    plant_difference(monkeypatch, engines_module._DuckDBRunner)
    (workdir / "queries.sql").write_text(f"SELECT COUNT(*) AS n FROM scores; {SCORES_BY_TEAM}")

    result = gsql_cli(
        "compare", "-f", "queries.sql", "--table", "scores=scores.csv", "--report", "out.json"
    )

    assert result.exit_code == 1, result.output
    assert "wrote report to out.json" in result.stderr
    report = json.loads((workdir / "out.json").read_text())
    assert report["verdict"] == "different"
    assert report["exit_code"] == 1
    assert report["engines"] == ["pandas", "duckdb"]
    assert report["rtol"] == 1e-9
    assert report["counts"] == {"equal": 1, "different": 1, "error": 0}
    first, second = report["queries"]
    assert first["verdict"] == "equal"
    assert first["runs"]["pandas"]["rows"] == 1
    assert first["runs"]["duckdb"]["error"] is None
    assert second["index"] == 2
    assert second["options"]["ordered"] is True
    assert second["options"]["sort_keys"] == [0]
    comparison = second["comparisons"]["duckdb"]
    assert comparison["equal"] is False
    assert comparison["left_label"] == "pandas"
    assert comparison["missing_row_count"] == 3
    assert "total" in comparison["column_diffs"]
    assert [path.name for path in workdir.iterdir() if path.name.startswith(".out.json")] == []


def test_compare_report_replaces_file(workdir: Path) -> None:
    (workdir / "out.json").write_text("old")

    result = compare_scores("--report", "out.json")

    assert result.exit_code == 0, result.output
    assert json.loads((workdir / "out.json").read_text())["verdict"] == "equal"


def test_compare_report_missing_directory() -> None:
    result = compare_scores("--report", "missing/out.json")

    assert result.exit_code == 2
    assert "directory `missing` of `missing/out.json` does not exist" in result.stderr


def test_compare_documented() -> None:
    reference = (ROOT / "docs" / "cli.md").read_text()

    assert "## `gsql compare`" in reference
    assert "--verify-engine" in reference


# gsql query --verify


def query_scores(*args: str) -> Result:
    return gsql_cli("query", SCORES_BY_TEAM, "--table", "scores=scores.csv", "-F", "csv", *args)


def test_query_verify_equal_exits_0() -> None:
    result = query_scores("--verify")

    assert result.exit_code == 0, result.output
    assert result.stdout == "team,total\nblue,2.25\ngreen,-0.5\nred,1.5\n"
    assert "all equal: pandas and duckdb return the same 3 rows" in result.stderr


def test_query_verify_different_exits_1(monkeypatch) -> None:
    plant_difference(monkeypatch, engines_module._DuckDBRunner)

    result = query_scores("--verify")

    assert result.exit_code == 1
    assert result.stdout == "team,total\nblue,2.25\ngreen,-0.5\nred,1.5\n"
    assert "differences found: duckdb differs from pandas" in result.stderr
    assert "values differ in 3 of 3 paired rows" in result.stderr


def test_query_verify_engine_pandas_for_dask() -> None:
    if engines_module.unavailable_reason("dask") is not None:
        pytest.skip("the dask engine is not available")

    result = query_scores("--engine", "dask", "--verify")

    assert result.exit_code == 0, result.output
    assert "all equal: dask and pandas return the same 3 rows" in result.stderr


def test_query_verify_engine_implies_verify() -> None:
    result = query_scores("--engine", "pandas", "--verify-engine", "duckdb")

    assert result.exit_code == 0, result.output
    assert "all equal: pandas and duckdb" in result.stderr


def test_query_verify_same_engine_rejected() -> None:
    result = query_scores("--engine", "pandas", "--verify-engine", "pandas")

    assert result.exit_code == 2
    assert "invalid reference engine `pandas` for a query on pandas" in result.stderr


def test_query_verify_without_duckdb_exits_8(monkeypatch, fresh_availability) -> None:
    hide_module(monkeypatch, "duckdb")

    result = query_scores("--verify")

    assert result.exit_code == 8
    assert "cannot verify: reference engine `duckdb` is not available" in result.stderr
    assert "pip install duckdb" in result.stderr
    assert "--verify-engine" in result.stderr


def test_query_verify_failed_reference_exits_8(monkeypatch) -> None:
    def fail(self, sql: str) -> engines_module.EngineRun:
        return engines_module.EngineRun("duckdb", error=RuntimeError("planted failure"))

    monkeypatch.setattr(engines_module._DuckDBRunner, "run", fail)

    result = query_scores("--verify")

    assert result.exit_code == 8
    assert result.stdout == "team,total\nblue,2.25\ngreen,-0.5\nred,1.5\n"
    assert "could not run: duckdb failed" in result.stderr
    assert "duckdb failed: RuntimeError: planted failure" in result.stderr


# The pytest plugin, run in a separate pytest session by pytester


PLUGIN_TESTS = """
import pytest

SETUPS = []


@pytest.fixture(scope="module")
def context(gsql_engine):
    import gsql

    SETUPS.append(gsql_engine)
    return gsql.Context(engine=gsql_engine)


def test_first(context, gsql_engine):
    assert context.engine == gsql_engine
    assert context.sql("SELECT 1 AS x").rows() == [(1,)]


def test_second(context):
    assert context.sql("SELECT 2 AS x").rows() == [(2,)]


def test_setups_once_per_engine():
    assert len(SETUPS) == len(set(SETUPS))
"""


def test_plugin_defaults_to_pandas(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PLUGIN_TESTS)

    result = pytester.runpytest("-v")

    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_first[[]pandas[]] PASSED*"])


def test_plugin_parametrises_engines(pytester: pytest.Pytester) -> None:
    if engines_module.unavailable_reason("dask") is not None:
        pytest.skip("the dask engine is not available")
    pytester.makepyfile(PLUGIN_TESTS)

    result = pytester.runpytest("-v", "--gsql-engines", "pandas,dask")

    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [
            "*test_first[[]pandas[]] PASSED*",
            "*test_second[[]pandas[]] PASSED*",
            "*test_first[[]dask[]] PASSED*",
            "*test_second[[]dask[]] PASSED*",
        ]
    )


def test_plugin_skips_unavailable_engine(pytester: pytest.Pytester) -> None:
    if engines_module.unavailable_reason("cudf") is None:
        pytest.skip("the cudf engine runs on this machine")

    pytester.makepyfile(PLUGIN_TESTS)

    result = pytester.runpytest("-rs", "--gsql-engines", "pandas,cudf")

    result.assert_outcomes(passed=3, skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED *engine `cudf` is not available*"])


def test_require_gpu_fails_gpu_engine(pytester, monkeypatch) -> None:
    if engines_module.unavailable_reason("cudf") is None:
        pytest.skip("the cudf engine runs on this machine")

    monkeypatch.setenv("GSQL_REQUIRE_GPU", "1")
    pytester.makepyfile(PLUGIN_TESTS)

    result = pytester.runpytest("--gsql-engines", "pandas,cudf")

    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(["*engine `cudf` is not available*GSQL_REQUIRE_GPU=1 requires it*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_require_gpu_skips_cpu_engine(pytester, monkeypatch, fresh_availability) -> None:
    monkeypatch.setenv("GSQL_REQUIRE_GPU", "1")
    hide_module(monkeypatch, "dask.dataframe")
    monkeypatch.delitem(sys.modules, "gsql.engine.dask", raising=False)
    pytester.makepyfile(PLUGIN_TESTS)

    result = pytester.runpytest("-rs", "--gsql-engines", "pandas,dask")

    result.assert_outcomes(passed=3, skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED *engine `dask` is not available*"])


def test_plugin_unknown_engine_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PLUGIN_TESTS)

    result = pytester.runpytest("--gsql-engines", "pnadas")

    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*unknown engine `pnadas` in --gsql-engines*"])


def test_plugin_repeated_engine_is_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PLUGIN_TESTS)

    result = pytester.runpytest("--gsql-engines", "pandas,pandas")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*engine `pandas` is listed twice in --gsql-engines*"])


def test_plugin_ignores_other_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")

    result = pytester.runpytest("-v", "--gsql-engines", "pandas,cudf")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_plain PASSED*"])


# The CI check: every TPC-H query equal on every engine


def test_compare_tpch_queries_all_equal(tpch_sf001: Path, workdir: Path) -> None:
    engines = ["pandas", "duckdb"] + (["dask"] if "dask" in ENGINES else [])
    queries = workdir / "tpch.sql"
    queries.write_text(";\n".join(path.read_text().strip().rstrip(";") for path in TPCH_QUERIES))
    tables = [f"{name}={path}" for name, path in tpch_tables(tpch_sf001).items()]

    result = gsql_cli(
        "compare", "-f", str(queries), "--engines", ",".join(engines),
        *[argument for table in tables for argument in ("--table", table)],
        "--report", "tpch.json",
    )  # fmt: skip

    assert len(TPCH_QUERIES) == 22
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines()[-1].startswith(f"22 queries on {engines[0]}")
    assert "22 equal, 0 different, 0 could not run" in result.stdout
    report = json.loads((workdir / "tpch.json").read_text())
    assert [query["verdict"] for query in report["queries"]] == ["equal"] * 22
