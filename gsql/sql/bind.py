"""Bind a parsed query to the catalog: resolve every table and column with sqlglot's `qualify`.

After binding, every column reference names its table alias, every table has an alias, stars
are expanded, and file paths or table functions in FROM are registered as query-local tables.

>>> # SELECT dep_delay FROM flights WHERE carrier = 'UA'
>>> # becomes
>>> # SELECT "flights"."dep_delay" AS "dep_delay" FROM "flights" AS "flights"
>>> #   WHERE "flights"."carrier" = 'UA'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema, normalize_name

from gsql.catalogs import Catalog, TableSource, source_from_path, source_from_table_function
from gsql.errors import BindError, UnsupportedError, suggest
from gsql.sql.clauses import check_clauses
from gsql.sql.joins import check_using_columns, coalesce_using_chains, mark_asof_using
from gsql.types import sql_type

__all__ = ["RECURRING", "SELECT_ALIAS", "WHOLE_ROW", "BoundQuery", "bind_query"]

# The meta key that marks a FROM item whose every column a star or a NATURAL or USING join
# reads by name.
WHOLE_ROW = "gsql_whole_row"

# The meta key that marks a table reference written `recurring.<cte>`: DuckDB's name, inside a
# recursive CTE's recursive term, for the CTE's whole result so far.
RECURRING = "gsql_recurring"

# The meta key that marks a derived table made LATERAL only in case its unqualified columns
# name an earlier FROM item's columns.
_TENTATIVE_LATERAL = "gsql_tentative_lateral"

# The meta key that marks a copy of a select-list item put in place of a reference to its alias
# inside a subquery, DuckDB's lateral column alias. Its value is the alias.
SELECT_ALIAS = "gsql_select_alias"

_FILE_SUFFIX = re.compile(r"\.(csv|tsv|txt|parquet|pq)(\.(gz|zst|bz2))?$", re.IGNORECASE)
_TABLE_FUNCTIONS = (exp.ReadCSV, exp.ReadParquet)


@dataclass
class BoundQuery:
    """A qualified query and the table sources it reads, keyed by the name used in the SQL.

    `column_names` maps each table name to {normalised column name: column name in the source}.
    """

    expression: exp.Expression
    dialect: str
    sources: dict[str, TableSource]
    column_names: dict[str, dict[str, str]] = field(default_factory=dict)


def bind_query(expression: exp.Expression, catalog: Catalog, dialect: str) -> BoundQuery:
    """Qualify `expression` against `catalog` and collect the sources it reads.

    The expression is modified in place; pass a copy to keep the original.
    """
    if dialect == "duckdb":
        _drop_unread_ctes(expression)
        _mark_whole_row_reads(expression)
    cte_names = {cte.alias_or_name.lower() for cte in expression.find_all(exp.CTE)}
    sources: dict[str, TableSource] = {}
    _expand_in_table(expression)
    _flatten_parenthesized_joins(expression)

    for table in list(expression.find_all(exp.Table)):
        _bind_table(table, catalog, cte_names, sources, dialect)

    column_names: dict[str, dict[str, str]] = {}
    mapping: dict[str, dict[str, str]] = {}
    for name, source in sources.items():
        columns, types = _schema_for(source, dialect)
        column_names[name] = columns
        mapping[exp.to_identifier(name).sql(dialect)] = types

    plain_tables = {name: list(columns) for name, columns in column_names.items() if name.lower() not in cte_names}
    check_clauses(expression, plain_tables)
    _alias_subquery_outputs(expression)
    if dialect == "duckdb":
        _name_unnamed_subqueries(expression)
        _name_values_columns(expression)
        _mark_implicit_lateral(expression)
    _name_lateral_columns(expression)
    if dialect == "duckdb":
        _expand_lateral_aliases(expression, column_names)
    schema = MappingSchema(mapping, dialect=dialect)
    check_using_columns(expression, schema)
    mark_asof_using(expression)
    try:
        qualified = qualify(
            expression,
            dialect=dialect,
            schema=schema,
            quote_identifiers=False,
            identify=False,
        )
    except sqlglot.errors.OptimizeError as error:
        raise _bind_error(error, sources) from None
    _drop_unneeded_lateral(qualified)
    coalesce_using_chains(qualified)
    _qualify_outer_references(qualified, column_names)
    for table_value in qualified.find_all(exp.TableColumn):
        if isinstance(table_value.parent, exp.Ordered):
            continue  # DuckDB's ORDER BY a whole row: the plan builder expands it
        raise UnsupportedError(
            f"table `{table_value.name}` used as a value (DuckDB reads it as a struct of the row) is "
            "not supported; name its columns instead"
        )
    return BoundQuery(qualified, dialect, sources, column_names)


def _drop_unread_ctes(expression: exp.Expression) -> None:
    """Remove the CTEs that nothing reads, as DuckDB never binds or runs them.

    A CTE is kept while a table reference with its name appears outside its own body. A name
    that a nearer CTE hides can only keep more CTEs than needed, never fewer.
    """
    removed = True
    while removed:
        removed = False
        for cte in list(expression.find_all(exp.CTE)):
            name = cte.alias_or_name.lower()
            inside = {id(table) for table in cte.this.find_all(exp.Table)}
            read = any(
                table.name.lower() == name and id(table) not in inside
                for table in expression.find_all(exp.Table)
            )
            if not read:
                with_ = cte.parent
                cte.pop()
                if isinstance(with_, exp.With) and not with_.expressions:
                    with_.pop()
                removed = True
                break


def _mark_whole_row_reads(expression: exp.Expression) -> None:
    """Mark with `WHOLE_ROW` the FROM items that a star or a NATURAL or USING join reads.

    The qualifier expands those by column name, so the builder must not give such an item
    DuckDB's renamed duplicate columns (`a`, `a_1`) that the expansion would not see.
    """
    for select in expression.find_all(exp.Select):
        from_ = select.args.get("from_")
        joins = list(select.args.get("joins") or [])
        items = ([from_.this] if from_ is not None else []) + [join.this for join in joins]
        starred: set[str] = set()
        for projection in select.expressions:
            if isinstance(projection, exp.Star):
                starred.update(item.alias_or_name for item in items)
            elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                starred.add(projection.table)
        for join in joins:
            if join.args.get("using") or (join.method or "").upper() == "NATURAL":
                starred.update(item.alias_or_name for item in items)
        for item in items:
            if item.alias_or_name in starred:
                item.meta[WHOLE_ROW] = True


def _flatten_parenthesized_joins(expression: exp.Expression) -> None:
    """Turn `FROM (a JOIN b ON ...)` into `FROM a JOIN b ON ...` where that keeps the meaning.

    A parenthesized join first in FROM always flattens, because joins associate to the left.
    One later in the chain flattens when it and the join around it are inner or cross joins.
    """
    for select in list(expression.find_all(exp.Select)):
        from_ = select.args.get("from_")
        joins = list(select.args.get("joins") or [])
        if from_ is not None and isinstance(from_.this, exp.Subquery) and from_.this.args.get("joins"):
            # sqlglot 30 hangs the later items of `FROM (SELECT ...), (SELECT ...)` in a
            # FROM-first query on the first subquery instead of on the SELECT.
            joins = list(from_.this.args["joins"]) + joins
            from_.this.set("joins", None)
        if from_ is not None and is_parenthesized_join(from_.this):
            table = from_.this.this
            inner_joins = list(table.args.get("joins") or [])
            table.set("joins", None)
            from_.set("this", table)
            joins = inner_joins + joins
        flattened: list[exp.Join] = []
        for join in joins:
            if not is_parenthesized_join(join.this):
                flattened.append(join)
                continue
            table = join.this.this
            inner_joins = list(table.args.get("joins") or [])
            if join.args.get("using"):
                raise UnsupportedError(f"USING after a parenthesized join is not supported: `{join.sql()[:80]}`")
            kinds = [join, *inner_joins]
            if any(_keeps_order(j) for j in kinds):
                # The plan builder joins the parenthesized join first (`plan_parenthesized_join`).
                flattened.append(join)
                continue
            table.set("joins", None)
            flattened.append(exp.Join(this=table, on=join.args.get("on")))
            flattened.extend(inner_joins)
        if joins or select.args.get("joins"):
            select.set("joins", flattened)


def _keeps_order(join: exp.Join) -> bool:
    """Return whether moving `join` within a chain of joins could change the result."""
    kind = (join.kind or "").upper()
    return bool(join.side) or kind not in ("", "INNER", "CROSS") or bool(join.args.get("method"))


def is_parenthesized_join(node: exp.Expression) -> bool:
    return (
        isinstance(node, exp.Subquery)
        and not node.alias
        and isinstance(node.this, exp.Table)
        and bool(node.this.args.get("joins"))
    )


def _expand_in_table(expression: exp.Expression) -> None:
    """Rewrite SQLite's `x IN t1` into `x IN (SELECT * FROM t1)`."""
    for node in list(expression.find_all(exp.In)):
        field = node.args.get("field")
        if isinstance(field, exp.Column) and not field.table:
            subquery = exp.select("*").from_(exp.to_table(field.name))
            node.set("field", None)
            node.set("query", exp.Subquery(this=subquery))


