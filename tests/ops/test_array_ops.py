"""arange eye identity_like alloc zeros ones addbroadcast unbroadcast tile repeat roll split
concatenate stack cumsum cumprod sort argsort vs NumPy; static shapes; gradients."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T

from .grad_util import check_grads


def _run(inputs, cases: dict, args, rtol=1e-6, atol=0.0, dtypes=True):
    f = cg.function(inputs, [c[0] for c in cases.values()])
    for (name, (_, ref)), got in zip(cases.items(), f(*args), strict=True):
        ref = np.asarray(ref)
        assert got.shape == ref.shape, (name, got.shape, ref.shape)
        if dtypes:
            assert got.dtype == ref.dtype, (name, got.dtype, ref.dtype)
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, err_msg=name)


def test_constructors():
    n = T.lscalar("n")
    m = T.iscalar("m")
    x = T.fmatrix("x")
    a = np.arange(6, dtype="float32").reshape(2, 3)
    big = 100_003
    cases = {
        "arange": (T.arange(5), np.arange(5)),
        "arange_n": (T.arange(n), np.arange(7)),
        "arange_neg_step": (T.arange(n, -3, -2), np.arange(7, -3, -2)),
        "arange_empty": (T.arange(3, n, -1), np.arange(3, 7, -1)),
        "arange_float": (T.arange(0.5, n, 0.25, dtype="float64"), np.arange(0.5, 7, 0.25)),
        "arange_int32": (T.arange(m, dtype="int32"), np.arange(4, dtype="int32")),
        "arange_big": (T.arange(big), np.arange(big)),
        "eye": (T.eye(3), np.eye(3, dtype="float32")),
        "eye_rect_k": (T.eye(n, 4, 1, dtype="int32"), np.eye(7, 4, 1, dtype="int32")),
        "eye_neg_k": (T.eye(3, m, -1, dtype="float64"), np.eye(3, 4, -1)),
        "identity_like": (T.identity_like(x), np.eye(2, 3, dtype="float32")),
        "zeros": (T.zeros((2, n)), np.zeros((2, 7), dtype="float32")),
        "ones": (T.ones(3, dtype="int8"), np.ones(3, dtype="int8")),
        "ones_empty": (T.ones((0, n), dtype="float64"), np.ones((0, 7))),
        "alloc_row": (T.alloc(x[0], n, 3), np.broadcast_to(a[0], (7, 3))),
        "alloc_scalar": (T.alloc(np.float32(2.5), 2, m), np.full((2, 4), 2.5, "float32")),
        "alloc_big": (T.alloc(T.addbroadcast(x[1:, :1], 0, 1), 3, 40_000, 3),
                      np.broadcast_to(a[1:, :1], (3, 40_000, 3))),
        "zeros_like": (T.zeros_like(x), np.zeros_like(a)),
        "ones_like": (T.ones_like(x, dtype="int32"), np.ones((2, 3), "int32")),
        "fill": (T.fill(x, np.float32(3)), np.full((2, 3), 3, "float32")),
    }
    _run([n, m, x], cases, [7, 4, a])
    # Static shapes where lengths are constants.
    assert T.arange(2, 11, 3).type.shape == (3,)
    assert T.eye(3, 5).type.shape == (3, 5)
    assert T.zeros((2, n)).type.shape == (2, None)
    assert T.alloc(T.fvector(shape=(3,)), n, 3).type.shape == (None, 3)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        T.alloc(T.fvector(shape=(3,)), 2, 4)
    with pytest.raises(ValueError, match="step cannot be zero"):
        T.arange(0, 5, 0)


def test_broadcast_flags():
    x = T.fmatrix("x")
    a = np.arange(4, dtype="float32").reshape(1, 4)
    b = T.addbroadcast(x, 0)
    assert b.broadcastable == (True, False)
    assert T.unbroadcast(b, 0).broadcastable == (False, False)
    assert T.patternbroadcast(x, (True, False)).broadcastable == (True, False)
    y = T.fmatrix("y")
    f = cg.function([x, y], [b + y, T.unbroadcast(b, 0) * 2])
    ya = np.ones((3, 4), "float32")
    out = f(a, ya)
    np.testing.assert_allclose(out[0], a + ya)
    np.testing.assert_allclose(out[1], a * 2)
    with pytest.raises(ValueError, match="declared broadcastable but has length 3"):
        f(ya, ya)
    with pytest.raises(ValueError, match="only a length of 1"):
        T.addbroadcast(T.fmatrix(shape=(2, 3)), 0)


def test_tile_repeat_roll_split_join():
    x = T.dtensor3("x")
    r = T.lscalar("r")
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    e = np.zeros((2, 0, 4))
    xe = T.dtensor3("xe")
    cases = {
        "tile": (T.tile(x, (2, 1, 3)), np.tile(a, (2, 1, 3))),
        "tile_more_dims": (T.tile(x[0], (2, 2, 1)), np.tile(a[0], (2, 2, 1))),
        "tile_sym": (T.tile(x, (r, 1, 1)), np.tile(a, (3, 1, 1))),
        "repeat": (T.repeat(x, 2, axis=1), np.repeat(a, 2, axis=1)),
        "repeat_neg_axis": (T.repeat(x, r, axis=-1), np.repeat(a, 3, axis=-1)),
        "repeat_none": (T.repeat(x, 2), np.repeat(a, 2)),
        "repeat_counts": (T.repeat(x, [0, 2, 1], axis=1), np.repeat(a, [0, 2, 1], axis=1)),
        "roll": (T.roll(x, 1, axis=2), np.roll(a, 1, axis=2)),
        "roll_neg": (T.roll(x, -4, axis=1), np.roll(a, -4, axis=1)),
        "roll_sym": (T.roll(x, r, axis=0), np.roll(a, 3, axis=0)),
        "roll_flat": (T.roll(x, 5), np.roll(a, 5)),
        "roll_empty": (T.roll(xe, 2, axis=1), np.roll(e, 2, axis=1)),
        "split0": (T.split(x, [1, 3], 2, axis=2)[0], np.split(a, [1], axis=2)[0]),
        "split1": (T.split(x, [1, 3], 2, axis=2)[1], np.split(a, [1], axis=2)[1]),
        "split_empty": (T.split(x, [0, 2], 2, axis=0)[0], a[:0]),
        "concat": (T.concatenate([x, x[:, ::-1]], axis=1),
                   np.concatenate([a, a[:, ::-1]], axis=1)),
        "concat_neg_axis": (T.concatenate([x, xe], axis=-2), np.concatenate([a, e], axis=-2)),
        "stack": (T.stack([x[0], x[1]], axis=-1), np.stack([a[0], a[1]], axis=-1)),
    }
    _run([x, r, xe], cases, [a, 3, e])
    assert T.tile(T.dmatrix(shape=(2, 3)), (2, 2)).type.shape == (4, 6)
    assert T.repeat(T.dmatrix(shape=(2, 3)), 3, axis=0).type.shape == (6, 3)
    with pytest.raises(ValueError, match=r"sum to 2, expected 3 \(the length of axis 1\)"):
        T.split(T.dmatrix(shape=(2, 3)), [1, 1], 2, axis=1)


def test_split_sizes_are_checked():
    """Theano's Split raises unless the sizes add up to the axis length: at build time
    when both are static, else when the call is prepared; one size per split, none
    negative."""
    x = T.dmatrix("x")
    a, b = T.lscalars("a", "b")
    v = np.arange(10.0).reshape(5, 2)
    f = cg.function([x], T.split(x, [2, 3], 2))  # the axis length is known at run time
    got = f(v)
    for g, w in zip(got, np.split(v, [2]), strict=True):
        np.testing.assert_array_equal(g, w)
    with pytest.raises(ValueError, match=r"sizes \[2, 3\] sum to 5, expected 4"):
        f(v[:4])
    g = cg.function([x, a, b], T.split(x, T.stack([a, b]), 2, axis=0))
    np.testing.assert_array_equal(g(v, 1, 4)[1], v[1:])
    with pytest.raises(ValueError, match=r"sum to 4, expected 5 \(the length of axis 0\)"):
        g(v, 1, 3)
    with pytest.raises(ValueError, match="negative size"):
        g(v, -1, 6)
    with pytest.raises(ValueError, match="3 sizes given for 2 splits"):
        T.split(x, [1, 2, 2], 2)
    with pytest.raises(ValueError, match="3 sizes given for 2 splits"):
        T.split(x, T.stack([a, b, a]), 2)
    with pytest.raises(ValueError, match="negative size"):
        T.split(x, [-1, 6], 2)
    with pytest.raises(TypeError, match="integer vector"):
        T.split(x, T.dvector("s"), 2)
    # the check passes gradients through
    check_grads(v, {"split": lambda y: T.split(y, [3, 2], 2)[1] * 2}, rtol=1e-6, atol=1e-8)


def test_cumsum_cumprod():
    rng = np.random.default_rng(1)
    a = rng.random((3, 5, 4)) + 0.5
    x = T.dtensor3("x")
    v = T.dvector("v")
    long = (rng.random(70_001) > 0.5).astype("float64")
    cases = {
        "sum0": (T.cumsum(x, axis=0), np.cumsum(a, axis=0)),
        "sum_neg": (T.cumsum(x, axis=-1), np.cumsum(a, axis=-1)),
        "sum_none": (T.cumsum(x), np.cumsum(a)),
        "sum_view": (T.cumsum(x[:, ::-2], axis=1), np.cumsum(a[:, ::-2], axis=1)),
        "prod1": (T.cumprod(x, axis=1), np.cumprod(a, axis=1)),
        "sum_long": (T.cumsum(v), np.cumsum(long)),  # one line cut into many chunks
        "sum_empty": (T.cumsum(x[:, :0], axis=1), np.cumsum(a[:, :0], axis=1)),
        "sum_0d": (T.cumsum(x[0, 0, 0]), np.cumsum(a[0, 0, 0])),
    }
    _run([x, v], cases, [a, long], rtol=1e-10)


def test_cumsum_cumprod_dtypes():
    rng = np.random.default_rng(2)
    data = {"float32": (rng.random((3, 300)) + 0.5).astype("float32"),
            "int32": rng.integers(-3, 4, size=(3, 300)).astype("int32"),
            "int8": rng.integers(-3, 4, size=(3, 300)).astype("int8"),
            "bool": rng.random((3, 300)) > 0.5}
    xs = [T.tensor(d, shape=(None, None), name=f"x_{d}") for d in data]
    cases = {}
    for (d, a), x in zip(data.items(), xs, strict=True):
        cases[f"cumsum_{d}"] = (T.cumsum(x, axis=1), np.cumsum(a, axis=1))
        cases[f"cumprod_{d}"] = (T.cumprod(x[:, :8], axis=0), np.cumprod(a[:, :8], axis=0))
    _run(xs, cases, list(data.values()), rtol=1e-4)


def _sort_data(dtype, rng):
    a = rng.integers(0, 6, size=(4, 5, 7)).astype(dtype)  # many ties: stability matters
    if dtype.startswith("float"):
        a[0, 1, [2, 5]] = np.nan
        a[1, 2, 3] = -np.inf
    return a


@pytest.fixture(params=["host", "kernel"])
def sort_path(request, monkeypatch):
    """Both sort paths run here: NumPy on host memory (PoCL) and the bitonic network (GPUs)."""
    import clgraph.lower.array_ops as lowering

    monkeypatch.setattr(lowering, "HOST_SORT", request.param == "host")
    return request.param


def test_sort_argsort(sort_path):
    rng = np.random.default_rng(2)
    a = _sort_data("float64", rng)
    big = rng.standard_normal(5000)
    x = T.dtensor3("x")
    v = T.dvector("v")
    cases = {
        "sort_last": (T.sort(x), np.sort(a, kind="stable")),
        "sort_0": (T.sort(x, axis=0), np.sort(a, axis=0, kind="stable")),
        "sort_none": (T.sort(x, axis=None), np.sort(a, axis=None)),
        "argsort_last": (T.argsort(x), np.argsort(a, kind="stable")),
        "argsort_1": (T.argsort(x[:, ::-1], axis=1), np.argsort(a[:, ::-1], axis=1,
                                                                 kind="stable")),
        "argsort_big": (T.argsort(v), np.argsort(big, kind="stable")),
        "sort_big": (T.sort(v), np.sort(big)),
        "sort_empty": (T.sort(x[:, :0], axis=1), np.sort(a[:, :0], axis=1)),
    }
    _run([x, v], cases, [a, big])


def test_sort_dtypes(sort_path):
    rng = np.random.default_rng(4)
    dtypes = ("float32", "int64", "uint8", "int16")
    data = [_sort_data(d, rng) for d in dtypes]
    xs = [T.tensor(d, shape=(None,) * 3, name=f"x_{d}") for d in dtypes]
    cases = {}
    for d, x, a in zip(dtypes, xs, data, strict=True):
        cases[f"sort_{d}"] = (T.sort(x, axis=1), np.sort(a, axis=1, kind="stable"))
        cases[f"argsort_{d}"] = (T.argsort(x), np.argsort(a, kind="stable"))
    _run(xs, cases, data)


def test_gradients_of_array_ops():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 4)) + np.arange(12).reshape(3, 4)  # distinct, for sort
    check_grads(a, {
        "alloc": lambda x: T.alloc(x[0], 2, 4) * x[1],
        "tile": lambda x: T.tile(x, (2, 3)),
        "repeat": lambda x: T.repeat(x, 2, axis=0),
        "roll": lambda x: T.roll(x, 2, axis=1) * x,
        "cumsum": lambda x: T.cumsum(x, axis=1) * x,
        "cumprod": lambda x: T.cumprod(x, axis=0),
        "sort": lambda x: T.sort(x * x[0, 0], axis=0),
    }, rtol=1e-5, atol=1e-6)


def test_concatenate_and_stack_axis_out_of_range():
    x = T.fmatrix("x")
    a = np.arange(6, dtype="float32").reshape(2, 3)
    f = cg.function([x], [T.concatenate([x, x], axis=-1), T.stack([x, x], axis=-1),
                          T.stack([x, x], axis=2)])
    got = f(a)
    for g, w in zip(got, [np.concatenate([a, a], -1), np.stack([a, a], -1),
                          np.stack([a, a], 2)], strict=True):
        np.testing.assert_array_equal(g, w)
    for make, match in ((lambda: T.concatenate([x, x], axis=2), "axis 2 is out of range"),
                        (lambda: T.concatenate([x, x], axis=-3), "axis -3 is out of range"),
                        (lambda: T.stack([x, x], axis=3), "axis 3 is out of range"),
                        (lambda: T.stack([x, x], axis=-4), "axis -4 is out of range")):
        with pytest.raises(ValueError, match=match):
            make()
    with pytest.raises(TypeError, match="axis must be an integer"):
        T.concatenate([x, x], axis=None)


def test_roll_by_tuples_of_shifts_and_axes():
    """np.roll's tuples: a shift per axis, one shift for several axes, several shifts
    along one axis; a tuple of shifts without axes is an error (NumPy's too)."""
    x = T.dmatrix("x")
    a = np.arange(12.0).reshape(3, 4)
    cases = [((1, -1), (0, 1)), (2, (0, 1)), ((1, 2), 1), ((-5,), (1,))]
    got = cg.function([x], [T.roll(x, s, axis=ax) for s, ax in cases])(a)
    for g, (s, ax) in zip(got, cases, strict=True):
        np.testing.assert_array_equal(g, np.roll(a, s, axis=ax))
    with pytest.raises(ValueError, match="tuple of axes"):
        T.roll(x, (1, 2))
