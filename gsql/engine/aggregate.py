"""GROUP BY aggregation of an Arrow table with SQL semantics.

Most aggregates run in Arrow's hash aggregation, which already keeps one NULL group, skips
NULLs, and returns NULL for a SUM over no values. Aggregates that Arrow lacks or computes only
approximately (exact percentiles, STRING_AGG with ORDER BY, COUNT(DISTINCT a, b), SUM and AVG
of DISTINCT values) are computed per group id with NumPy.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gsql.engine.arrow_kernels import cast_value
from gsql.engine.bit_strings import aggregate_bits
from gsql.engine.decimals import _largest_magnitude, _to_decimal, _unscaled
from gsql.engine.group_keys import pack_short_string_keys, unpack_strings
from gsql.engine.sorting import sort_indices
from gsql.errors import ExecutionError, UnsupportedError
from gsql.sql import plan
from gsql.types import is_bit

__all__ = ["aggregate_table"]

_INT64_LIMIT = 2.0**63
# A DECIMAL(38, s) contains integers of 10**-s units below this magnitude.
_DECIMAL_LIMIT = 10**38

# Arrow hash aggregate for each plan function that Arrow computes exactly.
_ARROW_FUNCTIONS = {
    "sum": "sum",
    "avg": "mean",
    "min": "min",
    "max": "max",
    "stddev_samp": "stddev",
    "stddev_pop": "stddev",
    "var_samp": "variance",
    "var_pop": "variance",
    "bool_and": "all",
    "bool_or": "any",
    "any_value": "min",
}


def _is_native(call: plan.AggregateCall) -> bool:
    if call.function in ("count_star",):
        return True
    if call.function == "total":
        return not call.distinct
    if call.function == "count":
        return "arguments" not in call.options
    if call.function in ("sum", "avg"):
        return not call.distinct
    return call.function in _ARROW_FUNCTIONS


def aggregate_table(
    table: pa.Table,
    node: plan.Aggregate,
    dialect: str = "duckdb",
    units: Mapping[str, pa.ChunkedArray] | None = None,
) -> pa.Table:
    """Group `table` by `node.keys` and compute `node.aggregates`, one output row per group.

    `units` may give the int64 counts of 10**-scale that the caller already computed for
    decimal columns of `table`, so that those columns are not converted again.
    """
    if dialect == "sqlite":
        table = _sqlite_numeric_arguments(table, node)
        units = None
    flagged = _with_nan_flags(table, node)
    if flagged is not None:
        table, node, flags = flagged
    arguments = _Arguments(table, units or {})
    if all(_is_native(call) for call in node.aggregates):
        result = _aggregate_native(table, node, arguments)
    else:
        result = _aggregate_by_group_id(table, node, arguments)
    return _nan_maximums(result, flags) if flagged is not None else result


def _with_nan_flags(
    table: pa.Table, node: plan.Aggregate
) -> tuple[pa.Table, plan.Aggregate, dict[str, str]] | None:
    """Add a BOOL_OR of `isnan(x)` for each MAX of a float column that contains NaN.

    SQL orders NaN above every number (DuckDB and PostgreSQL), so the MAX of a group with a NaN
    is NaN. Arrow's hash max skips NaN unless a group has nothing else. Returns the extended
    table and node and, for each such MAX's output column, the column of its flag; None when
    no MAX reads a NaN.
    """
    flags: dict[str, str] = {}
    calls: list[plan.AggregateCall] = []
    for name, call in zip(node.columns[len(node.keys) :], node.aggregates):
        if call.function != "max" or call.argument is None:
            continue
        column = table.column(call.argument)
        if not pa.types.is_floating(column.type) or not pc.any(pc.is_nan(column)).as_py():
            continue
        flag = f"__nan_seen{len(flags)}"
        table = table.append_column(flag, pc.fill_null(pc.is_nan(column), False))
        calls.append(plan.AggregateCall("bool_or", flag))
        flags[name] = flag
    if not flags:
        return None
    extended = plan.Aggregate(
        node.columns + list(flags.values()),
        input=node.input,
        keys=list(node.keys),
        aggregates=[*node.aggregates, *calls],
    )
    return table, extended, flags


def _nan_maximums(result: pa.Table, flags: dict[str, str]) -> pa.Table:
    """Set each flagged MAX to NaN in the groups that hold a NaN, and drop the flags."""
    for name, flag in flags.items():
        index = result.schema.get_field_index(name)
        column = result.column(name)
        nan = pa.scalar(float("nan"), column.type)
        result = result.set_column(index, name, pc.if_else(result.column(flag), nan, column))
    return result.drop_columns(list(flags.values()))


class _Arguments:
    """The columns of the table being aggregated, with their decimal units computed once."""

    def __init__(self, table: pa.Table, units: Mapping[str, pa.ChunkedArray]) -> None:
        self.table = table
        self._units: dict[str, pa.ChunkedArray | None] = dict(units)

    def column(self, name: str) -> pa.ChunkedArray:
        return self.table.column(name)

    def extended(self, table: pa.Table) -> _Arguments:
        """Return the arguments of `table`, which has the same columns and more after them."""
        extended = _Arguments(table, {})
        extended._units = self._units
        return extended

    def units(self, name: str) -> pa.ChunkedArray | None:
        """Return the column's decimal values as int64 units, or None when one does not fit."""
        if name not in self._units:
            self._units[name] = _unscaled(self.table.column(name))
        return self._units[name]


