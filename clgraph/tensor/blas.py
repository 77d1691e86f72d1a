"""dot, matmul (@), outer, tensordot (through Dot22 and views); batched_dot and
batched_tensordot (through BatchedDot and views, as tensordot through Dot22)."""

from __future__ import annotations

from typing import Any

import numpy as np

from clgraph.expr.blas import BatchedDot, Dot22
from clgraph.expr.type import shape_str
from clgraph.expr.variable import TensorVariable
from clgraph.tensor.basic import as_tensor_variable, mul
from clgraph.tensor.shape import dimshuffle, reshape, shape_i


def _check_aligned(a: TensorVariable, b: TensorVariable, ka, kb) -> None:
    if ka is not None and kb is not None and ka != kb:
        raise ValueError(f"dot: shapes {shape_str(a.type.shape)} ({a}) and "
                         f"{shape_str(b.type.shape)} ({b}) are not aligned: {ka} != {kb}")


def _prod(lengths: list) -> Any:
    """The product of symbolic lengths; 1 for none."""
    if not lengths:
        return 1
    out = lengths[0]
    for n in lengths[1:]:
        out = mul(out, n)
    return out


def dot(a: Any, b: Any) -> TensorVariable:
    """numpy.dot: scalars multiply; otherwise contract a's last axis with b's second-to-last."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    kb_axis = 0 if b.ndim == 1 else b.ndim - 2
    _check_aligned(a, b, a.type.shape[-1], b.type.shape[kb_axis])
    if a.ndim == 2 and b.ndim == 2:
        return Dot22()(a, b)
    # a -> (M, K); b -> (K, N) with b's contracted axis moved first.
    lead = [shape_i(a, d) for d in range(a.ndim - 1)]
    # Explicit lengths, not -1: a -1 next to a zero length is ambiguous (K = 0).
    if a.ndim == 1:
        a2 = dimshuffle(a, ("x", 0))  # keeps the static 1 that the final dimshuffle drops
    else:
        a2 = a if a.ndim == 2 else reshape(a, [_prod(lead), shape_i(a, a.ndim - 1)])
    if b.ndim == 1:
        b2 = dimshuffle(b, (0, "x"))
        rest = []
    else:
        order = (kb_axis,) + tuple(d for d in range(b.ndim) if d != kb_axis)
        bt = dimshuffle(b, order) if order != tuple(range(b.ndim)) else b
        rest = [shape_i(b, d) for d in range(b.ndim) if d != kb_axis]
        b2 = bt if b.ndim == 2 else reshape(bt, [shape_i(b, kb_axis), _prod(rest)])
    out = Dot22()(a2, b2)
    final = (lead if a.ndim > 1 else []) + rest
    if a.ndim == 1 and b.ndim == 1:
        return dimshuffle(out, ())
    if a.ndim == 2 and b.ndim == 1:
        return dimshuffle(out, (0,))
    if a.ndim == 1 and b.ndim == 2:
        return dimshuffle(out, (1,))
    return reshape(out, final)


def matmul(a: Any, b: Any) -> TensorVariable:
    """`a @ b`: numpy.matmul. Up to 2-d this is dot; stacks of matrices batch over leading
    axes."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: scalar operands are not allowed, use * instead")
    if a.ndim <= 2 and b.ndim <= 2:
        return dot(a, b)
    raise NotImplementedError("matmul of stacks of matrices (ndim > 2) is not implemented yet")


def outer(a: Any, b: Any) -> TensorVariable:
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    a = a if a.ndim == 1 else reshape(a, [-1])
    b = b if b.ndim == 1 else reshape(b, [-1])
    return Dot22()(dimshuffle(a, (0, "x")), dimshuffle(b, ("x", 0)))


def tensordot(a: Any, b: Any, axes: Any = 2) -> TensorVariable:
    """numpy.tensordot: contract `axes` (an int or two sequences) through one Dot22."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if isinstance(axes, int):
        ax_a = list(range(a.ndim - axes, a.ndim))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                      [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
    ax_a = [x % a.ndim for x in ax_a]
    ax_b = [x % b.ndim for x in ax_b]
    if len(ax_a) != len(ax_b):
        raise ValueError(f"tensordot: axes {ax_a} and {ax_b} differ in number")
    for i, j in zip(ax_a, ax_b):
        _check_aligned(a, b, a.type.shape[i], b.type.shape[j])
    free_a = [d for d in range(a.ndim) if d not in ax_a]
    free_b = [d for d in range(b.ndim) if d not in ax_b]
    at = dimshuffle(a, tuple(free_a + ax_a))
    bt = dimshuffle(b, tuple(ax_b + free_b))
    k_total = _prod([shape_i(a, d) for d in ax_a])  # 1 for axes=0: an outer product
    # Explicit lengths, not -1: a -1 next to a zero length is ambiguous.
    m = [shape_i(a, d) for d in free_a]
    n = [shape_i(b, d) for d in free_b]
    a2 = reshape(at, [_prod(m), k_total])
    b2 = reshape(bt, [k_total, _prod(n)])
    out = Dot22()(a2, b2)
    final = m + n
    return reshape(out, final)


def batched_dot(a: Any, b: Any) -> TensorVariable:
    """Theano's batched_dot: `batched_dot(a, b)[i] = dot(a[i], b[i])` over the first (batch)
    axis. (B, n, m) x (B, m, p) -> (B, n, p); (B, n) x (B, n) -> (B,); (B, n, m) x (B, m) ->
    (B, n); (B, n) x (B, n, p) -> (B, p); more axes as batched_tensordot over a's last axis
    and b's second-to-last. A 1-d operand scales the other per batch element (Theano: an
    elementwise product, nothing summed)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    for label, v in (("a", a), ("b", b)):
        if v.ndim == 0:
            raise TypeError(f"batched_dot: {label} ({v}, type {v.type}) must have at least one "
                            "(batch) axis")
    _check_lengths("batched_dot", a, b, 0, 0, "batch sizes")
    if a.ndim == 1:
        return mul(dimshuffle(a, (0,) + ("x",) * (b.ndim - 1)), b)
    if b.ndim == 1:
        return mul(a, dimshuffle(b, (0,) + ("x",) * (a.ndim - 1)))
    return batched_tensordot(a, b, [[a.ndim - 1], [max(1, b.ndim - 2)]])


