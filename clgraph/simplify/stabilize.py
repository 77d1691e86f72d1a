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


def _through_views(var, match):
    """Follow dimshuffles, reshapes, basic slices and float casts down from `var` to a
    node accepted by `match`; returns (that node, the chain of view/cast nodes above it)."""
    from clgraph.expr.shape_ops import DimShuffle, Reshape
    from clgraph.expr.subtensor import Subtensor

    chain = []
    while var.owner is not None:
        node = var.owner
        if match(node):
            return node, chain
        is_cast = _is(node, S.Cast) and node.outputs[0].dtype in ("float32", "float64") \
            and node.inputs[0].dtype in ("float32", "float64")
        if isinstance(node.op, (DimShuffle, Reshape, Subtensor)) or is_cast:
            chain.append(node)
            var = node.inputs[0]
            continue
        return None, []
    return None, []


def _rebuild(value, chain):
    """Apply the chain of view/cast nodes (outermost last in `chain` order) to `value`."""
    for node in reversed(chain):
        value = node.op(value, *node.inputs[1:])
    return value


@rule("stabilize", tracks=Elemwise)
def log_softmax_to_logsoftmax(node):
    """log(softmax(x)) -> logsoftmax(x), also through reshapes, dimshuffles and casts."""
    from clgraph.expr.nnet import Softmax

    if not (_is(node, S.UnaryFloat) and node.op.scalar_op.fn == "log"):
        return None
    sm, chain = _through_views(node.inputs[0],
                               lambda n: isinstance(n.op, Softmax) and not n.op.log)
    if sm is None:
        return None
    out = _rebuild(Softmax(sm.op.axis, True)(sm.inputs[0]), chain)
    return [out] if out.type == node.outputs[0].type else None


@rule("stabilize", tracks=Elemwise)
def log_sigmoid_to_softplus(node):
    """log(sigmoid(x)) -> -softplus(-x), also through views and casts."""
    from clgraph.expr.nnet import ScalarSigmoid
    from clgraph.tensor.nnet import softplus

    if not (_is(node, S.UnaryFloat) and node.op.scalar_op.fn == "log"):
        return None
    sg, chain = _through_views(node.inputs[0], lambda n: _is(n, ScalarSigmoid))
    if sg is None:
        return None
    out = _rebuild(-softplus(-sg.inputs[0]), chain)
    return [out] if out.type == node.outputs[0].type else None


@rule("stabilize", tracks=Elemwise)
def log_sum_exp(node):
    """log(sum(exp(x), axes)) -> max + log(sum(exp(x - max))): no overflow for large x."""
    from clgraph.expr.reduce import Reduce
    from clgraph.tensor.reduction import logsumexp

    if not (_is(node, S.UnaryFloat) and node.op.scalar_op.fn == "log"):
        return None
    red = node.inputs[0].owner
    if red is None or type(red.op) is not Reduce or red.op.kind != "add" or red.op.dtype:
        return None
    e = red.inputs[0]
    if not _unary(e, "exp") or e.owner.tag.get("lse_stable"):
        return None
    out = logsumexp(e.owner.inputs[0], axis=red.op.axes)
    # Mark the new exp so this rule does not fire on its own output again.
    for n in _ancestors(out):
        if _is(n, S.UnaryFloat) and n.op.scalar_op.fn == "exp":
            n.tag["lse_stable"] = True
    return [out] if out.type == node.outputs[0].type else None


def _ancestors(var, depth: int = 6):
    stack, seen = [(var, 0)], []
    while stack:
        v, d = stack.pop()
        if v.owner is None or d > depth or v.owner in seen:
            continue
        seen.append(v.owner)
        stack += [(i, d + 1) for i in v.owner.inputs]
    return seen
