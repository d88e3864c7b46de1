"""Evaluating plan expressions on cuDF columns, with SQL's NULL rules made explicit.

`support.host_expressions` decides which subexpressions run here and which run in the Arrow
kernels on the host. Kernels here never rely on how cuDF treats NULL in an operation: cuDF
26.10 gives its string columns pandas' `str` dtype, whose comparisons return False rather than
NULL for a missing value, and its `&` and `|` on booleans are not SQL's three-valued logic. So
every kernel masks its result with the validity of its operands, and AND, OR and NOT are built
from `fillna`, `isna` and `where` on NULL-free booleans.

A value is a cuDF Series (one entry per row) or a `pyarrow.Scalar` (the same for every row).
Constant subexpressions are folded on the host by the Arrow kernels.

NOTE: no line of this module has run on a GPU. Its CPU tests run it against a pandas stand-in
for cuDF, which checks the logic but not cuDF's own behaviour.
"""

from __future__ import annotations

import datetime as dt
import decimal
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from sqlglot import exp

from gsql.engine.arrow_kernels import Evaluator, cast_value, common_type
from gsql.engine.cudf.schemas import TypeOracle, is_constant
from gsql.engine.cudf.support import host_expressions
from gsql.errors import ExecutionError
from gsql.types import normalize_arrow_type

if TYPE_CHECKING:
    from gsql.engine.cudf.backend import CudfBackend, DeviceFrame

__all__ = ["DEVICE_KERNELS", "DeviceEvaluator"]

Value = Any  # a cudf.Series or a pyarrow.Scalar
Kernel = Callable[["DeviceEvaluator", Any], Value]

_COMPARISONS: dict[type[exp.Expression], Callable[[Any, Any], Any]] = {
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
}


class DeviceEvaluator:
    """Evaluate expressions over one GPU frame.

    `host_reasons` collects why subexpressions ran on the host, for the node's placement.
    """

    def __init__(self, backend: CudfBackend, frame: DeviceFrame) -> None:
        self.backend = backend
        self.frame = frame
        self.length = len(frame.frame)
        self.oracle = TypeOracle(frame.schema, backend.dialect)
        self.host_reasons: list[str] = []
        self._host: dict[int, str] = {}

    def evaluate(self, expression: exp.Expression) -> Value:
        self._host = host_expressions(expression, self.oracle)
        for reason in self._host.values():
            if reason not in self.host_reasons:
                self.host_reasons.append(reason)
        return self.eval(expression)

    def eval(self, expression: exp.Expression) -> Value:
        if is_constant(expression) or id(expression) in self._host:
            return self.on_host(expression)
        return DEVICE_KERNELS[type(expression)](self, expression)

    def type_of(self, expression: exp.Expression) -> pa.DataType:
        found = self.oracle.type_of(expression)
        if found is None:
            raise ExecutionError(f"the type of `{expression.sql()[:80]}` is unknown")
        return found

    # Moving values between host and GPU ------------------------------------------------------

    def on_host(self, expression: exp.Expression) -> Value:
        """Evaluate with the Arrow kernels on the host, copying only the columns it reads."""
        names = sorted({column.name for column in expression.find_all(exp.Column)})
        columns = self.backend.download_columns(self.frame, names)
        evaluator = Evaluator(lambda name: columns[name], self.length, self.backend.dialect)
        value = evaluator.evaluate(expression)
        if isinstance(value, pa.Scalar):
            return value
        array = evaluator.array(value)
        return self.backend.upload_array(array, normalize_arrow_type(array.type))

    def series(self, value: Value, logical: pa.DataType) -> Any:
        """Return `value` as a GPU column of `logical`'s storage type, broadcasting a scalar."""
        if not isinstance(value, pa.Scalar):
            return self.backend.conform_series(value, logical)
        scalar = cast_value(value, logical) if not pa.types.is_null(logical) else value
        return self.backend.upload_array(pa.repeat(scalar, self.length), logical)

    def operand(self, value: Value, source: pa.DataType, target: pa.DataType) -> Any:
        """Return `value` converted to `target`: a GPU column, or a Python value for a scalar."""
        if isinstance(value, pa.Scalar):
            return self.python_value(cast_value(value, target, self.backend.dialect), target)
        if source == target:
            return value
        return self.backend.conform_series(value, target)

    def python_value(self, scalar: pa.Scalar, logical: pa.DataType) -> Any:
        """Return a scalar as the Python value that cuDF compares with a column of `logical`."""
        item = scalar.as_py()
        if item is None:
            return None
        if pa.types.is_date32(logical):
            # cuDF stores a DATE as datetime64[s].
            return np.datetime64(dt.datetime(item.year, item.month, item.day), "s")
        if pa.types.is_timestamp(logical):
            if item.tzinfo is not None:
                item = item.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return np.datetime64(item, logical.unit)
        return item


