"""The cudf engine: plans on one NVIDIA GPU with cuDF DataFrames, falling back to the host per node.

Importing this package imports no cuDF: `CudfBackend()` imports it and raises
`EngineUnavailableError` naming the pip extra when it is missing. `explain_placement` returns,
without a GPU, where each node of a plan would run and why.

NOTE: no line of this package has run on a GPU yet. Its CPU tests run it against a pandas
stand-in for cuDF, which checks gsql's logic but not cuDF's behaviour.
"""

from __future__ import annotations

from gsql.engine.cudf.backend import CudfBackend, DeviceFrame, Placement
from gsql.engine.cudf.support import (
    EXPRESSION_FALLBACKS,
    NATIVE_EXPRESSIONS,
    NATIVE_NODES,
    NODE_FALLBACKS,
    explain_placement,
)

__all__ = [
    "EXPRESSION_FALLBACKS",
    "NATIVE_EXPRESSIONS",
    "NATIVE_NODES",
    "NODE_FALLBACKS",
    "CudfBackend",
    "DeviceFrame",
    "Placement",
    "explain_placement",
]
