"""stabilize, continued: forms whose gradients overflow or divide 0 by 0.

A gradient is built from the graph as the user wrote it, before any rewrite, so the
forward rewrites in stabilize.py (log(sigmoid) -> -softplus, log(sum(exp)) -> logsumexp)
leave its terms as they were: d log(sigmoid(x)) is gz / sigmoid(x) * sigmoid(x) *
(1 - sigmoid(x)), which is 0 / 0 once sigmoid(x) underflows. These rules rewrite those
terms (Theano's local_1msigmoid, local_log1p_exp, the division cancellation of its
canonizer, restricted here to values that are never 0, so that only a NaN changes).
"""

from __future__ import annotations

from clgraph.expr.elemwise import Elemwise
from clgraph.expr.scalar import ops as S
from clgraph.expr.scalar.fill import Second
from clgraph.simplify.canonicalize import _const_value, _is
from clgraph.simplify.registry import rule
from clgraph.simplify.stabilize import _fn_of, _rebuild, _through_views


def _T():
    from clgraph import tensor as T

    return T


def _sigmoid_of(var):
    from clgraph.expr.nnet import ScalarSigmoid

    o = var.owner
    return o.inputs[0] if o is not None and _is(o, ScalarSigmoid) else None


def _positive(var) -> bool:
    """Mathematically never 0 nor negative (it may still underflow to 0 in floats)."""
    from clgraph.expr.nnet import Softmax

    o = var.owner
    if o is None:
        return False
    if isinstance(o.op, Softmax):
        return not o.op.log
    return _sigmoid_of(var) is not None or _fn_of(var, "exp") is not None


@rule("stabilize", tracks=Elemwise)
def one_minus_sigmoid(node):
    """1 - sigmoid(x) -> sigmoid(-x): exact, and no cancellation to 0 for large x (so that
    log(1 - sigmoid(x)) becomes -softplus(x) by log_sigmoid_to_softplus)."""
    if not _is(node, S.Sub):
        return None
    one, s = node.inputs
    x = _sigmoid_of(s)
    if x is None or _const_value(one) != 1:
        return None
    out = _T().nnet.sigmoid(-x)
    return [out] if out.type == node.outputs[0].type else None


@rule("stabilize", tracks=Elemwise)
def softplus_from_log1p_exp(node):
    """log1p(exp(x)) -> softplus(x) (log(1 + exp(x)) reaches this form first)."""
    x = _fn_of(node.outputs[0], "log1p")
    x = _fn_of(x, "exp") if x is not None else None
    if x is None:
        return None
    out = _T().nnet.softplus(x)
    return [out] if out.type == node.outputs[0].type else None


def _factors(var, depth: int = 0) -> tuple[list, int]:
    """(the factors of a product tree under `var`, through products and negations, and the
    number of negations); a few levels deep (the chain rule nests them)."""
    o = var.owner
    if o is not None and depth < 6:
        if _is(o, S.Mul):
            out, negs = [], 0
            for v in o.inputs:
                f, n = _factors(v, depth + 1)
                out += f
                negs += n
            return out, negs
        if _is(o, S.Neg):
            f, n = _factors(o.inputs[0], depth + 1)
            return f, n + 1
    return [var], 0


def _split_mul(node, match) -> tuple | None:
    """For a product node: (the first pair of factors (t, e) that `match(t, e)` accepts, the
    other factors, the number of negations), or None."""
    ins, negs = _factors(node.outputs[0])
    for i, t in enumerate(ins):
        for j, e in enumerate(ins):
            if i != j and match(t, e):
                return (t, e), [v for k, v in enumerate(ins) if k not in (i, j)], negs
    return None


def _product(first, rest: list, negs: int, like):
    """first * rest... (negated when negs is odd), of `like`'s type, or None."""
    out = first
    for v in rest:
        out = out * v
    out = -out if negs % 2 else out
    return out if out.type == like.type else None


@rule("stabilize", tracks=Elemwise)
def cancel_positive_division(node):
    """(a / s) * s -> a where s is never 0 (sigmoid, exp, softmax): the chain rule's
    gz / sigmoid(x) * sigmoid(x) is 0 / 0 once sigmoid(x) underflows."""
    if not _is(node, S.Mul):
        return None
    found = _split_mul(node, lambda t, e: _is_div_by(t, e) and _positive(e))
    if found is None:
        return None
    (t, _), rest, negs = found
    return _one(_product(t.owner.inputs[0], rest, negs, node.outputs[0]))


@rule("stabilize", tracks=Elemwise)
def sigmoid_from_exp_ratio(node):
    """(a / (1 + exp(x))) * exp(x) -> a * sigmoid(x): log1p(exp(x))'s gradient, inf / inf
    for large x."""
    if not _is(node, S.Mul):
        return None

    def match(t, e):
        x = _fn_of(e, "exp")
        if x is None or t.owner is None or not _is(t.owner, S.TrueDiv):
            return False
        den = t.owner.inputs[1]
        if den.owner is None or not _is(den.owner, S.Add):
            return False
        p, q = den.owner.inputs
        return (p is e and _const_value(q) == 1) or (q is e and _const_value(p) == 1)

    found = _split_mul(node, match)
    if found is None:
        return None
    (t, e), rest, negs = found
    out = t.owner.inputs[0] * _T().nnet.sigmoid(e.owner.inputs[0])
    return _one(_product(out, rest, negs, node.outputs[0]))


@rule("stabilize", tracks=Elemwise)
def softmax_from_lse_grad(node):
    """fill(e, g / sum(e)) * e with e = exp(x) -> fill(e, g) * exp(x - logsumexp(x)):
    log(sum(exp(x)))'s gradient, inf / inf for large x."""
    from clgraph.expr.reduce import Reduce
    from clgraph.expr.shape_ops import DimShuffle
    from clgraph.tensor.reduction import logsumexp

    if not _is(node, S.Mul):
        return None

    def parts(t, e):
        """(dimshuffle node, g, reduce node, views above it) where t is [fill(., )] DS(g /
        sum(e)) (the sum perhaps under views: keepdims), or None."""
        x = _fn_of(e, "exp")
        if x is None:
            return None
        v = t
        if v.owner is not None and _is(v.owner, Second):  # fill(model, value): a broadcast
            v = v.owner.inputs[1]
        ds = v.owner
        if ds is None or not isinstance(ds.op, DimShuffle):
            return None
        q = ds.inputs[0].owner
        if q is None or not _is(q, S.TrueDiv):
            return None
        g, total = q.inputs
        red, chain = _through_views(total, lambda n: type(n.op) is Reduce)  # keepdims
        if red is None or red.op.kind != "add" or red.op.dtype or red.inputs[0] is not e:
            return None
        return ds, g, red, chain

    found = _split_mul(node, lambda t, e: parts(t, e) is not None)
    if found is None:
        return None
    (t, e), rest, negs = found
    ds, g, red, chain = parts(t, e)
    x = e.owner.inputs[0]
    T = _T()
    lse = _rebuild(logsumexp(x, axis=red.op.axes), chain)
    out = T.fill(e, ds.op(g)) * T.exp(x - ds.op(lse))
    return _one(_product(out, rest, negs, node.outputs[0]))


def _is_div_by(t, s) -> bool:
    o = t.owner
    return o is not None and _is(o, S.TrueDiv) and o.inputs[1] is s


def _one(out):
    return None if out is None else [out]
