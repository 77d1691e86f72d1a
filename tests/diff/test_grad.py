"""grad, Lop, Rop, jacobian, hessian, verify_grad and the gradient-flow ops."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.gradient import (
    DisconnectedInputError,
    GradientError,
    Lop,
    NullGradError,
    Rop,
    consider_constant,
    disconnected_grad,
    grad_clip,
    grad_scale,
    hessian,
    jacobian,
    undefined_grad,
    verify_grad,
    zero_grad,
)


def test_grad_simple_and_list():
    x = T.dvector("x")
    y = T.dscalar("y")
    cost = T.sum(x ** 2) * y
    gx, gy = cg.grad(cost, [x, y])
    f = cg.function([x, y], [gx, gy])
    a = np.array([1.0, 2.0, 3.0])
    rx, ry = f(a, 2.0)
    np.testing.assert_allclose(rx, 2 * a * 2)
    np.testing.assert_allclose(ry, np.sum(a ** 2))


def test_non_scalar_cost_is_an_error():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="scalar"):
        cg.grad(x * 2, x)


def test_disconnected_inputs():
    x = T.dvector("x")
    z = T.dvector("z")
    cost = T.sum(x)
    with pytest.raises(DisconnectedInputError, match="z"):
        cg.grad(cost, z)
    g = cg.grad(cost, z, disconnected_inputs="ignore")
    np.testing.assert_array_equal(cg.function([z], g)(np.ones(3)), [0, 0, 0])
    assert cg.grad(cost, z, disconnected_inputs="ignore", return_disconnected="none") is None
    with pytest.warns(UserWarning):
        cg.grad(cost, z, disconnected_inputs="warn")


def test_integer_inputs_get_zero_gradient():
    x = T.dvector("x")
    i = T.ivector("i")
    cost = T.sum(x * i)
    gi = cg.grad(cost, i)
    out = cg.function([x, i], gi, on_unused_input="ignore")(np.ones(2), np.array([1, 2], "int32"))
    np.testing.assert_array_equal(out, [0, 0])


def test_integer_cost_gives_zero_gradients_as_theano():
    x = T.dvector("x")
    y = T.dvector("y")
    h = x * 3
    cost = T.cast(h, "int32").sum()
    f = cg.function([x], cg.grad(cost, x))
    np.testing.assert_array_equal(f(np.array([0.5, 1.5])), [0, 0])
    with pytest.raises(DisconnectedInputError, match="y"):
        cg.grad(cost, y)  # still disconnected where the cost does not depend on it
    mixed = cg.function([x], cg.grad(cost + T.sum(x ** 2), x))
    np.testing.assert_allclose(mixed(np.array([0.5, 1.5])), [1.0, 3.0])
    with pytest.raises(DisconnectedInputError):
        cg.grad(cost, x, consider_constant=[h])


def test_consider_constant_and_disconnected_grad():
    x = T.dvector("x")
    y = x ** 2
    g1 = cg.grad(T.sum(y * x), x, consider_constant=[y])
    g2 = cg.grad(T.sum(disconnected_grad(y) * x), x)
    g3 = cg.grad(T.sum(consider_constant(y) * x), x)
    f = cg.function([x], [g1, g2, g3])
    a = np.array([1.0, 2.0])
    for r in f(a):
        np.testing.assert_allclose(r, a ** 2)


def test_zero_grad_and_grad_clip():
    x = T.dvector("x")
    g0 = cg.grad(T.sum(zero_grad(x) * 3 + x), x)
    gc = cg.grad(T.sum(grad_clip(x, -1, 1) * 5), x)
    f = cg.function([x], [g0, gc])
    r0, rc = f(np.array([1.0, 2.0]))
    np.testing.assert_allclose(r0, [1, 1])
    np.testing.assert_allclose(rc, [1, 1])


def test_grad_scale_scales_only_the_gradient():
    """Theano's docstring example: grad_scale(sin(x), -1) reverses the gradient; the
    forward value is x's. The multiplier may be an expression (a shared scale)."""
    x = T.fscalar("x")
    fx = T.sin(x)
    f = cg.function([x], [grad_scale(fx, -1.0), cg.grad(grad_scale(fx, -1.0), x)])
    value, slope = f(2.0)
    assert value == np.float32(np.sin(np.float32(2))) and np.isclose(slope, -np.cos(2.0))
    v = T.dvector("v")
    scale = cg.shared(np.float64(3.0), name="scale")
    g = cg.function([v], cg.grad(T.sum(grad_scale(v * v, scale) * 2), v))
    a = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(g(a), 3 * 2 * 2 * a)
    scale.set_value(0.5)
    np.testing.assert_allclose(g(a), 0.5 * 2 * 2 * a)
    rows = T.dmatrix("rows")  # a per-column multiplier broadcast over rows
    h = cg.function([rows], cg.grad(T.sum(grad_scale(rows, np.array([1.0, 0.0, -2.0]))),
                                    rows))
    np.testing.assert_allclose(h(np.ones((2, 3))), [[1, 0, -2], [1, 0, -2]])


