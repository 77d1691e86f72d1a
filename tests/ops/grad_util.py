"""Gradient checks batched into two builds: the outputs, and their vector-Jacobian products
with fixed random weights (known_grads), against central differences of the weighted sums;
and plain central differences of a scalar function (`numeric_grad`)."""

from __future__ import annotations

import numpy as np

import clgraph as cg
import clgraph.tensor as T


def check_grads(x_val: np.ndarray, builders: dict, rtol=1e-5, atol=1e-7, eps=1e-6) -> None:
    x = T.tensor("float64", shape=(None,) * x_val.ndim, name="x")
    outs = [b(x) for b in builders.values()]
    f_out = cg.function([x], outs)
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(np.shape(o)) for o in f_out(x_val)]
    grads = [cg.grad(None, x, known_grads={o: T.constant(w)})
             for o, w in zip(outs, weights, strict=True)]
    got = cg.function([x], grads)(x_val)

    def costs(v):
        return [float(np.sum(o * w)) for o, w in zip(f_out(v), weights, strict=True)]

    num = [np.zeros_like(x_val) for _ in outs]
    for pos in np.ndindex(x_val.shape):
        xp, xm = x_val.copy(), x_val.copy()
        xp[pos] += eps
        xm[pos] -= eps
        for g, cp, cm in zip(num, costs(xp), costs(xm), strict=True):
            g[pos] = (cp - cm) / (2 * eps)
    for name, g, ref in zip(builders, got, num, strict=True):
        np.testing.assert_allclose(g, ref, rtol=rtol, atol=atol, err_msg=name)


def numeric_grad(f, args: list, k: int, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f(*args) in args[k] (float64)."""
    base = [np.array(a, dtype=np.float64) for a in args]
    g = np.zeros_like(base[k])
    for i in np.ndindex(*base[k].shape):
        plus = [a.copy() for a in base]
        minus = [a.copy() for a in base]
        plus[k][i] += eps
        minus[k][i] -= eps
        g[i] = (f(*plus) - f(*minus)) / (2 * eps)
    return g
