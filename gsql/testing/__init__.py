"""Test helpers for gsql: runners for SQL test suites written by other projects, and checks
that engines return equal results.

- `assert_results_equal` compares two results under SQL rules (from `gsql.compare`).
- `compare_engines` runs one query on several engines, such as `pandas`, `dask` and `duckdb`,
  and compares each result with the first engine's. `assert_engines_agree` raises
  AssertionError with the report when they differ.
- `gsql.testing.pytest_plugin` gives tests a `gsql_engine` fixture, parametrised by the
  `--gsql-engines` option.

The names load on first use, so that importing the pytest plugin does not import pandas.

>>> from gsql.testing import assert_engines_agree
>>> assert_engines_agree({"t": "t.parquet"}, "SELECT COUNT(*) FROM t",
...                      engines=["pandas", "duckdb"])  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gsql.compare import assert_results_equal
    from gsql.testing.engine_comparison import (
        EngineComparison,
        assert_engines_agree,
        compare_engines,
        compare_queries,
    )
    from gsql.testing.engines import EngineRun, unavailable_reason

__all__ = [
    "EngineComparison",
    "EngineRun",
    "assert_engines_agree",
    "assert_results_equal",
    "compare_engines",
    "compare_queries",
    "unavailable_reason",
]

_MODULES = {
    "assert_results_equal": "gsql.compare",
    "EngineComparison": "gsql.testing.engine_comparison",
    "assert_engines_agree": "gsql.testing.engine_comparison",
    "compare_engines": "gsql.testing.engine_comparison",
    "compare_queries": "gsql.testing.engine_comparison",
    "EngineRun": "gsql.testing.engines",
    "unavailable_reason": "gsql.testing.engines",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module `gsql.testing` has no attribute `{name}`")

    import importlib

    return getattr(importlib.import_module(module), name)
