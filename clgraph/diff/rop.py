"""Rop: forward mode. Tangents flow from `wrt` through each op's R_op rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clgraph.diff.dispatch import RuleTable
from clgraph.diff.markers import GradClipOp, GradScaleOp, UndefinedGradOp
from clgraph.diff.scalar_grads import scalar_grad
from clgraph.expr import dtypes as D
from clgraph.expr.advanced import AdvancedIncSubtensor, AdvancedSubtensor
from clgraph.expr.blas import BatchedDot, Dot22
from clgraph.expr.conv import MaxPoolGradGrad, Pool2d
from clgraph.expr.elemwise import Elemwise
from clgraph.expr.graph import toposort
from clgraph.expr.join import Join
from clgraph.expr.reduce import Argmax, Reduce
from clgraph.expr.scalar.composite import Composite
from clgraph.expr.shape_infer import MakeVector, Shape, Shape_i
from clgraph.expr.shape_ops import DimShuffle, Reshape
from clgraph.expr.subtensor import IncSubtensor, Subtensor
from clgraph.expr.variable import Variable

R_OPS = RuleTable("R_op")
_rule = R_OPS.register


def _T():
    from clgraph import tensor as T

    return T


def _zeros(v):
    from clgraph.tensor.alloc import zeros_like

    return zeros_like(v)


@_rule(Elemwise)
def _elemwise(node, tangents):
    if isinstance(node.op.scalar_op, Composite):
        raise NotImplementedError("Rop through a fused Composite: take Rop before compiling")
    if isinstance(node.op.scalar_op, (GradScaleOp, GradClipOp)):
        return [tangents[0]]  # Theano's ViewOps: identities forward, whatever their gradient
    if isinstance(node.op.scalar_op, UndefinedGradOp):
        return [None]  # Theano's UndefinedGrad.R_op
    z = node.outputs[0]
    total = None
    for i, v in enumerate(tangents):
        if v is None:
            continue
        g = scalar_grad(node.op.scalar_op, list(node.inputs), z, v)[i]
        if g is None:
            continue
        if not isinstance(g, Variable):
            raise NotImplementedError(f"Rop: {node.op} has no derivative: {g}")
        total = g if total is None else total + g
    if total is None:
        return [None]
    from clgraph.tensor.alloc import fill

    # Broadcast to the output's shape (a tangent of a broadcast input is smaller).
    return [_T().cast(fill(z, total), z.dtype) if D.is_float(z.dtype) else None]


@_rule(DimShuffle, Reshape, Subtensor, AdvancedSubtensor)
def _linear_first(node, tangents):
    v = tangents[0]
    if v is None:
        return [None]
    return [node.op(v, *node.inputs[1:])]


@_rule(Join)
def _join(node, tangents):
    if all(v is None for v in tangents):
        return [None]
    vs = [v if v is not None else _zeros(x) for v, x in zip(tangents, node.inputs)]
    return [node.op(*vs)]


@_rule(IncSubtensor, AdvancedIncSubtensor)
def _inc(node, tangents):
    x, y, *extra = node.inputs
    vx, vy = tangents[0], tangents[1]
    if vx is None and vy is None:
        return [None]
    vx = vx if vx is not None else _zeros(x)
    vy = vy if vy is not None else _zeros(y)
    return [node.op(vx, vy, *extra)]


@_rule(Reduce)
def _reduce(node, tangents):
    T = _T()
    (v,) = tangents
    (x,) = node.inputs
    z = node.outputs[0]
    op = node.op
    if v is None or not D.is_float(z.dtype):
        return [None]
    if op.kind == "add":
        return [T.sum(v, axis=op.axes)]
    from clgraph.diff.lop import _expand

    ze = _expand(z, x, op.axes)
    if op.kind in ("max", "min"):
        return [T.sum(v * T.cast(T.eq(x, ze), x.dtype), axis=op.axes)]
    return [z * T.sum(v / x, axis=op.axes)]


@_rule(Dot22, BatchedDot)
def _dot(node, tangents):
    """Bilinear: (a + va) . (b + vb) to first order."""
    a, b = node.inputs
    va, vb = tangents
    terms = []
    if va is not None:
        terms.append(node.op(va, b))
    if vb is not None:
        terms.append(node.op(a, vb))
    if not terms:
        return [None]
    return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]


@_rule(Pool2d)
def _pool(node, tangents):
    """Max pooling passes each window's tangent at its maximum; the other modes are linear."""
    v = tangents[0]
    if v is None:
        return [None]
    if node.op.geom.mode == "max":
        return [MaxPoolGradGrad(node.op.geom)(node.inputs[0], node.outputs[0], v)]
    return [node.op(v)]


