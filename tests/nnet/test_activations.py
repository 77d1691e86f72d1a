"""T.nnet activations, softmax and cross-entropies: NumPy references, stability, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.gradient import verify_grad

nnet = T.nnet


def _np_softmax(x, axis=-1):
    x = x.astype("float64")
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_logsoftmax(x, axis=-1):
    x = x.astype("float64")
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _np_sigmoid(x):
    x = x.astype("float64")
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) /
                    (1 + np.exp(-np.abs(x))))


def test_elementwise_activations_match_numpy_and_survive_1000(rng):
    x = T.fvector("x")
    xv = np.concatenate([rng.standard_normal(50) * 5, [-1000, 1000, -88, 88, 0]]).astype("f4")
    outs = [nnet.sigmoid(x), nnet.softplus(x), nnet.relu(x), nnet.relu(x, 0.1), nnet.elu(x),
            nnet.elu(x, 0.5), nnet.selu(x), nnet.hard_sigmoid(x), nnet.softsign(x)]
    f = cg.function([x], outs)
    got = f(xv)
    x64 = xv.astype("f8")
    with np.errstate(over="ignore"):
        elu = np.where(x64 > 0, x64, np.expm1(np.minimum(x64, 0)))
        want = [_np_sigmoid(x64), np.logaddexp(0, x64), np.maximum(x64, 0),
                np.where(x64 > 0, x64, 0.1 * x64), elu,
                np.where(x64 > 0, x64, 0.5 * np.expm1(np.minimum(x64, 0))),
                1.0507009873554805 * np.where(x64 > 0, x64, 1.6732632423543772 * elu),
                np.clip(0.2 * x64 + 0.5, 0, 1), x64 / (1 + np.abs(x64))]
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.dtype == np.float32
        assert np.all(np.isfinite(g)), k
        np.testing.assert_allclose(g, w, rtol=2e-6, atol=1e-6, err_msg=str(outs[k]))


def test_activation_gradients_are_finite_at_1000_and_match_numpy():
    x = T.fvector("x")
    xv = np.array([-1000, -30, -1, 0.5, 30, 1000], "f4")
    acts = [nnet.sigmoid, nnet.softplus, nnet.elu, nnet.selu, lambda v: nnet.relu(v, 0.2)]
    grads = [cg.grad(T.sum(a(x)), x) for a in acts]
    got = cg.function([x], grads)(xv)
    s = _np_sigmoid(xv.astype("f8"))
    want = [s * (1 - s), s, np.where(xv > 0, 1, np.exp(np.minimum(xv, 0).astype("f8"))),
            1.0507009873554805 * np.where(xv > 0, 1, 1.6732632423543772 *
                                          np.exp(np.minimum(xv, 0).astype("f8"))),
            np.where(xv > 0, 1, 0.2)]
    for g, w in zip(got, want, strict=True):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


def test_verify_grad_of_activations(rng):
    pt = [rng.standard_normal((3, 4)) * 3]
    for fn in (nnet.sigmoid, nnet.softplus, nnet.elu, lambda v: nnet.softmax(v, axis=0)):
        verify_grad(fn, pt, rng=rng)


@pytest.mark.parametrize("shape,axis", [((37, 29), -1), ((3, 5, 4), 1), ((4, 6), 0),
                                        ((2, 3, 33), 2)])
def test_softmax_and_logsoftmax_any_axis(rng, shape, axis):
    x = T.tensor("float32", shape=(None,) * len(shape))
    xv = (rng.standard_normal(shape) * 10).astype("f4")
    sm, lsm = nnet.softmax(x, axis=axis), nnet.logsoftmax(x, axis=axis)
    f = cg.function([x], [sm, lsm])
    got_sm, got_lsm = f(xv)
    np.testing.assert_allclose(got_sm, _np_softmax(xv, axis), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got_lsm, _np_logsoftmax(xv, axis), rtol=1e-5, atol=1e-4)
    # one kernel each: no reduction or elementwise kernels around them
    assert [k for k in f.kernels() if "__kernel" in k].__len__() <= 4


def test_softmax_is_stable_and_its_gradient_matches_numpy(rng):
    x = T.fmatrix("x")
    xv = rng.choice([-1000.0, 1000.0, 0.0], size=(6, 9)) + rng.standard_normal((6, 9))
    xv = xv.astype("f4")
    w = rng.standard_normal((6, 9)).astype("f4")
    sm, lsm = nnet.softmax(x), nnet.logsoftmax(x)
    gs = cg.grad(T.sum(sm * w), x)
    gl = cg.grad(T.sum(lsm * w), x)
    out = cg.function([x], [sm, lsm, gs, gl])(xv)
    for o in out:
        assert np.all(np.isfinite(o))
    s = _np_softmax(xv)
    np.testing.assert_allclose(out[0], s, atol=1e-6)
    np.testing.assert_allclose(out[1], _np_logsoftmax(xv), rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(out[2], s * (w - (w * s).sum(1, keepdims=True)), atol=1e-5)
    np.testing.assert_allclose(out[3], w - s * w.sum(1, keepdims=True), atol=1e-4)


def test_categorical_crossentropy_one_hot_and_integer_labels(rng):
    x = T.fmatrix("x")
    onehot = T.fmatrix("t")
    y = T.ivector("y")
    xv = (rng.standard_normal((8, 5)) * 3).astype("f4")
    xv[0, 0], xv[1, 1] = 1000, -1000
    yv = rng.integers(0, 5, 8).astype("int32")
    tv = np.eye(5, dtype="f4")[yv]
    p = nnet.softmax(x)
    c_int = T.mean(nnet.categorical_crossentropy(p, y))
    c_hot = T.mean(nnet.categorical_crossentropy(p, onehot))
    nll, sm = nnet.crossentropy_softmax_1hot(x, y)
    f = cg.function([x, y, onehot], [c_int, c_hot, T.mean(nll), sm, cg.grad(c_int, x),
                                     cg.grad(c_hot, x)])
    ci, ch, cn, smv, gi, gh = f(xv, yv, tv)
    want = -_np_logsoftmax(xv)[np.arange(8), yv].mean()
    for c in (ci, ch, cn):
        assert np.isfinite(c)
        np.testing.assert_allclose(c, want, rtol=1e-5)
    gwant = (_np_softmax(xv) - tv) / 8
    np.testing.assert_allclose(gi, gwant, atol=1e-6)
    np.testing.assert_allclose(gh, gwant, atol=1e-6)
    np.testing.assert_allclose(smv, _np_softmax(xv), atol=1e-6)


def test_crossentropy_of_probabilities_and_label_checks(rng):
    q = T.fmatrix("q")
    y = T.ivector("y")
    qv = rng.uniform(0.1, 1, (8, 5)).astype("f4")
    yv = rng.integers(0, 5, 8).astype("int32")
    c = nnet.categorical_crossentropy(q, y)
    g = cg.grad(T.sum(c), q)
    cv, gv = cg.function([q, y], [c, g])(qv, yv)
    np.testing.assert_allclose(cv, -np.log(qv[np.arange(8), yv]), rtol=1e-6)
    gw = np.zeros_like(qv)
    gw[np.arange(8), yv] = -1 / qv[np.arange(8), yv]
    np.testing.assert_allclose(gv, gw, rtol=1e-6)
    with pytest.raises(TypeError, match="integer"):
        nnet.categorical_crossentropy(q, T.fvector())


def test_binary_crossentropy_stable_through_sigmoid(rng):
    z = T.fvector("z")
    t = T.fvector("t")
    zv = np.array([-1000, -20, -1, 0, 1, 20, 1000], "f4")
    tv = np.array([1, 0, 1, 0, 1, 1, 0], "f4")
    bce = nnet.binary_crossentropy(nnet.sigmoid(z), t)
    g = cg.grad(T.sum(bce), z)
    p = T.fvector("p")
    plain = nnet.binary_crossentropy(p, t)
    b, gv, pl = cg.function([z, t, p], [bce, g, plain])(zv, tv, np.full(7, 0.25, "f4"))
    want = tv * np.logaddexp(0, -zv.astype("f8")) + (1 - tv) * np.logaddexp(0, zv.astype("f8"))
    assert np.all(np.isfinite(b)) and np.all(np.isfinite(gv))
    np.testing.assert_allclose(b, want, rtol=1e-6)
    np.testing.assert_allclose(gv, _np_sigmoid(zv) - tv, atol=1e-7)
    np.testing.assert_allclose(pl, -(tv * np.log(0.25) + (1 - tv) * np.log(0.75)), rtol=1e-6)


def test_softmax_errors():
    with pytest.raises(ValueError, match="axis"):
        nnet.softmax(T.fmatrix(), axis=2)
    with pytest.raises(ValueError, match="scalar"):
        nnet.softmax(T.fscalar())
