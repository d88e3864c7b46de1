"""Plan subqueries in expressions: EXISTS, IN (subquery) and scalar subqueries.

Each subquery becomes a join below the expression that uses it, and the expression reads the
join's output column instead:

- `EXISTS (q)` and `x IN (q)` become a `MarkJoin` whose boolean column follows SQL's rules,
  so `NOT IN` with a NULL in `q` is never TRUE and `NOT EXISTS` is an anti join.
- An uncorrelated scalar subquery is cross joined through `SingleRow`, which raises when the
  subquery returns more than one row.
- A correlated subquery whose outer references are top-level WHERE conjuncts is decorrelated:
  equalities become join keys and the other conjuncts a residual predicate of the join. A
  scalar aggregate with only equality correlations is grouped by its keys and LEFT joined,
  which keeps the outer rows that have no match, as the original query does.
- Any other correlated subquery runs per outer row: the numbered outer rows join its FROM
  under their alias, so a correlated reference may sit anywhere in it.

>>> # SELECT * FROM orders o WHERE EXISTS (SELECT 1 FROM lineitem l WHERE l.l_orderkey = o.o_orderkey)
>>> # becomes
>>> # Filter mark
>>> #   MarkJoin mark on o.o_orderkey = _corr0
>>> #     Scan orders
>>> #     Project l.l_orderkey AS _corr0
>>> #       Scan lineitem
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from gsql.errors import BindError, UnsupportedError
from gsql.sql import plan
from gsql.sql.aggregates import is_aggregate_call, value_over_no_rows
from gsql.sql.row_subqueries import plan_row_comparison, row_fields

if TYPE_CHECKING:
    from gsql.sql.build import Relation, Scope, _PlanBuilder

__all__ = ["Correlation", "NodeHolder", "conjunction", "conjuncts", "free_aliases", "plan_quantified", "plan_subquery"]

@dataclass
class NodeHolder:
    """The plan node below an expression; planning a subquery replaces it with a join."""

    node: plan.Node


@dataclass
class Correlation:
    """The outer references of a subquery, split into join keys and a residual predicate."""

    inner_keys: list[exp.Expression]
    outer_keys: list[exp.Expression]
    residual: list[exp.Expression]


def plan_subquery(
    builder: _PlanBuilder,
    expression: exp.Expression,
    holder: NodeHolder,
    scope: Scope,
    resolve_outer,
) -> exp.Expression:
    """Join the subquery in `expression` below `holder.node` and return the column to read.

    `resolve_outer` resolves an expression of the enclosing query into frame columns.
    """
    _reject_outer_aggregates(expression, scope)
    if isinstance(expression, exp.Exists):
        return _plan_membership(builder, expression.this, None, holder, scope, resolve_outer)
    if isinstance(expression, exp.In):
        query = expression.args["query"]
        query = query.this if isinstance(query, exp.Subquery) else query
        fields = row_fields(expression.this)
        if fields is not None:
            return plan_row_comparison(builder, fields, exp.EQ, "any", query, holder, scope, resolve_outer)
        return _plan_membership(builder, query, expression.this, holder, scope, resolve_outer)
    if isinstance(expression, exp.Subquery):
        return _plan_scalar(builder, expression, holder, scope, resolve_outer)
    raise UnsupportedError(f"subquery `{expression.sql()[:80]}` is not supported")


def _reject_outer_aggregates(expression: exp.Expression, scope: Scope) -> None:
    """Reject an aggregate inside a subquery that reads only the enclosing query's columns.

    SQL makes `(SELECT MAX(outer.x))` an aggregate of the enclosing query, which turns that
    query into a grouped one. gsql does not plan that, and aggregating per row would be wrong.
    """
    outer = scope.aliases()
    for select in expression.find_all(exp.Select):
        local = _local_aliases(select)
        for aggregate in select.find_all(exp.AggFunc):
            if any(isinstance(node, (exp.Select, exp.Subquery)) for node in aggregate.walk()):
                # DuckDB aggregates `MAX((SELECT outer.x))` in the subquery that contains it.
                continue
            columns = {column.table for column in aggregate.find_all(exp.Column)}
            if columns and columns <= outer and not columns & local:
                raise UnsupportedError(
                    f"aggregate `{aggregate.sql()[:60]}` over columns of the enclosing query inside "
                    "a subquery is not supported"
                )


def _plan_membership(builder, query, probe, holder, scope, resolve_outer) -> exp.Expression:
    """Plan `EXISTS (query)`, or `probe IN (query)` when `probe` is given.

    Correlated forms that `_plan_mark` cannot join are rewritten first, all exactly: over a
    UNION, EXISTS and IN are the OR of the same test on each branch, in three-valued logic
    too. A SELECT that aggregates without GROUP BY, HAVING, LIMIT or OFFSET returns one row,
    so `probe IN (query)` is `probe = (query)`. `_simplify_correlated` removes the LIMIT and
    OFFSET that cannot change the result.
    """
    if isinstance(query, exp.Subquery):
        query = query.this
    if free_aliases(query) & scope.aliases():
        branches = _union_branches(query)
        if len(branches) > 1:
            marks = [_plan_membership(builder, b, probe, holder, scope, resolve_outer) for b in branches]
            return exp.paren(exp.or_(*marks, copy=False), copy=False)
        if isinstance(query, exp.Select):
            query = _simplify_correlated(_aggregate_first(builder, query, scope.aliases()), probe)
            if isinstance(query, exp.Boolean):
                return query
        if probe is not None and _returns_one_row(query):
            value = _plan_scalar(builder, exp.Subquery(this=query), holder, scope, resolve_outer)
            return exp.EQ(this=resolve_outer(probe), expression=value)
    return _plan_mark(builder, query, probe, holder, scope, resolve_outer)


def _simplify_correlated(select: exp.Select, probe) -> exp.Expression:
    """Return a correlated EXISTS or IN subquery without the clauses that cannot change it.

    The result may instead be the test's constant value. LIMIT 0 keeps no rows, so EXISTS and
    IN are FALSE. An aggregate without GROUP BY gives one row, so EXISTS is TRUE unless OFFSET
    skips that row, and IN compares with its value. EXISTS ignores ORDER BY and a LIMIT of at
    least one row.
    """
    from gsql.sql.build import limit_values

    limits = limit_values(select)
    aggregated = _aggregates_without_group(select)
    if limits is None and not aggregated:
        return select
    count, skip = limits if limits is not None else (None, 0)
    if count == 0:
        return exp.false()
    if aggregated:
        simple = _without_limit(select)
        if (probe is not None and not _returns_one_row(simple)) or select.args.get("having") or select.args.get("qualify"):
            raise UnsupportedError(
                f"a correlated EXISTS or IN over `{select.sql()[:80]}`, which aggregates without GROUP BY, "
                "is not supported"
            )
        if skip > 0:
            return exp.false()
        return exp.true() if probe is None else simple
    if probe is None and skip == 0:
        return _without_limit(select)
    return select


def _aggregate_first(builder, select: exp.Select, outer: set[str]) -> exp.Select:
    """Rewrite a correlated subquery that reads the enclosing query only after aggregating.

    `SELECT 1 FROM u HAVING t.x IS NULL` aggregates all rows of `u` into one group, which
    exists even over no rows, and then tests an outer value. The aggregation reads no outer
    column, so it moves into a derived table of one row, and HAVING becomes WHERE over it:
    `SELECT 1 FROM (SELECT COUNT(*) AS a0 FROM u) AS agg WHERE t.x IS NULL`. The per-row and
    residual plans handle that form. Any other select is returned unchanged.
    """
    if select.args.get("having") is None or not _aggregates_without_group(select):
        return select
    if select.args.get("qualify") or select.args.get("windows") or _own_windows(select):
        return select
    before = [select.args.get("from_"), select.args.get("where"), *(select.args.get("joins") or [])]
    if any(part is not None and free_aliases(part) & outer for part in before):
        return select

    rewritten = select.copy()
    after = [*rewritten.expressions, rewritten.args["having"]]
    if rewritten.args.get("order") is not None:
        after.append(rewritten.args["order"])
    boundary = (exp.Subquery, exp.Select, exp.Exists, exp.Window)

    def stop(node: exp.Expression) -> bool:
        return isinstance(node, boundary) or is_aggregate_call(node)

    calls = [node for root in after for node in root.walk(prune=stop) if is_aggregate_call(node)]
    if any(free_aliases(call) & outer for call in calls):
        return select
    name = builder.fresh("agg")
    items = []
    for index, call in enumerate(calls):
        items.append(exp.alias_(call.copy(), f"a{index}"))
        call.replace(exp.column(f"a{index}", table=name))
    local = _local_aliases(select)
    for root in after:
        nodes = root.walk(prune=lambda node: isinstance(node, boundary))
        if any(isinstance(node, exp.Column) and node.table in local for node in nodes):
            # A column outside every aggregate makes the query invalid; the builder reports it.
            return select

    inner = exp.Select(expressions=items or [exp.alias_(exp.Count(this=exp.Star()), "a0")])
    for clause in ("from_", "joins", "where"):
        inner.set(clause, rewritten.args.get(clause))
    derived = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(name)))
    having = rewritten.args["having"].this
    rewritten.set("from_", exp.From(this=derived))
    rewritten.set("joins", None)
    rewritten.set("where", exp.Where(this=having))
    rewritten.set("having", None)
    return rewritten


def _aggregates_without_group(select: exp.Select) -> bool:
    """Return whether `select` aggregates all its rows into one group, having no GROUP BY."""
    if select.args.get("group") is not None:
        return False
    if select.args.get("having") is not None:
        return True
    order = select.args.get("order")
    roots = [*select.expressions, *([order] if order is not None else [])]
    return any(_has_plain_aggregate(root) for root in roots)


def _without_limit(select: exp.Select) -> exp.Select:
    simple = select.copy()
    for clause in ("order", "limit", "offset"):
        simple.set(clause, None)
    return simple


def _union_branches(query: exp.Expression) -> list[exp.Expression]:
    """Return the operands of a chain of UNION and UNION ALL without ORDER BY or LIMIT."""
    if isinstance(query, exp.Subquery) and not any(query.args.get(a) for a in ("alias", "order", "limit", "offset")):
        return _union_branches(query.this)
    modifiers = ("order", "limit", "offset", "by_name", "side", "kind", "on")
    if not isinstance(query, exp.Union) or any(query.args.get(a) for a in modifiers):
        return [query]
    return _union_branches(query.this) + _union_branches(query.expression)


def _returns_one_row(query: exp.Expression) -> bool:
    """Return whether `query` is a one-column SELECT that aggregates all its rows into one."""
    if not isinstance(query, exp.Select) or len(query.expressions) != 1:
        return False
    if any(query.args.get(a) for a in ("group", "having", "limit", "offset", "qualify", "windows")):
        return False
    boundary = (exp.Subquery, exp.Select, exp.Exists, exp.Window)
    value = _unalias(query.expressions[0])
    calls = [n for n in value.walk(prune=lambda n: isinstance(n, boundary)) if is_aggregate_call(n)]
    return bool(calls) and not any(isinstance(n, exp.Window) for n in value.walk())


def _plan_mark(builder, query, probe, holder, scope, resolve_outer) -> exp.Expression:
    if isinstance(query, exp.Subquery):
        query = query.this
    outer = free_aliases(query) & scope.aliases()
    if outer and isinstance(query, exp.Select):
        try:
            _check_grouped_correlation(*_split_correlation(query, scope))
        except UnsupportedError:
            if probe is not None and len(query.expressions) != 1:
                raise UnsupportedError(
                    f"IN (subquery) needs a subquery with one column, not {len(query.expressions)}"
                ) from None
            return _plan_mark_per_row(builder, query, probe, holder, scope, resolve_outer, outer)
    correlation, select = _split_correlation(query, scope)
    group = select.args.get("group") if isinstance(select, exp.Select) else None
    if group is not None and correlation.inner_keys:
        # Every row of one outer row's groups has the same inner key values, so grouping by
        # the keys as well keeps those groups whole (`_check_grouped_correlation`).
        group.set("expressions", [*group.expressions, *(key.copy() for key in correlation.inner_keys)])
    extras = correlation.inner_keys + _residual_columns(correlation, select)
    if probe is not None:
        if not isinstance(select, exp.Select) and correlation.inner_keys + correlation.residual:
            raise UnsupportedError("a correlated IN over a set operation is not supported")
        if isinstance(select, exp.Select) and len(select.expressions) != 1:
            raise UnsupportedError(
                f"IN (subquery) needs a subquery with one column, not {len(select.expressions)}"
            )
    relation = _build_with_extras(builder, select, extras, keep_select=probe is not None)

    offset = 1 if probe is not None else 0
    outputs = relation.node.columns
    right_keys = outputs[offset : offset + len(correlation.inner_keys)]
    left_node, left_keys = _outer_key_columns(builder, holder.node, correlation.outer_keys, resolve_outer)
    probe_left = None
    if probe is not None:
        left_node, probe_columns = _outer_key_columns(builder, left_node, [probe], resolve_outer)
        probe_left = probe_columns[0]

    residual = _resolve_residual(builder, correlation, select, relation, scope, offset)
    mark = builder.fresh("m")
    node = plan.MarkJoin(
        left_node.columns + [mark],
        left=left_node,
        right=relation.node,
        left_keys=left_keys,
        right_keys=right_keys,
        residual=residual,
        probe_left=probe_left,
        probe_right=outputs[0] if probe is not None else None,
        mark=mark,
    )
    holder.node = node
    return _ref(mark)


def _check_grouped_correlation(correlation: Correlation, select: exp.Expression) -> None:
    """Reject a grouped subquery whose correlation a join on inner keys cannot carry.

    An equality correlation splits the groups by the inner key, which adding the key to GROUP
    BY does too. A residual condition would be tested after grouping, on other groups, and a
    grouping set would gain the key in every set, so both must run per outer row.
    """
    group = select.args.get("group") if isinstance(select, exp.Select) else None
    if group is None or not (correlation.inner_keys or correlation.residual):
        return
    if correlation.residual:
        raise UnsupportedError("a grouped subquery with a correlated condition other than `=` needs the per-row plan")
    if any(isinstance(item, (exp.GroupingSets, exp.Rollup, exp.Cube)) for item in group.expressions):
        raise UnsupportedError("GROUPING SETS, ROLLUP or CUBE in a correlated subquery need the per-row plan")


_NEGATED = {exp.GT: exp.LTE, exp.GTE: exp.LT, exp.LT: exp.GTE, exp.LTE: exp.GT, exp.EQ: exp.NEQ, exp.NEQ: exp.EQ}


def plan_quantified(builder, comparison: exp.Binary, holder, scope, resolve_outer) -> exp.Expression:
    """Plan `x <op> ANY (q)` and `x <op> ALL (q)` for a one-column subquery.

    `x <op> ALL (q)` is `NOT (x <negated op> ANY (q))`, and ANY follows SQL's three-valued
    rule: TRUE if some value satisfies the comparison, else NULL if x or some value is NULL
    and q is not empty, else FALSE. `= ANY` is IN. Other operators compare with the
    subquery's MIN and MAX, so the subquery is aggregated to one row and cross joined; these
    need an uncorrelated subquery, unless it returns one row.
    """
    quantifier = comparison.expression
    _reject_outer_aggregates(quantifier, scope)
    query = quantifier.this.this if isinstance(quantifier.this, exp.Subquery) else quantifier.this
    operator = type(comparison)
    fields = row_fields(comparison.this)
    if fields is not None:
        kind = "all" if isinstance(quantifier, exp.All) else "any"
        return plan_row_comparison(builder, fields, operator, kind, query, holder, scope, resolve_outer)
    correlated = bool(free_aliases(query) & scope.aliases())
    if correlated and _returns_one_row(query):
        # Over exactly one value, ANY and ALL are both the plain comparison with it.
        value = _plan_scalar(builder, exp.Subquery(this=query), holder, scope, resolve_outer)
        return operator(this=resolve_outer(comparison.this), expression=value)
    if correlated and isinstance(query, exp.Select) and len(query.expressions) == 1 and _aggregates_without_group(query):
        # At most one value: ALL is TRUE over none and ANY FALSE, else both compare with it.
        exists = _plan_membership(builder, query, None, holder, scope, resolve_outer)
        value = _plan_scalar(builder, exp.Subquery(this=query.copy()), holder, scope, resolve_outer)
        compared = operator(this=resolve_outer(comparison.this), expression=value)
        if isinstance(quantifier, exp.All):
            return exp.paren(exp.or_(exp.Not(this=exists), compared, copy=False), copy=False)
        return exp.paren(exp.and_(exists, compared, copy=False), copy=False)
    if isinstance(quantifier, exp.All):
        operator = _NEGATED[operator]
    if operator is exp.EQ:
        marked = _plan_membership(builder, query, comparison.this, holder, scope, resolve_outer)
        return exp.Not(this=marked) if isinstance(quantifier, exp.All) else marked
    if correlated:
        rows, non_null, smallest, largest = _correlated_summary(builder, query, holder, scope, resolve_outer)
    else:
        relation = builder.query(query, builder.current_ctes)
        if len(relation.names) != 1:
            raise UnsupportedError("ANY and ALL need a subquery with one column")
        value = relation.node.columns[0]
        names = [builder.fresh("q") for _ in range(4)]
        calls = [
            plan.AggregateCall("count_star", None),
            plan.AggregateCall("count", value),
            plan.AggregateCall("min", value),
            plan.AggregateCall("max", value),
        ]
        summary = plan.Aggregate(names, input=relation.node, keys=[], aggregates=calls)
        holder.node = plan.Join(holder.node.columns + names, left=holder.node, right=summary, kind="cross")
        rows, non_null, smallest, largest = (_ref(name) for name in names)

    probe = resolve_outer(comparison.this)
    if operator in (exp.GT, exp.GTE):
        satisfied = operator(this=probe.copy(), expression=smallest)
    elif operator in (exp.LT, exp.LTE):
        satisfied = operator(this=probe.copy(), expression=largest)
    else:  # <> ANY: some non-NULL value differs from x
        satisfied = exp.or_(
            exp.NEQ(this=probe.copy(), expression=smallest), exp.NEQ(this=probe.copy(), expression=largest)
        )
    unknown = exp.or_(exp.Is(this=probe.copy(), expression=exp.Null()), exp.LT(this=non_null, expression=rows.copy()))
    result = exp.Case(
        ifs=[
            exp.If(this=exp.EQ(this=rows, expression=exp.Literal.number(0)), true=exp.false()),
            exp.If(this=satisfied, true=exp.true()),
            exp.If(this=unknown, true=exp.Null()),
        ],
        default=exp.false(),
    )
    return exp.Not(this=exp.paren(result)) if isinstance(quantifier, exp.All) else result


def _correlated_summary(builder, query: exp.Expression, holder, scope, resolve_outer) -> list[exp.Expression]:
    """Return COUNT(*), COUNT(v), MIN(v) and MAX(v) of a correlated one-column subquery, per outer row.

    Each is a correlated scalar subquery over the same rows, so every correlation that scalar
    subqueries support works here too. `SELECT t2.a FROM t2 WHERE t2.id > t1.a` gives, among
    others, `(SELECT MIN(t2.a) FROM t2 WHERE t2.id > t1.a)`.
    """
    if not isinstance(query, exp.Select) or len(query.expressions) != 1:
        raise UnsupportedError("a correlated ANY or ALL needs a SELECT of one column")
    value = _unalias(query.expressions[0])
    if value.is_star:
        raise UnsupportedError("a correlated ANY or ALL needs a SELECT of one named column")
    plain = not any(
        query.args.get(clause)
        for clause in ("group", "having", "distinct", "limit", "offset", "qualify", "windows")
    ) and not _has_plain_aggregate(value) and not value.find(exp.Window)
    calls = [exp.Count(this=exp.Star()), exp.Count(this=value), exp.Min(this=value), exp.Max(this=value)]
    results = []
    for call in calls:
        if plain:
            summary = query.copy()
            summary.set("expressions", [call.copy()])
            summary.set("order", None)
        else:
            # The rows of a grouped, DISTINCT or limited subquery are summarised from outside.
            inner = query.copy()
            inner.set("expressions", [exp.alias_(value.copy(), "_v")])
            source = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("_q")))
            column = exp.column("_v", "_q")
            outer_call = exp.Count(this=exp.Star()) if isinstance(call.this, exp.Star) else type(call)(this=column)
            summary = exp.Select(expressions=[outer_call]).from_(source)
        results.append(_plan_scalar(builder, exp.Subquery(this=summary), holder, scope, resolve_outer))
    return results


def _plan_scalar(builder, subquery: exp.Subquery, holder, scope, resolve_outer) -> exp.Expression:
    query = subquery.this
    outer = free_aliases(query) & scope.aliases()
    if outer and isinstance(query, exp.Select):
        query = _aggregate_first(builder, query, outer)
        value = _unalias(query.expressions[0]) if len(query.expressions) == 1 else None
        if value is not None and not _has_plain_aggregate(value):
            return _plan_scalar_per_row(builder, query, holder, scope, outer, resolve_outer)
        if any(query.args.get(clause) for clause in ("group", "limit", "offset")):
            # GROUP BY may give an outer row several rows, and LIMIT and OFFSET choose among
            # them, so neither survives moving the correlation into a join.
            return _plan_scalar_per_row(builder, query, holder, scope, outer, resolve_outer)
        if free_aliases(value) & outer:
            # The select list reads the outer row itself, so it must be computed per outer row.
            return _plan_scalar_per_row(builder, query, holder, scope, outer, resolve_outer)
        try:
            correlation, select = _split_correlation(query, scope)
        except UnsupportedError:
            return _plan_scalar_per_row(builder, query, holder, scope, outer, resolve_outer)
        if correlation.residual:
            return _plan_scalar_per_row(builder, query, holder, scope, outer, resolve_outer)
    correlation, select = _split_correlation(query, scope)
    if not correlation.inner_keys and not correlation.residual:
        relation = builder.query(query, builder.current_ctes)
        if len(relation.names) != 1:
            raise UnsupportedError(
                f"a scalar subquery must return one column, not {len(relation.names)}"
            )
        single = plan.SingleRow(list(relation.node.columns), input=relation.node)
        holder.node = plan.Join(
            holder.node.columns + single.columns, left=holder.node, right=single, kind="cross"
        )
        return _ref(relation.node.columns[0])

    if correlation.residual:
        raise UnsupportedError(
            "a correlated scalar subquery may only compare outer columns with `=`; "
            f"`{correlation.residual[0].sql()}` is not supported"
        )
    _check_correlated_scalar(select)
    grouped = select.copy()
    grouped.set("group", exp.Group(expressions=[key.copy() for key in correlation.inner_keys]))
    relation = _build_with_extras(builder, grouped, correlation.inner_keys, keep_select=True)
    outputs = relation.node.columns
    right_keys = outputs[1 : 1 + len(correlation.inner_keys)]
    left_node, left_keys = _outer_key_columns(builder, holder.node, correlation.outer_keys, resolve_outer)
    holder.node = plan.Join(
        left_node.columns + outputs,
        left=left_node,
        right=relation.node,
        kind="left",
        left_keys=left_keys,
        right_keys=right_keys,
    )
    return _fill_unmatched(_ref(outputs[0]), _ref(right_keys[0]), select, resolve_outer)


def _number_outer_rows(builder, holder) -> tuple[plan.Node, str]:
    row_id = builder.fresh("rid")
    numbered = plan.Window(
        holder.node.columns + [row_id],
        input=holder.node,
        calls=[plan.WindowCall("row_number", [], [], [], None)],
    )
    return numbered, row_id


def _join_outer_rows(
    builder, select: exp.Select, numbered: plan.Node, row_id: str, holder, scope, outer: set[str], resolve_outer=None
):
    """Return `select` with the outer rows it reads added to its FROM, and the CTEs naming them.

    The outer columns that the subquery reads become a table with the outer row number, added
    under the outer alias, so the correlated conditions turn into ordinary join conditions.
    The returned select still needs its select list; `__rid` of the first alias numbers rows.
    """
    from gsql.sql.build import Relation

    select, keys = _read_alias_keys(select, outer, holder, resolve_outer)
    referenced: dict[str, list[str]] = {alias: [] for alias in outer}
    for column in select.find_all(exp.Column):
        if column.table in outer and column.name not in referenced[column.table] and column.name not in keys:
            referenced[column.table].append(column.name)

    ctes = dict(builder.current_ctes)
    tables: list[exp.Table] = []
    links: list[exp.Expression] = []
    first = sorted(outer)[0]
    for alias in sorted(outer):
        frame_columns = []
        for name in referenced[alias]:
            frame_column = scope.columns.get((alias, name))
            if frame_column is None or frame_column not in holder.node.columns:
                raise UnsupportedError(
                    f"a correlated subquery that reads `{alias}.{name}` after GROUP BY is not supported"
                )
            frame_columns.append(frame_column)
        for name, (key_alias, frame_column) in keys.items():
            if key_alias == alias:
                referenced[alias].append(name)
                frame_columns.append(frame_column)
        table_name = builder.fresh("outer")
        node = plan.Project(
            [builder.fresh("oc") for _ in frame_columns] + [builder.fresh("oc")],
            input=numbered,
            expressions=[_ref(c) for c in frame_columns] + [_ref(row_id)],
        )
        ctes[table_name] = Relation(node, referenced[alias] + ["__rid"])
        tables.append(exp.Table(this=exp.to_identifier(table_name), alias=exp.TableAlias(this=exp.to_identifier(alias))))
        if alias != first:
            links.append(exp.EQ(this=exp.column("__rid", alias), expression=exp.column("__rid", first)))
    return _add_outer_tables(select, tables, links, outer), ctes, first


def _read_alias_keys(select: exp.Select, outer: set[str], holder, resolve_outer) -> tuple[exp.Select, dict[str, tuple[str, str]]]:
    """Replace the outer values that `select` reads through a select-list alias by outer columns.

    The binder puts a copy of the aliased item in place of the alias (see `bind.SELECT_ALIAS`).
    After `SELECT x + 1 AS k ... GROUP BY k` the outer rows hold `x + 1` only as a key column,
    so such a copy is read whole, as a column of the outer rows, where it resolves to one.
    Return the select and {new column name: (outer alias, frame column)}.
    """
    from gsql.sql.bind import SELECT_ALIAS

    keys: dict[str, tuple[str, str]] = {}
    if resolve_outer is None:
        return select, keys
    marked = [node for node in select.walk() if SELECT_ALIAS in node.meta]
    if not marked:
        return select, keys
    select = select.copy()
    for node in list(select.walk()):
        if SELECT_ALIAS not in node.meta or node.parent is None:
            continue
        read = free_aliases(node)
        if not read or not read <= outer:
            continue
        try:
            resolved = resolve_outer(node)
        except (BindError, UnsupportedError):
            continue
        while isinstance(resolved, exp.Paren):
            resolved = resolved.this
        if not isinstance(resolved, exp.Column) or resolved.name not in holder.node.columns:
            continue
        name = f"__alias{len(keys)}"
        alias = min(read)
        keys[name] = (alias, resolved.name)
        node.replace(exp.column(name, table=alias))
    return select, keys


def _add_outer_tables(select: exp.Select, tables: list[exp.Table], links: list[exp.Expression], outer: set[str]) -> exp.Select:
    """Return `select` with the outer-row tables joined to its FROM.

    The outer rows go first, so that ON conditions of later joins may read them, when every
    join keeps the rows on its left (inner, cross, LEFT, SEMI and ANTI joins), because then
    each outer row meets the whole original FROM. A RIGHT, FULL or POSITIONAL join would add
    unmatched rows once instead of once per outer row, so the outer rows are joined after it,
    which needs its ON conditions to be free of outer references.
    """
    modified = select.copy()
    from_ = modified.args.get("from_")
    joins = list(modified.args.get("joins") or [])
    if all(_keeps_left_rows(join) for join in joins):
        added = [exp.Join(this=table, on=link) for table, link in zip(tables[1:], links)]
        if from_ is not None:
            added.append(exp.Join(this=from_.this))
        modified.set("from_", exp.From(this=tables[0]))
        modified.set("joins", added + joins)
        for join in added[len(tables) - 1 :] + joins:
            _correlate_derived_table(join, tables, outer)
        return modified

    for join in joins:
        condition = join.args.get("on")
        if free_aliases(join.this) & outer:
            raise UnsupportedError(
                f"a derived table that reads the enclosing query, `{join.this.sql()[:80]}`, next to "
                "a RIGHT, FULL or POSITIONAL join is not supported"
            )
        if condition is not None and free_aliases(condition) & outer:
            raise UnsupportedError(
                f"a correlated reference in the ON condition of `{join.sql()[:80]}` after a RIGHT, "
                "FULL or POSITIONAL join is not supported"
            )
    modified.set("joins", joins + [exp.Join(this=table) for table in tables])
    if links:
        where = modified.args.get("where")
        conditions = ([where.this] if where is not None else []) + links
        modified.set("where", exp.Where(this=conjunction(conditions)))
    return modified


def _correlate_derived_table(join: exp.Join, tables: list[exp.Table], outer: set[str]) -> None:
    """Give a derived table that reads outer columns its own copy of the outer rows.

    In a per-row subquery the outer rows are a table joined first, and a derived table such
    as `(SELECT t.x + y FROM u) AS d` that reads it must see one outer row at a time. It gets
    the outer-row table in its own FROM and returns the row number, which the join then
    matches: `(SELECT t.x + y, t.__rid FROM outer AS t, u) AS d ON d.__rid = t.__rid`.
    """
    item = join.this
    if not isinstance(item, exp.Subquery) or not free_aliases(item.this) & outer:
        return
    inner = item.this
    text = item.sql()[:80]
    if not isinstance(inner, exp.Select):
        raise UnsupportedError(f"a set operation that reads the enclosing query, `{text}`, is not supported in FROM")
    for clause in ("limit", "offset", "windows"):
        if inner.args.get(clause) or item.args.get(clause):
            raise UnsupportedError(
                f"a derived table with {clause.upper()} that reads the enclosing query, `{text}`, is not supported"
            )
    group = inner.args.get("group")
    if group is not None and any(isinstance(item, (exp.GroupingSets, exp.Rollup, exp.Cube)) for item in group.expressions):
        # A grand-total set makes a row even for an outer row that meets no rows, which a
        # join on the row number loses.
        raise UnsupportedError(
            f"GROUPING SETS, ROLLUP or CUBE in a derived table that reads the enclosing query, `{text}`, "
            "is not supported"
        )
    grouped = group is not None
    aggregated = inner.args.get("having") is not None or any(_has_plain_aggregate(e) for e in inner.expressions)
    if not grouped and aggregated:
        # Over no rows such a table still has one row, which a join on the row number loses.
        raise UnsupportedError(
            f"a derived table that aggregates without GROUP BY and reads the enclosing query, `{text}`, "
            "is not supported"
        )

    read = sorted(free_aliases(inner) & outer)
    own_tables = [table.copy() for table in tables if table.alias in read]
    links = [exp.EQ(this=exp.column("__rid", alias), expression=exp.column("__rid", read[0])) for alias in read[1:]]
    correlated = _add_outer_tables(inner, own_tables, links, set(read))
    row_number = exp.column("__rid", read[0])
    correlated.set("expressions", [*correlated.expressions, exp.alias_(row_number.copy(), "__rid")])
    if grouped:
        group = correlated.args["group"]
        group.set("expressions", [*group.expressions, row_number.copy()])
    correlated.set("order", None)
    _partition_by_row(correlated, read[0])
    item.set("this", correlated)
    alias = item.args.get("alias")
    if alias is not None and alias.columns:
        alias.set("columns", [*alias.columns, exp.to_identifier("__rid")])

    match = exp.EQ(this=exp.column("__rid", item.alias_or_name), expression=exp.column("__rid", read[0]))
    condition = join.args.get("on")
    join.set("on", conjunction([condition, match]) if condition is not None else match)
    if (join.kind or "").upper() == "CROSS":
        join.set("kind", None)


def _keeps_left_rows(join: exp.Join) -> bool:
    side = (join.side or "").upper()
    kind = (join.kind or "").upper()
    method = (join.args.get("method") or "").upper()
    return side in ("", "LEFT") and kind in ("", "INNER", "OUTER", "CROSS", "SEMI", "ANTI") and method != "POSITIONAL"


def _plan_scalar_per_row(builder, select: exp.Select, holder, scope, outer: set[str], resolve_outer=None) -> exp.Expression:
    """Evaluate a correlated scalar subquery once per outer row, by joining the outer rows in.

    Each outer row gets a row number and joins the subquery's FROM (see `_join_outer_rows`).
    An aggregate without GROUP BY is then grouped by that number. Any other subquery, its
    GROUP BY extended by the number, must give at most one row per number after its LIMIT and
    OFFSET (see `_per_row_relation`). The result is LEFT joined back. This handles any
    correlated condition (`x.b < t1.b`), at the cost of joining every outer row with the
    subquery's rows.
    """
    from gsql.sql.build import Relation, limit_values

    if len(select.expressions) != 1:
        raise UnsupportedError("a scalar subquery must return one column")
    grouped = select.args.get("group") is not None
    aggregated = not grouped and _has_plain_aggregate(_unalias(select.expressions[0]))
    limits = limit_values(select)
    if aggregated:
        _check_correlated_scalar(select, limited=True)
    else:
        _check_per_row_grouping(select, "a correlated scalar subquery")
    numbered, row_id = _number_outer_rows(builder, holder)
    modified, ctes, first = _join_outer_rows(builder, select, numbered, row_id, holder, scope, outer, resolve_outer)
    _partition_by_row(modified, first)
    if aggregated:
        modified.set("group", exp.Group(expressions=[]))
        # One row per outer row, so ORDER BY cannot change which rows LIMIT and OFFSET keep.
        modified.set("order", None)
    _group_by_row(modified, first, outer)
    node, (value_column,), rid_column = _per_row_relation(builder, modified, ctes, first, 1, limits)
    if not aggregated:
        # Each outer row must see at most one row: SINGLE_VALUE raises for a group of two.
        single_column = builder.fresh("sv")
        node = plan.Aggregate(
            [rid_column, single_column],
            input=node,
            keys=[rid_column],
            aggregates=[plan.AggregateCall("single_value", value_column)],
        )
        value_column = single_column
    relation = Relation(
        plan.Project(
            [builder.fresh("p"), builder.fresh("p")],
            input=node,
            expressions=[_ref(value_column), _ref(rid_column)],
        ),
        ["value", "__rid"],
    )

    outputs = relation.node.columns
    holder.node = plan.Join(
        numbered.columns + outputs,
        left=numbered,
        right=relation.node,
        kind="left",
        left_keys=[row_id],
        right_keys=[outputs[1]],
    )
    result = _ref(outputs[0])
    if aggregated and _keeps_first_row(limits):
        return _fill_unmatched(result, _ref(outputs[1]), select, resolve_outer)
    return result


def _fill_unmatched(value: exp.Expression, matched_key: exp.Expression, select: exp.Select, resolve_outer) -> exp.Expression:
    """Give outer rows without subquery rows the value of the aggregate select list over no rows.

    The LEFT JOIN leaves NULL there, but `(SELECT COUNT(*) + 1 FROM ...)` over no rows is 1.
    `matched_key` is a join key of the subquery's side, NULL exactly for those outer rows.
    """
    empty = value_over_no_rows(_unalias(select.expressions[0]))
    if isinstance(empty, exp.Null):
        return value
    empty = resolve_outer(empty) if resolve_outer is not None else empty
    matched = exp.Not(this=exp.Is(this=matched_key, expression=exp.Null()))
    return exp.Case(ifs=[exp.If(this=matched, true=value)], default=empty)


def _plan_mark_per_row(builder, select: exp.Select, probe, holder, scope, resolve_outer, outer: set[str]) -> exp.Expression:
    """Plan EXISTS or IN over a subquery that reads outer columns outside its WHERE conjuncts.

    The outer rows join the subquery's FROM (see `_join_outer_rows`), and the mark join
    matches each outer row with the subquery rows of its row number.
    """
    from gsql.sql.build import limit_values

    if select.args.get("windows"):
        raise UnsupportedError("a correlated EXISTS or IN subquery with a WINDOW clause is not supported")
    _check_per_row_grouping(select, "a correlated EXISTS or IN subquery")
    limits = limit_values(select)
    numbered, row_id = _number_outer_rows(builder, holder)
    modified, ctes, first = _join_outer_rows(builder, select, numbered, row_id, holder, scope, outer, resolve_outer)
    _partition_by_row(modified, first)
    _group_by_row(modified, first, outer)
    width = 1 if probe is not None else 0
    if limits is None:
        # Without LIMIT and OFFSET, duplicate rows and their order cannot change the mark.
        modified.set("distinct", None)
    elif probe is None:
        # EXISTS counts the rows that OFFSET and LIMIT keep, whatever their order, but the
        # count after DISTINCT depends on every select-list item.
        modified.set("order", None)
        if modified.args.get("distinct") is not None:
            width = len(modified.expressions)
    node, item_columns, rid_column = _per_row_relation(builder, modified, ctes, first, width, limits)

    left_node, probe_left = numbered, None
    if probe is not None:
        left_node, probe_columns = _outer_key_columns(builder, numbered, [probe], resolve_outer)
        probe_left = probe_columns[0]
    mark = builder.fresh("m")
    holder.node = plan.MarkJoin(
        left_node.columns + [mark],
        left=left_node,
        right=node,
        left_keys=[row_id],
        right_keys=[rid_column],
        probe_left=probe_left,
        probe_right=item_columns[0] if probe is not None else None,
        mark=mark,
    )
    return _ref(mark)


def _check_per_row_grouping(select: exp.Select, subquery_kind: str) -> None:
    """Reject the grouping that a per-row subquery cannot extend by the outer row number.

    Without GROUP BY, HAVING or an aggregate in ORDER BY makes one group even for an outer
    row that meets no rows, and so does a grand-total grouping set. Grouping by the row number
    gives such an outer row no group at all.
    """
    group = select.args.get("group")
    if group is None:
        order = select.args.get("order")
        if select.args.get("having") is not None or (order is not None and _has_plain_aggregate(order)):
            raise UnsupportedError(f"{subquery_kind} that aggregates in HAVING or ORDER BY without GROUP BY is not supported")
        return
    if any(isinstance(item, (exp.GroupingSets, exp.Rollup, exp.Cube)) for item in group.expressions):
        raise UnsupportedError(f"GROUPING SETS, ROLLUP or CUBE in {subquery_kind} is not supported")


def _group_by_row(select: exp.Select, first: str, outer: set[str]) -> None:
    """Add the outer row number to the GROUP BY of a per-row subquery, so groups stay per row.

    The outer columns that the subquery reads are keys too: they are constant within each
    outer row, so they split no group, and they stay readable after the grouping.
    """
    group = select.args.get("group")
    if group is None:
        return
    keys = [exp.column("__rid", first)]
    for column in select.find_all(exp.Column):
        if column.table in outer and not any(column == key for key in keys):
            # A copy keeps the identifiers' quoting, so the key equals the column it groups.
            keys.append(column.copy())
    group.set("expressions", [*group.expressions, *keys])


def _per_row_relation(
    builder, select: exp.Select, ctes, first: str, width: int, limits: tuple[int | None, int] | None
) -> tuple[plan.Node, list[str], str]:
    """Build the rows of a per-row subquery: its first `width` select items and the row number.

    `select` has the outer rows joined (see `_join_outer_rows`) and is changed in place. With
    LIMIT or OFFSET, the rows of each outer row are numbered in ORDER BY order, and only those
    that the clauses keep remain. Return the plan node, the item columns and the row-number
    column.
    """
    from gsql.sql.build import _sort_key

    items = list(select.expressions[:width])
    keys: list[tuple[int, exp.Ordered]] = []
    hidden: list[exp.Expression] = []
    order = select.args.get("order")
    if limits is not None and order is not None:
        keys, hidden = _order_keys(order, select.expressions, width, select.args.get("distinct") is not None)
    row_number = exp.alias_(exp.column("__rid", first), "__rid")
    extra = [exp.alias_(expression, f"__order{index}") for index, expression in enumerate(hidden)]
    select.set("expressions", [*items, row_number, *extra])
    for clause in ("order", "limit", "offset"):
        select.set(clause, None)
    relation = builder.query(select, ctes)

    columns = relation.node.columns
    node = relation.node
    if limits is not None:
        # Keys index the select list, where the row number sits between the items and the rest.
        sort_keys = [_sort_key(columns[index if index < width else index + 1], ordered) for index, ordered in keys]
        node = _keep_numbered_rows(builder, node, columns[width], sort_keys, limits)
    outputs = columns[: width + 1]
    if node.columns != outputs:
        node = plan.Project(outputs, input=node, expressions=[_ref(column) for column in outputs])
    return node, outputs[:width], outputs[width]


def _order_keys(
    order: exp.Order, expressions: list[exp.Expression], width: int, distinct: bool
) -> tuple[list[tuple[int, exp.Ordered]], list[exp.Expression]]:
    """Map the ORDER BY keys of a per-row subquery to positions in its new select list.

    A key that names one of the first `width` items (by position, alias or the same
    expression) sorts by that item. Any other key becomes a hidden expression after them, at
    position `width + n`. Return the positions with their keys, and the hidden expressions.
    """
    from gsql.sql.build import _substitute_aliases

    aliases = {item.alias: item.this for item in expressions if isinstance(item, exp.Alias)}
    keys: list[tuple[int, exp.Ordered]] = []
    hidden: list[exp.Expression] = []
    for ordered in order.expressions:
        key = ordered.this
        if isinstance(key, exp.Var) and key.name.upper() == "ALL":
            # ORDER BY ALL sorts by every select-list item, left to right.
            targets = [(position, None) for position in range(len(expressions))]
        else:
            targets = [(_select_position(key, expressions), key)]
        for position, expression in targets:
            if position is not None and position < width:
                keys.append((position, ordered))
                continue
            if distinct:
                raise UnsupportedError(
                    f"ORDER BY `{ordered.this.sql()}` outside the select list of a correlated SELECT DISTINCT "
                    "with LIMIT or OFFSET is not supported"
                )
            if position is not None:
                hidden.append(_unalias(expressions[position]).copy())
            else:
                hidden.append(_substitute_aliases(expression, aliases))
            keys.append((width + len(hidden) - 1, ordered))
    return keys, hidden


def _select_position(key: exp.Expression, expressions: list[exp.Expression]) -> int | None:
    """Return the select-list position that an ORDER BY key names, or None for another expression."""
    if isinstance(key, exp.Literal) and not key.is_string:
        position = int(key.this)
        if not 1 <= position <= len(expressions):
            raise BindError(f"ORDER BY position {position} is not in the select list of {len(expressions)} columns")
        return position - 1
    if isinstance(key, exp.Column) and not key.table:
        names = [item.alias_or_name for item in expressions]
        if key.name in names:
            return names.index(key.name)
    for position, item in enumerate(expressions):
        if _unalias(item) == key:
            return position
    return None


def _keep_numbered_rows(
    builder, node: plan.Node, partition: str, keys: list[plan.SortKey], limits: tuple[int | None, int]
) -> plan.Node:
    """Keep the rows that LIMIT and OFFSET keep within each `partition` group, in `keys` order."""
    count, skip = limits
    number = builder.fresh("rn")
    numbered = plan.Window(
        node.columns + [number],
        input=node,
        calls=[plan.WindowCall("row_number", [], [partition], keys)],
    )
    conditions: list[exp.Expression] = [exp.GT(this=_ref(number), expression=exp.Literal.number(skip))]
    if count is not None:
        conditions.append(exp.LTE(this=_ref(number), expression=exp.Literal.number(skip + count)))
    return plan.Filter(numbered.columns, input=numbered, predicate=conjunction(conditions))


def _keeps_first_row(limits: tuple[int | None, int] | None) -> bool:
    """Return whether LIMIT and OFFSET, as `limit_values` gives them, keep a query's first row."""
    if limits is None:
        return True
    count, skip = limits
    return skip == 0 and count != 0


