"""The OpenCL device chosen by ``config.device``, and what it can do.

Capabilities are checked here so that a missing feature (fp64, fp16) becomes a clear error
naming the device and the fix, never a kernel that builds badly or computes wrong results.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyopencl as cl

from clgraph.config import config

__all__ = [
    "DeviceCapabilityError",
    "DeviceContext",
    "DeviceInfo",
    "DeviceMemoryError",
    "NoDeviceError",
    "get_context",
    "list_devices",
]

INSTALL_FIX = (
    "clgraph needs an OpenCL driver. For the CPU driver run: pip install pocl-binary-distribution"
)


class NoDeviceError(RuntimeError):
    """No OpenCL platform or device at all, or not the one config.device names."""


class DeviceCapabilityError(TypeError):
    """The device cannot compute in the requested dtype (fp64 or fp16 missing)."""


class DeviceMemoryError(MemoryError):
    """A value larger than the device's largest buffer (CL_DEVICE_MAX_MEM_ALLOC_SIZE)."""


DeviceEntry = tuple[int, int, Any, Any]  # (platform index, device index, platform, device)

_VECTOR_ATTR = {
    "bool": "char", "int8": "char", "uint8": "char",
    "int16": "short", "uint16": "short",
    "int32": "int", "uint32": "int",
    "int64": "long", "uint64": "long",
    "float16": "half", "float32": "float", "float64": "double",
}


