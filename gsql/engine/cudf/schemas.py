"""The Arrow types of plan values, found by running the pandas engine on empty inputs.

The cudf engine keeps, beside every GPU frame, the Arrow schema that the pandas engine would
give the same node: its logical schema. cuDF stores some types differently (a DATE is a
`datetime64[s]` column, a COUNT is 32-bit), so the logical schema decides which kernels may run
on the GPU and what a result is cast back to when it leaves the GPU. Both engines therefore
return the same types.

Running the pandas engine on zero rows costs milliseconds and needs no GPU, so
`explain_placement` uses the same schemas without running anything.
"""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa
from sqlglot import exp

from gsql.engine.arrow_kernels import Evaluator
from gsql.errors import GsqlError
from gsql.sql import plan

__all__ = ["TypeOracle", "device_storage_problem", "infer_schemas", "output_schema"]

logger = logging.getLogger(__name__)


def output_schema(node: plan.Node, inputs: list[pa.Schema], dialect: str) -> pa.Schema | None:
    """Return the Arrow schema of `node`'s output on the pandas engine, or None when unknown.

    Scans read the source's schema; every other node runs its pandas handler on empty frames.
    """
    from gsql.engine.pandas_backend import PandasBackend, frame_from_table, table_from_frame

    if isinstance(node, plan.Scan):
        schema = node.source.arrow_schema()
        fields = [schema.field(name).with_name(alias) for name, alias in zip(node.source_columns, node.columns)]
        return pa.schema(fields)

    backend = PandasBackend(dialect)
    frames = [frame_from_table(schema.empty_table()) for schema in inputs]
    try:
        result = backend.handler(node)(backend, node, frames)
        return table_from_frame(result).schema
    except (GsqlError, pa.ArrowException, ValueError, TypeError, KeyError, IndexError) as error:
        logger.debug("no schema for %s: %s", type(node).__name__, error)
        return None


def infer_schemas(root: plan.Node, dialect: str) -> dict[int, pa.Schema | None]:
    """Return the output schema of every node of a plan, keyed by `id(node)`."""
    schemas: dict[int, pa.Schema | None] = {}

    def visit(node: plan.Node) -> pa.Schema | None:
        if id(node) in schemas:
            return schemas[id(node)]
        inputs = [visit(child) for child in node.inputs]
        if any(schema is None for schema in inputs):
            schemas[id(node)] = None
        else:
            schemas[id(node)] = output_schema(node, inputs, dialect)  # type: ignore[arg-type]
        return schemas[id(node)]

    visit(root)
    return schemas


class TypeOracle:
    """The Arrow type of any expression over a frame with a given logical schema.

    Types come from the Arrow kernels evaluated over zero rows, so they are exactly the types
    that the pandas engine computes. A subexpression without column references is a constant:
    `constant` returns its value.
    """

    def __init__(self, schema: pa.Schema, dialect: str) -> None:
        self.schema = schema
        self.dialect = dialect
        self._types: dict[int, pa.DataType | None] = {}
        self._empty = Evaluator(self._empty_column, 0, dialect)

    def _empty_column(self, name: str) -> pa.ChunkedArray:
        return pa.chunked_array([], self.schema.field(name).type)

    def type_of(self, expression: exp.Expression) -> pa.DataType | None:
        """Return the Arrow type of `expression`, or None when the Arrow kernels reject it."""
        key = id(expression)
        if key not in self._types:
            try:
                self._types[key] = self._empty.evaluate(expression).type
            except (GsqlError, pa.ArrowException, ValueError, TypeError, KeyError) as error:
                logger.debug("no type for %s: %s", expression.sql()[:80], error)
                self._types[key] = None
        return self._types[key]

    def constant(self, expression: exp.Expression) -> pa.Scalar | None:
        """Return the value of a column-free expression, or None when it is not constant."""
        if not is_constant(expression):
            return None
        try:
            value = Evaluator(self._empty_column, 1, self.dialect).evaluate(expression)
        except (GsqlError, pa.ArrowException, ValueError, TypeError) as error:
            logger.debug("cannot fold %s: %s", expression.sql()[:80], error)
            return None
        return value if isinstance(value, pa.Scalar) else None


def is_constant(expression: exp.Expression) -> bool:
    """Return whether `expression` reads no column, so it evaluates once, on the host."""
    return expression.find(exp.Column) is None


def device_storage_problem(arrow_type: pa.DataType) -> str | None:
    """Return why a column of `arrow_type` cannot live in a cuDF frame, or None when it can.

    Time-zone-aware timestamps are stored as UTC values without a zone, and the logical schema
    keeps the zone. NULL-typed columns are stored as all-NULL strings.
    """
    supported = (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type) and not pa.types.is_float16(arrow_type)
        or pa.types.is_boolean(arrow_type)
        or pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_date32(arrow_type)
        or pa.types.is_timestamp(arrow_type)
        or pa.types.is_null(arrow_type)
        or isinstance(arrow_type, pa.Decimal128Type)
    )
    if supported:
        return None
    return f"cuDF columns of type `{arrow_type}` are not supported by gsql's cudf engine"


def storage_type(arrow_type: pa.DataType) -> pa.DataType:
    """Return the Arrow type that a column of `arrow_type` has when it is copied to the GPU."""
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None:
        return pa.timestamp(arrow_type.unit)
    if pa.types.is_string(arrow_type):
        return pa.large_string()
    return arrow_type


def restore(array: pa.ChunkedArray | pa.Array, logical: pa.DataType) -> Any:
    """Cast an array that came back from the GPU to its logical type."""
    if pa.types.is_null(logical):
        return pa.nulls(len(array), pa.null())
    if array.type == logical:
        return array
    if pa.types.is_timestamp(logical) and logical.tz is not None:
        # A zone-less timestamp casts to a zoned one as UTC, which is how it was stored.
        return array.cast(pa.timestamp(logical.unit)).cast(logical)
    return array.cast(logical)
