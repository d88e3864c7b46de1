"""Shared fixtures: real data sets and DuckDB as the independent oracle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_FLIGHTS = ROOT.parent / "shared" / "data" / "nycflights13"
SAMPLE_FLIGHTS = ROOT / "examples" / "nycflights13"


def flights_files() -> dict[str, Path]:
    """Return the nycflights13 tables: the full data set where present, else the shipped sample."""
    if (SHARED_FLIGHTS / "flights.csv.gz").exists():
        names = {
            "flights": "flights.csv.gz",
            "airlines": "airlines.csv",
            "airports": "airports.csv",
            "planes": "planes.csv",
            "weather": "weather.csv",
        }
        return {table: SHARED_FLIGHTS / file for table, file in names.items()}
    return {
        "flights": SAMPLE_FLIGHTS / "flights-2013-01.csv.gz",
        "airlines": SAMPLE_FLIGHTS / "airlines.csv",
        "airports": SAMPLE_FLIGHTS / "airports.csv",
        "planes": SAMPLE_FLIGHTS / "planes.csv",
        "weather": SAMPLE_FLIGHTS / "weather-2013-01.csv.gz",
    }


@pytest.fixture(scope="session")
def tpch_sf001(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generate TPC-H at scale factor 0.01 as Parquet with the `tpchgen-cli` package."""
    target = tmp_path_factory.mktemp("tpch-sf0.01")
    command = shutil.which("tpchgen-cli") or str(Path(sys.executable).parent / "tpchgen-cli")
    subprocess.run(
        [command, "parquet", "-s", "0.01", f"--output-dir={target}"],
        check=True,
        capture_output=True,
    )
    return target


def gsql_over(tables: dict, engine: str = "pandas"):
    """Return a gsql context with each Arrow table of `tables` registered under its key."""
    import gsql

    context = gsql.Context(engine=engine)
    for name, table in tables.items():
        context.register(name, table)
    return context


def duckdb_over(tables: dict):
    """Return a DuckDB connection, the oracle, with each Arrow table of `tables` registered."""
    import duckdb

    connection = duckdb.connect()
    for name, table in tables.items():
        connection.register(name, table)
    return connection


def assert_same_multiset(context, duck, sql: str) -> None:
    """Assert that gsql and DuckDB return the same rows, in any order."""
    from collections import Counter

    assert Counter(context.sql(sql).rows()) == Counter(duck.sql(sql).fetchall())
