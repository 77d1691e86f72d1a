"""Lowering of conv2d (im2col / col2im kernels + a host GEMM) and pool_2d (pool.cl.mako).

Conv2d: im2col writes (N, C*KH*KW, OH*OW) columns; the product with the filters, viewed
as (F, C*KH*KW), runs as NumPy's BLAS on buffers mapped into host memory (free on CPU
devices, where buffers are host memory: the same provider as Dot22's `host` GEMM) and
lands directly in the (N, F, OH, OW) output. The input gradient is the transposed product
followed by col2im (a gather: each input pixel sums the taps that read it, no atomics); the
filter gradient is im2col followed by one GEMM over all samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyopencl as cl

from clgraph.expr.conv import Conv2dGradInputs, MaxPoolGrad
from clgraph.expr.dtypes import cl_type
from clgraph.lower.gemm import host_blas_limit, host_done, host_queue
from clgraph.lower.layout import Layout
from clgraph.lower.nnet import ContiguousInput, comment_for
from clgraph.lower.plan import BufRef, HostCall, KernelDef, Launch, PrepareState, Step, node_label
from clgraph.lower.render import render


@dataclass(frozen=True)
class HostConvGemm:
    """One of the conv products on mapped buffers (run as `HostCall.fn`).

    kind 'fwd':  out[n] (F, P)   = W2 (F, K) @ cols[n] (K, P)
    kind 'dx':   out[n] (K, P)   = W2.T (K, F) @ gz[n] (F, P)
    kind 'dw':   out (F, K)      = sum_n gz[n] (F, P) @ cols[n].T (P, K)
    Operands are (layout, shape) pairs of contiguous buffers; `out` is written whole.
    """

    kind: str
    a: Layout
    a_shape: tuple
    b: Layout
    b_shape: tuple
    out: Layout
    out_shape: tuple
    dtype: str

    def __call__(self, ctx, bufs) -> None:
        buf_a, buf_b, buf_out = bufs
        dt = np.dtype(self.dtype)
        queue = host_queue(ctx)
        maps = []
        try:
            out = _map(queue, buf_out, cl.map_flags.WRITE_INVALIDATE_REGION, self.out,
                       self.out_shape, dt, maps)
            a = _map(queue, buf_a, cl.map_flags.READ, self.a, self.a_shape, dt, maps)
            b = _map(queue, buf_b, cl.map_flags.READ, self.b, self.b_shape, dt, maps)
            # flops of each BLAS call: one per image for fwd and dx, one for dw
            f_, k_ = self.a_shape if self.kind != "dw" else self.out_shape
            n_, p_ = self.b_shape[0], self.b_shape[2]
            flops = 2.0 * f_ * k_ * p_ * (n_ if self.kind == "dw" else 1)
            with host_blas_limit(flops):  # BLAS threads capped as for Dot22 (lower/gemm.py)
                if self.kind == "fwd":
                    np.matmul(a, b, out=out)
                elif self.kind == "dx":
                    np.matmul(a.T, b, out=out)
                else:
                    out[...] = np.tensordot(a, b, axes=([0, 2], [0, 2]))
        finally:
            host_done(ctx, [m.release(queue) for m in reversed(maps)])


def _map(queue, buf, flags, lay: Layout, shape: tuple, dt: np.dtype, maps: list) -> np.ndarray:
    nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    raw, _ = cl.enqueue_map_buffer(queue, buf, flags, lay.offset * dt.itemsize, (nbytes,),
                                   np.uint8, is_blocking=True)
    maps.append(raw.base)
    return raw.view(dt).reshape(shape)


class _ConvStepBase(Step):
    """Shared by the three conv ops: the im2col/col2im kernels and the geometry."""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        self.dtype = node.outputs[0].dtype
        ctx.check_dtype(self.dtype, node_label(node))
        self.inputs = [ContiguousInput(v, ctx, f"{kernel_prefix}_cp{k}")
                       for k, v in enumerate(node.inputs)]
        self.kname = f"{kernel_prefix}_{'c2i' if isinstance(node.op, Conv2dGradInputs) else 'i2c'}"

    def kernels(self) -> list[KernelDef]:
        out = [d for inp in self.inputs for d in inp.kernels(self.node)]
        kind = "col2im" if isinstance(self.node.op, Conv2dGradInputs) else "im2col"
        src = render("conv2d.cl.mako", kname=self.kname, ctype=cl_type(self.dtype), kind=kind,
                     flip=self.node.op.geom.filter_flip, comment=comment_for(self.node))
        return out + [KernelDef(self.kname, src, [self.node], "conv2d.cl.mako")]

    def _layouts(self, state: PrepareState) -> list[Layout]:
        return [inp.layout(state, state.layouts[v])
                for inp, v in zip(self.inputs, self.node.inputs, strict=True)]

    def _geometry(self, xshape, wshape):
        node = self.node
        g = node.op.geom
        n, c, h, w = xshape
        f, c2, kh, kw = wshape
        if c != c2:
            raise ValueError(f"{node_label(node)}: the input has {c} channels (shape {xshape}) "
                             f"but the filters expect {c2} (shape {wshape})")
        if kh == 0 or kw == 0:
            raise ValueError(f"{node_label(node)}: empty filters of shape {wshape}")
        ph, pw = g.pads(kh, kw)
        oh, ow = g.out_hw(h, w, kh, kw)
        sh, sw = g.subsample
        dh, dw = g.filter_dilation
        args = [np.int64(v) for v in (c, h, w, kh, kw, oh, ow, ph, pw, sh, sw, dh, dw, n * c)]
        return (n, c, h, w, f, kh, kw, oh, ow), args

    def _check_out(self, shape, var, what) -> None:
        for d, (a, b) in enumerate(zip(shape, var.type.shape, strict=True)):
            if b is not None and a != b:
                raise ValueError(f"{node_label(self.node)}: {what} has length {a} on axis {d} "
                                 f"at run time but the graph fixed it to {b}")

    def _check_grad(self, lg: Layout, expected: tuple) -> None:
        if lg.shape != expected:
            raise ValueError(f"{node_label(self.node)}: the output gradient has shape "
                             f"{lg.shape}, expected {expected}")

    def _gemm(self, state, kind: str, a: Layout, a_shape, b: Layout, b_shape, c: Layout,
              c_shape) -> None:
        """A host product c = a . b (batched as HostConvGemm's `kind` says)."""
        fn = HostConvGemm(kind, a, a_shape, b, b_shape, c, c_shape, self.dtype)
        state.work.append(HostCall(fn, [BufRef(a.buffer), BufRef(b.buffer), BufRef(c.buffer)],
                                   self.node))

    def _im2col(self, state, lx, args, n, c, kh, kw, oh, ow) -> Layout:
        cols = state.new_buffer((n, c * kh * kw, oh * ow), self.dtype)
        state.work.append(Launch(self.kname, (oh * ow, n * c), None,
                                 args + [BufRef(lx.buffer), np.int64(lx.offset),
                                         BufRef(cols.buffer)], self.node))
        return cols


class Conv2dStep(_ConvStepBase):
    def prepare(self, state: PrepareState) -> None:
        node = self.node
        lx, lw = self._layouts(state)
        (n, c, h, w, f, kh, kw, oh, ow), args = self._geometry(lx.shape, lw.shape)
        out = state.new_buffer((n, f, oh, ow), self.dtype)
        self._check_out(out.shape, node.outputs[0], "the output")
        state.layouts[node.outputs[0]] = out
        if out.size == 0:
            return
        k, p = c * kh * kw, oh * ow
        if k == 0:
            raise ValueError(f"{node_label(node)}: the input has no channels")
        cols = self._im2col(state, lx, args, n, c, kh, kw, oh, ow)
        self._gemm(state, "fwd", lw, (f, k), cols, (n, k, p), out, (n, f, p))


class Conv2dGradInputsStep(_ConvStepBase):
    def prepare(self, state: PrepareState) -> None:
        node = self.node
        lg, lw, lx = self._layouts(state)
        (n, c, h, w, f, kh, kw, oh, ow), args = self._geometry(lx.shape, lw.shape)
        self._check_grad(lg, (n, f, oh, ow))
        gx = state.new_buffer(lx.shape, self.dtype)
        state.layouts[node.outputs[0]] = gx
        if gx.size == 0:
            return
        k, p = c * kh * kw, oh * ow
        cols = state.new_buffer((n, k, p), self.dtype)
        if cols.size and f:
            self._gemm(state, "dx", lw, (f, k), lg, (n, f, p), cols, (n, k, p))
        elif cols.size:
            raise ValueError(f"{node_label(node)}: no filters")
        state.work.append(Launch(self.kname, (h * w, n * c), None,
                                 args + [BufRef(cols.buffer), np.int64(0),
                                         BufRef(gx.buffer)], node))


class Conv2dGradWeightsStep(_ConvStepBase):
    def prepare(self, state: PrepareState) -> None:
        node = self.node
        lx, lg, lw = self._layouts(state)
        (n, c, h, w, f, kh, kw, oh, ow), args = self._geometry(lx.shape, lw.shape)
        self._check_grad(lg, (n, f, oh, ow))
        gw = state.new_buffer(lw.shape, self.dtype)
        state.layouts[node.outputs[0]] = gw
        if gw.size == 0:
            return
        k, p = c * kh * kw, oh * ow
        if n * p == 0:
            raise ValueError(f"{node_label(node)}: an empty batch or output gives no filter "
                             "gradient to compute")
        cols = self._im2col(state, lx, args, n, c, kh, kw, oh, ow)
        self._gemm(state, "dw", lg, (n, f, p), cols, (n, k, p), gw, (f, k))


class PoolStep(Step):
    """Pool2d, MaxPoolGrad and AvgPoolGrad: one work-item per output (or input) pixel."""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        from clgraph.expr.conv import Pool2d

        self.grad = not isinstance(node.op, Pool2d)
        self.dtype = node.outputs[0].dtype
        ctx.check_dtype(self.dtype, node_label(node))
        self.inputs = [ContiguousInput(v, ctx, f"{kernel_prefix}_cp{k}")
                       for k, v in enumerate(node.inputs)]
        self.kname = f"{kernel_prefix}_{'poolg' if self.grad else 'pool'}"

    def kernels(self) -> list[KernelDef]:
        out = [d for inp in self.inputs for d in inp.kernels(self.node)]
        src = render("pool.cl.mako", kname=self.kname, ctype=cl_type(self.dtype),
                     mode=self.node.op.geom.mode, grad=self.grad,
                     comment=comment_for(self.node))
        return out + [KernelDef(self.kname, src, [self.node], "pool.cl.mako")]

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        g = node.op.geom
        lays = [inp.layout(state, state.layouts[v])
                for inp, v in zip(self.inputs, node.inputs, strict=True)]
        lx = lays[0]
        lead, (h, w) = lx.shape[:-2], lx.shape[-2:]
        planes = int(np.prod(lead, dtype=np.int64))
        oh, ow = g.out_len(h, 0), g.out_len(w, 1)
        geo = [np.int64(v) for v in (planes, h, w, oh, ow) + g.ws + g.stride + g.pad]
        if not self.grad:
            out = state.new_buffer(lead + (oh, ow), self.dtype)
            state.layouts[node.outputs[0]] = out
            if out.size:
                state.work.append(Launch(self.kname, (oh * ow, planes), None,
                                         geo + [BufRef(lx.buffer), np.int64(lx.offset),
                                                BufRef(out.buffer)], node))
            return
        if isinstance(node.op, MaxPoolGrad):
            lz, lg = lays[1], lays[2]
        else:
            lz = lg = lays[1]
        for lay, what in ((lz, "the pooled output"), (lg, "the output gradient")):
            if lay.shape != lead + (oh, ow):
                raise ValueError(f"{node_label(node)}: {what} has shape {lay.shape}, expected "
                                 f"{lead + (oh, ow)}")
        gx = state.new_buffer(lx.shape, self.dtype)
        state.layouts[node.outputs[0]] = gx
        if gx.size:
            state.work.append(Launch(self.kname, (h * w, planes), None,
                                     geo + [BufRef(lx.buffer), np.int64(lx.offset),
                                            BufRef(lz.buffer), np.int64(lz.offset),
                                            BufRef(lg.buffer), np.int64(lg.offset),
                                            BufRef(gx.buffer)], node))
