"""Gradients of scalar ops, written with tensor functions on the Elemwise's inputs.

Each rule takes (inputs, output, gz) — tensors of the output's shape after broadcasting —
and returns one gradient per input: a tensor, None (disconnected) or a NullGrad.
Behaviour at kinks follows Theano: abs'(0) = 0; maximum/minimum give the gradient to the
input equal to the result, to the first on a tie; rounding and sign have zero gradient.
"""

from __future__ import annotations

import math

from clgraph.diff.markers import (
    DisconnectedGradOp,
    GradClipOp,
    GradScaleOp,
    NullGrad,
    UndefinedGradOp,
    ZeroGradOp,
)
from clgraph.expr import dtypes as D
from clgraph.expr.scalar import ops as S
from clgraph.expr.scalar.fill import Second


def _T():
    from clgraph import tensor as T

    return T


def _zero(x):
    from clgraph.tensor.alloc import zeros_like

    return zeros_like(x)


def _c(v, like):
    """A constant of like's float dtype."""
    return _T().constant(v, dtype=like.dtype if D.is_float(like.dtype) else "float64")


def _unary(fn, x, z, gz):
    T = _T()
    rules = {
        "exp": lambda: gz * z,
        "exp2": lambda: gz * z * _c(math.log(2.0), z),
        "expm1": lambda: gz * (z + _c(1, z)),
        "log": lambda: gz / x,
        "log2": lambda: gz / (x * _c(math.log(2.0), z)),
        "log10": lambda: gz / (x * _c(math.log(10.0), z)),
        "log1p": lambda: gz / (x + _c(1, z)),
        "sqrt": lambda: gz * _c(0.5, z) / z,
        "sin": lambda: gz * T.cos(x),
        "cos": lambda: -gz * T.sin(x),
        "tan": lambda: gz * (_c(1, z) + T.sqr(z)),
        "arcsin": lambda: gz / T.sqrt(_c(1, z) - T.sqr(x)),
        "arccos": lambda: -gz / T.sqrt(_c(1, z) - T.sqr(x)),
        "arctan": lambda: gz / (_c(1, z) + T.sqr(x)),
        "sinh": lambda: gz * T.cosh(x),
        "cosh": lambda: gz * T.sinh(x),
        "tanh": lambda: gz * (_c(1, z) - T.sqr(z)),
        "arcsinh": lambda: gz / T.sqrt(T.sqr(x) + _c(1, z)),
        "arccosh": lambda: gz / T.sqrt(T.sqr(x) - _c(1, z)),
        "arctanh": lambda: gz / (_c(1, z) - T.sqr(x)),
        "erf": lambda: gz * _c(2 / math.sqrt(math.pi), z) * T.exp(-T.sqr(x)),
        "erfc": lambda: -gz * _c(2 / math.sqrt(math.pi), z) * T.exp(-T.sqr(x)),
        "erfinv": lambda: gz * _c(math.sqrt(math.pi) / 2, z) * T.exp(T.sqr(z)),
        "gamma": lambda: gz * z * T.psi(x),
        "gammaln": lambda: gz * T.psi(x),
    }
    if fn == "psi":
        return gz * T.tri_gamma(x)
    if fn == "tri_gamma":
        return NullGrad("the gradient of tri_gamma (tetragamma) is not implemented")
    return rules[fn]()


def scalar_grad(op, inputs, z, gz) -> list:
    """Gradients of one scalar op applied elementwise (see module docstring)."""
    T = _T()
    if not D.is_float(z.dtype) and not isinstance(op, (S.Cast, Second)):
        return [None] * len(inputs)
    own = getattr(op, "grad", None)  # scalar ops defined outside this table (nnet's)
    if own is not None:
        return own(inputs, z, gz)
    if isinstance(op, S.UnaryFloat):
        (x,) = inputs
        return [_unary(op.fn, x, z, gz)]
    if isinstance(op, ZeroGradOp):
        return [_zero(inputs[0])]
    if isinstance(op, DisconnectedGradOp):
        return [None]
    if isinstance(op, GradClipOp):
        return [T.clip(gz, op.lo, op.hi)]
    if isinstance(op, GradScaleOp):
        return [gz * inputs[1], None]
    if isinstance(op, UndefinedGradOp):
        return [NullGrad("the gradient goes through undefined_grad(x): it is undefined")]
    if isinstance(op, S.Identity):
        return [gz]
    if isinstance(op, S.Cast):
        (x,) = inputs
        if not D.is_float(x.dtype) or not D.is_float(z.dtype):
            return [None]
        return [T.cast(gz, x.dtype)]
    if isinstance(op, Second):
        return [None, gz]
    if isinstance(op, S.Neg):
        return [-gz]
    if isinstance(op, S.Abs):
        return [gz * T.sgn(inputs[0])]
    if isinstance(op, S.Sqr):
        return [gz * _c(2, z) * inputs[0]]
    if isinstance(op, (S.Sgn, S.Rounding)):
        return [_zero(inputs[0])]
    if isinstance(op, (S.IsNan, S.IsInf, S.Compare, S.Bitwise, S.Invert)):
        return [None] * len(inputs)
    x = inputs[0]
    y = inputs[1] if len(inputs) > 1 else None
    if isinstance(op, S.Add):
        return [gz, gz]
    if isinstance(op, S.Sub):
        return [gz, -gz]
    if isinstance(op, S.Mul):
        return [gz * y, gz * x]
    if isinstance(op, S.TrueDiv):
        return [gz / y, -gz * x / T.sqr(y)]
    if isinstance(op, S.IntDiv):
        return [_zero(x), _zero(y)]
    if isinstance(op, S.Mod):
        return [gz, -gz * T.floor(x / y)]
    if isinstance(op, S.Pow):
        gx = gz * y * T.pow(x, y - _c(1, z))
        # d/dy x**y = log(x) x**y; at x == 0 this is 0 (not 0 * -inf).
        gy = T.switch(T.eq(x, 0), _c(0, z), gz * T.log(x) * z)
        return [gx, gy]
    if isinstance(op, (S.Maximum, S.Minimum)):
        # A tie goes to x alone (Theano 1.0): the derivative of maximum(x, x) is 1, not 2.
        picks_x = T.eq(z, x)
        return [gz * T.cast(picks_x, z.dtype), gz * T.cast(T.invert(picks_x), z.dtype)]
    if isinstance(op, S.ArcTan2):
        denom = T.sqr(x) + T.sqr(y)
        return [gz * y / denom, -gz * x / denom]
    if isinstance(op, S.Switch):
        c, a, b = inputs
        zero = _c(0, z)
        return [None, T.switch(c, gz, zero), T.switch(c, zero, gz)]
    return [NullGrad(f"no gradient rule for scalar op {op.name}")] * len(inputs)
