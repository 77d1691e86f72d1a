"""conv2d and pool_2d as ops, with their gradients as ops.

Conv (NCHW): `Conv2d(x, w)`, `Conv2dGradInputs(gz, w, x)` and `Conv2dGradWeights(x, gz, w)`
(the last input of each gradient op only gives a shape). Parameters: `border` ('valid',
'full', 'half' or (pad_h, pad_w)), `subsample`, `filter_flip`, `filter_dilation`; padding is
resolved from the filter size when the call's shapes are known, so filter shapes need not be
static. The lowering computes them as im2col + GEMM (host BLAS on CPU devices) + col2im.

Pool: `Pool2d(x)` over the last two axes, `MaxPoolGrad(x, out, gz)`, `AvgPoolGrad(x, gz)`,
following Theano's window rules (partial windows at the border when not ignore_border;
average_inc_pad divides by the window size counting the padding, average_exc_pad by the
real pixels only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.apply import Apply
from clgraph.expr.op import Op
from clgraph.expr.type import TensorType
from clgraph.expr.variable import TensorVariable


def _T():
    from clgraph import tensor as T

    return T


# ---------------------------------------------------------------- geometry
@dataclass(frozen=True)
class ConvGeom:
    border: object = "valid"          # 'valid' | 'full' | 'half' | (ph, pw)
    subsample: tuple = (1, 1)
    filter_flip: bool = True
    filter_dilation: tuple = (1, 1)
    # conv2d's input_shape / filter_shape hints (None entries: any length), checked against
    # each call's shapes
    input_hint: tuple | None = None
    filter_hint: tuple | None = None

    def pads(self, kh: int, kw: int) -> tuple[int, int]:
        dh, dw = self.filter_dilation
        ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
        if self.border == "valid":
            return 0, 0
        if self.border == "full":
            return ekh - 1, ekw - 1
        if self.border == "half":
            return ekh // 2, ekw // 2
        return tuple(self.border)  # type: ignore[return-value]

    def out_hw(self, h: int, w: int, kh: int, kw: int) -> tuple[int, int]:
        ph, pw = self.pads(kh, kw)
        dh, dw = self.filter_dilation
        sh, sw = self.subsample
        oh = (h + 2 * ph - ((kh - 1) * dh + 1)) // sh + 1
        ow = (w + 2 * pw - ((kw - 1) * dw + 1)) // sw + 1
        return max(oh, 0), max(ow, 0)

    def static_out(self, xs: tuple, ws: tuple) -> tuple:
        n, f = xs[0], ws[0]
        if None in (xs[2], xs[3], ws[2], ws[3]):
            return (n, f, None, None)
        return (n, f) + self.out_hw(xs[2], xs[3], ws[2], ws[3])


def im2col_ref(x: np.ndarray, kh: int, kw: int, g: ConvGeom) -> np.ndarray:
    """(N, C*kh*kw, OH*OW) columns; row c*kh*kw + a*kw + b holds filter tap (a, b), flipped
    when g.filter_flip (so that the filters reshape to (F, C*kh*kw) as they are)."""
    n, c, h, w = x.shape
    ph, pw = g.pads(kh, kw)
    dh, dw = g.filter_dilation
    sh, sw = g.subsample
    oh, ow = g.out_hw(h, w, kh, kw)
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for a in range(kh):
        for b in range(kw):
            patch = xp[:, :, a * dh:a * dh + sh * (oh - 1) + 1:sh,
                       b * dw:b * dw + sw * (ow - 1) + 1:sw]
            ra, rb = (kh - 1 - a, kw - 1 - b) if g.filter_flip else (a, b)
            cols[:, :, ra, rb] = patch
    return cols.reshape(n, c * kh * kw, oh * ow)


def col2im_ref(cols: np.ndarray, xshape: tuple, kh: int, kw: int, g: ConvGeom) -> np.ndarray:
    n, c, h, w = xshape
    ph, pw = g.pads(kh, kw)
    dh, dw = g.filter_dilation
    sh, sw = g.subsample
    oh, ow = g.out_hw(h, w, kh, kw)
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for a in range(kh):
        for b in range(kw):
            ra, rb = (kh - 1 - a, kw - 1 - b) if g.filter_flip else (a, b)
            xp[:, :, a * dh:a * dh + sh * (oh - 1) + 1:sh,
               b * dw:b * dw + sw * (ow - 1) + 1:sw] += cols[:, :, ra, rb]
    return xp[:, :, ph:ph + h, pw:pw + w]


def _check4(op, name, v):
    if v.ndim != 4:
        raise TypeError(f"{op}: {name} {v} must be a 4-d tensor (NCHW), got {v.type}")
    if not D.is_float(v.dtype):
        raise TypeError(f"{op}: {name} {v} must be a float tensor, got {v.dtype}")


class _ConvBase(Op):
    geom: ConvGeom = ConvGeom()

    def _grad_node(self, named: list[tuple[str, object]], like: int) -> Apply:
        """A gradient op's node: 4-d inputs (named in errors), cast to the dtype of input
        `like`, whose type the result has."""
        T = _T()
        vs = [T.as_tensor_variable(v) for _, v in named]
        for (nm, _), v in zip(named, vs):
            _check4(self, nm, v)
        ref = vs[like]
        vs = [v if k == like else T.cast(v, ref.dtype) for k, v in enumerate(vs)]
        return Apply(self, vs, [TensorVariable(TensorType(ref.dtype, ref.type.shape))])

    def __str__(self) -> str:
        g = self.geom
        return (f"{type(self).__name__}{{{g.border}, s={g.subsample}, d={g.filter_dilation}, "
                f"flip={g.filter_flip}}}")


@dataclass(frozen=True)
class Conv2d(_ConvBase):
    geom: ConvGeom = ConvGeom()

    def make_node(self, x, w) -> Apply:
        T = _T()
        x, w = T.as_tensor_variable(x), T.as_tensor_variable(w)
        _check4(self, "input", x)
        _check4(self, "filters", w)
        dtype = D.upcast(x.dtype, w.dtype)
        x, w = T.cast(x, dtype), T.cast(w, dtype)
        if None not in (x.type.shape[1], w.type.shape[1]) and x.type.shape[1] != w.type.shape[1]:
            raise ValueError(f"{self}: input {x} has {x.type.shape[1]} channels but filters {w} "
                             f"expect {w.type.shape[1]}")
        out = TensorType(dtype, self.geom.static_out(x.type.shape, w.type.shape))
        return Apply(self, [x, w], [TensorVariable(out)])

    def perform(self, node, inputs):
        x, w = inputs
        f, c, kh, kw = w.shape
        cols = im2col_ref(x, kh, kw, self.geom)
        out = np.matmul(w.reshape(f, -1), cols)
        oh, ow = self.geom.out_hw(x.shape[2], x.shape[3], kh, kw)
        return [out.reshape(x.shape[0], f, oh, ow).astype(node.outputs[0].dtype)]

    def L_op(self, node, grads):
        x, w = node.inputs
        (gz,) = grads
        return [Conv2dGradInputs(self.geom)(gz, w, x), Conv2dGradWeights(self.geom)(x, gz, w)]


@dataclass(frozen=True)
class Conv2dGradInputs(_ConvBase):
    """The gradient of Conv2d with respect to its input (a transposed convolution)."""

    geom: ConvGeom = ConvGeom()

    def make_node(self, gz, w, x) -> Apply:
        return self._grad_node([("gradient", gz), ("filters", w), ("input", x)], like=2)

    def perform(self, node, inputs):
        gz, w, x = inputs
        f, c, kh, kw = w.shape
        n = gz.shape[0]
        cols = np.matmul(w.reshape(f, -1).T, gz.reshape(n, f, -1))
        return [col2im_ref(cols, x.shape, kh, kw, self.geom).astype(x.dtype)]

    def L_op(self, node, grads):
        gz, w, x = node.inputs
        (g,) = grads
        return [Conv2d(self.geom)(g, w), Conv2dGradWeights(self.geom)(g, gz, w), None]


@dataclass(frozen=True)
class Conv2dGradWeights(_ConvBase):
    """The gradient of Conv2d with respect to its filters."""

    geom: ConvGeom = ConvGeom()

    def make_node(self, x, gz, w) -> Apply:
        return self._grad_node([("input", x), ("gradient", gz), ("filters", w)], like=2)

    def perform(self, node, inputs):
        x, gz, w = inputs
        f, c, kh, kw = w.shape
        cols = im2col_ref(x, kh, kw, self.geom)
        n = x.shape[0]
        dw = np.tensordot(gz.reshape(n, f, -1), cols, axes=([0, 2], [0, 2]))
        return [dw.reshape(w.shape).astype(w.dtype)]

    def L_op(self, node, grads):
        x, gz, w = node.inputs
        (g,) = grads
        return [Conv2dGradInputs(self.geom)(gz, g, x), Conv2d(self.geom)(x, g), None]


# ---------------------------------------------------------------- pooling
@dataclass(frozen=True)
class PoolGeom:
    ws: tuple = (2, 2)
    stride: tuple = (2, 2)
    pad: tuple = (0, 0)
    ignore_border: bool = True
    mode: str = "max"

    def out_len(self, n: int, d: int) -> int:
        ws, st, pad = self.ws[d], self.stride[d], self.pad[d]
        if self.ignore_border:
            return max((n + 2 * pad - ws) // st + 1, 0)
        if st >= ws:
            return (n - 1) // st + 1 if n > 0 else 0
        return max(0, (n - 1 - ws + st) // st) + 1 if n > 0 else 0

    def window(self, r: int, n: int, d: int) -> tuple[int, int, int]:
        """(start, end) in real coordinates of window r and its divisor's length."""
        ws, st, pad = self.ws[d], self.stride[d], self.pad[d]
        start = r * st
        end = min(start + ws, n + 2 * pad)
        length = end - start
        start, end = max(start, pad), min(end, n + pad)
        if self.mode != "average_inc_pad":
            length = end - start
        return start - pad, end - pad, length


