"""In-memory tables: pandas DataFrames and Arrow tables registered from Python."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gsql.catalogs._arrow import cast_table, filter_table, target_schema
from gsql.errors import CatalogError, DataError

__all__ = ["MemoryReader", "frame_to_table"]


def frame_to_table(name: str, frame: Any) -> pa.Table:
    """Convert a frame to an Arrow table with normalised types.

    A pandas index is dropped, as DuckDB does when it scans a DataFrame. Besides pandas
    DataFrames and Arrow tables and record batches, any object that exports the Arrow C stream
    interface (`__arrow_c_stream__`, as polars frames do) is accepted.

    Raises:
        CatalogError: the object is not a frame.
        DataError: a pandas column does not convert to Arrow, such as one of mixed objects.
    """
    if isinstance(frame, pd.DataFrame):
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
            raise DataError(
                f"cannot convert DataFrame `{name}` to Arrow: {error}; give the column one type"
            ) from None
    elif isinstance(frame, pa.Table):
        table = frame
    elif isinstance(frame, pa.RecordBatch):
        table = pa.Table.from_batches([frame])
    elif hasattr(frame, "__arrow_c_stream__"):
        table = pa.table(frame)
    else:
        raise CatalogError(
            f"cannot register a {type(frame).__name__} as table `{name}`; pass a pandas "
            "DataFrame or a pyarrow Table"
        )

    duplicates = sorted(
        {column for column in table.column_names if table.column_names.count(column) > 1}
    )
    if duplicates:
        column_list = ", ".join(f"`{column}`" for column in duplicates)
        raise CatalogError(f"frame `{name}` repeats column {column_list}; rename the columns")

    # The stored table is already cast, so every read only selects and filters.
    table = table.replace_schema_metadata(None)
    return cast_table(table, target_schema(table.schema, {}), name)


class MemoryReader:
    """Reader for an Arrow table held in memory."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def arrow_schema(self) -> pa.Schema:
        """Return the table's schema."""
        return self.table.schema

    def read(self, columns: Sequence[str], filter: pc.Expression | None) -> pa.Table:
        """Return the columns of the rows where the filter is true."""
        return filter_table(self.table, filter, columns)

    def row_count(self) -> int:
        """Return the table's length."""
        return self.table.num_rows
