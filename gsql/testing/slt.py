"""Run sqllogictest scripts against gsql.

A sqllogictest script (`*.test`) is a list of records separated by blank lines: `statement ok`
or `statement error` followed by SQL, and `query <types> [sort mode] [label]` followed by SQL,
`----` and the expected values. Two flavours of the format are read:

- SQLite's: one value a line, each value formatted by its column's type letter (`I` integer,
  `R` real as `%.3f`, `T` text), and results above the hash threshold stored as
  `N values hashing to <md5>`.
- DuckDB's: tab-separated rows, `loop` and `foreach` blocks with `{var}` substitution, the
  expected error text after `statement error` and `<REGEX>:` values. Values compare loosely:
  booleans as true/false or 1/0, numbers within 1% relative difference.

gsql runs SELECT statements only, so the runner keeps the tables itself. It applies CREATE
TABLE, INSERT, UPDATE, DELETE, DROP and CREATE VIEW to Arrow tables that it registers in a
gsql `Context`, and sends every SELECT through gsql, including the SELECT inside INSERT ...
SELECT, CREATE TABLE ... AS, UPDATE and DELETE. In DuckDB scripts, set-up statements that read
`range()`, `generate_series()` or `repeat()` run in DuckDB instead, but the query records under
test never do.

>>> report = run_script(Path("select1.test"), SltOptions(dialect="sqlite"))
>>> report.counts()["query"]["passed"]
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import hashlib
import logging
import math
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

import gsql
from gsql.sql.parse import USING_KEY, parse_statements
from gsql.types import arrow_type

__all__ = [
    "STATUSES",
    "Condition",
    "Outcome",
    "Record",
    "Script",
    "ScriptReport",
    "SltOptions",
    "SltSyntaxError",
    "compare_duckdb_result",
    "compare_sqlite_result",
    "detect_dialect",
    "duckdb_only_features",
    "failure_group",
    "format_duckdb_value",
    "format_sqlite_value",
    "hash_values",
    "parse_script",
    "run_script",
    "sort_values",
]

logger = logging.getLogger(__name__)

PASSED = "passed"
WRONG = "wrong"
UNSUPPORTED = "unsupported"
ERROR = "error"
TIMEOUT = "timeout"
SKIPPED = "skipped"
EXCLUDED = "excluded"

STATUSES = (PASSED, WRONG, UNSUPPORTED, ERROR, TIMEOUT, SKIPPED, EXCLUDED)
"""Record outcomes. `excluded` marks records that skipif/onlyif keep from gsql."""

FAILED_STATUSES = (WRONG, UNSUPPORTED, ERROR, TIMEOUT)

SORT_MODES = ("nosort", "rowsort", "valuesort")

_HASH_RESULT = re.compile(r"^(\d+) values hashing to ([0-9a-f]{32})$")
_LOOP_WORDS = ("loop", "foreach", "concurrentloop", "concurrentforeach")
_SIGNED_TYPES = ["tinyint", "smallint", "integer", "bigint", "hugeint"]
_UNSIGNED_TYPES = ["utinyint", "usmallint", "uinteger", "ubigint", "uhugeint"]
# Type groups that DuckDB's `foreach` lines may name in place of a list of values.
_FOREACH_GROUPS = {
    "<signed>": _SIGNED_TYPES,
    "<unsigned>": _UNSIGNED_TYPES,
    "<integral>": _SIGNED_TYPES + _UNSIGNED_TYPES,
    "<numeric>": _SIGNED_TYPES + _UNSIGNED_TYPES + ["float", "double"],
    "<alltypes>": _SIGNED_TYPES
    + _UNSIGNED_TYPES
    + ["float", "double", "bool", "interval", "varchar"],
}


class SltSyntaxError(ValueError):
    """A script that does not follow the sqllogictest format."""


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class Condition:
    """A `skipif ENGINE` or `onlyif ENGINE` line in front of a record."""

    only: bool
    engine: str

    def excludes(self, engines: frozenset[str]) -> bool:
        """Return whether the condition keeps the record from an engine known by `engines`."""
        return (self.engine in engines) != self.only


@dataclass
class Record:
    """One record of a script.

    Attributes:
        kind: `statement`, `query` or `control` (a line such as `halt`, `mode skip` or
            `require json`, whose words are in `words`).
        line: 1-based line of the record's first line in the script.
        mode: for statements, `ok`, `error` or `maybe`.
        error_text: for `statement error`, the expected message after `----`, if any.
        types: for queries, one type letter a column.
        expected: the lines after `----`; None when the record has no `----`.
    """

    kind: str
    line: int
    sql: str = ""
    conditions: tuple[Condition, ...] = ()
    mode: str = "ok"
    error_text: str | None = None
    types: str = ""
    sort_mode: str = "nosort"
    label: str | None = None
    expected: list[str] | None = None
    words: tuple[str, ...] = ()


@dataclass
class Script:
    """The records of a script, with `loop` and `foreach` blocks already expanded."""

    records: list[Record]
    hash_threshold: int = 0


_Line = tuple[int, str]


def parse_script(text: str) -> Script:
    """Parse the text of a `.test` file into records.

    Raises:
        SltSyntaxError: a malformed record header or an unbalanced `loop`/`endloop`.
    """
    lines = _expand_loops(list(enumerate(text.splitlines(), start=1)))
    records: list[Record] = []
    conditions: list[Condition] = []
    hash_threshold = 0
    index = 0

    while index < len(lines):
        number, line = lines[index]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        words = _header_words(stripped)
        head = words[0]
        if head in ("skipif", "onlyif"):
            if len(words) < 2:
                raise SltSyntaxError(f"line {number}: `{head}` needs an engine name")
            conditions.append(Condition(only=head == "onlyif", engine=words[1].lower()))
            index += 1
            continue
        if head == "hash-threshold":
            hash_threshold = _integer_word(words, 1, number)
            index += 1
            continue

        if head == "statement":
            record, index = _parse_statement(lines, index, words)
        elif head == "query":
            record, index = _parse_query(lines, index, words)
        else:
            record = Record("control", number, words=tuple(words))
            index += 1
        record.conditions = tuple(conditions)
        conditions = []
        records.append(record)

    return Script(records, hash_threshold)


def _header_words(line: str) -> list[str]:
    # Header and control lines may end in a `#` comment, as in `skipif mysql # not compatible`.
    return line.split("#", 1)[0].split() or [line]


def _integer_word(words: Sequence[str], position: int, number: int) -> int:
    try:
        return int(words[position])
    except (IndexError, ValueError):
        raise SltSyntaxError(
            f"line {number}: expected an integer after `{words[0]}`, got {' '.join(words)!r}"
        ) from None


def _collect(lines: list[_Line], index: int, stop_at_separator: bool) -> tuple[list[str], int]:
    collected = []
    while index < len(lines):
        text = lines[index][1]
        if not text.strip() or (stop_at_separator and text.strip() == "----"):
            break
        collected.append(text)
        index += 1
    return collected, index


def _at_separator(lines: list[_Line], index: int) -> bool:
    return index < len(lines) and lines[index][1].strip() == "----"


def _parse_statement(lines: list[_Line], index: int, words: list[str]) -> tuple[Record, int]:
    number = lines[index][0]
    mode = words[1].lower() if len(words) > 1 else "ok"
    if mode not in ("ok", "error", "maybe"):
        raise SltSyntaxError(f"line {number}: unknown statement mode `{mode}`")
    sql_lines, index = _collect(lines, index + 1, stop_at_separator=True)
    error_text = None
    if _at_separator(lines, index):
        text_lines, index = _collect(lines, index + 1, stop_at_separator=False)
        error_text = "\n".join(text_lines)
    return Record(
        "statement", number, sql="\n".join(sql_lines), mode=mode, error_text=error_text
    ), index


def _parse_query(lines: list[_Line], index: int, words: list[str]) -> tuple[Record, int]:
    number = lines[index][0]
    types = words[1] if len(words) > 1 else ""
    options = words[2:]
    sort_mode = "nosort"
    if options and options[0] in SORT_MODES:
        sort_mode = options.pop(0)
    label = options[0] if options else None

    sql_lines, index = _collect(lines, index + 1, stop_at_separator=True)
    expected = None
    if _at_separator(lines, index):
        expected, index = _collect(lines, index + 1, stop_at_separator=False)
    record = Record(
        "query",
        number,
        sql="\n".join(sql_lines),
        types=types,
        sort_mode=sort_mode,
        label=label,
        expected=expected,
    )
    return record, index


def _expand_loops(lines: list[_Line]) -> list[_Line]:
    """Repeat the body of each `loop` and `foreach` block once a value, substituting `{var}`."""
    expanded: list[_Line] = []
    in_record = False
    index = 0

    while index < len(lines):
        number, text = lines[index]
        stripped = text.strip()
        if not stripped:
            in_record = False
        elif not in_record and not stripped.startswith("#"):
            words = _header_words(stripped)
            if words[0] in _LOOP_WORDS:
                end = _matching_endloop(lines, index)
                body = _expand_loops(lines[index + 1 : end])
                for value in _loop_values(words, number):
                    expanded.extend(_substitute(body, words[1], value))
                index = end + 1
                continue
            if words[0] == "endloop":
                raise SltSyntaxError(f"line {number}: `endloop` without a `loop` or `foreach`")
            in_record = words[0] in ("statement", "query")
        expanded.append((number, text))
        index += 1

    return expanded


def _matching_endloop(lines: list[_Line], start: int) -> int:
    depth = 0
    in_record = False
    for index in range(start, len(lines)):
        stripped = lines[index][1].strip()
        if not stripped:
            in_record = False
            continue
        if in_record or stripped.startswith("#"):
            continue
        head = _header_words(stripped)[0]
        if head in _LOOP_WORDS:
            depth += 1
        elif head == "endloop":
            depth -= 1
            if depth == 0:
                return index
        in_record = head in ("statement", "query")
    raise SltSyntaxError(f"line {lines[start][0]}: `{lines[start][1].strip()}` has no `endloop`")


def _loop_values(words: list[str], number: int) -> list[str]:
    if len(words) < 3:
        raise SltSyntaxError(f"line {number}: `{' '.join(words)}` needs a variable and values")
    if words[0] in ("loop", "concurrentloop"):
        start = _integer_word(words, 2, number)
        end = _integer_word(words, 3, number)
        return [str(value) for value in range(start, end)]
    values: list[str] = []
    for word in words[2:]:
        values.extend(_FOREACH_GROUPS.get(word, [word]))
    return values


def _substitute(lines: list[_Line], variable: str, value: str) -> list[_Line]:
    patterns = ("${" + variable + "}", "{" + variable + "}")
    substituted = []
    for number, text in lines:
        for pattern in patterns:
            text = text.replace(pattern, value)
        substituted.append((number, text))
    return substituted


def detect_dialect(text: str) -> str:
    """Guess the flavour of a script: DuckDB's files open with a `# name:` comment."""
    for line in text.splitlines():
        if line.strip():
            return "duckdb" if line.startswith("# name:") else "sqlite"
    return "sqlite"


