"""Plan window functions: one `Window` node computes every OVER expression of a SELECT.

Window functions run after GROUP BY and HAVING and before the select list, so their
arguments, PARTITION BY and ORDER BY expressions may use group keys and aggregates.

>>> # SELECT carrier, RANK() OVER (ORDER BY COUNT(*) DESC) FROM flights GROUP BY carrier
>>> # becomes
>>> # Project carrier, _w3
>>> #   Window RANK() ORDER BY _a1 DESC AS _w3
>>> #     Aggregate keys=carrier COUNT(*) AS _a1
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp

from gsql.errors import BindError, UnsupportedError
from gsql.sql import plan
from gsql.sql.aggregates import AGGREGATE_FUNCTIONS

if TYPE_CHECKING:
    from gsql.sql.build import _PlanBuilder, _Resolver
    from gsql.sql.subqueries import NodeHolder

__all__ = ["collect_windows", "plan_windows"]

_RANKING = {
    exp.RowNumber: "row_number",
    exp.Rank: "rank",
    exp.DenseRank: "dense_rank",
    exp.PercentRank: "percent_rank",
    exp.CumeDist: "cume_dist",
    exp.Ntile: "ntile",
}
_OFFSET = {exp.Lag: "lag", exp.Lead: "lead"}
_VALUE = {exp.FirstValue: "first_value", exp.LastValue: "last_value", exp.NthValue: "nth_value"}
# Aggregates over window frames: the grouped aggregates, whose per-frame results come from the
# grouped aggregation code, and a few that only windows support so far.
_AGGREGATE = {
    kind: name
    for kind, name in AGGREGATE_FUNCTIONS.items()
    if name not in ("any_value", "percentile_cont", "percentile_disc")
}
_AGGREGATE.update(
    {
        exp.BitwiseAndAgg: "bit_and",
        exp.BitwiseOrAgg: "bit_or",
        exp.BitwiseXorAgg: "bit_xor",
        exp.Mode: "mode",
    }
)
# Aggregates of (y, x) pairs, with SQL's argument order: y first.
_PAIR_STATISTICS = {
    exp.Corr: "corr",
    exp.CovarPop: "covar_pop",
    exp.CovarSamp: "covar_samp",
    exp.RegrAvgx: "regr_avgx",
    exp.RegrAvgy: "regr_avgy",
    exp.RegrCount: "regr_count",
    exp.RegrIntercept: "regr_intercept",
    exp.RegrR2: "regr_r2",
    exp.RegrSlope: "regr_slope",
    exp.RegrSxx: "regr_sxx",
    exp.RegrSxy: "regr_sxy",
    exp.RegrSyy: "regr_syy",
}
_DISTINCT_AGGREGATES = frozenset({"count", "sum", "avg", "min", "max"})
_FILTERABLE = frozenset(
    {
        *_AGGREGATE.values(),
        *_PAIR_STATISTICS.values(),
        "count_star",
        "any_value",
        "percentile_cont",
        "percentile_disc",
    }
)
# Functions that accept an ORDER BY among their arguments, which orders the rows of the frame.
_ARGUMENT_ORDERED = frozenset(
    {
        "row_number",
        "rank",
        "percent_rank",
        "cume_dist",
        "ntile",
        "lag",
        "lead",
        "first_value",
        "last_value",
        "nth_value",
    }
)


# Window aggregates whose result does not depend on the order of the frame's rows, so an ORDER
# BY among their arguments changes nothing. STRING_AGG, ANY_VALUE and MODE are order-dependent.
_ORDER_INSENSITIVE = _FILTERABLE - {"string_agg", "any_value", "mode"}


def collect_windows(select: exp.Select) -> list[exp.Window]:
    """Return the distinct OVER expressions of the select list, ORDER BY and QUALIFY."""
    roots: list[exp.Expression] = list(select.expressions)
    for clause in ("order", "qualify"):
        if select.args.get(clause) is not None:
            roots.append(select.args[clause])
    found: list[exp.Window] = []
    for root in roots:
        for node in root.walk(
            prune=lambda n: isinstance(n, (exp.Window, exp.Subquery, exp.Select))
        ):
            if isinstance(node, exp.Window) and not any(node == seen for seen in found):
                found.append(node)
    return found


def plan_windows(
    builder: _PlanBuilder, select: exp.Select, holder: NodeHolder, resolver: _Resolver
) -> list[tuple[exp.Window, str]]:
    """Add a Window node above `holder.node`; return each OVER expression with its column."""
    windows = collect_windows(select)
    if not windows:
        return []
    named = _named_windows(select)

    input_node = holder.node
    extra_names: list[str] = []
    extra_expressions: list[exp.Expression] = []

    def column_for(expression: exp.Expression) -> str:
        resolved = resolver._resolve_unchecked(expression)
        if isinstance(resolved, exp.Column) and resolved.name in input_node.columns:
            return resolved.name
        for name, existing in zip(extra_names, extra_expressions):
            if existing == resolved:
                return name
        name = builder.fresh("wa")
        extra_names.append(name)
        extra_expressions.append(resolved)
        return name

    calls: list[plan.WindowCall] = []
    outputs: list[tuple[exp.Window, str]] = []
    for window in windows:
        spec = _merged_spec(window, named)
        calls.append(_window_call(window, spec, column_for))
        outputs.append((window, builder.fresh("w")))

    from gsql.sql.build import _ref

    # Subqueries in window arguments joined their results below `holder.node` meanwhile.
    input_node = holder.node
    pre: plan.Node = input_node
    if extra_names:
        pre = plan.Project(
            input_node.columns + extra_names,
            input=input_node,
            expressions=[_ref(c) for c in input_node.columns] + extra_expressions,
        )
    holder.node = plan.Window(pre.columns + [name for _, name in outputs], input=pre, calls=calls)
    return outputs


def _named_windows(select: exp.Select) -> dict[str, exp.Window]:
    named: dict[str, exp.Window] = {}
    for window in select.args.get("windows") or []:
        if window.this.name in named:
            raise BindError(f"window `{window.this.name}` is defined twice in the WINDOW clause")
        alias = window.args.get("alias")
        if alias is not None and alias.name not in named:
            raise BindError(
                f"window `{alias.name}` does not exist before `{window.this.name}`; a window can only "
                "build on one defined earlier in the WINDOW clause"
            )
        named[window.this.name] = window
    return named


def _merged_spec(window: exp.Window, named: dict[str, exp.Window]) -> dict[str, Any]:
    """Combine an OVER clause with the named window it refers to (`OVER (w ORDER BY x)`)."""
    base: dict[str, Any] = {"partition_by": [], "order": None, "spec": None}
    alias = window.args.get("alias")
    if alias is not None:
        reference = named.get(alias.name)
        if reference is None:
            raise BindError(f"window `{alias.name}` is not defined in a WINDOW clause")
        base = (
            _merged_spec(reference, named)
            if reference.args.get("alias")
            else {
                "partition_by": list(reference.args.get("partition_by") or []),
                "order": reference.args.get("order"),
                "spec": reference.args.get("spec"),
            }
        )
        # SQL lets a window that names another add only what the named one lacks: no
        # PARTITION BY, an ORDER BY only if it has none, and nothing at all if it has a frame.
        adds_order = window.args.get("order") is not None
        adds_frame = window.args.get("spec") is not None
        if window.args.get("partition_by"):
            raise BindError(
                f"`OVER ({alias.name} PARTITION BY ...)` cannot override the partitioning of window `{alias.name}`"
            )
        if adds_order and base["order"] is not None:
            raise BindError(
                f"window `{alias.name}` already has an ORDER BY; it cannot be overridden"
            )
        if base["spec"] is not None and (adds_order or adds_frame):
            raise BindError(
                f"window `{alias.name}` has a frame, so another window cannot build on it"
            )
        # sqlglot 30 stores the spec keys only for the parenthesised form, `OVER (w)`, which
        # copies the named window, and SQL forbids copying one that has a frame.
        if base["spec"] is not None and "spec" in window.args:
            raise BindError(
                f"window `{alias.name}` has a frame clause, so `OVER ({alias.name})` cannot copy it; "
                f"write `OVER {alias.name}`"
            )
    if window.args.get("partition_by"):
        base["partition_by"] = list(window.args["partition_by"])
    if window.args.get("order") is not None:
        base["order"] = window.args["order"]
    if window.args.get("spec") is not None:
        base["spec"] = window.args["spec"]
    return base


def _window_call(window: exp.Window, spec: dict[str, Any], column_for) -> plan.WindowCall:
    if window.args.get("over") and str(window.args.get("over")).upper() != "OVER":
        raise UnsupportedError(f"`{window.args['over']}` windows are not supported")
    function, options, condition = _unwrap(window.this)
    function, argument_order = _split_argument_order(function)

    partition_by = [column_for(expression) for expression in spec["partition_by"]]
    order = spec["order"]
    order_by = _sort_keys(order.expressions if order is not None else [], column_for)

    name, arguments = _function(function, column_for, options)
    if condition is not None and name not in _FILTERABLE:
        raise BindError(
            f"FILTER is not allowed for the window function `{function.sql()[:60]}`, only for aggregates"
        )
    if name in _ORDER_INSENSITIVE:
        argument_order = []
    if argument_order and name not in _ARGUMENT_ORDERED and name != "string_agg":
        if name in _FILTERABLE:
            raise UnsupportedError(
                f"ORDER BY inside the window aggregate `{function.sql()[:60]}` is not supported"
            )
        raise BindError(f"ORDER BY inside the arguments of `{function.sql()[:60]}` is not allowed")
    frame = _frame(spec["spec"], bool(order_by), name)
    if argument_order and options.get("ignore_nulls") and name in _OFFSET.values():
        # NOTE: DuckDB 2.0 gives NULL here for some rows whose own value is NULL, a rule that
        # gsql has not pinned down, so it raises instead of guessing.
        raise UnsupportedError(
            f"IGNORE NULLS in `{function.sql()[:60]}` with an ORDER BY argument is not supported"
        )
    if argument_order and frame["exclude"] and name in _ARGUMENT_ORDERED - set(_VALUE.values()):
        # DuckDB 2.0 rejects this too, because the meaning of such a frame is not defined.
        raise BindError(
            f"EXCLUDE is not allowed for `{function.sql()[:60]}` with an ORDER BY argument"
        )
    return plan.WindowCall(
        name,
        arguments,
        partition_by,
        order_by,
        frame,
        options,
        filter=column_for(condition) if condition is not None else None,
        argument_order=_sort_keys(argument_order, column_for),
    )


def _unwrap(
    function: exp.Expression,
) -> tuple[exp.Expression, dict[str, Any], exp.Expression | None]:
    """Peel FILTER, IGNORE NULLS and RESPECT NULLS off a window function, in any nesting."""
    options: dict[str, Any] = {}
    condition = None
    while True:
        if isinstance(function, exp.IgnoreNulls):
            options["ignore_nulls"] = True
        elif isinstance(function, exp.Filter):
            condition = function.expression.this
        elif not isinstance(function, exp.RespectNulls):
            return function, options, condition
        function = function.this


def _split_argument_order(function: exp.Expression) -> tuple[exp.Expression, list[exp.Ordered]]:
    """Remove an ORDER BY written among the arguments (`RANK(ORDER BY k)`) and return its keys.

    sqlglot attaches it to the last argument as `exp.Order(this=argument)`, or stores it as its
    own argument when the function has none before it.
    """
    found = [node for node in function.iter_expressions() if isinstance(node, exp.Order)]
    if not found:
        return function, []
    function = function.copy()
    order = next(node for node in function.iter_expressions() if isinstance(node, exp.Order))
    keys = list(order.expressions)
    inner = order.this
    if inner is not None:
        order.replace(inner)
    else:
        order.pop()
    return function, keys


def _sort_keys(ordered_list: list[exp.Ordered], column_for) -> list[plan.SortKey]:
    keys = []
    for ordered in ordered_list:
        column = column_for(ordered.this)
        descending = bool(ordered.args.get("desc"))
        nulls_first = ordered.args.get("nulls_first")
        keys.append(
            plan.SortKey(
                column, descending, bool(descending if nulls_first is None else nulls_first)
            )
        )
    return keys


def _function(
    function: exp.Expression, column_for, options: dict[str, Any]
) -> tuple[str, list[str]]:
    kind = type(function)
    if options.get("ignore_nulls") and kind not in (
        exp.FirstValue,
        exp.LastValue,
        exp.NthValue,
        exp.Lag,
        exp.Lead,
        exp.AnyValue,
    ):
        raise UnsupportedError(f"IGNORE NULLS in `{function.sql()[:60]}` is not supported")
    if kind in _RANKING:
        extra = [
            name
            for name, value in function.args.items()
            if value and not (kind is exp.Ntile and name == "this")
        ]
        if extra:
            raise UnsupportedError(
                f"arguments of the window function `{function.sql()[:60]}` are not supported"
            )
        if kind is exp.Ntile:
            options["buckets"] = _buckets(function.this)
        return _RANKING[kind], []
    if kind in _OFFSET:
        value, offset, default = _offset_arguments(function)
        options["offset"] = 1 if offset is None else _constant(offset, kind.__name__.upper())
        arguments = [column_for(value)]
        if default is not None:
            arguments.append(column_for(default))
        return _OFFSET[kind], arguments
    if kind in _VALUE:
        if kind is exp.NthValue:
            options["nth"] = _positive_constant(function.args.get("offset"), "NTH_VALUE")
        return _VALUE[kind], [column_for(function.this)]
    if kind is exp.AnyValue:
        # ANY_VALUE over a frame is its first non-NULL value.
        options["ignore_nulls"] = True
        return "any_value", [column_for(function.this)]
    if kind in _PAIR_STATISTICS:
        return _PAIR_STATISTICS[kind], [column_for(function.this), column_for(function.expression)]
    if kind in (exp.PercentileCont, exp.PercentileDisc):
        return _percentile(function, column_for, options)
    if kind in _AGGREGATE:
        return _aggregate(function, column_for, options)
    raise UnsupportedError(f"window function `{function.sql()[:60]}` is not supported")


def _offset_arguments(
    function: exp.Expression,
) -> tuple[exp.Expression, exp.Expression | None, exp.Expression | None]:
    """Return LAG's or LEAD's value, offset and default, by position or by DuckDB's names.

    DuckDB also takes `LEAD("offset" := 2, col := x)`; sqlglot keeps each named argument as an
    `exp.PropertyEQ` in the position where it was written.
    """
    found: dict[str, exp.Expression | None] = {
        "col": function.this,
        "offset": function.args.get("offset"),
        "default": function.args.get("default"),
    }
    named = [value for value in found.values() if isinstance(value, exp.PropertyEQ)]
    if not named:
        return found["col"], found["offset"], found["default"]
    if len(named) != sum(value is not None for value in found.values()):
        raise UnsupportedError(f"`{function.sql()[:60]}` mixes named and positional arguments")
    by_name: dict[str, exp.Expression] = {}
    for argument in named:
        name = argument.this.name.lower()
        if name not in found or name in by_name:
            raise BindError(f"`{function.sql()[:60]}` has an unknown or repeated argument `{name}`")
        by_name[name] = argument.expression
    if "col" not in by_name:
        raise BindError(f"`{function.sql()[:60]}` needs the argument `col`")
    return by_name["col"], by_name.get("offset"), by_name.get("default")


def _aggregate(
    function: exp.Expression, column_for, options: dict[str, Any]
) -> tuple[str, list[str]]:
    kind = type(function)
    name = _AGGREGATE[kind]
    argument = function.this
    if isinstance(argument, exp.Distinct):
        if name not in _DISTINCT_AGGREGATES or len(argument.expressions) != 1:
            raise UnsupportedError(
                f"DISTINCT in the window aggregate `{function.sql()[:60]}` is not supported"
            )
        options["distinct"] = True
        argument = argument.expressions[0]
    if kind is exp.Count and (argument is None or isinstance(argument, exp.Star)):
        return "count_star", []
    if argument is None:
        raise BindError(f"the window aggregate `{function.sql()[:60]}` needs an argument")
    if kind is exp.GroupConcat:
        separator = function.args.get("separator")
        if separator is not None and not (
            isinstance(separator, exp.Literal) and separator.is_string
        ):
            raise UnsupportedError("the STRING_AGG separator must be a string literal")
        options["separator"] = separator.this if separator is not None else ","
    elif any(
        isinstance(value, exp.Expression) for key, value in function.args.items() if key != "this"
    ):
        raise UnsupportedError(
            f"arguments of the window aggregate `{function.sql()[:60]}` are not supported"
        )
    return name, [column_for(argument)]


def _percentile(
    function: exp.Expression, column_for, options: dict[str, Any]
) -> tuple[str, list[str]]:
    """Plan DuckDB's two-argument form, `quantile_cont(x, 0.5)`, over a window frame."""
    fraction = function.args.get("expression")
    if not isinstance(fraction, exp.Literal) or fraction.is_string:
        raise UnsupportedError(
            f"the fraction of the window aggregate `{function.sql()[:60]}` must be a number literal"
        )
    number = float(fraction.this)
    if not 0.0 <= number <= 1.0:
        raise BindError(f"a percentile fraction must be between 0 and 1, not {number}")
    options["fraction"] = number
    name = "percentile_cont" if isinstance(function, exp.PercentileCont) else "percentile_disc"
    return name, [column_for(function.this)]


