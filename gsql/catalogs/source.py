"""Table sources: what a table name stands for, and how to read it as Arrow.

A `TableSource` is CSV files, Parquet files or an in-memory Arrow table, with the reader
options that the user gave. Every schema and every table that it returns has normalised types
(`gsql.types.normalize_arrow_type`): `large_string` for all strings, no dictionary encoding,
`date32` for dates. The `dtype` option overrides the type of a named column.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gsql.catalogs._files import data_suffix, expand_paths, infer_format
from gsql.catalogs._options import dtype_text, normalize_options
from gsql.catalogs.csv import CsvReader
from gsql.catalogs.memory import MemoryReader, frame_to_table
from gsql.catalogs.parquet import ParquetReader
from gsql.errors import BindError, CatalogError, suggest

__all__ = ["FORMATS", "Reader", "TableSource", "source_from_frame", "source_from_path"]

logger = logging.getLogger(__name__)

FORMATS = ("csv", "parquet", "memory")
"""The formats of table sources. `memory` is an Arrow table registered from Python."""

_DICT_KEYS = frozenset({"name", "format", "paths", "options"})


class Reader(Protocol):
    """The operations that each format implements for `TableSource`."""

    def arrow_schema(self) -> pa.Schema: ...

    def read(self, columns: Sequence[str], filter: pc.Expression | None) -> pa.Table: ...

    def row_count(self) -> int | None: ...


@dataclass
class TableSource:
    """A named table backed by CSV files, Parquet files or an in-memory Arrow table.

    The schema is inferred on first use and cached for the life of the source, so a file that
    changes afterwards needs a new source.

    Attributes:
        name: the table name, in the case that the user gave it.
        format: `csv`, `parquet` or `memory`.
        paths: files, directories or globs, as the user gave them; empty for `memory`. A
            relative path resolves against the current directory when the source reads it.
            `save_catalog` stores paths as absolute ones.
        options: reader options under their canonical names (see `source_from_path`).
        data: the table of a `memory` source; None for files. A pandas DataFrame given here
            becomes a pyarrow Table with normalised types.
    """

    name: str
    format: str
    paths: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    data: pa.Table | None = field(default=None, repr=False, compare=False)
    _reader: Reader | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise CatalogError(f"invalid table name {self.name!r}: expected a non-empty string")
        if self.format not in FORMATS:
            raise CatalogError(
                f"unknown format `{self.format}` for table `{self.name}`; use `csv` or `parquet`"
            )
        if self.format == "memory":
            self._check_data()
        else:
            self._check_paths()
        self.paths = list(self.paths)
        self.options = normalize_options(self.format, self.options)

    def _check_data(self) -> None:
        if self.data is None:
            raise CatalogError(
                f"table `{self.name}` has format `memory` but no data; "
                "use source_from_frame() to register a frame"
            )
        self.data = frame_to_table(self.name, self.data)

    def _check_paths(self) -> None:
        paths = self.paths
        valid = isinstance(paths, (list, tuple)) and all(isinstance(path, str) for path in paths)
        if not valid:
            raise CatalogError(
                f"invalid paths {paths!r} for table `{self.name}`: expected a list of strings"
            )
        if not paths:
            raise CatalogError(f"table `{self.name}` has no paths; give a file, directory or glob")

    def arrow_schema(self) -> pa.Schema:
        """Return the column names and normalised types, inferring them on the first call.

        Raises:
            DataError: a file is missing, unreadable or malformed.
            CatalogError: a `dtype` entry names an unknown column.
        """
        return self._get_reader().arrow_schema()

    def read(
        self,
        columns: Sequence[str] | None = None,
        filter: pc.Expression | None = None,
    ) -> pa.Table:
        """Read the named columns, in that order, of the rows where the filter is true.

        Args:
            columns: the columns to return, all of them when None. A name may repeat.
            filter: a predicate that pushes down into the reader. It may read columns that
                `columns` leaves out. Parquet skips row groups with it, and CSV and in-memory
                tables apply it after reading, so every returned row satisfies it.

        Raises:
            BindError: a column is not in the table.
            DataError: a file is missing, unreadable or malformed.
        """
        schema = self.arrow_schema()
        requested = list(schema.names) if columns is None else list(columns)
        known = set(schema.names)
        for column in requested:
            if column not in known:
                raise BindError(
                    f"unknown column `{column}` in table `{self.name}`"
                    f"{suggest(column, schema.names)}"
                )

        started = time.perf_counter()
        table = self._get_reader().read(list(dict.fromkeys(requested)), filter)
        if table.column_names != requested:
            table = table.select(requested)
        logger.debug(
            "read %d rows and %d columns of %s table `%s` in %.3f s",
            table.num_rows,
            table.num_columns,
            self.format,
            self.name,
            time.perf_counter() - started,
        )
        return table

    def row_count(self) -> int | None:
        """Return the number of rows when it is cheap to know, else None.

        Parquet files store it in their metadata and in-memory tables know it. CSV files
        return None because counting their rows takes a full parse.
        """
        return self._get_reader().row_count()

    def to_dict(self) -> dict[str, Any]:
        """Return the source as a dict of TOML values: strings, numbers, booleans, lists, dicts.

        `header=None` (no header row) becomes `false` because TOML has no null.

        Raises:
            CatalogError: the source is in memory, which a catalog file cannot store.
        """
        if self.format == "memory":
            raise CatalogError(
                f"table `{self.name}` is an in-memory frame, which a catalog file cannot store; "
                "drop it from the catalog before saving"
            )
        options: dict[str, Any] = {}
        for key, value in self.options.items():
            if key == "header" and value is None:
                value = False
            elif key == "dtype":
                value = {column: dtype_text(column, type_) for column, type_ in value.items()}
            options[key] = value
        return {
            "name": self.name,
            "format": self.format,
            "paths": list(self.paths),
            "options": options,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableSource:
        """Build a source from the output of `to_dict`, as read back from a catalog file.

        Raises:
            CatalogError: a key is missing or unknown, or a value is invalid.
        """
        if not isinstance(data, Mapping):
            raise CatalogError(f"invalid table entry {data!r}: expected a table of keys")
        unknown = sorted(set(data) - _DICT_KEYS)
        if unknown:
            raise CatalogError(
                f"unknown key `{unknown[0]}` in table entry{suggest(unknown[0], _DICT_KEYS)}; "
                "expected `format`, `paths` and `options`"
            )
        for key in ("name", "format", "paths"):
            if key not in data:
                raise CatalogError(f"table entry has no `{key}`; add it")
        if data["format"] == "memory":
            raise CatalogError(
                f"table `{data['name']}` has format `memory`, which a file cannot hold"
            )

        paths = data["paths"]
        options = data.get("options", {})
        if not isinstance(options, Mapping):
            raise CatalogError(f"invalid `options` {options!r}: expected a table of options")
        return cls(
            name=data["name"],
            format=data["format"],
            paths=[paths] if isinstance(paths, str) else paths,
            options=dict(options),
        )

    def _get_reader(self) -> Reader:
        if self._reader is None:
            self._reader = _READERS[self.format](self)
        return self._reader


_READERS: dict[str, Callable[[TableSource], Reader]] = {
    "csv": lambda source: CsvReader(source.name, source.paths, source.options),
    "parquet": lambda source: ParquetReader(source.name, source.paths, source.options),
    "memory": lambda source: MemoryReader(source.data),
}


def source_from_path(
    name: str,
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    format: str | None = None,
    **options: Any,
) -> TableSource:
    """Make a table source of CSV or Parquet files.

    The path is kept as given, and `save_catalog` makes it absolute. The files must exist now,
    but their schema is read only when first needed.

    Args:
        name: the table name.
        path: a file, a directory, a glob such as `data/*.parquet`, or a list of them.
        format: `csv` or `parquet`. When None, the file extensions decide: `.csv`, `.tsv` and
            `.txt` (optionally compressed as `.gz`, `.bz2` or `.zst`) are CSV, and `.parquet`
            and `.pq` are Parquet. A directory or glob is judged by the files in it.
        **options: reader options, named as in `pandas.read_csv`. For CSV:

            - `delimiter` (alias `sep`): one character, by default a tab for `.tsv` files and
              `,` for the others.
            - `header`: the 0-based index of the header row (default 0), or None for no
              header. True means 0 and False means None.
            - `skiprows`: the number of rows to skip before the header.
            - `names`: column names, which replace those of the header row.
            - `dtype`: a mapping from column name to type, see `parse_dtype`.
            - `na_values`: NULL markers, added to the defaults of pandas (among them "",
              "NA", "NULL" and "NaN"). `keep_default_na=False` drops the defaults.
            - `quotechar` ("" for no quoting), `escapechar` and `doublequote`.
            - `encoding`: a Python codec name such as `latin-1`.
            - `compression`: `infer` from the extension (default), `gzip`, `bz2`, `zstd` or
              `none`.

            For Parquet, `dtype`, and `hive_partitioning`, which turns `key=value` folder names
            into columns. It is true by default for a directory or a glob.

    Raises:
        DataError: a path does not exist or a glob matches nothing.
        CatalogError: the format cannot be inferred, or an option is unknown or invalid.

    >>> source_from_path("flights", "data/flights.csv.gz", na_values=["NA"])  # doctest: +SKIP
    """
    path_items = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    paths = [os.fspath(item) for item in path_items]
    files = expand_paths(paths)
    if format is None:
        format = infer_format(paths, files)
    elif format.lower() not in ("csv", "parquet"):
        raise CatalogError(f"unknown format `{format}` for table `{name}`; use `csv` or `parquet`")
    format = format.lower()
    files = expand_paths(paths, format)

    is_tsv = all(data_suffix(file) == ".tsv" for file in files)
    if format == "csv" and is_tsv and "delimiter" not in options and "sep" not in options:
        options["delimiter"] = "\t"
    return TableSource(name=name, format=format, paths=paths, options=options)


def source_from_frame(name: str, frame: pd.DataFrame | pa.Table) -> TableSource:
    """Make a table source of a pandas DataFrame or a pyarrow Table, held in memory.

    The frame is converted to Arrow once, now, so later changes to a pandas frame do not show.
    Its index is dropped. Objects that export the Arrow C stream interface (`__arrow_c_stream__`,
    such as polars frames) are accepted too.

    Raises:
        CatalogError: the object is not a frame.
        DataError: a pandas column does not convert to Arrow.
    """
    return TableSource(name=name, format="memory", data=frame)