_SQLITE_NUMBER_PREFIX = r"^\s*(?P<number>[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"


def _sqlite_numeric_arguments(table: pa.Table, node: plan.Aggregate) -> pa.Table:
    """Read text arguments of SUM, AVG and TOTAL as numbers, as SQLite does.

    SQLite takes the longest numeric prefix of a text value, and 0 when there is none.
    """
    for call in node.aggregates:
        if call.function not in ("sum", "avg", "total") or call.argument is None:
            continue
        column = table.column(call.argument)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        prefix = pc.extract_regex(column, _SQLITE_NUMBER_PREFIX)
        numbers = pc.cast(pc.struct_field(prefix, [0]), pa.float64())
        numbers = pc.if_else(pc.is_valid(column), pc.fill_null(numbers, 0.0), pa.scalar(None, pa.float64()))
        table = table.set_column(table.schema.get_field_index(call.argument), call.argument, numbers)
    return table


def _aggregate_native(table: pa.Table, node: plan.Aggregate, arguments: _Arguments) -> pa.Table:
    native = _native_requests(arguments, node.keys, list(enumerate(node.aggregates)))
    work, packed = pack_short_string_keys(native.work, node.keys)
    grouped = work.group_by(node.keys, use_threads=True).aggregate(native.requests)
    native.check_sums(node.keys)
    columns = {key: grouped.column(key) for key in node.keys}
    for key, packing in packed.items():
        columns[key] = unpack_strings(grouped.column(key), packing)
    for name, finish in zip(node.columns[len(node.keys) :], native.finishers):
        columns[name] = finish(grouped)
    if not columns:
        return pa.table({"__rows": pa.nulls(grouped.num_rows)}).drop_columns(["__rows"])
    return pa.table(columns)


# Turns the table of Arrow's grouped results into one aggregate's output column.
Finisher = Callable[[pa.Table], pa.ChunkedArray]


@dataclass
class _NativeRequests:
    """The requests for Arrow's hash aggregation, and the steps that make its output columns.

    `work` has the group keys and one column per distinct converted argument, so SUM(x) and
    AVG(x) of a decimal `x` share one int64 column and one sum. `integer_sums` pairs each
    SUM over plain integers with its column, for the BIGINT overflow check, and
    `decimal_sums` each SUM or AVG summed as DECIMAL(38, s), for the DECIMAL overflow check.
    """

    work: pa.Table
    requests: list[tuple[Any, ...]] = field(default_factory=list)
    finishers: list[Finisher] = field(default_factory=list)
    integer_sums: list[tuple[plan.AggregateCall, str]] = field(default_factory=list)
    decimal_sums: list[tuple[plan.AggregateCall, str]] = field(default_factory=list)
    _outputs: set[str] = field(default_factory=set)

    def add(self, request: tuple[Any, ...], output: str) -> None:
        """Add a request unless an equal one, which has the same output name, is there."""
        if output not in self._outputs:
            self._outputs.add(output)
            self.requests.append(request)

    def check_sums(self, keys: list[str]) -> None:
        """Raise when a SUM left the range of its type, which Arrow would wrap around silently."""
        _check_integer_sums(self.integer_sums, self.work, keys)
        _check_decimal_sums(self.decimal_sums, self.work, keys)


