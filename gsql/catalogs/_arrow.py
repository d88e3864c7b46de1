"""Arrow helpers that every reader shares: type normalisation, casting and in-memory filtering."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from gsql.errors import DataError
from gsql.types import normalize_arrow_type

__all__ = ["cast_table", "columns_for_filter", "filter_table", "target_schema"]


def target_schema(schema: pa.Schema, overrides: Mapping[str, pa.DataType]) -> pa.Schema:
    """Return the schema with each type normalised and the `dtype` overrides applied."""
    fields = [
        pa.field(field.name, overrides.get(field.name, normalize_arrow_type(field.type)))
        for field in schema
    ]
    return pa.schema(fields)


def cast_table(table: pa.Table, schema: pa.Schema, origin: str) -> pa.Table:
    """Cast each column of the table to its type in the schema, which may list more columns.

    Args:
        table: the table as read.
        schema: the target schema, by column name.
        origin: the file or table named in an error message.

    Raises:
        DataError: a value does not convert, such as text in a numeric override; it names the
            column, the origin and pyarrow's message.
    """
    for index, name in enumerate(table.column_names):
        target = schema.field(name).type
        if table.schema.field(index).type == target:
            continue
        try:
            column = pc.cast(table.column(index), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise DataError(
                f"cannot convert column `{name}` of `{origin}` to {target}: {error}; "
                "change the column's `dtype`"
            ) from None
        table = table.set_column(index, pa.field(name, target), column)
    return table


def _binds(expression: pc.Expression, schema: pa.Schema) -> bool:
    # pyarrow has no public way to list the fields of an expression. Building a scanner over an
    # empty table binds the expression, which fails when a field it reads is missing.
    try:
        ds.dataset(schema.empty_table()).scanner(filter=expression)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return False
    return True


def columns_for_filter(
    expression: pc.Expression, schema: pa.Schema, columns: Sequence[str]
) -> list[str]:
    """Return the columns plus any other columns of the schema that the filter reads.

    When the filter does not bind even against the whole schema, this returns every column and
    leaves the error to the filter itself.
    """
    selected = pa.schema([schema.field(name) for name in columns])
    if _binds(expression, selected):
        return list(columns)
    if not _binds(expression, schema):
        return list(schema.names)

    extra = []
    for field in schema:
        if field.name in columns:
            continue
        without = pa.schema([other for other in schema if other.name != field.name])
        if not _binds(expression, without):
            extra.append(field.name)
    return [*columns, *extra]


def filter_table(
    table: pa.Table, expression: pc.Expression | None, columns: Sequence[str]
) -> pa.Table:
    """Return the rows of the table where the filter is true, with only the given columns."""
    if expression is None:
        return table.select(list(columns))
    return ds.dataset(table).to_table(columns=list(columns), filter=expression)
