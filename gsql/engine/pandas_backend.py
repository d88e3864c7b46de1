"""The pandas engine: plan nodes over pandas DataFrames with Arrow-backed dtypes.

Every column is a `pd.ArrowDtype`, so each type can be NULL and strings stay Arrow strings, as
in cuDF. Expressions use the Arrow kernels of `arrow_kernels`. Group-by, join and sort convert
the frame to a `pyarrow.Table` without copying and use Arrow's own operators, which already
have SQL's NULL rules (one NULL group, NULL keys never match, SUM of no values is NULL) and run
on several threads. Distinct and set operations use pandas, whose NULL equals NULL there, as
SQL's set operations require.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import gsql.engine.arrow_functions  # noqa: F401  (registers the function kernels)
from gsql.engine.aggregate import aggregate_table
from gsql.engine.arrow_kernels import (
    Evaluator,
    Value,
    cast_value,
    common_type,
    compare_floats,
    set_operation_type,
)
from gsql.engine.backend import Backend
from gsql.engine.conjunction import passing_rows, predicate_mask, split_conjunction
from gsql.engine.decimals import known_units
from gsql.engine.frames import column_of, frame_from_table, map_columns, table_from_frame
from gsql.engine.sorting import sort_indices, top_indices
from gsql.engine.window import compute_window, output_order
from gsql.errors import ExecutionError
from gsql.sql import plan
from gsql.types import frame_arrow_type

__all__ = ["PandasBackend", "frame_from_table", "table_from_frame"]

def _evaluator(frame: pd.DataFrame, dialect: str) -> Evaluator:
    return Evaluator(lambda name: column_of(frame, name), len(frame), dialect)


def _series(value: Value, evaluator: Evaluator, index: pd.Index) -> pd.Series:
    array = evaluator.array(value)
    normalized = frame_arrow_type(array.type)
    if normalized != array.type:
        array = array.cast(normalized)
    return pd.Series(pd.arrays.ArrowExtensionArray(array), index=index, copy=False)


def _frame(columns: dict[str, pd.Series], length: int) -> pd.DataFrame:
    if not columns:
        return pd.DataFrame(index=pd.RangeIndex(length))
    return pd.DataFrame(columns, copy=False)


# Node handlers ------------------------------------------------------------------------------


def _scan(backend: PandasBackend, node: plan.Scan, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    table = node.source.read(columns=node.source_columns)
    table = table.rename_columns(node.columns)
    return frame_from_table(table)


def _values(backend: PandasBackend, node: plan.Values, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    length = len(node.rows)
    if not node.columns:
        return pd.DataFrame(index=pd.RangeIndex(length))
    evaluator = Evaluator(lambda name: pa.chunked_array([], pa.null()), 1, backend.dialect)
    cells = [[evaluator.evaluate(cell) for cell in row] for row in node.rows]
    columns = {}
    for position, name in enumerate(node.columns):
        values = [row[position] for row in cells]
        target = common_type([value.type for value in values])
        if pa.types.is_null(target):
            target = pa.int32()
        items = [cast_value(value, target, backend.dialect).as_py() for value in values]
        array = pa.chunked_array([pa.array(items, type=target)])
        columns[name] = pd.Series(pd.arrays.ArrowExtensionArray(array), copy=False)
    return _frame(columns, length)


def _filter(backend: PandasBackend, node: plan.Filter, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    frame = inputs[0]
    parts = split_conjunction(node.predicate)
    if len(parts) == 1:
        keep = predicate_mask(_evaluator(frame, backend.dialect), parts[0])
        if isinstance(keep, bool):
            return frame if keep else frame.iloc[0:0]
        # Arrow's filter is several times faster than pandas' boolean indexing on Arrow-backed
        # columns, and filtering column by column is much faster than `Table.filter` when the
        # columns are chunked differently from the mask (0.1 s against 1.4 s on 6M rows).
        return _select_rows(frame, lambda column: column.filter(keep), keep)
    rows = passing_rows(frame, parts, backend.dialect)
    if rows is None:
        return frame.iloc[0:0]
    if rows.count == len(frame):
        return frame
    if frame.columns.size == 0:
        return pd.DataFrame(index=pd.RangeIndex(rows.count))
    return frame_from_table(pa.table(rows.columns(list(frame.columns))))


def _select_rows(
    frame: pd.DataFrame,
    select: Callable[[pa.ChunkedArray], pa.ChunkedArray],
    keep: pa.ChunkedArray | pa.Array,
) -> pd.DataFrame:
    if frame.columns.size == 0:
        length = int(pc.sum(keep.cast(pa.int64())).as_py() or 0)
        return pd.DataFrame(index=pd.RangeIndex(length))
    table = table_from_frame(frame)
    columns = map_columns(lambda name: select(table.column(name)), table.column_names, len(frame))
    return frame_from_table(pa.table(columns))


def _project(backend: PandasBackend, node: plan.Project, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    frame = inputs[0]
    evaluator = _evaluator(frame, backend.dialect)
    columns = {}
    for name, expression in zip(node.columns, node.expressions):
        columns[name] = _series(evaluator.evaluate(expression), evaluator, frame.index)
    return _frame(columns, len(frame))


def _aggregate(backend: PandasBackend, node: plan.Aggregate, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    frame = inputs[0]
    table = table_from_frame(frame)
    return frame_from_table(aggregate_table(table, node, backend.dialect, _known_units(frame, node)))


def _known_units(frame: pd.DataFrame, node: plan.Aggregate) -> dict[str, pa.ChunkedArray]:
    """Return the int64 units that earlier decimal arithmetic left for the aggregated columns.

    A Project that computed a decimal column on int64 keeps those values with the exact array
    object it put in the frame, so SUM of that column need not convert it back.
    """
    units = {}
    for call in node.aggregates:
        if call.argument is None or call.argument in units or call.argument not in frame.columns:
            continue
        found = known_units(column_of(frame, call.argument))
        if found is not None:
            units[call.argument] = found
    return units


def _join(backend: PandasBackend, node: plan.Join, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    left, right = inputs
    if node.kind == "positional":
        return _positional_join(node, left, right)
    if node.kind == "cross" or (not node.left_keys and node.residual is None):
        result = _cross(left, right)
        return result[node.columns]
    if not node.left_keys:
        return _nested_loop_join(backend, node, left, right)
    if node.residual is not None and node.kind != "inner":
        return _outer_join_with_residual(backend, node, left, right)

    joined = _hash_join(node, table_from_frame(left), table_from_frame(right), node.kind)
    frame = frame_from_table(joined.select(node.columns))
    if node.residual is not None:
        frame = _filter(backend, plan.Filter(node.columns, predicate=node.residual), [frame])
    return frame


def _positional_join(node: plan.Join, left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Pair the n-th rows of both inputs; the shorter input is padded with NULLs."""
    rows = max(len(left), len(right))
    parts = []
    for frame in (left, right):
        table = table_from_frame(frame.reset_index(drop=True))
        if table.num_rows < rows:
            padding = pa.table({f.name: pa.nulls(rows - table.num_rows, f.type) for f in table.schema})
            table = pa.concat_tables([table, padding]) if table.num_columns else table
        parts.append(table)
    columns = {name: parts[0].column(name) for name in parts[0].column_names}
    columns.update({name: parts[1].column(name) for name in parts[1].column_names})
    if not columns:
        return pd.DataFrame(index=pd.RangeIndex(rows))
    return frame_from_table(pa.table(columns))[node.columns]


