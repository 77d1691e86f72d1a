"""Lowering of conv2d (im2col / col2im kernels + a host GEMM) and pool_2d (pool.cl.mako).

Conv2d: im2col writes columns, (N, K, P) (K = C*KH*KW, P = OH*OW) or (K, N, P); the product
with the filters, viewed as (F, K), runs as NumPy's BLAS on buffers mapped into host memory
(free on CPU devices, where buffers are host memory: the same provider as Dot22's `host`
GEMM): one product per image landing directly in the (N, F, OH, OW) output, or one over all
images (`one_product`: where BLAS runs threaded) moved into place after. The input gradient
is the transposed product followed by col2im (a gather: each input pixel sums the taps that
read it, no atomics); the filter gradient is im2col followed by one product over all images
(gz moved to (F, N, P) first) or, for small F*K, per-image products summed.

Kernels come in two forms (`row_kernels`): on CPU devices a work-item does a whole plane
or row (indices decomposed once, contiguous runs the compiler vectorises); elsewhere one
output per work-item. Geometry that the op fixes (strides, dilation, pool windows) is
compiled in as constants.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from dataclasses import dataclass

import numpy as np

from clgraph.expr.conv import Conv2dGradInputs, MaxPoolGrad, MaxPoolGradGrad
from clgraph.expr.dtypes import cl_type
from clgraph.lower import gemm
from clgraph.lower.gemm import host_blas_limit
from clgraph.lower.host_work import HostView, host_operands
from clgraph.lower.layout import Layout
from clgraph.lower.nnet import ContiguousInput, comment_for
from clgraph.lower.plan import BufRef, HostCall, KernelDef, Launch, PrepareState, Step, node_label
from clgraph.lower.render import render

# Row kernels (a work-item writes a whole row or plane: indices decomposed once, then
# contiguous runs) suit CPU devices; elsewhere each work-item computes one output. None picks
# from the device; tests set it to run both forms on any device.
ROW_KERNELS: bool | None = None
_INT_MAX = 2**31 - 1
# Outputs per image below which a conv product that BLAS will run threaded is one BLAS call
# over all images (columns laid out (K, N, P)) rather than one per image (see HostConvGemm).
ONE_PRODUCT_MAX_P = 256


def one_product(p: int, flops: float) -> bool:
    """Whether the forward / input-gradient product (`flops` over all images, `p` outputs per
    image) runs as one BLAS call. Measured at LeNet's second layer (128 images, 50x500x64
    each): one thread: per image 5.6 + 5.0 ms (fwd + dx) and im2col/col2im 1.3 + 0.7 ms,
    one call 5.7 + 6.4 ms plus 0.4 ms of transposes and 2.3 + 1.5 ms for the (K, N, P)
    columns, which are written and read in short scattered runs; two threads: per image
    24-60 ms, one call 3.4 ms. So one call only where the product will be threaded."""
    if p >= ONE_PRODUCT_MAX_P:
        return False
    threads = gemm.host_blas_threads()
    if threads is None or threads > 1 or flops >= gemm.HOST_BLAS_LIMIT_FLOPS:
        return True
    return not _can_limit_blas()  # without threadpoolctl BLAS keeps its own thread count


@functools.cache
def _can_limit_blas() -> bool:
    return importlib.util.find_spec("threadpoolctl") is not None


def row_kernels(ctx) -> bool:
    """Whether conv/pool steps on `ctx` use the row form of their kernels."""
    return bool(ctx.is_cpu) if ROW_KERNELS is None else ROW_KERNELS


@dataclass(frozen=True)
class HostConvGemm:
    """One of the conv products on mapped buffers (run as `HostCall.fn`).

    kind 'fwd':  out[n] (F, P)   = W2 (F, K) @ cols[n] (K, P)       (cols (N, K, P))
    kind 'dx':   out[n] (K, P)   = W2.T (K, F) @ gz[n] (F, P)
    kind 'dw':   out (F, K)      = sum_n gz[n] (F, P) @ cols[n].T   (cols (N, K, P); one
                                   product per image, summed: for small F*K)
    kind 'dwt':  out (F, K)      = gz' (F, N*P) @ cols.T (N*P, K)   (cols (K, N, P); gz is
                                   moved to (F, N, P) on the host first: one BLAS call)
    kind 'fwdt': out             = W2 (F, K) @ cols (K, N*P), moved from (F, N, P) to (N, F, P)
    kind 'dxt':  out (K, N*P)    = W2.T (K, F) @ gz' (F, N*P)       (gz moved as for 'dwt')
    The 't' kinds are one BLAS call over all images: per-image products with few columns run
    poorly, threaded ones very poorly (measured: 50x500x64 per image, 128 images, 2 threads:
    24-60 ms against 3.4-25 ms for the single product).
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

    @functools.cached_property
    def _views(self) -> list[HostView]:
        return [HostView.of(lay, self.dtype, shape) for lay, shape in
                ((self.a, self.a_shape), (self.b, self.b_shape), (self.out, self.out_shape))]

    def __call__(self, ctx, bufs) -> None:
        with host_operands(ctx, bufs, self._views) as (a, b, out):
            self._product(a, b, out)

    def _product(self, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
        dt = out.dtype
        kind = self.kind
        if kind in ("fwd", "dx"):  # W2 and a batch of (F or K, P) matrices
            (f_, k_), p_ = a.shape, b.shape[2]
        elif kind in ("fwdt", "dxt"):
            (f_, k_), p_ = a.shape, b.shape[1] * b.shape[2]
        else:
            (n_, f_, p_), k_ = a.shape, out.shape[1]
            p_ *= n_ if kind == "dwt" else 1
        if kind in ("dwt", "dxt"):
            gz = a if kind == "dwt" else b
            n_, f_, p_ = gz.shape
            gzt = _scratch(gz.size, dt)[:gz.size].reshape(f_, n_, p_)
            np.copyto(gzt, gz.transpose(1, 0, 2))
            gzt = gzt.reshape(f_, n_ * p_)
        # BLAS threads capped as for Dot22 (lower/gemm.py), by the flops of one BLAS call
        with host_blas_limit(2.0 * f_ * k_ * p_):
            if kind == "fwd":
                np.matmul(a, b, out=out)
            elif kind == "dx":
                np.matmul(a.T, b, out=out)
            elif kind == "dw":
                np.sum(np.matmul(a, b.transpose(0, 2, 1)), axis=0, out=out)
            elif kind == "dwt":
                np.matmul(gzt, b.reshape(b.shape[0], -1).T, out=out)
            elif kind == "dxt":
                np.matmul(a.T, gzt, out=out.reshape(out.shape[0], -1))
            else:  # fwdt
                k_, n_, p_ = b.shape
                tmp = _scratch(f_ * n_ * p_, dt)[:f_ * n_ * p_].reshape(f_, n_ * p_)
                np.matmul(a, b.reshape(k_, -1), out=tmp)
                np.copyto(out, tmp.reshape(f_, n_, p_).transpose(1, 0, 2))


_scratch_local = threading.local()


def _scratch(size: int, dt: np.dtype) -> np.ndarray:
    """A reused host array of at least `size` elements (per thread): a fresh one per call
    would fault its pages in every step."""
    arr = getattr(_scratch_local, "arr", None)
    if arr is None or arr.dtype != dt or arr.size < size:
        arr = np.empty(size, dt)
        _scratch_local.arr = arr
    return arr


class _ConvStepBase(Step):
    """Shared by the three conv ops: the im2col/col2im kernels and the geometry."""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        self.dtype = node.outputs[0].dtype
        ctx.check_dtype(self.dtype, node_label(node))
        self.inputs = [ContiguousInput(v, ctx, f"{kernel_prefix}_cp{k}")
                       for k, v in enumerate(node.inputs)]
        self.col2im = isinstance(node.op, Conv2dGradInputs)
        self.kname = f"{kernel_prefix}_{'c2i' if self.col2im else 'i2c'}"
        self.rows = row_kernels(ctx)

    def kernels(self) -> list[KernelDef]:
        out = [d for inp in self.inputs for d in inp.kernels(self.node)]
        g = self.node.op.geom
        (sh, sw), (dh, dw) = g.subsample, g.filter_dilation
        src = render("conv2d.cl.mako", kname=self.kname, ctype=cl_type(self.dtype),
                     kind="col2im" if self.col2im else "im2col", flip=g.filter_flip,
                     sh=int(sh), sw=int(sw), dh=int(dh), dw=int(dw), rows=self.rows,
                     comment=comment_for(self.node))
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
        for hint, shape, what in ((g.input_hint, xshape, "input_shape"),
                                  (g.filter_hint, wshape, "filter_shape")):
            if hint is not None and any(a is not None and a != b for a, b in zip(hint, shape)):
                raise ValueError(f"{node_label(node)}: shape {tuple(shape)} at run time does "
                                 f"not match conv2d's {what}={hint}")
        ph, pw = g.pads(kh, kw)
        dh, dw = g.filter_dilation
        if h + 2 * ph < (kh - 1) * dh + 1 or w + 2 * pw < (kw - 1) * dw + 1:
            raise ValueError(f"{node_label(node)}: filters of {kh} x {kw} (dilation {dh}, {dw}) "
                             f"do not fit in the input's {h} x {w} image with padding {ph}, "
                             f"{pw}: impossible output shape (input {tuple(xshape)}, filters "
                             f"{tuple(wshape)})")
        oh, ow = g.out_hw(h, w, kh, kw)
        if max(h * w, oh * ow, c * kh * kw, n, ph, pw) > _INT_MAX:
            raise ValueError(f"{node_label(node)}: input {xshape} or filters {wshape} too large "
                             "for the conv kernels' 32-bit indices")
        args = [np.int32(v) for v in (c, h, w, kh, kw, oh, ow, ph, pw, c * kh * kw, n)]
        return (n, c, h, w, f, kh, kw, oh, ow), args

    def _check_out(self, shape, var, what) -> None:
        for d, (a, b) in enumerate(zip(shape, var.type.shape, strict=True)):
            if b is not None and a != b:
                raise ValueError(f"{node_label(self.node)}: {what} has length {a} on axis {d} "
                                 f"at run time but the graph fixed it to {b}")

    def _begin_grad(self, state: PrepareState, lx: Layout, lw: Layout, lg: Layout,
                    out_shape: tuple):
        """A gradient step's start: geometry, the output gradient's shape checked, the
        result's buffer. Returns (geometry, kernel args, result layout)."""
        geo, args = self._geometry(lx.shape, lw.shape)
        n, f, oh, ow = geo[0], geo[4], geo[7], geo[8]
        if lg.shape != (n, f, oh, ow):
            raise ValueError(f"{node_label(self.node)}: the output gradient has shape "
                             f"{lg.shape}, expected {(n, f, oh, ow)}")
        out = state.new_buffer(out_shape, self.dtype)
        state.layouts[self.node.outputs[0]] = out
        return geo, args, out

    def _gemm(self, state, kind: str, a: Layout, a_shape, b: Layout, b_shape, c: Layout,
              c_shape) -> None:
        """A host product c = a . b (batched as HostConvGemm's `kind` says)."""
        fn = HostConvGemm(kind, a, a_shape, b, b_shape, c, c_shape, self.dtype)
        state.work.append(HostCall(fn, [BufRef(a.buffer), BufRef(b.buffer), BufRef(c.buffer)],
                                   self.node, writes=(2,)))

    def _im2col(self, state, lx, args, n, c, kh, kw, oh, ow, image_major: bool = True
                ) -> Layout:
        """Columns as (N, K, P) (image_major) or (K, N, P); K = C*KH*KW, P = OH*OW."""
        k, p = c * kh * kw, oh * ow
        cols = state.new_buffer((n, k, p) if image_major else (k, n, p), self.dtype)
        strides = [np.int64(k * p), np.int64(p)] if image_major else [np.int64(p),
                                                                         np.int64(n * p)]
        gsize = (c, n) if self.rows else (p, k, n)
        state.work.append(Launch(self.kname, gsize, None,
                                 args + strides + [BufRef(lx.buffer), np.int64(lx.offset),
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
        one = one_product(p, 2.0 * n * f * k * p)
        cols = self._im2col(state, lx, args, n, c, kh, kw, oh, ow, image_major=not one)
        self._gemm(state, "fwdt" if one else "fwd", lw, (f, k), cols,
                   (k, n, p) if one else (n, k, p), out, (n, f, p))


class Conv2dGradInputsStep(_ConvStepBase):
    def prepare(self, state: PrepareState) -> None:
        node = self.node
        lg, lw, lx = self._layouts(state)
        (n, c, h, w, f, kh, kw, oh, ow), args, gx = self._begin_grad(state, lx, lw, lg, lx.shape)
        if gx.size == 0:
            return
        k, p = c * kh * kw, oh * ow
        one = one_product(p, 2.0 * n * f * k * p)
        cols = state.new_buffer((k, n, p) if one else (n, k, p), self.dtype)
        if cols.size and f:
            self._gemm(state, "dxt" if one else "dx", lw, (f, k), lg, (n, f, p), cols,
                       cols.shape)
        elif cols.size:
            raise ValueError(f"{node_label(node)}: no filters")
        gsize = (c, n) if self.rows else (h * w, c, n)
        strides = [np.int64(p), np.int64(n * p)] if one else [np.int64(k * p), np.int64(p)]
        state.work.append(Launch(self.kname, gsize, None,
                                 args + strides + [BufRef(cols.buffer), np.int64(0),
                                                   BufRef(gx.buffer)], node))


class Conv2dGradWeightsStep(_ConvStepBase):
    def prepare(self, state: PrepareState) -> None:
        node = self.node
        lx, lg, lw = self._layouts(state)
        (n, c, h, w, f, kh, kw, oh, ow), args, gw = self._begin_grad(state, lx, lw, lg, lw.shape)
        if gw.size == 0:
            return
        k, p = c * kh * kw, oh * ow
        if n * p == 0:
            raise ValueError(f"{node_label(node)}: an empty batch or output gives no filter "
                             "gradient to compute")
        # One product over all images (gz moved to (F, N, P) first) unless F*K is small next
        # to the operands, when per-image products summed read them in place.
        one = f * k * 8 > p * (f + k)
        cols = self._im2col(state, lx, args, n, c, kh, kw, oh, ow, image_major=not one)
        self._gemm(state, "dwt" if one else "dw", lg, (n, f, p), cols,
                   (k, n, p) if one else (n, k, p), gw, (f, k))


class PoolStep(Step):
    """Pool2d, MaxPoolGrad, AvgPoolGrad and MaxPoolGradGrad: a row of outputs (or of input
    pixels, for the gradients) per work-item on CPU devices, one each elsewhere
    (`row_kernels`)."""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        from clgraph.expr.conv import Pool2d

        # pick: MaxPoolGradGrad, which writes one value per window as the forward does
        self.pick = isinstance(node.op, MaxPoolGradGrad)
        self.grad = not isinstance(node.op, Pool2d) and not self.pick
        self.dtype = node.outputs[0].dtype
        ctx.check_dtype(self.dtype, node_label(node))
        self.inputs = [ContiguousInput(v, ctx, f"{kernel_prefix}_cp{k}")
                       for k, v in enumerate(node.inputs)]
        kind = "poolgg" if self.pick else "poolg" if self.grad else "pool"
        self.kname = f"{kernel_prefix}_{kind}"
        self.rows = row_kernels(ctx)

    def kernels(self) -> list[KernelDef]:
        out = [d for inp in self.inputs for d in inp.kernels(self.node)]
        g = self.node.op.geom
        ws, st, pad = (tuple(int(v) for v in t) for t in (g.ws, g.stride, g.pad))
        src = render("pool.cl.mako", kname=self.kname, ctype=cl_type(self.dtype),
                     mode=g.mode, grad=self.grad, pick=self.pick, ws=ws, st=st, pad=pad,
                     disjoint=st[0] >= ws[0] and st[1] >= ws[1],
                     # every window inside the image; windows tiling each row's start
                     full=g.ignore_border and pad == (0, 0),
                     tiled=g.ignore_border and pad[1] == 0 and st[1] == ws[1], rows=self.rows,
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
        if max(h * w, oh * ow) > _INT_MAX:
            raise ValueError(f"{node_label(node)}: planes of {h} x {w} are too large for the "
                             "pool kernels' 32-bit indices")
        geo = [np.int64(planes)] + [np.int32(v) for v in (h, w, oh, ow)]
        if self.pick:
            lz, lg = lays[1], lays[2]
            if lz.shape != lead + (oh, ow) or lg.shape != lx.shape:
                raise ValueError(f"{node_label(node)}: the pooled output has shape {lz.shape} "
                                 f"and gg {lg.shape}; expected {lead + (oh, ow)} and "
                                 f"{lx.shape}")
            out = state.new_buffer(lead + (oh, ow), self.dtype)
            state.layouts[node.outputs[0]] = out
            if out.size:
                state.work.append(Launch(self.kname, (oh if self.rows else oh * ow, planes),
                                         None, geo + [BufRef(lx.buffer), np.int64(lx.offset),
                                                      BufRef(lz.buffer), np.int64(lz.offset),
                                                      BufRef(lg.buffer), np.int64(lg.offset),
                                                      BufRef(out.buffer)], node))
            return
        if not self.grad:
            out = state.new_buffer(lead + (oh, ow), self.dtype)
            state.layouts[node.outputs[0]] = out
            if out.size:
                state.work.append(Launch(self.kname, (oh if self.rows else oh * ow, planes),
                                         None, geo + [BufRef(lx.buffer), np.int64(lx.offset),
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
            state.work.append(Launch(self.kname, (h if self.rows else h * w, planes), None,
                                     geo + [BufRef(lx.buffer), np.int64(lx.offset),
                                            BufRef(lz.buffer), np.int64(lz.offset),
                                            BufRef(lg.buffer), np.int64(lg.offset),
                                            BufRef(gx.buffer)], node))