def _has_plain_aggregate(expression: exp.Expression) -> bool:
    """Return whether `expression` calls an aggregate outside window functions and subqueries."""
    boundary = (exp.Window, exp.Subquery, exp.Select, exp.Exists)
    nodes = expression.walk(prune=lambda node: isinstance(node, boundary))
    return any(is_aggregate_call(node) for node in nodes)


def _own_windows(select: exp.Select) -> list[exp.Window]:
    """Return the window functions of `select` itself, outside its subqueries."""
    boundary = (exp.Subquery, exp.Select, exp.Exists)
    windows: list[exp.Window] = []
    for key in ("expressions", "qualify", "order", "having"):
        value = select.args.get(key)
        for root in value if isinstance(value, list) else [value]:
            if isinstance(root, exp.Expression):
                nodes = root.walk(prune=lambda node: isinstance(node, boundary))
                windows += [node for node in nodes if isinstance(node, exp.Window)]
    return windows


def _partition_by_row(select: exp.Select, first: str) -> None:
    """Partition the window functions of a per-row subquery by the outer row number as well."""
    for window in _own_windows(select):
        partition = [exp.column("__rid", first), *(window.args.get("partition_by") or [])]
        window.set("partition_by", partition)


def _check_correlated_scalar(select: exp.Expression, limited: bool = False) -> None:
    """Reject a correlated scalar aggregate whose value a LEFT JOIN on its correlation would change.

    `limited` allows LIMIT and OFFSET, which a per-row plan applies after the aggregate.
    """
    if not isinstance(select, exp.Select):
        raise UnsupportedError("a correlated scalar subquery must be a SELECT")
    clauses = ("group", "having", "distinct") if limited else ("group", "having", "distinct", "limit", "offset")
    for clause in clauses:
        if select.args.get(clause):
            raise UnsupportedError(f"a correlated scalar subquery with {clause.upper()} is not supported")
    if len(select.expressions) != 1:
        raise UnsupportedError("a scalar subquery must return one column")
    value = _unalias(select.expressions[0])
    aggregates = list(value.find_all(exp.AggFunc))
    if not aggregates:
        raise UnsupportedError(
            "a correlated scalar subquery without an aggregate is not supported; "
            "rewrite it as a join"
        )


