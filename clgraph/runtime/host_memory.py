"""Buffers whose memory the host can read and write directly, on devices that share it.

On PoCL's CPU device a buffer made over host memory (CL_MEM_USE_HOST_PTR) is that memory:
kernels read and write it in place. Host work on such buffers (NumPy's BLAS between
kernels, lower/gemm.py) then needs no map and unmap commands, only that the commands
touching the buffer have finished (the executor waits for those, runtime/execute.py).
Measured on PoCL 3.0, 2 cores: a blocking map costs ~50 µs and each unmap is one more
command through PoCL's worker thread; waiting for an event costs ~30 µs, nothing if done.

OpenCL leaves the host memory of an unmapped USE_HOST_PTR buffer undefined, so this is
used only where `probe` shows the device writes the host's memory and reads the host's
writes without a map (checked once per context; elsewhere `buffers.py` keeps pyopencl's
pool and host work maps buffers).
"""

from __future__ import annotations

import threading

import numpy as np
import pyopencl as cl

__all__ = ["HostBuffer", "HostPool", "host_bytes", "probe", "wrap_host_array"]

# Host blocks start on a page: PoCL uses a USE_HOST_PTR region in place when it meets the
# device's base address alignment (128 bytes on x86); streaming stores need 32.
ALIGN = 4096
_MIN_BLOCK = 256
_MF = cl.mem_flags


class HostBuffer(cl.Buffer):
    """A cl.Buffer over host memory, with that memory as `host` (uint8, the whole buffer).

    `home`: the pool's free list the memory goes back to when the buffer is collected (None
    for memory the caller owns, e.g. a call's input array)."""

    __slots__ = ("host", "home")

    def __del__(self) -> None:
        home = getattr(self, "home", None)
        if home is not None:
            # The queue is in order and host work waits for the commands on its buffers,
            # so the block may be handed out again while commands on it are still queued.
            home.append(self.host)


def host_bytes(buf) -> np.ndarray | None:
    """The host memory of a buffer made by this module (uint8), or None."""
    return buf.host if type(buf) is HostBuffer else None


def wrap_host_array(ctx, value: np.ndarray, flags: int) -> HostBuffer:
    """A buffer over a C-contiguous array the caller keeps alive and unchanged while the
    queue uses it (its memory is read and written in place)."""
    buf = HostBuffer(ctx.context, flags | _MF.USE_HOST_PTR, hostbuf=value)
    buf.host = value.reshape(-1).view(np.uint8)
    buf.home = None
    return buf


def _block_bytes(nbytes: int) -> int:
    """Size class of a request: the next of 1, 1.25, 1.5, 1.75 times a power of two (a
    quarter wasted at most), so freed blocks serve nearby sizes."""
    n = max(_MIN_BLOCK, int(nbytes))
    top = 1 << (n - 1).bit_length()
    step = top // 8
    return -(-n // step) * step


def _aligned_block(nbytes: int) -> np.ndarray:
    raw = np.empty(nbytes + ALIGN, np.uint8)
    start = (-raw.ctypes.data) % ALIGN
    return raw[start:start + nbytes]


class HostPool:
    """Host-memory blocks by size class, wrapped in a fresh HostBuffer per allocation
    (~0.7 µs); the block returns to its class when the buffer is collected."""

    def __init__(self, context, max_block: int = 0) -> None:
        self.context = context
        # the device's largest buffer (0: unknown): a size class above it would make a
        # request that fits fail, so such a request gets a block of its exact size
        self.max_block = max_block
        self._free: dict[int, list[np.ndarray]] = {}
        self._lock = threading.Lock()
        self.allocated_blocks = 0

    def allocate(self, nbytes: int) -> HostBuffer:
        size = _block_bytes(nbytes)
        if self.max_block and size > self.max_block:
            size = int(nbytes)
        free = self._free.get(size)
        if free is None:
            with self._lock:
                free = self._free.setdefault(size, [])
        try:
            block = free.pop()
        except IndexError:
            block = _aligned_block(size)
            self.allocated_blocks += 1
        buf = HostBuffer(self.context, _MF.READ_WRITE | _MF.USE_HOST_PTR, hostbuf=block)
        buf.host = block
        buf.home = free
        return buf

    @property
    def held_blocks(self) -> int:
        return sum(len(v) for v in list(self._free.values()))

    @property
    def active_blocks(self) -> int:
        return self.allocated_blocks - self.held_blocks

    @property
    def managed_bytes(self) -> int:
        return sum(size * len(v) for size, v in list(self._free.items()))

    def free_held(self) -> None:
        """Drop the free blocks (their memory goes back to NumPy's allocator)."""
        with self._lock:
            dropped = self.held_blocks
            for free in self._free.values():
                free.clear()
            self.allocated_blocks -= dropped


def probe(context, queue) -> bool:
    """Whether the device works on a USE_HOST_PTR buffer's host memory in place: a device
    copy between two such buffers must read the host's writes and land in host memory,
    with no map in between."""
    try:
        src, dst = _aligned_block(ALIGN), _aligned_block(ALIGN)
        src[:] = np.arange(ALIGN, dtype=np.uint32).astype(np.uint8)
        dst[:] = 0
        a = cl.Buffer(context, _MF.READ_WRITE | _MF.USE_HOST_PTR, hostbuf=src)
        b = cl.Buffer(context, _MF.READ_WRITE | _MF.USE_HOST_PTR, hostbuf=dst)
        cl.enqueue_copy(queue, b, a)
        queue.finish()
        first = bool(np.array_equal(src, dst))
        src[:] = 7  # a second round: later host writes must be seen too
        cl.enqueue_copy(queue, b, a)
        queue.finish()
        return first and bool((dst == 7).all())
    except cl.Error:
        return False
