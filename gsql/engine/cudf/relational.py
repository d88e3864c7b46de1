"""The native cuDF handlers of plan nodes, each with SQL's NULL rules made explicit.

Each handler takes GPU frames and returns `(cudf frame, host reasons)`: the reasons say which
expressions ran in the Arrow kernels on the host. The caller casts the frame to the node's
logical schema. A handler raises `DeviceUnsupported` for an input it cannot process, and the
node then runs on the host.

Where a handler differs from the pandas engine's, it is because cuDF's defaults differ from
SQL's: cuDF's merge matches NULL keys with each other (cuDF 26.10 joins with
`NullEquality.EQUAL`), its group-by reductions need explicit counts for NULL results, its
integer sums wrap on overflow, and its sort has no per-key NULL placement.

NOTE: no line of this module has run on a GPU. Its CPU tests use a pandas stand-in for cuDF.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from gsql.catalogs._files import expand_paths, partition_base_dir
from gsql.engine.arrow_kernels import common_type
from gsql.engine.cudf.expressions import DeviceEvaluator
from gsql.errors import ExecutionError
from gsql.sql import plan

if TYPE_CHECKING:
    from gsql.engine.cudf.backend import CudfBackend, DeviceFrame

__all__ = ["HANDLERS"]

Result = tuple[Any, list[str]]

_INT64_LIMIT = 2.0**63


def _unsupported(message: str) -> Exception:
    from gsql.engine.cudf.backend import DeviceUnsupported

    return DeviceUnsupported(message)


def _empty(backend: CudfBackend, rows: int) -> Any:
    return backend.cudf.DataFrame(index=backend.cudf.RangeIndex(rows))


# Scan -------------------------------------------------------------------------------------------


def scan(backend: CudfBackend, node: plan.Scan, inputs: list[DeviceFrame]) -> Result:
    """Read Parquet with cuDF's reader; read CSV and in-memory tables on the host and copy them.

    CSV goes through the catalog's pyarrow reader so that its options (NULL markers, dtype
    overrides, header handling) give exactly the pandas engine's values; `cudf.read_csv`
    infers types differently.
    """
    source = node.source
    if reads_parquet_on_device(node):
        try:
            frame = backend.cudf.read_parquet(expand_paths(source.paths, "parquet"), columns=list(dict.fromkeys(node.source_columns)))
        except (RuntimeError, OSError, ValueError) as error:
            # NOTE: a cuDF reader error (such as files with differing schemas) falls back to
            # pyarrow's reader, which takes the schema from the first file.
            raise _unsupported(f"cuDF could not read the Parquet files: {error}") from None
        columns = {alias: frame[name] for name, alias in zip(node.source_columns, node.columns)}
        return backend.cudf.DataFrame(columns), []

    table = source.read(columns=node.source_columns).rename_columns(node.columns)
    return backend.upload(table).frame, []


def reads_parquet_on_device(node: plan.Scan) -> bool:
    """Return whether cuDF's Parquet reader gives the scan's columns exactly as pyarrow would."""
    source = node.source
    if source.format != "parquet" or not node.source_columns or source.options.get("dtype"):
        return False
    hive = source.options.get("hive_partitioning", partition_base_dir(source.paths) is not None)
    if hive:
        return False
    schema = source.arrow_schema()
    return not any(
        pa.types.is_timestamp(schema.field(name).type) and schema.field(name).type.tz
        for name in node.source_columns
    )


# Filter and Project -----------------------------------------------------------------------------


def filter_(backend: CudfBackend, node: plan.Filter, inputs: list[DeviceFrame]) -> Result:
    """Keep the rows where the predicate is TRUE; NULL counts as not true."""
    source = inputs[0]
    evaluator = DeviceEvaluator(backend, source)
    mask = evaluator.evaluate(node.predicate)
    logical = evaluator.type_of(node.predicate)
    if isinstance(mask, pa.Scalar):
        keep = bool(mask.as_py()) if mask.is_valid else False
        return (source.frame if keep else source.frame.iloc[0:0]), evaluator.host_reasons
    if not pa.types.is_boolean(logical):
        raise _unsupported(f"a WHERE condition of type `{logical}`")
    keep = mask.fillna(False)
    if not source.schema.names:
        return _empty(backend, int(keep.sum())), evaluator.host_reasons
    return source.frame[keep], evaluator.host_reasons


def project(backend: CudfBackend, node: plan.Project, inputs: list[DeviceFrame]) -> Result:
    source = inputs[0]
    evaluator = DeviceEvaluator(backend, source)
    columns = {}
    for name, expression in zip(node.columns, node.expressions):
        value = evaluator.evaluate(expression)
        logical = evaluator.type_of(expression)
        columns[name] = evaluator.series(value, logical).reset_index(drop=True)
    if not columns:
        return _empty(backend, len(source)), evaluator.host_reasons
    return backend.cudf.DataFrame(columns), evaluator.host_reasons


# Aggregate --------------------------------------------------------------------------------------


def aggregate(backend: CudfBackend, node: plan.Aggregate, inputs: list[DeviceFrame]) -> Result:
    """Group with `dropna=False`, so NULL keys form one group, and apply SQL's NULL results.

    Every aggregate but COUNT is NULL for a group without a non-NULL value; the handler masks
    that with its own per-group count rather than rely on how cuDF fills such groups.
    """
    source = inputs[0]
    frame = source.frame
    keys = list(node.keys)
    if not keys and len(frame) == 0:
        raise _unsupported("an aggregate without GROUP BY over no rows (the host returns its one row)")

    work = {key: frame[key] for key in keys}
    if not keys:
        keys = ["__all"]
        work["__all"] = backend.cudf.Series(np.zeros(len(frame), dtype=np.int8))
    spec: dict[str, str] = {}
    finishers: list[Callable[[Any], Any]] = []
    for index, call in enumerate(node.aggregates):
        finishers.append(_prepare_call(backend, source, call, index, work, spec))

    grouped = backend.cudf.DataFrame(work).groupby(keys, dropna=False, sort=False, as_index=False).agg(spec)
    grouped = grouped.reset_index(drop=True)
    _check_integer_sums(node, grouped)

    output = {key: grouped[key] for key in node.keys}
    for name, finish in zip(node.columns[len(node.keys) :], finishers):
        output[name] = finish(grouped)
    if not output:
        return _empty(backend, len(grouped)), []
    return backend.cudf.DataFrame(output), []


def _prepare_call(
    backend: CudfBackend,
    source: DeviceFrame,
    call: plan.AggregateCall,
    index: int,
    work: dict[str, Any],
    spec: dict[str, str],
) -> Callable[[Any], Any]:
    """Add the columns one aggregate needs to `work` and `spec`; return how to read its result."""
    value, count, extra = f"__a{index}", f"__n{index}", f"__f{index}"
    if call.function == "count_star":
        work[value] = backend.cudf.Series(np.zeros(len(source), dtype=np.int8))
        spec[value] = "count"
        return lambda grouped: grouped[value]

    argument = source.frame[call.argument]
    logical = source.schema.field(call.argument).type
    work[count] = argument
    spec[count] = "count"
    if call.function == "count":
        # nunique skips NULLs, as COUNT(DISTINCT x) does.
        spec[count] = "nunique" if call.distinct else "count"
        return lambda grouped: grouped[count]

    numeric = pa.types.is_integer(logical) or pa.types.is_floating(logical) or pa.types.is_boolean(logical)
    decimal = pa.types.is_decimal(logical)
    function = call.function
    if function in ("sum", "avg", "stddev_samp", "stddev_pop", "var_samp", "var_pop") and not (numeric or decimal):
        raise _unsupported(f"{function.upper()} of `{logical}` values")
    if function in ("min", "max", "any_value") and pa.types.is_boolean(logical):
        raise _unsupported(f"{function.upper()} of BOOLEAN values")
    if function in ("min", "max") and pa.types.is_floating(logical):
        # SQL orders NaN above every number, so MAX is NaN when a group has one. cuDF's min
        # and max skip NaN instead, so the host runs these.
        raise _unsupported(f"{function.upper()} of floating-point values, which may hold NaN")

    if function == "sum":
        if pa.types.is_integer(logical) or pa.types.is_boolean(logical):
            work[value] = argument.astype("int64")
            # cuDF's integer sum wraps on overflow; a float sum beside it detects that.
            work[extra] = argument.astype("float64")
            spec[extra] = "sum"
        else:
            work[value] = argument
        spec[value] = "sum"
    elif function in ("avg", "stddev_samp", "stddev_pop", "var_samp", "var_pop"):
        work[value] = argument.astype("float64")
        spec[value] = "mean" if function == "avg" else "var"
    else:
        work[value] = argument
        spec[value] = "max" if function == "max" else "min"

    def finish(grouped: Any) -> Any:
        counts = grouped[count]
        result = grouped[value]
        if function in ("var_pop", "stddev_pop"):
            # cuDF's "var" has ddof=1; the population variance rescales it and is 0 for one value.
            scaled = result * ((counts - 1) / counts)
            result = scaled.where(counts > 1, 0.0)
        elif function in ("var_samp", "stddev_samp"):
            result = result.where(counts > 1)
        if function in ("stddev_samp", "stddev_pop"):
            result = result**0.5
        return result.where(counts > 0)

    return finish


def _check_integer_sums(node: plan.Aggregate, grouped: Any) -> None:
    for index, call in enumerate(node.aggregates):
        column = f"__f{index}"
        if call.function != "sum" or column not in grouped.columns:
            continue
        largest = grouped[column].abs().max()
        if largest is not None and not _is_missing(largest) and float(largest) >= _INT64_LIMIT:
            raise ExecutionError(
                f"integer overflow: SUM({call.argument}) exceeds the BIGINT range; "
                "CAST the argument to DECIMAL(38, 0) or DOUBLE"
            )


def _is_missing(value: Any) -> bool:
    try:
        return bool(np.isnan(value))
    except TypeError:
        return value is None or str(value) in ("<NA>", "nan")


# Join -------------------------------------------------------------------------------------------

_MERGE_KINDS = {"inner": "inner", "left": "left", "right": "right", "full": "outer"}


def join(backend: CudfBackend, node: plan.Join, inputs: list[DeviceFrame]) -> Result:
    """Join on equal keys; rows with a NULL key never match, and outer joins keep them padded."""
    left, right = inputs
    if not left.schema.names or not right.schema.names:
        raise _unsupported("a join with an input of no columns")
    if node.kind == "cross" or not node.left_keys:
        crossed = left.frame.merge(right.frame, how="cross")
        if node.residual is None:
            return crossed[node.columns], []
        if node.kind != "inner":
            raise _unsupported(f"a {node.kind.upper()} JOIN without equality keys")
        return _filter_residual(backend, node, crossed, left.schema, right.schema)

    left_frame, left_schema = _align_keys(backend, left, node.left_keys, right, node.right_keys)
    right_frame, right_schema = _align_keys(backend, right, node.right_keys, left, node.left_keys)
    left_valid = _keys_valid(left_frame, node.left_keys)
    right_valid = _keys_valid(right_frame, node.right_keys)

    # cuDF's merge matches NULL keys with each other; SQL never does, so they stay out.
    merged = left_frame[left_valid].merge(
        right_frame[right_valid],
        how=_MERGE_KINDS[node.kind],
        left_on=node.left_keys,
        right_on=node.right_keys,
    )[node.columns]
    parts = [merged]
    if node.kind in ("left", "full"):
        parts.append(_padded(backend, left_frame[~left_valid], right_schema, node.columns))
    if node.kind in ("right", "full"):
        parts.append(_padded(backend, right_frame[~right_valid], left_schema, node.columns))
    result = backend.cudf.concat([part.reset_index(drop=True) for part in parts], ignore_index=True)
    if node.residual is not None:
        return _filter_residual(backend, node, result, left_schema, right_schema)
    return result, []


def _align_keys(
    backend: CudfBackend, side: DeviceFrame, keys: list[str], other: DeviceFrame, other_keys: list[str]
) -> tuple[Any, pa.Schema]:
    """Cast key columns to the type they share with the other side's keys, as the pandas engine does."""
    frame = side.frame
    schema = side.schema
    for key, other_key in zip(keys, other_keys):
        own_type = schema.field(key).type
        other_type = other.schema.field(other_key).type
        if own_type == other_type:
            continue
        target = common_type([own_type, other_type])
        numeric = all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in (own_type, target))
        if not numeric:
            raise _unsupported(f"join keys of types `{own_type}` and `{other_type}`")
        if target != own_type:
            frame = frame.copy(deep=False)
            frame[key] = backend.conform_series(frame[key], target)
            schema = schema.set(schema.get_field_index(key), schema.field(key).with_type(target))
    return frame, schema