def _unalias(expression: exp.Expression) -> exp.Expression:
    return expression.this if isinstance(expression, exp.Alias) else expression


def _split_correlation(query: exp.Expression, scope: Scope) -> tuple[Correlation, exp.Expression]:
    """Remove the WHERE conjuncts that reference the enclosing query, and classify them."""
    empty = Correlation([], [], [])
    if not isinstance(query, exp.Select):
        if free_aliases(query) & scope.aliases():
            raise UnsupportedError("a correlated subquery over a set operation is not supported")
        return empty, query

    local = _local_aliases(query)
    outer = scope.aliases()
    where = query.args.get("where")
    parts = list(conjuncts(where.this)) if where is not None else []
    uncorrelated, correlated = [], []
    for conjunct in parts:
        references = free_aliases(conjunct) - local
        (correlated if references & outer else uncorrelated).append(conjunct)

    if correlated and _own_windows(query):
        # A window function is computed over the rows that the whole WHERE clause keeps,
        # correlated conjuncts included, so those cannot move into a join above it.
        raise UnsupportedError("a correlated subquery with a window function must run per outer row")
    select = query.copy() if correlated else query
    if correlated:
        select.set("where", exp.Where(this=conjunction([c.copy() for c in uncorrelated])) if uncorrelated else None)
    leftover = free_aliases(select) - local
    if leftover & outer:
        name = sorted(leftover & outer)[0]
        raise UnsupportedError(
            f"a reference to outer table `{name}` outside the subquery's WHERE conjuncts is not supported"
        )

    inner_keys, outer_keys, residual = [], [], []
    for conjunct in correlated:
        pair = _correlation_pair(conjunct, local, outer)
        if pair is None:
            residual.append(conjunct)
        else:
            inner_keys.append(pair[0])
            outer_keys.append(pair[1])
    if correlated:
        for clause in ("limit", "offset"):
            if select.args.get(clause):
                raise UnsupportedError(f"a correlated subquery with {clause.upper()} is not supported")
        select.set("order", None)
    return Correlation(inner_keys, outer_keys, residual), select