def pool_ref(x: np.ndarray, g: PoolGeom) -> np.ndarray:
    h, w = x.shape[-2:]
    oh, ow = g.out_len(h, 0), g.out_len(w, 1)
    out = np.zeros(x.shape[:-2] + (oh, ow), dtype=x.dtype)
    for r in range(oh):
        r0, r1, lr = g.window(r, h, 0)
        for c in range(ow):
            c0, c1, lc = g.window(c, w, 1)
            win = x[..., r0:r1, c0:c1]
            if g.mode == "max":
                out[..., r, c] = win.max(axis=(-2, -1)) if win.size else 0
            elif g.mode == "sum":
                out[..., r, c] = win.sum(axis=(-2, -1))
            else:
                out[..., r, c] = win.sum(axis=(-2, -1)) / max(lr * lc, 1)
    return out


def pool_grad_ref(x: np.ndarray, out: np.ndarray | None, gz: np.ndarray, g: PoolGeom
                  ) -> np.ndarray:
    h, w = x.shape[-2:]
    gx = np.zeros_like(x)
    for r in range(gz.shape[-2]):
        r0, r1, lr = g.window(r, h, 0)
        for c in range(gz.shape[-1]):
            c0, c1, lc = g.window(c, w, 1)
            gv = gz[..., r, c][..., None, None]
            if g.mode == "max":
                hit = x[..., r0:r1, c0:c1] == out[..., r, c][..., None, None]
                gx[..., r0:r1, c0:c1] += hit * gv
            elif g.mode == "sum":
                gx[..., r0:r1, c0:c1] += gv
            else:
                gx[..., r0:r1, c0:c1] += gv / max(lr * lc, 1)
    return gx