def _keys_valid(frame: Any, keys: list[str]) -> Any:
    valid = None
    for key in keys:
        present = frame[key].notna()
        valid = present if valid is None else valid & present
    return valid


def _padded(backend: CudfBackend, rows: Any, missing: pa.Schema, columns: list[str]) -> Any:
    """Return unmatched rows of one side with NULL columns for the other side."""
    rows = rows.reset_index(drop=True)
    for field in missing:
        rows[field.name] = backend.upload_array(pa.nulls(len(rows), field.type), field.type)
    return rows[columns]


def _filter_residual(
    backend: CudfBackend, node: plan.Join, frame: Any, left: pa.Schema, right: pa.Schema
) -> Result:
    from gsql.engine.cudf.backend import DeviceFrame

    schema = pa.schema(list(left) + list(right))
    joined = DeviceFrame(frame.reset_index(drop=True)[schema.names], schema)
    filtered, reasons = filter_(backend, plan.Filter(schema.names, predicate=node.residual), [joined])
    return filtered[node.columns], reasons


# Sort, Limit, Distinct, set operations ----------------------------------------------------------


def sort(backend: CudfBackend, node: plan.Sort, inputs: list[DeviceFrame]) -> Result:
    """Sort stably with each key's direction and NULL placement, and NaN above every number.

    cuDF's `na_position` applies to all keys at once, so each key gets a NULL flag column
    sorted before it, and a row-number key last makes the sort stable.
    """
    source = inputs[0]
    frame = source.frame
    if len(frame) < 2:
        return frame, []
    work = frame.copy(deep=False)
    by: list[str] = []
    ascending: list[bool] = []
    for position, key in enumerate(node.keys):
        values = frame[key.column]
        work[f"__null{position}"] = values.isna()
        by.append(f"__null{position}")
        ascending.append(not key.nulls_first)
        if pa.types.is_floating(source.schema.field(key.column).type):
            work[f"__nan{position}"] = (values != values).fillna(False)
            by.append(f"__nan{position}")
            ascending.append(not key.descending)
        work[f"__key{position}"] = values
        by.append(f"__key{position}")
        ascending.append(not key.descending)
    work["__row"] = backend.cudf.Series(np.arange(len(frame), dtype=np.int64))
    by.append("__row")
    ascending.append(True)
    ordered = work.sort_values(by=by, ascending=ascending, na_position="last")
    return ordered[list(frame.columns)], []


