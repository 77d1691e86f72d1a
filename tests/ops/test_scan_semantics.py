"""scan against NumPy loops written to Theano 1.0.5's scan.py: sequence taps (cut as if
tap 0 were always among them), backwards loops (each sequence reversed, then cut to the
number of steps), output taps (the first rows of `initial`), n_steps' type, while loops
(`until`), truncate_gradient; gradients against central differences."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.compile import DebugMode

from .grad_util import numeric_grad


def scan_numpy(step, seqs=(), outs=(), n_steps=None, backwards=False, until=False) -> list:
    """Theano's scan as a NumPy loop. `seqs`: (array, taps) pairs; `outs`: (initial, taps)
    pairs of the fed-back outputs (taps [-1]: `initial` is one value); `until`: `step`
    returns (values, stop) and the loop ends after the first step whose stop is true.
    Returns the stacked outputs, fed-back ones first as `step` returns them."""
    views = []
    for arr, taps in seqs:
        lo, hi = min(min(taps), 0), max(max(taps), 0)  # scan.py's mintap/maxtap proxies
        for k in taps:
            view = arr[k - lo:len(arr) - (hi - k)]
            views.append(view[::-1] if backwards else view)
    n = min(len(v) for v in views) if n_steps is None else n_steps
    assert all(len(v) >= n for v in views), "Theano raises: a sequence is too short"
    # per fed-back output: its initial rows, then every step's value
    history = [[init] if taps == [-1] else list(init[:-min(taps)]) for init, taps in outs]
    stacks: list[list] = []
    for t in range(n):
        args = [v[t] for v in views]
        for hist, (_, taps) in zip(history, outs):
            args += [hist[len(hist) + k] for k in taps]
        values, stop = step(*args) if until else (step(*args), False)
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        stacks = stacks or [[] for _ in values]
        for hist, v in zip(history, values):
            hist.append(v)
        for stack, v in zip(stacks, values):
            stack.append(v)
        if stop:
            break
    return [np.array(s) for s in stacks]


def weighted(*values):
    """A step reading its arguments apart: 1 * a + 10 * b + 100 * c ..."""
    return sum(10.0 ** i * v for i, v in enumerate(values))


@pytest.mark.parametrize("taps", [[1], [-1], [-2, -1], [1, 2], [-2, 1], [-1, 0, 2], [-1, 0]])
@pytest.mark.parametrize("backwards", [False, True])
def test_sequence_taps_are_cut_as_if_tap_0_were_there(taps, backwards):
    x, n = T.dvector("x"), T.iscalar("n")
    seq = dict(input=x, taps=taps)
    whole, _ = cg.scan(weighted, sequences=seq, go_backwards=backwards)
    first_n, _ = cg.scan(weighted, sequences=seq, n_steps=n, go_backwards=backwards)
    fn = cg.function([x, n], [whole, first_n])
    xv = np.arange(1.0, 8.0)
    got_whole, got_n = fn(xv, 2)
    want = scan_numpy(weighted, seqs=[(xv, taps)], backwards=backwards)[0]
    np.testing.assert_allclose(got_whole, want)
    np.testing.assert_allclose(
        got_n, scan_numpy(weighted, seqs=[(xv, taps)], n_steps=2, backwards=backwards)[0])


def test_the_probe_cases():
    """The reported cases, with Theano's results written out."""
    x, y = T.dvector("x"), T.dvector("y")
    xv, yv = np.arange(1.0, 7.0), np.array([10.0, 20.0, 30.0, 40.0])

    def run(out, *args):
        return cg.function([x, y][:len(args)], out)(*args)

    np.testing.assert_allclose(run(cg.scan(lambda a: a * 1, sequences=dict(
        input=x, taps=[1]))[0], xv), [2, 3, 4, 5, 6])
    np.testing.assert_allclose(run(cg.scan(lambda a: a * 1, sequences=dict(
        input=x, taps=[-1]))[0], xv), [1, 2, 3, 4, 5])
    np.testing.assert_allclose(run(cg.scan(lambda a, b: a * 10 + b, sequences=dict(
        input=x, taps=[-2, -1]))[0], xv), [12, 23, 34, 45])
    np.testing.assert_allclose(run(cg.scan(lambda a, b: a * 10 + b, sequences=dict(
        input=x, taps=[1, 2]))[0], xv), [23, 34, 45, 56])
    np.testing.assert_allclose(run(cg.scan(lambda a: a * 2, sequences=x, n_steps=3,
                                           go_backwards=True)[0], xv), [12, 10, 8])
    np.testing.assert_allclose(run(cg.scan(lambda a, b: a + b, sequences=[x, y],
                                           go_backwards=True)[0], xv, yv), [46, 35, 24, 13])
    np.testing.assert_allclose(run(cg.scan(lambda a, b: a * 10 + b, sequences=dict(
        input=x, taps=[-1, 0]), n_steps=2, go_backwards=True)[0], xv), [56, 45])


