"""Output formats of the command line, for standard output and for result files.

Standard output takes `table` (a terminal table drawn with rich), `csv`, `tsv`, `json`,
`ndjson` and `markdown`. Files take CSV, TSV, JSON, NDJSON and Parquet, chosen by extension.

Every format except `table` writes every row. Values follow these rules:

- CSV and TSV: a header row, then one line per row, with values in the text form of pyarrow's
  cast to string (`true`/`false`, timestamps as `2013-01-01 10:00:00.000000`, floats in their
  shortest exact form with `.0` on whole numbers, NaN as `nan`). A field is quoted only when it contains the delimiter, a
  quote or a line break. NULL is an empty field and an empty string is `""`. Binary values are
  base64, BIT strings their `0`/`1` digits, and lists, structs and maps are JSON text.
- JSON and NDJSON: one object per row. Dates, times and timestamps are ISO-8601 strings,
  decimals are strings so that no digit is lost, NaN and infinities are null (JSON has neither),
  durations are ISO-8601 durations and binary values are base64 strings.
- `table` and `markdown`: NULL shows as `NULL`, so that it differs from an empty string.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import io
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from gsql.errors import GsqlError

if TYPE_CHECKING:
    import pyarrow as pa
    from rich.text import Text

__all__ = [
    "FILE_FORMATS",
    "file_format",
    "print_table",
    "write_file",
    "write_stdout",
]

FILE_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".parquet": "parquet",
    ".pq": "parquet",
}
"""The result file format for each file extension that `-o` takes."""

_BATCH_ROWS = 65_536
_NEW_FILE_MODE = 0o666

# The widest that a column counts for when choosing which columns fit on the terminal.
_CELL_WIDTH = 40
_ELLIPSIS_COLUMN_WIDTH = 4


def file_format(path: str | os.PathLike[str]) -> str | None:
    """Return the format of a result file from its extension, or None for an unknown one."""
    return FILE_FORMATS.get(Path(path).suffix.lower())


def write_stdout(table: pa.Table, format: str, stream: TextIO) -> None:
    """Write every row of `table` to a text stream in a format other than `table`."""
    table = _bits_as_text(table)
    if format in ("csv", "tsv"):
        _write_delimited(table, stream, "\t" if format == "tsv" else ",")
    elif format in ("json", "ndjson"):
        _write_json(table, stream, lines=format == "ndjson")
    elif format == "markdown":
        _write_markdown(table, stream)
    else:
        raise ValueError(f"unknown output format `{format}`")


def write_file(table: pa.Table, path: str | os.PathLike[str], format: str) -> None:
    """Write `table` to a result file, replacing the file atomically.

    The rows go to a temporary file in the same directory, which is renamed over `path` once
    complete, so a failure leaves any old file unchanged and no partial file behind.

    Raises:
        GsqlError: the file cannot be written, or the format cannot store a column.
    """
    import pyarrow as pa

    target = Path(path)
    mode = _file_mode(target)
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as error:
        raise GsqlError(
            f"cannot write `{target}`: {error.strerror}; check that its directory exists and "
            "is writable"
        ) from None

    try:
        with os.fdopen(descriptor, "wb") as handle:
            _write_file_contents(table, handle, format)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except (OSError, pa.ArrowException) as error:
        Path(temporary).unlink(missing_ok=True)
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise GsqlError(f"cannot write `{target}` as {format}: {reason}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _bits_as_text(table: pa.Table) -> pa.Table:
    """Return `table` with its BIT columns as their `0`/`1` text, which other binary data lacks."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from gsql.types import is_bit

    for index, field in enumerate(table.schema):
        if is_bit(field.type):
            text = pc.cast(table.column(index), pa.large_string())
            table = table.set_column(index, field.name, text)
    return table


def _file_mode(target: Path) -> int:
    # mkstemp creates files readable by the owner only. A result file gets the mode of the
    # file it replaces, or the mode that open() would give a new file under the umask.
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return _NEW_FILE_MODE & ~umask


def _write_file_contents(table: pa.Table, handle: IO[bytes], format: str) -> None:
    if format == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, handle)
        return
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    write_stdout(table, format, text)
    text.flush()
    text.detach()


# Delimited text


