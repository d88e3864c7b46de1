"""Check the 22 TPC-H queries on a gsql engine against DuckDB at any scale factor.

    python scripts/check_tpch.py --scale 1 [--engine pandas] [--data DIR]

The tables are generated with `tpchgen-cli` into `data/tpch-sf<scale>` when missing. Each
result is compared with DuckDB's on the same Parquet files under gsql's comparison rules
(decimals exact, floats within a relative 1e-9); the exit status is 1 when any query differs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import duckdb

import gsql
from gsql.compare import CompareOptions, compare_results

ROOT = Path(__file__).resolve().parent.parent
TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="1", help="TPC-H scale factor (default 1)")
    parser.add_argument("--engine", default="pandas", help="gsql engine (default pandas)")
    parser.add_argument("--data", type=Path, help="folder of the Parquet tables")
    args = parser.parse_args()

    data = args.data or ROOT / "data" / f"tpch-sf{args.scale}"
    if not (data / "lineitem.parquet").exists():
        subprocess.run(
            ["tpchgen-cli", "parquet", "-s", args.scale, f"--output-dir={data}"], check=True
        )

    context = gsql.Context(engine=args.engine)
    oracle = duckdb.connect()
    for table in TABLES:
        path = data / f"{table}.parquet"
        context.register(table, path)
        oracle.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{path}')")

    equal = 0
    queries = sorted((ROOT / "bench" / "tpch_queries").glob("q*.sql"))
    for query_file in queries:
        sql = query_file.read_text()
        started = time.perf_counter()
        result = context.sql(sql)
        elapsed = time.perf_counter() - started
        expected = oracle.sql(sql).to_arrow_table()
        options = CompareOptions(ordered=result.ordered, sort_keys=result.sort_keys or None)
        comparison = compare_results(result.table, expected, options, "gsql", "duckdb")
        equal += comparison.equal
        verdict = "equal" if comparison.equal else "DIFFERENT"
        print(f"{query_file.stem}: {verdict}, {result.num_rows} rows, {elapsed:.2f} s")
        if not comparison.equal:
            print(comparison.report())

    print(f"{equal} of {len(queries)} queries equal to DuckDB at scale factor {args.scale}")
    return 0 if equal == len(queries) else 1


if __name__ == "__main__":
    sys.exit(main())
