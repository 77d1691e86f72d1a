"""Recognising a GEMM epilogue that BLAS can do itself: out = alpha * product + beta * X.

BLAS's gemm computes C = alpha * A . B + beta * C, so an epilogue that is linear in the
product and in at most one other operand (an SGD update `W - lr * P`, weight decay
`0.9 * W - lr * P`, a bias add `P + b`) needs no pass of its own on the host path: C is
filled with X and gemm runs with beta (lower/gemm.py, `HostGemm`). The coefficients may
multiply literals and scalar operands (a learning rate held in a shared variable): those
are read on the host when the product runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr.scalar.composite import Composite, ScalarConstant
from clgraph.expr.scalar.ops import Add, Mul, Neg, Sub

__all__ = ["Coefficient", "LinearEpilogue", "linear_epilogue"]


@dataclass(frozen=True)
class Coefficient:
    """`literal` times the values of the scalar operands `factors` (indices)."""

    literal: float
    factors: tuple[int, ...] = ()

    def times(self, other: Coefficient) -> Coefficient:
        return Coefficient(self.literal * other.literal, tuple(sorted(self.factors +
                                                                      other.factors)))

    def value(self, scalars: dict[int, np.ndarray]) -> float:
        """Its value, given the scalar operands' host values by index."""
        v = self.literal
        for k in self.factors:
            v *= float(scalars[k].reshape(-1)[0])
        return v


@dataclass(frozen=True)
class LinearEpilogue:
    """out = alpha * (operand 0: the product) + beta * operand `addend` (None: beta is 0)."""

    alpha: Coefficient
    addend: int | None
    beta: Coefficient

    @property
    def factors(self) -> tuple[int, ...]:
        """The scalar operands the coefficients read."""
        return tuple(sorted(set(self.alpha.factors + self.beta.factors)))


def linear_epilogue(comp: Composite, scalars: frozenset[int] = frozenset()
                    ) -> LinearEpilogue | None:
    """The linear form of a one-output float program over (product, operands...), or None.

    `scalars`: indices of operands that are scalars (one value broadcast). Every step must
    be an add, subtract, negate, or a multiply by a literal or a scalar operand, all in the
    output's dtype (no casts, no integer arithmetic); a constant term means it is not
    linear (an affine program is left to the kernel)."""
    if len(comp.outputs) != 1:
        return None
    dts = comp.step_dtypes()
    out_dt = dts[comp.outputs[0]]
    if out_dt not in ("float32", "float64") or dts[0] != out_dt:
        return None
    # each register: a Coefficient (a literal value) or {operand index: Coefficient}; a
    # scalar operand is a term (it may be the addend) until something multiplies by it
    vals: list = [{k: Coefficient(1.0)} for k in range(comp.nin)]

    def as_factor(val):
        if isinstance(val, Coefficient):
            return val
        if isinstance(val, dict) and len(val) == 1:
            (k, c), = val.items()
            if k and k in scalars:
                return c.times(Coefficient(1.0, (k,)))
        return None

    for op, refs in comp.steps:
        args = [vals[r] for r in refs]
        if isinstance(op, ScalarConstant):
            val = Coefficient(float(op.value))
        elif any(a is None for a in args) or dts[len(vals)] != out_dt:
            val = None
        elif isinstance(op, Neg):
            val = _scale(args[0], Coefficient(-1.0))
        elif isinstance(op, (Add, Sub)):
            b = args[1] if isinstance(op, Add) else _scale(args[1], Coefficient(-1.0))
            val = _add(args[0], b)
        elif isinstance(op, Mul):
            a, b = args
            fa, fb = as_factor(a), as_factor(b)
            val = _scale(b, fa) if fa is not None else _scale(a, fb) if fb is not None else None
        else:
            val = None
        vals.append(val)
    form = vals[comp.outputs[0]]
    if not isinstance(form, dict) or 0 not in form or form[0].literal == 0.0:
        return None
    others = [k for k in form if k != 0]
    if len(others) > 1:
        return None
    addend = others[0] if others else None
    return LinearEpilogue(form[0], addend, form[addend] if others else Coefficient(0.0))


def _scale(val, c: Coefficient):
    if isinstance(val, Coefficient):
        return val.times(c)
    return {k: v.times(c) for k, v in val.items()} if val is not None else None


def _add(a, b):
    """a + b, or None where it is not a linear form: a scalar meets a tensor term (affine),
    or two coefficients of one operand read different scalar operands."""
    if isinstance(a, Coefficient) or isinstance(b, Coefficient):
        if isinstance(a, Coefficient) and isinstance(b, Coefficient) and \
                a.factors == b.factors:
            return Coefficient(a.literal + b.literal, a.factors)
        return None
    out = dict(a)
    for k, v in b.items():
        if k not in out:
            out[k] = v
        elif out[k].factors == v.factors:
            out[k] = Coefficient(out[k].literal + v.literal, v.factors)
        else:
            return None
    return out