def _correlation_pair(conjunct, local: set[str], outer: set[str]):
    if not isinstance(conjunct, exp.EQ):
        return None
    left, right = conjunct.this, conjunct.expression
    left_refs, right_refs = free_aliases(left), free_aliases(right)
    if left_refs and right_refs and left_refs <= local and right_refs <= outer:
        return left, right
    if left_refs and right_refs and right_refs <= local and left_refs <= outer:
        return right, left
    return None


def _residual_columns(correlation: Correlation, select: exp.Expression) -> list[exp.Expression]:
    local = _local_aliases(select) if isinstance(select, exp.Select) else set()
    columns: list[exp.Expression] = []
    for conjunct in correlation.residual:
        for column in conjunct.find_all(exp.Column):
            if column.table in local and not any(column == c for c in columns):
                columns.append(column)
    return columns


def _build_with_extras(builder, select, extras: list[exp.Expression], keep_select: bool) -> Relation:
    """Build `select` with `extras` appended to its select list (or replacing it)."""
    if not extras and keep_select:
        return builder.query(select, builder.current_ctes)
    if not isinstance(select, exp.Select):
        return builder.query(select, builder.current_ctes)
    if not extras and _aggregates_without_group(select):
        # Its one row exists even over no input rows, but `SELECT 1 FROM ...` would have none.
        return builder.query(select, builder.current_ctes)
    modified = select.copy()
    items = list(modified.expressions) if keep_select else []
    for index, extra in enumerate(extras):
        items.append(exp.alias_(extra.copy(), f"_corr{index}"))
    if not items:
        items = [exp.alias_(exp.Literal.number(1), "_one")]
    modified.set("expressions", items)
    if not keep_select:
        modified.set("distinct", None)
    return builder.query(modified, builder.current_ctes)


