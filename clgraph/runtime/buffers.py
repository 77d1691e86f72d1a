"""Device memory from one pool per device context.

Allocating OpenCL buffers is slow next to a small kernel launch; a pool keeps freed blocks
and hands them out again, so per-call temporaries cost almost nothing after the first call.
On devices whose buffers can live in host memory used in place (`host_addressable`: PoCL's
CPU device) the pool hands out HostBuffers (runtime/host_memory.py), which host work reads
and writes without maps; elsewhere pyopencl's MemoryPool.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import pyopencl.tools as cl_tools

from clgraph.runtime.device import DeviceContext
from clgraph.runtime.host_memory import HostPool

__all__ = ["allocate", "allocator", "free_held", "pool_stats"]

_pools: weakref.WeakKeyDictionary[DeviceContext, Any] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _pool(ctx: DeviceContext) -> Any:
    pool = _pools.get(ctx)
    if pool is None:
        with _lock:
            pool = _pools.get(ctx)
            if pool is None:
                if ctx.host_addressable:
                    pool = HostPool(ctx.context, ctx.max_alloc_bytes)
                else:
                    pool = cl_tools.MemoryPool(cl_tools.ImmediateAllocator(ctx.queue))
                _pools[ctx] = pool
    return pool


def allocate(ctx: DeviceContext, nbytes: int) -> Any:
    """A device buffer of at least nbytes (>= 1: OpenCL forbids empty buffers).

    The result is a kernel argument; its memory returns to the pool when it is collected.
    """
    if nbytes < 0:
        raise ValueError(f"cannot allocate a negative number of bytes ({nbytes})")
    return _pool(ctx).allocate(max(1, int(nbytes)))


def allocator(ctx: DeviceContext) -> Any:
    """The pool's own allocate(nbytes), for hot loops that already know nbytes >= 1."""
    return _pool(ctx).allocate


def pool_stats(ctx: DeviceContext) -> dict[str, int]:
    """Blocks held (free, kept for reuse) and active (in use), with their bytes where known."""
    pool = _pool(ctx)
    stats = {"held": int(pool.held_blocks), "active": int(pool.active_blocks)}
    for name in ("managed_bytes", "active_bytes"):
        if hasattr(pool, name):
            stats[name] = int(getattr(pool, name))
    return stats


def free_held(ctx: DeviceContext) -> None:
    """Give the pool's free blocks back to the driver (e.g. before a large allocation)."""
    _pool(ctx).free_held()