@pytest.mark.parametrize("n_steps", [None, 3])
def test_backwards_sequences_of_different_lengths(n_steps):
    """Each sequence is reversed before the cut: the loop starts at each one's last
    element, whatever the lengths; with a recurrence and a non-sequence, also through the
    op's perform (DebugMode)."""
    x, y, h0, w = T.dvector("x"), T.dvector("y"), T.dscalar("h0"), T.dscalar("w")

    def step(a, b, h, ww):
        return T.tanh(a * h * ww + b)

    out, _ = cg.scan(step, sequences=[x, y], outputs_info=h0, non_sequences=w,
                     n_steps=n_steps, go_backwards=True)
    xv, yv = np.linspace(-1.0, 1.0, 6), np.array([0.3, -0.2, 0.5, 0.1])
    want = scan_numpy(lambda a, b, h: np.tanh(a * h * 0.7 + b), seqs=[(xv, [0]), (yv, [0])],
                      outs=[(0.4, [-1])], n_steps=n_steps, backwards=True)[0]
    for mode in (None, DebugMode()):  # DebugMode: the op's perform reads the same elements
        np.testing.assert_allclose(cg.function([x, y, h0, w], out, mode=mode)(xv, yv, 0.4, 0.7),
                                   want, rtol=1e-12)


@pytest.mark.parametrize("taps, backwards, n_steps", [
    ([1], False, None), ([-1], True, None), ([-2, -1], True, 3), ([1, 2], False, 2),
    ([-1, 0], True, 2), ([-2, 1], True, 2)])
def test_gradients_through_sequence_taps_and_backwards_cuts(taps, backwards, n_steps):
    """The gradient scan reads the same elements as the forward one: elements the loop
    never reads get zero gradient (checked against central differences)."""
    x, h0 = T.dvector("x"), T.dscalar("h0")

    def step(*args):
        *elems, h = args
        return T.tanh(weighted(*elems) * 0.3 + h * T.sin(elems[0]))

    out, _ = cg.scan(step, sequences=dict(input=x, taps=taps), outputs_info=h0,
                     n_steps=n_steps, go_backwards=backwards)
    cost = (out ** 2).sum() + out[-1]
    f_cost = cg.function([x, h0], cost)
    f_grad = cg.function([x, h0], cg.grad(cost, [x, h0]))
    xv, h0v = np.linspace(-0.8, 0.9, 7), 0.25
    got = f_grad(xv, h0v)
    for k in range(2):
        np.testing.assert_allclose(got[k], numeric_grad(f_cost, [xv, h0v], k),
                                   rtol=1e-6, atol=1e-8)
    read = scan_numpy(lambda *e: list(e), seqs=[(np.arange(len(xv)), taps)],
                      n_steps=n_steps, backwards=backwards)
    unread = np.setdiff1d(np.arange(len(xv)), np.concatenate(read))
    assert len(unread) and not got[0][unread].any()


