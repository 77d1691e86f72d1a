"""Elementwise kernels over iteration spaces with axes of length 1 (columns, stacks along a
new last axis): prepare drops those axes so the kernel walks the long axis as its inner
one. Values against NumPy over dtypes, odd sizes, views, broadcasts and empty arrays."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T

DTYPES = ("float32", "float64", "int8", "int32")
ROWS = (0, 1, 7, 4099)


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random(shape) * 100 - 50).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", ROWS)
def test_column_arithmetic(dtype, n):
    c = T.tensor(dtype, shape=(None, 1))
    f = cg.function([c], c * 2 + c)
    x = _data((n, 1), dtype)
    np.testing.assert_array_equal(f(x), x * 2 + x)


@pytest.mark.parametrize("n", ROWS)
def test_column_with_broadcast_row_and_scalar(n):
    c, r = T.fcol("c"), T.frow("r")
    f = cg.function([c, r], [c * 3 - 1, c + r])
    x, y = _data((n, 1), "float32"), _data((1, 5), "float32", 1)
    a, b = f(x, y)
    np.testing.assert_allclose(a, x * 3 - 1, rtol=1e-6)
    np.testing.assert_allclose(b, x + y, rtol=1e-6)


def test_column_of_a_matrix_view():
    m = T.fmatrix("m")
    f = cg.function([m], [m[:, 2:3] * 2, m[::2, 1:2] + 1, m.T[:, :1] - 1])
    x = _data((1001, 5), "float32")
    for got, want in zip(f(x), [x[:, 2:3] * 2, x[::2, 1:2] + 1, x.T[:, :1] - 1]):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_runtime_unit_last_axis_of_a_matrix():
    m = T.dmatrix("m")
    f = cg.function([m], m * m + 1)
    for shape in [(999, 1), (1, 999), (1, 1), (0, 1)]:
        x = _data(shape, "float64")
        np.testing.assert_array_equal(f(x), x * x + 1)


@pytest.mark.parametrize("dtype", ("float32", "float64", "int8", "bool"))
@pytest.mark.parametrize("axis", (0, 1, 2))
def test_stack_along_each_axis(dtype, axis):
    a, b = T.tensor(dtype, shape=(None, None)), T.tensor(dtype, shape=(None, None))
    f = cg.function([a, b], T.stack([a, b], axis=axis))
    for shape in [(37, 53), (1, 9), (0, 4)]:
        x = _data(shape, dtype) > 0 if dtype == "bool" else _data(shape, dtype)
        y = _data(shape, dtype, 1) > 0 if dtype == "bool" else _data(shape, dtype, 1)
        np.testing.assert_array_equal(f(x, y), np.stack([x, y], axis=axis))


def test_stack_of_views_along_a_new_last_axis():
    a = T.ftensor3("a")
    parts = [a[:-1, :, 0], a[:-1, ::-1, 1], a[1:, :, 2] * 2, a[:-1, :, 1].T.T]
    f = cg.function([a], T.stack(parts, axis=2))
    x = _data((9, 301, 3), "float32")
    want = np.stack([x[:-1, :, 0], x[:-1, ::-1, 1], x[1:, :, 2] * 2, x[:-1, :, 1]], axis=2)
    np.testing.assert_array_equal(f(x), want)