def limit(backend: CudfBackend, node: plan.Limit, inputs: list[DeviceFrame]) -> Result:
    frame = inputs[0].frame
    stop = None if node.limit is None else node.offset + node.limit
    return frame.iloc[node.offset : stop], []


def distinct(backend: CudfBackend, node: plan.Distinct, inputs: list[DeviceFrame]) -> Result:
    source = inputs[0]
    if not source.schema.names:
        return _empty(backend, min(len(source), 1)), []
    # drop_duplicates treats NULL as equal to NULL, as SELECT DISTINCT requires.
    return source.frame.drop_duplicates(ignore_index=True), []


def set_operation(backend: CudfBackend, node: plan.SetOperation, inputs: list[DeviceFrame]) -> Result:
    """UNION, INTERSECT and EXCEPT, with NULL equal to NULL as set operations require."""
    left, right = (_positional(backend, frame, node, other) for frame, other in ((inputs[0], inputs[1]), (inputs[1], inputs[0])))
    columns = list(node.columns)
    if not columns:
        raise _unsupported("a set operation of inputs without columns")
    if node.kind == "union":
        combined = backend.cudf.concat([left, right], ignore_index=True)
        return (combined if node.all else combined.drop_duplicates(ignore_index=True)), []

    if node.all:
        # INTERSECT ALL and EXCEPT ALL pair each row with its n-th duplicate on the other side.
        left = left.assign(__copy=left.groupby(columns, dropna=False, sort=False).cumcount())
        right = right.assign(__copy=right.groupby(columns, dropna=False, sort=False).cumcount())
        on = columns + ["__copy"]
    else:
        left = left.drop_duplicates(ignore_index=True)
        right = right.drop_duplicates(ignore_index=True)
        on = columns
    # NOTE: this relies on cuDF's merge matching NULL keys (cuDF 26.10 joins with
    # NullEquality.EQUAL), which set operations need.
    how = "leftsemi" if node.kind == "intersect" else "leftanti"
    return left.merge(right[on], on=on, how=how)[columns], []


def _positional(backend: CudfBackend, side: DeviceFrame, node: plan.SetOperation, other: DeviceFrame) -> Any:
    frame = side.frame.copy(deep=False)
    frame.columns = list(node.columns)
    for position, name in enumerate(node.columns):
        own_type = side.schema.field(position).type
        other_type = other.schema.field(position).type
        if own_type == other_type:
            continue
        target = common_type([own_type, other_type])
        if not all(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t) for t in (own_type, target)):
            raise _unsupported(f"set operation columns of types `{own_type}` and `{other_type}`")
        if pa.types.is_null(own_type):
            frame[name] = backend.upload_array(pa.nulls(len(frame), target), target)
        else:
            frame[name] = backend.conform_series(frame[name], target)
    return frame


HANDLERS: dict[type[plan.Node], Callable[..., Result]] = {
    plan.Scan: scan,
    plan.Filter: filter_,
    plan.Project: project,
    plan.Aggregate: aggregate,
    plan.Join: join,
    plan.Sort: sort,
    plan.Limit: limit,
    plan.Distinct: distinct,
    plan.SetOperation: set_operation,
}
"""The native handler of each class in `support.NATIVE_NODES`."""
