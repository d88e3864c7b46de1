"""gsql: SQL over CSV and Parquet files and DataFrames, on the CPU with pandas or on GPUs.

`Context` is the entry point; the package imports its heavy dependencies only on first use, so
`import gsql` stays fast and never imports cuDF, dask or rmm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gsql.errors import (
    BindError,
    CatalogError,
    DataError,
    EngineUnavailableError,
    ExecutionError,
    GsqlError,
    SqlSyntaxError,
    UnsupportedError,
)

if TYPE_CHECKING:
    from gsql.context import Context, Result

__version__ = "0.1.0"

__all__ = [
    "BindError",
    "CatalogError",
    "Context",
    "DataError",
    "EngineUnavailableError",
    "ExecutionError",
    "GsqlError",
    "Result",
    "SqlSyntaxError",
    "UnsupportedError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in ("Context", "Result"):
        from gsql import context

        return getattr(context, name)
    raise AttributeError(f"module `gsql` has no attribute `{name}`")
