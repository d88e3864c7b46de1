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

from gsql.errors import BindError, UnsupportedError
from gsql.sql import plan
from gsql.sql.aggregates import value_over_no_rows
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
# The column that carries the HAVING condition of a LATERAL subquery aggregating without GROUP BY.
_HAVING = "__gsql_lateral_having"


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

    if aggregates_without_group(body) and (body.args.get("limit") or body.args.get("offset")):
        body = body.copy()
        _limit_one_row(body)
    saved = builder.lateral
    builder.lateral = domain
    try:
        relation = lateral_query(builder, body, ctes, whole_subquery=True)
    finally:
        builder.lateral = saved
    right = builder._rename(relation, alias, scope)

    left_alias = builder.fresh("lat")
    scope.columns[(left_alias, LATERAL_ROW)] = row
    left = _FromItem(numbered, left.aliases | {left_alias})
    on = join.args.get("on")
    condition = list(conjuncts(on)) if on is not None else []
    same_row = exp.EQ(
        this=exp.column(LATERAL_ROW, left_alias), expression=exp.column(LATERAL_ROW, alias)
    )
    if aggregates_without_group(body):
        right = _complete_one_row_each(builder, left, right, body, same_row, scope)
    elif _grand_total_sets(body):
        right = _complete_grand_totals(builder, left, right, body, same_row, scope)
    condition.append(same_row)
    join_kind = "left" if kind == "left" else "inner"
    if any(has_subquery(conjunct) for conjunct in condition):
        return plan_join_with_subqueries(builder, left, right, join_kind, condition, scope)
    return builder._join(left, right, join_kind, condition, scope)


def lateral_query(
    builder: _PlanBuilder, query: exp.Expression, ctes: dict, whole_subquery: bool = False
):
    """Build a SELECT that reads the outer rows of the current LATERAL, with their number added.

    The result has the columns of `query` and then `LATERAL_ROW`. `whole_subquery` is set
    for the LATERAL subquery itself, whose aggregate without GROUP BY `plan_lateral_join`
    completes for the outer rows that meet no rows.
    """
    if isinstance(query, exp.SetOperation):
        return _lateral_set_operation(builder, query, ctes)
    if isinstance(query, exp.Subquery) and not any(
        query.args.get(clause) for clause in ("order", "limit", "offset")
    ):
        return lateral_query(builder, query.this, ctes)
    if not isinstance(query, exp.Select):
        raise UnsupportedError(
            f"`{query.sql()[:80]}` in a subquery that reads the outer rows of a LATERAL join is "
            "not supported"
        )
    for clause in ("windows", "distinct"):
        value = query.args.get(clause)
        if value and not (clause == "distinct" and not value.args.get("on")):
            raise UnsupportedError(
                f"{clause.upper()} in a subquery that reads the outer rows of a LATERAL join is not supported"
            )
    from gsql.sql.subqueries import _own_windows

    group = query.args.get("group")
    if _grand_total_sets(query) and not whole_subquery:
        # A grand-total set makes a row even for an outer row that meets no rows, which
        # grouping by the outer row number cannot produce.
        raise UnsupportedError(
            "GROUPING SETS, ROLLUP or CUBE with a grand total in a FROM subquery or CTE that reads "
            "the outer rows of a LATERAL join is not supported"
        )
    _reject_outer_aggregates(builder, query)
    ungrouped_aggregate = group is None and aggregates_without_group(query)
    if ungrouped_aggregate and not whole_subquery:
        raise UnsupportedError(
            "an aggregate without GROUP BY in a FROM subquery or CTE that reads the outer rows of "
            "a LATERAL join is not supported"
        )

    block_alias = builder.fresh("lat")
    modified = query.copy()
    row = exp.column(LATERAL_ROW, block_alias)
    modified.set("expressions", [*modified.expressions, exp.alias_(row, LATERAL_ROW)])
    if group is not None:
        modified_group = modified.args["group"]
        modified_group.set("expressions", [*modified_group.expressions, row.copy()])
    elif ungrouped_aggregate:
        # One group per outer row. `plan_lateral_join` adds the rows of outer rows that meet
        # no rows, and applies HAVING, returned as a column, after that.
        modified.set("group", exp.Group(expressions=[row.copy()]))
        having = modified.args.get("having")
        if having is not None:
            items = modified.expressions
            items.insert(len(items) - 1, exp.alias_(having.this, _HAVING))
            modified.set("having", None)
    if modified.args.get("group") is not None:
        # The outer columns are constant within an outer row, so grouping by them as well lets
        # the select list read them outside aggregates. One that GROUPING SETS, ROLLUP or CUBE
        # list is left to them, since its grouping sets make it NULL in some rows.
        group_keys = modified.args["group"].expressions
        listed = _grouping_set_columns(modified.args["group"])
        for table, name in sorted(_outer_columns(builder, query) - listed):
            group_keys.append(exp.column(name, table))
    if modified.args.get("limit") or modified.args.get("offset"):
        _limit_per_outer_row(modified)
    for window in _own_windows(modified):
        # Window functions see the rows of one outer row at a time.
        window.set("partition_by", [row.copy(), *(window.args.get("partition_by") or [])])
    modified.meta[_LATERAL_BLOCK] = block_alias
    return builder.query(modified, ctes)


