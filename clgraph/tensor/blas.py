"""dot, matmul (@), outer, tensordot, batched_dot: all through Dot22 and views."""

from __future__ import annotations

from typing import Any

from clgraph.expr.blas import Dot22
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
    raise NotImplementedError("batched_dot is not implemented yet")
