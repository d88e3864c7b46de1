"""Expression kernels over Arrow arrays, with SQL semantics.

The pandas backend evaluates plan expressions with these kernels. Its columns are
`pd.ArrowDtype`, so each column converts to a `pyarrow.ChunkedArray` without a copy. Then
`pyarrow.compute` gives the SQL behaviour that pandas would not: three-valued AND/OR,
overflow-checked integer arithmetic and NULL-aware comparisons.

A value is either a `pyarrow.ChunkedArray` (one entry per row) or a `pyarrow.Scalar` (the same
for every row). Kernels are looked up by sqlglot expression class in `KERNELS`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Callable
from typing import Any, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from gsql.engine import bit_strings
from gsql.engine.decimals import DecimalUnits, decimal_to_double, fast_decimal_arithmetic
from gsql.errors import ExecutionError, UnsupportedError
from gsql.types import BIT, arrow_type, is_bit

__all__ = ["KERNELS", "Evaluator", "Value"]

Value = Union[pa.ChunkedArray, pa.Scalar]
Kernel = Callable[["Evaluator", Any], Value]

# Dialects in which `x / 0` is NULL rather than an error are marked by sqlglot with
# `Div(safe=True)` (SQLite, MySQL); everywhere else division by zero raises.
_TRUNCATING_CAST_DIALECTS = frozenset({"sqlite", "mysql"})


class Evaluator:
    """Evaluate resolved plan expressions against one frame's columns."""

    def __init__(self, columns: Callable[[str], pa.ChunkedArray], length: int, dialect: str) -> None:
        self._columns = columns
        self.length = length
        self.dialect = dialect
        # Decimal `+ - *` results on int64, by the SQL text of their expression, so that a
        # subexpression that several output columns share runs once.
        self.decimal_units: dict[str, DecimalUnits] = {}

    def evaluate(self, expression: exp.Expression) -> Value:
        kernel = KERNELS.get(type(expression))
        if kernel is None:
            if isinstance(expression, exp.Anonymous):
                kernel = ANONYMOUS_KERNELS.get(expression.name.lower())
            if kernel is None:
                raise UnsupportedError(
                    f"the pandas engine has no kernel for `{type(expression).__name__}` "
                    f"(in `{expression.sql()[:80]}`)"
                )
        return kernel(self, expression)

    def column(self, name: str) -> pa.ChunkedArray:
        return self._columns(name)

    def array(self, value: Value) -> pa.ChunkedArray:
        """Broadcast a scalar to the frame's length."""
        if isinstance(value, pa.ChunkedArray):
            return value
        if isinstance(value, pa.Array):
            return pa.chunked_array([value])
        return pa.chunked_array([pa.repeat(value, self.length)], type=value.type)


# Literals -----------------------------------------------------------------------------------


def _literal(evaluator: Evaluator, expression: exp.Literal) -> Value:
    text = expression.this
    if expression.is_string:
        return pa.scalar(text, pa.large_string())
    return number_scalar(text)


def number_scalar(text: str) -> pa.Scalar:
    """Type a numeric literal as DuckDB does: integers, exact decimals, or doubles with an exponent."""
    lowered = text.lower()
    if "e" in lowered or lowered in ("inf", "nan", "infinity"):
        return pa.scalar(float(text), pa.float64())
    if "." not in text:
        value = int(text)
        if -(2**63) <= value < 2**63:
            return pa.scalar(value, pa.int64())
        return pa.scalar(decimal.Decimal(text), pa.decimal128(max(len(text.lstrip("-")), 1), 0))
    number = decimal.Decimal(text)
    digits = number.as_tuple()
    scale = max(-digits.exponent, 0)
    precision = max(len(digits.digits), scale, 1)
    if precision > 38:
        return pa.scalar(float(text), pa.float64())
    return pa.scalar(number, pa.decimal128(precision, scale))


def _try(evaluator: Evaluator, expression: exp.Try) -> Value:
    """TRY(x): x, or NULL for each row where computing x fails (DuckDB's TRY)."""
    try:
        return evaluator.evaluate(expression.this)
    except (ExecutionError, pa.ArrowInvalid):
        pass
    results = []
    result_type = pa.null()
    for row in range(evaluator.length):
        single = Evaluator(lambda name, row=row: evaluator.column(name).slice(row, 1), 1, evaluator.dialect)
        try:
            value = single.evaluate(expression.this)
        except (ExecutionError, pa.ArrowInvalid):
            results.append(None)
            continue
        value = value[0] if not isinstance(value, pa.Scalar) else value
        result_type = value.type if pa.types.is_null(result_type) else result_type
        results.append(value.as_py())
    if evaluator.length == 0:
        return pa.scalar(None, pa.null())
    return pa.chunked_array([pa.array(results, type=None if pa.types.is_null(result_type) else result_type)])


def _hex_string(evaluator: Evaluator, expression: exp.HexString) -> Value:
    """X'303132' is a BLOB literal; sqlglot marks hexadecimal integers such as 0x1F as is_integer."""
    if expression.args.get("is_integer"):
        return pa.scalar(int(expression.this, 16), pa.int64())
    return pa.scalar(bytes.fromhex(expression.this), pa.large_binary())


def _null(evaluator: Evaluator, expression: exp.Null) -> Value:
    return pa.scalar(None, pa.null())


def _boolean(evaluator: Evaluator, expression: exp.Boolean) -> Value:
    return pa.scalar(bool(expression.this), pa.bool_())


def _column(evaluator: Evaluator, expression: exp.Column) -> Value:
    return evaluator.column(expression.name)


def _paren(evaluator: Evaluator, expression: exp.Paren) -> Value:
    return evaluator.evaluate(expression.this)


# Types and coercion -------------------------------------------------------------------------


def _is_null_type(value: Value) -> bool:
    return pa.types.is_null(value.type)


def common_type(types: list[pa.DataType]) -> pa.DataType:
    """Return the type that values of `types` are cast to before they are combined."""
    present = [t for t in types if not pa.types.is_null(t)]
    if not present:
        return pa.null()
    result = present[0]
    for other in present[1:]:
        result = _common_pair(result, other)
    return result


def set_operation_type(a: pa.DataType, b: pa.DataType, dialect: str) -> pa.DataType:
    """Return the type of a UNION, INTERSECT or EXCEPT column whose two inputs have types a and b.

    DuckDB 2.0 makes a column VARCHAR when either input is text (`SELECT 1 UNION SELECT 'x'`),
    unlike comparisons, where text converts to the other type; SQLite keeps each value as it
    is, which text shows best. Other dialects use the comparison rule.
    """
    if dialect in ("duckdb", "sqlite") and not (is_bit(a) or is_bit(b)):
        texts = [_is_string(a), _is_string(b)]
        if any(texts) and not all(texts) and not (pa.types.is_null(a) or pa.types.is_null(b)):
            return pa.large_string()
    target = common_type([a, b])
    return pa.int32() if pa.types.is_null(target) else target


