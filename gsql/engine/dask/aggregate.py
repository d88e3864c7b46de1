"""GROUP BY: partial aggregates that combine, or whole groups brought together.

Most aggregates combine exactly from per-partition results: COUNT, SUM, AVG, MIN, MAX,
BOOL_AND, BOOL_OR, ANY_VALUE and COUNT of one DISTINCT column. For those, each partition
groups its rows with Arrow and computes partials with SQL's NULL rules (NULL keys form one
group, COUNT skips NULL, and SUM of no values is NULL). A hash shuffle on the keys brings the
partials of each group into one partition, which combines them: counts and sums add up, MIN
and MAX take theirs, and AVG is the sum divided by the count. Without keys the partials go to
one partition, so the result has one row even over an empty input. COUNT(DISTINCT x)
deduplicates the (keys, x) pairs with dask's `drop_duplicates` first and adds their counts to
the same shuffle as extra partial rows.

Other aggregates need every row of a group at once: STDDEV, VARIANCE, MEDIAN, the
percentiles, STRING_AGG, SUM and AVG of DISTINCT values, and COUNT of several DISTINCT
columns. For those, a hash shuffle on the keys moves the input rows instead, and each
partition runs the pandas engine's aggregate. Without keys all rows go to one partition.

On the dask-cuda engine the partials would be computed on host copies of the partitions, so
an aggregate that the cudf engine runs on the GPU takes the whole-groups path instead, and
each partition runs the cudf engine's aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gsql.engine.arrow_kernels import cast_value
from gsql.engine.dask.partitionwise import (
    arrow_type,
    concat,
    device_partitions,
    drop_duplicates,
    logical_meta,
    map_pandas,
    map_partitions,
    shuffle,
    single_partition,
)
from gsql.engine.pandas_backend import frame_from_table, table_from_frame
from gsql.errors import ExecutionError
from gsql.sql import plan

if TYPE_CHECKING:
    from gsql.engine.dask.backend import DaskBackend

__all__ = ["aggregate"]

_INT64_LIMIT = 2.0**63
_SKIP_NULLS = pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)
_VALID_ONLY = pc.CountOptions("only_valid")

# The Arrow hash aggregate that both computes the partials of these functions and combines them.
_SAME_FUNCTION = {
    "min": "min",
    "max": "max",
    "bool_and": "all",
    "bool_or": "any",
    "any_value": "min",
}

_HOST_PARTIALS = "partial aggregates are computed and combined by the Arrow kernels on the host"

# The source of the partial column that COUNT(DISTINCT x) fills from deduplicated pairs.
_DISTINCT = "__distinct"


@dataclass(frozen=True)
class _Partial:
    """One column of the partial aggregates.

    Attributes:
        column: the column name in the partial frame.
        source: the work column that a partition aggregates; None counts rows.
        function: the Arrow hash aggregate over a partition's rows.
        combine: the Arrow hash aggregate over the partials of one group.
    """

    column: str
    source: str | None
    function: str
    combine: str


def aggregate(
    backend: DaskBackend, node: plan.Aggregate, inputs: list[dd.DataFrame]
) -> dd.DataFrame:
    frame = inputs[0]
    device = device_partitions()
    if device is not None and device.runs_on_device(node):
        # NOTE: without GROUP BY keys this moves every row into one partition, on one GPU.
        return _aggregate_whole_groups(backend, node, frame)
    if not all(_combines(call) for call in node.aggregates):
        return _aggregate_whole_groups(backend, node, frame)
    if any(
        call.function == "max" and pa.types.is_floating(arrow_type(frame, call.argument))
        for call in node.aggregates
    ):
        # Arrow's max skips NaN in partials and in their combination, but SQL's MAX is NaN when
        # a group has one. The pandas engine's aggregate over whole groups gets that right.
        return _aggregate_whole_groups(backend, node, frame)

    integer_sums = {
        index
        for index, call in enumerate(node.aggregates)
        if call.function == "sum" and _is_integer_like(arrow_type(frame, call.argument))
    }
    partials = _plan_partials(node.aggregates, integer_sums)
    main_partials = [partial for partial in partials if partial.source != _DISTINCT]
    pieces = [_partial_frame(frame, node, main_partials)]
    for index, call in enumerate(node.aggregates):
        if call.function == "count" and call.distinct:
            pieces.append(_distinct_counts(frame, node, index))

    meta = _partials_meta(logical_meta(pieces[0]), node.keys, partials)
    pieces = [
        map_partitions(piece, _conform, meta=meta, reason=_HOST_PARTIALS, template=meta)
        for piece in pieces
    ]
    combined = concat(pieces) if len(pieces) > 1 else pieces[0]
    if node.keys:
        combined = shuffle(combined, list(node.keys), frame.npartitions)
    else:
        combined = single_partition(combined)

    options = {
        "keys": list(node.keys),
        "calls": list(node.aggregates),
        "partials": partials,
        "names": list(node.columns),
    }
    result_meta = _combine_partials(logical_meta(combined), **options)
    return map_partitions(
        combined, _combine_partials, meta=result_meta, reason=_HOST_PARTIALS, **options
    )


def _combines(call: plan.AggregateCall) -> bool:
    """Return whether the aggregate's per-partition results combine into the exact result."""
    if call.function == "count_star":
        return True
    if call.function == "count":
        return "arguments" not in call.options
    if call.function in ("sum", "avg"):
        return not call.distinct
    return call.function in _SAME_FUNCTION