def _check_pool(op, x):
    if x.ndim < 2:
        raise TypeError(f"{op}: input {x} needs at least 2 dimensions, got {x.ndim}")
    if not D.is_float(x.dtype):
        raise TypeError(f"{op}: input {x} must be a float tensor, got {x.dtype}")


@dataclass(frozen=True)
class Pool2d(Op):
    geom: PoolGeom = PoolGeom()

    def make_node(self, x) -> Apply:
        x = _T().as_tensor_variable(x)
        _check_pool(self, x)
        shp = x.type.shape
        tail = tuple(None if s is None else self.geom.out_len(s, d)
                     for d, s in enumerate(shp[-2:]))
        return Apply(self, [x], [TensorVariable(TensorType(x.dtype, shp[:-2] + tail))])

    def perform(self, node, inputs):
        return [pool_ref(inputs[0], self.geom)]

    def L_op(self, node, grads):
        (x,) = node.inputs
        (gz,) = grads
        if self.geom.mode == "max":
            return [MaxPoolGrad(self.geom)(x, node.outputs[0], gz)]
        return [AvgPoolGrad(self.geom)(x, gz)]

    def __str__(self) -> str:
        g = self.geom
        return f"Pool2d{{{g.mode}, ws={g.ws}, st={g.stride}, pad={g.pad}, ib={g.ignore_border}}}"


