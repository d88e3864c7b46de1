"""Run recursive CTEs on pandas frames, with DuckDB's USING KEY and `recurring.<cte>` tables.

The pandas engine runs every recursion: dask computes the base rows and hands them over, and
cuDF does not run recursive CTEs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gsql.errors import ExecutionError
from gsql.sql import plan

__all__ = ["MAX_RECURSION", "run_recursive"]

# A recursive CTE that is still adding rows after this many runs of its recursive term is
# taken to be unbounded rather than left to exhaust memory.
MAX_RECURSION = 10_000


def run_recursive(backend, node: plan.Recursive, base: pd.DataFrame) -> pd.DataFrame:
    """Run the recursive term of `node` on the rows of its previous run until it adds none."""
    from gsql.engine.backend import execute_plan

    rows = base.set_axis(node.columns, axis=1)
    if not node.all:
        rows = rows.drop_duplicates(ignore_index=True)
    frames = backend.working_tables = getattr(backend, "working_tables", {})
    result = _Result(backend, node, rows)
    working = rows
    for _ in range(MAX_RECURSION):
        if len(working) == 0:
            return result.frame.reset_index(drop=True)
        frames[id(node.working)] = working.set_axis(node.working.columns, axis=1)
        if node.recurring is not None:
            frames[id(node.recurring)] = result.frame.set_axis(node.recurring.columns, axis=1)
        step, _timings = execute_plan(node.step, backend)
        step = step[node.step.columns].set_axis(node.columns, axis=1)
        working = result.add(step)
    raise ExecutionError(
        f"a recursive CTE was still adding rows after {MAX_RECURSION} iterations; "
        "check that its recursive term ends"
    )


class _Result:
    """The result of a recursive CTE so far, as `frame`.

    Without a key, `frame` contains every row added. With USING KEY it contains one row per
    key, and with aggregates in USING KEY it is computed again from `history`, every row
    produced so far, after each run.
    """

    def __init__(self, backend, node: plan.Recursive, rows: pd.DataFrame) -> None:
        self.backend = backend
        self.node = node
        self.frame = rows.iloc[:0]
        self.history = rows.iloc[:0]
        self.add(rows)

    def add(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Add the rows of one run and return those that the next run reads."""
        from gsql.engine.pandas_backend import _align_set_inputs, _set_operation

        node = self.node
        union = plan.SetOperation(node.columns, kind="union", all=True)
        if node.history is not None:
            self.history, rows = _align_set_inputs(union, self.history, rows)
            self.history = pd.concat([self.history, rows], ignore_index=True)
            self.frame = self._aggregate_history()
            return rows
        self.frame, rows = _align_set_inputs(union, self.frame, rows)
        if not node.all:
            # UNION drops the rows that are already in the result, including a row equal to
            # the current row of its key, and duplicates within the run.
            rows = _set_operation(
                self.backend, plan.SetOperation(node.columns, kind="except"), [rows, self.frame]
            )
        combined = pd.concat([self.frame, rows], ignore_index=True)
        if node.key:
            # A later row replaces the earlier row with the same key; NULL keys are equal here.
            combined = combined.drop_duplicates(subset=node.key, keep="last", ignore_index=True)
        self.frame = combined
        return rows

    def _aggregate_history(self) -> pd.DataFrame:
        """Return one row per key: the aggregated columns from `state`, the rest from the last row."""
        # NOTE: each run aggregates every row produced so far again, so a recursion of n runs
        # costs O(n * rows) and is much slower than one without aggregates.
        from gsql.engine.backend import execute_plan

        node = self.node
        history = self.history
        groups = history.groupby(node.key, dropna=False, sort=False).ngroup().to_numpy()
        group_column, row_column = node.history.columns[-2:]
        numbered = history.assign(**{group_column: groups, row_column: np.arange(len(history))})
        frames = self.backend.working_tables
        frames[id(node.history)] = numbered.set_axis(node.history.columns, axis=1)
        state, _timings = execute_plan(node.state, self.backend)
        state = state[node.state.columns].set_index(node.state.columns[0])

        last = numbered.drop_duplicates(subset=[group_column], keep="last")
        order = last[group_column].to_numpy()
        frame = last[list(node.columns)].reset_index(drop=True)
        for column, state_column in zip(node.aggregated, node.state.columns[1:]):
            frame[column] = state[state_column].reindex(order).reset_index(drop=True)
        for column in node.first_values:
            present = numbered[numbered[column].notna()]
            first = present.drop_duplicates(subset=[group_column]).set_index(group_column)[column]
            frame[column] = first.reindex(order).reset_index(drop=True)
        return frame