def _alias_subquery_outputs(expression: exp.Expression) -> None:
    """Give unaliased scalar subqueries in select lists an explicit alias.

    sqlglot 30.30's qualifier names such a subquery by setting the alias on the Subquery node
    itself, then fails an assertion when ORDER BY refers to it by position.
    """
    for select in expression.find_all(exp.Select):
        for position, item in enumerate(select.expressions):
            if isinstance(item, exp.Subquery) and not item.alias:
                alias = exp.to_identifier(f"_col_{position}")
                item.replace(exp.Alias(this=item.copy(), alias=alias))


def _mark_implicit_lateral(expression: exp.Expression) -> None:
    """Make LATERAL the derived tables that may read an earlier item of their FROM clause.

    DuckDB lets `FROM t, (SELECT t.x + 1 AS y) AS s` read `t` without the LATERAL keyword,
    and `(SELECT x + 1 AS y)` too when the subquery's own tables have no column `x`. A derived
    table with unqualified columns is made LATERAL until the qualifier has resolved them, and
    `_drop_unneeded_lateral` turns it back when it reads no earlier item.
    """
    from gsql.sql.subqueries import free_aliases

    for select in list(expression.find_all(exp.Select)):
        from_ = select.args.get("from_")
        if from_ is None:
            continue
        earlier = _item_aliases(from_.this)
        for join in select.args.get("joins") or []:
            item = join.this
            if isinstance(item, exp.Subquery) and not is_parenthesized_join(item):
                reads_earlier = bool(free_aliases(item.this) & earlier)
                unqualified = any(not column.table for column in item.this.find_all(exp.Column))
                if reads_earlier or (unqualified and _lateral_can_take_alias(item)):
                    alias = item.args.get("alias")
                    item.set("alias", None)
                    lateral = exp.Lateral(this=item, view=False, outer=False, alias=alias)
                    lateral.meta[_TENTATIVE_LATERAL] = not reads_earlier
                    join.set("this", lateral)
            earlier |= _item_aliases(join.this)


