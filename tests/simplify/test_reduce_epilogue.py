"""Elementwise consumers fused into a reduction's final store (ReduceEpilogue): a bias
update `b - lr * sum(d, 0)`, a mean's division by the count. Values are compared with the
unoptimized graph and NumPy in every launch form of the reduction kernel (one launch, split
and gathered, split and combined by a second launch), with broadcast and strided operands."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.expr.reduce import ReduceEpilogue


def _nodes(f):
    return [n for n in f.maker_fgraph.toposort() if isinstance(n.op, ReduceEpilogue)]


@pytest.mark.parametrize("shape", [(300, 70), (3, 4), (0, 5), (100_000, 3), (7, 100_003)])
def test_bias_update_form(shape):
    x, b = T.fmatrix("x"), T.fvector("b")
    f = cg.function([x, b], b - 0.5 * T.sum(x, axis=0))
    assert len(_nodes(f)) == 1 and len(f.kernels()) == 1
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal(shape).astype(np.float32)
    bb = rng.standard_normal(shape[1]).astype(np.float32)
    want = bb - 0.5 * a.sum(0, dtype=np.float64)
    np.testing.assert_allclose(f(a, bb), want, rtol=1e-4, atol=1e-3 * max(1, shape[0]) ** 0.5)


@pytest.mark.parametrize("n", [1, 10, 1000, 10**6])
def test_mean_divides_in_the_store(n):
    v = T.fvector("v")
    f = cg.function([v], T.mean(v))
    assert len(_nodes(f)) == 1
    a = np.random.default_rng(n).random(n, dtype=np.float32)
    np.testing.assert_allclose(f(a), a.mean(dtype=np.float64), rtol=1e-5)


def test_broadcast_and_strided_extras_and_other_kinds():
    x = T.ftensor3("x")
    row = T.fmatrix("row")  # given transposed: strided
    s = T.fscalar("s")
    out = [T.maximum(T.max(x, axis=1) * s, row.T),
           T.sum(x, axis=(0, 2)) + T.ones_like(s),
           T.exp(T.min(x, axis=2)) - T.addbroadcast(row.T[:, :1], 1)]
    f = cg.function([x, row, s], out)
    g = cg.function([x, row, s], out, mode=cg.compile.Mode(optimizer="None"))
    assert len(_nodes(f)) == 3
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 6, 7)).astype(np.float32)
    r = rng.standard_normal((7, 5)).astype(np.float32)
    for got, want in zip(f(a, r, np.float32(1.5)), g(a, r, np.float32(1.5)), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(f(a, r, np.float32(1.5))[0],
                               np.maximum(a.max(1) * 1.5, r.T), rtol=1e-6)


def test_integer_sums_keep_their_type():
    x = T.imatrix("x")
    f = cg.function([x], T.sum(x, axis=1) * 3 - 1)
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    got = f(a)
    assert got.dtype == np.int64 and len(_nodes(f)) == 1
    np.testing.assert_array_equal(got, a.sum(1) * 3 - 1)


def test_not_fused_when_the_consumer_broadcasts_or_changes_the_type():
    x, m = T.fmatrix("x"), T.fmatrix("m")
    f = cg.function([x, m], [T.sum(x, axis=0) + m, T.cast(T.sum(x, axis=0), "int32")])
    assert not _nodes(f)
    a = np.ones((3, 4), np.float32)
    got, cast = f(a, np.zeros((2, 4), np.float32))
    np.testing.assert_array_equal(got, np.full((2, 4), 3, np.float32))
    np.testing.assert_array_equal(cast, np.full(4, 3, np.int32))


def test_shape_error_names_the_operand():
    x, b = T.fmatrix("x"), T.fvector("b")
    f = cg.function([x, b], b - T.sum(x, axis=0))
    with pytest.raises(ValueError, match="broadcast"):
        f(np.ones((3, 4), np.float32), np.ones(5, np.float32))
    assert f(np.ones((3, 4), np.float32), np.ones(4, np.float32)).shape == (4,)


def test_gpu_style_tree_applies_the_epilogue_once(monkeypatch):
    """The GPU form (a work-group tree; split reductions combined by a second launch), run
    here: the epilogue runs in the final store only."""
    import clgraph.lower.reduce as R

    monkeypatch.setattr(R, "tree_size", lambda ctx: 16)
    x, b, v = T.fmatrix("x"), T.fvector("b"), T.fvector("v")
    f = cg.function([x, b, v], [b - 0.5 * T.sum(x, axis=1), T.mean(v)])
    assert "__local" in f.kernels_text() and len(_nodes(f)) == 2
    rng = np.random.default_rng(5)
    for rows, cols, n in [(5, 3, 7), (3, 100_001, 200_003), (300, 301, 1)]:
        a = rng.standard_normal((rows, cols)).astype(np.float32)
        bb = rng.standard_normal(rows).astype(np.float32)
        vv = rng.standard_normal(n).astype(np.float32)
        got, mean = f(a, bb, vv)
        np.testing.assert_allclose(got, bb - 0.5 * a.sum(1, dtype=np.float64), rtol=1e-4,
                                   atol=1e-3 * cols ** 0.5)
        np.testing.assert_allclose(mean, vv.mean(dtype=np.float64), rtol=1e-4, atol=1e-6)
