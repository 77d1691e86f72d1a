"""Linear GEMM epilogues done by the host BLAS's own alpha and beta (C = a A.B + b X).

On the host provider, `W - lr * dot(h.T, d)`, `0.9 * W - lr * dot(...)` and `dot(x, W) + b`
need no epilogue kernel: C is filled with X and one gemm call does the rest. Checked here:
the CBLAS binding itself on every operand layout against NumPy, the recognition of linear
programs (and the refusal of others), and whole functions against NumPy and against the
fallback (NumPy's product plus an epilogue kernel, as where no CBLAS gemm is found).
"""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.lower.gemm as gemm_lowering
import clgraph.tensor as T
from clgraph.expr.scalar.composite import Composite, ScalarConstant
from clgraph.expr.scalar.ops import Add, Cast, Mul, Neg, Sub
from clgraph.lower.linear_epilogue import Coefficient, LinearEpilogue, linear_epilogue
from clgraph.runtime.host_blas import gemm_for


def _numpy_blas_is_openblas() -> bool:
    return "openblas" in str(np.show_config(mode="dicts")).lower()


@pytest.fixture
def host_gemm():
    if gemm_for("float32") is None:
        assert not _numpy_blas_is_openblas(), "NumPy's OpenBLAS has cblas gemm: not found"
        pytest.skip("NumPy's BLAS is not OpenBLAS: no CBLAS gemm to bind")
    with cg.config.change_flags(gemm="host"):
        yield


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gemm_binding_every_layout(host_gemm, dtype):
    gemm = gemm_for(dtype)
    rng = np.random.default_rng(0)
    tol = 1e-5 if dtype == "float32" else 1e-12

    def operand(shape, form):
        r, c = shape
        if form == "rows":
            return rng.standard_normal((r, c)).astype(dtype)
        if form == "cols":  # a transposed view: columns contiguous
            return rng.standard_normal((c, r)).astype(dtype).T
        if form == "sliced":  # rows contiguous, leading dimension larger than the width
            return rng.standard_normal((r, c + 3)).astype(dtype)[:, 1:c + 1]
        return rng.standard_normal((r, 2 * c)).astype(dtype)[:, ::2]  # strided: copied

    for m, k, n in [(7, 5, 9), (1, 6, 4), (5, 1, 3), (4, 6, 1), (1, 1, 1)]:
        for fa in ("rows", "cols", "sliced", "strided"):
            for fb in ("rows", "cols", "sliced", "strided"):
                a, b = operand((m, k), fa), operand((k, n), fb)
                x = rng.standard_normal((m, n)).astype(dtype)
                for alpha, beta in [(1.0, 0.0), (-0.5, 1.0), (2.0, 0.25)]:
                    c = x.copy()
                    gemm(alpha, a, b, beta, c)
                    want = alpha * (a.astype("f8") @ b.astype("f8")) + beta * x
                    np.testing.assert_allclose(c, want, rtol=tol, atol=tol,
                                               err_msg=f"{m, k, n} {fa} {fb} {alpha} {beta}")
    a, b = operand((3, 2), "rows"), operand((2, 4), "rows")
    with pytest.raises(ValueError, match="rows must be contiguous"):
        gemm(1.0, a, b, 0.0, np.zeros((4, 3), dtype).T)


def _comp(nin, steps, dtype="float32"):
    return Composite((dtype,) * nin, tuple(steps), (nin + len(steps) - 1,))


