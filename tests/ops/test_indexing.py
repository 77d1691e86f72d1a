"""Advanced indexing, set_subtensor / inc_subtensor (np.add.at semantics) and take vs NumPy.

Many cases share one compiled function: each function is one OpenCL build.
"""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T

from .grad_util import check_grads


def _check(f, args, refs, names, rtol=1e-6, atol=0.0):
    outs = f(*args)
    for name, got, ref in zip(names, outs, refs, strict=True):
        ref = np.asarray(ref)
        assert got.shape == ref.shape, (name, got.shape, ref.shape)
        assert got.dtype == ref.dtype or ref.dtype.kind == got.dtype.kind, (name, got.dtype)
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, err_msg=name)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    return rng.standard_normal((4, 5, 6)).astype("float32")


def test_integer_array_indexing_like_numpy(data):
    x = T.ftensor3("x")
    i = T.ivector("i")
    j = T.lvector("j")
    k = T.lscalar("k")
    iv = np.array([3, 0, -1, 1, 0], dtype="int32")
    jv = np.array([4, -5, 2], dtype="int64")
    mask = np.zeros((4, 5), dtype=bool)
    mask[[0, 2, 3], [1, 4, 0]] = True
    cases = {
        "first": (x[i], data[iv]),
        "middle": (x[:, i], data[:, iv]),
        "last_ellipsis": (x[..., j], data[..., jv]),
        "two_adjacent": (x[:, i[:3], j], data[:, iv[:3], jv]),
        "separated": (x[i[:3], 1:4, j], data[iv[:3], 1:4, jv]),
        "int_and_array": (x[1, :, j], data[1, :, jv]),
        "int_next_to_array": (x[:, 2, j], data[:, 2, jv]),
        "newaxis": (x[None, i], data[None, iv]),
        "newaxis_between": (x[i[:3], None, 2:, j], data[iv[:3], None, 2:, jv]),
        "neg_steps": (x[::-1, i, ::-2], data[::-1, iv, ::-2]),
        "2d_index": (x[-1:0:-2, [[0, 1], [2, 3]]], data[-1:0:-2, [[0, 1], [2, 3]]]),
        "broadcast": (x[i[:, None], 2:, j[None, :]], data[iv[:, None], 2:, jv[None, :]]),
        "const_list": (x[[0, -4, 2]], data[[0, -4, 2]]),
        "const_bool_mask": (x[mask], data[mask]),
        "empty_index": (x[np.array([], dtype="int64")], data[np.array([], dtype="int64")]),
        "scalar_var_with_array": (x[k, j], data[2, jv]),
        "all_ints_0d": (x[k, 1, np.int64(-1)] * 1, data[2, 1, -1]),
        "of_view": (x.dimshuffle(2, 0, 1)[j, 1:], data.transpose(2, 0, 1)[jv, 1:]),
        "take_axis1": (T.take(x, j, axis=1), np.take(data, jv, axis=1)),
        "take_none": (T.take(x, [[7, -1], [0, 3]]), np.take(data, [[7, -1], [0, 3]])),
        "take_scalar": (T.take(x, k, axis=-1), np.take(data, 2, axis=-1)),
        "math_after": (T.exp(x[i, j[:1]]) + 1, np.exp(data[iv, jv[:1]]) + 1),
    }
    f = cg.function([x, i, j, k], [c[0] for c in cases.values()])
    _check(f, [data, iv, jv, 2], [c[1] for c in cases.values()], list(cases))
    # Static shapes follow NumPy where lengths are known.
    assert x[[0, 1]].type.shape == (2, None, None)
    assert T.ftensor3(shape=(4, 5, 6))[:, [[0], [1]], 1:3].type.shape == (4, 2, 1, 2)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int16", "int32", "int64",
                                   "uint8", "bool"])