def _drop_unneeded_lateral(expression: exp.Expression) -> None:
    """Turn back into derived tables the LATERAL items marked on trial that read no earlier item."""
    from gsql.sql.subqueries import free_aliases

    for lateral in list(expression.find_all(exp.Lateral)):
        join = lateral.parent
        select = join.parent if isinstance(join, exp.Join) else None
        if not lateral.meta.get(_TENTATIVE_LATERAL) or not isinstance(select, exp.Select):
            continue
        earlier = _item_aliases(select.args["from_"].this)
        for other in select.args.get("joins") or []:
            if other is join:
                break
            earlier |= _item_aliases(other.this)
        body = lateral.this.this if isinstance(lateral.this, exp.Subquery) else lateral.this
        if free_aliases(body) & earlier:
            continue
        subquery = lateral.this
        subquery.set("alias", lateral.args.get("alias"))
        join.set("this", subquery)


def _lateral_can_take_alias(subquery: exp.Subquery) -> bool:
    """Return whether `_name_lateral_columns` can move the subquery's column names, if any."""
    alias = subquery.args.get("alias")
    body = subquery.this
    if alias is None or not alias.columns:
        return True
    return isinstance(body, exp.Select) and _takes_column_names(body, len(alias.columns))


def _takes_column_names(body: exp.Select, count: int) -> bool:
    items = body.expressions
    return len(items) >= count and not any(isinstance(item, exp.Star) or item.is_star for item in items)


