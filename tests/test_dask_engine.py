"""The dask engine on a local cluster, checked against DuckDB.

One `distributed` cluster of two thread workers (no processes, no network port, no dashboard)
serves the whole module. Every table is split into at least two partitions, so group-by,
joins, sorts and set operations cross partition boundaries. DuckDB computes each expected
result, compared as in `test_tpch.py`: multisets unless the query orders its rows, decimals
exactly and doubles within a relative 1e-9.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

import gsql
from gsql.catalogs import source_from_path
from gsql.compare import CompareOptions, compare_results
from gsql.engine.backend import execute_plan
from gsql.engine.dask import DaskBackend, client_for, connect
from gsql.engine.pandas_backend import PandasBackend
from gsql.errors import ExecutionError, GsqlError
from tests.conftest import flights_files
from tests.test_tpch import TABLES as TPCH_TABLES
from tests.test_tpch import _query_files as tpch_query_files

FLIGHT_QUERIES = [
    statement.strip()
    for statement in (Path(__file__).parent / "oracle" / "flights.sql").read_text().split(";\n")
    if statement.strip()
]


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    client = connect(workers=2)
    yield client
    client.close()


def _assert_matches(context: gsql.Context, oracle: duckdb.DuckDBPyConnection, sql: str) -> None:
    result = context.sql(sql)
    expected = oracle.sql(sql).to_arrow_table()

    options = CompareOptions(ordered=result.ordered, sort_keys=result.sort_keys or None)
    comparison = compare_results(result.table, expected, options, "gsql dask", "duckdb")

    assert result.engine == "dask"
    assert comparison.equal, comparison.report()


# Oracle suites -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flights(client) -> tuple[gsql.Context, duckdb.DuckDBPyConnection]:
    context = gsql.Context(engine="dask", scheduler=client, partitions=2)
    oracle = duckdb.connect()
    for table, path in flights_files().items():
        # Parsing flights.csv.gz takes about a second, so each file is read once with gsql's
        # CSV reader. The dask engine scans the registered table as it scans a CSV source.
        context.register(table, source_from_path(table, path).read())
        oracle.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}', nullstr='NA')")
    return context, oracle


@pytest.mark.parametrize(
    "sql", FLIGHT_QUERIES, ids=[f"q{i:02d}" for i in range(1, len(FLIGHT_QUERIES) + 1)]
)
def test_flights_query_on_dask(flights, sql: str) -> None:
    _assert_matches(*flights, sql)


@pytest.fixture(scope="module")
def tpch(client, tpch_sf001: Path) -> tuple[gsql.Context, duckdb.DuckDBPyConnection]:
    context = gsql.Context(engine="dask", scheduler=client, partitions=2)
    oracle = duckdb.connect()
    for table in TPCH_TABLES:
        path = tpch_sf001 / f"{table}.parquet"
        context.register(table, path)
        oracle.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{path}')")
    return context, oracle


@pytest.mark.parametrize("query_file", tpch_query_files(), ids=lambda path: path.stem)
def test_tpch_query_on_dask(tpch, query_file: Path) -> None:
    _assert_matches(*tpch, query_file.read_text())


# Partitioning --------------------------------------------------------------------------------


def _plan_frame(context: gsql.Context, client, sql: str, partitions: int | None = 2):
    relation = context.plan(sql)
    backend = DaskBackend("duckdb", client=client, partitions=partitions)
    frame, _ = execute_plan(relation.node, backend)
    return frame


def test_parquet_scan_has_two_partitions(tpch, client) -> None:
    context, _ = tpch
    frame = _plan_frame(context, client, "SELECT l_orderkey FROM lineitem")
    assert frame.npartitions >= 2


def test_memory_scan_has_two_partitions(flights, client) -> None:
    context, _ = flights
    frame = _plan_frame(context, client, "SELECT carrier FROM flights")
    assert frame.npartitions >= 2


def test_csv_scan_has_two_partitions(client) -> None:
    context = gsql.Context(engine="dask", scheduler=client)
    context.register("airlines", flights_files()["airlines"])
    frame = _plan_frame(context, client, "SELECT carrier FROM airlines")
    result = context.sql("SELECT COUNT(*) AS n FROM airlines")

    assert frame.npartitions >= 2
    assert result.rows() == [(16,)]


def test_partitions_option_sets_the_minimum(tpch, client) -> None:
    context, _ = tpch
    frame = _plan_frame(context, client, "SELECT l_orderkey FROM lineitem", partitions=5)
    assert frame.npartitions == 5


def test_tiny_table_gets_one_partition_per_row(tpch, client) -> None:
    context, _ = tpch
    frame = _plan_frame(context, client, "SELECT r_name FROM region", partitions=50)
    assert frame.npartitions == 5


def test_parquet_row_groups_become_partitions(client, tmp_path: Path) -> None:
    path = tmp_path / "numbers.parquet"
    numbers = pa.table({"n": pa.array(range(35), pa.int64())})
    pq.write_table(numbers, path, row_group_size=10)
    context = gsql.Context(engine="dask", scheduler=client)
    context.register("numbers", path)

    frame = _plan_frame(context, client, "SELECT n FROM numbers")
    result = context.sql("SELECT SUM(n) AS total, COUNT(*) AS n FROM numbers")

    assert frame.npartitions == 4
    assert result.rows() == [(595, 35)]


def test_hive_parquet_scan_matches_pandas(client, tmp_path: Path) -> None:
    for year, values in ((2020, [1, 2]), (2021, [3])):
        folder = tmp_path / "events" / f"year={year}"
        folder.mkdir(parents=True)
        table = pa.table(
            {"v": pa.array(values, pa.int64()), "s": pa.array(["a", "b"][: len(values)])}
        )
        pq.write_table(table, folder / "part.parquet")
    sql = "SELECT year, SUM(v) AS total, MAX(s) AS s FROM events GROUP BY year ORDER BY year"

    tables = {}
    for engine in ("pandas", "dask"):
        context = gsql.Context(engine=engine, scheduler=client)
        context.register("events", tmp_path / "events", dtype={"v": "DOUBLE"})
        tables[engine] = context.sql(sql).table

    assert tables["dask"].schema == tables["pandas"].schema
    assert tables["dask"].to_pylist() == [
        {"year": 2020, "total": 3.0, "s": "b"},
        {"year": 2021, "total": 3.0, "s": "a"},
    ]
    assert tables["dask"].equals(tables["pandas"])


def test_invalid_partition_count_raises() -> None:
    with pytest.raises(GsqlError, match="invalid partition count 0"):
        DaskBackend("duckdb", partitions=0)


def test_dask_handles_every_pandas_node() -> None:
    assert set(DaskBackend.handlers) == set(PandasBackend.handlers)


# SQL semantics across partitions -------------------------------------------------------------

# Seven rows in three partitions, with NULL keys, NULL values, a NaN and duplicate rows.
LEFT_ROWS = {
    "k": pa.array([1, 2, None, 2, 4, None, 5], pa.int64()),
    "x": pa.array([10.0, None, 30.0, 40.0, math.nan, 60.0, 70.0], pa.float64()),
    "s": pa.array(["a", "b", None, "b", "d", None, "e"], pa.large_string()),
}
RIGHT_ROWS = {
    "k": pa.array([2, None, 4, 4, 6, None], pa.int32()),
    "y": pa.array([200, 300, None, 400, 600, 700], pa.int64()),
    "s": pa.array(["b", None, "d", "x", "f", None], pa.large_string()),
}


@pytest.fixture(scope="module")
def small(client) -> tuple[gsql.Context, duckdb.DuckDBPyConnection]:
    context = gsql.Context(engine="dask", scheduler=client, partitions=3)
    oracle = duckdb.connect()
    for name, columns in (("l", LEFT_ROWS), ("r", RIGHT_ROWS)):
        table = pa.table(columns)
        context.register(name, table)
        oracle.register(f"{name}_arrow", table)
        oracle.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
    return context, oracle


JOIN_QUERIES = {
    "inner": "SELECT l.k, l.x, r.y FROM l JOIN r ON l.k = r.k",
    "left": "SELECT l.k, l.x, r.k AS rk, r.y FROM l LEFT JOIN r ON l.k = r.k",
    "right": "SELECT l.k, l.x, r.k AS rk, r.y FROM l RIGHT JOIN r ON l.k = r.k",
    "full": "SELECT l.k, l.x, r.k AS rk, r.y FROM l FULL JOIN r ON l.k = r.k",
    "two_keys": "SELECT l.k, l.s, r.y FROM l JOIN r ON l.k = r.k AND l.s = r.s",
    "left_residual": "SELECT l.k, l.x, r.y FROM l LEFT JOIN r ON l.k = r.k AND r.y > 300",
    "full_residual": "SELECT l.k, r.k AS rk, r.y FROM l FULL JOIN r ON l.k = r.k AND l.x < 45",
    "inequality_left": "SELECT l.k, r.k AS rk FROM l LEFT JOIN r ON l.k > r.k",
    "inequality_right": "SELECT l.k, r.k AS rk FROM l RIGHT JOIN r ON l.k > r.k",
    "inequality_full": "SELECT l.k, r.k AS rk FROM l FULL JOIN r ON l.k + 1 < r.k",
    "cross": "SELECT l.k, r.y FROM l CROSS JOIN r",
}


@pytest.mark.parametrize("sql", JOIN_QUERIES.values(), ids=JOIN_QUERIES.keys())
def test_join_with_null_keys(small, sql: str) -> None:
    _assert_matches(*small, sql)


AGGREGATE_QUERIES = {
    "null_group": (
        "SELECT k, COUNT(*) AS n, COUNT(x) AS nx, SUM(x) AS sx, AVG(x) AS ax FROM l GROUP BY k"
    ),
    "all_null_sum": "SELECT s, SUM(y) AS total, MIN(y) AS lo, MAX(y) AS hi FROM r GROUP BY s",
    "count_distinct": "SELECT k, COUNT(DISTINCT s) AS ds, COUNT(*) AS n FROM l GROUP BY k",
    "count_distinct_no_keys": "SELECT COUNT(DISTINCT s) AS ds, COUNT(DISTINCT k) AS dk FROM l",
    "empty_input": (
        "SELECT COUNT(*) AS n, COUNT(x) AS nx, SUM(k) AS sk, AVG(x) AS ax, MIN(s) AS ms, "
        "COUNT(DISTINCT s) AS ds FROM l WHERE k > 100"
    ),
    "empty_input_grouped": "SELECT k, COUNT(*) AS n FROM l WHERE k > 100 GROUP BY k",
    "whole_groups": (
        "SELECT k, MEDIAN(y) AS m, STDDEV_SAMP(y) AS sd, SUM(DISTINCT y) AS sy FROM r GROUP BY k"
    ),
    "booleans": (
        "SELECT s IS NULL AS missing, BOOL_AND(k > 1) AS all_big, BOOL_OR(x > 50) AS any_big "
        "FROM l GROUP BY 1"
    ),
    # NaN is above every number, so a group's MAX is NaN when it contains one.
    "nan_max": "SELECT k, MAX(x) AS hi, MIN(x) AS lo FROM l GROUP BY k",
    "nan_max_no_keys": "SELECT MAX(x) AS hi, MIN(x) AS lo FROM l",
}


@pytest.mark.parametrize("sql", AGGREGATE_QUERIES.values(), ids=AGGREGATE_QUERIES.keys())
def test_aggregate_across_partitions(small, sql: str) -> None:
    _assert_matches(*small, sql)


def test_empty_input_aggregate_returns_one_row(small) -> None:
    context, _ = small
    result = context.sql("SELECT COUNT(*) AS n, SUM(k) AS total FROM l WHERE k > 100")
    assert result.rows() == [(0, None)]


ORDER_QUERIES = {
    "nulls_last": "SELECT k, x FROM l ORDER BY k NULLS LAST, x",
    "nulls_first_desc": "SELECT k, x FROM l ORDER BY k DESC NULLS FIRST, x DESC NULLS LAST",
    "nan_above_numbers": "SELECT x, k FROM l ORDER BY x NULLS FIRST, k",
    "mixed_directions": "SELECT s, k, x FROM l ORDER BY s DESC NULLS LAST, k NULLS FIRST, x",
    "limit": "SELECT k, x FROM l ORDER BY x DESC NULLS LAST, k LIMIT 3",
    "limit_offset": "SELECT k, s FROM l ORDER BY s NULLS FIRST, k NULLS FIRST LIMIT 3 OFFSET 2",
    "offset_only": "SELECT k FROM l ORDER BY k NULLS FIRST OFFSET 4",
    "offset_past_end": "SELECT k FROM l ORDER BY k LIMIT 5 OFFSET 10",
    "hidden_key": "SELECT s FROM l ORDER BY x NULLS FIRST LIMIT 4",
}


@pytest.mark.parametrize("sql", ORDER_QUERIES.values(), ids=ORDER_QUERIES.keys())
def test_order_and_limit_across_partitions(small, sql: str) -> None:
    _assert_matches(*small, sql)


def test_limit_without_order_counts_rows(small) -> None:
    context, _ = small
    assert context.sql("SELECT k FROM l LIMIT 4 OFFSET 2").num_rows == 4


SUBQUERY_AND_SET_QUERIES = {
    "in": "SELECT k, x FROM l WHERE k IN (SELECT k FROM r)",
    "not_in_with_null": "SELECT k FROM l WHERE k NOT IN (SELECT k FROM r)",
    "not_in_without_null": "SELECT k FROM l WHERE k NOT IN (SELECT k FROM r WHERE k IS NOT NULL)",
    "in_empty": "SELECT k FROM l WHERE k NOT IN (SELECT k FROM r WHERE y > 10000)",
    "in_as_value": "SELECT k, k IN (SELECT k FROM r) AS found FROM l",
    "exists": "SELECT k FROM l WHERE EXISTS (SELECT 1 FROM r WHERE r.k = l.k AND r.y > 300)",
    "not_exists": "SELECT k FROM l WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.k = l.k)",
    "exists_uncorrelated": "SELECT k FROM l WHERE EXISTS (SELECT 1 FROM r WHERE y > 650)",
    "scalar": "SELECT k, (SELECT MAX(y) FROM r) AS top FROM l",
    "correlated_scalar": "SELECT k, (SELECT SUM(y) FROM r WHERE r.k = l.k) AS total FROM l",
    "union": "SELECT k, s FROM l UNION SELECT k, s FROM r",
    "union_all": "SELECT k FROM l UNION ALL SELECT k FROM r",
    "intersect": "SELECT k, s FROM l INTERSECT SELECT k, s FROM r",
    "except": "SELECT k, s FROM l EXCEPT SELECT k, s FROM r",
    "intersect_all": "SELECT k FROM l INTERSECT ALL SELECT k FROM r",
    "except_all": "SELECT k FROM l EXCEPT ALL SELECT k FROM r",
    "distinct": "SELECT DISTINCT k, s FROM l",
    "window": "SELECT k, x, ROW_NUMBER() OVER (PARTITION BY k ORDER BY x NULLS FIRST) AS rn FROM l",
    "window_no_partition": "SELECT k, SUM(y) OVER (ORDER BY y NULLS FIRST) AS running FROM r",
}


@pytest.mark.parametrize(
    "sql", SUBQUERY_AND_SET_QUERIES.values(), ids=SUBQUERY_AND_SET_QUERIES.keys()
)
def test_subqueries_and_sets_across_partitions(small, sql: str) -> None:
    _assert_matches(*small, sql)


WINDOW_QUERIES = {
    "exclude": (
        "SELECT k, x, COUNT(x) OVER (PARTITION BY k ORDER BY x NULLS FIRST"
        " ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE CURRENT ROW) AS c FROM l"
    ),
    "filter": "SELECT k, y, COUNT(*) FILTER (WHERE y > 250) OVER (PARTITION BY k) AS c FROM r",
    "argument_order": (
        "SELECT k, y, RANK(ORDER BY y DESC) OVER (PARTITION BY k ORDER BY y NULLS FIRST"
        " ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS rk FROM r"
    ),
    "groups": "SELECT k, y, SUM(y) OVER (ORDER BY k GROUPS 1 PRECEDING) AS g FROM r",
    "mode": "SELECT k, s, MODE(s) OVER (PARTITION BY k) AS m FROM l",
    "covariance": (
        "SELECT k, y, COVAR_POP(y, k) OVER (ORDER BY y NULLS FIRST ROWS 2 PRECEDING) AS c FROM r"
    ),
}


@pytest.mark.parametrize("sql", WINDOW_QUERIES.values(), ids=WINDOW_QUERIES.keys())
def test_window_features_across_partitions(small, sql: str) -> None:
    _assert_matches(*small, sql)


def test_scalar_subquery_with_two_rows_raises(small) -> None:
    context, _ = small
    with pytest.raises(ExecutionError, match="scalar subquery returned 2 rows"):
        context.sql("SELECT k, (SELECT y FROM r WHERE y > 550) AS big FROM l")


def test_integer_sum_overflow_raises(client) -> None:
    context = gsql.Context(engine="dask", scheduler=client, partitions=2)
    context.register("big", pa.table({"v": pa.array([2**62, 2**62, 2**62], pa.int64())}))
    with pytest.raises(ExecutionError, match="integer overflow"):
        context.sql("SELECT SUM(v) AS total FROM big")


def test_default_scheduler_without_client() -> None:
    context = gsql.Context(engine="dask")
    context.register("t", pa.table({"a": [3, 1, 2, None]}))
    result = context.sql("SELECT a FROM t ORDER BY a NULLS FIRST")
    assert result.rows() == [(None,), (1,), (2,), (3,)]


# Cluster and imports -------------------------------------------------------------------------


def test_scheduler_address_from_environment(client, monkeypatch: pytest.MonkeyPatch) -> None:
    address = client.scheduler.address
    monkeypatch.setenv("GSQL_SCHEDULER", address)
    context = gsql.Context(engine="dask")
    context.register("t", pa.table({"a": [1, 2, 3]}))

    result = context.sql("SELECT SUM(a) AS total FROM t")
    connected = client_for(None)

    assert result.rows() == [(6,)]
    assert connected is client_for(address)
    assert connected is not client
    connected.close()


def test_connect_rejects_workers_with_address() -> None:
    with pytest.raises(GsqlError, match="pass only one of them"):
        connect("tcp://127.0.0.1:8786", workers=2)


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )


def test_import_gsql_does_not_import_dask() -> None:
    completed = _run_python(
        """
        import sys
        import gsql
        gsql.Context(engine="dask")
        loaded = sorted(name for name in ("dask", "distributed") if name in sys.modules)
        print(",".join(loaded))
        """
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ""


def test_missing_dask_names_the_extra() -> None:
    completed = _run_python(
        """
        import sys
        sys.modules["dask"] = None
        import pyarrow as pa
        import gsql
        from gsql.errors import EngineUnavailableError
        try:
            context = gsql.Context(engine="dask")
            context.register("t", pa.table({"a": [1]}))
            context.sql("SELECT a FROM t")
        except EngineUnavailableError as error:
            print(error)
        """
    )
    assert completed.returncode == 0, completed.stderr
    assert "pip install 'gsql[dask]'" in completed.stdout


def test_every_plan_node_has_dask_handler() -> None:
    import inspect

    from gsql.engine.dask import DaskBackend
    from gsql.engine.pandas_backend import PandasBackend
    from gsql.sql import plan

    node_classes = [
        member
        for _, member in inspect.getmembers(plan, inspect.isclass)
        if issubclass(member, plan.Node) and member is not plan.Node
    ]
    missing = sorted(kind.__name__ for kind in node_classes if kind not in DaskBackend.handlers)
    assert missing == []
    # Expressions run through the pandas engine's kernels inside each partition.
    assert set(PandasBackend.handlers) <= set(DaskBackend.handlers)
