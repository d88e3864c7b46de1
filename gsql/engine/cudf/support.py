"""What the cudf engine runs on the GPU, and why the rest runs on the host.

This module imports no cuDF. The same rules decide placement at run time (`CudfBackend`) and
before it (`explain_placement`), so an explanation matches what a run does, except for the
run-time fallbacks that `CudfBackend.placements` records: a cuDF error on a native path, or
an input the GPU cannot hold.

A plan node runs in one of three ways:

- `cudf`: on the GPU with cuDF's API.
- `cudf+arrow`: on the GPU, but some expressions inside it are evaluated on the host by the
  Arrow kernels of the pandas engine: their input columns are copied to the host and the result
  back. Such an expression is one of `EXPRESSION_FALLBACKS`, or has operand types that the GPU
  kernels do not handle identically (decimal or date arithmetic, for example).
- `pandas`: the whole node runs on the host with the pandas engine's handler
  (`NODE_FALLBACKS`, or a node shape listed by `node_fallback_reason`).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from sqlglot import exp

from gsql.engine.arrow_kernels import common_type
from gsql.engine.cudf.schemas import TypeOracle, infer_schemas, is_constant
from gsql.errors import GsqlError
from gsql.sql import plan
from gsql.sql.expressions import SCALAR_EXPRESSIONS
from gsql.types import is_bit

__all__ = [
    "EXPRESSION_FALLBACKS",
    "NATIVE_AGGREGATES",
    "NATIVE_EXPRESSIONS",
    "NATIVE_NODES",
    "NODE_FALLBACKS",
    "explain_placement",
    "host_expressions",
    "node_fallback_reason",
    "node_placement",
]

NATIVE_NODES: frozenset[type[plan.Node]] = frozenset(
    {
        plan.Scan,
        plan.Filter,
        plan.Project,
        plan.Aggregate,
        plan.Join,
        plan.Sort,
        plan.Limit,
        plan.Distinct,
        plan.SetOperation,
    }
)

NODE_FALLBACKS: dict[type[plan.Node], str] = {
    plan.Values: "literal rows are built on the host by the Arrow kernels, then copied to the GPU",
    plan.MarkJoin: "EXISTS and IN (subquery) marks have no cuDF implementation yet",
    plan.SingleRow: "the scalar-subquery row check has no cuDF implementation yet",
    plan.Window: "window functions have no cuDF implementation yet",
    plan.Recursive: "recursive CTEs repeat their recursive term on the host",
    plan.WorkingTable: "recursive CTEs repeat their recursive term on the host",
}

# Aggregates that run as cuDF group-by aggregations; the others run on the host.
NATIVE_AGGREGATES = frozenset(
    {"count_star", "count", "sum", "avg", "min", "max", "any_value", "stddev_samp", "stddev_pop", "var_samp", "var_pop"}
)

# BIT strings are stored as Arrow `binary`, which gsql's cuDF frames do not hold.
_BIT_REASON = "BIT strings have no cuDF column type in gsql, so they are computed on the host"
# Functions that return BIT strings from arguments that may come from the GPU.
_BIT_FUNCTIONS = frozenset({"set_bit", "bitstring"})

_EXTRACT_UNITS = frozenset(
    {"year", "month", "day", "hour", "minute", "second", "quarter", "dow", "dayofweek", "doy", "dayofyear"}
)

_DATE_PART_CLASSES: dict[type[exp.Expression], str] = {
    exp.Year: "year",
    exp.Month: "month",
    exp.Day: "day",
    exp.Quarter: "quarter",
    exp.DayOfWeek: "dow",
    exp.DayOfYear: "doy",
}

Rule = Callable[[exp.Expression, TypeOracle], "str | None"]


# Type classes -------------------------------------------------------------------------------


def _is_string(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _is_number(arrow_type: pa.DataType) -> bool:
    return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)


def _is_plain_temporal(arrow_type: pa.DataType) -> bool:
    return pa.types.is_date32(arrow_type) or (
        pa.types.is_timestamp(arrow_type) and arrow_type.tz is None
    )


def _comparable(arrow_type: pa.DataType) -> bool:
    return (
        _is_number(arrow_type)
        or _is_string(arrow_type)
        or pa.types.is_boolean(arrow_type)
        or pa.types.is_date32(arrow_type)
        or pa.types.is_timestamp(arrow_type)
        or isinstance(arrow_type, pa.Decimal128Type)
    )


def _widens_in_time(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether a DATE or TIMESTAMP column casts to `target` on the GPU with Arrow's result.

    Zoned timestamps are stored as UTC instants, so only a change of unit is needed.
    """
    if not pa.types.is_timestamp(target):
        return False
    if pa.types.is_date32(source):
        return True
    return pa.types.is_timestamp(source) and (source.tz is None) == (target.tz is None)


