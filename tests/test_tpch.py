"""The 22 TPC-H queries at scale factor 0.01, checked against DuckDB on the same Parquet files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import gsql
from gsql.compare import CompareOptions, compare_results

ROOT = Path(__file__).resolve().parent.parent
QUERY_DIR = ROOT.parent / "shared" / "tpch" / "queries"
LOCAL_QUERY_DIR = ROOT / "bench" / "tpch_queries"
TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]


def _query_files() -> list[Path]:
    directory = QUERY_DIR if QUERY_DIR.exists() else LOCAL_QUERY_DIR
    return sorted(directory.glob("q*.sql"))


@pytest.fixture(scope="module")
def engines(tpch_sf001: Path, gsql_engine: str) -> tuple[gsql.Context, duckdb.DuckDBPyConnection]:
    context = gsql.Context(engine=gsql_engine)
    oracle = duckdb.connect()
    for table in TABLES:
        path = tpch_sf001 / f"{table}.parquet"
        context.register(table, path)
        oracle.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{path}')")
    return context, oracle


@pytest.mark.parametrize("query_file", _query_files(), ids=lambda path: path.stem)
def test_tpch_query_matches_duckdb(engines, query_file: Path) -> None:
    context, oracle = engines
    sql = query_file.read_text()
    result = context.sql(sql)
    expected = oracle.sql(sql).to_arrow_table()

    # Decimals compare exactly; doubles (AVG, divisions) within a relative 1e-9.
    options = CompareOptions(ordered=result.ordered, sort_keys=result.sort_keys or None)
    comparison = compare_results(result.table, expected, options, "gsql", "duckdb")

    assert comparison.equal, comparison.report()


def test_all_twenty_two_queries_present() -> None:
    assert len(_query_files()) == 22
