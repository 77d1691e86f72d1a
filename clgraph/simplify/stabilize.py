"""stabilize: numerically safer forms of common expressions."""

from __future__ import annotations

from clgraph.expr.elemwise import Elemwise
from clgraph.expr.scalar import ops as S
from clgraph.expr.shape_infer import Shape_i, elemwise_length_source
from clgraph.simplify.canonicalize import _const_value, _is
from clgraph.simplify.registry import rule


def _T():
    from clgraph import tensor as T

    return T


def _fn_of(var, fn: str):
    """x where var is fn(x) (a unary float op: 'exp', 'log1p', ...), else None."""
    o = var.owner
    if o is not None and _is(o, S.UnaryFloat) and o.op.scalar_op.fn == fn:
        return o.inputs[0]
    return None


def _unary(var, fn):
    return _fn_of(var, fn) is not None


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
    """log(sum(exp(x), axes)) -> max + log(sum(exp(x - max))): no overflow for large x; also
    through views (keepdims) and casts."""
    from clgraph.expr.reduce import Reduce
    from clgraph.tensor.reduction import logsumexp

    if not (_is(node, S.UnaryFloat) and node.op.scalar_op.fn == "log"):
        return None
    # through views: sum(..., keepdims=True) is a dimshuffle of the sum
    red, chain = _through_views(node.inputs[0], lambda n: type(n.op) is Reduce)
    if red is None or red.op.kind != "add" or red.op.dtype:
        return None
    e = red.inputs[0]
    if not _unary(e, "exp") or e.owner.tag.get("lse_stable"):
        return None
    out = _rebuild(logsumexp(e.owner.inputs[0], axis=red.op.axes), chain)
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


# ------------------------------------------------------------------ softmax, cross-entropy
def _keepdims_of(var, kind: str, axis: int):
    """x when `var` is Reduce{kind, axes=(axis,)}(x) with its axis put back (keepdims)."""
    from clgraph.expr.reduce import Reduce
    from clgraph.expr.shape_ops import DimShuffle

    ds = var.owner
    if ds is None or not isinstance(ds.op, DimShuffle):
        return None
    red = ds.inputs[0].owner
    if red is None or type(red.op) is not Reduce or red.op.kind != kind or \
            tuple(red.op.axes) != (axis,) or red.op.dtype:
        return None
    ndim = red.inputs[0].ndim
    want = tuple(range(axis)) + ("x",) + tuple(range(axis, ndim - 1))
    return red.inputs[0] if tuple(ds.op.new_order) == want else None


def same_value(a, b, depth: int = 4) -> bool:
    """Whether a and b are one value: the same variable, or the same op on the same values
    (what merge makes one node; `exp(m) / exp(m).sum(...)` before merge has two exps)."""
    if a is b:
        return True
    oa, ob = a.owner, b.owner
    if depth == 0 or oa is None or ob is None or oa.op != ob.op or \
            oa.outputs.index(a) != ob.outputs.index(b) or len(oa.inputs) != len(ob.inputs):
        return False
    return all(same_value(i, j, depth - 1) for i, j in zip(oa.inputs, ob.inputs, strict=True))


def softmax_formula(node):
    """(z, axis, interior) when node is exp(z) / sum(exp(z), axis, keepdims), i.e. the
    softmax of z along axis, written out; z is x for z = x - max(x, axis, keepdims) (softmax
    does not change with a shift). interior: the variables between z and the node."""
    if not _is(node, S.TrueDiv):
        return None
    num, den = node.inputs
    if not _unary(num, "exp") or num.ndim == 0:
        return None
    for axis in range(num.ndim):
        summed = _keepdims_of(den, "add", axis)
        if summed is not None and same_value(summed, num):
            break
    else:
        return None
    z = num.owner.inputs[0]
    interior = [num, den, den.owner.inputs[0], summed]
    if _is_node(z, S.Sub):
        x, mx = z.owner.inputs
        if _keepdims_of(mx, "max", axis) is x and x.type == z.type:
            interior += [z, mx, mx.owner.inputs[0]]
            z = x
    return z, axis, interior