def _frame(spec: exp.WindowSpec | None, ordered: bool, function: str) -> dict[str, Any]:
    """Return the frame as {kind, start, end, exclude}. Each bound is (side, offset or None)."""
    if spec is None:
        if ordered:
            # SQL's default frame with ORDER BY: RANGE UNBOUNDED PRECEDING to CURRENT ROW,
            # so rows tied with the current row (its peers) are inside the frame.
            return {
                "kind": "range",
                "start": ("preceding", None),
                "end": ("current", None),
                "exclude": None,
            }
        return {
            "kind": "rows",
            "start": ("preceding", None),
            "end": ("following", None),
            "exclude": None,
        }
    kind = str(spec.args.get("kind") or "rows").lower()
    if kind not in ("rows", "range", "groups"):
        raise UnsupportedError(f"{kind.upper()} window frames are not supported")
    start = _bound(spec.args.get("start"), spec.args.get("start_side"))
    end_value = spec.args.get("end")
    end = (
        _bound(end_value, spec.args.get("end_side")) if end_value is not None else ("current", None)
    )
    if kind == "range" and (start[1] or end[1]) and not ordered:
        raise BindError("a RANGE frame with an offset needs an ORDER BY")
    if kind != "range" and any(isinstance(bound[1], plan.FrameInterval) for bound in (start, end)):
        raise BindError(f"INTERVAL offsets need a RANGE frame, not {kind.upper()}")
    if start == ("following", None) or end == ("preceding", None):
        raise BindError(
            "a window frame cannot start at UNBOUNDED FOLLOWING or end at UNBOUNDED PRECEDING"
        )
    # DuckDB's development head (newer than the 2.0.1 release, which rejects it) accepts
    # `n FOLLOWING AND CURRENT ROW`, a frame that is always empty.
    if start[0] in ("current", "following") and end[0] == "preceding":
        raise BindError(
            "a window frame that starts at or after the current row cannot end at a preceding row"
        )
    return {"kind": kind, "start": start, "end": end, "exclude": _exclude(spec.args.get("exclude"))}