def test_dtypes_gather_set_inc(dtype):
    rng = np.random.default_rng(5)
    if dtype == "bool":
        a = rng.random((6, 3)) > 0.5
        yv = np.array([True, False, True])
    else:
        a = (rng.standard_normal((6, 3)) * 10).astype(dtype)
        yv = np.array([1, 2, 3], dtype=dtype)
    x = T.tensor(dtype, shape=(None, None), name="x")
    y = T.tensor(dtype, shape=(None,), name="y")
    i = T.lvector("i")
    iv = np.array([4, 1, 4, -1, 4])
    add_ref = a.copy()
    np.add.at(add_ref, iv, yv)
    set_ref = a.copy()
    set_ref[[0, 2]] = yv
    cases = [
        (x[i], a[iv]),
        (x[i, [0, 2, 1, 0, 2]], a[iv, [0, 2, 1, 0, 2]]),
        (T.inc_subtensor(x[i], y), add_ref),
        (T.set_subtensor(x[[0, 2]], y), set_ref),
    ]
    f = cg.function([x, y, i], [c[0] for c in cases])
    for got, ref in zip(f(a, yv, iv), [c[1] for c in cases], strict=True):
        assert got.dtype == a.dtype
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "int16"])
def test_inc_subtensor_accumulates_repeats_on_many_groups(dtype):
    rng = np.random.default_rng(7)
    n, m = 3000, 200_000  # many work-groups, each destination hit ~67 times
    a = (rng.standard_normal(n) * 4).astype(dtype)
    idx = rng.integers(-n, n, size=m).astype("int32")
    yv = (rng.standard_normal(m) * 4).astype(dtype)
    x = T.tensor(dtype, shape=(None,), name="x")
    y = T.tensor(dtype, shape=(None,), name="y")
    i = T.ivector("i")
    f = cg.function([x, y, i], [T.inc_subtensor(x[i], y), x[i]])
    ref = a.copy()
    np.add.at(ref, idx, yv)
    got, gathered = f(a, yv, idx)
    np.testing.assert_array_equal(gathered, a[idx])
    if dtype.startswith("float"):
        tol = 1e-3 if dtype == "float32" else 1e-10
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * 10)
    else:
        np.testing.assert_array_equal(got, ref)


def test_set_and_inc_subtensor_api_basic_and_advanced():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((5, 4))
    x = T.dmatrix("x")
    r = T.tensor("float64", shape=(1, None), name="r")
    i = T.lvector("i")
    rv = rng.standard_normal((1, 4))
    iv = np.array([3, 1, 3])

    def ref(fn):
        b = a.copy()
        fn(b)
        return b

    cases = [
        (T.set_subtensor(x[1:3], 0.0), ref(lambda b: b.__setitem__(slice(1, 3), 0))),
        (T.inc_subtensor(x[::-2, 1], 1.0), ref(lambda b: b.__setitem__(
            (slice(None, None, -2), 1), b[::-2, 1] + 1))),
        (T.set_subtensor(x[i, 1:], r[0, :3]), ref(lambda b: b.__setitem__(
            (iv, slice(1, None)), rv[0, :3]))),
        (T.inc_subtensor(x[i], r), ref(lambda b: np.add.at(b, iv, rv))),
        (T.inc_subtensor(x[:, [0, 0]], x[:, 1:3]), ref(lambda b: np.add.at(
            b, (slice(None), [0, 0]), a[:, 1:3]))),
        (T.inc_subtensor(x[[]], 5.0), a),
    ]
    f = cg.function([x, r, i], [c[0] for c in cases])
    for k, (got, c) in enumerate(zip(f(a, rv, iv), cases, strict=True)):
        np.testing.assert_allclose(got, c[1], rtol=1e-12, err_msg=str(k))
    with pytest.raises(TypeError, match="indexed tensor"):
        T.set_subtensor(x, 1.0)
    with pytest.raises(ValueError, match="does not fit"):
        T.set_subtensor(T.dmatrix(shape=(2, 5))[:, [0, 1]], T.dmatrix(shape=(2, 3)))


