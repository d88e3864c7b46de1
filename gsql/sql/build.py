"""Build gsql's logical plan from a bound (qualified) sqlglot expression.

The builder is a whitelist: every clause and expression class it does not handle raises
`UnsupportedError` naming it, so a query either runs with SQL semantics or fails clearly.

>>> # SELECT carrier, COUNT(*) AS n FROM flights WHERE distance > 1000 GROUP BY carrier
>>> # becomes
>>> # Project carrier, n
>>> #   Aggregate keys=flights.carrier COUNT(*)
>>> #     Filter flights.distance > 1000
>>> #       Scan flights (carrier, distance)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from sqlglot import exp

from gsql.errors import BindError, UnsupportedError
from gsql.sql import plan
from gsql.sql.bind import RECURRING, WHOLE_ROW, BoundQuery, is_parenthesized_join
from gsql.sql.implied import implied_equalities, implied_filters
from gsql.sql.joinorder import RowEstimates, column_type, join_order
from gsql.sql.outer_aggregates import LiftedAggregate, lift_outer_aggregates
from gsql.sql.prune import prune_columns
from gsql.sql.semijoin import reduce_joined_aggregates
from gsql.sql.recursive import plan_recursive_cte, reads_cte, recurring_key, reject_using_key
from gsql.sql.subqueries import NodeHolder, conjunction, conjuncts as _conjuncts, free_aliases, plan_quantified, plan_subquery
from gsql.sql.windows import plan_windows
from gsql.sql.aggregates import expand_grouping_sets, is_aggregate_call, plan_aggregate_call
from gsql.sql.expressions import check_supported, display_name
from gsql.sql.joins import (
    asof_condition,
    asof_kind,
    has_subquery,
    plan_asof_join,
    plan_join_with_subqueries,
    plan_parenthesized_join,
)
from gsql.sql.lateral import (
    depends_on_lateral,
    is_lateral,
    lateral_block_items,
    lateral_query,
    plan_lateral_join,
)

__all__ = ["Relation", "build_plan", "limit_values"]

# Select arguments the builder reads; any other argument that is set is rejected by name.
_HANDLED_SELECT_ARGS = frozenset(
    {"expressions", "from_", "joins", "where", "group", "having", "order", "limit", "offset",
     "distinct", "with_", "kind", "hint", "exclude", "operation_modifiers", "windows", "qualify"}
)
_HANDLED_SET_ARGS = frozenset(
    {"this", "expression", "distinct", "by_name", "order", "limit", "offset", "with_", "side",
     "kind", "on"}
)


@dataclass
class Relation:
    """A plan node with the SQL names of its output columns, in order.

    `display` contains the names a result shows when they differ from `names`. An unaliased
    expression is named `_col_N` inside the query, as sqlglot's qualifier names it, and is
    shown by its SQL text.
    """

    node: plan.Node
    names: list[str]
    display: list[str] | None = None

    def shown_names(self) -> list[str]:
        return self.display if self.display is not None else self.names


@dataclass
class Scope:
    """Columns visible to expressions of one SELECT: (table alias, column) -> frame column."""

    columns: dict[tuple[str, str], str] = field(default_factory=dict)

    def aliases(self) -> set[str]:
        return {alias for alias, _ in self.columns}


@dataclass
class _FromItem:
    relation: plan.Node
    aliases: set[str]


def build_plan(bound: BoundQuery) -> Relation:
    """Build the logical plan of a bound query, with unread columns pruned."""
    relation = _PlanBuilder(bound).query(bound.expression, {})
    # The semi joins that this adds below joined aggregates get their columns pruned too.
    reduce_joined_aggregates(relation.node)
    prune_columns(relation.node)
    return relation


class _PlanBuilder:
    def __init__(self, bound: BoundQuery) -> None:
        self.bound = bound
        self.dialect = bound.dialect
        self._counter = itertools.count()
        self.current_ctes: dict[str, Relation] = {}
        # The outer rows of the LATERAL subquery being built, if any.
        self.lateral = None

    def fresh(self, prefix: str) -> str:
        return f"_{prefix}{next(self._counter)}"

    # Queries -----------------------------------------------------------------------------

    def query(self, expression: exp.Expression, ctes: dict[str, Relation]) -> Relation:
        ctes = self._with_ctes(expression, ctes)
        if isinstance(expression, exp.Select):
            return self.select(expression, ctes)
        if isinstance(expression, exp.SetOperation):
            return self.set_operation(expression, ctes)
        if isinstance(expression, exp.Subquery):
            relation = self.query(expression.this, ctes)
            return self._order_and_limit(expression, relation)
        raise UnsupportedError(
            f"statement `{type(expression).__name__.upper()}` is not supported; "
            "gsql runs SELECT queries"
        )

    def _with_ctes(self, expression: exp.Expression, ctes: dict[str, Relation]) -> dict[str, Relation]:
        with_ = expression.args.get("with_")
        if not with_:
            return ctes
        for option in ("search", "cycle"):
            if with_.args.get(option):
                raise UnsupportedError(f"WITH RECURSIVE ... {option.upper()} is not supported")
        ctes = dict(ctes)
        for cte in with_.expressions:
            name = cte.alias_or_name.lower()
            body = cte.this
            if with_.args.get("recursive") and reads_cte(body, name):
                ctes[name] = self._recursive_cte(cte, name, ctes)
            elif depends_on_lateral(self, body):
                ctes[name] = lateral_query(self, body, ctes)
            else:
                reject_using_key(cte, name)
                ctes[name] = self.query(body, ctes)
        return ctes

    def _recursive_cte(self, cte: exp.CTE, name: str, ctes: dict[str, Relation]) -> Relation:
        return plan_recursive_cte(self, cte, name, ctes)

    def set_operation(self, expression: exp.SetOperation, ctes: dict[str, Relation]) -> Relation:
        left = self.query(expression.this, ctes)
        right = self.query(expression.expression, ctes)
        return self._order_and_limit(expression, self.combine(expression, left, right))

    def combine(self, expression: exp.SetOperation, left: Relation, right: Relation) -> Relation:
        """Return the UNION, INTERSECT or EXCEPT of two built inputs, before ORDER BY and LIMIT."""
        _reject_args(expression, _HANDLED_SET_ARGS, "set operation")
        if expression.args.get("by_name") or expression.args.get("side") or expression.args.get("on"):
            raise UnsupportedError(f"`{expression.key.upper()} BY NAME` is not supported")
        if len(left.names) != len(right.names):
            raise BindError(
                f"{expression.key.upper()} inputs have {len(left.names)} and {len(right.names)} "
                "columns; both sides must select the same number of columns"
            )
        kind = {exp.Union: "union", exp.Intersect: "intersect", exp.Except: "except"}[type(expression)]
        distinct = expression.args.get("distinct", True) is not False
        columns = [self.fresh("u") for _ in left.names]
        node = plan.SetOperation(columns, left=left.node, right=right.node, kind=kind, all=not distinct)
        return Relation(node, left.names, left.display)

    def select(self, select: exp.Select, ctes: dict[str, Relation]) -> Relation:
        _reject_args(select, _HANDLED_SELECT_ARGS, "SELECT")
        if select.args.get("kind") or select.args.get("exclude") or select.args.get("operation_modifiers"):
            raise UnsupportedError(f"SELECT modifier in `{select.sql(self.dialect)[:80]}` is not supported")
        distinct = select.args.get("distinct")
        if distinct is not None and distinct.args.get("on"):
            raise UnsupportedError("SELECT DISTINCT ON is not supported")

        saved_ctes, self.current_ctes = self.current_ctes, ctes
        try:
            node, scope, remaining = self._from_clause(select, ctes)
            if remaining:
                node = self._filter(node, conjunction(remaining), scope)

            holder = NodeHolder(node)
            resolver: _Resolver = _Resolver(self, scope, holder)
            select, lifted = lift_outer_aggregates(select, self.fresh)
            if _needs_aggregate(select) or lifted:
                extra_calls = [call for call, _ in lifted]
                holder.node, replacements = self._aggregate(select, node, scope, extra_calls)
                _link_lifted_aggregates(lifted, replacements, scope)
                resolver = _AggregateResolver(self, scope, replacements, holder)
            if select.args.get("having"):
                predicate = resolver.resolve(select.args["having"].this)
                holder.node = plan.Filter(holder.node.columns, input=holder.node, predicate=predicate)
            resolver.windows = plan_windows(self, select, holder, resolver)
            if select.args.get("qualify"):
                predicate = resolver.resolve(select.args["qualify"].this)
                holder.node = plan.Filter(holder.node.columns, input=holder.node, predicate=predicate)
            return self._project(select, holder, resolver, distinct is not None)
        finally:
            self.current_ctes = saved_ctes

    # FROM, JOIN and WHERE -----------------------------------------------------------------

    def _from_clause(
        self, select: exp.Select, ctes: dict[str, Relation]
    ) -> tuple[plan.Node, Scope, list[exp.Expression]]:
        from_ = select.args.get("from_")
        where = select.args.get("where")
        conjuncts = [c for conjunct in _conjuncts(where.this) for c in _factor_or(conjunct)] if where else []
        if from_ is None:
            if select.args.get("joins"):
                raise UnsupportedError("JOIN without FROM is not supported")
            scope = Scope()
            lateral_items = lateral_block_items(self, select, scope, [])
            if lateral_items:
                return self._inner_joins(lateral_items, conjuncts, scope)
            return plan.Values([], rows=[()]), Scope(), conjuncts

        scope = Scope()
        first = self._from_item(from_.this, ctes, scope)
        joins = select.args.get("joins") or []
        earlier = {from_.this.alias_or_name}
        for join in joins:
            if is_lateral(join, earlier):
                return self._lateral_joins(select, first, joins, ctes, conjuncts, scope)
            earlier.add(join.this.alias_or_name)
        items = [(first, None)] + [(self._from_item(join.this, ctes, scope), join) for join in joins]
        items = lateral_block_items(self, select, scope, items)
        for _, join in items[1:]:
            _check_join(join)

        outer = any(
            _join_kind(join) in ("left", "right", "full", "semi", "anti", "positional")
            or _join_kind(join).startswith("asof")
            for _, join in items[1:]
        )
        if outer:
            return self._ordered_joins(items, conjuncts, scope)
        return self._inner_joins(items, conjuncts, scope)

    def _lateral_joins(
        self,
        select: exp.Select,
        first: _FromItem,
        joins: list[exp.Join],
        ctes: dict[str, Relation],
        conjuncts: list[exp.Expression],
        scope: Scope,
    ) -> tuple[plan.Node, Scope, list[exp.Expression]]:
        """Join FROM items in the written order when some are LATERAL; WHERE applies after."""
        if lateral_block_items(self, select, scope, [(first, None)]) != [(first, None)]:
            raise UnsupportedError("a LATERAL join inside a LATERAL subquery is not supported")
        current = first
        pending: list[tuple[_FromItem, exp.Join | None]] = []
        earlier = set(first.aliases)
        for join in joins:
            if is_lateral(join, earlier):
                current = self._join_pending(current, pending, scope)
                pending = []
                current = plan_lateral_join(self, current, join, _join_kind(join), ctes, scope)
            else:
                _check_join(join)
                item = self._from_item(join.this, ctes, scope)
                lateral_block_items(self, select, scope, [(item, join)])  # raises for a nested LATERAL's rows
                pending.append((item, join))
            earlier.add(join.this.alias_or_name)
        current = self._join_pending(current, pending, scope)
        return current.relation, scope, conjuncts

    def _join_pending(
        self, current: _FromItem, pending: list[tuple[_FromItem, exp.Join | None]], scope: Scope
    ) -> _FromItem:
        if not pending:
            return current
        node, _, _ = self._ordered_joins([(current, None), *pending], [], scope)
        aliases = set(current.aliases)
        for item, _ in pending:
            aliases |= item.aliases
        return _FromItem(node, aliases)

    def _from_item(self, item: exp.Expression, ctes: dict[str, Relation], scope: Scope) -> _FromItem:
        alias = item.alias_or_name
        if isinstance(item, exp.Table) and item.meta.get(RECURRING):
            relation = ctes.get(recurring_key(item.name.lower()))
            if relation is None:
                raise BindError(
                    f"`recurring.{item.name}` can only be read in the recursive term of the "
                    f"recursive CTE `{item.name}`"
                )
            return self._rename(_with_column_aliases(relation, item), alias, scope)
        if isinstance(item, exp.Table) and item.name.lower() in ctes and not item.args.get("db"):
            relation = _unique_names(ctes[item.name.lower()], item, self.dialect)
            return self._rename(_with_column_aliases(relation, item), alias, scope)
        if isinstance(item, exp.Table):
            return self._scan(item, alias, scope)
        if is_parenthesized_join(item):
            return plan_parenthesized_join(self, item, ctes, scope)
        if isinstance(item, exp.Subquery) and depends_on_lateral(self, item.this):
            if any(item.args.get(clause) for clause in ("order", "limit", "offset")):
                raise UnsupportedError("ORDER BY or LIMIT on a subquery inside a LATERAL subquery is not supported")
            return self._rename(lateral_query(self, item.this, ctes), alias, scope)
        if isinstance(item, exp.Subquery):
            relation = self.query(item.this, ctes)
            relation = self._order_and_limit(item, relation)
            return self._rename(_unique_names(relation, item, self.dialect), alias, scope)
        if isinstance(item, exp.Values):
            return self._values(item, alias, scope)
        raise UnsupportedError(f"FROM item `{item.sql(self.dialect)[:80]}` is not supported")

    def _scan(self, table: exp.Table, alias: str, scope: Scope) -> _FromItem:
        name = table.name
        source = self.bound.sources.get(name)
        if source is None:
            raise BindError(f"unknown table `{name}`")
        column_names = self.bound.column_names[name]
        names = _column_aliases(table, list(column_names))
        columns = []
        for normalised, original in zip(names, column_names.values()):
            frame_column = f"{alias}.{normalised}"
            scope.columns[(alias, normalised)] = frame_column
            columns.append((frame_column, original))
        node = plan.Scan(
            [frame for frame, _ in columns],
            source=source,
            alias=alias,
            source_columns=[original for _, original in columns],
        )
        return _FromItem(node, {alias})

    def _rename(self, relation: Relation, alias: str, scope: Scope) -> _FromItem:
        columns = []
        for name, column in zip(relation.names, relation.node.columns):
            key = (alias, name)
            if key in scope.columns:
                raise BindError(f"column `{name}` appears twice in derived table `{alias}`; give each column a unique alias")
            scope.columns[key] = f"{alias}.{name}"
            columns.append(f"{alias}.{name}")
        node = plan.Project(columns, input=relation.node, expressions=[_ref(c) for c in relation.node.columns])
        return _FromItem(node, {alias})

    def _values(self, values: exp.Values, alias: str, scope: Scope) -> _FromItem:
        rows = []
        for row in values.expressions:
            cells = row.expressions if isinstance(row, exp.Tuple) else [row]
            rows.append(tuple(cells))
        width = len(rows[0]) if rows else 0
        if any(len(row) != width for row in rows):
            raise BindError("VALUES rows must all have the same number of columns")
        for row in rows:
            for cell in row:
                column = cell.find(exp.Column)
                if column is not None:
                    # The Values node evaluates its cells without input rows.
                    raise UnsupportedError(
                        f"a VALUES row that reads the column `{column.sql()}` is not supported; "
                        "select the expression in a subquery instead"
                    )
        table_alias = values.args.get("alias")
        names = [c.name for c in table_alias.columns] if table_alias and table_alias.columns else []
        # DuckDB names unnamed VALUES columns col0, col1, ... by position.
        names += [f"col{i}" for i in range(len(names), width)]
        columns = []
        for name in names:
            scope.columns[(alias, name)] = f"{alias}.{name}"
            columns.append(f"{alias}.{name}")
        node = plan.Values(columns, rows=rows)
        return _FromItem(node, {alias})

    def _inner_joins(
        self, items: list[tuple[_FromItem, exp.Join | None]], conjuncts: list[exp.Expression], scope: Scope
    ) -> tuple[plan.Node, Scope, list[exp.Expression]]:
        """Join items of inner and cross joins in an order that avoids cross products.

        With only inner joins, ON and WHERE conjuncts are interchangeable, so they form one pool.
        Each conjunct is applied as soon as the tables it reads have been joined.
        """
        pool = list(conjuncts)
        for _, join in items[1:]:
            if join is not None and join.args.get("on"):
                pool.extend(_conjuncts(join.args["on"]))

        remaining_items = [item for item, _ in items]
        pending: list[exp.Expression] = []
        for conjunct in pool:
            aliases = free_aliases(conjunct)
            single = [item for item in remaining_items if aliases and aliases <= item.aliases]
            if single and _filterable(conjunct):
                single[0].relation = self._filter(single[0].relation, conjunct, scope)
            else:
                pending.append(conjunct)
        for conjunct in pending:
            for item in remaining_items:
                derived = implied_filters(conjunct, item.aliases)
                if derived is not None and _filterable(derived):
                    item.relation = self._filter(item.relation, derived, scope)
        pending += implied_equalities(pending, lambda column: _scan_column_type(remaining_items, column))

        equalities = _equalities(pending)
        order = join_order(
            [(item.relation, item.aliases) for item in remaining_items],
            lambda joined, other: _key_pairs(equalities, joined, other),
            RowEstimates(),
        )
        remaining_items = [remaining_items[index] for index in order]
        current = remaining_items.pop(0)
        while remaining_items:
            item = remaining_items.pop(0)
            available = current.aliases | item.aliases
            applicable = [
                c for c in pending if _pushable(c) and _aliases(c) and _aliases(c) <= available
            ]
            pending = [c for c in pending if not any(c is a for a in applicable)]
            current = self._join(current, item, "inner", applicable, scope)
        return current.relation, scope, pending

    def _ordered_joins(
        self, items: list[tuple[_FromItem, exp.Join | None]], conjuncts: list[exp.Expression], scope: Scope
    ) -> tuple[plan.Node, Scope, list[exp.Expression]]:
        """Join items in the written order when outer joins make the order significant."""
        null_supplied: set[str] = set()
        seen: set[str] = set(items[0][0].aliases)
        for item, join in items[1:]:
            kind = _join_kind(join)
            if kind in ("left", "full", "semi", "anti", "positional"):
                null_supplied |= item.aliases
            if kind in ("right", "full", "positional", "asof_right", "asof_full"):
                null_supplied |= seen
            if kind.startswith("asof"):
                # Every right row of an ASOF join competes to be the nearest match, so a WHERE
                # filter on the right input would change which row other rows match.
                null_supplied |= item.aliases
            seen |= item.aliases

        pending: list[exp.Expression] = []
        for conjunct in conjuncts:
            aliases = free_aliases(conjunct)
            target = [item for item, _ in items if aliases and aliases <= item.aliases]
            if target and _filterable(conjunct) and not (aliases & null_supplied):
                target[0].relation = self._filter(target[0].relation, conjunct, scope)
            else:
                pending.append(conjunct)

        current = items[0][0]
        for item, join in items[1:]:
            kind = _join_kind(join)
            if kind.startswith("asof"):
                condition = asof_condition(join)
                current = plan_asof_join(self, current, item, kind[len("asof_") :], condition, scope)
                continue
            condition = list(_conjuncts(join.args["on"])) if join.args.get("on") else []
            condition = self._push_on_conditions(current, item, kind, condition, scope)
            if kind == "inner":
                available = current.aliases | item.aliases
                extra = [c for c in pending if _pushable(c) and _aliases(c) and _aliases(c) <= available and not (_aliases(c) & null_supplied)]
                pending = [c for c in pending if not any(c is e for e in extra)]
                condition += extra
            if kind != "positional" and any(has_subquery(c) for c in condition):
                current = plan_join_with_subqueries(self, current, item, kind, condition, scope)
                continue
            current = self._join(current, item, kind, condition, scope)
        return current.relation, scope, pending

    def _push_on_conditions(
        self, left: _FromItem, right: _FromItem, kind: str, condition: list[exp.Expression], scope: Scope
    ) -> list[exp.Expression]:
        """Apply ON conjuncts that read one input only to that input, where SQL allows it.

        A conjunct over the null-supplying side only limits which rows can match, so it may
        filter that input before the join. Over the preserved side it must stay in the join.
        """
        kept = []
        for conjunct in condition:
            aliases = free_aliases(conjunct)
            # A subquery in the join's residual has no plan, so it filters one input even where
            # `_filterable` would keep it above the join for speed.
            if aliases and (_filterable(conjunct) or _has_subquery(conjunct)):
                if aliases <= right.aliases and kind in ("inner", "left", "semi", "anti"):
                    right.relation = self._filter(right.relation, conjunct, scope)
                    continue
                # An ANTI join keeps left rows that fail such a condition, so it stays.
                if aliases <= left.aliases and kind in ("inner", "right", "semi"):
                    left.relation = self._filter(left.relation, conjunct, scope)
                    continue
            kept.append(conjunct)
        return kept

    def _join(
        self, left: _FromItem, right: _FromItem, kind: str, condition: list[exp.Expression], scope: Scope
    ) -> _FromItem:
        left_keys: list[str] = []
        right_keys: list[str] = []
        residual: list[exp.Expression] = []
        left_extra: list[tuple[str, exp.Expression]] = []
        right_extra: list[tuple[str, exp.Expression]] = []

        for conjunct in condition:
            pair = _equi_pair(conjunct, left.aliases, right.aliases)
            if pair is None:
                residual.append(conjunct)
                continue
            left_key = self._key_column(pair[0], scope, left_extra)
            right_key = self._key_column(pair[1], scope, right_extra)
            left_keys.append(left_key)
            right_keys.append(right_key)

        left_node = _extend(left.relation, left_extra)
        right_node = _extend(right.relation, right_extra)
        if kind == "inner" and not left_keys:
            kind = "cross" if not residual else "inner"
        residual_expression = None
        if residual:
            residual_expression = _Resolver(self, scope).resolve(conjunction(residual))
        elif not left_keys and kind in ("left", "right", "full"):
            # Every ON conjunct went into an input's filter. The engines run a join without
            # keys or residual as a cross join, which would drop the unmatched rows.
            residual_expression = exp.true()
        if kind in ("semi", "anti"):
            return self._semi_join(left, left_node, right_node, kind, left_keys, right_keys, residual_expression)
        node: plan.Node = plan.Join(
            left_node.columns + right_node.columns,
            left=left_node,
            right=right_node,
            kind=kind,
            left_keys=left_keys,
            right_keys=right_keys,
            residual=residual_expression,
        )
        if left_extra or right_extra:
            keep = left.relation.columns + right.relation.columns
            node = plan.Project(keep, input=node, expressions=[_ref(c) for c in keep])
        return _FromItem(node, left.aliases | right.aliases)

    def _semi_join(
        self,
        left: _FromItem,
        left_node: plan.Node,
        right_node: plan.Node,
        kind: str,
        left_keys: list[str],
        right_keys: list[str],
        residual: exp.Expression | None,
    ) -> _FromItem:
        """Keep the left rows that have (SEMI) or lack (ANTI) a matching right row."""
        mark = self.fresh("m")
        node: plan.Node = plan.MarkJoin(
            left_node.columns + [mark],
            left=left_node,
            right=right_node,
            left_keys=left_keys,
            right_keys=right_keys,
            residual=residual,
            mark=mark,
        )
        keep = _ref(mark) if kind == "semi" else exp.Not(this=_ref(mark))
        node = plan.Filter(node.columns, input=node, predicate=keep)
        columns = left.relation.columns
        node = plan.Project(columns, input=node, expressions=[_ref(c) for c in columns])
        return _FromItem(node, left.aliases)

    def _key_column(
        self, expression: exp.Expression, scope: Scope, extra: list[tuple[str, exp.Expression]]
    ) -> str:
        resolved = _Resolver(self, scope).resolve(expression)
        if isinstance(resolved, exp.Column):
            return resolved.name
        name = self.fresh("k")
        extra.append((name, resolved))
        return name

    def _filter(self, node: plan.Node, predicate: exp.Expression, scope: Scope) -> plan.Node:
        holder = NodeHolder(node)
        resolved = _Resolver(self, scope, holder).resolve(predicate)
        if holder.node is node and isinstance(node, plan.Filter):
            # One filter with the conditions in order: engines narrow the rows condition by
            # condition instead of copying every column once per condition.
            combined = exp.and_(node.predicate, resolved, copy=False)
            return plan.Filter(node.columns, input=node.input, predicate=combined)
        filtered: plan.Node = plan.Filter(holder.node.columns, input=holder.node, predicate=resolved)
        if holder.node is not node:
            # Drop the columns that subqueries added below the filter.
            filtered = plan.Project(node.columns, input=filtered, expressions=[_ref(c) for c in node.columns])
        return filtered

    # GROUP BY and aggregates --------------------------------------------------------------

    def _aggregate(
        self, select: exp.Select, node: plan.Node, scope: Scope, extra_calls: list[exp.Expression]
    ) -> tuple[plan.Node, list[tuple[exp.Expression, str]]]:
        group = select.args.get("group")
        expanded = expand_grouping_sets(group) if group is not None else None
        if expanded is not None:
            group_expressions = expanded[0]
        else:
            group_expressions = list(group.expressions) if group is not None else []

        # Subqueries in keys and aggregate arguments join below the pre-aggregation projection.
        below = NodeHolder(node)
        resolver = _Resolver(self, scope, below)
        pre_columns: list[str] = []
        pre_expressions: list[exp.Expression] = []

        def pre_column(expression: exp.Expression) -> str:
            resolved = resolver.resolve(expression)
            for name, existing in zip(pre_columns, pre_expressions):
                if existing == resolved:
                    return name
            name = resolved.name if isinstance(resolved, exp.Column) else self.fresh("g")
            pre_columns.append(name)
            pre_expressions.append(resolved)
            return name

        replacements: list[tuple[exp.Expression, str]] = []
        keys = []
        for expression in group_expressions:
            key = pre_column(expression)
            if key not in keys:
                keys.append(key)
            replacements.append((expression, key))

        calls: list[plan.AggregateCall] = []
        call_columns: list[str] = []
        for call_expression in _aggregate_calls(select) + extra_calls:
            if any(call_expression == existing for existing, _ in replacements):
                continue
            if self.dialect == "sqlite" and _is_distinct_with_separator(call_expression):
                raise BindError(
                    f"`{call_expression.sql(self.dialect)}`: SQLite's DISTINCT aggregates take "
                    "exactly one argument"
                )
            call = plan_aggregate_call(call_expression, pre_column)
            name = self.fresh("a")
            calls.append(call)
            call_columns.append(name)
            replacements.append((call_expression, name))

        if self.dialect == "sqlite":
            # SQLite lets a column outside GROUP BY and outside aggregates take its value from
            # an arbitrary row of the group; gsql takes one with ANY_VALUE.
            for column in _bare_columns(select, replacements):
                call = plan.AggregateCall("any_value", pre_column(column))
                name = self.fresh("a")
                calls.append(call)
                call_columns.append(name)
                replacements.append((column, name))
        pre = plan.Project(pre_columns, input=below.node, expressions=pre_expressions)
        if expanded is None:
            for grouping in _grouping_calls(select):
                raise BindError(f"`{grouping.sql()}` needs GROUPING SETS, ROLLUP or CUBE")
            aggregate = plan.Aggregate(keys + call_columns, input=pre, keys=keys, aggregates=calls)
            return aggregate, replacements
        key_columns = [pre_column(expression) for expression in group_expressions]
        return self._grouping_sets(select, pre, key_columns, group_expressions, expanded[1], calls, call_columns, replacements)

    def _grouping_sets(
        self,
        select: exp.Select,
        pre: plan.Node,
        key_columns: list[str],
        key_expressions: list[exp.Expression],
        sets: list[list[int]],
        calls: list[plan.AggregateCall],
        call_columns: list[str],
        replacements: list[tuple[exp.Expression, str]],
    ) -> tuple[plan.Node, list[tuple[exp.Expression, str]]]:
        """Aggregate once per grouping set and stack the results with UNION ALL.

        Keys outside a set are NULL in its rows; GROUPING(a, b) is a bit mask whose bit is 1
        for each argument that is not a key of the set.
        """
        groupings = []
        for grouping in _grouping_calls(select):
            positions = []
            for argument in grouping.expressions:
                matches = [i for i, key in enumerate(key_expressions) if key == argument]
                if not matches:
                    raise BindError(f"`{argument.sql()}` in `{grouping.sql()}` is not a GROUP BY key")
                positions.append(matches[0])
            column = self.fresh("gr")
            groupings.append((positions, column))
            replacements.append((grouping, column))

        output = list(dict.fromkeys(key_columns)) + call_columns + [column for _, column in groupings]
        branches: list[plan.Node] = []
        for members in sets:
            keys = list(dict.fromkeys(key_columns[i] for i in members))
            names = [self.fresh("s") for _ in call_columns]
            aggregate = plan.Aggregate(keys + names, input=pre, keys=keys, aggregates=calls)
            expressions: list[exp.Expression] = []
            for column in output[: len(output) - len(call_columns) - len(groupings)]:
                expressions.append(_ref(column) if column in keys else exp.Null())
            expressions += [_ref(name) for name in names]
            for positions, _ in groupings:
                mask = sum(1 << (len(positions) - 1 - j) for j, p in enumerate(positions) if p not in members)
                expressions.append(exp.Literal.number(mask))
            branches.append(plan.Project(list(output), input=aggregate, expressions=expressions))

        node = branches[0]
        for branch in branches[1:]:
            node = plan.SetOperation(list(output), left=node, right=branch, kind="union", all=True)
        return node, replacements

    # SELECT list, DISTINCT, ORDER BY and LIMIT --------------------------------------------

    def _project(self, select: exp.Select, holder: NodeHolder, resolver: _Resolver, distinct: bool) -> Relation:
        names: list[str] = []
        columns: list[str] = []
        expressions: list[exp.Expression] = []
        originals: list[exp.Expression] = []
        display: list[str] = []
        for item in select.expressions:
            inner = item.this if isinstance(item, exp.Alias) else item
            name = item.alias if isinstance(item, exp.Alias) else item.alias_or_name
            shown = name
            if isinstance(item, exp.Alias) and name.startswith("_col_"):
                shown = display_name(inner, self.dialect)
            names.append(name)
            display.append(shown)
            columns.append(self.fresh("p"))
            expressions.append(resolver.resolve(inner))
            originals.append(inner)

        order = select.args.get("order")
        sort_keys: list[plan.SortKey] = []
        hidden = 0
        aliases = {
            item.alias: item.this for item in select.expressions if isinstance(item, exp.Alias)
        }
        if order is not None:
            for ordered in _expand_table_keys(order.expressions, resolver.scope, self.dialect):
                if isinstance(ordered.this, exp.Var) and ordered.this.name.upper() == "ALL":
                    # ORDER BY ALL sorts by every select-list column, left to right.
                    sort_keys.extend(_sort_key(column, ordered) for column in columns[: len(names)])
                    continue
                column = self._order_column(ordered.this, select, names, columns, originals)
                if column is None:
                    key = _substitute_aliases(ordered.this, aliases)
                    ordered = ordered.copy()
                    ordered.set("this", key)
                    column = self._order_column(key, select, names, columns, originals)
                if column is None:
                    if distinct:
                        raise BindError(
                            f"ORDER BY `{ordered.this.sql(self.dialect)}` must appear in the select list of a SELECT DISTINCT"
                        )
                    column = self.fresh("o")
                    columns.append(column)
                    expressions.append(resolver.resolve(ordered.this))
                    hidden += 1
                sort_keys.append(_sort_key(column, ordered))

        result: plan.Node = plan.Project(columns, input=holder.node, expressions=expressions)
        if distinct:
            result = plan.Distinct(result.columns, input=result)
        sort = None
        if sort_keys:
            result = sort = plan.Sort(result.columns, input=result, keys=sort_keys)
        if hidden:
            visible = columns[: len(names)]
            result = plan.Project(visible, input=result, expressions=[_ref(c) for c in visible])
        return self._limit(select, Relation(result, names, display), sort)

    def _order_column(
        self,
        expression: exp.Expression,
        select: exp.Select,
        names: list[str],
        columns: list[str],
        originals: list[exp.Expression],
    ) -> str | None:
        if isinstance(expression, exp.Literal) and not expression.is_string:
            position = int(expression.this)
            if not 1 <= position <= len(names):
                raise BindError(f"ORDER BY position {position} is not in the select list of {len(names)} columns")
            return columns[position - 1]
        if isinstance(expression, exp.Column) and not expression.table:
            aliases = [item.alias_or_name for item in select.expressions]
            if expression.name in aliases:
                return columns[aliases.index(expression.name)]
        for column, original in zip(columns, originals):
            if original == expression:
                return column
        return None

    def _order_and_limit(self, expression: exp.Expression, relation: Relation) -> Relation:
        order = expression.args.get("order")
        if order is not None:
            keys = []
            for ordered in order.expressions:
                key = ordered.this
                column = None
                if isinstance(key, exp.Literal) and not key.is_string:
                    position = int(key.this)
                    if not 1 <= position <= len(relation.names):
                        raise BindError(f"ORDER BY position {position} is not in the select list")
                    column = relation.node.columns[position - 1]
                elif isinstance(key, exp.Column) and key.name in relation.names:
                    column = relation.node.columns[relation.names.index(key.name)]
                elif isinstance(key, exp.Column) and isinstance(expression, exp.SetOperation):
                    position = _branch_position(expression, key.name)
                    column = relation.node.columns[position] if position is not None else None
                if column is None:
                    raise UnsupportedError(
                        f"ORDER BY `{key.sql(self.dialect)}` on a set operation must name an output column"
                    )
                keys.append(_sort_key(column, ordered))
            node = plan.Sort(relation.node.columns, input=relation.node, keys=keys)
            return self._limit(expression, Relation(node, relation.names, relation.display), node)
        return self._limit(expression, relation)

    def _limit(self, expression: exp.Expression, relation: Relation, sort: plan.Sort | None = None) -> Relation:
        """Apply LIMIT and OFFSET; `sort` is the ORDER BY of the same query level, if any."""
        values = limit_values(expression)
        if values is None:
            return relation
        count, skip = values
        node = plan.Limit(relation.node.columns, input=relation.node, limit=count, offset=skip)
        if count is not None and sort is not None:
            # Only this query level's own sort: a CTE's sort may be read elsewhere in full.
            sort.top = count + skip
        return Relation(node, relation.names, relation.display)


class _Resolver:
    """Rewrite an expression so its column references name frame columns."""

    def __init__(self, builder: _PlanBuilder, scope: Scope, holder: NodeHolder | None = None) -> None:
        self.builder = builder
        self.scope = scope
        self.holder = holder
        self.windows: list[tuple[exp.Window, str]] = []

    def resolve(self, expression: exp.Expression) -> exp.Expression:
        resolved = self._resolve_unchecked(expression)
        check_supported(resolved)
        return resolved

    def _resolve_unchecked(self, expression: exp.Expression) -> exp.Expression:
        return expression.copy().transform(self._replace, copy=False)

    def _replace(self, node: exp.Expression) -> exp.Expression:
        if (
            isinstance(node, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE))
            and isinstance(node.expression, (exp.All, exp.Any))
            and self.holder is not None
        ):
            return plan_quantified(self.builder, node, self.holder, self.scope, self._resolve_unchecked)
        if isinstance(node, (exp.All, exp.Any)):
            keyword = "ALL" if isinstance(node, exp.All) else "ANY"
            raise UnsupportedError(
                f"comparison with {keyword} (subquery) is not supported (in `{node.parent.sql()[:80]}`); "
                "rewrite it with MIN, MAX or EXISTS"
            )
        if isinstance(node, exp.Window):
            for window, column in self.windows:
                if node == window:
                    return _ref(column)
            raise UnsupportedError(f"window function `{node.sql()[:80]}` is not allowed here")
        if isinstance(node, exp.Column):
            return self._column(node)
        is_subquery = isinstance(node, (exp.Subquery, exp.Exists)) or (
            isinstance(node, exp.In) and node.args.get("query") is not None
        )
        if is_subquery and self.holder is not None:
            return plan_subquery(self.builder, node, self.holder, self.scope, self._resolve_unchecked)
        if is_subquery or isinstance(node, exp.Select):
            raise UnsupportedError(f"subquery `{node.sql()[:80]}` is not supported in this position")
        if isinstance(node, exp.AggFunc):
            raise BindError(f"aggregate `{node.sql()}` is not allowed here (in WHERE, ON or GROUP BY)")
        return node

    def _column(self, column: exp.Column) -> exp.Expression:
        key = (column.table, column.name)
        frame_column = self.scope.columns.get(key)
        if frame_column is None:
            raise BindError(f"unknown column `{column.sql()}`")
        return _ref(frame_column)


class _AggregateResolver(_Resolver):
    """Resolve expressions above an Aggregate: only group keys and aggregates are visible."""

    def __init__(
        self,
        builder: _PlanBuilder,
        scope: Scope,
        replacements: list[tuple[exp.Expression, str]],
        holder: NodeHolder | None = None,
    ) -> None:
        super().__init__(builder, scope, holder)
        self.replacements = replacements

    def _replace(self, node: exp.Expression) -> exp.Expression:
        for expression, column in self.replacements:
            if node == expression:
                return _ref(column)
        if isinstance(node, exp.Column):
            raise BindError(
                f"column `{node.sql()}` must appear in the GROUP BY clause or be used in an aggregate function"
            )
        return super()._replace(node)


# Helpers ------------------------------------------------------------------------------------


def _expand_table_keys(keys: list[exp.Ordered], scope: Scope, dialect: str) -> list[exp.Ordered]:
    """Replace DuckDB's `ORDER BY t`, a table's whole row, by the columns of `t` in order.

    DuckDB 2.0 compares such rows as structs, field by field. NULL fields sort last in
    ascending order and first in descending order, whatever the NULLS option is. The row of a
    table is never NULL itself, because an outer join's missing row is a row of NULL fields.
    """
    expanded: list[exp.Ordered] = []
    for ordered in keys:
        if not isinstance(ordered.this, exp.TableColumn):
            expanded.append(ordered)
            continue
        if dialect != "duckdb":
            raise UnsupportedError(f"ORDER BY the table `{ordered.this.name}` is not supported")
        alias = ordered.this.name
        names = [name for table, name in scope.columns if table == alias]
        if not names:
            raise BindError(f"ORDER BY `{alias}` names no table of the FROM clause")
        descending = bool(ordered.args.get("desc"))
        for name in names:
            column = exp.column(name, table=alias)
            expanded.append(exp.Ordered(this=column, desc=descending, nulls_first=descending))
    return expanded


def _column_aliases(table: exp.Table, names: list[str]) -> list[str]:
    """Return `names` renamed by the column list of `table`'s alias, as in `FROM t AS u(a, b)`."""
    alias = table.args.get("alias")
    aliases = [column.name for column in alias.columns] if isinstance(alias, exp.TableAlias) else []
    if len(aliases) > len(names):
        raise BindError(
            f"table `{table.name}` has {len(names)} columns but its alias names {len(aliases)}"
        )
    return aliases + names[len(aliases) :]