@pytest.mark.parametrize("taps", [[-2], [-3, -1], [-2, -1]])
def test_output_taps_read_the_first_rows_of_initial(taps):
    """`initial` longer than -min(taps): Theano keeps its first -min(taps) rows; the rest
    gets zero gradient."""
    x0 = T.dvector("x0")
    out, _ = cg.scan(lambda *prev: weighted(*prev) * 0.5 + T.sin(prev[0]),
                     outputs_info=dict(initial=x0, taps=taps), n_steps=4)
    x0v = np.array([0.5, -0.3, 0.8, 1.1])
    want = scan_numpy(lambda *prev: weighted(*prev) * 0.5 + np.sin(prev[0]),
                      outs=[(x0v, taps)], n_steps=4)[0]
    np.testing.assert_allclose(cg.function([x0], out)(x0v), want, rtol=1e-12)
    cost = (out ** 2).sum()
    got = cg.function([x0], cg.grad(cost, x0))(x0v)
    np.testing.assert_allclose(got, numeric_grad(cg.function([x0], cost), [x0v], 0),
                               rtol=1e-6, atol=1e-8)
    assert not got[-min(taps):].any()


def test_output_taps_probe_case():
    x0 = T.dvector("x0")
    out, _ = cg.scan(lambda a: a * 1, outputs_info=dict(initial=x0, taps=[-2]), n_steps=4)
    np.testing.assert_allclose(cg.function([x0], out)(np.array([1.0, 2.0, 3.0])),
                               [1, 2, 1, 2])


@pytest.mark.parametrize("bad", [3.0, np.float64(3), T.dscalar("n"), T.fscalar("n"),
                                 T.ivector("n")])
def test_n_steps_must_be_an_integer(bad):
    x0 = T.dscalar("x0")
    with pytest.raises(TypeError, match="n_steps must be an int"):
        cg.scan(lambda a: a * 2, outputs_info=x0, n_steps=bad)


def test_integer_n_steps_of_any_integer_type():
    x0 = T.dscalar("x0")
    for n in (3, np.int32(3), T.constant(np.int16(3))):
        out, _ = cg.scan(lambda a: a * 2, outputs_info=x0, n_steps=n)
        np.testing.assert_allclose(cg.function([x0], out)(1.0), [2, 4, 8])


# ---------------------------------------------------------------- until (while loops)
@pytest.mark.parametrize("x0v, n", [(1.0, 20), (60.0, 20), (-1.0, 7), (1.0, 0), (1.0, 6)])
def test_until_stops_after_the_first_step_whose_condition_holds(x0v, n):
    """The step where the condition is true is kept; a condition never true runs n_steps;
    the DebugMode run (the op's perform) agrees."""
    x0, steps = T.dscalar("x0"), T.iscalar("n")
    out, updates = cg.scan(lambda p: (p * 2, cg.until(p * 2 > 50)), outputs_info=x0,
                           n_steps=steps)
    assert not updates
    want = scan_numpy(lambda p: (p * 2, p * 2 > 50), outs=[(x0v, [-1])], n_steps=n, until=True)
    want = want[0] if want else np.zeros(0)
    for mode in (None, DebugMode()):
        np.testing.assert_allclose(cg.function([x0, steps], out, mode=mode)(x0v, n), want)


