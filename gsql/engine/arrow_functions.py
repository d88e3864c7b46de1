"""Kernels for SQL's string, regular-expression, math and date functions over Arrow values.

Each kernel follows DuckDB's definition of the function, because DuckDB is gsql's reference
engine in tests. Where DuckDB and PostgreSQL differ, the kernel's docstring names the rule used. Functions
without an Arrow compute kernel run per value in Python, on non-NULL values only.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from gsql.engine.arrow_kernels import (
    ANONYMOUS_KERNELS,
    KERNELS,
    Evaluator,
    Value,
    _EXTRACT_FUNCTIONS,
    _extract,
    _string_operand,
    _unit_name,
    cast_value,
    common_type,
)
from gsql.errors import ExecutionError, UnsupportedError

__all__ = ["FUNCTION_KERNELS"]


def _constant(evaluator: Evaluator, expression: exp.Expression | None, what: str) -> Any:
    if expression is None:
        return None
    value = evaluator.evaluate(expression)
    if not isinstance(value, pa.Scalar):
        raise UnsupportedError(f"{what} must be a constant in `{expression.parent.sql()[:80]}`")
    return value.as_py()


def _per_value(value: Value, function: Callable[[Any], Any], result_type: pa.DataType) -> Value:
    """Apply `function` to each non-NULL value; NULL stays NULL."""
    if isinstance(value, pa.Scalar):
        item = value.as_py()
        return pa.scalar(None if item is None else function(item), result_type)
    results = [None if item is None else function(item) for item in value.to_pylist()]
    return pa.chunked_array([pa.array(results, type=result_type)])


def _is_ascii(value: Value) -> bool:
    if isinstance(value, pa.Scalar):
        return value.as_py() is None or value.as_py().isascii()
    return bool(pc.all(pc.string_is_ascii(value)).as_py() in (True, None))


# Strings ------------------------------------------------------------------------------------


def _position(evaluator: Evaluator, expression: exp.StrPosition) -> Value:
    value = _string_operand(evaluator, expression.this)
    needle = _constant(evaluator, expression.args.get("substr"), "the search string")
    if needle is None:
        return pa.scalar(None, pa.int64())
    # 1-based position of the first match in characters, 0 when absent.
    if _is_ascii(value):
        found = pc.find_substring(value, needle)
        return pc.cast(pc.add(found, 1), pa.int64())
    return _per_value(value, lambda text: text.find(needle) + 1, pa.int64())


def _left(evaluator: Evaluator, expression: exp.Left) -> Value:
    value = _string_operand(evaluator, expression.this)
    count = _constant(evaluator, expression.expression, "the LEFT length")
    if count is None:
        return pa.scalar(None, pa.large_string())
    if count < 0 and expression.args.get("negative_length_returns_empty"):
        return _per_value(value, lambda text: "", pa.large_string())
    # DuckDB: a negative count drops that many characters from the end.
    stop = count if count >= 0 else -count
    if count >= 0:
        return pc.utf8_slice_codeunits(value, 0, stop)
    return _per_value(value, lambda text: text[: max(len(text) + count, 0)], pa.large_string())


def _right(evaluator: Evaluator, expression: exp.Right) -> Value:
    value = _string_operand(evaluator, expression.this)
    count = _constant(evaluator, expression.expression, "the RIGHT length")
    if count is None:
        return pa.scalar(None, pa.large_string())
    if count > 0:
        return pc.utf8_slice_codeunits(value, -count, 2**31 - 1)
    return _per_value(value, lambda text: text[-count:] if count else "", pa.large_string())


def _pad(evaluator: Evaluator, expression: exp.Pad) -> Value:
    value = _string_operand(evaluator, expression.this)
    width = _constant(evaluator, expression.expression, "the pad width")
    fill = _constant(evaluator, expression.args.get("fill_pattern"), "the pad string")
    fill = " " if expression.args.get("fill_pattern") is None else fill
    if width is None or fill is None:
        return pa.scalar(None, pa.large_string())
    left = bool(expression.args.get("is_left"))

    def pad(text: str) -> str:
        # SQL pads with the fill repeated and cut, and truncates a longer string to `width`.
        if len(text) >= width or not fill:
            return text[: max(width, 0)]
        missing = width - len(text)
        padding = (fill * (missing // len(fill) + 1))[:missing]
        return padding + text if left else text + padding

    return _per_value(value, pad, pa.large_string())


def _split_part(evaluator: Evaluator, expression: exp.SplitPart) -> Value:
    value = _string_operand(evaluator, expression.this)
    delimiter = _constant(evaluator, expression.args.get("delimiter"), "the delimiter")
    index = _constant(evaluator, expression.args.get("part_index"), "the part index")
    if delimiter is None or index is None:
        return pa.scalar(None, pa.large_string())

    def part(text: str) -> str:
        pieces = text.split(delimiter) if delimiter else list(text)
        position = index - 1 if index > 0 else len(pieces) + index
        return pieces[position] if index != 0 and 0 <= position < len(pieces) else ""

    return _per_value(value, part, pa.large_string())


def _pattern_predicate(function: str) -> Callable[[Evaluator, exp.Expression], Value]:
    def kernel(evaluator: Evaluator, expression: exp.Expression) -> Value:
        value = _string_operand(evaluator, expression.this)
        pattern = _constant(evaluator, expression.expression, "the pattern")
        if pattern is None:
            return pa.scalar(None, pa.bool_())
        if expression.args.get("full_match"):
            pattern = f"^(?:{pattern})$"
        if isinstance(value, pa.Scalar):
            text = value.as_py()
            if text is None:
                return pa.scalar(None, pa.bool_())
            checks = {
                "starts_with": text.startswith,
                "ends_with": text.endswith,
                "match_substring": lambda p: p in text,
                "match_substring_regex": lambda p: re.search(p, text) is not None,
            }
            return pa.scalar(checks[function](pattern))
        return getattr(pc, function)(value, pattern)

    return kernel


def _regexp_replace(evaluator: Evaluator, expression: exp.RegexpReplace) -> Value:
    value = _string_operand(evaluator, expression.this)
    pattern = _constant(evaluator, expression.expression, "the pattern")
    replacement = _constant(evaluator, expression.args.get("replacement"), "the replacement")
    modifiers = _constant(evaluator, expression.args.get("modifiers"), "the options") or ""
    if pattern is None or replacement is None:
        return pa.scalar(None, pa.large_string())
    if set(modifiers) - {"g"}:
        raise UnsupportedError(f"REGEXP_REPLACE options `{modifiers}` are not supported; only `g` is")
    # DuckDB and PostgreSQL replace the first match unless the `g` option requests all of them,
    # and sqlglot marks them `single_replace`. Other dialects replace every match.
    single = bool(expression.args.get("single_replace")) and "g" not in modifiers
    limit = 1 if single else None
    if isinstance(value, pa.Scalar):
        value = pa.chunked_array([pa.array([value.as_py()], pa.large_string())])
        return pc.replace_substring_regex(value, pattern, replacement, max_replacements=limit)[0]
    return pc.replace_substring_regex(value, pattern, replacement, max_replacements=limit)


def _regexp_extract(evaluator: Evaluator, expression: exp.RegexpExtract) -> Value:
    value = _string_operand(evaluator, expression.this)
    pattern = _constant(evaluator, expression.expression, "the pattern")
    group = _constant(evaluator, expression.args.get("group"), "the group") or 0
    if pattern is None:
        return pa.scalar(None, pa.large_string())
    compiled = re.compile(pattern)
    if group > compiled.groups:
        raise ExecutionError(f"REGEXP_EXTRACT group {group} is not in the pattern `{pattern}`")

    no_match = None if expression.args.get("null_if_no_match") else ""

    def extract(text: str) -> str | None:
        # DuckDB returns an empty string, not NULL, when the pattern does not match.
        match = compiled.search(text)
        return (match.group(group) or "") if match else no_match

    return _per_value(value, extract, pa.large_string())


def _reverse(evaluator: Evaluator, expression: exp.Reverse) -> Value:
    return pc.utf8_reverse(_string_operand(evaluator, expression.this))


def _initcap(evaluator: Evaluator, expression: exp.Initcap) -> Value:
    """Upper-case the first letter of each word and lower-case the rest.

    Without delimiters a word is a run of letters and digits, as in PostgreSQL; sqlglot fills
    in a dialect's default delimiter characters, and each of them then starts a new word.
    """
    value = _string_operand(evaluator, expression.this)
    delimiters = _constant(evaluator, expression.args.get("expression"), "the INITCAP delimiters")
    if delimiters is None:
        return pc.utf8_title(pc.utf8_lower(value))

    def capitalize(text: str) -> str:
        result, start = [], True
        for char in text:
            result.append(char.upper() if start else char.lower())
            start = char in delimiters
        return "".join(result)

    return _per_value(value, capitalize, pa.large_string())


def _concat_ws(evaluator: Evaluator, expression: exp.ConcatWs) -> Value:
    parts = list(expression.expressions)
    if len(parts) < 2:
        raise ExecutionError("CONCAT_WS needs a separator and at least one value")
    separator = _string_operand(evaluator, parts[0])
    values = [_string_operand(evaluator, part) for part in parts[1:]]
    if isinstance(separator, pa.Scalar) and not separator.is_valid:
        return pa.scalar(None, pa.large_string())

    def join(row: tuple[Any, ...]) -> str | None:
        sep, *items = row
        if sep is None:
            return None
        # NULL arguments are skipped; a row of only NULLs gives '' as in DuckDB.
        return sep.join(item for item in items if item is not None)

    if all(isinstance(v, pa.Scalar) for v in [separator, *values]):
        return pa.scalar(join((separator.as_py(), *[v.as_py() for v in values])), pa.large_string())
    columns = [evaluator.array(v).to_pylist() for v in [separator, *values]]
    return pa.chunked_array([pa.array([join(row) for row in zip(*columns)], pa.large_string())])


def _repeat(evaluator: Evaluator, expression: exp.Repeat) -> Value:
    value = _string_operand(evaluator, expression.this)
    times = _constant(evaluator, expression.args.get("times"), "the repeat count")
    if times is None:
        return pa.scalar(None, pa.large_string())
    return _per_value(value, lambda text: text * max(times, 0), pa.large_string())


def _ascii(evaluator: Evaluator, expression: exp.Ascii) -> Value:
    value = _string_operand(evaluator, expression.this)
    return _per_value(value, lambda text: ord(text[0]) if text else 0, pa.int64())


def _chr(evaluator: Evaluator, expression: exp.Chr) -> Value:
    value = evaluator.evaluate(expression.expressions[0])
    return _per_value(value, lambda code: chr(int(code)), pa.large_string())


# Comparison ---------------------------------------------------------------------------------


def _extreme(function: str) -> Callable[[Evaluator, exp.Expression], Value]:
    def kernel(evaluator: Evaluator, expression: exp.Expression) -> Value:
        values = [evaluator.evaluate(expression.this)] + [evaluator.evaluate(e) for e in expression.expressions]
        target = common_type([value.type for value in values])
        if pa.types.is_null(target):
            return pa.scalar(None, pa.null())
        values = [cast_value(value, target) for value in values]
        if all(isinstance(value, pa.Scalar) for value in values):
            present = [value.as_py() for value in values if value.is_valid]
            if len(present) < len(values) and expression.args.get("ignore_nulls") is False:
                return pa.scalar(None, target)
            if pa.types.is_floating(target) and any(math.isnan(v) for v in present):
                if function == "max_element_wise" or all(math.isnan(v) for v in present):
                    return pa.scalar(float("nan"), target)
                present = [v for v in present if not math.isnan(v)]
            chosen = None
            if present:
                chosen = max(present) if function == "max_element_wise" else min(present)
            return pa.scalar(chosen, target)
        arrays = [evaluator.array(value) if isinstance(value, pa.Scalar) else value for value in values]
        # GREATEST and LEAST skip NULL arguments in DuckDB and PostgreSQL; sqlglot marks the
        # dialects where any NULL argument makes the result NULL (MySQL) with ignore_nulls=False.
        skip = expression.args.get("ignore_nulls") is not False
        result = getattr(pc, function)(*arrays, skip_nulls=skip)
        if pa.types.is_floating(target):
            # NaN is above every number: GREATEST returns it, LEAST returns it only when alone.
            flags = [pc.fill_null(pc.is_nan(array), False) for array in arrays]
            if function == "max_element_wise":
                any_nan = flags[0]
                for flag in flags[1:]:
                    any_nan = pc.or_(any_nan, flag)
                result = pc.if_else(any_nan, pa.scalar(float("nan")), result)
            else:
                others = [pc.or_(flag, pc.is_null(array)) for flag, array in zip(flags, arrays)]
                all_nan = others[0]
                for flag in others[1:]:
                    all_nan = pc.and_(all_nan, flag)
                result = pc.if_else(pc.and_(all_nan, pc.is_valid(result)), pa.scalar(float("nan")), result)
        return result

    return kernel


# Math ---------------------------------------------------------------------------------------


def _unary_math(function: str, result: pa.DataType | None = pa.float64()) -> Callable[[Evaluator, exp.Expression], Value]:
    def kernel(evaluator: Evaluator, expression: exp.Expression) -> Value:
        value = evaluator.evaluate(expression.this)
        if pa.types.is_null(value.type):
            return pa.scalar(None, result or pa.float64())
        if result is not None:
            value = cast_value(value, result)
        return getattr(pc, function)(value)

    return kernel


def _sign(evaluator: Evaluator, expression: exp.Sign) -> Value:
    """Return -1, 0 or 1 as TINYINT, and 0 for NaN, as DuckDB does."""
    value = evaluator.evaluate(expression.this)
    if pa.types.is_null(value.type):
        return pa.scalar(None, pa.int8())
    if pa.types.is_decimal(value.type):
        value = cast_value(value, pa.float64())
    signs = pc.sign(value)
    if pa.types.is_floating(value.type):
        signs = pc.if_else(pc.is_nan(signs), 0.0, signs)
    return pc.cast(signs, pa.int8())


def _power(evaluator: Evaluator, expression: exp.Pow) -> Value:
    base = cast_value(evaluator.evaluate(expression.this), pa.float64())
    exponent = cast_value(evaluator.evaluate(expression.expression), pa.float64())
    return pc.power(base, exponent)


def _log(evaluator: Evaluator, expression: exp.Log) -> Value:
    if expression.expression is None:
        value = cast_value(evaluator.evaluate(expression.this), pa.float64())
        # LOG(x) with one argument is the base-10 logarithm in DuckDB and PostgreSQL.
        return pc.log10(value)
    base = cast_value(evaluator.evaluate(expression.this), pa.float64())
    value = cast_value(evaluator.evaluate(expression.expression), pa.float64())
    return pc.logb(value, base)


def _trunc(evaluator: Evaluator, expression: exp.Trunc) -> Value:
    value = evaluator.evaluate(expression.this)
    if pa.types.is_integer(value.type):
        return value
    if expression.args.get("decimals") is not None:
        raise UnsupportedError("TRUNC with a number of digits is not supported")
    if pa.types.is_decimal(value.type):
        return cast_value(pc.trunc(cast_value(value, pa.float64())), pa.decimal128(value.type.precision, 0))
    return pc.trunc(value)


# Dates --------------------------------------------------------------------------------------


def _date_part_function(unit: str) -> Callable[[Evaluator, exp.Expression], Value]:
    def kernel(evaluator: Evaluator, expression: exp.Expression) -> Value:
        value = evaluator.evaluate(expression.this)
        if pa.types.is_null(value.type):
            return pa.scalar(None, pa.int64())
        return pc.cast(_EXTRACT_FUNCTIONS[unit](value), pa.int64())

    return kernel


def _date_part(evaluator: Evaluator, expression: exp.Anonymous) -> Value:
    if len(expression.expressions) != 2:
        raise ExecutionError("DATE_PART takes a part name and a date")
    unit, value = expression.expressions
    return _extract(evaluator, exp.Extract(this=exp.var(_constant(evaluator, unit, "the date part")), expression=value))


def _date_add(evaluator: Evaluator, expression: exp.Expression) -> Value:
    from gsql.engine.arrow_kernels import KERNELS as kernels

    amount = expression.expression
    unit = expression.args.get("unit")
    if unit is not None and not isinstance(amount, exp.Interval):
        amount = exp.Interval(this=amount, unit=exp.var(_unit_name(unit)))
    operation = exp.Sub if isinstance(expression, exp.DateSub) else exp.Add
    return kernels[operation](evaluator, operation(this=expression.this, expression=amount))


def _date_diff(evaluator: Evaluator, expression: exp.DateDiff) -> Value:
    """Count unit boundaries crossed from the second date to the first, as DuckDB's DATE_DIFF."""
    unit = _unit_name(expression.args.get("unit")) if expression.args.get("unit") is not None else "day"
    later = evaluator.evaluate(expression.this)
    earlier = evaluator.evaluate(expression.expression)
    if pa.types.is_null(later.type) or pa.types.is_null(earlier.type):
        return pa.scalar(None, pa.int64())
    later = cast_value(later, pa.timestamp("us", getattr(later.type, "tz", None))) if not pa.types.is_timestamp(later.type) else later
    earlier = cast_value(earlier, pa.timestamp("us", getattr(earlier.type, "tz", None))) if not pa.types.is_timestamp(earlier.type) else earlier
    if unit in ("year", "quarter", "month"):
        def months(value: Value) -> Value:
            return pc.add(pc.multiply(pc.year(value), 12), pc.subtract(pc.month(value), 1))

        difference = pc.subtract(months(later), months(earlier))
        if unit == "year":
            difference = pc.subtract(pc.year(later), pc.year(earlier))
        elif unit == "quarter":
            quarters = lambda value: pc.add(pc.multiply(pc.year(value), 4), pc.subtract(pc.quarter(value), 1))  # noqa: E731
            difference = pc.subtract(quarters(later), quarters(earlier))
        return pc.cast(difference, pa.int64())
    if unit == "week":
        days = _floored_difference(later, earlier, "day")
        return pc.cast(pc.divide(days, 7), pa.int64())
    if unit in ("day", "hour", "minute", "second", "millisecond", "microsecond"):
        return _floored_difference(later, earlier, unit)
    raise UnsupportedError(f"DATE_DIFF in `{unit}` is not supported")