def _unique_names(relation: Relation, item: exp.Expression, dialect: str) -> Relation:
    """Rename duplicate column names of a derived table or CTE as DuckDB does: `a`, `a_1`.

    A reference to a duplicated name then reads the first column of that name. Other dialects,
    and items that a star or a NATURAL or USING join reads, keep the names, so `_rename`
    raises on the duplicate.
    """
    if len(set(relation.names)) == len(relation.names):
        return relation
    if dialect != "duckdb" or item.meta.get(WHOLE_ROW):
        return relation
    used: set[str] = set()
    names = []
    for name in relation.names:
        unique, suffix = name, 0
        while unique.lower() in used:
            suffix += 1
            unique = f"{name}_{suffix}"
        used.add(unique.lower())
        names.append(unique)
    return Relation(relation.node, names, relation.display)


def _with_column_aliases(relation: Relation, table: exp.Table) -> Relation:
    names = _column_aliases(table, relation.names)
    if names == relation.names:
        return relation
    return Relation(relation.node, names)


def _branch_position(operation: exp.SetOperation, name: str) -> int | None:
    """Return the position of the first column called `name` in a later branch of a set operation.

    DuckDB lets ORDER BY on `SELECT a, b ... UNION SELECT c, d ...` name `d`, the second
    column, when no column of the result (named after the first branch) is called `d`.
    """
    branches: list[exp.Expression] = [operation]
    while branches:
        branch = branches.pop(0)
        if isinstance(branch, exp.SetOperation):
            branches = [branch.this, branch.expression, *branches]
        elif isinstance(branch, exp.Subquery):
            branches.insert(0, branch.this)
        elif isinstance(branch, exp.Select):
            names = [item.alias_or_name for item in branch.expressions]
            if name in names:
                return names.index(name)
    return None


