"""Theano's TensorVariable methods beyond the arithmetic ones, against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T


def test_methods_match_numpy():
    x = T.dmatrix("x")
    xv = np.array([[3.0, -1.0, 2.5], [0.5, 4.0, -2.0]])
    cases = {
        "cumsum": (x.cumsum(axis=1), np.cumsum(xv, 1)),
        "cumprod": (x.cumprod(), np.cumprod(xv)),
        "repeat": (x.repeat(2, axis=0), np.repeat(xv, 2, 0)),
        "round": (x.round(), np.round(xv)),  # half to even, as NumPy and Theano 1.0
        "round_away": (x.round("half_away_from_zero"),
                       np.array([[3.0, -1.0, 3.0], [1.0, 4.0, -2.0]])),
        "sort": (x.sort(), np.sort(xv)),
        "argsort": (x.argsort(axis=0), np.argsort(xv, axis=0)),
        "take": (x.take(T.constant(np.array([2, 0])), axis=1), xv[:, [2, 0]]),
        "zeros_like": (x.zeros_like(), np.zeros_like(xv)),
        "ones_like": (x.ones_like(dtype="int32"), np.ones_like(xv, dtype=np.int32)),
        "fill": (x.fill(np.float64(7.0)), np.full_like(xv, 7.0)),  # the value's dtype
        "swapaxes": (x.swapaxes(0, 1), xv.T),
        "ptp": (x.ptp(axis=0), np.ptp(xv, 0)),
        "norm2": (x.norm(2), np.linalg.norm(xv)),
        "norm1": (x.norm(1, axis=1), np.abs(xv).sum(1)),
        "copy": (x.copy(), xv),
        "nonzero_values": (x.nonzero_values(), xv[xv != 0]),
    }
    got = cg.function([x], [v for v, _ in cases.values()])(xv)
    for (name, (_, want)), g in zip(cases.items(), got, strict=True):
        np.testing.assert_allclose(g, want, err_msg=name)
        assert g.dtype == np.asarray(want).dtype, name


def test_squeeze_drops_broadcastable_axes():
    b = T.tensor("float64", shape=(1, None, 1))
    fn = cg.function([b], b.squeeze())
    assert fn(np.ones((1, 4, 1))).shape == (4,)
    with pytest.raises(NotImplementedError, match="L=0"):
        b.norm(0)


def test_diagonal_trace_ptp_swapaxes_functions():
    x = T.dmatrix("x")
    outs = {
        "diagonal": (T.diagonal(x), lambda a: np.diagonal(a)),
        "above": (T.diagonal(x, 1), lambda a: np.diagonal(a, 1)),
        "below": (T.diagonal(x, -1), lambda a: np.diagonal(a, -1)),
        "past the edge": (T.diagonal(x, 5), lambda a: np.diagonal(a, 5)),
        "trace": (T.trace(x), np.trace),
        "ptp": (T.ptp(x, axis=1), lambda a: np.ptp(a, 1)),
        "swapaxes": (T.swapaxes(x, 0, 1), lambda a: a.T),
    }
    fn = cg.function([x], [v for v, _ in outs.values()])
    for xv in (np.arange(12.0).reshape(3, 4), np.arange(6.0).reshape(3, 2)):
        for (name, (_, ref)), got in zip(outs.items(), fn(xv), strict=True):
            want = ref(xv)
            assert np.shape(got) == np.shape(want), name
            np.testing.assert_allclose(got, want, err_msg=name)
    grad = cg.function([x], cg.grad(T.trace(x), x))(np.ones((2, 3)))
    np.testing.assert_allclose(grad, np.eye(2, 3))
    with pytest.raises(TypeError, match="must be a matrix"):
        T.diagonal(T.dvector())


def test_max_and_argmax_and_to_one_hot():
    """Theano's T.max_and_argmax and extra_ops.to_one_hot (also under compat's name)."""
    from clgraph.compat import theano as compat

    was = compat.installed()
    compat.install()
    try:
        from theano.tensor.extra_ops import to_one_hot
    finally:
        if not was:
            compat.uninstall()
    x, y = T.dtensor3("x"), T.ivector("y")
    outs = [*T.max_and_argmax(x, axis=1), *T.max_and_argmax(x), to_one_hot(y, 5),
            T.to_one_hot(y, 5, dtype="int32")]
    xv = np.random.default_rng(1).standard_normal((2, 3, 4))
    yv = np.array([4, 0, 2, 2], "int32")
    got = cg.function([x, y], outs)(xv, yv)
    want = [xv.max(1), xv.argmax(1), xv.max(), xv.argmax(), np.eye(5)[yv], np.eye(5)[yv]]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert got[4].dtype == cg.config.floatX and got[5].dtype == np.int32
    with pytest.raises(TypeError, match="vector of integers"):
        T.to_one_hot(T.dvector(), 3)


def test_round_and_iround_default_to_half_to_even():
    x = T.fvector("x")
    xv = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 3.7], "float32")
    r, ri, rm = cg.function([x], [T.round(x), T.iround(x), x.round()])(xv)
    np.testing.assert_array_equal(r, np.round(xv))
    np.testing.assert_array_equal(rm, np.round(xv))
    assert ri.dtype == np.int64
    np.testing.assert_array_equal(ri, np.round(xv).astype(np.int64))
