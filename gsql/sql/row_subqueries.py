"""Plan row-valued comparisons with a subquery: `(a, b) IN (q)`, `(a, b) < ANY (q)`, `... ALL (q)`.

The left row's fields and the subquery's columns are compared pairwise, following DuckDB
(checked against DuckDB 2.0 in tests/test_subqueries_duckdb.py):

- `=` is the AND of the field equalities and `<>` the OR of the field inequalities, both in
  three-valued logic, so `(1, NULL) = (1, 2)` is NULL but `(1, NULL) = (2, 2)` is FALSE.
- `<`, `<=`, `>` and `>=` compare the rows lexicographically as DuckDB orders structs: a NULL
  field equals a NULL field and sorts after every value, so the comparison is never NULL.
- `ANY` is TRUE when the comparison is TRUE for some subquery row, else NULL when it is NULL for
  some row, else FALSE (so FALSE over an empty subquery). `x <op> ALL (q)` is
  `NOT (x <negated op> ANY (q))`, and `NOT IN` is `NOT (x = ANY (q))`.

Each `ANY` becomes one or two `MarkJoin`s of the outer rows with the subquery's rows: one that
marks a TRUE comparison, and for `=` and `<>` one that marks a NULL comparison. `=` joins on
the fields as hash keys; the other operators test every pair of rows.

A subquery may instead return one row-valued column, `SELECT s FROM (VALUES (ROW(1, 2))) t(s)`.
gsql has no struct type, so such a VALUES column is split into one column per field. DuckDB
then compares structs, not rows: a NULL field equals a NULL field in `=` and `<>` as well, so
no comparison is NULL.

>>> # SELECT (a, b) IN (SELECT x, y FROM s) FROM t
>>> # becomes
>>> # Project CASE WHEN m1 THEN TRUE WHEN m2 THEN NULL ELSE FALSE END
>>> #   MarkJoin m2 on TRUE residual (a = x AND b = y) IS NULL
>>> #     MarkJoin m1 on a = x AND b = y
>>> #       Scan t
>>> #     Project x, y
>>> #       Scan s
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from gsql.errors import BindError, UnsupportedError
from gsql.sql import plan

if TYPE_CHECKING:
    from gsql.sql.build import Scope, _PlanBuilder
    from gsql.sql.subqueries import NodeHolder

__all__ = ["plan_row_comparison", "row_fields"]

_NEGATED = {
    exp.GT: exp.LTE,
    exp.GTE: exp.LT,
    exp.LT: exp.GTE,
    exp.LTE: exp.GT,
    exp.EQ: exp.NEQ,
    exp.NEQ: exp.EQ,
}


def row_fields(expression: exp.Expression) -> list[exp.Expression] | None:
    """Return the fields of a row value `(a, b)` or `ROW(a, b)` of two or more fields, else None.

    DuckDB types a one-field `ROW(a)` as a struct that it compares unlike a row, so it is
    left to the paths that reject it.
    """
    if isinstance(expression, exp.Tuple) or (
        isinstance(expression, exp.Anonymous) and expression.name.upper() == "ROW"
    ):
        fields = list(expression.expressions)
        return fields if len(fields) >= 2 else None
    return None


def plan_row_comparison(
    builder: _PlanBuilder,
    fields: list[exp.Expression],
    operator: type[exp.Binary],
    quantifier: str,
    query: exp.Expression,
    holder: NodeHolder,
    scope: Scope,
    resolve_outer,
) -> exp.Expression:
    """Join the subquery of a row comparison below `holder.node` and return its boolean result.

    `quantifier` is "any" or "all", and `x IN (q)` is planned as `x = ANY (q)`.
    """
    from gsql.sql.subqueries import free_aliases

    text = query.sql()[:80]
    if free_aliases(query) & scope.aliases():
        raise UnsupportedError(
            f"a correlated row comparison with subquery `{text}` is not supported"
        )
    split = _split_row_values(builder, query, len(fields))
    relation = builder.query(split if split is not None else query, builder.current_ctes)
    structs = split is not None
    if len(relation.names) == 1:
        # DuckDB compares the row with a struct-valued column here; gsql has no struct type.
        raise UnsupportedError(
            f"comparing a row of {len(fields)} fields with the one column of subquery `{text}` "
            "is not supported; select one column per field"
        )
    if len(relation.names) != len(fields):
        raise BindError(
            f"the row on the left has {len(fields)} fields but subquery `{text}` returns "
            f"{len(relation.names)} columns; both sides must have the same number"
        )

    if quantifier == "all":
        operator = _NEGATED[operator]
    left_node, left_columns = _field_columns(builder, holder.node, fields, resolve_outer)
    right_columns = relation.node.columns
    lefts = [_ref(column) for column in left_columns]
    rights = [_ref(column) for column in right_columns]

    if structs and operator in (exp.EQ, exp.NEQ):
        same = _all_same(lefts, rights)
        test = same if operator is exp.EQ else exp.Not(this=exp.paren(same, copy=False))
        true_mark = _mark_join(builder, left_node, relation.node, residual=test)
    elif operator is exp.EQ:
        true_mark = _mark_join(
            builder, left_node, relation.node, keys=(left_columns, right_columns)
        )
    elif operator is exp.NEQ:
        true_mark = _mark_join(
            builder, left_node, relation.node, residual=_any_differs(lefts, rights)
        )
    else:
        true_mark = _mark_join(
            builder, left_node, relation.node, residual=_ordered(operator, lefts, rights)
        )
    node: plan.Node = true_mark
    result: exp.Expression = _ref(true_mark.mark)

    if operator in (exp.EQ, exp.NEQ) and not structs:
        comparison = (
            _all_equal(lefts, rights) if operator is exp.EQ else _any_differs(lefts, rights)
        )
        unknown = exp.Is(this=exp.paren(comparison, copy=False), expression=exp.Null())
        null_mark = _mark_join(builder, true_mark, relation.node, residual=unknown)
        node = null_mark
        result = exp.Case(
            ifs=[
                exp.If(this=_ref(true_mark.mark), true=exp.true()),
                exp.If(this=_ref(null_mark.mark), true=exp.Null()),
            ],
            default=exp.false(),
        )

    holder.node = node
    if quantifier == "all":
        return exp.Not(this=exp.paren(result, copy=False))
    return result


def _split_row_values(
    builder: _PlanBuilder, query: exp.Expression, count: int
) -> exp.Select | None:
    """Return `query` with its one row-valued VALUES column split into `count` columns.

    Only `SELECT s FROM (VALUES (ROW(...)), ...) t(s, ...)`, where every value of `s` is a
    `ROW(...)` of `count` fields, is split. Any other query gives None.
    """
    if not isinstance(query, exp.Select) or len(query.expressions) != 1:
        return None
    if any(value for key, value in query.args.items() if key not in ("expressions", "from_")):
        return None
    source = query.args["from_"].this if query.args.get("from_") else None
    alias = source.args.get("alias") if isinstance(source, exp.Values) else None
    selected = query.expressions[0].unalias()
    if alias is None or not alias.columns or not isinstance(selected, exp.Column):
        return None
    names = [column.name for column in alias.columns]
    if selected.table not in ("", alias.name) or selected.name not in names:
        return None
    position = names.index(selected.name)

    rows = []
    for row in source.expressions:
        cells = list(row.expressions) if isinstance(row, exp.Tuple) else []
        fields = row_fields(cells[position]) if len(cells) == len(names) else None
        if fields is None or len(fields) != count:
            return None
        cells[position : position + 1] = [field.copy() for field in fields]
        rows.append(exp.Tuple(expressions=[cell.copy() for cell in cells]))
    field_names = [builder.fresh("f") for _ in range(count)]
    columns = names[:position] + field_names + names[position + 1 :]
    values = exp.Values(
        expressions=rows,
        alias=exp.TableAlias(
            this=exp.to_identifier(alias.name),
            columns=[exp.to_identifier(name) for name in columns],
        ),
    )
    projection = [exp.column(name, table=alias.name) for name in field_names]
    return exp.select(*projection).from_(values)


def _all_same(lefts: list[exp.Expression], rights: list[exp.Expression]) -> exp.Expression:
    """Return a never-NULL test that the fields are pairwise equal, NULL equal to NULL."""
    pairs = [
        exp.NullSafeEQ(this=left.copy(), expression=right.copy())
        for left, right in zip(lefts, rights)
    ]
    return exp.and_(*pairs, copy=False)


def _all_equal(lefts: list[exp.Expression], rights: list[exp.Expression]) -> exp.Expression:
    pairs = [
        exp.EQ(this=left.copy(), expression=right.copy()) for left, right in zip(lefts, rights)
    ]
    return exp.and_(*pairs, copy=False)


def _any_differs(lefts: list[exp.Expression], rights: list[exp.Expression]) -> exp.Expression:
    pairs = [
        exp.NEQ(this=left.copy(), expression=right.copy()) for left, right in zip(lefts, rights)
    ]
    return exp.or_(*pairs, copy=False)


def _ordered(
    operator: type[exp.Binary], lefts: list[exp.Expression], rights: list[exp.Expression]
) -> exp.Expression:
    """Return a never-NULL test that the left row sorts before (`<`) or after (`>`) the right one.

    Fields compare in order, the first unequal pair deciding. A NULL field equals a NULL
    field and sorts after every value, as in DuckDB's struct ordering.
    """
    before = operator in (exp.LT, exp.LTE)
    inclusive = operator in (exp.LTE, exp.GTE)
    result: exp.Expression | None = None
    for left, right in reversed(list(zip(lefts, rights))):
        decided = _strictly_ordered(left, right, before)
        equal = exp.NullSafeEQ(this=left.copy(), expression=right.copy())
        if result is None:
            result = exp.or_(decided, equal, copy=False) if inclusive else decided
        else:
            result = exp.or_(
                decided, exp.and_(equal, exp.paren(result, copy=False), copy=False), copy=False
            )
    assert result is not None
    return exp.paren(result, copy=False)


def _strictly_ordered(left: exp.Expression, right: exp.Expression, before: bool) -> exp.Expression:
    """Return a never-NULL test that `left` sorts strictly before (or after) `right`, NULL last."""
    comparison = exp.LT if before else exp.GT
    by_value = exp.Coalesce(
        this=comparison(this=left.copy(), expression=right.copy()), expressions=[exp.false()]
    )
    # A value sorts before NULL: `left` before `right` when only `right` is NULL.
    first, last = (left, right) if before else (right, left)
    by_null = exp.and_(
        exp.Not(this=exp.Is(this=first.copy(), expression=exp.Null())),
        exp.Is(this=last.copy(), expression=exp.Null()),
        copy=False,
    )
    return exp.paren(exp.or_(by_value, by_null, copy=False), copy=False)


def _mark_join(
    builder: _PlanBuilder,
    left: plan.Node,
    right: plan.Node,
    keys: tuple[list[str], list[str]] = ([], []),
    residual: exp.Expression | None = None,
) -> plan.MarkJoin:
    mark = builder.fresh("m")
    return plan.MarkJoin(
        left.columns + [mark],
        left=left,
        right=right,
        left_keys=list(keys[0]),
        right_keys=list(keys[1]),
        residual=residual,
        mark=mark,
    )


def _field_columns(builder, node: plan.Node, fields, resolve_outer) -> tuple[plan.Node, list[str]]:
    """Return `node` with a column for each row field, adding a projection where needed."""
    names: list[str] = []
    expressions = [_ref(column) for column in node.columns]
    for field in fields:
        resolved = resolve_outer(field)
        if (
            isinstance(resolved, exp.Column)
            and not resolved.table
            and resolved.name in node.columns
        ):
            names.append(resolved.name)
            continue
        name = builder.fresh("k")
        expressions.append(resolved)
        names.append(name)
    added = [name for name in names if name not in node.columns]
    if added:
        node = plan.Project(node.columns + added, input=node, expressions=expressions)
    return node, names


def _ref(name: str) -> exp.Column:
    return exp.Column(this=exp.to_identifier(name, quoted=True))
