"""Fusion of producers used several times inside one group, and reductions over unit axes
(both seen in the MLP training step's gradient: relu's grad and the bias grad)."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.expr.elemwise import Elemwise
from clgraph.expr.reduce import Reduce


def _nodes(fn, op_type):
    return [n for n in fn.fgraph.toposort() if isinstance(n.op, op_type)]


def test_value_used_by_two_nodes_of_one_group_is_fused():
    x, g = T.fmatrix("x"), T.fmatrix("g")
    t = g * 0.5
    out = t + t * T.sgn(x)  # t has two clients, both in the group rooted at the add
    f = cg.function([x, g], out)
    assert len(_nodes(f, Elemwise)) == 1
    assert len(f.kernels()) == 1
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 7, 33)).astype("float32")
    np.testing.assert_allclose(f(a, b), b * 0.5 + b * 0.5 * np.sign(a), rtol=1e-6)


def test_value_also_used_outside_the_group_is_not_fused():
    x = T.fvector("x")
    t = T.exp(x)
    f = cg.function([x], [t + t * x, t])  # t is an output too: computed once, kept apart
    assert len(_nodes(f, Elemwise)) == 2
    a = np.linspace(-2, 2, 50).astype("float32")
    got, got_t = f(a)
    np.testing.assert_allclose(got, np.exp(a) * (1 + a), rtol=1e-6)
    np.testing.assert_allclose(got_t, np.exp(a), rtol=1e-6)


def test_relu_layer_gradient_kernels():
    x = T.fmatrix("x")
    w = cg.shared(np.ones((5, 4), "float32"), name="w")
    b = cg.shared(np.zeros(4, "float32"), name="b")
    loss = T.sum(T.nnet.relu(T.dot(x, w) + b) ** 2)
    gb = cg.grad(loss, b)
    f = cg.function([x], gb)
    # the bias gradient is one reduction: no second sum over the unit axis b's dimshuffle added
    assert len(_nodes(f, Reduce)) == 1, cg.printing.debugprint(f, file="str")
    a = np.random.default_rng(1).standard_normal((6, 5)).astype("float32")
    h = a @ np.ones((5, 4), "float32")
    np.testing.assert_allclose(f(a), (2 * np.maximum(h, 0) * (h > 0)).sum(0), rtol=1e-5)


@pytest.mark.parametrize("kind,dtype", [("sum", "float32"), ("sum", "int8"), ("prod", "int32"),
                                        ("max", "float64"), ("min", "int16"), ("any", "bool")])
def test_reduce_over_unit_axes_is_a_view(kind, dtype):
    x = T.tensor(dtype, shape=(1, None, 1))
    r = getattr(T, kind)(x, axis=(0, 2))
    f = cg.function([x], r)
    g = cg.function([x], r, mode=cg.compile.Mode(optimizer="None"))
    assert not _nodes(f, Reduce)
    a = (np.random.default_rng(2).standard_normal((1, 9, 1)) * 5).astype(dtype)
    want = getattr(np, kind)(a, axis=(0, 2))
    for fn in (f, g):
        got = fn(a)
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        np.testing.assert_array_equal(got, want)


def test_a_pass_that_changes_an_output_type_is_caught():
    from clgraph.expr.graph import FunctionGraph
    from clgraph.simplify import passes

    x = T.fmatrix("x")
    fg = FunctionGraph([x], [T.exp(x)])
    bad = FunctionGraph([x], [T.cast(T.exp(x), "float64")])
    with pytest.raises(passes.PassValidationError, match="pass broken changed output 0"):
        passes.validate_pass("broken", fg, bad)
    passes.validate_pass("fine", fg, FunctionGraph([x], [T.exp(x) + 0]))


def test_lengths_of_a_product_come_from_its_operands():
    """mean(xent(dot(h, W) + b)) divides by dot's row count: read from h, so the product is
    free to take the bias as its GEMM epilogue."""
    from clgraph.expr.blas import Dot22, GemmEpilogue
    from clgraph.expr.shape_infer import Shape_i

    h, W, b, y = T.fmatrix("h"), T.fmatrix("W"), T.fvector("b"), T.ivector("y")
    loss = T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(h, W) + b), y))
    f = cg.function([h, W, b, y], loss)
    assert not [n for n in f.fgraph.toposort() if isinstance(n.op, Shape_i)
                and n.inputs[0].owner is not None
                and isinstance(n.inputs[0].owner.op, (Dot22, GemmEpilogue))]
    assert _nodes(f, GemmEpilogue)
    rng = np.random.default_rng(3)
    hv, Wv = rng.standard_normal((6, 4)).astype("f4"), rng.standard_normal((4, 5)).astype("f4")
    bv, yv = rng.standard_normal(5).astype("f4"), np.array([0, 4, 2, 1, 3, 0], "int32")
    z = hv @ Wv + bv
    z = z - z.max(1, keepdims=True)
    want = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(6), yv])
    np.testing.assert_allclose(f(hv, Wv, bv, yv), want, rtol=1e-5)


def test_arithmetic_on_lengths_runs_on_the_host():
    x = T.fmatrix("x")
    f = cg.function([x], [x.shape[0] * 2 + 1, T.cast(x.shape[1], "float32") / 3, x.sum() /
                          T.cast(x.shape[0], "float32")])
    # only the sum and its division by the length are a kernel (the division in its store)
    assert len(f.kernels()) == 1, [k.splitlines()[0] for k in f.kernels()]
    assert "ReduceEpilogue" in f.kernels()[0].splitlines()[0]
    a = np.arange(35, dtype="float32").reshape(5, 7)
    n2, third, mean_row = f(a)
    assert int(n2) == 11 and np.isclose(third, 7 / 3) and np.isclose(mean_row, a.sum() / 5)
    b = np.ones((2, 3), "float32")  # another shape signature: recomputed
    n2, third, mean_row = f(b)
    assert int(n2) == 5 and np.isclose(third, 1.0) and np.isclose(mean_row, 3.0)
