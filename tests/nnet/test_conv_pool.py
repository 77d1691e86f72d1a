"""conv2d, pool_2d and batch normalization against direct-loop NumPy references written
here, and their gradients against finite differences of those references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import clgraph as cg
import clgraph.lower.conv as conv_lowering
import clgraph.tensor as T
from clgraph.gradient import verify_grad
from clgraph.tensor.nnet import bn
from clgraph.tensor.signal.pool import pool_2d


# ---------------------------------------------------------------- references (direct loops)
def conv_loop(x, w, border, sub, dil, flip):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ekh, ekw = (kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1
    pad = {"valid": (0, 0), "full": (ekh - 1, ekw - 1), "half": (ekh // 2, ekw // 2)}.get(
        border, border) if not isinstance(border, int) else (border, border)
    if flip:
        w = w[:, :, ::-1, ::-1]
    xp = np.zeros((n, c, h + 2 * pad[0], wd + 2 * pad[1]))
    xp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + wd] = x
    oh = (h + 2 * pad[0] - ekh) // sub[0] + 1
    ow = (wd + 2 * pad[1] - ekw) // sub[1] + 1
    out = np.zeros((n, f, oh, ow))
    for b, o, i, j in itertools.product(range(n), range(f), range(oh), range(ow)):
        acc = 0.0
        for ch, a, bb in itertools.product(range(c), range(kh), range(kw)):
            acc += xp[b, ch, i * sub[0] + a * dil[0], j * sub[1] + bb * dil[1]] * w[o, ch, a, bb]
        out[b, o, i, j] = acc
    return out


def pool_loop(x, ws, stride, pad, ignore_border, mode):
    h, w = x.shape[-2:]

    def n_out(n, d):
        if ignore_border:
            return (n + 2 * pad[d] - ws[d]) // stride[d] + 1
        if stride[d] >= ws[d]:
            return (n - 1) // stride[d] + 1
        return max(0, (n - 1 - ws[d] + stride[d]) // stride[d]) + 1

    oh, ow = n_out(h, 0), n_out(w, 1)
    xp = np.zeros(x.shape[:-2] + (h + 2 * pad[0], w + 2 * pad[1]))
    xp[..., pad[0]:pad[0] + h, pad[1]:pad[1] + w] = x
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for idx in np.ndindex(*x.shape[:-2]):
        for i, j in itertools.product(range(oh), range(ow)):
            r0, c0 = i * stride[0], j * stride[1]
            r1, c1 = min(r0 + ws[0], h + 2 * pad[0]), min(c0 + ws[1], w + 2 * pad[1])
            area_inc = (r1 - r0) * (c1 - c0)
            r0, c0 = max(r0, pad[0]), max(c0, pad[1])
            r1, c1 = min(r1, h + pad[0]), min(c1, w + pad[1])
            win = xp[idx][r0:r1, c0:c1]
            if mode == "max":
                out[idx + (i, j)] = win.max()
            elif mode == "sum":
                out[idx + (i, j)] = win.sum()
            elif mode == "average_inc_pad":
                out[idx + (i, j)] = win.sum() / area_inc
            else:
                out[idx + (i, j)] = win.sum() / win.size
    return out


def numeric_grad(fn, x, direction, eps=1e-6):
    """d/dx sum(fn(x) * direction), by central differences."""
    g = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = ((fn(xp) * direction).sum() - (fn(xm) * direction).sum()) / (2 * eps)
    return g


@pytest.fixture(params=["rows", "items"])
def kernel_form(request, monkeypatch):
    """Both kernel forms run on any device: rows (CPU) and one output per work-item (GPU)."""
    monkeypatch.setattr(conv_lowering, "ROW_KERNELS", request.param == "rows")
    return request.param


# ---------------------------------------------------------------- conv2d
CONV_CASES = [
    dict(border_mode="valid"),
    dict(border_mode="full", filter_flip=False),
    dict(border_mode="half", subsample=(2, 1)),
    dict(border_mode=1, filter_dilation=(2, 1)),
    dict(border_mode=(2, 1), subsample=(2, 2), filter_dilation=(1, 2), filter_flip=False),
]


@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("kw", CONV_CASES)
def test_conv2d_and_its_gradients_match_loop_reference(rng, monkeypatch, kw, kernel_form,
                                                       per_image):
    # the host products one per image, or one over all images (as when BLAS is threaded)
    monkeypatch.setattr(conv_lowering, "one_product", lambda p, flops: not per_image)
    x, w, d = T.dtensor4("x"), T.dtensor4("w"), T.dtensor4("d")
    xv = rng.standard_normal((2, 3, 7, 6))
    wv = rng.standard_normal((4, 3, 3, 2))
    out = T.nnet.conv2d(x, w, **kw)
    cost = T.sum(out * d)
    gx, gw = cg.grad(cost, [x, w])
    args = (kw.get("border_mode", "valid"), kw.get("subsample", (1, 1)),
            kw.get("filter_dilation", (1, 1)), kw.get("filter_flip", True))
    ref = conv_loop(xv, wv, *args)
    dv = rng.standard_normal(ref.shape)
    o, gxv, gwv = cg.function([x, w, d], [out, gx, gw])(xv, wv, dv)
    np.testing.assert_allclose(o, ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gxv, numeric_grad(lambda a: conv_loop(a, wv, *args), xv, dv),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gwv, numeric_grad(lambda a: conv_loop(xv, a, *args), wv, dv),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("xshape, wshape, kind", [
    ((2, 1, 6, 6), (2, 1, 3, 3), "dw"),    # small F*K: per-image products, summed
    ((3, 4, 4, 5), (8, 4, 2, 2), "dwt"),   # large F*K: one product over all images
])
def test_conv2d_filter_gradient_both_products(rng, monkeypatch, xshape, wshape, kind):
    kinds = []
    call = conv_lowering.HostConvGemm.__call__

    def spy(self, ctx, bufs):
        kinds.append(self.kind)
        return call(self, ctx, bufs)
    monkeypatch.setattr(conv_lowering.HostConvGemm, "__call__", spy)
    x, w, d = T.dtensor4("x"), T.dtensor4("w"), T.dtensor4("d")
    xv, wv = rng.standard_normal(xshape), rng.standard_normal(wshape)
    args = ("half", (1, 1), (1, 1), False)
    dv = rng.standard_normal(conv_loop(xv, wv, *args).shape)
    gw = cg.grad(T.sum(T.nnet.conv2d(x, w, border_mode="half", filter_flip=False) * d), w)
    got = cg.function([x, w, d], gw)(xv, wv, dv)
    assert kind in kinds
    np.testing.assert_allclose(got, numeric_grad(lambda a: conv_loop(xv, a, *args), wv, dv),
                               rtol=1e-6, atol=1e-6)


def test_conv2d_float32_static_shapes_and_verify_grad(rng):
    x = T.tensor("float32", shape=(2, 1, 8, 8))
    w = T.tensor("float32", shape=(3, 1, 3, 3))
    out = T.nnet.conv2d(x, w, input_shape=(2, 1, 8, 8), filter_shape=(3, 1, 3, 3),
                        border_mode="half")
    assert out.type.shape == (2, 3, 8, 8)
    xv = rng.standard_normal((2, 1, 8, 8)).astype("f4")
    wv = rng.standard_normal((3, 1, 3, 3)).astype("f4")
    got = cg.function([x, w], out)(xv, wv)
    np.testing.assert_allclose(got, conv_loop(xv, wv, "half", (1, 1), (1, 1), True),
                               rtol=1e-4, atol=1e-4)
    verify_grad(lambda a, b: T.nnet.conv2d(a, b, border_mode="full", subsample=(2, 1)),
                [rng.standard_normal((1, 2, 4, 3)), rng.standard_normal((2, 2, 2, 2))], rng=rng)


def test_conv2d_input_checks():
    with pytest.raises(TypeError, match="4-d"):
        T.nnet.conv2d(T.fmatrix(), T.ftensor4())
    with pytest.raises(ValueError, match="border_mode"):
        T.nnet.conv2d(T.ftensor4(), T.ftensor4(), border_mode="same")
    x, w = T.ftensor4(), T.ftensor4()
    f = cg.function([x, w], T.nnet.conv2d(x, w))
    with pytest.raises(ValueError, match="channels"):
        f(np.zeros((1, 2, 5, 5), "f4"), np.zeros((1, 3, 2, 2), "f4"))
    # a filter larger than the (padded) image: Theano's "impossible output shape"
    with pytest.raises(ValueError, match="impossible output shape"):
        f(np.zeros((1, 1, 2, 2), "f4"), np.zeros((1, 1, 3, 3), "f4"))
    full = cg.function([x, w], T.nnet.conv2d(x, w, border_mode="full"))
    assert full(np.ones((1, 1, 2, 2), "f4"), np.ones((1, 1, 3, 3), "f4")).shape == (1, 1, 4, 4)
    # the shape hints are checked against each call's shapes (None: any length)
    hinted = cg.function([x, w], T.nnet.conv2d(x, w, input_shape=(None, 1, 5, 5),
                                               filter_shape=(1, 1, 2, 2)))
    assert hinted(np.ones((3, 1, 5, 5), "f4"), np.ones((1, 1, 2, 2), "f4")).shape == \
        (3, 1, 4, 4)
    with pytest.raises(ValueError, match=r"input_shape=\(None, 1, 5, 5\)"):
        hinted(np.ones((2, 1, 4, 4), "f4"), np.ones((1, 1, 2, 2), "f4"))
    with pytest.raises(ValueError, match="filter_shape"):
        hinted(np.ones((2, 1, 5, 5), "f4"), np.ones((1, 1, 3, 3), "f4"))


# ---------------------------------------------------------------- pool_2d
POOL_CASES = [
    dict(ws=(2, 2)),
    dict(ws=(3, 2), stride=(2, 1), pad=(1, 1)),
    dict(ws=(3, 3), stride=(2, 2), ignore_border=False),
    dict(ws=(2, 3), stride=(3, 3), ignore_border=False),
    dict(ws=(2, 2), stride=(3, 2), pad=(1, 1)),   # disjoint windows, padded
    dict(ws=(2, 4)),                              # tiled rows; a row and 2 columns left over
]


@pytest.mark.parametrize("mode", ["max", "sum", "average_inc_pad", "average_exc_pad"])
def test_pool_2d_and_gradients_match_loop_reference(rng, mode, kernel_form):
    x = T.dtensor4("x")
    outs, grads, dirs = [], [], []
    for k, kw in enumerate(POOL_CASES):
        out = pool_2d(x, mode=mode, **kw)
        d = T.dtensor4(f"d{k}")
        outs.append(out)
        grads.append(cg.grad(T.sum(out * d), x))
        dirs.append(d)
    f = cg.function([x] + dirs, outs + grads)
    xv = rng.standard_normal((2, 3, 7, 6))
    refs = [pool_loop(xv, kw["ws"], kw.get("stride", kw["ws"]), kw.get("pad", (0, 0)),
                      kw.get("ignore_border", True), mode) for kw in POOL_CASES]
    dvs = [rng.standard_normal(r.shape) for r in refs]
    got = f(xv, *dvs)
    for k, kw in enumerate(POOL_CASES):
        np.testing.assert_allclose(got[k], refs[k], rtol=1e-12, atol=1e-12, err_msg=str(kw))

        def ref(a, kw=kw):
            return pool_loop(a, kw["ws"], kw.get("stride", kw["ws"]), kw.get("pad", (0, 0)),
                             kw.get("ignore_border", True), mode)
        np.testing.assert_allclose(got[len(POOL_CASES) + k], numeric_grad(ref, xv, dvs[k]),
                                   rtol=1e-6, atol=1e-6, err_msg=str(kw))


def test_max_pool_rop_and_second_derivatives_match_finite_differences(rng, kernel_form):
    """Rop through max pooling and the gradient of its gradient (Hessian-vector products of a
    CNN loss) both use MaxPoolGradGrad: each window's sum of a tangent at its maximum."""
    x, v = T.dtensor4("x"), T.dtensor4("v")
    xv = rng.standard_normal((2, 3, 7, 6))  # no ties: max is differentiable there
    vv = rng.standard_normal(xv.shape)
    outs = []
    for kw in POOL_CASES:
        out = pool_2d(x, mode="max", **kw)
        g = cg.grad(T.sum(out ** 2), x)
        outs += [cg.gradient.Rop(out, x, v), cg.grad(T.sum(g * v), x), out, g]
    f = cg.function([x, v], outs)
    got = f(xv, vv)
    eps = 1e-6
    plus, minus = f(xv + eps * vv, vv), f(xv - eps * vv, vv)
    for k, kw in enumerate(POOL_CASES):
        rop, hv = got[4 * k], got[4 * k + 1]
        np.testing.assert_allclose(rop, (plus[4 * k + 2] - minus[4 * k + 2]) / (2 * eps),
                                   rtol=1e-6, atol=1e-7, err_msg=str(kw))
        np.testing.assert_allclose(hv, (plus[4 * k + 3] - minus[4 * k + 3]) / (2 * eps),
                                   rtol=1e-5, atol=1e-6, err_msg=str(kw))