_JOIN_TYPES = {"inner": "inner", "left": "left outer", "right": "right outer", "full": "full outer"}


_SWAPPED_KINDS = {"inner": "inner", "left": "right", "right": "left", "full": "full"}

# The row numbers of the build side of a hash join.
_BUILD_ROW = "__build_row"


def _hash_join(node: plan.Join, left: pa.Table, right: pa.Table, kind: str) -> pa.Table:
    left, right = _align_key_types(node, left, right)
    if left.num_rows == 0 or right.num_rows == 0:
        return _join_with_empty(left, right, kind)
    left_keys, right_keys = node.left_keys, node.right_keys
    names = left.column_names + right.column_names
    # Arrow's hash join rejects columns of the null type outside the keys. Such a column
    # contains only NULLs, so it is dropped here and added back after the join.
    null_columns = [
        field.name
        for table, keys in ((left, left_keys), (right, right_keys))
        for field in table.schema
        if pa.types.is_null(field.type) and field.name not in keys
    ]
    left = left.drop_columns([name for name in null_columns if name in left.column_names])
    right = right.drop_columns([name for name in null_columns if name in right.column_names])
    if left.num_rows < right.num_rows:
        # Arrow builds its hash table on the right input, so the smaller input goes there.
        left, right = right, left
        left_keys, right_keys = right_keys, left_keys
        kind = _SWAPPED_KINDS[kind]
    if set(right.column_names) <= set(right_keys):
        joined = left.join(
            right,
            keys=left_keys,
            right_keys=right_keys,
            join_type=_JOIN_TYPES[kind],
            coalesce_keys=False,
            use_threads=True,
        )
    else:
        joined = _join_build_rows(left, right, left_keys, right_keys, kind)
    for name in null_columns:
        joined = joined.append_column(pa.field(name, pa.null()), pa.nulls(joined.num_rows))
    return joined.select(names)


