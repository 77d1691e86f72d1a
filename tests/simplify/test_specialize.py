"""The specialize pass: GEMM epilogues and sum(x*y) -> dot.

Each rewrite must fire (the optimized graph holds GemmEpilogue / Dot22 nodes, the kernel
count drops) and keep the values of the unoptimized function and of NumPy, under both GEMM
providers (`config.gemm`: the OpenCL template with the epilogue in its store, and the
host BLAS followed by one in-place epilogue kernel).
"""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.expr.blas import Dot22, GemmEpilogue
from clgraph.expr.reduce import Reduce
from clgraph.runtime.host_blas import gemm_for

PROVIDERS = ("host", "template")


@pytest.fixture(params=PROVIDERS)
def provider(request):
    with cg.config.change_flags(gemm=request.param):
        yield request.param


def _ops(fn) -> list:
    return [n.op for n in fn.plan.fgraph.toposort()]


def _unoptimized(inputs, outputs, **kw):
    with cg.config.change_flags(optimizer="None"):
        return cg.function(inputs, outputs, **kw)


def _close(got, ref, dtype) -> None:
    tol = 2e-5 if np.dtype(dtype) == np.float32 else 1e-12
    ref = np.asarray(ref)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    scale = max(float(np.abs(ref).max()) if ref.size else 1.0, 1.0)
    np.testing.assert_allclose(got, ref, rtol=tol * 10, atol=tol * scale * 10)