# ---------------------------------------------------------------------------------------------
# Formatting and comparing results


def format_sqlite_value(value: Any, letter: str) -> str:
    """Format one result value as SQLite's sqllogictest runner prints it.

    `I` converts to a 64-bit integer, `R` to a real printed with `%.3f`, `T` to text, the way
    `sqlite3_column_int64`, `_double` and `_text` convert. NULL prints as `NULL` and an empty
    string as `(empty)`; each byte outside printable ASCII prints as `@`.
    """
    if value is None:
        return "NULL"
    if letter == "I":
        text = str(_sqlite_integer(value))
    elif letter == "R":
        # SQLite's printf keeps 16 significant digits of a double, so -2**64 shows as
        # -18446744073709550000.000, not as the exact binary value.
        real = _sqlite_real(value)
        text = f"{decimal.Decimal(f'{real:.16g}'):.3f}" if math.isfinite(real) else f"{real:.3f}"
    else:
        text = _sqlite_text(value)
    if text == "":
        return "(empty)"
    if text.isascii() and text.isprintable():
        return text
    return "".join("@" if byte < 0x20 or byte > 0x7E else chr(byte) for byte in text.encode())


_NUMERIC_PREFIX = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER_PREFIX = re.compile(r"\s*[+-]?\d+")


def _sqlite_integer(value: Any) -> int:
    if isinstance(value, (bool, int)):
        return int(value)
    if isinstance(value, (float, decimal.Decimal)):
        return int(value) if math.isfinite(value) else 0
    match = _INTEGER_PREFIX.match(_sqlite_text(value))
    return int(match.group()) if match else 0


def _sqlite_real(value: Any) -> float:
    if isinstance(value, (bool, int, float, decimal.Decimal)):
        return float(value)
    match = _NUMERIC_PREFIX.match(_sqlite_text(value))
    return float(match.group()) if match else 0.0


