"""Plan aggregate calls and grouping sets.

An aggregate call in SQL (`SUM(DISTINCT x) FILTER (WHERE y > 0)`) becomes a
`plan.AggregateCall` over pre-computed input columns. `GROUP BY GROUPING SETS`, `ROLLUP` and
`CUBE` expand into the list of key subsets that `Aggregate` nodes compute one by one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from gsql.errors import BindError, UnsupportedError
from gsql.sql import plan

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "PAIR_AGGREGATES",
    "expand_grouping_sets",
    "is_aggregate_call",
    "plan_aggregate_call",
    "value_over_no_rows",
]

AGGREGATE_FUNCTIONS: dict[type[exp.Expression], str] = {
    exp.Count: "count",
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Min: "min",
    exp.Max: "max",
    exp.Stddev: "stddev_samp",
    exp.StddevSamp: "stddev_samp",
    exp.StddevPop: "stddev_pop",
    exp.Variance: "var_samp",
    exp.VariancePop: "var_pop",
    exp.Median: "median",
    exp.LogicalAnd: "bool_and",
    exp.LogicalOr: "bool_or",
    exp.AnyValue: "any_value",
    exp.GroupConcat: "string_agg",
    exp.PercentileCont: "percentile_cont",
    exp.PercentileDisc: "percentile_disc",
    exp.BitwiseAndAgg: "bit_and",
    exp.BitwiseOrAgg: "bit_or",
    exp.BitwiseXorAgg: "bit_xor",
}

# Aggregates of (y, x) pairs that skip a pair with a NULL. They are kept out of
# AGGREGATE_FUNCTIONS because the window frame code does not compute them.
PAIR_AGGREGATES: dict[type[exp.Expression], str] = {
    exp.Corr: "corr",
    exp.CovarSamp: "covar_samp",
    exp.CovarPop: "covar_pop",
}

# Functions that accept DISTINCT; for the others DISTINCT would change nothing or is undefined.
_DISTINCT_FUNCTIONS = frozenset(
    {"count", "sum", "avg", "min", "max", "string_agg", "bit_and", "bit_or", "bit_xor"}
)

PreColumn = Callable[[exp.Expression], str]


# Aggregates that sqlglot parses as anonymous functions.
_ANONYMOUS_AGGREGATES = frozenset({"total"})


def is_aggregate_call(node: exp.Expression) -> bool:
    """Return whether `node` is one aggregate call, with its FILTER, WITHIN GROUP or IGNORE NULLS."""
    if isinstance(node, exp.Grouping):
        return False
    if isinstance(node, exp.Anonymous):
        return node.name.lower() in _ANONYMOUS_AGGREGATES and not isinstance(node.parent, exp.Filter)
    if isinstance(node, (exp.Filter, exp.WithinGroup, exp.IgnoreNulls, exp.RespectNulls)):
        return isinstance(node.this, exp.AggFunc) or is_aggregate_call(node.this)
    return isinstance(node, exp.AggFunc) and not isinstance(
        node.parent, (exp.Filter, exp.WithinGroup, exp.IgnoreNulls, exp.RespectNulls)
    )


def plan_aggregate_call(expression: exp.Expression, pre_column: PreColumn) -> plan.AggregateCall:
    """Turn one aggregate call into a plan call whose arguments are pre-computed columns."""
    condition = None
    order: exp.Order | None = None
    while True:
        if isinstance(expression, exp.Filter):
            # AGG(x) FILTER (WHERE c) is AGG over CASE WHEN c THEN x END: rows failing c become
            # NULL, which every supported aggregate skips.
            condition = expression.expression.this
            expression = expression.this
        elif isinstance(expression, exp.WithinGroup):
            order = expression.expression
            expression = expression.this
        elif isinstance(expression, (exp.IgnoreNulls, exp.RespectNulls)):
            expression = expression.this
        else:
            break

    if isinstance(expression, exp.Anonymous) and expression.name.lower() == "total":
        # SQLite's TOTAL is SUM as a DOUBLE that gives 0.0 over no values.
        if len(expression.expressions) != 1:
            raise BindError("TOTAL takes one argument")
        argument = expression.expressions[0]
        distinct = isinstance(argument, exp.Distinct)
        if distinct:
            argument = argument.expressions[0]
        if condition is not None:
            argument = exp.Case(ifs=[exp.If(this=condition.copy(), true=argument.copy())])
        return plan.AggregateCall("total", pre_column(argument), distinct=distinct)
    if type(expression) in PAIR_AGGREGATES:
        return _pair_aggregate(expression, condition, pre_column)
    function = AGGREGATE_FUNCTIONS.get(type(expression))
    if function is None:
        raise UnsupportedError(f"aggregate function `{expression.sql_name()}` is not supported")

    def guarded(argument: exp.Expression) -> exp.Expression:
        # An aggregate inside a subquery of the argument belongs to that subquery.
        boundary = (exp.Subquery, exp.Select, exp.Exists)
        for nested in argument.walk(prune=lambda node: isinstance(node, boundary)):
            if not isinstance(nested, exp.AggFunc):
                continue
            raise BindError(f"aggregate `{nested.sql()}` cannot be nested inside `{expression.sql()}`")
        if condition is None:
            return argument
        return exp.Case(ifs=[exp.If(this=condition.copy(), true=argument.copy())])

    if function in ("percentile_cont", "percentile_disc"):
        return _percentile(function, expression, order, guarded, pre_column)
    if function == "string_agg":
        return _string_agg(expression, guarded, pre_column)

    argument = expression.this
    distinct = False
    if isinstance(argument, exp.Distinct):
        if any(isinstance(item, exp.Star) for item in argument.expressions):
            raise BindError(f"`{expression.sql()}` is invalid: DISTINCT needs a column, not `*`")
        distinct = True
        if function not in _DISTINCT_FUNCTIONS:
            raise UnsupportedError(f"DISTINCT in `{expression.sql()}` is not supported")
        if len(argument.expressions) > 1:
            if function != "count":
                raise UnsupportedError(f"`{expression.sql()}` takes one argument")
            columns = [pre_column(guarded(item)) for item in argument.expressions]
            return plan.AggregateCall("count", columns[0], True, {"arguments": columns})
        argument = argument.expressions[0]

    if isinstance(expression, exp.Count) and (argument is None or isinstance(argument, exp.Star)):
        if condition is None:
            return plan.AggregateCall("count_star", None)
        argument = exp.Literal.number(1)
    if argument is None:
        raise UnsupportedError(f"aggregate `{expression.sql()}` needs an argument")
    if function in ("min", "max", "bool_and", "bool_or", "any_value"):
        distinct = False  # DISTINCT does not change these results
    return plan.AggregateCall(function, pre_column(guarded(argument)), distinct=distinct)


def _pair_aggregate(
    expression: exp.Expression, condition: exp.Expression | None, pre_column: PreColumn
) -> plan.AggregateCall:
    """Plan CORR(y, x), COVAR_SAMP(y, x) or COVAR_POP(y, x); the call lists both columns."""
    function = PAIR_AGGREGATES[type(expression)]
    columns = []
    for argument in (expression.this, expression.expression):
        if argument is None or isinstance(argument, (exp.Star, exp.Distinct)):
            raise UnsupportedError(f"`{expression.sql()}` needs two value arguments")
        for nested in argument.find_all(exp.AggFunc):
            raise BindError(
                f"aggregate `{nested.sql()}` cannot be nested inside `{expression.sql()}`"
            )
        if condition is not None:
            argument = exp.Case(ifs=[exp.If(this=condition.copy(), true=argument.copy())])
        columns.append(pre_column(argument))
    return plan.AggregateCall(function, columns[0], options={"arguments": columns})


def _percentile(function, expression, order, guarded, pre_column) -> plan.AggregateCall:
    fraction = expression.this
    if order is None:
        # DuckDB's two-argument form: quantile_cont(x, 0.5).
        fraction = expression.args.get("expression")
        value = expression.this
        descending = False
    else:
        if len(order.expressions) != 1:
            raise UnsupportedError("WITHIN GROUP needs exactly one ORDER BY expression")
        ordered = order.expressions[0]
        value = ordered.this
        descending = bool(ordered.args.get("desc"))
    if not isinstance(fraction, exp.Literal) or fraction.is_string:
        raise UnsupportedError(f"the fraction of `{expression.sql()}` must be a number literal")
    number = float(fraction.this)
    if not 0.0 <= number <= 1.0:
        raise BindError(f"a percentile fraction must be between 0 and 1, not {number}")
    options: dict[str, Any] = {"fraction": number, "descending": descending}
    return plan.AggregateCall(function, pre_column(guarded(value)), options=options)


def _string_agg(expression, guarded, pre_column) -> plan.AggregateCall:
    argument = expression.this
    options: dict[str, Any] = {"order_by": []}
    if isinstance(argument, exp.Order):
        for ordered in argument.expressions:
            descending = bool(ordered.args.get("desc"))
            nulls_first = ordered.args.get("nulls_first")
            options["order_by"].append(
                plan.SortKey(pre_column(ordered.this), descending, bool(descending if nulls_first is None else nulls_first))
            )
        argument = argument.this
    distinct = isinstance(argument, exp.Distinct)
    if distinct:
        if options["order_by"]:
            raise UnsupportedError("STRING_AGG with both DISTINCT and ORDER BY is not supported")
        argument = argument.expressions[0]
    separator = expression.args.get("separator")
    if separator is None:
        options["separator"] = ","
    elif isinstance(separator, exp.Literal) and separator.is_string:
        options["separator"] = separator.this
    else:
        raise UnsupportedError(f"the separator of `{expression.sql()}` must be a string literal")
    return plan.AggregateCall("string_agg", pre_column(guarded(argument)), distinct, options)


def expand_grouping_sets(group: exp.Group) -> tuple[list[exp.Expression], list[list[int]]] | None:
    """Return the distinct key expressions and each grouping set as key positions.

    Returns None for a plain GROUP BY. `GROUP BY a, ROLLUP(b, c)` gives keys [a, b, c] and sets
    [[0, 1, 2], [0, 1], [0]]. The sets of several items multiply, as in SQL.
    """
    items = list(group.expressions)
    for arg in ("grouping_sets", "rollup", "cube"):
        items.extend(group.args.get(arg) or [])
    if not any(isinstance(item, (exp.GroupingSets, exp.Rollup, exp.Cube)) for item in items):
        return None
    if group.args.get("totals"):
        raise UnsupportedError("GROUP BY ... WITH TOTALS is not supported")

    keys: list[exp.Expression] = []

    def position(expression: exp.Expression) -> int:
        for index, key in enumerate(keys):
            if key == expression:
                return index
        keys.append(expression)
        return len(keys) - 1

    factors: list[list[list[int]]] = []
    for item in items:
        if isinstance(item, exp.GroupingSets):
            factors.append([[position(e) for e in _set_members(member)] for member in item.expressions])
        elif isinstance(item, exp.Rollup):
            members = [position(e) for e in item.expressions]
            factors.append([members[:size] for size in range(len(members), -1, -1)])
        elif isinstance(item, exp.Cube):
            members = [position(e) for e in item.expressions]
            subsets = []
            for size in range(len(members), -1, -1):
                subsets.extend(list(combo) for combo in itertools.combinations(members, size))
            factors.append(subsets)
        else:
            factors.append([[position(item)]])

    sets = []
    for combination in itertools.product(*factors):
        merged: list[int] = []
        for part in combination:
            merged.extend(p for p in part if p not in merged)
        sets.append(sorted(merged))
    return keys, sets


def _set_members(member: exp.Expression) -> list[exp.Expression]:
    if isinstance(member, exp.Tuple):
        return list(member.expressions)
    if isinstance(member, exp.Paren):
        return _set_members(member.this)
    return [member]


# Aggregates whose value over no rows is 0; every other aggregate gives NULL.
_ZERO_OVER_NO_ROWS = (exp.Count, exp.CountIf, exp.ApproxDistinct)
_ZERO_OVER_NO_ROWS_NAMES = {"count", "count_if", "countif", "count_star", "regr_count", "approx_count_distinct"}


def value_over_no_rows(expression: exp.Expression) -> exp.Expression:
    """Return `expression` with each aggregate call replaced by its value over no rows.

    `COUNT(*) + 1` gives `0 + 1` and `COALESCE(SUM(x), 0)` gives `COALESCE(NULL, 0)`: the value
    of an aggregate without GROUP BY over an empty input, which a LEFT JOIN cannot produce.
    """
    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, (exp.Window, exp.Subquery, exp.Exists)):
            return node
        if not is_aggregate_call(node):
            return node
        call = node
        while isinstance(call, (exp.Filter, exp.WithinGroup, exp.IgnoreNulls, exp.RespectNulls)):
            call = call.this
        name = call.name.lower() if isinstance(call, exp.Anonymous) else ""
        if isinstance(call, _ZERO_OVER_NO_ROWS) or name in _ZERO_OVER_NO_ROWS_NAMES:
            return exp.Literal.number(0)
        return exp.Null()

    return expression.copy().transform(replace, copy=False)
