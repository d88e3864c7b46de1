"""A WHERE conjunction evaluated condition by condition on the rows that pass.

The pandas engine's Filter splits its predicate at the top-level ANDs. Each condition gives a
mask over the rows that passed the ones before, and only the columns that a later condition
reads are narrowed in between. Comparisons of the same columns with constants (both ends of a
range) run as one step, and comparisons of cheap columns run first.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from gsql.engine.arrow_kernels import Evaluator, cast_value
from gsql.engine.frames import column_of, map_columns
from gsql.errors import GsqlError

__all__ = ["PassingRows", "passing_rows", "predicate_mask", "split_conjunction"]


def passing_rows(frame: pd.DataFrame, parts: list[exp.Expression], dialect: str) -> PassingRows | None:
    """Return the rows of `frame` for which every condition of a conjunction is TRUE.

    Each condition runs only on the rows that passed the ones before, as DuckDB evaluates a
    conjunction, so `x <> 0 AND 1 // x > 0` never divides by zero, and only the columns a
    condition reads are narrowed between conditions. Returns None when no row passes.
    """
    ordered = _cheap_first(parts, frame)
    try:
        return _rows_in_order(frame, ordered, dialect)
    except (GsqlError, pa.ArrowException):
        if all(moved is written for moved, written in zip(ordered, parts)):
            raise
        # A reordered condition failed on rows that a condition written before it drops.
        return _rows_in_order(frame, parts, dialect)


def _rows_in_order(frame: pd.DataFrame, parts: list[exp.Expression], dialect: str) -> PassingRows | None:
    """Run the conditions in order, each on the rows that passed the ones before; None if none pass."""
    rows = PassingRows(frame)
    for step in _steps(parts):
        for keep in _step_masks(step, rows, dialect):
            if isinstance(keep, bool):
                if not keep:
                    return None
                continue
            rows.keep(keep)
            if rows.count == 0:
                return None
    return rows


def _cheap_first(parts: list[exp.Expression], frame: pd.DataFrame) -> list[exp.Expression]:
    """Order comparisons of fixed-width columns before those of decimals, and those before the rest.

    A string comparison on 6 million rows costs several times a date comparison, so running
    the cheap conditions first leaves fewer rows for the others, as DuckDB's filter ordering
    does. Only conditions that compare columns with constants move, because their result does
    not depend on the order. The caller runs the conditions in their written order again if the
    new order raises an error.
    """
    if not all(_is_comparison(part) or _is_constant_list(part) for part in parts):
        return parts

    def cost(part: exp.Expression) -> tuple[int, int]:
        columns = _columns_read(part)
        # A comparison of two columns is assumed to keep more rows than one with a constant.
        return max((_cost_class(frame, name) for name in columns), default=0), len(columns)

    return sorted(parts, key=cost)


def _is_constant_list(expression: exp.Expression) -> bool:
    """Return whether the expression is `column [NOT] IN (constant, ...)`."""
    if isinstance(expression, exp.Not):
        expression = expression.this
    if not isinstance(expression, exp.In) or set(expression.args) - {"this", "expressions"}:
        return False
    return isinstance(expression.this, exp.Column) and all(
        isinstance(item, (exp.Literal, exp.Null)) for item in expression.expressions
    )


def _cost_class(frame: pd.DataFrame, name: str) -> int:
    """Rank a column by the cost of comparing it: 0 fixed-width, 1 decimal, 2 anything else."""
    if name not in frame.columns:
        return 2
    dtype = frame[name].dtype
    if not isinstance(dtype, pd.ArrowDtype):
        return 2
    value_type = dtype.pyarrow_dtype
    if pa.types.is_decimal(value_type):
        return 1
    fixed = (pa.types.is_integer, pa.types.is_floating, pa.types.is_temporal, pa.types.is_boolean)
    return 0 if any(check(value_type) for check in fixed) else 2


# Expression classes of a comparison that reads columns and constants only.
_COMPARISON_PARTS = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.Is, exp.Not,
    exp.Column, exp.Identifier, exp.Literal, exp.Null, exp.Boolean, exp.Paren, exp.Neg,
    exp.Cast, exp.DataType, exp.DataTypeParam,
)


def _steps(parts: list[exp.Expression]) -> list[list[exp.Expression]]:
    """Group consecutive comparisons that read the same columns, such as both ends of a range."""
    steps: list[list[exp.Expression]] = []
    for part in parts:
        previous = steps[-1][0] if steps else None
        if previous is not None and _is_comparison(part) and _is_comparison(previous):
            read = _columns_read(part)
            if read and read == _columns_read(previous):
                steps[-1].append(part)
                continue
        steps.append([part])
    return steps


def _is_comparison(expression: exp.Expression) -> bool:
    return all(isinstance(node, _COMPARISON_PARTS) for node in expression.walk())


def _columns_read(expression: exp.Expression) -> set[str]:
    return {column.name for column in expression.find_all(exp.Column)}


def _step_masks(step: list[exp.Expression], rows: PassingRows, dialect: str) -> Iterator[pa.ChunkedArray | bool]:
    """Yield the masks of a step's conditions, each computed only when the caller requests it."""
    combined = _combined_mask(step, rows, dialect)
    if combined is not None:
        yield combined
        return
    for part in step:
        # Computed after the caller kept the rows of the previous mask, so only on those.
        yield predicate_mask(Evaluator(rows.column, rows.count, dialect), part)