def _ref(name: str) -> exp.Column:
    return exp.Column(this=exp.to_identifier(name, quoted=True))


def _extend(node: plan.Node, extra: list[tuple[str, exp.Expression]]) -> plan.Node:
    if not extra:
        return node
    columns = node.columns + [name for name, _ in extra]
    expressions = [_ref(c) for c in node.columns] + [e for _, e in extra]
    return plan.Project(columns, input=node, expressions=expressions)


def _reject_args(expression: exp.Expression, handled: frozenset[str], what: str) -> None:
    for name, value in expression.args.items():
        if value in (None, [], False) or name in handled:
            continue
        raise UnsupportedError(f"{what} clause `{name.upper().rstrip('_')}` is not supported")


def _factor_or(expression: exp.Expression) -> list[exp.Expression]:
    """Pull the conjuncts shared by every branch of an OR out of it.

    `(a = b AND x) OR (a = b AND y)` becomes `a = b` and `x OR y`, so the shared equality can
    serve as a join key instead of leaving a cross product filtered by the OR.
    """
    inner = expression.this if isinstance(expression, exp.Paren) else expression
    if not isinstance(inner, exp.Or):
        return [expression]
    branches = [list(_conjuncts(_unparen(branch))) for branch in _disjuncts(inner)]
    common = [c for c in branches[0] if all(any(c == other for other in branch) for branch in branches[1:])]
    if not common:
        return [expression]
    rests = [[c for c in branch if not any(c == shared for shared in common)] for branch in branches]
    if any(not rest for rest in rests):
        return common
    remainder = exp.or_(
        *[exp.paren(exp.and_(*rest, copy=False), copy=False) if len(rest) > 1 else rest[0] for rest in rests],
        copy=False,
    )
    return common + [remainder]


