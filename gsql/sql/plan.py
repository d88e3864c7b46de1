"""gsql's logical plan: a small relational IR whose expressions stay sqlglot expressions.

Every node produces a frame whose columns carry the unique names in `Node.columns`. Expressions
inside a node refer to the columns of the node's input frames only, through unqualified
`exp.Column` references whose name is the frame column name, so an engine evaluates them without
knowing anything about SQL scopes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlglot import exp

if TYPE_CHECKING:
    from gsql.catalogs import TableSource

__all__ = [
    "Aggregate",
    "AggregateCall",
    "Distinct",
    "Filter",
    "FrameInterval",
    "Join",
    "Limit",
    "MarkJoin",
    "Node",
    "Project",
    "Recursive",
    "Scan",
    "SetOperation",
    "SingleRow",
    "Sort",
    "SortKey",
    "Values",
    "Window",
    "WindowCall",
    "WorkingTable",
    "format_plan",
]


@dataclass(eq=False)
class Node:
    """Base of every plan node."""

    columns: list[str]

    @property
    def inputs(self) -> list[Node]:
        return []

    def describe(self) -> str:
        """Return the one-line summary that `format_plan` prints for this node."""
        return type(self).__name__


@dataclass(eq=False)
class Scan(Node):
    """Read `source_columns` of a table source, renamed to `columns`."""

    source: TableSource = field(repr=False, default=None)  # type: ignore[assignment]
    alias: str = ""
    source_columns: list[str] = field(default_factory=list)

    def describe(self) -> str:
        where = ", ".join(self.source.paths) or "in memory"
        read = ", ".join(self.source_columns) or "no columns"
        return f"Scan {self.source.name} AS {self.alias} [{self.source.format}: {where}] ({read})"


@dataclass(eq=False)
class Values(Node):
    """Literal rows: `rows` contains one tuple of literal expressions per row."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    types: list[exp.DataType | None] = field(default_factory=list)

    def describe(self) -> str:
        return f"Values {len(self.rows)} row(s) x {len(self.columns)} column(s)"


@dataclass(eq=False)
class Filter(Node):
    """Keep the rows for which `predicate` is TRUE (NULL and FALSE rows are dropped)."""

    input: Node = None  # type: ignore[assignment]
    predicate: exp.Expression = None  # type: ignore[assignment]

    @property
    def inputs(self) -> list[Node]:
        return [self.input]

    def describe(self) -> str:
        return f"Filter {self.predicate.sql()}"


@dataclass(eq=False)
class Project(Node):
    """Compute one expression per output column."""

    input: Node = None  # type: ignore[assignment]
    expressions: list[exp.Expression] = field(default_factory=list)

    @property
    def inputs(self) -> list[Node]:
        return [self.input]

    def describe(self) -> str:
        items = ", ".join(
            f"{e.sql()} AS {name}" if not _is_column(e, name) else name
            for name, e in zip(self.columns, self.expressions)
        )
        return f"Project {items}"


@dataclass(eq=False)
class AggregateCall:
    """One aggregate: `function` is the sqlglot class name in lower case (`sum`, `count`, ...).

    `argument` is the name of an input column, or None for COUNT(*). `distinct` applies the
    aggregate to distinct non-NULL values.
    """

    function: str
    argument: str | None
    distinct: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def sql(self) -> str:
        inner = "*" if self.argument is None else self.argument
        if self.distinct:
            inner = f"DISTINCT {inner}"
        return f"{self.function.upper()}({inner})"


@dataclass(eq=False)
class Aggregate(Node):
    """Group by the `keys` columns of the input and compute `aggregates`.

    The output contains the key columns under their input names first, then one column per
    aggregate. With no keys the output has exactly one row, even over an empty input.
    """

    input: Node = None  # type: ignore[assignment]
    keys: list[str] = field(default_factory=list)
    aggregates: list[AggregateCall] = field(default_factory=list)

    @property
    def inputs(self) -> list[Node]:
        return [self.input]

    def describe(self) -> str:
        keys = ", ".join(self.keys) or "()"
        calls = ", ".join(
            f"{call.sql()} AS {name}"
            for name, call in zip(self.columns[len(self.keys) :], self.aggregates)
        )
        return f"Aggregate keys={keys} {calls}"