def test_linear_forms_recognised():
    c = ScalarConstant("float32", 0.5)
    C = Coefficient
    # x1 - 0.5 * x0 (an SGD update)
    assert linear_epilogue(_comp(2, [(c, ()), (Mul(), (2, 0)), (Sub(), (1, 3))])) == \
        LinearEpilogue(C(-0.5), 1, C(1.0))
    # x0 * 0.5 + x1 * 0.5 (weights on both sides)
    got = linear_epilogue(_comp(2, [(c, ()), (Mul(), (0, 2)), (Mul(), (1, 2)), (Add(), (3, 4))]))
    assert got == LinearEpilogue(C(0.5), 1, C(0.5))
    # x0 + x1 (a bias add), -x0 (no addend), x2 - x0 with an unused x1
    assert linear_epilogue(_comp(2, [(Add(), (0, 1))])) == LinearEpilogue(C(1.0), 1, C(1.0))
    assert linear_epilogue(_comp(1, [(Neg(), (0,))])) == LinearEpilogue(C(-1.0), None, C(0.0))
    assert linear_epilogue(_comp(3, [(Sub(), (2, 0))])) == LinearEpilogue(C(-1.0), 2, C(1.0))
    # x1 - x2 * (0.5 * x0) with x2 a scalar operand (a learning rate in a shared variable)
    lr = _comp(3, [(c, ()), (Mul(), (3, 0)), (Mul(), (2, 4)), (Sub(), (1, 5))])
    got = linear_epilogue(lr, frozenset({2}))
    assert got == LinearEpilogue(C(-0.5, (2,)), 1, C(1.0)) and got.factors == (2,)
    assert got.alpha.value({2: np.array([[0.1]])}) == pytest.approx(-0.05)
    assert linear_epilogue(lr) is None  # x2 not known to be a scalar: not linear


def test_other_forms_refused():
    c = ScalarConstant("float32", 1.0)
    refused = {
        "product of operands": _comp(2, [(Mul(), (0, 1))]),
        "constant term": _comp(1, [(c, ()), (Add(), (0, 1))]),
        "two addends": _comp(3, [(Add(), (0, 1)), (Add(), (3, 2))]),
        "product cancels": _comp(2, [(Sub(), (0, 0)), (Add(), (2, 1))]),
        "a cast": _comp(2, [(Cast("float64"), (0,)), (Cast("float32"), (2,)), (Add(), (3, 1))]),
        "integers": _comp(2, [(Add(), (0, 1))], dtype="int32"),
        "scalar plus tensor": _comp(3, [(Add(), (0, 2)), (Add(), (3, 1))]),
    }
    for name, comp in refused.items():
        assert linear_epilogue(comp, frozenset({2})) is None, name


def _functions(build):
    """(function on the BLAS path, the same on the fallback path) from `build()`."""
    fast = build()
    orig = gemm_lowering.gemm_for
    gemm_lowering.gemm_for = lambda dtype: None
    try:
        slow = build()
    finally:
        gemm_lowering.gemm_for = orig
    return fast, slow


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_updates_and_bias_add_without_a_kernel(host_gemm, dtype):
    rng = np.random.default_rng(1)
    W0 = rng.standard_normal((14, 9)).astype(dtype)
    lr, decay = np.asarray(0.1, dtype), np.asarray(0.9, dtype)
    made = []

    def build():
        W = cg.shared(W0.copy(), name="W")
        V = cg.shared(W0.copy(), name="V")
        h, d = T.matrix("h", dtype=dtype), T.matrix("d", dtype=dtype)
        b = T.vector("b", dtype=dtype)
        out = T.dot(h, W) + b  # bias add: beta 1 on b's rows
        fn = cg.function([h, d, b], out, updates=[(W, W - lr * T.dot(h.T, d)),
                                                  (V, decay * V - lr * T.dot(h[::-1].T, d[::-1]))])
        made.append((W, V))
        return fn

    fast, slow = _functions(build)
    assert fast.kernels() == [] and len(slow.kernels()) == 3
    hv, dv = rng.standard_normal((21, 14)).astype(dtype), rng.standard_normal((21, 9)).astype(dtype)
    bv = rng.standard_normal(9).astype(dtype)
    W, V = W0.astype("f8"), W0.astype("f8")
    tol = 2e-5 if dtype == "float32" else 1e-12
    for _ in range(3):
        want_out = hv.astype("f8") @ W + bv
        W = W - lr * (hv.T @ dv)
        V = decay * V - lr * (hv.T @ dv)
        for fn, (Ws, Vs) in zip((fast, slow), made, strict=True):
            np.testing.assert_allclose(fn(hv, dv, bv), want_out, rtol=tol, atol=tol)
            np.testing.assert_allclose(Ws.get_value(), W, rtol=tol, atol=tol)
            np.testing.assert_allclose(Vs.get_value(), V, rtol=tol, atol=tol)


