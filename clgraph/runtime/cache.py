"""Build OpenCL programs once: an in-memory cache and an on-disk cache of device binaries.

The key is a hash of the rendered source, the build options and the exact driver, so an edited
template or a new driver rebuilds by itself and nothing is ever bumped by hand. Entries are
written to a temporary file and renamed (atomic, safe with many processes, no global lock), and
carry a checksum that is verified before the driver sees the bytes: some drivers crash on a
truncated binary, so a damaged entry is deleted and rebuilt instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import shlex
import struct
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from typing import Any

import pyopencl as cl

from clgraph.config import config
from clgraph.runtime.device import DeviceContext, DeviceInfo

__all__ = [
    "CACHE_FORMAT",
    "CacheStats",
    "KernelBuildError",
    "build_program",
    "cache_key",
    "clear_memory_cache",
    "entry_path",
    "stats",
]

CACHE_FORMAT = 1
"""Version of the on-disk entry layout and of the key recipe; part of every key."""

_MAGIC = b"CLGRAPH-BIN\n"
_HEADER = struct.Struct("<12s32sQ")  # magic, sha256 of the payload, payload length
_MAX_LINES_SHOWN = 400  # longer sources show only windows around the lines the log names
_WINDOW = 8


class KernelBuildError(RuntimeError):
    """The OpenCL compiler rejected a program; the message has the numbered source and log."""

    def __init__(self, message: str, source: str, log: str, device_name: str):
        super().__init__(message)
        self.source = source
        self.log = log
        self.device_name = device_name


@dataclasses.dataclass
class CacheStats:
    """Counters of the program cache, for profiling, `info` and tests."""

    memory_hits: int = 0
    disk_hits: int = 0
    builds: int = 0
    build_seconds: float = 0.0
    disk_read_seconds: float = 0.0
    disk_writes: int = 0
    corrupt_entries: int = 0

    def reset(self) -> None:
        """Set every counter back to zero."""
        for field in dataclasses.fields(self):
            setattr(self, field.name, field.default)


stats = CacheStats()

# (id of the cl.Context, key) -> (that context, program); holding the context pins its id.
_memory: dict[tuple[int, str], tuple[Any, Any]] = {}
_warned: set[str] = set()  # compiledirs and devices warned about


def clear_memory_cache() -> None:
    """Forget the programs built in this process (the disk cache stays)."""
    _memory.clear()


def _package_version() -> str:
    pkg = sys.modules.get("clgraph")
    return str(getattr(pkg, "__version__", "0"))


def _normalise_options(options: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(options, str):
        return tuple(shlex.split(options))
    return tuple(str(o) for o in options)


def cache_key(ctx: DeviceContext, source: str, options: Sequence[str] = (),
              device: Any = None) -> str:
    """sha256 over cache format, clgraph and pyopencl versions, driver identity, options, source.
    `device`: the device built for (default ctx.device; PoCL's in-thread sibling is another)."""
    identity = ctx.identity if device is None or device == ctx.device else \
        DeviceInfo(ctx.platform, device).identity
    parts = (
        str(CACHE_FORMAT),
        _package_version(),
        cl.VERSION_TEXT,
        identity,
        "\0".join(_normalise_options(options)),
        source,
    )
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def entry_path(key: str) -> str:
    """Where the binary of key lives: compiledir/<first 2 hex>/<key>.bin."""
    return os.path.join(config.compiledir, key[:2], key + ".bin")


def build_program(ctx: DeviceContext, source: str, options: Sequence[str] = (),
                  device: Any = None) -> Any:
    """A built pyopencl.Program for source: from memory, else from disk, else compiled.
    `device`: the one device of ctx's context to build for (default ctx.device).

    No fast-math options are added: numerics stay IEEE unless the caller asks otherwise.
    """
    device = ctx.device if device is None else device
    opts = _normalise_options(options)
    key = cache_key(ctx, source, opts, device)
    mkey = (id(ctx.context), key)
    hit = _memory.get(mkey)
    if hit is not None:
        stats.memory_hits += 1
        return hit[1]
    path = entry_path(key)
    program = _load(ctx, device, path, opts)
    if program is not None:
        stats.disk_hits += 1
    else:
        program = _compile(ctx, device, source, opts)
        if _stores_binaries(ctx):
            _store(ctx, device, path, program)
    _memory[mkey] = (ctx.context, program)
    return program


def _stores_binaries(ctx: DeviceContext) -> bool:
    """Whether to write built binaries to disk (config.binary_cache).

    'auto' skips PoCL: it keeps its own cache of compiled kernels keyed by source, and asking
    it for a program's binary compiles every kernel at once, where a launch compiles only the
    kernels used; on the test suite that doubled cold compile time (163 s -> 81 s, measured).
    """
    mode = config.binary_cache
    if mode != "auto":
        return mode == "always"
    return "Portable Computing Language" not in ctx.platform_name


# --- disk --------------------------------------------------------------------------------------


def _remove(path: str) -> None:
    stats.corrupt_entries += 1
    with contextlib.suppress(OSError):
        os.unlink(path)


def _load(ctx: DeviceContext, device: Any, path: str, opts: tuple[str, ...]) -> Any:
    """The program from a valid disk entry, or None (absent, damaged or refused: removed)."""
    start = time.perf_counter()
    try:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        if len(data) < _HEADER.size:
            _remove(path)
            return None
        magic, checksum, length = _HEADER.unpack_from(data)
        payload = data[_HEADER.size:]
        intact = length == len(payload) and hashlib.sha256(payload).digest() == checksum
        if magic != _MAGIC or not intact:
            _remove(path)
            return None
        try:
            return cl.Program(ctx.context, [device], [payload]).build(
                options=list(opts), devices=[device]
            )
        except cl.Error:
            _remove(path)
            return None
    finally:
        stats.disk_read_seconds += time.perf_counter() - start


def _binary_of(device: Any, program: Any) -> bytes:
    """The binary of `program`, built for `device` alone (as build_program builds), or b""."""
    devices = program.get_info(cl.program_info.DEVICES)
    binaries = program.get_info(cl.program_info.BINARIES)
    if len(binaries) == len(devices):
        for built_for, binary in zip(devices, binaries, strict=True):
            if built_for == device:
                return bytes(binary or b"")
        return b""
    # PoCL lists every device of the context but the binaries of the built devices only
    # (PoCL's in-thread 'basic' sibling shares the threaded device's context): built for
    # one device, the one binary listed is its own.
    return bytes(binaries[0] or b"") if len(binaries) == 1 else b""


def _store(ctx: DeviceContext, device: Any, path: str, program: Any) -> None:
    """Write the program's binary atomically; an unwritable compiledir only warns, once."""
    try:
        payload = _binary_of(device, program)
    except cl.Error:
        payload = b""
    if not payload:
        _warn_once(f"no binary for {device.name}",
                   f"clgraph: the OpenCL driver gave no binary of a program built for "
                   f"'{device.name}'; config.binary_cache={config.binary_cache!r} stores "
                   "nothing for it (it is compiled again in each process)")
        return
    header = _HEADER.pack(_MAGIC, hashlib.sha256(payload).digest(), len(payload))
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".bin")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(header)
                fh.write(payload)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        compiledir = config.compiledir
        _warn_once(compiledir,
                   f"clgraph: cannot write kernel binaries to config.compiledir={compiledir!r} "
                   f"({exc}); continuing without the disk cache. Set compiledir to a writable "
                   "directory, e.g. CLGRAPH_FLAGS=compiledir=/tmp/clgraph")
        return
    stats.disk_writes += 1