def _native_requests(
    arguments: _Arguments, keys: list[str], calls: list[tuple[int, plan.AggregateCall]]
) -> _NativeRequests:
    table = arguments.table
    native = _NativeRequests(table.select(keys))
    columns: dict[tuple[str, str], str] = {}
    for index, call in calls:
        column = f"__arg{index}"
        if call.argument is None:
            request, output = _native_request(call, column)
            native.add(request, output)
            native.finishers.append(_plain_finisher(call, output))
            continue
        argument, representation = _native_argument(call, arguments)
        if (call.argument, representation) in columns:
            column = columns[call.argument, representation]
        else:
            columns[call.argument, representation] = column
            native.work = native.work.append_column(column, argument)
        if representation == "decimal":
            native.decimal_sums.append((call, column))
        if representation in ("units", "decimal") and call.function == "avg":
            scale = arguments.column(call.argument).type.scale
            _request_decimal_average(native, column, argument, scale if representation == "units" else None)
            continue
        request, output = _native_request(call, column)
        native.add(request, output)
        if representation == "units":
            scale = arguments.column(call.argument).type.scale
            native.finishers.append(_decimal_sum_finisher(output, scale))
            continue
        native.finishers.append(_plain_finisher(call, output))
        if call.function == "sum" and pa.types.is_integer(argument.type):
            native.integer_sums.append((call, column))
    if native.work.num_columns == 0:
        native.work = pa.table({"__rows": pa.nulls(table.num_rows, pa.int8())})
    return native


def _request_decimal_average(native: _NativeRequests, column: str, values: pa.ChunkedArray, scale: int | None) -> None:
    """Request AVG of a decimal as its exact sum and its count; `scale` is set for int64 units."""
    sum_options = pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)
    native.add((column, "sum", sum_options), f"{column}_sum")
    if values.null_count == 0:
        # Without NULLs every row counts, and COUNT(*) is cheaper than a count per column.
        count_request, count_output = ([], "count_all", None), "count_all"
    else:
        count_request, count_output = (column, "count", pc.CountOptions("only_valid")), f"{column}_count"
    native.add(count_request, count_output)
    native.finishers.append(_decimal_average_finisher(f"{column}_sum", count_output, scale))


def _plain_finisher(call: plan.AggregateCall, output: str) -> Finisher:
    return lambda grouped: _native_result(call, grouped.column(output))


def _decimal_sum_finisher(output: str, scale: int) -> Finisher:
    """Turn a sum computed on unscaled int64 values back into DECIMAL(38, scale)."""
    return lambda grouped: _to_decimal(grouped.column(output), pa.decimal128(38, scale))


def _decimal_average_finisher(sum_output: str, count_output: str, scale: int | None) -> Finisher:
    """Divide the exact sum of a decimal by the count, as a DOUBLE, as DuckDB does.

    Summing first keeps large values of opposite signs from cancelling in DOUBLE arithmetic.
    The sum is int64 units of 10**-scale when `scale` is set, else a DECIMAL(38, s).
    """

    def finish(grouped: pa.Table) -> pa.ChunkedArray:
        count = grouped.column(count_output).cast(pa.float64(), safe=False)
        total = grouped.column(sum_output)
        if scale is None:
            return pc.divide(cast_value(total, pa.float64()), count)
        # A sum beyond 2**53 rounds to the nearest DOUBLE before the division.
        total = total.cast(pa.float64(), safe=False)
        # A group without values has a NULL sum, so its average is NULL too.
        return pc.divide(total, pc.multiply(count, float(10**scale)))

    return finish


def _native_request(call: plan.AggregateCall, column: str) -> tuple[tuple[Any, ...], str]:
    if call.function == "count_star":
        return ([], "count_all", None), "count_all"
    if call.function == "count":
        function = "count_distinct" if call.distinct else "count"
        return (column, function, pc.CountOptions("only_valid")), f"{column}_{function}"
    if call.function == "total":
        options = pc.ScalarAggregateOptions(skip_nulls=True, min_count=0)
        return (column, "sum", options), f"{column}_sum"
    function = _ARROW_FUNCTIONS[call.function]
    if function in ("stddev", "variance"):
        ddof = 1 if call.function.endswith("samp") else 0
        options: Any = pc.VarianceOptions(ddof=ddof, skip_nulls=True, min_count=1)
    else:
        options = pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)
    return (column, function, options), f"{column}_{function}"