def _name_lateral_columns(expression: exp.Expression) -> None:
    """Move the column list of `LATERAL (SELECT ...) AS t(a, b)` onto the select list.

    sqlglot's qualifier applies such a list to a derived table but not to a LATERAL one. A
    select list with a star, or with fewer items than names, keeps the list as it is.
    """
    for lateral in list(expression.find_all(exp.Lateral)):
        alias = lateral.args.get("alias")
        body = lateral.this.this if isinstance(lateral.this, exp.Subquery) else lateral.this
        if alias is None or not alias.columns or not isinstance(body, exp.Select):
            continue
        if not _takes_column_names(body, len(alias.columns)):
            continue
        items = body.expressions
        for position, name in enumerate(alias.columns):
            item = items[position]
            value = item.this if isinstance(item, exp.Alias) else item
            items[position].replace(exp.Alias(this=value.copy(), alias=name.copy()))
        alias.set("columns", None)


# Calls whose value may differ between two evaluations, so a copy of one is not the same value.
_VOLATILE = (exp.Rand, exp.Randn, exp.Uuid, exp.Anonymous)


def _expand_lateral_aliases(expression: exp.Expression, column_names: dict[str, dict[str, str]]) -> None:
    """Replace references to an earlier select-list alias inside subqueries of later items.

    DuckDB reads `k` in `SELECT x + 1 AS k, k IN (SELECT k + y FROM u) FROM t` as the item
    `x + 1`, and sqlglot's qualifier expands such references only outside subqueries. A
    reference is replaced only where no table in scope, here or in an enclosing query, has a
    column of that name, because real columns win. The copy's columns are qualified with their
    FROM item, so the subquery's own tables cannot capture them, and the copy carries
    `SELECT_ALIAS` in its meta so that the plan builder can read a grouped query's key whole.
    """
    ctes: dict[str, exp.CTE | None] = {}
    for cte in expression.find_all(exp.CTE):
        name = cte.alias_or_name.lower()
        # Two CTEs of one name in different scopes: which one a table reads is unknown here.
        ctes[name] = None if name in ctes else cte
    for select in list(expression.find_all(exp.Select)):
        if not any(item.find(exp.Select) for item in select.expressions[1:]):
            continue  # no subquery after the first item, so nothing to replace
        aliases: dict[str, exp.Expression | None] = {}
        for item in select.expressions:
            if any(value is not None for value in aliases.values()):
                _replace_alias_references(item, select, aliases, ctes, column_names)
            if isinstance(item, exp.Alias):
                aliases[item.alias.lower()] = _qualified_copy(item.this, select, aliases, ctes, column_names)


