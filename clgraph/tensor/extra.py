"""Theano's smaller array functions, written with the others: squeeze, swapaxes, ptp,
diagonal, diag, trace, max_and_argmax, to_one_hot."""

from __future__ import annotations

from typing import Any

import numpy as np

from clgraph.expr.variable import TensorVariable

__all__ = ["diag", "diagonal", "max_and_argmax", "ptp", "squeeze", "swapaxes", "to_one_hot",
           "trace"]


def _var(x: Any) -> TensorVariable:
    from clgraph.tensor.basic import as_tensor_variable

    return as_tensor_variable(x)


def squeeze(x: Any) -> TensorVariable:
    """`x` without its broadcastable (static length 1) axes."""
    return _var(x).squeeze()


def swapaxes(x: Any, axis1: int, axis2: int) -> TensorVariable:
    return _var(x).swapaxes(axis1, axis2)


def ptp(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """max - min along `axis` (peak to peak)."""
    return _var(x).ptp(axis=axis, keepdims=keepdims)


def diagonal(x: Any, offset: int = 0) -> TensorVariable:
    """The main diagonal of a matrix (`offset` > 0 above it, < 0 below), as NumPy's."""
    from clgraph import tensor as T

    x = _var(x)
    if x.ndim != 2:
        raise TypeError(f"diagonal: {x} ({x.type}) must be a matrix")
    rows, cols = x.shape[0], x.shape[1]
    if offset >= 0:
        n = T.maximum(T.minimum(rows, cols - offset), 0)
        i = T.arange(n)
        return x[i, i + offset]
    n = T.maximum(T.minimum(rows + offset, cols), 0)
    i = T.arange(n)
    return x[i - offset, i]


def diag(v: Any, k: int = 0) -> TensorVariable:
    """Theano's (and NumPy's) diag: a vector's values on diagonal k of a square matrix of
    zeros (n + |k| on a side), or a matrix's diagonal k as a vector."""
    from clgraph import tensor as T

    v = _var(v)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"diag: k must be an int, got {k!r}")
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag: {v} ({v.type}) must be a vector or a matrix")
    n = v.type.shape[0] if v.type.shape[0] is not None else T.shape_i(v, 0)
    i = T.arange(n)
    side = n + abs(int(k))  # static when n is
    rows, cols = (i, i + k) if k >= 0 else (i - k, i)
    return T.set_subtensor(T.zeros((side, side), dtype=v.dtype)[rows, cols], v)


def trace(x: Any, offset: int = 0) -> TensorVariable:
    """The sum of a matrix's diagonal."""
    return diagonal(x, offset).sum()


def max_and_argmax(x: Any, axis: Any = None, keepdims: bool = False
                   ) -> tuple[TensorVariable, TensorVariable]:
    """(max, argmax) along `axis` (Theano's; None: over all elements)."""
    from clgraph.tensor.reduction import argmax
    from clgraph.tensor.reduction import max as max_

    x = _var(x)
    return max_(x, axis=axis, keepdims=keepdims), argmax(x, axis=axis, keepdims=keepdims)


def to_one_hot(y: Any, nb_class: int, dtype: str | None = None) -> TensorVariable:
    """(len(y), nb_class) matrix with a 1 in column y[i] of row i (Theano's
    extra_ops.to_one_hot); dtype defaults to floatX."""
    from clgraph.config import config
    from clgraph.tensor.array import arange
    from clgraph.tensor.basic import cast, eq

    y = _var(y)
    if y.ndim != 1 or y.dtype not in ("int8", "int16", "int32", "int64", "uint8", "uint16",
                                      "uint32", "uint64"):
        raise TypeError(f"to_one_hot: {y} must be a vector of integers, got {y.type}")
    hot = eq(y.dimshuffle(0, "x"), arange(int(nb_class)).dimshuffle("x", 0))
    return cast(hot, dtype or config.floatX)