def test_linear_pool_modes_rop_is_the_pool_of_the_tangent(rng):
    x, v = T.dtensor4("x"), T.dtensor4("v")
    vv = rng.standard_normal((1, 2, 6, 5))
    for mode in ("sum", "average_inc_pad", "average_exc_pad"):
        rop = cg.gradient.Rop(pool_2d(x, (2, 2), mode=mode, pad=(1, 1)), x, v)
        got = cg.function([x, v], rop, on_unused_input="ignore")(vv, vv)
        np.testing.assert_allclose(got, pool_loop(vv, (2, 2), (2, 2), (1, 1), True, mode),
                                   rtol=1e-12)


def test_pool_old_names_3d_input_and_verify_grad(rng):
    x = T.ftensor3("x")
    xv = rng.standard_normal((3, 6, 5)).astype("f4")
    a = pool_2d(x, ds=(2, 2), st=(1, 2), padding=(1, 0), mode="average_exc_pad")
    b = pool_2d(x, ws=(2, 2), stride=(1, 2), pad=(1, 0), mode="average_exc_pad")
    av, bv = cg.function([x], [a, b])(xv)
    np.testing.assert_array_equal(av, bv)
    np.testing.assert_allclose(av, pool_loop(xv, (2, 2), (1, 2), (1, 0), True,
                                             "average_exc_pad"), rtol=1e-6)
    verify_grad(lambda v: pool_2d(v, (2, 2), mode="max"), [rng.standard_normal((1, 2, 4, 4))],
                rng=rng)
    with pytest.raises(ValueError, match="mode"):
        pool_2d(x, (2, 2), mode="median")