@dataclass(eq=False)
class WindowCall:
    """One window function over partitions and an ordering of the input rows.

    `filter` names a BOOLEAN column: an aggregate reads only the rows where it is true
    (`SUM(x) FILTER (WHERE c)`). `argument_order` is the ORDER BY written inside the function's
    arguments (`FIRST_VALUE(x ORDER BY y)`), which orders the rows of each frame.
    """

    function: str
    arguments: list[str]
    partition_by: list[str]
    order_by: list[SortKey]
    frame: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    filter: str | None = None
    argument_order: list[SortKey] = field(default_factory=list)

    def columns_read(self) -> set[str]:
        """Return every input column that the call reads."""
        names = set(self.arguments) | set(self.partition_by)
        names |= {key.column for key in [*self.order_by, *self.argument_order]}
        if self.filter is not None:
            names.add(self.filter)
        return names

    def sql(self) -> str:
        over = []
        if self.partition_by:
            over.append("PARTITION BY " + ", ".join(self.partition_by))
        if self.order_by:
            over.append("ORDER BY " + ", ".join(key.sql() for key in self.order_by))
        if self.frame:
            start, end = self.frame["start"], self.frame["end"]
            over.append(f"{self.frame['kind'].upper()} {_bound_sql(start)} TO {_bound_sql(end)}")
            if self.frame.get("exclude"):
                over.append(f"EXCLUDE {self.frame['exclude'].upper()}")
        inner = ", ".join(self.arguments)
        if self.argument_order:
            order = "ORDER BY " + ", ".join(key.sql() for key in self.argument_order)
            inner = f"{inner} {order}" if inner else order
        text = f"{self.function.upper()}({inner})"
        if self.filter is not None:
            text += f" FILTER (WHERE {self.filter})"
        return f"{text} OVER ({' '.join(over)})"


@dataclass(frozen=True)
class FrameInterval:
    """An INTERVAL offset of a RANGE window frame bound, in SQL's interval parts."""

    months: int
    days: int
    nanoseconds: int

    def __str__(self) -> str:
        return f"INTERVAL '{self.months} months {self.days} days {self.nanoseconds} nanoseconds'"


def _bound_sql(bound: tuple[str, Any]) -> str:
    side, offset = bound
    if side == "current":
        return "CURRENT ROW"
    return f"{'UNBOUNDED' if offset is None else offset} {side.upper()}"


@dataclass(eq=False)
class Window(Node):
    """Append one column per window call to the input columns."""

    input: Node = None  # type: ignore[assignment]
    calls: list[WindowCall] = field(default_factory=list)

    @property
    def inputs(self) -> list[Node]:
        return [self.input]

    def describe(self) -> str:
        own = self.columns[len(self.columns) - len(self.calls) :]
        return "Window " + ", ".join(f"{call.sql()} AS {name}" for name, call in zip(own, self.calls))


@dataclass(eq=False)
class Join(Node):
    """Join two inputs on equal keys, with an optional residual predicate.

    `kind` is one of `inner`, `left`, `right`, `full`, `cross`. Key pairs compare with SQL
    equality, so NULL keys never match. The output contains the left columns, then the right.
    """

    left: Node = None  # type: ignore[assignment]
    right: Node = None  # type: ignore[assignment]
    kind: str = "inner"
    left_keys: list[str] = field(default_factory=list)
    right_keys: list[str] = field(default_factory=list)
    residual: exp.Expression | None = None

    @property
    def inputs(self) -> list[Node]:
        return [self.left, self.right]

    def describe(self) -> str:
        pairs = " AND ".join(f"{a} = {b}" for a, b in zip(self.left_keys, self.right_keys))
        residual = f" residual {self.residual.sql()}" if self.residual is not None else ""
        return f"Join {self.kind.upper()} on {pairs or 'TRUE'}{residual}"


@dataclass(eq=False)
class MarkJoin(Node):
    """Append to the left rows a boolean column `mark` telling whether a right row matches.

    A right row matches when the key pairs are equal and `residual` is TRUE. Without a probe
    (EXISTS) the mark is TRUE or FALSE. With a probe (`x IN (subquery)`) it follows SQL's IN:
    TRUE when a matching right row has `probe_right` equal to `probe_left`; otherwise NULL when
    matching right rows exist and either the probe or one of their values is NULL; else FALSE.
    """

    left: Node = None  # type: ignore[assignment]
    right: Node = None  # type: ignore[assignment]
    left_keys: list[str] = field(default_factory=list)
    right_keys: list[str] = field(default_factory=list)
    residual: exp.Expression | None = None
    probe_left: str | None = None
    probe_right: str | None = None
    mark: str = ""

    @property
    def inputs(self) -> list[Node]:
        return [self.left, self.right]

    def describe(self) -> str:
        pairs = " AND ".join(f"{a} = {b}" for a, b in zip(self.left_keys, self.right_keys))
        probe = f" probe {self.probe_left} IN {self.probe_right}" if self.probe_left else ""
        residual = f" residual {self.residual.sql()}" if self.residual is not None else ""
        return f"MarkJoin {self.mark} on {pairs or 'TRUE'}{probe}{residual}"


