"""Shared by the digits examples: scikit-learn's bundled digits (no download), split into
train / validation / test, and a training loop that prints per-epoch loss, validation
accuracy and time, with a tqdm progress bar during each epoch."""

from __future__ import annotations

import contextlib
import sys
import time

import numpy as np


def load_digits(seed: int = 0, images: bool = False):
    """(x_train, y_train, x_val, y_val, x_test, y_test); pixels scaled to [0, 1], float32."""
    from sklearn.datasets import load_digits as sk_load

    data = sk_load()
    x = (data.images / 16.0).astype("float32")
    x = x[:, None] if images else x.reshape(len(x), -1)
    y = data.target.astype("int32")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test, n_val = 360, 180
    return (x[n_test + n_val:], y[n_test + n_val:], x[n_test:n_test + n_val],
            y[n_test:n_test + n_val], x[:n_test], y[:n_test])


def accuracy(predict, x, y, batch: int = 512) -> float:
    preds = np.concatenate([predict(x[i:i + batch]) for i in range(0, len(x), batch)])
    return float(np.mean(preds == y))


def fit(train, predict, data, epochs: int, batch: int, seed: int = 0, out=None,
        progress: bool = True) -> dict:
    """Minibatch training; `train(x, y)` returns the batch loss, `predict(x)` labels."""
    out = sys.stdout if out is None else out
    x_tr, y_tr, x_val, y_val, x_te, y_te = data
    rng = np.random.default_rng(seed)
    try:
        from tqdm import tqdm
    except ImportError:  # the progress bar is optional: pip install clgraph[examples]
        tqdm = None
    n_batches = len(x_tr) // batch
    with _one_blas_thread():
        return _epochs(train, predict, data, epochs, batch, rng, out, progress, tqdm, n_batches)


def _one_blas_thread():
    """Small GEMMs run on the host's BLAS (PoCL maps buffers for free): its worker threads
    spinning beside PoCL's on a small CPU made each step 5x slower, so use one thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _epochs(train, predict, data, epochs, batch, rng, out, progress, tqdm, n_batches) -> dict:
    x_tr, y_tr, x_val, y_val, x_te, y_te = data
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(len(x_tr))
        batches = range(n_batches)
        if tqdm is not None and progress:
            batches = tqdm(batches, desc=f"epoch {epoch}", leave=False, unit="batch",
                           file=sys.stderr, mininterval=0.2)
        losses = []
        for b in batches:
            idx = order[b * batch:(b + 1) * batch]
            losses.append(float(train(x_tr[idx], y_tr[idx])))
        val = accuracy(predict, x_val, y_val)
        print(f"epoch {epoch:3d}  loss {np.mean(losses):.4f}  val accuracy {val * 100:6.2f}%  "
              f"time {time.perf_counter() - t0:.2f} s", file=out, flush=True)
    test = accuracy(predict, x_te, y_te)
    print(f"test accuracy {test * 100:.2f}%", file=out, flush=True)
    return {"test_accuracy": test, "val_accuracy": val, "loss": float(np.mean(losses))}


def sgd_momentum(params, grads, lr, momentum: float = 0.9):
    """Updates for SGD with momentum (velocities are shared variables)."""
    import clgraph as cg

    updates = []
    for p, g in zip(params, grads, strict=True):
        v = cg.shared(np.zeros_like(p.get_value()), name=f"v_{p.name}")
        v_new = momentum * v - lr * g
        updates += [(v, v_new), (p, p + v_new)]
    return updates


def parse(argv, description: str, epochs: int, quick_epochs: int):
    import argparse

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--quick", action="store_true", help=f"{quick_epochs} epochs only")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    args = ap.parse_args(argv)
    if args.epochs is None:
        args.epochs = quick_epochs if args.quick else epochs
    return args


def run_flat(argv, out, description: str, build, epochs: int = 30, quick_epochs: int = 3
             ) -> dict:
    """The main of an example on flat 64-pixel digits: `build(seed)` gives (train,
    predict); minibatches of 32."""
    args = parse(argv, description, epochs=epochs, quick_epochs=quick_epochs)
    data = load_digits(args.seed)
    train, predict = build(args.seed)
    return fit(train, predict, data, args.epochs, batch=32, seed=args.seed, out=out,
               progress=not args.no_progress)