def _outer_key_columns(builder, node: plan.Node, expressions, resolve_outer) -> tuple[plan.Node, list[str]]:
    names: list[str] = []
    extra: list[tuple[str, exp.Expression]] = []
    for expression in expressions:
        resolved = resolve_outer(expression)
        if isinstance(resolved, exp.Column) and resolved.name in node.columns:
            names.append(resolved.name)
        else:
            name = builder.fresh("k")
            extra.append((name, resolved))
            names.append(name)
    if extra:
        columns = node.columns + [name for name, _ in extra]
        node = plan.Project(
            columns, input=node, expressions=[_ref(c) for c in node.columns] + [e for _, e in extra]
        )
    return node, names


def _resolve_residual(builder, correlation, select, relation, scope, offset) -> exp.Expression | None:
    if not correlation.residual:
        return None
    from gsql.sql.build import Scope, _Resolver

    columns = dict(scope.columns)
    extras = _residual_columns(correlation, select)
    start = offset + len(correlation.inner_keys)
    for index, column in enumerate(extras):
        columns[(column.table, column.name)] = relation.node.columns[start + index]
    return _Resolver(builder, Scope(columns)).resolve(conjunction(correlation.residual))


def _local_aliases(select: exp.Select) -> set[str]:
    aliases = set()
    from_ = select.args.get("from_")
    if from_ is not None:
        aliases.add(from_.this.alias_or_name)
    for join in select.args.get("joins") or []:
        aliases.add(join.this.alias_or_name)
    return aliases


