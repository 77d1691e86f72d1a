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
    # softmax kernels only (its forms): no reduction or elementwise kernels around them
    assert all("(template softmax.cl.mako)" in k for k in f.kernels())


def test_softmax_over_all_axes(rng):
    """axis=None normalises over every element (SciPy's and PyTensor's meaning)."""
    x = T.dtensor3("x")
    xv = rng.standard_normal((2, 3, 4)) * 5
    got_sm, got_lsm = cg.function([x], [nnet.softmax(x, axis=None),
                                        nnet.logsoftmax(x, axis=None)])(xv)
    want = np.exp(xv - xv.max()) / np.exp(xv - xv.max()).sum()
    np.testing.assert_allclose(got_sm, want, rtol=1e-12)
    np.testing.assert_allclose(got_lsm, np.log(want), rtol=1e-12)
    verify_grad(lambda v: nnet.softmax(v, axis=None), [xv], rng=rng)


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


# ------------------------------------------------ softmax cross-entropy as one op (stabilize)
def _kernel_names(f):
    return [k.split("(")[0].split()[-1] for k in f.kernels()]


def _xent_point(rng, n=12, c=7):
    xv = (rng.standard_normal((n, c)) * 3).astype("f4")
    xv[0, 0], xv[1, 1], xv[2, :] = 1000, -1000, -1000  # saturated rows stay finite
    xv[3, 2] = 1000
    yv = rng.integers(0, c, n).astype("int32")
    yv[3] = 4  # the label of a row dominated by another logit: loss ~ 1000 + ...
    return xv, yv, np.eye(c, dtype="f4")[yv]


def _losses(name, x, y, t):
    p = nnet.softmax(x)
    return {
        "labels": nnet.categorical_crossentropy(p, y),
        "onehot": nnet.categorical_crossentropy(p, t),
        "log_softmax_dense": -T.sum(t * T.log(p), axis=1),
    }[name]


@pytest.mark.parametrize("name", ["labels", "onehot", "log_softmax_dense"])
def test_softmax_xent_is_one_op_with_one_gradient_kernel(rng, name):
    x, y, t = T.fmatrix("x"), T.ivector("y"), T.fmatrix("t")
    loss = T.mean(_losses(name, x, y, t))
    g = cg.grad(loss, x)
    f = cg.function([x, y, t], [loss, g], on_unused_input="ignore")
    names = _kernel_names(f)
    # the loss rows and the gradient: one kernel for labels (simplify/xent_merge.py)
    assert sum("xent" in k for k in names) == (1 if name == "labels" else 2), names
    assert not any(k.endswith(("_lsmr", "_pick", "_pickg", "_smr")) for k in names), names
    assert len(names) <= (6 if name == "labels" else 8), names
    xv, yv, tv = _xent_point(rng)
    lv, gv = f(xv, yv, tv)
    s = _np_softmax(xv)
    want = -_np_logsoftmax(xv)[np.arange(len(yv)), yv].mean()
    assert np.isfinite(lv) and np.all(np.isfinite(gv))
    np.testing.assert_allclose(lv, want, rtol=1e-5)
    np.testing.assert_allclose(gv, (s - tv) / len(yv), atol=1e-6)


def _mlp_head(rng, extra=False, loss_weighted=False):
    """A training step's head: logits = h @ W + b, mean xent loss, gradients of W and b."""
    h, y = T.fmatrix("h"), T.ivector("y")
    W = cg.shared((rng.standard_normal((6, 5)) * 0.5).astype("f4"), name="W")
    b = cg.shared(rng.standard_normal(5).astype("f4"), name="b")
    logits = T.dot(h, W) + b
    rows = nnet.categorical_crossentropy(nnet.softmax(logits), y)
    loss = T.mean(rows * rows) if loss_weighted else T.mean(rows)
    outs = [loss] + cg.grad(loss, [W, b])
    if extra:  # the logits read elsewhere too: the bias add stays out of the xent kernel
        outs.append(T.argmax(logits, axis=1))
    return [h, y], outs