# Helpers ----------------------------------------------------------------------------------------


def _is_null_scalar(value: Value) -> bool:
    return isinstance(value, pa.Scalar) and not value.is_valid


def _valid(*values: Value) -> Any:
    """Return the rows where every column operand is not NULL, or None when all are scalars."""
    mask = None
    for value in values:
        if isinstance(value, pa.Scalar):
            continue
        present = value.notna()
        mask = present if mask is None else mask & present
    return mask


def _propagate(result: Any, *operands: Value) -> Any:
    """Set `result` to NULL wherever an operand is NULL."""
    mask = _valid(*operands)
    return result if mask is None else result.where(mask)


def _null(logical: pa.DataType) -> pa.Scalar:
    return pa.scalar(None, logical)


def _kleene_and(left: Any, right: Any) -> Any:
    # FALSE wins over NULL; TRUE AND NULL is NULL.
    definite = left.fillna(True) & right.fillna(True)
    unknown = (left.isna() | right.isna()) & definite
    return definite.where(~unknown)


def _kleene_or(left: Any, right: Any) -> Any:
    # TRUE wins over NULL; FALSE OR NULL is NULL.
    definite = left.fillna(False) | right.fillna(False)
    unknown = (left.isna() | right.isna()) & ~definite
    return definite.where(~unknown)


def _kleene_not(value: Any) -> Any:
    return (~value.fillna(False)).where(value.notna())


def _choose(condition: Any, when_true: Any, when_false: Any, evaluator: DeviceEvaluator, logical: pa.DataType) -> Any:
    """Pick `when_true` where the NULL-free `condition` holds.

    Each side is a GPU column, a `pyarrow.Scalar` of `logical`, or None for NULL.
    """
    if isinstance(when_true, pa.Scalar) or when_true is None:
        if isinstance(when_false, pa.Scalar) or when_false is None:
            when_false = evaluator.series(when_false if when_false is not None else _null(logical), logical)
        other = evaluator.python_value(when_true, logical) if when_true is not None else None
        return when_false.where(~condition, other)
    if isinstance(when_false, pa.Scalar):
        when_false = evaluator.python_value(when_false, logical)
    return when_true.where(condition, when_false)


def _is_python_scalar(value: Any) -> bool:
    return value is None or not hasattr(value, "notna")


# Arithmetic -------------------------------------------------------------------------------------

_INTEGER_OPERATORS = {exp.Add: operator.add, exp.Sub: operator.sub, exp.Mul: operator.mul}


def _arithmetic(evaluator: DeviceEvaluator, expression: exp.Binary) -> Value:
    left = evaluator.eval(expression.this)
    right = evaluator.eval(expression.expression)
    target = evaluator.type_of(expression)
    if _is_null_scalar(left) or _is_null_scalar(right):
        return _null(target)
    left_type = evaluator.type_of(expression.this)
    right_type = evaluator.type_of(expression.expression)
    left_operand = evaluator.operand(left, left_type, target)
    right_operand = evaluator.operand(right, right_type, target)
    function = _INTEGER_OPERATORS[type(expression)]
    result = function(left_operand, right_operand)
    if pa.types.is_integer(target):
        _check_overflow(expression, function, left_operand, right_operand, result, target)
    return _propagate(result, left, right)