@pytest.mark.parametrize("backwards", [False, True])
def test_until_with_sequences_taps_and_two_outputs(backwards):
    """A while loop over a sequence (its taps, backwards too), with an output not fed back:
    both are cut to the steps run."""
    x, h0 = T.dvector("x"), T.dscalar("h0")

    def step(a, b, h):
        new = h * 0.5 + a * b
        return [new, new * 10], cg.until(b > 0.55)

    (hs, scaled), _ = cg.scan(step, sequences=dict(input=x, taps=[-1, 1]),
                              outputs_info=[h0, None], go_backwards=backwards)
    xv = np.array([0.1, 0.3, 0.2, 0.6, 0.4, 0.8, 0.5])
    want = scan_numpy(lambda a, b, h: ([h * 0.5 + a * b, (h * 0.5 + a * b) * 10], b > 0.55),
                      seqs=[(xv, [-1, 1])], outs=[(0.2, [-1])], backwards=backwards, until=True)
    got = cg.function([x, h0], [hs, scaled])(xv, 0.2)
    assert len(got[0]) < len(xv) - 2  # it stopped early
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_until_updates_hold_the_value_after_the_steps_run():
    """(outputs, updates, until) and (updates, until): the shared variable's update is its
    value after the last step run, not after n_steps."""
    x0 = T.dscalar("x0")
    total = cg.shared(np.float64(0.0), name="total")
    out, updates = cg.scan(lambda p: (p + 1, {total: total + p}, cg.until(p >= 3)),
                           outputs_info=x0, n_steps=10)
    np.testing.assert_allclose(cg.function([x0], out, updates=updates)(0.0), [1, 2, 3, 4])
    assert total.get_value() == 0 + 1 + 2 + 3
    count = cg.shared(np.int64(0), name="count")
    _, updates = cg.scan(lambda: ({count: count + 1}, cg.until(count >= 4)), n_steps=10)
    fn = cg.function([], [], updates=updates)
    fn()
    assert count.get_value() == 5  # steps with count 0..4; the last one stops the loop


def test_gradients_through_until_match_finite_differences():
    """Only the steps run are differentiated: after the stop this loop's state overflows
    to inf, and going back through those steps would give NaN (0 * inf)."""
    x, h0, a = T.dvector("x"), T.dscalar("h0"), T.dscalar("a")

    def step(xt, h, aa):
        new = h * h * aa + xt
        return new, cg.until(new > 5)

    hs, _ = cg.scan(step, sequences=x, outputs_info=h0, non_sequences=a)
    cost = (hs ** 2).sum() + hs[-1]
    f_cost = cg.function([x, h0, a], cost)
    f_grad = cg.function([x, h0, a], cg.grad(cost, [x, h0, a]))
    xv = np.concatenate([[0.5, 0.4, 0.3, 0.2, 0.1], np.full(30, 0.1)])
    args = [xv, 1.5, 1.2]
    assert len(cg.function([x, h0, a], hs)(*args)) < 10
    got = f_grad(*args)
    for k in range(3):
        assert np.all(np.isfinite(got[k]))
        np.testing.assert_allclose(got[k], numeric_grad(f_cost, args, k), rtol=1e-6, atol=1e-8)


def test_until_is_named_where_theano_has_it():
    import clgraph.scan_module as sm

    assert sm.until is cg.until and sm.scan is cg.scan and sm.map is cg.map


def test_bad_until_use_is_named():
    x0 = T.dscalar("x0")
    with pytest.raises(TypeError, match="condition must be a scalar"):
        cg.until(T.dvector("v"))
    with pytest.raises(ValueError, match="comes last"):
        cg.scan(lambda p: (cg.until(p > 1), p * 2), outputs_info=x0, n_steps=3)
    with pytest.raises(ValueError, match="comes last"):
        cg.scan(lambda p: cg.until(p > 1), outputs_info=x0, n_steps=3)
    with pytest.raises(ValueError, match="stop condition returns"):
        cg.scan(lambda p: (p * 2, p * 3, cg.until(p > 1)), outputs_info=[x0, None], n_steps=3)


# ---------------------------------------------------------------- truncate_gradient
def rnn_bptt_numpy(xv, h0v, Wv, window=None, backwards=False):
    """Gradients of sum(h_t ** 2) + sum(h_last) for h_t = tanh(h_{t-1} W + x_t), going back
    over the last `window` steps only (Theano's truncate_gradient; None: every step):
    earlier outputs give nothing, h0 gets zero unless the window covers every step."""
    n = len(xv)
    order = list(range(n))[::-1] if backwards else list(range(n))  # element read at step t
    hs = [h0v]
    for t in range(n):
        hs.append(np.tanh(hs[-1] @ Wv + xv[order[t]]))
    m = n if window is None else min(n, window)
    gx, gW, carry = np.zeros_like(xv), np.zeros_like(Wv), np.zeros_like(h0v)
    for t in range(n - 1, n - 1 - m, -1):
        dh = 2 * hs[t + 1] + (1.0 if t == n - 1 else 0.0) + carry
        da = dh * (1 - hs[t + 1] ** 2)
        gx[order[t]] += da
        gW += np.outer(hs[t], da)
        carry = da @ Wv.T
    return gx, (carry if m == n else np.zeros_like(h0v)), gW


