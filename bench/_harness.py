"""Timing helpers shared by the benchmark scripts: best-of-N wall time and a ratio table."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any


def best_time(run: Callable[[], Any], repeat: int) -> float:
    """Return the fastest of `repeat` runs of `run`, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def geometric_mean(values: list[float]) -> float:
    values = [v for v in values if v > 0]
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else float("nan")


def print_table(rows: list[dict[str, Any]], engines: list[str]) -> None:
    """Print per-query seconds for each engine and gsql's ratio against each other engine."""
    others = [e for e in engines if e != "gsql"]
    header = ["query"] + [f"{e} s" for e in engines] + [f"gsql/{e}" for e in others]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    ratios: dict[str, list[float]] = {e: [] for e in others}
    for row in rows:
        cells = [row["query"]]
        for engine in engines:
            value = row.get(engine)
            cells.append(f"{value:.4f}" if isinstance(value, float) else str(value or "error"))
        for engine in others:
            if isinstance(row.get("gsql"), float) and isinstance(row.get(engine), float):
                ratio = row["gsql"] / row[engine]
                ratios[engine].append(ratio)
                cells.append(f"{ratio:.2f}")
            else:
                cells.append("-")
        print(" | ".join(cells))
    for engine in others:
        print(
            f"geometric mean of gsql/{engine}: {geometric_mean(ratios[engine]):.2f} "
            f"over {len(ratios[engine])} queries"
        )