def _types(expressions: list[exp.Expression], oracle: TypeOracle) -> list[pa.DataType] | None:
    found = [oracle.type_of(expression) for expression in expressions]
    return None if any(item is None for item in found) else found  # type: ignore[return-value]


def _unknown(expression: exp.Expression) -> str:
    return f"the type of `{_snippet(expression)}` is unknown before it runs"


def _snippet(expression: exp.Expression) -> str:
    text = expression.sql()
    return text if len(text) <= 60 else text[:57] + "..."


def _conversion_problem(
    operands: list[exp.Expression], oracle: TypeOracle, what: str
) -> str | None:
    """Check that operands combine on the GPU: constants are cast on the host, columns must
    already have the common type, or be numbers that widen to a non-decimal number type."""
    types = _types(operands, oracle)
    if types is None:
        return _unknown(operands[0].parent or operands[0])
    try:
        target = common_type(types)
    except GsqlError as error:
        return str(error)
    if pa.types.is_null(target):
        return None
    if not _comparable(target):
        return f"{what} of `{target}` values runs in the Arrow kernels"
    for operand, operand_type in zip(operands, types):
        if is_constant(operand) or pa.types.is_null(operand_type) or operand_type == target:
            continue
        if _is_number(operand_type) and _is_number(target):
            continue
        if _widens_in_time(operand_type, target):
            continue
        return (
            f"{what} needs `{_snippet(operand)}` cast from `{operand_type}` to `{target}`, "
            "which runs in the Arrow kernels"
        )
    return None


# Rules per expression class ---------------------------------------------------------------------