@pytest.mark.parametrize("form", ["bias", "extra_reader", "grad_reads_loss"])
def test_xent_loss_and_gradient_merge(rng, form):
    """simplify/xent_merge.py: the loss and its gradient in one kernel, the logits' bias add
    in it too (the product then needs no epilogue); values as with no optimizer, labels -1
    and -5 (counted from the end) included, a label out of range an error; not merged when the
    gradient depends on the loss."""
    ins, outs = _mlp_head(rng, extra=form == "extra_reader",
                          loss_weighted=form == "grad_reads_loss")
    f = cg.function(ins, outs)
    names = _kernel_names(f)
    ops = [str(n.op) for n in f.maker.fgraph.toposort()]
    merged = [o for o in ops if o.startswith("SoftmaxXentWithGrad")]
    if form == "grad_reads_loss":
        assert not merged and sum("xent" in k for k in names) == 2, (ops, names)
    else:
        assert merged == ["SoftmaxXentWithGrad{labels%s}" % (",bias" if form == "bias" else "")]
        assert sum("xent" in k for k in names) == 1, names
    if form == "bias":  # the logits' product has no epilogue kernel left
        assert not any("composite_add" in k for k in names), names
    hv = rng.standard_normal((7, 6)).astype("f4")
    with pytest.raises(IndexError, match="label 9 is out of range"):
        f(hv, np.array([0, -1, 4, 9, 2, 1, 3], "int32"))
    for yv in (rng.integers(0, 5, 7).astype("int32"), np.array([0, -1, 4, -5, 2, 1, 3], "int32")):
        got = f(hv, yv)
        with cg.config.change_flags(optimizer="None"):
            ref = cg.function(ins, outs)(hv, yv)
        for a, r in zip(got, ref, strict=True):
            np.testing.assert_allclose(a, r, rtol=2e-5, atol=1e-6)
    with cg.config.change_flags(optimizer_excluding="xent_merge"):
        g = cg.function(ins, outs)
    assert not any(str(n.op).startswith("SoftmaxXentWithGrad") for n in g.maker.fgraph.toposort())


def test_xent_merge_under_debugmode(rng):
    """The merged op's NumPy reference (perform) agrees with its kernel."""
    ins, outs = _mlp_head(rng)
    f = cg.function(ins, outs[:1] + [cg.grad(outs[0], ins[0])], mode="DebugMode")
    hv = rng.standard_normal((4, 6)).astype("f4")
    lv, gv = f(hv, np.array([1, 0, 4, 2], "int32"))
    assert np.isfinite(lv) and gv.shape == (4, 6)


def test_softmax_xent_matches_no_optimizer(rng):
    x, y, t = T.fmatrix("x"), T.ivector("y"), T.fmatrix("t")
    p = nnet.softmax(x)
    outs = []
    for loss in (nnet.categorical_crossentropy(p, y), nnet.categorical_crossentropy(p, t)):
        outs += [loss, cg.grad(T.sum(loss * T.arange(1, 13, dtype="float32")), x)]
    outs.append(cg.grad(T.sum(nnet.categorical_crossentropy(p, t)), t))
    xv = (rng.standard_normal((12, 7)) * 3).astype("f4")
    yv = rng.integers(0, 7, 12).astype("int32")
    tv = rng.uniform(0, 1, (12, 7)).astype("f4")  # not one-hot: any target distribution
    got = cg.function([x, y, t], outs)(xv, yv, tv)
    with cg.config.change_flags(optimizer="None"):
        ref = cg.function([x, y, t], outs)(xv, yv, tv)
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-5)


def test_softmax_xent_ops_verify_grad(rng):
    from clgraph.expr.nnet import SoftmaxXent

    yv = rng.integers(0, 5, 6).astype("int32")
    tv = rng.uniform(0, 1, (6, 5))
    pt = [rng.standard_normal((6, 5)) * 2]
    verify_grad(lambda v: SoftmaxXent(False)(v, T.constant(yv)), pt, rng=rng)
    verify_grad(lambda v: SoftmaxXent(True)(v, T.constant(tv)), pt, rng=rng)
    verify_grad(lambda tt: SoftmaxXent(True)(T.constant(pt[0]), tt), [tv], rng=rng)
    # the stabilized graph's gradient (SoftmaxXentGrad) against finite differences
    verify_grad(lambda v: nnet.categorical_crossentropy(nnet.softmax(v), T.constant(yv)), pt,
                rng=rng)
    verify_grad(lambda v: -T.sum(T.constant(tv) * T.log(nnet.softmax(v)), axis=1), pt, rng=rng)