def _qualified_copy(
    expression: exp.Expression,
    select: exp.Select,
    aliases: dict[str, exp.Expression | None],
    ctes: dict[str, exp.CTE | None],
    column_names: dict[str, dict[str, str]],
) -> exp.Expression | None:
    """Return `expression` with each column qualified by its FROM item of `select`.

    An unqualified name that no FROM item has is an earlier alias, replaced by its own copy.
    Return None where a name is ambiguous or unknown, or the expression contains a subquery, a
    window function or a call that may return another value on each evaluation.
    """
    if any(isinstance(node, (exp.Select, exp.Subquery, exp.Window, *_VOLATILE)) for node in expression.walk()):
        return None
    items = [(item.alias_or_name, _from_item_columns(item, ctes, column_names)) for item in _from_items(select)]
    if any(columns is None for _, columns in items):
        return None
    copy = expression.copy()
    for column in list(copy.find_all(exp.Column)):
        if column.table:
            continue
        name = column.name.lower()
        owners = [alias for alias, columns in items if name in columns]
        if len(owners) == 1:
            column.set("table", exp.to_identifier(owners[0]))
        elif not owners and aliases.get(name) is not None:
            replacement = aliases[name].copy()
            if column is copy:
                return replacement
            column.replace(replacement)
        else:
            return None
    return copy


def _replace_alias_references(
    item: exp.Expression,
    select: exp.Select,
    aliases: dict[str, exp.Expression | None],
    ctes: dict[str, exp.CTE | None],
    column_names: dict[str, dict[str, str]],
) -> None:
    """Replace the alias references inside the subqueries of one select-list item."""
    for column in list(item.find_all(exp.Column)):
        name = column.name.lower()
        if column.table or aliases.get(name) is None or not isinstance(column.this, exp.Identifier):
            continue
        scopes = []
        node = column.parent
        while node is not None:
            if isinstance(node, exp.Lambda):
                scopes = []
                break
            if isinstance(node, exp.Select):
                scopes.append(node)
            node = node.parent
        if not scopes or scopes[0] is select:
            continue  # not inside a subquery: sqlglot's qualifier expands it
        if any(_defines_column(scope, name, select, ctes, column_names) for scope in scopes):
            continue
        _check_alias_copy(name, aliases[name], scopes[: scopes.index(select)] if select in scopes else scopes)
        replacement = aliases[name].copy()
        if not isinstance(replacement, (exp.Column, exp.Literal, exp.Paren)):
            replacement = exp.Paren(this=replacement)
        replacement.meta[SELECT_ALIAS] = name
        column.replace(replacement)


def _check_alias_copy(name: str, copy: exp.Expression, inner_scopes: list[exp.Select]) -> None:
    """Raise where a copy of an aliased item would change meaning inside a subquery.

    A FROM item of the subquery with the name of a table that the copy reads would capture its
    columns, and an aggregate without a column argument, such as COUNT(*), would count the
    subquery's rows instead of the enclosing query's.
    """
    from gsql.sql.aggregates import is_aggregate_call

    tables = {column.table.lower() for column in copy.find_all(exp.Column) if column.table}
    for scope in inner_scopes:
        names = {item.alias_or_name.lower() for item in _from_items(scope)}
        captured = sorted(tables & names)
        if captured:
            raise UnsupportedError(
                f"the select-list alias `{name}` inside a subquery that names its own FROM item "
                f"`{captured[0]}` is not supported; give that FROM item another alias"
            )
    for node in copy.walk():
        if is_aggregate_call(node) and not any(True for _ in node.find_all(exp.Column)):
            raise UnsupportedError(
                f"the select-list alias `{name}` of `{copy.sql()}` inside a subquery is not "
                "supported; repeat the aggregate over a column of the enclosing query instead"
            )


def _defines_column(
    scope: exp.Select,
    name: str,
    select: exp.Select,
    ctes: dict[str, exp.CTE | None],
    column_names: dict[str, dict[str, str]],
) -> bool:
    """Return whether `name` may be a column or an inner alias in `scope`; True when unknown."""
    if scope is not select and name in {item.alias.lower() for item in scope.expressions if isinstance(item, exp.Alias)}:
        return True
    for item in _from_items(scope):
        columns = _from_item_columns(item, ctes, column_names)
        if columns is None or name in columns:
            return True
    return False


def _from_items(select: exp.Select) -> list[exp.Expression]:
    from_ = select.args.get("from_")
    items = [from_.this] if from_ is not None else []
    return items + [join.this for join in select.args.get("joins") or []]


