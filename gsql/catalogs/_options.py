"""Validation of reader options and conversion of `dtype` entries to Arrow types.

Option names are the keywords of `pandas.read_csv`, which `cudf.read_csv` shares, so users of
either library can use the same names. A normalised options dict holds only the options that the
user set, each in one canonical form, so that it can be written to a catalog file unchanged.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from gsql.errors import CatalogError, UnsupportedError, suggest
from gsql.types import arrow_type, normalize_arrow_type, sql_type

__all__ = [
    "DEFAULT_NA_VALUES",
    "dtype_text",
    "dtype_types",
    "normalize_options",
    "parse_dtype",
]

# The markers that pandas 3.1 reads as missing by default (`pandas._libs.parsers.STR_NA_VALUES`).
# cuDF uses the same list. "NaN" is among them, so a float column's "NaN" text becomes NULL,
# where DuckDB would read a NaN value.
DEFAULT_NA_VALUES: tuple[str, ...] = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)

_COMPRESSIONS: dict[str | None, str] = {
    None: "none",
    "none": "none",
    "uncompressed": "none",
    "infer": "infer",
    "auto": "infer",
    "gzip": "gzip",
    "gz": "gzip",
    "bz2": "bz2",
    "bzip2": "bz2",
    "zstd": "zstd",
    "zst": "zstd",
}

_ALIASES = {"sep": "delimiter"}


def _single_character(name: str, value: Any, allow_empty: bool = False) -> str:
    if isinstance(value, str) and (len(value) == 1 or (allow_empty and value == "")):
        return value
    expected = "one character, or an empty string for none" if allow_empty else "one character"
    raise CatalogError(f"invalid `{name}` option {value!r}: expected {expected}")


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise CatalogError(f"invalid `{name}` option {value!r}: expected true or false")


def _row_count(name: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise CatalogError(f"invalid `{name}` option {value!r}: expected a row count of 0 or more")


def _header(name: str, value: Any) -> int | None:
    # pandas takes the 0-based row index of the header, or None for none. True and False are
    # accepted too because DuckDB's `header` is a boolean.
    if value is None or value is False:
        return None
    if value is True:
        return 0
    return _row_count(name, value)


def _names(name: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise CatalogError(f"invalid `{name}` option {value!r}: expected a list of column names")
    if not value or not all(isinstance(item, str) and item for item in value):
        raise CatalogError(f"invalid `{name}` option {value!r}: expected non-empty column names")
    seen: set[str] = set()
    for item in value:
        if item in seen:
            raise CatalogError(f"duplicate column `{item}` in `{name}`; give each column one name")
        seen.add(item)
    return list(value)


def _na_values(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return list(value)
    raise CatalogError(f"invalid `{name}` option {value!r}: expected a string or a list of strings")


def _encoding(name: str, value: Any) -> str:
    try:
        codecs.lookup(value)
    except (LookupError, TypeError):
        raise CatalogError(
            f"invalid `{name}` option {value!r}: expected a Python codec name such as "
            "`utf-8`, `latin-1` or `cp1252`"
        ) from None
    return value


def _compression(name: str, value: Any) -> str:
    key = value.lower() if isinstance(value, str) else value
    if key in _COMPRESSIONS:
        return _COMPRESSIONS[key]
    raise CatalogError(
        f"invalid `{name}` option {value!r}: expected `infer`, `gzip`, `bz2`, `zstd` or `none`"
    )


def _dtype(name: str, value: Any) -> dict[str, str | pa.DataType]:
    if not isinstance(value, Mapping):
        raise CatalogError(
            f"invalid `{name}` option {value!r}: expected a mapping from column name to type, "
            "such as {'dep_time': 'BIGINT'}"
        )
    dtype: dict[str, str | pa.DataType] = {}
    for column, type_ in value.items():
        if not isinstance(column, str):
            raise CatalogError(f"invalid `{name}` option: column name {column!r} is not a string")
        parse_dtype(column, type_)
        dtype[column] = type_
    return dtype


_Validator = Callable[[str, Any], Any]

_CSV_OPTIONS: dict[str, _Validator] = {
    "delimiter": _single_character,
    "header": _header,
    "skiprows": _row_count,
    "names": _names,
    "dtype": _dtype,
    "na_values": _na_values,
    "keep_default_na": _boolean,
    "quotechar": lambda name, value: _single_character(name, "" if value is None else value, True),
    "escapechar": lambda name, value: _single_character(name, value, True),
    "doublequote": _boolean,
    "encoding": _encoding,
    "compression": _compression,
}

_PARQUET_OPTIONS: dict[str, _Validator] = {
    "dtype": _dtype,
    "hive_partitioning": _boolean,
}

_OPTIONS_BY_FORMAT: dict[str, dict[str, _Validator]] = {
    "csv": _CSV_OPTIONS,
    "parquet": _PARQUET_OPTIONS,
    "memory": {},
}


def normalize_options(format: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate reader options and return them under their canonical names and forms.

    `sep` becomes `delimiter`, `header=True` becomes 0 and `header=False` None, compression
    names become pyarrow codec names, and an `escapechar` of None or "" is dropped because it
    is the default. Every `dtype` entry must name a known type.

    Raises:
        CatalogError: an option is unknown for the format, given twice or has an invalid value.
    """
    validators = _OPTIONS_BY_FORMAT[format]
    normalized: dict[str, Any] = {}
    for given_name, value in options.items():
        name = _ALIASES.get(given_name, given_name)
        if name not in validators:
            known = ", ".join(f"`{option}`" for option in sorted(validators)) or "none"
            raise CatalogError(
                f"unknown {format} option `{given_name}`{suggest(given_name, validators)}; "
                f"known options: {known}"
            )
        if name in normalized:
            raise CatalogError(f"option `{name}` is given twice (also as `{given_name}`)")
        normalized[name] = validators[name](given_name, value)

    if normalized.get("escapechar") in (None, ""):
        normalized.pop("escapechar", None)
    return normalized


