"""The sqlglot expression classes that gsql's plan builder accepts inside plan expressions.

Any class not listed here makes the plan builder raise `UnsupportedError` naming it, and every
engine must have a kernel for each class listed (a test walks this set against each backend).
"""

from __future__ import annotations

from sqlglot import exp

from gsql.errors import UnsupportedError

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "SCALAR_EXPRESSIONS",
    "check_supported",
    "display_name",
]

# Classes that never compute anything themselves: the kernels of their parents read them.
STRUCTURAL_EXPRESSIONS: frozenset[type[exp.Expression]] = frozenset(
    {exp.Identifier, exp.DataType, exp.DataTypeParam, exp.Var, exp.Star}
)

SCALAR_EXPRESSIONS: frozenset[type[exp.Expression]] = frozenset(
    {
        exp.Column,
        exp.Literal,
        exp.Null,
        exp.Boolean,
        exp.Paren,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.IntDiv,
        exp.Mod,
        exp.Neg,
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.NullSafeEQ,
        exp.NullSafeNEQ,
        exp.And,
        exp.Or,
        exp.Not,
        exp.Is,
        exp.In,
        exp.Between,
        exp.Like,
        exp.ILike,
        exp.Escape,
        exp.Case,
        exp.Cast,
        exp.TryCast,
        exp.Coalesce,
        exp.Nullif,
        exp.Lower,
        exp.Upper,
        exp.Length,
        exp.Substring,
        exp.Trim,
        exp.Concat,
        exp.DPipe,
        exp.Abs,
        exp.Round,
        exp.Floor,
        exp.Ceil,
        exp.Extract,
        exp.DateTrunc,
        exp.TimestampTrunc,
        exp.Interval,
        exp.Replace,
        exp.If,
        exp.StrPosition,
        exp.Left,
        exp.Right,
        exp.Pad,
        exp.SplitPart,
        exp.StartsWith,
        exp.EndsWith,
        exp.Contains,
        exp.RegexpLike,
        exp.RegexpReplace,
        exp.RegexpExtract,
        exp.Reverse,
        exp.Initcap,
        exp.ConcatWs,
        exp.Repeat,
        exp.Ascii,
        exp.Chr,
        exp.Greatest,
        exp.Least,
        exp.Sign,
        exp.Sqrt,
        exp.Pow,
        exp.Ln,
        exp.Log,
        exp.Exp,
        exp.Trunc,
        exp.Year,
        exp.Month,
        exp.Day,
        exp.DayOfWeek,
        exp.DayOfYear,
        exp.Quarter,
        exp.DateAdd,
        exp.DateSub,
        exp.DateDiff,
        exp.TimeToStr,
        exp.StrToTime,
        exp.CurrentDate,
        exp.LastDay,
        exp.DateFromParts,
        exp.TimeToUnix,
        exp.UnixToTime,
        exp.BitwiseAnd,
        exp.BitwiseOr,
        exp.BitwiseXor,
        exp.BitwiseLeftShift,
        exp.BitwiseRightShift,
        exp.BitwiseNot,
        exp.BitLength,
        exp.Getbit,
        exp.HexString,
        exp.Try,
    }
)

# Arguments of supported classes that gsql does not implement; a node that sets one is
# rejected by name rather than evaluated without it.
UNHANDLED_ARGUMENTS: dict[type[exp.Expression], frozenset[str]] = {
    exp.Between: frozenset({"symmetric"}),
    exp.Cast: frozenset({"format", "action", "default"}),
    exp.TryCast: frozenset({"format", "action", "default"}),
    exp.Ceil: frozenset({"decimals", "to"}),
    exp.Floor: frozenset({"decimals", "to"}),
    exp.Column: frozenset({"db", "catalog", "join_mark"}),
    exp.DateTrunc: frozenset({"zone"}),
    exp.TimestampTrunc: frozenset({"zone"}),
    exp.In: frozenset({"query", "unnest", "field", "is_global"}),
    exp.Length: frozenset({"binary", "encoding"}),
    exp.Round: frozenset({"truncate"}),
    exp.Substring: frozenset({"zero_start"}),
    exp.Trim: frozenset({"collation"}),
    exp.StrPosition: frozenset({"position", "occurrence"}),
    exp.RegexpExtract: frozenset(
        {"position", "occurrence", "parameters", "empty_if_group_missing"}
    ),
    exp.SplitPart: frozenset({"part_index_zero_as_one", "empty_delimiter_returns_whole"}),
    exp.ConcatWs: frozenset({"flatten"}),
    exp.RegexpReplace: frozenset({"position", "occurrence"}),
    exp.RegexpLike: frozenset({"flag"}),
    exp.Chr: frozenset({"charset"}),
    exp.DateDiff: frozenset({"zone"}),
    exp.TimeToStr: frozenset({"culture", "zone"}),
    exp.StrToTime: frozenset({"zone", "safe", "default_year", "nlsparam"}),
    exp.UnixToTime: frozenset({"scale", "zone", "hours", "minutes", "format", "target_type"}),
}

from gsql.sql.aggregates import AGGREGATE_FUNCTIONS  # noqa: E402  (re-exported)

# Scalar functions that sqlglot parses as `Anonymous` and that gsql implements by name.
ANONYMOUS_FUNCTIONS: frozenset[str] = frozenset(
    {"date_part", "datepart", "bit_count", "octet_length", "set_bit", "bit_position", "bitstring"}
)


def check_supported(expression: exp.Expression) -> None:
    """Raise `UnsupportedError` for the first node of `expression` that gsql cannot evaluate."""
    for node in expression.walk():
        kind = type(node)
        if kind in STRUCTURAL_EXPRESSIONS:
            continue
        if kind in SCALAR_EXPRESSIONS:
            for argument in UNHANDLED_ARGUMENTS.get(kind, ()):
                if node.args.get(argument):
                    raise UnsupportedError(
                        f"`{argument}` of `{kind.__name__}` is not supported (in `{_snippet(node)}`)"
                    )
            continue
        if kind is exp.Anonymous and node.name.lower() in ANONYMOUS_FUNCTIONS:
            continue
        raise UnsupportedError(_describe_unsupported(node))


def _describe_unsupported(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return f"function `{node.name.upper()}` is not supported (in `{_snippet(node)}`)"
    if isinstance(node, exp.Func):
        return f"function `{node.sql_name()}` is not supported (in `{_snippet(node)}`)"
    return f"SQL construct `{type(node).__name__}` is not supported (in `{_snippet(node)}`)"


def _snippet(node: exp.Expression, limit: int = 80) -> str:
    text = node.sql()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def display_name(expression: exp.Expression, dialect: str) -> str:
    """Return the column name a result shows for an unaliased select expression."""
    if isinstance(expression, exp.Column):
        return expression.name
    if expression.find(exp.Select):
        return expression.sql(dialect, normalize_functions="lower")
    bare = expression.copy()
    for column in bare.find_all(exp.Column):
        column.set("table", None)
    return bare.sql(dialect, normalize_functions="lower")