# ---------------------------------------------------------------- batch normalization
def test_batch_normalization_train_and_test(rng):
    x = T.dtensor4("x")
    g, b = T.dvector("g"), T.dvector("b")
    rm, rv = T.dvector("rm"), T.dvector("rv")
    xv = rng.standard_normal((5, 3, 4, 2)) * 2 + 1
    gv, bv = rng.standard_normal(3), rng.standard_normal(3)
    rmv, rvv = np.zeros(3), np.ones(3)
    out, mean, invstd, nrm, nrv = bn.batch_normalization_train(
        x, g, b, axes="spatial", epsilon=1e-3, running_average_factor=0.2,
        running_mean=rm, running_var=rv)
    test_out = bn.batch_normalization_test(x, g, b, rm, rv, axes="spatial", epsilon=1e-3)
    d = T.dtensor4("d")
    gx, gg, gb = cg.grad(T.sum(out * d), [x, g, b])
    dv = rng.standard_normal(xv.shape)
    f = cg.function([x, g, b, rm, rv, d], [out, mean, invstd, nrm, nrv, test_out, gx, gg, gb])
    o, m, s, nm, nv, to, gxv, ggv, gbv = f(xv, gv, bv, rmv, rvv, dv)
    axes = (0, 2, 3)
    mu, var = xv.mean(axes), xv.var(axes)
    shp = (1, 3, 1, 1)

    def ref(a, gam=gv, bet=bv):
        mu_, var_ = a.mean(axes).reshape(shp), a.var(axes).reshape(shp)
        return (a - mu_) / np.sqrt(var_ + 1e-3) * gam.reshape(shp) + bet.reshape(shp)
    np.testing.assert_allclose(o, ref(xv), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(m, mu)
    np.testing.assert_allclose(s, 1 / np.sqrt(var + 1e-3))
    n = xv.size / 3
    np.testing.assert_allclose(nm, 0.2 * mu)
    np.testing.assert_allclose(nv, 0.8 + 0.2 * var * n / (n - 1))
    np.testing.assert_allclose(to, (xv - 0) / np.sqrt(1 + 1e-3) * gv.reshape(shp) +
                               bv.reshape(shp))
    np.testing.assert_allclose(gxv, numeric_grad(ref, xv, dv), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ggv, numeric_grad(lambda a: ref(xv, gam=a), gv, dv), rtol=1e-6)
    np.testing.assert_allclose(gbv, dv.sum(axes), rtol=1e-10)


def test_batch_normalization_per_activation_full_rank_params(rng):
    x = T.dmatrix("x")
    g = T.tensor("float64", shape=(1, None))
    b = T.tensor("float64", shape=(1, None))
    xv = rng.standard_normal((6, 4))
    gv, bv = rng.standard_normal((1, 4)), rng.standard_normal((1, 4))
    out, mean, invstd = bn.batch_normalization_train(x, g, b)
    assert mean.ndim == 2
    o, m = cg.function([x, g, b], [out, mean])(xv, gv, bv)
    np.testing.assert_allclose(o, (xv - xv.mean(0)) / np.sqrt(xv.var(0) + 1e-4) * gv + bv,
                               rtol=1e-10)
    np.testing.assert_allclose(m, xv.mean(0, keepdims=True))