def test_empty_inner_dimension_and_broadcast_addend(host_gemm):
    """k = 0: the product is zeros, the result beta * X (or 0); a scalar addend broadcasts."""
    x, W, s = T.fmatrix("x"), T.fmatrix("W"), T.fscalar("s")
    add = cg.function([x, W, s], T.dot(x, W) + s)
    scale = cg.function([x, W], T.dot(x, W) * 2)
    assert add.kernels() == [] and scale.kernels() == []
    xe, We = np.zeros((3, 0), "f4"), np.zeros((0, 4), "f4")
    np.testing.assert_array_equal(add(xe, We, np.float32(1.5)), np.full((3, 4), 1.5, "f4"))
    np.testing.assert_array_equal(scale(xe, We), np.zeros((3, 4), "f4"))
    rng = np.random.default_rng(2)
    xv, Wv = rng.standard_normal((5, 3)).astype("f4"), rng.standard_normal((3, 4)).astype("f4")
    np.testing.assert_allclose(add(xv, Wv, np.float32(-2.0)), xv @ Wv - 2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scale(xv, Wv), 2 * (xv @ Wv), rtol=1e-5, atol=1e-5)


def _in_place_slots(fn) -> set:
    """Update slots that alias a shared variable's input slot in the last prepared state."""
    state = next(reversed(fn.plan._prepared.values()))
    n_inputs = len(fn.plan.fgraph.inputs)
    return {slot for slot, phys in state.aliases.items() if phys < n_inputs}


def test_update_written_into_the_variable_itself(host_gemm, monkeypatch):
    """W - lr * h.T d lands in W's own buffer (no new buffer, no copy); where the old W is
    still needed after the product (an output, an operand), a buffer of its own."""
    rng = np.random.default_rng(3)
    W0 = rng.standard_normal((6, 5)).astype("f4")
    hv, dv = rng.standard_normal((8, 6)).astype("f4"), rng.standard_normal((8, 5)).astype("f4")
    lr = np.float32(0.5)
    h, d = T.fmatrix("h"), T.fmatrix("d")

    W = cg.shared(W0.copy(), name="W")
    step = cg.function([h, d], (h * 2).sum(), updates=[(W, W - lr * T.dot(h.T, d))])
    step(hv, dv)
    assert len(_in_place_slots(step)) == 1
    step(hv, dv)
    np.testing.assert_allclose(W.get_value(), W0 - 2 * lr * (hv.T @ dv), rtol=1e-5, atol=1e-5)

    V = cg.shared(W0.copy(), name="V")  # the old value is an output: not in place
    keep = cg.function([h, d], V * 1, updates=[(V, V - lr * T.dot(h.T, d))])
    np.testing.assert_array_equal(keep(hv, dv), W0)
    assert not _in_place_slots(keep)
    np.testing.assert_allclose(V.get_value(), W0 - lr * (hv.T @ dv), rtol=1e-5, atol=1e-5)

    S = cg.shared(rng.standard_normal((6, 6)).astype("f4"), name="S")  # S is an operand too
    s0 = S.get_value()
    own = cg.function([h], [], updates=[(S, S - lr * T.dot(S, h.T @ h))])
    own(hv)
    assert not _in_place_slots(own)
    np.testing.assert_allclose(S.get_value(), s0 - lr * (s0 @ (hv.T @ hv)), rtol=1e-4,
                               atol=1e-4)

    # buffers the host maps (no host pointer): the update's map keeps W's contents
    monkeypatch.setattr(gemm_lowering, "host_bytes", lambda buf: None)
    M = cg.shared(W0.copy(), name="M")
    mapped = cg.function([h, d], [], updates=[(M, M - lr * T.dot(h.T, d))])
    mapped(hv, dv)
    assert len(_in_place_slots(mapped)) == 1
    np.testing.assert_allclose(M.get_value(), W0 - lr * (hv.T @ dv), rtol=1e-5, atol=1e-5)


