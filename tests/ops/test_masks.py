"""Symbolic boolean masks, nonzero and repeat with symbolic counts vs NumPy.

Their output lengths depend on the data: the plan stops at a host sync point, reads the
count back and prepares the rest (lower/plan.py). Each function is one OpenCL build, so
one function serves many cases.
"""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T

from .grad_util import check_grads


def _same(got, ref, name=""):
    ref = np.asarray(ref)
    assert got.shape == ref.shape, (name, got.shape, ref.shape)
    assert got.dtype.kind == ref.dtype.kind, (name, got.dtype, ref.dtype)
    np.testing.assert_array_equal(got, ref, err_msg=name)


MASKS_2D = {
    "random": lambda r, s: r.random(s) < 0.4,
    "all_false": lambda r, s: np.zeros(s, bool),
    "all_true": lambda r, s: np.ones(s, bool),
}


def test_mask_1d_2d_3d_and_count_changes_between_calls(rng):
    x1, m1 = T.fvector("x1"), T.vector("m1", dtype="bool")
    x2, m2 = T.fmatrix("x2"), T.matrix("m2", dtype="bool")
    x3, m3 = T.ftensor3("x3"), T.tensor("bool", (None, None, None), name="m3")
    mb = T.vector("mb", dtype="bool")
    f = cg.function([x1, m1, x2, m2, x3, m3, mb],
                    [x1[m1], x2[m2], x3[m3], x3[m2], x3[:, mb]])

    def check(v1, k1, v2, k2, v3, k3, kb, name):
        got = f(v1, k1, v2, k2, v3, k3, kb)
        refs = [v1[k1], v2[k2], v3[k3], v3[k2], v3[:, kb]]
        for j, (g, r) in enumerate(zip(got, refs, strict=True)):
            _same(g, r, f"{name} out {j}")

    for shape3 in [(2, 3, 4), (3, 1, 5), (0, 3, 2), (4, 0, 3)]:
        a, b, _ = shape3
        for kind, make in MASKS_2D.items():
            v1 = rng.standard_normal(a * b + 1).astype("float32")
            v2 = rng.standard_normal((a, b)).astype("float32")
            v3 = rng.standard_normal(shape3).astype("float32")
            check(v1, make(rng, v1.shape), v2, make(rng, (a, b)), v3, make(rng, shape3),
                  make(rng, (b,)), f"{kind} {shape3}")
    # the same function and shapes, a different count at each call
    v3 = rng.standard_normal((5, 4, 3)).astype("float32")
    for p in (0.0, 0.1, 0.5, 0.9, 1.0, 0.3, 0.5):
        k3 = rng.random(v3.shape) < p
        check(v3[0, 0], k3[0, 0], v3[:, :, 0], k3[:, :, 0], v3, k3, k3[0, :, 0], f"p={p}")


def test_mask_positions_and_combinations(rng):
    x = T.ftensor3("x")
    m = T.vector("m", dtype="bool")
    mm = T.matrix("mm", dtype="bool")
    i = T.lvector("i")
    f = cg.function([x, m, mm, i], [x[1:, m], x[..., m], x[m, :, ::-1], x[:, mm],
                                    x[i, m[:4]], x[None, m]])
    v = rng.standard_normal((4, 4, 4)).astype("float32")
    for p in (0.5, 0.0, 1.0):
        k = rng.random(4) < p
        kk = rng.random((4, 4)) < p
        iv = np.array([3, 0, -1, 1])
        got = f(v, k, kk, iv[: int(k.sum())] if k.sum() else iv[:1])
        _same(got[0], v[1:, k])
        _same(got[1], v[..., k])
        _same(got[2], v[k, :, ::-1])
        _same(got[3], v[:, kk])
        ii = iv[: int(k.sum())] if k.sum() else iv[:1]
        _same(got[4], v[ii, k])
        _same(got[5], v[None, k])