def _from_item_columns(
    item: exp.Expression,
    ctes: dict[str, exp.CTE | None],
    column_names: dict[str, dict[str, str]],
    fold: Callable[[str], str] = str.lower,
) -> set[str] | None:
    """Return the column names of a FROM item, or None when they are unknown here.

    `fold` maps each name to the form compared, lower case for DuckDB's case-insensitive names
    before qualification.
    """
    alias = item.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias.columns:
        return {fold(column.name) for column in alias.columns}
    body = None
    if isinstance(item, exp.Table):
        name = fold(item.name)
        if name in ctes:
            cte = ctes[name]
            if cte is None:
                return None
            if cte.args.get("alias") is not None and cte.args["alias"].columns:
                return {fold(column.name) for column in cte.args["alias"].columns}
            body = cte.this
        elif name in column_names and not item.args.get("db"):
            return {fold(column) for column in column_names[name]}
        else:
            return None
    elif isinstance(item, exp.Subquery) and not is_parenthesized_join(item):
        body = item.this
    if not isinstance(body, exp.Query):
        return None
    names = body.named_selects
    if "*" in names or any(isinstance(node, exp.Star) for node in body.expressions if isinstance(body, exp.Select)):
        return None
    return {fold(name) for name in names}


def _qualify_outer_references(expression: exp.Expression, column_names: dict[str, dict[str, str]]) -> None:
    """Qualify the enclosing query's columns that HAVING and QUALIFY of a subquery read.

    sqlglot 30.30's qualifier leaves such a column unqualified, as in `(SELECT 1 FROM u HAVING
    MIN(x) IS NULL)` with `x` a column of the enclosing query. A name that is a column or an
    alias of the subquery itself is left alone. Otherwise the name is qualified with the FROM
    item of the nearest enclosing SELECT that has it, when exactly one item there has it and
    every FROM item on the way has known columns.
    """
    ctes: dict[str, exp.CTE | None] = {}
    for cte in expression.find_all(exp.CTE):
        name = cte.alias_or_name
        ctes[name] = None if name in ctes else cte
    for select in list(expression.find_all(exp.Select)):
        for clause in ("having", "qualify"):
            node = select.args.get(clause)
            if node is None:
                continue
            for column in list(node.find_all(exp.Column)):
                if column.table or column.find_ancestor(exp.Select) is not select:
                    continue
                owner = _enclosing_owner(column.name, select, ctes, column_names)
                if owner is not None:
                    column.set("table", exp.to_identifier(owner))


def _enclosing_owner(
    name: str, select: exp.Select, ctes: dict[str, exp.CTE | None], column_names: dict[str, dict[str, str]]
) -> str | None:
    """Return the alias of the enclosing FROM item that has column `name`, or None if unsure.

    A SELECT reached from its FROM, JOIN or WITH clause is skipped, because its FROM items are
    not visible there.
    """
    if name in {item.alias for item in select.expressions if isinstance(item, exp.Alias)}:
        return None
    items = _from_items(select)
    columns = [_from_item_columns(item, ctes, column_names, fold=str) for item in items]
    if any(found is None or name in found for found in columns):
        return None  # a column of the subquery itself, or maybe one
    child: exp.Expression = select
    while True:
        while child.parent is not None and not isinstance(child.parent, exp.Select):
            child = child.parent
        scope = child.parent
        if scope is None:
            return None
        if child.arg_key not in ("from_", "joins", "with_"):
            items = _from_items(scope)
            columns = [_from_item_columns(item, ctes, column_names, fold=str) for item in items]
            if any(found is None for found in columns):
                return None
            owners = [item.alias_or_name for item, found in zip(items, columns) if name in found]
            if owners:
                return owners[0] if len(owners) == 1 else None
        child = scope


def _item_aliases(item: exp.Expression) -> set[str]:
    if isinstance(item, exp.Table):
        return {item.alias_or_name}
    if is_parenthesized_join(item):
        return {table.alias_or_name for table in item.find_all(exp.Table)}
    return {item.alias} if item.alias else set()