def test_checked_call_that_fails_leaves_the_variable(host_gemm):
    """NanGuardMode raising after the update's product: W keeps its old value (checked
    modes never update in place)."""
    from clgraph.compile import NanGuardMode

    rng = np.random.default_rng(4)
    W0 = rng.standard_normal((3, 2)).astype("f4")
    W = cg.shared(W0.copy(), name="W")
    h, d = T.fmatrix("h"), T.fmatrix("d")
    fn = cg.function([h, d], T.log(d - 10).sum(), updates=[(W, W - 0.1 * T.dot(h.T, d))],
                     mode=NanGuardMode(nan_is_error=True, inf_is_error=True))
    with pytest.raises(Exception, match="(?i)nan"):
        fn(np.ones((4, 3), "f4"), np.ones((4, 2), "f4"))
    np.testing.assert_array_equal(W.get_value(), W0)


def test_learning_rate_in_a_shared_variable(host_gemm):
    """lr as a shared scalar: read on the host at each call (no epilogue kernel), in place."""
    rng = np.random.default_rng(5)
    W0 = rng.standard_normal((4, 3)).astype("f4")
    W = cg.shared(W0.copy(), name="W")
    lr = cg.shared(np.float32(0.5), name="lr")
    h, d = T.fmatrix("h"), T.fmatrix("d")
    fn = cg.function([h, d], [], updates=[(W, W - lr * T.dot(h.T, d))])
    assert fn.kernels() == []
    hv, dv = rng.standard_normal((6, 4)).astype("f4"), rng.standard_normal((6, 3)).astype("f4")
    fn(hv, dv)
    assert len(_in_place_slots(fn)) == 1
    lr.set_value(np.float32(0.25))
    fn(hv, dv)
    np.testing.assert_allclose(W.get_value(), W0 - 0.75 * (hv.T @ dv), rtol=1e-5, atol=1e-5)


def test_host_product_reuses_its_views_and_sees_new_contents():
    """A host product called with the same buffers again (a binding's intermediates and
    shared variables) reuses its NumPy views: each call still reads the buffers' current
    contents, and a call with other buffers makes new views."""
    rng = np.random.default_rng(3)
    with cg.config.change_flags(gemm="host"):
        W = cg.shared(rng.standard_normal((24, 16)).astype(np.float32), name="W")
        x = T.fmatrix("x")
        f = cg.function([x], T.tanh(T.dot(T.exp(x) * 2, W)))
    if not f.executor.ctx.host_addressable:
        pytest.skip("buffers are mapped on this device: no views to keep")
    products = []
    for call in range(4):
        if call == 2:  # new contents of the same buffer, then a buffer of its own
            W.set_value(rng.standard_normal((24, 16)).astype(np.float32))
        a = rng.standard_normal((8, 24)).astype(np.float32)
        want = np.tanh((np.exp(a) * 2) @ W.get_value())
        np.testing.assert_allclose(f(a), want, rtol=1e-5, atol=1e-5)
        hosts = [it[4].fn for it in f._last[-1].bound.items if it[4] is not None]
        assert len(hosts) == 1
        products.append(hosts[0]._last_operands[1])
    assert products[1] is products[0]  # same buffers: the views kept


@pytest.mark.parametrize("n", [4, 300])  # 4: a kernel's product; 300: BLAS, in place
def test_input_that_is_the_updated_variables_own_memory(n):
    """An input passed as the shared variable's own device array (its internal value, or a
    borrowed output of it) while the function updates that variable in place: the input
    is copied first, so the product reads the old W (found by a probe: the in-place gemm
    read what it was writing)."""
    rng = np.random.default_rng(n)
    W = cg.shared(rng.standard_normal((n, n)), name="W")
    X, Y = T.dmatrix("X"), T.dmatrix("Y")
    step = cg.function([X, Y], [], updates=[(W, W - 0.1 * T.dot(X.T, Y))])
    own = cg.function([], cg.Out(W, borrow=True))
    for internal in (W.get_value(return_internal_type=True), own()):
        W0, Yv = W.get_value(), rng.standard_normal((n, n))
        step(internal, Yv)
        np.testing.assert_allclose(W.get_value(), W0 - 0.1 * W0.T @ Yv, rtol=1e-12,
                                   atol=1e-12)
