"""`T.nnet`: activations, softmax, cross-entropies, conv2d and batch normalization (API.md).

Everything is numerically stable for logits of +-1000 in float32: sigmoid and softplus are
scalar ops written without overflowing intermediates, softmax/logsoftmax are single kernels
that subtract the row maximum, and cross-entropies of a softmax or sigmoid output are
computed from the logits (log-softmax, softplus) rather than as log of a rounded
probability, as Theano's stabilising rewrites do.
"""

from __future__ import annotations

from typing import Any

from clgraph.expr import dtypes as D
from clgraph.expr.elemwise import Elemwise
from clgraph.expr.nnet import RowPick, Softmax, scalar_sigmoid, scalar_softplus
from clgraph.expr.variable import TensorVariable

__all__ = [
    "sigmoid", "ultra_fast_sigmoid", "hard_sigmoid", "softplus", "softsign", "softmax",
    "logsoftmax", "log_softmax", "relu", "elu", "selu", "categorical_crossentropy",
    "binary_crossentropy", "sigmoid_binary_crossentropy", "crossentropy_softmax_1hot",
    "crossentropy_softmax_1hot_with_bias", "softmax_with_bias", "conv2d", "bn",
]


def _T():
    from clgraph import tensor as T

    return T


def _float(x: Any) -> TensorVariable:
    T = _T()
    x = T.as_tensor_variable(x)
    if not D.is_float(x.dtype):
        x = T.cast(x, D.upgrade_to_float(x.dtype))
    return x


def _c(value: float, like: TensorVariable) -> TensorVariable:
    return _T().constant(value, dtype=like.dtype)


# ---------------------------------------------------------------- activations
def sigmoid(x: Any) -> TensorVariable:
    """1 / (1 + exp(-x)), elementwise; 0 and 1 (never NaN) at the extremes."""
    return Elemwise(scalar_sigmoid)(_T().as_tensor_variable(x))


ultra_fast_sigmoid = sigmoid


def hard_sigmoid(x: Any) -> TensorVariable:
    """clip(0.2 x + 0.5, 0, 1) (Theano's slope and shift)."""
    x = _float(x)
    return _T().clip(x * _c(0.2, x) + _c(0.5, x), _c(0, x), _c(1, x))


def softplus(x: Any) -> TensorVariable:
    """log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|))."""
    return Elemwise(scalar_softplus)(_T().as_tensor_variable(x))


def softsign(x: Any) -> TensorVariable:
    x = _float(x)
    return x / (_c(1, x) + _T().abs_(x))


def relu(x: Any, alpha: Any = 0) -> TensorVariable:
    """max(x, 0) (one scalar op whose gradient reads its output), or x for x > 0 and alpha x
    below (leaky), in Theano's abs form."""
    from clgraph.expr.relu import scalar_relu

    T = _T()
    x = _float(x)
    if isinstance(alpha, (int, float)) and alpha == 0:
        return Elemwise(scalar_relu)(x)
    if isinstance(alpha, (int, float)):
        f1, f2 = _c(0.5 * (1 + alpha), x), _c(0.5 * (1 - alpha), x)
    else:
        alpha = T.as_tensor_variable(alpha)
        f1 = _c(0.5, x) * (_c(1, x) + alpha)
        f2 = _c(0.5, x) * (_c(1, x) - alpha)
    return f1 * x + f2 * T.abs_(x)


def elu(x: Any, alpha: float = 1) -> TensorVariable:
    """x for x > 0, alpha (exp(x) - 1) below; exp only sees x <= 0, so never overflows."""
    T = _T()
    x = _float(x)
    neg = T.expm1(T.minimum(x, _c(0, x)))
    return T.switch(T.gt(x, _c(0, x)), x, _c(alpha, x) * neg if isinstance(alpha, (int, float))
                    else alpha * neg)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: Any) -> TensorVariable:
    x = _float(x)
    return _c(_SELU_SCALE, x) * elu(x, _SELU_ALPHA)


# ---------------------------------------------------------------- softmax
def _axis(x: TensorVariable, axis: int) -> int:
    if x.ndim == 0:
        raise ValueError(f"softmax: {x} is a scalar; it needs at least one dimension")
    axis = int(axis)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"softmax: axis {axis} is out of range for {x} ({x.ndim} dimensions)")
    return axis % x.ndim


def softmax(x: Any, axis: int | None = -1) -> TensorVariable:
    """exp(x) / sum(exp(x)) along `axis` (None: over all elements, as SciPy and PyTensor),
    one kernel (the maximum subtracted first)."""
    return _softmax(_float(x), axis, False)


