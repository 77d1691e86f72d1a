"""Reductions of the user namespace (axis None/int/tuple, negative axes, keepdims)."""

from __future__ import annotations

from typing import Any

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.reduce import Argmax, Reduce, normalize_axes, reduce_out_dtype
from clgraph.expr.variable import TensorVariable
from clgraph.tensor.basic import as_tensor_variable, cast, constant, true_div
from clgraph.tensor.shape import dimshuffle, flatten, shape_i


def expand_reduced(out: TensorVariable, ndim: int, axes: tuple) -> TensorVariable:
    """`out` (an ndim-dimensional tensor reduced over `axes`) with those axes put back as
    broadcastable ones: keepdims after the fact."""
    order, k = [], 0
    for d in range(ndim):
        if d in axes:
            order.append("x")
        else:
            order.append(k)
            k += 1
    return dimshuffle(out, tuple(order))


def _keep(x: TensorVariable, out: TensorVariable, axes: tuple, keepdims: bool):
    return expand_reduced(out, x.ndim, axes) if keepdims else out


def _reduce(kind: str, x: Any, axis, keepdims: bool, dtype=None, acc_dtype=None):
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim, kind)
    if dtype is not None:
        dtype = D.check_dtype(dtype, kind)
    if not axes:  # nothing reduced: the dtype a reduction gives (NumPy: int8 sums in int64)
        out_dt = "bool" if kind in ("and", "or") else dtype or reduce_out_dtype(kind, x.dtype)
        return x if out_dt == x.dtype else cast(x, out_dt)
    if acc_dtype is not None:
        # Accumulate in acc_dtype (the kernel accumulates in its output dtype), then cast.
        acc = D.check_dtype(acc_dtype, f"{kind} acc_dtype")
        if D.upcast(x.dtype, acc) != acc and not (D.is_float(acc) and
                                                   not D.is_float(x.dtype)):
            # Theano's rule: an accumulator that cannot hold the input's values
            raise TypeError(f"{kind} of {x} ({x.dtype}) with acc_dtype={acc}: precision "
                            f"would be lost; use an accumulator at least as wide as {x.dtype}")
        out = cast(Reduce(kind, axes, acc)(x), dtype or reduce_out_dtype(kind, x.dtype))
        return _keep(x, out, axes, keepdims)
    return _keep(x, Reduce(kind, axes, dtype)(x), axes, keepdims)


def sum(x: Any, axis=None, dtype=None, keepdims: bool = False, acc_dtype=None):  # noqa: A001
    return _reduce("add", x, axis, keepdims, dtype, acc_dtype)


def prod(x: Any, axis=None, dtype=None, keepdims: bool = False, acc_dtype=None,
         no_zeros_in_input: bool = False):
    """Product over the axes. no_zeros_in_input (Theano) promises no zeros so that a cheaper
    gradient may be used; clgraph's gradient is exact with zeros too, so it changes nothing."""
    if not isinstance(no_zeros_in_input, (bool, np.bool_)):
        raise TypeError(f"prod: no_zeros_in_input must be a bool, got {no_zeros_in_input!r}")
    return _reduce("mul", x, axis, keepdims, dtype, acc_dtype)


def max(x: Any, axis=None, keepdims: bool = False):  # noqa: A001
    return _reduce("max", x, axis, keepdims)


def min(x: Any, axis=None, keepdims: bool = False):  # noqa: A001
    return _reduce("min", x, axis, keepdims)


def all(x: Any, axis=None, keepdims: bool = False):  # noqa: A001
    return _reduce("and", x, axis, keepdims)


def any(x: Any, axis=None, keepdims: bool = False):  # noqa: A001
    return _reduce("or", x, axis, keepdims)


def _count(x: TensorVariable, axes: tuple, dtype: str) -> TensorVariable:
    from clgraph.tensor.basic import mul

    n = constant(1, dtype="int64")
    for a in axes:
        n = mul(n, shape_i(x, a))
    return cast(n, dtype)


