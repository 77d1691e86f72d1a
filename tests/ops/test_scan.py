"""scan against NumPy loops: recurrences, sequences, non-sequences, n_steps, backwards
iteration, views as operands, and gradients against finite differences."""

from __future__ import annotations

import re
from collections import Counter, OrderedDict

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.compile import DebugMode

from .grad_util import numeric_grad as _numeric_grad


def _rnn_numpy(xv, h0v, Wv, backwards=False, n=None):
    n = len(xv) if n is None else n
    h, out = h0v, []
    for t in range(n):
        h = np.tanh(h @ Wv + xv[n - 1 - t if backwards else t])
        out.append(h)
    return np.array(out).reshape((n,) + np.shape(h0v))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("backwards", [False, True])
def test_rnn_forward(dtype, backwards):
    rng = np.random.default_rng(0)
    Wv = (rng.standard_normal((4, 4)) * 0.5).astype(dtype)
    W = cg.shared(Wv, name="W")  # read by the step without being passed: a free variable
    x, h0 = T.matrix("x", dtype=dtype), T.vector("h0", dtype=dtype)
    hs, updates = cg.scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x,
                          outputs_info=h0, go_backwards=backwards)
    assert isinstance(updates, OrderedDict) and not updates
    fn = cg.function([x, h0], hs)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for steps in (6, 1, 0):
        xv = rng.standard_normal((steps, 4)).astype(dtype)
        h0v = rng.standard_normal(4).astype(dtype)
        got = fn(xv, h0v)
        assert got.shape == (steps, 4) and got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got, _rnn_numpy(xv, h0v, Wv, backwards), rtol=tol, atol=tol)


def test_outputs_mixed_recurrent_and_not_with_non_sequences():
    x = T.dvector("x")
    a, k = T.dscalar("a"), T.dscalar("k")

    def step(xt, acc, scale):  # acc is fed back; the second output is not
        new = acc * scale + xt
        return [new, new * k]

    (accs, scaled), _ = cg.scan(step, sequences=x, outputs_info=[a, None], non_sequences=k)
    fn = cg.function([x, a, k], [accs, scaled])
    xv = np.array([1.0, -2.0, 0.5, 3.0])
    got_acc, got_scaled = fn(xv, 0.25, 2.0)
    acc, want = 0.25, []
    for v in xv:
        acc = acc * 2.0 + v
        want.append(acc)
    np.testing.assert_allclose(got_acc, want)
    np.testing.assert_allclose(got_scaled, np.array(want) * 2.0)


def test_n_steps_without_sequences_and_symbolic():
    x0 = T.dvector("x0")
    n = T.iscalar("n")
    powers, _ = cg.scan(lambda prev: prev * 2, outputs_info=x0, n_steps=n)
    fn = cg.function([x0, n], powers)
    xv = np.array([1.0, 3.0])
    for steps in (5, 1, 0):
        got = fn(xv, steps)
        np.testing.assert_allclose(got, [xv * 2 ** (t + 1) for t in range(steps)] or
                                   np.zeros((0, 2)))
    # a count computed on the device is read back first
    counted, _ = cg.scan(lambda prev: prev + 1, outputs_info=x0,
                         n_steps=T.cast(T.sum(x0), "int64"))
    f2 = cg.function([x0], counted)
    np.testing.assert_allclose(f2(np.array([1.0, 2.0])),
                               [[2.0, 3.0], [3.0, 4.0], [4.0, 5.0]])


def test_n_steps_shorter_than_sequences_and_too_long():
    x = T.dvector("x")
    n = T.iscalar("n")
    sums, _ = cg.scan(lambda xt, s: s + xt, sequences=x, outputs_info=T.constant(np.float64(0.0)),
                      n_steps=n)
    fn = cg.function([x, n], sums)
    np.testing.assert_allclose(fn(np.arange(5.0), 3), [0.0, 1.0, 3.0])
    with pytest.raises(ValueError, match="n_steps is 7 but sequence"):
        fn(np.arange(5.0), 7)
    np.testing.assert_allclose(fn(np.arange(5.0), 5), np.cumsum(np.arange(5.0)))


def test_views_as_sequences_states_and_non_sequences():
    """Transposed and strided operands are copied to contiguous buffers first."""
    rng = np.random.default_rng(1)
    X, M = T.dmatrix("X"), T.dmatrix("M")
    h0 = T.dmatrix("h0")
    hs, _ = cg.scan(lambda xt, h, m: T.dot(h, m) + xt, sequences=X.T[:, ::2],
                    outputs_info=h0.T[0], non_sequences=M.T)
    fn = cg.function([X, h0, M], hs)
    Xv, h0v, Mv = rng.standard_normal((6, 5)), rng.standard_normal((3, 2)), \
        rng.standard_normal((3, 3))
    seq, h, want = Xv.T[:, ::2], h0v.T[0], []
    for t in range(len(seq)):
        h = h @ Mv.T + seq[t]
        want.append(h)
    np.testing.assert_allclose(fn(Xv, h0v, Mv), want, rtol=1e-12)