def _native_argument(call: plan.AggregateCall, arguments: _Arguments) -> tuple[pa.ChunkedArray, str]:
    """Return the column to aggregate and what it holds.

    SUM and AVG of a decimal get "units", the int64 counts of 10**-scale, or else "decimal",
    the values as DECIMAL(38, scale). Other arguments are converted for their function,
    whose name is returned.
    """
    array = arguments.column(call.argument)
    value_type = array.type
    if call.function in ("sum", "avg") and pa.types.is_decimal128(value_type):
        units = arguments.units(call.argument)
        if units is not None and _sum_fits_int64(units):
            # Summed as int64 counts of 10**-scale, about ten times faster than decimal128.
            # The sum is exact because no sum of these values can leave the int64 range.
            return units, "units"
        # A sum needs more digits than its inputs; DuckDB also widens SUM(DECIMAL) to 38.
        return array.cast(pa.decimal128(38, value_type.scale)), "decimal"
    return _converted_argument(call, array), call.function


def _converted_argument(call: plan.AggregateCall, array: pa.ChunkedArray) -> pa.ChunkedArray:
    value_type = array.type
    function = call.function
    if function == "sum":
        if pa.types.is_decimal(value_type):
            # A sum needs more digits than its inputs; DuckDB also widens SUM(DECIMAL) to 38.
            return array.cast(pa.decimal128(38, value_type.scale))
        if pa.types.is_integer(value_type) or pa.types.is_boolean(value_type):
            return array.cast(pa.int64())
        if pa.types.is_floating(value_type):
            return array
        raise ExecutionError(f"SUM needs a numeric argument, not `{value_type}`")
    if function == "total":
        return cast_value(array, pa.float64())
    if function in ("avg", "stddev_samp", "stddev_pop", "var_samp", "var_pop"):
        if pa.types.is_floating(value_type):
            return array.cast(pa.float64(), safe=False)
        if pa.types.is_integer(value_type) or pa.types.is_decimal(value_type):
            return cast_value(array, pa.float64())
        raise ExecutionError(f"{function.upper()} needs a numeric argument, not `{value_type}`")
    if function in ("bool_and", "bool_or"):
        if not pa.types.is_boolean(value_type):
            return cast_value(array, pa.bool_())
    return array


def _sum_fits_int64(units: pa.ChunkedArray) -> bool:
    return _largest_magnitude(units) * max(len(units), 1) < 2**62


def _native_result(call: plan.AggregateCall, array: pa.ChunkedArray) -> pa.ChunkedArray:
    if call.function in ("count", "count_star"):
        return array.cast(pa.int64())
    if call.function == "total":
        return pc.fill_null(array, 0.0)
    return array


def _check_integer_sums(sums: list[tuple[plan.AggregateCall, str]], work: pa.Table, keys: list[str]) -> None:
    """Raise when an integer SUM left the BIGINT range, instead of returning a wrapped value.

    `sums` pairs each SUM over integers with the int64 column of `work` that it sums.
    """
    for call, column in sums:
        largest_value = pc.max(pc.abs(work.column(column).cast(pa.float64(), safe=False))).as_py() or 0.0
        if largest_value * max(work.num_rows, 1) < _INT64_LIMIT / 2:
            continue  # no group can reach the BIGINT limit
        as_float = work.select(keys).append_column(column, work.column(column).cast(pa.float64(), safe=False))
        totals = as_float.group_by(keys).aggregate([(column, "sum")]).column(f"{column}_sum")
        largest = pc.max(pc.abs(totals)).as_py()
        if largest is not None and largest >= _INT64_LIMIT * (1 - 1e-9):
            # A DOUBLE total this close to the limit may be rounded: sum exactly to decide.
            largest = _largest_exact_sum(work.select(keys).append_column(column, work.column(column)), keys, column)
        if largest is not None and largest >= _INT64_LIMIT:
            raise ExecutionError(
                f"integer overflow: SUM({call.argument}) exceeds the BIGINT range; "
                "CAST the argument to DECIMAL(38, 0) or DOUBLE"
            )


