"""GPU detection and engine choice, without importing cuDF.

`detect_gpus` queries the NVIDIA driver through NVML (the `pynvml` module of the
`nvidia-ml-py` package), which returns in milliseconds, where importing cuDF takes seconds and
initialises CUDA. `choose_engine` turns an engine request (`auto`, `pandas`, `cudf`, `dask`, `dask-cuda`)
into the engine to run and the reason for it, and raises `EngineUnavailableError` naming the pip
extra when a library is missing.

NVML lists every GPU of the machine and ignores `CUDA_VISIBLE_DEVICES`, so this module applies
that variable itself, as the CUDA runtime does: an empty value or `-1` hides every GPU, and a
list of indices or `GPU-` UUID prefixes keeps those devices, up to the first entry that names
no device.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from gsql.errors import EngineUnavailableError

__all__ = [
    "ENGINE_NAMES",
    "GpuDetection",
    "GpuInfo",
    "choose_engine",
    "cuda_extra",
    "cudf_importable",
    "detect_gpus",
    "inspect_gpus",
    "install_command",
]

logger = logging.getLogger(__name__)

ENGINE_NAMES = ("auto", "pandas", "cudf", "dask", "dask-cuda")
"""Every engine name that `choose_engine` accepts."""

VISIBLE_DEVICES_VARIABLE = "CUDA_VISIBLE_DEVICES"

# The RAPIDS release of the `cu12` and `cu13` extras supports CUDA 12 and 13 drivers only.
_SUPPORTED_CUDA_MAJORS = (12, 13)


@dataclass(frozen=True)
class GpuInfo:
    """One NVIDIA GPU as NVML reports it.

    Attributes:
        index: the NVML device index, which is the CUDA index when `CUDA_VISIBLE_DEVICES`
            is unset.
        name: the product name, such as `NVIDIA H100 80GB HBM3`.
        uuid: the device UUID (`GPU-...`), or an empty string when NVML did not return one.
        memory_total: device memory in bytes.
        memory_free: free device memory in bytes at detection time.
        driver_version: the driver version, such as `580.65.06`.
        cuda_driver_version: the newest CUDA version that the driver supports, such as `13.0`.
    """

    index: int
    name: str
    uuid: str
    memory_total: int
    memory_free: int
    driver_version: str
    cuda_driver_version: str

    @property
    def memory_gib(self) -> float:
        return self.memory_total / 2**30


@dataclass
class GpuDetection:
    """The result of asking NVML for GPUs.

    Attributes:
        gpus: the visible GPUs; empty when none is visible.
        reason: why `gpus` is empty, or a summary such as `1 GPU visible`.
        driver_version: the driver version, or None when NVML did not start.
        cuda_driver_version: the newest CUDA version the driver supports (`13.0`), or None.
        hidden: NVML devices that `CUDA_VISIBLE_DEVICES` hides.
    """

    gpus: list[GpuInfo] = field(default_factory=list)
    reason: str = ""
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    hidden: int = 0

    @property
    def cuda_major(self) -> int | None:
        if not self.cuda_driver_version:
            return None
        return int(self.cuda_driver_version.split(".")[0])


def detect_gpus() -> list[GpuInfo]:
    """Return the GPUs that CUDA programs of this process would see; empty when none.

    `inspect_gpus` returns the same list together with the reason when it is empty.
    """
    return inspect_gpus().gpus


def inspect_gpus() -> GpuDetection:
    """Ask NVML for the GPUs, the driver version and the CUDA version the driver supports.

    Never raises: a missing `nvidia-ml-py`, a missing driver or an NVML error gives an empty
    list with the reason.
    """
    visible = os.environ.get(VISIBLE_DEVICES_VARIABLE)
    if visible is not None and visible.strip() in ("", "-1"):
        return GpuDetection(reason=f"{VISIBLE_DEVICES_VARIABLE} is set to {visible!r}, which hides every GPU")

    try:
        pynvml = importlib.import_module("pynvml")
    except Exception as error:  # ImportError, or a broken install of the module
        return GpuDetection(
            reason=f"NVML is not available: the `nvidia-ml-py` package is not installed ({error})"
        )

    try:
        pynvml.nvmlInit()
    except Exception as error:  # pynvml raises NVMLError subclasses, and OSError for a missing libnvidia-ml
        return GpuDetection(reason=f"NVML did not start, so no NVIDIA driver is usable: {_error_text(error)}")
    try:
        return _query_nvml(pynvml, visible)
    except Exception as error:
        return GpuDetection(reason=f"NVML failed: {_error_text(error)}")
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # shutting down after a failed query is best effort
            pass


def _query_nvml(pynvml: Any, visible: str | None) -> GpuDetection:
    driver = _text(pynvml.nvmlSystemGetDriverVersion())
    cuda = _cuda_version_text(pynvml.nvmlSystemGetCudaDriverVersion())
    devices = []
    for index in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        try:
            uuid = _text(pynvml.nvmlDeviceGetUUID(handle))
        except Exception:  # some virtual GPUs have no UUID; the index still identifies them
            uuid = ""
        devices.append(
            GpuInfo(
                index=index,
                name=_text(pynvml.nvmlDeviceGetName(handle)),
                uuid=uuid,
                memory_total=int(memory.total),
                memory_free=int(memory.free),
                driver_version=driver,
                cuda_driver_version=cuda,
            )
        )

    shown = _apply_visible_devices(devices, visible)
    hidden = len(devices) - len(shown)
    if not devices:
        reason = f"the NVIDIA driver {driver} reports no GPU"
    elif not shown:
        reason = f"{VISIBLE_DEVICES_VARIABLE}={visible!r} matches none of the {len(devices)} GPU(s)"
    else:
        reason = f"{len(shown)} GPU(s) visible"
    return GpuDetection(shown, reason, driver, cuda, hidden)


def _apply_visible_devices(devices: list[GpuInfo], visible: str | None) -> list[GpuInfo]:
    """Keep the devices that `CUDA_VISIBLE_DEVICES` lists, in its order, as CUDA does.

    CUDA stops reading the list at the first entry that names no device. `MIG-` entries name
    a slice of a GPU, which NVML's device list does not show, so they keep their parent
    devices unknown and end the list too.
    """
    if visible is None:
        return devices
    chosen: list[GpuInfo] = []
    for entry in (part.strip() for part in visible.split(",")):
        match = None
        if entry.isdigit():
            match = next((device for device in devices if device.index == int(entry)), None)
        elif entry.startswith("GPU-"):
            match = next((device for device in devices if device.uuid and device.uuid.startswith(entry)), None)
        if match is None or match in chosen:
            break
        chosen.append(match)
    return chosen


def _text(value: Any) -> str:
    # nvidia-ml-py before 11.515 returned bytes for names and versions.
    return value.decode() if isinstance(value, bytes) else str(value)


def _cuda_version_text(version: int) -> str:
    # NVML encodes CUDA 12.4 as 12040.
    return f"{version // 1000}.{(version % 1000) // 10}"


def _error_text(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# Libraries --------------------------------------------------------------------------------------


def cudf_importable() -> tuple[bool, str]:
    """Import cuDF and return whether it worked, with its version or the error text.

    Importing cuDF takes seconds and loads the CUDA libraries, so callers ask `detect_gpus`
    first and call this only when a GPU is visible.
    """
    return _importable("cudf")


def _importable(module: str) -> tuple[bool, str]:
    try:
        imported = importlib.import_module(module)
    except Exception as error:  # a broken CUDA install raises RuntimeError or OSError, not ImportError
        return False, _error_text(error)
    return True, f"{module} {getattr(imported, '__version__', 'of unknown version')}"


def _installed(*modules: str) -> list[str]:
    """Return the modules of `modules` that are not installed, without importing them."""
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing


def cuda_extra(cuda_major: int | None) -> str:
    """Return the pip extra for a driver's CUDA major version: `cu13`, `cu12`, or `cu13` when unknown."""
    if cuda_major is not None and cuda_major == 12:
        return "cu12"
    return "cu13"


