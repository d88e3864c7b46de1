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
# Aggregates over window frames: every grouped aggregate but those whose argument order or
# choice of row the frame code does not model.
_AGGREGATE = {
    kind: name
    for kind, name in AGGREGATE_FUNCTIONS.items()
    if name not in ("any_value", "percentile_cont", "percentile_disc")
}


def collect_windows(select: exp.Select) -> list[exp.Window]:
    """Return the distinct OVER expressions of the select list, ORDER BY and QUALIFY."""
    roots: list[exp.Expression] = list(select.expressions)
    for clause in ("order", "qualify"):
        if select.args.get(clause) is not None:
            roots.append(select.args[clause])
    found: list[exp.Window] = []
    for root in roots:
        for node in root.walk(prune=lambda n: isinstance(n, (exp.Window, exp.Subquery, exp.Select))):
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
    named = {}
    for window in select.args.get("windows") or []:
        if window.this.name in named:
            raise BindError(f"window `{window.this.name}` is defined twice in the WINDOW clause")
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
        base = _merged_spec(reference, named) if reference.args.get("alias") else {
            "partition_by": list(reference.args.get("partition_by") or []),
            "order": reference.args.get("order"),
            "spec": reference.args.get("spec"),
        }
        # SQL lets a window that names another add only what the named one lacks: no
        # PARTITION BY, an ORDER BY only if it has none, and nothing at all if it has a frame.
        adds_order = window.args.get("order") is not None
        adds_frame = window.args.get("spec") is not None
        if window.args.get("partition_by"):
            raise BindError(f"`OVER ({alias.name} PARTITION BY ...)` cannot override the partitioning of window `{alias.name}`")
        if adds_order and base["order"] is not None:
            raise BindError(f"window `{alias.name}` already has an ORDER BY; it cannot be overridden")
        if base["spec"] is not None and (adds_order or adds_frame):
            raise BindError(f"window `{alias.name}` has a frame, so another window cannot build on it")
    if window.args.get("partition_by"):
        base["partition_by"] = list(window.args["partition_by"])
    if window.args.get("order") is not None:
        base["order"] = window.args["order"]
    if window.args.get("spec") is not None:
        base["spec"] = window.args["spec"]
    return base


def _window_call(window: exp.Window, spec: dict[str, Any], column_for) -> plan.WindowCall:
    function = window.this
    options: dict[str, Any] = {}
    if isinstance(function, exp.IgnoreNulls):
        options["ignore_nulls"] = True
        function = function.this
    elif isinstance(function, exp.RespectNulls):
        function = function.this
    if window.args.get("over") and str(window.args.get("over")).upper() != "OVER":
        raise UnsupportedError(f"`{window.args['over']}` windows are not supported")

    partition_by = [column_for(expression) for expression in spec["partition_by"]]
    order_by = []
    order = spec["order"]
    for ordered in order.expressions if order is not None else []:
        column = column_for(ordered.this)
        descending = bool(ordered.args.get("desc"))
        nulls_first = ordered.args.get("nulls_first")
        order_by.append(
            plan.SortKey(column, descending, bool(descending if nulls_first is None else nulls_first))
        )

    name, arguments = _function(function, column_for, options)
    frame = _frame(spec["spec"], bool(order_by), name)
    return plan.WindowCall(name, arguments, partition_by, order_by, frame, options)


