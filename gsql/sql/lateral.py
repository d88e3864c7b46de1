"""LATERAL joins: a subquery in FROM evaluated once for each row of the items before it.

The left rows are numbered, and every SELECT of the subquery that reads them joins the
numbered rows into its FROM and carries the number along, so the subquery runs once for all
left rows. DuckDB also treats a subquery in FROM that reads an earlier FROM item as LATERAL
without the keyword.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from gsql.errors import UnsupportedError
from gsql.sql import plan
from gsql.sql.joins import _join_method, _number_rows, has_subquery, plan_join_with_subqueries

if TYPE_CHECKING:
    from gsql.sql.build import Scope, _FromItem, _PlanBuilder

__all__ = [
    "LATERAL_ROW",
    "depends_on_lateral",
    "is_lateral",
    "lateral_block_items",
    "lateral_query",
    "plan_lateral_join",
]

# The column through which the rows of a lateral subquery name the outer row they belong to.
LATERAL_ROW = "__gsql_lateral_row"
_LATERAL_BLOCK = "gsql_lateral_block"


@dataclass
class LateralDomain:
    """The outer rows that a lateral subquery reads, numbered.

    `columns` maps each (outer alias, column) that the subquery reads to its frame column in
    `node`, and `row` is the frame column with the row number.
    """

    node: plan.Node
    row: str
    columns: dict[tuple[str, str], str]

    @property
    def aliases(self) -> set[str]:
        return {alias for alias, _ in self.columns}


def is_lateral(join: exp.Join, earlier: set[str]) -> bool:
    """Return whether a join's item is LATERAL, or a subquery that reads earlier FROM items.

    DuckDB treats a subquery in FROM that reads the columns of an earlier FROM item as a
    LATERAL one without the keyword.
    """
    item = join.this
    if isinstance(item, exp.Lateral):
        return True
    from gsql.sql.subqueries import free_aliases

    return isinstance(item, exp.Subquery) and bool(free_aliases(item.this) & earlier)


def depends_on_lateral(builder: _PlanBuilder, query: exp.Expression) -> bool:
    """Return whether a FROM subquery or CTE body reads the outer rows of the current LATERAL."""
    from gsql.sql.subqueries import free_aliases

    domain = builder.lateral
    return domain is not None and bool(free_aliases(query) & domain.aliases)


def plan_lateral_join(
    builder: _PlanBuilder, left: _FromItem, join: exp.Join, kind: str, ctes: dict, scope: Scope
) -> _FromItem:
    """Join `left` with a LATERAL subquery evaluated for each of its rows.

    The left rows are numbered. Every SELECT of the subquery that reads them (the subquery
    itself, its FROM subqueries and CTEs) joins the numbered outer rows into its FROM and
    returns their number, and groups by it where it groups. The subquery's rows then join the
    left rows with the same number, which is its result for each left row.
    """
    from gsql.sql.build import _FromItem
    from gsql.sql.subqueries import conjuncts, free_aliases

    item = join.this
    alias = item.alias_or_name
    subquery = item.this if isinstance(item, exp.Lateral) else item
    body = subquery.this if isinstance(subquery, exp.Subquery) else subquery
    if kind not in ("inner", "cross", "left"):
        raise UnsupportedError(f"{kind.upper()} JOIN LATERAL is not supported; use LEFT or INNER")
    outer = free_aliases(body) & left.aliases
    if outer & _local_aliases_deep(body):
        raise UnsupportedError(
            "a LATERAL subquery that reuses an outer table alias is not supported"
        )

    row = builder.fresh("lrow")
    numbered = _number_rows(left.relation, row)
    columns: dict[tuple[str, str], str] = {}
    for column in body.find_all(exp.Column):
        key = (column.table, column.name)
        if column.table in outer and key in scope.columns:
            columns[key] = scope.columns[key]
    domain = LateralDomain(numbered, row, columns)

    saved = builder.lateral
    builder.lateral = domain
    try:
        relation = lateral_query(builder, body, ctes)
    finally:
        builder.lateral = saved
    right = builder._rename(relation, alias, scope)

    left_alias = builder.fresh("lat")
    scope.columns[(left_alias, LATERAL_ROW)] = row
    left = _FromItem(numbered, left.aliases | {left_alias})
    on = join.args.get("on")
    condition = list(conjuncts(on)) if on is not None else []
    condition.append(
        exp.EQ(this=exp.column(LATERAL_ROW, left_alias), expression=exp.column(LATERAL_ROW, alias))
    )
    join_kind = "left" if kind == "left" else "inner"
    if any(has_subquery(conjunct) for conjunct in condition):
        return plan_join_with_subqueries(builder, left, right, join_kind, condition, scope)
    return builder._join(left, right, join_kind, condition, scope)


def lateral_query(builder: _PlanBuilder, query: exp.Expression, ctes: dict):
    """Build a SELECT that reads the outer rows of the current LATERAL, with their number added.

    The result has the columns of `query` and then `LATERAL_ROW`.
    """
    if not isinstance(query, exp.Select):
        raise UnsupportedError(
            "a set operation that reads the outer rows of a LATERAL join is not supported"
        )
    for clause in ("limit", "offset", "qualify", "windows", "distinct"):
        value = query.args.get(clause)
        if value and not (clause == "distinct" and not value.args.get("on")):
            raise UnsupportedError(
                f"{clause.upper()} in a subquery that reads the outer rows of a LATERAL join is not supported"
            )
    if any(isinstance(node, exp.Window) for item in query.expressions for node in item.walk()):
        raise UnsupportedError(
            "a window function in a subquery that reads the outer rows of a LATERAL join is not supported"
        )
    from gsql.sql.aggregates import is_aggregate_call

    group = query.args.get("group")
    if group is not None and any(
        isinstance(item, (exp.GroupingSets, exp.Rollup, exp.Cube)) for item in group.expressions
    ):
        # Their grand-total sets make a row even for an outer row that meets no rows, which
        # grouping by the outer row number cannot produce.
        raise UnsupportedError(
            "GROUPING SETS, ROLLUP or CUBE in a subquery that reads the outer rows of a LATERAL "
            "join is not supported"
        )
    aggregated = any(is_aggregate_call(node) for item in query.expressions for node in item.walk())
    if aggregated and group is None:
        raise UnsupportedError(
            "an aggregate without GROUP BY in a subquery that reads the outer rows of a LATERAL "
            "join is not supported"
        )

    block_alias = builder.fresh("lat")
    modified = query.copy()
    row = exp.column(LATERAL_ROW, block_alias)
    modified.set("expressions", [*modified.expressions, exp.alias_(row, LATERAL_ROW)])
    if group is not None:
        modified_group = modified.args["group"]
        modified_group.set("expressions", [*modified_group.expressions, row.copy()])
    modified.meta[_LATERAL_BLOCK] = block_alias
    return builder.query(modified, ctes)


def lateral_block_items(
    builder: _PlanBuilder, select: exp.Select, scope: Scope, items: list
) -> list:
    """Prepend the numbered outer rows to the FROM items of a SELECT built by `lateral_query`.

    Every FROM item that returns the outer row number itself (a FROM subquery or CTE that reads
    the outer rows) is joined on that number. Any other SELECT may not read such an item.
    """
    from gsql.sql.build import _FromItem, _ref

    block_alias = select.meta.get(_LATERAL_BLOCK)
    carrying = [
        item for item, _ in items if any((a, LATERAL_ROW) in scope.columns for a in item.aliases)
    ]
    if block_alias is None:
        if carrying:
            raise UnsupportedError(
                "a subquery that reads a FROM subquery or CTE depending on a LATERAL join's "
                "outer rows is not supported"
            )
        return items
    for _, join in items[1:]:
        side = (join.side or "").upper() if join is not None else ""
        if side in ("RIGHT", "FULL") or _join_method(join) in ("POSITIONAL", "ASOF"):
            raise UnsupportedError(
                f"a {side or _join_method(join)} join inside a LATERAL subquery is not supported"
            )

    domain = builder.lateral
    names = {key: builder.fresh("lc") for key in domain.columns}
    row = builder.fresh("lr")
    node = plan.Project(
        list(names.values()) + [row],
        input=domain.node,
        expressions=[_ref(domain.columns[key]) for key in names] + [_ref(domain.row)],
    )
    for key, name in names.items():
        scope.columns[key] = name
    scope.columns[(block_alias, LATERAL_ROW)] = row
    domain_item = _FromItem(node, domain.aliases | {block_alias})

    joined = []
    for item, join in items:
        links = [
            exp.EQ(
                this=exp.column(LATERAL_ROW, block_alias), expression=exp.column(LATERAL_ROW, alias)
            )
            for alias in sorted(item.aliases)
            if (alias, LATERAL_ROW) in scope.columns
        ]
        if join is None:
            join = exp.Join(this=exp.to_table("_lateral_item"))
        if links:
            on = join.args.get("on")
            join = join.copy()
            join.set("on", exp.and_(*([on] if on is not None else []), *links, copy=False))
        joined.append((item, join))
    return [(domain_item, None)] + joined


def _local_aliases_deep(query: exp.Expression) -> set[str]:
    aliases = set()
    for select in query.find_all(exp.Select):
        from_ = select.args.get("from_")
        if from_ is not None:
            aliases.add(from_.this.alias_or_name)
        for join in select.args.get("joins") or []:
            aliases.add(join.this.alias_or_name)
    return aliases