def _disjuncts(expression: exp.Expression):
    if isinstance(expression, exp.Or):
        yield from _disjuncts(expression.this)
        yield from _disjuncts(expression.expression)
    elif isinstance(expression, exp.Paren) and isinstance(expression.this, exp.Or):
        yield from _disjuncts(expression.this)
    else:
        yield expression


def _unparen(expression: exp.Expression) -> exp.Expression:
    while isinstance(expression, exp.Paren):
        expression = expression.this
    return expression


def _aliases(expression: exp.Expression) -> set[str]:
    return {column.table for column in expression.find_all(exp.Column) if column.table}


def _pushable(expression: exp.Expression) -> bool:
    """Return whether a conjunct may be evaluated below the WHERE clause that contains it."""
    return not any(
        isinstance(node, (exp.Subquery, exp.Select, exp.Exists, exp.AggFunc, exp.Window))
        for node in expression.walk()
    )


def _is_distinct_with_separator(call: exp.Expression) -> bool:
    return (
        isinstance(call, exp.GroupConcat)
        and isinstance(call.this, exp.Distinct)
        and call.args.get("separator") is not None
    )


def _substitute_aliases(expression: exp.Expression, aliases: dict[str, exp.Expression]) -> exp.Expression:
    """Replace select-list aliases in an ORDER BY expression by what they name.

    After qualification every table column is qualified, so an unqualified column in ORDER BY
    is a select-list alias: `SELECT x AS v ... ORDER BY v + 1` sorts by `x + 1`.
    """

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name in aliases:
            return aliases[node.name].copy()
        return node

    return expression.copy().transform(replace, copy=False)