@rule("stabilize", tracks=Elemwise)
def softmax_from_formula(node):
    """exp(z) / sum(exp(z), axis, keepdims) -> softmax(z) along axis, one kernel; with
    z = x - max(x, axis, keepdims), softmax(x) (the max is part of the kernel)."""
    from clgraph.expr.nnet import Softmax

    found = softmax_formula(node)
    return None if found is None else [Softmax(found[1], False)(found[0])]


def _is_node(var, op_type) -> bool:
    return var.owner is not None and _is(var.owner, op_type)


def _logsoftmax_rows(var):
    """x when var is logsoftmax(x) along the rows of a matrix x; x[rows] when var is a row
    slice of logsoftmax(x) (which is logsoftmax(x[rows]))."""
    from clgraph.expr.nnet import Softmax
    from clgraph.expr.subtensor import Subtensor

    o = var.owner
    if o is not None and isinstance(o.op, Subtensor) and len(o.op.idx_list) == 1 and \
            o.op.idx_list[0][0] == "slice" and var.ndim == 2:
        x = _logsoftmax_rows(o.inputs[0])
        return None if x is None else o.op(x, *o.inputs[1:])
    if o is not None and isinstance(o.op, Softmax) and o.op.log and var.ndim == 2 and \
            o.op.axis == 1:
        return o.inputs[0]
    return None


def _length_of(n, var) -> bool:
    """n is len(var): Shape_i{0}(var) or Shape(var)[0]."""
    from clgraph.expr.shape_infer import Shape
    from clgraph.expr.subtensor import Subtensor

    o = n.owner
    if o is None:
        return False
    if isinstance(o.op, Shape_i):
        return o.op.i == 0 and o.inputs[0] is var
    if isinstance(o.op, Subtensor) and o.op.idx_list == (("int", 0),):
        sh = o.inputs[0].owner
        return sh is not None and isinstance(sh.op, Shape) and sh.inputs[0] is var
    return False


@rule("stabilize")
def pick_from_arange_index(node):
    """m[arange(len(y)), y] -> RowPick(m[:len(y)], y) for m = logsoftmax(x) and integer
    labels y (the tutorials' `-mean(log(p)[arange(y.shape[0]), y])`), for the loss rules."""
    from clgraph.expr.advanced import AdvancedSubtensor
    from clgraph.expr.array_ops import ARange
    from clgraph.expr.nnet import RowPick

    if not isinstance(node.op, AdvancedSubtensor) or \
            node.op.idx_list != (("adv", 0), ("adv", 1)):
        return None
    m, a, y = node.inputs
    # Only of a log-softmax (the loss rules then take it): RowPick gives NaN for a label out
    # of range where the gather raises, the convention of the losses, not of indexing.
    if _logsoftmax_rows(m) is None or a.owner is None or not isinstance(a.owner.op, ARange) or \
            y.ndim != 1 or not y.dtype.startswith(("int", "uint")):
        return None
    start, stop, step = a.owner.inputs
    if _const_value(start) != 0 or _const_value(step) != 1 or not _length_of(stop, y):
        return None
    return [RowPick()(m[:stop], y)]


def _negated(var):
    """-var, without stacking negations."""
    if _is_node(var, S.Neg):
        return var.owner.inputs[0]
    return -var


@rule("stabilize", tracks=Elemwise)
def log_pick_softmax(node):
    """log(RowPick(softmax(x), y)) -> RowPick(logsoftmax(x), y) (then the loss rule)."""
    from clgraph.expr.nnet import RowPick, Softmax

    if not (_is(node, S.UnaryFloat) and node.op.scalar_op.fn == "log"):
        return None
    pick = node.inputs[0].owner
    if pick is None or not isinstance(pick.op, RowPick):
        return None
    sm = pick.inputs[0].owner
    if sm is None or not isinstance(sm.op, Softmax) or sm.op.log or sm.op.axis != 1:
        return None
    return [RowPick()(Softmax(1, True)(sm.inputs[0]), pick.inputs[1])]


