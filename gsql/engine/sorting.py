"""Stable multi-key sorting of Arrow tables with SQL's per-key NULL placement."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from gsql.sql import plan

__all__ = ["sort_indices"]


def sort_indices(table: pa.Table, keys: list[plan.SortKey]) -> pa.Array:
    """Return a stable sort permutation with per-key direction and NULL placement.

    NaN sorts above every number, as in DuckDB and PostgreSQL.
    """
    columns: dict[str, pa.ChunkedArray] = {}
    sort_keys = []
    for position, key in enumerate(keys):
        values = table.column(key.column)
        order = "descending" if key.descending else "ascending"
        placement = "at_start" if key.nulls_first else "at_end"
        if pa.types.is_floating(values.type):
            # Arrow places NaN with the NULLs; SQL sorts NaN above every number instead.
            nan_flag = f"__nan{position}"
            columns[nan_flag] = pc.is_nan(values)
            sort_keys.append((nan_flag, order, placement))
        name = f"__key{position}"
        columns[name] = values
        sort_keys.append((name, order, placement))
    return pc.sort_indices(pa.table(columns), sort_keys=sort_keys)
