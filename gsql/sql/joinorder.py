"""Choose the order of inner joins from rough row-count estimates.

The order of inner joins never changes which rows a query returns, only how many rows the
joins in between carry. From a starting FROM item, the planner joins at each step the
connected item whose join it estimates smallest, and it keeps the cheapest of these orders.

The estimates are deliberately simple, because gsql keeps no column statistics:

- a table scan has the row count its source reads cheaply (Parquet metadata, in-memory
  tables), and a CSV file counts as a large table;
- each filter conjunct keeps a fixed share of the rows, smaller for equality than for ranges;
- an equi-join of estimates `a` and `b` returns `a * b / min(A, B)`. `A` and `B` bound the
  distinct values of the two key columns: the table's row count, or the span of an integer
  column (max - min + 1) when that is smaller. That is exact for the common join of a foreign
  key with the primary key of the smaller table, and `min` rather than `max` keeps it from
  predicting that such a join shrinks the larger side. The span catches joins on columns with
  few values, such as TPC-H q05's `c_nationkey = s_nationkey`, which multiply rows.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlglot import exp

from gsql.sql import plan

# Rows assumed for a source that cannot count its rows cheaply (a CSV file).
UNKNOWN_ROWS = 1_000_000.0

_EQUALITY = 0.1
_RANGE = 0.3
_OTHER = 0.5


class RowEstimates:
    """Row estimates for plan nodes. Each source's row count is read once and cached."""

    def __init__(self) -> None:
        self._counts: dict[int, float] = {}
        self._rows: dict[int, float] = {}
        self._alias_rows: dict[tuple[int, str], float] = {}

    def rows(self, node: plan.Node) -> float:
        key = id(node)
        if key not in self._rows:
            self._rows[key] = self._estimate(node)
        return self._rows[key]

    def _estimate(self, node: plan.Node) -> float:
        if isinstance(node, plan.Scan):
            return self.table_rows(node)
        if isinstance(node, plan.Values):
            return float(max(len(node.rows), 1))
        if isinstance(node, plan.Filter):
            return max(self.rows(node.input) * selectivity(node.predicate), 1.0)
        if isinstance(node, plan.Limit) and node.limit is not None:
            return min(self.rows(node.input), float(node.limit))
        if isinstance(node, plan.Aggregate):
            return max(self.rows(node.input) * 0.5, 1.0) if node.keys else 1.0
        if isinstance(node, plan.Join):
            return max(self.rows(node.left), self.rows(node.right))
        inputs = node.inputs
        return max((self.rows(child) for child in inputs), default=1.0)

    def table_rows(self, scan: plan.Scan) -> float:
        key = id(scan.source)
        if key not in self._counts:
            try:
                count = scan.source.row_count()
            except Exception:  # noqa: BLE001 - an estimate must never fail a query
                count = None
            self._counts[key] = float(count) if count is not None else UNKNOWN_ROWS
        return self._counts[key]

    def key_domain(self, node: plan.Node, alias: str, column: str | None) -> float:
        """Return an upper bound on the distinct values of `alias.column`, a join key."""
        rows = self.alias_rows(node, alias)
        if column is None:
            return rows
        frame_name = f"{alias}.{column}"
        for scan in _scans(node):
            if scan.alias == alias and frame_name in scan.columns:
                source_column = scan.source_columns[scan.columns.index(frame_name)]
                span = integer_span(scan.source, source_column)
                return min(rows, span) if span is not None else rows
        return rows

    def alias_rows(self, node: plan.Node, alias: str) -> float:
        """Rows of the table behind `alias` before any filter: the size of its key domain."""
        key = (id(node), alias)
        if key not in self._alias_rows:
            scan = next((scan for scan in _scans(node) if scan.alias == alias), None)
            self._alias_rows[key] = self.table_rows(scan) if scan is not None else self.rows(node)
        return self._alias_rows[key]


def selectivity(predicate: exp.Expression) -> float:
    """Return the share of rows a filter predicate is assumed to keep."""
    while isinstance(predicate, exp.Paren):
        predicate = predicate.this
    if isinstance(predicate, exp.And):
        return selectivity(predicate.this) * selectivity(predicate.expression)
    if isinstance(predicate, exp.Or):
        return min(selectivity(predicate.this) + selectivity(predicate.expression), 1.0)
    if isinstance(predicate, exp.EQ):
        return _EQUALITY
    if isinstance(predicate, exp.In) and predicate.expressions:
        return min(_EQUALITY * len(predicate.expressions), _OTHER)
    if isinstance(predicate, (exp.Between, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike)):
        return _RANGE
    return _OTHER


def join_order(
    items: Sequence[tuple[plan.Node, set[str]]],
    key_pairs: Callable[[set[str], set[str]], list[tuple[exp.Expression, exp.Expression]]],
    estimates: RowEstimates,
) -> list[int]:
    """Return the indexes of `items` (node, aliases) in the order to join them.

    `key_pairs(joined, candidate)` lists the equality key pairs between the aliases joined so
    far and a candidate's aliases. A candidate without any would make a cross product, so it
    waits until nothing else is left. The greedy walk runs from every starting item (from the
    smallest only, past `_EXHAUSTIVE_STARTS` items), and the order with the smallest sum of
    estimated intermediate rows wins. Starting from the smallest table can force a large join
    early, as `nation` before `supplier` and `lineitem` does in TPC-H q09.
    """
    rows = [estimates.rows(node) for node, _ in items]
    connected = [
        any(key_pairs(aliases, other) for j, (_, other) in enumerate(items) if j != i)
        for i, (_, aliases) in enumerate(items)
    ]
    ranked = sorted(range(len(items)), key=lambda i: (not connected[i], rows[i], i))
    starts = ranked if len(items) <= _EXHAUSTIVE_STARTS else ranked[:1]
    best: tuple[float, list[int]] | None = None
    for first in starts:
        cost, order = _greedy(first, items, rows, key_pairs, estimates)
        if best is None or cost < best[0]:
            best = (cost, order)
    assert best is not None
    return best[1]


