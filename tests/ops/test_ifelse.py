"""Lazy ifelse: values of the branch taken, and the other branch's own nodes never run.

Laziness is observed two ways: the kernels launched (the executor's enqueue, patched to
record each launch's node) and a branch whose shapes only fit one case (preparing it
would raise). Gradients, updates, nesting, DebugMode and NanGuardMode run through it too.
"""

from __future__ import annotations

import numpy as np
import pyopencl as cl
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.compile import DebugMode, NanGuardMode
from clgraph.expr.ifelse import IfElse
from clgraph.ifelse import ifelse


@pytest.fixture
def launched(monkeypatch):
    """The names of the kernels launched (kernel names carry their ops: k3_composite_exp_mul);
    the test clears it between calls."""
    names: list = []
    orig = cl.enqueue_nd_range_kernel

    def record(queue, kernel, *args, **kwargs):
        names.append(kernel.function_name)
        return orig(queue, kernel, *args, **kwargs)

    monkeypatch.setattr(cl, "enqueue_nd_range_kernel", record)
    return names


def test_values_of_either_branch():
    rng = np.random.default_rng(0)
    x, y = T.fmatrix("x"), T.fmatrix("y")
    c = T.iscalar("c")
    out = ifelse(c, T.exp(x) * 2, T.tanh(y) - x)
    fn = cg.function([c, x, y], out)
    xv, yv = rng.standard_normal((4, 5)).astype("f4"), rng.standard_normal((4, 5)).astype("f4")
    for cv in (1, 0, 7, -1, 0):
        want = np.exp(xv) * 2 if cv else np.tanh(yv) - xv
        np.testing.assert_allclose(fn(cv, xv, yv), want, rtol=1e-6, atol=1e-6)


def test_lists_numbers_and_computed_conditions():
    x = T.dvector("x")
    a, b = ifelse(x.sum() > 0, [x * 2, x.max()], [-x, 0.5])
    fn = cg.function([x], [a, b])
    pos, neg = np.array([1.0, 2.0, -0.5]), np.array([-1.0, 0.25])
    got = fn(pos)
    np.testing.assert_allclose(got[0], pos * 2)
    assert got[1] == 2.0
    got = fn(neg)
    np.testing.assert_allclose(got[0], -neg)
    assert got[1] == 0.5 and got[1].dtype == np.float64
    # a float condition: nonzero is true
    f = T.dscalar("f")
    fn = cg.function([f, x], ifelse(f, x + 1, x - 1))
    np.testing.assert_allclose(fn(0.5, pos), pos + 1)
    np.testing.assert_allclose(fn(0.0, pos), pos - 1)


def test_only_the_branch_taken_runs(launched):
    x, y = T.fvector("x"), T.fvector("y")
    c = T.iscalar("c")
    then = T.exp(x) * 3
    other = T.sqrt(abs(y)) + T.dot(y, y)  # y's length need not fit x's
    fn = cg.function([c, x, y], ifelse(c, then, other + x))
    xv, y_short = np.arange(4, dtype="f4"), np.ones(2, "f4")
    np.testing.assert_allclose(fn(1, xv, y_short), np.exp(xv) * 3, rtol=1e-6)
    then_ops = list(launched)
    assert then_ops and not any("sqrt" in op or "dot" in op for op in then_ops)
    launched.clear()
    with pytest.raises(ValueError):
        fn(0, xv, y_short)  # the else-branch adds a length-2 vector to a length-4 one
    launched.clear()
    y_fit = np.full(4, 4.0, "f4")
    np.testing.assert_allclose(fn(0, xv, y_fit), 2 + 64 + xv, rtol=1e-6)
    assert not any("exp" in op for op in launched)
    # the function is still usable after the error, in both branches
    np.testing.assert_allclose(fn(1, xv, y_short), np.exp(xv) * 3, rtol=1e-6)


def test_nodes_both_branches_need_run_once_and_eagerly(launched):
    x = T.fvector("x")
    c = T.iscalar("c")
    shared_part = T.exp(x)  # read by both branches: not guarded
    fn = cg.function([c, x], ifelse(c, shared_part + 1, shared_part * 2))
    guards = fn.plan.guards
    exp_nodes = [n for n in fn.plan.fgraph.toposort() if "exp" in str(n.op) and
                 "add" not in str(n.op) and "mul" not in str(n.op)]
    for node in exp_nodes:
        assert id(node) not in guards
    xv = np.linspace(-1, 1, 5).astype("f4")
    np.testing.assert_allclose(fn(1, xv), np.exp(xv) + 1, rtol=1e-6)
    np.testing.assert_allclose(fn(0, xv), np.exp(xv) * 2, rtol=1e-6)


