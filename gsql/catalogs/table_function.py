"""Table sources for file-reading table functions in SQL, such as `FROM read_csv('x.csv')`.

The functions and their option names are DuckDB's: `read_csv`, `read_csv_auto`,
`read_parquet` and `parquet_scan`. Each option maps to the pandas-style reader option of the
same meaning, and an option without a mapping raises `UnsupportedError` rather than being
ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gsql.catalogs._files import is_glob, table_name_of_path
from gsql.catalogs.source import TableSource, source_from_path
from gsql.errors import CatalogError, UnsupportedError, suggest

__all__ = ["TABLE_FUNCTIONS", "source_from_table_function"]

TABLE_FUNCTIONS: dict[str, str] = {
    "read_csv": "csv",
    "read_csv_auto": "csv",
    "read_parquet": "parquet",
    "parquet_scan": "parquet",
}
"""The table functions that read files, and the format of each."""

# Each handler gets the option's value and all the call's options, and returns reader options.
_Mapper = Callable[[Any, Mapping[str, Any]], dict[str, Any]]


def _renamed(option: str) -> _Mapper:
    return lambda value, _: {option: value}


def _nullstr(value: Any, _: Mapping[str, Any]) -> dict[str, Any]:
    # DuckDB's `nullstr` replaces its default NULL marker (the empty string), so the pandas
    # default markers do not apply either.
    return {"na_values": value, "keep_default_na": False}


def _escape(value: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    # DuckDB's default escape is the quote character itself, which means doubled quotes.
    if value == options.get("quote", '"'):
        return {"doublequote": True}
    return {"escapechar": value} if value else {}


def _columns(value: Any, _: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise CatalogError(
            f"invalid `columns` option {value!r}: expected a struct of column names and types, "
            "such as {'dep_time': 'BIGINT'}"
        )
    return {"names": list(value), "dtype": dict(value)}


def _types(value: Any, _: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise UnsupportedError(
            "a list of `types` is not supported; pass a struct of column names and types, "
            "such as types={'dep_time': 'BIGINT'}"
        )
    return {"dtype": dict(value)}


def _auto_detect(value: Any, _: Mapping[str, Any]) -> dict[str, Any]:
    # NOTE: gsql always infers the types of columns without a `columns` or `types` entry,
    # so auto_detect=false does not make them VARCHAR as it does in DuckDB.
    if not isinstance(value, bool):
        raise CatalogError(f"invalid `auto_detect` option {value!r}: expected true or false")
    return {}


_CSV_OPTIONS: dict[str, _Mapper] = {
    "delim": _renamed("delimiter"),
    "sep": _renamed("delimiter"),
    "delimiter": _renamed("delimiter"),
    "header": _renamed("header"),
    "nullstr": _nullstr,
    "quote": _renamed("quotechar"),
    "escape": _escape,
    "columns": _columns,
    "names": _renamed("names"),
    "column_names": _renamed("names"),
    "types": _types,
    "dtypes": _types,
    "column_types": _types,
    "compression": _renamed("compression"),
    "encoding": _renamed("encoding"),
    "skip": _renamed("skiprows"),
    "auto_detect": _auto_detect,
}

_PARQUET_OPTIONS: dict[str, _Mapper] = {
    "hive_partitioning": _renamed("hive_partitioning"),
}

_OPTIONS_BY_FORMAT = {"csv": _CSV_OPTIONS, "parquet": _PARQUET_OPTIONS}


def source_from_table_function(
    function: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    name: str | None = None,
) -> TableSource:
    """Make a table source for a call such as `read_csv('x.csv', delim=';', header=true)`.

    `header` defaults to true, where DuckDB detects it: give `header=false` for a file
    without one.

    Args:
        function: the function name, in any case.
        args: the positional arguments: one path, glob or list of paths.
        kwargs: the named options as Python values, with structs as dicts and lists as lists.
            Option names are case-insensitive, as in DuckDB.
        name: the table name; by default the file name without its extensions for a single
            file, else the function name.

    Raises:
        UnsupportedError: the function or an option has no gsql equivalent.
        CatalogError: the path argument is missing or an option value is invalid.
        DataError: a path does not exist or a glob matches nothing.

    >>> source_from_table_function("read_csv", ["x.csv"], {"delim": ";"})  # doctest: +SKIP
    """
    key = function.lower()
    if key not in TABLE_FUNCTIONS:
        known = ", ".join(f"`{known}`" for known in TABLE_FUNCTIONS)
        raise UnsupportedError(
            f"table function `{function}` is not supported{suggest(key, TABLE_FUNCTIONS)}; "
            f"use one of {known}"
        )
    format = TABLE_FUNCTIONS[key]
    paths = _paths_argument(key, args)

    lowered = {option.lower(): value for option, value in kwargs.items()}
    options: dict[str, Any] = {}
    mappers = _OPTIONS_BY_FORMAT[format]
    for option, value in lowered.items():
        if option not in mappers:
            known = ", ".join(f"`{known}`" for known in mappers)
            raise UnsupportedError(
                f"option `{option}` of `{key}` is not supported{suggest(option, mappers)}; "
                f"supported options: {known}"
            )
        options.update(mappers[option](value, lowered))

    if name is None:
        single = len(paths) == 1 and not is_glob(paths[0])
        name = table_name_of_path(paths[0]) if single else key
    return source_from_path(name, paths, format=format, **options)


def _paths_argument(function: str, args: Sequence[Any]) -> list[str]:
    if len(args) != 1:
        raise CatalogError(
            f"`{function}` takes one positional argument, the path, and got {len(args)}; "
            f"pass options by name, as in {function}('data/x', header=true)"
        )
    value = args[0]
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, str) for item in value):
        return list(value)
    raise CatalogError(
        f"invalid path {value!r} for `{function}`: expected a string or a list of strings"
    )