def test_matrix_state_and_integer_sequence():
    k = T.ivector("k")
    E = T.dmatrix("E")
    rows, _ = cg.scan(lambda i, acc: acc * 0.5 + E * i, sequences=k,
                      outputs_info=T.zeros_like(E))
    fn = cg.function([k, E], rows)
    Ev = np.arange(6.0).reshape(2, 3)
    kv = np.array([3, 0, 2], dtype=np.int32)
    acc, want = np.zeros_like(Ev), []
    for i in kv:
        acc = acc * 0.5 + Ev * i
        want.append(acc)
    np.testing.assert_allclose(fn(kv, Ev), want)


@pytest.mark.parametrize("backwards", [False, True])
def test_gradients_against_finite_differences(backwards):
    rng = np.random.default_rng(2)
    x, h0, W = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("W")
    n = T.iscalar("n")
    hs, _ = cg.scan(lambda xt, h, w: T.tanh(T.dot(h, w) + xt) * 0.9, sequences=x,
                    outputs_info=h0, non_sequences=W, n_steps=n, go_backwards=backwards)
    cost = (hs ** 2).sum() + hs[-1].sum()
    grads = cg.grad(cost, [x, h0, W])
    f_cost = cg.function([x, h0, W, n], cost)
    f_grad = cg.function([x, h0, W, n], grads)
    xv, h0v, Wv = rng.standard_normal((5, 3)), rng.standard_normal(3), \
        rng.standard_normal((3, 3)) * 0.6
    for steps in (5, 3):  # 3: the sequence's last elements get zero gradient
        got = f_grad(xv, h0v, Wv, steps)
        for k in range(3):
            want = _numeric_grad(lambda *a, n=steps: f_cost(*a, n), [xv, h0v, Wv], k)
            np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-7)


def test_gradient_of_non_recurrent_output_and_shared_weights():
    rng = np.random.default_rng(3)
    Wv = rng.standard_normal((3, 2))
    W = cg.shared(Wv, name="W")
    x = T.dmatrix("x")
    ys, _ = cg.scan(lambda xt: T.exp(T.dot(xt, W)), sequences=x)
    cost = ys.sum()
    gW = cg.grad(cost, W)
    xv = rng.standard_normal((4, 3))
    got = cg.function([x], gW)(xv)
    np.testing.assert_allclose(got, xv.T @ np.exp(xv @ Wv), rtol=1e-10)


def test_training_an_rnn_lowers_its_loss():
    rng = np.random.default_rng(4)
    W = cg.shared(rng.standard_normal((2, 2)) * 0.1, name="W")
    U = cg.shared(rng.standard_normal((2, 2)) * 0.1, name="U")
    x, target = T.dmatrix("x"), T.dmatrix("target")
    hs, _ = cg.scan(lambda xt, h: T.tanh(T.dot(h, W) + T.dot(xt, U)), sequences=x,
                    outputs_info=T.zeros((2,), dtype="float64"))
    loss = ((hs - target) ** 2).mean()
    gW, gU = cg.grad(loss, [W, U])
    step = cg.function([x, target], loss, updates=[(W, W - 0.5 * gW), (U, U - 0.5 * gU)])
    xv = rng.standard_normal((8, 2))
    tv = np.tanh(np.cumsum(xv, axis=0) * 0.3)
    losses = [float(step(xv, tv)) for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0]


def test_debug_mode_checks_scan():
    x = T.dvector("x")
    sums, _ = cg.scan(lambda xt, s: s + T.sin(xt), sequences=x,
                      outputs_info=T.constant(np.float64(0.0)))
    fn = cg.function([x], sums, mode=DebugMode())
    xv = np.array([0.1, 0.5, 2.0])
    np.testing.assert_allclose(fn(xv), np.cumsum(np.sin(xv)), rtol=1e-12)


def test_bad_use_is_named():
    x, h0 = T.dvector("x"), T.dscalar("h0")
    with pytest.raises(ValueError, match="sequences or n_steps"):
        cg.scan(lambda h: h + 1, outputs_info=h0)
    with pytest.raises(ValueError, match="returns 2 output"):
        cg.scan(lambda xt, h: [h + xt, h], sequences=x, outputs_info=[h0])
    with pytest.raises(TypeError, match="dtype and rank of its initial value"):
        cg.scan(lambda xt, h: T.cast(h + xt, "float32"), sequences=x, outputs_info=h0)
    with pytest.raises(ValueError, match="taps must be distinct"):
        cg.scan(lambda a, b, h: h, sequences=dict(input=x, taps=[0, 0]), outputs_info=h0)
    with pytest.raises(ValueError, match="taps must be negative"):
        cg.scan(lambda a, h: h, sequences=x, outputs_info=dict(initial=x, taps=[-1, 0]))
    with pytest.raises(TypeError, match="is a scalar"):
        cg.scan(lambda a, h: h, sequences=h0, outputs_info=h0)
    with pytest.raises(TypeError, match="keyed by shared variables"):
        cg.scan(lambda xt: (xt, {x: xt}), sequences=x)
    with pytest.raises(TypeError, match="step's update of"):
        cg.scan(lambda xt: (xt, {cg.shared(np.zeros(2)): xt}), sequences=x)