def _has_subquery(expression: exp.Expression) -> bool:
    return any(isinstance(node, (exp.Subquery, exp.Select, exp.Exists)) for node in expression.walk())


def _filterable(expression: exp.Expression) -> bool:
    """Return whether a conjunct should filter one FROM item before the joins.

    Aggregates and windows never may. Uncorrelated subqueries may, because they usually shrink
    the item cheaply. Correlated ones stay above the joins, because their join with the item
    can cost more than with the joined rows (TPC-H q21 at scale factor 1 took 45 s instead of
    5 s when pushed, on a 2-core machine).
    """
    boundary = (exp.Subquery, exp.Select, exp.Exists)
    for node in expression.walk(prune=lambda n: isinstance(n, boundary)):
        if isinstance(node, (exp.AggFunc, exp.Window)):
            return False
        if isinstance(node, boundary) and free_aliases(node.this if isinstance(node, exp.Exists) else node):
            return False
    return True


def _equi_pair(conjunct: exp.Expression, left: set[str], right: set[str]):
    if not isinstance(conjunct, exp.EQ):
        return None
    a, b = conjunct.this, conjunct.expression
    aliases_a, aliases_b = _aliases(a), _aliases(b)
    if not aliases_a or not aliases_b or not _pushable(conjunct):
        return None
    if aliases_a <= left and aliases_b <= right:
        return a, b
    if aliases_a <= right and aliases_b <= left:
        return b, a
    return None


