"""Compare two query results under SQL rules.

`compare_results` decides whether two results contain the same rows, so that a GPU result can be
checked against a CPU result or against DuckDB. Two results are equal when they have the same
number of columns with the same names, compatible types, and a one-to-one pairing of their rows
in which every pair of cells is equal:

- NULL equals NULL and NaN equals NaN. NaN differs from NULL unless `nan_equals_null` is set.
- Floating-point cells are equal when `math.isclose(left, right, rel_tol=rtol, abs_tol=atol)`
  holds. An infinity equals only the infinity of the same sign.
- Without ORDER BY the rows form a multiset: order is ignored and duplicates count. With ORDER BY
  the sort keys must also agree row by row, and rows tied on every sort key may be permuted.

>>> import pyarrow as pa
>>> compare_results(pa.table({"x": [1, 2, 2]}), pa.table({"x": [2, 1, 2]})).equal
True
"""

from __future__ import annotations

import bisect
import datetime
import decimal
import logging
import math
import operator
from collections import Counter, deque
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

import pandas as pd
import pyarrow as pa

from gsql.errors import DataError

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "FLOAT32_RTOL",
    "CompareOptions",
    "Comparison",
    "assert_results_equal",
    "compare_results",
]

logger = logging.getLogger(__name__)

# Two sums of the same n doubles in different orders differ by at most about 2 * n * 2**-53
# relative when all terms have one sign, so 1e-9 covers such sums of up to about 4.5 million rows.
DEFAULT_RTOL = 1e-9
# Decides for values below atol / rtol (1e-3 with the default rtol) in magnitude, where
# cancellation can leave residues such as 1e-17 in place of 0.
DEFAULT_ATOL = 1e-12
# Rounding a double to float32 alone moves it by up to 2**-24 (about 6e-8) relative, so a column
# that is float32 on either side is compared with at least this rtol.
FLOAT32_RTOL = 1e-6

# Missing and extra rows that the per-column summary pairs up. Pairing costs O(n * m) cells.
_MAX_PAIRED_ROWS = 200
_NANOSECONDS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_NUMERIC_KINDS = frozenset({"integer", "decimal", "floating"})


