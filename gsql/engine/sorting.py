"""Stable multi-key sorting of Arrow tables with SQL's per-key NULL placement."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gsql.sql import plan

__all__ = ["interval_keys", "sort_indices", "top_indices"]


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
        if pa.types.is_interval(values.type):
            # Arrow cannot sort intervals: sort by their normalized parts instead.
            for part, array in enumerate(interval_keys(values)):
                columns[f"__key{position}_{part}"] = array
                sort_keys.append((f"__key{position}_{part}", order, placement))
            continue
        name = f"__key{position}"
        columns[name] = values
        sort_keys.append((name, order, placement))
    return pc.sort_indices(pa.table(columns), sort_keys=sort_keys)


_INTERVAL_LAYOUT = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanoseconds", "<i8")])
_DAY_NANOSECONDS = 86_400 * 10**9


def interval_keys(values: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    """Return an INTERVAL column as normalized (months, days, nanoseconds) int64 arrays.

    DuckDB compares intervals after carrying whole days out of the time part and whole
    30-day months out of the days, so `INTERVAL 30 DAYS` equals `INTERVAL 1 MONTH`. Intervals
    that DuckDB finds equal have equal parts here too. NULL intervals give NULL in every part.
    """
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    raw = np.frombuffer(array.buffers()[1], dtype=_INTERVAL_LAYOUT, count=array.offset + len(array))
    raw = raw[array.offset :]
    nanoseconds = raw["nanoseconds"].astype(np.int64)
    days = raw["days"].astype(np.int64)
    months = raw["months"].astype(np.int64)
    # C-style division truncates toward zero, as DuckDB's normalization does.
    carry_days = np.fix(nanoseconds / _DAY_NANOSECONDS).astype(np.int64)
    nanoseconds = nanoseconds - carry_days * _DAY_NANOSECONDS
    days = days + carry_days
    carry_months = np.fix(days / 30).astype(np.int64)
    days = days - carry_months * 30
    months = months + carry_months
    null = ~array.is_valid().to_numpy(zero_copy_only=False)
    return [pa.array(part, pa.int64(), mask=null) for part in (months, days, nanoseconds)]


def top_indices(table: pa.Table, keys: list[plan.SortKey], count: int) -> pa.Array:
    """Return the first `count` indices of `sort_indices(table, keys)`, sorting fewer rows.

    When `count` is small, the value of the first key at rank `count` bounds the result: only
    rows at or before it on that key (ties included) can reach the top, so only they are
    sorted. They keep their input order, so the stable sort ranks them as a full sort would.
    """
    first = table.column(keys[0].column)
    if count >= table.num_rows // 4 or not _bounded_type(first.type):
        return sort_indices(table, keys)[:count]
    key = keys[0]
    nulls = first.null_count
    # NULLs come first or last as a block, so only the non-NULL values need a bound.
    needed = count - nulls if key.nulls_first else count
    if needed <= 0:
        candidates = pc.indices_nonzero(pc.is_null(first))
    elif len(first) - nulls < needed:
        return sort_indices(table, keys)[:count]
    else:
        values = pc.drop_null(first) if nulls else first
        order = "descending" if key.descending else "ascending"
        chosen = values.take(pc.select_k_unstable(values, k=needed, sort_keys=[("key", order)]))
        if key.descending:
            within = pc.greater_equal(first, pc.min(chosen))
        else:
            within = pc.less_equal(first, pc.max(chosen))
        if nulls and key.nulls_first:
            within = pc.or_kleene(within, pc.is_null(first))
        candidates = pc.indices_nonzero(pc.fill_null(within, False))
    ranked = sort_indices(table.take(candidates), keys)[:count]
    return candidates.take(ranked)


def _bounded_type(value_type: pa.DataType) -> bool:
    """Return whether comparisons order every value of the type (floats can hold NaN)."""
    return (
        pa.types.is_integer(value_type)
        or pa.types.is_decimal(value_type)
        or (pa.types.is_temporal(value_type) and not pa.types.is_interval(value_type))
        or pa.types.is_string(value_type)
        or pa.types.is_large_string(value_type)
    )
