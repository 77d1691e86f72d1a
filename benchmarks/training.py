#!/usr/bin/env python
"""Training-step benchmarks (issue 6 item 5): one SGD step of an MLP and of a LeNet-like net.

    python benchmarks/training.py [--quick]     # just these two cases (same as run.py --only)
    python benchmarks/run.py                    # every case; these are `mlp_step`, `lenet_step`

(1) MLP 784-512-512-10, ReLU, softmax cross-entropy on integer labels, batch 256, float32.
(2) LeNet-like: conv 5x5x20 - ReLU - max-pool 2 - conv 5x5x50 - ReLU - max-pool 2 -
    dense 500 - ReLU - dense 10 - softmax cross-entropy; 1x28x28 inputs, batch 128, float32.
    Convolutions are cross-correlations (clgraph `filter_flip=False`, as PyTorch's), 'valid'.

One step is forward, backward and the plain SGD update `p -= lr * grad`:

- clgraph: `cg.function([x, y], loss, updates=...)` on shared (device-resident) parameters,
  x and y passed as NumPy arrays, the loss read back (which waits for the step).
- NumPy: a hand-written step (forward, backward, update in place), the convolutions by
  im2col + GEMM and col2im; timed at the faster of 1 and 2 BLAS threads (threadpoolctl).
- PyTorch (CPU, autograd, when importable): timed at 1 and 2 threads (torch.set_num_threads),
  the faster one is reported. PyTensor and JAX for the MLP when importable, else n/a.

Before timing, one clgraph step and one NumPy step from the same initial weights on the same
batch must agree: the loss, every updated parameter, and the gradient implied by the update
((p0 - p1) / lr) within float32 tolerance. PyTorch's step is checked the same way.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LR = 0.05
MLP_SIZES = (784, 512, 512, 10)
MLP_BATCH = 256
LENET_BATCH = 128
# name, shape, fan-in (0: zeros)
LENET_PARAMS = (("W1", (20, 1, 5, 5), 25), ("b1", (20,), 0),
                ("W2", (50, 20, 5, 5), 500), ("b2", (50,), 0),
                ("W3", (800, 500), 800), ("b3", (500,), 0),
                ("W4", (500, 10), 500), ("b4", (10,), 0))


@dataclass
class StepResult:
    """Seconds per step; a peer's entry is a time, a short string ('error'), or None (n/a)."""

    clgraph: float | None = None
    numpy: float | None = None
    peers: dict[str, float | str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None


# --- parameters and data --------------------------------------------------------------------


def mlp_init(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = {}
    for k, (n_in, n_out) in enumerate(zip(MLP_SIZES[:-1], MLP_SIZES[1:], strict=True)):
        params[f"W{k}"] = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
                           ).astype(np.float32)
        params[f"b{k}"] = (rng.standard_normal(n_out) * 0.01).astype(np.float32)
    return params


def lenet_init(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal(shape) * (np.sqrt(2.0 / fan) if fan else 0.01)
                   ).astype(np.float32) for name, shape, fan in LENET_PARAMS}


def batch(shape: tuple[int, ...], seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Uniform [0, 1) inputs (no exact zeros before a ReLU) and integer labels 0..9."""
    rng = np.random.default_rng(seed)
    return rng.random(shape, dtype=np.float32), rng.integers(0, 10, shape[0]).astype(np.int32)


# --- NumPy: the hand-written steps ----------------------------------------------------------


def _xent_grad(logits: np.ndarray, y: np.ndarray) -> tuple[np.float32, np.ndarray]:
    """Mean softmax cross-entropy over rows, and its gradient with respect to the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = np.mean(np.log(s[:, 0]) - z[rows, y], dtype=np.float32)
    d = e / s
    d[rows, y] -= 1
    d *= np.float32(1.0 / len(y))
    return loss, d


def numpy_mlp_step(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                   lr: float = LR) -> np.float32:
    """Forward, backward and SGD update (in place) of the ReLU MLP; returns the loss."""
    lr = np.float32(lr)
    n = len(MLP_SIZES) - 1
    hs = [x]
    for k in range(n - 1):
        h = hs[-1] @ p[f"W{k}"]
        h += p[f"b{k}"]
        np.maximum(h, 0, out=h)
        hs.append(h)
    logits = hs[-1] @ p[f"W{n - 1}"]
    logits += p[f"b{n - 1}"]
    loss, d = _xent_grad(logits, y)
    for k in range(n - 1, -1, -1):
        gw = hs[k].T @ d
        gb = d.sum(axis=0)
        if k:
            d = d @ p[f"W{k}"].T
            d *= hs[k] > 0
        p[f"W{k}"] -= lr * gw
        p[f"b{k}"] -= lr * gb
    return loss


def _im2col(x: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """(B, C, H, W) -> (B*OH*OW, C*KH*KW) patches of a 'valid' cross-correlation."""
    b, c, h, w = x.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))  # B C OH OW KH KW
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(b * (h - kh + 1) * (w - kw + 1), c * kh * kw)