class _Marker:
    """A cell value that equals only itself, so that it can sit in hashed row keys."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_NULL = _Marker("NULL")
_NAN = _Marker("NaN")
# Stands for a finite float in a row key. The value itself is kept in the row's float vector.
_FINITE = _Marker("finite")

_Vector = tuple[float | None, ...]  # a row's finite float cells, None where a cell is not finite
_Item = tuple[tuple[Any, ...], _Vector]  # a row's key and vector


@dataclass(frozen=True)
class CompareOptions:
    """Rules for `compare_results`.

    Attributes:
        rtol: relative tolerance for floating-point cells, used as `rel_tol` of `math.isclose`.
        atol: absolute tolerance for floating-point cells, used as `abs_tol` of `math.isclose`.
            It decides only for values whose magnitude is below `atol / rtol`.
        nan_equals_null: whether a NaN cell equals a NULL cell. By default NaN is a value.
        ordered: whether row order matters, as for a query with ORDER BY.
        sort_keys: 0-based output column positions of the ORDER BY keys. Rows tied on all of
            them may appear in any order. Any sequence of ints is stored as a tuple. With
            `ordered` and no sort keys, every row must be in the same position.
        check_names: whether column names must match, case included. When False, columns pair
            by position only.
        max_rows_shown: maximum number of missing rows, extra rows and examples kept.
    """

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    nan_equals_null: bool = False
    ordered: bool = False
    sort_keys: Sequence[int] | None = None
    check_names: bool = True
    max_rows_shown: int = 10

    def __post_init__(self) -> None:
        if not 0 <= self.rtol < 1:
            raise ValueError(f"invalid rtol {self.rtol!r}; use a value in [0, 1) such as 1e-9")
        if not 0 <= self.atol < math.inf:
            raise ValueError(f"invalid atol {self.atol!r}; use a finite value of 0 or more")
        if self.max_rows_shown < 0:
            raise ValueError(f"invalid max_rows_shown {self.max_rows_shown!r}; use 0 or more")
        if self.sort_keys is None:
            return

        if not self.ordered:
            raise ValueError("sort_keys needs ordered=True; set it for a query with ORDER BY")
        keys = tuple(_sort_key_position(key) for key in self.sort_keys)
        object.__setattr__(self, "sort_keys", keys)


def _sort_key_position(key: object) -> int:
    try:
        position = operator.index(key)  # type: ignore[arg-type]
    except TypeError:
        position = -1
    if isinstance(key, bool) or position < 0:
        raise ValueError(f"invalid sort key {key!r}; sort keys are 0-based output column positions")
    return position


@dataclass
class Comparison:
    """Outcome of `compare_results`: whether two results are equal and how they differ.

    Attributes:
        equal: whether the results are equal under `options`.
        left_label: name of the left result in messages, such as `duckdb`.
        right_label: name of the right result in messages, such as `gsql`.
        left_rows: row count of the left result.
        right_rows: row count of the right result.
        differences: one line per difference found. Empty when `equal` is True.
        missing_rows: rows of the left result that pair with no row of the right result, the
            first `options.max_rows_shown` in input order.
        extra_rows: rows of the right result that pair with no row of the left result, the
            first `options.max_rows_shown` in input order.
        column_diffs: description of each column whose types or values differ, by column name.
            Value differences come from pairing each missing row with the extra row that agrees
            with it on the most columns, so they point to the likely change without proving it.
        options: the rules used.
        column_names: names of the left result's columns, in the order of the row tuples.
        missing_row_count: total number of missing rows.
        extra_row_count: total number of extra rows.
        notes: facts about the comparison that are not differences, such as an integer column
            compared with a float column.
    """

    equal: bool
    left_label: str
    right_label: str
    left_rows: int
    right_rows: int
    differences: list[str]
    missing_rows: list[tuple[Any, ...]]
    extra_rows: list[tuple[Any, ...]]
    column_diffs: dict[str, str]
    options: CompareOptions
    column_names: list[str] = field(default_factory=list)
    missing_row_count: int = 0
    extra_row_count: int = 0
    notes: list[str] = field(default_factory=list)

    def report(self) -> str:
        """Format the comparison for people. The report always states the tolerances used."""
        return _format_report(self)

    def to_dict(self) -> dict[str, Any]:
        """Return the comparison as plain JSON values, for `json.dumps(..., allow_nan=False)`.

        Decimals become strings, dates and times ISO 8601 strings, bytes hex strings, and NaN
        and infinities the strings `NaN`, `Infinity` and `-Infinity`.
        """
        options = asdict(self.options)
        if self.options.sort_keys is not None:
            options["sort_keys"] = list(self.options.sort_keys)
        return {
            "equal": self.equal,
            "left_label": self.left_label,
            "right_label": self.right_label,
            "left_rows": self.left_rows,
            "right_rows": self.right_rows,
            "column_names": list(self.column_names),
            "differences": list(self.differences),
            "missing_row_count": self.missing_row_count,
            "missing_rows": [[_json_value(value) for value in row] for row in self.missing_rows],
            "extra_row_count": self.extra_row_count,
            "extra_rows": [[_json_value(value) for value in row] for row in self.extra_rows],
            "column_diffs": dict(self.column_diffs),
            "notes": list(self.notes),
            "options": options,
        }


def compare_results(
    left: object,
    right: object,
    options: CompareOptions | None = None,
    left_label: str = "left",
    right_label: str = "right",
) -> Comparison:
    """Compare two query results under SQL rules and describe every difference found.

    Args:
        left: the expected result, such as DuckDB's. A pyarrow Table, RecordBatch or
            RecordBatchReader, a pandas DataFrame with NumPy or Arrow dtypes, or any object
            with `__arrow_c_stream__` or `to_arrow()`. A DataFrame's index is ignored, so call
            `reset_index()` first to compare index labels. In a NumPy float column, NaN is
            pandas' missing-value marker and therefore reads as NULL.
        right: the result to check, in any form that `left` accepts.
        options: the comparison rules. Defaults to `CompareOptions()`.
        left_label: name of `left` in the report.
        right_label: name of `right` in the report.

    Raises:
        TypeError: a result is of a type that has no Arrow form.
        ValueError: a sort key is not a column position of `left`.
        DataError: a DataFrame has a column that Arrow cannot convert, such as mixed types.
    """
    options = options or CompareOptions()
    left_table = _to_table(left, left_label)
    right_table = _to_table(right, right_label)
    _validate_sort_keys(options, left_table.num_columns)
    logger.debug(
        "comparing %s (%d rows, schema %s) with %s (%d rows, schema %s)",
        left_label, left_table.num_rows, left_table.schema.types,
        right_label, right_table.num_rows, right_table.schema.types,
    )  # fmt: skip

    findings = _Findings(left_label, right_label)
    plans = _plan_columns(left_table.schema, right_table.schema, options, findings)
    if left_table.num_rows != right_table.num_rows:
        findings.differences.append(
            f"{left_label} has {_count(left_table.num_rows, 'row')} but {right_label} has "
            f"{_count(right_table.num_rows, 'row')}"
        )
    if plans is not None:
        _compare_rows(left_table, right_table, plans, options, findings)

    shown = options.max_rows_shown
    return Comparison(
        equal=not findings.differences,
        left_label=left_label,
        right_label=right_label,
        left_rows=left_table.num_rows,
        right_rows=right_table.num_rows,
        differences=findings.differences,
        missing_rows=_display_rows(left_table, findings.missing[:shown]),
        extra_rows=_display_rows(right_table, findings.extra[:shown]),
        column_diffs=findings.column_diffs,
        options=options,
        column_names=list(left_table.column_names),
        missing_row_count=len(findings.missing),
        extra_row_count=len(findings.extra),
        notes=findings.notes,
    )


def assert_results_equal(
    left: object,
    right: object,
    *,
    ordered: bool = False,
    sort_keys: Sequence[int] | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    nan_equals_null: bool = False,
    check_names: bool = True,
    left_label: str = "left",
    right_label: str = "right",
) -> None:
    """Raise AssertionError with the comparison report unless the two results are equal.

    The arguments are those of `compare_results` and `CompareOptions`.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    options = CompareOptions(
        rtol=rtol,
        atol=atol,
        nan_equals_null=nan_equals_null,
        ordered=ordered,
        sort_keys=sort_keys,
        check_names=check_names,
    )
    comparison = compare_results(left, right, options, left_label, right_label)
    if not comparison.equal:
        raise AssertionError(comparison.report())


# Input conversion


