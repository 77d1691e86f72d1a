"""`cg.gradient`: Theano's gradient module (grad, jacobian, hessian, Rop, Lop, verify_grad,
and the identity ops that change how gradients flow)."""

from __future__ import annotations

from typing import Any

from clgraph.diff import (
    DisconnectedInputError,
    GradientError,
    Lop,
    NullGradError,
    Rop,
    grad,
    hessian,
    jacobian,
    verify_grad,
)
from clgraph.diff.markers import (
    DisconnectedGradOp,
    GradClipOp,
    GradScaleOp,
    UndefinedGradOp,
    ZeroGradOp,
)
from clgraph.expr.elemwise import Elemwise


def _as_var(x):
    from clgraph.tensor.basic import as_tensor_variable

    return as_tensor_variable(x)


def disconnected_grad(x: Any):
    """x in the forward pass; no gradient flows back through it."""
    return Elemwise(DisconnectedGradOp())(_as_var(x))


def consider_constant(x: Any):
    return disconnected_grad(x)


def zero_grad(x: Any):
    """x in the forward pass; a zero gradient flows back through it."""
    return Elemwise(ZeroGradOp())(_as_var(x))


def grad_clip(x: Any, lower_bound: float, upper_bound: float):
    """x in the forward pass; the gradient through it is clipped to [lower, upper]."""
    if lower_bound > upper_bound:
        raise ValueError("grad_clip: lower_bound must not exceed upper_bound")
    return Elemwise(GradClipOp(float(lower_bound), float(upper_bound)))(_as_var(x))


def grad_scale(x: Any, multiplier: Any):
    """x in the forward pass; the gradient through it is multiplied by `multiplier` (a
    number or an expression broadcasting to x, e.g. a shared scale; -1 reverses it)."""
    x, m = _as_var(x), _as_var(multiplier)
    if m.ndim > x.ndim:
        raise TypeError(f"grad_scale: the multiplier {m} ({m.type}) has more dimensions than "
                        f"x ({x.type}); it must broadcast to x")
    out = Elemwise(GradScaleOp())(x, m)
    if out.broadcastable != x.broadcastable:
        raise TypeError(f"grad_scale: the multiplier {m} ({m.type}) does not broadcast to x "
                        f"({x.type}): the result would have type {out.type}")
    return out


def undefined_grad(x: Any):
    """x in the forward pass; its gradient is undefined: grad raises NullGradError (or gives
    None with null_gradients='return') for a wrt it must pass through."""
    return Elemwise(UndefinedGradOp())(_as_var(x))


__all__ = ["DisconnectedInputError", "GradientError", "Lop", "NullGradError", "Rop",
           "consider_constant", "disconnected_grad", "grad", "grad_clip", "grad_scale",
           "hessian", "jacobian", "undefined_grad", "verify_grad", "zero_grad"]
