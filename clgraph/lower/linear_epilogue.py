"""Recognising a GEMM epilogue that BLAS can do itself: out = alpha * product + beta * X.

BLAS's gemm computes C = alpha * A . B + beta * C, so an epilogue that is linear in the
product and in at most one other operand (an SGD update `W - lr * P`, weight decay
`0.9 * W - lr * P`, a bias add `P + b`) needs no pass of its own on the host path: C is
filled with X and gemm runs with beta (lower/gemm.py, `HostGemm`).
"""

from __future__ import annotations

from dataclasses import dataclass

from clgraph.expr.scalar.composite import Composite, ScalarConstant
from clgraph.expr.scalar.ops import Add, Mul, Neg, Sub

__all__ = ["LinearEpilogue", "linear_epilogue"]


@dataclass(frozen=True)
class LinearEpilogue:
    """out = alpha * (operand 0: the product) + beta * operand `addend` (None: beta is 0)."""

    alpha: float
    addend: int | None
    beta: float


def linear_epilogue(comp: Composite) -> LinearEpilogue | None:
    """The linear form of a one-output float program over (product, operands...), or None.

    Every step must be an add, subtract, negate or a multiply by a literal, all in the
    output's dtype (no casts, no integer arithmetic); a constant term means it is not
    linear (an affine program is left to the kernel)."""
    if len(comp.outputs) != 1:
        return None
    dts = comp.step_dtypes()
    out_dt = dts[comp.outputs[0]]
    if out_dt not in ("float32", "float64") or dts[0] != out_dt:
        return None
    # value of each register: a float (a literal) or {input index: coefficient}
    vals: list = [{k: 1.0} for k in range(comp.nin)]
    for op, refs in comp.steps:
        args = [vals[r] for r in refs]
        if isinstance(op, ScalarConstant):
            val = float(op.value)
        elif any(a is None for a in args) or dts[len(vals)] != out_dt:
            val = None
        elif isinstance(op, Neg):
            val = _scale(args[0], -1.0)
        elif isinstance(op, (Add, Sub)):
            val = _combine(args[0], args[1], 1.0 if isinstance(op, Add) else -1.0)
        elif isinstance(op, Mul):
            a, b = args
            val = _scale(b, a) if isinstance(a, float) else \
                _scale(a, b) if isinstance(b, float) else None
        else:
            val = None
        vals.append(val)
    form = vals[comp.outputs[0]]
    if not isinstance(form, dict) or not form.get(0):
        return None
    others = [k for k in form if k != 0]
    if len(others) > 1:
        return None
    addend = others[0] if others else None
    return LinearEpilogue(form[0], addend, form[addend] if others else 0.0)


def _scale(val, c: float):
    if isinstance(val, float):
        return val * c
    return {k: v * c for k, v in val.items()} if val is not None else None


def _combine(a, b, sign: float):
    """a + sign * b, or None where a literal meets a linear term (an affine result)."""
    if isinstance(a, float) and isinstance(b, float):
        return a + sign * b
    if isinstance(a, float) or isinstance(b, float):
        return None
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0.0) + sign * v
    return out