def _exclude(value: Any) -> str | None:
    """Return the EXCLUDE option as `current row`, `group` or `ties`, or None for NO OTHERS."""
    if value is None:
        return None
    text = " ".join(str(value.name if isinstance(value, exp.Expression) else value).lower().split())
    if text == "no others":
        return None
    if text in ("current row", "group", "ties"):
        return text
    raise UnsupportedError(f"EXCLUDE `{value}` in a window frame is not supported")


def _bound(value: Any, side: Any) -> tuple[str, Any]:
    text = value if isinstance(value, str) else None
    if text is not None and text.upper() == "CURRENT ROW":
        return ("current", None)
    if text is not None and text.upper() == "UNBOUNDED":
        return (str(side).lower(), None)
    if isinstance(value, exp.Interval):
        return (str(side).lower(), _frame_interval(value))
    if isinstance(value, exp.Expression):
        number = _constant(value, "a window frame bound")
        if number < 0:
            raise BindError(f"a window frame offset must not be negative, not {number}")
        return (str(side).lower(), number)
    raise UnsupportedError(f"window frame bound `{value}` is not supported")


# Interval units as (months, days, nanoseconds) per unit.
_INTERVAL_UNITS = {
    "year": (12, 0, 0),
    "month": (1, 0, 0),
    "week": (0, 7, 0),
    "day": (0, 1, 0),
    "hour": (0, 0, 3_600 * 10**9),
    "minute": (0, 0, 60 * 10**9),
    "second": (0, 0, 10**9),
}