def _name_values_columns(expression: exp.Expression) -> None:
    """Name the unnamed columns of an aliased VALUES list col0, col1, ... as DuckDB does.

    sqlglot's qualifier would name them `_col_0`, `_col_1`, ... instead.
    """
    for values in expression.find_all(exp.Values):
        alias = values.args.get("alias")
        rows = values.expressions
        if alias is None or not rows:
            continue
        width = len(rows[0].expressions) if isinstance(rows[0], exp.Tuple) else 1
        named = list(alias.columns)
        for position in range(len(named), width):
            alias.append("columns", exp.to_identifier(f"col{position}"))


def _name_unnamed_subqueries(expression: exp.Expression) -> None:
    """Give derived tables without an alias the names DuckDB gives them.

    DuckDB names the unaliased subqueries and VALUES lists of one FROM clause, left to right,
    `unnamed_subquery`, `unnamed_subquery2`, `unnamed_subquery3` and so on, and queries may
    refer to those names (checked with DuckDB 2.0).
    """
    for select in expression.find_all(exp.Select):
        from_ = select.args.get("from_")
        items = ([from_.this] if from_ is not None else []) + [j.this for j in select.args.get("joins") or []]
        explicit_aliases = {item.alias for item in items if item.alias}
        number = 0
        for item in items:
            if not isinstance(item, (exp.Subquery, exp.Values)) or item.alias or is_parenthesized_join(item):
                continue
            number += 1
            name = "unnamed_subquery" if number == 1 else f"unnamed_subquery{number}"
            if name in explicit_aliases:
                continue
            item.set("alias", exp.TableAlias(this=exp.to_identifier(name)))


def _schema_for(source: TableSource, dialect: str) -> tuple[dict[str, str], dict[str, str]]:
    """Return a source's {normalised name: column} and {quoted name: SQL type}, cached per dialect.

    A source's schema never changes after it is first read, and rebuilding these mappings
    took most of the planning time of wide TPC-H queries.
    """
    cache = source.__dict__.setdefault("_bind_cache", {})
    if dialect not in cache:
        columns: dict[str, str] = {}
        types: dict[str, str] = {}
        for arrow_field in source.arrow_schema():
            normalised = normalize_name(
                arrow_field.name, dialect=dialect, is_table=False, normalize=True
            ).name
            columns[normalised] = arrow_field.name
            types[exp.to_identifier(arrow_field.name).sql(dialect)] = sql_type(
                arrow_field.type
            ).sql(dialect)
        cache[dialect] = (columns, types)
    return cache[dialect]


def _bind_table(
    table: exp.Table,
    catalog: Catalog,
    cte_names: set[str],
    sources: dict[str, TableSource],
    dialect: str,
) -> None:
    """Check one table reference, registering files and table functions as local tables."""
    target = table.this
    if isinstance(target, _TABLE_FUNCTIONS) or isinstance(target, exp.Anonymous):
        source = _source_from_function(target, len(sources))
        _replace_with_local_name(table, source, sources)
        return
    if not isinstance(target, exp.Identifier):
        raise UnsupportedError(f"table expression `{table.sql()}` is not supported in FROM")
    if table.args.get("db") and not table.args.get("catalog") and table.args["db"].name.lower() == "main":
        # DuckDB's default schema is `main`; gsql's one schema plays that part.
        table.set("db", None)
        if target.name.lower() in cte_names and target.name in catalog:
            # `main.t` names the table even where a CTE `t` hides it, so it gets a local name.
            local_name = f"__table_{len(sources)}"
            sources[local_name] = catalog.get(target.name)
            table.set("alias", table.args.get("alias") or exp.TableAlias(this=target.copy()))
            table.set("this", exp.to_identifier(local_name))
            return
    if _is_recurring_table(table, cte_names):
        table.set("db", None)
        table.meta[RECURRING] = True
        if not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(target.name)))
        return
    if table.args.get("db") or table.args.get("catalog"):
        raise UnsupportedError(
            f"qualified table name `{table.sql()}` is not supported; gsql has one schema, "
            "so refer to the table by its registered name"
        )

    name = target.name
    if name.lower() in cte_names:
        return
    if name in catalog:
        # Key the source by the name the qualifier will leave in the query: unquoted names
        # are folded to the dialect's case, so `FROM another_T` becomes `another_t`.
        key = normalize_name(target.copy(), dialect=dialect, is_table=True, normalize=True).name
        sources[key] = catalog.get(name)
        return
    if target.quoted and (_FILE_SUFFIX.search(name) or "/" in name or "*" in name):
        source = source_from_path(f"__file_{len(sources)}", name)
        _replace_with_local_name(table, source, sources, default_alias=_stem(name))
        return
    catalog.get(name)  # raises BindError with a suggestion