def free_aliases(expression: exp.Expression) -> set[str]:
    """Return the table aliases that `expression` reads but does not define itself."""
    found: set[str] = set()
    _collect_free(expression, found)
    return found


def _collect_free(expression: exp.Expression, found: set[str]) -> None:
    if isinstance(expression, exp.Select):
        inner: set[str] = set()
        for key, value in expression.args.items():
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, exp.Expression):
                    _collect_free(child, inner)
        found |= inner - _local_aliases(expression)
        return
    if isinstance(expression, exp.Column):
        if expression.table:
            found.add(expression.table)
        return
    for child in expression.iter_expressions():
        _collect_free(child, found)


def conjunction(parts: list[exp.Expression]) -> exp.Expression:
    """Return the AND of `parts`, which may include operands that sqlglot's `and_` rejects.

    A scalar subquery used as a predicate (`WHERE (SELECT COUNT(*) ...)`) is not a sqlglot
    `Condition`, so it is wrapped in parentheses before combining.
    """
    if len(parts) == 1:
        return parts[0]
    operands = [part if isinstance(part, exp.Condition) else exp.paren(part, copy=False) for part in parts]
    return exp.and_(*operands, copy=False)


def conjuncts(expression: exp.Expression) -> Iterator[exp.Expression]:
    """Yield the operands of a chain of ANDs, looking through parentheses."""
    if isinstance(expression, exp.And):
        yield from conjuncts(expression.this)
        yield from conjuncts(expression.expression)
    elif isinstance(expression, exp.Paren) and isinstance(expression.this, exp.And):
        yield from conjuncts(expression.this)
    else:
        yield expression


def _ref(name: str) -> exp.Column:
    return exp.Column(this=exp.to_identifier(name, quoted=True))
