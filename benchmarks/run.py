#!/usr/bin/env python
"""clgraph benchmarks: clgraph against NumPy, and PyTorch, PyTensor and JAX when installed.

    python benchmarks/run.py              # every case, full sizes (writes benchmarks/latest.md)
    python benchmarks/run.py --quick      # small sizes, few runs: a smoke test
    python benchmarks/run.py --only dot   # one case (or several: --only sum,rowmax)

Every case first checks clgraph's result against NumPy's (assert_allclose), then times each
implementation: warm-up calls (compilation and first-call allocation are not timed), then the
median of several calls. clgraph, NumPy, the peers and any hand-written reference kernel are
timed in turns (three rounds; each turn starts with untimed calls), on the same inputs, so
that all of them see the same spells of this machine's moving speed.
Device-resident cases pass pyopencl arrays in and take `Out(..., borrow=True)` out, and wait
for the queue inside the timing. ratio = NumPy time / clgraph time: above 1, clgraph is faster.
PyTensor and JAX are timed when importable (JAX on device arrays where clgraph is device-
resident), and shown as n/a otherwise; they are never installed by this script.
`mlp_step` and `lenet_step` (training steps, issue 6 item 5) live in training.py: their NumPy
column is a hand-written step, and they alone fill the PyTorch column ('-' elsewhere).
`compile` (issue 5 item 5, in compile_time.py) times the MLP step's compilation, graph to
first result, in fresh processes with cold and with warm caches, beside PyTensor's.

Environment variables (OPENBLAS_*, OMP_*, CLGRAPH_FLAGS, ...) are read as they are; nothing here
changes them.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyopencl as cl
import pyopencl.array as cl_array

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compile_time  # noqa: E402  (lives next to this script)
import reference_kernels  # noqa: E402
import rnn  # noqa: E402
import training  # noqa: E402

import clgraph as cg  # noqa: E402
import clgraph.tensor as T  # noqa: E402
from clgraph.runtime.device import get_context  # noqa: E402

PEERS = ("PyTorch", "PyTensor", "JAX")
ONLY_TRAINING = {"PyTorch"}  # peers measured by the training cases only: '-' in other rows
TURNS = 3        # rounds of turns in Runner.time_together
SETTLE_S = 0.3   # untimed calls at the start of each turn, at least this long
Expr = Callable[..., Any]  # expr(namespace, *inputs): namespace is np, clgraph.tensor, jnp, pt


# --- sizes and run counts ---------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    quick: bool
    repeat: int  # timed calls at most (after the warm-up)
    min_repeat: int  # timed calls at least, even past the budget
    budget_s: float  # stop timing one implementation once this much time has been spent
    n_elementwise: int
    n_triad: int
    n_sum: int
    rowmax_shape: tuple[int, int]
    softmax_shape: tuple[int, int]
    dot_n: int
    overhead_n: int
    overhead_calls: int  # calls per timed block in the call-overhead case

    @classmethod
    def make(cls, quick: bool) -> Settings:
        if quick:
            return cls(True, 3, 2, 0.3, 1_000_000, 5_000_000, 1_000_000, (1024, 1024),
                       (1024, 256), 256, 10, 200)
        return cls(False, 11, 3, 2.0, 10_000_000, 50_000_000, 10_000_000, (4096, 4096),
                   (4096, 1024), 1024, 10, 2000)


# --- results ----------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    unit: str = "ms"  # 'ms' or 'us' (per call)
    clgraph: float | None = None  # seconds
    numpy: float | None = None
    peers: dict[str, float | str | None] = field(default_factory=dict)  # seconds, 'error', None
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # why clgraph has no time
    numpy_applies: bool = True  # False: '-' in the NumPy column (nothing to compare)
    traceback: str | None = None  # of that error, for --verbose
    refs: dict[str, float] = field(default_factory=dict)  # hand-written references, seconds


def _fmt_time(seconds: float | None, unit: str) -> str:
    if seconds is None:
        return "n/a"
    if unit == "ms" and seconds < 1e-4:  # tiny times read better in µs
        unit = "us"
    value = seconds * (1e6 if unit == "us" else 1e3)
    text = f"{value:.3g}" if value < 1000 else f"{value:.0f}"
    return f"{text} {'µs' if unit == 'us' else 'ms'}"


def _cells(row: Row) -> list[str]:
    cg_cell = _fmt_time(row.clgraph, row.unit) if row.error is None else (
        "WRONG" if row.error.startswith("wrong result") else "FAIL")
    ratio = "-"
    if row.clgraph and row.numpy:
        value = row.numpy / row.clgraph
        ratio = f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"
    peers = []
    for name in PEERS:
        if name in ONLY_TRAINING and name not in row.peers:
            peers.append("-")
            continue
        value = row.peers.get(name)
        peers.append(value if isinstance(value, str) else _fmt_time(value, row.unit))
    numpy = _fmt_time(row.numpy, row.unit) if row.numpy_applies else "-"
    return [row.case, cg_cell, numpy, ratio, *peers, "; ".join(row.notes)]


HEADERS = ["case", "clgraph", "NumPy", "ratio", *PEERS, "notes"]
RIGHT = set(range(1, 4 + len(PEERS)))  # right-aligned columns (numbers)


def text_table(rows: Sequence[Row]) -> str:
    body = [HEADERS] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in body) for i in range(len(HEADERS))]

    def fmt(line: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in RIGHT else c.ljust(w)
                         for i, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(body[0]), rule, *(fmt(line) for line in body[1:])])


def markdown_table(rows: Sequence[Row]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(HEADERS) + " |",
             "|" + "|".join("---:" if i in RIGHT else "---" for i in range(len(HEADERS))) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in _cells(r)) + " |" for r in rows]
    return "\n".join(lines)


# --- environment ------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load_peers() -> dict[str, Any]:
    """The peers that import, as adapters; a missing one is None (shown as n/a)."""
    peers: dict[str, Any] = {name: None for name in PEERS if name not in ONLY_TRAINING}
    try:
        peers["PyTensor"] = PyTensorPeer()
    except Exception:  # not installed, or broken: skip silently
        pass
    try:
        peers["JAX"] = JaxPeer()
    except Exception:
        pass
    return peers


def header_lines(ctx: Any, peers: dict[str, Any], settings: Settings) -> list[str]:
    ncpu = os.cpu_count() or 1
    cores = usable_cores()
    lines = [
        f"machine: {cpu_model()}, {cores} cores usable"
        + (f" (of {ncpu})" if cores != ncpu else "")
        + f", {platform.system()} {platform.machine()}",
        f"OpenCL device: {ctx.name} ({ctx.platform_name}, {ctx.compute_units} compute units, "
        f"{ctx.driver_version})",
        f"versions: clgraph {cg.__version__}, numpy {np.__version__}, pyopencl "
        f"{cl.VERSION_TEXT}, python {platform.python_version()}"
        + "".join(f", {name} {peer.version}" for name, peer in peers.items() if peer),
        f"mode: {'quick (small sizes)' if settings.quick else 'full'}; time = median of up to "
        f"{settings.repeat} calls after a warm-up; ratio = NumPy / clgraph (>1: clgraph faster); "
        f"{datetime.date.today().isoformat()}",
    ]
    torch = training._torch()
    if torch is not None:
        lines[2] += f", torch {torch.__version__}"
    missing = [name for name, peer in peers.items() if peer is None]
    if torch is None:
        missing.insert(0, "PyTorch")
    if missing:
        lines.append(f"not installed (n/a): {', '.join(missing)}")
    return lines


# --- peers ------------------------------------------------------------------------------------


class PyTensorPeer:
    """PyTensor (C backend): NumPy arrays in and out."""

    def __init__(self) -> None:
        import pytensor
        import pytensor.tensor as pt

        pytensor.config.floatX = "float32"  # its config object, not the environment
        self.pytensor, self.pt, self.version = pytensor, pt, pytensor.__version__

    def compile(self, expr: Expr, arrays: Sequence[np.ndarray], device: bool) -> Callable[[], Any]:
        syms = [self.pt.tensor(dtype=a.dtype.name, shape=(None,) * a.ndim) for a in arrays]
        fn = self.pytensor.function(syms, expr(self.pt, *syms))
        return lambda: fn(*arrays)


class JaxPeer:
    """JAX (jit): device arrays where clgraph is device-resident, NumPy arrays otherwise."""

    def __init__(self) -> None:
        import jax
        import jax.numpy as jnp

        self.jax, self.jnp, self.version = jax, jnp, jax.__version__

    def compile(self, expr: Expr, arrays: Sequence[np.ndarray], device: bool) -> Callable[[], Any]:
        fn = self.jax.jit(lambda *a: expr(self.jnp, *a))
        if device:
            dev = [self.jax.device_put(a) for a in arrays]
            return lambda: fn(*dev).block_until_ready()
        return lambda: np.asarray(fn(*arrays))


# --- the runner -------------------------------------------------------------------------------


class Runner:
    def __init__(self, settings: Settings):
        self.s = settings
        self.ctx = get_context()
        self.queue = self.ctx.queue
        self.peers = load_peers()

    def time(self, fn: Callable[[], Any], calls: int = 1) -> float:
        """Median seconds per call of fn alone (see `time_together`)."""
        return self.time_together({"fn": fn}, calls)["fn"]

    def time_together(self, fns: dict[str, Callable[[], Any]], calls: int = 1) -> dict[str, float]:
        """Median seconds per call of each fn, timed in turns: TURNS rounds, in each of which
        every fn gets a turn of untimed calls (SETTLE_S at least) and then timed blocks of
        `calls` calls. This machine's speed moves by tens of percent over seconds: turns put
        every implementation in the same spells (one after the other, the ratios compared
        different ones). A turn starts with its own untimed calls because the thread pools
        the previous implementation left spinning (OpenBLAS's, PoCL's) slow the next one's
        first calls: alternating single calls measured a 1024^3 dot at half speed for
        clgraph and NumPy alike."""
        times: dict[str, list[float]] = {name: [] for name in fns}
        per_turn = max(1, -(-self.s.repeat // TURNS))
        budget = self.s.budget_s / TURNS
        for _ in range(TURNS):
            for name, fn in fns.items():
                settle_end = time.perf_counter() + SETTLE_S
                while True:
                    for _ in range(calls):
                        fn()
                    if time.perf_counter() > settle_end:
                        break
                start = time.perf_counter()
                for k in range(per_turn):
                    t0 = time.perf_counter()
                    for _ in range(calls):
                        fn()
                    times[name].append((time.perf_counter() - t0) / calls)
                    if k + 1 >= max(1, self.s.min_repeat // TURNS) and \
                            time.perf_counter() - start > budget:
                        break
        return {name: statistics.median(t) for name, t in times.items()}

    def to_device(self, a: np.ndarray) -> Any:
        """A pyopencl array for arrays; 0-d values (scalars) stay on the host."""
        return cl_array.to_device(self.queue, a) if a.ndim else a

    def case(self, label: str, expr: Expr, arrays: Sequence[np.ndarray], *, device: bool,
             check: Callable[[np.ndarray, np.ndarray], None], unit: str = "ms", calls: int = 1,
             references: Callable[[Row], dict[str, Callable[[], Any]]] | None = None,
             after: Callable[[Row, Callable[[], Any] | None], None] | None = None) -> Row:
        """Check clgraph, then time it, NumPy, the peers and `references(row)` (hand-written
        reference implementations, checked by the caller; their times land in row.refs) in
        turns on expr(namespace, *arrays)."""
        row = Row(label, unit)
        reference = np.asarray(expr(np, *arrays))
        run_cg = None
        try:
            syms = [T.tensor(a.dtype.name, shape=(None,) * a.ndim) for a in arrays]
            out = expr(T, *syms)
            fn = cg.function(syms, cg.Out(out, borrow=True) if device else out)
            args = [self.to_device(a) for a in arrays] if device else list(arrays)
            if device:
                queue = self.queue

                def run_cg():
                    result = fn(*args)
                    queue.finish()
                    return result
            else:
                def run_cg():
                    return fn(*args)
            result = run_cg()
            got = result.get() if isinstance(result, cl_array.Array) else np.asarray(result)
        except Exception as exc:
            row.error = f"{type(exc).__name__}: {_first_line(exc)}"
            row.traceback = traceback.format_exc()
            run_cg = None
        else:
            try:
                check(got, reference)
            except AssertionError as exc:
                row.error = "wrong result: " + " ".join(str(exc).split())[:300]
                run_cg = None
        contenders: dict[str, Callable[[], Any]] = {"NumPy": lambda: expr(np, *arrays)}
        if run_cg is not None:
            contenders["clgraph"] = run_cg
        for name in PEERS:
            peer = self.peers.get(name)
            if peer is None:
                continue
            try:
                contenders[name] = peer.compile(expr, arrays, device)
            except Exception as exc:
                row.peers[name] = "error"
                row.notes.append(f"{name}: {type(exc).__name__}: {_first_line(exc)[:80]}")
        refs = references(row) if references is not None else {}
        times = self.time_together({**contenders, **refs}, calls)
        row.clgraph, row.numpy = times.get("clgraph"), times["NumPy"]
        row.peers.update({name: times[name] for name in PEERS if name in times})
        row.refs = {name: times[name] for name in refs}
        if after is not None:
            after(row, run_cg)
        return row


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _allclose(rtol: float, atol: float) -> Callable[[np.ndarray, np.ndarray], None]:
    def check(got: np.ndarray, want: np.ndarray) -> None:
        assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}"
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    return check


def _bandwidth(nbytes: int, label: str = "clgraph") -> Callable[[Row, Any], None]:
    def note(row: Row, _run: Any) -> None:
        if row.clgraph:
            row.notes.insert(0, f"{label} {nbytes / row.clgraph / 1e9:.1f} GB/s")
    return note


# --- the cases --------------------------------------------------------------------------------


def elementwise6(m: Any, x: Any, w: Any) -> Any:
    """exp(-x*x)*sin(w) + 0.5*tanh(x*w) + sqrt(abs(x)+1): six kinds of op, one fused kernel."""
    return m.exp(-x * x) * m.sin(w) + 0.5 * m.tanh(x * w) + m.sqrt(abs(x) + 1)


def case_elementwise(r: Runner) -> list[Row]:
    n = r.s.n_elementwise
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    w = rng.uniform(-3, 3, n).astype(np.float32)
    check = _allclose(1e-5, 1e-5)
    nbytes = 3 * 4 * n
    size = f"{n / 1e6:g}M"

    def reference_kernel(row: Row) -> dict[str, Callable[[], Any]]:
        """The hand-written float8 kernel on the same device arrays: the reference point."""
        try:
            kernel = reference_kernels.Elementwise6(r.ctx.context, r.queue)
            dx, dw = cl_array.to_device(r.queue, x), cl_array.to_device(r.queue, w)
            out = cl_array.empty_like(dx)
            kernel(dx, dw, out)
            r.queue.finish()
            check(out.get(), reference_kernels.elementwise6_numpy(x, w))
        except Exception as exc:
            row.notes.append(f"hand-written kernel failed: {type(exc).__name__}: "
                             f"{_first_line(exc)[:80]}")
            return {}

        def run():
            kernel(dx, dw, out)
            r.queue.finish()
        return {"hand": run}

    def device_notes(row: Row, run: Any) -> None:
        _bandwidth(nbytes)(row, run)
        t = row.refs.get("hand")
        if t is None:
            return
        text = f"hand-written float8 kernel {t * 1e3:.3g} ms"
        if row.clgraph:
            text += f" (clgraph at {t / row.clgraph:.2f}x its speed)"
        row.notes.append(text)

    return [
        r.case(f"(a) 6-op elementwise, {size} f32, device in/out", elementwise6, [x, w],
               device=True, check=check, references=reference_kernel, after=device_notes),
        r.case(f"(a) 6-op elementwise, {size} f32, NumPy in/out", elementwise6, [x, w],
               device=False, check=check),
    ]


def case_triad(r: Runner) -> list[Row]:
    n = r.s.n_triad
    rng = np.random.default_rng(1)
    b = rng.standard_normal(n, dtype=np.float32)
    c = rng.standard_normal(n, dtype=np.float32)
    s = np.asarray(3.0, dtype=np.float32)
    return [r.case(f"(b) triad a = b + s*c, {n / 1e6:g}M f32, device", lambda m, b, c, s: b + s * c,
                   [b, c, s], device=True, check=_allclose(1e-6, 1e-6),
                   after=_bandwidth(3 * 4 * n))]


def case_sum(r: Runner) -> list[Row]:
    n = r.s.n_sum
    x = np.random.default_rng(2).random(n, dtype=np.float32)
    exact = np.sum(x, dtype=np.float64)

    def check(got: np.ndarray, _want: np.ndarray) -> None:
        assert got.shape == (), f"shape {got.shape}, expected ()"
        np.testing.assert_allclose(got, exact, rtol=1e-4)  # against a float64 sum

    return [r.case(f"(c) sum, {n / 1e6:g}M f32, device", lambda m, x: m.sum(x), [x], device=True,
                   check=check, after=_bandwidth(4 * n))]


def case_rowmax(r: Runner) -> list[Row]:
    rows, cols = r.s.rowmax_shape
    x = np.random.default_rng(3).standard_normal((rows, cols), dtype=np.float32)
    nbytes = 4 * x.size

    def hand_kernel(row: Row) -> dict[str, Callable[[], Any]]:
        """The hand-written kernel: how fast this machine lets two threads read the matrix."""
        try:
            kernel = reference_kernels.RowMax(r.ctx.context, r.queue)
            dx = cl_array.to_device(r.queue, x)
            out = kernel(dx)
            _allclose(0, 0)(out.get(), x.max(axis=1))
        except Exception as exc:
            row.notes.append(f"hand-written kernel failed: {type(exc).__name__}: "
                             f"{_first_line(exc)[:80]}")
            return {}

        def run():
            kernel(dx, out)
            r.queue.finish()
        return {"hand": run}

    def notes(row: Row, run: Any) -> None:
        _bandwidth(nbytes)(row, run)
        t = row.refs.get("hand")
        if t is None or not row.numpy:
            return
        row.notes.append(
            f"hand-written kernel {t * 1e3:.3g} ms, {nbytes / t / 1e9:.1f} GB/s; NumPy's one "
            f"thread {nbytes / row.numpy / 1e9:.1f} GB/s: the hand kernel is {row.numpy / t:.2f}x "
            "NumPy (bound by the memory bandwidth two threads get)")

    return [r.case(f"(d) row max, {rows}x{cols} f32, device", lambda m, x: m.max(x, axis=1),
                   [x], device=True, check=_allclose(0, 0), references=hand_kernel,
                   after=notes)]


def softmax_rows(m: Any, x: Any) -> Any:
    e = m.exp(x - m.max(x, axis=1, keepdims=True))
    return e / m.sum(e, axis=1, keepdims=True)


def case_softmax(r: Runner) -> list[Row]:
    rows, cols = r.s.softmax_shape
    x = np.random.default_rng(4).standard_normal((rows, cols), dtype=np.float32) * 4
    return [r.case(f"(e) softmax over rows, {rows}x{cols} f32, device", softmax_rows, [x],
                   device=True, check=_allclose(1e-4, 1e-6), after=_bandwidth(2 * 4 * x.size))]


def cpu_peak_gflops() -> float | None:
    """Single-precision peak of the usable cores: AVX2 + FMA (2 FMA units x 8 lanes x 2
    FLOP per cycle) at the clock /proc/cpuinfo reports (often the nominal one), else None."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return None
    mhz = [float(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu MHz")]
    if not mhz or " fma " not in info or " avx2 " not in info:
        return None
    return len(os.sched_getaffinity(0)) * max(mhz) * 1e6 * 32 / 1e9


def case_dot(r: Runner) -> list[Row]:
    """GEMM through the provider `auto` picks (host BLAS on PoCL) at 1024^3 and 2048^3, and
    the Mako template forced by config.gemm='template' at 1024^3 (issue 5: >= 20% of BLAS)."""
    peak = cpu_peak_gflops()
    rows = []
    sizes = [r.s.dot_n] if r.s.quick else [r.s.dot_n, 2 * r.s.dot_n]
    for n, provider in [(n, "auto") for n in sizes] + [(r.s.dot_n, "template")]:
        rng = np.random.default_rng(5)
        a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
        b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
        flop = 2.0 * n**3

        def gflops(row: Row, _run: Any, flop: float = flop) -> None:
            parts = [f"{name} {flop / t / 1e9:.1f}" for name, t in
                     (("clgraph", row.clgraph), ("NumPy", row.numpy)) if t]
            if peak:
                parts.append(f"CPU peak at its nominal clock ~{peak:.0f} (boost runs higher)")
            if row.clgraph and row.numpy:
                parts.append(f"clgraph at {100 * row.numpy / row.clgraph:.0f}% of NumPy's BLAS")
            row.notes.insert(0, "GFLOP/s: " + ", ".join(parts))

        what = "" if provider == "auto" else ", Mako GEMM template (config.gemm='template')"
        with cg.config.change_flags(gemm=provider):
            rows.append(r.case(f"(f) dot {n}x{n}x{n} f32, device{what}",
                               lambda m, a, b: m.dot(a, b), [a, b], device=True,
                               check=_allclose(1e-4, 1e-3), after=gflops))
    return rows


OVERHEAD_TARGET_S = 20e-6


def case_overhead(r: Runner) -> list[Row]:
    n = r.s.overhead_n
    x = np.arange(n, dtype=np.float32)

    def round_trips(row: Row) -> dict[str, Callable[[], Any]]:
        """The same call by hand with pyopencl: the device's own round trip, on the queue
        clgraph launches on (PoCL: its in-thread driver) and on the device's own queue."""
        queues = {"": r.queue}
        inline = getattr(r.ctx, "inline_queue", None)
        if inline is not None:
            queues = {"PoCL basic driver, in-thread: ": inline, "pthread driver: ": r.queue}
        runs = {}
        for label, queue in queues.items():
            try:
                by_hand = reference_kernels.AddOneRoundTrip(r.ctx.context, queue)
                _allclose(0, 0)(by_hand(x), x + 1)
            except Exception as exc:
                row.notes.append(f"hand-written round trip failed: {type(exc).__name__}")
                return {}
            runs[label] = lambda by_hand=by_hand: by_hand(x)
        return runs

    def floor(row: Row, _run: Any) -> None:
        if not row.refs:
            return
        parts = list(row.refs.items())
        text = "the same by hand in pyopencl (copy in, launch, blocking read): " + \
            ", ".join(f"{label}{t * 1e6:.1f} µs" for label, t in parts)
        if row.clgraph:
            met = "met" if row.clgraph <= OVERHEAD_TARGET_S else "MISSED"
            text += (f"; clgraph adds {(row.clgraph - parts[0][1]) * 1e6:.1f} µs to the first; "
                     f"target <= {OVERHEAD_TARGET_S * 1e6:.0f} µs: {met}")
        row.notes.append(text)

    return [r.case(f"(g) call overhead x + 1, {n} f32, NumPy in/out", lambda m, x: x + 1, [x],
                   device=False, check=_allclose(0, 0), unit="us", calls=r.s.overhead_calls,
                   references=round_trips, after=floor)]


def _training_case(model: str, label: str) -> Callable[[Runner], list[Row]]:
    def case(r: Runner) -> list[Row]:
        res = training.run_case(model)
        row = Row(label, clgraph=res.clgraph, numpy=res.numpy, peers=res.peers,
                  notes=res.notes, error=res.error, traceback=res.traceback)
        return [row]
    return case


case_mlp_step = _training_case(
    "mlp", f"(h) MLP {'-'.join(map(str, training.MLP_SIZES))} SGD step, batch "
           f"{training.MLP_BATCH} f32")
case_lenet_step = _training_case(
    "lenet", f"(i) LeNet conv5x5x20-pool-conv5x5x50-pool-500-10 SGD step, batch "
             f"{training.LENET_BATCH} f32")


def case_rnn(r: Runner) -> list[Row]:
    """A tanh RNN through scan (benchmarks/rnn.py): forward and training step."""
    what = f"{rnn.STEPS} steps, batch {rnn.BATCH}, {rnn.HIDDEN} hidden, f32"
    rows = [Row(f"(k) RNN forward with scan, {what}"),
            Row(f"(k) RNN training step with scan (BPTT, SGD), {what}")]
    try:
        res = rnn.measure(r.time)
    except Exception as exc:
        for row in rows:
            row.error = f"{type(exc).__name__}: {_first_line(exc)}"
            row.traceback = traceback.format_exc()
        return rows
    for row, which in zip(rows, ("forward", "step"), strict=True):
        times = res[which]
        row.clgraph, row.numpy = times.get("clgraph"), times.get("NumPy")
        row.peers = {name: times.get(name) for name in ("PyTorch", "JAX")}
        row.peers["PyTensor"] = "-"  # not measured here
    rows[0].notes.append("NumPy: a Python loop; PyTorch: its loop on the CPU; JAX: lax.scan")
    rows[1].notes.append("NumPy: backpropagation through time written by hand")
    return rows


def case_compile(r: Runner) -> list[Row]:
    """Graph to first result of the MLP step, cold and warm caches, in fresh processes."""
    pairs = 1 if r.s.quick else 3
    res = compile_time.measure("clgraph", pairs)
    pt = compile_time.measure("pytensor", pairs) if compile_time.pytensor_importable() else None
    rows = []
    for which, target in (("cold", compile_time.COLD_TARGET_S),
                          ("warm", compile_time.WARM_TARGET_S)):
        got = res.median(which, "to_first_result")
        row = Row(f"(j) compile MLP step, graph to first result, {which} caches (new process)",
                  clgraph=got, numpy_applies=False,
                  peers={"PyTensor": pt.median(which, "to_first_result") if pt else None,
                         "JAX": "-"})
        row.notes.append(f"target <= {target:g} s: {'met' if got <= target else 'MISSED'}; "
                         f"median of {pairs}; {compile_time.breakdown(res, which)}")
        if not any(m["sympy_imported"] for m in getattr(res, which)):
            row.notes.append("SymPy not imported")
        rows.append(row)
    return rows


CASES: dict[str, Callable[[Runner], list[Row]]] = {
    "elementwise": case_elementwise,
    "triad": case_triad,
    "sum": case_sum,
    "rowmax": case_rowmax,
    "softmax": case_softmax,
    "dot": case_dot,
    "overhead": case_overhead,
    "mlp_step": case_mlp_step,
    "lenet_step": case_lenet_step,
    "compile": case_compile,
    "rnn": case_rnn,
}


# --- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few runs")
    parser.add_argument("--only", metavar="NAME", help="comma-separated cases: " + ", ".join(CASES))
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print the traceback of every clgraph failure")
    parser.add_argument("--markdown", metavar="PATH", help="write the markdown table here "
                        "(default: benchmarks/latest.md, on full runs of every case only)")
    args = parser.parse_args(argv)

    names = list(CASES)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in CASES]
        if unknown:
            parser.error(f"unknown case {', '.join(unknown)}; cases: {', '.join(CASES)}")

    t_start = time.perf_counter()
    runner = Runner(Settings.make(args.quick))
    header = header_lines(runner.ctx, runner.peers, runner.s)
    for line in header:
        print(line)
    print(flush=True)

    rows: list[Row] = []
    for name in names:
        t0 = time.perf_counter()
        try:
            case_rows = CASES[name](runner)
        except Exception as exc:  # a bug in the case itself: report it, go on
            case_rows = [Row(name, error=f"{type(exc).__name__}: {_first_line(exc)}")]
            case_rows[0].traceback = traceback.format_exc()
        rows.extend(case_rows)
        for row in case_rows:
            status = row.error or _fmt_time(row.clgraph, row.unit)
            print(f"  done {row.case}: clgraph {status}", file=sys.stderr)
        print(f"  [{name}: {time.perf_counter() - t0:.1f} s]", file=sys.stderr, flush=True)

    table = text_table(rows)
    print(table)
    failures = [r for r in rows if r.error]
    if failures:
        print("\nclgraph failures:")
        for r in failures:
            print(f"  {r.case}: {r.error}")
            if args.verbose and r.traceback:
                print(r.traceback)
    elapsed = time.perf_counter() - t_start
    print(f"\ntotal {elapsed:.0f} s")

    target = args.markdown or (None if (args.quick or args.only) else str(HERE / "latest.md"))
    if target:
        md = ["<!-- written by benchmarks/run.py; do not edit by hand -->", ""]
        md += [f"- {line}" for line in header] + ["", markdown_table(rows)]
        if failures:
            md += ["", "clgraph failures:", ""] + [f"- {r.case}: {r.error}" for r in failures]
        Path(target).write_text("\n".join(md) + "\n")
        print(f"wrote {target}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