def _scan_column_type(items: list[_FromItem], column: exp.Column):
    """Return the Arrow type of a column read straight from a table scan, or None."""
    for item in items:
        if column.table in item.aliases:
            return column_type(item.relation, column.table, column.name)
    return None


def _equalities(pending: list[exp.Expression]) -> list[tuple[exp.Expression, set[str], exp.Expression, set[str]]]:
    """Return each equality between two sides that both read tables, with their aliases."""
    found = []
    for conjunct in pending:
        if isinstance(conjunct, exp.EQ) and _pushable(conjunct):
            a, b = conjunct.this, conjunct.expression
            aliases_a, aliases_b = _aliases(a), _aliases(b)
            if aliases_a and aliases_b:
                found.append((a, aliases_a, b, aliases_b))
    return found


def _key_pairs(equalities: list, joined: set[str], other: set[str]) -> list:
    pairs = []
    for a, aliases_a, b, aliases_b in equalities:
        if aliases_a <= joined and aliases_b <= other:
            pairs.append((a, b))
        elif aliases_a <= other and aliases_b <= joined:
            pairs.append((b, a))
    return pairs


def _join_kind(join: exp.Join | None) -> str:
    if join is None:
        return "inner"
    side = (join.side or "").lower()
    kind = (join.kind or "").lower()
    asof = asof_kind(join)
    if asof is not None:
        return f"asof_{asof}"
    if kind in ("semi", "anti"):
        return kind
    if (join.args.get("method") or "").upper() == "POSITIONAL":
        return "positional"
    if side in ("left", "right", "full"):
        return side
    if kind == "cross":
        return "cross"
    return "inner"