def test_out_of_range_indices_raise():
    a = np.zeros((3, 4), dtype="float32")
    x = T.fmatrix("x")
    i = T.ivector("i")
    # Data on the device: the kernel flags the bad index, the host reads the flag back.
    f = cg.function([x, i], [x[:, i], T.inc_subtensor(x[i], 1.0)])
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 1 with size 4"):
        f(a, np.array([0, 4], dtype="int32"))
    with pytest.raises(IndexError, match="index -4 is out of bounds for axis 0 with size 3"):
        f(np.zeros((3, 9), "float32"), np.array([-4, 1], dtype="int32"))
    got = f(a, np.array([-1, 2], dtype="int32"))  # usable again, flag reset
    np.testing.assert_array_equal(got[1], np.array([[0] * 4, [0] * 4, [2] * 4]))
    # Known when the graph is built: raises at build time.
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        T.fmatrix(shape=(3, 4))[[0, 3]]
    # Known on the host when the call is prepared: raises before anything is enqueued.
    g = cg.function([x], x[[0, 5]])
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 3"):
        g(a)
    with pytest.raises(IndexError, match="shape mismatch"):
        T.fmatrix()[np.array([0, 1]), np.array([0, 1, 2])]


def test_empty_and_zero_d():
    x = T.fmatrix("x")
    v = T.fvector("v")
    i = T.lvector("i")
    a = np.zeros((0, 3), dtype="float32")
    b = np.arange(5, dtype="float32")
    f = cg.function([x, v, i], [x[i], x[:, i[:0]], T.inc_subtensor(x[i], 1.0), v[i][:0],
                                v[T.constant(np.int64(2))], v[np.array(-1)] + 0])
    e = np.array([], dtype="int64")
    outs = f(a, b, e)
    assert outs[0].shape == (0, 3) and outs[1].shape == (0, 0) and outs[2].shape == (0, 3)
    assert outs[3].shape == (0,)
    assert outs[4] == 2 and outs[5].shape == () and outs[5] == 4


def test_gradients_of_indexing():
    rng = np.random.default_rng(11)
    a = rng.standard_normal((4, 3))
    check_grads(a, {
        "adv": lambda x: x[[0, 2, 2], [1, -1, 1]],
        "adv_slice": lambda x: x[1:, [2, 0, 2]] * T.addbroadcast(x[[1, 1, 2], :1], 1),
        "inc_repeats": lambda x: T.inc_subtensor(x[[0, 0, 3]], x[2] * 2),
        "set": lambda x: T.set_subtensor(x[[0, 2], 1:], x[1, :2] * x[3, 1:]),
        "take": lambda x: T.take(x, [5, 5, -1, 0]),
        "basic_set": lambda x: T.set_subtensor(x[1:3, ::-1], x[0]),
    })


def test_nn_label_pick_and_gradient():
    rng = np.random.default_rng(13)
    p = rng.random((6, 4)).astype("float32") + 0.1
    yv = rng.integers(0, 4, size=6).astype("int32")
    x = T.fmatrix("p")
    y = T.ivector("y")
    n = x.shape[0]
    nll = -T.mean(T.log(x)[T.arange(n), y])
    f = cg.function([x, y], [nll, cg.grad(nll, x)])
    loss, g = f(p, yv)
    np.testing.assert_allclose(loss, -np.mean(np.log(p)[np.arange(6), yv]), rtol=1e-5)
    ref = np.zeros_like(p)
    np.add.at(ref, (np.arange(6), yv), -1.0 / (6 * p[np.arange(6), yv]))
    np.testing.assert_allclose(g, ref, rtol=1e-5)


def test_python_ints_written_into_unsigned_and_narrow_tensors():
    """A Python int takes the indexed tensor's dtype when it fits (NumPy's a[1:3] = 7 for a
    uint8 a), and raises when it does not (NumPy 2's OverflowError)."""
    z = T.vector("z", dtype="uint8")
    f = cg.function([z], [T.set_subtensor(z[1:3], 7), T.inc_subtensor(z[[0, 0]], 250),
                          T.set_subtensor(z[1], 255)])
    zv = np.arange(4, dtype="uint8")
    want = [zv.copy() for _ in range(3)]
    want[0][1:3] = 7
    np.add.at(want[1], [0, 0], np.uint8(250))
    want[2][1] = 255
    for got, ref in zip(f(zv), want, strict=True):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, ref)
    b = T.bvector("b")
    with pytest.raises(OverflowError, match="300.*int8"):
        T.inc_subtensor(b[1:3], 300)
    with pytest.raises(OverflowError, match="-1.*uint8"):
        T.set_subtensor(z[[1]], -1)