def _join_build_rows(probe: pa.Table, build: pa.Table, probe_keys: list[str], build_keys: list[str], kind: str) -> pa.Table:
    """Join on the build side's keys and row numbers, then take its other columns by row.

    Arrow copies the build side's other columns into its hash table row by row, and back out
    for each match, which costs more than the join itself for wide or string columns. In TPC-H
    q09 at scale factor 1, the join of 319,404 rows of 13 columns with partsupp took 0.32 s of
    0.39 s that way, and 0.09 s joining row numbers and taking the columns after.
    """
    numbered = build.select(list(dict.fromkeys(build_keys)))
    numbered = numbered.append_column(_BUILD_ROW, pa.array(np.arange(build.num_rows), pa.int64()))
    joined = probe.join(
        numbered,
        keys=probe_keys,
        right_keys=build_keys,
        join_type=_JOIN_TYPES[kind],
        coalesce_keys=False,
        use_threads=True,
    )
    # A probe row without a match has a NULL row number, and `take` gives it NULLs.
    positions = joined.column(_BUILD_ROW)
    build_columns = map_columns(lambda name: build.column(name).take(positions), build.column_names, joined.num_rows)
    return pa.table({**{name: joined.column(name) for name in probe.column_names}, **build_columns})


def _join_with_empty(left: pa.Table, right: pa.Table, kind: str) -> pa.Table:
    """Join when one side is empty: Arrow's hash join rejects some empty inputs."""
    keep_left = kind in ("left", "full") and left.num_rows > 0
    keep_right = kind in ("right", "full") and right.num_rows > 0
    parts = []
    if keep_left:
        parts.append(_pad(left, right.schema, left_side=True))
    if keep_right:
        parts.append(_pad(right, left.schema, left_side=False))
    schema = pa.schema(list(left.schema) + list(right.schema))
    if not parts:
        return schema.empty_table()
    return pa.concat_tables(parts).select(schema.names)


def _pad(table: pa.Table, other: pa.Schema, left_side: bool) -> pa.Table:
    nulls = {field.name: pa.nulls(table.num_rows, field.type) for field in other}
    padded = table
    for name, array in nulls.items():
        padded = padded.append_column(name, array)
    return padded


def _align_key_types(node: plan.Join, left: pa.Table, right: pa.Table) -> tuple[pa.Table, pa.Table]:
    for left_key, right_key in zip(node.left_keys, node.right_keys):
        left_type = left.schema.field(left_key).type
        right_type = right.schema.field(right_key).type
        if left_type == right_type:
            continue
        target = common_type([left_type, right_type])
        left = left.set_column(left.schema.get_field_index(left_key), left_key, cast_value(left.column(left_key), target))
        right = right.set_column(right.schema.get_field_index(right_key), right_key, cast_value(right.column(right_key), target))
    return left, right