def _check_decimal_sums(sums: list[tuple[plan.AggregateCall, str]], work: pa.Table, keys: list[str]) -> None:
    """Raise when a sum of DECIMAL(38, s) values needs more than 38 digits.

    Arrow adds decimal128 values without an overflow check, so such a sum wraps around, where
    DuckDB raises. Only when the largest value times the row count reaches 10**38 are the
    groups summed exactly to decide.
    """
    for call, column in sums:
        values = work.column(column)
        extremes = pc.min_max(values)
        if extremes["min"].as_py() is None:
            continue
        with decimal.localcontext() as context:
            context.prec = 100
            largest = max(abs(extremes["min"].as_py()), abs(extremes["max"].as_py()))
            largest_units = int(largest.scaleb(values.type.scale))
        if largest_units * max(work.num_rows, 1) < _DECIMAL_LIMIT:
            continue  # no group can need more than 38 digits
        if any(abs(total) >= _DECIMAL_LIMIT for total in _exact_decimal_sums(values, work.select(keys), keys)):
            raise ExecutionError(
                f"decimal overflow: the sum in {call.function.upper()}({call.argument}) needs more "
                "than 38 digits; CAST the argument to DOUBLE"
            )


def _exact_decimal_sums(values: pa.ChunkedArray, key_table: pa.Table, keys: list[str]) -> list[int]:
    """Return each group's exact sum of decimal128 values, in units of 10**-scale.

    Each 128-bit value is a signed high word times 2**64 plus an unsigned low word, and the
    sums of the two words separately stay far inside DECIMAL(38, 0).
    """
    highs, lows = [], []
    for chunk in values.chunks:
        words = np.frombuffer(chunk.buffers()[1], dtype="<i8", count=2 * len(chunk), offset=16 * chunk.offset)
        words = words.reshape(len(chunk), 2)
        lows.append(words[:, 0].view(np.uint64))
        highs.append(words[:, 1])
    valid = pc.is_valid(values)
    wide = pa.decimal128(38, 0)
    high = pc.if_else(valid, pa.array(np.concatenate(highs)).cast(wide), pa.scalar(None, wide))
    low = pc.if_else(valid, pa.array(np.concatenate(lows)).cast(wide), pa.scalar(None, wide))
    if keys:
        parts = key_table.append_column("__high", high).append_column("__low", low)
        grouped = parts.group_by(keys, use_threads=False).aggregate([("__high", "sum"), ("__low", "sum")])
        high_sums, low_sums = grouped.column("__high_sum").to_pylist(), grouped.column("__low_sum").to_pylist()
    else:
        high_sums, low_sums = [pc.sum(high).as_py()], [pc.sum(low).as_py()]
    return [int(high) * 2**64 + int(low) for high, low in zip(high_sums, low_sums) if high is not None]


def _largest_exact_sum(work: pa.Table, keys: list[str], column: str) -> int:
    totals: dict[tuple[Any, ...], int] = {}
    key_columns = [work.column(key).to_pylist() for key in keys]
    for position, value in enumerate(work.column(column).to_pylist()):
        if value is None:
            continue
        group = tuple(values[position] for values in key_columns)
        totals[group] = totals.get(group, 0) + value
    largest = max((abs(total) for total in totals.values()), default=0)
    # -2**63 itself fits in BIGINT.
    return largest if not any(total == -(2**63) for total in totals.values()) or largest > 2**63 else 0


# Aggregates by group id -----------------------------------------------------------------------


def _group_ids(table: pa.Table, keys: list[str]) -> tuple[np.ndarray, int, np.ndarray]:
    """Number the groups 0..G-1 in order of first appearance; no keys means one group."""
    count = table.num_rows
    if not keys:
        return np.zeros(count, dtype=np.int64), 1, np.zeros(1 if count else 0, dtype=np.int64)
    rows = pa.array(np.arange(count), pa.int64())
    firsts = (
        table.select(keys)
        .append_column("__row", rows)
        .group_by(keys, use_threads=False)
        .aggregate([("__row", "min")])
    )
    first_rows = firsts.column("__row_min").to_numpy()
    order = np.argsort(first_rows, kind="stable")
    first_rows = first_rows[order]
    # Map each row to its group through the group's first row, matching keys with NULL = NULL.
    lookup = table.select(keys).take(pa.array(first_rows)).append_column(
        "__group", pa.array(np.arange(len(first_rows)), pa.int64())
    )
    group = _null_safe_lookup(table.select(keys), lookup, keys)
    return group, len(first_rows), first_rows


