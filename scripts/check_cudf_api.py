"""Check that the cuDF, dask_cudf, dask-cuda, rmm and dask names and keywords gsql calls exist.

Run it with the Python of an environment where the `cu12` or `cu13` extra is installed:

    python scripts/check_cudf_api.py

It needs no GPU: cuDF 26.10 imports without one (checked on 2026-12-04 with cudf-cu13
26.10.02) and fails only at the first device allocation. The script therefore inspects classes
and signatures and creates no GPU object. It
checks names and keyword arguments only, not behaviour. Exit status 0 means every entry of
`CALLS` was found, 1 lists what was not.

`CALLS` is written by hand from gsql/engine/cudf/ and gsql/engine/dask/ (the `cudf`, `.str`,
`.dt`, group-by, merge and dask-cuda calls, and the dask calls, because the RAPIDS release pins
its own dask version); update it when those modules call something new. The script also checks
that dask_cudf registers the `cudf` backend of dask's `dataframe.backend` setting.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from typing import Any

# (owner, attribute, keyword arguments gsql passes). The owner is a dotted path from an
# imported module; `cudf.Series.str` is the class of `Series.str`, and so on (see `_owner`).
CALLS: list[tuple[str, str, tuple[str, ...]]] = [
    # Module functions and constructors.
    ("cudf", "DataFrame", ("index",)),
    ("cudf", "Series", ()),
    ("cudf", "RangeIndex", ()),
    ("cudf", "concat", ("ignore_index",)),
    ("cudf", "read_parquet", ("columns", "row_groups")),
    ("cudf.DataFrame", "from_arrow", ()),
    ("cudf.Series", "from_arrow", ()),
    # DataFrame methods.
    ("cudf.DataFrame", "to_arrow", ("preserve_index",)),
    ("cudf.DataFrame", "reset_index", ("drop",)),
    ("cudf.DataFrame", "groupby", ("dropna", "sort", "as_index")),
    ("cudf.DataFrame", "merge", ("on", "how", "left_on", "right_on")),
    ("cudf.DataFrame", "sort_values", ("by", "ascending", "na_position")),
    ("cudf.DataFrame", "drop_duplicates", ("ignore_index",)),
    ("cudf.DataFrame", "copy", ("deep",)),
    ("cudf.DataFrame", "assign", ()),
    ("cudf.DataFrame", "astype", ()),
    # Series methods.
    ("cudf.Series", "astype", ()),
    ("cudf.Series", "where", ()),
    ("cudf.Series", "isin", ()),
    ("cudf.Series", "fillna", ()),
    ("cudf.Series", "isna", ()),
    ("cudf.Series", "notna", ()),
    ("cudf.Series", "abs", ()),
    ("cudf.Series", "any", ()),
    ("cudf.Series", "sum", ()),
    ("cudf.Series", "max", ()),
    ("cudf.Series", "round", ("decimals", "how")),
    ("cudf.Series", "reset_index", ("drop",)),
    ("cudf.Series", "to_arrow", ()),
    # Group-by: aggregations by name, and the row number within a group.
    ("cudf.core.groupby.groupby.GroupBy", "agg", ()),
    ("cudf.core.groupby.groupby.GroupBy", "cumcount", ()),
    ("cudf.core.groupby.groupby.GroupBy", "count", ()),
    ("cudf.core.groupby.groupby.GroupBy", "nunique", ()),
    ("cudf.core.groupby.groupby.GroupBy", "sum", ()),
    ("cudf.core.groupby.groupby.GroupBy", "mean", ()),
    ("cudf.core.groupby.groupby.GroupBy", "var", ()),
    ("cudf.core.groupby.groupby.GroupBy", "min", ()),
    ("cudf.core.groupby.groupby.GroupBy", "max", ()),
    # String methods (`Series.str`).
    ("cudf.Series.str", "like", ("esc",)),
    ("cudf.Series.str", "lower", ()),
    ("cudf.Series.str", "upper", ()),
    ("cudf.Series.str", "len", ()),
    ("cudf.Series.str", "slice", ()),
    ("cudf.Series.str", "strip", ()),
    ("cudf.Series.str", "lstrip", ()),
    ("cudf.Series.str", "rstrip", ()),
    ("cudf.Series.str", "replace", ("regex",)),
    ("cudf.Series.str", "contains", ("regex",)),
    ("cudf.Series.str", "startswith", ()),
    ("cudf.Series.str", "endswith", ()),
    # Date parts (`Series.dt`).
    ("cudf.Series.dt", "year", ()),
    ("cudf.Series.dt", "month", ()),
    ("cudf.Series.dt", "day", ()),
    ("cudf.Series.dt", "hour", ()),
    ("cudf.Series.dt", "minute", ()),
    ("cudf.Series.dt", "second", ()),
    ("cudf.Series.dt", "quarter", ()),
    ("cudf.Series.dt", "dayofyear", ()),
    ("cudf.Series.dt", "dayofweek", ()),
    # dask_cudf registers dask's dispatch functions for cuDF objects when imported, and its
    # DataFrame is the collection class of collections with cuDF partitions.
    ("dask_cudf", "DataFrame", ()),
    ("dask_cudf.DataFrame", "map_partitions", ("meta", "align_dataframes", "clear_divisions")),
    ("dask_cudf.DataFrame", "shuffle", ("on", "npartitions", "shuffle_method", "ignore_index")),
    ("dask_cudf.DataFrame", "drop_duplicates", ("split_out", "shuffle_method", "ignore_index")),
    ("dask_cudf.DataFrame", "repartition", ("npartitions",)),
    # dask-cuda's local cluster with the options gsql passes.
    (
        "dask_cuda",
        "LocalCUDACluster",
        ("host", "dashboard_address", "worker_dashboard_address", "rmm_pool_size", "device_memory_limit"),
    ),
    # rmm, which dask-cuda uses for the pool; gsql reports its version in `gsql doctor`.
    ("rmm", "__version__", ()),
    # dask and distributed as the RAPIDS release pins them.
    ("dask.dataframe", "from_map", ("meta", "enforce_metadata")),
    ("dask.dataframe", "from_pandas", ("npartitions", "sort")),
    ("dask.dataframe", "from_delayed", ("meta", "verify_meta")),
    ("dask.dataframe", "concat", ()),
    ("dask.dataframe.DataFrame", "map_partitions", ("meta", "align_dataframes", "clear_divisions")),
    (
        "dask.dataframe.DataFrame",
        "shuffle",
        ("on", "npartitions", "shuffle_method", "ignore_index"),
    ),
    (
        "dask.dataframe.DataFrame",
        "drop_duplicates",
        ("split_out", "shuffle_method", "ignore_index"),
    ),
    ("dask.dataframe.DataFrame", "repartition", ("npartitions",)),
    ("dask.dataframe.DataFrame", "clear_divisions", ()),
    ("distributed", "Client", ("set_as_default",)),
    ("distributed.Client", "scatter", ("hash",)),
    ("distributed.Client", "compute", ("sync",)),
]

# Keywords that a LocalCUDACluster passes on to distributed.LocalCluster through **kwargs.
_FORWARDED = {("dask_cuda", "LocalCUDACluster"): "distributed.LocalCluster"}


def _owner(path: str) -> Any:
    """Import the module of `path` and walk to the object, using accessor classes for .str and .dt."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            value: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            value = _accessor(value, name)
        return value
    raise ImportError(f"cannot import any module of `{path}`")


