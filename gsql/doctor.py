"""`gsql doctor`: what this machine can run, and the pip command that fixes what is missing.

Versions come from the installed package metadata, so nothing heavy is imported to read them.
cuDF, dask-cuda and rmm are imported only when a GPU is visible: without one they could not
run anyway, and importing cuDF takes seconds.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import platform
from dataclasses import dataclass, field

from gsql import __version__
from gsql.engine.gpu import GpuDetection, choose_engine, cuda_extra, inspect_gpus, install_command
from gsql.errors import EngineUnavailableError

__all__ = ["DoctorReport", "format_doctor", "run_doctor"]

# The import name of each library and the distributions that may provide it, in the order tried:
# pip wheels of RAPIDS carry a CUDA suffix, conda packages do not.
_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "sqlglot": ("sqlglot",),
    "pyarrow": ("pyarrow",),
    "pandas": ("pandas",),
    "dask": ("dask",),
    "distributed": ("distributed",),
    "duckdb": ("duckdb",),
    "pynvml": ("nvidia-ml-py",),
    "cudf": ("cudf-cu13", "cudf-cu12", "cudf"),
    "dask_cudf": ("dask-cudf-cu13", "dask-cudf-cu12", "dask-cudf"),
    "dask_cuda": ("dask-cuda",),
    "rmm": ("rmm-cu13", "rmm-cu12", "rmm"),
}

_GPU_MODULES = ("cudf", "dask_cuda", "rmm")

# cuDF 26.10 requires pandas >=3.0,<3.1 (its wheel's Requires-Dist), narrower than gsql's own range.
_CUDF_PANDAS_BELOW = (3, 1)


@dataclass
class DoctorReport:
    """What `run_doctor` found.

    Attributes:
        python: the Python version.
        gsql: the gsql version.
        packages: import name -> (distribution, version), or None when it is not installed.
        detection: the GPUs, driver and CUDA version that NVML reported, or why there are none.
        imports: import name -> outcome of importing it on this machine, such as `ok (cudf
            26.10.02)`, `failed: ...` or `not tried: no GPU`.
        engine: the engine that `auto` picks, and why.
        fixes: pip command lines, each with what it fixes.
    """

    python: str
    gsql: str
    packages: dict[str, tuple[str, str] | None]
    detection: GpuDetection
    imports: dict[str, str]
    engine: tuple[str, str]
    fixes: list[str] = field(default_factory=list)


def run_doctor() -> DoctorReport:
    """Inspect this machine: versions, GPUs, GPU library imports, and the fixes to apply."""
    packages = {module: _installed_version(names) for module, names in _DISTRIBUTIONS.items()}
    detection = inspect_gpus()
    if detection.gpus:
        imports = {module: _try_import(module) for module in _GPU_MODULES}
    else:
        imports = {module: "not tried: no GPU" for module in _GPU_MODULES}
    try:
        engine = choose_engine("auto")
    except EngineUnavailableError as error:  # auto never raises today; kept for safety
        engine = ("pandas", str(error))
    report = DoctorReport(
        python=platform.python_version(),
        gsql=__version__,
        packages=packages,
        detection=detection,
        imports=imports,
        engine=engine,
    )
    report.fixes = _fixes(report)
    return report


def _installed_version(distributions: tuple[str, ...]) -> tuple[str, str] | None:
    for name in distributions:
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _try_import(module: str) -> str:
    try:
        imported = importlib.import_module(module)
    except Exception as error:  # a broken CUDA install raises RuntimeError or OSError
        return f"failed: {type(error).__name__}: {error}"
    return f"ok ({module} {getattr(imported, '__version__', '')})".replace(" )", ")")


def _fixes(report: DoctorReport) -> list[str]:
    fixes = []
    detection = report.detection
    gpu_missing = [module for module in ("cudf", "dask_cudf", "dask_cuda", "rmm") if report.packages[module] is None]
    if detection.gpus:
        major = detection.cuda_major
        if major is not None and major < 12:
            fixes.append(
                f"update the NVIDIA driver: it supports CUDA {detection.cuda_driver_version}, "
                "and the RAPIDS 26.10 wheels need CUDA 12 or 13"
            )
        failed = [module for module, outcome in report.imports.items() if outcome.startswith("failed")]
        if gpu_missing or failed:
            extra = cuda_extra(major)
            fixes.append(
                f"{install_command(extra)}   # cuDF, dask-cudf, dask-cuda and rmm for this "
                f"CUDA {detection.cuda_driver_version or '13'} driver"
            )
        pandas = report.packages["pandas"]
        if pandas is not None and _version_tuple(pandas[1]) >= _CUDF_PANDAS_BELOW:
            fixes.append(
                f"note: cuDF 26.10 needs pandas <3.1, so installing it replaces pandas {pandas[1]} "
                "with a 3.0 release"
            )
    else:
        fixes.append(
            "note: no GPU is visible, so the pandas engine runs; on a machine with an NVIDIA GPU, "
            f"`{install_command('cu13')}` (`cu12` for a CUDA 12 driver) adds the cudf engine"
        )
    if report.packages["dask"] is None or report.packages["distributed"] is None:
        fixes.append(f"{install_command('dask')}   # the dask engine, for several CPU cores or machines")
    return fixes


def _version_tuple(text: str) -> tuple[int, ...]:
    numbers = []
    for part in text.split(".")[:2]:
        digits = "".join(character for character in part if character.isdigit())
        numbers.append(int(digits or 0))
    return tuple(numbers)


def format_doctor(report: DoctorReport) -> str:
    """Render a report as plain text: one section for versions, GPUs, imports, engine and fixes."""
    lines = [f"gsql {report.gsql} on Python {report.python}", "", "packages:"]
    for module, found in report.packages.items():
        text = "not installed" if found is None else f"{found[1]} ({found[0]})"
        lines.append(f"  {module:<12} {text}")

    detection = report.detection
    lines += ["", "GPUs:"]
    if detection.driver_version:
        lines.append(
            f"  NVIDIA driver {detection.driver_version}, supports CUDA {detection.cuda_driver_version}"
        )
    if detection.gpus:
        for gpu in detection.gpus:
            lines.append(f"  [{gpu.index}] {gpu.name}, {gpu.memory_gib:.1f} GiB")
    else:
        lines.append(f"  none: {detection.reason}")
    if detection.hidden:
        lines.append(f"  {detection.hidden} more hidden by CUDA_VISIBLE_DEVICES")

    lines += ["", "GPU libraries:"]
    for module, outcome in report.imports.items():
        lines.append(f"  {module:<12} {outcome}")

    engine, reason = report.engine
    lines += ["", f"engine auto: {engine} ({reason})", ""]
    if report.fixes:
        lines.append("to fix:")
        lines += [f"  {fix}" for fix in report.fixes]
    else:
        lines.append("nothing to fix")
    return "\n".join(lines)