def _always(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    return None


def _numbers(*names: str) -> Rule:
    def rule(expression: exp.Expression, oracle: TypeOracle) -> str | None:
        operands = [expression.args[name] for name in names if expression.args.get(name) is not None]
        types = _types(operands, oracle)
        if types is None:
            return _unknown(expression)
        for operand_type in types:
            if pa.types.is_unsigned_integer(operand_type) or not (
                _is_number(operand_type) or pa.types.is_null(operand_type)
            ):
                return (
                    f"`{expression.key.upper()}` of `{operand_type}` values runs in the Arrow "
                    "kernels, which apply the decimal and date rules"
                )
        return None

    return rule


def _division(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    problem = _numbers("this", "expression")(expression, oracle)
    if problem:
        return problem
    types = _types([expression.this, expression.expression], oracle) or []
    if expression.args.get("typed") and all(pa.types.is_integer(t) for t in types):
        return "integer division of this dialect runs in the Arrow kernels"
    return None


def _comparison(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    return _conversion_problem([expression.this, expression.expression], oracle, "a comparison")


def _between(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    for bound in ("low", "high"):
        problem = _conversion_problem([expression.this, expression.args[bound]], oracle, "BETWEEN")
        if problem:
            return problem
    return None


def _booleans(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    operands = [value for value in (expression.this, expression.args.get("expression")) if isinstance(value, exp.Expression)]
    types = _types(operands, oracle)
    if types is None:
        return _unknown(expression)
    for operand_type in types:
        if not (pa.types.is_boolean(operand_type) or pa.types.is_null(operand_type)):
            return f"a `{operand_type}` operand of AND, OR or NOT runs in the Arrow kernels"
    return None


def _is(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    if isinstance(expression.expression, exp.Null):
        return None
    operand_type = oracle.type_of(expression.this)
    if operand_type is not None and pa.types.is_boolean(operand_type):
        return None
    return f"`IS {expression.expression.sql()}` of a non-boolean value runs in the Arrow kernels"


def _in(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    items = list(expression.expressions)
    if not all(is_constant(item) for item in items):
        return "IN with a column in its list runs in the Arrow kernels"
    operand_type = oracle.type_of(expression.this)
    if operand_type is None:
        return _unknown(expression)
    if not (_is_number(operand_type) or _is_string(operand_type) or pa.types.is_boolean(operand_type)):
        return f"IN over `{operand_type}` values runs in the Arrow kernels"
    return _conversion_problem([expression.this, *items], oracle, "IN")


def _like(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    if isinstance(expression, exp.Escape):
        inner = expression.this
        if not isinstance(inner, (exp.Like, exp.ILike)) or not is_constant(expression.expression):
            return "this ESCAPE form runs in the Arrow kernels"
        return _like(inner, oracle)
    if not is_constant(expression.expression):
        return "LIKE with a non-constant pattern runs in the Arrow kernels"
    return _strings("this")(expression, oracle)


def _strings(*names: str) -> Rule:
    def rule(expression: exp.Expression, oracle: TypeOracle) -> str | None:
        for name in names:
            operand = expression.args.get(name)
            if operand is None:
                continue
            operand_type = oracle.type_of(operand)
            if operand_type is None:
                return _unknown(expression)
            if not (_is_string(operand_type) or pa.types.is_null(operand_type)):
                return f"`{expression.key.upper()}` of a `{operand_type}` value runs in the Arrow kernels"
        return None

    return rule


def _string_with_constants(string: str, *constants: str) -> Rule:
    check = _strings(string)

    def rule(expression: exp.Expression, oracle: TypeOracle) -> str | None:
        for name in constants:
            operand = expression.args.get(name)
            if operand is not None and not is_constant(operand):
                return f"`{expression.key.upper()}` with a non-constant `{name}` runs in the Arrow kernels"
        return check(expression, oracle)

    return rule


def _substring(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    problem = _string_with_constants("this", "start", "length")(expression, oracle)
    if problem:
        return problem
    start = oracle.constant(expression.args["start"]) if expression.args.get("start") else None
    length = oracle.constant(expression.args["length"]) if expression.args.get("length") else None
    if start is None or not start.is_valid or start.as_py() < 1:
        return "SUBSTRING from a start below 1 or a NULL start runs in the Arrow kernels"
    if length is not None and (not length.is_valid or length.as_py() < 0):
        return "SUBSTRING with a NULL or negative length runs in the Arrow kernels"
    return None


def _left_right(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    problem = _string_with_constants("this", "expression")(expression, oracle)
    if problem:
        return problem
    count = oracle.constant(expression.expression)
    if count is None or not count.is_valid or count.as_py() < 1:
        return f"`{expression.key.upper()}` with a count below 1 runs in the Arrow kernels"
    return None


def _pattern(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    if expression.args.get("full_match"):
        return "a full-match pattern runs in the Arrow kernels"
    return _string_with_constants("this", "expression")(expression, oracle)


def _trim(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    return _string_with_constants("this", "expression")(expression, oracle)


def _concat(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    parts = [expression.this, expression.expression] if isinstance(expression, exp.DPipe) else list(expression.expressions)
    for part in parts:
        if is_constant(part):
            continue
        part_type = oracle.type_of(part)
        if part_type is None:
            return _unknown(part)
        if not (_is_string(part_type) or pa.types.is_null(part_type)):
            return f"concatenating a `{part_type}` value runs in the Arrow kernels, which format it"
    return None


def _conditional(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    if isinstance(expression, exp.Case):
        branches = list(expression.args.get("ifs") or [])
        values = [branch.args["true"] for branch in branches]
        conditions = [branch.this for branch in branches]
        default = expression.args.get("default")
        if expression.this is not None:
            for condition in conditions:
                problem = _conversion_problem([expression.this, condition], oracle, "a CASE comparison")
                if problem:
                    return problem
            conditions = []
    else:
        values = [expression.args["true"]]
        conditions = [expression.this]
        default = expression.args.get("false")
    condition_types = _types(conditions, oracle)
    if condition_types is None:
        return _unknown(expression)
    for condition_type in condition_types:
        if not (pa.types.is_boolean(condition_type) or pa.types.is_null(condition_type)):
            return f"a `{condition_type}` condition runs in the Arrow kernels"
    results = values + ([default] if default is not None else [])
    return _conversion_problem(results, oracle, "a CASE result")


def _coalesce(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    return _conversion_problem([expression.this, *expression.expressions], oracle, "COALESCE")


def _nullif(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    if is_constant(expression.this):
        return "NULLIF of a constant runs in the Arrow kernels"
    return _conversion_problem([expression.this, expression.expression], oracle, "NULLIF")


def _cast(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    source = oracle.type_of(expression.this)
    target = oracle.type_of(expression)
    if source is None or target is None:
        return _unknown(expression)
    if source == target or pa.types.is_null(source):
        return None
    if pa.types.is_integer(source) and pa.types.is_integer(target):
        widening = target.bit_width > source.bit_width and (
            pa.types.is_signed_integer(target) or not pa.types.is_signed_integer(source)
        )
        if widening or (target.bit_width == source.bit_width and pa.types.is_signed_integer(source) == pa.types.is_signed_integer(target)):
            return None
    if pa.types.is_integer(source) and pa.types.is_floating(target):
        return None
    if pa.types.is_floating(source) and pa.types.is_floating(target) and target.bit_width >= source.bit_width:
        return None
    if _is_string(source) and _is_string(target):
        return None
    if pa.types.is_integer(source) and _is_string(target):
        return None
    return f"CAST from `{source}` to `{target}` runs in the Arrow kernels, which apply SQL's rounding and parsing"


def _rounding(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    problem = _numbers("this")(expression, oracle)
    if problem:
        return problem
    decimals = expression.args.get("decimals")
    if decimals is not None and (oracle.constant(decimals) is None or not oracle.constant(decimals).is_valid):
        return "ROUND with a non-constant precision runs in the Arrow kernels"
    return None


def _extract(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    if isinstance(expression, exp.Extract):
        unit = (expression.this.name if isinstance(expression.this, (exp.Var, exp.Literal, exp.Column)) else expression.this.sql()).lower()
        operand = expression.expression
        if unit not in _EXTRACT_UNITS:
            return f"EXTRACT of `{unit}` runs in the Arrow kernels"
    else:
        unit = _DATE_PART_CLASSES[type(expression)]
        operand = expression.this
    operand_type = oracle.type_of(operand)
    if operand_type is None:
        return _unknown(expression)
    if not _is_plain_temporal(operand_type):
        return f"date parts of `{operand_type}` values run in the Arrow kernels"
    if pa.types.is_date32(operand_type) and unit in ("hour", "minute", "second"):
        return f"`{unit}` of a DATE runs in the Arrow kernels"
    return None


NATIVE_EXPRESSIONS: dict[type[exp.Expression], Rule] = {
    exp.Column: _always,
    exp.Literal: _always,
    exp.Null: _always,
    exp.Boolean: _always,
    exp.Paren: _always,
    exp.Add: _numbers("this", "expression"),
    exp.Sub: _numbers("this", "expression"),
    exp.Mul: _numbers("this", "expression"),
    exp.Div: _division,
    exp.Neg: _numbers("this"),
    exp.EQ: _comparison,
    exp.NEQ: _comparison,
    exp.GT: _comparison,
    exp.GTE: _comparison,
    exp.LT: _comparison,
    exp.LTE: _comparison,
    exp.And: _booleans,
    exp.Or: _booleans,
    exp.Not: _booleans,
    exp.Is: _is,
    exp.In: _in,
    exp.Between: _between,
    exp.Like: _like,
    exp.ILike: _like,
    exp.Escape: _like,
    exp.Case: _conditional,
    exp.If: _conditional,
    exp.Cast: _cast,
    exp.TryCast: _cast,
    exp.Coalesce: _coalesce,
    exp.Nullif: _nullif,
    exp.Lower: _strings("this"),
    exp.Upper: _strings("this"),
    exp.Length: _strings("this"),
    exp.Substring: _substring,
    exp.Trim: _trim,
    exp.Concat: _concat,
    exp.DPipe: _concat,
    exp.Replace: _string_with_constants("this", "expression", "replacement"),
    exp.StartsWith: _pattern,
    exp.EndsWith: _pattern,
    exp.Contains: _pattern,
    exp.Left: _left_right,
    exp.Abs: _numbers("this"),
    exp.Round: _rounding,
    exp.Floor: _numbers("this"),
    exp.Ceil: _numbers("this"),
    exp.Extract: _extract,
    exp.Year: _extract,
    exp.Month: _extract,
    exp.Day: _extract,
    exp.Quarter: _extract,
    exp.DayOfWeek: _extract,
    exp.DayOfYear: _extract,
}
"""Expression classes with a cuDF kernel, each with the rule that checks its operand types."""

_SPECIFIC_FALLBACKS: dict[type[exp.Expression], str] = {
    exp.IntDiv: "integer division follows each dialect's zero and sign rules, kept in the Arrow kernels",
    exp.Mod: "SQL's remainder takes the dividend's sign and checks for zero, kept in the Arrow kernels",
    exp.NullSafeEQ: "IS NOT DISTINCT FROM has no cuDF kernel yet",
    exp.NullSafeNEQ: "IS DISTINCT FROM has no cuDF kernel yet",
    exp.DateTrunc: "DATE_TRUNC has no cuDF kernel yet (cuDF's `dt.floor` has no month or year unit)",
    exp.TimestampTrunc: "DATE_TRUNC has no cuDF kernel yet (cuDF's `dt.floor` has no month or year unit)",
    exp.Interval: "INTERVAL values exist on the host only; date arithmetic runs in the Arrow kernels",
    exp.RegexpLike: "regular expressions follow RE2 on the host; cuDF's regex dialect differs",
    exp.RegexpReplace: "regular expressions follow RE2 on the host; cuDF's regex dialect differs",
    exp.RegexpExtract: "regular expressions follow RE2 on the host; cuDF's regex dialect differs",
    exp.DateAdd: "calendar arithmetic (month ends) has no cuDF kernel yet",
    exp.DateSub: "calendar arithmetic (month ends) has no cuDF kernel yet",
    exp.DateDiff: "date differences by calendar unit have no cuDF kernel yet",
    exp.TimeToStr: "strftime formats follow Python's on the host; cuDF's `dt.strftime` differs",
    exp.StrToTime: "strptime formats follow Python's on the host; cuDF's `str.to_datetime` differs",
}

EXPRESSION_FALLBACKS: dict[type[exp.Expression], str] = {
    kind: _SPECIFIC_FALLBACKS.get(kind, f"`{kind.__name__}` has no cuDF kernel yet")
    for kind in sorted(SCALAR_EXPRESSIONS - set(NATIVE_EXPRESSIONS), key=lambda kind: kind.__name__)
}
"""Why each scalar expression class without a cuDF kernel runs in the Arrow kernels on the host."""


def host_expressions(expression: exp.Expression, oracle: TypeOracle) -> dict[int, str]:
    """Return the subexpressions of `expression` that run on the host, as `id` -> reason.

    Each listed subexpression is the largest one that cannot run on the GPU: its parent runs on
    the GPU and its children run with it on the host. Constant subexpressions run on the host
    too, once, but are not listed because they copy no column.
    """
    found: dict[int, str] = {}

    def visit(node: exp.Expression) -> None:
        if is_constant(node):
            return
        reason = _expression_reason(node, oracle)
        if reason is not None:
            found[id(node)] = reason
            return
        for child in _operands(node):
            visit(child)

    visit(expression)
    return found


def _expression_reason(expression: exp.Expression, oracle: TypeOracle) -> str | None:
    rule = NATIVE_EXPRESSIONS.get(type(expression))
    if rule is None:
        if isinstance(expression, exp.Anonymous):
            return f"function `{expression.name.upper()}` has no cuDF kernel yet"
        return EXPRESSION_FALLBACKS.get(type(expression), f"`{type(expression).__name__}` has no cuDF kernel yet")
    if expression.args.get("negate") and not isinstance(expression, (exp.Like, exp.ILike, exp.Is)):
        return f"negated `{expression.key.upper()}` runs in the Arrow kernels"
    return rule(expression, oracle)


def _operands(expression: exp.Expression) -> list[exp.Expression]:
    children = []
    for value in expression.args.values():
        items = value if isinstance(value, list) else [value]
        children.extend(item for item in items if isinstance(item, exp.Expression) and not isinstance(item, (exp.DataType, exp.Var, exp.Identifier)))
    return children


# Plan nodes -----------------------------------------------------------------------------------


def node_fallback_reason(node: plan.Node) -> str | None:
    """Return why `node` runs on the host as a whole, or None when it runs on the GPU."""
    reason = NODE_FALLBACKS.get(type(node))
    if reason is not None:
        return reason
    if type(node) not in NATIVE_NODES:
        return f"plan node `{type(node).__name__}` has no cuDF handler"
    if isinstance(node, plan.Join):
        if node.kind not in ("inner", "left", "right", "full", "cross"):
            return f"a {node.kind.upper()} join has no cuDF implementation yet"
        if node.residual is not None and node.kind != "inner":
            return f"a {node.kind.upper()} JOIN with a non-equality condition has no cuDF implementation yet"
    if isinstance(node, plan.Aggregate):
        for call in node.aggregates:
            problem = _aggregate_problem(call)
            if problem:
                return problem
    if any(_makes_bits(expression) for expression in node_expressions(node)):
        return _BIT_REASON
    return None


def _makes_bits(expression: exp.Expression) -> bool:
    """Return whether `expression` casts to BIT or calls a function that returns BIT strings."""
    for node in expression.walk():
        if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.BIT:
            return True
        if isinstance(node, exp.Anonymous) and node.name.lower() in _BIT_FUNCTIONS:
            return True
    return False


def _aggregate_problem(call: plan.AggregateCall) -> str | None:
    if call.function not in NATIVE_AGGREGATES:
        return f"aggregate `{call.sql()}` has no cuDF implementation yet"
    if call.distinct and call.function != "count":
        return f"aggregate `{call.sql()}` over DISTINCT values has no cuDF implementation yet"
    if call.options:
        return f"aggregate `{call.sql()}` with options {sorted(call.options)} has no cuDF implementation yet"
    return None


def node_expressions(node: plan.Node) -> list[exp.Expression]:
    """Return the expressions that a node evaluates over its input frame."""
    if isinstance(node, plan.Filter):
        return [node.predicate]
    if isinstance(node, plan.Project):
        return list(node.expressions)
    if isinstance(node, plan.Join) and node.residual is not None:
        return [node.residual]
    return []


def explain_placement(root: plan.Node, dialect: str = "duckdb") -> list[tuple[str, str, list[str]]]:
    """Return, for each plan node, where the cudf engine runs it and every reason it leaves the GPU.

    Each entry is (node description, placement, reasons), in the order the executor runs the
    nodes (inputs first). Placement is `cudf`, `cudf+arrow` or `pandas`, as this module's
    docstring defines. It needs no GPU: operand types come from the pandas engine run on zero
    rows, which reads the schemas of file sources.
    """
    schemas = infer_schemas(root, dialect)
    entries: list[tuple[str, str, list[str]]] = []
    seen: set[int] = set()

    def visit(node: plan.Node) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for child in node.inputs:
            visit(child)
        entries.append(_placement(node, schemas, dialect))

    visit(root)
    return entries


def _placement(node: plan.Node, schemas: dict[int, pa.Schema | None], dialect: str) -> tuple[str, str, list[str]]:
    placement, reasons = node_placement(node, _expression_schema(node, schemas), dialect)
    return node.describe(), placement, reasons


def node_placement(node: plan.Node, input_schema: pa.Schema | None, dialect: str) -> tuple[str, list[str]]:
    """Return where the cudf engine runs `node` (`cudf`, `cudf+arrow` or `pandas`) and why.

    `input_schema` is the logical schema of the node's input, both inputs' fields for a join,
    or None when it is unknown.
    """
    reason = node_fallback_reason(node)
    if reason is not None:
        return "pandas", [reason]
    bit_columns = [field.name for field in input_schema or [] if is_bit(field.type)]
    if bit_columns:
        # The input stays on the host; at run time the failed upload sends the node there.
        return "pandas", [f"{_BIT_REASON} (column `{bit_columns[0]}`)"]

    expressions = node_expressions(node)
    if not expressions:
        return "cudf", []
    if input_schema is None:
        return "cudf+arrow", ["the input types are unknown before the query runs"]
    oracle = TypeOracle(input_schema, dialect)
    reasons: list[str] = []
    for expression in expressions:
        for subexpression_reason in host_expressions(expression, oracle).values():
            if subexpression_reason not in reasons:
                reasons.append(subexpression_reason)
    return "cudf+arrow" if reasons else "cudf", reasons


def _expression_schema(node: plan.Node, schemas: dict[int, pa.Schema | None]) -> pa.Schema | None:
    inputs = [schemas.get(id(child)) for child in node.inputs]
    if any(schema is None for schema in inputs):
        return None
    if len(inputs) == 1:
        return inputs[0]
    # A join residual reads the columns of both inputs.
    return pa.schema([field for schema in inputs for field in schema])  # type: ignore[union-attr]