def _bytes_text(n: int) -> str:
    """A byte count for messages: '4294967296 bytes (4.0 GiB)'."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n} bytes ({n / (1 << shift):.1f} {unit})"
    return f"{n} bytes"


def _safe(getter: Any, default: Any) -> Any:
    """Read a device property that some drivers do not implement."""
    try:
        return getter()
    except (cl.Error, AttributeError, ValueError):
        return default


class DeviceInfo:
    """The capabilities of one OpenCL device, read from the driver (no context needed)."""

    def __init__(self, platform: Any, device: Any, reason: str = ""):
        self.platform = platform
        self.device = device
        self.reason = reason

    @property
    def name(self) -> str:
        return self.device.name.strip()

    @property
    def platform_name(self) -> str:
        return self.platform.name.strip()

    @property
    def type_name(self) -> str:
        """'GPU', 'CPU', 'ACCELERATOR' or the driver's other type name."""
        if self.is_gpu:
            return "GPU"
        if self.is_cpu:
            return "CPU"
        return cl.device_type.to_string(self.device.type)

    @property
    def is_cpu(self) -> bool:
        return bool(self.device.type & cl.device_type.CPU)

    @property
    def is_gpu(self) -> bool:
        return bool(self.device.type & cl.device_type.GPU)

    @functools.cached_property
    def extensions(self) -> frozenset[str]:
        return frozenset(_safe(lambda: self.device.extensions, "").split())

    @functools.cached_property
    def has_fp64(self) -> bool:
        """Double precision: the fp64 config is non-zero or cl_khr_fp64 is advertised."""
        return bool(_safe(lambda: self.device.double_fp_config, 0)) or (
            "cl_khr_fp64" in self.extensions
        )

    @functools.cached_property
    def has_fp16(self) -> bool:
        return "cl_khr_fp16" in self.extensions

    @functools.cached_property
    def host_unified_memory(self) -> bool:
        """Device memory is host memory (CPUs, integrated GPUs): copies are cheap."""
        return bool(_safe(lambda: self.device.host_unified_memory, self.is_cpu))

    @functools.cached_property
    def cache_bytes(self) -> int:
        """The device's global memory cache (a CPU's last-level cache), 0 if not reported."""
        return int(_safe(lambda: self.device.global_mem_cache_size, 0) or 0)

    @functools.cached_property
    def max_alloc_bytes(self) -> int:
        """The largest buffer the device allocates (CL_DEVICE_MAX_MEM_ALLOC_SIZE), 0 if not
        reported."""
        return int(_safe(lambda: self.device.max_mem_alloc_size, 0) or 0)

    @property
    def compute_units(self) -> int:
        return int(self.device.max_compute_units)

    @property
    def max_work_group_size(self) -> int:
        return int(self.device.max_work_group_size)

    @property
    def global_mem_size(self) -> int:
        return int(self.device.global_mem_size)

    @property
    def local_mem_size(self) -> int:
        return int(self.device.local_mem_size)

    @property
    def version(self) -> str:
        return self.device.version.strip()

    @property
    def driver_version(self) -> str:
        return self.device.driver_version.strip()

    def preferred_vector_width(self, dtype: Any) -> int:
        """Vector width to use for dtype: the driver's preference, 1 on GPUs, in {1,2,4,8,16}."""
        if self.is_gpu:  # scalar code coalesces best on GPUs
            return 1
        attr = _VECTOR_ATTR.get(np.dtype(dtype).name)
        if attr is None:
            return 1
        width = int(_safe(lambda: getattr(self.device, f"preferred_vector_width_{attr}"), 1))
        return next((w for w in (16, 8, 4, 2) if width >= w), 1)

    @functools.cached_property
    def identity(self) -> str:
        """Platform and device name/vendor/version and driver version: the binary cache key."""
        p, d = self.platform, self.device
        parts = [p.name, p.vendor, p.version, d.name, d.vendor, d.version, d.driver_version]
        return " | ".join(str(x).strip() for x in parts)

    def check_dtype(self, dtype: Any, what: str) -> None:
        """Raise DeviceCapabilityError when this device cannot compute in dtype."""
        name = np.dtype(dtype).name
        if name == "float64" and not self.has_fp64:
            raise DeviceCapabilityError(
                f"{what} has dtype float64, but the OpenCL device '{self.name}' "
                f"({self.platform_name}) has no double precision (cl_khr_fp64). Use float32 "
                "(cast the input, or set config.floatX='float32', e.g. "
                "CLGRAPH_FLAGS=floatX=float32), or choose a device with fp64 through "
                "config.device (see `python -m clgraph info`)."
            )
        if name == "float16":
            raise DeviceCapabilityError(
                f"{what} has dtype float16, which clgraph does not compute in (device "
                f"'{self.name}', {self.platform_name}: cl_khr_fp16 "
                f"{'present' if self.has_fp16 else 'absent'}). Cast it to float32."
            )

    def check_alloc(self, nbytes: int, what: str) -> None:
        """Raise DeviceMemoryError when `what` (nbytes in one buffer) exceeds the device's
        largest allocation: the driver's own error (INVALID_BUFFER_SIZE) names neither."""
        limit = self.max_alloc_bytes
        if limit and nbytes > limit:
            raise DeviceMemoryError(
                f"{what} needs {_bytes_text(nbytes)} in one buffer, more than the OpenCL "
                f"device '{self.name}' ({self.platform_name}) allocates at once: its "
                f"CL_DEVICE_MAX_MEM_ALLOC_SIZE is {_bytes_text(limit)}. "
                "Pass smaller pieces (e.g. minibatches), or choose a device with a larger "
                "limit through config.device (see `python -m clgraph info`)."
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.type_name} {self.name!r} on {self.platform_name!r}>"