def _null_safe_lookup(rows: pa.Table, lookup: pa.Table, keys: list[str]) -> np.ndarray:
    # Arrow joins never match NULL keys, so each key gets a "was NULL" flag and a filled value.
    def encode(table: pa.Table) -> pa.Table:
        columns = {}
        for key in keys:
            values = table.column(key)
            columns[f"{key}__null"] = pc.is_null(values)
            filler = _filler(values.type)
            columns[key] = pc.fill_null(values, filler) if filler is not None else values
        return pa.table(columns)

    left = encode(rows).append_column("__position", pa.array(np.arange(rows.num_rows), pa.int64()))
    right = encode(lookup.select(keys)).append_column("__group", lookup.column("__group"))
    join_keys = [name for key in keys for name in (key, f"{key}__null")]
    joined = left.join(right, keys=join_keys, join_type="inner", use_threads=True)
    group = np.empty(rows.num_rows, dtype=np.int64)
    group[joined.column("__position").to_numpy()] = joined.column("__group").to_numpy()
    return group


def _filler(value_type: pa.DataType) -> Any:
    if pa.types.is_null(value_type):
        return None
    try:
        return pa.scalar(pa.array([0]).cast(value_type)[0].as_py(), value_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if pa.types.is_string(value_type) or pa.types.is_large_string(value_type):
        return pa.scalar("", value_type)
    if pa.types.is_binary(value_type) or pa.types.is_large_binary(value_type):
        return pa.scalar(b"", value_type)
    if pa.types.is_date(value_type) or pa.types.is_timestamp(value_type):
        return pa.scalar(0, pa.int64()).cast(value_type)
    return None


def _aggregate_by_group_id(table: pa.Table, node: plan.Aggregate, arguments: _Arguments) -> pa.Table:
    group, group_count, first_rows = _group_ids(table, node.keys)
    columns: dict[str, Any] = {}
    for key in node.keys:
        columns[key] = table.column(key).take(pa.array(first_rows, pa.int64()))

    native = [(i, c) for i, c in enumerate(node.aggregates) if _is_native(c)]
    native_results: dict[int, pa.Array] = {}
    if native:
        with_group = arguments.extended(table.append_column("__group", pa.array(group, pa.int64())))
        requests = _native_requests(with_group, ["__group"], native)
        grouped = requests.work.group_by(["__group"], use_threads=True).aggregate(requests.requests)
        requests.check_sums(["__group"])
        positions = grouped.column("__group").to_numpy()
        for (index, call), finish in zip(native, requests.finishers):
            native_results[index] = _scatter(finish(grouped), positions, group_count, call)

    for index, (name, call) in enumerate(zip(node.columns[len(node.keys) :], node.aggregates)):
        if index in native_results:
            columns[name] = native_results[index]
        else:
            columns[name] = _special(call, table, group, group_count)
    if not columns:
        return pa.table({"__rows": pa.nulls(group_count)}).drop_columns(["__rows"])
    return pa.table(columns)


def _scatter(values: pa.ChunkedArray, positions: np.ndarray, size: int, call: plan.AggregateCall) -> pa.Array:
    """Place per-group results at their group ids; groups without a row get COUNT 0 or NULL."""
    inverse = np.full(size, -1, dtype=np.int64)
    inverse[positions] = np.arange(len(positions))
    taken = values.combine_chunks().take(pa.array(np.maximum(inverse, 0)) if len(values) else pa.array([], pa.int64()))
    if len(values) == 0:
        taken = pa.nulls(size, values.type)
    missing = pa.array(inverse < 0)
    fill = pa.scalar(0, values.type) if call.function in ("count", "count_star") else pa.scalar(None, values.type)
    return pc.if_else(missing, fill, taken)


def _special(call: plan.AggregateCall, table: pa.Table, group: np.ndarray, size: int) -> pa.Array:
    if call.function in ("median", "percentile_cont", "percentile_disc"):
        return _percentile(call, table, group, size)
    if call.function == "string_agg":
        return _string_agg(call, table, group, size)
    if call.function in ("corr", "covar_samp", "covar_pop"):
        return _covariance(call, table, group, size)
    if call.function == "single_value":
        counts = np.bincount(group, minlength=size)
        if len(counts) and counts.max() > 1:
            raise ExecutionError(
                f"a scalar subquery returned {int(counts.max())} rows for one outer row; it must "
                "return at most one"
            )
        values = table.column(call.argument).combine_chunks()
        positions = np.full(size, -1, dtype=np.int64)
        positions[group] = np.arange(len(group))
        taken = values.take(pa.array(np.maximum(positions, 0))) if len(values) else pa.nulls(size, values.type)
        return pc.if_else(pa.array(positions < 0), pa.scalar(None, values.type), taken)
    if call.function == "count":
        return _count_distinct_rows(call.options["arguments"], table, group, size)
    if call.function in ("sum", "avg", "total") and call.distinct:
        result = _distinct_sum(call, table, group, size)
        return pc.fill_null(result, 0.0) if call.function == "total" else result
    if call.function in _BITWISE_REDUCTIONS:
        return _bitwise_aggregate(call, table, group, size)
    raise UnsupportedError(f"aggregate `{call.sql()}` is not supported on this engine")


def _covariance(
    call: plan.AggregateCall, table: pa.Table, group: np.ndarray, size: int
) -> pa.Array:
    """Compute CORR, COVAR_SAMP or COVAR_POP per group over the pairs without a NULL.

    Two passes, with the means first, keep the rounding error small. As in DuckDB 2.0, a group
    without pairs gives NULL, COVAR_SAMP of one pair gives NULL, and CORR with a zero variance
    gives NaN.
    """
    y_name, x_name = call.options["arguments"]
    values = []
    for name in (y_name, x_name):
        column = table.column(name)
        kind = column.type
        numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
        numeric = numeric or pa.types.is_decimal(kind)
        if not numeric:
            raise ExecutionError(
                f"{call.function.upper()} needs numeric arguments, not `{column.type}`"
            )
        values.append(cast_value(column, pa.float64()))
    valid = pc.and_(pc.is_valid(values[0]), pc.is_valid(values[1])).to_numpy(zero_copy_only=False)
    y, x = (pc.fill_null(value, 0.0).to_numpy()[valid] for value in values)
    groups = group[valid]
    count = np.bincount(groups, minlength=size).astype(np.float64)
    with np.errstate(all="ignore"):
        dx = x - (np.bincount(groups, x, size) / count)[groups]
        dy = y - (np.bincount(groups, y, size) / count)[groups]
        comoment = np.bincount(groups, dx * dy, size)
        if call.function == "covar_pop":
            result, missing = comoment / count, count == 0
        elif call.function == "covar_samp":
            result, missing = comoment / (count - 1), count < 2
        else:
            spread_x = np.sqrt(np.bincount(groups, dx * dx, size))
            spread_y = np.sqrt(np.bincount(groups, dy * dy, size))
            spread = spread_x * spread_y
            # Rounding can put a perfect correlation just past 1, which DuckDB never returns.
            result, missing = np.clip(comoment / spread, -1.0, 1.0), count == 0
    return pa.array(result, pa.float64(), mask=missing)


def _percentile(call: plan.AggregateCall, table: pa.Table, group: np.ndarray, size: int) -> pa.Array:
    values = table.column(call.argument)
    continuous = call.function in ("median", "percentile_cont")
    fraction = 0.5 if call.function == "median" else call.options["fraction"]
    descending = call.options.get("descending", False)
    if continuous and not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type) or pa.types.is_decimal(values.type)):
        raise ExecutionError(f"{call.function.upper()} needs a numeric argument, not `{values.type}`")

    work = pa.table({"g": pa.array(group, pa.int64()), "v": values})
    work = work.filter(pc.is_valid(work.column("v")))
    order = sort_indices(work, [plan.SortKey("g"), plan.SortKey("v", descending=descending)])
    work = work.take(order)
    groups = work.column("g").to_numpy()
    starts = np.searchsorted(groups, np.arange(size), side="left")
    counts = np.searchsorted(groups, np.arange(size), side="right") - starts

    if continuous:
        numbers = work.column("v").cast(pa.float64(), safe=False).to_numpy()
        results: list[Any] = []
        for start, count in zip(starts, counts):
            if count == 0:
                results.append(None)
                continue
            position = fraction * (count - 1)
            low, high = math.floor(position), math.ceil(position)
            low_value, high_value = numbers[start + low], numbers[start + high]
            results.append(float(low_value + (high_value - low_value) * (position - low)))
        return pa.array(results, pa.float64())

    picks = []
    for start, count in zip(starts, counts):
        picks.append(None if count == 0 else int(start + max(math.ceil(fraction * count) - 1, 0)))
    column = work.column("v").combine_chunks()
    taken = column.take(pa.array([p if p is not None else 0 for p in picks], pa.int64())) if len(column) else pa.nulls(size, column.type)
    return pc.if_else(pa.array([p is None for p in picks]), pa.scalar(None, column.type), taken)