def _function(function: exp.Expression, column_for, options: dict[str, Any]) -> tuple[str, list[str]]:
    kind = type(function)
    if options.get("ignore_nulls") and kind not in (exp.FirstValue, exp.LastValue, exp.Lag, exp.Lead):
        raise UnsupportedError(f"IGNORE NULLS in `{function.sql()[:60]}` is not supported")
    if kind in _RANKING:
        extra = [name for name, value in function.args.items() if value and not (kind is exp.Ntile and name == "this")]
        if extra:
            raise UnsupportedError(
                f"arguments of the window function `{function.sql()[:60]}` are not supported"
            )
        if kind is exp.Ntile:
            options["buckets"] = _positive_constant(function.this, "NTILE")
        return _RANKING[kind], []
    if kind in _OFFSET:
        offset = function.args.get("offset")
        options["offset"] = 1 if offset is None else _constant(offset, kind.__name__.upper())
        default = function.args.get("default")
        arguments = [column_for(function.this)]
        if default is not None:
            arguments.append(column_for(default))
        return _OFFSET[kind], arguments
    if kind in _VALUE:
        if kind is exp.NthValue:
            options["nth"] = _positive_constant(function.args.get("offset"), "NTH_VALUE")
        return _VALUE[kind], [column_for(function.this)]
    if kind in _AGGREGATE:
        argument = function.this
        if isinstance(argument, exp.Distinct):
            raise UnsupportedError(f"DISTINCT in the window aggregate `{function.sql()}` is not supported")
        if kind is exp.Count and (argument is None or isinstance(argument, exp.Star)):
            return "count_star", []
        if kind is exp.GroupConcat:
            if isinstance(argument, exp.Order):
                raise UnsupportedError(f"ORDER BY inside the window aggregate `{function.sql()[:60]}` is not supported")
            separator = function.args.get("separator")
            if separator is not None and not (isinstance(separator, exp.Literal) and separator.is_string):
                raise UnsupportedError("the STRING_AGG separator must be a string literal")
            options["separator"] = separator.this if separator is not None else ","
        return _AGGREGATE[kind], [column_for(argument)]
    raise UnsupportedError(f"window function `{function.sql()[:60]}` is not supported")


def _frame(spec: exp.WindowSpec | None, ordered: bool, function: str) -> dict[str, Any]:
    """Return the frame as {kind, start, end}; each bound is (side, offset or None)."""
    if spec is None:
        if ordered:
            # SQL's default frame with ORDER BY: RANGE UNBOUNDED PRECEDING to CURRENT ROW,
            # so rows tied with the current row (its peers) are inside the frame.
            return {"kind": "range", "start": ("preceding", None), "end": ("current", None)}
        return {"kind": "rows", "start": ("preceding", None), "end": ("following", None)}
    kind = str(spec.args.get("kind") or "rows").lower()
    if kind not in ("rows", "range"):
        raise UnsupportedError(f"{kind.upper()} window frames are not supported")
    if spec.args.get("exclude"):
        raise UnsupportedError("EXCLUDE in a window frame is not supported")
    start = _bound(spec.args.get("start"), spec.args.get("start_side"))
    end_value = spec.args.get("end")
    end = _bound(end_value, spec.args.get("end_side")) if end_value is not None else ("current", None)
    if kind == "range" and (start[1] or end[1]) and not ordered:
        raise BindError("a RANGE frame with an offset needs an ORDER BY")
    if start == ("following", None) or end == ("preceding", None):
        raise BindError("a window frame cannot start at UNBOUNDED FOLLOWING or end at UNBOUNDED PRECEDING")
    if start[0] == "current" and end[0] == "preceding" or start[0] == "following" and end[0] in ("current", "preceding"):
        raise BindError("a window frame cannot end before it starts")
    return {"kind": kind, "start": start, "end": end}


def _bound(value: Any, side: Any) -> tuple[str, Any]:
    text = value if isinstance(value, str) else None
    if text is not None and text.upper() == "CURRENT ROW":
        return ("current", None)
    if text is not None and text.upper() == "UNBOUNDED":
        return (str(side).lower(), None)
    if isinstance(value, exp.Expression):
        number = _constant(value, "a window frame bound")
        if number < 0:
            raise BindError(f"a window frame offset must not be negative, not {number}")
        return (str(side).lower(), number)
    raise UnsupportedError(f"window frame bound `{value}` is not supported")


def _constant(expression: exp.Expression, what: str) -> Any:
    if isinstance(expression, exp.Neg) and isinstance(expression.this, exp.Literal):
        return -_constant(expression.this, what)
    if isinstance(expression, exp.Literal) and not expression.is_string:
        text = expression.this
        return float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(expression, exp.Interval):
        raise UnsupportedError(f"INTERVAL offsets in {what} are not supported")
    raise UnsupportedError(f"{what} needs a constant number, not `{expression.sql()}`")


def _positive_constant(expression: exp.Expression | None, what: str) -> int:
    if expression is None:
        raise BindError(f"{what} needs an argument")
    value = _constant(expression, what)
    if not isinstance(value, int) or value <= 0:
        raise BindError(f"{what} needs a positive integer, not `{expression.sql()}`")
    return value