def _cross(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    if left.columns.size == 0 or right.columns.size == 0:
        left_rows = np.repeat(np.arange(len(left)), len(right))
        right_rows = np.tile(np.arange(len(right)), len(left))
        parts = [left.iloc[left_rows].reset_index(drop=True), right.iloc[right_rows].reset_index(drop=True)]
        return pd.concat(parts, axis=1)
    return left.merge(right, how="cross")


def _nested_loop_join(backend: PandasBackend, node: plan.Join, left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    if node.kind == "inner":
        crossed = _cross(left, right)
        return _filter(backend, plan.Filter(node.columns, predicate=node.residual), [crossed])[node.columns]
    return _outer_join_with_residual(backend, node, left, right)


def _outer_join_with_residual(backend: PandasBackend, node: plan.Join, left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Outer join whose ON clause has a non-equality part: match, filter, then add the unmatched rows."""
    left = left.assign(__left_row=pd.Series(np.arange(len(left)), dtype="int64[pyarrow]"))
    right = right.assign(__right_row=pd.Series(np.arange(len(right)), dtype="int64[pyarrow]"))
    inner = plan.Join(
        node.columns + ["__left_row", "__right_row"],
        kind="inner",
        left_keys=node.left_keys,
        right_keys=node.right_keys,
    )
    if node.left_keys:
        matched = frame_from_table(_hash_join(inner, table_from_frame(left), table_from_frame(right), "inner"))
    else:
        matched = _cross(left, right)
    matched = _filter(backend, plan.Filter(matched.columns.tolist(), predicate=node.residual), [matched])

    parts = [matched]
    if node.kind in ("left", "full"):
        unmatched = left[~left["__left_row"].isin(matched["__left_row"])]
        parts.append(_with_nulls(unmatched, right))
    if node.kind in ("right", "full"):
        unmatched = right[~right["__right_row"].isin(matched["__right_row"])]
        parts.append(_with_nulls(unmatched, left))
    result = pd.concat([part[node.columns] for part in parts], ignore_index=True)
    return result


def _with_nulls(frame: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    extra = {}
    for name in other.columns:
        dtype = other[name].dtype
        arrow = dtype.pyarrow_dtype if isinstance(dtype, pd.ArrowDtype) else pa.from_numpy_dtype(dtype)
        extra[name] = pd.Series(pd.arrays.ArrowExtensionArray(pa.nulls(len(frame), arrow)), copy=False)
    return pd.concat([frame, pd.DataFrame(extra)], axis=1)


def _single_row(backend: PandasBackend, node: plan.SingleRow, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    frame = inputs[0]
    if len(frame) > 1:
        raise ExecutionError(
            f"a scalar subquery returned {len(frame)} rows; it must return at most one row"
        )
    if len(frame) == 1:
        return frame
    return _with_nulls(pd.DataFrame(index=pd.RangeIndex(1)), frame)


def _mark_join(backend: PandasBackend, node: plan.MarkJoin, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    left, right = inputs
    rows = pa.array(np.arange(len(left)), pa.int64())
    left_table = table_from_frame(left).append_column("__left_row", rows)
    right_table = table_from_frame(right)

    if node.probe_left is not None and not node.left_keys and node.residual is None:
        mark = _uncorrelated_in(left_table.column(node.probe_left), right_table.column(node.probe_right))
    else:
        mark = _correlated_mark(backend, node, left_table, right_table)
    result = left.copy(deep=False)
    result[node.mark] = pd.Series(pd.arrays.ArrowExtensionArray(mark), index=left.index, copy=False)
    return result


def _uncorrelated_in(probe: pa.ChunkedArray, values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Evaluate `probe IN (values)` with SQL's NULL rules for a subquery without correlation."""
    if len(values) == 0:
        return pa.chunked_array([pa.repeat(pa.scalar(False), len(probe))])
    probe, values = _coerce_arrays(probe, values)
    present = pc.drop_null(values)
    present = present.combine_chunks() if isinstance(present, pa.ChunkedArray) else present
    found = pc.is_in(probe, value_set=present, skip_nulls=True)
    values_have_null = values.null_count > 0
    unknown = pc.is_null(probe)
    if values_have_null:
        unknown = pc.or_(unknown, pc.invert(found))
    return pc.if_else(pc.and_(unknown, pc.invert(pc.fill_null(found, False))), pa.scalar(None, pa.bool_()), found)


def _coerce_arrays(left: pa.ChunkedArray, right: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    if left.type == right.type:
        return left, right
    target = common_type([left.type, right.type])
    return cast_value(left, target), cast_value(right, target)


def _correlated_mark(backend: PandasBackend, node: plan.MarkJoin, left: pa.Table, right: pa.Table) -> pa.ChunkedArray:
    """Mark left rows by joining on the correlation keys, then applying the residual predicate."""
    if node.probe_left is None and node.residual is None and node.left_keys:
        mark = _exists_mark(node, left, right)
        if mark is not None:
            return mark
    pairs = _matching_pairs(backend, node, left, right)
    count = len(left)
    matched_rows = pairs.column("__left_row")
    positions = pa.array(np.arange(count), pa.int64())
    if node.probe_left is None:
        return pa.chunked_array([pc.is_in(positions, value_set=_row_set(matched_rows))])

    probe, value = _coerce_arrays(pairs.column(node.probe_left), pairs.column(node.probe_right))
    # NaN equals NaN in DuckDB, so `x IN (subquery)` must not use IEEE equality on DOUBLEs.
    if pa.types.is_floating(probe.type):
        matches = compare_floats("equal", probe, value)
    else:
        matches = pc.equal(probe, value)
    equal = pc.fill_null(matches, False)
    unknown = pc.or_(pc.is_null(probe), pc.is_null(value))
    has_match = pc.is_in(positions, value_set=_row_set(pc.filter(matched_rows, equal)))
    has_unknown = pc.is_in(positions, value_set=_row_set(pc.filter(matched_rows, unknown)))
    mark = pc.if_else(has_match, True, pc.if_else(has_unknown, pa.scalar(None, pa.bool_()), False))
    return pa.chunked_array([mark])


def _exists_mark(node: plan.MarkJoin, left: pa.Table, right: pa.Table) -> pa.ChunkedArray | None:
    """Mark the left rows that have a right row with equal keys, using an Arrow semi join.

    A semi join finds each such row once, where an inner join would return every matching pair.
    As in every join, a NULL key matches nothing. Returns None when a key column has the null
    type, which Arrow's joins reject.
    """
    keys = left.select([*dict.fromkeys(node.left_keys), "__left_row"])
    others = right.select(list(dict.fromkeys(node.right_keys)))
    if any(pa.types.is_null(field.type) for field in (*keys.schema, *others.schema)):
        return None
    flags = np.zeros(left.num_rows, dtype=bool)
    if keys.num_rows and others.num_rows:
        keys, others = _align_key_types(node, keys, others)
        # Arrow builds its hash table on the right input, so the smaller table goes there.
        if keys.num_rows >= others.num_rows:
            matched = keys.join(others, keys=node.left_keys, right_keys=node.right_keys, join_type="left semi")
        else:
            matched = others.join(keys, keys=node.right_keys, right_keys=node.left_keys, join_type="right semi")
        flags[matched.column("__left_row").to_numpy()] = True
    return pa.chunked_array([pa.array(flags, pa.bool_())])


def _row_set(rows: pa.ChunkedArray | pa.Array) -> pa.Array:
    unique = pc.unique(rows)
    return unique.combine_chunks() if isinstance(unique, pa.ChunkedArray) else unique


def _matching_pairs(backend: PandasBackend, node: plan.MarkJoin, left: pa.Table, right: pa.Table) -> pa.Table:
    left_columns = list(dict.fromkeys(["__left_row", *node.left_keys, *([node.probe_left] if node.probe_left else []), *_residual_columns(node, left.column_names)]))
    right_columns = list(dict.fromkeys([*node.right_keys, *([node.probe_right] if node.probe_right else []), *_residual_columns(node, right.column_names)]))
    left = left.select(left_columns)
    right = right.select(right_columns)
    if node.left_keys:
        inner = plan.Join(left_columns + right_columns, kind="inner", left_keys=node.left_keys, right_keys=node.right_keys)
        pairs = _hash_join(inner, left, right, "inner")
        pairs = pairs.select(left_columns + right_columns)
    else:
        pairs = table_from_frame(_cross(frame_from_table(left), frame_from_table(right)))
    if node.residual is not None:
        frame = _filter(backend, plan.Filter(pairs.column_names, predicate=node.residual), [frame_from_table(pairs)])
        pairs = table_from_frame(frame) if len(frame) else pairs.slice(0, 0)
    return pairs


def _residual_columns(node: plan.MarkJoin, available: list[str]) -> list[str]:
    if node.residual is None:
        return []
    from sqlglot import exp

    names = {column.name for column in node.residual.find_all(exp.Column)}
    return [name for name in available if name in names]


def _sort(backend: PandasBackend, node: plan.Sort, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    frame = inputs[0]
    if len(frame) < 2:
        return frame
    if node.top is not None:
        indices = top_indices(table_from_frame(frame), node.keys, node.top)
    else:
        indices = sort_indices(table_from_frame(frame), node.keys)
    return frame.take(indices.to_numpy()).reset_index(drop=True)


def _window(backend: PandasBackend, node: plan.Window, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    frame = inputs[0]
    table = table_from_frame(frame)
    result = frame.copy(deep=False)
    own = node.columns[len(node.columns) - len(node.calls) :]
    for name, call in zip(own, node.calls):
        values = compute_window(table, call)
        result[name] = pd.Series(pd.arrays.ArrowExtensionArray(values), index=frame.index, copy=False)
    order = output_order(table, node.calls)
    if order is not None:
        result = result.take(order).reset_index(drop=True)
    return result


def _working_table(backend: PandasBackend, node: plan.WorkingTable, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    frames = getattr(backend, "working_tables", {})
    if id(node) not in frames:
        raise ExecutionError("a recursive CTE's working table was read outside its recursion")
    return frames[id(node)]


def _recursive(backend: PandasBackend, node: plan.Recursive, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    from gsql.engine.recursive import run_recursive

    return run_recursive(backend, node, inputs[0])


def _limit(backend: PandasBackend, node: plan.Limit, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    frame = inputs[0]
    stop = None if node.limit is None else node.offset + node.limit
    return frame.iloc[node.offset : stop].reset_index(drop=True)


def _distinct(backend: PandasBackend, node: plan.Distinct, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    frame = inputs[0]
    if frame.columns.size == 0:
        return frame.iloc[: min(len(frame), 1)]
    return frame.drop_duplicates(ignore_index=True)


def _set_operation(backend: PandasBackend, node: plan.SetOperation, inputs: list[pd.DataFrame]) -> pd.DataFrame:
    left, right = _align_set_inputs(node, *inputs, backend.dialect)
    if node.kind == "union":
        combined = pd.concat([left, right], ignore_index=True)
        return combined if node.all else combined.drop_duplicates(ignore_index=True)

    if not node.all:
        left = left.drop_duplicates(ignore_index=True)
        right = right.drop_duplicates(ignore_index=True)
        on = list(node.columns)
    else:
        # INTERSECT ALL and EXCEPT ALL pair each row with its n-th duplicate on the other side.
        left = left.assign(__copy=left.groupby(list(node.columns), dropna=False).cumcount())
        right = right.assign(__copy=right.groupby(list(node.columns), dropna=False).cumcount())
        on = list(node.columns) + ["__copy"]
    # pandas' merge matches NULL with NULL, which is what set operations require.
    marked = left.merge(right[on].drop_duplicates(), on=on, how="left", indicator=True)
    keep = marked["_merge"] == ("both" if node.kind == "intersect" else "left_only")
    return marked.loc[keep, list(node.columns)].reset_index(drop=True)


def _align_set_inputs(
    node: plan.SetOperation, left: pd.DataFrame, right: pd.DataFrame, dialect: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Name both inputs' columns as the node's and cast each pair of columns to one type.

    With a dialect, the type follows its set operation rule (`set_operation_type`). Without
    one, as for the rows that a recursive CTE adds, it is the common type of a comparison.
    """
    left = left.set_axis(node.columns, axis=1)
    right = right.set_axis(node.columns, axis=1)
    for name in node.columns:
        left_type = _arrow_dtype(left[name])
        right_type = _arrow_dtype(right[name])
        if left_type == right_type:
            continue
        if dialect is not None:
            target = set_operation_type(left_type, right_type, dialect)
        else:
            target = common_type([left_type, right_type])
            target = pa.int32() if pa.types.is_null(target) else target
        left[name] = _cast_series(left[name], target)
        right[name] = _cast_series(right[name], target)
    return left, right


def _arrow_dtype(series: pd.Series) -> pa.DataType:
    dtype = series.dtype
    return dtype.pyarrow_dtype if isinstance(dtype, pd.ArrowDtype) else pa.from_numpy_dtype(dtype)


def _cast_series(series: pd.Series, target: pa.DataType) -> pd.Series:
    array = cast_value(pa.chunked_array([pa.array(series.array)]) if not hasattr(series.array, "__arrow_array__") else series.array.__arrow_array__(), target)
    return pd.Series(pd.arrays.ArrowExtensionArray(array), index=series.index, copy=False)


class PandasBackend(Backend):
    """Runs plans on one machine's CPU with pandas DataFrames of Arrow-backed columns."""

    name = "pandas"
    handlers = {
        plan.Scan: _scan,
        plan.Values: _values,
        plan.Filter: _filter,
        plan.Project: _project,
        plan.Aggregate: _aggregate,
        plan.Join: _join,
        plan.Sort: _sort,
        plan.Limit: _limit,
        plan.Distinct: _distinct,
        plan.SetOperation: _set_operation,
        plan.MarkJoin: _mark_join,
        plan.SingleRow: _single_row,
        plan.Window: _window,
        plan.WorkingTable: _working_table,
        plan.Recursive: _recursive,
    }

    def to_arrow(self, frame: pd.DataFrame, columns: list[str], names: list[str]) -> pa.Table:
        if not columns:
            return _empty_width_table(len(frame))
        return table_from_frame(frame[columns]).rename_columns(names)


def _empty_width_table(rows: int) -> pa.Table:
    return pa.table({"__rows": pa.nulls(rows)}).drop_columns(["__rows"])