def _mean_op_dtype(x: TensorVariable, axes: tuple, dtype, acc_dtype) -> str:
    """Theano's mean(op=True), its Mean op: float64, over one axis or all."""
    for name, value in (("dtype", dtype), ("acc_dtype", acc_dtype)):
        if value not in (None, "float64"):
            raise NotImplementedError(f"mean(op=True) always computes in float64 (Theano's "
                                      f"Mean op); {name}={value!r} needs op=False")
    if len(axes) not in (1, x.ndim):
        raise NotImplementedError(f"mean(op=True) reduces one axis or all (Theano's Mean op), "
                                  f"got axes {axes}; use op=False")
    return "float64"


def mean(x: Any, axis=None, dtype=None, op: bool = False, keepdims: bool = False,
         acc_dtype=None):
    """Sum over the axes divided by their length; integer inputs give float64, as NumPy.
    Theano's argument order; op=True is Theano's Mean op (float64)."""
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim, "mean")
    if op:
        dtype = _mean_op_dtype(x, axes, dtype, acc_dtype)
    out_dtype = dtype or (x.dtype if D.is_float(x.dtype) else "float64")
    # No explicit dtype when it is the default, so sum(x) and mean(x) share one node.
    default = reduce_out_dtype("add", x.dtype)
    s = sum(x, axis=axes, dtype=None if out_dtype == default else out_dtype,
            keepdims=keepdims, acc_dtype=acc_dtype)
    out = true_div(s, _count(x, axes, out_dtype))
    # an integer dtype= gives an integer mean (NumPy: the quotient cast to it)
    return out if out.dtype == out_dtype else cast(out, out_dtype)


def var(x: Any, axis=None, ddof: int = 0, keepdims: bool = False, corrected: bool = False):
    """Variance: mean of squared deviations (two passes, as NumPy, for accuracy)."""
    from clgraph.tensor.basic import sqr, sub

    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim, "var")
    if corrected:
        ddof = 1
    m = mean(x, axis=axes, keepdims=True)
    dev = sqr(sub(x, m))
    s = sum(dev, axis=axes, keepdims=keepdims)
    n = _count(x, axes, s.dtype)
    if ddof:
        from clgraph.tensor.basic import maximum

        n = maximum(n - ddof, constant(0, dtype=s.dtype))
    return true_div(s, n)


def std(x: Any, axis=None, ddof: int = 0, keepdims: bool = False, corrected: bool = False):
    from clgraph.tensor.basic import sqrt

    return sqrt(var(x, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected))


def _arg(kind: str, x: Any, axis, keepdims: bool):
    x = as_tensor_variable(x)
    if axis is None:
        flat = flatten(x, 1) if x.ndim != 1 else x
        out = Argmax(0, kind)(flat)
        return dimshuffle(out, ("x",) * x.ndim) if keepdims else out
    if isinstance(axis, (tuple, list)):
        if len(axis) != 1:
            raise ValueError(f"arg{kind} takes one axis or None, got {axis}")
        axis = axis[0]
    (a,) = normalize_axes(axis, x.ndim, f"arg{kind}")
    return _keep(x, Argmax(a, kind)(x), (a,), keepdims)


def argmax(x: Any, axis=None, keepdims: bool = False):
    return _arg("max", x, axis, keepdims)


def argmin(x: Any, axis=None, keepdims: bool = False):
    return _arg("min", x, axis, keepdims)


def logsumexp(x: Any, axis=None, keepdims: bool = False):
    """log(sum(exp(x))) computed stably: max subtracted first (inf-safe)."""
    from clgraph.tensor.basic import add, exp, isinf, log, sub, switch

    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim, "logsumexp")
    m = max(x, axis=axes, keepdims=True)
    m_safe = switch(isinf(m), constant(0, dtype=m.dtype), m)
    s = sum(exp(sub(x, m_safe)), axis=axes, keepdims=True)
    out = add(log(s), m_safe)
    if not keepdims:
        out = _squeeze(out, axes)
    return out


def _squeeze(x: TensorVariable, axes: tuple) -> TensorVariable:
    return dimshuffle(x, tuple(d for d in range(x.ndim) if d not in axes))