_JOIN_ARGS = frozenset({"this", "on", "using", "side", "kind"})
_JOIN_KINDS = frozenset({"", "INNER", "OUTER", "CROSS", "SEMI", "ANTI"})


def _check_join(join: exp.Join) -> None:
    """Reject join forms the planner does not implement, rather than run them as plain joins."""
    kind = (join.kind or "").upper()
    if kind not in _JOIN_KINDS:
        raise UnsupportedError(f"{kind} JOIN is not supported (in `{join.sql()[:80]}`)")
    for name, value in join.args.items():
        if value in (None, [], False) or name in _JOIN_ARGS:
            continue
        if name == "method" and str(value).upper() == "POSITIONAL" and not join.args.get("on"):
            continue
        if name == "method" and str(value).upper() == "ASOF":
            continue
        raise UnsupportedError(f"join clause `{name.upper()}` is not supported (in `{join.sql()[:80]}`)")
    if join.args.get("using"):
        raise UnsupportedError("JOIN ... USING could not be rewritten to ON; write the ON condition")
    if isinstance(join.this, exp.Lateral):
        raise UnsupportedError(f"LATERAL join `{join.sql()[:80]}` is not supported")


def _link_lifted_aggregates(
    lifted: list[LiftedAggregate], replacements: list[tuple[exp.Expression, str]], scope: Scope
) -> None:
    """Let subqueries read each aggregate moved out of them through the column that replaced it."""
    for call, column in lifted:
        name = next(name for expression, name in replacements if expression == call)
        replacements.append((column, name))
        scope.columns[(column.table, column.name)] = name


