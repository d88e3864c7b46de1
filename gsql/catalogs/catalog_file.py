"""The catalog file: the tables of the command line, kept in TOML between runs.

The file looks like this, with one `[tables.<name>]` section per table:

    version = 1

    [tables.flights]
    format = "csv"
    paths = ["/data/nycflights13/flights.csv.gz"]

    [tables.flights.options]
    na_values = ["NA"]
    dtype = { dep_delay = "DOUBLE" }

`save_catalog` writes absolute paths. A relative path written into the file by hand resolves
against the file's directory. Saving replaces the file atomically, so a crash leaves either the
old file or the new one, never a mix.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gsql.catalogs._toml import format_key, format_value
from gsql.catalogs.catalog import Catalog
from gsql.catalogs.source import TableSource
from gsql.errors import CatalogError

__all__ = [
    "CATALOG_ENV_VAR",
    "CATALOG_FILE_VERSION",
    "default_catalog_path",
    "load_catalog",
    "save_catalog",
]

CATALOG_ENV_VAR = "GSQL_CATALOG"
"""The environment variable that names the catalog file when no path is given."""

CATALOG_FILE_VERSION = 1
"""The layout version that `save_catalog` writes; `load_catalog` reads it and older ones."""

_DEFAULT_FILE_NAME = "gsql.toml"
_NEW_FILE_MODE = 0o644

# tomllib's messages end in "(at line 3, column 5)" in Python 3.11 to 3.13.
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def default_catalog_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the catalog file: the explicit path, else `$GSQL_CATALOG`, else `./gsql.toml`."""
    if explicit:
        return Path(explicit).expanduser()
    from_environment = os.environ.get(CATALOG_ENV_VAR)
    if from_environment:
        return Path(from_environment).expanduser()
    return Path(_DEFAULT_FILE_NAME)


def load_catalog(path: str | os.PathLike[str]) -> Catalog:
    """Read a catalog file; a file that does not exist gives an empty catalog.

    Files are not checked here, so one missing data file does not block the other tables.

    Raises:
        CatalogError: the file is unreadable, is not valid TOML or has an invalid table entry.
            The message names the file, and the line for a TOML syntax error.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return Catalog()
    except OSError as error:
        raise CatalogError(f"cannot read catalog file `{path}`: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise CatalogError(f"catalog file `{path}` is not UTF-8 text: {error}") from None

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(_syntax_error_message(path, error)) from None

    return _catalog_from_document(path, document)


def _syntax_error_message(path: Path, error: tomllib.TOMLDecodeError) -> str:
    message = str(error)
    match = _TOML_POSITION.search(message)
    position = ""
    if match is not None:
        message = message[: match.start()]
        position = f" at line {match.group(1)}, column {match.group(2)}"
    return (
        f"invalid TOML in catalog file `{path}`{position}: {message[:1].lower()}{message[1:]}; "
        "fix the file, or delete it to start an empty catalog"
    )


def _catalog_from_document(path: Path, document: Mapping[str, Any]) -> Catalog:
    unknown = sorted(set(document) - {"version", "tables"})
    if unknown:
        raise CatalogError(
            f"unknown key `{unknown[0]}` in catalog file `{path}`; expected `version` and `tables`"
        )
    version = document.get("version", CATALOG_FILE_VERSION)
    if not isinstance(version, int) or version > CATALOG_FILE_VERSION:
        raise CatalogError(
            f"catalog file `{path}` has version {version!r}, which this gsql cannot read; "
            f"the latest it reads is {CATALOG_FILE_VERSION}, so upgrade gsql"
        )
    tables = document.get("tables", {})
    if not isinstance(tables, Mapping):
        raise CatalogError(f"`tables` in catalog file `{path}` is not a table of tables")

    catalog = Catalog()
    for name, entry in tables.items():
        try:
            if not isinstance(entry, Mapping):
                raise CatalogError(f"expected a table of keys, got {entry!r}")
            source = TableSource.from_dict({"name": name, **entry})
            source.paths = [_resolve(path.parent, item) for item in source.paths]
            catalog.register(source)
        except CatalogError as error:
            raise CatalogError(
                f"invalid table `{name}` in catalog file `{path}`: {error}"
            ) from None
    return catalog


def _resolve(directory: Path, path: str) -> str:
    expanded = os.path.expanduser(path)
    return expanded if os.path.isabs(expanded) else os.path.join(directory, expanded)


def save_catalog(catalog: Catalog, path: str | os.PathLike[str]) -> None:
    """Write the catalog to a TOML file, replacing the file atomically.

    The text goes to a temporary file in the same directory, which is flushed to disk and then
    renamed over the old file. Relative paths are made absolute against the current directory.
    The parent directory is created when missing.

    Raises:
        CatalogError: a table is in memory, which a file cannot store, or the file cannot be
            written. The old file is then unchanged.
    """
    path = Path(path)
    text = format_catalog(catalog)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace_atomically(path, text)
    except OSError as error:
        raise CatalogError(
            f"cannot write catalog file `{path}`: {error}; check that its directory is writable"
        ) from None


def format_catalog(catalog: Catalog) -> str:
    """Return the TOML text of a catalog file.

    Raises:
        CatalogError: a table is in memory, which a file cannot store.
    """
    lines = [
        "# gsql catalog: the tables that `gsql` registered. Paths are absolute.",
        f"version = {CATALOG_FILE_VERSION}",
    ]
    for source in catalog:
        entry = source.to_dict()
        key = f"tables.{format_key(entry['name'])}"
        paths = [os.path.abspath(os.path.expanduser(item)) for item in entry["paths"]]
        lines += ["", f"[{key}]", f"format = {format_value(entry['format'])}"]
        lines.append(f"paths = {format_value(paths)}")
        if entry["options"]:
            lines += ["", f"[{key}.options]"]
            lines += [
                f"{format_key(name)} = {format_value(value)}"
                for name, value in entry["options"].items()
            ]
    return "\n".join(lines) + "\n"


def _replace_atomically(path: Path, text: str) -> None:
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = _NEW_FILE_MODE

    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry reaches the disk. Windows cannot
    # open a directory, and there the rename alone has to do.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
