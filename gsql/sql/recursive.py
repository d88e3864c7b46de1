"""Plan recursive CTEs, with DuckDB's `USING KEY` clause and its `recurring.<cte>` tables.

`WITH RECURSIVE t(k, v) USING KEY (k) AS (base UNION ALL step)` keeps one row per key: a row
of a later run replaces the row with the same key. A USING KEY clause may also list aggregate
calls, `USING KEY (k, max(v))`, and then column `v` of the result is the aggregate over every
row ever produced for the key. In the recursive term, `recurring.t` reads the whole result so
far, as it stood when the run began, while `t` reads only the rows of the previous run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from gsql.errors import BindError, UnsupportedError
from gsql.sql import plan
from gsql.sql.aggregates import AGGREGATE_FUNCTIONS, PAIR_AGGREGATES
from gsql.sql.bind import RECURRING
from gsql.sql.parse import USING_KEY

if TYPE_CHECKING:
    from gsql.sql.build import Relation, _PlanBuilder

__all__ = ["plan_recursive_cte", "reads_cte", "recurring_key", "reject_using_key"]

# The CTE name and alias under which the state query of a USING KEY CTE with aggregates reads
# the rows produced so far, and the names of the group and row number columns added to them.
_HISTORY_TABLE = "__gsql_history"
_HISTORY_ALIAS = "__history"
_GROUP_COLUMN = "__gsql_group"
_ROW_COLUMN = "__gsql_row"

# Arguments of an aggregate call that USING KEY takes: the value, STRING_AGG's separator and
# the flag sqlglot sets on DuckDB's COUNT. CORR and the COVAR functions also take `expression`.
_CALL_ARGS = frozenset({"this", "separator", "big_int"})


def recurring_key(name: str) -> str:
    """Return the key under which the builder's CTE map contains `recurring.<name>`."""
    return f"recurring.{name}"


def plan_recursive_cte(
    builder: _PlanBuilder, cte: exp.CTE, name: str, ctes: dict[str, Relation]
) -> Relation:
    """Plan `base UNION [ALL] step` where `step` reads the CTE itself or `recurring.<cte>`."""
    from gsql.sql.build import Relation

    body = cte.this
    if not isinstance(body, exp.Union) or reads_cte(body.this, name):
        raise UnsupportedError(
            f"recursive CTE `{name}` must be `base UNION [ALL] recursive term`, with only "
            "the recursive term reading the CTE"
        )
    for clause in ("order", "limit", "offset"):
        if body.args.get(clause):
            raise UnsupportedError(f"{clause.upper()} on a recursive CTE's UNION is not supported")
    base = builder.query(body.this, ctes)
    alias = cte.args.get("alias")
    names = (
        [column.name for column in alias.columns]
        if alias is not None and alias.columns
        else base.names
    )
    if len(names) != len(base.names):
        raise BindError(
            f"recursive CTE `{name}` names {len(names)} columns but returns {len(base.names)}"
        )

    working = plan.WorkingTable([builder.fresh("wt") for _ in names])
    recurring = plan.WorkingTable([builder.fresh("rt") for _ in names])
    inner = dict(ctes)
    inner[name] = Relation(working, names)
    inner[recurring_key(name)] = Relation(recurring, names)
    step = builder.query(body.expression, inner)
    if len(step.names) != len(names):
        raise BindError(
            f"the recursive term of `{name}` returns {len(step.names)} columns, not {len(names)}"
        )
    distinct = body.args.get("distinct", True) is not False
    reads_recurring = any(
        table.meta.get(RECURRING) for table in body.expression.find_all(exp.Table)
    )
    node = plan.Recursive(
        [builder.fresh("r") for _ in names],
        base=base.node,
        step=step.node,
        working=working,
        all=not distinct,
        recurring=recurring if reads_recurring else None,
    )
    items = cte.meta.get(USING_KEY)
    if items:
        _plan_using_key(builder, node, name, names, items)
    return Relation(node, names)


def reads_cte(expression: exp.Expression, name: str) -> bool:
    """Return whether `expression` reads the CTE `name`, directly or as `recurring.<name>`."""
    return any(table.name.lower() == name for table in expression.find_all(exp.Table))


def reject_using_key(cte: exp.CTE, name: str) -> None:
    """Raise if a CTE that is not recursive has a USING KEY clause.

    DuckDB 2.0 runs such a CTE with rules of its own: `SELECT 1, 1 UNION ALL SELECT 1, 3` with
    USING KEY on the first column returns only the row (1, 1).
    """
    if cte.meta.get(USING_KEY):
        raise UnsupportedError(
            f"USING KEY on CTE `{name}` is supported only with WITH RECURSIVE and a recursive "
            "term that reads the CTE"
        )


def _plan_using_key(
    builder: _PlanBuilder,
    node: plan.Recursive,
    cte_name: str,
    names: list[str],
    items: list[exp.Expression],
) -> None:
    """Set the key columns of `node` and, for aggregate items, its state query."""
    positions = {column.lower(): index for index, column in enumerate(names)}
    keys: list[int] = []
    aggregates: dict[int, exp.Expression] = {}
    for item in items:
        if isinstance(item, exp.Column):
            index = _column_position(item, positions, cte_name, names)
            if index not in keys:
                keys.append(index)
            continue
        call = item.this if isinstance(item, exp.Alias) else item
        if isinstance(call, exp.IgnoreNulls) and isinstance(call.this, exp.AnyValue):
            call = call.this  # DuckDB's ANY_VALUE skips NULLs without the clause too
        _check_key_aggregate(call, item)
        target = _aggregate_target(item, call, positions, cte_name, names)
        if target in aggregates:
            raise BindError(
                f"column `{names[target]}` is referenced multiple times by the aggregates in "
                f"USING KEY of `{cte_name}`; give each aggregate its own column"
            )
        aggregates[target] = call
    if not keys:
        raise BindError(f"USING KEY of `{cte_name}` requires at least one key column")
    for index in aggregates:
        if index in keys:
            raise BindError(
                f"column `{names[index]}` cannot be used as both key and aggregate in USING KEY "
                f"of `{cte_name}`"
            )
    node.key = [node.columns[index] for index in keys]
    if not aggregates:
        return
    if not node.all:
        raise UnsupportedError(
            f"USING KEY with aggregates on `{cte_name}` needs UNION ALL; gsql does not "
            "support it with UNION"
        )
    _plan_state(builder, node, names, positions, aggregates)