def _aggregate_calls(select: exp.Select) -> list[exp.AggFunc]:
    found: list[exp.AggFunc] = []
    roots = list(select.expressions)
    if select.args.get("having"):
        roots.append(select.args["having"])
    if select.args.get("order"):
        roots.append(select.args["order"])
    if select.args.get("qualify"):
        roots.append(select.args["qualify"])
    for root in roots:
        _collect_aggregates(root, found)
    return found


def _bare_columns(select: exp.Select, replacements: list[tuple[exp.Expression, str]]) -> list[exp.Column]:
    """Return the columns read outside GROUP BY keys, aggregates, windows and subqueries."""
    roots = list(select.expressions)
    for clause in ("having", "order"):
        if select.args.get(clause) is not None:
            roots.append(select.args[clause])
    found: list[exp.Column] = []

    def stop(node: exp.Expression) -> bool:
        if any(node == expression for expression, _ in replacements):
            return True
        return is_aggregate_call(node) or isinstance(node, (exp.Window, exp.Subquery, exp.Select, exp.Exists))

    for root in roots:
        for node in root.walk(prune=stop):
            if stop(node):
                continue
            if isinstance(node, exp.Column) and node.table and not any(node == seen for seen in found):
                found.append(node)
    return found


def _grouping_calls(select: exp.Select) -> list[exp.Grouping]:
    roots = list(select.expressions)
    for clause in ("having", "order", "qualify"):
        if select.args.get(clause) is not None:
            roots.append(select.args[clause])
    found: list[exp.Grouping] = []
    for root in roots:
        for node in root.find_all(exp.Grouping):
            if not any(node == seen for seen in found):
                found.append(node)
    return found


def _collect_aggregates(root: exp.Expression, found: list[exp.Expression]) -> None:
    for node in root.walk(prune=_is_aggregate_boundary):
        if isinstance(node, exp.Window):
            # The window function itself is not a grouped aggregate, but its arguments,
            # PARTITION BY and ORDER BY may contain some: SUM(SUM(x)) OVER ().
            function = node.this
            conditions = []
            while isinstance(function, (exp.IgnoreNulls, exp.RespectNulls, exp.Filter)):
                if isinstance(function, exp.Filter):
                    conditions.append(function.expression)
                function = function.this
            for part in [*conditions, *function.iter_expressions(), *(node.args.get("partition_by") or [])]:
                _collect_aggregates(part, found)
            if node.args.get("order") is not None:
                _collect_aggregates(node.args["order"], found)
            continue
        if is_aggregate_call(node) and not any(node == existing for existing in found):
            found.append(node)


def _is_aggregate_boundary(node: exp.Expression) -> bool:
    if is_aggregate_call(node):
        return True
    return isinstance(node, (exp.AggFunc, exp.Subquery, exp.Select, exp.Exists, exp.Window))


def _needs_aggregate(select: exp.Select) -> bool:
    return select.args.get("group") is not None or bool(_aggregate_calls(select))


def _sort_key(column: str, ordered: exp.Ordered) -> plan.SortKey:
    descending = bool(ordered.args.get("desc"))
    nulls_first = ordered.args.get("nulls_first")
    if nulls_first is None:
        nulls_first = descending
    return plan.SortKey(column, descending=descending, nulls_first=bool(nulls_first))


def limit_values(expression: exp.Expression) -> tuple[int | None, int] | None:
    """Return the LIMIT (None for no limit) and OFFSET of a query, or None when it has neither.

    `FETCH FIRST n ROWS ONLY` is a LIMIT, and both must be non-negative integer literals.
    """
    limit = expression.args.get("limit")
    offset = expression.args.get("offset")
    if limit is None and offset is None:
        return None
    count = None
    if isinstance(limit, exp.Fetch):
        count = _integer(limit.args.get("count") or exp.Literal.number(1), "FETCH")
    elif limit is not None:
        count = _integer(limit.expression, "LIMIT")
    skip = _integer(offset.expression, "OFFSET") if offset is not None else 0
    return count, skip


def _integer(expression: exp.Expression, clause: str) -> int:
    if isinstance(expression, exp.Literal) and not expression.is_string and expression.this.isdigit():
        return int(expression.this)
    raise UnsupportedError(f"{clause} must be a non-negative integer literal, not `{expression.sql()}`")
