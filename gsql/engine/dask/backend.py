"""`DaskBackend`: the handler table of the dask engine, and computing its collections."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import dask
import dask.dataframe as dd
import pandas as pd
import pyarrow as pa

from gsql.engine.backend import Backend, Handler
from gsql.engine.dask import aggregate, join, order, partitionwise, scan, sets, window
from gsql.engine.pandas_backend import PandasBackend
from gsql.errors import ExecutionError, GsqlError, UnsupportedError
from gsql.sql import plan

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["DEFAULT_PARTITIONS", "DaskBackend"]

DEFAULT_PARTITIONS = 2
"""The number of partitions that a scan produces at least, unless the table has fewer rows."""

# Dask's defaults that gsql turns off while it builds and computes collections. Dask would
# convert Arrow `large_string` columns to pandas' `StringDtype`, which the Arrow kernels do not
# expect, and would pick the `p2p` shuffle under a distributed client (see SHUFFLE_METHOD).
_DASK_SETTINGS = {
    "dataframe.convert-string": False,
    "dataframe.shuffle.method": partitionwise.SHUFFLE_METHOD,
}


@contextlib.contextmanager
def dask_settings() -> Iterator[None]:
    """Apply the dask configuration that the dask engine's collections need."""
    with dask.config.set(_DASK_SETTINGS):
        yield


class DaskBackend(Backend):
    """Runs plans on `dask.dataframe` collections whose partitions are pandas frames.

    Partitions hold `pd.ArrowDtype` columns, as the pandas engine's frames do, and every
    per-partition step is a pandas engine handler. The handlers only build the task graph, and
    `to_arrow` computes it: on `client` when one is given, else on dask's default scheduler.
    Per-node timings therefore measure building the graph, not running it.

    Parquet scans read one row group per task. CSV files and in-memory tables are read whole
    on the client, so reading them is not parallel yet. These steps run in one partition: a
    Sort (after a per-partition top-N when a LIMIT follows), a Limit, the combine step of an
    aggregate without GROUP BY keys, a window without a shared PARTITION BY column, and a
    scalar subquery. A join or EXISTS without equality keys sends one side whole to every
    partition of the other, and a FULL join without keys puts both sides in one partition. No
    intermediate result is computed before `to_arrow`.

    Args:
        dialect: the SQL dialect of the query.
        client: the `distributed.Client` to compute on; None uses dask's default scheduler.
        partitions: the number of partitions that each scan produces at least (a table with
            fewer rows gets one partition per row). Parquet files give one partition per row
            group when they have more. None means `DEFAULT_PARTITIONS`.
    """

    name = "dask"
    handlers: ClassVar[dict[type[plan.Node], Handler]] = {
        plan.Scan: scan.scan,
        plan.Values: scan.values,
        plan.Filter: partitionwise.filter_,
        plan.Project: partitionwise.project,
        plan.Aggregate: aggregate.aggregate,
        plan.Join: join.join,
        plan.Sort: order.sort,
        plan.Limit: order.limit,
        plan.Distinct: sets.distinct,
        plan.SetOperation: sets.set_operation,
        plan.MarkJoin: join.mark_join,
        plan.SingleRow: partitionwise.single_row,
        plan.Window: window.window,
        plan.Recursive: scan.recursive,
        plan.WorkingTable: scan.working_table,
    }

    def __init__(
        self, dialect: str, client: Client | None = None, partitions: int | None = None
    ) -> None:
        super().__init__(dialect)
        if partitions is not None and (not isinstance(partitions, int) or partitions < 1):
            raise GsqlError(
                f"invalid partition count {partitions!r}: expected an integer of 1 or more"
            )
        self.client = client
        self.partitions = partitions or DEFAULT_PARTITIONS
        # The input collection of each Sort node by node id, for a Limit above it.
        self.sort_inputs: dict[int, dd.DataFrame] = {}

    def handler(self, node: plan.Node) -> Handler:
        """Return the node's handler, run under the dask settings that gsql needs."""
        handler = super().handler(node)

        @functools.wraps(handler)
        def configured(backend: Any, node: plan.Node, inputs: list[Any]) -> Any:
            try:
                with self.settings():
                    return handler(backend, node, inputs)
            except GsqlError:
                raise
            except NotImplementedError as error:
                raise _unsupported(error, type(node).__name__) from error

        return configured

    def settings(self) -> contextlib.AbstractContextManager[None]:
        """Return the context in which this engine builds and computes its collections."""
        return dask_settings()

    def compute(self, frame: dd.DataFrame) -> pd.DataFrame:
        """Compute a collection into one pandas frame.

        Raises:
            ExecutionError: a task failed with an Arrow, value or type error. Errors that gsql
                raises on purpose, such as an integer overflow, pass through as they are.
            UnsupportedError: dask or pandas cannot handle a column's type.
        """
        try:
            with self.settings():
                if self.client is not None:
                    return self.client.compute(frame, sync=True)
                return frame.compute()
        except GsqlError:
            raise
        except NotImplementedError as error:
            raise _unsupported(error, "the query") from error
        except (
            pa.ArrowException,
            ValueError,
            TypeError,
            KeyError,
            OverflowError,
            ArithmeticError,
        ) as error:
            raise ExecutionError(f"the query failed on the dask engine: {error}") from error

    def to_arrow(self, frame: dd.DataFrame, columns: list[str], names: list[str]) -> pa.Table:
        """Compute the collection and return its `columns` under `names` as an Arrow table."""
        selected = frame[columns] if columns else frame
        computed = self.compute(selected)
        return PandasBackend(self.dialect).to_arrow(computed, columns, names)

    def num_rows(self, frame: dd.DataFrame) -> int:
        """Return -1: the row count of a collection is unknown until the whole query computes.

        Counting here would compute every intermediate collection once more.
        """
        return -1


def _unsupported(error: NotImplementedError, subject: str) -> UnsupportedError:
    # pandas raises NotImplementedError for Arrow types it cannot describe, such as intervals,
    # when dask hashes or inspects such a column.
    return UnsupportedError(
        f"the dask engine cannot run {subject} on these column types ({error}); "
        "cast the column to another type, or run the query on the pandas engine"
    )