def _col2im(dcols: np.ndarray, shape: tuple[int, ...], kh: int, kw: int) -> np.ndarray:
    b, c, h, w = shape
    oh, ow = h - kh + 1, w - kw + 1
    d6 = dcols.reshape(b, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)  # B C KH KW OH OW
    dx = np.zeros(shape, dtype=dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i:i + oh, j:j + ow] += d6[:, :, i, j]
    return dx


def _conv_fwd(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    f, _, kh, kw = w.shape
    n, _, h, wd = x.shape
    cols = _im2col(x, kh, kw)
    out = cols @ w.reshape(f, -1).T  # (B*OH*OW, F)
    out += b
    return out.reshape(n, h - kh + 1, wd - kw + 1, f).transpose(0, 3, 1, 2), cols


def _conv_bwd(dout: np.ndarray, cols: np.ndarray, x_shape, w: np.ndarray, need_dx: bool):
    f, _, kh, kw = w.shape
    d2 = dout.transpose(0, 2, 3, 1).reshape(-1, f)  # (B*OH*OW, F)
    gw = (d2.T @ cols).reshape(w.shape)
    gb = d2.sum(axis=0)
    dx = _col2im(d2 @ w.reshape(f, -1), x_shape, kh, kw) if need_dx else None
    return gw, gb, dx


def _pool_fwd(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def _pool_bwd(x: np.ndarray, out: np.ndarray, dout: np.ndarray) -> np.ndarray:
    """Gradient to every position equal to its window's max (Theano's rule; ties are
    measure-zero here: ReLU outputs of random inputs)."""
    n, c, h, w = x.shape
    x6 = x.reshape(n, c, h // 2, 2, w // 2, 2)
    mask = x6 == out[:, :, :, None, :, None]
    return (mask * dout[:, :, :, None, :, None]).reshape(x.shape)


def numpy_lenet_step(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                     lr: float = LR) -> np.float32:
    """Forward, backward and SGD update (in place) of the LeNet-like net; returns the loss."""
    lr = np.float32(lr)
    c1, cols1 = _conv_fwd(x, p["W1"], p["b1"])
    r1 = np.maximum(c1, 0)
    p1 = _pool_fwd(r1)
    c2, cols2 = _conv_fwd(p1, p["W2"], p["b2"])
    r2 = np.maximum(c2, 0)
    p2 = _pool_fwd(r2)
    f = p2.reshape(len(x), -1)
    h3 = f @ p["W3"]
    h3 += p["b3"]
    np.maximum(h3, 0, out=h3)
    logits = h3 @ p["W4"]
    logits += p["b4"]
    loss, d = _xent_grad(logits, y)
    grads = {"W4": h3.T @ d, "b4": d.sum(axis=0)}
    d = d @ p["W4"].T
    d *= h3 > 0
    grads["W3"], grads["b3"] = f.T @ d, d.sum(axis=0)
    d = (d @ p["W3"].T).reshape(p2.shape)
    d = _pool_bwd(r2, p2, d) * (c2 > 0)
    grads["W2"], grads["b2"], d = _conv_bwd(d, cols2, p1.shape, p["W2"], True)
    d = _pool_bwd(r1, p1, d) * (c1 > 0)
    grads["W1"], grads["b1"], _ = _conv_bwd(d, cols1, x.shape, p["W1"], False)
    for name, g in grads.items():
        p[name] -= lr * g
    return loss


# --- clgraph --------------------------------------------------------------------------------


def clgraph_step(model: str, init: dict[str, np.ndarray], profile: bool = False):
    """(fn(x, y) -> loss, shared parameters by name) for one SGD step of `model`."""
    import clgraph as cg
    import clgraph.tensor as T

    params = {name: cg.shared(value.copy(), name=name) for name, value in init.items()}
    y = T.ivector("y")
    if model == "mlp":
        x = T.fmatrix("x")
        h = x
        n = len(MLP_SIZES) - 1
        for k in range(n):
            h = T.dot(h, params[f"W{k}"]) + params[f"b{k}"]
            if k < n - 1:
                h = T.nnet.relu(h)
        logits = h
    else:
        from clgraph.tensor.signal.pool import pool_2d

        x = T.ftensor4("x")

        def conv(h, w, b):
            out = T.nnet.conv2d(h, w, filter_flip=False) + b.dimshuffle("x", 0, "x", "x")
            return pool_2d(T.nnet.relu(out), (2, 2), ignore_border=True)

        h = conv(conv(x, params["W1"], params["b1"]), params["W2"], params["b2"])
        h = T.nnet.relu(T.dot(T.flatten(h, 2), params["W3"]) + params["b3"])
        logits = T.dot(h, params["W4"]) + params["b4"]
    loss = T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(logits), y))
    shared = list(params.values())
    grads = cg.grad(loss, shared)
    lr = np.float32(LR)
    fn = cg.function([x, y], loss, updates=[(p, p - lr * g) for p, g in zip(shared, grads,
                                                                             strict=True)],
                     profile=profile)
    return fn, params


# --- peers ----------------------------------------------------------------------------------


def _torch():
    try:
        import torch
    except Exception:
        return None
    return torch


def torch_step(model: str, init: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray):
    """(step() -> loss, parameters by name as tensors) for PyTorch on the CPU."""
    torch = _torch()
    import torch.nn.functional as F

    params = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
    tx, ty = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    p = params

    def forward():
        if model == "mlp":
            h = tx
            n = len(MLP_SIZES) - 1
            for k in range(n):
                h = torch.addmm(p[f"b{k}"], h, p[f"W{k}"])
                if k < n - 1:
                    h = torch.relu(h)
            return h
        h = F.max_pool2d(torch.relu(F.conv2d(tx, p["W1"], p["b1"])), 2)
        h = F.max_pool2d(torch.relu(F.conv2d(h, p["W2"], p["b2"])), 2)
        h = torch.relu(torch.addmm(p["b3"], h.flatten(1), p["W3"]))
        return torch.addmm(p["b4"], h, p["W4"])

    def step():
        loss = F.cross_entropy(forward(), ty)
        grads = torch.autograd.grad(loss, list(p.values()))
        with torch.no_grad():
            for v, g in zip(p.values(), grads, strict=True):
                v.sub_(g, alpha=LR)
        return loss.item()

    return step, params


def pytensor_mlp(init, x, y):
    """PyTensor's MLP step (shared parameters, updates), when importable; else None."""
    try:
        import pytensor
        import pytensor.tensor as pt
    except Exception:
        return None
    params = {k: pytensor.shared(v.copy(), name=k) for k, v in init.items()}
    sx, sy = pt.matrix("x", dtype="float32"), pt.vector("y", dtype="int32")
    h = sx
    n = len(MLP_SIZES) - 1
    for k in range(n):
        h = pt.dot(h, params[f"W{k}"]) + params[f"b{k}"]
        if k < n - 1:
            h = pt.maximum(h, 0)
    logp = h - pt.logsumexp(h, axis=1, keepdims=True)
    loss = -pt.mean(logp[pt.arange(sy.shape[0]), sy])
    grads = pytensor.grad(loss, list(params.values()))
    fn = pytensor.function([sx, sy], loss, updates=[
        (p, p - np.float32(LR) * g) for p, g in zip(params.values(), grads, strict=True)])
    return lambda: fn(x, y)


def jax_mlp(init, x, y):
    """JAX's jitted MLP step (parameters threaded through), when importable; else None."""
    try:
        import jax
        import jax.numpy as jnp
    except Exception:
        return None
    n = len(MLP_SIZES) - 1

    def loss_fn(p, x, y):
        h = x
        for k in range(n):
            h = h @ p[f"W{k}"] + p[f"b{k}"]
            if k < n - 1:
                h = jnp.maximum(h, 0)
        logp = jax.nn.log_softmax(h, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(p, x, y):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        return loss, jax.tree_util.tree_map(lambda a, b: a - LR * b, p, g)

    state = {"p": {k: jnp.asarray(v) for k, v in init.items()}}

    def run():
        loss, state["p"] = step(state["p"], x, y)
        return float(loss)

    return run


# --- checks ---------------------------------------------------------------------------------


def check_step(name: str, loss: float, want_loss: float, got: dict[str, np.ndarray],
               want: dict[str, np.ndarray], init: dict[str, np.ndarray]) -> None:
    """Loss, updated parameters and implied gradients of one step against the reference."""
    np.testing.assert_allclose(loss, want_loss, rtol=1e-4, err_msg=f"{name}: loss")
    for k, w in want.items():
        g = np.asarray(got[k])
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6, err_msg=f"{name}: updated {k}")
        g_got, g_want = (init[k] - g) / LR, (init[k] - w) / LR
        scale = float(np.abs(g_want).max()) or 1.0
        np.testing.assert_allclose(g_got, g_want, rtol=0, atol=2e-3 * scale,
                                   err_msg=f"{name}: gradient of {k} (from the update)")


def blas_threads(n: int):
    """Limit the BLAS pool to n threads (threadpoolctl), or change nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(n, user_api="blas")


# --- the cases ------------------------------------------------------------------------------


PASSES = 2          # each implementation is timed once per pass, passes in turn
WARMUP_S = 0.3      # first seconds of each turn: untimed (the previous one's threads settle)
TIMED_S = 0.6       # then the median step over at least this long (and >= MIN_CALLS steps)
MIN_CALLS = 10


def interleaved(entries: dict[str, tuple[Callable[[], Any], Callable[[], Any]]],
                passes: int = PASSES) -> dict[str, float]:
    """Seconds per step of each (step, context factory): in each pass every implementation
    gets a turn (an untimed warm-up, then the median of its timed steps); the best pass
    counts. Turns are long because thread pools left spinning by the previous implementation
    (OpenMP's, XLA's, BLAS's) slow the next one's first steps; two passes keep a slow spell
    of the machine from landing on one implementation only."""
    best: dict[str, float] = {}
    for _ in range(passes):
        for name, (step, ctx) in entries.items():
            with ctx():
                t_end = time.perf_counter() + WARMUP_S
                while time.perf_counter() < t_end:
                    step()
                times: list[float] = []
                t_end = time.perf_counter() + TIMED_S
                while len(times) < MIN_CALLS or time.perf_counter() < t_end:
                    t0 = time.perf_counter()
                    step()
                    times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            best[name] = min(best.get(name, med), med)
    return best


def _torch_threads(n: int):
    torch = _torch()

    @contextlib.contextmanager
    def ctx():
        saved = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(saved)
    return ctx


def run_case(model: str) -> StepResult:
    """Check one step of `model` ('mlp' or 'lenet') in every implementation against NumPy's,
    then time them all in turns (`interleaved`)."""
    import traceback

    res = StepResult()
    init = mlp_init() if model == "mlp" else lenet_init()
    x, y = batch((MLP_BATCH, MLP_SIZES[0]) if model == "mlp" else (LENET_BATCH, 1, 28, 28))
    np_step = numpy_mlp_step if model == "mlp" else numpy_lenet_step
    want = {k: v.copy() for k, v in init.items()}
    want_loss = float(np_step(want, x, y))
    plain = contextlib.nullcontext
    entries: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {}

    # clgraph: check one step (the parameters then keep training while timed).
    try:
        fn, shared = clgraph_step(model, init)
        loss = float(fn(x, y))
        check_step("clgraph", loss, want_loss, {k: s.get_value() for k, s in shared.items()},
                   want, init)
    except AssertionError as exc:
        res.error = "wrong result: " + " ".join(str(exc).split())[:300]
    except Exception as exc:
        res.error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
        res.traceback = traceback.format_exc()
    else:
        entries["clgraph"] = (lambda: fn(x, y), plain)

    # NumPy at 1 and 2 BLAS threads, PyTorch at 1 and 2 threads: the faster of each.
    p = {k: v.copy() for k, v in init.items()}
    for n in (1, 2):
        entries[f"numpy{n}"] = (lambda: np_step(p, x, y), lambda n=n: blas_threads(n))
    if _torch() is None:
        res.peers["PyTorch"] = None
    else:
        try:
            step, tp = torch_step(model, init, x, y)
            loss = step()
            check_step("PyTorch", loss, want_loss,
                       {k: v.detach().numpy() for k, v in tp.items()}, want, init)
            for n in (1, 2):
                entries[f"torch{n}"] = (torch_step(model, init, x, y)[0], _torch_threads(n))
        except Exception as exc:
            res.peers["PyTorch"] = "error"
            res.notes.append(f"PyTorch: {type(exc).__name__}: {str(exc)[:80]}")
    for name, make in (("PyTensor", pytensor_mlp), ("JAX", jax_mlp)):
        if model != "mlp":
            res.peers[name] = "-"
            continue
        try:
            run = make(init, x, y)
            if run is None:
                res.peers[name] = None
            else:
                entries[name] = (run, plain)
        except Exception as exc:
            res.peers[name] = "error"
            res.notes.append(f"{name}: {type(exc).__name__}: {str(exc)[:80]}")

    t = interleaved(entries)
    res.clgraph = t.get("clgraph")
    for label, key in (("NumPy", "numpy"), ("PyTorch", "torch")):
        if f"{key}1" not in t:
            continue
        best = min((1, 2), key=lambda n: t[f"{key}{n}"])
        if key == "numpy":
            res.numpy = t[f"{key}{best}"]
        else:
            res.peers["PyTorch"] = t[f"{key}{best}"]
        unit = "BLAS thread" if key == "numpy" else "thread"
        res.notes.append(f"{label} best at {best} {unit}{'s' if best > 1 else ''} "
                         f"({', '.join(f'{n}: {t[key + str(n)] * 1e3:.3g} ms' for n in (1, 2))})")
    for name in ("PyTensor", "JAX"):
        if name in t:
            res.peers[name] = t[name]

    # Targets (issue 6 item 5).
    if res.clgraph:
        if model == "mlp":
            ok = res.clgraph <= res.numpy
            res.notes.insert(0, f"target clgraph <= NumPy: {'met' if ok else 'MISSED'}")
        else:
            t = res.peers.get("PyTorch")
            if isinstance(t, float):
                ratio = res.clgraph / t
                res.notes.insert(0, f"clgraph/PyTorch {ratio:.2f}x, target <= 1.5x: "
                                    f"{'met' if ratio <= 1.5 else 'MISSED'}")
            else:
                res.notes.insert(0, "target vs PyTorch: not measured (PyTorch n/a)")
    return res


def profile_summary(model: str, calls: int = 20) -> str:
    """clgraph's profile of `calls` steps of `model` (where the time goes)."""
    init = mlp_init() if model == "mlp" else lenet_init()
    x, y = batch((MLP_BATCH, MLP_SIZES[0]) if model == "mlp" else (LENET_BATCH, 1, 28, 28))
    fn, _ = clgraph_step(model, init, profile=True)
    for _ in range(calls):
        fn(x, y)
    return fn.profile.summary(file=None, n_ops_to_print=None, n_apply_to_print=None)


if __name__ == "__main__":
    import os

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if "--profile" in sys.argv:
        for m in ("mlp", "lenet"):
            print(f"== {m}\n{profile_summary(m)}")
        sys.exit(0)
    import run

    sys.exit(run.main(["--only", "mlp_step,lenet_step", *sys.argv[1:]]))