def _common_pair(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    if a == b:
        return a
    if is_bit(a) or is_bit(b):
        # Text casts to BIT, as a string literal does in DuckDB. No other type combines with it.
        other = b if is_bit(a) else a
        if _is_string(other):
            return BIT
        raise ExecutionError(
            f"cannot combine a BIT string with a value of type `{other}`; add a CAST"
        )
    if _is_string(a) and _is_string(b):
        return pa.large_string()
    if pa.types.is_floating(a) or pa.types.is_floating(b):
        if _is_numeric(a) and _is_numeric(b):
            return pa.float64()
    if pa.types.is_decimal(a) or pa.types.is_decimal(b):
        if _is_numeric(a) and _is_numeric(b):
            return _common_decimal(a, b)
    if pa.types.is_integer(a) and pa.types.is_integer(b):
        return pa.int64() if not (pa.types.is_uint64(a) or pa.types.is_uint64(b)) else pa.float64()
    if pa.types.is_temporal(a) and pa.types.is_temporal(b):
        if pa.types.is_timestamp(a) and pa.types.is_timestamp(b):
            return pa.timestamp("us", tz=a.tz or b.tz)
        if pa.types.is_timestamp(a) or pa.types.is_timestamp(b):
            stamp = a if pa.types.is_timestamp(a) else b
            return pa.timestamp("us", tz=stamp.tz)
    if _is_string(a) and not _is_string(b):
        return b
    if _is_string(b) and not _is_string(a):
        return a
    if pa.types.is_boolean(a) and _is_numeric(b):
        return b
    if pa.types.is_boolean(b) and _is_numeric(a):
        return a
    raise ExecutionError(f"cannot combine values of types `{a}` and `{b}`; add a CAST")


def _common_decimal(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    def digits(t: pa.DataType) -> tuple[int, int]:
        if pa.types.is_decimal(t):
            return t.precision - t.scale, t.scale
        return 19, 0  # an integer of up to 64 bits

    left_whole, left_scale = digits(a)
    right_whole, right_scale = digits(b)
    scale = max(left_scale, right_scale)
    precision = min(max(left_whole, right_whole) + scale, 38)
    return pa.decimal128(max(precision, scale), scale)


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def cast_value(value: Value, target: pa.DataType, dialect: str = "duckdb", safe: bool = True) -> Value:
    """Cast with SQL rules: numbers round to integers, strings parse, NULL stays NULL."""
    source = value.type
    if source == target:
        return value
    if pa.types.is_null(source):
        return pa.scalar(None, target) if isinstance(value, pa.Scalar) else pa.nulls(len(value), target)
    if is_bit(source) or is_bit(target):
        return bit_strings.cast_bits(value, target)
    if pa.types.is_integer(target) and (pa.types.is_floating(source) or pa.types.is_decimal(source)):
        return _number_to_integer(value, target, dialect)
    if pa.types.is_floating(target) and pa.types.is_decimal128(source):
        return decimal_to_double(value, target)
    if pa.types.is_floating(target) and (pa.types.is_integer(source) or pa.types.is_decimal(source)):
        # Integers above 2**53 lose low digits as DOUBLE, as in every SQL engine.
        return pc.cast(value, target, safe=False)
    if pa.types.is_decimal(target) and pa.types.is_integer(source):
        return _integer_to_decimal(value, target)
    if pa.types.is_decimal(target) and pa.types.is_decimal(source) and target.scale < source.scale:
        # Fewer decimal places round half away from zero, as DuckDB and PostgreSQL do.
        value = pc.round(value, target.scale, round_mode="half_towards_infinity")
    if pa.types.is_boolean(target) and (_is_numeric(source)):
        return pc.not_equal(value, pa.scalar(0, source) if pa.types.is_integer(source) else cast_value(pa.scalar(0), source))
    if _is_string(target) and pa.types.is_floating(source):
        return _float_to_string(value)
    if _is_string(target) and pa.types.is_timestamp(source):
        return _timestamp_to_string(value)
    if pa.types.is_boolean(target) and _is_string(source):
        lowered = pc.utf8_lower(pc.utf8_trim_whitespace(value))
        truthy = pc.is_in(lowered, pa.array(["true", "t", "1", "yes", "y"]))
        falsy = pc.is_in(lowered, pa.array(["false", "f", "0", "no", "n"]))
        bad = pc.and_(pc.invert(pc.or_(truthy, falsy)), pc.is_valid(lowered))
        if pc.any(bad).as_py() and safe:
            raise ExecutionError("cannot cast a string to BOOLEAN; expected true or false")
        return pc.if_else(truthy, True, pc.if_else(falsy, False, pa.scalar(None, pa.bool_())))
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(source) and bool(target.tz) != bool(source.tz):
        if target.tz:
            return pc.assume_timezone(pc.cast(value, pa.timestamp(target.unit)), target.tz)
        return pc.cast(pc.local_timestamp(value), target) if hasattr(pc, "local_timestamp") else pc.cast(value, target)
    if _is_string(source) and (pa.types.is_integer(target) or pa.types.is_floating(target) or pa.types.is_decimal(target)):
        value = pc.utf8_trim_whitespace(value)
    if _is_string(source) and pa.types.is_timestamp(target) and target.tz:
        # Text with a zone offset parses directly; text without one is read in the target zone.
        try:
            return pc.cast(value, target)
        except pa.ArrowInvalid:
            naive = _checked_cast(value, pa.timestamp(target.unit), safe)
            return pc.assume_timezone(naive, target.tz)
    if _is_string(source) and pa.types.is_date32(target) and dialect == "duckdb":
        return _string_to_date(value, target, safe)
    return _checked_cast(value, target, safe)


# A date followed by a valid time of day and an optional zone offset, which DuckDB 2.0 casts to
# DATE by dropping the time: CAST('2022-01-01 10:00:00' AS DATE) is 2022-01-01.
_DATE_WITH_TIME = (
    r"^\d{4}-\d{2}-\d{2}[ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?"
    r"([+-]\d{2}(:?\d{2})?|Z)?$"
)


def _string_to_date(value: Value, target: pa.DataType, safe: bool) -> Value:
    try:
        return _checked_cast(value, target, safe)
    except ExecutionError:
        trimmed = pc.utf8_trim_whitespace(value)
        matched = pc.match_substring_regex(trimmed, _DATE_WITH_TIME)
        if isinstance(matched, pa.Scalar):
            any_with_time = matched.as_py() is True
        else:
            any_with_time = pc.any(matched).as_py() is True
        if not any_with_time:
            raise
    dates = pc.if_else(matched, pc.utf8_slice_codeunits(trimmed, 0, 10), value)
    return _checked_cast(dates, target, safe)


def _number_to_integer(value: Value, target: pa.DataType, dialect: str) -> Value:
    """Round a DOUBLE or DECIMAL to an integer type, raising for NaN, infinity and overflow.

    DOUBLE rounds half to even and DECIMAL half away from zero, as DuckDB and PostgreSQL do;
    SQLite and MySQL truncate instead.
    """
    source = value.type
    if pa.types.is_floating(source):
        finite = pc.is_finite(value)
        if isinstance(value, pa.Scalar):
            bad = value.is_valid and not finite.as_py()
        else:
            bad = pc.any(pc.invert(pc.fill_null(finite, True))).as_py()
        if bad:
            raise ExecutionError(f"cannot cast NaN or infinity to `{target}`")
    if dialect in _TRUNCATING_CAST_DIALECTS:
        rounded = pc.trunc(value if pa.types.is_floating(source) else pc.cast(value, pa.float64()))
    elif pa.types.is_floating(source):
        rounded = pc.round(value, 0, round_mode="half_to_even")
    else:
        rounded = pc.round(value, 0, round_mode="half_towards_infinity")
    info = np.iinfo(target.to_pandas_dtype())
    low = pc.min(rounded).as_py() if not isinstance(rounded, pa.Scalar) else rounded.as_py()
    high = pc.max(rounded).as_py() if not isinstance(rounded, pa.Scalar) else rounded.as_py()
    if (low is not None and low < info.min) or (high is not None and high > info.max):
        raise ExecutionError(f"value out of range for `{target}` in a CAST")
    if pa.types.is_decimal(rounded.type):
        rounded = pc.cast(rounded, pa.decimal128(38, 0))
    return pc.cast(rounded, target, safe=False)


def _integer_to_decimal(value: Value, target: pa.DataType) -> Value:
    # Arrow casts int64 only to decimals with room for every int64; go through DECIMAL(38, s)
    # and check that the values fit the requested precision.
    wide = pc.cast(value, pa.decimal128(38, target.scale))
    return _checked_cast(wide, target, safe=True)


def _timestamp_to_string(value: Value) -> Value:
    """Format like DuckDB: no fraction when it is zero, and a `+00` offset for UTC values."""
    def text(stamp: Any) -> str:
        formatted = stamp.strftime("%Y-%m-%d %H:%M:%S")
        if stamp.microsecond:
            formatted += f".{stamp.microsecond:06d}".rstrip("0")
        if stamp.tzinfo is not None:
            offset = stamp.utcoffset() or dt.timedelta(0)
            hours, remainder = divmod(int(offset.total_seconds()), 3600)
            formatted += f"{'+' if hours >= 0 else '-'}{abs(hours):02d}"
            if remainder:
                formatted += f":{abs(remainder) // 60:02d}"
        return formatted

    if isinstance(value, pa.Scalar):
        item = value.as_py()
        return pa.scalar(None if item is None else text(item), pa.large_string())
    items = [None if item is None else text(item) for item in value.to_pylist()]
    return pa.chunked_array([pa.array(items, pa.large_string())])


def _float_to_string(value: Value) -> Value:
    # Arrow prints 1.0 as "1"; SQL engines print the fractional part, as DuckDB does ("1.0").
    text = pc.cast(value, pa.large_string())
    needs_point = pc.and_(
        pc.invert(pc.match_substring_regex(text, r"[.eE]|inf|nan|Inf|NaN")), pc.is_valid(text)
    )
    suffix = pa.scalar(".0", pa.large_string())
    joined = pc.binary_join_element_wise(text, suffix, pa.scalar("", pa.large_string()))
    return pc.if_else(needs_point, joined, text)


def _checked_cast(value: Value, target: pa.DataType, safe: bool) -> Value:
    try:
        return pc.cast(value, target, safe=safe)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ExecutionError(f"cannot cast `{value.type}` to `{target}`: {error}") from None


def coerce_pair(left: Value, right: Value) -> tuple[Value, Value]:
    """Cast two operands to one type, as SQL engines do before comparing them."""
    if left.type == right.type:
        return left, right
    if _is_null_type(left) or _is_null_type(right):
        return left, right
    target = common_type([left.type, right.type])
    return cast_value(left, target), cast_value(right, target)


# Arithmetic ---------------------------------------------------------------------------------


def _binary_operands(evaluator: Evaluator, expression: exp.Binary) -> tuple[Value, Value]:
    return evaluator.evaluate(expression.this), evaluator.evaluate(expression.expression)


def _arithmetic(function: str) -> Kernel:
    def kernel(evaluator: Evaluator, expression: exp.Binary) -> Value:
        value = _arithmetic_operand(evaluator, expression)
        return value.to_decimal() if isinstance(value, DecimalUnits) else value

    return kernel


_ARITHMETIC_FUNCTIONS: dict[type[exp.Expression], str] = {
    exp.Add: "add_checked",
    exp.Sub: "subtract_checked",
    exp.Mul: "multiply_checked",
}

# Expression classes whose value depends only on the row's columns, so that equal SQL text
# gives equal values within one evaluator.
_DETERMINISTIC = (exp.Column, exp.Literal, exp.Paren, exp.Add, exp.Sub, exp.Mul)


def _arithmetic_operand(evaluator: Evaluator, expression: exp.Expression) -> Value | DecimalUnits:
    """Evaluate an operand of `+ - *`, leaving a decimal result of `+ - *` on int64."""
    inner = expression
    while isinstance(inner, exp.Paren):
        inner = inner.this
    function = _ARITHMETIC_FUNCTIONS.get(type(inner))
    if function is None:
        return evaluator.evaluate(expression)
    if not all(isinstance(node, _DETERMINISTIC) for node in inner.walk()):
        return _arithmetic_value(evaluator, inner, function)
    key = inner.sql()
    remembered = evaluator.decimal_units.get(key)
    if remembered is not None:
        return remembered
    value = _arithmetic_value(evaluator, inner, function)
    if isinstance(value, DecimalUnits):
        evaluator.decimal_units[key] = value
    return value


def _arithmetic_value(evaluator: Evaluator, expression: exp.Binary, function: str) -> Value | DecimalUnits:
    left = _arithmetic_operand(evaluator, expression.this)
    right = _arithmetic_operand(evaluator, expression.expression)
    fast = _fast_decimal(function, left, right)
    if fast is not None:
        return fast
    left = left.to_decimal() if isinstance(left, DecimalUnits) else left
    right = right.to_decimal() if isinstance(right, DecimalUnits) else right
    if _is_null_type(left) or _is_null_type(right):
        return pa.scalar(None, common_type([left.type, right.type]) if not (_is_null_type(left) and _is_null_type(right)) else pa.null())
    temporal = _temporal_arithmetic(function, left, right)
    if temporal is not None:
        return temporal
    if _is_string(left.type) or _is_string(right.type):
        raise ExecutionError(
            f"cannot apply `{expression.key.upper()}` to a string in `{expression.sql()}`; add a CAST"
        )
    if is_bit(left.type) or is_bit(right.type):
        raise ExecutionError(
            f"cannot apply `{expression.key.upper()}` to a BIT string in `{expression.sql()}`"
        )
    left, right = _arithmetic_operands(function, left, right)
    try:
        return getattr(pc, function)(left, right)
    except pa.ArrowInvalid as error:
        raise ExecutionError(f"`{expression.sql()}` failed: {error}") from None


def _fast_decimal(function: str, left: Value | DecimalUnits, right: Value | DecimalUnits) -> DecimalUnits | None:
    """Run decimal `+ - *` on int64 when the values fit; None means use decimal128 kernels."""
    types = (left.type, right.type)
    if not any(pa.types.is_decimal128(t) for t in types):
        return None
    if not all(pa.types.is_decimal128(t) or pa.types.is_integer(t) for t in types):
        return None
    digits = [(t.precision, t.scale) if pa.types.is_decimal(t) else (19, 0) for t in types]
    if function == "multiply_checked":
        result = pa.decimal128(min(digits[0][0] + digits[1][0], 38), digits[0][1] + digits[1][1])
    else:
        common = _common_decimal(*types)
        result = pa.decimal128(min(common.precision + 1, 38), common.scale)
    return fast_decimal_arithmetic(function, left, right, result)


def _arithmetic_operands(function: str, left: Value, right: Value) -> tuple[Value, Value]:
    if pa.types.is_decimal(left.type) or pa.types.is_decimal(right.type):
        if pa.types.is_floating(left.type) or pa.types.is_floating(right.type):
            return cast_value(left, pa.float64()), cast_value(right, pa.float64())
        left = _as_decimal(left)
        right = _as_decimal(right)
        if function == "multiply_checked":
            return _fit_product(left, right)
        # Arrow gives a sum one more digit than its inputs and fails above 38, so inputs are
        # cast to at most 37 digits. The cast is checked, so a value that does not fit raises.
        target = _common_decimal(left.type, right.type)
        target = pa.decimal128(max(min(target.precision, 37), target.scale), target.scale)
        return cast_value(left, target), cast_value(right, target)
    if left.type != right.type:
        target = common_type([left.type, right.type])
        return cast_value(left, target), cast_value(right, target)
    return left, right


def _as_decimal(value: Value) -> Value:
    if pa.types.is_decimal(value.type):
        return value
    if pa.types.is_integer(value.type):
        return pc.cast(value, pa.decimal128(19, 0))
    return value


def _fit_product(left: Value, right: Value) -> tuple[Value, Value]:
    # Arrow gives a product the precision p1 + p2 + 1 and fails above 38 digits. Narrow each
    # side to the digits it needs (at most 38 in all), as DuckDB caps product precision.
    budget = 37
    left_type, right_type = left.type, right.type
    while left_type.precision + right_type.precision > budget:
        if left_type.precision - left_type.scale >= right_type.precision - right_type.scale and left_type.precision > left_type.scale + 1:
            left_type = pa.decimal128(left_type.precision - 1, left_type.scale)
        elif right_type.precision > right_type.scale + 1:
            right_type = pa.decimal128(right_type.precision - 1, right_type.scale)
        else:
            return cast_value(left, pa.float64()), cast_value(right, pa.float64())
    return _checked_cast(left, left_type, True), _checked_cast(right, right_type, True)


def _temporal_arithmetic(function: str, left: Value, right: Value) -> Value | None:
    if not (pa.types.is_temporal(left.type) or pa.types.is_temporal(right.type) or pa.types.is_interval(left.type) or pa.types.is_interval(right.type)):
        return None
    if function == "subtract_checked" and pa.types.is_date(left.type) and pa.types.is_date(right.type):
        days = pc.divide(pc.cast(pc.subtract(pc.cast(left, pa.timestamp("s")), pc.cast(right, pa.timestamp("s"))), pa.int64()), 86400)
        return days
    if isinstance(right, pa.Scalar) and pa.types.is_interval(right.type) and function in ("add_checked", "subtract_checked"):
        return _add_interval(left, right.as_py(), function == "subtract_checked")
    if function == "subtract_checked" and _is_timepoint(left.type) and _is_timepoint(right.type):
        return pc.subtract(cast_value(left, pa.timestamp("us", getattr(left.type, "tz", None))), cast_value(right, pa.timestamp("us", getattr(right.type, "tz", None))))
    if function in ("add_checked", "subtract_checked"):
        date_value, other = (left, right) if pa.types.is_temporal(left.type) else (right, left)
        if pa.types.is_date(date_value.type) and pa.types.is_integer(other.type):
            days = pc.cast(other, pa.int64())
            if function == "subtract_checked":
                days = pc.negate(days)
            stamp = pc.cast(date_value, pa.timestamp("s"))
            shifted = pc.add(stamp, pc.cast(pc.multiply(days, 86400), pa.duration("s")))
            return pc.cast(shifted, pa.date32())
        if isinstance(other, pa.Scalar) and pa.types.is_interval(other.type):
            return _add_interval(date_value, other.as_py(), function == "subtract_checked")
        if pa.types.is_duration(other.type):
            stamp = cast_value(date_value, pa.timestamp("us", getattr(date_value.type, "tz", None)))
            return pc.subtract(stamp, other) if function == "subtract_checked" else pc.add(stamp, other)
    raise UnsupportedError(f"arithmetic between `{left.type}` and `{right.type}` is not supported")


def _is_timepoint(value_type: pa.DataType) -> bool:
    return pa.types.is_date(value_type) or pa.types.is_timestamp(value_type)


def _add_interval(value: Value, interval: Any, negate: bool) -> Value:
    """Add an interval; a DATE plus an INTERVAL is a TIMESTAMP, as in DuckDB and PostgreSQL."""
    months, days, nanoseconds = interval.months, interval.days, interval.nanoseconds
    if negate:
        months, days, nanoseconds = -months, -days, -nanoseconds
    tz = getattr(value.type, "tz", None)
    result = cast_value(value, pa.timestamp("us", tz)) if not pa.types.is_timestamp(value.type) else value
    if months:
        result = _add_months(result, months)
    if days or nanoseconds:
        shift = pa.scalar(dt.timedelta(days=days, microseconds=nanoseconds // 1000), pa.duration("us"))
        result = pc.add(cast_value(result, pa.timestamp("us", tz)), shift)
    return result


def _add_months(value: Value, months: int) -> Value:
    # Calendar months: clamp the day to the end of the target month (Jan 31 + 1 month = Feb 28/29).
    def shift(item: Any) -> Any:
        if item is None:
            return None
        total = item.year * 12 + (item.month - 1) + months
        year, month = divmod(total, 12)
        month += 1
        day = min(item.day, _days_in_month(year, month))
        return item.replace(year=year, month=month, day=day)

    if isinstance(value, pa.Scalar):
        return pa.scalar(shift(value.as_py()), value.type)
    return pa.chunked_array([pa.array([shift(v) for v in value.to_pylist()], type=value.type)])


def _days_in_month(year: int, month: int) -> int:
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def _divide(evaluator: Evaluator, expression: exp.Div) -> Value:
    left, right = _binary_operands(evaluator, expression)
    if _is_null_type(left) or _is_null_type(right):
        return pa.scalar(None, pa.float64())
    integer = pa.types.is_integer(left.type) and pa.types.is_integer(right.type)
    if integer and expression.args.get("typed"):
        return _integer_divide(evaluator, expression, left, right)
    left = cast_value(left, pa.float64()) if not pa.types.is_floating(left.type) else left
    right = cast_value(right, pa.float64()) if not pa.types.is_floating(right.type) else right
    if evaluator.dialect != "duckdb" or expression.args.get("safe"):
        # DuckDB 2.0's `/` is DOUBLE division with IEEE results (1 / 0 is inf, 0 / 0 NaN);
        # elsewhere a zero divisor gives NULL or an error, as `_guard_zero` decides.
        right = _guard_zero(evaluator, expression, right)
    return pc.divide(cast_value(left, pa.float64()), cast_value(right, pa.float64()))


def _guard_zero(evaluator: Evaluator, expression: exp.Expression, divisor: Value) -> Value:
    """Replace zero divisors by NULL where the dialect allows it, else raise."""
    zero = pc.equal(divisor, pa.scalar(0, divisor.type) if not pa.types.is_decimal(divisor.type) else pa.scalar(decimal.Decimal(0), divisor.type))
    has_zero = zero.as_py() if isinstance(zero, pa.Scalar) else pc.any(zero).as_py()
    if not has_zero:
        return divisor
    # sqlglot marks `/` with safe=True where x / 0 is NULL; SQLite and MySQL also return NULL
    # for `%` and integer division by zero.
    if expression.args.get("safe") or evaluator.dialect in _TRUNCATING_CAST_DIALECTS:
        return pc.if_else(zero, pa.scalar(None, divisor.type), divisor)
    raise ExecutionError(f"division by zero in `{expression.sql()}`")


def _integer_divide(evaluator: Evaluator, expression: exp.Expression, left: Value, right: Value) -> Value:
    left, right = _arithmetic_operands("divide_checked", left, right)
    right = _guard_zero(evaluator, expression, right)
    if pa.types.is_integer(left.type):
        return pc.divide_checked(left, right)
    quotient = pc.divide(cast_value(left, pa.float64()), cast_value(right, pa.float64()))
    return pc.cast(pc.trunc(quotient), pa.int64())


def _int_divide(evaluator: Evaluator, expression: exp.IntDiv) -> Value:
    left, right = _binary_operands(evaluator, expression)
    if _is_null_type(left) or _is_null_type(right):
        return pa.scalar(None, pa.int64())
    if not (pa.types.is_integer(left.type) and pa.types.is_integer(right.type)):
        # DuckDB's `//` divides exactly unless both operands are integers: 7.5 // 2 = 3.75.
        right = _guard_zero(evaluator, expression, cast_value(right, pa.float64()))
        return pc.divide(cast_value(left, pa.float64()), right)
    return _integer_divide(evaluator, expression, left, right)


def _modulo(evaluator: Evaluator, expression: exp.Mod) -> Value:
    left, right = _binary_operands(evaluator, expression)
    if _is_null_type(left) or _is_null_type(right):
        return pa.scalar(None, pa.int64())
    left, right = _arithmetic_operands("subtract_checked", left, right)
    right = _guard_zero(evaluator, expression, right)
    # SQL's remainder takes the sign of the dividend (-7 % 2 = -1); Arrow's `modulo` floors.
    if pa.types.is_integer(left.type):
        return pc.subtract(left, pc.multiply(pc.divide(left, right), right))
    as_float = pa.types.is_floating(left.type)
    left_f, right_f = cast_value(left, pa.float64()), cast_value(right, pa.float64())
    result = pc.subtract(left_f, pc.multiply(pc.trunc(pc.divide(left_f, right_f)), right_f))
    return result if as_float else cast_value(result, left.type)


def _negate(evaluator: Evaluator, expression: exp.Neg) -> Value:
    value = evaluator.evaluate(expression.this)
    if _is_null_type(value):
        return value
    if is_bit(value.type):
        raise ExecutionError(f"cannot negate a BIT string in `{expression.sql()}`")
    return pc.negate_checked(value)


# Comparisons and logic ----------------------------------------------------------------------


def _comparison(function: str) -> Kernel:
    def kernel(evaluator: Evaluator, expression: exp.Binary) -> Value:
        left, right = _binary_operands(evaluator, expression)
        if _is_null_type(left) or _is_null_type(right):
            return pa.scalar(None, pa.bool_())
        left, right = coerce_pair(left, right)
        if pa.types.is_floating(left.type):
            return compare_floats(function, left, right)
        return getattr(pc, function)(left, right)

    return kernel


def compare_floats(function: str, left: Value, right: Value) -> Value:
    """Compare DOUBLEs as DuckDB and PostgreSQL do: NaN equals NaN and is above every number."""
    left_nan = pc.is_nan(left)
    right_nan = pc.is_nan(right)
    if not _may_hold_nan(left_nan) and not _may_hold_nan(right_nan):
        return getattr(pc, function)(left, right)
    both = pc.and_(left_nan, right_nan)
    either = pc.or_(left_nan, right_nan)
    plain = getattr(pc, function)(left, right)
    if function == "equal":
        nan_result = both
    elif function == "not_equal":
        nan_result = pc.invert(both)
    elif function in ("greater", "greater_equal"):
        nan_result = pc.and_(left_nan, pc.invert(right_nan)) if function == "greater" else left_nan
    else:
        nan_result = pc.and_(right_nan, pc.invert(left_nan)) if function == "less" else right_nan
    return pc.if_else(either, nan_result, plain)


def _may_hold_nan(flags: Value) -> bool:
    if isinstance(flags, pa.Scalar):
        return bool(flags.as_py())
    return bool(pc.any(flags).as_py())


def _null_safe_equal(evaluator: Evaluator, expression: exp.Binary) -> Value:
    left, right = _binary_operands(evaluator, expression)
    if _is_null_type(left) and _is_null_type(right):
        return pa.scalar(True)
    if _is_null_type(left):
        return pc.is_null(right)
    if _is_null_type(right):
        return pc.is_null(left)
    left, right = coerce_pair(left, right)
    equal = compare_floats("equal", left, right) if pa.types.is_floating(left.type) else pc.equal(left, right)
    both_null = pc.and_(pc.is_null(left), pc.is_null(right))
    return pc.or_(pc.fill_null(equal, False), both_null)


def _null_safe_not_equal(evaluator: Evaluator, expression: exp.Binary) -> Value:
    return pc.invert(_null_safe_equal(evaluator, expression))


def _as_boolean(value: Value) -> Value:
    if pa.types.is_boolean(value.type):
        return value
    if _is_null_type(value):
        return pa.scalar(None, pa.bool_())
    if _is_numeric(value.type):
        return pc.not_equal(value, pa.scalar(0, value.type) if pa.types.is_integer(value.type) else cast_value(pa.scalar(0), value.type))
    raise ExecutionError(f"expected a boolean condition but got `{value.type}`")


def _and(evaluator: Evaluator, expression: exp.And) -> Value:
    left, right = _binary_operands(evaluator, expression)
    return pc.and_kleene(_as_boolean(left), _as_boolean(right))


def _or(evaluator: Evaluator, expression: exp.Or) -> Value:
    left, right = _binary_operands(evaluator, expression)
    return pc.or_kleene(_as_boolean(left), _as_boolean(right))


def _not(evaluator: Evaluator, expression: exp.Not) -> Value:
    return pc.invert(_as_boolean(evaluator.evaluate(expression.this)))


def _is(evaluator: Evaluator, expression: exp.Is) -> Value:
    return _negate_if(expression, _is_value(evaluator, expression))


def _is_value(evaluator: Evaluator, expression: exp.Is) -> Value:
    value = evaluator.evaluate(expression.this)
    target = expression.expression
    if isinstance(target, exp.Null):
        return pc.is_null(value) if not _is_null_type(value) else pa.scalar(True)
    if isinstance(target, exp.Boolean):
        if _is_null_type(value):
            return pa.scalar(False)
        flag = _as_boolean(value)
        return pc.fill_null(pc.equal(flag, pa.scalar(bool(target.this))), False)
    raise UnsupportedError(f"`IS {target.sql()}` is not supported")


def _in(evaluator: Evaluator, expression: exp.In) -> Value:
    if expression.args.get("query") or expression.args.get("unnest") or expression.args.get("field"):
        raise UnsupportedError(f"`{expression.sql()[:80]}` is not supported")
    value = evaluator.evaluate(expression.this)
    items = [evaluator.evaluate(item) for item in expression.expressions]
    if not items:
        return _in_scalars(evaluator.array(value) if not isinstance(value, pa.Scalar) else value, [])
    if _is_null_type(value):
        return pa.scalar(None, pa.bool_())
    if all(isinstance(item, pa.Scalar) for item in items):
        return _in_scalars(value, items)
    result: Value = pa.scalar(False)
    for item in items:
        left, right = coerce_pair(value, item)
        result = pc.or_kleene(result, pc.equal(left, right) if not _is_null_type(right) else pa.scalar(None, pa.bool_()))
    return result


def _in_scalars(value: Value, items: list[pa.Scalar]) -> Value:
    if not items:
        # An empty list (SQLite allows `x IN ()`) contains nothing, so the result is FALSE
        # even for a NULL probe.
        if isinstance(value, pa.Scalar):
            return pa.scalar(False)
        return pa.chunked_array([pa.repeat(pa.scalar(False), len(value))])
    has_null = any(not item.is_valid for item in items)
    present = [item for item in items if item.is_valid]
    if not present:
        # Only NULLs in the list: the result is NULL for every probe.
        if isinstance(value, pa.Scalar):
            return pa.scalar(None, pa.bool_())
        return pa.chunked_array([pa.nulls(len(value), pa.bool_())])
    target = common_type([value.type] + [item.type for item in present])
    value = cast_value(value, target)
    options = pa.array([cast_value(item, target).as_py() for item in present], type=target)
    found = pc.is_in(value, value_set=options, skip_nulls=True)
    # SQL: a NULL probe gives NULL; no match against a list containing NULL gives NULL.
    unknown = pc.is_null(value)
    if has_null:
        unknown = pc.or_(unknown, pc.invert(found))
    return pc.if_else(unknown, pa.scalar(None, pa.bool_()), found)


def _between(evaluator: Evaluator, expression: exp.Between) -> Value:
    value = evaluator.evaluate(expression.this)
    low = evaluator.evaluate(expression.args["low"])
    high = evaluator.evaluate(expression.args["high"])
    if any(_is_null_type(v) for v in (value, low, high)):
        if _is_null_type(value):
            return pa.scalar(None, pa.bool_())
    lower = pc.greater_equal(*coerce_pair(value, low)) if not _is_null_type(low) else pa.scalar(None, pa.bool_())
    upper = pc.less_equal(*coerce_pair(value, high)) if not _is_null_type(high) else pa.scalar(None, pa.bool_())
    return pc.and_kleene(lower, upper)


def like_to_regex(pattern: str, escape: str | None) -> str:
    """Translate a LIKE pattern into an anchored RE2 regular expression."""
    parts = ["(?s)^"]
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if escape and char == escape:
            index += 1
            if index >= len(pattern):
                raise ExecutionError(f"LIKE pattern `{pattern}` ends with the escape character")
            parts.append(re.escape(pattern[index]))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
        index += 1
    parts.append("$")
    return "".join(parts)


def _like(evaluator: Evaluator, expression: exp.Expression, escape: str | None = None) -> Value:
    value = evaluator.evaluate(expression.this)
    pattern = evaluator.evaluate(expression.expression)
    if _is_null_type(value) or _is_null_type(pattern):
        return pa.scalar(None, pa.bool_())
    if not isinstance(pattern, pa.Scalar):
        raise UnsupportedError(f"LIKE needs a constant pattern in `{expression.sql()}`")
    if not pattern.is_valid:
        return pa.scalar(None, pa.bool_())
    ignore_case = isinstance(expression, exp.ILike)
    if not isinstance(value, pa.Scalar) and escape is None:
        matched = _like_without_regex(value, pattern.as_py(), ignore_case)
        if matched is not None:
            return matched
    regex = like_to_regex(pattern.as_py(), escape)
    if isinstance(value, pa.Scalar):
        if not value.is_valid:
            return pa.scalar(None, pa.bool_())
        flags = re.IGNORECASE if ignore_case else 0
        return pa.scalar(re.search(regex, value.as_py(), flags) is not None)
    return pc.match_substring_regex(value, regex, ignore_case=ignore_case)


def _like_without_regex(value: pa.ChunkedArray, pattern: str, ignore_case: bool) -> Value | None:
    """Match the common LIKE shapes with Arrow's substring kernels, or return None.

    `abc%`, `%abc`, `%abc%` and `a%b` need no regular expression, and a pattern with `%` at
    either end needs no anchor there: an anchored `^.*` makes RE2 scan each string from every
    position (TPC-H q13's `NOT LIKE '%special%requests%'` spent half its time there).
    """
    if "_" in pattern or "%" not in pattern:
        return None
    segments = pattern.split("%")
    head, tail, middle = segments[0], segments[-1], [s for s in segments[1:-1] if s]
    if not middle:
        if head and tail:
            both = pc.and_kleene(
                pc.starts_with(value, head, ignore_case=ignore_case),
                pc.ends_with(value, tail, ignore_case=ignore_case),
            )
            long_enough = pc.greater_equal(pc.utf8_length(value), len(head) + len(tail))
            return pc.and_kleene(both, long_enough)
        if head:
            return pc.starts_with(value, head, ignore_case=ignore_case)
        if tail:
            return pc.ends_with(value, tail, ignore_case=ignore_case)
        # `%` alone matches every string, and NULL stays NULL.
        return pc.if_else(pc.is_valid(value), pa.scalar(True), pa.scalar(None, pa.bool_()))
    if not head and not tail and len(middle) == 1:
        return pc.match_substring(value, middle[0], ignore_case=ignore_case)
    if head or tail:
        return None
    regex = "(?s)" + ".*".join(re.escape(segment) for segment in middle)
    return pc.match_substring_regex(value, regex, ignore_case=ignore_case)


def _like_kernel(evaluator: Evaluator, expression: exp.Expression) -> Value:
    return _negate_if(expression, _like(evaluator, expression))


def _negate_if(expression: exp.Expression, value: Value) -> Value:
    """Apply the NOT of `x NOT LIKE y` and `x IS NOT y`, which sqlglot stores as `negate=True`."""
    return pc.invert(value) if expression.args.get("negate") else value


def _escape(evaluator: Evaluator, expression: exp.Escape) -> Value:
    inner = expression.this
    escape = evaluator.evaluate(expression.expression)
    if not isinstance(inner, (exp.Like, exp.ILike)) or not isinstance(escape, pa.Scalar):
        raise UnsupportedError(f"`{expression.sql()}` is not supported")
    character = escape.as_py()
    if character is None:
        # LIKE ... ESCAPE NULL is NULL, as any comparison with NULL.
        return pa.scalar(None, pa.bool_())
    if len(character) != 1:
        raise ExecutionError(f"the ESCAPE string must be one character, not `{character}`")
    return _negate_if(inner, _like(evaluator, inner, character))


# Conditionals -------------------------------------------------------------------------------


def _choose(condition: Value, when_true: Value, when_false: Value) -> Value:
    target = common_type([when_true.type, when_false.type])
    if pa.types.is_null(target):
        return when_true
    when_true = cast_value(when_true, target)
    when_false = cast_value(when_false, target)
    return pc.if_else(pc.fill_null(_as_boolean(condition), False), when_true, when_false)


def _case(evaluator: Evaluator, expression: exp.Case) -> Value:
    operand = evaluator.evaluate(expression.this) if expression.this is not None else None
    branches = []
    for branch in expression.args.get("ifs") or []:
        condition = evaluator.evaluate(branch.this)
        if operand is not None:
            if _is_null_type(operand) or _is_null_type(condition):
                condition = pa.scalar(None, pa.bool_())
            else:
                condition = pc.equal(*coerce_pair(operand, condition))
        branches.append((condition, evaluator.evaluate(branch.args["true"])))
    default = expression.args.get("default")
    result = evaluator.evaluate(default) if default is not None else pa.scalar(None, pa.null())
    target = common_type([value.type for _, value in branches] + [result.type])
    if pa.types.is_null(target):
        return result
    result = cast_value(result, target)
    for condition, value in reversed(branches):
        result = pc.if_else(pc.fill_null(_as_boolean(condition), False), cast_value(value, target), result)
    return result


def _if(evaluator: Evaluator, expression: exp.If) -> Value:
    condition = evaluator.evaluate(expression.this)
    when_true = evaluator.evaluate(expression.args["true"])
    false_branch = expression.args.get("false")
    when_false = evaluator.evaluate(false_branch) if false_branch is not None else pa.scalar(None, pa.null())
    return _choose(condition, when_true, when_false)


def _coalesce(evaluator: Evaluator, expression: exp.Coalesce) -> Value:
    values = [evaluator.evaluate(expression.this)] + [evaluator.evaluate(e) for e in expression.expressions]
    target = common_type([value.type for value in values])
    if pa.types.is_null(target):
        return values[0]
    values = [cast_value(value, target) for value in values if not _is_null_type(value)]
    if all(isinstance(value, pa.Scalar) for value in values):
        return next((value for value in values if value.is_valid), pa.scalar(None, target))
    return pc.coalesce(*[evaluator.array(value) if isinstance(value, pa.Scalar) else value for value in values])


def _nullif(evaluator: Evaluator, expression: exp.Nullif) -> Value:
    value = evaluator.evaluate(expression.this)
    other = evaluator.evaluate(expression.expression)
    if _is_null_type(value) or _is_null_type(other):
        return value
    left, right = coerce_pair(value, other)
    equal = pc.fill_null(pc.equal(left, right), False)
    return pc.if_else(equal, pa.scalar(None, value.type), value)


def _cast(evaluator: Evaluator, expression: exp.Cast) -> Value:
    value = evaluator.evaluate(expression.this)
    target = arrow_type(expression.args["to"], evaluator.dialect)
    if is_bit(target) and pa.types.is_int64(value.type):
        # A BIT string is as wide as the integer type, so the type must be DuckDB's.
        typed = duckdb_integer(expression.this, value)
        if typed is None:
            raise UnsupportedError(
                f"CAST of the BIGINT value `{expression.this.sql()[:80]}` to BIT is not supported, "
                "because gsql types some INTEGER expressions as BIGINT; cast it to INTEGER or "
                "BIGINT first"
            )
        value = typed
    if isinstance(expression, exp.TryCast) or expression.args.get("safe"):
        return _try_cast(value, target, evaluator.dialect)
    return cast_value(value, target, evaluator.dialect)


def duckdb_integer(operand: exp.Expression, value: Value) -> Value | None:
    """Return a BIGINT `value` with DuckDB's integer type for `operand`, or None when unknown.

    gsql computes as BIGINT some values that DuckDB types as INTEGER, and the width matters to
    BIT strings. An integer literal is INTEGER in DuckDB when it fits, so it is narrowed here,
    and an explicit `CAST(... AS BIGINT)` is BIGINT. Any other BIGINT value gives None.
    """
    # A sign keeps the type of an integer.
    while isinstance(operand, (exp.Paren, exp.Neg)):
        operand = operand.this
    if isinstance(operand, exp.Literal) and not operand.is_string:
        number = value.as_py() if isinstance(value, pa.Scalar) else None
        if number is not None and -(2**31) <= number < 2**31:
            return pa.scalar(number, pa.int32())
        return value
    if isinstance(operand, exp.Cast) and arrow_type(operand.args["to"]) == pa.int64():
        return value
    return None


def _try_cast(value: Value, target: pa.DataType, dialect: str) -> Value:
    try:
        return cast_value(value, target, dialect)
    except ExecutionError:
        pass
    if isinstance(value, pa.Scalar):
        return pa.scalar(None, target)
    results = []
    for item in value.to_pylist():
        try:
            results.append(cast_value(pa.scalar(item, value.type), target, dialect).as_py())
        except ExecutionError:
            results.append(None)
    return pa.chunked_array([pa.array(results, type=target)])


# Strings ------------------------------------------------------------------------------------


def _string_operand(evaluator: Evaluator, expression: exp.Expression) -> Value:
    value = evaluator.evaluate(expression)
    if _is_null_type(value):
        return pa.scalar(None, pa.large_string())
    if not _is_string(value.type):
        return cast_value(value, pa.large_string(), evaluator.dialect)
    return value


def _unary_string(function: str) -> Kernel:
    def kernel(evaluator: Evaluator, expression: exp.Func) -> Value:
        return getattr(pc, function)(_string_operand(evaluator, expression.this))

    return kernel


def _length(evaluator: Evaluator, expression: exp.Length) -> Value:
    value = _string_operand(evaluator, expression.this)
    return pc.cast(pc.utf8_length(value), pa.int64())


def _constant_int(evaluator: Evaluator, expression: exp.Expression | None, what: str) -> int | None:
    if expression is None:
        return None
    value = evaluator.evaluate(expression)
    if not isinstance(value, pa.Scalar):
        raise UnsupportedError(f"{what} must be a constant in `{expression.parent.sql()[:80]}`")
    return None if not value.is_valid else int(value.as_py())


def _substring(evaluator: Evaluator, expression: exp.Substring) -> Value:
    value = _string_operand(evaluator, expression.this)
    start = _constant_int(evaluator, expression.args.get("start"), "the SUBSTRING start")
    length = _constant_int(evaluator, expression.args.get("length"), "the SUBSTRING length")
    if start is None and expression.args.get("start") is not None:
        return pa.scalar(None, pa.large_string())
    start = 1 if start is None else start
    if length is not None and length < 0:
        raise ExecutionError(f"negative SUBSTRING length {length}")
    if start > 0:
        begin, stop = start - 1, None if length is None else start - 1 + length
    elif start == 0:
        begin, stop = 0, None if length is None else max(length - 1, 0)
    else:
        begin = start
        stop = None if length is None or start + length >= 0 else start + length
    return pc.utf8_slice_codeunits(value, begin, stop if stop is not None else 2**31 - 1)


def _trim(evaluator: Evaluator, expression: exp.Trim) -> Value:
    value = _string_operand(evaluator, expression.this)
    position = (expression.args.get("position") or "BOTH").upper()
    characters = expression.args.get("expression")
    if characters is not None:
        chars = evaluator.evaluate(characters)
        if not isinstance(chars, pa.Scalar):
            raise UnsupportedError("TRIM characters must be a constant")
        function = {"LEADING": pc.utf8_ltrim, "TRAILING": pc.utf8_rtrim}.get(position, pc.utf8_trim)
        return function(value, characters=chars.as_py())
    function = {"LEADING": pc.utf8_ltrim_whitespace, "TRAILING": pc.utf8_rtrim_whitespace}.get(position, pc.utf8_trim_whitespace)
    return function(value)


def _or_empty(value: Value, empty: pa.Scalar) -> Value:
    if isinstance(value, pa.Scalar):
        return value if value.is_valid else empty
    return pc.coalesce(value, empty)


def _concat(evaluator: Evaluator, expression: exp.Expression, parts: list[exp.Expression], skip_nulls: bool) -> Value:
    values = [_string_operand(evaluator, part) for part in parts]
    if skip_nulls:
        empty = pa.scalar("", pa.large_string())
        values = [_or_empty(value, empty) for value in values]
    if all(isinstance(value, pa.Scalar) for value in values):
        if any(not value.is_valid for value in values):
            return pa.scalar(None, pa.large_string())
        return pa.scalar("".join(value.as_py() for value in values), pa.large_string())
    arrays = [evaluator.array(value) for value in values]
    return pc.binary_join_element_wise(*arrays, pa.scalar("", pa.large_string()))


def _concat_function(evaluator: Evaluator, expression: exp.Concat) -> Value:
    # CONCAT skips NULL arguments in DuckDB, PostgreSQL and Snowflake; sqlglot marks the dialects
    # where any NULL makes the result NULL (MySQL) with coalesce=False.
    skip_nulls = expression.args.get("coalesce", evaluator.dialect not in ("mysql",)) is not False
    return _concat(evaluator, expression, list(expression.expressions), skip_nulls)


def _pipes(evaluator: Evaluator, expression: exp.DPipe) -> Value:
    # `||` gives NULL when either side is NULL in standard SQL (DuckDB, PostgreSQL, SQLite);
    # Oracle alone treats NULL as an empty string there.
    skip_nulls = evaluator.dialect == "oracle"
    return _concat(evaluator, expression, [expression.this, expression.expression], skip_nulls)


def _replace(evaluator: Evaluator, expression: exp.Replace) -> Value:
    value = _string_operand(evaluator, expression.this)
    search = evaluator.evaluate(expression.expression)
    replacement = evaluator.evaluate(expression.args["replacement"])
    if not isinstance(search, pa.Scalar) or not isinstance(replacement, pa.Scalar):
        raise UnsupportedError("REPLACE needs constant search and replacement strings")
    if not search.is_valid or not replacement.is_valid:
        return pa.scalar(None, pa.large_string())
    if search.as_py() == "":
        return value
    return pc.replace_substring(value, search.as_py(), replacement.as_py())


# Math ---------------------------------------------------------------------------------------


def _abs(evaluator: Evaluator, expression: exp.Abs) -> Value:
    value = evaluator.evaluate(expression.this)
    return value if _is_null_type(value) else pc.abs_checked(value)


def _round(evaluator: Evaluator, expression: exp.Round) -> Value:
    value = evaluator.evaluate(expression.this)
    if _is_null_type(value):
        return value
    digits = _constant_int(evaluator, expression.args.get("decimals"), "the ROUND precision") or 0
    if pa.types.is_integer(value.type) and digits >= 0:
        return value
    if pa.types.is_floating(value.type):
        return _round_double(value, digits)
    # SQL rounds halves away from zero (ROUND(2.5) = 3, ROUND(-2.5) = -3).
    return pc.round(value, digits, round_mode="half_towards_infinity")


def _round_double(value: Value, digits: int) -> Value:
    """Round a DOUBLE half away from zero on its exact binary value, as DuckDB does.

    2.675 is stored as 2.67499999..., so ROUND(2.675, 2) is 2.67. Scaling by 100 rounds that
    product to exactly 267.5, so values whose scaled fraction is exactly one half are
    rounded again exactly with Python's decimal module.
    """
    factor = 10.0**digits
    value = cast_value(value, pa.float64())
    scaled = pc.multiply(value, factor)
    magnitude = pc.abs(scaled)
    rounded = pc.divide(pc.multiply(pc.sign(scaled), pc.floor(pc.add(magnitude, 0.5))), factor)
    # Values too large to have a fraction at this precision stay as they are.
    large = pc.fill_null(pc.greater_equal(magnitude, 2.0**52), False)
    rounded = pc.if_else(large, value, rounded)
    ties = pc.fill_null(pc.equal(pc.subtract(magnitude, pc.floor(magnitude)), 0.5), False)
    if isinstance(value, pa.Scalar):
        return pa.scalar(_round_exactly(value.as_py(), digits), pa.float64()) if ties.as_py() else rounded
    if not pc.any(ties).as_py():
        return rounded
    exact = [_round_exactly(v, digits) for v in value.to_pylist()]
    return pc.if_else(ties, pa.chunked_array([pa.array(exact, pa.float64())]), rounded)


def _round_exactly(number: float | None, digits: int) -> float | None:
    if number is None or not math.isfinite(number):
        return number
    quantum = decimal.Decimal(1).scaleb(-digits)
    exact = decimal.Decimal(number).quantize(quantum, rounding=decimal.ROUND_HALF_UP)
    return float(exact)


def _rounding(function: str) -> Kernel:
    def kernel(evaluator: Evaluator, expression: exp.Func) -> Value:
        value = evaluator.evaluate(expression.this)
        if _is_null_type(value) or pa.types.is_integer(value.type):
            return value
        if pa.types.is_decimal(value.type):
            rounded = getattr(pc, function)(cast_value(value, pa.float64()))
            return cast_value(rounded, pa.decimal128(value.type.precision, 0))
        return getattr(pc, function)(value)

    return kernel


# Dates and times ----------------------------------------------------------------------------

_EXTRACT_FUNCTIONS: dict[str, Callable[[Value], Value]] = {
    "year": pc.year,
    "month": pc.month,
    "day": pc.day,
    "hour": pc.hour,
    "minute": pc.minute,
    "second": pc.second,
    "millisecond": pc.millisecond,
    "microsecond": pc.microsecond,
    "quarter": pc.quarter,
    "doy": pc.day_of_year,
    "dayofyear": pc.day_of_year,
    "week": pc.iso_week,
    "isoyear": pc.iso_year,
    "dow": lambda value: pc.day_of_week(value, count_from_zero=True, week_start=7),
    "dayofweek": lambda value: pc.day_of_week(value, count_from_zero=True, week_start=7),
    "isodow": lambda value: pc.day_of_week(value, count_from_zero=False, week_start=1),
}

_UNIT_ALIASES = {
    "years": "year", "yy": "year", "yyyy": "year", "months": "month", "mon": "month",
    "days": "day", "d": "day", "hours": "hour", "h": "hour", "minutes": "minute", "min": "minute",
    "seconds": "second", "s": "second", "weeks": "week", "w": "week", "quarters": "quarter",
    "epoch_second": "epoch", "dayofmonth": "day",
}


def _unit_name(unit: exp.Expression | None) -> str:
    if unit is None:
        raise ExecutionError("a date part is required")
    text = unit.name if isinstance(unit, (exp.Var, exp.Literal, exp.Column)) else unit.sql()
    lowered = text.lower()
    return _UNIT_ALIASES.get(lowered, lowered)


def _extract(evaluator: Evaluator, expression: exp.Extract) -> Value:
    unit = _unit_name(expression.this)
    value = evaluator.evaluate(expression.expression)
    if _is_null_type(value):
        return pa.scalar(None, pa.int64())
    if _is_string(value.type):
        value = cast_value(value, pa.timestamp("us"))
    if unit == "epoch":
        stamp = cast_value(value, pa.timestamp("us", getattr(value.type, "tz", None)))
        return pc.divide(pc.cast(pc.cast(stamp, pa.int64()), pa.float64()), 1_000_000.0)
    function = _EXTRACT_FUNCTIONS.get(unit)
    if function is None:
        raise UnsupportedError(f"EXTRACT of `{unit}` is not supported")
    return pc.cast(function(value), pa.int64())


_TRUNC_UNITS = {"year", "quarter", "month", "week", "day", "hour", "minute", "second", "millisecond", "microsecond"}


def _date_trunc(evaluator: Evaluator, expression: exp.Expression) -> Value:
    unit = _unit_name(expression.args.get("unit"))
    value = evaluator.evaluate(expression.this)
    if _is_null_type(value):
        return value
    if unit not in _TRUNC_UNITS:
        raise UnsupportedError(f"DATE_TRUNC to `{unit}` is not supported")
    if _is_string(value.type):
        value = cast_value(value, pa.timestamp("us"))
    if pa.types.is_date(value.type):
        # DuckDB returns a TIMESTAMP for DATE_TRUNC of a DATE.
        value = pc.cast(value, pa.timestamp("us"))
    options = {"week_starts_monday": True} if unit == "week" else {}
    return pc.floor_temporal(value, unit=unit, **options)


def _interval(evaluator: Evaluator, expression: exp.Interval) -> Value:
    amount = evaluator.evaluate(expression.this)
    if not isinstance(amount, pa.Scalar):
        raise UnsupportedError("INTERVAL amounts must be constants")
    text = str(amount.as_py()).strip()
    unit = expression.args.get("unit")
    unit_name = _unit_name(unit) if unit is not None else ""
    if not unit_name:
        parts = text.split()
        if len(parts) != 2:
            raise ExecutionError(f"cannot read the interval `{expression.sql()}`")
        text, unit_name = parts[0], _UNIT_ALIASES.get(parts[1].lower(), parts[1].lower().rstrip("s"))
    number = float(text)
    months = days = 0
    nanoseconds = 0
    if unit_name == "year":
        months = int(number * 12)
    elif unit_name == "quarter":
        months = int(number * 3)
    elif unit_name == "month":
        months = int(number)
    elif unit_name == "week":
        days = int(number * 7)
    elif unit_name == "day":
        days = int(number)
    elif unit_name in ("hour", "minute", "second"):
        seconds = number * {"hour": 3600, "minute": 60, "second": 1}[unit_name]
        nanoseconds = int(round(seconds * 1e9))
    else:
        raise UnsupportedError(f"INTERVAL unit `{unit_name}` is not supported")
    return pa.scalar(pa.MonthDayNano([months, days, nanoseconds]), pa.month_day_nano_interval())


def _bitwise(function: str) -> Kernel:
    def kernel(evaluator: Evaluator, expression: exp.Binary) -> Value:
        left, right = _binary_operands(evaluator, expression)
        if is_bit(left.type) or is_bit(right.type):
            return _bitwise_bits(function, left, right)
        if _is_null_type(left) or _is_null_type(right):
            return pa.scalar(None, pa.int64())
        if not (pa.types.is_integer(left.type) and pa.types.is_integer(right.type)):
            raise ExecutionError(f"`{expression.sql()}` needs integer operands")
        left, right = cast_value(left, pa.int64()), cast_value(right, pa.int64())
        name = function
        if function.startswith("shift"):
            if evaluator.dialect == "sqlite":
                return _sqlite_shift(evaluator, function, left, right)
            name = function + "_checked"
        try:
            return getattr(pc, name)(left, right)
        except pa.ArrowInvalid as error:
            raise ExecutionError(f"`{expression.sql()}` failed: {error}") from None

    return kernel


# The operation on BIT strings of each integer kernel of `_bitwise`.
_BIT_OPERATIONS = {"bit_wise_and": "and", "bit_wise_or": "or", "bit_wise_xor": "xor"}


def _bitwise_bits(function: str, left: Value, right: Value) -> Value:
    """Apply `&`, `|`, XOR, `<<` or `>>` where an operand is a BIT string."""
    if function.startswith("shift"):
        if not is_bit(left.type):
            raise ExecutionError(f"cannot shift a value of type `{left.type}` by a BIT string")
        if _is_null_type(right):
            return pa.scalar(None, BIT)
        return bit_strings.shift_bits(left, right, left=function == "shift_left")
    if _is_null_type(left) or _is_null_type(right):
        return pa.scalar(None, BIT)
    # The common type is BIT because text casts to BIT. Any other type raises.
    target = common_type([left.type, right.type])
    operation = _BIT_OPERATIONS[function]
    return bit_strings.bitwise_bits(operation, cast_value(left, target), cast_value(right, target))


def _sqlite_shift(evaluator: Evaluator, function: str, left: Value, right: Value) -> Value:
    """Shift as SQLite does: on 64-bit two's complement, a negative amount shifts the other way."""

    def shift(value: int | None, amount: int | None) -> int | None:
        if value is None or amount is None:
            return None
        if function == "shift_right":
            amount = -amount
        if amount >= 64:
            return 0
        if amount <= -64:
            return -1 if value < 0 else 0
        result = value << amount if amount >= 0 else value >> -amount
        return (result + 2**63) % 2**64 - 2**63

    if isinstance(left, pa.Scalar) and isinstance(right, pa.Scalar):
        return pa.scalar(shift(left.as_py(), right.as_py()), pa.int64())
    pairs = zip(evaluator.array(left).to_pylist(), evaluator.array(right).to_pylist())
    return pa.chunked_array([pa.array([shift(a, b) for a, b in pairs], pa.int64())])


def _bitwise_not(evaluator: Evaluator, expression: exp.BitwiseNot) -> Value:
    value = evaluator.evaluate(expression.this)
    if is_bit(value.type):
        return bit_strings.not_bits(value)
    if _is_null_type(value):
        return pa.scalar(None, pa.int64())
    return pc.bit_wise_not(cast_value(value, pa.int64()))


KERNELS: dict[type[exp.Expression], Kernel] = {
    exp.HexString: _hex_string,
    exp.Try: _try,
    exp.BitwiseAnd: _bitwise("bit_wise_and"),
    exp.BitwiseOr: _bitwise("bit_wise_or"),
    exp.BitwiseXor: _bitwise("bit_wise_xor"),
    exp.BitwiseLeftShift: _bitwise("shift_left"),
    exp.BitwiseRightShift: _bitwise("shift_right"),
    exp.BitwiseNot: _bitwise_not,
    exp.Literal: _literal,
    exp.Null: _null,
    exp.Boolean: _boolean,
    exp.Column: _column,
    exp.Paren: _paren,
    exp.Add: _arithmetic("add_checked"),
    exp.Sub: _arithmetic("subtract_checked"),
    exp.Mul: _arithmetic("multiply_checked"),
    exp.Div: _divide,
    exp.IntDiv: _int_divide,
    exp.Mod: _modulo,
    exp.Neg: _negate,
    exp.EQ: _comparison("equal"),
    exp.NEQ: _comparison("not_equal"),
    exp.GT: _comparison("greater"),
    exp.GTE: _comparison("greater_equal"),
    exp.LT: _comparison("less"),
    exp.LTE: _comparison("less_equal"),
    exp.NullSafeEQ: _null_safe_equal,
    exp.NullSafeNEQ: _null_safe_not_equal,
    exp.And: _and,
    exp.Or: _or,
    exp.Not: _not,
    exp.Is: _is,
    exp.In: _in,
    exp.Between: _between,
    exp.Like: _like_kernel,
    exp.ILike: _like_kernel,
    exp.Escape: _escape,
    exp.Case: _case,
    exp.Cast: _cast,
    exp.TryCast: _cast,
    exp.Coalesce: _coalesce,
    exp.Nullif: _nullif,
    exp.Lower: _unary_string("utf8_lower"),
    exp.Upper: _unary_string("utf8_upper"),
    exp.Length: _length,
    exp.Substring: _substring,
    exp.Trim: _trim,
    exp.Concat: _concat_function,
    exp.DPipe: _pipes,
    exp.Abs: _abs,
    exp.Round: _round,
    exp.Floor: _rounding("floor"),
    exp.Ceil: _rounding("ceil"),
    exp.Extract: _extract,
    exp.DateTrunc: _date_trunc,
    exp.TimestampTrunc: _date_trunc,
    exp.Interval: _interval,
    exp.Replace: _replace,
    exp.If: _if,
}

ANONYMOUS_KERNELS: dict[str, Kernel] = {}