@pytest.mark.parametrize("window", [1, 3, 0, 5, 9])
@pytest.mark.parametrize("backwards", [False, True])
def test_truncated_gradient_against_numpy_bptt(window, backwards):
    """truncate_gradient=k: the gradients of the last k steps only (5 steps here; k >= 5 is
    the full gradient, checked against central differences too)."""
    rng = np.random.default_rng(21)
    x, h0, W = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("W")
    hs, _ = cg.scan(lambda xt, h, w: T.tanh(T.dot(h, w) + xt), sequences=x, outputs_info=h0,
                    non_sequences=W, truncate_gradient=window, go_backwards=backwards)
    cost = (hs ** 2).sum() + hs[-1].sum()
    f_grad = cg.function([x, h0, W], cg.grad(cost, [x, h0, W]))
    args = [rng.standard_normal((5, 3)), rng.standard_normal(3),
            rng.standard_normal((3, 3)) * 0.6]
    got = f_grad(*args)
    want = rnn_bptt_numpy(*args, window=window, backwards=backwards)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    if window >= 5:
        f_cost = cg.function([x, h0, W], cost)
        for k in range(3):
            np.testing.assert_allclose(got[k], numeric_grad(f_cost, args, k),
                                       rtol=1e-6, atol=1e-8)


def test_truncated_gradient_of_a_while_loop_theano_cases():
    """Theano's TestGradUntil cases: the last 3 of the steps run, also with taps."""
    x, u = T.dvector("x"), T.lscalar("u")
    seq = np.arange(15.0)
    r, _ = cg.scan(lambda a, uu: (a * a, cg.until(a > uu)), sequences=x, non_sequences=[u],
                   truncate_gradient=3)
    out, g = cg.function([x, u], [r, cg.grad(r.sum(), x)])(seq, 5)
    np.testing.assert_allclose(out, seq[:7] ** 2)
    np.testing.assert_allclose(g, np.concatenate([[0, 0, 0, 0], 2 * seq[4:7], np.zeros(8)]))
    r, _ = cg.scan(lambda a, b, uu: (a * b, cg.until(b > uu)),
                   sequences=dict(input=x, taps=[-2, 0]), non_sequences=[u], truncate_gradient=3)
    np.testing.assert_allclose(cg.function([x, u], cg.grad(r.sum(), x))(seq, 6),
                               [0, 0, 0, 5, 6, 10, 4, 5, 0, 0, 0, 0, 0, 0, 0])


def test_rop_through_a_truncated_scan_is_exact():
    """Rop is the Jacobian times a vector whatever truncate_gradient says (Theano's R_op
    runs forward): checked against a central difference."""
    rng = np.random.default_rng(22)
    x, h0, W, V = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("W"), T.dmatrix("V")
    hs, _ = cg.scan(lambda xt, h, w: T.tanh(T.dot(h, w) + xt), sequences=x, outputs_info=h0,
                    non_sequences=W, truncate_gradient=2)
    f_jv = cg.function([x, h0, W, V], cg.gradient.Rop(hs, W, V))
    f_hs = cg.function([x, h0, W], hs)
    xv, h0v = rng.standard_normal((5, 3)), rng.standard_normal(3)
    Wv, Vv = rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((3, 3))
    eps = 1e-6
    want = (f_hs(xv, h0v, Wv + eps * Vv) - f_hs(xv, h0v, Wv - eps * Vv)) / (2 * eps)
    np.testing.assert_allclose(f_jv(xv, h0v, Wv, Vv), want, rtol=1e-6, atol=1e-8)