class DeviceContext(DeviceInfo):
    """A chosen device with its context and in-order queue (one per config.device value).

    Two config.device values naming the same device share one OpenCL context and queues, so
    device arrays and built programs stay usable when the flag is switched back and forth.

    `inline_queue`: on PoCL's threaded CPU device, a queue on its sibling 'basic' device in
    the same context (same memory), whose commands run in the enqueuing thread before the
    enqueue returns; the executor sends small launches there (see `inline_sibling`), with
    programs built for that device. None elsewhere.
    """

    def __init__(self, platform: Any, device: Any, reason: str = "",
                 shared: DeviceContext | None = None):
        super().__init__(platform, device, reason)
        if shared is not None:
            self.context, self.queue = shared.context, shared.queue
            self.inline_queue = shared.inline_queue
        else:
            sibling = inline_sibling(platform, device) if config.pocl_inline else None
            self.context = cl.Context([device] if sibling is None else [device, sibling])
            self.queue = cl.CommandQueue(self.context, device)
            self.inline_queue = None if sibling is None else cl.CommandQueue(self.context, sibling)
        # Held by a compiled function's call (compile/function.py): calls on one device run
        # one at a time.
        self.call_lock = threading.RLock()

    @functools.cached_property
    def host_addressable(self) -> bool:
        """Buffers can be made over host memory that kernels then use in place, so host
        work (BLAS) reads and writes them without maps (checked by a probe:
        runtime/host_memory.py)."""
        if not (self.is_cpu and self.host_unified_memory):
            return False
        from clgraph.runtime.host_memory import probe

        return probe(self.context, self.queue)

    @functools.cached_property
    def profiling_queue(self) -> Any:
        """A second queue on the same context with event profiling, made on first use."""
        return cl.CommandQueue(
            self.context, self.device, properties=cl.command_queue_properties.PROFILING_ENABLE
        )


# --- PoCL's in-thread driver -----------------------------------------------------------------

# PoCL's 'basic' CPU driver runs a command in the thread that enqueues it, before the enqueue
# returns: a small launch and a blocking read cost ~4 µs there, against ~50 µs through the
# threaded 'pthread' driver, which must wake its worker threads and wait for them (measured
# on a 2-core EPYC). PoCL offers only 'pthread' unless POCL_DEVICES asks for more, and reads
# it once, when its devices are first enumerated.
_POCL_DRIVERS = "pthread basic"
_POCL = "Portable Computing Language"


def _platforms() -> list:
    """cl.get_platforms(), asking PoCL for its in-thread driver too (config.pocl_inline) when
    the user has not chosen PoCL's drivers: the variable is set only while PoCL reads it."""
    ask = config.pocl_inline and "POCL_DEVICES" not in os.environ
    if ask:
        os.environ["POCL_DEVICES"] = _POCL_DRIVERS
    try:
        platforms = cl.get_platforms()
        if ask:
            for platform in platforms:  # PoCL enumerates its devices on the first request
                with contextlib.suppress(cl.Error, RuntimeError):
                    platform.get_devices()
        return platforms
    finally:
        if ask:
            del os.environ["POCL_DEVICES"]


def _pocl_driver(platform: Any, device: Any) -> tuple[str, str]:
    """('pthread', 'AMD EPYC ...') for PoCL's device names; ('', name) elsewhere."""
    name = device.name.strip()
    driver, _, rest = name.partition("-")
    if _POCL not in platform.name or not rest:
        return "", name
    return driver, rest


def inline_sibling(platform: Any, device: Any) -> Any:
    """The 'basic' device beside PoCL's threaded CPU device `device` (same CPU), or None."""
    driver, rest = _pocl_driver(platform, device)
    if driver != "pthread":
        return None
    try:
        devices = platform.get_devices()
    except (cl.Error, RuntimeError):
        return None
    return next((d for d in devices if _pocl_driver(platform, d) == ("basic", rest)), None)


def _helper_only(platform: Any, device: Any, devices: Sequence[Any]) -> bool:
    """A PoCL 'basic' device that has a 'pthread' sibling: a helper of that device, not a
    choice of its own (it runs kernels on one core)."""
    driver, rest = _pocl_driver(platform, device)
    return driver == "basic" and any(_pocl_driver(platform, d) == ("pthread", rest)
                                     for d in devices)


# --- enumeration and choice ------------------------------------------------------------------


def list_devices() -> list[DeviceEntry]:
    """Every OpenCL device present, as (platform index, device index, platform, device).
    PoCL's in-thread helper devices are left out (and not counted in the indices)."""
    try:
        platforms = _platforms()
    except (cl.Error, RuntimeError) as exc:  # no ICD loader or no driver registered
        raise NoDeviceError(f"No OpenCL platform found ({exc}). {INSTALL_FIX}") from None
    out: list[DeviceEntry] = []
    for pi, platform in enumerate(platforms):
        try:
            devices = platform.get_devices()
        except (cl.Error, RuntimeError):  # a platform with no device reports an error
            devices = []
        shown = [d for d in devices if not _helper_only(platform, d, devices)]
        out.extend((pi, di, platform, device) for di, device in enumerate(shown))
    return out