def _floored_difference(later: Value, earlier: Value, unit: str) -> Value:
    size = {"day": 86_400_000_000, "hour": 3_600_000_000, "minute": 60_000_000, "second": 1_000_000, "millisecond": 1_000, "microsecond": 1}[unit]
    later_units = pc.floor(pc.divide(pc.cast(pc.cast(later, pa.timestamp("us", getattr(later.type, "tz", None))), pa.int64()).cast(pa.float64()), size))
    earlier_units = pc.floor(pc.divide(pc.cast(pc.cast(earlier, pa.timestamp("us", getattr(earlier.type, "tz", None))), pa.int64()).cast(pa.float64()), size))
    return pc.cast(pc.subtract(later_units, earlier_units), pa.int64())


def _strftime(evaluator: Evaluator, expression: exp.TimeToStr) -> Value:
    value = evaluator.evaluate(expression.this)
    pattern = _constant(evaluator, expression.args.get("format"), "the format")
    if pattern is None or pa.types.is_null(value.type):
        return pa.scalar(None, pa.large_string())
    if pa.types.is_date(value.type):
        value = pc.cast(value, pa.timestamp("s"))
    if isinstance(value, pa.Scalar):
        item = value.as_py()
        return pa.scalar(None if item is None else item.strftime(pattern), pa.large_string())
    return pc.cast(pc.strftime(value, format=pattern), pa.large_string())