def _accessor(owner: Any, name: str) -> Any:
    if name == "str" and owner.__name__ == "Series":
        from cudf.core.accessors.string import StringMethods

        return StringMethods
    if name == "dt" and owner.__name__ == "Series":
        from cudf.core.series import DatetimeProperties

        return DatetimeProperties
    return getattr(owner, name)


def _keywords(function: Callable[..., Any]) -> tuple[set[str], bool]:
    """Return the keyword names of `function` and whether it takes **kwargs."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return set(), True  # a builtin without a signature: nothing to check
    names = {
        name
        for name, parameter in signature.parameters.items()
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    }
    variadic = any(
        parameter.kind == parameter.VAR_KEYWORD for parameter in signature.parameters.values()
    )
    return names, variadic


def check(owner_path: str, attribute: str, keywords: tuple[str, ...]) -> str | None:
    """Return what is missing for one entry of `CALLS`, or None when everything is there."""
    try:
        owner = _owner(owner_path)
    except (ImportError, AttributeError) as error:
        return f"{owner_path}: not found ({error})"
    if not hasattr(owner, attribute):
        return f"{owner_path}.{attribute}: not found"
    if not keywords:
        return None
    target = getattr(owner, attribute)
    function = target.__init__ if inspect.isclass(target) else target
    names, variadic = _keywords(function)
    missing = [keyword for keyword in keywords if keyword not in names]
    forwarded = _FORWARDED.get((owner_path, attribute))
    if missing and forwarded:
        base_names, _ = _keywords(_owner(forwarded).__init__)
        missing = [keyword for keyword in missing if keyword not in base_names]
    if missing and not variadic:
        return f"{owner_path}.{attribute}: no keyword {', '.join(missing)}"
    if missing:
        return f"{owner_path}.{attribute}: keyword {', '.join(missing)} only through **kwargs"
    return None


def check_backend_entry_point() -> str | None:
    """Return a problem when no installed package offers dask's `cudf` dataframe backend."""
    from importlib.metadata import entry_points

    names = {entry.name: entry.value for entry in entry_points(group="dask.dataframe.backends")}
    if "cudf" not in names:
        return f"no `cudf` entry point in group dask.dataframe.backends (found {sorted(names)})"
    return None


def main() -> int:
    versions = []
    for module in ("cudf", "dask_cudf", "dask_cuda", "rmm", "dask", "distributed"):
        try:
            versions.append(f"{module} {importlib.import_module(module).__version__}")
        except Exception as error:  # noqa: BLE001  (a broken CUDA install raises RuntimeError)
            print(f"cannot import {module}: {type(error).__name__}: {error}")
            return 1
    print("checking against", ", ".join(versions))
    problems = [problem for entry in CALLS if (problem := check(*entry)) is not None]
    for problem in problems:
        print("MISSING", problem)
    print(f"{len(CALLS) - len(problems)} of {len(CALLS)} names and keyword sets found")
    backend_problem = check_backend_entry_point()
    if backend_problem:
        print("MISSING", backend_problem)
    else:
        print("dask's `cudf` dataframe backend is registered")
    return 1 if problems or backend_problem else 0


if __name__ == "__main__":
    sys.exit(main())