def _warn_once(topic: str, message: str) -> None:
    """A RuntimeWarning, once per process per topic (a compiledir, a device)."""
    if topic not in _warned:
        _warned.add(topic)
        warnings.warn(message, RuntimeWarning, stacklevel=4)


# --- compiling --------------------------------------------------------------------------------


def _compile(ctx: DeviceContext, device: Any, source: str, opts: tuple[str, ...]) -> Any:
    start = time.perf_counter()
    try:
        # pyopencl warns whenever the log is not empty (NVIDIA's compiler always says
        # something): the log goes to stderr under config.debug instead.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cl.CompilerWarning)
            program = cl.Program(ctx.context, source).build(
                options=list(opts), devices=[device], cache_dir=False
            )
    except cl.Error as exc:
        log = _log_from_error(exc)
        raise KernelBuildError(_build_message(ctx, source, opts, log), source, log, ctx.name) \
            from None
    finally:
        stats.build_seconds += time.perf_counter() - start
    stats.builds += 1
    if config.debug >= 1:
        log = program.get_build_info(device, cl.program_build_info.LOG).strip()
        if log:
            print(f"clgraph: build log on {ctx.name}:\n{log}", file=sys.stderr)
    return program


def _log_from_error(exc: Exception) -> str:
    """The compiler's log out of pyopencl's error text (which embeds it after 'Build on ...')."""
    text = str(exc)
    match = re.search(r"Build on <[^\n]*>:\n", text)
    if match:
        text = text[match.end():]
    text = re.sub(r"\n\((options|source saved as)[^\n]*\)", "", text)
    return text.strip() or str(exc)


def _log_lines(log: str, nlines: int) -> set[int]:
    found = re.findall(r":(\d+):\d+:", log) + re.findall(r"\bline (\d+)", log)
    return {int(n) for n in found if 1 <= int(n) <= nlines}


def numbered_source(source: str, log: str = "") -> str:
    """The source with line numbers; lines the log names are marked '>>'.

    Sources longer than a few hundred lines show only windows around the named lines.
    """
    lines = source.splitlines()
    marked = _log_lines(log, len(lines))
    if len(lines) <= _MAX_LINES_SHOWN:
        shown = list(range(1, len(lines) + 1))
    elif marked:
        last = len(lines)
        shown = sorted(
            {n for m in marked for n in range(max(1, m - _WINDOW), min(last, m + _WINDOW) + 1)}
        )
    else:
        shown = list(range(1, _MAX_LINES_SHOWN // 2 + 1))
    width = len(str(len(lines)))
    out: list[str] = []
    previous = 0
    for n in shown:
        if n != previous + 1:
            out.append(f"   {'':>{width}} ...")
        out.append(f"{'>>' if n in marked else '  '} {n:>{width}} | {lines[n - 1]}")
        previous = n
    if previous < len(lines):
        out.append(f"   {'':>{width}} ... ({len(lines)} lines in all)")
    return "\n".join(out)


def _build_message(ctx: DeviceContext, source: str, opts: tuple[str, ...], log: str) -> str:
    return (
        f"OpenCL program failed to build on device '{ctx.name}' ({ctx.platform_name})\n"
        f"build options: {' '.join(opts) if opts else '(none)'}\n"
        f"--- source ---\n{numbered_source(source, log)}\n"
        f"--- build log ---\n{log}"
    )