def test_nested_scan():
    """A scan inside the step of another: row-wise cumulative sums, then their running sum."""
    X = T.dmatrix("X")

    def row_cumsum(row):
        sums, _ = cg.scan(lambda v, s: s + v, sequences=row,
                          outputs_info=T.constant(np.float64(0.0)))
        return sums

    def outer(row, acc):
        return acc + row_cumsum(row)

    out, _ = cg.scan(outer, sequences=X, outputs_info=T.zeros_like(X[0]))
    fn = cg.function([X], out)
    Xv = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(fn(Xv), np.cumsum(np.cumsum(Xv, axis=1), axis=0))
    g = cg.function([X], cg.grad(out.sum(), X))(Xv)
    # d(sum of all running sums)/dX[i, j] = (rows from i on) * (columns from j on)
    n, m = Xv.shape
    want = np.outer(n - np.arange(n), m - np.arange(m)).astype(float)
    np.testing.assert_allclose(g, want)


def test_small_products_in_the_loop_are_kernels():
    """Inside a scan's step, products small enough run as the GEMM template's kernel (no
    host round trip per iteration); large ones and top-level ones stay on the host path."""
    from clgraph.lower.gemm import GemmStep
    from clgraph.lower.plan import HostCall
    from clgraph.lower.scan import ScanStep

    rng = np.random.default_rng(5)
    Wv = rng.standard_normal((32, 32)) * 0.2
    W = cg.shared(Wv, name="W")
    x, h0 = T.dtensor3("x"), T.dmatrix("h0")
    with cg.config.change_flags(gemm="auto"):
        hs, _ = cg.scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x, outputs_info=h0)
        fn = cg.function([x, h0], hs[-1])
        top = cg.function([h0], T.dot(h0, W))
    xv, h0v = rng.standard_normal((5, 8, 32)), rng.standard_normal((8, 32))
    h = h0v
    for t in range(5):
        h = np.tanh(h @ Wv + xv[t])
    np.testing.assert_allclose(fn(xv, h0v), h, rtol=1e-12)
    (scan_step,) = [s for s in fn.plan.steps if isinstance(s, ScanStep)]
    gemms = [s for s in scan_step.sub.steps if isinstance(s, GemmStep)]
    on_cpu = fn.executor.ctx.is_cpu and fn.executor.ctx.host_unified_memory
    if on_cpu:  # the host path is the CPU's; GPUs run the template anyway
        assert gemms and all(g.small is not None for g in gemms)
        state = next(iter(fn.plan._prepared.values()))
        assert not any(isinstance(w, HostCall) for w in state.work)
        assert all(s.small is None for s in top.plan.steps if isinstance(s, GemmStep))


