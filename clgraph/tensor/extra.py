"""Theano's smaller array functions, written with the others: squeeze, swapaxes, ptp,
diagonal, trace."""

from __future__ import annotations

from typing import Any

from clgraph.expr.variable import TensorVariable

__all__ = ["diagonal", "ptp", "squeeze", "swapaxes", "trace"]


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


def trace(x: Any, offset: int = 0) -> TensorVariable:
    """The sum of a matrix's diagonal."""
    return diagonal(x, offset).sum()
