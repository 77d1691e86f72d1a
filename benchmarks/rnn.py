"""A tanh RNN over a sequence with `scan`: h_t = tanh(h_{t-1} W + x_t U), 100 steps of a
batch of 32 with 128 hidden units, float32; the forward pass, and a training step (the
gradient of the mean square of the last state through every step, SGD on W and U).

clgraph's `scan` beside a NumPy loop (forward, and backpropagation through time written
by hand), PyTorch's loop on its CPU and JAX's `lax.scan`, where installed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

STEPS, BATCH, HIDDEN = 100, 32, 128
LR = np.float32(0.01)


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scale = 1 / np.sqrt(HIDDEN)
    W = (rng.standard_normal((HIDDEN, HIDDEN)) * scale).astype(np.float32)
    U = (rng.standard_normal((HIDDEN, HIDDEN)) * scale).astype(np.float32)
    x = rng.standard_normal((STEPS, BATCH, HIDDEN)).astype(np.float32)
    return W, U, x


def numpy_forward(W, U, x) -> np.ndarray:
    h = np.zeros((BATCH, HIDDEN), np.float32)
    for t in range(len(x)):
        h = np.tanh(h @ W + x[t] @ U)
    return h


def numpy_step(p: dict, x) -> np.float32:
    """Forward, backpropagation through time and SGD on p['W'], p['U'] (in place)."""
    W, U = p["W"], p["U"]
    hs = [np.zeros((BATCH, HIDDEN), np.float32)]
    for t in range(len(x)):
        hs.append(np.tanh(hs[-1] @ W + x[t] @ U))
    h = hs[-1]
    loss = np.float32((h * h).mean())
    g = 2 * h / h.size
    gW, gU = np.zeros_like(W), np.zeros_like(U)
    for t in range(len(x), 0, -1):
        d = g * (1 - hs[t] * hs[t])
        gW += hs[t - 1].T @ d
        gU += x[t - 1].T @ d
        g = d @ W.T
    W -= LR * gW
    U -= LR * gU
    return loss


def clgraph_functions(W, U):
    import clgraph as cg
    import clgraph.tensor as T

    Ws, Us = cg.shared(W.copy(), name="W"), cg.shared(U.copy(), name="U")
    x = T.ftensor3("x")
    hs, _ = cg.scan(lambda xt, h: T.tanh(T.dot(h, Ws) + T.dot(xt, Us)), sequences=x,
                    outputs_info=T.zeros((BATCH, HIDDEN), dtype="float32"))
    last = hs[-1]
    loss = (last * last).mean()
    gW, gU = cg.grad(loss, [Ws, Us])
    forward = cg.function([x], last)
    step = cg.function([x], loss, updates=[(Ws, Ws - LR * gW), (Us, Us - LR * gU)])
    return forward, step


def torch_functions(W, U):
    try:
        import torch
    except Exception:
        return None
    Wt = torch.tensor(W, requires_grad=True)
    Ut = torch.tensor(U, requires_grad=True)

    def run(x):
        h = torch.zeros((BATCH, HIDDEN))
        for t in range(x.shape[0]):
            h = torch.tanh(h @ Wt + x[t] @ Ut)
        return h

    def forward(x):
        with torch.no_grad():
            return run(x)

    def step(x):
        h = run(x)
        loss = (h * h).mean()
        loss.backward()
        with torch.no_grad():
            for param in (Wt, Ut):
                param.sub_(float(LR) * param.grad)
                param.grad = None
        return loss

    return forward, step, torch.tensor


def jax_functions(W, U):
    try:
        import jax
        import jax.numpy as jnp
    except Exception:
        return None

    def run(params, x):
        def cell(h, xt):
            h = jnp.tanh(h @ params[0] + xt @ params[1])
            return h, None
        h, _ = jax.lax.scan(cell, jnp.zeros((BATCH, HIDDEN), jnp.float32), x)
        return h

    forward = jax.jit(run)

    @jax.jit
    def step(params, x):
        loss, grads = jax.value_and_grad(lambda p: (run(p, x) ** 2).mean())(params)
        return loss, tuple(p - LR * g for p, g in zip(params, grads))

    return forward, step, (jnp.asarray(W), jnp.asarray(U)), jnp.asarray


def measure(timer: Callable[[Callable[[], Any]], float]) -> dict[str, dict[str, float]]:
    """{'forward' | 'step': {implementation: seconds}} with `timer(fn)` -> median seconds;
    each result is checked against NumPy's first."""
    W, U, x = data()
    out: dict[str, dict[str, float]] = {"forward": {}, "step": {}}
    want = numpy_forward(W, U, x)
    fwd, step = clgraph_functions(W, U)
    np.testing.assert_allclose(fwd(x), want, rtol=1e-4, atol=1e-5)
    p = {"W": W.copy(), "U": U.copy()}
    np.testing.assert_allclose(float(step(x)), float(numpy_step(p, x)), rtol=1e-4)
    out["forward"]["clgraph"] = timer(lambda: fwd(x))
    out["step"]["clgraph"] = timer(lambda: step(x))
    out["forward"]["NumPy"] = timer(lambda: numpy_forward(W, U, x))
    out["step"]["NumPy"] = timer(lambda: numpy_step(p, x))
    torch_fns = torch_functions(W, U)
    if torch_fns is not None:
        t_fwd, t_step, tensor = torch_fns
        xt = tensor(x)
        np.testing.assert_allclose(t_fwd(xt).numpy(), want, rtol=1e-4, atol=1e-5)
        out["forward"]["PyTorch"] = timer(lambda: t_fwd(xt))
        out["step"]["PyTorch"] = timer(lambda: t_step(xt))
    jax_fns = jax_functions(W, U)
    if jax_fns is not None:
        j_fwd, j_step, params, asarray = jax_fns
        xj = asarray(x)
        np.testing.assert_allclose(np.asarray(j_fwd(params, xj)), want, rtol=1e-4, atol=1e-5)
        state = {"p": params}

        def jax_step():
            loss, state["p"] = j_step(state["p"], xj)
            return loss.block_until_ready()

        out["forward"]["JAX"] = timer(lambda: j_fwd(params, xj).block_until_ready())
        out["step"]["JAX"] = timer(jax_step)
    return out


if __name__ == "__main__":
    def _timer(fn, n=10):
        fn()
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return float(np.median(ts))

    for which, res in measure(_timer).items():
        print(which, {k: f"{v * 1e3:.2f} ms" for k, v in res.items()})