def _lateral_set_operation(builder: _PlanBuilder, operation: exp.SetOperation, ctes: dict):
    """Build UNION, INTERSECT or EXCEPT of SELECTs that read the outer rows of a LATERAL.

    Every branch returns the outer row number as its last column, so the set operation, which
    compares whole rows, combines only rows of the same outer row.
    """
    for clause in ("order", "limit", "offset"):
        if operation.args.get(clause):
            raise UnsupportedError(
                f"{clause.upper()} on a set operation inside a LATERAL subquery is not supported"
            )
    left = lateral_query(builder, operation.this, ctes)
    right = lateral_query(builder, operation.expression, ctes)
    if len(left.names) != len(right.names):
        # Checked here so that the message counts the columns without the outer row number.
        raise BindError(
            f"{operation.key.upper()} inputs have {len(left.names) - 1} and {len(right.names) - 1} "
            "columns; both sides must select the same number of columns"
        )
    return builder.combine(operation, left, right)


def _complete_one_row_each(
    builder: _PlanBuilder, left: _FromItem, right: _FromItem, body: exp.Select, same_row, scope: Scope
) -> _FromItem:
    """Add the row of each outer row that meets no rows to a LATERAL aggregate without GROUP BY.

    Grouped by the outer row number, the subquery has no row for an outer row that meets no
    rows. That row gets the select list over no rows: COUNT gives 0 and the other aggregates
    NULL. HAVING, returned as a column, then keeps or drops every row, as it would have.

    >>> # FROM t, LATERAL (SELECT count(*) AS n FROM u WHERE u.k = t.k) AS s
    >>> # gives n = 0, not no row, for a row of t without matches in u
    """
    from gsql.sql.build import _FromItem, _ref
    from gsql.sql.subqueries import _own_windows

    if any(has_subquery(item) for item in body.expressions):
        raise UnsupportedError(
            "a subquery in the select list of a LATERAL subquery that aggregates without GROUP BY "
            "is not supported"
        )
    if _own_windows(body):
        raise UnsupportedError(
            "a window function in a LATERAL subquery that aggregates without GROUP BY is not "
            "supported"
        )
    values = [value_over_no_rows(item.unalias()) for item in body.expressions]
    having = body.args.get("having")
    if having is not None:
        values.append(value_over_no_rows(having.this))
    completed = _complete_outer_rows(builder, left, right, values, 1, same_row, scope)
    if having is None:
        return completed
    # The HAVING column comes right before the outer row number.
    names = completed.relation.columns
    keep = exp.Coalesce(this=_ref(names[-2]), expressions=[exp.false()])
    node = plan.Filter(list(names), input=completed.relation, predicate=keep)
    return _FromItem(node, completed.aliases)


def _complete_outer_rows(
    builder: _PlanBuilder,
    left: _FromItem,
    right: _FromItem,
    values: list[exp.Expression],
    copies: int,
    same_row: exp.Expression,
    scope: Scope,
) -> _FromItem:
    """Add `copies` rows of `values` to a LATERAL subquery's rows for each outer row without any.

    `values` gives the subquery's columns before the outer row number. They may read the outer
    row's columns, which are those of `left`.
    """
    from gsql.sql.build import _FromItem, _Resolver

    names = list(right.relation.columns)
    if len(values) != len(names) - 1:
        raise UnsupportedError("a LATERAL subquery's select list could not be matched with its columns")
    unmatched = builder._join(left, right, "anti", [same_row.copy()], scope)
    resolver = _Resolver(builder, scope)
    expressions = [resolver.resolve(value) for value in values]
    expressions.append(resolver.resolve(same_row.this))
    filled = plan.Project(names, input=unmatched.relation, expressions=expressions)
    node: plan.Node = right.relation
    for _ in range(copies):
        node = plan.SetOperation(names, left=node, right=filled, kind="union", all=True)
    return _FromItem(node, right.aliases)