def test_softmax_xent_bad_labels_and_shapes(rng):
    x, y = T.fmatrix("x"), T.ivector("y")
    loss = nnet.categorical_crossentropy(nnet.softmax(x), y)
    f = cg.function([x, y], [loss, cg.grad(T.sum(loss), x)])
    xv = rng.standard_normal((3, 4)).astype("f4")
    lv, gv = f(xv, np.array([-1, 2, 0], "int32"))  # -1 wraps, as NumPy's indexing
    lsm = _np_logsoftmax(xv)
    np.testing.assert_allclose(lv, -lsm[[0, 1, 2], [3, 2, 0]], rtol=1e-5)
    # a label input out of range: an error naming it, before anything runs (Theano raises)
    for bad in (9, -5):
        with pytest.raises(IndexError, match=rf"input y .*label {bad} is out of range for 4"):
            f(xv, np.array([0, bad, 1], "int32"))
    np.testing.assert_allclose(f(xv, np.array([-1, 2, 0], "int32"))[0], lv)  # still usable
    with pytest.raises(ValueError, match="labels"):
        f(xv, np.zeros(2, "int32"))
    # labels computed on the device are not checked: the kernel's NaN marks the row
    g = cg.function([x, y], nnet.categorical_crossentropy(nnet.softmax(x), y + 5))
    assert np.isnan(g(xv, np.array([0, 1, -1], "int32"))[0])


def test_softmax_from_its_formula_is_one_kernel(rng):
    x = T.fmatrix("x")
    e = T.exp(x - T.max(x, axis=1, keepdims=True))
    sm = e / T.sum(e, axis=1, keepdims=True)
    e0 = T.exp(x)
    sm0 = e0 / T.sum(e0, axis=0, keepdims=True)  # no max subtracted, along axis 0
    f = cg.function([x], [sm, sm0])
    names = _kernel_names(f)
    assert all("_sm" in k for k in names), names
    xv = (rng.standard_normal((33, 20)) * 5).astype("f4")
    xv[0, 0] = 1000
    got, got0 = f(xv)
    np.testing.assert_allclose(got, _np_softmax(xv, 1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got0, _np_softmax(xv, 0), rtol=1e-5, atol=1e-7)
    g = cg.function([x], cg.grad(T.sum(sm * T.arange(20, dtype="float32")), x))(xv)
    s = _np_softmax(xv, 1)
    w = np.arange(20.0)
    np.testing.assert_allclose(g, s * (w - (s * w).sum(1, keepdims=True)), atol=1e-4)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("axis", [0, 1])
def test_gradient_of_the_softmax_formula_is_finite_at_1000(rng, log, shifted, axis):
    """exp(z) / exp(z).sum(keepdims) written by hand (two exp nodes, as users write it): its
    gradient is the softmax's own, not the chain rule through exp(1000) = inf."""
    m = T.dmatrix("m")
    z = m - m.max(axis, keepdims=True) if shifted else m
    sm = T.exp(z) / T.exp(z).sum(axis, keepdims=True)
    w = rng.standard_normal((4, 5))
    cost = T.sum((T.log(sm) if log else sm) * w)
    xv = rng.standard_normal((4, 5))
    xv[1] = [1000, 0, -1000, 3, 700]
    xv[:, 2] = [-1000, 0, 1000, 800]
    s = _np_softmax(xv, axis)
    want = w - s * w.sum(axis, keepdims=True) if log else \
        s * (w - (s * w).sum(axis, keepdims=True))
    got = cg.function([m], cg.grad(cost, m))(xv)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_softmax_formula_gradient_still_reaches_its_parts():
    """Gradients with respect to a part of the formula (the numerator's exp) or with that
    part held constant go through the parts, as written."""
    m = T.dmatrix("m")
    e = T.exp(m)
    sm = e / T.exp(m).sum(1, keepdims=True)
    xv = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.5]])
    ge = cg.function([m], cg.grad(sm[:, 0].sum(), e))(xv)
    np.testing.assert_allclose(ge, [[1, 0, 0], [1, 0, 0]] / np.exp(xv).sum(1, keepdims=True))
    gc = cg.function([m], cg.grad(sm[:, 0].sum(), m, consider_constant=[e]))(xv)
    s = np.exp(xv) / np.exp(xv).sum(1, keepdims=True)  # only the denominator's path
    np.testing.assert_allclose(gc, -s[:, :1] * s, rtol=1e-12)


