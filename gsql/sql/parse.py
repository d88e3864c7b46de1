"""Parse SQL text with sqlglot, turning its errors into gsql errors that keep the position."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from gsql.errors import SqlSyntaxError, UnsupportedError
from gsql.sql.joins import check_using_syntax

__all__ = ["DEFAULT_DIALECT", "parse_sql", "parse_statements", "resolve_dialect"]

# DuckDB's dialect is the default because it is close to PostgreSQL and standard SQL, reads
# file paths in FROM, and is the dialect of gsql's reference engine in tests.
DEFAULT_DIALECT = "duckdb"


def resolve_dialect(dialect: str | None) -> str:
    """Return the dialect name to use, checking that sqlglot knows it."""
    name = (dialect or DEFAULT_DIALECT).lower()
    try:
        Dialect.get_or_raise(name)
    except ValueError:
        known = ", ".join(sorted(d.value for d in sqlglot.Dialects if d.value))
        raise UnsupportedError(f"unknown SQL dialect `{name}`; choose one of: {known}") from None
    return name


def parse_statements(text: str, dialect: str | None = None) -> list[exp.Expression]:
    """Parse one or more `;`-separated statements; empty statements are dropped."""
    name = resolve_dialect(dialect)
    try:
        statements = sqlglot.parse(text, read=name)
    except sqlglot.errors.ParseError as error:
        raise _syntax_error(error, text) from None
    except sqlglot.errors.TokenError as error:
        raise _token_error(error, text) from None
    # A comment after the last `;` parses as a Semicolon statement that holds only the comment.
    statements = [
        statement
        for statement in statements
        if statement is not None and not isinstance(statement, exp.Semicolon)
    ]
    for statement in statements:
        check_using_syntax(statement, text)
    return statements


def parse_sql(text: str, dialect: str | None = None) -> exp.Expression:
    """Parse exactly one SQL statement.

    >>> parse_sql("select 1 as one").sql()
    'SELECT 1 AS one'
    """
    statements = parse_statements(text, dialect)
    if not statements:
        raise SqlSyntaxError("the SQL text is empty; write a query such as `SELECT 1`")
    if len(statements) > 1:
        raise SqlSyntaxError(
            f"expected one statement but found {len(statements)}; run them one at a time"
        )
    return statements[0]


def _token_error(error: sqlglot.errors.TokenError, text: str) -> SqlSyntaxError:
    """Locate the usual cause of a tokenizer error, an unterminated quote."""
    position = _unterminated_quote(text)
    if position is None:
        return SqlSyntaxError(f"syntax error: {error}")
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    source_line = text.splitlines()[line - 1]
    quote = text[position]
    return SqlSyntaxError(
        f"syntax error: unterminated {quote} quote at line {line}, column {column}; "
        f"close it with {quote}\n  {source_line}\n  {' ' * (column - 1)}^",
        line=line,
        column=column,
        token=quote,
    )


def _unterminated_quote(text: str) -> int | None:
    opened: int | None = None
    quote = ""
    index = 0
    while index < len(text):
        char = text[index]
        if opened is None:
            if char in "'\"`":
                opened, quote = index, char
            elif text.startswith("--", index):
                newline = text.find("\n", index)
                index = len(text) if newline < 0 else newline
        elif char == quote:
            if text.startswith(quote * 2, index):
                index += 1  # a doubled quote inside a literal
            else:
                opened = None
        index += 1
    return opened


def _syntax_error(error: sqlglot.errors.ParseError, text: str) -> SqlSyntaxError:
    details = error.errors[0] if error.errors else {}
    line = details.get("line")
    column = details.get("col")
    token = details.get("highlight") or None
    description = details.get("description") or str(error)
    message = f"syntax error: {description}"
    if line is not None and column is not None:
        message += f" at line {line}, column {column}"
        source_line = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
        if source_line:
            marker_column = max(int(column) - len(token or " "), 0)
            message += f"\n  {source_line}\n  {' ' * marker_column}{'^' * max(len(token or ''), 1)}"
    return SqlSyntaxError(message, line=line, column=column, token=token)
