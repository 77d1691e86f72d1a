"""RandomStreams: Philox on the device, reproducible, advancing, statistically sound."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import clgraph as cg
import clgraph.tensor as T
from clgraph.expr.random import PhiloxRandom, philox4x32_10
from clgraph.tensor.random import RandomStreams


def test_philox_known_answers():
    # Random123's known-answer tests for philox4x32_10.
    cases = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
             ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2,
              (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
             ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
              (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for ctr, key, want in cases:
        got = philox4x32_10(np.array([ctr], np.uint32), key)[0]
        assert tuple(int(v) for v in got) == want


def test_same_seed_same_numbers_calls_advance_and_match_numpy_reference():
    rs = RandomStreams(7)
    u = rs.uniform((300, 7))
    z = rs.normal((101,), dtype="float64")
    f = cg.function([], [u, z])
    state0 = [s.get_value() for s, _ in rs.state_updates]
    u1, z1 = f()
    u2, z2 = f()
    assert u1.shape == (300, 7) and u1.dtype == np.float32 and z1.dtype == np.float64
    assert np.mean(u1 != u2) > 0.99 and np.mean(z1 != z2) > 0.99
    # A fresh stream with the same seed replays the same numbers.
    rs2 = RandomStreams(7)
    g = cg.function([], [rs2.uniform((300, 7)), rs2.normal((101,), dtype="float64")])
    a1, b1 = g()
    np.testing.assert_array_equal(a1, u1)
    np.testing.assert_array_equal(b1, z1)
    # The op's NumPy reference gives the kernel's numbers (bit for bit for uniforms).
    ru = PhiloxRandom("uniform", "float32").perform(None, [state0[0], np.array([300, 7])])
    np.testing.assert_array_equal(ru[1], u1)
    rz = PhiloxRandom("normal", "float64").perform(None, [state0[1], np.array([101])])
    np.testing.assert_allclose(rz[1], z1, rtol=1e-12, atol=1e-12)
    # Another seed gives other numbers; reseeding replays.
    assert not np.array_equal(cg.function([], RandomStreams(8).uniform((300, 7)))(), u1)
    rs.seed(7)
    np.testing.assert_array_equal(f()[0], u1)


def test_uniform_normal_binomial_statistics():
    rs = RandomStreams(2024)
    n = 200_000
    x = T.fvector("x")
    outs = [rs.uniform((n,)), rs.uniform((n,), low=-2, high=3), rs.normal((n,)),
            rs.normal((n,), avg=1.5, std=2.0, dtype="float64"),
            rs.binomial((n,), p=0.3, dtype="float32"), rs.binomial((n // 10,), n=5, p=0.4),
            rs.uniform(x.shape)]
    u, u2, z, z2, b, b5, ux = cg.function([x], outs)(np.zeros(5, "f4"))
    assert ux.shape == (5,)
    assert 0 <= u.min() and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 0.001
    assert -2 <= u2.min() and u2.max() < 3
    assert stats.kstest(u2, stats.uniform(-2, 5).cdf).pvalue > 0.001
    assert abs(z.mean()) < 0.01 and abs(z.var() - 1) < 0.01
    assert stats.kstest(z, "norm").pvalue > 0.001
    assert abs(z2.mean() - 1.5) < 0.02 and abs(z2.std() - 2) < 0.02
    assert stats.kstest(z2, stats.norm(1.5, 2.0).cdf).pvalue > 0.001
    assert set(np.unique(b)) == {0.0, 1.0} and abs(b.mean() - 0.3) < 0.005
    assert b5.dtype == np.int64 and b5.min() >= 0 and b5.max() <= 5
    counts = np.bincount(b5, minlength=6)
    expected = stats.binom.pmf(np.arange(6), 5, 0.4) * len(b5)
    assert stats.chisquare(counts, expected).pvalue > 0.001
    # Chi-square of uniform bins, and no correlation between neighbours.
    hist = np.histogram(u, bins=50, range=(0, 1))[0]
    assert stats.chisquare(hist).pvalue > 0.001
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01


def test_dropout_in_a_training_loop(rng):
    rs = RandomStreams(3)
    x = T.fmatrix("x")
    y = T.fvector("y")
    w = cg.shared(np.zeros(20, "f4"), name="w")
    keep = 0.8
    mask = rs.binomial(x.shape, p=keep, dtype="float32")
    pred = T.dot(x * mask / keep, w)
    cost = T.mean(T.sqr(pred - y))
    train = cg.function([x, y], [cost, mask], updates=[(w, w - 0.05 * cg.grad(cost, w))])
    predict = cg.function([x], T.dot(x, w))
    true_w = rng.standard_normal(20).astype("f4")
    xv = rng.standard_normal((256, 20)).astype("f4")
    yv = xv @ true_w
    masks, costs = [], []
    for _ in range(150):
        c, m = train(xv, yv)
        costs.append(c)
        masks.append(m)
    assert not np.array_equal(masks[0], masks[1])  # a new mask every step
    assert abs(np.mean(masks) - keep) < 0.01
    assert costs[-1] < 0.2 * costs[0]
    np.testing.assert_allclose(predict(xv), yv, atol=0.3 * np.abs(yv).max())


def test_errors():
    rs = RandomStreams(1)
    with pytest.raises(TypeError):
        rs.uniform((3,), dtype="int32")
    with pytest.raises(TypeError):
        rs.binomial((3,), n=1.5)
