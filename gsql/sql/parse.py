"""Parse SQL text with sqlglot, turning its errors into gsql errors that keep the position."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import Token, TokenType

from gsql.errors import SqlSyntaxError, UnsupportedError
from gsql.sql.joins import check_using_syntax

__all__ = ["DEFAULT_DIALECT", "USING_KEY", "parse_sql", "parse_statements", "resolve_dialect"]

# DuckDB's dialect is the default because it is close to PostgreSQL and standard SQL, reads
# file paths in FROM, and is the dialect of gsql's reference engine in tests.
DEFAULT_DIALECT = "duckdb"

# The meta key under which a CTE keeps the items of DuckDB's `USING KEY (...)` clause.
USING_KEY = "gsql_using_key"


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
        statements = _parse_with_using_key(text, name)
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


def _parse_with_using_key(text: str, dialect: str) -> list[exp.Expression | None]:
    """Parse `text`, reading DuckDB's `WITH RECURSIVE t(...) USING KEY (...)` clauses and row
    constructors `ROW(...)` that sqlglot would read as types.

    sqlglot 30.30 reads a USING KEY clause only when it lists plain column names. So the
    clause's tokens are taken out of the token stream and parsed as a select list, and the
    items are stored in the meta of the CTE they follow, under `USING_KEY`.
    """
    reader = Dialect.get_or_raise(dialect)
    tokens = reader.tokenize(text)
    if dialect == "duckdb":
        _mark_row_constructors(tokens, reader.parser_class.TYPE_TOKENS)
    clauses = _take_using_key_clauses(tokens)
    statements = reader.parser().parse(tokens, text)
    if not clauses:
        return statements
    for statement in statements:
        for cte in statement.find_all(exp.CTE) if statement is not None else ():
            start = cte.args["alias"].this.meta.get("start")
            if start in clauses:
                cte.meta[USING_KEY] = _parse_key_items(clauses.pop(start), reader, text)
    if clauses:
        raise SqlSyntaxError("syntax error: USING KEY must follow the name of a recursive CTE")
    return statements


# The tokens after which a type name is a type: `AS` and `::` of a cast, and a column or field
# name in a column definition or a struct type.
_BEFORE_TYPE = frozenset({TokenType.ALIAS, TokenType.DCOLON, TokenType.VAR, TokenType.IDENTIFIER})


def _mark_row_constructors(tokens: list[Token], type_tokens: set[TokenType]) -> None:
    """Make each `ROW(...)` in a value position a function call, in place.

    sqlglot 30.30 tokenizes DuckDB's ROW as the STRUCT type keyword, so in `ROW(0, 0) < ANY (q)`
    its parser reads `ROW(0, 0)` as a type and `<` as the start of `ROW(...)<...>`, and fails.
    ROW followed by `(` becomes a function name, as sqlglot already parses `ROW(0, 0) = x`,
    unless it is a type: right after a token of `_BEFORE_TYPE`, or inside the parentheses of
    such a type, as in `CAST(x AS MAP(INT, ROW(a INT)))`.
    """
    index = 0
    while index + 1 < len(tokens):
        token = tokens[index]
        opens = tokens[index + 1].token_type == TokenType.L_PAREN
        after_type_position = index > 0 and tokens[index - 1].token_type in _BEFORE_TYPE
        if opens and after_type_position and token.token_type in type_tokens:
            close = _matching_paren(tokens, index + 1, step=1)
            if close > 0:
                index = close + 1
                continue
        if opens and token.token_type == TokenType.STRUCT and token.text.upper() == "ROW":
            token.token_type = TokenType.VAR
        index += 1


def _take_using_key_clauses(tokens: list[Token]) -> dict[int, list[Token]]:
    """Remove each `USING KEY (...)` after a CTE name from `tokens`, in place.

    Returns the tokens inside each clause's parentheses, keyed by the start offset of the name
    of the CTE it belongs to.
    """
    clauses: dict[int, list[Token]] = {}
    index = 1
    while index + 2 < len(tokens):
        is_clause = (
            tokens[index].token_type == TokenType.USING
            and tokens[index + 1].text.upper() == "KEY"
            and tokens[index + 2].token_type == TokenType.L_PAREN
        )
        if not is_clause:
            index += 1
            continue
        name_index = index - 1
        if tokens[name_index].token_type == TokenType.R_PAREN:
            name_index = _matching_paren(tokens, name_index, step=-1) - 1
        close = _matching_paren(tokens, index + 2, step=1)
        if name_index < 0 or close < 0:
            index += 1
            continue
        clauses[tokens[name_index].start] = tokens[index + 3 : close]
        del tokens[index : close + 1]
    return clauses


def _matching_paren(tokens: list[Token], index: int, step: int) -> int:
    """Return the index of the parenthesis matching the one at `index`, or -1 if none."""
    depth = 0
    while 0 <= index < len(tokens):
        kind = tokens[index].token_type
        if kind == TokenType.L_PAREN:
            depth += step
        elif kind == TokenType.R_PAREN:
            depth -= step
        if depth == 0:
            return index
        index += step
    return -1


def _parse_key_items(clause: list[Token], reader: Dialect, text: str) -> list[exp.Expression]:
    """Parse the items of a USING KEY clause: columns and aggregate calls, possibly aliased."""
    if not clause:
        raise SqlSyntaxError("syntax error: USING KEY needs at least one key column")
    first = clause[0]
    select_token = Token(
        TokenType.SELECT, "SELECT", first.line, first.col, first.start, first.start
    )
    parsed = reader.parser().parse([select_token, *clause], text)
    only_items = len(parsed) == 1 and isinstance(parsed[0], exp.Select)
    if not only_items or any(
        value for key, value in parsed[0].args.items() if key != "expressions"
    ):
        raise SqlSyntaxError(f"syntax error: invalid USING KEY clause at line {first.line}")
    return list(parsed[0].expressions)


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
