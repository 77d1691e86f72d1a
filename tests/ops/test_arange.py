"""T.arange: Theano's dtype rule, NumPy's values from the bounds' exact values, and bounds
computed from float scalar inputs."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T


def test_dtype_follows_theano_with_floatx_float32():
    """Python floats count as floatX, Python ints as nothing; integers widen to int64
    (Theano 1.0's arange: an int32 scalar input gives int64 too), unsigned to uint64."""
    n, fs = T.iscalar("n"), T.fscalar("fs")
    cases = {
        (3,): "int64",
        (0.5, 2.0): "float32",
        (0, 1, 0.1): "float32",
        (0, 100_000, 0.5): "float32",  # a large Python int does not widen the result
        (n,): "int64",
        (T.bscalar(),): "int64",
        (T.scalar(dtype="uint8"),): "uint64",
        (fs,): "float32",
        (fs, 3.0, 0.5): "float32",
        (n, 2.5): "float64",  # int32 and float32 upcast to float64, as in Theano
        (np.int16(3),): "int64",
        (np.float64(2.0),): "float64",  # NumPy scalars keep their dtype
        (T.dscalar(),): "float64",
    }
    with cg.config.change_flags(floatX="float32"):
        for args, want in cases.items():
            assert T.arange(*args).dtype == want, (args, want)


def test_dtype_with_floatx_float64():
    with cg.config.change_flags(floatX="float64"):
        assert T.arange(0, 1, 0.1).dtype == "float64"
        np.testing.assert_array_equal(T.arange(0, 1, 0.1).eval(), np.arange(0, 1, 0.1))
        assert T.arange(T.fscalar()).dtype == "float32"


def test_constant_float_bounds_are_exact():
    """0.1 is not rounded to float32 before the length and the elements are computed:
    NumPy's arange in the result's dtype, bit for bit."""
    with cg.config.change_flags(floatX="float32"):
        r = T.arange(0, 1, 0.1)
        got = r.eval()
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, np.arange(0, 1, 0.1, dtype="float32"))
        assert got[3] == np.float32(0.3)
        # float32(0.3) / float32(0.1) is over 3: a length from rounded bounds would be 4
        assert T.arange(0, 0.3, 0.1).type.shape == (3,)
        np.testing.assert_array_equal(T.arange(0.5, 2.0).eval(),
                                      np.array([0.5, 1.5], dtype="float32"))


def test_device_fill_matches_numpy_bit_for_bit():
    """The kernel's fill (symbolic bounds) in float32, float64 and integer dtypes."""
    a, b, c = T.dscalars("a", "b", "c")
    outs = [T.arange(a, b, c, dtype=d) for d in ("float32", "float64")]
    f = cg.function([a, b, c], outs)
    rng = np.random.default_rng(0)
    for _ in range(40):
        start = float(rng.uniform(-50, 50))
        step = float(rng.uniform(0.001, 3)) * rng.choice([-1, 1])
        stop = start + step * int(rng.integers(0, 3000))
        for got, dtype in zip(f(start, stop, step), ("float32", "float64"), strict=True):
            want = np.arange(start, stop, step, dtype=dtype)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    n = T.lscalar("n")
    g = cg.function([n], [T.arange(0.5, n, 1.5, dtype="int8"),
                          T.arange(n, 0, -1, dtype="uint32"),
                          T.arange(n, dtype="int16")])
    for got, want in zip(g(7), [np.arange(0.5, 7, 1.5, dtype="int8"),
                                np.arange(7, 0, -1, dtype="uint32"),
                                np.arange(7, dtype="int16")], strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_float_scalar_input_bounds():
    """A float scalar input (and arithmetic on it) bounds an arange: its value joins the
    prepared plan's key, as integer scalar inputs do."""
    fs = T.fscalar("fs")
    f = cg.function([fs], T.arange(fs, 3.0, 0.5))
    for v in (1.0, 0.25, 5.0, -1.5):
        got = f(v)
        want = np.arange(np.float32(v).item(), 3.0, 0.5, dtype="float32")
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    g = cg.function([fs], T.arange(0, fs * 2, 0.5))
    np.testing.assert_array_equal(g(1.5), np.arange(0, 3.0, 0.5, dtype="float32"))
    n = T.iscalar("n")
    h = cg.function([n], T.arange(T.cast(n, "float32") * 0.5))
    np.testing.assert_array_equal(h(5), np.arange(2.5, dtype="float32"))


def test_only_bounding_float_inputs_are_host_scalars():
    """A float input that bounds no arange (a learning rate) stays out of the prepare key:
    a new value does not prepare the plan again."""
    fs, lr = T.fscalar("fs"), T.fscalar("lr")
    x = T.fvector("x")
    f = cg.function([fs, lr, x], [T.arange(fs), x * lr])
    assert f.plan.host_scalar_slots == [0]
    out = f(2.0, 3.0, np.ones(2, "float32"))
    np.testing.assert_array_equal(out[0], np.arange(2.0, dtype="float32"))
    np.testing.assert_array_equal(out[1], np.full(2, 3.0, "float32"))


def test_bad_bounds_raise():
    fs = T.fscalar("fs")
    f = cg.function([fs], T.arange(fs))
    with pytest.raises(ValueError, match="must be finite"):
        f(np.nan)
    with pytest.raises(ValueError, match="must be finite"):
        f(np.inf)
    with pytest.raises(ValueError, match="step cannot be zero"):
        T.arange(0.0, 1.0, 0.0)
    with pytest.raises(TypeError, match="dtype bool is not supported"):
        T.arange(3, dtype="bool")
    with pytest.raises(TypeError, match="stop must be a scalar"):
        T.arange(T.fvector("v"))
