#!/usr/bin/env python
"""Compile time of the MLP training step (issue 5 item 5), in fresh processes.

    python benchmarks/compile_time.py            # 3 cold/warm pairs, a table of medians
    python benchmarks/compile_time.py --child clgraph   # one measurement, JSON on stdout

The function is built exactly as `training.clgraph_step('mlp', ...)` builds it (forward,
gradient, SGD updates). "Compile" is graph to first result: `clgraph.function(...)` plus the
first call (PoCL compiles each kernel at its first launch), in wall time and in the process's
CPU time (less noisy on a shared machine). "cold": a new process with an empty clgraph
compiledir and an empty PoCL kernel cache (POCL_CACHE_DIR, both temporary); "warm": a second
new process with the caches the first one left. The import of clgraph and the building of
the graph (with `grad`) are measured apart. Python's bytecode cache is kept, as an
installation has it (PYTHONDONTWRITEBYTECODE is dropped in the children). PyTensor is
measured the same way (its own compiledir, empty then reused) when importable.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COLD_TARGET_S = 1.0
WARM_TARGET_S = 0.3


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _child_clgraph() -> dict:
    t0, c0 = time.perf_counter(), _cpu()
    import clgraph

    t_import = time.perf_counter() - t0
    at_compile: list[float] = []
    function = clgraph.function

    def timed_function(*args, **kwargs):  # the graph is built: compilation starts here
        at_compile.extend((time.perf_counter(), _cpu()))
        return function(*args, **kwargs)

    clgraph.function = timed_function
    sys.path.insert(0, str(HERE))
    import numpy as np
    import training

    init = training.mlp_init()
    x, y = training.batch((training.MLP_BATCH, training.MLP_SIZES[0]))
    t1, c1 = time.perf_counter(), _cpu()
    fn, _ = training.clgraph_step("mlp", init)
    t2 = time.perf_counter()
    loss = float(fn(x, y))
    t3, c3 = time.perf_counter(), _cpu()
    want = float(training.numpy_mlp_step({k: v.copy() for k, v in init.items()}, x, y))
    if not np.isclose(loss, want, rtol=1e-4):
        raise AssertionError(f"clgraph loss {loss} != NumPy {want}")
    t = fn.timings
    t_compile, c_compile = at_compile
    return {
        "import": t_import, "graph": t_compile - t1, "compile": t2 - t_compile,
        "first_call": t3 - t2, "to_first_result": t3 - t_compile,
        "cpu": c3 - c_compile, "cpu_graph": c_compile - c1, "cpu_import": c1 - c0,
        "rewrites": t.get("optimize", 0.0), "lower": t.get("lower", 0.0) - t.get("render", 0.0),
        "render": t.get("render", 0.0), "build": t.get("build", 0.0),
        "sympy_imported": "sympy" in sys.modules,
    }


def _child_pytensor() -> dict:
    t0 = time.perf_counter()
    import pytensor  # noqa: F401

    t_import = time.perf_counter() - t0
    sys.path.insert(0, str(HERE))
    import training

    init = training.mlp_init()
    x, y = training.batch((training.MLP_BATCH, training.MLP_SIZES[0]))
    t1 = time.perf_counter()
    step = training.pytensor_mlp(init, x, y)
    step()
    return {"import": t_import, "to_first_result": time.perf_counter() - t1}


def _env(cache: Path, peer: str, pycache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    # Python's bytecode cache is part of an installation, not of a compile cache: kept (under
    # a temporary prefix, primed by an untimed run) even where PYTHONDONTWRITEBYTECODE is set.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    if peer == "clgraph":
        flags = env.get("CLGRAPH_FLAGS", "")
        env["CLGRAPH_FLAGS"] = ",".join(f for f in (flags, f"compiledir={cache / 'cg'}") if f)
        env["POCL_CACHE_DIR"] = str(cache / "pocl")
        env.pop("POCL_KERNEL_CACHE", None)  # PoCL's default: on (the warm run reuses it)
    else:
        flags = env.get("PYTENSOR_FLAGS", "")
        env["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, f"compiledir={cache / 'pt'}") if f)
    return env


def _run_child(peer: str, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", peer],
                         env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{peer} child failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@dataclass
class Result:
    cold: list[dict] = field(default_factory=list)
    warm: list[dict] = field(default_factory=list)

    def median(self, which: str, key: str) -> float:
        return statistics.median(r[key] for r in getattr(self, which))


def pytensor_importable() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("pytensor") is not None
    except Exception:
        return False


def measure(peer: str = "clgraph", pairs: int = 3) -> Result:
    """`pairs` cold/warm pairs of fresh processes, each pair on new empty cache dirs."""
    res = Result()
    with tempfile.TemporaryDirectory(prefix="compile-time-pyc-") as pycache:
        for k in range(pairs + 1):
            with tempfile.TemporaryDirectory(prefix="compile-time-") as tmp:
                env = _env(Path(tmp), peer, Path(pycache))
                if k == 0:  # primes the bytecode cache only
                    _run_child(peer, env)
                    continue
                res.cold.append(_run_child(peer, env))
                res.warm.append(_run_child(peer, env))
    return res


def breakdown(res: Result, which: str) -> str:
    m = lambda k: res.median(which, k) * 1e3  # noqa: E731
    return (f"rewrites {m('rewrites'):.0f} ms, lowering {m('lower'):.0f}, rendering "
            f"{m('render'):.0f}, OpenCL build {m('build'):.0f}, first call {m('first_call'):.0f};"
            f" CPU {m('cpu'):.0f} ms; apart: graph+grad {m('graph'):.0f} ms, import of clgraph "
            f"{m('import'):.0f} ms")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        result = _child_clgraph() if argv[1] == "clgraph" else _child_pytensor()
        print(json.dumps(result))
        return 0
    pairs = int(argv[0]) if argv else 3
    res = measure("clgraph", pairs)
    pt = measure("pytensor", pairs) if pytensor_importable() else None
    for which, target in (("cold", COLD_TARGET_S), ("warm", WARM_TARGET_S)):
        got = res.median(which, "to_first_result")
        peer = f"{pt.median(which, 'to_first_result'):.3f} s" if pt else "n/a"
        print(f"{which}: clgraph {got:.3f} s (target <= {target} s: "
              f"{'met' if got <= target else 'MISSED'}), PyTensor {peer}")
        print(f"  {breakdown(res, which)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
