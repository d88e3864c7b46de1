"""Move aggregates that read only an enclosing query's columns out of its subqueries.

SQL makes an aggregate inside a subquery whose arguments read only columns of an enclosing
query an aggregate of that query: `SELECT (SELECT MAX(t.x)) FROM t` returns one row, the
maximum of `t.x`, because `MAX(t.x)` aggregates the rows of the outer query. This module
finds such aggregates for one SELECT, and replaces each with a column of a table alias of that
SELECT, which the SELECT computes in its own aggregation. The subquery then reads the column
as an ordinary correlated reference.

>>> # SELECT (SELECT MAX(t.x)) FROM t
>>> # becomes
>>> # SELECT (SELECT t._oa0) FROM t    with _oa0 = MAX(t.x) aggregated by the outer SELECT
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from gsql.sql.aggregates import is_aggregate_call
from gsql.sql.subqueries import _local_aliases, free_aliases

__all__ = ["LiftedAggregate", "lift_outer_aggregates"]

# Clauses of the SELECT whose subqueries may contain its aggregates. WHERE, ON and GROUP BY
# are evaluated before aggregation, so an aggregate in their subqueries stays an error.
_AGGREGATING_CLAUSES = ("having", "order", "qualify")

LiftedAggregate = tuple[exp.Expression, exp.Column]


def lift_outer_aggregates(
    select: exp.Select, fresh: Callable[[str], str]
) -> tuple[exp.Select, list[LiftedAggregate]]:
    """Return `select` with its subqueries' outer aggregates replaced, and the aggregates moved.

    Each moved aggregate comes with the column that replaces it in the subqueries. The select
    is copied when anything moves, and `fresh` names the new columns.
    """
    local = _local_aliases(select)
    if not local or not any(_candidates(select, local)):
        return select, []

    select = select.copy()
    lifted: list[LiftedAggregate] = []
    for call in list(_candidates(select, local)):
        column = next((column for aggregate, column in lifted if aggregate == call), None)
        if column is None:
            alias = min(_direct_aliases(call))
            column = exp.column(fresh("oa"), table=alias, quoted=True)
            lifted.append((call.copy(), column))
        call.replace(column.copy())
    return select, lifted


def _candidates(select: exp.Select, local: set[str]):
    """Yield the aggregate calls inside subqueries of `select` that belong to `select`."""
    roots = list(select.expressions)
    roots += [select.args[clause] for clause in _AGGREGATING_CLAUSES if select.args.get(clause)]
    for root in roots:
        for node in root.walk():
            if not is_aggregate_call(node) or isinstance(node.parent, exp.Window):
                continue
            if _belongs_to(node, select, local):
                yield node


def _belongs_to(call: exp.Expression, select: exp.Select, local: set[str]) -> bool:
    """Return whether `call`, found inside `select`, aggregates rows of `select`.

    It does when it sits in a subquery and its arguments read columns of `select` outside
    any subquery of theirs. Its arguments and their subqueries must read no other query's
    columns, and no SELECT between `call` and `select` may define one of those aliases again. DuckDB 2.0 keeps
    `MAX((SELECT t.x))`, whose column sits in a subquery, in the subquery that contains it.
    """
    tables = _direct_aliases(call)
    if not tables or not (tables | free_aliases(call)) <= local:
        return False
    nested = False
    node = call.parent
    while node is not None and node is not select:
        if isinstance(node, exp.Select):
            if _local_aliases(node) & tables:
                return False
            nested = True
        elif is_aggregate_call(node):
            return False
        node = node.parent
    return nested and node is select


def _direct_aliases(call: exp.Expression) -> set[str]:
    """Return the table aliases of the columns in `call` outside its subqueries."""
    boundary = (exp.Select, exp.Subquery)
    nodes = call.walk(prune=lambda node: isinstance(node, boundary))
    return {node.table for node in nodes if isinstance(node, exp.Column) and node.table}
