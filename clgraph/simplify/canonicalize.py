"""canonicalize: algebraic identities that make graphs smaller and more regular."""

from __future__ import annotations

import numpy as np

from clgraph.expr.blas import Dot22
from clgraph.expr.elemwise import Elemwise
from clgraph.expr.reduce import Reduce
from clgraph.expr.scalar import ops as S
from clgraph.expr.shape_infer import Shape, Shape_i, elemwise_length_source
from clgraph.expr.shape_ops import DimShuffle, Reshape
from clgraph.expr.subtensor import Subtensor
from clgraph.expr.variable import Constant
from clgraph.simplify.registry import rule


def _const_value(v):
    """The scalar value of a constant that is the same everywhere, else None."""
    if isinstance(v, Constant):
        flat = np.ravel(v.data)
        if flat.size and np.all(flat == flat[0]):
            return flat[0].item()
    return None


def _is(node, op_type):
    return isinstance(node.op, Elemwise) and isinstance(node.op.scalar_op, op_type)


def _T():
    from clgraph import tensor as T

    return T


@rule("canonicalize", tracks=Elemwise)
def mul_by_one(node):
    """x * 1 -> x, 1 * x -> x."""
    if _is(node, S.Mul):
        a, b = node.inputs
        if _const_value(b) == 1:
            return [a]
        if _const_value(a) == 1:
            return [b]
    return None


@rule("canonicalize", tracks=Elemwise)
def add_zero(node):
    """x + 0 -> x, 0 + x -> x, x - 0 -> x."""
    if _is(node, (S.Add, S.Sub)):
        a, b = node.inputs
        if _const_value(b) == 0:
            return [a]
        if _is(node, S.Add) and _const_value(a) == 0:
            return [b]
    return None


@rule("canonicalize", tracks=Elemwise)
def div_by_one(node):
    if _is(node, S.TrueDiv) and _const_value(node.inputs[1]) == 1:
        return [node.inputs[0]]
    return None


@rule("canonicalize", tracks=Elemwise)
def double_neg(node):
    """--x -> x."""
    if _is(node, S.Neg):
        (x,) = node.inputs
        if x.owner is not None and _is(x.owner, S.Neg):
            return [x.owner.inputs[0]]
    return None


@rule("canonicalize", tracks=Elemwise)
def mul_self_to_sqr(node):
    """x * x -> sqr(x)."""
    if _is(node, S.Mul) and node.inputs[0] is node.inputs[1]:
        return [_T().sqr(node.inputs[0])]
    return None


@rule("canonicalize", tracks=Elemwise)
def pow_specialize(node):
    """x**2 -> sqr(x), x**0.5 -> sqrt(x), x**1 -> x, x**-1 -> 1/x (float x)."""
    if not _is(node, S.Pow):
        return None
    x, p = node.inputs
    v = _const_value(p)
    if v is None or x.dtype != node.outputs[0].dtype:
        return None
    T = _T()
    if v == 2:
        return [T.sqr(x)]
    if v == 1:
        return [x]
    if v == 0.5 and x.dtype in ("float32", "float64"):
        return [T.sqrt(x)]
    if v == -1 and x.dtype in ("float32", "float64"):
        return [T.true_div(T.constant(1, dtype=x.dtype), x)]
    return None


@rule("canonicalize", tracks=DimShuffle)
def merge_dimshuffles(node):
    """dimshuffle(dimshuffle(x)) -> one dimshuffle (or x itself)."""
    (x,) = node.inputs
    if x.owner is None or not isinstance(x.owner.op, DimShuffle):
        return None
    inner = x.owner.op.new_order
    outer = node.op.new_order
    combined = tuple("x" if d == "x" else inner[d] for d in outer)
    src = x.owner.inputs[0]
    if combined == tuple(range(src.ndim)):
        return [src]
    return [DimShuffle(combined)(src)]


@rule("canonicalize", tracks=DimShuffle)
def identity_dimshuffle(node):
    if node.op.new_order == tuple(range(node.inputs[0].ndim)):
        return [node.inputs[0]]
    return None


@rule("canonicalize", tracks=Reduce)
def reduce_unit_axes(node):
    """A reduction over axes of length 1 only is a view (and a cast where the dtype widens):
    the gradient of a broadcast bias sums over the row axis, then over the length-1 axis
    its dimshuffle added, which would otherwise cost a kernel."""
    if type(node.op) is not Reduce:
        return None
    (x,) = node.inputs
    if any(x.type.shape[a] != 1 for a in node.op.axes):
        return None
    out = node.outputs[0]
    if node.op.kind in ("and", "or") and x.dtype != "bool":
        return None
    kept = [d for d in range(x.ndim) if d not in node.op.axes]
    view = DimShuffle(tuple(kept))(x) if len(kept) != x.ndim else x
    return [view if view.dtype == out.dtype else _T().cast(view, out.dtype)]


@rule("canonicalize", tracks=Reshape)
def merge_reshapes(node):
    """reshape(reshape(x, s1), s2) -> reshape(x, s2); a reshape to the same static shape
    -> x."""
    x, shp = node.inputs
    if x.owner is not None and isinstance(x.owner.op, Reshape):
        return [node.op(x.owner.inputs[0], shp)]
    if None not in x.type.shape and x.type.shape == node.outputs[0].type.shape:
        return [x]
    return None


@rule("canonicalize", tracks=Elemwise)
def remove_noop_cast(node):
    if _is(node, S.Cast) and node.inputs[0].dtype == node.outputs[0].dtype:
        return [node.inputs[0]]
    return None


@rule("canonicalize", tracks=Subtensor)
def shape_subscript(node):
    """x.shape[k] -> Shape_i(k)(x): one length, known on the host, that arithmetic on it can
    also use there (no kernel for a mean's 1/n)."""
    (shp,) = node.inputs[:1]
    entries = node.op.idx_list
    if (shp.owner is None or type(shp.owner.op) is not Shape or len(node.inputs) != 1
            or len(entries) != 1 or entries[0][0] != "int" or type(entries[0][1]) is not int):
        return None
    x = shp.owner.inputs[0]
    k = entries[0][1]
    if not -x.ndim <= k < x.ndim:
        return None
    out = Shape_i(k % x.ndim)(x)
    return [out] if out.type == node.outputs[0].type else None


@rule("canonicalize", tracks=(Shape_i, Shape))
def shape_of_elemwise(node):
    """The shape of an elementwise result is its non-broadcast input's shape, so computing
    a length never keeps the elementwise node alive (and it can fuse into its user)."""
    (x,) = node.inputs
    o = x.owner
    if o is None or not isinstance(o.op, Elemwise):
        return None
    axes = [node.op.i] if isinstance(node.op, Shape_i) else list(range(x.ndim))
    inp = elemwise_length_source(o, axes)
    return None if inp is None else [node.op(inp)]


@rule("canonicalize", tracks=Dot22)
def dot_of_inner_length_one(node):
    """dot(a, b) with a's columns (b's rows) statically one: the outer product a * b, an
    elementwise kernel that fuses with its neighbours (T.outer; the gradient of W . x for a
    vector x). As a GEMM it ran BLAS on a K = 1 product through a host round trip: 10-20x
    NumPy for outer(2048, 2048)."""
    from clgraph.tensor.basic import cast, mul

    a, b = node.inputs
    out = node.outputs[0]
    if a.type.shape[1] != 1 or b.type.shape[0] != 1 or out.dtype == "bool":
        return None
    prod = cast(mul(a, b), out.dtype)
    return [prod] if prod.type == out.type else None
