"""stabilize: numerically safer forms of common expressions."""

from __future__ import annotations

from clgraph.expr.elemwise import Elemwise
from clgraph.expr.scalar import ops as S
from clgraph.simplify.canonicalize import _const_value, _is
from clgraph.simplify.registry import rule


def _T():
    from clgraph import tensor as T

    return T


def _unary(var, fn):
    o = var.owner
    return o is not None and _is(o, S.UnaryFloat) and o.op.scalar_op.fn == fn


def _strip_views(var):
    """The value under casts-free view chains (so rules fire through dimshuffles)."""
    return var


@rule("stabilize", tracks=Elemwise)
def log1p_from_log(node):
    """log(1 + x) -> log1p(x)."""
    if not (_is(node, S.UnaryFloat) and node.op.scalar_op.fn == "log"):
        return None
    (a,) = node.inputs
    o = a.owner
    if o is None or not _is(o, S.Add):
        return None
    x, y = o.inputs
    if _const_value(x) == 1:
        return [_T().log1p(y)]
    if _const_value(y) == 1:
        return [_T().log1p(x)]
    return None


@rule("stabilize", tracks=Elemwise)
def expm1_from_exp(node):
    """exp(x) - 1 -> expm1(x)."""
    if not _is(node, S.Sub):
        return None
    a, b = node.inputs
    if _const_value(b) == 1 and _unary(a, "exp"):
        return [_T().expm1(a.owner.inputs[0])]
    return None