def _is_recurring_table(table: exp.Table, cte_names: set[str]) -> bool:
    db = table.args.get("db")
    if db is None or table.args.get("catalog") or db.name.lower() != "recurring":
        return False
    return table.name.lower() in cte_names


def _source_from_function(function: exp.Expression, index: int) -> TableSource:
    if isinstance(function, exp.Anonymous):
        name = function.name.lower()
        raw_arguments = function.expressions
    else:
        name = "read_csv" if isinstance(function, exp.ReadCSV) else "read_parquet"
        raw_arguments = ([function.this] if function.this else []) + function.expressions

    positional: list[Any] = []
    options: dict[str, Any] = {}
    for argument in raw_arguments:
        if isinstance(argument, (exp.EQ, exp.PropertyEQ)) and isinstance(argument.this, exp.Column):
            options[argument.this.name.lower()] = _literal_value(argument.expression)
        else:
            positional.append(_literal_value(argument))
    source = source_from_table_function(name, positional, options)
    source.name = f"__file_{index}"
    return source


def _literal_value(expression: exp.Expression) -> Any:
    if isinstance(expression, exp.Literal):
        if expression.is_string:
            return expression.this
        return float(expression.this) if "." in expression.this else int(expression.this)
    if isinstance(expression, exp.Boolean):
        return expression.this
    if isinstance(expression, exp.Array):
        return [_literal_value(item) for item in expression.expressions]
    if isinstance(expression, exp.Struct):
        return {
            item.this.name if isinstance(item.this, exp.Expression) else str(item.this): _literal_value(item.expression)
            for item in expression.expressions
            if isinstance(item, (exp.PropertyEQ, exp.Slice, exp.EQ))
        }
    if isinstance(expression, exp.Null):
        return None
    raise UnsupportedError(
        f"table function argument `{expression.sql()}` must be a literal value"
    )


def _replace_with_local_name(
    table: exp.Table,
    source: TableSource,
    sources: dict[str, TableSource],
    default_alias: str | None = None,
) -> None:
    local_name = source.name
    sources[local_name] = source
    alias = table.alias or default_alias or local_name
    table.set("this", exp.to_identifier(local_name))
    table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))


def _stem(path: str) -> str:
    base = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    stem = base.split(".", 1)[0]
    return re.sub(r"\W", "_", stem) or "file"


_UNRESOLVED_COLUMN = re.compile(r"Column '([^']+)' could not be resolved|Unknown column: (\w+)")


def _bind_error(error: sqlglot.errors.OptimizeError, sources: dict[str, TableSource]) -> BindError:
    message = str(error)
    match = _UNRESOLVED_COLUMN.search(message)
    if match:
        column = match.group(1) or match.group(2)
        candidates = [f.name for source in sources.values() for f in source.arrow_schema()]
        tables = ", ".join(f"`{name}`" for name in sources if not name.startswith("__file_"))
        scope = f" in {tables}" if tables else ""
        return BindError(f"unknown column `{column}`{scope}{suggest(column, candidates)}")
    return BindError(f"cannot resolve the query: {message}")
