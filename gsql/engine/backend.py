"""The backend interface and the executor that walks a plan on one backend."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from gsql.errors import ExecutionError, GsqlError, UnsupportedError
from gsql.sql import plan

__all__ = ["Backend", "NodeTiming", "execute_plan"]

logger = logging.getLogger(__name__)

Handler = Callable[[Any, Any, list[Any]], Any]


class Backend:
    """An engine's frame operations, looked up by plan node class in `handlers`.

    Subclasses fill `handlers` (node class -> function(backend, node, input_frames) -> frame)
    and implement the conversions between their frame type and Arrow.
    """

    name: ClassVar[str] = "abstract"
    handlers: ClassVar[dict[type[plan.Node], Handler]] = {}

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def handler(self, node: plan.Node) -> Handler:
        handler = self.handlers.get(type(node))
        if handler is None:
            raise UnsupportedError(
                f"plan node `{type(node).__name__}` has no handler on the {self.name} engine"
            )
        return handler

    def to_arrow(self, frame: Any, columns: list[str], names: list[str]) -> pa.Table:
        raise NotImplementedError

    def num_rows(self, frame: Any) -> int:
        return len(frame)


@dataclass
class NodeTiming:
    """Execution record of one plan node: where it ran, how long, and its row count."""

    node: str
    engine: str
    seconds: float
    rows: int


@dataclass
class _Run:
    backend: Backend
    cache: dict[int, Any] = field(default_factory=dict)
    timings: list[NodeTiming] = field(default_factory=list)


def execute_plan(root: plan.Node, backend: Backend) -> tuple[Any, list[NodeTiming]]:
    """Execute a plan bottom-up; a node reached twice (a CTE used twice) runs once."""
    run = _Run(backend)
    frame = _execute(root, run)
    return frame, run.timings


def _execute(node: plan.Node, run: _Run) -> Any:
    cached = run.cache.get(id(node))
    if cached is not None:
        return cached
    inputs = [_execute(child, run) for child in node.inputs]
    handler = run.backend.handler(node)

    started = time.perf_counter()
    try:
        frame = handler(run.backend, node, inputs)
    except ExecutionError as error:
        if getattr(error, "node", None) is None:
            error.node = node.describe()[:200]
            error.args = (
                f"{type(node).__name__} failed on the {run.backend.name} engine: {error} "
                f"(node: {error.node})",
            )
        raise
    except GsqlError:
        raise
    except (pa.ArrowException, ValueError, TypeError, KeyError, OverflowError, ArithmeticError) as error:
        raise ExecutionError(
            f"{type(node).__name__} failed on the {run.backend.name} engine: {error} "
            f"(node: {node.describe()[:200]})"
        ) from error
    elapsed = time.perf_counter() - started

    rows = run.backend.num_rows(frame)
    run.timings.append(NodeTiming(type(node).__name__, run.backend.name, elapsed, rows))
    logger.debug("%s: %d rows in %.4f s", node.describe()[:120], rows, elapsed)
    run.cache[id(node)] = frame
    return frame