def describe_entries(entries: Sequence[DeviceEntry]) -> str:
    """One line per device, 'P:D TYPE name (platform)', for error messages."""
    if not entries:
        return "  (none)"
    return "\n".join(
        f"  opencl:{pi}:{di}  {DeviceInfo(p, d).type_name:<4} {d.name.strip()} ({p.name.strip()})"
        for pi, di, p, d in entries
    )


def _rank(entry: DeviceEntry) -> tuple[int, int]:
    """Higher is better: discrete GPU > integrated GPU > accelerator > CPU; then throughput."""
    info = DeviceInfo(entry[2], entry[3])
    if info.is_gpu:
        kind = 3 if not info.host_unified_memory else 2
    elif info.device.type & cl.device_type.ACCELERATOR:
        kind = 1
    else:
        kind = 0
    speed = _safe(lambda: info.compute_units * int(info.device.max_clock_frequency), 0)
    return kind, speed


def choose_device(spec: str, entries: Sequence[DeviceEntry]) -> tuple[DeviceEntry, str]:
    """Pick the entry that the config.device string names; return it and why it was chosen."""
    where = f"config.device={spec!r}"
    if not entries:
        raise NoDeviceError(
            f"{where}: an OpenCL platform is installed but it offers no device. {INSTALL_FIX}"
        )
    present = "OpenCL devices present:\n" + describe_entries(entries)
    if spec.startswith("opencl:"):
        p, d = (int(x) for x in spec.split(":")[1:])
        for entry in entries:
            if entry[0] == p and entry[1] == d:
                return entry, f"{where}: platform {p}, device {d}, as named"
        platforms = {e[0] for e in entries}
        missing = f"there is no platform {p}" if p not in platforms else (
            f"platform {p} has no device {d}"
        )
        raise NoDeviceError(
            f"{where}: {missing}.\n{present}\nSet config.device to one of these "
            f"(e.g. CLGRAPH_FLAGS=device=opencl:{entries[0][0]}:{entries[0][1]}) or to 'opencl'."
        )
    if spec in ("cpu", "gpu"):
        want = cl.device_type.CPU if spec == "cpu" else cl.device_type.GPU
        typed = [e for e in entries if e[3].type & want]
        if not typed:
            raise NoDeviceError(
                f"{where}: no {spec.upper()} OpenCL device found.\n{present}\n"
                "Set config.device='opencl' to take the best device present"
                + (", or for a CPU driver run: pip install pocl-binary-distribution"
                   if spec == "cpu" else "")
                + "."
            )
        best = max(typed, key=_rank)
        return best, f"{where}: best {spec.upper()} device"
    best = max(entries, key=_rank)
    if DeviceInfo(best[2], best[3]).is_gpu:
        return best, f"{where}: best device, GPU preferred"
    return best, f"{where}: best device, GPU preferred; no GPU found, using {_kind(best)}"


def _kind(entry: DeviceEntry) -> str:
    return DeviceInfo(entry[2], entry[3]).type_name


_contexts: dict[str, DeviceContext] = {}
_lock = threading.Lock()


def get_context() -> DeviceContext:
    """The DeviceContext for the current config.device; made once per value, then cached."""
    ctx = _contexts.get(config.device)
    if ctx is not None:
        return ctx
    with _lock:
        spec = config.device
        ctx = _contexts.get(spec)
        if ctx is None:
            (_, _, platform, device), reason = choose_device(spec, list_devices())
            same = next((c for c in _contexts.values() if c.device == device), None)
            ctx = DeviceContext(platform, device, reason, same)
            _contexts[spec] = ctx
        return ctx
