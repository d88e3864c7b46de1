"""Clauses checked or rewritten before binding: the ones the planner would otherwise skip.

sqlglot parses many dialect clauses into arguments that the plan builder never reads, such
as `TABLESAMPLE`, `LIMIT 10%` or a time-travel `AT (VERSION => 1)`. Ignoring one changes the
result, so each is rejected by name here. `GROUP BY ALL` is rewritten into the select-list
positions it stands for.
"""

from __future__ import annotations

from sqlglot import exp

from gsql.errors import BindError, UnsupportedError
from gsql.sql.aggregates import is_aggregate_call

__all__ = ["check_clauses"]

# Table arguments that change which rows a table reference reads.
_TABLE_CLAUSES = {
    "sample": "TABLESAMPLE",
    "when": "AT/BEFORE (time travel)",
    "version": "a table version",
    "system_time": "FOR SYSTEM_TIME",
    "changes": "CHANGES",
    "pivots": "PIVOT/UNPIVOT",
    "partition": "PARTITION",
    "ordinality": "WITH ORDINALITY",
    "rows_from": "ROWS FROM",
    "only": "ONLY",
    "hints": "table hints",
    "indexed": "INDEXED BY",
    "pattern": "a file pattern",
    "format": "a file format",
}
_SUBQUERY_CLAUSES = {"sample": "TABLESAMPLE", "pivots": "PIVOT/UNPIVOT"}


def check_clauses(expression: exp.Expression, table_columns: dict[str, list[str]]) -> None:
    """Reject clauses the planner cannot honour, and rewrite `GROUP BY ALL`, in place.

    `table_columns` maps each table name as written in the query to its column names. With
    it, `* EXCLUDE (...)` and `* REPLACE (...)` over plain tables check the names they list.
    """
    for node in list(expression.walk()):
        if isinstance(node, exp.Table):
            _reject(node, _TABLE_CLAUSES)
        elif isinstance(node, exp.Subquery):
            _reject(node, _SUBQUERY_CLAUSES)
        elif isinstance(node, (exp.Limit, exp.Fetch)):
            options = node.args.get("limit_options")
            if options is not None and (options.args.get("percent") or options.args.get("with_ties")):
                clause = "a LIMIT in percent" if options.args.get("percent") else "WITH TIES"
                raise UnsupportedError(f"{clause} is not supported (in `{node.sql()[:80]}`)")
        elif isinstance(node, exp.Group):
            if node.args.get("totals"):
                raise UnsupportedError("GROUP BY ... WITH TOTALS is not supported")
        elif isinstance(node, exp.Select):
            _check_star_columns(node, table_columns)
    for select in list(expression.find_all(exp.Select)):
        group = select.args.get("group")
        if group is not None and group.args.get("all"):
            _expand_group_by_all(select, group)


def _reject(node: exp.Expression, clauses: dict[str, str]) -> None:
    for argument, clause in clauses.items():
        if node.args.get(argument):
            raise UnsupportedError(f"{clause} is not supported (in `{node.sql()[:80]}`)")


def _expand_group_by_all(select: exp.Select, group: exp.Group) -> None:
    """Group by the positions of the select items that contain no aggregate, as DuckDB does."""
    if group.expressions or any(group.args.get(key) for key in ("grouping_sets", "cube", "rollup")):
        raise UnsupportedError("GROUP BY ALL together with other grouping items is not supported")
    positions = []
    for position, item in enumerate(select.expressions, start=1):
        if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and item.is_star):
            raise UnsupportedError("GROUP BY ALL with `*` in the select list is not supported")
        if any(isinstance(node, exp.Window) for node in item.walk()):
            raise UnsupportedError("GROUP BY ALL with a window function in the select list is not supported")
        if not any(is_aggregate_call(node) for node in item.walk()):
            positions.append(exp.Literal.number(position))
    if positions:
        select.set("group", exp.Group(expressions=positions))
    else:
        select.set("group", None)


def _check_star_columns(select: exp.Select, table_columns: dict[str, list[str]]) -> None:
    """Check that `* EXCLUDE/REPLACE/RENAME (...)` names columns that the star reads.

    Only a star over plain tables is checked; over subqueries and CTEs the names are left to
    the expansion.
    """
    for item in select.expressions:
        star = item.this if isinstance(item, exp.Column) else item
        if not isinstance(star, exp.Star):
            continue
        listed = []
        for argument in ("except_", "replace", "rename"):
            listed.extend(star.args.get(argument) or [])
        if not listed:
            continue
        available = _star_columns(select, item, table_columns)
        if available is None:
            continue
        for entry in listed:
            name = _listed_name(entry)
            if name is not None and name.lower() not in available:
                raise BindError(
                    f"column `{name}` in `{star.sql()[:80]}` is not a column that `*` reads; "
                    f"the columns are {', '.join(f'`{column}`' for column in sorted(available))}"
                )


def _star_columns(select: exp.Select, item: exp.Expression, table_columns: dict[str, list[str]]) -> set[str] | None:
    from_ = select.args.get("from_")
    items = ([from_.this] if from_ is not None else []) + [join.this for join in select.args.get("joins") or []]
    if isinstance(item, exp.Column) and item.table:
        items = [table for table in items if table.alias_or_name == item.table]
    columns: set[str] = set()
    for table in items:
        if not isinstance(table, exp.Table) or table.name not in table_columns:
            return None
        columns.update(column.lower() for column in table_columns[table.name])
    return columns if items else None


def _listed_name(entry: exp.Expression) -> str | None:
    if isinstance(entry, exp.Alias):
        return entry.alias
    if isinstance(entry, (exp.Column, exp.Identifier)):
        return entry.name
    return None
