"""The gsql error tree.

Every error that gsql raises on purpose derives from `GsqlError`. Each subclass carries the exit
code that the command line uses for it, so scripts can tell a typo from a missing file.

| exit code | error |
| --- | --- |
| 1 | `GsqlError` (any other gsql error) |
| 2 | `SqlSyntaxError` |
| 3 | `BindError` (unknown table or column), `CatalogError` |
| 4 | `UnsupportedError` |
| 5 | `DataError` (missing, unreadable or malformed input) |
| 6 | `ExecutionError` |
| 7 | `EngineUnavailableError` |
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BindError",
    "CatalogError",
    "DataError",
    "EngineUnavailableError",
    "ExecutionError",
    "GsqlError",
    "SqlSyntaxError",
    "UnsupportedError",
    "suggest",
]


class GsqlError(Exception):
    """Root of every error that gsql raises on purpose."""

    exit_code = 1


class SqlSyntaxError(GsqlError):
    """SQL text that the dialect's parser rejects.

    Attributes:
        line: 1-based line of the offending token, when the parser reported one.
        column: 1-based column of the offending token, when the parser reported one.
        token: the offending text, when the parser reported it.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        line: int | None = None,
        column: int | None = None,
        token: str | None = None,
    ) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.token = token


class BindError(GsqlError):
    """A table or column name that does not resolve against the catalog."""

    exit_code = 3


class CatalogError(GsqlError):
    """An invalid table registration or an unreadable catalog file."""

    exit_code = 3


class UnsupportedError(GsqlError, NotImplementedError):
    """A SQL construct or engine feature that gsql does not implement."""

    exit_code = 4


class DataError(GsqlError):
    """Input data that is missing, unreadable or malformed."""

    exit_code = 5


class ExecutionError(GsqlError):
    """A failure while executing a plan node, such as division by zero or an overflow."""

    exit_code = 6


class EngineUnavailableError(GsqlError):
    """An engine whose hardware or libraries are not present on this machine."""

    exit_code = 7


def suggest(name: str, candidates: Iterable[str]) -> str:
    """Return a "did you mean" clause for the closest candidate, or an empty string.

    >>> suggest("dep_tme", ["dep_time", "arr_time"])
    '; did you mean `dep_time`?'
    """
    lowered = {candidate.lower(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    if not matches:
        return ""
    return f"; did you mean `{lowered[matches[0]]}`?"
