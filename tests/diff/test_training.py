"""Training through function(updates=...) matches NumPy step for step; gradient graphs stay
small."""

from __future__ import annotations

import numpy as np

import clgraph as cg
import clgraph.tensor as T
from clgraph.expr.graph import FunctionGraph, graph_inputs
from clgraph.simplify.merge import merge


def _data(rng, n=64, d=8, k=3):
    X = rng.standard_normal((n, d)).astype("float32")
    y = rng.integers(0, k, n)
    Y = np.eye(k, dtype="float32")[y]
    return X, Y


def _softmax(z):
    e = T.exp(z - T.max(z, axis=1, keepdims=True))
    return e / T.sum(e, axis=1, keepdims=True)


def _np_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_logistic_regression_matches_numpy():
    rng = np.random.default_rng(0)
    Xv, Yv = _data(rng)
    W0 = (rng.standard_normal((8, 3)) * 0.1).astype("float32")
    W = cg.shared(W0.copy(), name="W")
    b = cg.shared(np.zeros(3, "float32"), name="b")
    X, Y = T.fmatrix("X"), T.fmatrix("Y")
    p = _softmax(T.dot(X, W) + b)
    loss = -T.mean(T.sum(Y * T.log(p), axis=1))
    gW, gb = cg.grad(loss, [W, b])
    lr = np.float32(0.5)
    step = cg.function([X, Y], loss, updates=[(W, W - lr * gW), (b, b - lr * gb)])
    Wn, bn = W0.copy(), np.zeros(3, "float32")
    for _ in range(100):
        ours = step(Xv, Yv)
        pn = _np_softmax(Xv @ Wn + bn)
        ref = -np.mean(np.sum(Yv * np.log(pn), axis=1))
        g = (pn - Yv) / len(Xv)
        Wn, bn = Wn - lr * (Xv.T @ g), bn - lr * g.sum(0)
        np.testing.assert_allclose(ours, ref, rtol=2e-4, atol=1e-5)
    np.testing.assert_allclose(W.get_value(), Wn, rtol=1e-3, atol=1e-4)


def _mlp(rng):
    W1 = (rng.standard_normal((8, 16)) * 0.3).astype("float32")
    W2 = (rng.standard_normal((16, 3)) * 0.3).astype("float32")
    return W1, np.zeros(16, "float32"), W2, np.zeros(3, "float32")


def _mlp_graph(params):
    W1, b1, W2, b2 = params
    X, Y = T.fmatrix("X"), T.fmatrix("Y")
    h = T.tanh(T.dot(X, W1) + b1)
    p = _softmax(T.dot(h, W2) + b2)
    loss = -T.mean(T.sum(Y * T.log(p), axis=1))
    return X, Y, loss


def test_two_layer_mlp_matches_numpy():
    rng = np.random.default_rng(1)
    Xv, Yv = _data(rng)
    init = _mlp(rng)
    params = [cg.shared(v.copy(), name=n) for v, n in zip(init, ["W1", "b1", "W2", "b2"])]
    X, Y, loss = _mlp_graph(params)
    grads = cg.grad(loss, params)
    lr = np.float32(0.2)
    step = cg.function([X, Y], loss, updates=[(p, p - lr * g) for p, g in zip(params, grads)])
    W1, b1, W2, b2 = (v.copy() for v in init)
    losses = []
    for _ in range(100):
        ours = step(Xv, Yv)
        h = np.tanh(Xv @ W1 + b1)
        pn = _np_softmax(h @ W2 + b2)
        ref = -np.mean(np.sum(Yv * np.log(pn), axis=1))
        d2 = (pn - Yv) / len(Xv)
        dh = (d2 @ W2.T) * (1 - h ** 2)
        W2, b2 = W2 - lr * h.T @ d2, b2 - lr * d2.sum(0)
        W1, b1 = W1 - lr * Xv.T @ dh, b1 - lr * dh.sum(0)
        np.testing.assert_allclose(ours, ref, rtol=5e-4, atol=1e-5)
        losses.append(ours)
    assert losses[-1] < losses[0] * 0.75


def test_gradient_graph_is_at_most_about_three_times_the_forward():
    rng = np.random.default_rng(2)
    params = [cg.shared(v, name=n) for v, n in zip(_mlp(rng), ["W1", "b1", "W2", "b2"])]
    X, Y, loss = _mlp_graph(params)
    grads = cg.grad(loss, params)
    ins = [v for v in graph_inputs([loss]) if v.owner is None]
    fwd = len(merge(FunctionGraph(ins, [loss])).toposort())
    both = len(merge(FunctionGraph(ins, [loss] + grads)).toposort())
    ratio = (both - fwd) / fwd
    print(f"forward nodes {fwd}, gradient nodes {both - fwd}, ratio {ratio:.2f}")
    assert ratio <= 3.2