@_rule(Argmax, Shape, Shape_i, MakeVector)
def _none(node, tangents):
    return [None] * len(node.outputs)


def R_op(node, tangents: list) -> list:  # noqa: N802 - Theano's name
    fn = R_OPS.lookup(node.op)
    if fn is None:
        return through_l_op(node, tangents)
    return fn(node, tangents)


def through_l_op(node, tangents: list, l_op: Callable | None = None) -> list:
    """J v for an op with a gradient but no R_op rule (scan): its L_op (or `l_op(node,
    output gradients)`) gives J^T u for a symbolic u, so <J^T u, v> = <u, J v> and J v is
    the gradient of that in u (the "double L_op" trick). It is linear in u, so u, where
    the result still names it, is replaced by zeros."""
    from clgraph.diff.grad import grad
    from clgraph.diff.lop import L_op, no_gradient
    from clgraph.diff.markers import NullGrad
    from clgraph.expr.graph import clone_graph

    T = _T()
    outs = [o for o in node.outputs if D.is_float(o.dtype)]
    if not outs or all(v is None for v in tangents):
        return [None] * len(node.outputs)
    us = [o.type() for o in outs]
    by_out = dict(zip(map(id, outs), us))
    lops = (l_op or L_op)(node, [by_out[id(o)] if id(o) in by_out else no_gradient(o)
                                 for o in node.outputs])
    if any(isinstance(g, NullGrad) for g, v in zip(lops, tangents) if v is not None):
        raise NotImplementedError(f"Rop: {node.op} has no R_op, and no gradient for an "
                                  "input with a tangent")
    terms = [(g * v).sum() for g, v in zip(lops, tangents) if v is not None and g is not None]
    if not terms:  # the tangents reach no output
        return [None] * len(node.outputs)
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    jv = grad(total, us, disconnected_inputs="ignore", return_disconnected="zero")
    jv = clone_graph(jv, {u: T.zeros_like(o) for u, o in zip(us, outs)})[0]
    found = dict(zip(map(id, outs), jv))
    return [found.get(id(o)) for o in node.outputs]


def Rop(f: Any, wrt: Any, eval_points: Any, disconnected_outputs: str = "raise",  # noqa: N802
        return_disconnected: str = "zero") -> Any:
    """Jacobian-vector product: the Jacobian of f (w.r.t. wrt) times eval_points. An output
    of f that does not depend on wrt (or only through non-differentiable ops) is Theano's
    disconnected output: an error by default (DisconnectedInputError); with
    disconnected_outputs='warn' or 'ignore', zeros like it (or None, or DisconnectedType()
    as return_disconnected says)."""
    from clgraph.diff.grad import disconnected_options, disconnected_result

    T = _T()
    return_disconnected = disconnected_options(disconnected_outputs, "disconnected_outputs",
                                               return_disconnected)
    single_f = not isinstance(f, (list, tuple))
    fs = [T.as_tensor_variable(x) for x in ([f] if single_f else f)]
    wrts = wrt if isinstance(wrt, (list, tuple)) else [wrt]
    evs = eval_points if isinstance(eval_points, (list, tuple)) else [eval_points]
    if len(wrts) != len(evs):
        raise ValueError(f"Rop: {len(wrts)} wrt variables but {len(evs)} eval points")
    tangent: dict[int, Any] = {}
    for w, v in zip(wrts, evs):
        v = T.as_tensor_variable(v)
        if v.ndim != w.ndim:
            raise ValueError(f"Rop: eval point {v.type} does not match {w} of type {w.type}")
        tangent[id(w)] = v
    for node in toposort(fs, stop=wrts):
        ins = [tangent.get(id(i)) for i in node.inputs]
        if all(t is None for t in ins):
            continue
        for o, t in zip(node.outputs, R_op(node, ins)):
            if t is not None:
                tangent[id(o)] = t
    out = []
    for i, x in enumerate(fs):
        t = tangent.get(id(x))
        if t is None:
            msg = (f"Rop: output {i} ({x}, type {x.type}) does not depend on wrt, or only "
                   "through non-differentiable operations; pass disconnected_outputs='ignore' "
                   "to get zeros")
            t = disconnected_result(x, msg, disconnected_outputs, return_disconnected,
                                    stacklevel=3)
        out.append(t)
    return out[0] if single_f else out