def _string_agg(call: plan.AggregateCall, table: pa.Table, group: np.ndarray, size: int) -> pa.Array:
    values = cast_value(table.column(call.argument), pa.large_string())
    work = pa.table({"g": pa.array(group, pa.int64()), "v": values})
    keys = [plan.SortKey("g")]
    for position, key in enumerate(call.options.get("order_by") or []):
        work = work.append_column(f"o{position}", table.column(key.column))
        keys.append(plan.SortKey(f"o{position}", key.descending, key.nulls_first))
    work = work.take(sort_indices(work, keys)).select(["g", "v"])
    work = work.filter(pc.is_valid(work.column("v")))
    if call.distinct:
        work = work.group_by(["g", "v"], use_threads=False).aggregate([])
    lists = work.group_by(["g"], use_threads=False).aggregate([("v", "list")])
    joined = pc.binary_join(lists.column("v_list"), pa.scalar(call.options["separator"], pa.large_string()))
    return _scatter(joined, lists.column("g").to_numpy(), size, call)


def _count_distinct_rows(arguments: list[str], table: pa.Table, group: np.ndarray, size: int) -> pa.Array:
    # COUNT(DISTINCT a, b) counts distinct rows in which no argument is NULL.
    work = table.select(arguments).append_column("__group", pa.array(group, pa.int64()))
    mask = None
    for name in arguments:
        valid = pc.is_valid(work.column(name))
        mask = valid if mask is None else pc.and_(mask, valid)
    work = work.filter(mask)
    distinct = work.group_by(["__group", *arguments], use_threads=False).aggregate([])
    counts = np.bincount(distinct.column("__group").to_numpy(), minlength=size)
    return pa.array(counts, pa.int64())