def _column_position(
    column: exp.Column, positions: dict[str, int], cte_name: str, names: list[str]
) -> int:
    if column.table and column.table.lower() != cte_name:
        raise BindError(f"USING KEY of `{cte_name}` cannot read `{column.sql()}`")
    index = positions.get(column.name.lower())
    if index is None:
        raise BindError(
            f"USING KEY column `{column.name}` is not a column of `{cte_name}`; its columns "
            f"are {', '.join(names)}"
        )
    return index


def _check_key_aggregate(call: exp.Expression, item: exp.Expression) -> None:
    """Raise unless `call` is a plain aggregate call that USING KEY can take."""
    if isinstance(call, exp.Window):
        raise BindError(f"window function `{item.sql()}` can't be used in the USING KEY clause")
    if isinstance(call, exp.Filter):
        raise UnsupportedError(f"FILTER in `{item.sql()}` is not supported in USING KEY")
    if not isinstance(call, exp.AggFunc):
        if isinstance(item, exp.Alias):
            raise BindError(
                f"in USING KEY only direct calls to an aggregate function can have an alias, "
                f"not `{item.sql()}`"
            )
        raise BindError(
            f"`{item.sql()}` can't be used in the USING KEY clause; list key columns and "
            "aggregate calls"
        )
    known = type(call) in AGGREGATE_FUNCTIONS or type(call) in PAIR_AGGREGATES
    if not known and not isinstance(call, exp.CountIf):
        raise UnsupportedError(
            f"aggregate function `{call.sql_name()}` is not supported in USING KEY"
        )
    extra = {key for key, value in call.args.items() if value not in (None, [])} - _CALL_ARGS
    if type(call) in PAIR_AGGREGATES:
        extra.discard("expression")
    if extra:
        raise UnsupportedError(
            f"aggregate `{call.sql()}` with more than its value argument is not supported in USING KEY"
        )
    for argument in call.find_all(exp.Distinct, exp.Star, exp.Order):
        raise UnsupportedError(
            f"`{argument.sql()}` in `{call.sql()}` is not supported in USING KEY"
        )


def _aggregate_target(
    item: exp.Expression,
    call: exp.Expression,
    positions: dict[str, int],
    cte_name: str,
    names: list[str],
) -> int:
    """Return the position of the column that an aggregate item of USING KEY writes."""
    if isinstance(item, exp.Alias):
        index = positions.get(item.alias.lower())
        if index is None:
            raise BindError(
                f"could not find column `{item.alias}` of `{cte_name}` to bind aggregate "
                f"`{call.sql()}` to"
            )
        return index
    columns = {
        _column_position(column, positions, cte_name, names) for column in call.find_all(exp.Column)
    }
    if len(columns) != 1:
        raise BindError(
            f"in USING KEY, an aggregate must either have a column reference or an alias: "
            f"`{call.sql()}` needs `AS column`"
        )
    return columns.pop()


def _plan_state(
    builder: _PlanBuilder,
    node: plan.Recursive,
    names: list[str],
    positions: dict[str, int],
    aggregates: dict[int, exp.Expression],
) -> None:
    """Plan the query that aggregates the rows produced so far, one group per key."""
    from gsql.sql.build import Relation

    history = plan.WorkingTable(
        [builder.fresh("h") for _ in names] + [builder.fresh("hg"), builder.fresh("hr")]
    )
    relation = Relation(history, [*names, _GROUP_COLUMN, _ROW_COLUMN])
    group = exp.column(_GROUP_COLUMN, table=_HISTORY_ALIAS)
    select = exp.select(group.copy()).from_(exp.to_table(_HISTORY_TABLE).as_(_HISTORY_ALIAS))
    for index, call in aggregates.items():
        if isinstance(call, exp.AnyValue):
            # gsql's ANY_VALUE may return any value, but DuckDB's returns the first one here.
            node.first_values.append(node.columns[index])
            continue
        select = select.select(exp.alias_(_history_call(call, positions, names), f"_state_{index}"))
        node.aggregated.append(node.columns[index])
    select = select.group_by(group)
    state = builder.select(select, {_HISTORY_TABLE: relation})
    node.history = history
    node.state = state.node


def _history_call(
    call: exp.Expression, positions: dict[str, int], names: list[str]
) -> exp.Expression:
    """Copy `call` reading the columns of the history table; COUNTIF(c) becomes COUNT(CASE ...)."""

    def qualify(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            return exp.column(names[positions[node.name.lower()]], table=_HISTORY_ALIAS)
        return node

    qualified = call.copy().transform(qualify)
    if isinstance(qualified, exp.GroupConcat):
        # STRING_AGG joins the values in the order they were produced.
        row = exp.Ordered(this=exp.column(_ROW_COLUMN, table=_HISTORY_ALIAS), nulls_first=False)
        qualified.set("this", exp.Order(this=qualified.this, expressions=[row]))
    if isinstance(qualified, exp.CountIf):
        condition = exp.If(this=qualified.this, true=exp.Literal.number(1))
        return exp.Count(this=exp.Case(ifs=[condition]))
    return qualified