def _to_table(result: object, label: str) -> pa.Table:
    if isinstance(result, pa.Table):
        return result
    if isinstance(result, pa.RecordBatch):
        return pa.Table.from_batches([result])
    if isinstance(result, pa.RecordBatchReader):
        return result.read_all()
    # DataFrames are checked before `__arrow_c_stream__` because pandas' own stream keeps a
    # non-default index as a column.
    if isinstance(result, pd.DataFrame):
        return _from_pandas(result, label)
    if hasattr(result, "__arrow_c_stream__"):
        return pa.table(result)

    to_arrow = getattr(result, "to_arrow", None)
    if callable(to_arrow):
        converted = to_arrow()
        if isinstance(converted, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)):
            return _to_table(converted, label)
    raise TypeError(
        f"cannot compare the {label} result of type `{type(result).__name__}`; pass a pyarrow "
        "Table, a pandas DataFrame, or an object with `__arrow_c_stream__` or `to_arrow()`"
    )


def _from_pandas(frame: pd.DataFrame, label: str) -> pa.Table:
    names = [str(name) for name in frame.columns]
    # Arrow rejects duplicate names when converting from pandas, but a query result may have them.
    positional = frame.set_axis([f"column_{index}" for index in range(len(names))], axis=1)
    try:
        table = pa.Table.from_pandas(positional, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        raise DataError(
            f"cannot convert the {label} DataFrame to Arrow: {error}; "
            "cast each object column to one type"
        ) from None
    return table.rename_columns(names).replace_schema_metadata(None)


def _validate_sort_keys(options: CompareOptions, column_count: int) -> None:
    for key in options.sort_keys or ():
        if key >= column_count:
            raise ValueError(
                f"sort key {key} is out of range for a result with {_count(column_count, 'column')}; "
                f"use 0-based column positions from 0 to {column_count - 1}"
            )


# Column types


class _Mode(Enum):
    EXACT = "exact"
    FLOAT = "float"
    SKIP = "skip"  # the column types differ, so the values are not compared


@dataclass(frozen=True)
class _ColumnPlan:
    """Comparison mode and tolerance for one pair of columns."""

    position: int
    label: str
    mode: _Mode
    numeric: bool
    tolerance: tuple[float, float] | None = None  # (rtol, atol) in mode FLOAT


@dataclass
class _Findings:
    """Differences and notes collected while comparing, with the unpaired row positions."""

    left_label: str
    right_label: str
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    column_diffs: dict[str, str] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)


def _plan_columns(
    left: pa.Schema, right: pa.Schema, options: CompareOptions, findings: _Findings
) -> list[_ColumnPlan] | None:
    left_label, right_label = findings.left_label, findings.right_label
    if len(left) != len(right):
        findings.differences.append(
            f"{left_label} has {_count(len(left), 'column')} ({_names(left.names)}) but "
            f"{right_label} has {len(right)} ({_names(right.names)}); rows were not compared"
        )
        return None

    labels = _column_labels(left.names)
    plans = []
    for position, (left_field, right_field) in enumerate(zip(left, right)):
        if left_field.name != right_field.name:
            message = (
                f"column {position} is named `{left_field.name}` in {left_label} "
                f"but `{right_field.name}` in {right_label}"
            )
            target = findings.differences if options.check_names else findings.notes
            target.append(message)
        plan = _plan_column(position, labels[position], left_field.type, right_field.type, options)
        plans.append(plan)
        _note_column_types(plan, left_field.type, right_field.type, options, findings)
    return plans


def _column_labels(names: list[str]) -> list[str]:
    """Return a unique label per column: its name, or its name and position if repeated."""
    return [
        name if names.count(name) == 1 else f"{name} (column {position})"
        for position, name in enumerate(names)
    ]


def _plan_column(
    position: int, label: str, left: pa.DataType, right: pa.DataType, options: CompareOptions
) -> _ColumnPlan:
    # An Arrow column of type null contains only NULLs, so it fits any other type.
    kinds = {_type_kind(left), _type_kind(right)} - {"null"}
    numeric = bool(kinds) and kinds <= _NUMERIC_KINDS
    if len(kinds) > 1 and not numeric:
        return _ColumnPlan(position, label, _Mode.SKIP, numeric=False)
    if "floating" not in kinds:
        return _ColumnPlan(position, label, _Mode.EXACT, numeric)

    rtol = options.rtol
    if _is_low_precision_float(left) or _is_low_precision_float(right):
        rtol = max(rtol, FLOAT32_RTOL)
    return _ColumnPlan(position, label, _Mode.FLOAT, numeric, (rtol, options.atol))


def _note_column_types(
    plan: _ColumnPlan,
    left: pa.DataType,
    right: pa.DataType,
    options: CompareOptions,
    findings: _Findings,
) -> None:
    where = f"column `{plan.label}` has type {left} in {findings.left_label} and {right} in "
    where += findings.right_label
    if plan.mode is _Mode.SKIP:
        findings.differences.append(f"{where}; these types are not comparable")
        findings.column_diffs[plan.label] = (
            f"types differ: {left} in {findings.left_label}, {right} in {findings.right_label}; "
            "values not compared"
        )
        return
    if plan.mode is not _Mode.FLOAT:
        return

    kinds = {_type_kind(left), _type_kind(right)}
    if len(kinds) > 1 and "null" not in kinds:
        findings.notes.append(f"{where}; values were compared as floating-point numbers")
    if plan.tolerance is not None and plan.tolerance[0] > options.rtol:
        findings.notes.append(
            f"column `{plan.label}` is float32 or float16 on one side, so its rtol was raised "
            f"to {FLOAT32_RTOL!r}"
        )


def _value_type(arrow_type: pa.DataType) -> pa.DataType:
    """Strip dictionary encoding and extension types down to the type of the values."""
    while True:
        if pa.types.is_dictionary(arrow_type):
            arrow_type = arrow_type.value_type
        elif isinstance(arrow_type, pa.ExtensionType):
            arrow_type = arrow_type.storage_type
        else:
            return arrow_type


