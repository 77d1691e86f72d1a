"""batched_dot and batched_tensordot (Theano's) against np.einsum, their gradients against
finite differences, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.gradient import verify_grad

B = 4
# name: (shape of a, shape of b, the einsum of batched_dot(a, b))
CASES = {
    "3x3": ((B, 3, 5), (B, 5, 2), "bnm,bmp->bnp"),
    "2x2 rowwise dot": ((B, 6), (B, 6), "bn,bn->b"),
    "3x2": ((B, 3, 5), (B, 5), "bnm,bm->bn"),
    "2x3": ((B, 5), (B, 5, 2), "bn,bnp->bp"),
    "1x3 scales": ((B,), (B, 3, 2), "b,bnp->bnp"),  # Theano: a product, nothing summed
    "2x1 scales": ((B, 3), (B,), "bn,b->bn"),
    "3x4 (tensordot)": ((B, 3, 5), (B, 2, 5, 3), "bnm,bpmq->bnpq"),
}


def _var(shape, dtype: str, name: str):
    return T.tensor(dtype, shape=(None,) * len(shape), name=name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batched_dot_matches_einsum(dtype, rng):
    outs, refs, ins, vals = [], [], [], []
    for k, (sa, sb, spec) in enumerate(CASES.values()):
        a, b = _var(sa, dtype, f"a{k}"), _var(sb, dtype, f"b{k}")
        av, bv = (rng.standard_normal(s).astype(dtype) for s in (sa, sb))
        ins += [a, b]
        vals += [av, bv]
        outs.append(T.batched_dot(a, b))
        refs.append(np.einsum(spec, av, bv))
    got = cg.function(ins, outs)(*vals)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for name, g, ref in zip(CASES, got, refs, strict=True):
        assert g.dtype == np.dtype(dtype) and g.shape == ref.shape, name
        np.testing.assert_allclose(g, ref, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("gemm", ["auto", "template"])
def test_batched_dot_is_one_product_and_handles_empty_batches(rng, gemm):
    """One BatchedDot: a host matmul on PoCL ('auto'), one kernel with 'template' (GPUs),
    operands read in place through their strides (a transposed one too)."""
    x, y = T.ftensor3("x"), T.ftensor3("y")
    with cg.config.change_flags(gemm=gemm):
        f = cg.function([x, y], [T.batched_dot(x, y),
                                 T.batched_dot(x.dimshuffle(0, 2, 1), x)])
    nodes = [n.op.__class__.__name__ for n in f.maker.fgraph.toposort()]
    assert nodes.count("BatchedDot") == 2, nodes
    assert len(f.kernels()) == (0 if f.ctx.host_addressable and gemm == "auto" else 2)
    for b, n, m, p in ((0, 3, 5, 2), (1, 1, 1, 1), (3, 4, 0, 2), (7, 33, 17, 9)):
        a = rng.standard_normal((b, n, m)).astype("float32")
        c = rng.standard_normal((b, m, p)).astype("float32")
        got, gram = f(a, c)
        np.testing.assert_allclose(got, np.einsum("bnm,bmp->bnp", a, c), rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(gram, np.einsum("bnm,bnp->bmp", a, a), rtol=1e-5,
                                   atol=1e-5)


def test_batched_dot_integers_keep_their_dtype():
    x, y = T.itensor3("x"), T.itensor3("y")
    a = np.arange(24, dtype="int32").reshape(2, 3, 4)
    c = np.arange(16, dtype="int32").reshape(2, 4, 2) - 5
    out = cg.function([x, y], T.batched_dot(x, y))(a, c)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.einsum("bnm,bmp->bnp", a, c))


@pytest.mark.parametrize("name", ["3x3", "2x2 rowwise dot", "3x2", "2x3", "3x4 (tensordot)"])
def test_batched_dot_gradients(name, rng):
    sa, sb, _ = CASES[name]
    verify_grad(lambda a, b: T.batched_dot(a, b), [rng.standard_normal(sa),
                                                   rng.standard_normal(sb)], rng=rng)


def test_batched_tensordot_matches_einsum_and_differentiates(rng):
    x, y = T.dtensor4("x"), T.dtensor4("y")
    xv, yv = rng.standard_normal((3, 2, 4, 5)), rng.standard_normal((3, 4, 5, 6))
    outs = [T.batched_tensordot(x, y, 2),                     # x's last 2 with y's 1, 2
            T.batched_tensordot(x, y, [[2, 3], [1, 2]]),
            T.batched_tensordot(x, y, [[2], [1]]),
            T.batched_tensordot(x, y, 0)]                     # a batched outer product
    refs = [np.einsum("bijk,bjkl->bil", xv, yv), np.einsum("bijk,bjkl->bil", xv, yv),
            np.einsum("bijk,bjmn->bikmn", xv, yv), np.einsum("bijk,blmn->bijklmn", xv, yv)]
    for got, ref in zip(cg.function([x, y], outs)(xv, yv), refs, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    verify_grad(lambda a, b: T.batched_tensordot(a, b, [[3, 1], [2, 3]]),
                [rng.standard_normal((2, 3, 2, 4)), rng.standard_normal((2, 5, 4, 3))],
                rng=rng)


def test_batched_dot_static_mismatches_fail_at_build():
    a = T.tensor("float32", shape=(4, 3, 5), name="a")
    with pytest.raises(ValueError, match=r"batched_dot: batch sizes differ: axis 0 of a .*"
                                         r"length 4.*length 3"):
        T.batched_dot(a, T.tensor("float32", shape=(3, 5, 2), name="b"))
    with pytest.raises(ValueError, match=r"contracted axes differ: axis 2 of a .*length 5.*"
                                         r"axis 1 of c .*length 6"):
        T.batched_dot(a, T.tensor("float32", shape=(4, 6, 2), name="c"))
    with pytest.raises(TypeError, match="b .* must have at least one \\(batch\\) axis"):
        T.batched_dot(a, T.fscalar("b"))


def test_batched_dot_runtime_mismatches_name_the_axis():
    x, y = T.ftensor3("x"), T.ftensor3("y")
    f = cg.function([x, y], T.batched_dot(x, y))
    a = np.ones((4, 3, 5), "float32")
    with pytest.raises(ValueError, match=r"batched_dot: shapes \(4, 3, 5\) \(x\) and "
                                         r"\(3, 5, 2\) \(y\) do not match"):
        f(a, np.ones((3, 5, 2), "float32"))
    with pytest.raises(ValueError, match=r"\(4, 3, 5\) \(x\) and \(4, 6, 2\) \(y\)"):
        f(a, np.ones((4, 6, 2), "float32"))
    assert f(a, np.ones((4, 5, 2), "float32")).shape == (4, 3, 2)  # still usable


def test_batched_tensordot_axes_are_checked():
    x, y = T.dtensor3("x"), T.dtensor3("y")
    with pytest.raises(ValueError, match="must not contain the batch axis 0"):
        T.batched_tensordot(x, y, [[0], [1]])
    with pytest.raises(ValueError, match="axes=3 must be at least 0 and less than x.ndim=3"):
        T.batched_tensordot(x, y, 3)
    with pytest.raises(ValueError, match="differ in number"):
        T.batched_tensordot(x, y, [[1, 2], [1]])
    with pytest.raises(ValueError, match="axis 5 is out of range for y"):
        T.batched_tensordot(x, y, [[1], [5]])
