"""Time the nycflights13 oracle queries on gsql's pandas engine and on DuckDB in one run.

Both engines query the same in-memory Arrow tables, so file parsing is not timed. Usage:

    python bench/flights.py [--data DIR] [--repeat N]

Also times `gsql query "SELECT 1"` from a cold start (a new process).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import duckdb

import gsql
from gsql.catalogs import source_from_path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import best_time, print_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FILES = {
    "flights": "flights.csv.gz",
    "airlines": "airlines.csv",
    "airports": "airports.csv",
    "planes": "planes.csv",
    "weather": "weather.csv",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/nycflights13")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    context = gsql.Context(engine="pandas")
    oracle = duckdb.connect()
    for table, file in FILES.items():
        arrow = source_from_path(table, args.data / file).read()
        context.register(table, arrow)
        oracle.register(f"{table}_arrow", arrow)
        oracle.execute(f"CREATE TABLE {table} AS SELECT * FROM {table}_arrow")

    queries = [
        q.strip()
        for q in (ROOT / "tests/oracle/flights.sql").read_text().split(";\n")
        if q.strip()
    ]
    rows = []
    for number, sql in enumerate(queries, 1):
        rows.append(
            {
                "query": f"q{number:02d}",
                "gsql": best_time(lambda: context.sql(sql), args.repeat),
                "duckdb": best_time(lambda: oracle.sql(sql).to_arrow_table(), args.repeat),
            }
        )
    print_table(rows, ["gsql", "duckdb"])

    cold = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        subprocess.run(["gsql", "query", "SELECT 1"], check=True, capture_output=True)
        cold.append(time.perf_counter() - started)
    print(f"cold start of `gsql query \"SELECT 1\"`: best {min(cold):.3f} s of {len(cold)}")


if __name__ == "__main__":
    main()
