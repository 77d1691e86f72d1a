"""Copies that stream whole rows: Alloc (repeat, tile, broadcast fills) through the
elementwise copy kernel, and row gathers x[idx] through the row kernel. Values against NumPy
over dtypes, odd sizes, views, negative and out-of-range indices and empty arrays."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T

DTYPES = ("float32", "float64", "int8", "bool")


def _data(shape, dtype, seed=0):
    x = np.random.default_rng(seed).random(shape) * 100 - 50
    return (x > 0) if dtype == "bool" else x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_repeat_and_tile(dtype):
    m = T.tensor(dtype, shape=(None, None))
    f = cg.function([m], [T.repeat(m, 3, axis=0), T.repeat(m, 2, axis=1), T.repeat(m, 3),
                          T.tile(m, (2, 3)), T.tile(m[::2, ::-1], (3, 1))])
    for shape in [(7, 131), (1, 1), (0, 5), (33, 1)]:
        x = _data(shape, dtype)
        want = [np.repeat(x, 3, 0), np.repeat(x, 2, 1), np.repeat(x, 3), np.tile(x, (2, 3)),
                np.tile(x[::2, ::-1], (3, 1))]
        for got, w in zip(f(x), want):
            np.testing.assert_array_equal(got, w)


def test_alloc_broadcast_fills():
    v, s = T.fvector("v"), T.fscalar("s")
    n = T.lscalar("n")
    f = cg.function([v, s, n], [T.alloc(v, n, v.shape[0]), T.alloc(s, n, 3), T.alloc(s, n)])
    x = _data(1001, "float32")
    for k in (0, 1, 5):
        a, b, c = f(x, np.float32(2.5), k)
        np.testing.assert_array_equal(a, np.broadcast_to(x, (k, 1001)))
        np.testing.assert_array_equal(b, np.full((k, 3), 2.5, "float32"))
        np.testing.assert_array_equal(c, np.full(k, 2.5, "float32"))


@pytest.mark.parametrize("dtype", DTYPES + ("int32",))
def test_row_gather(dtype):
    w, i = T.tensor(dtype, shape=(None, None)), T.lvector("i")
    f = cg.function([w, i], [w[i], w[1:, ::2][i], w[:, 3:][i], w.T[i]])
    x = _data((301, 37), dtype)
    for idx in [np.array([5, 0, -1, 36, 5]), np.arange(300)[::-7] % 37, np.array([], "int64")]:
        want = [x[idx], x[1:, ::2][idx], x[:, 3:][idx], x.T[idx]]
        for g, w_ in zip(f(x, idx), want):
            np.testing.assert_array_equal(g, w_)


def test_row_gather_of_a_3d_array_with_a_matrix_index():
    w, i = T.ftensor3("w"), T.lmatrix("i")
    f = cg.function([w, i], w[i])
    x = _data((50, 3, 17), "float32")
    idx = np.random.default_rng(1).integers(-50, 50, (4, 9))
    np.testing.assert_array_equal(f(x, idx), x[idx])


def test_row_gather_out_of_range_raises():
    w, i = T.fmatrix("w"), T.lvector("i")
    f = cg.function([w, i], w[i])
    x = _data((10, 64), "float32")
    with pytest.raises(IndexError, match="out of bounds"):
        f(x, np.array([1, 10]))
    np.testing.assert_array_equal(f(x, np.array([-10, 9])), x[[-10, 9]])
