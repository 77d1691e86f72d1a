"""Lowering of BatchedDot (out[q] = a[q] . b[q]): NumPy's matmul on the buffers' host memory
where the device shares it (the `host` GEMM provider: PoCL), else `batched_gemm.cl.mako`.
`config.gemm` chooses as for Dot22 (lower/gemm.py)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from clgraph.expr.dtypes import cl_type
from clgraph.expr.scalar.ops import wrapping
from clgraph.expr.type import shape_str
from clgraph.lower.advanced import grid
from clgraph.lower.gemm import choose_provider, host_blas_limit
from clgraph.lower.host_work import HostView, host_operands
from clgraph.lower.layout import Layout
from clgraph.lower.plan import BufRef, HostCall, KernelDef, Launch, PrepareState, Step, node_label
from clgraph.lower.render import render, sanitize_comment


@dataclass
class HostBatchedGemm:
    """out = matmul(a, b) with NumPy on the operands' host memory; run as `HostCall.fn`."""

    a: Layout
    b: Layout
    c: Layout
    dtypes: tuple[str, str, str]

    @functools.cached_property
    def _views(self) -> list[HostView]:
        return [HostView.of(lay, dt) for lay, dt in zip((self.a, self.b, self.c), self.dtypes)]

    def __call__(self, ctx, bufs) -> None:
        with host_operands(ctx, bufs, self._views) as (x, y, out):
            if self.a.shape[2] == 0:  # empty sums
                out[...] = 0
                return
            x, y = x.astype(out.dtype, copy=False), y.astype(out.dtype, copy=False)
            batch, m, k = self.a.shape
            with host_blas_limit(2.0 * batch * m * k * self.b.shape[2]):
                np.matmul(x, y, out=out)


class BatchedGemmStep(Step):
    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        for var in list(node.inputs) + list(node.outputs):
            ctx.check_dtype(var.dtype, f"{node_label(node)}: {var}")
        self.provider = choose_provider(ctx)
        self.dtypes = (node.inputs[0].dtype, node.inputs[1].dtype, node.outputs[0].dtype)
        self.kname = f"{kernel_prefix}_bgemm"

    def kernels(self) -> list[KernelDef]:
        if self.provider == "host":
            return []
        c_dt = self.dtypes[2]
        names = ", ".join(sanitize_comment(v) for v in self.node.inputs)
        src = render("batched_gemm.cl.mako", kname=self.kname,
                     a_type=cl_type(self.dtypes[0]), b_type=cl_type(self.dtypes[1]),
                     c_type=cl_type(c_dt),
                     mul=lambda x, y: wrapping("mul", "*", c_dt, x, y),
                     add=lambda x, y: wrapping("add", "+", c_dt, x, y),
                     comment=sanitize_comment(f"BatchedDot({names}) -> {self.node.outputs[0]}"))
        return [KernelDef(self.kname, src, [self.node], "batched_gemm.cl.mako")]

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        la, lb = (state.layouts[v] for v in node.inputs)
        (batch, m, k), (bb, kb, n) = la.shape, lb.shape
        if batch != bb or k != kb:
            raise ValueError(f"{node_label(node)}: batched_dot: shapes {shape_str(la.shape)} "
                             f"({node.inputs[0]}) and {shape_str(lb.shape)} ({node.inputs[1]}) "
                             "do not match (batch sizes, then axis 2 against axis 1)")
        out = state.new_buffer((batch, m, n), self.dtypes[2])
        state.layouts[node.outputs[0]] = out
        if out.size == 0:
            return
        if self.provider == "host":
            state.work.append(HostCall(HostBatchedGemm(la, lb, out, self.dtypes),
                                       [BufRef(la.buffer), BufRef(lb.buffer), BufRef(out.buffer)],
                                       node, writes=(2,)))
            return
        g, lsz = grid(out.size)
        state.work.append(Launch(self.kname, g, lsz, [
            np.int64(batch), np.int64(m), np.int64(n), np.int64(k),
            BufRef(la.buffer), np.int64(la.offset), *map(np.int64, la.strides),
            BufRef(lb.buffer), np.int64(lb.offset), *map(np.int64, lb.strides),
            BufRef(out.buffer)], node))