def _write_delimited(table: pa.Table, stream: TextIO, delimiter: str) -> None:
    # pyarrow's CSV writer quotes every string value or none, so rows are joined with pyarrow
    # compute functions instead, which quote only the fields that need it.
    header = [_quote_field(name, delimiter) for name in table.column_names]
    stream.write(delimiter.join(header) + "\n")
    stream.writelines(
        _delimited_rows(batch, delimiter) for batch in table.to_batches(max_chunksize=_BATCH_ROWS)
    )


def _quote_field(text: str, delimiter: str) -> str:
    if text and not any(character in text for character in (delimiter, '"', "\n", "\r")):
        return text
    return '"' + text.replace('"', '""') + '"'


def _delimited_rows(batch: pa.RecordBatch, delimiter: str) -> str:
    """Return the lines of one batch of rows, each ending in a line feed."""
    import pyarrow.compute as pc

    fields = [_delimited_field(column, delimiter) for column in batch.columns]
    lines = pc.binary_join_element_wise(*fields, _large_text(delimiter))
    return _joined_lines(lines, "\n") + "\n" if len(lines) else ""


def _delimited_field(column: pa.Array, delimiter: str) -> pa.Array:
    """Return the text of each field of one column: quoted where needed, "" for NULL.

    An empty string is quoted (`""`) so that it differs from NULL, which is an empty field.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    type_ = column.type
    if _is_binary(type_):
        text = _python_texts(column, _base64_text)
    elif pa.types.is_nested(type_):
        text = _python_texts(column, lambda value: _dump_json(_json_value(value)))
    else:
        text = pc.cast(column, pa.large_string())
    if pa.types.is_floating(type_):
        # pyarrow writes 107.0 as "107"; keep whole floats recognisable as floats, as DuckDB does.
        text = pc.replace_substring_regex(text, r"^(-?\d+)$", r"\1.0")

    if pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_nested(type_):
        # The delimiter is a comma or a tab, neither of which is special in a regex class.
        needs_quotes = pc.or_(
            pc.match_substring_regex(text, f'[{delimiter}"\r\n]'), pc.equal(text, "")
        )
        text = pc.if_else(needs_quotes, _quoted(pc.replace_substring(text, '"', '""')), text)
    return pc.fill_null(text, "")


def _python_texts(column: pa.Array, convert: Callable[[Any], str]) -> pa.Array:
    import pyarrow as pa

    values = [None if value is None else convert(value) for value in column.to_pylist()]
    return pa.array(values, pa.large_string())


def _quoted(text: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    quote = _large_text('"')
    return pc.binary_join_element_wise(quote, text, quote, _large_text(""))


def _large_text(text: str) -> pa.Scalar:
    # pyarrow's string kernels want every argument in the columns' type, `large_string`.
    import pyarrow as pa

    return pa.scalar(text, pa.large_string())


def _joined_lines(lines: pa.Array, separator: str) -> str:
    """Return the strings of `lines` joined by `separator`, in one pyarrow call."""
    import pyarrow as pa
    import pyarrow.compute as pc

    document = pc.binary_join(
        pa.LargeListArray.from_arrays(pa.array([0, len(lines)]), lines), _large_text(separator)
    )
    return document[0].as_py()


# JSON


def _write_json(table: pa.Table, stream: TextIO, lines: bool) -> None:
    keys = [_dump_json(name) for name in table.column_names]
    batches = [batch for batch in table.to_batches(max_chunksize=_BATCH_ROWS) if batch.num_rows]
    if lines:
        stream.writelines(
            _joined_lines(_json_objects(batch, keys), "\n") + "\n" for batch in batches
        )
        return

    # NOTE: a result with repeated column names keeps each as a repeated key, and most JSON
    # readers then keep only the last value.
    stream.write("[")
    separator = "\n  "
    for batch in batches:
        stream.write(separator + _joined_lines(_json_objects(batch, keys), ",\n  "))
        separator = ",\n  "
    stream.write("\n]\n" if batches else "]\n")


def _json_objects(batch: pa.RecordBatch, keys: list[str]) -> pa.Array:
    """Return one JSON object per row of `batch`, as text, built with pyarrow kernels."""
    import pyarrow.compute as pc

    pieces = []
    for index, (key, column) in enumerate(zip(keys, batch.columns)):
        opener = "{" if index == 0 else ", "
        pieces.append(_large_text(f"{opener}{key}: "))
        pieces.append(_json_texts(column))
    pieces.append(_large_text("}"))
    return pc.binary_join_element_wise(*pieces, _large_text(""))


def _json_texts(column: pa.Array) -> pa.Array:
    """Return the JSON text of each value of one column, `null` for NULL."""
    import pyarrow as pa
    import pyarrow.compute as pc

    type_ = column.type
    if pa.types.is_integer(type_) or pa.types.is_boolean(type_):
        text = pc.cast(column, pa.large_string())
    elif pa.types.is_floating(type_):
        # pyarrow writes 1.0 as "1", so ".0" is appended to keep whole floats as floats for
        # readers that infer types.
        text = pc.replace_substring_regex(pc.cast(column, pa.large_string()), r"^(-?\d+)$", r"\1.0")
        text = pc.if_else(pc.is_finite(column), text, pa.scalar(None, pa.large_string()))
    elif pa.types.is_decimal(type_) or pa.types.is_date(type_) or pa.types.is_time(type_):
        text = _quoted(pc.cast(column, pa.large_string()))
    elif pa.types.is_timestamp(type_):
        text = _quoted(_iso_timestamps(column))
    elif pa.types.is_string(type_) or pa.types.is_large_string(type_):
        text = _json_strings(column)
    else:
        text = _python_texts(column, lambda value: _dump_json(_json_value(value)))
    return pc.fill_null(text, "null")


def _iso_timestamps(column: pa.Array) -> pa.Array:
    # pyarrow writes `2013-01-01 05:00:00-0500`, but ISO-8601 needs a `T` and `-05:00`.
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.replace_substring(pc.cast(column, pa.large_string()), " ", "T", max_replacements=1)
    return pc.replace_substring_regex(text, r"([+-]\d\d)(\d\d)$", r"\1:\2")


def _json_strings(column: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    column = pc.cast(column, pa.large_string())
    if pc.any(pc.match_substring_regex(column, r"[\x00-\x1f]")).as_py():
        return _python_texts(column, _dump_json)
    escaped = pc.replace_substring(pc.replace_substring(column, "\\", "\\\\"), '"', '\\"')
    return _quoted(escaped)


def _dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _is_binary(type_: pa.DataType) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_binary(type_)
        or pa.types.is_large_binary(type_)
        or pa.types.is_fixed_size_binary(type_)
        or pa.types.is_binary_view(type_)
    )


def _decimal_text(value: decimal.Decimal) -> str:
    return format(value, "f")


def _iso_duration(value: datetime.timedelta) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat()  # pandas' Timedelta, which pyarrow returns for nanoseconds
    sign = "-" if value < datetime.timedelta(0) else ""
    value = abs(value)
    seconds = value.seconds + value.microseconds / 1_000_000
    return f"{sign}P{value.days}DT{seconds:g}S"


def _base64_text(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _json_value(value: Any) -> Any:
    """Return a Python value that `json.dumps` writes, by the rules in the module docstring.

    This path serves the types without a pyarrow kernel path: durations, binary values, lists,
    structs and maps.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return _decimal_text(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return _iso_duration(value)
    if isinstance(value, bytes):
        return _base64_text(value)
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        # pyarrow returns a map value as a list of (key, value) tuples.
        return [_json_value(item) for item in value]
    return str(value)


# Terminal table and Markdown


def print_table(table: pa.Table, max_rows: int, stream: TextIO | None = None) -> None:
    """Draw `table` as a terminal table, showing at most `max_rows` rows (0 for all).

    A longer table shows its first and last rows around a row of ellipses. A table wider than
    the terminal shows its first and last columns around a column of ellipses. A line after the
    table counts the rows and names the columns that were left out.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=stream or sys.stdout, highlight=False)
    table = _bits_as_text(table)
    head, tail = _shown_rows(table, max_rows)
    hidden_rows = table.num_rows - len(head) - len(tail)
    head_cells = [[_display_cell(value) for value in row] for row in head]
    tail_cells = [[_display_cell(value) for value in row] for row in tail]
    visible = _visible_columns(table.column_names, head_cells + tail_cells, console.width)
    gap = None
    if len(visible) < table.num_columns:
        gap = next((i for i, index in enumerate(visible) if index != i), len(visible))

    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold")
    for position, index in enumerate(visible):
        if position == gap:
            grid.add_column("…", style="dim")
        field = table.schema.field(index)
        grid.add_column(Text(field.name), justify="right" if _is_numeric(field.type) else "left")

    for cells in head_cells:
        grid.add_row(*_visible_cells(cells, visible, gap))
    if hidden_rows:
        grid.add_row(*["…"] * (len(visible) + (gap is not None)), style="dim")
    for cells in tail_cells:
        grid.add_row(*_visible_cells(cells, visible, gap))

    console.print(grid)
    if hidden_rows:
        console.print(
            f"… {hidden_rows:,} more rows (use --max-rows or -o FILE)", markup=False, soft_wrap=True
        )
    if gap is not None:
        left_out = [table.column_names[i] for i in range(table.num_columns) if i not in visible]
        console.print(
            f"… {len(left_out)} more columns: {', '.join(left_out)} "
            "(select fewer columns, widen the terminal or use -o FILE)",
            markup=False,
            soft_wrap=True,
        )


def _display_cell(value: Any) -> Text:
    from rich.text import Text

    if value is None:
        return Text("NULL", style="dim")
    return Text(_display_value(value))


def _visible_cells(cells: list[Text], visible: list[int], gap: int | None) -> list[Any]:
    row: list[Any] = [cells[index] for index in visible]
    if gap is not None:
        row.insert(gap, "…")
    return row


def _visible_columns(names: list[str], rows: list[list[Text]], width: int) -> list[int]:
    """Return the positions of the columns that fit in `width`, in order.

    When not all fit, columns are taken from both ends inwards, so the result has a gap in the
    middle where the ellipsis column goes. At least one column is always visible.
    """
    from rich.cells import cell_len

    # Each column takes its text plus one space of padding on each side and one separator.
    needed = []
    for i, name in enumerate(names):
        longest = max([cell_len(name)] + [row[i].cell_len for row in rows])
        needed.append(min(longest, _CELL_WIDTH) + 3)
    if sum(needed) <= width:
        return list(range(len(names)))

    order = [i for pair in zip(range(len(names)), reversed(range(len(names)))) for i in pair]
    chosen: list[int] = []
    used = _ELLIPSIS_COLUMN_WIDTH
    for index in dict.fromkeys(order):
        if chosen and used + needed[index] > width:
            break
        chosen.append(index)
        used += needed[index]
    return sorted(chosen)


def _shown_rows(
    table: pa.Table, max_rows: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Return the first and the last rows to show. All rows are first rows when they fit."""
    if max_rows == 0 or table.num_rows <= max_rows:
        return _rows(table), []
    head_count = (max_rows + 1) // 2
    tail_count = max_rows // 2
    head = _rows(table.slice(0, head_count))
    tail = _rows(table.slice(table.num_rows - tail_count)) if tail_count else []
    return head, tail


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return list(zip(*[column.to_pylist() for column in table.columns]))


def _display_value(value: Any) -> str:
    """Return the text that the terminal table and Markdown show for one non-NULL value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, decimal.Decimal):
        return _decimal_text(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return _base64_text(value)
    if isinstance(value, (list, dict, tuple)):
        return _dump_json(_json_value(value))
    return str(value)


def _is_numeric(type_: pa.DataType) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_)


def _write_markdown(table: pa.Table, stream: TextIO) -> None:
    names = [_markdown_cell(name) for name in table.column_names]
    rules = ["---:" if _is_numeric(field.type) else "---" for field in table.schema]
    stream.write(_markdown_row(names))
    stream.write(_markdown_row(rules))
    for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
        for row in zip(*[column.to_pylist() for column in batch.columns]):
            cells = [
                "NULL" if value is None else _markdown_cell(_display_value(value)) for value in row
            ]
            stream.write(_markdown_row(cells))


def _markdown_cell(text: str) -> str:
    # A pipe would end the cell and a line break would end the row.
    return (
        text.replace("\\", "\\\\").replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")
    )


def _markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |\n"