@dataclass(eq=False)
class WorkingTable(Node):
    """The rows that a recursive CTE's previous iteration added, read by its recursive term."""

    def describe(self) -> str:
        return "WorkingTable"


@dataclass(eq=False)
class Recursive(Node):
    """WITH RECURSIVE: `base`, then `step` rerun on the rows of the previous run until none.

    `step` reads those rows through `working`, and the whole result so far through
    `recurring` (DuckDB's `recurring.t`), when it reads that. With `all` False (UNION) rows
    already in the result are dropped from each run, so a cycle in the data ends the recursion.

    With DuckDB's `USING KEY`, `key` names the key columns and the result contains one row per
    key: a new row replaces the row with the same key, the last one winning within a run.
    `aggregated` names the columns that aggregate over every row ever produced for the key
    instead: `state` computes them from `history`, the rows so far plus a group number column
    and a row number column, and returns the group number column followed by one column for
    each of `aggregated`. The columns in `first_values` keep the first non-NULL value produced
    for the key (DuckDB's ANY_VALUE in USING KEY).
    """

    base: Node = None  # type: ignore[assignment]
    step: Node = None  # type: ignore[assignment]
    working: WorkingTable = None  # type: ignore[assignment]
    all: bool = True
    recurring: WorkingTable | None = None
    key: list[str] = field(default_factory=list)
    aggregated: list[str] = field(default_factory=list)
    history: WorkingTable | None = None
    state: Node | None = None
    first_values: list[str] = field(default_factory=list)

    @property
    def inputs(self) -> list[Node]:
        return [self.base]

    def describe(self) -> str:
        key = f" USING KEY ({', '.join(self.key)})" if self.key else ""
        return f"Recursive UNION{' ALL' if self.all else ''}{key}"


@dataclass(eq=False)
class SingleRow(Node):
    """Pass a scalar subquery's result through: one row, a row of NULLs for no rows, or an error."""

    input: Node = None  # type: ignore[assignment]

    @property
    def inputs(self) -> list[Node]:
        return [self.input]


@dataclass(eq=False)
class SortKey:
    """One ORDER BY key: an input column, its direction and where NULLs go."""

    column: str
    descending: bool = False
    nulls_first: bool = False

    def sql(self) -> str:
        direction = "DESC" if self.descending else "ASC"
        nulls = "NULLS FIRST" if self.nulls_first else "NULLS LAST"
        return f"{self.column} {direction} {nulls}"


@dataclass(eq=False)
class Sort(Node):
    """Order the rows by `keys`; the sort is stable.

    `top`, when set, means that a LIMIT above reads only the first `top` rows, so an engine
    may return just those. Engines that ignore it stay correct, because the LIMIT remains.
    """

    input: Node = None  # type: ignore[assignment]
    keys: list[SortKey] = field(default_factory=list)
    top: int | None = None

    @property
    def inputs(self) -> list[Node]:
        return [self.input]

    def describe(self) -> str:
        return "Sort " + ", ".join(key.sql() for key in self.keys)


@dataclass(eq=False)
class Limit(Node):
    """Skip `offset` rows, then keep at most `limit` rows (None keeps all)."""

    input: Node = None  # type: ignore[assignment]
    limit: int | None = None
    offset: int = 0

    @property
    def inputs(self) -> list[Node]:
        return [self.input]

    def describe(self) -> str:
        return f"Limit {self.limit if self.limit is not None else 'ALL'} offset {self.offset}"


@dataclass(eq=False)
class Distinct(Node):
    """Keep one row of each group of rows equal on every column (NULL equals NULL)."""

    input: Node = None  # type: ignore[assignment]

    @property
    def inputs(self) -> list[Node]:
        return [self.input]


@dataclass(eq=False)
class SetOperation(Node):
    """UNION, INTERSECT or EXCEPT of inputs with the same number of columns, matched by position."""

    left: Node = None  # type: ignore[assignment]
    right: Node = None  # type: ignore[assignment]
    kind: str = "union"
    all: bool = False

    @property
    def inputs(self) -> list[Node]:
        return [self.left, self.right]

    def describe(self) -> str:
        return f"{self.kind.capitalize()}{' ALL' if self.all else ''}"


def _is_column(expression: exp.Expression, name: str) -> bool:
    return isinstance(expression, exp.Column) and expression.name == name


def format_plan(node: Node, indent: int = 0) -> str:
    """Render a plan as an indented tree, one node a line."""
    lines = ["  " * indent + node.describe()]
    for child in node.inputs:
        lines.append(format_plan(child, indent + 1))
    if isinstance(node, Recursive):
        lines.append("  " * (indent + 1) + "recursive term:")
        lines.append(format_plan(node.step, indent + 2))
    return "\n".join(lines)