def _type_kind(arrow_type: pa.DataType) -> str:
    """Return the type class that decides comparability, such as `integer` or `string`."""
    arrow_type = _value_type(arrow_type)
    types = pa.types
    classes = (
        ("null", types.is_null),
        ("boolean", types.is_boolean),
        ("integer", types.is_integer),
        ("floating", types.is_floating),
        ("decimal", types.is_decimal),
        ("string", lambda t: types.is_string(t) or types.is_large_string(t)
            or types.is_string_view(t)),
        ("binary", lambda t: types.is_binary(t) or types.is_large_binary(t)
            or types.is_binary_view(t) or types.is_fixed_size_binary(t)),
        ("date", types.is_date),
        ("time", types.is_time),
        ("duration", types.is_duration),
        ("interval", types.is_interval),
        ("list", lambda t: types.is_list(t) or types.is_large_list(t)
            or types.is_fixed_size_list(t) or types.is_list_view(t) or types.is_large_list_view(t)),
        ("struct", types.is_struct),
        ("map", types.is_map),
    )  # fmt: skip
    if types.is_timestamp(arrow_type):
        return "timestamp with time zone" if arrow_type.tz else "timestamp"
    for kind, matches in classes:
        if matches(arrow_type):
            return kind
    return str(arrow_type)


def _is_low_precision_float(arrow_type: pa.DataType) -> bool:
    arrow_type = _value_type(arrow_type)
    return pa.types.is_float32(arrow_type) or pa.types.is_float16(arrow_type)


# Canonical cells


def _column_cells(column: pa.ChunkedArray, plan: _ColumnPlan, nan_equals_null: bool) -> list[Any]:
    """Convert a column to hashable cells that compare equal exactly when the SQL values do."""
    column = _decode(column)
    nan_marker = _NULL if nan_equals_null else _NAN
    if pa.types.is_null(column.type):
        return [_NULL] * len(column)
    if plan.mode is _Mode.FLOAT:
        values = column.cast(pa.float64(), safe=False).to_pylist()
        return [_float_cell(value, nan_marker) for value in values]
    return _exact_cells(column, nan_marker)


def _float_cell(value: float | None, nan_marker: _Marker) -> Any:
    if value is None:
        return _NULL
    return nan_marker if math.isnan(value) else value


