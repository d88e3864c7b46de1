"""Table sources, the catalog of registered tables and the catalog file.

A table is CSV or Parquet files (a file, a glob, a directory or Hive partitions) or an
in-memory frame. `TableSource.read` returns a pyarrow Table with normalised types, reading
only the requested columns and pushing filters down where the format allows.

>>> from gsql.catalogs import Catalog, source_from_path  # doctest: +SKIP
>>> catalog = Catalog([source_from_path("flights", "data/flights.csv.gz")])  # doctest: +SKIP
>>> catalog.get("flights").read(["dep_time"]).num_rows  # doctest: +SKIP
336776
"""

from __future__ import annotations

from gsql.catalogs.catalog import Catalog
from gsql.catalogs.catalog_file import default_catalog_path, load_catalog, save_catalog
from gsql.catalogs.source import TableSource, source_from_frame, source_from_path
from gsql.catalogs.table_function import TABLE_FUNCTIONS, source_from_table_function

__all__ = [
    "TABLE_FUNCTIONS",
    "Catalog",
    "TableSource",
    "default_catalog_path",
    "load_catalog",
    "save_catalog",
    "source_from_frame",
    "source_from_path",
    "source_from_table_function",
]