def _check_overflow(expression: exp.Expression, function: Any, left: Any, right: Any, result: Any, target: pa.DataType) -> None:
    """Raise when an integer result left its type's range, as Arrow's checked kernels do.

    cuDF wraps integer overflow silently. Below 64 bits the exact result fits a double; for
    BIGINT the sign tests of two's-complement arithmetic find the overflow exactly.
    """
    info = np.iinfo(target.to_pandas_dtype())
    if target.bit_width < 64:
        exact = function(_as_float(left), _as_float(right))
        overflow = (exact > info.max) | (exact < info.min)
    elif function is operator.add:
        overflow = ((left ^ result) & (right ^ result)) < 0
    elif function is operator.sub:
        overflow = ((left ^ right) & (left ^ result)) < 0
    else:
        divisor = right.where(right != 0, 1) if not _is_python_scalar(right) else (right or 1)
        overflow = (result // divisor != left) & (right != 0)
        overflow = overflow | ((left == info.min) & (right == -1))
    if _any(overflow):
        raise ExecutionError(f"`{expression.sql()}` failed: overflow")


def _as_float(value: Any) -> Any:
    return float(value) if _is_python_scalar(value) else value.astype("float64")


def _any(mask: Any) -> bool:
    if isinstance(mask, (bool, np.bool_)):
        return bool(mask)
    return bool(mask.fillna(False).any())


def _divide(evaluator: DeviceEvaluator, expression: exp.Div) -> Value:
    left = evaluator.eval(expression.this)
    right = evaluator.eval(expression.expression)
    if _is_null_scalar(left) or _is_null_scalar(right):
        return _null(pa.float64())
    left_operand = evaluator.operand(left, evaluator.type_of(expression.this), pa.float64())
    right_operand = evaluator.operand(right, evaluator.type_of(expression.expression), pa.float64())
    zero = right_operand == 0
    if _any(zero):
        if not expression.args.get("safe"):
            raise ExecutionError(f"division by zero in `{expression.sql()}`")
        right_operand = right_operand.where(~zero.fillna(False)) if not _is_python_scalar(right_operand) else None
        if right_operand is None:
            return _null(pa.float64())
    return _propagate(left_operand / right_operand, left, right)


def _negate(evaluator: DeviceEvaluator, expression: exp.Neg) -> Value:
    value = evaluator.eval(expression.this)
    logical = evaluator.type_of(expression.this)
    if pa.types.is_integer(logical) and _any(value == np.iinfo(logical.to_pandas_dtype()).min):
        raise ExecutionError(f"`{expression.sql()}` failed: overflow")
    return -value


# Comparisons and logic --------------------------------------------------------------------------


def compare(evaluator: DeviceEvaluator, function: Callable[[Any, Any], Any], left: Value, left_type: pa.DataType, right: Value, right_type: pa.DataType) -> Value:
    """Compare two values with SQL's rules: a NULL operand gives NULL."""
    if _is_null_scalar(left) or _is_null_scalar(right):
        return _null(pa.bool_())
    target = common_type([left_type, right_type])
    left_operand = evaluator.operand(left, left_type, target)
    right_operand = evaluator.operand(right, right_type, target)
    if _is_python_scalar(left_operand):
        # Put the column first so cuDF's Series operator runs, mirroring the comparison.
        mirrored = {operator.gt: operator.lt, operator.ge: operator.le, operator.lt: operator.gt, operator.le: operator.ge}
        result = mirrored.get(function, function)(right_operand, left_operand)
    else:
        result = function(left_operand, right_operand)
    return _propagate(result, left, right)


def _comparison(evaluator: DeviceEvaluator, expression: exp.Binary) -> Value:
    left = evaluator.eval(expression.this)
    right = evaluator.eval(expression.expression)
    return compare(
        evaluator,
        _COMPARISONS[type(expression)],
        left,
        evaluator.type_of(expression.this),
        right,
        evaluator.type_of(expression.expression),
    )


def _boolean_series(evaluator: DeviceEvaluator, expression: exp.Expression) -> Any:
    return evaluator.series(evaluator.eval(expression), pa.bool_())


def _and(evaluator: DeviceEvaluator, expression: exp.And) -> Value:
    return _kleene_and(_boolean_series(evaluator, expression.this), _boolean_series(evaluator, expression.expression))


def _or(evaluator: DeviceEvaluator, expression: exp.Or) -> Value:
    return _kleene_or(_boolean_series(evaluator, expression.this), _boolean_series(evaluator, expression.expression))


def _not(evaluator: DeviceEvaluator, expression: exp.Not) -> Value:
    return _kleene_not(_boolean_series(evaluator, expression.this))


def _is(evaluator: DeviceEvaluator, expression: exp.Is) -> Value:
    value = evaluator.eval(expression.this)
    target = expression.expression
    if isinstance(target, exp.Null):
        result = value.isna()
    else:
        result = (value == bool(target.this)).fillna(False) & value.notna()
    return ~result if expression.args.get("negate") else result


def _in(evaluator: DeviceEvaluator, expression: exp.In) -> Value:
    value = evaluator.eval(expression.this)
    value_type = evaluator.type_of(expression.this)
    items = [evaluator.oracle.constant(item) for item in expression.expressions]
    present = [item for item in items if item is not None and item.is_valid]
    has_null = len(present) < len(items)
    target = common_type([value_type] + [item.type for item in present])
    column = evaluator.operand(value, value_type, target)
    options = [cast_value(item, target).as_py() for item in present]
    found = column.isin(options).fillna(False) & column.notna()
    # SQL: a NULL probe gives NULL, and no match against a list with a NULL gives NULL.
    unknown = column.isna()
    if has_null:
        unknown = unknown | ~found
    return found.where(~unknown)


def _between(evaluator: DeviceEvaluator, expression: exp.Between) -> Value:
    value = evaluator.eval(expression.this)
    value_type = evaluator.type_of(expression.this)
    low = evaluator.eval(expression.args["low"])
    high = evaluator.eval(expression.args["high"])
    lower = compare(evaluator, operator.ge, value, value_type, low, evaluator.type_of(expression.args["low"]))
    upper = compare(evaluator, operator.le, value, value_type, high, evaluator.type_of(expression.args["high"]))
    return _kleene_and(evaluator.series(lower, pa.bool_()), evaluator.series(upper, pa.bool_()))


def _like(evaluator: DeviceEvaluator, expression: exp.Expression) -> Value:
    escape = None
    if isinstance(expression, exp.Escape):
        escape = evaluator.oracle.constant(expression.expression)
        escape = escape.as_py() if escape is not None else None
        if escape is not None and len(escape) != 1:
            raise ExecutionError(f"the ESCAPE string must be one character, not `{escape}`")
        expression = expression.this
    value = evaluator.eval(expression.this)
    pattern = evaluator.oracle.constant(expression.expression)
    if _is_null_scalar(value) or pattern is None or not pattern.is_valid:
        return _null(pa.bool_())
    text = pattern.as_py()
    if isinstance(expression, exp.ILike):
        # NOTE: ILIKE lowers both sides; the Arrow kernels use RE2's case folding, which can
        # differ for a few non-ASCII letters.
        value = value.str.lower()
        text = text.lower()
    result = _propagate(value.str.like(text, esc=escape or ""), value)
    return _kleene_not(result) if expression.args.get("negate") else result


# Conditionals -----------------------------------------------------------------------------------


def _case(evaluator: DeviceEvaluator, expression: exp.Expression) -> Value:
    target = evaluator.type_of(expression)
    if pa.types.is_null(target):
        return _null(target)
    if isinstance(expression, exp.If):
        branches = [(expression.this, expression.args["true"])]
        default = expression.args.get("false")
        operand = None
    else:
        branches = [(branch.this, branch.args["true"]) for branch in expression.args.get("ifs") or []]
        default = expression.args.get("default")
        operand = expression.this

    result: Any = None
    if default is not None:
        result = _result_operand(evaluator, default, target)
    for condition_expression, value_expression in reversed(branches):
        condition = _condition(evaluator, operand, condition_expression)
        value = _result_operand(evaluator, value_expression, target)
        result = _choose(condition, value, result, evaluator, target)
    if result is None:
        return _null(target)
    return result


def _condition(evaluator: DeviceEvaluator, operand: exp.Expression | None, condition: exp.Expression) -> Any:
    if operand is None:
        value = evaluator.eval(condition)
    else:
        value = compare(
            evaluator, operator.eq,
            evaluator.eval(operand), evaluator.type_of(operand),
            evaluator.eval(condition), evaluator.type_of(condition),
        )
    return evaluator.series(value, pa.bool_()).fillna(False)


def _result_operand(evaluator: DeviceEvaluator, expression: exp.Expression, target: pa.DataType) -> Any:
    """Return a CASE or COALESCE argument as a GPU column or a `pyarrow.Scalar` of `target`."""
    value = evaluator.eval(expression)
    if _is_null_scalar(value):
        return None
    if isinstance(value, pa.Scalar):
        return cast_value(value, target, evaluator.backend.dialect)
    return evaluator.operand(value, evaluator.type_of(expression), target)


def _coalesce(evaluator: DeviceEvaluator, expression: exp.Coalesce) -> Value:
    target = evaluator.type_of(expression)
    result: Any = None
    for argument in [expression.this, *expression.expressions]:
        value = _result_operand(evaluator, argument, target)
        if value is None:
            continue
        if isinstance(value, pa.Scalar):
            if result is None:
                return value
            return result.fillna(evaluator.python_value(value, target))
        result = value if result is None else result.fillna(value)
    return _null(target) if result is None else result


def _nullif(evaluator: DeviceEvaluator, expression: exp.Nullif) -> Value:
    value = evaluator.eval(expression.this)
    other = evaluator.eval(expression.expression)
    if _is_null_scalar(other):
        return value
    equal = compare(
        evaluator, operator.eq,
        value, evaluator.type_of(expression.this),
        other, evaluator.type_of(expression.expression),
    )
    return value.where(~evaluator.series(equal, pa.bool_()).fillna(False))


def _cast(evaluator: DeviceEvaluator, expression: exp.Cast) -> Value:
    value = evaluator.eval(expression.this)
    target = evaluator.type_of(expression)
    if _is_null_scalar(value):
        return _null(target)
    return evaluator.backend.conform_series(value, target)


# Strings ----------------------------------------------------------------------------------------


def _string_method(name: str) -> Kernel:
    def kernel(evaluator: DeviceEvaluator, expression: exp.Expression) -> Value:
        value = evaluator.eval(expression.this)
        if _is_null_scalar(value):
            return _null(evaluator.type_of(expression))
        return _propagate(getattr(value.str, name)(), value)

    return kernel


def _length(evaluator: DeviceEvaluator, expression: exp.Length) -> Value:
    value = evaluator.eval(expression.this)
    if _is_null_scalar(value):
        return _null(pa.int64())
    return evaluator.backend.conform_series(_propagate(value.str.len(), value), pa.int64())


def _constant(evaluator: DeviceEvaluator, expression: exp.Expression | None) -> Any:
    if expression is None:
        return None
    value = evaluator.oracle.constant(expression)
    return None if value is None else value.as_py()


def _substring(evaluator: DeviceEvaluator, expression: exp.Substring) -> Value:
    value = evaluator.eval(expression.this)
    start = _constant(evaluator, expression.args.get("start"))
    length = _constant(evaluator, expression.args.get("length"))
    begin = start - 1
    stop = None if length is None else begin + length
    return _propagate(value.str.slice(begin, stop), value)


def _left(evaluator: DeviceEvaluator, expression: exp.Left) -> Value:
    value = evaluator.eval(expression.this)
    return _propagate(value.str.slice(0, _constant(evaluator, expression.expression)), value)


def _trim(evaluator: DeviceEvaluator, expression: exp.Trim) -> Value:
    value = evaluator.eval(expression.this)
    position = (expression.args.get("position") or "BOTH").upper()
    characters = _constant(evaluator, expression.args.get("expression"))
    method = {"LEADING": "lstrip", "TRAILING": "rstrip"}.get(position, "strip")
    # NOTE: without characters, cuDF strips its own whitespace set; the Arrow kernels strip
    # Unicode whitespace. They agree on ASCII spaces, tabs and line breaks.
    return _propagate(getattr(value.str, method)(characters), value)


def _concat(evaluator: DeviceEvaluator, expression: exp.Expression) -> Value:
    if isinstance(expression, exp.DPipe):
        parts = [expression.this, expression.expression]
        skip_nulls = bool(expression.args.get("safe"))
    else:
        parts = list(expression.expressions)
        skip_nulls = expression.args.get("coalesce", evaluator.backend.dialect not in ("mysql",)) is not False

    values = []
    for part in parts:
        value = evaluator.eval(part)
        if isinstance(value, pa.Scalar):
            text = cast_value(value, pa.large_string()).as_py() if value.is_valid else None
            if text is None and not skip_nulls:
                return _null(pa.large_string())
            values.append(text or "")
        else:
            values.append(value.fillna("") if skip_nulls else value)

    result = values[0]
    for value in values[1:]:
        result = result + value
    if _is_python_scalar(result):
        return pa.scalar(result, pa.large_string())
    return result if skip_nulls else _propagate(result, *[v for v in values if not _is_python_scalar(v)])


def _replace(evaluator: DeviceEvaluator, expression: exp.Replace) -> Value:
    value = evaluator.eval(expression.this)
    search = _constant(evaluator, expression.expression)
    replacement = _constant(evaluator, expression.args["replacement"])
    if search is None or replacement is None:
        return _null(pa.large_string())
    if search == "":
        return value
    return _propagate(value.str.replace(search, replacement, regex=False), value)


def _pattern(method: str) -> Kernel:
    def kernel(evaluator: DeviceEvaluator, expression: exp.Expression) -> Value:
        value = evaluator.eval(expression.this)
        pattern = _constant(evaluator, expression.expression)
        if pattern is None:
            return _null(pa.bool_())
        matcher = getattr(value.str, method)
        result = matcher(pattern, regex=False) if method == "contains" else matcher(pattern)
        return _propagate(result, value)

    return kernel


# Math -------------------------------------------------------------------------------------------


def _abs(evaluator: DeviceEvaluator, expression: exp.Abs) -> Value:
    value = evaluator.eval(expression.this)
    logical = evaluator.type_of(expression.this)
    if pa.types.is_integer(logical) and _any(value == np.iinfo(logical.to_pandas_dtype()).min):
        raise ExecutionError(f"`{expression.sql()}` failed: overflow")
    return value.abs()


def _round(evaluator: DeviceEvaluator, expression: exp.Round) -> Value:
    value = evaluator.eval(expression.this)
    digits = _constant(evaluator, expression.args.get("decimals")) or 0
    if pa.types.is_integer(evaluator.type_of(expression.this)) and digits >= 0:
        return value
    # SQL rounds halves away from zero; cuDF's `half_up` does so (libcudf's HALF_UP), where
    # its default `half_even` would not.
    return value.round(digits, how="half_up")


def _rounding(function: Callable[[Any], Any]) -> Kernel:
    def kernel(evaluator: DeviceEvaluator, expression: exp.Expression) -> Value:
        value = evaluator.eval(expression.this)
        if pa.types.is_integer(evaluator.type_of(expression.this)):
            return value
        # cuDF Series implement NumPy's floor and ceil ufuncs on the GPU.
        return function(value)

    return kernel


# Dates ------------------------------------------------------------------------------------------

_DATE_PARTS: dict[str, Callable[[Any], Any]] = {
    "year": lambda values: values.dt.year,
    "month": lambda values: values.dt.month,
    "day": lambda values: values.dt.day,
    "hour": lambda values: values.dt.hour,
    "minute": lambda values: values.dt.minute,
    "second": lambda values: values.dt.second,
    "quarter": lambda values: values.dt.quarter,
    "doy": lambda values: values.dt.dayofyear,
    # SQL's DOW counts from Sunday = 0; cuDF's and pandas' `dayofweek` from Monday = 0.
    "dow": lambda values: (values.dt.dayofweek + 1) % 7,
}

_DATE_PART_ALIASES = {"dayofweek": "dow", "dayofyear": "doy"}

_DATE_PART_CLASSES: dict[type[exp.Expression], str] = {
    exp.Year: "year",
    exp.Month: "month",
    exp.Day: "day",
    exp.Quarter: "quarter",
    exp.DayOfWeek: "dow",
    exp.DayOfYear: "doy",
}


def _extract(evaluator: DeviceEvaluator, expression: exp.Expression) -> Value:
    if isinstance(expression, exp.Extract):
        unit_node = expression.this
        unit = (unit_node.name if isinstance(unit_node, (exp.Var, exp.Literal, exp.Column)) else unit_node.sql()).lower()
        operand = expression.expression
    else:
        unit = _DATE_PART_CLASSES[type(expression)]
        operand = expression.this
    unit = _DATE_PART_ALIASES.get(unit, unit)
    value = evaluator.eval(operand)
    if _is_null_scalar(value):
        return _null(pa.int64())
    part = _propagate(_DATE_PARTS[unit](value), value)
    return evaluator.backend.conform_series(part, pa.int64())


def _column(evaluator: DeviceEvaluator, expression: exp.Column) -> Value:
    return evaluator.frame.frame[expression.name]


def _paren(evaluator: DeviceEvaluator, expression: exp.Paren) -> Value:
    return evaluator.eval(expression.this)


def _host_only(evaluator: DeviceEvaluator, expression: exp.Expression) -> Value:
    # Literals are constants, which `DeviceEvaluator.eval` folds on the host before this runs.
    return evaluator.on_host(expression)


DEVICE_KERNELS: dict[type[exp.Expression], Kernel] = {
    exp.Column: _column,
    exp.Literal: _host_only,
    exp.Null: _host_only,
    exp.Boolean: _host_only,
    exp.Paren: _paren,
    exp.Add: _arithmetic,
    exp.Sub: _arithmetic,
    exp.Mul: _arithmetic,
    exp.Div: _divide,
    exp.Neg: _negate,
    exp.EQ: _comparison,
    exp.NEQ: _comparison,
    exp.GT: _comparison,
    exp.GTE: _comparison,
    exp.LT: _comparison,
    exp.LTE: _comparison,
    exp.And: _and,
    exp.Or: _or,
    exp.Not: _not,
    exp.Is: _is,
    exp.In: _in,
    exp.Between: _between,
    exp.Like: _like,
    exp.ILike: _like,
    exp.Escape: _like,
    exp.Case: _case,
    exp.If: _case,
    exp.Cast: _cast,
    exp.TryCast: _cast,
    exp.Coalesce: _coalesce,
    exp.Nullif: _nullif,
    exp.Lower: _string_method("lower"),
    exp.Upper: _string_method("upper"),
    exp.Length: _length,
    exp.Substring: _substring,
    exp.Trim: _trim,
    exp.Concat: _concat,
    exp.DPipe: _concat,
    exp.Replace: _replace,
    exp.StartsWith: _pattern("startswith"),
    exp.EndsWith: _pattern("endswith"),
    exp.Contains: _pattern("contains"),
    exp.Left: _left,
    exp.Abs: _abs,
    exp.Round: _round,
    exp.Floor: _rounding(np.floor),
    exp.Ceil: _rounding(np.ceil),
    exp.Extract: _extract,
    exp.Year: _extract,
    exp.Month: _extract,
    exp.Day: _extract,
    exp.Quarter: _extract,
    exp.DayOfWeek: _extract,
    exp.DayOfYear: _extract,
}
"""The cuDF kernel of each class in `support.NATIVE_EXPRESSIONS`."""

_ = decimal  # decimal scalars reach the kernels as Python values through `python_value`
