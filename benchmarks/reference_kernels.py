"""Hand-written OpenCL kernels, built with pyopencl directly: the reference point for clgraph.

Each one is what a programmer would write by hand for one expression: a single kernel, float8
vectors, one work-item per eight elements, a scalar tail, and the same (IEEE, no fast-math)
build options that clgraph uses, so any gap to clgraph's generated code is clgraph's own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyopencl as cl
import pyopencl.array as cl_array

ELEMENTWISE6_SOURCE = r"""
/* out = exp(-x*x)*sin(w) + 0.5*tanh(x*w) + sqrt(abs(x)+1), float8 per work-item. */
__kernel void elementwise6(const long n,
                           __global const float* restrict x,
                           __global const float* restrict w,
                           __global float* restrict out)
{
    const long i = get_global_id(0) * 8;
    if (i + 8 <= n) {
        const float8 a = vload8(0, x + i);
        const float8 b = vload8(0, w + i);
        const float8 r = exp(-a * a) * sin(b) + 0.5f * tanh(a * b) + sqrt(fabs(a) + 1.0f);
        vstore8(r, 0, out + i);
    } else {
        for (long j = i; j < n; ++j) {
            const float a = x[j];
            const float b = w[j];
            out[j] = exp(-a * a) * sin(b) + 0.5f * tanh(a * b) + sqrt(fabs(a) + 1.0f);
        }
    }
}
"""


def elementwise6_numpy(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The same expression in NumPy (float32 throughout)."""
    return np.exp(-x * x) * np.sin(w) + np.float32(0.5) * np.tanh(x * w) + np.sqrt(np.abs(x) + 1)


class Elementwise6:
    """The 6-op elementwise expression as one hand-written float8 kernel.

    `ref(x, w)` takes float32 pyopencl arrays of one length, enqueues the kernel on the
    context's queue and returns the output array (call queue.finish() to wait for it);
    `out=` reuses an output array, as a hand-tuned program would.
    """

    def __init__(self, context: Any, queue: Any):
        self.queue = queue
        self.program = cl.Program(context, ELEMENTWISE6_SOURCE).build()
        self.kernel = self.program.elementwise6
        self.kernel.set_scalar_arg_dtypes([np.int64, None, None, None])

    def __call__(self, x: cl_array.Array, w: cl_array.Array,
                 out: cl_array.Array | None = None) -> cl_array.Array:
        if x.dtype != np.float32 or w.dtype != np.float32 or x.shape != w.shape:
            raise TypeError("Elementwise6 takes two float32 device arrays of one shape")
        if out is None:
            out = cl_array.empty_like(x)
        n = x.size
        global_size = ((n + 7) // 8,)
        self.kernel(self.queue, global_size, None, n, x.data, w.data, out.data)
        return out


ADD_ONE_SOURCE = r"""
/* out = x + 1, one work-item per element: the smallest useful launch. */
__kernel void add_one(__global const float* restrict x, __global float* restrict out)
{
    const size_t i = get_global_id(0);
    out[i] = x[i] + 1.0f;
}
"""


class AddOneRoundTrip:
    """`x + 1` for a small NumPy float32 array by hand with pyopencl, the least a call can
    do: a buffer holding a copy of the input, one launch, a blocking read into a new array.
    Its time is the device's round-trip floor under clgraph's call overhead."""

    def __init__(self, context: Any, queue: Any):
        self.context, self.queue = context, queue
        self.kernel = cl.Program(context, ADD_ONE_SOURCE).build().add_one

    def __call__(self, x: np.ndarray) -> np.ndarray:
        mf = cl.mem_flags
        src = cl.Buffer(self.context, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=x)
        dst = cl.Buffer(self.context, mf.WRITE_ONLY, x.nbytes)
        self.kernel(self.queue, x.shape, None, src, dst)
        out = np.empty_like(x)
        cl.enqueue_copy(self.queue, out, dst, is_blocking=True)
        return out


ROW_MAX_SOURCE = r"""
/* out[r] = max of row r (NaN if the row has one, as NumPy), one work-item per row: float8
   loads into four running maxima, halved down to one, then a scalar tail. */
#define MAX(m, v) ((((m) > (v)) | ((m) != (m))) ? (m) : (v))
__kernel void row_max(const long cols,
                      __global const float* restrict x,
                      __global float* restrict out)
{
    const __global float* row = x + get_global_id(0) * cols;
    float8 m0 = (float8)(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    long j = 0;
    for (; j + 32 <= cols; j += 32) {
        m0 = MAX(m0, vload8(0, row + j));
        m1 = MAX(m1, vload8(1, row + j));
        m2 = MAX(m2, vload8(2, row + j));
        m3 = MAX(m3, vload8(3, row + j));
    }
    m0 = MAX(MAX(m0, m1), MAX(m2, m3));
    const float4 m4 = MAX(m0.lo, m0.hi);
    const float2 m2h = MAX(m4.lo, m4.hi);
    float m = MAX(m2h.lo, m2h.hi);
    for (; j < cols; ++j)
        m = MAX(m, row[j]);
    out[get_global_id(0)] = m;
}
"""


class RowMax:
    """The row max of a float32 C-contiguous device matrix as one hand-written kernel: the
    memory-bandwidth reference for clgraph's reduction (each row is read once)."""

    def __init__(self, context: Any, queue: Any):
        self.queue = queue
        self.kernel = cl.Program(context, ROW_MAX_SOURCE).build().row_max
        self.kernel.set_scalar_arg_dtypes([np.int64, None, None])

    def __call__(self, x: cl_array.Array, out: cl_array.Array | None = None) -> cl_array.Array:
        if x.dtype != np.float32 or x.ndim != 2 or not x.flags.c_contiguous:
            raise TypeError("RowMax takes a C-contiguous float32 device matrix")
        if out is None:
            out = cl_array.empty(self.queue, (x.shape[0],), np.float32)
        # One row per work-group: PoCL would otherwise pack rows into a work-group and turn
        # the row loads into gathers.
        self.kernel(self.queue, (x.shape[0],), (1,), x.shape[1], x.data, out.data)
        return out