def test_large_mask_many_work_groups(rng):
    x = T.dvector("x")
    f = cg.function([x], [x[x > 0.3], T.nonzero(x < -1.0)[0], T.flatnonzero(x > 2.5),
                          T.nonzero_values(T.maximum(x - 1.5, 0))])
    for n in (100_003, 257, 1):
        v = rng.standard_normal(n)
        got = f(v)
        _same(got[0], v[v > 0.3])
        _same(got[1], np.nonzero(v < -1.0)[0])
        _same(got[2], np.flatnonzero(v > 2.5))
        w = np.maximum(v - 1.5, 0)
        _same(got[3], w[w != 0])


def test_mask_shape_mismatch_raises_index_error():
    x = T.fmatrix("x")
    m = T.matrix("m", dtype="bool")
    v = T.vector("v", dtype="bool")
    f = cg.function([x, m, v], [x[m], x[:, v]])
    a = np.zeros((3, 4), "float32")
    with pytest.raises(IndexError, match="boolean index did not match indexed array along "
                                         "axis 1; size of axis is 4 but size of corresponding "
                                         "boolean axis is 5"):
        f(a, np.ones((3, 5), bool), np.ones(4, bool))
    with pytest.raises(IndexError, match="along axis 1; size of axis is 4 but size of "
                                         "corresponding boolean axis is 3"):
        f(a, np.ones((3, 4), bool), np.ones(3, bool))
    got = f(a + 1, np.ones((3, 4), bool), np.ones(4, bool))  # still usable
    _same(got[0], np.ones(12, "float32"))
    # statically known shapes: at build time, as for constant masks
    xs = T.tensor("float32", (3, 4), name="xs")
    with pytest.raises(IndexError, match="boolean index did not match"):
        xs[T.tensor("bool", (3, 5), name="ms")]
    with pytest.raises(IndexError, match="boolean index did not match"):
        xs[np.ones((2, 4), bool)]
    with pytest.raises(IndexError, match="too many indices"):
        x[T.tensor("bool", (None, None, None), name="m3")]


def test_set_and_inc_with_mask(rng):
    x = T.fmatrix("x")
    m = T.matrix("m", dtype="bool")
    y = T.fvector("y")
    r = T.vector("r", dtype="bool")
    z = T.tensor("float32", (1,), name="z")
    f = cg.function([x, m, y, r, z], [T.set_subtensor(x[m], 0.0), T.inc_subtensor(x[m], 2.5),
                                      T.set_subtensor(x[m], y), T.inc_subtensor(x[r], z),
                                   T.inc_subtensor(x[r, 1:], 1.0)])
    a = rng.standard_normal((3, 4)).astype("float32")
    for p in (0.5, 0.0, 1.0):
        k = rng.random((3, 4)) < p
        kr = rng.random(3) < p
        yv = rng.standard_normal(int(k.sum())).astype("float32")
        zv = np.array([1.5], "float32")
        got = f(a, k, yv, kr, zv)
        e = [a.copy() for _ in range(5)]
        e[0][k] = 0
        e[1][k] += 2.5
        e[2][k] = yv
        e[3][kr] += zv
        e[4][kr, 1:] += 1.0
        for j, (g, ref) in enumerate(zip(got, e, strict=True)):
            np.testing.assert_allclose(g, ref, rtol=1e-6, err_msg=f"{p} {j}")


def test_mask_gradient(rng):
    x = T.dmatrix("x")
    m = T.matrix("m", dtype="bool")
    cost = T.sum(x[m] ** 2) + T.sum(T.repeat(x[0], T.cast(m[0], "int64") * 2))
    g = cg.function([x, m], cg.grad(cost, x))
    v = rng.standard_normal((3, 4))
    for p in (0.5, 0.0, 1.0):
        k = rng.random((3, 4)) < p
        ref = 2 * v * k
        ref[0] += 2 * k[0]
        np.testing.assert_allclose(g(v, k), ref, rtol=1e-12)
    check_grads(rng.standard_normal((3, 4)), {
        "mask": lambda x: x[x > 0] * 2,
        "mask_row": lambda x: T.exp(x[T.gt(x[:, 0], 0)]),
        "repeat": lambda x: T.repeat(x, T.cast(T.gt(x[0], 0), "int64") + 1, axis=1),
    })


