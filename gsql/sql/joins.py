"""Join forms beyond plain equi and theta joins: USING checks, ASOF, ON subqueries.

An ASOF join matches each left row with at most one right row. The candidates are the right
rows whose equality keys match and that satisfy the one inequality between a left and a right
expression and every other ON conjunct. The match is the nearest candidate in the direction of
the inequality: with `>=` or `>` the one with the largest right value, with `<=` or `<` the
smallest. DuckDB 2.0.1 returns the same rows on the cases in tests/test_joins_duckdb.py.

The planner builds it from ordinary nodes, so every engine runs it:

>>> # SELECT * FROM l ASOF JOIN r ON l.k = r.k AND l.t >= r.t
>>> # becomes
>>> # Filter _rank = 1
>>> #   Window ROW_NUMBER() OVER (PARTITION BY _lrid ORDER BY r.t DESC) AS _rank
>>> #     Join INNER on l.k = r.k residual l.t >= r.t
>>> #       Window ROW_NUMBER() AS _lrid
>>> #         Scan l
>>> #       Scan r
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.resolver import Resolver
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.schema import Schema

from gsql.errors import BindError, SqlSyntaxError, UnsupportedError
from gsql.sql import plan

if TYPE_CHECKING:
    from gsql.sql.build import Scope, _FromItem, _PlanBuilder

__all__ = [
    "asof_kind",
    "check_using_columns",
    "check_using_syntax",
    "mark_asof_using",
    "plan_asof_join",
]

_ASOF_USING = "gsql_asof_using"
_USING_CHAIN = "gsql_using_chain"
_INEQUALITIES = (exp.GT, exp.GTE, exp.LT, exp.LTE)
# The comparison with its operands swapped: `a > b` is `b < a`.
_FLIPPED = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE}


# USING ---------------------------------------------------------------------------------------


def check_using_syntax(statement: exp.Expression, text: str) -> None:
    """Reject a qualified column such as `USING (t1.a)`, which SQL's grammar does not allow.

    sqlglot 30.30 parses `t1.a` in USING and keeps only `a`, so the table name is found in
    the SQL text before the identifier.
    """
    for join in statement.find_all(exp.Join):
        for identifier in join.args.get("using") or []:
            start = identifier.meta.get("start") if isinstance(identifier, exp.Expression) else None
            if start is None or start > len(text):
                continue
            before = text[:start].rstrip()
            if before.endswith("."):
                raise SqlSyntaxError(
                    f"syntax error: USING takes column names without a table, not "
                    f"`{before.rsplit('(', 1)[-1].strip()}{identifier.name}`"
                )


def check_using_columns(expression: exp.Expression, schema: Schema) -> None:
    """Raise when a USING column names more than one column on either side of its join.

    `t1 JOIN t2 USING (a) JOIN t3 USING (b)` is ambiguous when t1 and t2 both have `b`,
    because `b` could come from either (PostgreSQL and DuckDB reject it). A column merged by
    an earlier USING counts once. Joins whose inputs have columns sqlglot cannot list (a `*`
    over a CTE) are not checked.

    Each join whose USING column was merged earlier in the chain also records the inputs that
    have it, so `coalesce_using_chains` can compare with all of them after qualification.
    """
    for scope in traverse_scope(expression):
        select = scope.expression
        joins = select.args.get("joins") if isinstance(select, exp.Select) else None
        if not joins or not any(
            join.args.get("using") or _join_method(join) == "NATURAL" for join in joins
        ):
            continue
        from_ = select.args.get("from_")
        if from_ is None:
            continue
        items = [from_.this] + [join.this for join in joins]
        try:
            resolver = Resolver(scope, schema)
            columns = [_source_columns(resolver, item) for item in items]
        except (sqlglot.errors.SqlglotError, KeyError, ValueError):
            continue
        if any(source is None for source in columns):
            continue
        sources = [(item.alias_or_name, names) for item, names in zip(items, columns)]
        star = any(isinstance(item, exp.Star) for item in select.expressions)
        _check_using_chain(joins, sources, star)


def _source_columns(resolver: Resolver, item: exp.Expression) -> list[str] | None:
    names = resolver.get_source_columns(item.alias_or_name)
    if "*" in names:
        return None
    return list(names)


def _using_names(join: exp.Join) -> list[str]:
    return [
        identifier.name if identifier.quoted else identifier.name.lower()
        for identifier in join.args.get("using") or []
    ]


def _check_using_chain(
    joins: list[exp.Join], sources: list[tuple[str, list[str]]], star: bool
) -> None:
    # The inputs on the left side so far that have each column, and the columns USING merged.
    owners: dict[str, list[str]] = {}
    merged: set[str] = set()
    hidden: str | None = None
    for name in sources[0][1]:
        owners.setdefault(name, []).append(sources[0][0])
    for join, (alias, right) in zip(joins, sources[1:]):
        using = _using_names(join)
        if not using and _join_method(join) == "NATURAL":
            using = [name for name in right if name in owners]
        semi = (join.kind or "").upper() in ("SEMI", "ANTI")
        if not semi and hidden is None:
            names = [name for name in right if name in merged and name not in using]
            hidden = f"{alias}.{names[0]}" if names else None
        chained: dict[str, list[str]] = {}
        for name in using:
            found = owners.get(name, [])
            if name not in merged and len(found) > 1:
                raise BindError(
                    f"column `{name}` in USING is ambiguous: more than one table on the left of "
                    "the join has it; write the join condition with ON"
                )
            if len(found) > 1:
                chained[name] = list(found)
        if chained:
            join.meta[_USING_CHAIN] = chained
        if semi:
            continue  # The right input's columns are not visible after the join.
        for name in right:
            owners.setdefault(name, []).append(alias)
        merged |= set(using)
    if star and hidden is not None:
        # sqlglot 30.30 leaves such a column out of `*`, while it is a column of its own.
        raise UnsupportedError(
            f"SELECT * where `{hidden}` has the name of a column merged by an earlier USING is "
            "not supported; list the columns"
        )


def coalesce_using_chains(expression: exp.Expression) -> None:
    """Compare a USING column merged earlier in the chain through COALESCE of all its inputs.

    In `t1 FULL JOIN t2 USING (a) JOIN t3 USING (a)` the second join compares
    `COALESCE(t1.a, t2.a)` with `t3.a`, because t1.a is NULL for rows only t2 has. sqlglot
    30.30 compares `t1.a` alone when USING names one column.
    """
    for join in expression.find_all(exp.Join):
        chained = join.meta.get(_USING_CHAIN)
        on = join.args.get("on")
        if not chained or on is None:
            continue
        for node in list(on.find_all(exp.EQ)):
            left, right = node.this, node.expression
            if not isinstance(left, exp.Column) or not isinstance(right, exp.Column):
                continue
            if right.table != join.alias_or_name or right.name not in chained:
                continue
            columns = [exp.column(right.name, table=alias) for alias in chained[right.name]]
            node.set("this", exp.Coalesce(this=columns[0], expressions=columns[1:]))


def mark_asof_using(expression: exp.Expression) -> None:
    """Record the last USING column of each ASOF join, which compares with `>=`, not `=`.

    sqlglot's qualifier turns USING into equalities; `plan_asof_join` then changes the one on
    the marked column back into `left >= right`.
    """
    for join in expression.find_all(exp.Join):
        using = join.args.get("using")
        if not using or str(join.args.get("method") or "").upper() != "ASOF":
            continue
        side = (join.side or "").upper()
        if side in ("RIGHT", "FULL"):
            raise UnsupportedError(
                f"ASOF {side} JOIN ... USING is not supported; write the ON condition"
            )
        join.meta[_ASOF_USING] = using[-1].name


# ASOF JOIN -----------------------------------------------------------------------------------


def asof_kind(join: exp.Join) -> str | None:
    """Return `inner`, `left`, `right`, `full`, `semi` or `anti` for an ASOF join, else None."""
    if str(join.args.get("method") or "").upper() != "ASOF":
        return None
    kind = (join.kind or "").lower()
    if kind in ("semi", "anti"):
        return kind
    if kind not in ("", "inner", "outer"):
        raise UnsupportedError(f"ASOF {kind.upper()} JOIN is not supported")
    return (join.side or "inner").lower()


def asof_condition(join: exp.Join) -> list[exp.Expression]:
    """Return the ON conjuncts of an ASOF join, with the USING inequality restored."""
    from gsql.sql.subqueries import conjuncts

    on = join.args.get("on")
    parts = list(conjuncts(on)) if on is not None else []
    name = join.meta.get(_ASOF_USING)
    if name is None:
        return parts
    restored = []
    for part in parts:
        right = part.expression if isinstance(part, exp.EQ) else None
        if (
            isinstance(right, exp.Column)
            and right.name == name
            and right.table == join.alias_or_name
        ):
            part = exp.GTE(this=part.this.copy(), expression=right.copy())
        restored.append(part)
    return restored


def plan_asof_join(
    builder: _PlanBuilder,
    left: _FromItem,
    right: _FromItem,
    kind: str,
    condition: list[exp.Expression],
    scope: Scope,
) -> _FromItem:
    """Plan an ASOF join of `left` and `right` (see the module docstring for its meaning).

    SEMI and ANTI keep the left rows with and without a match. A nearest match exists exactly
    when any candidate does, so they are plain semi and anti joins.
    """
    from gsql.sql.build import _FromItem, _ref

    inequality, others = _split_asof_condition(condition, left.aliases, right.aliases)
    if kind in ("semi", "anti"):
        return builder._join(left, right, kind, condition, scope)
    if kind in ("right", "full") and _has_arbitrary_predicate(others, left.aliases, right.aliases):
        raise UnsupportedError(
            f"ASOF {kind.upper()} JOIN with a condition other than equalities and the inequality "
            "is not supported"
        )

    left_rid = builder.fresh("lrid")
    numbered_left = _number_rows(left.relation, left_rid)
    right_rid = builder.fresh("rrid")
    numbered_right = _number_rows(right.relation, right_rid)
    right_value, right_node = _value_column(builder, inequality.expression, numbered_right, scope)

    left_item = _FromItem(numbered_left, left.aliases)
    right_item = _FromItem(right_node, right.aliases)
    # NOTE: the candidates pair each left row with every right row of its key that passes the
    # inequality, so a key with n left and m right rows costs up to n * m rows.
    candidates = builder._join(
        left_item, right_item, "inner", [inequality, *others], scope
    ).relation

    # NOTE: among right rows tied on the inequality value, row_number keeps one that depends on
    # the order of the candidate rows. DuckDB also returns an arbitrary one of them.
    rank = builder.fresh("rank")
    descending = isinstance(inequality, (exp.GT, exp.GTE))
    ranked = plan.Window(
        candidates.columns + [rank],
        input=candidates,
        calls=[
            plan.WindowCall(
                "row_number", [], [left_rid], [plan.SortKey(right_value, descending, False)]
            )
        ],
    )
    first = exp.EQ(this=_ref(rank), expression=exp.Literal.number(1))
    chosen = plan.Filter(ranked.columns, input=ranked, predicate=first)
    node = _attach_matches(
        builder, chosen, numbered_left, numbered_right, left_rid, right_rid, kind
    )
    columns = left.relation.columns + right.relation.columns
    node = plan.Project(columns, input=node, expressions=[_ref(c) for c in columns])
    return _FromItem(node, left.aliases | right.aliases)


def _split_asof_condition(
    condition: list[exp.Expression], left: set[str], right: set[str]
) -> tuple[exp.Binary, list[exp.Expression]]:
    """Return the ASOF inequality as `left expression <op> right expression`, and the rest."""
    from gsql.sql.subqueries import free_aliases

    found: list[exp.Binary] = []
    others: list[exp.Expression] = []
    for conjunct in condition:
        if isinstance(conjunct, _INEQUALITIES):
            this, that = free_aliases(conjunct.this), free_aliases(conjunct.expression)
            if this and that and this <= left and that <= right:
                found.append(conjunct)
                continue
            if this and that and this <= right and that <= left:
                flipped = _FLIPPED[type(conjunct)](
                    this=conjunct.expression, expression=conjunct.this
                )
                found.append(flipped)
                continue
        others.append(conjunct)
    if not found:
        raise BindError(
            "ASOF JOIN needs one inequality (>=, >, <=, <) between a left and a right column"
        )
    if len(found) > 1:
        raise BindError(
            f"ASOF JOIN takes one inequality, not {len(found)}: "
            + ", ".join(f"`{c.sql()}`" for c in found)
        )
    return found[0], others


def _has_arbitrary_predicate(others: list[exp.Expression], left: set[str], right: set[str]) -> bool:
    from gsql.sql.subqueries import free_aliases

    for conjunct in others:
        if not isinstance(conjunct, exp.EQ):
            return True
        this, that = free_aliases(conjunct.this), free_aliases(conjunct.expression)
        sides_apart = (this <= left and that <= right) or (this <= right and that <= left)
        if not (this and that and sides_apart):
            return True
    return False


def _number_rows(node: plan.Node, column: str) -> plan.Node:
    call = plan.WindowCall("row_number", [], [], [], None)
    return plan.Window(node.columns + [column], input=node, calls=[call])


def _value_column(builder: _PlanBuilder, expression: exp.Expression, node: plan.Node, scope: Scope):
    """Return the frame column holding a right-side expression, adding it to `node` if needed."""
    from gsql.sql.build import _ref, _Resolver

    resolved = _Resolver(builder, scope).resolve(expression)
    if isinstance(resolved, exp.Column) and resolved.name in node.columns:
        return resolved.name, node
    name = builder.fresh("av")
    extended = plan.Project(
        node.columns + [name], input=node, expressions=[_ref(c) for c in node.columns] + [resolved]
    )
    return name, extended


def _attach_matches(
    builder: _PlanBuilder,
    chosen: plan.Node,
    numbered_left: plan.Node,
    numbered_right: plan.Node,
    left_rid: str,
    right_rid: str,
    kind: str,
) -> plan.Node:
    """Join the chosen (left row, right row) numbers back to the rows, as `kind` requires."""
    from gsql.sql.build import _ref

    if kind == "inner":
        return chosen
    pair_left, pair_right = builder.fresh("pl"), builder.fresh("pr")
    pairs = plan.Project(
        [pair_left, pair_right], input=chosen, expressions=[_ref(left_rid), _ref(right_rid)]
    )
    left_side = "left" if kind in ("left", "full") else "inner"
    with_pairs = plan.Join(
        numbered_left.columns + pairs.columns,
        left=numbered_left,
        right=pairs,
        kind=left_side,
        left_keys=[left_rid],
        right_keys=[pair_left],
    )
    right_side = {"left": "left", "right": "right", "full": "full"}[kind]
    return plan.Join(
        with_pairs.columns + numbered_right.columns,
        left=with_pairs,
        right=numbered_right,
        kind=right_side,
        left_keys=[pair_right],
        right_keys=[right_rid],
    )


# Subqueries in the ON condition of outer, semi and anti joins --------------------------------


def has_subquery(expression: exp.Expression) -> bool:
    """Return whether `expression` contains a subquery (EXISTS, IN or a scalar subquery)."""
    return any(
        isinstance(node, (exp.Subquery, exp.Select, exp.Exists)) for node in expression.walk()
    )


def plan_join_with_subqueries(
    builder: _PlanBuilder,
    left: _FromItem,
    right: _FromItem,
    kind: str,
    condition: list[exp.Expression],
    scope: Scope,
) -> _FromItem:
    """Plan a join whose ON condition contains subqueries, for any join kind.

    The rows of both inputs are numbered, and the matching (left row, right row) pairs are the
    rows of their inner join that pass the whole condition, where the subqueries are planned as
    in a WHERE clause. Outer, semi and anti joins then join those pairs back to the numbered
    rows, which keeps the unmatched rows exactly as the outer join defines them.
    """
    from gsql.sql.build import _FromItem, _ref

    plain = [conjunct for conjunct in condition if not has_subquery(conjunct)]
    nested = [conjunct for conjunct in condition if has_subquery(conjunct)]
    left_rid = builder.fresh("lrid")
    right_rid = builder.fresh("rrid")
    numbered_left = _number_rows(left.relation, left_rid)
    numbered_right = _number_rows(right.relation, right_rid)

    left_item = _FromItem(numbered_left, left.aliases)
    right_item = _FromItem(numbered_right, right.aliases)
    pairs = builder._join(left_item, right_item, "inner", plain, scope).relation
    pairs = builder._filter(pairs, exp.and_(*nested, copy=False), scope)

    if kind in ("semi", "anti"):
        matched = builder.fresh("pl")
        keys = plan.Project([matched], input=pairs, expressions=[_ref(left_rid)])
        mark = builder.fresh("m")
        marked = plan.MarkJoin(
            numbered_left.columns + [mark],
            left=numbered_left,
            right=keys,
            left_keys=[left_rid],
            right_keys=[matched],
            mark=mark,
        )
        keep = _ref(mark) if kind == "semi" else exp.Not(this=_ref(mark))
        filtered = plan.Filter(marked.columns, input=marked, predicate=keep)
        columns = left.relation.columns
        node = plan.Project(columns, input=filtered, expressions=[_ref(c) for c in columns])
        return _FromItem(node, left.aliases)

    node = _attach_matches(builder, pairs, numbered_left, numbered_right, left_rid, right_rid, kind)
    columns = left.relation.columns + right.relation.columns
    node = plan.Project(columns, input=node, expressions=[_ref(c) for c in columns])
    return _FromItem(node, left.aliases | right.aliases)


def _join_method(join: exp.Join | None) -> str:
    return str(join.args.get("method") or "").upper() if join is not None else ""


# Parenthesized joins -------------------------------------------------------------------------


def plan_parenthesized_join(
    builder: _PlanBuilder, item: exp.Subquery, ctes: dict, scope: Scope
) -> _FromItem:
    """Join the tables of `(a LEFT JOIN b ON ...)` first, as one FROM item with all their aliases."""
    from gsql.sql.build import _check_join, _FromItem, _join_kind

    table = item.this
    first_table = table.copy()
    first_table.set("joins", None)
    joins = list(table.args.get("joins") or [])
    items = [(builder._from_item(first_table, ctes, scope), None)]
    for join in joins:
        _check_join(join)
        items.append((builder._from_item(join.this, ctes, scope), join))

    ordered = any(_join_kind(join) not in ("inner", "cross") for join in joins)
    if ordered:
        node, _, pending = builder._ordered_joins(items, [], scope)
    else:
        node, _, pending = builder._inner_joins(items, [], scope)
    if pending:
        node = builder._filter(node, exp.and_(*pending, copy=False), scope)
    aliases: set[str] = set()
    for joined, _ in items:
        aliases |= joined.aliases
    return _FromItem(node, aliases)
