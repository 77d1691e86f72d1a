"""scan's slicing against a NumPy loop written to Theano 1.0.5's scan.py: sequence taps
(cut as if tap 0 were always among them), backwards loops (each sequence reversed, then
cut to the number of steps), output taps (the first rows of `initial`), n_steps' type;
gradients against central differences."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.compile import DebugMode

from .grad_util import numeric_grad


def scan_numpy(step, seqs=(), outs=(), n_steps=None, backwards=False) -> list:
    """Theano's scan as a NumPy loop. `seqs`: (array, taps) pairs; `outs`: (initial, taps)
    pairs of the fed-back outputs (taps [-1]: `initial` is one value). Returns the stacked
    outputs, fed-back ones first as `step` returns them."""
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
        values = step(*args)
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        stacks = stacks or [[] for _ in values]
        for hist, v in zip(history, values):
            hist.append(v)
        for stack, v in zip(stacks, values):
            stack.append(v)
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
