"""Keep only the groups that a join can match: a semi join below a joined aggregate.

A decorrelated scalar subquery becomes a join of the outer rows with an aggregate over every
group. TPC-H q17 computes `AVG(l_quantity)` for each of the 200,000 parts of lineitem at scale
factor 1, and its outer rows need about two hundred of them. A group whose key value appears
nowhere on the other side of an equi-join matches nothing there, and an inner join, or an outer
join on the other side, drops it. Each group depends only on its own rows, so the aggregate's
input can keep just the rows whose keys the other side has, and the remaining groups are
unchanged. The other side is computed once and read twice.

>>> # Join LEFT on part.p_partkey = _p2         Join LEFT on part.p_partkey = _p2
>>> #   <outer rows>                              <outer rows>
>>> #   Project ..., l_partkey AS _p2             Project ..., l_partkey AS _p2
>>> #     Aggregate keys=l_partkey ...              Aggregate keys=l_partkey ...
>>> #       <input>                                   Project <the input's columns>
>>> #                                                   Filter _semi0
>>> #                                                     MarkJoin _semi0 on l_partkey = part.p_partkey
>>> #                                                       <input>
>>> #                                                       <outer rows>
"""

from __future__ import annotations

from sqlglot import exp

from gsql.sql import plan

__all__ = ["reduce_joined_aggregates"]

# Nodes whose rows change between the steps of a recursive CTE, so a plan that reads them is
# left as it is.
_RECURSIVE = (plan.Recursive, plan.WorkingTable)


def reduce_joined_aggregates(root: plan.Node) -> plan.Node:
    """Filter the input of each aggregate joined on its keys to the keys the join can match.

    Only an aggregate whose other side of the join is filtered somewhere is reduced, because
    a semi join that keeps most rows costs roughly as much as the aggregation it saves. The plan is
    changed in place and its root returned.
    """
    names = _column_names(root)
    for join in [node for node in _nodes(root) if isinstance(node, plan.Join)]:
        for side, other, side_keys, other_keys in _reducible_sides(join):
            found = _aggregate_below(side, side_keys, _parent_counts(root))
            if found is None or not _is_filtered(other):
                continue
            aggregate, keys = found
            if _reads_recursion(aggregate.input) or _reads_recursion(other):
                continue
            if any(node is other for node in _nodes(aggregate.input)):
                continue  # the input is computed from the other side already
            mark = _fresh_name(names)
            aggregate.input = _semi_join(aggregate.input, other, keys, other_keys, mark)
            # One reduced side per join, because reducing the other side too would make each
            # side read the other.
            break
    return root


def _reducible_sides(join: plan.Join) -> list[tuple[plan.Node, plan.Node, list[str], list[str]]]:
    """Return the sides of a join whose unmatched rows the join drops, with their keys."""
    if not join.left_keys:
        return []
    left = (join.left, join.right, join.left_keys, join.right_keys)
    right = (join.right, join.left, join.right_keys, join.left_keys)
    return {"inner": [right, left], "left": [right], "right": [left]}.get(join.kind, [])


def _aggregate_below(
    node: plan.Node, keys: list[str], parents: dict[int, int]
) -> tuple[plan.Aggregate, list[str]] | None:
    """Follow the join keys down to a grouped aggregate whose group keys they are.

    Projects may rename the keys, and filters (HAVING) may drop groups. Every node on the way
    must have one parent, so that no other reader sees the reduced aggregate. Returns the
    aggregate and the names of the keys in its input, or None.
    """
    names = list(keys)
    while parents.get(id(node), 0) == 1:
        if isinstance(node, plan.Project):
            expressions = dict(zip(node.columns, node.expressions))
            sources = [expressions.get(name) for name in names]
            if not all(isinstance(source, exp.Column) and not source.table for source in sources):
                return None
            names = [source.name for source in sources]
            node = node.input
        elif isinstance(node, plan.Filter):
            node = node.input
        elif isinstance(node, plan.Aggregate):
            if not node.keys or not set(names) <= set(node.keys):
                return None
            return node, names
        else:
            return None
    return None


def _semi_join(
    source: plan.Node, other: plan.Node, keys: list[str], other_keys: list[str], mark: str
) -> plan.Node:
    marked = plan.MarkJoin(
        [*source.columns, mark], left=source, right=other, left_keys=keys, right_keys=other_keys, mark=mark
    )
    matching = plan.Filter(marked.columns, input=marked, predicate=_column(mark))
    return plan.Project(list(source.columns), input=matching, expressions=[_column(name) for name in source.columns])


def _column(name: str) -> exp.Column:
    return exp.Column(this=exp.to_identifier(name, quoted=True))


def _is_filtered(node: plan.Node) -> bool:
    """Return whether rows are dropped somewhere below `node`, so that it may have few keys."""
    return any(isinstance(child, (plan.Filter, plan.Limit)) for child in _nodes(node))


def _reads_recursion(node: plan.Node) -> bool:
    return any(isinstance(child, _RECURSIVE) for child in _nodes(node))


def _fresh_name(names: set[str]) -> str:
    number = 0
    while f"_semi{number}" in names:
        number += 1
    names.add(f"_semi{number}")
    return f"_semi{number}"


def _nodes(root: plan.Node) -> list[plan.Node]:
    """Return every node of the plan once."""
    seen: set[int] = set()
    order: list[plan.Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        stack.extend(reversed(node.inputs))
    return order


def _parent_counts(root: plan.Node) -> dict[int, int]:
    counts = {id(root): 1}
    for node in _nodes(root):
        for child in node.inputs:
            counts[id(child)] = counts.get(id(child), 0) + 1
    return counts


def _column_names(root: plan.Node) -> set[str]:
    return {name for node in _nodes(root) for name in node.columns}