def _grand_total_sets(query: exp.Expression) -> int:
    """Return how many grouping sets of a SELECT are the empty set `()`, 0 without any."""
    from gsql.sql.aggregates import expand_grouping_sets

    group = query.args.get("group") if isinstance(query, exp.Select) else None
    expanded = expand_grouping_sets(group) if group is not None else None
    return sum(1 for members in expanded[1] if not members) if expanded else 0


def _complete_grand_totals(
    builder: _PlanBuilder,
    left: _FromItem,
    right: _FromItem,
    body: exp.Select,
    same_row: exp.Expression,
    scope: Scope,
) -> _FromItem:
    """Add the grand-total rows of the outer rows that meet no rows to a LATERAL subquery's rows.

    Grouped by the outer row number as well, a grand-total set `()` of GROUPING SETS, ROLLUP
    or CUBE has no row for an outer row that meets no rows. Such a row gets one row for each
    `()` set: the keys NULL, GROUPING() with every bit set and the aggregates over no rows, as
    `_complete_one_row_each` fills them. The result joins the outer rows as any LATERAL does.

    >>> # FROM t, LATERAL (SELECT u.k, COUNT(*) FROM u WHERE u.k = t.k GROUP BY ROLLUP (u.k))
    >>> # gives (NULL, 0) for a row of t without matches in u
    """
    from gsql.sql.aggregates import expand_grouping_sets
    from gsql.sql.subqueries import _own_windows

    for clause in ("having", "qualify", "distinct", "limit", "offset"):
        if body.args.get(clause):
            raise UnsupportedError(
                f"{clause.upper()} with a grand-total grouping set in a LATERAL subquery is not "
                "supported"
            )
    if _own_windows(body) or any(has_subquery(item) for item in body.expressions):
        raise UnsupportedError(
            "a window function or subquery next to a grand-total grouping set in a LATERAL "
            "subquery is not supported"
        )
    keys = expand_grouping_sets(body.args["group"])[0]
    values = [value_over_no_rows(_as_grand_total(item.unalias(), keys)) for item in body.expressions]
    return _complete_outer_rows(builder, left, right, values, _grand_total_sets(body), same_row, scope)


def _as_grand_total(expression: exp.Expression, keys: list[exp.Expression]) -> exp.Expression:
    """Return `expression` as the grand-total set evaluates it: keys NULL, GROUPING() all ones."""
    from gsql.sql.aggregates import is_aggregate_call

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Grouping):
            return exp.Literal.number((1 << len(node.expressions)) - 1)
        if is_aggregate_call(node) or isinstance(node, (exp.Subquery, exp.Window)):
            return node
        if any(node == key for key in keys):
            return exp.Null()
        return node

    return expression.copy().transform(replace, copy=False)


def _limit_one_row(select: exp.Select) -> None:
    """Apply LIMIT and OFFSET to the one row of an aggregate without GROUP BY, in place.

    They keep the row or drop it. A dropped row becomes HAVING FALSE, so that
    `plan_lateral_join` drops it for the outer rows that meet no rows too.
    """
    from gsql.sql.build import limit_values
    from gsql.sql.subqueries import _keeps_first_row

    limits = limit_values(select)
    for clause in ("limit", "offset", "order"):
        select.set(clause, None)
    if not _keeps_first_row(limits):
        select.set("having", exp.Having(this=exp.false()))