def _strptime(evaluator: Evaluator, expression: exp.StrToTime) -> Value:
    value = _string_operand(evaluator, expression.this)
    pattern = _constant(evaluator, expression.args.get("format"), "the format")
    if pattern is None:
        return pa.scalar(None, pa.timestamp("us"))
    return _per_value(value, lambda text: dt.datetime.strptime(text, pattern), pa.timestamp("us"))


def _current_date(evaluator: Evaluator, expression: exp.CurrentDate) -> Value:
    return pa.scalar(dt.date.today(), pa.date32())


def _last_day(evaluator: Evaluator, expression: exp.LastDay) -> Value:
    value = evaluator.evaluate(expression.this)
    if pa.types.is_timestamp(value.type):
        value = pc.cast(value, pa.date32())

    def last(day: dt.date) -> dt.date:
        return day.replace(day=calendar.monthrange(day.year, day.month)[1])

    return _per_value(value, last, pa.date32())


def _make_date(evaluator: Evaluator, expression: exp.DateFromParts) -> Value:
    parts = [evaluator.evaluate(expression.args[name]) for name in ("year", "month", "day")]
    arrays = [evaluator.array(part) if isinstance(part, pa.Scalar) else part for part in parts]
    rows = zip(*[array.to_pylist() for array in arrays])
    values = []
    for year, month, day in rows:
        if None in (year, month, day):
            values.append(None)
            continue
        try:
            values.append(dt.date(int(year), int(month), int(day)))
        except ValueError as error:
            raise ExecutionError(f"invalid date {year}-{month}-{day}: {error}") from None
    array = pa.chunked_array([pa.array(values, pa.date32())])
    if all(isinstance(part, pa.Scalar) for part in parts):
        return array[0] if len(array) else pa.scalar(None, pa.date32())
    return array