def _aggregate_whole_groups(
    backend: DaskBackend, node: plan.Aggregate, frame: dd.DataFrame
) -> dd.DataFrame:
    if node.keys:
        frame = shuffle(frame, list(node.keys))
    else:
        frame = single_partition(frame)
    return map_pandas(frame, node, backend.dialect)


def _is_integer_like(arrow: pa.DataType) -> bool:
    return pa.types.is_integer(arrow) or pa.types.is_boolean(arrow)


def _plan_partials(calls: list[plan.AggregateCall], integer_sums: set[int]) -> list[_Partial]:
    partials: list[_Partial] = []
    for index, call in enumerate(calls):
        argument = f"__arg{index}"
        if call.function == "count_star":
            partials.append(_Partial(f"__n{index}", None, "count_all", "sum"))
        elif call.function == "count":
            source = _DISTINCT if call.distinct else argument
            partials.append(_Partial(f"__n{index}", source, "count", "sum"))
        elif call.function == "sum":
            partials.append(_Partial(f"__s{index}", argument, "sum", "sum"))
            if index in integer_sums:
                # A float sum next to the integer one detects a total outside the BIGINT range.
                partials.append(_Partial(f"__f{index}", f"__float{index}", "sum", "sum"))
        elif call.function == "avg":
            partials.append(_Partial(f"__s{index}", argument, "sum", "sum"))
            partials.append(_Partial(f"__n{index}", argument, "count", "sum"))
        else:
            function = _SAME_FUNCTION[call.function]
            partials.append(_Partial(f"__m{index}", argument, function, function))
    return partials


def _partial_frame(
    frame: dd.DataFrame, node: plan.Aggregate, partials: list[_Partial]
) -> dd.DataFrame:
    options = {"keys": list(node.keys), "calls": list(node.aggregates), "partials": partials}
    meta = _aggregate_partition(logical_meta(frame), **options)
    return map_partitions(frame, _aggregate_partition, meta=meta, reason=_HOST_PARTIALS, **options)


def _distinct_counts(frame: dd.DataFrame, node: plan.Aggregate, index: int) -> dd.DataFrame:
    """Count the distinct non-NULL values of one COUNT(DISTINCT) argument per group, as partials."""
    keys = list(node.keys)
    argument = node.aggregates[index].argument
    pairs_meta = _distinct_pairs(logical_meta(frame), keys, argument)
    pairs = map_partitions(
        frame,
        _distinct_pairs,
        meta=pairs_meta,
        reason=_HOST_PARTIALS,
        keys=keys,
        argument=argument,
    )
    pairs = drop_duplicates(pairs)

    options = {
        "keys": keys,
        "calls": [],
        "partials": [_Partial(f"__n{index}", None, "count_all", "sum")],
    }
    meta = _aggregate_partition(logical_meta(pairs), **options)
    return map_partitions(pairs, _aggregate_partition, meta=meta, reason=_HOST_PARTIALS, **options)


def _distinct_pairs(frame: pd.DataFrame, keys: list[str], argument: str) -> pd.DataFrame:
    pairs = frame[[*keys, argument]].set_axis([*keys, "__value"], axis=1)
    return pairs[pairs["__value"].notna()].reset_index(drop=True)


def _aggregate_partition(
    frame: pd.DataFrame, keys: list[str], calls: list[plan.AggregateCall], partials: list[_Partial]
) -> pd.DataFrame:
    """Group one partition by `keys` and compute the `partials`, as a task on the workers."""
    table = table_from_frame(frame)
    sources = {partial.source for partial in partials}
    work = table.select(keys)
    for index, call in enumerate(calls):
        if f"__arg{index}" not in sources:
            continue
        argument = _partial_argument(call, table.column(call.argument))
        work = work.append_column(f"__arg{index}", argument)
        if f"__float{index}" in sources:
            work = work.append_column(
                f"__float{index}", pc.cast(argument, pa.float64(), safe=False)
            )
    if work.num_columns == 0:
        work = pa.table({"__rows": pa.nulls(table.num_rows, pa.int8())})

    requests: dict[tuple[str | None, str], Any] = {}
    for partial in partials:
        requests[(partial.source, partial.function)] = _request(partial.source, partial.function)
    grouped = work.group_by(keys, use_threads=False).aggregate(list(requests.values()))

    columns = {key: grouped.column(key) for key in keys}
    for partial in partials:
        columns[partial.column] = grouped.column(_output_name(partial.source, partial.function))
    return frame_from_table(pa.table(columns))