def _distinct_sum(call: plan.AggregateCall, table: pa.Table, group: np.ndarray, size: int) -> pa.Array:
    work = pa.table({"__group": pa.array(group, pa.int64()), "v": table.column(call.argument)})
    work = work.filter(pc.is_valid(work.column("v")))
    distinct = work.group_by(["__group", "v"], use_threads=False).aggregate([])
    plain = plan.AggregateCall(call.function, "v")
    requests = _native_requests(_Arguments(distinct, {}), ["__group"], [(0, plain)])
    grouped = requests.work.group_by(["__group"]).aggregate(requests.requests)
    requests.check_sums(["__group"])
    return _scatter(requests.finishers[0](grouped), grouped.column("__group").to_numpy(), size, call)


# BIT_AND, BIT_OR and BIT_XOR of integers.
_BITWISE_REDUCTIONS = {
    "bit_and": np.bitwise_and,
    "bit_or": np.bitwise_or,
    "bit_xor": np.bitwise_xor,
}


def _bitwise_aggregate(
    call: plan.AggregateCall, table: pa.Table, group: np.ndarray, size: int
) -> pa.Array:
    """Compute BIT_AND, BIT_OR or BIT_XOR per group, of integers or of BIT strings.

    NULLs are skipped and a group without values gives NULL. An integer result keeps the
    argument's type, as in DuckDB.
    """
    values = table.column(call.argument)
    if call.distinct:
        pairs = pa.table({"g": pa.array(group, pa.int64()), "v": values})
        pairs = pairs.group_by(["g", "v"], use_threads=False).aggregate([])
        values, group = pairs.column("v"), pairs.column("g").to_numpy()
    if is_bit(values.type):
        return aggregate_bits(call.function.removeprefix("bit_"), values, group, size)
    if pa.types.is_null(values.type):
        return pa.nulls(size)
    if not pa.types.is_integer(values.type):
        raise ExecutionError(
            f"{call.function.upper()} needs an integer or BIT argument, not `{values.type}`"
        )

    valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
    numbers = pc.fill_null(values, 0).to_numpy(zero_copy_only=False)[valid]
    groups = group[valid]
    order = np.argsort(groups, kind="stable")
    numbers, groups = numbers[order], groups[order]
    result = np.zeros(size, dtype=numbers.dtype)
    present = np.zeros(size, dtype=bool)
    if len(groups):
        starts = np.flatnonzero(np.diff(groups, prepend=-1) != 0)
        result[groups[starts]] = _BITWISE_REDUCTIONS[call.function].reduceat(numbers, starts)
        present[groups[starts]] = True
    return pa.array(result, values.type, mask=~present)