@rule("stabilize")
def softmax_xent_loss(node):
    """RowPick(logsoftmax(x), y) -> -SoftmaxXent(x, y);
    -sum(t * logsoftmax(x), axis=1) -> SoftmaxXent{dense}(x, t): one kernel per loss."""
    from clgraph.expr.nnet import RowPick, SoftmaxXent
    from clgraph.expr.reduce import Reduce

    if isinstance(node.op, RowPick):  # a pick not negated right away (-mean(pick))
        x = _logsoftmax_rows(node.inputs[0])
        return None if x is None else [-SoftmaxXent(False)(x, node.inputs[1])]
    if not _is(node, S.Neg):
        return None
    inner = node.inputs[0].owner
    if inner is None:
        return None
    if _is(inner, S.Neg) and inner.inputs[0].owner is not None and \
            isinstance(inner.inputs[0].owner.op, SoftmaxXent):
        return [inner.inputs[0]]  # -(-loss), from a pick rewritten above
    if isinstance(inner.op, RowPick):
        x = _logsoftmax_rows(inner.inputs[0])
        return None if x is None else [SoftmaxXent(False)(x, inner.inputs[1])]
    if type(inner.op) is not Reduce or inner.op.kind != "add" or inner.op.dtype or \
            tuple(inner.op.axes) != (1,) or not _is_node(inner.inputs[0], S.Mul):
        return None
    for t, lsm in (inner.inputs[0].owner.inputs, reversed(inner.inputs[0].owner.inputs)):
        x = _logsoftmax_rows(lsm)
        if x is not None and t.ndim == 2 and t.dtype == x.dtype and \
                all(t.type.shape[d] != 1 or x.type.shape[d] == 1 for d in range(2)):
            return [SoftmaxXent(True)(x, t)]
    return None


def _unfilled(g):
    """b for g = second(a, b) (b broadcast to a's shape) when b is a length-1 vector: the
    gradient kernel broadcasts it itself, so the filled vector is never written."""
    from clgraph.expr.scalar.fill import Second

    if g.owner is not None and _is(g.owner, Second):
        b = g.owner.inputs[1]
        if b.ndim == 1 and b.type.shape == (1,) and b.dtype == g.dtype:
            return b
    return g


def _lsm_grad_parts(node):
    """(gz, x) when node is gz - exp(logsoftmax(x)) * sum(gz, axis=1, keepdims): the
    gradient through log-softmax as its L_op builds it."""
    if not _is(node, S.Sub):
        return None
    gz, prod = node.inputs
    if not _is_node(prod, S.Mul) or gz.ndim != 2:
        return None
    for e, s in (prod.owner.inputs, reversed(prod.owner.inputs)):
        if _unary(e, "exp") and _keepdims_of(s, "add", 1) is gz:
            x = _logsoftmax_rows(e.owner.inputs[0])
            if x is not None:
                return gz, x
    return None


@rule("stabilize", tracks=Elemwise)
def softmax_xent_grad(node):
    """The log-softmax gradient gz - softmax(x) * sum(gz) -> SoftmaxXentGrad: one kernel;
    with gz = RowPickGrad(h, y) (integer-label cross-entropy), g (softmax - onehot) with
    g = -h, without the scattered one-hot matrix."""
    from clgraph.expr.nnet import RowPickGrad, SoftmaxXentGrad

    parts = _lsm_grad_parts(node)
    if parts is None:
        return None
    gz, x = parts
    pick = gz.owner
    if pick is not None and isinstance(pick.op, RowPickGrad):
        h, y, _like = pick.inputs
        return [SoftmaxXentGrad(True)(_unfilled(_negated(h)), x, y)]
    return [SoftmaxXentGrad(False)(gz, x)]


@rule("stabilize", tracks=Shape_i)
def shape_from_inputs(node):
    """Shape_i{i}(op(...)) -> Shape_i{j}(input) for the nnet ops below, whose lengths are
    their inputs' (followed up the graph as far as it goes): after the rules above replace a
    loss, `mean`'s row count must not keep the old nodes (RowPick, log-softmax) computing
    only to be measured."""
    from clgraph.expr.nnet import Softmax
    from clgraph.expr.subtensor import Subtensor

    var, i = node.inputs[0], node.op.i
    moved = False
    while True:
        found = _input_dim(var, i)
        if found is None:
            o = var.owner
            # A slice of softmax(x) has the shape of that slice of x.
            if o is not None and isinstance(o.op, Subtensor) and o.inputs[0].owner is not None \
                    and isinstance(o.inputs[0].owner.op, Softmax):
                var = o.op(o.inputs[0].owner.inputs[0], *o.inputs[1:])
                moved = True
            break
        var, i = found
        moved = True
    return [Shape_i(i)(var)] if moved else None