@dataclass(frozen=True)
class MaxPoolGrad(Op):
    geom: PoolGeom = PoolGeom()

    def make_node(self, x, out, gz) -> Apply:
        T = _T()
        x, out, gz = (T.as_tensor_variable(v) for v in (x, out, gz))
        _check_pool(self, x)
        out, gz = T.cast(out, x.dtype), T.cast(gz, x.dtype)
        return Apply(self, [x, out, gz], [TensorVariable(TensorType(x.dtype, x.type.shape))])

    def perform(self, node, inputs):
        x, out, gz = inputs
        return [pool_grad_ref(x, out, gz, self.geom)]

    def L_op(self, node, grads):
        # Linear in gz, piecewise constant in x and out (Theano's rule).
        x, out, _gz = node.inputs
        (g,) = grads
        T = _T()
        return [T.zeros_like(x), T.zeros_like(out), MaxPoolGradGrad(self.geom)(x, out, g)]


def pool_pick_ref(x: np.ndarray, out: np.ndarray, gg: np.ndarray, g: PoolGeom) -> np.ndarray:
    """Each window's sum of gg over the pixels holding the window's maximum."""
    h, w = x.shape[-2:]
    res = np.zeros(out.shape, dtype=x.dtype)
    for r in range(out.shape[-2]):
        r0, r1, _ = g.window(r, h, 0)
        for c in range(out.shape[-1]):
            c0, c1, _ = g.window(c, w, 1)
            hit = x[..., r0:r1, c0:c1] == out[..., r, c][..., None, None]
            res[..., r, c] = (hit * gg[..., r0:r1, c0:c1]).sum(axis=(-2, -1))
    return res


@dataclass(frozen=True)
class MaxPoolGradGrad(Op):
    """The transpose of MaxPoolGrad in its gz: each window of x gets the sum of gg over the
    pixels that hold the window's maximum (out). It is max pooling's forward derivative
    (R_op) and MaxPoolGrad's gradient (second derivatives of max pooling)."""

    geom: PoolGeom = PoolGeom()

    def make_node(self, x, out, gg) -> Apply:
        T = _T()
        x, out, gg = (T.as_tensor_variable(v) for v in (x, out, gg))
        _check_pool(self, x)
        out, gg = T.cast(out, x.dtype), T.cast(gg, x.dtype)
        return Apply(self, [x, out, gg], [TensorVariable(TensorType(x.dtype, out.type.shape))])

    def perform(self, node, inputs):
        x, out, gg = inputs
        return [pool_pick_ref(x, out, gg, self.geom)]

    def L_op(self, node, grads):
        x, out, _gg = node.inputs
        (g,) = grads
        T = _T()
        return [T.zeros_like(x), T.zeros_like(out), MaxPoolGrad(self.geom)(x, out, g)]


@dataclass(frozen=True)
class AvgPoolGrad(Op):
    """Gradient of sum / average pooling: linear in gz (x only gives the shape)."""

    geom: PoolGeom = PoolGeom()

    def make_node(self, x, gz) -> Apply:
        T = _T()
        x, gz = T.as_tensor_variable(x), T.as_tensor_variable(gz)
        _check_pool(self, x)
        gz = T.cast(gz, x.dtype)
        return Apply(self, [x, gz], [TensorVariable(TensorType(x.dtype, x.type.shape))])

    def perform(self, node, inputs):
        x, gz = inputs
        return [pool_grad_ref(x, None, gz, self.geom)]

    def L_op(self, node, grads):
        (g,) = grads
        return [None, Pool2d(self.geom)(g)]
