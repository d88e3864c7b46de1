"""Tests of the error tree: the error that each failure raises, its message and its exit code.

Each kind gets the failures that users meet first: a typo in SQL, a misspelt table or column,
a construct gsql lacks, a missing or malformed file, and a failure while a plan runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

import gsql
from gsql import errors
from gsql.errors import (
    BindError,
    CatalogError,
    DataError,
    EngineUnavailableError,
    ExecutionError,
    GsqlError,
    SqlSyntaxError,
    UnsupportedError,
)


@pytest.fixture
def context() -> gsql.Context:
    ctx = gsql.Context(engine="pandas")
    ctx.register(
        "flights",
        pa.table(
            {
                "dep_time": pa.array([517, -(2**63)], pa.int64()),
                "arr_time": pa.array([830, 850], pa.int64()),
                "carrier": pa.array(["UA", "AA"], pa.string()),
            }
        ),
    )
    ctx.register("airports", pa.table({"faa": pa.array(["EWR"], pa.string())}))
    return ctx


def caret_target(message: str) -> str:
    """Return the text that the `^` marks of a syntax error message point at."""
    lines = message.splitlines()
    caret_index = next(index for index, line in enumerate(lines) if set(line.strip()) == {"^"})
    carets = lines[caret_index]
    start = carets.index("^")
    return lines[caret_index - 1][start : start + carets.count("^")]


# SqlSyntaxError -------------------------------------------------------------------------------

SYNTAX_CASES = [
    pytest.param(
        "SELECT dep_time FROM flights WHERE", 1, 34, "WHERE", id="where-without-condition"
    ),
    pytest.param(
        "SELECT dep_time,\n  FROM flights\n WHERE carrier = = 'UA'",
        3,
        18,
        "=",
        id="doubled-operator",
    ),
    pytest.param(
        "SELECT * FROM flights WHERE dep_time IN (1, 2", 1, 45, "2", id="unclosed-parenthesis"
    ),
    pytest.param(
        "SELECT\n  dep_time\nFROM flights\nWHERE dep_time >", 4, 16, ">", id="missing-operand"
    ),
]


@pytest.mark.parametrize(("sql", "line", "column", "token"), SYNTAX_CASES)
def test_syntax_error_has_position_and_caret(context, sql, line, column, token):
    with pytest.raises(SqlSyntaxError, match=f"at line {line}, column {column}") as caught:
        context.sql(sql)

    error = caught.value
    assert error.line == line
    assert error.column == column
    assert error.token == token
    assert sql.splitlines()[line - 1] in str(error)
    assert caret_target(str(error)) == token


def test_unterminated_string_has_position(context):
    with pytest.raises(SqlSyntaxError, match="line 1") as caught:
        context.sql("SELECT 'abc FROM flights")
    assert caught.value.line == 1


STATEMENT_ERRORS = [
    pytest.param("", "the SQL text is empty", id="empty"),
    pytest.param("  ;  ", "the SQL text is empty", id="only-semicolon"),
    pytest.param("SELECT 1; SELECT 2", "expected one statement but found 2", id="two-statements"),
]


@pytest.mark.parametrize(("sql", "message"), STATEMENT_ERRORS)
def test_statement_count_error(context, sql, message):
    with pytest.raises(SqlSyntaxError, match=message):
        context.sql(sql)


# BindError ------------------------------------------------------------------------------------

BIND_CASES = [
    pytest.param(
        "SELECT dep_time FROM flight",
        "unknown table `flight`; did you mean `flights`?",
        id="table-typo",
    ),
    pytest.param(
        "SELECT dep_time FROM flights JOIN airport ON carrier = faa",
        "unknown table `airport`; did you mean `airports`?",
        id="joined-table-typo",
    ),
    pytest.param(
        "SELECT dep_tme FROM flights",
        "unknown column `dep_tme` in `flights`; did you mean `dep_time`?",
        id="column-typo",
    ),
    pytest.param(
        "SELECT carier FROM flights, airports",
        "unknown column `carier` in `flights`, `airports`; did you mean `carrier`?",
        id="column-typo-two-tables",
    ),
    pytest.param(
        "SELECT dep_time FROM flights WHERE arr_tim > 800",
        "unknown column `arr_tim` in `flights`; did you mean `arr_time`?",
        id="column-typo-in-where",
    ),
    pytest.param(
        "SELECT f.dep_tme FROM flights AS f",
        "unknown column `dep_tme`.*did you mean `dep_time`?",
        id="qualified-column-typo",
    ),
]


@pytest.mark.parametrize(("sql", "message"), BIND_CASES)
def test_bind_error_suggests_name(context, sql, message):
    with pytest.raises(BindError, match=message):
        context.sql(sql)


def test_unknown_column_without_suggestion(context):
    with pytest.raises(BindError, match="unknown column `nonsense` in `flights`") as caught:
        context.sql("SELECT nonsense FROM flights")
    assert "did you mean" not in str(caught.value)


def test_unknown_table_explains_registration(context):
    with pytest.raises(BindError, match="unknown table `zebra`; register a file as table `zebra`"):
        context.sql("SELECT * FROM zebra")


# UnsupportedError -----------------------------------------------------------------------------

UNSUPPORTED_CASES = [
    pytest.param(
        "INSERT INTO flights VALUES (1, 2, 'UA')",
        "statement `INSERT` is not supported",
        id="insert",
    ),
    pytest.param(
        "SELECT frobnicate(dep_time) FROM flights", "function `FROBNICATE`", id="unknown-function"
    ),
    pytest.param(
        "SELECT DISTINCT ON (carrier) carrier FROM flights", "DISTINCT ON", id="distinct-on"
    ),
    pytest.param(
        "WITH RECURSIVE r(n) AS (SELECT 1 INTERSECT SELECT n + 1 FROM r) SELECT n FROM r",
        "recursive CTE `r` must be `base UNION",
        id="recursive-cte-without-union",
    ),
    pytest.param(
        "CREATE TABLE copy AS SELECT * FROM flights",
        "statement `CREATE` is not supported",
        id="create-table",
    ),
]


@pytest.mark.parametrize(("sql", "message"), UNSUPPORTED_CASES)
def test_unsupported_error_names_construct(context, sql, message):
    with pytest.raises(UnsupportedError, match=message):
        context.sql(sql)


def test_unknown_dialect_lists_choices(context):
    with pytest.raises(
        UnsupportedError, match="unknown SQL dialect `nosuch`; choose one of: .*duckdb"
    ):
        context.sql("SELECT 1", dialect="nosuch")


def test_unsupported_error_is_not_implemented_error(context):
    with pytest.raises(NotImplementedError, match="DISTINCT ON"):
        context.sql("SELECT DISTINCT ON (carrier) carrier FROM flights")


# DataError ------------------------------------------------------------------------------------


def test_missing_file_in_from_raises(context, tmp_path):
    missing = tmp_path / "absent.csv"
    with pytest.raises(DataError, match=f"file not found: `{re.escape(str(missing))}`"):
        context.sql(f"SELECT * FROM '{missing}'")


def test_missing_file_in_register_raises(context, tmp_path):
    missing = tmp_path / "absent.parquet"
    with pytest.raises(DataError, match=f"file not found: `{re.escape(str(missing))}`"):
        context.register("absent", missing)


def test_file_removed_after_register_raises(context, tmp_path):
    path = tmp_path / "short_lived.csv"
    path.write_text("id,v\n1,2\n")
    context.register("short_lived", path)
    path.unlink()
    with pytest.raises(DataError, match="file not found: `.*short_lived.csv`"):
        context.sql("SELECT * FROM short_lived")


def write_csv(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


MALFORMED_CSV_CASES = [
    pytest.param(
        "id,name,score\n1,ann,3.5\n2,bob\n3,cy,4.0\n",
        3,
        "expected 3 fields, got 2: `2,bob`",
        id="too-few-fields",
    ),
    pytest.param(
        "id,name\n1,ann\n2,bob\n3,cy,extra\n",
        4,
        "expected 2 fields, got 3: `3,cy,extra`",
        id="too-many-fields",
    ),
    # The quoted field spans lines 2 and 3, so the bad row is line 5 of the file.
    pytest.param(
        'id,note\n1,"two\nlines"\n2,ok\n3,too,many\n',
        5,
        "expected 2 fields, got 3",
        id="after-multiline-field",
    ),
]


@pytest.mark.parametrize(("text", "line", "detail"), MALFORMED_CSV_CASES)
def test_malformed_csv_row_names_file_and_line(context, tmp_path, text, line, detail):
    path = write_csv(tmp_path, "bad.csv", text)
    expected = f"malformed CSV row in `{re.escape(str(path))}` at line {line}: {re.escape(detail)}"
    with pytest.raises(DataError, match=expected):
        context.sql(f"SELECT * FROM '{path}'")


def test_malformed_csv_row_in_registered_table(context, tmp_path):
    path = write_csv(tmp_path, "registered.csv", "a,b\n1,2\n3\n")
    context.register("registered", path)
    with pytest.raises(DataError, match=r"registered\.csv` at line 3"):
        context.sql("SELECT a FROM registered")


# ExecutionError -------------------------------------------------------------------------------

NODE_NAMING_CASES = [
    pytest.param("SELECT ABS(dep_time) FROM flights", "Project", id="abs-overflow-in-project"),
    pytest.param(
        "SELECT carrier FROM flights WHERE -dep_time > 0", "Filter", id="negate-overflow-in-filter"
    ),
    pytest.param(
        "SELECT carrier FROM flights WHERE arr_time // 0 > 1",
        "Filter",
        id="division-by-zero-in-filter",
    ),
    pytest.param(
        "SELECT arr_time + 9223372036854775807 FROM flights",
        "Project",
        id="add-overflow-in-project",
    ),
]


@pytest.mark.parametrize(("sql", "node"), NODE_NAMING_CASES)
def test_execution_error_names_plan_node(context, sql, node):
    with pytest.raises(ExecutionError, match=rf"\b{node}\b.*pandas engine"):
        context.sql(sql)


def test_execution_error_shows_node_description(context):
    with pytest.raises(ExecutionError, match=r"\(node: Project ABS\(") as caught:
        context.sql("SELECT ABS(dep_time) FROM flights")
    assert "overflow" in str(caught.value)


# Exit codes -----------------------------------------------------------------------------------

EXIT_CODES = [
    pytest.param(GsqlError, 1, id="GsqlError"),
    pytest.param(SqlSyntaxError, 2, id="SqlSyntaxError"),
    pytest.param(BindError, 3, id="BindError"),
    pytest.param(CatalogError, 3, id="CatalogError"),
    pytest.param(UnsupportedError, 4, id="UnsupportedError"),
    pytest.param(DataError, 5, id="DataError"),
    pytest.param(ExecutionError, 6, id="ExecutionError"),
    pytest.param(EngineUnavailableError, 7, id="EngineUnavailableError"),
]


@pytest.mark.parametrize(("error_class", "code"), EXIT_CODES)
def test_exit_code_of_each_error(error_class, code):
    assert error_class.exit_code == code
    assert issubclass(error_class, GsqlError)


def _documented_exit_codes() -> dict[str, int]:
    """Read the exit code table of the `gsql.errors` docstring: {class name: code}."""
    codes = {}
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"\|\s*(\d+)\s*\|(.*)\|", line)
        if match:
            for name in re.findall(r"`(\w+)`", match.group(2)):
                codes[name] = int(match.group(1))
    return codes


def test_exit_codes_match_documented_table():
    documented = _documented_exit_codes()
    actual = {name: getattr(errors, name).exit_code for name in documented}
    assert documented == actual
    assert set(documented) == {name for name in errors.__all__ if name.endswith("Error")}


def test_exit_codes_distinct_per_kind():
    # BindError and CatalogError share 3: both mean a name that does not resolve.
    kinds = [
        GsqlError,
        SqlSyntaxError,
        BindError,
        UnsupportedError,
        DataError,
        ExecutionError,
        EngineUnavailableError,
    ]
    codes = [kind.exit_code for kind in kinds]
    assert len(set(codes)) == len(codes)


RAISED_EXIT_CODES = [
    pytest.param("SELECT FROM WHERE", 2, id="syntax"),
    pytest.param("SELECT dep_tme FROM flights", 3, id="bind"),
    pytest.param("SELECT DISTINCT ON (carrier) carrier FROM flights", 4, id="unsupported"),
    pytest.param("SELECT * FROM '/nonexistent/gsql-test/absent.csv'", 5, id="data"),
    pytest.param("SELECT arr_time // 0 FROM flights", 6, id="execution"),
]


@pytest.mark.parametrize(("sql", "code"), RAISED_EXIT_CODES)
def test_raised_error_carries_exit_code(context, sql, code):
    with pytest.raises(GsqlError, match=".") as caught:
        context.sql(sql)
    assert caught.value.exit_code == code


def test_unknown_engine_raises_engine_unavailable():
    with pytest.raises(
        EngineUnavailableError, match="unknown engine `nosuch`; choose one of"
    ) as caught:
        gsql.Context(engine="nosuch")
    assert caught.value.exit_code == 7


def test_frame_reader_options_raise_catalog_error(context):
    with pytest.raises(CatalogError, match="apply to files only") as caught:
        context.register("frame", pa.table({"a": [1]}), delimiter=";")
    assert caught.value.exit_code == 3
