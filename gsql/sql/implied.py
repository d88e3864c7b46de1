"""Filters implied by an OR that spans several tables of an inner join.

`(n1.name = 'FRANCE' AND n2.name = 'GERMANY') OR (n1.name = 'GERMANY' AND n2.name = 'FRANCE')`
reads two tables, so it can only run after their join. But each branch contains a condition on
`n1` alone, and a row of `n1` that meets none of them fails every branch. So the filter
`n1.name = 'FRANCE' OR n1.name = 'GERMANY'` can run on `n1` before the join, and it removes
rows that could never reach the result. The original predicate stays where it was; the derived one
only adds a filter, so it cannot change the result.

Why this holds under three-valued logic: a branch `A AND B` is TRUE only when `A` is TRUE. If
the derived `A1 OR A2 OR ...` is FALSE or NULL for a row, no `Ai` is TRUE, so no branch is
TRUE and the OR is not TRUE: the WHERE clause or inner-join condition drops the row anyway.
"""

from __future__ import annotations

from sqlglot import exp

from gsql.sql.subqueries import conjuncts, free_aliases

# Functions whose result changes between calls: a filter derived from them would be evaluated
# a second time and could disagree with the original.
_VOLATILE = (exp.Rand,)


def implied_filters(predicate: exp.Expression, aliases: set[str]) -> exp.Expression | None:
    """Return a filter on the table `aliases` alone that `predicate` implies, or None.

    `predicate` is one conjunct of a WHERE clause or inner-join condition. Only an OR whose
    branches each contain a condition reading `aliases` alone produces a filter.
    """
    branches = _branches(predicate)
    if len(branches) < 2 or not _safe(predicate):
        return None
    derived: list[exp.Expression] = []
    for branch in branches:
        local = [c for c in conjuncts(branch) if (found := free_aliases(c)) and found <= aliases]
        if not local:
            return None
        derived.append(_and(local))
    return exp.paren(exp.or_(*derived, copy=True), copy=False)


def _branches(predicate: exp.Expression) -> list[exp.Expression]:
    inner = _unparen(predicate)
    if not isinstance(inner, exp.Or):
        return []
    found: list[exp.Expression] = []
    stack = [inner]
    while stack:
        node = _unparen(stack.pop())
        if isinstance(node, exp.Or):
            stack.append(node.expression)
            stack.append(node.this)
        else:
            found.append(node)
    return found


def _safe(predicate: exp.Expression) -> bool:
    """Return whether the predicate is plain: no subqueries, aggregates, windows or volatile calls."""
    unsafe = (exp.Subquery, exp.Select, exp.Exists, exp.AggFunc, exp.Window, *_VOLATILE)
    return not any(isinstance(node, unsafe) for node in predicate.walk())


def _and(parts: list[exp.Expression]) -> exp.Expression:
    if len(parts) == 1:
        return exp.paren(parts[0].copy(), copy=False)
    return exp.paren(exp.and_(*parts, copy=True), copy=False)


def _unparen(expression: exp.Expression) -> exp.Expression:
    while isinstance(expression, exp.Paren):
        expression = expression.this
    return expression


# Longer chains are left as written: their implied pairs grow with the square of the length.
_MAX_CHAIN_LENGTH = 6


def implied_equalities(
    conjuncts_: list[exp.Expression], column_type
) -> list[exp.Expression]:
    """Return the column equalities that chains of `a = b AND b = c` imply but do not state.

    `c_nationkey = s_nationkey AND s_nationkey = n_nationkey` implies `c_nationkey =
    n_nationkey`, which lets the planner join customer with nation directly. Under inner-join
    and WHERE semantics an implied equality only removes rows the stated ones remove too.
    Only plain columns of one Arrow type join a chain, as `column_type(column)` reports it (None
    when unknown), because with implicit casts equality need not be transitive.
    """
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(key: tuple[str, str]) -> tuple[str, str]:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    stated: set[frozenset[tuple[str, str]]] = set()
    columns: dict[tuple[str, str], exp.Column] = {}
    for conjunct in conjuncts_:
        if not isinstance(conjunct, exp.EQ):
            continue
        a, b = conjunct.this, conjunct.expression
        if not (isinstance(a, exp.Column) and isinstance(b, exp.Column) and a.table and b.table):
            continue
        if a.table == b.table:
            continue
        type_a, type_b = column_type(a), column_type(b)
        if type_a is None or type_a != type_b:
            continue
        key_a, key_b = (a.table, a.name), (b.table, b.name)
        for key, column in ((key_a, a), (key_b, b)):
            parent.setdefault(key, key)
            columns.setdefault(key, column)
        stated.add(frozenset((key_a, key_b)))
        parent[find(key_a)] = find(key_b)

    classes: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key in parent:
        classes.setdefault(find(key), []).append(key)
    implied: list[exp.Expression] = []
    for members in classes.values():
        if len(members) > _MAX_CHAIN_LENGTH:
            continue
        for position, first in enumerate(members):
            for second in members[position + 1 :]:
                if first[0] == second[0] or frozenset((first, second)) in stated:
                    continue
                implied.append(exp.EQ(this=columns[first].copy(), expression=columns[second].copy()))
    return implied