def parse_dtype(column: str, value: str | pa.DataType) -> pa.DataType:
    """Return the normalised Arrow type for one `dtype` entry.

    The text is read as a SQL type first (`BIGINT`, `DECIMAL(12,2)`, `DATE`, `VARCHAR`) and as
    an Arrow type name second (`float64`, `timestamp[ms]`, `date32`). A name that is both
    means the SQL type: `int8` is Postgres' and DuckDB's 8-byte BIGINT, not Arrow's int8.

    Raises:
        CatalogError: the text is neither a supported SQL type nor an Arrow type name.
    """
    if isinstance(value, pa.DataType):
        return normalize_arrow_type(value)
    if isinstance(value, str):
        try:
            return normalize_arrow_type(arrow_type(value))
        except UnsupportedError:
            pass
        try:
            return normalize_arrow_type(pa.type_for_alias(value))
        except (ValueError, KeyError):
            pass
    raise CatalogError(
        f"unknown type {value!r} for column `{column}` in `dtype`; use a SQL type such as "
        "BIGINT, DOUBLE, DECIMAL(12,2), DATE or VARCHAR, or an Arrow type name such as float64"
    )


def dtype_types(options: Mapping[str, Any]) -> dict[str, pa.DataType]:
    """Return the `dtype` option as normalised Arrow types, keyed by column name."""
    return {
        column: parse_dtype(column, value) for column, value in options.get("dtype", {}).items()
    }


def dtype_text(column: str, value: str | pa.DataType) -> str:
    """Return a `dtype` entry as text that `parse_dtype` reads back to the same type.

    Raises:
        CatalogError: the Arrow type has no text form, such as a struct type.
    """
    if isinstance(value, str):
        return value
    expected = normalize_arrow_type(value)
    for text in (sql_type(value).sql(), str(value)):
        try:
            if parse_dtype(column, text) == expected:
                return text
        except CatalogError:
            continue
    raise CatalogError(
        f"type {value} of column `{column}` has no text form for the catalog file; "
        "give the type as SQL text instead, such as 'DECIMAL(12,2)'"
    )