def test_grad_scale_checks_the_multiplier():
    with pytest.raises(TypeError, match="more dimensions than x"):
        grad_scale(T.dvector("v"), T.dmatrix("m"))
    with pytest.raises(TypeError, match="does not broadcast to x"):
        grad_scale(T.drow("r"), T.dcol("c"))


def test_undefined_grad():
    """Theano's undefined_grad: the value passes; a gradient through it is an error."""
    x, y = T.dvector("x"), T.dvector("y")
    cost = T.sum(undefined_grad(T.exp(x)) + y * 2)
    with pytest.raises(NullGradError, match="undefined_grad"):
        cg.grad(cost, x)
    gx, gy = cg.grad(cost, [x, y], null_gradients="return")
    assert gx is None
    f = cg.function([x, y], [cost, gy])
    c, d = f(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    assert np.isclose(c, 1 + np.e + 4) and np.allclose(d, [2, 2])


def test_rop_through_gradient_flow_ops_is_theanos():
    """ViewOps (grad_scale, grad_clip) pass tangents unchanged, zero_grad gives zeros,
    undefined_grad and disconnected_grad none (Theano's R_op of each)."""
    x, v = T.dvector("x"), T.dvector("v")
    outs = [Rop(op(x) * 2 + x, x, v) for op in
            (lambda t: grad_scale(t, 5.0), lambda t: grad_clip(t, -0.1, 0.1), zero_grad,
             undefined_grad, disconnected_grad)]
    f = cg.function([x, v], outs)
    vv = np.array([1.0, -3.0])
    for got, want in zip(f(np.array([0.3, 0.4]), vv), [3 * vv, 3 * vv, vv, vv, vv]):
        np.testing.assert_allclose(got, want)


def test_known_grads_and_lop():
    x = T.dvector("x")
    y = T.exp(x)
    g = cg.grad(None, x, known_grads={y: T.constant(np.array([1.0, 2.0]))})
    lop = Lop(y, x, T.constant(np.array([1.0, 2.0])))
    f = cg.function([x], [g, lop])
    a = np.array([0.5, -0.5])
    for r in f(a):
        np.testing.assert_allclose(r, np.exp(a) * [1, 2])


def test_argmax_is_not_differentiable():
    x = T.dvector("x")
    cost = T.cast(T.argmax(x), "float64") * 1.0
    with pytest.raises(DisconnectedInputError):
        cg.grad(cost, x)
    # tri_gamma (psi's derivative) has none: a NullGrad, raised by name
    with pytest.raises(NullGradError, match="tri_gamma"):
        cg.grad(T.sum(T.tri_gamma(x)), x)


def test_second_derivative():
    x = T.dscalar("x")
    y = x ** 3 + T.sin(x)
    d1 = cg.grad(y, x)
    d2 = cg.grad(d1, x)
    f = cg.function([x], [d1, d2])
    a = 0.7
    r1, r2 = f(a)
    np.testing.assert_allclose(r1, 3 * a ** 2 + np.cos(a))
    np.testing.assert_allclose(r2, 6 * a - np.sin(a))


def test_jacobian_and_hessian():
    x = T.tensor("float64", shape=(3,), name="x")
    y = T.exp(x) * x[0]
    J = jacobian(y, x)
    H = hessian(T.sum(x ** 3) + x[0] * x[1], x)
    f = cg.function([x], [J, H])
    a = np.array([0.1, 0.2, 0.3])
    rJ, rH = f(a)
    expJ = np.diag(np.exp(a) * a[0])
    expJ[:, 0] += np.exp(a)
    np.testing.assert_allclose(rJ, expJ)
    expH = np.diag(6 * a)
    expH[0, 1] += 1
    expH[1, 0] += 1
    np.testing.assert_allclose(rH, expH)


def test_rop_matches_jacobian_product():
    x = T.tensor("float64", shape=(3,), name="x")
    v = T.dvector("v")
    W = T.constant(np.arange(9.0).reshape(3, 3) / 10)
    y = T.tanh(T.dot(W, x)) * x
    jv = Rop(y, x, v)
    J = jacobian(y, x)
    f = cg.function([x, v], [jv, T.dot(J, v)])
    a, b = f(np.array([0.3, -0.2, 0.5]), np.array([1.0, 2.0, -1.0]))
    np.testing.assert_allclose(a, b)


def test_hessian_vector_product_through_rop_of_grad():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    A = A @ A.T
    x = T.tensor("float64", shape=(4,), name="x")
    v = T.dvector("v")
    cost = 0.5 * T.dot(x, T.dot(T.constant(A), x)) + T.sum(T.sin(x))
    g = cg.grad(cost, x)
    hv = Rop(g, x, v)
    H = hessian(cost, x)
    f = cg.function([x, v], [hv, T.dot(H, v)])
    xv, vv = rng.standard_normal(4), rng.standard_normal(4)
    r1, r2 = f(xv, vv)
    np.testing.assert_allclose(r1, r2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r1, A @ vv - np.sin(xv) * vv, rtol=1e-10)


def test_hessian_vector_product_on_mlp_loss():
    rng = np.random.default_rng(1)
    X = T.constant(rng.standard_normal((5, 3)))
    w = T.tensor("float64", shape=(6,), name="w")
    v = T.dvector("v")
    W1 = w[:6].reshape((3, 2))
    h = T.tanh(T.dot(X, W1))
    cost = T.sum(T.sqr(T.sum(h, axis=1) - 1.0))
    hv = Rop(cg.grad(cost, w), w, v)
    H = hessian(cost, w)
    f = cg.function([w, v], [hv, T.dot(H, v)])
    r1, r2 = f(rng.standard_normal(6), rng.standard_normal(6))
    np.testing.assert_allclose(r1, r2, rtol=1e-8, atol=1e-10)


def test_verify_grad_passes_and_names_the_bad_input():
    rng = np.random.default_rng(0)
    verify_grad(lambda a, b: T.tanh(a) * b ** 2, [rng.standard_normal(4),
                                                  rng.standard_normal(4)])

    def wrong(a, b):
        return a * b + zero_grad(b ** 2)  # the gradient of b**2 is hidden: wrong for b

    with pytest.raises(GradientError, match="input 1"):
        verify_grad(wrong, [rng.standard_normal(3), rng.standard_normal(3) + 2])


def test_rop_through_advanced_indexing():
    """Advanced indexing and advanced inc/set_subtensor are linear in x (and y): their R_op
    applies the same indexing to the tangents (a missing tangent counts as zeros)."""
    from clgraph.gradient import Rop

    x, w = T.fvector("x"), T.fvector("w")
    v, u = T.fvector("v"), T.fvector("u")
    idx = np.array([1, 3, 3])
    picked = x[idx] * 2
    incd = T.inc_subtensor(x[idx], w)
    f = cg.function([x, w, v, u], [Rop(picked, x, v), Rop(incd, [x, w], [v, u]),
                                   Rop(incd, w, u)],
                    on_unused_input="ignore")  # linear: the tangents need not x's, w's values
    xv, wv, vv, uv = (np.arange(5, dtype="float32") + k for k in (0, 10, 20, 30))
    uv = uv[:3]
    wv = wv[:3]
    got_pick, got_both, got_w = f(xv, wv, vv, uv)
    np.testing.assert_allclose(got_pick, vv[idx] * 2)
    both = vv.copy()
    np.add.at(both, idx, uv)
    np.testing.assert_allclose(got_both, both)
    only_w = np.zeros(5, "float32")
    np.add.at(only_w, idx, uv)
    np.testing.assert_allclose(got_w, only_w)


def test_jacobian_and_hessian_of_unknown_length():
    """Lengths known only at run time: a scan over the identity's rows (Theano's way)."""
    x = T.dvector("x")
    J = jacobian(T.sin(x) * x.sum(), x)
    H = hessian((x ** 3).sum() + x.sum() ** 2, x)
    f = cg.function([x], [J, H])
    for a in (np.array([0.3, 1.0, -2.0]), np.arange(5.0), np.array([0.7])):
        rJ, rH = f(a)
        np.testing.assert_allclose(rJ, np.diag(np.cos(a) * a.sum()) + np.sin(a)[:, None],
                                   atol=1e-12)
        np.testing.assert_allclose(rH, np.diag(6 * a) + 2, atol=1e-12)
    W = T.dmatrix("W")  # with respect to a matrix: shape (len, *W.shape)
    y = T.dot(W, x)
    g = cg.function([W, x], jacobian(y, W))
    Wv, xv = np.arange(6.0).reshape(2, 3), np.array([1.0, -1.0, 2.0])
    want = np.zeros((2, 2, 3))
    want[0, 0], want[1, 1] = xv, xv
    np.testing.assert_allclose(g(Wv, xv), want)


def test_return_disconnected_in_theanos_spelling():
    """Theano spells the values 'None' and 'Disconnected' (and compares them lowercased)."""
    x, y = T.dvector("x"), T.dvector("y")
    got = cg.grad((x ** 2).sum(), [x, y], disconnected_inputs="ignore",
                  return_disconnected="None")
    assert got[1] is None
    zero = cg.grad((x ** 2).sum(), [x, y], disconnected_inputs="ignore",
                   return_disconnected="Zero")[1]
    assert cg.function([y], zero)(np.ones(2)).tolist() == [0, 0]


def test_typed_rows_columns_and_plural_constructors():
    assert T.frow("r").type.shape == (1, None) and T.frow().dtype == "float32"
    assert T.icol().type.shape == (None, 1) and T.icol().dtype == "int32"
    a, b = T.dscalars("a", "b")
    assert (a.name, b.name, a.dtype, a.ndim) == ("a", "b", "float64", 0)
    assert [m.ndim for m in T.matrices("p", "q")] == [2, 2] and len(T.fvectors(3)) == 3


def test_wrt_holding_an_intermediate_and_its_input():
    """grad(c, [h, x]) with h = tanh(x): x's gradient takes the path through h (Theano)."""
    x = T.dvector("x")
    h = T.tanh(x)
    cost = (h ** 2).sum()
    xv = np.array([1.0, -0.07, 0.01])
    gh, gx = cg.function([x], cg.grad(cost, [h, x]))(xv)
    np.testing.assert_allclose(gh, 2 * np.tanh(xv))
    np.testing.assert_allclose(gx, 2 * np.tanh(xv) * (1 - np.tanh(xv) ** 2))
    W = cg.shared(np.eye(3) * 0.5)
    a = T.dot(x, W)
    c2 = (T.tanh(a) ** 2).sum()
    both = cg.function([x], cg.grad(c2, [W, a])[0])(xv)
    alone = cg.function([x], cg.grad(c2, W))(xv)
    np.testing.assert_allclose(both, alone)
    jh, jx = cg.function([x], jacobian(h * 2, [h, x]))(xv)
    np.testing.assert_allclose(jh, 2 * np.eye(3))
    np.testing.assert_allclose(jx, np.diag(2 * (1 - np.tanh(xv) ** 2)))


def test_consider_constant_stops_below_the_variable_not_at_it():
    """Theano: a consider_constant variable gets its gradient; its own inputs get none
    through it."""
    x = T.dvector("x")
    h = x * 3
    cost = (h ** 2).sum() + x.sum()
    xv = np.array([1.0, 2.0])
    gx = cg.function([x], cg.grad(cost, x, consider_constant=[h]))(xv)
    np.testing.assert_allclose(gx, [1.0, 1.0])
    gh = cg.function([x], cg.grad(cost, h, consider_constant=[h]))(xv)
    np.testing.assert_allclose(gh, 2 * 3 * xv)
    gxx = cg.function([x], cg.grad(cost, x, consider_constant=[x]))(xv)
    np.testing.assert_allclose(gxx, 18 * xv + 1)


def test_maximum_and_minimum_ties_go_to_the_first_input():
    """Theano 1.0: maximum(x, x) has derivative 1, and clip passes x's gradient at its bounds
    (the bounds get theirs only outside)."""
    x, lo, hi = T.dscalars("x", "lo", "hi")
    ties = cg.function([x], [cg.grad(T.maximum(x, x + 0.0), x), cg.grad(T.maximum(x, 2 * x), x),
                             cg.grad(T.minimum(x, 3 * x), x)])
    np.testing.assert_array_equal(ties(0.0), [1.0, 1.0, 1.0])
    clip = cg.function([x, lo, hi], cg.grad(T.clip(x, lo, hi), [x, lo, hi]))
    for xv, want in [(-1, [1, 0, 0]), (1, [1, 0, 0]), (0, [1, 0, 0]), (-2, [0, 1, 0]),
                     (2, [0, 0, 1])]:
        np.testing.assert_array_equal(clip(xv, -1.0, 1.0), want, err_msg=f"x={xv}")