def logsoftmax(x: Any, axis: int | None = -1) -> TensorVariable:
    """x - logsumexp(x) along `axis` (None: over all elements), one kernel; finite for any
    finite input."""
    return _softmax(_float(x), axis, True)


def _softmax(x: TensorVariable, axis: int | None, log: bool) -> TensorVariable:
    if axis is None and x.ndim != 1:  # over every element: of the flattened array
        T = _T()
        flat = T.reshape(x, (1, -1)) if x.ndim else T.reshape(x, (1, 1))
        return T.reshape(Softmax(1, log)(flat), x.shape)
    return Softmax(_axis(x, -1 if axis is None else axis), log)(x)


log_softmax = logsoftmax


def softmax_with_bias(x: Any, b: Any) -> TensorVariable:
    return softmax(_float(x) + _T().as_tensor_variable(b))


def _softmax_logits(p: TensorVariable) -> TensorVariable | None:
    """The logits when `p` is softmax(logits) along its last axis, else None."""
    node = p.owner
    if node is not None and isinstance(node.op, Softmax) and not node.op.log and \
            node.op.axis == p.ndim - 1:
        return node.inputs[0]
    return None


def _sigmoid_logits(p: TensorVariable) -> TensorVariable | None:
    node = p.owner
    if node is not None and isinstance(node.op, Elemwise) and node.op.scalar_op == scalar_sigmoid:
        return node.inputs[0]
    return None


# ---------------------------------------------------------------- cross-entropies
def categorical_crossentropy(coding_dist: Any, true_dist: Any) -> TensorVariable:
    """-sum(true_dist * log(coding_dist), axis=-1), or -log(coding_dist[i, true_dist[i]])
    for integer labels. Of a softmax output, computed through log-softmax of its logits."""
    T = _T()
    p = T.as_tensor_variable(coding_dist)
    t = T.as_tensor_variable(true_dist)
    logits = _softmax_logits(p)
    if t.ndim == p.ndim:
        logp = logsoftmax(logits) if logits is not None else T.log(p)
        return -T.sum(t * logp, axis=-1)
    if t.ndim == p.ndim - 1 and p.ndim == 2:
        if not D.is_int(t.dtype):
            raise TypeError(f"categorical_crossentropy: labels {t} must be integers, got "
                            f"{t.dtype} (or give one-hot targets of {p.ndim} dimensions)")
        if logits is not None:
            return -RowPick()(logsoftmax(logits), t)
        return -T.log(RowPick()(p, t))
    raise TypeError(f"categorical_crossentropy: coding_dist {p.type} needs true_dist of the same "
                    f"rank (one-hot) or an integer vector of labels, got {t.type}")


def crossentropy_softmax_1hot(x: Any, y_idx: Any, **kwargs: Any) -> tuple:
    """(nll, softmax(x)) with nll[i] = -log(softmax(x)[i, y_idx[i]]), from log-softmax."""
    x = _float(x)
    return -RowPick()(logsoftmax(x), _T().as_tensor_variable(y_idx)), softmax(x)


def crossentropy_softmax_1hot_with_bias(x: Any, b: Any, y_idx: Any, **kwargs: Any) -> tuple:
    return crossentropy_softmax_1hot(_float(x) + _T().as_tensor_variable(b), y_idx)


def binary_crossentropy(output: Any, target: Any) -> TensorVariable:
    """-(target log(output) + (1 - target) log(1 - output)), elementwise. Of a sigmoid output,
    computed from its logits through softplus, so saturated units keep finite losses."""
    T = _T()
    o = T.as_tensor_variable(output)
    logits = _sigmoid_logits(o)
    if logits is not None:
        return sigmoid_binary_crossentropy(logits, target)
    t = T.as_tensor_variable(target)
    if not D.is_float(t.dtype):
        t = T.cast(t, o.dtype)
    one = _c(1, o)
    return -(t * T.log(o) + (one - t) * T.log(one - o))


def sigmoid_binary_crossentropy(output: Any, target: Any) -> TensorVariable:
    """binary_crossentropy(sigmoid(output), target) from the logits `output` (PyTensor)."""
    T = _T()
    z = _float(output)
    t = T.as_tensor_variable(target)
    if not D.is_float(t.dtype):
        t = T.cast(t, z.dtype)
    return t * softplus(-z) + (_c(1, z) - t) * softplus(z)


from clgraph.tensor.nnet import bn  # noqa: E402
from clgraph.tensor.nnet.conv import conv2d  # noqa: E402
