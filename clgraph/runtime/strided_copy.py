"""Copying a strided pyopencl array (transposed, sliced, stepped, reversed) into a fresh
C-contiguous device array.

Plans read their inputs as C-contiguous buffers (lower/layout.py), and pyopencl cannot
assign between arrays of different strides, so such an input is copied on the device first
by the elementwise copy kernel reading it with any strides (lower/elemwise.copy_step), in a
small program of its own per device, dtype and rank.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyopencl as cl
import pyopencl.array as cl_array

from clgraph.expr.type import TensorType
from clgraph.lower.elemwise import copy_step
from clgraph.lower.layout import Layout
from clgraph.lower.plan import BufRef, PrepareState
from clgraph.lower.render import program_source
from clgraph.runtime.buffers import allocate
from clgraph.runtime.cache import build_program


class _Copier:
    """The copy kernel of one (device, dtype, rank) and how to launch it on a layout."""

    def __init__(self, ctx, dtype: str, ndim: int) -> None:
        self.ctx = ctx
        self.source_var = TensorType(dtype, (None,) * ndim)("strided_input")
        _, self.step = copy_step(self.source_var, ctx, "clg_scopy", in_mode="strided")
        self.program = build_program(ctx, program_source([k.source for k in
                                                          self.step.kernels()]))

    def copy(self, arr: cl_array.Array) -> cl_array.Array:
        state = PrepareState(n_slots=1)
        state.layouts[self.source_var] = element_layout(arr)
        self.step.prepare(state)
        out = allocate(self.ctx, arr.nbytes)
        buffers = [arr.base_data, out]
        for launch in state.work:
            kernel = cl.Kernel(self.program, launch.kernel)
            kernel.set_args(*[buffers[a.slot] if isinstance(a, BufRef) else a
                              for a in launch.args])
            cl.enqueue_nd_range_kernel(self.ctx.queue, kernel, launch.gsize, launch.lsize)
        return cl_array.Array(self.ctx.queue, arr.shape, arr.dtype, data=out)


def element_layout(arr: cl_array.Array) -> Layout:
    """`arr`'s place in its buffer (slot 0) in elements, as kernels index it."""
    itemsize = arr.dtype.itemsize
    if arr.offset % itemsize or any(s % itemsize for s in arr.strides):
        raise ValueError(f"a device array of shape {arr.shape} and dtype {arr.dtype} has byte "
                         f"strides {arr.strides} and offset {arr.offset}; expected multiples of "
                         f"its item size ({itemsize} bytes)")
    return Layout(0, tuple(arr.shape), tuple(s // itemsize for s in arr.strides),
                  arr.offset // itemsize)


@lru_cache(maxsize=64)
def _copier(ctx, dtype: str, ndim: int) -> _Copier:
    return _Copier(ctx, dtype, ndim)


def contiguous_copy(ctx, arr: cl_array.Array) -> cl_array.Array:
    """A new C-contiguous array (offset 0, on `ctx`'s queue) holding `arr`'s values."""
    if arr.size == 0:
        return cl_array.empty(ctx.queue, arr.shape, arr.dtype)
    if arr.flags.c_contiguous:  # only offset: one plain copy
        out = allocate(ctx, arr.nbytes)
        cl.enqueue_copy(ctx.queue, out, arr.base_data, src_offset=arr.offset,
                        byte_count=arr.nbytes)
        return cl_array.Array(ctx.queue, arr.shape, arr.dtype, data=out)
    return _copier(ctx, np.dtype(arr.dtype).name, arr.ndim).copy(arr)
