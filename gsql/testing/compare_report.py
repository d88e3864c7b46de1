"""Reports of engine comparisons: the summary that `gsql compare` prints, and its JSON file."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from gsql.errors import GsqlError
from gsql.testing.engine_comparison import VERDICTS, EngineComparison, exit_code, join_names

__all__ = ["print_summary", "report_document", "split_statements", "write_report"]

_SNIPPET_WIDTH = 50
# Whole-line `--` comments, which the summary leaves out of a query's snippet.
_LINE_COMMENT = re.compile(r"^\s*--[^\n]*$", re.MULTILINE)


def split_statements(text: str, dialect: str | None = None) -> list[str]:
    """Split SQL text at the `;` that end statements, keeping each statement's own text.

    Semicolons inside string literals, quoted identifiers and comments do not split. A piece
    with no SQL tokens, such as a trailing comment, is dropped.

    Raises:
        SqlSyntaxError: the text does not tokenize, for example an unterminated string.
    """
    import sqlglot
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType

    from gsql.errors import SqlSyntaxError
    from gsql.sql.parse import resolve_dialect

    try:
        tokens = Dialect.get_or_raise(resolve_dialect(dialect)).tokenize(text)
    except sqlglot.errors.TokenError as error:
        raise SqlSyntaxError(f"invalid SQL: {error}") from None

    statements = []
    start = 0
    has_tokens = False
    for token in tokens:
        if token.token_type != TokenType.SEMICOLON:
            has_tokens = True
            continue
        if has_tokens:
            statements.append(text[start : token.start].strip())
        start, has_tokens = token.end + 1, False
    if has_tokens:
        statements.append(text[start:].strip())
    return statements


def print_summary(comparisons: Sequence[EngineComparison], stream: TextIO) -> None:
    """Print one line per query, then the report of each query that is not equal, then totals.

    The columns are the query's number, its verdict, its row count (one count per engine,
    separated by `/`, where the engines disagree), each engine's time in seconds, the engines
    that differ or failed, and the start of the query text.
    """
    engines = comparisons[0].engines if comparisons else []
    header = ["#", "verdict", "rows", *(f"{engine} s" for engine in engines), "engines", "query"]
    rows = [_summary_row(index, comparison) for index, comparison in enumerate(comparisons, 1)]
    stream.writelines(
        line + "\n"
        for line in _aligned([header, *rows], right_aligned={0, 2, *range(3, 3 + len(engines))})
    )

    for index, comparison in enumerate(comparisons, 1):
        if not comparison.equal:
            stream.write(f"\nquery {index}: {comparison.report()}\n")

    counts = _verdict_counts(comparisons)
    tolerances = comparisons[0].describe_tolerances() if comparisons else ""
    stream.write(
        f"\n{len(comparisons)} queries on {join_names(engines)}: {counts['equal']} equal, "
        f"{counts['different']} different, {counts['error']} could not run; {tolerances}\n"
    )


def report_document(
    comparisons: Sequence[EngineComparison], dialect: str | None = None
) -> dict[str, Any]:
    """Return the JSON report of a comparison run: overall verdict, exit code and each query."""
    code = exit_code(comparisons)
    verdict = {0: "equal", 1: "different"}.get(code, "error")
    first = comparisons[0] if comparisons else None
    return {
        "verdict": verdict,
        "exit_code": code,
        "engines": first.engines if first else [],
        "dialect": dialect,
        "rtol": first.options.rtol if first else None,
        "atol": first.options.atol if first else None,
        "counts": _verdict_counts(comparisons),
        "queries": [
            {"index": index, **comparison.to_dict()}
            for index, comparison in enumerate(comparisons, 1)
        ],
    }


def write_report(path: Path, document: dict[str, Any]) -> None:
    """Write `document` as JSON to `path`, replacing the file atomically.

    The JSON goes to a temporary file in the same directory, renamed over `path` once
    complete, so a failure leaves any old file unchanged.

    Raises:
        GsqlError: the file cannot be written.
    """
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
    except OSError as error:
        raise GsqlError(
            f"cannot write report `{path}`: {error.strerror}; check that its directory exists "
            "and is writable"
        ) from None

    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, _new_file_mode(path))
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise GsqlError(f"cannot write report `{path}`: {error.strerror or error}") from None


def _new_file_mode(path: Path) -> int:
    # mkstemp creates files readable by the owner only. The report gets the mode of the file
    # it replaces, or the mode that open() would give a new file under the umask.
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _summary_row(index: int, comparison: EngineComparison) -> list[str]:
    counts = [run.rows for run in comparison.runs.values() if run.rows is not None]
    if not counts:
        rows = "-"
    elif len(set(counts)) == 1:
        rows = f"{counts[0]:,}"
    else:
        rows = "/".join(
            "-" if run.rows is None else f"{run.rows:,}" for run in comparison.runs.values()
        )
    times = [
        "failed" if seconds is None else f"{seconds:.3f}" for seconds in comparison.timings.values()
    ]
    return [
        str(index),
        comparison.verdict,
        rows,
        *times,
        _engine_notes(comparison),
        _snippet(comparison.sql),
    ]


def _engine_notes(comparison: EngineComparison) -> str:
    notes = [f"{engine} differs" for engine in comparison.different]
    notes.extend(f"{engine} failed" for engine in comparison.errors)
    return ", ".join(notes) or "all equal"


def _snippet(sql: str) -> str:
    text = " ".join(_LINE_COMMENT.sub("", sql).split())
    if len(text) <= _SNIPPET_WIDTH:
        return text
    return text[: _SNIPPET_WIDTH - 1] + "…"


def _aligned(rows: list[list[str]], right_aligned: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if i in right_aligned else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _verdict_counts(comparisons: Sequence[EngineComparison]) -> dict[str, int]:
    counts = dict.fromkeys(VERDICTS, 0)
    for comparison in comparisons:
        counts[comparison.verdict] += 1
    return counts