def test_gradient_scan_checked_by_debug_mode():
    """The backwards scan (sums kept as last values, stored forward values read back)
    against every node's NumPy reference."""
    rng = np.random.default_rng(6)
    x, W = T.dmatrix("x"), T.dmatrix("W")
    hs, _ = cg.scan(lambda xt, h, w: T.tanh(T.dot(h, w) + xt), sequences=x,
                    outputs_info=T.zeros((3,), dtype="float64"), non_sequences=W)
    g = cg.grad((hs ** 2).sum(), [x, W])
    checked = cg.function([x, W], g, mode=DebugMode())
    plain = cg.function([x, W], g)
    xv, Wv = rng.standard_normal((4, 3)), rng.standard_normal((3, 3)) * 0.5
    for a, b in zip(checked(xv, Wv), plain(xv, Wv), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_shared_sequence_profiled_and_gradient_through_ifelse():
    from clgraph.ifelse import ifelse

    S = cg.shared(np.arange(12.0).reshape(4, 3), name="S")
    sums, _ = cg.scan(lambda r, acc: acc + r, sequences=S,
                      outputs_info=T.zeros((3,), dtype="float64"))
    fn = cg.function([], sums[-1], profile=True)
    np.testing.assert_allclose(fn(), S.get_value().sum(0))
    # the step's kernel, once per step, under the user's node
    assert re.search(r"composite_add\s+Elemwise\{add\}\s+4\s", fn.profile.summary())
    y, c = T.dvector("y"), T.iscalar("c")
    prods, _ = cg.scan(lambda v, a: a * v, sequences=y,
                       outputs_info=T.constant(np.float64(1.0)))
    grad = cg.function([c, y], cg.grad(ifelse(c, prods[-1], prods.sum()), y))
    yv = np.array([2.0, 3.0, 4.0])
    np.testing.assert_allclose(grad(1, yv), [12.0, 8.0, 6.0])
    np.testing.assert_allclose(grad(0, yv), [16.0, 10.0, 6.0])


def test_theano_arguments():
    x = T.dvector("x")
    w = cg.shared(2.0, name="w")
    out, _ = cg.scan(lambda v: v * 3, sequences=x, return_list=True, strict=True,
                     truncate_gradient=-1, mode=None, profile=False, allow_gc=False)
    assert isinstance(out, list) and len(out) == 1
    np.testing.assert_allclose(cg.function([x], out[0])(np.arange(3.0)), [0.0, 3.0, 6.0])
    with pytest.raises(ValueError, match="strict=True.*w"):
        cg.scan(lambda v: v * w, sequences=x, strict=True)
    with pytest.raises(TypeError, match="truncate_gradient must be an int"):
        cg.scan(lambda v: v, sequences=x, truncate_gradient=2.0)
    with pytest.raises(ValueError, match="truncate_gradient must be -1"):
        cg.scan(lambda v: v, sequences=x, truncate_gradient=-2)
    scaled, _ = cg.scan(lambda v, ww: v * ww, sequences=x, non_sequences=w, strict=True)
    np.testing.assert_allclose(cg.function([x], scaled)(np.arange(3.0)), [0.0, 2.0, 4.0])


def test_random_numbers_drawn_in_the_step():
    """A stream drawn inside the step gives new numbers every step (its state is carried
    through the loop) and every call once its update is applied; the same seed gives the
    same numbers; a draw made outside the loop is one value that every step reads."""
    from clgraph.tensor.random import RandomStreams

    def build(seed):
        srng = RandomStreams(seed)
        x = T.dmatrix("x")
        outs, updates = cg.scan(
            lambda xt: [xt * srng.binomial(size=(50,), p=0.5, dtype="float64"),
                        srng.uniform(size=(3,), dtype="float64")], sequences=x)
        assert len(updates) == 2  # one per stream drawn in the step
        return cg.function([x], outs, updates=updates), x

    fn, _ = build(7)
    xv = np.ones((6, 50))
    masked, uni = fn(xv)
    assert masked.shape == (6, 50) and uni.shape == (6, 3)
    assert len({tuple(r) for r in masked}) == 6  # a new mask every step
    assert 0.3 < masked.mean() < 0.7 and set(np.unique(masked)) <= {0.0, 1.0}
    assert np.all((uni >= 0) & (uni < 1)) and len({tuple(r) for r in uni}) == 6
    masked2, uni2 = fn(xv)
    assert not np.array_equal(uni, uni2)  # the updates moved the states on
    same, _ = build(7)
    np.testing.assert_array_equal(same(xv)[1], uni)  # same seed, same numbers

    srng = RandomStreams(3)
    x = T.dmatrix("x")
    outside = srng.uniform(size=(4,), dtype="float64")
    rows, updates = cg.scan(lambda xt: xt * outside, sequences=x)
    assert not updates
    got = cg.function([x], rows)(np.ones((5, 4)))
    assert all(np.array_equal(r, got[0]) for r in got)


def test_gradient_through_dropout_in_the_step():
    """The backwards scan draws the same masks again from the stored states."""
    from clgraph.tensor.random import RandomStreams

    srng = RandomStreams(11)
    x = T.dmatrix("x")
    (y, masks), updates = cg.scan(
        lambda xt: (lambda m: [xt * m * 2.0, m])(
            srng.binomial(size=(8,), p=0.5, dtype="float64")), sequences=x)
    g = cg.grad(y.sum(), x)
    fn = cg.function([x], [g, masks], updates=updates)
    grad, got_masks = fn(np.ones((5, 8)))
    np.testing.assert_array_equal(grad, 2.0 * got_masks)


def test_taps():
    """Theano's taps: a sequence's elements t-1 and t+1 at step t (the first step where all
    exist), and an output's two previous values (Fibonacci), with gradients."""
    x = T.dvector("x")
    diffs, _ = cg.scan(lambda prev, nxt: nxt - prev, sequences=dict(input=x, taps=[-1, 1]))
    xv = np.array([1.0, 4.0, 9.0, 16.0, 25.0])
    np.testing.assert_allclose(cg.function([x], diffs)(xv), xv[2:] - xv[:-2])

    f0 = T.dvector("f0")  # the two values before the first step
    n = T.iscalar("n")
    fib, _ = cg.scan(lambda a, b: a + b, outputs_info=dict(initial=f0, taps=[-2, -1]),
                     n_steps=n)
    fn = cg.function([f0, n], fib)
    np.testing.assert_allclose(fn(np.array([0.0, 1.0]), 8), [1, 2, 3, 5, 8, 13, 21, 34])
    np.testing.assert_allclose(fn(np.array([5.0, 0.0, 1.0]), 3), [5, 5, 10])  # first rows

    # d fib[-1] / d f0: fib[n-1] = F(n) * f0[0] + F(n+1) * f0[1] (Fibonacci numbers)
    g = cg.function([f0, n], cg.grad(fib[-1], f0))
    np.testing.assert_allclose(g(np.array([0.0, 1.0]), 6), [8.0, 13.0])
    # a sequence tap and a windowed output together, against a NumPy loop
    y = T.dvector("y")
    out, _ = cg.scan(lambda a, b, h2, h1: 0.5 * h2 + 0.25 * h1 + a * b,
                     sequences=dict(input=y, taps=[0, 2]),
                     outputs_info=dict(initial=T.zeros((2,), dtype="float64"), taps=[-2, -1]))
    yv = np.arange(1.0, 8.0)
    h, want = [0.0, 0.0], []
    for t in range(len(yv) - 2):
        h.append(0.5 * h[-2] + 0.25 * h[-1] + yv[t] * yv[t + 2])
        want.append(h[-1])
    np.testing.assert_allclose(cg.function([y], out)(yv), want)
    gy = cg.function([y], cg.grad(out.sum(), y))(yv)
    eps = 1e-6
    fy = cg.function([y], out.sum())
    num = [(fy(yv + d) - fy(yv - d)) / (2 * eps) for d in np.eye(len(yv)) * eps]
    np.testing.assert_allclose(gy, num, rtol=1e-6, atol=1e-6)


def test_updates_returned_by_the_step():
    """Theano's step updates: each step reads the value the previous one gave the shared
    variable; the last comes back in `updates` (results also as (updates, outputs), or
    updates alone)."""
    count = cg.shared(np.float64(10.0), name="count")
    total = cg.shared(np.zeros(2), name="total")
    x = T.dmatrix("x")
    outs, updates = cg.scan(lambda row: (count * row, {count: count + 1, total: total + row}),
                            sequences=x)
    assert list(updates) == [count, total]
    fn = cg.function([x], outs, updates=updates)
    xv = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(fn(xv), [xv[0] * 10, xv[1] * 11, xv[2] * 12])
    assert float(count.get_value()) == 13.0
    np.testing.assert_allclose(total.get_value(), xv.sum(0))
    np.testing.assert_allclose(fn(xv), [xv[0] * 13, xv[1] * 14, xv[2] * 15])
    only, upd = cg.scan(lambda row: {total: total * 2 + row}, sequences=x)
    assert only == [] and list(upd) == [total]
    total.set_value(np.zeros(2))
    cg.function([x], [], updates=upd)(xv)
    np.testing.assert_allclose(total.get_value(), (xv[0] * 2 + xv[1]) * 2 + xv[2])
    first, upd2 = cg.scan(lambda row: ({count: count * 2}, row + count), sequences=x)
    count.set_value(np.float64(1.0))
    np.testing.assert_allclose(cg.function([x], first, updates=upd2)(xv),
                               [xv[0] + 1, xv[1] + 2, xv[2] + 4])
    assert float(count.get_value()) == 8.0


def test_rows_picked_by_indices_from_a_sequence():
    """E[i] with i an element of an integer sequence (an embedding lookup per token): a
    gather inside the loop; its gradient scatters into E."""
    idx, E = T.ivector("idx"), T.dmatrix("E")
    rows, _ = cg.scan(lambda i, acc: acc * 0.5 + E[i], sequences=idx,
                      outputs_info=T.zeros_like(E[0]))
    fn = cg.function([idx, E], [rows, cg.grad(rows.sum(), E)])
    Ev = np.arange(12.0).reshape(4, 3)
    iv = np.array([3, 0, 2, 2], dtype=np.int32)
    got, grad = fn(iv, Ev)
    acc, want, weight = np.zeros(3), [], np.zeros(len(iv))
    for i in iv:
        acc = acc * 0.5 + Ev[i]
        want.append(acc)
    for t in range(len(iv)):  # d(sum of all states)/d(row added at step t)
        weight[t] = sum(0.5 ** (s - t) for s in range(t, len(iv)))
    want_grad = np.zeros_like(Ev)
    for t, i in enumerate(iv):
        want_grad[i] += weight[t]
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(grad, want_grad)


def test_map_reduce_foldl_foldr():
    x = T.dvector("x")
    xv = np.array([1.0, 2.0, 3.0, 4.0])
    squares, _ = cg.map(lambda v: v * v, sequences=x)
    total, _ = cg.reduce(lambda v, acc: acc + v, sequences=x,
                         outputs_info=T.constant(np.float64(0.0)))
    left, _ = cg.foldl(lambda v, acc: acc * 10 + v, sequences=x,
                       outputs_info=T.constant(np.float64(0.0)))
    right, _ = cg.foldr(lambda v, acc: acc * 10 + v, sequences=x,
                        outputs_info=T.constant(np.float64(0.0)))
    got = cg.function([x], [squares, total, left, right])(xv)
    np.testing.assert_allclose(got[0], xv ** 2)
    assert float(got[1]) == 10.0 and float(got[2]) == 1234.0 and float(got[3]) == 4321.0


def test_two_scans_over_the_same_inputs_stay_apart():
    """Scans are equal only when they are one op: the merge pass must not fold two scans of
    the same inputs whose steps differ (their ops have no fields that tell them apart)."""
    x = T.dvector("x")
    zero = T.constant(np.float64(0.0))
    a, _ = cg.scan(lambda v, acc: acc + v, sequences=x, outputs_info=zero)
    b, _ = cg.scan(lambda v, acc: acc * 10 + v, sequences=x, outputs_info=zero)
    got = cg.function([x], [a, b])(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(got[0], [1, 3, 6])
    np.testing.assert_allclose(got[1], [1, 12, 123])


def test_a_step_output_changing_shape_is_an_error():
    h0 = T.dvector("h0")
    grow, _ = cg.scan(lambda h: T.concatenate([h, h[:1]]), outputs_info=h0, n_steps=3)
    fn = cg.function([h0], grow)
    with pytest.raises(ValueError, match="must keep their shapes"):
        fn(np.ones(2))
    same, _ = cg.scan(lambda h: h * 2, outputs_info=h0, n_steps=3)  # a constant n_steps
    np.testing.assert_allclose(cg.function([h0], same)(np.ones(2)), [[2, 2], [4, 4], [8, 8]])


def test_theano_tutorial_loops():
    """The loops of Theano's scan tutorial, as written there."""
    X = T.dmatrix("X")
    Xv = np.arange(12.0).reshape(3, 4) / 7
    # norms of the rows of X
    norms, _ = cg.scan(lambda x_i: T.sqrt((x_i ** 2).sum()), sequences=[X])
    np.testing.assert_allclose(cg.function([X], norms)(Xv), np.sqrt((Xv ** 2).sum(1)))
    # trace of X, indexing with two sequences of positions
    Y = T.dmatrix("Y")
    trace, _ = cg.scan(lambda i, j, t_f: Y[i, j] + t_f,
                       sequences=[T.arange(Y.shape[0]), T.arange(Y.shape[1])],
                       outputs_info=np.asarray(0.0, dtype="float64"))
    Yv = np.arange(16.0).reshape(4, 4)
    assert float(cg.function([Y], trace[-1])(Yv)) == np.trace(Yv)
    # a polynomial from its coefficients
    coefficients, x = T.dvector("coefficients"), T.dscalar("x")
    components, _ = cg.scan(lambda c, power, free_var: c * (free_var ** power),
                            sequences=[coefficients, T.arange(1000)], non_sequences=x)
    poly = cg.function([coefficients, x], components.sum())
    assert float(poly(np.array([1.0, 0.0, 2.0]), 3.0)) == 19.0
    # x(t) = tanh(x(t-1) W + y(t) U + p(T-t) V), sequences y and p reversed
    W, U, V = (T.dmatrix(n) for n in "WUV")
    y, p, x0 = T.dmatrix("y"), T.dmatrix("p"), T.dvector("x0")
    results, _ = cg.scan(lambda y_t, p_tm, x_tm1: T.tanh(T.dot(x_tm1, W) + T.dot(y_t, U)
                                                         + T.dot(p_tm, V)),
                         sequences=[y, p[::-1]], outputs_info=[x0])
    fn = cg.function([x0, W, y, U, p, V], results)
    rng = np.random.default_rng(7)
    xv0, Wv, yv, Uv, pv, Vv = (rng.standard_normal(s) * 0.5 for s in
                              [(2,), (2, 2), (5, 2), (2, 2), (5, 2), (2, 2)])
    want, xt = [], xv0
    for t in range(5):
        xt = np.tanh(xt @ Wv + yv[t] @ Uv + pv[4 - t] @ Vv)
        want.append(xt)
    np.testing.assert_allclose(fn(xv0, Wv, yv, Uv, pv, Vv), want, rtol=1e-12)


def test_ifelse_inside_the_step():
    """Inside a loop an ifelse computes both branches and picks (a switch): same values,
    same gradients."""
    from clgraph.ifelse import ifelse

    x = T.dvector("x")
    out, _ = cg.scan(lambda v, a: ifelse(v > 2, a + v, a - v), sequences=x,
                     outputs_info=T.constant(np.float64(0.0)))
    fn = cg.function([x], [out, cg.grad(out[-1], x)])
    got, grad = fn(np.array([1.0, 3.0, 2.0, 5.0]))
    np.testing.assert_allclose(got, [-1.0, 2.0, 0.0, 5.0])
    np.testing.assert_allclose(grad, [-1.0, 1.0, -1.0, 1.0])


def test_rows_written_at_indices_from_a_sequence():
    """set_subtensor / inc_subtensor at an index from a sequence: a one-row scatter."""
    idx, v = T.ivector("idx"), T.dvector("v")
    put, _ = cg.scan(lambda i, val, acc: T.set_subtensor(acc[i], val), sequences=[idx, v],
                     outputs_info=T.zeros((5,), dtype="float64"))
    last = put[-1]
    fn = cg.function([idx, v], [last, cg.grad(last.sum() + (last ** 2).sum(), v)])
    got, grad = fn(np.array([4, 1], np.int32), np.array([7.0, 9.0]))
    np.testing.assert_allclose(got, [0, 9, 0, 0, 7])
    np.testing.assert_allclose(grad, [15.0, 19.0])
    add, _ = cg.scan(lambda i, val, acc: T.inc_subtensor(acc[i], val), sequences=[idx, v],
                     outputs_info=T.zeros((3, 2), dtype="float64"))
    got = cg.function([idx, v], add[-1])(np.array([2, 2, 0], np.int32), np.array([1.0, 2, 5]))
    np.testing.assert_allclose(got, [[5, 5], [0, 0], [3, 3]])


def test_rows_written_at_indices_from_a_sequence_with_values_read_there_too():
    """The written value reads at the same device index (x[i], acc[i] + 1): both the read
    and the write become gathers/scatters, the write of the rewritten read."""
    x, acc0, iv = T.dvector("x"), T.dvector("acc0"), T.ivector("iv")
    steps = {
        "set x[i]": lambda i, acc, x: T.set_subtensor(acc[i], x[i]),
        "inc x[i]": lambda i, acc, x: T.inc_subtensor(acc[i], x[i]),
        "set acc[i] + 1": lambda i, acc, x: T.set_subtensor(acc[i], acc[i] + 1),
    }
    xv, a0, ivv = np.arange(4.0) + 1, np.full(4, 0.5), np.array([2, 0, 2], np.int32)
    outs = [cg.scan(step, sequences=iv, outputs_info=acc0, non_sequences=x)[0][-1]
            for step in steps.values()]
    got = cg.function([acc0, x, iv], outs)(a0, xv, ivv)
    want = [a0.copy() for _ in steps]
    for i in ivv:
        want[0][i] = xv[i]
        want[1][i] += xv[i]
        want[2][i] += 1
    for name, g, w in zip(steps, got, want, strict=True):
        np.testing.assert_allclose(g, w, err_msg=name)
    out, _ = cg.scan(steps["set x[i]"], sequences=T.arange(3), outputs_info=acc0,
                     non_sequences=x)
    np.testing.assert_allclose(cg.function([acc0, x], out[-1])(a0, xv), [1, 2, 3, 0.5])


@pytest.mark.parametrize("backwards", [False, True])
def test_gradient_sums_of_products_leave_the_loop(backwards):
    """The gradient of a weight the step multiplies by (h_{t-1} . W) is a sum over steps of
    h_{t-1}^T . d_t: the backward scan stacks d_t and one product over all steps sums them
    (Theano's scan push-out), instead of a small product per step. Checked against finite
    differences, with 0 steps (the sum is zero), and that the backward loop carries no sum
    for W."""
    from clgraph.lower.scan import ScanStep

    rng = np.random.default_rng(11)
    x, h0, W, V = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("W"), T.dmatrix("V")
    n = T.iscalar("n")
    # W: a product by the carried state (pushed out); V: by a value computed in the step
    # (a_t stacked as well); h0 also reads W outside the loop.
    hs, _ = cg.scan(lambda xt, h, w, v: T.tanh(T.dot(T.tanh(T.dot(h, w) + xt), v)),
                    sequences=x, outputs_info=T.dot(h0, W), non_sequences=[W, V],
                    n_steps=n, go_backwards=backwards)
    cost = (hs ** 2).sum() + hs.sum()
    grads = cg.grad(cost, [x, h0, W, V])
    f_cost = cg.function([x, h0, W, V, n], cost)
    f_grad = cg.function([x, h0, W, V, n], grads)
    xv, h0v = rng.standard_normal((4, 3, 5)), rng.standard_normal((3, 5))
    Wv, Vv = rng.standard_normal((5, 5)) * 0.5, rng.standard_normal((5, 5)) * 0.5
    for steps in (0, 2, 4):
        got = f_grad(xv, h0v, Wv, Vv, steps)
        for k in range(4):
            want = _numeric_grad(lambda *a, n=steps: f_cost(*a, n), [xv, h0v, Wv, Vv], k)
            np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-7)
    # the backward loop carries only the state's gradient: no sum for W or V
    loops = [s.node.op for s in f_grad.plan.steps if isinstance(s, ScanStep)]
    backward = [op for op in loops if any(op.last_only)]
    assert len(backward) == 1 and sum(backward[0].last_only) == 1


def test_rnn_gradient_against_numpy_bptt_with_one_launch_per_product():
    """An RNN's gradient at a size where the step's products are kernels: W.T (read by the
    backward step's d . W.T) is made contiguous once before the loop instead of being copied
    by the product's kernel every step, d_t is stacked once (it is also the gradient of the
    pushed-out x_t . U), and the result is NumPy's backpropagation through time."""
    from clgraph.lower.plan import Launch

    rng = np.random.default_rng(12)
    steps, batch, hidden = 6, 16, 16
    Wv, Uv = rng.standard_normal((2, hidden, hidden)) * 0.3
    xv = rng.standard_normal((steps, batch, hidden))
    W, U = cg.shared(Wv, name="W"), cg.shared(Uv, name="U")
    x = T.dtensor3("x")
    hs, _ = cg.scan(lambda xt, h: T.tanh(T.dot(h, W) + T.dot(xt, U)), sequences=x,
                    outputs_info=T.zeros((batch, hidden), dtype="float64"))
    f = cg.function([x], cg.grad((hs[-1] ** 2).sum(), [W, U]))
    gW, gU = f(xv)
    h = [np.zeros((batch, hidden))]
    for t in range(steps):
        h.append(np.tanh(h[-1] @ Wv + xv[t] @ Uv))
    g, wW, wU = 2 * h[-1], np.zeros_like(Wv), np.zeros_like(Uv)
    for t in range(steps, 0, -1):
        d = g * (1 - h[t] ** 2)
        wW += h[t - 1].T @ d
        wU += xv[t - 1].T @ d
        g = d @ Wv.T
    np.testing.assert_allclose(gW, wW, rtol=1e-10)
    np.testing.assert_allclose(gU, wU, rtol=1e-10)
    launched = [w.kernel for w in f._last[-1].work if isinstance(w, Launch)]
    assert not [k for k in launched if "copy_b" in k], launched
    # per step: the forward product and, backwards, d_t and d_t . W.T (no stores, no sums)
    counts = Counter(launched)
    per_step = [k for k, c in counts.items() if c > 1]
    assert len(per_step) == 3 and all(counts[k] == steps for k in per_step), counts


def test_second_order_gradient_through_scan():
    """The gradient of a gradient: scan_grad applied to the backward scan, whose sums keep
    only their last value, differentiates the loop again keeping every step's value."""
    rng = np.random.default_rng(13)
    Wv = rng.standard_normal((3, 3)) * 0.5
    x, h0, W = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("W")
    hs, _ = cg.scan(lambda xt, h, w: T.tanh(T.dot(h, w) + xt), sequences=x,
                    outputs_info=h0, non_sequences=W)
    norm = (cg.grad((hs ** 2).sum(), W) ** 2).sum()
    f_norm = cg.function([x, h0, W], norm)
    f_grad = cg.function([x, h0, W], cg.grad(norm, W))
    xv, h0v = rng.standard_normal((4, 2, 3)), rng.standard_normal((2, 3))
    want = _numeric_grad(f_norm, [xv, h0v, Wv], 2)
    np.testing.assert_allclose(f_grad(xv, h0v, Wv), want, rtol=1e-6, atol=1e-7)


def test_rop_through_scan():
    """Rop (Jacobian times a vector) through a scan, which has no R_op rule of its own: the
    fallback differentiates <L_op(u), v> in u. Checked against a central difference along
    v, for a weight and for the initial state."""
    rng = np.random.default_rng(14)
    x, h0, W = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("W")
    V, H = T.dmatrix("V"), T.dmatrix("H")
    hs, _ = cg.scan(lambda xt, h, w: T.tanh(T.dot(h, w) + xt), sequences=x,
                    outputs_info=h0, non_sequences=W)
    f_jv = cg.function([x, h0, W, V, H], cg.gradient.Rop(hs, [W, h0], [V, H]))
    f_hs = cg.function([x, h0, W], hs)
    xv, h0v = rng.standard_normal((4, 2, 3)), rng.standard_normal((2, 3))
    Wv, Vv, Hv = rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((3, 3)), \
        rng.standard_normal((2, 3))
    eps = 1e-6
    want = (f_hs(xv, h0v + eps * Hv, Wv + eps * Vv) -
            f_hs(xv, h0v - eps * Hv, Wv - eps * Vv)) / (2 * eps)
    np.testing.assert_allclose(f_jv(xv, h0v, Wv, Vv, Hv), want, rtol=1e-6, atol=1e-8)


def test_vector_state_products_run_as_sums_in_the_step():
    """h . W for a vector state h (and W . h as a column) is a broadcast product and a sum
    in the step (one fused reduction a step, no host product's round trip): values as a
    NumPy loop, gradients as finite differences."""
    from clgraph.expr.blas import Dot22

    rng = np.random.default_rng(5)
    X, W, h0 = T.dmatrix("X"), T.dmatrix("W"), T.dvector("h0")
    hs, _ = cg.scan(lambda x_t, h, W: T.tanh(T.dot(h, W) + T.dot(W, h) + x_t), sequences=X,
                    outputs_info=h0, non_sequences=W)
    cost = (hs[-1] ** 2).sum()
    f = cg.function([X, W, h0], [hs, cg.grad(cost, W)])
    scan_node = next(n for n in f.maker.fgraph.toposort() if type(n.op).__name__ == "Scan")
    assert not any(isinstance(n.op, Dot22) for n in scan_node.op.inner.toposort())
    xv, wv, hv = rng.standard_normal((6, 5)), rng.standard_normal((5, 5)) * 0.3, \
        rng.standard_normal(5)
    got, gW = f(xv, wv, hv)
    h, want = hv, []
    for x_t in xv:
        h = np.tanh(h @ wv + wv @ h + x_t)
        want.append(h)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    loss = cg.function([X, W, h0], cost)
    eps, num = 1e-6, np.zeros_like(wv)
    for i in np.ndindex(wv.shape):
        wp, wm = wv.copy(), wv.copy()
        wp[i] += eps
        wm[i] -= eps
        num[i] = (loss(xv, wp, hv) - loss(xv, wm, hv)) / (2 * eps)
    np.testing.assert_allclose(gW, num, rtol=1e-6, atol=1e-8)