def _combined_mask(
    step: list[exp.Expression], rows: PassingRows, dialect: str
) -> pa.ChunkedArray | bool | None:
    """AND the masks of a step's comparisons, all computed on the same rows.

    Narrowing a column between two comparisons of it costs more than comparing all its rows
    twice. Returns None for a single condition, or when a comparison fails on rows that an
    earlier one would have dropped: the conditions then run one after another.
    """
    if len(step) == 1:
        return None
    evaluator = Evaluator(rows.column, rows.count, dialect)
    combined: pa.ChunkedArray | bool = True
    try:
        for part in step:
            keep = predicate_mask(evaluator, part)
            if keep is False:
                return False
            if keep is not True:
                combined = keep if combined is True else pc.and_(combined, keep)
    except (GsqlError, pa.ArrowException):
        return None
    return combined


class PassingRows:
    """The rows of a frame that passed the conditions of a conjunction so far.

    Each condition gives a mask over the rows that passed the ones before. A column read again
    later is narrowed by the newer masks only, which is cheaper than filtering it from the
    frame again. A column read for the first time is filtered with `selection`.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.count = len(frame)
        self._selection: pa.BooleanArray | None = None
        # Row numbers of the passed rows, kept once a second condition narrowed the first.
        self._positions: np.ndarray | None = None
        self._masks: list[pa.BooleanArray] = []
        self._narrowed: dict[str, tuple[int, pa.ChunkedArray]] = {}

    @property
    def selection(self) -> pa.BooleanArray | None:
        """Return the mask of the passed rows among the frame's rows, or None for all rows."""
        if self._selection is None and self._positions is not None:
            flags = np.zeros(len(self.frame), dtype=bool)
            flags[self._positions] = True
            self._selection = pa.array(flags, pa.bool_())
        return self._selection

    def column(self, name: str) -> pa.ChunkedArray:
        """Return the column over the rows that passed so far."""
        if name in self._narrowed:
            applied, column = self._narrowed[name]
            for mask in self._masks[applied:]:
                column = column.filter(mask)
        else:
            column = column_of(self.frame, name)
            if self._masks:
                column = column.filter(self.selection)
        self._narrowed[name] = (len(self._masks), column)
        return column

    def columns(self, names: list[str]) -> dict[str, pa.ChunkedArray]:
        """Return the named columns over the rows that passed, narrowed on several threads."""
        if self._masks and self._selection is None:
            self._selection = self.selection  # built here once rather than by each thread
        return map_columns(self.column, names, len(self.frame))

    def keep(self, mask: pa.ChunkedArray | pa.BooleanArray) -> None:
        """Keep the rows where `mask`, a NULL-free mask over the rows passed so far, is true."""
        if isinstance(mask, pa.ChunkedArray):
            mask = mask.combine_chunks()
        passed = mask.true_count
        if passed == self.count:
            return
        if not self._masks:
            self._selection = mask
        else:
            if self._positions is None:
                self._positions = np.flatnonzero(self._selection.to_numpy(zero_copy_only=False))
            self._positions = self._positions[mask.to_numpy(zero_copy_only=False)]
            self._selection = None
        self._masks.append(mask)
        self.count = passed


def split_conjunction(predicate: exp.Expression) -> list[exp.Expression]:
    """Split a predicate at its top-level ANDs, in order."""
    while isinstance(predicate, exp.Paren):
        predicate = predicate.this
    if isinstance(predicate, exp.And):
        return split_conjunction(predicate.this) + split_conjunction(predicate.expression)
    return [predicate]


def predicate_mask(evaluator: Evaluator, predicate: exp.Expression) -> pa.ChunkedArray | bool:
    """Evaluate a predicate to a mask with NULL as false, or to a bool when it is constant."""
    mask = evaluator.evaluate(predicate)
    if isinstance(mask, pa.Scalar):
        return bool(mask.as_py()) if mask.is_valid else False
    if not pa.types.is_boolean(mask.type):
        mask = cast_value(mask, pa.bool_())
    # SQL keeps a row only when the predicate is TRUE: NULL counts as not true.
    return pc.fill_null(mask, False)