def _frame_interval(interval: exp.Interval) -> plan.FrameInterval:
    """Read a constant `INTERVAL 3 DAYS` or `INTERVAL '4' DAY` frame offset."""
    amount = interval.this
    unit = interval.args.get("unit")
    text = amount.name if isinstance(amount, exp.Literal) else None
    unit_name = unit.name if unit is not None else None
    if text is not None and unit_name is None and len(text.split()) == 2:
        text, unit_name = text.split()
    try:
        number = int(text) if text is not None else None
    except ValueError:
        number = None
    key = (unit_name or "").lower().rstrip("s")
    if number is None or key not in _INTERVAL_UNITS:
        raise UnsupportedError(
            f"the window frame offset `{interval.sql()}` is not supported; use a whole number of one unit"
        )
    if number < 0:
        raise BindError(f"a window frame offset must not be negative, not `{interval.sql()}`")
    months, days, nanoseconds = (number * part for part in _INTERVAL_UNITS[key])
    return plan.FrameInterval(months, days, nanoseconds)


def _constant(expression: exp.Expression, what: str) -> Any:
    if isinstance(expression, exp.Neg) and isinstance(expression.this, exp.Literal):
        return -_constant(expression.this, what)
    if isinstance(expression, exp.Literal) and not expression.is_string:
        text = expression.this
        return float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(expression, exp.Interval):
        raise UnsupportedError(f"INTERVAL offsets in {what} are not supported")
    raise UnsupportedError(f"{what} needs a constant number, not `{expression.sql()}`")


def _buckets(expression: exp.Expression | None) -> int | None:
    """Return NTILE's bucket count, or None for NTILE(NULL), which is NULL on every row."""
    if isinstance(expression, exp.Null):
        return None
    return _positive_constant(expression, "NTILE")


def _positive_constant(expression: exp.Expression | None, what: str) -> int:
    if expression is None:
        raise BindError(f"{what} needs an argument")
    value = _constant(expression, what)
    if not isinstance(value, int) or value <= 0:
        raise BindError(f"{what} needs a positive integer, not `{expression.sql()}`")
    return value