def test_nonzero_1d_2d_3d(rng):
    a1 = T.vector("a1", dtype="int32")
    a2 = T.fmatrix("a2")
    a3 = T.tensor("bool", (None, None, None), name="a3")
    f = cg.function([a1, a2, a3], [*T.nonzero(a1), *T.nonzero(a2), *a3.nonzero(),
                                   T.nonzero(a2, return_matrix=True)])
    for shape in [(3, 4, 5), (1, 1, 1), (0, 2, 3), (2, 0, 1)]:
        for p in (0.5, 0.0, 1.0):
            v1 = (rng.random(shape[0] * 3) < p).astype("int32") * 7
            v2 = ((rng.random(shape[:2]) < p) * rng.standard_normal(shape[:2])).astype("float32")
            v3 = rng.random(shape) < p
            got = f(v1, v2, v3)
            refs = [*np.nonzero(v1), *np.nonzero(v2), *np.nonzero(v3), np.array(np.nonzero(v2))]
            assert len(got) == len(refs)
            for k, (g, r) in enumerate(zip(got, refs, strict=True)):
                _same(g, r.reshape(2, -1) if k == len(refs) - 1 else r, f"{shape} {p} {k}")
    with pytest.raises(ValueError, match="0-d"):
        T.nonzero(T.scalar("s"))


def test_repeat_symbolic_counts(rng):
    x = T.fmatrix("x")
    c = T.ivector("c")
    lc = T.lvector("lc")
    f = cg.function([x, c, lc], [T.repeat(x, c, axis=0), T.repeat(x, lc, axis=1),
                                 T.repeat(x[:, 0], c), T.repeat(x[0, :2], lc[::2])])
    v = rng.standard_normal((3, 4)).astype("float32")
    for cv, lv in [([2, 0, 3], [1, 1, 0, 5]), ([0, 0, 0], [0, 0, 0, 0]), ([4], [2]),
                   ([1, 1, 1], [3, 0, 2, 1]), ([0], [0])]:
        cv, lv = np.array(cv, "int32"), np.array(lv, "int64")
        got = f(v, cv, lv)
        _same(got[0], np.repeat(v, cv, axis=0), f"{cv} 0")
        _same(got[1], np.repeat(v, lv, axis=1), f"{lv} 1")
        _same(got[2], np.repeat(v[:, 0], cv), f"{cv} 2")
        _same(got[3], np.repeat(v[0, :2], lv[::2]), f"{lv} 3")
    with pytest.raises(ValueError, match="2 counts for an axis of length 3"):
        f(v, np.array([1, 2], "int32"), np.ones(4, "int64"))
    big = rng.integers(0, 5, 10_000).astype("int32")
    xb = T.fvector("xb")
    g = cg.function([xb, c], T.repeat(xb, c))
    vb = rng.standard_normal(10_000).astype("float32")
    _same(g(vb, big), np.repeat(vb, big))
    _same(g(vb, np.array([3], "int32")), np.repeat(vb, 3))
    with pytest.raises(ValueError, match="negative"):
        g(vb[:3], np.array([1, -1, 2], "int32"))
    with pytest.raises(TypeError, match="integers"):
        T.repeat(xb, T.fvector("fc"))


def test_debugmode_nanguard_profile_with_sync_points(rng):
    x = T.dmatrix("x")
    out = [x[x > 0], T.repeat(x[0], T.cast(x[0] > 0, "int64") * 2), T.nonzero(x > 1)[1]]
    v = rng.standard_normal((4, 5))
    refs = [v[v > 0], np.repeat(v[0], (v[0] > 0) * 2), np.nonzero(v > 1)[1]]
    for mode in ("DebugMode", "NanGuardMode"):
        f = cg.function([x], out, mode=mode)
        for g, r in zip(f(v), refs, strict=True):
            _same(g, r, mode)
    f = cg.function([x], out, profile=True)
    for g, r in zip(f(v), refs, strict=True):
        _same(g, r, "profile")
    assert f.profile.transfer_counts["to host (sync)"] >= 1