def _input_dim(var, i: int):
    """(input, axis) whose length op's infer_shape gives for axis i of var, else None."""
    from clgraph.expr import nnet
    from clgraph.expr.blas import Dot22
    from clgraph.expr.reduce import Reduce

    owner = var.owner
    if owner is not None and isinstance(owner.op, Elemwise):  # as canonicalize's rule
        inp = elemwise_length_source(owner, [i])
        return None if inp is None else (inp, i)
    # Only the ops these rules replace, plain reductions and matrix products, whose
    # infer_shape passes input lengths through (not FusedReduce, whose inputs broadcast): a
    # mean over the rows of dot(h, W) + b then does not keep the product from its epilogue.
    if owner is None or not (type(owner.op) in (Reduce, Dot22) or isinstance(
            owner.op, (nnet.Softmax, nnet.RowPick, nnet.RowPickGrad, nnet.SoftmaxXent,
                       nnet.SoftmaxXentGrad))):
        return None
    infer = owner.op.infer_shape
    dims = [tuple(Shape_i(d)(inp) for d in range(inp.ndim)) for inp in owner.inputs]
    try:
        got = infer(owner, dims)[owner.outputs.index(var)][i]
    except Exception:  # noqa: BLE001 - an op whose infer_shape needs more than lengths
        return None
    for inp, ds in zip(owner.inputs, dims, strict=True):
        for d, v in enumerate(ds):
            if got is v:
                return inp, d
    return None


@rule("stabilize", tracks=Elemwise)
def fill_shape_from_inputs(node):
    """second(a, b) (b broadcast to a's shape) -> second(c, b) with c an input of the
    elementwise (or softmax) a of a's shape: the gradient of a sum is such a fill, and it
    must not keep its input's computation (a log-softmax the loss rules removed) alive for
    its shape."""
    from clgraph.expr.nnet import Softmax
    from clgraph.expr.scalar.fill import Second

    if not _is(node, Second):
        return None
    a, b = node.inputs
    start = a
    while a.owner is not None and isinstance(a.owner.op, (Elemwise, Softmax)):
        for inp in a.owner.inputs[:1] if isinstance(a.owner.op, Softmax) else a.owner.inputs:
            if inp.ndim == a.ndim and all(inp.type.shape[d] != 1 or a.type.shape[d] == 1
                                          for d in range(a.ndim)):
                a = inp
                break
        else:
            break
    return None if a is start else [node.op(a, b)]


@rule("stabilize", tracks=Elemwise)
def softmax_grad_of_log(node):
    """sm * (q - sum(q * sm, axis=1, keepdims)) with q = gz / sm and sm = softmax(x): the
    gradient of log(softmax(x)) written by hand (Softmax's L_op after log's), which is
    gz - sm * sum(gz): SoftmaxXentGrad (rows of a matrix: one kernel), that formula along
    other axes; no division by an underflowed sm."""
    from clgraph.expr.nnet import Softmax, SoftmaxXentGrad

    if not _is(node, S.Mul):
        return None
    for sm, d in (node.inputs, reversed(node.inputs)):
        o = sm.owner
        if o is None or not isinstance(o.op, Softmax) or o.op.log or not _is_node(d, S.Sub):
            continue
        q, s = d.owner.inputs
        if not _is_node(q, S.TrueDiv) or q.owner.inputs[1] is not sm:
            continue
        prod = _keepdims_of(s, "add", o.op.axis)
        gz = q.owner.inputs[0]
        # the sum of q * sm, or of gz where a rewrite already cancelled sm
        if prod is None or not (prod is gz or _is_node(prod, S.Mul) and
                                set(prod.owner.inputs) == {q, sm}):
            continue
        if o.op.axis == 1 and sm.ndim == 2 and gz.type == sm.type == node.outputs[0].type:
            return [SoftmaxXentGrad(False)(gz, o.inputs[0])]
        # other axes, or gz of another static shape: the same formula written out (an
        # elementwise kernel and a sum)
        out = gz - sm * _T().sum(gz, axis=o.op.axis, keepdims=True)
        return [out] if out.type == node.outputs[0].type else None
    return None
