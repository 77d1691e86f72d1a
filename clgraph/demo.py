"""`python -m clgraph demo`: train examples/mlp_digits.py's network on scikit-learn's digits.

`main` prints the device clgraph picked and why, then trains the MLP (per-epoch loss,
validation accuracy and time) and reports its test accuracy. `elementwise_main` is the
earlier demo: one expression's generated OpenCL source, its error and time against NumPy.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

EXPRESSION = "exp(-x*x)*sin(w) + 0.5*tanh(x*w) + sqrt(abs(x)+1)"


def expression(m: Any, x: Any, w: Any) -> Any:
    """The demo's expression, for m = clgraph.tensor or numpy: six kinds of elementwise op."""
    return m.exp(-x * x) * m.sin(w) + 0.5 * m.tanh(x * w) + m.sqrt(abs(x) + 1)


def _median_seconds(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm-up: first-call allocations, thread pools
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _examples_dir() -> str:
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(here), "examples")


def main(epochs: int | None = None, quick: bool = False, out: TextIO | None = None,
         progress: bool = True) -> int:
    """Train the digits MLP; 0 when it reaches 97% test accuracy (90% with quick), else 1."""
    import os
    import runpy

    out = sys.stdout if out is None else out
    from clgraph.runtime.device import get_context

    ctx = get_context()
    print(f"device: {ctx.name} ({ctx.platform_name}, {ctx.type_name})", file=out)
    print(f"  chosen because {ctx.reason}", file=out)
    path = os.path.join(_examples_dir(), "mlp_digits.py")
    if not os.path.exists(path):
        print(f"clgraph demo: {path} is missing (the demo runs the repository's examples; "
              "install clgraph from a checkout with pip install -e .[examples])", file=out)
        return 1
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("clgraph demo: it trains on scikit-learn's digits: pip install -e .[examples]",
              file=out)
        return 1
    print("\ntraining a 64-256-256-10 ReLU MLP with dropout on scikit-learn's digits "
          "(examples/mlp_digits.py)\n", file=out, flush=True)
    module = runpy.run_path(path, run_name="clgraph_demo")
    argv = ["--quick"] if quick else []
    if epochs is not None:
        argv += ["--epochs", str(epochs)]
    if not progress:
        argv.append("--no-progress")
    t0 = time.perf_counter()
    result = module["main"](argv, out=out)
    need = 0.90 if quick or epochs is not None else 0.97
    ok = result["test_accuracy"] >= need
    print(f"trained in {time.perf_counter() - t0:.1f} s: test accuracy "
          f"{result['test_accuracy'] * 100:.2f}% {'OK' if ok else 'BELOW'} "
          f"(target {need * 100:.0f}%)", file=out)
    return 0 if ok else 1


def elementwise_main(n: int = 1_000_000, runs: int = 5, out: TextIO | None = None) -> int:
    """Run the demo on n float32 elements; 0 when clgraph's result matches NumPy's, else 1."""
    out = sys.stdout if out is None else out
    import clgraph as cg
    import clgraph.tensor as T
    from clgraph.runtime.device import get_context

    def say(text: str = "") -> None:
        print(text, file=out)

    ctx = get_context()
    say(f"device: {ctx.name} ({ctx.platform_name}, {ctx.type_name})")
    say(f"  chosen because {ctx.reason}")

    x = T.fvector("x")
    w = T.fvector("w")
    t0 = time.perf_counter()
    fn = cg.function([x, w], expression(T, x, w))
    compile_s = time.perf_counter() - t0
    kernels = fn.kernels()
    say(f"\ny = {EXPRESSION}   (x, w: float32 vectors)")
    say(f"compiled in {compile_s:.2f} s to {len(kernels)} OpenCL kernel"
        f"{'' if len(kernels) == 1 else 's'}:\n")
    for source in kernels:
        say(source.rstrip())
        say()

    rng = np.random.default_rng(0)
    xv = rng.standard_normal(n, dtype=np.float32)
    wv = rng.uniform(-3, 3, n).astype(np.float32)
    got = np.asarray(fn(xv, wv))
    want = expression(np, xv, wv)
    err = float(np.max(np.abs(got.astype(np.float64) - want))) if n else 0.0
    ok = got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-5, atol=1e-5))
    say(f"run on {n:,} float32 elements: max abs error vs NumPy {err:.2e}  "
        f"{'OK' if ok else 'MISMATCH'}")

    t_cg = _median_seconds(lambda: fn(xv, wv), runs)
    t_np = _median_seconds(lambda: expression(np, xv, wv), runs)
    say(f"time (median of {runs}): clgraph {t_cg * 1e3:.2f} ms, NumPy {t_np * 1e3:.2f} ms "
        f"-> clgraph is {t_np / t_cg:.2f}x NumPy's speed (NumPy arrays in and out)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