def test_nested(launched):
    x = T.dvector("x")
    a, b = T.iscalar("a"), T.iscalar("b")
    inner = ifelse(b, T.sin(x), T.cos(x))
    fn = cg.function([a, b, x], ifelse(a, inner * 10, x - 1))
    xv = np.array([0.1, 0.7, 2.0])
    for av in (0, 1):
        for bv in (0, 1):
            launched.clear()
            want = (np.sin(xv) if bv else np.cos(xv)) * 10 if av else xv - 1
            np.testing.assert_allclose(fn(av, bv, xv), want, rtol=1e-12)
            ran = " ".join(launched)
            assert ("sin" in ran) == bool(av and bv) and ("cos" in ran) == bool(av and not bv)


def test_gradient_follows_the_branch():
    x = T.dvector("x")
    c = T.iscalar("c")
    cost = ifelse(c, (x ** 2).sum(), (3 * x).sum())
    g = cg.grad(cost, x)
    fn = cg.function([c, x], g)
    xv = np.array([0.5, -2.0, 3.0])
    np.testing.assert_allclose(fn(1, xv), 2 * xv)
    np.testing.assert_allclose(fn(0, xv), np.full(3, 3.0))
    f_cost = cg.function([c, x], cost)
    eps = 1e-6
    for cv in (0, 1):  # central differences of the compiled cost
        num = [(f_cost(cv, xv + d) - f_cost(cv, xv - d)) / (2 * eps) for d in np.eye(3) * eps]
        np.testing.assert_allclose(fn(cv, xv), num, rtol=1e-6, atol=1e-6)


def test_updates_through_ifelse():
    W = cg.shared(np.arange(6, dtype="f4").reshape(2, 3), name="W")
    c = T.iscalar("c")
    # the else-branch is W itself: the update must land in a buffer of its own
    fn = cg.function([c], W.sum(), updates=[(W, ifelse(c, W * 2, W))])
    w0 = W.get_value()
    assert fn(0) == w0.sum()
    np.testing.assert_array_equal(W.get_value(), w0)
    assert fn(1) == w0.sum()
    np.testing.assert_array_equal(W.get_value(), w0 * 2)
    assert fn(0) == 2 * w0.sum()
    np.testing.assert_array_equal(W.get_value(), w0 * 2)


@pytest.mark.parametrize("mode", ["debug", "nanguard"])
def test_checked_modes(mode):
    x = T.dvector("x")
    c = T.iscalar("c")
    m = DebugMode() if mode == "debug" else NanGuardMode(nan_is_error=True, inf_is_error=True)
    fn = cg.function([c, x], ifelse(c, T.log(x), T.exp(x) - 1), mode=m)
    xv = np.array([0.5, 1.5])
    np.testing.assert_allclose(fn(1, xv), np.log(xv))
    np.testing.assert_allclose(fn(0, xv), np.expm1(xv), rtol=1e-12)


def test_bad_input_is_named():
    x, y = T.fvector("x"), T.fmatrix("y")
    with pytest.raises(TypeError, match="condition must be a scalar"):
        ifelse(x, x, x)
    with pytest.raises(TypeError, match="one dtype and rank"):
        ifelse(T.iscalar(), x, y)
    with pytest.raises(TypeError, match="one dtype and rank"):
        ifelse(T.iscalar(), x, T.dvector())
    with pytest.raises(ValueError, match="2 then-branch value"):
        ifelse(T.iscalar(), [x, x], [x])


def test_perform_and_constant_condition():
    x = T.dvector("x")
    node = IfElse(1).make_node(T.constant(np.int8(0)), x, x * 2)
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(node.op.perform(node, [np.int8(0), xv, xv * 2])[0], xv * 2)
    fn = cg.function([x], ifelse(T.constant(1), x + 1, x * 100))
    np.testing.assert_allclose(fn(xv), xv + 1)


def test_condition_computed_on_the_device(launched):
    """The condition is read back at a sync point; then only the branch taken is prepared,
    per condition value (both continuations are cached)."""
    x = T.fvector("x")
    fn = cg.function([x], ifelse(T.max(x) > 1, T.sin(x), T.cos(x)))
    for xv in (np.array([0.5, 2.0], "f4"), np.array([0.5, 0.25], "f4"), np.array([3.0], "f4")):
        launched.clear()
        big = xv.max() > 1
        np.testing.assert_allclose(fn(xv), np.sin(xv) if big else np.cos(xv), rtol=1e-6)
        ran = " ".join(launched)
        assert ("sin" in ran) == big and ("cos" in ran) == (not big)


def test_condition_in_a_shared_variable(launched):
    flag = cg.shared(np.int32(1), name="flag")
    x = T.dvector("x")
    fn = cg.function([x], ifelse(flag, T.sin(x), T.cos(x)))
    xv = np.array([0.3, 1.2])
    np.testing.assert_allclose(fn(xv), np.sin(xv))
    flag.set_value(np.int32(0))
    launched.clear()
    np.testing.assert_allclose(fn(xv), np.cos(xv))
    assert not any("sin" in k for k in launched)