# Up to this many FROM items, every item is tried as the first one.
_EXHAUSTIVE_STARTS = 8


def _greedy(
    first: int,
    items: Sequence[tuple[plan.Node, set[str]]],
    rows: list[float],
    key_pairs: Callable[[set[str], set[str]], list[tuple[exp.Expression, exp.Expression]]],
    estimates: RowEstimates,
) -> tuple[float, list[int]]:
    """Return the total estimated rows and the order of joining the cheapest item at each step."""
    order = [first]
    joined = set(items[first][1])
    current_rows = rows[first]
    total = 0.0
    remaining = [i for i in range(len(items)) if i != first]
    while remaining:
        best: tuple[float, int] | None = None
        for i in remaining:
            pairs = key_pairs(joined, items[i][1])
            if not pairs:
                continue
            domain = max(_domain(pair, items, order, i, estimates) for pair in pairs)
            size = current_rows * rows[i] / max(domain, 1.0)
            if best is None or size < best[0]:
                best = (size, i)
        if best is None:
            best = (current_rows * rows[remaining[0]], remaining[0])
        size, chosen = best
        current_rows = max(size, 1.0)
        total += current_rows
        order.append(chosen)
        joined |= items[chosen][1]
        remaining.remove(chosen)
    return total, order


def _domain(
    pair: tuple[exp.Expression, exp.Expression],
    items: Sequence[tuple[plan.Node, set[str]]],
    order: list[int],
    candidate: int,
    estimates: RowEstimates,
) -> float:
    """Return the smaller bound on the distinct values of the two key columns of one equality."""
    left, right = pair
    sizes = []
    for side, indexes in ((left, order), (right, [candidate])):
        alias = _single_alias(side)
        owner = next((i for i in indexes if alias in items[i][1]), None) if alias else None
        if owner is None:
            sizes.append(max(estimates.rows(items[i][0]) for i in indexes))
        else:
            column = side.name if isinstance(side, exp.Column) else None
            sizes.append(estimates.key_domain(items[owner][0], alias, column))
    return min(sizes)


def column_type(node: plan.Node, alias: str, column: str) -> pa.DataType | None:
    """Return the Arrow type of `alias.column` when a scan under `node` reads it, else None."""
    frame_name = f"{alias}.{column}"
    for scan in _scans(node):
        if scan.alias == alias and frame_name in scan.columns:
            source_column = scan.source_columns[scan.columns.index(frame_name)]
            try:
                return scan.source.arrow_schema().field(source_column).type
            except Exception:  # noqa: BLE001 - no type means no inference, never an error
                return None
    return None


# (source id, column) -> (weak reference to the source, span). An entry goes when its source
# is freed, so a long-running process that registers many frames does not keep them alive.
_SPANS: dict[tuple[int, str], tuple[weakref.ref, float | None]] = {}


def integer_span(source, column: str) -> float | None:
    """Return max - min + 1 of an integer column from cheap statistics, or None.

    In-memory tables compute it; Parquet files read it from their row-group statistics. CSV
    files, other types and missing statistics give None. The result is cached per source.
    """
    key = (id(source), column)
    entry = _SPANS.get(key)
    if entry is not None and entry[0]() is source:
        return entry[1]
    try:
        span = _span(source, column)
    except Exception:  # noqa: BLE001 - an estimate must never fail a query
        span = None
    try:
        reference = weakref.ref(source, lambda _, key=key: _SPANS.pop(key, None))
    except TypeError:  # an object without weak references is not cached
        return span
    _SPANS[key] = (reference, span)
    return span


def _span(source, column: str) -> float | None:
    if source.format == "memory" and source.data is not None:
        if column not in source.data.column_names:
            return None
        values = source.data.column(column)
        if not pa.types.is_integer(values.type):
            return None
        extremes = pc.min_max(values)
        low, high = extremes["min"].as_py(), extremes["max"].as_py()
        return float(high - low + 1) if low is not None else None
    if source.format != "parquet":
        return None
    low = high = None
    for path in source._get_reader().dataset().files:
        metadata = pq.read_metadata(path)
        names = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
        if column not in names:
            return None
        index = names.index(column)
        for group in range(metadata.num_row_groups):
            statistics = metadata.row_group(group).column(index).statistics
            if statistics is None or not statistics.has_min_max or not isinstance(statistics.min, int):
                return None
            low = statistics.min if low is None else min(low, statistics.min)
            high = statistics.max if high is None else max(high, statistics.max)
    return float(high - low + 1) if low is not None else None


def _single_alias(expression: exp.Expression) -> str | None:
    tables = {column.table for column in expression.find_all(exp.Column) if column.table}
    return tables.pop() if len(tables) == 1 else None


def _scans(node: plan.Node):
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, plan.Scan):
            yield current
        stack.extend(current.inputs)