def _rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _relu(v):
    return np.maximum(v, 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bias_relu_is_one_gemm(provider, dtype):
    x, W = T.matrix("x", dtype=dtype), T.matrix("W", dtype=dtype)
    b = T.vector("b", dtype=dtype)
    out = T.nnet.relu(T.dot(x, W) + b)
    fn = cg.function([x, W, b], out)
    ops = _ops(fn)
    assert [type(op) for op in ops].count(GemmEpilogue) == 1
    assert not any(type(op) is Dot22 for op in ops)
    # Template: the epilogue is in the GEMM kernel; host: BLAS then one epilogue kernel.
    assert len(fn.kernels()) == 1
    ref_fn = _unoptimized([x, W, b], out)
    rng = np.random.default_rng(0)
    for m, k, n in [(37, 50, 29), (1, 5, 3), (6, 16, 16), (13, 1, 40), (5, 0, 7), (0, 4, 3)]:
        xv, Wv, bv = _rand(rng, (m, k), dtype), _rand(rng, (k, n), dtype), _rand(rng, n, dtype)
        got = fn(xv, Wv, bv)
        _close(got, ref_fn(xv, Wv, bv), dtype)
        _close(got, _relu(xv @ Wv + bv), dtype)


def test_edge_values(provider):
    x, W, b = T.fmatrix("x"), T.fmatrix("W"), T.fvector("b")
    out = T.nnet.sigmoid(T.dot(x, W) + b)
    fn = cg.function([x, W, b], out)
    assert any(isinstance(op, GemmEpilogue) for op in _ops(fn))
    xv = np.array([[1e30, -1e30, 0.0], [0.0, 0.0, 0.0], [-0.0, 1.0, -1.0]], "f4")
    Wv = np.array([[1.0, -1.0, 0.0, 2.0], [0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]], "f4")
    bv = np.array([0.0, np.inf, -np.inf, 1.0], "f4")
    got = fn(xv, Wv, bv)
    with np.errstate(all="ignore"):
        pre = xv @ Wv + bv
        ref = 1 / (1 + np.exp(-pre))
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_transposed_operands_and_bias_forms(provider, dtype):
    """x.T, W.T, both, sliced; bias as a row, a column and a scalar."""
    rng = np.random.default_rng(1)
    x, W = T.matrix("x", dtype=dtype), T.matrix("W", dtype=dtype)
    r, c, s = T.vector("r", dtype=dtype), T.vector("c", dtype=dtype), T.scalar("s", dtype=dtype)
    m, k, n = 23, 19, 33
    cases = {  # name: (clgraph product, NumPy product from xv (m x k or k x m) and Wv)
        "x.W": (lambda: T.dot(x, W), lambda a, w: a @ w, (m, k), (k, n)),
        "xT.W": (lambda: T.dot(x.T, W), lambda a, w: a.T @ w, (k, m), (k, n)),
        "x.WT": (lambda: T.dot(x, W.T), lambda a, w: a @ w.T, (m, k), (n, k)),
        "xT.WT": (lambda: T.dot(x.T, W.T), lambda a, w: a.T @ w.T, (k, m), (n, k)),
        "x.W[:, ::2]": (lambda: T.dot(x, W[:, ::2]), lambda a, w: a @ w[:, ::2], (m, k),
                        (k, 2 * n - 1)),
    }
    for name, (sym, ref, xs, ws) in cases.items():
        p = sym()
        outs = [T.tanh(p + r), p * c.dimshuffle(0, "x") - 1, T.maximum(p, s)]
        fn = cg.function([x, W, r, c, s], outs, on_unused_input="ignore")
        # One product read three ways: one GEMM writing three outputs.
        epis = [op for op in _ops(fn) if isinstance(op, GemmEpilogue)]
        assert len(epis) == 1 and len(epis[0].comp.outputs) == 3, name
        ref_fn = _unoptimized([x, W, r, c, s], outs, on_unused_input="ignore")
        xv, Wv = _rand(rng, xs, dtype), _rand(rng, ws, dtype)
        pv = ref(xv, Wv)
        rv, cv = _rand(rng, pv.shape[1], dtype), _rand(rng, pv.shape[0], dtype)
        sv = np.asarray(0.25, dtype)
        got = fn(xv, Wv, rv, cv, sv)
        want = ref_fn(xv, Wv, rv, cv, sv)
        for g, w in zip(got, want, strict=True):
            _close(g, w, dtype)
        _close(got[0], np.tanh(pv + rv), dtype)
        _close(got[1], pv * cv[:, None] - 1, dtype)
        _close(got[2], np.maximum(pv, sv), dtype)


def test_pre_activation_needed_elsewhere_is_an_extra_output(provider):
    """A pre-activation that is also an output is written by the epilogue beside relu(pre);
    relu's gradient reads relu's output, so a training graph's epilogue writes one array."""
    x, W, b = T.fmatrix("x"), T.fmatrix("W"), T.fvector("b")
    pre = T.dot(x, W) + b
    h = T.nnet.relu(pre)
    rng = np.random.default_rng(2)
    xv, Wv, bv = _rand(rng, (31, 17), "f4"), _rand(rng, (17, 24), "f4"), _rand(rng, 24, "f4")
    pv = xv @ Wv + bv
    fn = cg.function([x, W, b], [h, pre])
    epis = [op for op in _ops(fn) if isinstance(op, GemmEpilogue)]
    assert any(len(op.comp.outputs) == 2 for op in epis)
    got = fn(xv, Wv, bv)
    _close(got[0], _relu(pv), "float32")
    _close(got[1], pv, "float32")
    gW = cg.grad((h * h).sum(), W)
    fn = cg.function([x, W, b], [h, gW])
    epis = [op for op in _ops(fn) if isinstance(op, GemmEpilogue)]
    assert all(len(op.comp.outputs) == 1 for op in epis)
    got = fn(xv, Wv, bv)
    _close(got[0], _relu(pv), "float32")
    _close(got[1], xv.T @ (2 * _relu(pv) * (pv > 0)), "float32")


def test_relu_backward_mask_is_an_epilogue(provider):
    d, W, pre = T.fmatrix("d"), T.fmatrix("W"), T.fmatrix("pre")
    out = T.dot(d, W.T) * (pre > 0)
    fn = cg.function([d, W, pre], out)
    assert [type(op) for op in _ops(fn)].count(GemmEpilogue) == 1
    # The template path may copy W.T to read B's rows as vectors: still the GEMM's kernels.
    assert all(isinstance(k.nodes[0].op, GemmEpilogue) for k in fn.plan.kernel_defs)
    rng = np.random.default_rng(3)
    dv, Wv = _rand(rng, (40, 12), "f4"), _rand(rng, (30, 12), "f4")
    pv = _rand(rng, (40, 30), "f4")
    pv[0, :5] = 0.0
    _close(fn(dv, Wv, pv), (dv @ Wv.T) * (pv > 0), "float32")


def test_sgd_update_is_an_epilogue(provider):
    """W <- W - lr * (h.T @ d): the update reads W and the product in one kernel."""
    rng = np.random.default_rng(4)
    W0 = _rand(rng, (14, 9), "f4")
    W = cg.shared(W0.copy(), name="W")
    h, d = T.fmatrix("h"), T.fmatrix("d")
    lr = np.float32(0.1)
    fn = cg.function([h, d], [], updates=[(W, W - lr * T.dot(h.T, d))])
    assert [type(op) for op in _ops(fn)].count(GemmEpilogue) == 1
    hv, dv = _rand(rng, (21, 14), "f4"), _rand(rng, (21, 9), "f4")
    fn(hv, dv)
    _close(W.get_value(), W0 - lr * (hv.T @ dv), "float32")
    fn(hv, dv)
    _close(W.get_value(), W0 - 2 * lr * (hv.T @ dv), "float32")


def test_mixed_dtypes_keep_values(provider):
    """A float64 bias on a float32 product: the epilogue would need float64 lanes in
    float32-wide vectors, so the group is left alone; values stay right either way."""
    x, W, b = T.fmatrix("x"), T.fmatrix("W"), T.dvector("b")
    out = T.dot(x, W) + b
    fn = cg.function([x, W, b], out)
    rng = np.random.default_rng(5)
    xv, Wv, bv = _rand(rng, (8, 5), "f4"), _rand(rng, (5, 11), "f4"), _rand(rng, 11, "f8")
    got = fn(xv, Wv, bv)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, (xv @ Wv).astype("f8") + bv, rtol=1e-5, atol=1e-5)