@pytest.mark.parametrize("width", [1, 4])
def test_softmax_rows_at_other_vector_widths(monkeypatch, rng, width):
    """The row kernel as other devices get it (width 1: GPUs), odd row lengths for tails."""
    import clgraph.lower.nnet as lower_nnet

    monkeypatch.setattr(lower_nnet, "vector_width", lambda ctx, dtypes: width)
    x = T.fmatrix("x")
    f = cg.function([x], [nnet.softmax(x), nnet.logsoftmax(x)])
    for shape in [(5, 3), (9, 37), (4, 100)]:
        xv = (rng.standard_normal(shape) * 5).astype("f4")
        xv[0, 0] = 1000
        sm, lsm = f(xv)
        np.testing.assert_allclose(sm, _np_softmax(xv), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(lsm, _np_logsoftmax(xv), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("group", [0, 32, 256])
def test_softmax_group_per_row_form(monkeypatch, rng, group):
    """The GPU form (a work-group per row, trees in local memory) run on any device, with
    rows shorter and longer than the group, rows of -inf and of 1000s, a NaN, and the
    short-row fallback; group 0 is the CPU form."""
    import clgraph.lower.nnet as lower_nnet

    monkeypatch.setattr(lower_nnet, "row_group", lambda ctx: group)
    x = T.fmatrix("x")
    f = cg.function([x], [nnet.softmax(x), nnet.logsoftmax(x)])
    group_kernels = [k for k in f.kernels() if "smg(" in k]  # _smg and _lsmg
    assert len(group_kernels) == (2 if group else 0)
    assert all("__local float tree[" in k for k in group_kernels)
    for shape in [(3, 5), (7, lower_nnet.GROUP_ROWS_MIN), (5, 1000), (2, 4099)]:
        xv = (rng.standard_normal(shape) * 5).astype("f4")
        xv[0, 1] = 1000
        xv[1, :] = -np.inf
        xv[-1, -1] = np.nan
        sm, lsm = f(xv)
        with np.errstate(invalid="ignore"):
            want_sm, want_lsm = _np_softmax(xv), _np_logsoftmax(xv)
        for got, want in ((sm, want_sm), (lsm, want_lsm)):
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(sm, want_sm, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(lsm, want_lsm, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("form", ["logsoftmax", "log_softmax"])
def test_tutorial_arange_pick_loss_is_softmax_xent(rng, form):
    """-mean(log(p)[arange(y.shape[0]), y]) (Theano's tutorials): the pick becomes RowPick
    of the first len(y) rows, the loss one SoftmaxXent kernel, no log-softmax left."""
    x, y = T.fmatrix("x"), T.ivector("y")
    lp = nnet.logsoftmax(x) if form == "logsoftmax" else T.log(nnet.softmax(x))
    loss = -T.mean(lp[T.arange(y.shape[0]), y])
    g = cg.grad(loss, x)
    f = cg.function([x, y], [loss, g])
    names = _kernel_names(f)
    assert not any(k.endswith(("_lsmr", "_smr", "_gather")) for k in names), names
    assert sum(k.endswith("_xent") for k in names) == 2, names
    with cg.config.change_flags(optimizer="None"):
        f0 = cg.function([x, y], [loss, g])
    xv = (rng.standard_normal((20, 7)) * 3).astype("f4")
    yv = rng.integers(0, 7, 20).astype("int32")
    for labels in (yv, yv[:13]):  # fewer labels than rows: the first rows only
        lv, gv = f(xv, labels)
        k = len(labels)
        want = -_np_logsoftmax(xv[:k])[np.arange(k), labels].mean()
        np.testing.assert_allclose(lv, want, rtol=1e-5)
        gw = np.zeros_like(xv)
        gw[:k] = (_np_softmax(xv[:k]) - np.eye(7)[labels]) / k
        np.testing.assert_allclose(gv, gw, atol=1e-6)
        for a, b in zip((lv, gv), f0(xv, labels), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    xv[0, 0] = 1000  # stable where log(softmax) written out is not
    lv, gv = f(xv, yv)
    assert np.isfinite(lv) and np.all(np.isfinite(gv))