def install_command(extra: str) -> str:
    """Return the pip command line that installs gsql with `extra`."""
    return f"pip install 'gsql[{extra}]'"


def _gpu_extra_advice(detection: GpuDetection) -> str:
    major = detection.cuda_major
    if major is None:
        return (
            f"`{install_command('cu13')}` for a CUDA 13 driver or "
            f"`{install_command('cu12')}` for a CUDA 12 driver"
        )
    if major < min(_SUPPORTED_CUDA_MAJORS):
        return (
            f"a driver for CUDA 12 or newer (this driver supports CUDA {detection.cuda_driver_version}), "
            f"then `{install_command('cu12')}`"
        )
    return f"`{install_command(cuda_extra(major))}`"


# Engine choice ----------------------------------------------------------------------------------


def choose_engine(requested: str) -> tuple[str, str]:
    """Return the engine to run for `requested`, and the reason, in words.

    `auto` picks `cudf` when a GPU is visible and cuDF imports, else `pandas`. An explicit name
    is checked: its libraries must be installed and, for `cudf` and `dask-cuda`, a GPU visible.

    Raises:
        EngineUnavailableError: the name is unknown, or the engine's GPU or libraries are
            missing. The message names the pip extra to install.

    >>> choose_engine("pandas")
    ('pandas', 'requested')
    """
    name = requested.strip().lower()
    if name not in ENGINE_NAMES:
        raise EngineUnavailableError(
            f"unknown engine `{requested}`; choose one of: {', '.join(ENGINE_NAMES)}"
        )
    if name == "pandas":
        return "pandas", "requested"
    if name == "auto":
        return _choose_automatically()
    if name == "dask":
        return "dask", _check_dask()
    if name == "cudf":
        return "cudf", _check_cudf()
    return "dask-cuda", _check_dask_cuda()