def _epoch(evaluator: Evaluator, expression: exp.TimeToUnix) -> Value:
    return _extract(evaluator, exp.Extract(this=exp.var("epoch"), expression=expression.this))


def _to_timestamp(evaluator: Evaluator, expression: exp.UnixToTime) -> Value:
    if expression.args.get("scale") or expression.args.get("zone"):
        raise UnsupportedError("TO_TIMESTAMP with a scale or time zone is not supported")
    seconds = cast_value(evaluator.evaluate(expression.this), pa.float64())
    micros = pc.cast(pc.round(pc.multiply(seconds, 1_000_000)), pa.int64())
    return pc.cast(pc.cast(micros, pa.timestamp("us")), pa.timestamp("us", tz="UTC"))


FUNCTION_KERNELS: dict[type[exp.Expression], Callable[[Evaluator, Any], Value]] = {
    exp.StrPosition: _position,
    exp.Left: _left,
    exp.Right: _right,
    exp.Pad: _pad,
    exp.SplitPart: _split_part,
    exp.StartsWith: _pattern_predicate("starts_with"),
    exp.EndsWith: _pattern_predicate("ends_with"),
    exp.Contains: _pattern_predicate("match_substring"),
    exp.RegexpLike: _pattern_predicate("match_substring_regex"),
    exp.RegexpReplace: _regexp_replace,
    exp.RegexpExtract: _regexp_extract,
    exp.Reverse: _reverse,
    exp.Initcap: _initcap,
    exp.ConcatWs: _concat_ws,
    exp.Repeat: _repeat,
    exp.Ascii: _ascii,
    exp.Chr: _chr,
    exp.Greatest: _extreme("max_element_wise"),
    exp.Least: _extreme("min_element_wise"),
    exp.Sign: _sign,
    exp.Sqrt: _unary_math("sqrt"),
    exp.Pow: _power,
    exp.Ln: _unary_math("ln"),
    exp.Log: _log,
    exp.Exp: _unary_math("exp"),
    exp.Trunc: _trunc,
    exp.Year: _date_part_function("year"),
    exp.Month: _date_part_function("month"),
    exp.Day: _date_part_function("day"),
    exp.DayOfWeek: _date_part_function("dow"),
    exp.DayOfYear: _date_part_function("doy"),
    exp.Quarter: _date_part_function("quarter"),
    exp.DateAdd: _date_add,
    exp.DateSub: _date_add,
    exp.DateDiff: _date_diff,
    exp.TimeToStr: _strftime,
    exp.StrToTime: _strptime,
    exp.CurrentDate: _current_date,
    exp.LastDay: _last_day,
    exp.DateFromParts: _make_date,
    exp.TimeToUnix: _epoch,
    exp.UnixToTime: _to_timestamp,
}

KERNELS.update(FUNCTION_KERNELS)
ANONYMOUS_KERNELS["date_part"] = _date_part
ANONYMOUS_KERNELS["datepart"] = _date_part

import gsql.engine.bit_functions  # noqa: F401  (registers the BIT string functions)

_ = math  # kept for kernels that need math constants