def _limit_per_outer_row(select: exp.Select) -> None:
    """Turn LIMIT and OFFSET into a QUALIFY on the row number within each outer row.

    `SELECT b.j FROM b WHERE b.i = a.i ORDER BY b.j LIMIT 2 OFFSET 1` keeps the rows whose
    ROW_NUMBER() OVER (ORDER BY b.j) is 2 or 3; `lateral_query` then partitions that window by
    the outer row, as it does every window of the subquery.
    """
    from gsql.sql.build import limit_values

    for clause in ("qualify", "distinct"):
        if select.args.get(clause):
            raise UnsupportedError(
                f"LIMIT or OFFSET with {clause.upper()} in a subquery that reads the outer rows of "
                "a LATERAL join is not supported"
            )
    count, skip = limit_values(select)
    order = select.args.get("order")
    keys = [_order_key(select, ordered) for ordered in order.expressions] if order else []
    number = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=keys) if keys else None)
    conditions: list[exp.Expression] = [exp.GT(this=number, expression=exp.Literal.number(skip))]
    if count is not None:
        last = exp.Literal.number(skip + count)
        conditions.append(exp.LTE(this=number.copy(), expression=last))
    select.set("qualify", exp.Qualify(this=exp.and_(*conditions, copy=False)))
    for clause in ("order", "limit", "offset"):
        select.set(clause, None)


def _order_key(select: exp.Select, ordered: exp.Ordered) -> exp.Ordered:
    """Return an ORDER BY key with a select-list position or alias replaced by its expression."""
    key = ordered.this
    items = select.expressions
    replacement = None
    if isinstance(key, exp.Literal) and not key.is_string:
        position = int(key.this)
        if not 1 <= position <= len(items):
            raise BindError(f"ORDER BY position {position} is not in the select list")
        replacement = items[position - 1].unalias()
    elif isinstance(key, exp.Column) and not key.table:
        named = [item for item in items if isinstance(item, exp.Alias) and item.alias == key.name]
        replacement = named[0].this if named else None
    result = ordered.copy()
    if replacement is not None:
        result.set("this", replacement.copy())
    if result.find(exp.Window):
        raise UnsupportedError(
            f"ORDER BY a window function, `{key.sql()}`, with LIMIT in a LATERAL subquery is not "
            "supported"
        )
    return result


def _grouping_set_columns(group: exp.Group) -> set[tuple[str, str]]:
    """Return the (alias, column) pairs inside GROUPING SETS, ROLLUP and CUBE of a GROUP BY."""
    items = list(group.expressions)
    for arg in ("grouping_sets", "rollup", "cube"):
        items.extend(group.args.get(arg) or [])
    return {
        (column.table, column.name)
        for item in items
        if isinstance(item, (exp.GroupingSets, exp.Rollup, exp.Cube))
        for column in item.find_all(exp.Column)
    }


def _reject_outer_aggregates(builder: _PlanBuilder, query: exp.Select) -> None:
    """Raise for an aggregate in a LATERAL subquery that reads only the outer row's columns.

    Such an aggregate would belong to the query around the LATERAL join, whose FROM clause
    cannot aggregate; DuckDB 2.0 rejects it too.
    """
    from gsql.sql.aggregates import is_aggregate_call

    outer = builder.lateral.aliases
    boundary = (exp.Subquery, exp.Select, exp.Window)
    roots = [*query.expressions, query.args.get("having"), query.args.get("order")]
    for root in roots:
        if root is None or isinstance(root, boundary):
            continue  # the aggregates of a subquery are its own
        for node in root.walk(prune=lambda node: isinstance(node, boundary)):
            if not is_aggregate_call(node):
                continue
            tables = {column.table for column in node.find_all(exp.Column)}
            if tables and tables <= outer:
                raise BindError(
                    f"aggregate `{node.sql()}` of the outer row's columns in a LATERAL subquery "
                    "is not allowed"
                )


def _outer_columns(builder: _PlanBuilder, query: exp.Select) -> set[tuple[str, str]]:
    """Return the (alias, column) pairs of the current LATERAL's outer rows that `query` reads."""
    domain = builder.lateral
    return {
        (column.table, column.name)
        for column in query.find_all(exp.Column)
        if (column.table, column.name) in domain.columns
    }


def aggregates_without_group(query: exp.Expression) -> bool:
    """Return whether a SELECT aggregates all its rows into one: aggregates or HAVING, no GROUP BY."""
    from gsql.sql.subqueries import _has_plain_aggregate

    if not isinstance(query, exp.Select) or query.args.get("group") is not None:
        return False
    having = query.args.get("having")
    return having is not None or any(_has_plain_aggregate(item) for item in query.expressions)


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