def _partial_argument(call: plan.AggregateCall, array: pa.ChunkedArray) -> pa.ChunkedArray:
    """Cast an aggregate's argument to the type that its partials are computed in.

    The types match the pandas engine's results: SUM of DECIMAL(p, s) is DECIMAL(38, s) and SUM
    of integers is BIGINT, and AVG sums DOUBLE values. The type depends on the column type only,
    never on the values, so the partials of every partition have the same type.
    """
    value_type = array.type
    if call.function == "sum":
        if pa.types.is_decimal(value_type):
            return array.cast(pa.decimal128(38, value_type.scale))
        if pa.types.is_integer(value_type) or pa.types.is_boolean(value_type):
            return array.cast(pa.int64())
        if pa.types.is_floating(value_type):
            return array
        raise ExecutionError(f"SUM needs a numeric argument, not `{value_type}`")
    if call.function == "avg":
        numeric = pa.types.is_integer(value_type) or pa.types.is_decimal(value_type)
        if not (numeric or pa.types.is_floating(value_type)):
            raise ExecutionError(f"AVG needs a numeric argument, not `{value_type}`")
        return cast_value(array, pa.float64())
    if call.function in ("bool_and", "bool_or") and not pa.types.is_boolean(value_type):
        return cast_value(array, pa.bool_())
    return array


def _request(source: str | None, function: str) -> tuple[Any, ...]:
    if function == "count_all":
        return ([], "count_all", None)
    if function == "count":
        return (source, "count", _VALID_ONLY)
    return (source, function, _SKIP_NULLS)


def _output_name(source: str | None, function: str) -> str:
    return "count_all" if function == "count_all" else f"{source}_{function}"


def _partials_meta(main: pd.DataFrame, keys: list[str], partials: list[_Partial]) -> pd.DataFrame:
    """Return the empty frame of every partial column, the distinct counts included."""
    columns = {}
    for name in [*keys, *(partial.column for partial in partials)]:
        if name in main.columns:
            columns[name] = main[name]
        else:
            columns[name] = pd.Series([], dtype=pd.ArrowDtype(pa.int64()))
    return pd.DataFrame(columns)


def _conform(frame: pd.DataFrame, template: pd.DataFrame) -> pd.DataFrame:
    """Give a partial frame the columns of `template`: missing counts are 0, others NULL."""
    columns = {}
    for name in template.columns:
        if name in frame.columns:
            columns[name] = frame[name]
            continue
        if name.startswith("__n"):
            array = pa.array([0] * len(frame), pa.int64())
        else:
            array = pa.nulls(len(frame), arrow_type(template, name))
        columns[name] = pd.Series(
            pd.arrays.ArrowExtensionArray(array), index=frame.index, copy=False
        )
    return pd.DataFrame(columns, index=frame.index)


def _combine_partials(
    frame: pd.DataFrame,
    keys: list[str],
    calls: list[plan.AggregateCall],
    partials: list[_Partial],
    names: list[str],
) -> pd.DataFrame:
    """Combine the partials of the groups in one partition into the aggregate's output."""
    table = table_from_frame(frame)
    if table.num_columns == 0:
        table = pa.table({"__rows": pa.nulls(len(frame), pa.int8())})
    requests = [(partial.column, partial.combine, _SKIP_NULLS) for partial in partials]
    grouped = table.group_by(keys, use_threads=False).aggregate(requests)
    combines = {partial.column: partial.combine for partial in partials}

    def combined(column: str) -> pa.ChunkedArray:
        return grouped.column(f"{column}_{combines[column]}")

    columns = {key: grouped.column(key) for key in keys}
    for index, (name, call) in enumerate(zip(names[len(keys) :], calls)):
        if call.function in ("count", "count_star"):
            columns[name] = pc.fill_null(combined(f"__n{index}"), 0).cast(pa.int64())
        elif call.function == "sum":
            if f"__f{index}" in combines:
                _check_integer_sum(call, combined(f"__f{index}"))
            columns[name] = combined(f"__s{index}")
        elif call.function == "avg":
            count = combined(f"__n{index}").cast(pa.float64())
            # The sum is NULL exactly when the count is 0, so AVG of no values is NULL.
            columns[name] = pc.divide(combined(f"__s{index}"), count)
        else:
            columns[name] = combined(f"__m{index}")
    if not columns:
        return pd.DataFrame(index=pd.RangeIndex(grouped.num_rows))
    return frame_from_table(pa.table(columns))


def _check_integer_sum(call: plan.AggregateCall, float_total: pa.ChunkedArray) -> None:
    """Raise when an integer SUM left the BIGINT range, instead of returning a wrapped value."""
    if len(float_total) == 0:
        return
    largest = pc.max(pc.abs(float_total)).as_py()
    if largest is not None and largest >= _INT64_LIMIT:
        raise ExecutionError(
            f"integer overflow: SUM({call.argument}) exceeds the BIGINT range; "
            "CAST the argument to DECIMAL(38, 0) or DOUBLE"
        )
