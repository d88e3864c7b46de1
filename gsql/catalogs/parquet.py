"""Reading Parquet files, globs, directories and Hive partitions with `pyarrow.dataset`.

The dataset takes its schema from the first file, as DuckDB's `read_parquet` does without
`union_by_name`. Column projections and filters go down to pyarrow, which skips unread columns
and the row groups whose statistics rule the filter out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from gsql.catalogs._arrow import cast_table, columns_for_filter, filter_table, target_schema
from gsql.catalogs._files import expand_paths, partition_base_dir
from gsql.catalogs._options import dtype_types
from gsql.errors import CatalogError, DataError, suggest

__all__ = ["ParquetReader"]

logger = logging.getLogger(__name__)

# pyarrow quotes the failing file in its messages, as in
# "Could not open Parquet input source 'data/x.parquet': Parquet magic bytes not found".
_QUOTED_PATH = re.compile(r"'([^']+)'")


class ParquetReader:
    """Reader for the Parquet files of one table source; it opens the dataset on first use."""

    def __init__(self, name: str, paths: Sequence[str], options: Mapping[str, Any]) -> None:
        self.name = name
        self.paths = list(paths)
        self.options = dict(options)
        self._files: list[str] = []
        self._dataset: ds.Dataset | None = None
        self._schema: pa.Schema | None = None

    def dataset(self) -> ds.Dataset:
        """Return the pyarrow dataset, discovering the files and partitions on the first call.

        Raises:
            DataError: a path is missing or the first file is not readable Parquet.
        """
        if self._dataset is None:
            self._files = expand_paths(self.paths, "parquet")
            base_dir = partition_base_dir(self.paths)
            # Hive partitioning is on by default for a directory or a glob, whose folders may
            # be named `key=value`. A single file has no partition folders to read.
            hive = self.options.get("hive_partitioning", base_dir is not None)
            try:
                self._dataset = ds.dataset(
                    self._files,
                    format="parquet",
                    partitioning="hive" if hive else None,
                    partition_base_dir=(base_dir or None) if hive else None,
                )
            except (pa.ArrowException, OSError) as error:
                raise self._unreadable(error) from None
        return self._dataset

    def arrow_schema(self) -> pa.Schema:
        """Return the file schema plus partition columns, normalised, with overrides applied.

        Raises:
            CatalogError: a `dtype` entry names a column that the files do not have.
        """
        if self._schema is None:
            physical = self.dataset().schema
            overrides = dtype_types(self.options)
            for column in overrides:
                if column not in physical.names:
                    raise CatalogError(
                        f"`dtype` names column `{column}`, which the Parquet files of table "
                        f"`{self.name}` do not have{suggest(column, physical.names)}"
                    )
            self._schema = target_schema(physical, overrides)
        return self._schema

    def read(self, columns: Sequence[str], filter: pc.Expression | None) -> pa.Table:
        """Read the columns of the rows where the filter is true, casting to the schema's types.

        The filter goes down to pyarrow unless it reads a column with a `dtype` override, whose
        SQL type differs from the stored one, or pyarrow cannot bind it to the stored types
        (it has no comparison kernels for `string_view`). Then the filter applies after the cast.
        """
        schema = self.arrow_schema()
        dataset = self.dataset()

        scanner: ds.Scanner | None = None
        if filter is None:
            scanner = dataset.scanner(columns=list(columns))
        elif not self._reads_override(filter, schema):
            try:
                scanner = dataset.scanner(columns=list(columns), filter=filter)
            except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
                logger.debug(
                    "filter %s does not bind to the stored types of `%s`", filter, self.name
                )

        if scanner is not None:
            return cast_table(self._scan(scanner), schema, self.name)
        needed = columns_for_filter(filter, schema, columns)
        table = cast_table(self._scan(dataset.scanner(columns=needed)), schema, self.name)
        return filter_table(table, filter, columns)

    def _reads_override(self, filter: pc.Expression, schema: pa.Schema) -> bool:
        overridden = set(dtype_types(self.options))
        return bool(overridden) and bool(overridden & set(columns_for_filter(filter, schema, [])))

    def row_count(self) -> int:
        """Return the number of rows from the files' metadata, without reading any data."""
        try:
            return self.dataset().count_rows()
        except (pa.ArrowException, OSError) as error:
            raise self._unreadable(error) from None

    def _scan(self, scanner: ds.Scanner) -> pa.Table:
        try:
            return scanner.to_table()
        except (pa.ArrowException, OSError) as error:
            raise self._unreadable(error) from None

    def _unreadable(self, error: Exception) -> DataError:
        """Build the error for a failed read, naming the file that failed where it can."""
        message = str(error).rstrip(".")
        failed = next((path for path in _QUOTED_PATH.findall(message) if path in self._files), None)
        if failed is None:
            failed = _first_unreadable(self._files)
        if failed is None:
            path_list = ", ".join(f"`{path}`" for path in self.paths)
            return DataError(
                f"cannot read the Parquet files of table `{self.name}` ({path_list}): {message}; "
                "check that the files share one schema"
            )
        return DataError(
            f"cannot read Parquet file `{failed}`: {message}; check that it is a Parquet file, "
            "or pass format='csv' for CSV"
        )


def _first_unreadable(files: Sequence[str]) -> str | None:
    for path in files:
        try:
            pq.read_metadata(path)
        except (pa.ArrowException, OSError):
            return path
    return None