def batched_tensordot(x: Any, y: Any, axes: Any = 2) -> TensorVariable:
    """Theano's batched_tensordot: tensordot of x[i] and y[i] for every i of the first
    (batch) axis. `axes`: an int n (x's last n axes with y's axes 1..n) or two lists of axes
    (never the batch axis 0). The result's axes: batch, x's free axes, y's free axes.

    Free axes and contracted axes are each flattened into one (views, or copies where a
    transpose must be made contiguous) for one BatchedDot: a host matmul on CPU devices.
    Bool operands, and products with nothing contracted, are a broadcasting product (and
    a sum)."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    ax_x, ax_y = _batched_axes(x, y, axes)
    _check_lengths("batched_tensordot", x, y, 0, 0, "batch sizes")
    for i, j in zip(ax_x, ax_y):
        _check_lengths("batched_tensordot", x, y, i, j, "contracted axes")
    free_x = [d for d in range(1, x.ndim) if d not in ax_x]
    free_y = [d for d in range(1, y.ndim) if d not in ax_y]
    if ax_x and "bool" not in (x.dtype, y.dtype):
        return _batched_product(x, y, free_x, ax_x, free_y, ax_y)
    # (batch, free x, free y, contracted), each operand broadcast over the other's free axes
    xt = dimshuffle(x, (0, *free_x, *("x",) * len(free_y), *ax_x))
    yt = dimshuffle(y, (0, *("x",) * len(free_x), *free_y, *ax_y))
    product = mul(xt, yt)
    if not ax_x:
        return product
    from clgraph.tensor.reduction import sum as reduce_sum

    first = 1 + len(free_x) + len(free_y)
    return reduce_sum(product, axis=tuple(range(first, product.ndim)), dtype=product.dtype)


def _batched_product(x, y, free_x: list, ax_x: list, free_y: list, ax_y: list
                     ) -> TensorVariable:
    """batched_tensordot as one BatchedDot of (B, free x, contracted) and (B, contracted,
    free y), its result reshaped to (B, free x axes..., free y axes...)."""
    xt = dimshuffle(x, (0, *free_x, *ax_x))
    yt = dimshuffle(y, (0, *ax_y, *free_y))
    if x.ndim == 3 and y.ndim == 3 and len(free_x) == len(free_y) == 1:
        return BatchedDot()(xt, yt)  # already (B, M, K) and (B, K, N)
    batch = shape_i(x, 0)
    k_total = _prod([shape_i(x, d) for d in ax_x])
    # Explicit lengths, not -1: a -1 next to a zero length is ambiguous.
    m = [shape_i(x, d) for d in free_x]
    n = [shape_i(y, d) for d in free_y]
    x3 = reshape(xt, [batch, _prod(m), k_total])
    y3 = reshape(yt, [batch, k_total, _prod(n)])
    return reshape(BatchedDot()(x3, y3), [batch] + m + n)


def _batched_axes(x: TensorVariable, y: TensorVariable, axes: Any) -> tuple[list, list]:
    """batched_tensordot's axes as two checked lists (Theano's rules and messages)."""
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        for label, v in (("x", x), ("y", y)):
            if not 0 <= n < v.ndim:
                raise ValueError(f"batched_tensordot: axes={n} must be at least 0 and less than "
                                 f"{label}.ndim={v.ndim} (the batch axis is never summed)")
        return list(range(x.ndim - n, x.ndim)), list(range(1, n + 1))
    if len(axes) != 2:
        raise ValueError(f"batched_tensordot: axes must be an int or two lists of axes, got "
                         f"{axes!r}")
    pair = [[a] if isinstance(a, (int, np.integer)) else list(a) for a in axes]
    if len(pair[0]) != len(pair[1]):
        raise ValueError(f"batched_tensordot: axes {pair[0]} and {pair[1]} differ in number")
    for label, v, ax in (("x", x, pair[0]), ("y", y, pair[1])):
        for d in ax:
            if not -v.ndim <= d < v.ndim:
                raise ValueError(f"batched_tensordot: axis {d} is out of range for {label} "
                                 f"({v.ndim} dimensions)")
        if any(d % v.ndim == 0 for d in ax):
            raise ValueError(f"batched_tensordot: the axes to sum over must not contain the "
                             f"batch axis 0 (axes of {label}: {ax})")
    return [d % x.ndim for d in pair[0]], [d % y.ndim for d in pair[1]]


def _check_lengths(fn: str, a: TensorVariable, b: TensorVariable, i: int, j: int,
                   what: str) -> None:
    """Static lengths of a's axis i and b's axis j that differ: an error at build time
    (unknown ones are compared when the function runs, by the product's shape check)."""
    n, m = a.type.shape[i], b.type.shape[j]
    if n is not None and m is not None and n != m:
        raise ValueError(f"{fn}: {what} differ: axis {i} of {a} (shape "
                         f"{shape_str(a.type.shape)}) has length {n}, axis {j} of {b} (shape "
                         f"{shape_str(b.type.shape)}) has length {m}")
