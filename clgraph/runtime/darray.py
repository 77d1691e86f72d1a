"""Moving values between NumPy / pyopencl arrays and device buffers."""

from __future__ import annotations

import numpy as np
import pyopencl as cl
import pyopencl.array as cl_array

from clgraph.lower.layout import Layout, contiguous_strides
from clgraph.runtime.buffers import allocate
from clgraph.runtime.host_memory import wrap_host_array
from clgraph.runtime.strided_copy import contiguous_copy


def upload(ctx, value: np.ndarray, blocking: bool = False):
    """A pooled device buffer holding a C-contiguous copy of `value`.

    Not blocking: `value` is read later, by the queue; it must not change until then
    (`blocking=True` when it belongs to the caller and nothing else waits)."""
    value = np.ascontiguousarray(value)
    buf = allocate(ctx, value.nbytes)
    if value.nbytes:
        cl.enqueue_copy(ctx.queue, buf, value, is_blocking=blocking)
    return buf


def device_array_buffer(ctx, arr: cl_array.Array):
    """The buffer of a pyopencl array as a C-contiguous value, copying only when needed
    (an offset, or any strides: runtime/strided_copy.py)."""
    if arr.size == 0:
        return allocate(ctx, 1)
    if arr.flags.c_contiguous and arr.offset == 0 and arr.base_data is not None:
        return arr.base_data
    return contiguous_copy(ctx, arr).base_data


def span(layout: Layout, itemsize: int) -> tuple[int, int]:
    """(first, end) element offsets of the buffer region a layout touches."""
    lo = hi = layout.offset
    for n, s in zip(layout.shape, layout.strides):
        if n == 0:
            return layout.offset, layout.offset
        if s > 0:
            hi += s * (n - 1)
        else:
            lo += s * (n - 1)
    return lo, hi + 1


def download(ctx, buf, layout: Layout, dtype: str) -> np.ndarray:
    """Read a (possibly strided) layout back into a fresh C-contiguous NumPy array."""
    dt = np.dtype(dtype)
    out = np.empty(layout.shape, dtype=dt)
    if out.size == 0:
        return out
    if layout.strides == contiguous_strides(layout.shape) or out.size == 1:
        cl.enqueue_copy(ctx.queue, out, buf, src_offset=layout.offset * dt.itemsize,
                        is_blocking=True)
        return out
    lo, hi = span(layout, dt.itemsize)
    raw = np.empty(hi - lo, dtype=dt)
    cl.enqueue_copy(ctx.queue, raw, buf, src_offset=lo * dt.itemsize, is_blocking=True)
    view = np.lib.stride_tricks.as_strided(
        raw[layout.offset - lo:], shape=layout.shape,
        strides=tuple(s * dt.itemsize for s in layout.strides))
    out[...] = view
    return out


def as_device_array(ctx, buf, layout: Layout, dtype: str) -> cl_array.Array:
    """A pyopencl array viewing the layout (for Out(borrow=True))."""
    dt = np.dtype(dtype)
    strides = tuple(s * dt.itemsize for s in layout.strides)
    return cl_array.Array(ctx.queue, layout.shape, dt, strides=strides, data=buf,
                          offset=layout.offset * dt.itemsize)


# Below this size an input is copied into a fresh buffer at creation (COPY_HOST_PTR): no
# queue round trip, ~0.4 µs against ~30 µs for enqueue_copy on PoCL (measured).
SMALL_INPUT_BYTES = 1 << 16


def upload_input(ctx, value: np.ndarray, zero_copy: bool) -> tuple[object, bool]:
    """A device buffer for one call's input; (buffer, whether the queue still reads `value`:
    the caller must then keep it alive and unchanged until the call's kernels are done).

    On devices whose memory is the host's (PoCL), a large input is wrapped in place
    (USE_HOST_PTR) when `zero_copy` allows; elsewhere it is copied by a write that is not
    waited for.
    """
    value = np.ascontiguousarray(value)
    mf = cl.mem_flags
    if value.nbytes == 0:
        return allocate(ctx, 1), False
    if value.nbytes <= SMALL_INPUT_BYTES:
        return cl.Buffer(ctx.context, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=value), False
    if zero_copy and ctx.host_unified_memory:
        if ctx.host_addressable:  # host work (BLAS) can then read it without a map
            return wrap_host_array(ctx, value, mf.READ_ONLY), True
        return cl.Buffer(ctx.context, mf.READ_ONLY | mf.USE_HOST_PTR, hostbuf=value), True
    return upload(ctx, value), True
