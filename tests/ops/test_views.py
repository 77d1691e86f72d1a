"""Transpose, dimshuffle, slicing, reshape and flatten against NumPy (views read by stride)."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5, 7)).astype("float32"), rng.standard_normal((3, 4, 5))


def test_views_of_a_matrix(data):
    a, _ = data
    x = T.fmatrix("x")
    cases = {
        "T": (x.T, a.T),
        "transpose": (T.transpose(x, (1, 0)), a.T),
        "slice": (x[1:3, ::-1], a[1:3, ::-1]),
        "int": (x[2], a[2]),
        "neg_int": (x[-1, 1:], a[-1, 1:]),
        "col": (x[:, 3], a[:, 3]),
        "step": (x[::2, 1::3], a[::2, 1::3]),
        "newaxis": (x[:, None], a[:, None]),
        "dimshuffle": (x.dimshuffle(1, "x", 0), a.T[:, None, :]),
        "ellipsis": (x[..., 2], a[..., 2]),
        "empty": (x[3:1], a[3:1]),
        "scalar": (x[1, 2], a[1, 2]),
        "reshape": (x.reshape((7, 5)), a.reshape(7, 5)),
        "reshape_neg": (x.reshape((-1,)), a.reshape(-1)),
        "reshape_T": (x.T.reshape((35,)), a.T.reshape(35)),
        "flatten": (x.flatten(), a.flatten()),
        "slice_then_math": (x[1:, ::-2] * 2 + x[:-1, ::2], a[1:, ::-2] * 2 + a[:-1, ::2]),
        "T_math": (x.T + 1, a.T + 1),
    }
    f = cg.function([x], [c[0] for c in cases.values()])
    for (name, (_, ref)), got in zip(cases.items(), f(a)):
        assert got.shape == np.shape(ref), name
        np.testing.assert_allclose(got, ref, rtol=1e-6, err_msg=name)


def test_views_of_a_3d_tensor(data):
    _, b = data
    x = T.dtensor3("x")
    cases = [
        (x.dimshuffle(2, 0, 1), b.transpose(2, 0, 1)),
        (x[:, 1], b[:, 1]),
        (x[1, :, ::-1], b[1, :, ::-1]),
        (T.flatten(x, 2), b.reshape(3, -1)),
        (x.reshape((x.shape[0], -1)), b.reshape(3, -1)),
        (x.dimshuffle(2, 1, 0).flatten(), b.transpose(2, 1, 0).ravel()),
        (T.shape_padleft(x[0]), b[0][None]),
        (T.shape_padright(x[:, 0, 0], 2), b[:, 0, 0][:, None, None]),
    ]
    f = cg.function([x], [c[0] for c in cases])
    for i, ((_, ref), got) in enumerate(zip(cases, f(b))):
        np.testing.assert_allclose(got, ref, err_msg=str(i))


def test_symbolic_shape_values():
    x = T.fmatrix("x")
    f = cg.function([x], [x.shape, x.shape[1] * 2])
    s, s2 = f(np.zeros((3, 4), "f4"))
    np.testing.assert_array_equal(s, [3, 4])
    assert s2 == 8


def test_slice_bounds_computed_on_the_device():
    """`x[:k]` and `x[k]` with k computed from data (a count): read back at a host sync
    point, then a view, as Theano computes them (NumPy's results)."""
    c, x = T.bvector("c"), T.dvector("x")
    k = T.sum(T.neq(c, 0))
    f = cg.function([c, x], [x[:k], x[k], x[k:-1]])
    xv = np.arange(1.0, 7.0)
    for cv in ([1, 0, 1], [0, 0, 0], [1, 1, 1, 1, 1]):
        n = int(np.count_nonzero(cv))
        got = f(np.array(cv, dtype="int8"), xv)
        for g, want in zip(got, [xv[:n], xv[n], xv[n:-1]]):
            np.testing.assert_array_equal(g, want)


def test_static_shape_inference():
    x = T.tensor("float32", shape=(2, 3))
    assert x.T.type.shape == (3, 2)
    assert x[1:].type.shape == (1, 3)
    assert x[:, None].type.shape == (2, 1, 3)
    assert x.reshape((3, 2)).type.shape == (3, 2)
    assert x.reshape((-1,)).type.shape == (6,)
    assert x.flatten().ndim == 1
    assert T.constant(np.zeros((2, 3))).T.type.shape == (3, 2)


def test_errors():
    x = T.fmatrix("x")
    with pytest.raises(IndexError, match="too many indices"):
        x[1, 2, 3]
    y = T.tensor("float32", shape=(2, 3), name="y")
    with pytest.raises(IndexError, match="out of bounds"):
        y[5]
    with pytest.raises(ValueError, match="cannot reshape"):
        y.reshape((4, 2))
    with pytest.raises(ValueError, match="drops axis"):
        x.dimshuffle(0)
    f = cg.function([x], x[3])
    with pytest.raises(IndexError, match="out of bounds"):
        f(np.zeros((2, 2), "f4"))
    g = cg.function([x], x.reshape((5, -1)))
    with pytest.raises(ValueError, match="cannot reshape"):
        g(np.zeros((2, 2), "f4"))
