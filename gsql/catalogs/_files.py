"""Finding the data files behind a table's paths, and their formats and compressions.

A path is a file, a directory or a glob. A directory contributes every file below it, except
those whose name, or the name of a directory between, starts with `.` or `_` (such as
`_SUCCESS` markers and `.crc` files that Spark and Hadoop write next to their data).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import PurePath

from gsql.errors import CatalogError, DataError

__all__ = [
    "COMPRESSION_SUFFIXES",
    "data_suffix",
    "expand_paths",
    "format_of_file",
    "infer_format",
    "is_glob",
    "partition_base_dir",
    "table_name_of_path",
]

COMPRESSION_SUFFIXES: dict[str, str] = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}
"""Compressed-file suffixes and the pyarrow codec that reads each."""

_FORMAT_SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}

_GLOB_CHARACTERS = frozenset("*?[")


def is_glob(path: str) -> bool:
    """Return whether the path contains a glob wildcard (`*`, `?` or `[`)."""
    return any(character in _GLOB_CHARACTERS for character in path)


def data_suffix(path: str) -> str:
    """Return the lowercase suffix that names the data format, past any compression suffix.

    >>> data_suffix("flights.csv.gz")
    '.csv'
    """
    suffixes = [suffix.lower() for suffix in PurePath(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def format_of_file(path: str) -> str | None:
    """Return `csv` or `parquet` from the file's extension, or None for an unknown extension."""
    return _FORMAT_SUFFIXES.get(data_suffix(path))


def table_name_of_path(path: str) -> str:
    """Return the file name without its format and compression suffixes.

    >>> table_name_of_path("data/flights.csv.gz")
    'flights'
    """
    name = PurePath(path).name
    for _ in range(2):
        suffix = PurePath(name).suffix.lower()
        if suffix in COMPRESSION_SUFFIXES or suffix in _FORMAT_SUFFIXES:
            name = name[: -len(suffix)]
    return name


def expand_paths(paths: Sequence[str], format: str | None = None) -> list[str]:
    """List the data files that the paths name, in sorted order within each path.

    Args:
        paths: files, directories or globs, as the user gave them. `~` expands to the home
            directory.
        format: `csv` or `parquet` to keep, inside directories, only the files with that
            format's extensions. A directory whose files have no known extension at all (Hive
            writes names like `000000_0`) contributes them all. With None, a directory
            contributes every file.

    Raises:
        DataError: a path does not exist, a glob matches nothing or a directory has no data files.
    """
    files: list[str] = []
    for path in paths:
        expanded = os.path.expanduser(path)
        if is_glob(expanded):
            matches = sorted(glob.glob(expanded, recursive=True))
            if not matches:
                raise DataError(f"file not found: `{path}`; check the path or the glob")
            for match in matches:
                files.extend(
                    _files_in_directory(match, format) if os.path.isdir(match) else [match]
                )
        elif os.path.isdir(expanded):
            found = _files_in_directory(expanded, format)
            if not found:
                raise DataError(
                    f"directory `{path}` contains no {format or 'data'} files; check the path"
                )
            files.extend(found)
        elif os.path.exists(expanded):
            files.append(expanded)
        else:
            raise DataError(f"file not found: `{path}`; check the path or the glob")
    return files


def _files_in_directory(directory: str, format: str | None) -> list[str]:
    found: list[str] = []
    for root, directories, names in os.walk(directory):
        directories[:] = sorted(name for name in directories if not _is_hidden(name))
        found.extend(os.path.join(root, name) for name in sorted(names) if not _is_hidden(name))
    if format is None:
        return found

    matching = [path for path in found if format_of_file(path) == format]
    if matching:
        return matching
    return [path for path in found if format_of_file(path) is None]


def _is_hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def infer_format(paths: Sequence[str], files: Sequence[str]) -> str:
    """Return the one format that the files' extensions name.

    Raises:
        CatalogError: no file has a known extension, or the files mix CSV and Parquet.
    """
    formats = sorted({found for path in files if (found := format_of_file(path)) is not None})
    path_list = ", ".join(f"`{path}`" for path in paths)
    if not formats:
        raise CatalogError(
            f"cannot infer the file format of {path_list} from its extension; "
            "pass format='csv' or format='parquet'"
        )
    if len(formats) > 1:
        raise CatalogError(
            f"{path_list} contains both CSV and Parquet files; pass format='csv' or "
            "format='parquet', or a glob that matches one kind"
        )
    return formats[0]


def partition_base_dir(paths: Sequence[str]) -> str | None:
    """Return the directory below which Hive partition folders (`key=value`) start.

    That is the directory itself for one directory path, and the folder before the first
    wildcard for one glob, which is "" for a glob in the current directory. A single file, or
    several paths, have no base directory: None.
    """
    if len(paths) != 1:
        return None
    path = os.path.expanduser(paths[0])
    if is_glob(path):
        first_wildcard = min(
            path.index(character) for character in _GLOB_CHARACTERS if character in path
        )
        return os.path.dirname(path[:first_wildcard])
    if os.path.isdir(path):
        return path.rstrip("/\\") or path
    return None
