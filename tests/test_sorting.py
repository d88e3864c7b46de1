"""The top-N sort under a LIMIT must rank rows exactly as the full stable sort does."""

from __future__ import annotations

import itertools
import random

import pyarrow as pa
import pytest

import gsql
from gsql.engine.sorting import sort_indices, top_indices
from gsql.sql import plan
from gsql.sql.plan import SortKey


def _table(rows: int, seed: int) -> pa.Table:
    generator = random.Random(seed)
    numbers = [
        generator.choice([None, 0, 1, 2, 3, 4]) if generator.random() < 0.5 else generator.randint(-50, 50)
        for _ in range(rows)
    ]
    return pa.table(
        {
            "a": pa.array(numbers, pa.int64()),
            "b": pa.array([generator.randint(0, 3) for _ in range(rows)], pa.int64()),
            "s": pa.array([generator.choice(["x", "y", None, "aa"]) for _ in range(rows)], pa.large_string()),
            "f": pa.array([generator.choice([1.5, float("nan"), None, -2.0]) for _ in range(rows)]),
        }
    )


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("column", ["a", "s", "f"])
def test_top_rows_match_full_sort(seed, column):
    table = _table(random.Random(seed).randint(0, 300), seed)
    generator = random.Random(seed + 1000)
    for descending, nulls_first in itertools.product([False, True], [False, True]):
        keys = [SortKey(column, descending, nulls_first), SortKey("b", generator.random() < 0.5)]
        for count in (1, 3, max(1, table.num_rows // 5), table.num_rows + 1):
            expected = sort_indices(table, keys)[:count].to_pylist()
            assert top_indices(table, keys, count).to_pylist() == expected


@pytest.fixture
def context() -> gsql.Context:
    context = gsql.Context(engine="pandas")
    context.register("t", _table(50, 7))
    return context


def _sorts(node: plan.Node) -> list[plan.Sort]:
    found = [node] if isinstance(node, plan.Sort) else []
    for child in node.inputs:
        found += _sorts(child)
    return found


def test_limit_marks_its_own_sort(context):
    sorts = _sorts(context.plan("SELECT a FROM t ORDER BY a DESC LIMIT 3 OFFSET 2").node)
    assert [sort.top for sort in sorts] == [5]


def test_limit_leaves_cte_sort_alone(context):
    sorts = _sorts(context.plan("WITH s AS (SELECT a FROM t ORDER BY a) SELECT * FROM s LIMIT 1").node)
    assert sorts
    assert all(sort.top is None for sort in sorts)
