"""L_op rules per op type: (node, output gradients) -> one gradient per input.

A rule returns, per input, a tensor of the input's type, None (disconnected) or a NullGrad.
Ops may also define an `L_op(node, grads)` method of their own, which wins.
"""

from __future__ import annotations

from clgraph.diff.dispatch import RuleTable
from clgraph.diff.markers import NullGrad
from clgraph.diff.scalar_grads import scalar_grad
from clgraph.expr import dtypes as D
from clgraph.expr.blas import BatchedDot, Dot22
from clgraph.expr.elemwise import Elemwise
from clgraph.expr.reduce import Argmax, Reduce
from clgraph.expr.scalar.composite import Composite
from clgraph.expr.shape_infer import MakeVector, Shape, Shape_i
from clgraph.expr.shape_ops import DimShuffle, Reshape
from clgraph.expr.subtensor import IncSubtensor, Subtensor

L_OPS = RuleTable("L_op")
rule = L_OPS.register


def no_gradient(var):
    """The gradient of an output nothing flows back to: zeros for a float, None for an
    integer (which carries none)."""
    from clgraph.tensor.alloc import zeros_like

    return zeros_like(var) if D.is_float(var.dtype) else None


def L_op(node, output_grads: list) -> list:  # noqa: N802 - Theano's name
    fn = L_OPS.lookup(node.op)
    if fn is None:
        return [NullGrad(f"{node.op} has no gradient")] * len(node.inputs)
    return fn(node, output_grads)


def _T():
    from clgraph import tensor as T

    return T


def sum_to(g, var):
    """Sum g over the axes where var broadcasts (static length 1), keeping var's rank."""
    T = _T()
    if g is None or isinstance(g, NullGrad):
        return g
    axes = tuple(d for d, (n, m) in enumerate(zip(var.type.shape, g.type.shape))
                 if n == 1 and m != 1)
    if axes:
        g = T.sum(g, axis=axes, keepdims=True)
    if D.is_float(var.dtype) and g.dtype != var.dtype:
        g = T.cast(g, var.dtype)
    return g


@rule(Elemwise)
def _elemwise(node, grads):
    if isinstance(node.op.scalar_op, Composite):
        return [NullGrad("gradients of fused Composite nodes are not implemented: take "
                         "gradients before compiling")] * len(node.inputs)
    (gz,) = grads
    z = node.outputs[0]
    raw = scalar_grad(node.op.scalar_op, list(node.inputs), z, gz)
    return [sum_to(g, x) for g, x in zip(raw, node.inputs)]


def _expand(g, x, axes):
    """g (x reduced over axes) with those axes put back as broadcastable ones."""
    from clgraph.tensor.reduction import expand_reduced

    return expand_reduced(g, x.ndim, axes)


@rule(Reduce)
def _reduce(node, grads):
    from clgraph.tensor.alloc import fill

    T = _T()
    (x,) = node.inputs
    (gz,) = grads
    z = node.outputs[0]
    op = node.op
    if op.kind in ("and", "or") or not D.is_float(x.dtype):
        return [None]
    g = _expand(gz, x, op.axes)
    if op.kind == "add":
        return [T.cast(fill(x, g), x.dtype)]
    ze = _expand(z, x, op.axes)
    if op.kind in ("max", "min"):
        # Theano: every element equal to the extremum gets the gradient (ties included).
        return [T.cast(T.eq(x, ze), x.dtype) * g]
    # prod: z / x where x != 0; the product of the others where x is the only zero.
    is_zero = T.eq(x, 0)
    n_zero = _expand(T.sum(T.cast(is_zero, "int64"), axis=op.axes), x, op.axes)
    prod_nz = _expand(T.prod(T.switch(is_zero, T.constant(1, dtype=x.dtype), x),
                             axis=op.axes), x, op.axes)
    zero = T.constant(0, dtype=x.dtype)
    no_zero = ze / T.switch(is_zero, T.constant(1, dtype=x.dtype), x)
    local = T.switch(T.eq(n_zero, 0), no_zero,
                     T.switch(T.and_(T.eq(n_zero, 1), is_zero), prod_nz, zero))
    return [T.cast(local * g, x.dtype)]


@rule(Argmax, Shape, Shape_i, MakeVector)
def _integer_outputs(node, grads):
    return [None] * len(node.inputs)


@rule(Dot22)
def _dot22(node, grads):
    T = _T()
    a, b = node.inputs
    (gz,) = grads
    ga = T.dot(gz, b.T) if D.is_float(a.dtype) else None
    gb = T.dot(a.T, gz) if D.is_float(b.dtype) else None
    return [T.cast(ga, a.dtype) if ga is not None else None,
            T.cast(gb, b.dtype) if gb is not None else None]


@rule(BatchedDot)
def _batched_dot(node, grads):
    T = _T()
    a, b = node.inputs
    (gz,) = grads
    ga = BatchedDot()(gz, b.dimshuffle(0, 2, 1)) if D.is_float(a.dtype) else None
    gb = BatchedDot()(a.dimshuffle(0, 2, 1), gz) if D.is_float(b.dtype) else None
    return [T.cast(ga, a.dtype) if ga is not None else None,
            T.cast(gb, b.dtype) if gb is not None else None]


@rule(DimShuffle)
def _dimshuffle(node, grads):
    T = _T()
    (x,) = node.inputs
    (gz,) = grads
    order = node.op.new_order
    new_axes = tuple(i for i, d in enumerate(order) if d == "x")
    if new_axes:
        gz = T.sum(gz, axis=new_axes)
    kept = [d for d in order if d != "x"]
    # gz's axes are now the kept input axes in `kept` order; put them back in input order.
    inv = tuple(kept.index(d) for d in sorted(kept))
    g = T.dimshuffle(gz, inv) if inv != tuple(range(len(inv))) else gz
    if len(kept) != x.ndim:
        full, k = [], 0
        for d in range(x.ndim):
            if d in kept:
                full.append(k)
                k += 1
            else:
                full.append("x")
        g = T.dimshuffle(g, tuple(full))
    return [g]


@rule(Reshape)
def _reshape(node, grads):
    T = _T()
    x, _ = node.inputs
    (gz,) = grads
    return [T.reshape(gz, T.shape(x), ndim=x.ndim), None]


@rule(Subtensor)
def _subtensor(node, grads):
    from clgraph.tensor.alloc import zeros_like

    x, *extra = node.inputs
    (gz,) = grads
    if not D.is_float(x.dtype):
        return [None] * len(node.inputs)
    return [IncSubtensor(node.op.idx_list)(zeros_like(x), gz, *extra)] + [None] * len(extra)


@rule(IncSubtensor)
def _inc_subtensor(node, grads):
    x, y, *extra = node.inputs
    (gz,) = grads
    idx = node.op.idx_list
    if node.op.set_instead_of_inc:
        gx = IncSubtensor(idx, True)(gz, _T().constant(0, dtype=gz.dtype), *extra)
    else:
        gx = gz
    gy = Subtensor(idx)(gz, *extra)
    # y may have been broadcast into the region: sum over the broadcast axes.
    lead = gy.ndim - y.ndim
    if lead:
        gy = _T().sum(gy, axis=tuple(range(lead)))
    gy = sum_to(gy, y) if D.is_float(y.dtype) else None
    return [gx, gy] + [None] * len(extra)