def test_product_read_elsewhere_is_not_fused(provider):
    x, W = T.fmatrix("x"), T.fmatrix("W")
    p = T.dot(x, W)
    fn = cg.function([x, W], [T.exp(p), p.sum(axis=0)])
    assert not any(isinstance(op, GemmEpilogue) for op in _ops(fn))
    rng = np.random.default_rng(6)
    xv, Wv = _rand(rng, (7, 4), "f4"), _rand(rng, (4, 6), "f4")
    got = fn(xv, Wv)
    _close(got[0], np.exp(xv @ Wv), "float32")
    _close(got[1], (xv @ Wv).sum(axis=0), "float32")


def test_mlp_forward_kernel_count(provider):
    """One GEMM kernel (template) or BLAS + one epilogue kernel (host) per layer, plus the
    softmax's; on the host path the last layer's bias add is BLAS's own beta (no kernel)."""
    rng = np.random.default_rng(7)
    sizes = (20, 16, 16, 10)
    x = T.fmatrix("x")
    Ws = [cg.shared(_rand(rng, (a, b), "f4")) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [cg.shared(_rand(rng, b, "f4")) for b in sizes[1:]]
    h = x
    for k, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        h = T.dot(h, W) + b
        if k < len(Ws) - 1:
            h = T.nnet.relu(h)
    out = T.nnet.softmax(h)
    fn = cg.function([x], out)
    nodes = fn.plan.fgraph.toposort()
    assert [type(n.op) for n in nodes].count(GemmEpilogue) == 3
    softmax_kernels = [k for k in fn.plan.kernel_defs if "Softmax" in str(k.nodes[0].op)]
    linear = 1 if provider == "host" and gemm_for("float32") is not None else 0
    assert len(fn.kernels()) == 3 - linear + len(softmax_kernels)
    xv = _rand(rng, (9, 20), "f4")
    ref = xv
    for k, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        ref = ref @ W.get_value() + b.get_value()
        if k < len(Ws) - 1:
            ref = _relu(ref)
    ref = np.exp(ref - ref.max(axis=1, keepdims=True))
    _close(fn(xv), ref / ref.sum(axis=1, keepdims=True), "float32")


# --- sum(x * y) -> dot ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sum_of_product_is_a_dot(provider, dtype):
    u, v = T.vector("u", dtype=dtype), T.vector("v", dtype=dtype)
    a, b = T.matrix("a", dtype=dtype), T.matrix("b", dtype=dtype)
    outs = [T.sum(u * v), (a * b).sum(), T.sum(u[::2] * v[::-2])]
    fn = cg.function([u, v, a, b], outs)
    ops = _ops(fn)
    assert [type(op) for op in ops].count(Dot22) == 3
    assert not any(isinstance(op, Reduce) for op in ops)
    ref_fn = _unoptimized([u, v, a, b], outs)
    rng = np.random.default_rng(8)
    for n, (m, k) in [(10, (7, 5)), (1, (1, 1)), (0, (0, 3)), (33, (16, 17))]:
        uv, vv = _rand(rng, n, dtype), _rand(rng, n, dtype)
        av, bv = _rand(rng, (m, k), dtype), _rand(rng, (m, k), dtype)
        got = fn(uv, vv, av, bv)
        want = [np.dot(uv, vv), np.sum(av * bv), np.dot(uv[::2], vv[::-2])]
        for g, w, r in zip(got, want, ref_fn(uv, vv, av, bv), strict=True):
            _close(g, np.asarray(w, dtype), dtype)
            _close(g, r, dtype)


def test_sum_of_product_left_alone_when_unsuitable(provider):
    """A transposed matrix would be copied to flatten it, a broadcast is no inner product,
    a partial sum is no dot: these stay reductions, with the right values."""
    a, b = T.fmatrix("a"), T.fmatrix("b")
    r = T.row("r", dtype="float32")
    outs = [(a.T * b).sum(), (a * r).sum(), (a * b).sum(axis=0)]
    fn = cg.function([a, b, r], outs)
    assert not any(type(op) is Dot22 for op in _ops(fn))
    rng = np.random.default_rng(9)
    av, bv = _rand(rng, (6, 6), "f4"), _rand(rng, (6, 6), "f4")
    rv = _rand(rng, (1, 6), "f4")
    got = fn(av, bv, rv)
    _close(got[0], np.sum(av.T * bv), "float32")
    _close(got[1], np.sum(av * rv), "float32")
    _close(got[2], np.sum(av * bv, axis=0), "float32")
