"""Time the 22 TPC-H queries on gsql's pandas engine, DuckDB and Polars' SQL interface.

Every engine reads the same Parquet files, loaded into memory first, so only the query runs
are timed. gsql's planning time (parse, bind, rewrite, plan) is reported per query. Usage:

    python bench/tpch.py [--scale 1] [--data DIR] [--repeat N]

The data is generated with `tpchgen-cli` into `data/tpch-sf<scale>` when missing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

import gsql
from gsql.catalogs import source_from_path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import best_time, geometric_mean, print_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="1")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    data = args.data or ROOT / "data" / f"tpch-sf{args.scale}"
    if not (data / "lineitem.parquet").exists():
        subprocess.run(
            ["tpchgen-cli", "parquet", "-s", args.scale, f"--output-dir={data}"], check=True
        )

    context = gsql.Context(engine="pandas")
    oracle = duckdb.connect()
    arrow_tables = {}
    for table in TABLES:
        arrow = source_from_path(table, data / f"{table}.parquet").read()
        arrow_tables[table] = arrow
        context.register(table, arrow)
        oracle.register(f"{table}_arrow", arrow)
        oracle.execute(f"CREATE TABLE {table} AS SELECT * FROM {table}_arrow")

    polars_context = _polars_context(data)
    engines = ["gsql", "duckdb"] + (["polars"] if polars_context is not None else [])
    rows = []
    planning = []
    for query_file in sorted((ROOT / "bench/tpch_queries").glob("q*.sql")):
        sql = query_file.read_text()
        row = {"query": query_file.stem}
        row["gsql"] = _timed(lambda: context.sql(sql), args.repeat)
        planning.append(best_time(lambda: context.plan(sql), 5))
        row["duckdb"] = _timed(lambda: oracle.sql(sql).to_arrow_table(), args.repeat)
        if polars_context is not None:
            row["polars"] = _timed(lambda: polars_context.execute(sql, eager=True), args.repeat)
        rows.append(row)
        print(f"{row['query']}: done", file=sys.stderr, flush=True)

    print(f"TPC-H scale factor {args.scale}, best of {args.repeat} run(s)\n")
    print_table(rows, engines)
    print(
        f"gsql planning per query: geometric mean {geometric_mean(planning) * 1000:.1f} ms, "
        f"max {max(planning) * 1000:.1f} ms"
    )


def _timed(run, repeat: int) -> float | str:
    try:
        return best_time(run, repeat)
    except Exception as error:  # noqa: BLE001 - a failing engine is reported in the table
        return f"error: {type(error).__name__}"


def _polars_context(data: Path):
    try:
        import polars as pl
    except ImportError:
        return None
    frames = {table: pl.from_arrow(pq.read_table(data / f"{table}.parquet")) for table in TABLES}
    return pl.SQLContext(frames)


if __name__ == "__main__":
    main()