def _choose_automatically() -> tuple[str, str]:
    detection = inspect_gpus()
    if not detection.gpus:
        reason = f"auto: pandas, because no GPU is visible ({detection.reason})"
        logger.info("engine %s", reason)
        return "pandas", reason
    imported, text = cudf_importable()
    names = ", ".join(gpu.name for gpu in detection.gpus)
    if imported:
        reason = f"auto: cudf, because {len(detection.gpus)} GPU(s) are visible ({names}) and {text} imports"
        logger.info("engine %s", reason)
        return "cudf", reason
    reason = (
        f"auto: pandas, because a GPU is visible ({names}) but cuDF does not import ({text}); "
        f"install it with {_gpu_extra_advice(detection)}"
    )
    logger.warning("engine %s", reason)
    return "pandas", reason


def _check_dask() -> str:
    # Top-level names only: finding `dask.dataframe` would import dask itself.
    missing = _installed("dask", "distributed")
    if missing:
        raise EngineUnavailableError(
            f"the dask engine needs {', '.join(f'`{m}`' for m in missing)}, which is not installed; "
            f"install it with `{install_command('dask')}`"
        )
    return "requested"


def _require_gpu(engine: str) -> GpuDetection:
    detection = inspect_gpus()
    if not detection.gpus:
        raise EngineUnavailableError(
            f"the {engine} engine needs an NVIDIA GPU, and none is visible: {detection.reason}. "
            f"On a machine with one, install the GPU libraries with {_gpu_extra_advice(detection)}; "
            "run `gsql doctor` for details, or use the pandas engine (`--engine pandas`, "
            "`engine=\"pandas\"` in Python)"
        )
    return detection


def _check_cudf() -> str:
    detection = _require_gpu("cudf")
    imported, text = cudf_importable()
    if not imported:
        raise EngineUnavailableError(
            f"the cudf engine needs cuDF, which failed to import ({text}); "
            f"install it with {_gpu_extra_advice(detection)}"
        )
    return f"requested; {text} on {detection.gpus[0].name}"


def _check_dask_cuda() -> str:
    detection = _require_gpu("dask-cuda")
    missing = _installed("dask", "distributed", "dask_cudf", "dask_cuda", "cudf")
    if missing:
        raise EngineUnavailableError(
            f"the dask-cuda engine needs {', '.join(f'`{m}`' for m in missing)}, which is not "
            f"installed; install it with {_gpu_extra_advice(detection)}"
        )
    return f"requested; {len(detection.gpus)} GPU(s) visible"