def _sqlite_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (float, decimal.Decimal)):
        return _sqlite_real_text(float(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def _sqlite_real_text(value: float) -> str:
    # SQLite prints a REAL as text with `%!.15g`: 15 significant digits, and always a decimal
    # point in the mantissa ("1.0", "1.0e+20").
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    text = format(value, ".15g")
    mantissa, marker, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + marker + exponent


def format_duckdb_value(value: Any) -> str:
    """Format one result value the way DuckDB casts it to VARCHAR in its test runner."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return value if value else "(empty)"
    return _duckdb_text(value)


def _duckdb_text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return _interval_text(0, value.days, value.seconds * 10**9 + value.microseconds * 1000)
    if isinstance(value, pa.MonthDayNano):
        return _interval_text(value.months, value.days, value.nanoseconds)
    if isinstance(value, bytes):
        return "".join(chr(byte) if 0x20 <= byte < 0x7F else f"\\x{byte:02X}" for byte in value)
    if isinstance(value, list):
        return "[" + ", ".join(_duckdb_text(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"'{key}': {_duckdb_text(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    return str(value)


def _interval_text(months: int, days: int, nanoseconds: int) -> str:
    parts = []
    years, months = divmod(months, 12)
    for amount, unit in ((years, "year"), (months, "month"), (days, "day")):
        if amount:
            parts.append(f"{amount} {unit}{'' if abs(amount) == 1 else 's'}")
    if nanoseconds or not parts:
        sign = "-" if nanoseconds < 0 else ""
        microseconds = abs(nanoseconds) // 1000
        seconds, micros = divmod(microseconds, 10**6)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        clock = f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
        parts.append(clock + (f".{micros:06d}" if micros else ""))
    return " ".join(parts)


def sort_values(rows: list[list[str]], sort_mode: str) -> list[str]:
    """Flatten formatted rows into values in the order that `sort_mode` compares them.

    `rowsort` sorts rows by their values as strings, column by column. `valuesort` sorts every
    value on its own, and `nosort` keeps the result order.
    """
    if sort_mode == "rowsort":
        rows = sorted(rows)
    values = [value for row in rows for value in row]
    if sort_mode == "valuesort":
        values.sort()
    return values


def hash_values(values: Sequence[str]) -> str:
    """Return the MD5 digest of the values, each followed by a newline."""
    digest = hashlib.md5()
    for value in values:
        digest.update(value.encode())
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass
class Comparison:
    """The result of comparing one query's output with its expected lines."""

    mismatch: str | None
    values: list[str]

    @property
    def equal(self) -> bool:
        return self.mismatch is None


def compare_sqlite_result(
    rows: Sequence[Sequence[Any]], types: str, sort_mode: str, expected: list[str] | None
) -> Comparison:
    """Compare result rows with a SQLite-format record: values formatted by type letter."""
    width = len(rows[0]) if rows else len(types)
    formatted = [
        [format_sqlite_value(value, _letter(types, j)) for j, value in enumerate(row)]
        for row in rows
    ]
    values = sort_values(formatted, sort_mode)
    if rows and width != len(types):
        return Comparison(f"expected {len(types)} columns, got {width}", values)
    if expected is None:
        return Comparison(None, values)

    hashed = _hashed_expectation(expected)
    if hashed is not None:
        count, digest = hashed
        if count != len(values):
            return Comparison(f"expected {count} values, got {len(values)}", values)
        if digest != hash_values(values):
            return Comparison(
                f"expected {count} values hashing to {digest}, got a different hash", values
            )
        return Comparison(None, values)

    if values != expected:
        return Comparison(_first_difference(expected, values), values)
    return Comparison(None, values)


def _letter(types: str, position: int) -> str:
    return types[position] if position < len(types) else "T"


def _hashed_expectation(expected: list[str]) -> tuple[int, str] | None:
    if len(expected) != 1:
        return None
    match = _HASH_RESULT.match(expected[0].strip())
    return (int(match.group(1)), match.group(2)) if match else None


def _first_difference(expected: Sequence[str], values: Sequence[str]) -> str:
    if len(expected) != len(values):
        return f"expected {len(expected)} values, got {len(values)}"
    for position, (want, got) in enumerate(zip(expected, values)):
        if want != got:
            return f"value {position + 1}: expected {want!r}, got {got!r}"
    return "results differ"


def compare_duckdb_result(
    rows: Sequence[Sequence[Any]], types: str, sort_mode: str, expected: list[str] | None
) -> Comparison:
    """Compare result rows with a DuckDB-format record.

    Expected rows are tab-separated, or one value a line. A value matches when the strings are
    equal, when both are booleans written as true/false or 1/0, or when both are numbers within
    1% relative difference. An expected `<REGEX>:pattern` matches when the pattern matches the
    whole value, and `<!REGEX>:pattern` when it does not.
    """
    width = len(rows[0]) if rows else len(types)
    formatted = [[format_duckdb_value(value) for value in row] for row in rows]
    values = sort_values(formatted, sort_mode)
    if rows and types and width != len(types):
        return Comparison(f"expected {len(types)} columns, got {width}", values)
    if expected is None:
        return Comparison(None, values)

    hashed = _hashed_expectation(expected)
    if hashed is not None:
        count, digest = hashed
        if count != len(values) or digest != hash_values(values):
            return Comparison(
                f"expected {count} values hashing to {digest}, got a different result", values
            )
        return Comparison(None, values)

    expected_rows = _split_expected_rows(expected, width, len(rows))
    if sort_mode == "rowsort":
        expected_rows = sorted(expected_rows)
        formatted = sorted(formatted)
    if sort_mode == "valuesort":
        expected_rows = [[value] for value in sorted(v for row in expected_rows for v in row)]
        formatted = [[value] for value in sorted(v for row in formatted for v in row)]
    return Comparison(_compare_duckdb_rows(expected_rows, formatted), values)


def _split_expected_rows(expected: list[str], width: int, row_count: int) -> list[list[str]]:
    if width <= 1:
        return [[line] for line in expected]
    split = [line.split("\t") for line in expected]
    if all(len(row) == width for row in split):
        return split
    # Some files end a row with a stray tab; DuckDB's runner ignores it.
    trimmed = [line.rstrip("\t").split("\t") for line in expected]
    if all(len(row) == width for row in trimmed):
        return trimmed
    if len(expected) == width * row_count and all(len(row) == 1 for row in split):
        # One value a line, as in SQLite's format.
        return [expected[start : start + width] for start in range(0, len(expected), width)]
    return split


def _compare_duckdb_rows(expected: list[list[str]], actual: list[list[str]]) -> str | None:
    if len(expected) != len(actual):
        return f"expected {len(expected)} rows, got {len(actual)}"
    for number, (want_row, got_row) in enumerate(zip(expected, actual), start=1):
        if len(want_row) != len(got_row):
            return f"row {number}: expected {len(want_row)} values, got {len(got_row)}"
        for column, (want, got) in enumerate(zip(want_row, got_row), start=1):
            if not duckdb_values_match(want, got):
                return f"row {number}, column {column}: expected {want!r}, got {got!r}"
    return None


_BOOLEAN_TEXT = {"true": "1", "false": "0"}


def duckdb_values_match(expected: str, actual: str) -> bool:
    """Return whether one formatted value matches an expected value under DuckDB's rules."""
    if expected.startswith("<REGEX>:"):
        return re.fullmatch(expected[len("<REGEX>:") :], actual, re.DOTALL) is not None
    if expected.startswith("<!REGEX>:"):
        return re.fullmatch(expected[len("<!REGEX>:") :], actual, re.DOTALL) is None
    if expected == actual or expected.strip() == actual.strip():
        return True
    if _BOOLEAN_TEXT.get(expected.lower(), expected) == _BOOLEAN_TEXT.get(actual.lower(), actual):
        return True
    if "NULL" in (expected, actual):
        return False
    try:
        want, got = float(expected), float(actual)
    except ValueError:
        return False
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    return math.isclose(want, got, rel_tol=0.01, abs_tol=1e-12)


# ---------------------------------------------------------------------------------------------
# DuckDB-only features


# Functions that neither SQLite, standard SQL nor PostgreSQL define, by DuckDB's names.
DUCKDB_ONLY_FUNCTIONS = frozenset(
    [
        "approx_count_distinct",
        "approx_quantile",
        "approx_top_k",
        "arbitrary",
        "arg_max",
        "arg_max_null",
        "arg_min",
        "arg_min_null",
        "argmax",
        "argmin",
        "bar",
        "bit_count",
        "bitstring_agg",
        "count_star",
        "current_setting",
        "entropy",
        "epoch",
        "epoch_ms",
        "error",
        "favg",
        "fill",
        "first",
        "fsum",
        "generate_series",
        "hash",
        "histogram",
        "kahan_sum",
        "kurtosis",
        "kurtosis_pop",
        "last",
        "list",
        "list_value",
        "mad",
        "max_by",
        "mean",
        "min_by",
        "nextval",
        "product",
        "quantile",
        "quantile_cont",
        "quantile_disc",
        "range",
        "reservoir_quantile",
        "sem",
        "skewness",
        "str_split",
        "string_split",
        "string_split_regex",
        "struct_extract",
        "struct_pack",
        "sumkahan",
        "unnest",
    ]
)
DUCKDB_ONLY_PREFIXES = ("list_", "array_", "struct_", "map_", "json_")

# Nodes that sqlglot builds for DuckDB-only functions and syntax: lists, structs, lambdas.
_DUCKDB_ONLY_NODES: dict[type[exp.Expression], str] = {
    exp.ArgMax: "arg_max",
    exp.ArgMin: "arg_min",
    exp.Array: "list value",
    exp.Struct: "struct value",
    exp.Lambda: "lambda function",
    exp.Explode: "unnest",
    exp.Unnest: "unnest",
    exp.GenerateSeries: "range",
    exp.Quantile: "quantile",
    exp.ApproxQuantile: "approx_quantile",
    exp.First: "first",
    exp.Last: "last",
    exp.Nearest: "syntax NEAREST join",
}
# DuckDB's vector search join, `JOIN t [EXACT | APPROX] NEAREST [n] BY ...`, in forms that
# sqlglot 30.30 cannot parse.
_NEAREST_JOIN = re.compile(r"\b(EXACT\s+|APPROX\s+)?NEAREST(\s+\d+)?\s+BY\b", re.IGNORECASE)
_DUCKDB_ONLY_TYPES = {
    exp.DataType.Type.INT128: "HUGEINT",
    exp.DataType.Type.UINT128: "UHUGEINT",
    exp.DataType.Type.UNION: "UNION",
    exp.DataType.Type.MAP: "MAP",
    exp.DataType.Type.BIGNUM: "BIGNUM",
}


def duckdb_only_features(sql: str) -> list[str]:
    """Return the DuckDB-only functions, syntax and types that `sql` uses, in order.

    An empty list also means that gsql could not parse the text. The items of a recursive
    CTE's `USING KEY (...)` clause, which gsql's parser keeps outside the tree, are searched too.
    """
    try:
        statements = parse_statements(sql, "duckdb")
    except (gsql.GsqlError, sqlglot.errors.SqlglotError):
        return ["syntax NEAREST join"] if _NEAREST_JOIN.search(sql) else []
    found: list[str] = []
    trees: list[exp.Expression] = list(statements)
    for statement in statements:
        for cte in statement.find_all(exp.CTE):
            trees.extend(cte.meta.get(USING_KEY, []))
    for tree in trees:
        for node in tree.walk():
            feature = _duckdb_only_feature(node) or _duckdb_only_name(node, sql)
            if feature and feature not in found:
                found.append(feature)
    return found


def _duckdb_only_feature(node: exp.Expression) -> str | None:
    kind = type(node)
    if kind in _DUCKDB_ONLY_NODES:
        return _DUCKDB_ONLY_NODES[kind]
    if isinstance(node, (exp.Min, exp.Max)) and node.args.get("count") is not None:
        # DuckDB's `min(x, n)` returns a list of the n smallest values.
        return f"{node.sql_name().lower()}(x, n) returning a list"
    if isinstance(node, exp.Join) and (node.kind or "").upper() in ("MARK", "SINGLE"):
        # `JOIN BY (TYPE mark)` and `(TYPE single)` expose join types internal to DuckDB.
        return f"syntax JOIN BY (TYPE {node.kind.lower()})"
    if isinstance(node, exp.Column) and node.name.lower() == "rowid":
        # Only reached for a failed record, so a table with a real `rowid` column is not skipped.
        return "pseudo-column rowid"
    if isinstance(node, exp.DataType):
        if node.this in _DUCKDB_ONLY_TYPES:
            return f"type {_DUCKDB_ONLY_TYPES[node.this]}"
        kind_name = str(node.args.get("kind") or "").upper()
        return f"type {kind_name}" if kind_name in ("VARINT", "UHUGEINT", "HUGEINT") else None
    if isinstance(node, exp.Func):
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        is_duckdb_only = name in DUCKDB_ONLY_FUNCTIONS or name.startswith(DUCKDB_ONLY_PREFIXES)
        if is_duckdb_only and name != "array_agg":
            return name
    return None


def _duckdb_only_name(node: exp.Expression, sql: str) -> str | None:
    """Return the function name as written in `sql` when only DuckDB has it.

    sqlglot turns some DuckDB-only names into standard nodes: `list(x)` becomes ARRAY_AGG and
    `approx_count_distinct(x)` becomes APPROX_DISTINCT. The node's meta keeps where its name is.
    """
    start, end = node.meta.get("start"), node.meta.get("end")
    if not isinstance(node, exp.Func) or start is None or end is None:
        return None
    name = sql[start : end + 1].lower()
    return name if name in DUCKDB_ONLY_FUNCTIONS else None


# ---------------------------------------------------------------------------------------------
# Running


@dataclass
class SltOptions:
    """How to run a script.

    Attributes:
        dialect: the SQL dialect of the script, `sqlite` or `duckdb`; it also picks the result
            format (SQLite's formatted values or DuckDB's loose comparison).
        engine: the gsql engine to run queries on.
        engines: the names that `skipif`/`onlyif` lines match; by default `gsql` and the
            dialect's name, so SQLite files run `onlyif sqlite` records and skip `skipif sqlite`.
        timeout: seconds each record may take, or None for no limit. The limit works through
            SIGALRM, so only in the main thread.
        max_records: stop after running this many statement and query records.
    """

    dialect: str = "sqlite"
    engine: str = "pandas"
    engines: frozenset[str] | None = None
    timeout: float | None = 10.0
    max_records: int | None = None

    def engine_names(self) -> frozenset[str]:
        return self.engines if self.engines is not None else frozenset({"gsql", self.dialect})


@dataclass
class Outcome:
    """The outcome of one statement or query record."""

    line: int
    kind: str
    status: str
    reason: str = ""
    sql: str = ""
    expected: list[str] | None = None
    actual: list[str] | None = None
    seconds: float = 0.0

    def to_dict(self, sql_limit: int = 400, value_limit: int = 40) -> dict[str, Any]:
        """Return the outcome as plain JSON values, with long SQL and value lists cut."""
        data: dict[str, Any] = {
            "line": self.line,
            "kind": self.kind,
            "status": self.status,
            "reason": self.reason,
            "sql": _shorten(self.sql, sql_limit),
        }
        if self.status == WRONG:
            data["expected"] = (self.expected or [])[:value_limit]
            data["actual"] = (self.actual or [])[:value_limit]
        return data


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class ScriptReport:
    """Every record outcome of one script."""

    path: str
    dialect: str
    outcomes: list[Outcome] = field(default_factory=list)
    stopped: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, dict[str, int]]:
        """Return, for `query` and `statement` records, the number of each status."""
        counts = {kind: dict.fromkeys(STATUSES, 0) for kind in ("query", "statement")}
        for outcome in self.outcomes:
            counts[outcome.kind][outcome.status] += 1
        return counts

    def skip_reasons(self) -> Counter[str]:
        return Counter(outcome.reason for outcome in self.outcomes if outcome.status == SKIPPED)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON values: counts, skip reasons and every failure."""
        return {
            "path": self.path,
            "dialect": self.dialect,
            "seconds": round(self.seconds, 3),
            "stopped": self.stopped,
            "notes": self.notes,
            "counts": self.counts(),
            "skip_reasons": dict(self.skip_reasons().most_common()),
            "failures": [o.to_dict() for o in self.outcomes if o.status in FAILED_STATUSES],
        }


class RecordTimeout(BaseException):
    """A record that ran past its time limit.

    It derives from BaseException so that an engine's broad `except Exception` cannot turn it
    into an ordinary error.
    """


class RunnerLimitation(Exception):
    """A statement that the runner cannot emulate; its record counts as skipped."""


class StatementRejected(Exception):
    """A statement that the runner finds invalid, such as an INSERT into a missing table."""


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise RecordTimeout(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_script(
    path: Path, options: SltOptions | None = None, text: str | None = None
) -> ScriptReport:
    """Parse and run one script, returning the outcome of each record.

    Args:
        path: the script file; also the name the report uses.
        options: how to run it; the dialect is guessed from the text when None.
        text: the script's text, to run text that is not in a file.
    """
    if text is None:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    if options is None:
        options = SltOptions(dialect=detect_dialect(text))
    runner = ScriptRunner(options, str(path))
    started = time.perf_counter()
    try:
        script = parse_script(text)
    except SltSyntaxError as error:
        runner.report.stopped = f"malformed script: {error}"
        return runner.report
    runner.run(script)
    runner.report.seconds = time.perf_counter() - started
    return runner.report


@dataclass
class _StoredTable:
    """A table that the runner keeps: its schema, column defaults and appended chunks."""

    schema: pa.Schema
    defaults: dict[str, Any] = field(default_factory=dict)
    chunks: list[pa.Table] = field(default_factory=list)

    def to_arrow(self) -> pa.Table:
        if not self.chunks:
            return self.schema.empty_table()
        if len(self.chunks) > 1:
            self.chunks = [pa.concat_tables(self.chunks).combine_chunks()]
        return self.chunks[0]


@dataclass
class _View:
    query: str
    tables: frozenset[str]
    column_names: list[str] | None


class ScriptRunner:
    """Runs the records of one script in order, keeping its tables between records."""

    def __init__(self, options: SltOptions, path: str) -> None:
        self.options = options
        self.dialect = options.dialect
        self.engines = options.engine_names()
        self.context = gsql.Context(engine=options.engine, dialect=options.dialect)
        self.report = ScriptReport(path, options.dialect)
        self.tables: dict[str, _StoredTable] = {}
        self.views: dict[str, _View] = {}
        # Tables and views whose contents differ from the script's intent, with the reason.
        self.broken: dict[str, str] = {}
        # Tables to register again before the next query, and whether views need recomputing.
        self.stale: set[str] = set()
        self.views_outdated = False
        self.labels: dict[str, tuple[str, int]] = {}
        self.skip_mode = False
        self.records_run = 0
        self.handlers: dict[type[exp.Expression], Callable[[exp.Expression, str], None]] = {
            exp.Create: self._create,
            exp.Insert: self._insert,
            exp.Drop: self._drop,
            exp.Delete: self._delete,
            exp.Update: self._update,
            exp.Query: self._select_statement,
            exp.Pragma: self._setting,
            exp.Set: self._setting,
            exp.Transaction: self._transaction,
            exp.Commit: self._transaction,
            exp.Rollback: self._rollback,
        }

    # -- records --------------------------------------------------------------------------

    def run(self, script: Script) -> None:
        """Run every record, stopping at `halt`, `require` or the record limit."""
        for record in script.records:
            if record.kind == "control":
                if self._control(record):
                    break
                continue
            if (
                self.options.max_records is not None
                and self.records_run >= self.options.max_records
            ):
                self.report.stopped = f"stopped after {self.records_run} records (--max-records)"
                break
            outcome = self._run_record(record)
            self.report.outcomes.append(outcome)

    def _control(self, record: Record) -> bool:
        """Apply a control line; return True when the script must stop."""
        if any(condition.excludes(self.engines) for condition in record.conditions):
            return False
        head = record.words[0]
        if head == "halt":
            self.report.stopped = f"halt at line {record.line}"
            return True
        if head == "mode" and len(record.words) > 1:
            self.skip_mode = {"skip": True, "unskip": False}.get(record.words[1], self.skip_mode)
            return False
        if head in ("require", "require-env", "load", "restart", "reconnect", "unzip"):
            self.report.stopped = (
                f"`{' '.join(record.words)}` at line {record.line} is outside the runner"
            )
            return True
        if head not in ("sleep", "tags", "set", "reset"):
            self.report.notes.append(f"line {record.line}: ignored `{' '.join(record.words)}`")
        return False

    def _run_record(self, record: Record) -> Outcome:
        outcome = Outcome(record.line, record.kind, PASSED, sql=record.sql)
        excluding = [c for c in record.conditions if c.excludes(self.engines)]
        if excluding:
            condition = excluding[0]
            outcome.status = EXCLUDED
            outcome.reason = f"{'onlyif' if condition.only else 'skipif'} {condition.engine}"
            return outcome
        if self.skip_mode:
            outcome.status, outcome.reason = SKIPPED, "inside `mode skip`"
            return outcome

        self.records_run += 1
        started = time.perf_counter()
        try:
            with _time_limit(self.options.timeout):
                if record.kind == "query":
                    self._run_query(record, outcome)
                else:
                    self._run_statement(record, outcome)
        except RecordTimeout as error:
            outcome.status, outcome.reason = TIMEOUT, str(error)
            self._mark_targets_broken(record, "set-up timed out")
        outcome.seconds = time.perf_counter() - started
        logger.debug("line %d: %s %s", record.line, outcome.status, outcome.reason)
        return outcome

    def _run_query(self, record: Record, outcome: Outcome) -> None:
        first_word = (
            record.sql.lstrip("( \n\t").split(None, 1)[0].lower() if record.sql.strip() else ""
        )
        if first_word in ("explain", "pragma", "describe", "show", "summarize", "call"):
            outcome.status = SKIPPED
            outcome.reason = f"{first_word.upper()} output is engine-specific"
            return
        if first_word in ("insert", "update", "delete", "create", "copy"):
            outcome.status = SKIPPED
            outcome.reason = f"{first_word.upper()} with a result is outside the runner"
            return

        try:
            self._sync_catalog()
            result = self.context.sql(record.sql)
        except Exception as error:  # noqa: BLE001 - any exception from gsql is an outcome
            outcome.status, outcome.reason = _failure(error)
            self._explain_failure(outcome)
            return

        compare = compare_sqlite_result if self.dialect == "sqlite" else compare_duckdb_result
        comparison = compare(result.rows(), record.types, record.sort_mode, record.expected)
        if comparison.equal and record.label:
            comparison.mismatch = self._check_label(record, comparison.values)
        if not comparison.equal:
            broken = self._broken_dependency(_referenced_tables(record.sql, self.dialect))
            if broken:
                outcome.status, outcome.reason = SKIPPED, broken
                return
            outcome.status, outcome.reason = WRONG, comparison.mismatch or ""
            outcome.expected = record.expected
            outcome.actual = comparison.values

    def _check_label(self, record: Record, values: list[str]) -> str | None:
        digest = hash_values(values)
        assert record.label is not None
        if record.label not in self.labels:
            self.labels[record.label] = (digest, record.line)
            return None
        earlier_digest, earlier_line = self.labels[record.label]
        if digest != earlier_digest:
            return f"result differs from label `{record.label}` at line {earlier_line}"
        return None

    def _explain_failure(self, outcome: Outcome) -> None:
        """Turn a failed record into a skipped one when the failure is not gsql's to own."""
        tables = _referenced_tables(outcome.sql, self.dialect)
        broken = self._broken_dependency(tables)
        if broken:
            outcome.status, outcome.reason = SKIPPED, broken
            return
        if self.dialect == "duckdb":
            features = duckdb_only_features(outcome.sql)
            if features:
                outcome.status = SKIPPED
                outcome.reason = f"DuckDB-only {_feature_label(features[0])}"

    def _broken_dependency(self, names: set[str]) -> str | None:
        seen: set[str] = set()
        pending = list(names)
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self.broken:
                return f"depends on table `{name}`, whose {self.broken[name]}"
            if name in self.views:
                pending.extend(self.views[name].tables)
        return None

    def _run_statement(self, record: Record, outcome: Outcome) -> None:
        try:
            self._execute_statements(record.sql)
        except RunnerLimitation as error:
            outcome.status, outcome.reason = SKIPPED, str(error)
            self._mark_targets_broken(record, "set-up was skipped")
            return
        except Exception as error:  # noqa: BLE001 - any exception from gsql is an outcome
            broken = self._broken_dependency(_referenced_tables(record.sql, self.dialect))
            if broken:
                outcome.status, outcome.reason = SKIPPED, broken
            elif record.mode in ("error", "maybe"):
                return
            elif isinstance(error, StatementRejected):
                outcome.status, outcome.reason = SKIPPED, f"runner rejected the statement: {error}"
            else:
                outcome.status, outcome.reason = _failure(error)
                self._explain_failure(outcome)
            self._mark_targets_broken(record, "set-up failed")
            return

        if record.mode == "error":
            outcome.status = WRONG
            outcome.reason = "expected an error, but the statement succeeded"
            if record.error_text:
                outcome.reason += f" (expected: {record.error_text.splitlines()[0]})"
            self._mark_targets_broken(record, "set-up should have failed")

    def _mark_targets_broken(self, record: Record, reason: str) -> None:
        for name in _statement_targets(record.sql, self.dialect):
            self.broken[name] = reason

    # -- statements ------------------------------------------------------------------------

    def _execute_statements(self, sql: str) -> None:
        sql = _unwrap_insert_values(sql)
        try:
            statements = [s for s in sqlglot.parse(sql, read=self.dialect) if s is not None]
        except sqlglot.errors.SqlglotError as error:
            if _looks_like_query(sql):
                self._select_statement(None, sql)
                return
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise RunnerLimitation(f"sqlglot cannot parse the statement: {first_line}") from None

        for statement in statements:
            text = sql if len(statements) == 1 else statement.sql(dialect=self.dialect)
            self._handler(statement)(statement, text)

    def _handler(self, statement: exp.Expression) -> Callable[[exp.Expression, str], None]:
        for kind in type(statement).__mro__:
            if kind in self.handlers:
                return self.handlers[kind]
        name = statement.name if isinstance(statement, exp.Command) else statement.key
        raise RunnerLimitation(f"statement `{name.upper()}` is outside the runner")

    def _select_statement(self, statement: exp.Expression | None, sql: str) -> None:
        self._sync_catalog()
        self.context.sql(sql)

    def _setting(self, statement: exp.Expression, sql: str) -> None:
        raise RunnerLimitation("engine settings (SET, PRAGMA) are outside the runner")

    def _transaction(self, statement: exp.Expression, sql: str) -> None:
        raise RunnerLimitation("transactions are outside the runner")

    def _rollback(self, statement: exp.Expression, sql: str) -> None:
        for name in self.tables:
            self.broken[name] = "contents after ROLLBACK are unknown to the runner"
        raise RunnerLimitation("ROLLBACK is outside the runner")

    def _create(self, statement: exp.Expression, sql: str) -> None:
        kind = str(statement.args.get("kind") or "").upper()
        if kind == "INDEX":
            return  # Indexes never change results.
        if kind == "TABLE":
            self._create_table(statement)
            return
        if kind == "VIEW":
            self._create_view(statement)
            return
        raise RunnerLimitation(f"CREATE {kind} is outside the runner")

    def _create_table(self, statement: exp.Expression) -> None:
        target = statement.this
        schema = target if isinstance(target, exp.Schema) else None
        name = _table_name(schema.this if schema else target)
        if self._exists(name, statement):
            return

        query = statement.expression
        if isinstance(query, exp.Query):
            table = self._run_setup_query(query)
            if schema is not None and schema.expressions:
                table = table.rename_columns([column.name for column in schema.expressions])
            stored = _StoredTable(table.schema, {}, [table])
        elif schema is not None:
            fields, defaults = self._column_definitions(schema)
            stored = _StoredTable(pa.schema(fields), defaults)
        else:
            raise RunnerLimitation("CREATE TABLE without columns or a query is outside the runner")

        self._forget(name)
        self.tables[name] = stored
        self.stale.add(name)
        self.views_outdated = True

    def _exists(self, name: str, statement: exp.Expression) -> bool:
        """Return True when the statement is a no-op because `name` exists; raise if invalid."""
        if name not in self.tables and name not in self.views:
            return False
        if statement.args.get("exists"):
            return True
        if statement.args.get("replace"):
            return False
        raise StatementRejected(f"table `{name}` already exists")

    def _column_definitions(self, schema: exp.Schema) -> tuple[list[pa.Field], dict[str, Any]]:
        fields: list[pa.Field] = []
        defaults: dict[str, Any] = {}
        for item in schema.expressions:
            if not isinstance(item, exp.ColumnDef):
                continue  # table constraints such as PRIMARY KEY (a, b)
            kind = item.args.get("kind")
            if kind is None:
                raise RunnerLimitation(f"column `{item.name}` without a type is outside the runner")
            fields.append(pa.field(item.name, self._arrow_type(kind)))
            for constraint in item.args.get("constraints") or []:
                if isinstance(constraint.args.get("kind"), exp.CollateColumnConstraint):
                    raise RunnerLimitation("column collations (COLLATE) are outside the runner")
                if isinstance(constraint.args.get("kind"), exp.DefaultColumnConstraint):
                    defaults[item.name] = self._default_value(constraint.args["kind"].this)

        names = [column.name.lower() for column in fields]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise StatementRejected(f"column `{duplicates[0]}` is declared twice")
        return fields, defaults

    def _default_value(self, expression: exp.Expression) -> Any:
        # NOTE: a default is evaluated once, when the table is created, so defaults such as
        # `nextval(...)` or `now()` that change between rows are not emulated.
        try:
            return _literal_value(expression)
        except _NotLiteral:
            return self._evaluate_row([expression])[0]

    def _arrow_type(self, kind: exp.DataType) -> pa.DataType:
        if self.dialect != "sqlite":
            return arrow_type(kind, self.dialect)
        return arrow_type(_sqlite_affinity_type(kind), "sqlite")

    def _create_view(self, statement: exp.Expression) -> None:
        target = statement.this
        schema = target if isinstance(target, exp.Schema) else None
        name = _table_name(schema.this if schema else target)
        if self._exists(name, statement):
            return
        query = statement.expression
        if not isinstance(query, exp.Query):
            raise RunnerLimitation("CREATE VIEW without a query is outside the runner")

        column_names = [column.name for column in schema.expressions] if schema else None
        view = _View(query.sql(dialect=self.dialect), _query_tables(query), column_names)
        self._sync_catalog()
        table = self._view_table(view)
        self._forget(name)
        self.views[name] = view
        self.context.register(name, table, replace=True)

    def _view_table(self, view: _View) -> pa.Table:
        # NOTE: gsql has no views, so a view is registered as a table holding its result. The
        # runner recomputes every view after each change to a table, before the next query.
        table = self.context.sql(view.query).table
        if view.column_names:
            table = table.rename_columns(view.column_names)
        return table

    def _insert(self, statement: exp.Expression, sql: str) -> None:
        for option in ("conflict", "returning", "alternative", "by_name", "overwrite", "where"):
            if statement.args.get(option):
                raise RunnerLimitation(f"INSERT with `{option}` is outside the runner")
        target = statement.this
        schema = target if isinstance(target, exp.Schema) else None
        name = _table_name(schema.this if schema else target)
        stored = self._table(name)
        columns = self._insert_columns(stored, schema)

        source = statement.expression
        if isinstance(source, exp.Values):
            rows = self._value_rows(source, len(columns))
            chunk = self._rows_to_table(stored, columns, rows)
        elif isinstance(source, exp.Query):
            result = self._run_setup_query(source)
            if result.num_columns != len(columns):
                raise StatementRejected(
                    f"INSERT into `{name}` gives {result.num_columns} values for {len(columns)} columns"
                )
            chunk = self._columns_to_table(stored, columns, result.columns, result.num_rows)
        elif statement.args.get("default"):
            chunk = self._rows_to_table(stored, [], [[]])
        else:
            raise RunnerLimitation("this form of INSERT is outside the runner")

        stored.chunks.append(chunk)
        self.stale.add(name)
        self.views_outdated = True

    def _table(self, name: str) -> _StoredTable:
        if name not in self.tables:
            raise StatementRejected(f"table `{name}` does not exist")
        return self.tables[name]

    def _insert_columns(self, stored: _StoredTable, schema: exp.Schema | None) -> list[str]:
        if schema is None or not schema.expressions:
            return list(stored.schema.names)
        by_lower = {column.lower(): column for column in stored.schema.names}
        columns = []
        for identifier in schema.expressions:
            if identifier.name.lower() not in by_lower:
                raise StatementRejected(f"column `{identifier.name}` does not exist")
            columns.append(by_lower[identifier.name.lower()])
        return columns

    def _value_rows(self, values: exp.Values, width: int) -> list[list[Any]]:
        rows = []
        for row in values.expressions:
            items = row.expressions if isinstance(row, exp.Tuple) else [row]
            if len(items) != width:
                raise StatementRejected(f"INSERT gives {len(items)} values for {width} columns")
            try:
                rows.append([_literal_value(item) for item in items])
            except _NotLiteral:
                rows.append(self._evaluate_row(items))
        return rows

    def _evaluate_row(self, items: list[exp.Expression]) -> list[Any]:
        select = exp.select(*(item.copy().as_(f"c{i}") for i, item in enumerate(items)))
        self._sync_catalog()
        result = self.context.sql(select.sql(dialect=self.dialect))
        return list(result.rows()[0])

    def _rows_to_table(
        self, stored: _StoredTable, columns: list[str], rows: list[list[Any]]
    ) -> pa.Table:
        arrays = []
        for field_ in stored.schema:
            if field_.name in columns:
                position = columns.index(field_.name)
                values = [row[position] for row in rows]
            else:
                values = [stored.defaults.get(field_.name)] * len(rows)
            arrays.append(self._to_array(values, field_))
        return pa.Table.from_arrays(arrays, schema=stored.schema)

    def _columns_to_table(
        self, stored: _StoredTable, columns: list[str], data: list[pa.ChunkedArray], row_count: int
    ) -> pa.Table:
        arrays = []
        for field_ in stored.schema:
            if field_.name in columns:
                arrays.append(self._cast_column(data[columns.index(field_.name)], field_))
            else:
                arrays.append(
                    self._to_array([stored.defaults.get(field_.name)] * row_count, field_)
                )
        return pa.Table.from_arrays(arrays, schema=stored.schema)

    def _cast_column(self, column: pa.ChunkedArray, field_: pa.Field) -> pa.ChunkedArray:
        if column.type == field_.type:
            return column
        try:
            return column.cast(field_.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return pa.chunked_array([self._to_array(column.to_pylist(), field_)], field_.type)

    def _to_array(self, values: list[Any], field_: pa.Field) -> pa.Array:
        target = field_.type
        converted = [_coerce_value(value, target, self.dialect) for value in values]
        try:
            return pa.array(converted, type=target)
        except (
            pa.ArrowInvalid,
            pa.ArrowTypeError,
            pa.ArrowNotImplementedError,
            TypeError,
            ValueError,
            OverflowError,
        ):
            pass
        try:
            return pa.array(converted).cast(target)
        except (
            pa.ArrowInvalid,
            pa.ArrowTypeError,
            pa.ArrowNotImplementedError,
            TypeError,
            ValueError,
            OverflowError,
        ):
            bad = next((v for v in converted if v is not None), None)
            message = f"value {bad!r} does not convert to {target} for column `{field_.name}`"
            if self.dialect == "sqlite":
                # SQLite keeps such a value as it is, whatever the column's declared type.
                raise RunnerLimitation(f"{message} (SQLite type affinity)") from None
            raise StatementRejected(message) from None

    def _drop(self, statement: exp.Expression, sql: str) -> None:
        kind = str(statement.args.get("kind") or "").upper()
        if kind == "INDEX":
            return
        if kind not in ("TABLE", "VIEW"):
            raise RunnerLimitation(f"DROP {kind} is outside the runner")
        targets = statement.args.get("tables") or statement.expressions or [statement.this]
        for target in targets:
            name = _table_name(target)
            if name not in self.tables and name not in self.views:
                if statement.args.get("exists"):
                    continue
                raise StatementRejected(f"{kind.lower()} `{name}` does not exist")
            self._forget(name)

    def _forget(self, name: str) -> None:
        self.broken.pop(name, None)
        self.stale.discard(name)
        if name in self.tables or name in self.views:
            self.tables.pop(name, None)
            self.views.pop(name, None)
            self.context.deregister(name)
            self.views_outdated = True

    def _delete(self, statement: exp.Expression, sql: str) -> None:
        for option in ("using", "returning", "limit", "order"):
            if statement.args.get(option):
                raise RunnerLimitation(f"DELETE with `{option}` is outside the runner")
        name = _table_name(statement.this)
        stored = self._table(name)
        where = statement.args.get("where")
        if where is None:
            stored.chunks = []
        else:
            keep = exp.not_(exp.Coalesce(this=where.this.copy(), expressions=[exp.false()]))
            select = exp.select("*").from_(statement.this.copy()).where(keep)
            result = self._run_setup_query(select)
            stored.chunks = [
                self._columns_to_table(stored, stored.schema.names, result.columns, result.num_rows)
            ]
        self.stale.add(name)
        self.views_outdated = True

    def _update(self, statement: exp.Expression, sql: str) -> None:
        for option in ("from", "from_", "returning", "limit", "order", "with"):
            if statement.args.get(option):
                raise RunnerLimitation(f"UPDATE with `{option}` is outside the runner")
        name = _table_name(statement.this)
        stored = self._table(name)
        where = statement.args.get("where")
        assignments = {}
        for assignment in statement.expressions:
            assignments[assignment.this.name.lower()] = assignment.expression

        projections = []
        for column in stored.schema.names:
            value: exp.Expression = exp.column(column, quoted=True)
            if column.lower() in assignments:
                new_value = assignments[column.lower()].copy()
                if where is not None:
                    condition = exp.Coalesce(this=where.this.copy(), expressions=[exp.false()])
                    new_value = exp.Case(
                        ifs=[exp.If(this=condition, true=new_value)], default=value
                    )
                value = new_value
            projections.append(value.as_(column, quoted=True))
        select = exp.select(*projections).from_(statement.this.copy())
        result = self._run_setup_query(select)
        stored.chunks = [
            self._columns_to_table(stored, stored.schema.names, result.columns, result.num_rows)
        ]
        self.stale.add(name)
        self.views_outdated = True

    # -- catalog ---------------------------------------------------------------------------

    def _sync_catalog(self) -> None:
        """Register changed tables with gsql, then recompute the views."""
        if not self.stale and not self.views_outdated:
            return
        for name in sorted(self.stale):
            if name in self.tables:
                self.context.register(name, self.tables[name].to_arrow(), replace=True)
            self.stale.discard(name)
        for name, view in self.views.items():
            try:
                self.context.register(name, self._view_table(view), replace=True)
                self.broken.pop(name, None)
            except gsql.GsqlError as error:
                self.broken[name] = f"recomputed contents failed: {_error_reason(error)}"
                with contextlib.suppress(gsql.GsqlError):
                    self.context.deregister(name)
        # Cleared last, so that a record timing out halfway leaves the rest for the next sync.
        self.views_outdated = False

    def _run_setup_query(self, query: exp.Expression) -> pa.Table:
        self._sync_catalog()
        if self.dialect == "duckdb" and _reads_series(query):
            return self._run_in_duckdb(query)
        return self.context.sql(query.sql(dialect=self.dialect)).table

    def _run_in_duckdb(self, query: exp.Expression) -> pa.Table:
        """Compute set-up rows over `range()`, `generate_series()` or `repeat()` with DuckDB.

        DuckDB only stores data here: its result becomes table contents, and no query record
        under test runs in it.
        """
        import duckdb

        connection = duckdb.connect()
        try:
            for name in _query_tables(query):
                if name in self.tables:
                    connection.register(name, self.tables[name].to_arrow())
            return connection.sql(query.sql(dialect="duckdb")).to_arrow_table()
        except duckdb.Error as error:
            raise StatementRejected(f"DuckDB failed on the set-up query: {error}") from None
        finally:
            connection.close()


class _NotLiteral(Exception):
    """An INSERT value that is not a plain literal, so gsql must evaluate it."""


def _literal_value(expression: exp.Expression) -> Any:
    if isinstance(expression, exp.Paren):
        return _literal_value(expression.this)
    if isinstance(expression, exp.Null):
        return None
    if isinstance(expression, exp.Boolean):
        return bool(expression.this)
    if isinstance(expression, exp.Literal):
        if expression.is_string:
            return expression.this
        return _number(expression.this)
    if isinstance(expression, exp.Neg):
        value = _literal_value(expression.this)
        if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
            return -value
    raise _NotLiteral(expression.sql())


def _number(text: str) -> int | decimal.Decimal | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return decimal.Decimal(text)
    except decimal.InvalidOperation:
        return float(text)


def _coerce_value(value: Any, target: pa.DataType, dialect: str) -> Any:
    """Convert a Python value toward `target` where pyarrow would not do it on its own."""
    if value is None:
        return None
    if pa.types.is_floating(target) and isinstance(value, decimal.Decimal):
        return float(value)
    if (
        pa.types.is_decimal(target)
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
    ):
        return decimal.Decimal(str(value))
    if pa.types.is_integer(target) and isinstance(value, (float, decimal.Decimal)):
        if value == int(value):
            return int(value)
        if dialect != "sqlite":
            # DuckDB rounds a non-integral number to the nearest integer, halves away from zero.
            return int(decimal.Decimal(value).to_integral_value(decimal.ROUND_HALF_UP))
    if pa.types.is_integer(target) and isinstance(value, bool):
        return int(value)
    if (pa.types.is_string(target) or pa.types.is_large_string(target)) and not isinstance(
        value, str
    ):
        if dialect == "sqlite":
            return _sqlite_text(value)
        return _duckdb_text(value)
    return value


def _sqlite_affinity_type(kind: exp.DataType) -> str:
    """Map a declared column type to its SQLite affinity, written as a gsql type name.

    SQLite stores INTEGER as 64-bit and every REAL, FLOAT and DOUBLE as a double, so a
    declared `INTEGER` becomes BIGINT and `FLOAT` becomes DOUBLE.
    """
    name = kind.sql(dialect="sqlite").upper()
    raw_name = kind.this.name if hasattr(kind.this, "name") else name
    declared = f"{name} {raw_name}"
    if "INT" in declared:
        return "BIGINT"
    if any(part in declared for part in ("CHAR", "CLOB", "TEXT")):
        return "VARCHAR"
    if "BLOB" in declared:
        return "BLOB"
    # REAL affinity, and NUMERIC affinity too.
    # NOTE: SQLite keeps an integer in a NUMERIC column as an integer; a DOUBLE column prints
    # it with a decimal point in `T` columns.
    return "DOUBLE"


def _table_name(table: exp.Expression) -> str:
    if isinstance(table, exp.Table):
        if table.args.get("db") or table.args.get("catalog"):
            schema = table.args.get("db")
            if schema is not None and schema.name.lower() not in ("main",):
                raise RunnerLimitation(f"schema `{schema.name}` is outside the runner")
        identifier = table.this
    else:
        identifier = table
    if not isinstance(identifier, exp.Identifier):
        raise RunnerLimitation(f"table name `{table.sql()}` is outside the runner")
    # Unquoted names are case-insensitive in SQLite and DuckDB, so the runner lowercases them.
    return identifier.name if identifier.quoted else identifier.name.lower()


def _query_tables(query: exp.Expression) -> frozenset[str]:
    names = set()
    for table in query.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier):
            names.add(table.name if table.this.quoted else table.name.lower())
    return frozenset(names)


def _referenced_tables(sql: str, dialect: str) -> set[str]:
    try:
        statements = sqlglot.parse(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return set()
    names: set[str] = set()
    for statement in statements:
        if statement is not None:
            names |= _query_tables(statement)
    return names


def _statement_targets(sql: str, dialect: str) -> list[str]:
    """Return the tables that a CREATE, INSERT, UPDATE or DELETE statement writes."""
    try:
        statements = sqlglot.parse(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return []
    targets = []
    for statement in statements:
        if not isinstance(statement, (exp.Create, exp.Insert, exp.Update, exp.Delete)):
            continue
        target = statement.this
        if isinstance(target, exp.Schema):
            target = target.this
        if isinstance(target, exp.Table) and isinstance(target.this, exp.Identifier):
            targets.append(target.name if target.this.quoted else target.name.lower())
    return targets


_PARENTHESIZED_VALUES = re.compile(
    r"^(\s*insert\s+into\s+[\w.\"]+\s*)\(\s*(values\b.*?),?\s*\)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def _unwrap_insert_values(sql: str) -> str:
    """Rewrite `INSERT INTO t (VALUES ...)` as `INSERT INTO t VALUES ...`.

    sqlglot 30.30 reads the parenthesized form as a column list, so the runner drops the
    parentheses first.
    """
    match = _PARENTHESIZED_VALUES.match(sql)
    return match.group(1) + match.group(2) if match else sql


def _reads_series(query: exp.Expression) -> bool:
    """Return whether a query reads DuckDB's row-generating table functions.

    They are `range()` and `generate_series()` anywhere, and `repeat(value, count)` in FROM.
    """
    if query.find(exp.GenerateSeries) is not None:
        return True
    if any(isinstance(table.this, exp.Repeat) for table in query.find_all(exp.Table)):
        return True
    return any(
        node.name.lower() in ("range", "generate_series") for node in query.find_all(exp.Anonymous)
    )


def _looks_like_query(sql: str) -> bool:
    words = sql.lstrip("( \n\t").split(None, 1)
    return bool(words) and words[0].lower() in ("select", "with", "from", "values", "table")


def _failure(error: BaseException) -> tuple[str, str]:
    status = UNSUPPORTED if isinstance(error, gsql.UnsupportedError) else ERROR
    return status, _error_reason(error)


def _error_reason(error: BaseException) -> str:
    message = str(error).strip()
    first_line = message.splitlines()[0] if message else ""
    return f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__


def _feature_label(feature: str) -> str:
    if feature.startswith("type ") or " " in feature:
        return feature
    return f"function `{feature}`"


def failure_group(reason: str) -> str:
    """Return the key that groups similar failure reasons, with SQL excerpts replaced by `...`.

    gsql messages quote the failing SQL, as in "function `X` is not supported (in `X(a)`)", so
    the key keeps the error class and the message without those excerpts. Line and column
    numbers of syntax errors and sqlglot's generated `_col_N` names go too.
    """
    text = re.sub(r"\s*\(in `.*?`\)", "", reason)
    text = re.sub(r"`[^`]*[\s(][^`]*`", "`...`", text)
    text = re.sub(r" at line \d+, column \d+", "", text)
    return re.sub(r"_col_\d+", "_col_N", text)
