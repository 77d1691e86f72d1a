"""Neural-network ops: stable sigmoid/softplus scalar ops, fused softmax rows, row picks.

- `ScalarSigmoid`, `ScalarSoftplus`: scalar ops (fused into elementwise kernels like any
  other), written so that no intermediate overflows: sigmoid is 1 / (1 + exp(-x)) (exp may
  give inf, whose reciprocal is 0), softplus is max(x, 0) + log1p(exp(-|x|)). Their
  gradients are z (1 - z) and sigmoid(x), never inf / inf.
- `Softmax(axis, log)`: softmax or log-softmax along one axis as a single kernel (max,
  exp-sum and normalisation in one pass over each row, which stays in cache).
- `RowPick`: `x[arange(n), y]` for a matrix and integer labels (cross-entropy with integer
  targets); `RowPickGrad` scatters its gradient back.
- `SoftmaxXent`: softmax cross-entropy per row from the logits (integer labels or dense
  targets), one kernel; `SoftmaxXentGrad` its gradient (and log-softmax's), one kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.apply import Apply
from clgraph.expr.op import Op
from clgraph.expr.scalar.base import ScalarOp
from clgraph.expr.type import TensorType
from clgraph.expr.variable import TensorVariable


def _T():
    from clgraph import tensor as T

    return T


# ---------------------------------------------------------------- scalar ops
class _FloatActivation(ScalarOp):
    """A unary activation on floats (integers upgraded as Theano does); subclasses give
    `reference(x)`, the NumPy formula on x already in the output dtype."""

    def out_dtype(self, a: str) -> str:
        return D.upgrade_to_float(a)

    def impl(self, a):
        out = self.out_dtype(a.dtype.name)
        with np.errstate(all="ignore"):
            return np.asarray(self.reference(a.astype(out)), dtype=out)


@dataclass(frozen=True)
class ScalarSigmoid(_FloatActivation):
    @property
    def name(self) -> str:
        return "sigmoid"

    @staticmethod
    def reference(x):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x = ctx.cast(args[0], in_dtypes[0], out_dtype)
        one = ctx.literal(1, out_dtype)
        return f"({one} / ({one} + exp(-({x}))))"

    def grad(self, inputs, z, gz):
        return [gz * z * (_T().constant(1, dtype=z.dtype) - z)]


@dataclass(frozen=True)
class ScalarSoftplus(_FloatActivation):
    @property
    def name(self) -> str:
        return "softplus"

    @staticmethod
    def reference(x):
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x = ctx.let(ctx.cast(args[0], in_dtypes[0], out_dtype), out_dtype)
        zero = ctx.literal(0, out_dtype)
        return f"(fmax({x}, {zero}) + log1p(exp(-fabs({x}))))"

    def grad(self, inputs, z, gz):
        from clgraph.expr.elemwise import Elemwise

        return [gz * Elemwise(ScalarSigmoid())(inputs[0])]


scalar_sigmoid = ScalarSigmoid()
scalar_softplus = ScalarSoftplus()


# ---------------------------------------------------------------- softmax
@dataclass(frozen=True)
class Softmax(Op):
    """softmax (or log-softmax when `log`) along `axis` (non-negative)."""

    axis: int = -1
    log: bool = False

    def make_node(self, x) -> Apply:
        x = _T().as_tensor_variable(x)
        if not D.is_float(x.dtype):
            raise TypeError(f"{self}: input {x} has dtype {x.dtype}; expected a float tensor")
        if not 0 <= self.axis < max(x.ndim, 1) or x.ndim == 0:
            raise ValueError(f"{self}: axis {self.axis} is out of range for {x} "
                             f"({x.ndim} dimensions)")
        return Apply(self, [x], [TensorVariable(TensorType(x.dtype, x.type.shape))])

    def perform(self, node, inputs):
        (x,) = inputs
        with np.errstate(all="ignore"):
            m = np.max(x, axis=self.axis, keepdims=True)
            m = np.where(np.isfinite(m), m, 0)
            s = x - m
            if self.log:
                out = s - np.log(np.sum(np.exp(s), axis=self.axis, keepdims=True))
            else:
                e = np.exp(s)
                out = e / np.sum(e, axis=self.axis, keepdims=True)
        return [np.asarray(out, dtype=x.dtype)]

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, node, grads):
        T = _T()
        (gz,) = grads
        z = node.outputs[0]
        if self.log:
            return [gz - T.exp(z) * T.sum(gz, axis=self.axis, keepdims=True)]
        return [z * (gz - T.sum(gz * z, axis=self.axis, keepdims=True))]

    def __str__(self) -> str:
        return f"{'LogSoftmax' if self.log else 'Softmax'}{{axis={self.axis}}}"


# ---------------------------------------------------------------- row picks
def _check_pick(op, x, y):
    if x.ndim != 2:
        raise TypeError(f"{op}: {x} must be a matrix, got {x.ndim} dimensions")
    if y.ndim != 1 or not D.is_int(y.dtype):
        raise TypeError(f"{op}: labels {y} must be an integer vector, got {y.type}")


@dataclass(frozen=True)
class RowPick(Op):
    """out[i] = x[i, y[i]]: one entry per row, chosen by an integer label."""

    def make_node(self, x, y) -> Apply:
        T = _T()
        x, y = T.as_tensor_variable(x), T.as_tensor_variable(y)
        _check_pick(self, x, y)
        n = x.type.shape[0] if x.type.shape[0] is not None else y.type.shape[0]
        return Apply(self, [x, y], [TensorVariable(TensorType(x.dtype, (n,)))])

    def perform(self, node, inputs):
        x, y = inputs
        if len(y) != len(x):
            raise ValueError(f"{self}: {len(x)} rows but {len(y)} labels")
        return [np.asarray(x[np.arange(len(x)), y], dtype=x.dtype)]

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[0][0],)]

    def L_op(self, node, grads):
        x, y = node.inputs
        (gz,) = grads
        gx = RowPickGrad()(gz, y, x) if D.is_float(x.dtype) else None
        return [gx, None]


@dataclass(frozen=True)
class RowPickGrad(Op):
    """zeros shaped like `like` with g[i] at [i, y[i]] (the gradient of RowPick)."""

    def make_node(self, g, y, like) -> Apply:
        T = _T()
        g, y, like = (T.as_tensor_variable(v) for v in (g, y, like))
        _check_pick(self, like, y)
        if g.ndim != 1:
            raise TypeError(f"{self}: gradient {g} must be a vector")
        if not D.is_float(like.dtype):
            raise TypeError(f"{self}: {like} must be a float matrix")
        g = T.cast(g, like.dtype)
        return Apply(self, [g, y, like], [TensorVariable(TensorType(like.dtype, like.type.shape))])

    def perform(self, node, inputs):
        g, y, like = inputs
        out = np.zeros(like.shape, dtype=node.outputs[0].dtype)
        out[np.arange(len(y)), y] = g
        return [out]

    def infer_shape(self, node, input_shapes):
        return [input_shapes[2]]

    def L_op(self, node, grads):
        g, y, like = node.inputs
        (gz,) = grads
        return [RowPick()(gz, y), None, None]


# ---------------------------------------------------------------- softmax cross-entropy
def _row_lse(x):
    """(x - max, log(sum(exp(x - max)))) per row, as the kernels compute them."""
    m = np.max(x, axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    s = x - m
    return s, np.log(np.sum(np.exp(s), axis=1, keepdims=True))


def _labels(y, n_cols):
    """Labels with negative values wrapped (as RowPick), and which are in range."""
    c = np.where(y < 0, y + n_cols, y).astype(np.int64)
    ok = (c >= 0) & (c < n_cols)
    return np.where(ok, c, 0), ok


@dataclass(frozen=True)
class SoftmaxXent(Op):
    """Cross-entropy of softmax(x) along rows, from the logits x (a matrix), one kernel:
    `loss[i] = logsumexp(x[i]) - x[i, y[i]]` for integer labels y (NaN for a label out of
    range, as RowPick), or `-sum_j t[i, j] * logsoftmax(x)[i, j]` for targets t of x's shape
    (`dense`). Built by the stabilize pass from `-RowPick(logsoftmax(x), y)` and
    `-sum(t * logsoftmax(x), axis=1)`. Finite for any finite logits."""

    dense: bool = False

    def make_node(self, x, t) -> Apply:
        T = _T()
        x, t = T.as_tensor_variable(x), T.as_tensor_variable(t)
        if x.ndim != 2 or not D.is_float(x.dtype):
            raise TypeError(f"{self}: logits {x} must be a float matrix, got {x.type}")
        if self.dense:
            if t.ndim != 2 or t.dtype != x.dtype:
                raise TypeError(f"{self}: targets {t} must be a {x.dtype} matrix, got {t.type}")
        else:
            _check_pick(self, x, t)
        n = x.type.shape[0] if x.type.shape[0] is not None else t.type.shape[0]
        return Apply(self, [x, t], [TensorVariable(TensorType(x.dtype, (n,)))])

    def perform(self, node, inputs):
        x, t = inputs
        if len(t) != len(x) or (self.dense and t.shape != x.shape):
            raise ValueError(f"{self}: logits of shape {x.shape} but targets of shape {t.shape}")
        with np.errstate(all="ignore"):
            s, ls = _row_lse(x)
            if self.dense:
                out = -np.sum(t * (s - ls), axis=1)
            else:
                c, ok = _labels(t, x.shape[1])
                out = np.where(ok, ls[:, 0] - s[np.arange(len(x)), c], np.nan)
        return [np.asarray(out, dtype=x.dtype)]

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[0][0],)]

    def L_op(self, node, grads):
        x, t = node.inputs
        (g,) = grads
        if not self.dense:
            return [SoftmaxXentGrad(True)(g, x, t), None]
        # d/dx = g (softmax(x) sum(t) - t): the log-softmax gradient of -g t.
        gb = g.dimshuffle(0, "x")
        return [SoftmaxXentGrad(False)(-(t * gb), x), -(gb * Softmax(1, True)(x))]

    def __str__(self) -> str:
        return f"SoftmaxXent{{{'dense' if self.dense else 'labels'}}}"


@dataclass(frozen=True)
class SoftmaxXentGrad(Op):
    """The gradient of softmax cross-entropy (and log-softmax) w.r.t. the logits, one kernel:
    - `labels`: inputs (g, x, y) -> `g[i] * (softmax(x)[i] - onehot(y[i]))` (0 on rows whose
      label is out of range, whose loss is NaN);
    - otherwise: inputs (gz, x) -> `gz - softmax(x) * sum(gz, axis=1)`, the gradient through
      log-softmax of gz (what its L_op builds from three kernels)."""

    labels: bool = True

    def make_node(self, g, x, *rest) -> Apply:
        T = _T()
        g, x = T.as_tensor_variable(g), T.as_tensor_variable(x)
        if x.ndim != 2 or not D.is_float(x.dtype):
            raise TypeError(f"{self}: logits {x} must be a float matrix, got {x.type}")
        if self.labels:
            (y,) = rest
            y = T.as_tensor_variable(y)
            _check_pick(self, x, y)
            if g.ndim != 1:
                raise TypeError(f"{self}: gradient {g} must be a vector")
            inputs = [T.cast(g, x.dtype), x, y]
        else:
            if rest or g.ndim != 2:
                raise TypeError(f"{self}: expects (gz, x) with gz a matrix")
            inputs = [T.cast(g, x.dtype), x]
        return Apply(self, inputs, [TensorVariable(TensorType(x.dtype, x.type.shape))])

    def perform(self, node, inputs):
        g, x = inputs[:2]
        with np.errstate(all="ignore"):
            s, ls = _row_lse(x)
            sm = np.exp(s - ls)
            if self.labels:
                c, ok = _labels(inputs[2], x.shape[1])
                onehot = np.zeros_like(x)
                onehot[np.arange(len(x)), c] = 1
                out = np.where(ok[:, None], (sm - onehot) * g[:, None], 0)
            else:
                out = g - sm * np.sum(g, axis=1, keepdims=True)
        return [np.asarray(out, dtype=x.dtype)]

    def infer_shape(self, node, input_shapes):
        return [input_shapes[1]]

    def __str__(self) -> str:
        return f"SoftmaxXentGrad{{{'labels' if self.labels else 'rows'}}}"


@dataclass(frozen=True)
class SoftmaxXentWithGrad(Op):
    """SoftmaxXent{labels} and SoftmaxXentGrad{labels} of the same logits and labels in one
    kernel: inputs (g, x, y), or (g, x, b, y) with `bias` (the logits are x + b, b a vector
    added to every row); outputs the loss per row and its gradient w.r.t. the logits.
    Built by simplify/xent_merge.py where a training step computes both; the per-row work
    (max, exp-sum) is done once, and the logits' bias add needs no kernel of its own."""

    bias: bool = False

    def make_node(self, g, x, *rest) -> Apply:
        T = _T()
        x = T.as_tensor_variable(x)
        if self.bias:
            b, y = rest
            b = T.as_tensor_variable(b)
            if b.ndim != 1 or b.dtype != x.dtype:
                raise TypeError(f"{self}: bias {b} must be a {x.dtype} vector, got {b.type}")
            biased = [b]
        else:
            (y,) = rest
            biased = []
        grad = SoftmaxXentGrad(True).make_node(g, x, y)  # checks g, x and y
        g, x, y = grad.inputs
        loss = SoftmaxXent(False).make_node(x, y).outputs[0].type
        return Apply(self, [g, x] + biased + [y],
                     [TensorVariable(loss), TensorVariable(grad.outputs[0].type)])

    def perform(self, node, inputs):
        g, x = inputs[:2]
        y = inputs[-1]
        if self.bias:
            x = x + inputs[2]
        return (SoftmaxXent(False).perform(node, [x, y]) +
                SoftmaxXentGrad(True).perform(node, [g, x, y]))

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[1][0],), input_shapes[1]]

    def __str__(self) -> str:
        return f"SoftmaxXentWithGrad{{labels{',bias' if self.bias else ''}}}"