def _decode(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return _decode(column.cast(column.type.value_type))
    if isinstance(column.type, pa.ExtensionType):
        storage = [chunk.storage for chunk in column.chunks]
        return _decode(pa.chunked_array(storage, type=column.type.storage_type))
    return column


def _exact_cells(column: pa.ChunkedArray, nan_marker: _Marker) -> list[Any]:
    arrow_type = column.type
    if pa.types.is_date64(arrow_type):
        column = column.cast(pa.date32())
        arrow_type = column.type

    # Temporal values become integer counts of nanoseconds, so units compare by value.
    scale = None
    if pa.types.is_date32(arrow_type):
        scale = 1
    elif _has_time_unit(arrow_type):
        scale = _NANOSECONDS[arrow_type.unit]
    if scale is not None:
        integers = column.cast(pa.int32() if arrow_type.bit_width == 32 else pa.int64())
        return [_NULL if value is None else value * scale for value in integers.to_pylist()]

    if pa.types.is_nested(arrow_type):
        # NOTE: floats inside lists, structs and maps are compared exactly, without tolerance.
        return [_hashable(value, nan_marker) for value in column.to_pylist()]
    return [_NULL if value is None else value for value in column.to_pylist()]


def _has_time_unit(arrow_type: pa.DataType) -> bool:
    types = pa.types
    return (
        types.is_timestamp(arrow_type) or types.is_time(arrow_type) or types.is_duration(arrow_type)
    )


def _hashable(value: Any, nan_marker: _Marker) -> Hashable:
    if value is None:
        return _NULL
    if isinstance(value, float) and math.isnan(value):
        return nan_marker
    if isinstance(value, dict):
        return tuple((key, _hashable(item, nan_marker)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(item, nan_marker) for item in value)
    return value


def _is_finite(cell: Any) -> bool:
    return type(cell) is float and math.isfinite(cell)


def _cells_match(left: Any, right: Any, tolerance: tuple[float, float] | None) -> bool:
    if tolerance is not None and _is_finite(left) and _is_finite(right):
        return math.isclose(left, right, rel_tol=tolerance[0], abs_tol=tolerance[1])
    return bool(left == right)


@dataclass
class _Rows:
    """Canonical cells of one result and the per-row items that pair its rows.

    A row's item is a pair of key and vector. The key contains the exact cells and, per float cell,
    the cell itself unless it is finite, in which case the key contains `_FINITE` and the vector
    contains the value. Rows can pair only when their keys are equal and their vectors are close.
    """

    plans: list[_ColumnPlan]
    columns: list[list[Any]]
    items: list[_Item]

    def row_matches(
        self, index: int, other: _Rows, other_index: int, columns: range | list[int]
    ) -> bool:
        return all(
            _cells_match(
                self.columns[k][index], other.columns[k][other_index], self.plans[k].tolerance
            )
            for k in columns
        )


def _build_rows(table: pa.Table, plans: list[_ColumnPlan], options: CompareOptions) -> _Rows:
    compared = [plan for plan in plans if plan.mode is not _Mode.SKIP]
    columns = [
        _column_cells(table.column(plan.position), plan, options.nan_equals_null)
        for plan in compared
    ]
    exact = [cells for plan, cells in zip(compared, columns) if plan.mode is _Mode.EXACT]
    floats = [cells for plan, cells in zip(compared, columns) if plan.mode is _Mode.FLOAT]

    markers = [[_FINITE if _is_finite(cell) else cell for cell in cells] for cells in floats]
    finite = [[cell if _is_finite(cell) else None for cell in cells] for cells in floats]
    empty: list[tuple[Any, ...]] = [()] * table.num_rows
    keys = list(zip(*exact, *markers)) if exact or markers else empty
    vectors = list(zip(*finite)) if finite else empty
    return _Rows(compared, columns, list(zip(keys, vectors)))


# Row pairing


def _match_rows(
    left: _Rows, right: _Rows, left_ids: Sequence[int], right_ids: Sequence[int]
) -> tuple[list[int], list[int]]:
    """Pair the given rows as a multiset and return the unpaired left and right row positions.

    Identical rows are counted, not compared. Rows that remain can pair within tolerance only
    with rows of the same key, which agree on every exact cell and on which float cells are
    NULL, NaN or infinite.
    """
    left_items = [left.items[i] for i in left_ids]
    right_items = [right.items[j] for j in right_ids]
    left_counts = Counter(left_items)
    right_counts = Counter(right_items)
    left_rest = left_counts - right_counts
    right_rest = right_counts - left_counts
    if left_rest and right_rest:
        tolerances = [plan.tolerance for plan in left.plans if plan.tolerance is not None]
        _pair_within_tolerance(left_counts, right_counts, left_rest, right_rest, tolerances)
    missing = _last_positions(left_rest, left_items, left_ids)
    extra = _last_positions(right_rest, right_items, right_ids)
    return missing, extra


def _pair_within_tolerance(
    left_counts: Counter[_Item],
    right_counts: Counter[_Item],
    left_rest: Counter[_Item],
    right_rest: Counter[_Item],
    tolerances: list[tuple[float, float]],
) -> None:
    """Update the unpaired counts once rows that are close but not identical have paired."""
    contested = {key for key, _ in left_rest} & {key for key, _ in right_rest}
    left_widths = Counter(key for key, _ in left_counts if key in contested)
    right_widths = Counter(key for key, _ in right_counts if key in contested)
    left_vectors = {key: vector for key, vector in left_rest if key in contested}
    right_vectors = {key: vector for key, vector in right_rest if key in contested}

    # A key with one distinct vector per side, such as a unique key whose floats carry noise, is
    # settled by one comparison. Other keys need the full pairing of their group.
    groups: dict[tuple[Any, ...], tuple[dict[_Vector, int], dict[_Vector, int]]] = {}
    for key in contested:
        if left_widths[key] > 1 or right_widths[key] > 1:
            groups[key] = ({}, {})
        elif _vectors_close(left_vectors[key], right_vectors[key], tolerances):
            left_item, right_item = (key, left_vectors[key]), (key, right_vectors[key])
            paired = min(left_rest[left_item], right_rest[right_item])
            _subtract(left_rest, left_item, paired)
            _subtract(right_rest, right_item, paired)
    if groups:
        _pair_groups(groups, left_counts, right_counts, left_rest, right_rest, tolerances)


def _pair_groups(
    groups: dict[tuple[Any, ...], tuple[dict[_Vector, int], dict[_Vector, int]]],
    left_counts: Counter[_Item],
    right_counts: Counter[_Item],
    left_rest: Counter[_Item],
    right_rest: Counter[_Item],
    tolerances: list[tuple[float, float]],
) -> None:
    for side, counts in ((0, left_counts), (1, right_counts)):
        for (key, vector), count in counts.items():
            group = groups.get(key)
            if group is not None:
                group[side][vector] = count

    for key, (left_group, right_group) in groups.items():
        left_unpaired, right_unpaired = _VectorMatching(left_group, right_group, tolerances).run()
        for rest, group, unpaired in (
            (left_rest, left_group, left_unpaired),
            (right_rest, right_group, right_unpaired),
        ):
            for vector in group:
                rest.pop((key, vector), None)
            rest.update({(key, vector): count for vector, count in unpaired.items()})


def _subtract(counts: Counter[_Item], item: _Item, amount: int) -> None:
    counts[item] -= amount
    if counts[item] <= 0:
        del counts[item]


def _last_positions(rest: Counter[_Item], items: list[_Item], ids: Sequence[int]) -> list[int]:
    """Return the positions of the unpaired rows: the last occurrences of each item, sorted."""
    remaining = dict(rest)
    positions = []
    for item, position in zip(reversed(items), reversed(ids)):
        count = remaining.get(item)
        if count:
            remaining[item] = count - 1
            positions.append(position)
    return sorted(positions)


def _vectors_close(left: _Vector, right: _Vector, tolerances: list[tuple[float, float]]) -> bool:
    return all(
        a is None or math.isclose(a, b, rel_tol=rtol, abs_tol=atol)  # type: ignore[arg-type]
        for a, b, (rtol, atol) in zip(left, right, tolerances)
    )


class _VectorMatching:
    """Maximum pairing of float vectors within tolerance, as a flow between distinct vectors.

    Each node is a distinct vector with its row count, so duplicate rows cost nothing extra.
    Tolerance is not transitive: 1.0 is close to 1.0 + 0.9 * tol and to 1.0 - 0.9 * tol, which
    are not close to each other. A greedy pairing can therefore leave rows unpaired that another
    pairing would match, so rows still unpaired after the greedy pass search augmenting paths.
    The result pairs as many rows as any pairing can.
    """

    def __init__(
        self,
        left: dict[_Vector, int],
        right: dict[_Vector, int],
        tolerances: list[tuple[float, float]],
    ) -> None:
        self.left = list(left)
        self.supply = list(left.values())
        self.tolerances = tolerances
        # Candidates are searched by binary search on one float column: the most selective one.
        finite = [position for position, value in enumerate(self.left[0]) if value is not None]
        self.axis = max(finite, key=lambda position: len({vector[position] for vector in right}))
        self.right = sorted(right, key=lambda vector: vector[self.axis])
        self.axis_values = [vector[self.axis] for vector in self.right]
        self.capacity = [right[vector] for vector in self.right]
        self.flow: list[dict[int, int]] = [
            {} for _ in self.right
        ]  # right node -> {left node: rows}
        self.candidate_cache: dict[int, list[int]] = {}

    def run(self) -> tuple[dict[_Vector, int], dict[_Vector, int]]:
        self._pair_identical()
        self._pair_greedily()
        for i in range(len(self.left)):
            while self.supply[i] > 0 and self._augment(i):
                pass
        left_rest = {vector: count for vector, count in zip(self.left, self.supply) if count}
        right_rest = {vector: count for vector, count in zip(self.right, self.capacity) if count}
        return left_rest, right_rest

    def _pair_identical(self) -> None:
        position = {vector: j for j, vector in enumerate(self.right)}
        for i, vector in enumerate(self.left):
            j = position.get(vector)
            if j is not None:
                self._add_flow(i, j, min(self.supply[i], self.capacity[j]))

    def _pair_greedily(self) -> None:
        for i in range(len(self.left)):
            if self.supply[i] == 0:
                continue
            for j in self._find_candidates(i):
                self._add_flow(i, j, min(self.supply[i], self.capacity[j]))
                if self.supply[i] == 0:
                    break

    def _add_flow(self, i: int, j: int, amount: int) -> None:
        if amount > 0:
            self.flow[j][i] = self.flow[j].get(i, 0) + amount
            self.supply[i] -= amount
            self.capacity[j] -= amount

    def _candidates(self, i: int) -> list[int]:
        cached = self.candidate_cache.get(i)
        if cached is None:
            cached = self.candidate_cache[i] = self._find_candidates(i)
        return cached

    def _find_candidates(self, i: int) -> list[int]:
        """Return the right nodes close to left node `i`, nearest first on the search column."""
        vector = self.left[i]
        value = vector[self.axis]
        assert value is not None
        rtol, atol = self.tolerances[self.axis]
        # isclose(x, y) implies |x - y| <= max(atol, rtol * |x| / (1 - rtol)). The ulps absorb
        # rounding in x - reach and x + reach.
        reach = max(atol, rtol * abs(value) / (1 - rtol)) + 4 * math.ulp(value)
        low = bisect.bisect_left(self.axis_values, value - reach)
        high = bisect.bisect_right(self.axis_values, value + reach)
        found = [
            j for j in range(low, high) if _vectors_close(vector, self.right[j], self.tolerances)
        ]
        found.sort(key=lambda j: abs(self.axis_values[j] - value))
        return found

    def _augment(self, source: int) -> bool:
        """Search breadth-first for a path to a right node with spare rows and push along it."""
        came_from_left: dict[int, int] = {}  # right node -> left node it was reached from
        came_from_right: dict[int, int] = {}  # left node -> right node it was reached from
        queue = deque([source])
        seen = {source}
        while queue:
            i = queue.popleft()
            for j in self._candidates(i):
                if j in came_from_left:
                    continue
                came_from_left[j] = i
                if self.capacity[j] > 0:
                    self._push(source, j, came_from_left, came_from_right)
                    return True
                for other, amount in self.flow[j].items():
                    if amount > 0 and other not in seen:
                        seen.add(other)
                        came_from_right[other] = j
                        queue.append(other)
        return False

    def _push(
        self, source: int, end: int, came_from_left: dict[int, int], came_from_right: dict[int, int]
    ) -> None:
        path = []  # (left, right) edges that gain flow
        j = end
        while True:
            i = came_from_left[j]
            path.append((i, j))
            if i == source:
                break
            j = came_from_right[i]

        amount = min(self.supply[source], self.capacity[end])
        for i, _ in path[:-1]:
            amount = min(amount, self.flow[came_from_right[i]][i])
        for i, j in path:
            self.flow[j][i] = self.flow[j].get(i, 0) + amount
            if i != source:
                self.flow[came_from_right[i]][i] -= amount
        self.supply[source] -= amount
        self.capacity[end] -= amount


def _compare_rows(
    left_table: pa.Table,
    right_table: pa.Table,
    plans: list[_ColumnPlan],
    options: CompareOptions,
    findings: _Findings,
) -> None:
    left = _build_rows(left_table, plans, options)
    right = _build_rows(right_table, plans, options)

    missing, extra = _match_rows(
        left, right, range(left_table.num_rows), range(right_table.num_rows)
    )
    findings.missing, findings.extra = missing, extra
    if missing:
        findings.differences.append(
            f"{_count(len(missing), 'row')} of {findings.left_label} "
            f"{'is' if len(missing) == 1 else 'are'} missing from {findings.right_label}"
        )
    if extra:
        findings.differences.append(
            f"{_count(len(extra), 'row')} of {findings.right_label} "
            f"{'is' if len(extra) == 1 else 'are'} not in {findings.left_label}"
        )

    if missing or extra:
        _describe_value_differences(left, right, missing, extra, findings)
        if options.ordered:
            findings.notes.append(
                "row order was not checked because the results contain different rows"
            )
    elif options.ordered:
        _check_order(left, right, left_table, right_table, options, findings)


# Row order


def _check_order(
    left: _Rows,
    right: _Rows,
    left_table: pa.Table,
    right_table: pa.Table,
    options: CompareOptions,
    findings: _Findings,
) -> None:
    """Check that the sort keys agree row by row and that each run of ties contains the same rows.

    Called only once the two results are known to hold the same multiset of rows.
    """
    compared_index = {plan.position: k for k, plan in enumerate(left.plans)}
    if options.sort_keys is None:
        keys = list(range(len(left.plans)))
        positions = [plan.position for plan in left.plans]
    else:
        keys = [compared_index[key] for key in options.sort_keys if key in compared_index]
        positions = [left.plans[k].position for k in keys]

    row_count = len(left.items)
    misplaced = [i for i in range(row_count) if not left.row_matches(i, right, i, keys)]
    if misplaced:
        if options.sort_keys is None:
            compared_cells = "rows"
        else:
            key_names = _names([left_table.column_names[p] for p in positions])
            compared_cells = f"sort keys ({key_names})"
        findings.differences.append(
            f"rows are in a different order: the {compared_cells} differ at "
            f"{_count(len(misplaced), 'position')}, first at row {misplaced[0]}"
        )
        examples = misplaced[: options.max_rows_shown]
        left_keys = _display_rows(left_table.select(positions), examples)
        right_keys = _display_rows(right_table.select(positions), examples)
        for i, left_cells, right_cells in zip(examples, left_keys, right_keys):
            findings.differences.append(
                f"row {i}: {findings.left_label} has {_format_row(left_cells)}, "
                f"{findings.right_label} has {_format_row(right_cells)}"
            )
        return

    if options.sort_keys is not None:
        _check_tied_runs(left, right, keys, left_table, right_table, options, findings)


def _check_tied_runs(
    left: _Rows,
    right: _Rows,
    keys: list[int],
    left_table: pa.Table,
    right_table: pa.Table,
    options: CompareOptions,
    findings: _Findings,
) -> None:
    every_column = range(len(left.plans))
    row_count = len(left.items)
    different_runs = []
    start = 0
    for end in range(1, row_count + 1):
        if end < row_count and left.row_matches(end - 1, left, end, keys):
            continue  # the next row ties with this one on every sort key
        if end - start == 1:
            same = left.row_matches(start, right, start, every_column)
        else:
            run = range(start, end)
            missing, extra = _match_rows(left, right, run, run)
            same = not missing and not extra
        if not same:
            different_runs.append(range(start, end))
        start = end

    if not different_runs:
        return
    findings.differences.append(
        f"{_count(len(different_runs), 'run')} of rows tied on the sort keys contain different "
        f"rows, first at rows {different_runs[0].start} to {different_runs[0].stop - 1}"
    )
    for run in different_runs[: options.max_rows_shown]:
        examples = list(run)[: options.max_rows_shown]
        left_rows = ", ".join(_format_row(row) for row in _display_rows(left_table, examples))
        right_rows = ", ".join(_format_row(row) for row in _display_rows(right_table, examples))
        findings.differences.append(
            f"rows {run.start} to {run.stop - 1}: {findings.left_label} has {left_rows}; "
            f"{findings.right_label} has {right_rows}"
        )


# Per-column summary


@dataclass
class _ColumnStatistics:
    """Differences found in one column over the paired missing and extra rows."""

    rows: int = 0
    null_mismatches: int = 0
    max_absolute: tuple[float, Any, Any] | None = None
    max_relative: tuple[float, Any, Any] | None = None

    def add(self, left: Any, right: Any, numeric: bool) -> None:
        self.rows += 1
        if left is _NULL or right is _NULL:
            self.null_mismatches += 1
        gap = _numeric_gap(left, right) if numeric else None
        if gap is None:
            return
        absolute, relative = gap
        if self.max_absolute is None or absolute > self.max_absolute[0]:
            self.max_absolute = (absolute, left, right)
        if self.max_relative is None or relative > self.max_relative[0]:
            self.max_relative = (relative, left, right)

    def describe(self, plan: _ColumnPlan, pairs: int, findings: _Findings) -> str:
        parts = [f"values differ in {self.rows} of {_count(pairs, 'paired row')}"]
        if self.null_mismatches:
            parts.append(f"{self.null_mismatches} of them NULL against a value")
        if self.max_absolute is not None and self.max_relative is not None:
            parts.extend(self._describe_largest(findings))
        if plan.tolerance is not None:
            parts.append(f"tolerance rtol={plan.tolerance[0]!r}, atol={plan.tolerance[1]!r}")
        return "; ".join(parts)

    def _describe_largest(self, findings: _Findings) -> list[str]:
        assert self.max_absolute is not None and self.max_relative is not None
        absolute, *absolute_cells = self.max_absolute
        relative, *relative_cells = self.max_relative
        if absolute_cells == relative_cells:
            where = self._describe_cells(absolute_cells, findings)
            text = f"max absolute difference {absolute:.6g} and max relative difference "
            return [f"{text}{relative:.3g} {where}"]
        absolute_where = self._describe_cells(absolute_cells, findings)
        relative_where = self._describe_cells(relative_cells, findings)
        return [
            f"max absolute difference {absolute:.6g} {absolute_where}",
            f"max relative difference {relative:.3g} {relative_where}",
        ]

    @staticmethod
    def _describe_cells(cells: list[Any], findings: _Findings) -> str:
        left, right = cells
        return (
            f"({findings.left_label} {_format_value(left)}, "
            f"{findings.right_label} {_format_value(right)})"
        )


def _describe_value_differences(
    left: _Rows, right: _Rows, missing: list[int], extra: list[int], findings: _Findings
) -> None:
    pairs = _pair_near_misses(left, right, missing[:_MAX_PAIRED_ROWS], extra[:_MAX_PAIRED_ROWS])
    statistics: dict[int, _ColumnStatistics] = {}
    for i, j in pairs:
        for k, plan in enumerate(left.plans):
            left_cell, right_cell = left.columns[k][i], right.columns[k][j]
            if not _cells_match(left_cell, right_cell, plan.tolerance):
                statistics.setdefault(k, _ColumnStatistics()).add(
                    left_cell, right_cell, plan.numeric
                )

    for k, column in sorted(statistics.items()):
        plan = left.plans[k]
        description = column.describe(plan, len(pairs), findings)
        if len(missing) > _MAX_PAIRED_ROWS or len(extra) > _MAX_PAIRED_ROWS:
            description += f" (from the first {_MAX_PAIRED_ROWS} missing and extra rows)"
        findings.column_diffs[plan.label] = description


def _pair_near_misses(
    left: _Rows, right: _Rows, missing: list[int], extra: list[int]
) -> list[tuple[int, int]]:
    """Pair missing with extra rows that share a cell value, most shared cells and closest first.

    A one-column result pairs rows by closeness alone.
    """
    minimum_agreement = min(1, len(left.plans) - 1)
    scored = []
    for i in missing:
        for j in extra:
            agreement, distance = 0, 0.0
            for k, plan in enumerate(left.plans):
                left_cell, right_cell = left.columns[k][i], right.columns[k][j]
                if _cells_match(left_cell, right_cell, plan.tolerance):
                    agreement += 1
                    continue
                gap = _numeric_gap(left_cell, right_cell) if plan.numeric else None
                distance += 1.0 if gap is None else min(gap[1], 1.0)
            if agreement >= minimum_agreement:
                scored.append((-agreement, distance, i, j))

    scored.sort()
    used_left: set[int] = set()
    used_right: set[int] = set()
    pairs = []
    for _, _, i, j in scored:
        if i not in used_left and j not in used_right:
            used_left.add(i)
            used_right.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def _numeric_gap(left: Any, right: Any) -> tuple[float, float] | None:
    """Return the absolute and relative difference of two finite numbers, or None."""
    numbers = (int, float, decimal.Decimal)
    if not isinstance(left, numbers) or not isinstance(right, numbers):
        return None
    if isinstance(left, bool) or isinstance(right, bool):
        return None
    if not (math.isfinite(left) and math.isfinite(right)):
        return None
    absolute = float(abs(left - right))
    scale = float(max(abs(left), abs(right)))
    return absolute, (absolute / scale if scale else 0.0)


# Formatting


def _display_rows(table: pa.Table, positions: list[int]) -> list[tuple[Any, ...]]:
    """Return the given rows with their original Python values, in the order given."""
    if not positions:
        return []
    indices = pa.array(positions, type=pa.int64())
    columns = [column.take(indices).to_pylist() for column in table.columns]
    if not columns:
        return [() for _ in positions]
    return list(zip(*columns))


def _format_report(comparison: Comparison) -> str:
    left, right = comparison.left_label, comparison.right_label
    if comparison.equal:
        lines = [f"{left} and {right} are equal: {_count(comparison.left_rows, 'row')} each"]
    else:
        headline = (
            f"{left} and {right} differ: {left} has {_count(comparison.left_rows, 'row')}, "
            f"{right} has {_count(comparison.right_rows, 'row')}"
        )
        lines = [headline]
    lines.append(f"rules: {_describe_rules(comparison.options, comparison.column_names)}")

    if comparison.differences:
        lines.append("differences:")
        lines.extend(f"  - {line}" for line in comparison.differences)
    names = _names(comparison.column_names)
    for title, rows, total in (
        (
            f"missing rows (in {left}, not in {right})",
            comparison.missing_rows,
            comparison.missing_row_count,
        ),
        (
            f"extra rows (in {right}, not in {left})",
            comparison.extra_rows,
            comparison.extra_row_count,
        ),
    ):
        if total:
            lines.append(f"{title}, {len(rows)} of {total} shown, columns ({names}):")
            lines.extend(f"  {_format_row(row)}" for row in rows)
    if comparison.column_diffs:
        lines.append("column differences:")
        lines.extend(f"  `{name}`: {text}" for name, text in comparison.column_diffs.items())
    if comparison.notes:
        lines.append("notes:")
        lines.extend(f"  - {note}" for note in comparison.notes)
    return "\n".join(lines)


def _describe_rules(options: CompareOptions, column_names: list[str]) -> str:
    if not options.ordered:
        order = "rows compared as a multiset (order ignored, duplicates counted)"
    elif options.sort_keys is None:
        order = "rows compared in order, every row in its position"
    else:
        keys = [column_names[key] for key in options.sort_keys if key < len(column_names)]
        order = f"rows compared in order of sort keys ({_names(keys)}), ties in any order"
    nan = "NaN equals NULL" if options.nan_equals_null else "NaN and NULL differ"
    names = "column names checked" if options.check_names else "column names ignored"
    tolerances = f"floats equal within rtol={options.rtol!r}, atol={options.atol!r} (math.isclose)"
    return f"{order}; {tolerances}; {nan}; {names}"


def _format_row(row: tuple[Any, ...]) -> str:
    return "(" + ", ".join(_format_value(value) for value in row) + ")"


def _format_value(value: Any) -> str:
    if value is None or value is _NULL:
        return "NULL"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return repr(value)


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    return str(value)  # Decimal, timedelta and anything else with a faithful str()


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _names(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)
