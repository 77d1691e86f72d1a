"""Elementwise ops against NumPy: the table of `cases.py` over dtypes, sizes, modes,
broadcast patterns and views, plus Python scalar constants and constant folding.

Deviations from NumPy are written down where they apply: `expected_dtype` (Theano's
upgrade_to_float and int / int), each case's `valid` mask, and `SCALAR_CONSTANTS` below.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.expr.elemwise import Elemwise
from clgraph.expr.scalar.composite import Composite
from clgraph.runtime.device import get_context

from .cases import ALL, API_FUNCTIONS, API_OPERATORS, CASES
from .elemwise_util import check, pack_by_width, reference, sample, sprinkle

MODES = ("FAST_COMPILE", "FAST_RUN")
LEN = 16 * 20 + 11  # a vector path and a scalar tail at widths 4, 8 and 16
SIZES = {"n": LEN, "reversed": LEN, "1000": 1000, "tail": 5, "empty": 0}


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _eval_case(case, arrays, got, what):
    want, dtype = reference(case, arrays)
    with np.errstate(all="ignore"):
        mask = case.valid(*arrays) if case.valid is not None else None
    check(what, got, want, dtype, arrays, case.tol, mask, case.signed_zero)


# ---------------------------------------------------------------- the dtype sweep
_SWEEPS: dict = {}


def _sweep(cases, in_dtypes: tuple[str, ...] | None, dtype: str | None, mode: str) -> dict:
    """Run `cases` (inputs of `in_dtypes`, or all of `dtype`) at every size: one function,
    one kernel per vector width. Returns {case name: [(size, inputs, output)]}."""
    key = (tuple(c.name for c in cases), in_dtypes, dtype, mode)
    if key in _SWEEPS:
        return _SWEEPS[key]

    def dts(c):
        return in_dtypes or (dtype,) * c.n_inputs

    sigs = sorted({(c.domains, dts(c)) for c in cases})
    var = {s: [T.vector(f"x{k}", dtype=dt) for k, dt in enumerate(s[1])] for s in sigs}
    inputs = [v for s in sigs for v in var[s]]
    outs = [c.build(*var[(c.domains, dts(c))]) for c in cases]
    f = cg.function(inputs, pack_by_width(outs, inputs), mode=mode)
    rng = _rng(in_dtypes, dtype)
    results: dict = {c.name: [] for c in cases}
    for size, n in SIZES.items():
        data = {s: sample(s[0], s[1], n, rng) for s in sigs}
        if size == "reversed":  # the edge values land in the scalar tail
            data = {s: [a[::-1].copy() for a in arrs] for s, arrs in data.items()}
        got = f(*[a for s in sigs for a in data[s]])
        for c, g in zip(cases, got, strict=True):
            results[c.name].append((size, data[(c.domains, dts(c))], g))
    _SWEEPS[key] = results
    return results


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case,dtype", [(c, dt) for c in CASES for dt in c.dtypes],
                         ids=lambda p: str(p))
def test_forward(case, dtype, mode):
    cases = [c for c in CASES if dtype in c.dtypes]
    for size, arrays, got in _sweep(cases, None, dtype, mode)[case.name]:
        _eval_case(case, arrays, got, f"{case}({dtype}), {size}, {mode}")


PAIRS = [("int8", "float32"), ("int32", "float32"), ("uint8", "int8"), ("bool", "int8"),
         ("int16", "uint8"), ("float32", "float64"), ("int64", "float64"), ("int32", "int64"),
         ("bool", "float32"), ("uint8", "int32")]
BINARY = [c for c in CASES if c.n_inputs == 2]


def _numpy_accepts(case, dtypes) -> bool:
    try:
        case.numpy_fn(*[np.ones(2, dt) for dt in dtypes])
    except TypeError:
        return False
    return True


@pytest.mark.parametrize("pair", PAIRS, ids="-".join)
@pytest.mark.parametrize("case", BINARY, ids=str)
def test_mixed_dtypes(case, pair):
    """Mixed input dtypes promote as NumPy's do, and are refused where NumPy refuses them."""
    if not _numpy_accepts(case, pair):
        with pytest.raises(TypeError):
            case.build(T.vector(dtype=pair[0]), T.vector(dtype=pair[1]))
        return
    cases = [c for c in BINARY if _numpy_accepts(c, pair)]
    for size, arrays, got in _sweep(cases, pair, None, "FAST_COMPILE")[case.name]:
        _eval_case(case, arrays, got, f"{case}{pair}, {size}")


def test_table_covers_api():
    names = {c.name for c in CASES}
    for fn in API_FUNCTIONS:
        assert hasattr(T, fn), fn
        assert fn in names or any(n.startswith(fn + "_") for n in names), fn
    for op in API_OPERATORS:
        assert f"op_{op}" in names, op


@pytest.mark.parametrize("case,dtype", [(c, dt) for c in CASES for dt in ALL
                                        if dt not in c.dtypes], ids=lambda p: str(p))
def test_rejected_dtypes(case, dtype):
    """What NumPy refuses (-bool, bool - bool, sgn(bool), ~float, float & float) raises."""
    assert not _numpy_accepts(case, (dtype,) * case.n_inputs)
    with pytest.raises(TypeError):
        case.build(*[T.vector(dtype=dtype) for _ in range(case.n_inputs)])


# ---------------------------------------------------------------- as users build them
# One case per code path (a kernel each, ~0.2 s to build): the packed sweep covers the rest.
UNPACKED = ("exp", "sin", "erfinv", "psi", "gamma", "sqr", "abs_", "sgn", "floor",
            "round_half_to_even", "iround", "isnan", "isinf", "cast_int8", "cast_float64",
            "cast_bool", "op_neg", "add", "sub", "mul", "true_div", "int_div", "mod", "pow",
            "maximum", "minimum", "arctan2", "lt", "eq", "isclose", "clip", "switch")


@pytest.mark.parametrize("mode", MODES)
def test_unpacked_float32(mode):
    """Ops as users write them, one kernel per output (no packing); in FAST_RUN each has a
    consumer, so fusion runs it inside a Composite."""
    dtype = "float32"
    cases = [c for c in CASES if c.name in UNPACKED]
    sigs = sorted({c.domains for c in cases})
    var = {s: [T.vector(f"x{k}", dtype=dtype) for k in range(len(s))] for s in sigs}
    inputs = [v for s in sigs for v in var[s]]
    outs = [c.build(*var[c.domains]) for c in cases]
    if mode == "FAST_RUN":  # a consumer to fuse into, undone below: -x, or ~x for bools
        outs = [~o if o.dtype == "bool" else -o for o in outs]
    f = cg.function(inputs, outs, mode=mode)
    if mode == "FAST_RUN":  # fused: a kernel per output (-(-x) is rewritten away), not per op
        nodes = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Elemwise)]
        assert len(nodes) >= len(outs) - 1
        for n in nodes:
            assert isinstance(n.op.scalar_op, Composite) and len(n.op.scalar_op.steps) > 1, n
    rng = _rng("unpacked", dtype)
    for size in (LEN, 5):
        data = {s: sample(s, (dtype,) * len(s), size, rng) for s in sigs}
        got = f(*[a for s in sigs for a in data[s]])
        for c, g in zip(cases, got, strict=True):
            if mode == "FAST_RUN":
                g = ~g if g.dtype == bool else -g
            _eval_case(c, data[c.domains], g, f"{c}({dtype}), n={size}, {mode}")


# ---------------------------------------------------------------- broadcasting and views
def _run_groups(groups, dtype, mode, rng):
    """Run groups of (cases, specs, view) in one function: each case on fresh inputs of the
    (declared, run-time) shapes in `specs`, `view` applied to input 0. Outputs of one shape
    share a kernel per vector width. Returns [(case, inputs as seen, output)]."""
    inputs, arrays, runs, operands = [], [], [], []
    for cases, specs, view in groups:
        for sig in sorted({c.domains for c in cases}):
            xs = [T.tensor(dtype, shape=decl) for decl, _ in specs]
            vals = []
            for dom, (_, shape) in zip(sig, specs, strict=True):
                vals.append(sprinkle(dom, dtype, shape, rng, vals[0] if vals else None))
            inputs += xs
            arrays += vals
            seen = [view(vals[0])] + vals[1:] if view else vals
            used = [view(xs[0])] + xs[1:] if view else xs
            operands += used
            runs += [(c, seen, c.build(*used)) for c in cases if c.domains == sig]
    by_shape: dict = {}
    for k, (_, seen, _) in enumerate(runs):
        by_shape.setdefault(np.broadcast_shapes(*[a.shape for a in seen]), []).append(k)
    outs = [None] * len(runs)
    for ks in by_shape.values():
        packed = pack_by_width([runs[k][2] for k in ks], operands)
        for k, o in zip(ks, packed, strict=True):
            outs[k] = o
    f = cg.function(inputs, outs, mode=mode)
    return [(c, seen, g) for (c, seen, _), g in zip(runs, f(*arrays), strict=True)]


# (declared shape, run-time shape) of each input; two-input patterns run in both orders.
BCAST = {
    "scalar-matrix": [((), ()), ((None, None), (5, 37))],
    "row-matrix": [((1, None), (1, 37)), ((None, None), (5, 37))],
    "col-matrix": [((None, 1), (5, 1)), ((None, None), (5, 37))],
    "row-col": [((1, None), (1, 37)), ((None, 1), (5, 1))],
    "vector-tensor3": [((None,), (19,)), ((None, None, None), (3, 4, 19))],
    "tensor3s": [((None, 1, None), (3, 1, 19)), ((1, None, None), (1, 4, 19))],
    "matrix-scalars": [((None, None), (5, 37)), ((), ()), ((), ())],
    "col-row-scalar": [((None, 1), (5, 1)), ((1, None), (1, 37)), ((), ())],
    "scalar-matrix-row": [((), ()), ((None, None), (5, 37)), ((1, None), (1, 37))],
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pattern,dtype", [(p, "float32") for p in BCAST] +
                         [(p, "int32") for p in ("scalar-matrix", "row-col", "tensor3s",
                                                 "col-row-scalar")])
def test_broadcast(pattern, dtype, mode):
    specs = BCAST[pattern]
    cases = [c for c in CASES if c.n_inputs == len(specs) and dtype in c.dtypes]
    groups = [(cases, specs, None)] + ([(cases, specs[::-1], None)] if len(specs) == 2
                                       else [])
    for case, arrays, got in _run_groups(groups, dtype, mode, _rng("bcast", pattern, dtype)):
        shapes = "-".join(str(a.shape) for a in arrays)
        _eval_case(case, arrays, got, f"{case}({dtype}) {shapes} {mode}")


def test_broadcast_needs_declaring():
    """A length 1 found at run time on an axis not declared broadcastable is an error."""
    x, y = T.fmatrix("x"), T.fmatrix("y")
    f = cg.function([x, y], x + y)
    with pytest.raises(ValueError, match="addbroadcast"):
        f(np.ones((1, 5), "float32"), np.ones((3, 5), "float32"))
    row = T.tensor("float32", shape=(1, None))
    g = cg.function([row, y], row + y)
    np.testing.assert_array_equal(g(np.ones((1, 5), "float32"), np.ones((3, 5), "float32")),
                                  np.full((3, 5), 2, "float32"))


VIEWS = {
    "T": lambda x: x.T,
    "rows-reversed": lambda x: x[::-1],
    "cols-step2": lambda x: x[:, ::2],
    "inner": lambda x: x[1:, :-1],
    "cols-reversed": lambda x: x[:, ::-1],
    "both-steps": lambda x: x[::-2, 1::3],
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype,view", [("float32", v) for v in VIEWS] +
                         [("int8", v) for v in ("T", "cols-reversed")])
def test_views(view, dtype, mode):
    """Non-contiguous inputs: unary ops read a view, binary ops a view and a fresh array."""
    fn = VIEWS[view]
    shape = fn(np.empty((6, 40))).shape
    groups = [([c for c in CASES if c.n_inputs == n and dtype in c.dtypes],
               [((None, None), (6, 40))] + [((None, None), shape)] * (n - 1), fn)
              for n in (1, 2)]
    for case, arrays, got in _run_groups(groups, dtype, mode, _rng("view", view, dtype)):
        _eval_case(case, arrays, got, f"{case}({dtype}) on x{view} {mode}")


# ---------------------------------------------------------------- constant folding
@pytest.mark.parametrize("dtype", ALL)
def test_constant_folding(dtype):
    """All-constant graphs fold on the host through each op's NumPy `impl`: no kernel."""
    cases = [c for c in CASES if dtype in c.dtypes]
    rng = _rng("fold", dtype)
    data = {s: sample(s, (dtype,) * len(s), LEN, rng)
            for s in sorted({c.domains for c in cases})}  # sorted: same data every run
    outs = [c.build(*[T.constant(a) for a in data[c.domains]]) for c in cases]
    f = cg.function([], outs)
    assert f.kernels() == []
    for c, g in zip(cases, f(), strict=True):
        _eval_case(c, data[c.domains], g, f"{c}({dtype}) folded")


# ---------------------------------------------------------------- Python scalar constants
# (input dtype, graph, the same on NumPy arrays, our dtype, NumPy 2's dtype where it differs
# or "raises"). Python scalars are weak: they take the dtype of the tensor beside them, as
# in NumPy 2, but Python floats next to integers take floatX (Theano, API.md), and an int
# that does not fit the dtype widens it where NumPy 2 raises. NumPy scalars keep their dtype.
def _same(fn):
    return fn, fn


SCALAR_CONSTANTS = [
    ("float32", *_same(lambda x: x * 0.5), "float32", None),
    ("float32", *_same(lambda x: x + 1), "float32", None),
    ("float32", *_same(lambda x: 1 / x), "float32", None),
    ("float32", *_same(lambda x: 2 ** x), "float32", None),
    ("float32", *_same(lambda x: x ** 2), "float32", None),
    ("float32", *_same(lambda x: 3 - x), "float32", None),
    ("float32", *_same(lambda x: x // 0.75), "float32", None),
    ("float32", *_same(lambda x: -7.5 % x), "float32", None),
    ("float32", *_same(lambda x: x < 0.5), "bool", None),
    ("float32", *_same(lambda x: x * np.float64(0.5)), "float64", None),
    ("float32", *_same(lambda x: x + np.float32(1e-3)), "float32", None),
    ("float32", lambda x: T.switch(x > 0, x, 0), lambda a: np.where(a > 0, a, 0), "float32",
     None),
    ("float32", lambda x: T.clip(x, -1, 1.5), lambda a: np.clip(a, -1, 1.5), "float32", None),
    ("float32", lambda x: T.maximum(x, 0.25), lambda a: np.maximum(a, 0.25), "float32", None),
    ("float64", *_same(lambda x: x * 0.1), "float64", None),
    ("int8", *_same(lambda x: x + 1), "int8", None),
    ("int8", *_same(lambda x: x * 2), "int8", None),
    ("int8", *_same(lambda x: 1 - x), "int8", None),
    ("int8", *_same(lambda x: x // 3), "int8", None),
    ("int8", *_same(lambda x: x % -3), "int8", None),
    ("int8", *_same(lambda x: -7 // x), "int8", None),
    ("int8", *_same(lambda x: x & 6), "int8", None),
    ("int8", *_same(lambda x: x < 1.5), "bool", None),
    ("int8", *_same(lambda x: x * 0.5), "float32", "float64"),  # floatX (Theano)
    ("int8", *_same(lambda x: x / 2), "float32", "float64"),  # int / int (Theano)
    ("int8", *_same(lambda x: x + 1000), "int16", "raises"),
    ("int8", *_same(lambda x: x + np.int64(1)), "int64", None),
    ("int16", lambda x: T.maximum(x, 1.5), lambda a: np.maximum(a, 1.5), "float32",
     "float64"),
    ("int16", lambda x: T.clip(x, -5, 5), lambda a: np.clip(a, -5, 5), "int16", None),
    ("int32", *_same(lambda x: x * 0.5), "float64", None),  # int32 and float32 make float64
    ("int32", *_same(lambda x: x / 2), "float32", "float64"),  # int / int (Theano)
    ("int64", *_same(lambda x: x / 2), "float64", None),
    ("int64", *_same(lambda x: x * 0.5), "float64", None),
    ("uint8", *_same(lambda x: x + 1), "uint8", None),
    ("uint8", *_same(lambda x: x - 1), "uint8", None),
    ("uint8", *_same(lambda x: x + (-1)), "int16", "raises"),
    ("bool", *_same(lambda x: x + 1), "int8", "int64"),  # the smallest int holding 1
    ("bool", *_same(lambda x: x * 1.5), "float32", "float64"),  # floatX (Theano)
    ("bool", *_same(lambda x: x & True), "bool", None),
    ("bool", *_same(lambda x: x | False), "bool", None),
    ("bool", *_same(lambda x: x + True), "bool", None),
]


@pytest.mark.parametrize("dtype", sorted({r[0] for r in SCALAR_CONSTANTS}))
def test_python_scalar_constants(dtype):
    rows = [r for r in SCALAR_CONSTANTS if r[0] == dtype]
    x = T.vector("x", dtype=dtype)
    outs = [build(x) for _, build, *_ in rows]
    assert [o.dtype for o in outs] == [r[3] for r in rows]
    f = cg.function([x], pack_by_width(outs, [x]))
    a = sample(("small",), (dtype,), LEN, _rng("scalars", dtype))[0]
    with np.errstate(all="ignore"):
        for (_, _, np_fn, ours, numpys), got in zip(rows, f(a), strict=True):
            if numpys == "raises":
                with pytest.raises(OverflowError):  # NumPy 2: Python int out of bounds
                    np_fn(a)
            else:
                assert np.asarray(np_fn(a)).dtype == (numpys or ours)
            # Where we differ from NumPy, NumPy on the input in our dtype gives our values.
            want = np.asarray(np_fn(a if numpys is None else a.astype(ours)))
            check(f"{dtype} -> {ours}", got, want, ours, [a])


# ---------------------------------------------------------------- long runs per work item
@pytest.mark.parametrize("shape", [(100_003,), (3, 40_011), (257, 1031), (2, 3, 8191)])
def test_long_runs_per_work_item(shape):
    """Sizes where a CPU work item walks many vectors and ends in a partial run and a scalar
    tail; contiguous, broadcast (row and column) and strided (transposed) operands."""
    rng = _rng("runs", shape)
    x = rng.standard_normal(shape).astype(np.float32)
    row = rng.standard_normal(shape[-1]).astype(np.float32)
    col = rng.standard_normal(shape[:-1] + (1,)).astype(np.float32)
    tx = T.tensor("float32", shape=(None,) * len(shape))
    tr = T.fvector()
    tc = T.tensor("float32", shape=(None,) * (len(shape) - 1) + (1,))
    f = cg.function([tx, tr, tc], [T.exp(-tx * tx) + tr * tc, tx * 2 + 1])
    got_a, got_b = f(x, row, col)
    np.testing.assert_allclose(got_a, np.exp(-x * x) + row * col, rtol=1e-5, atol=1e-6)
    # atol: devices may contract x * 2 + 1 into one fma (one rounding, NumPy's has two)
    np.testing.assert_allclose(got_b, x * 2 + 1, rtol=1e-6, atol=1e-6)
    if len(shape) >= 2:
        g = cg.function([tx], tx.T * 3 - 1)
        np.testing.assert_allclose(g(x), x.T * 3 - 1, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(300, 7), (2, 3, 5), (64, 512), (1, 1)])
def test_small_launches_are_one_work_group(shape):
    """On CPUs a small launch is one work-group of one item that loops over the rows (PoCL
    runs a group on one thread); broadcast rows and columns and transposed operands
    included."""
    from clgraph.lower.elemwise import CPU_LOCAL_SIZE, SMALL_LAUNCH

    rng = _rng("small", shape)
    x = rng.standard_normal(shape).astype(np.float32)
    row = rng.standard_normal(shape[-1]).astype(np.float32)
    tx = T.tensor("float32", shape=(None,) * len(shape))
    tr = T.fvector()
    f = cg.function([tx, tr], [T.maximum(tx + tr, 0), tx.T * 2])
    got, got_t = f(x, row)
    np.testing.assert_allclose(got, np.maximum(x + row, 0), rtol=1e-6)
    np.testing.assert_allclose(got_t, x.T * 2, rtol=1e-6)
    if get_context().is_cpu and x.size <= SMALL_LAUNCH:
        launches = [w for w in next(iter(f.plan._prepared.values())).work
                    if hasattr(w, "gsize")]
        assert launches and all(tuple(w.gsize) == (CPU_LOCAL_SIZE, 1) for w in launches)


def test_outputs_larger_than_the_cache_use_streaming_stores():
    """Outputs past the device cache are written with non-temporal stores where the address
    is vector-aligned (x86 faults otherwise): NumPy-owned outputs and odd offsets included."""
    from clgraph.runtime.device import get_context

    ctx = get_context()
    n = max(ctx.cache_bytes // 4, 1 << 20) + 13
    rng = _rng("stream", n)
    a, b = rng.standard_normal((2, n)).astype(np.float32)
    x, y = T.fvector(), T.fvector()
    f = cg.function([x, y], x + 0.5 * y)
    assert "VSTNT_float8" in f.kernels()[0] or ctx.preferred_vector_width("float32") == 1
    np.testing.assert_allclose(f(a, b), a + 0.5 * b, rtol=1e-6)
    np.testing.assert_allclose(f(a[1:n - 2], b[3:]), a[1:n - 2] + 0.5 * b[3:], rtol=1e-6)
    state = f.plan.prepare(((n,), (n,)) + f.plan.constant_shapes, ())
    (launch,) = [w for w in state.work if hasattr(w, "args")]
    # the copy with streaming stores runs (compiled only then: small outputs never build it)
    assert launch.kernel.endswith("_nt") == (ctx.is_cpu and ctx.cache_bytes > 0
                                             and ctx.preferred_vector_width("float32") > 1)
    small = f.plan.prepare(((1000,), (1000,)) + f.plan.constant_shapes, ())
    assert not any(w.kernel.endswith("_nt") for w in small.work if hasattr(w, "args"))


def test_gpu_grid_form_on_this_device(monkeypatch):
    """The form GPUs get (one vector per work item, local size 64) computes the same, run
    here by making the grid chooser see a non-CPU device."""
    from types import SimpleNamespace

    import clgraph.lower.elemwise as E

    chooser = E.elemwise_grid

    def as_gpu(ctx, n_inner, width, rows):
        return chooser(SimpleNamespace(is_cpu=False, compute_units=ctx.compute_units),
                       n_inner, width, rows)

    monkeypatch.setattr(E, "elemwise_grid", as_gpu)
    rng = _rng("gpu-form")
    a = rng.standard_normal((37, 1029)).astype(np.float32)
    row = rng.standard_normal(1029).astype(np.float32)
    x, r = T.fmatrix(), T.fvector()
    f = cg.function([x, r], [T.exp(-x * x) * r, x.T + 1])
    got, got_t = f(a, row)
    np.testing.assert_allclose(got, np.exp(-a * a) * row, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got_t, a.T + 1, rtol=1e-6)
    launches = [w for w in next(iter(f.plan._prepared.values())).work if hasattr(w, "args")]
    assert all(int(w.args[1]) == 1 for w in launches if w.args)  # per_item: one vector


def test_gpu_vector_width_only_over_whole_buffers(monkeypatch):
    """GPUs get 16-byte vectors (float4) where every operand is a scalar or a whole
    contiguous buffer of the output's shape; broadcast rows and views stay scalar (NVIDIA's
    compiler aborts on such vector kernels). Lowered as for a GPU, run here on any device."""
    from clgraph.runtime.device import DeviceContext

    monkeypatch.setattr(DeviceContext, "is_cpu", property(lambda self: False))
    rng = _rng("gpu-width", (6, 9))
    mv = rng.standard_normal((6, 9)).astype(np.float32)
    vv, wv = rng.standard_normal(9).astype(np.float32), rng.standard_normal(9).astype(np.float32)
    m, v, w, s = T.fmatrix(), T.fvector(), T.fvector(), T.fscalar()
    cases = [([v, w, s], v + s * w, (vv, wv, np.float32(3)), vv + 3 * wv, True),
             ([m], T.exp(m) * m + 1, (mv,), np.exp(mv) * mv + 1, True),
             ([m, v], m + v, (mv, vv), mv + vv, False),
             ([m], m[::-1] * 2, (mv,), mv[::-1] * 2, False),
             ([m], m.T * 2, (mv,), mv.T * 2, False)]
    for ins, out, args, want, vector in cases:
        f = cg.function(ins, out)
        (kernel,) = [k for k in f.kernels() if "__kernel" in k]
        assert ("float4" in kernel) == vector, out
        np.testing.assert_allclose(f(*args), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("signed", ["int8", "int32", "int64"])
def test_signed_against_uint64_compares_exactly(signed):
    """Their common type is float64, which cannot hold every value: NumPy 2 compares the
    integers exactly, and so do the kernels (scalar tail and vector body both)."""
    info = np.iinfo(signed)
    s_vals = np.array([-1, 0, 1, info.min, info.max, 5, 7, -5], dtype=signed)
    u_vals = np.array([2**63, 0, 1, 0, info.max, 2**64 - 1, 7, 3], dtype="uint64")
    if signed == "int64":  # values float64 rounds together
        s_vals = np.append(s_vals, [2**62 + 1, 2**63 - 1]).astype(signed)
        u_vals = np.append(u_vals, [2**62, 2**63]).astype("uint64")
    s_vals, u_vals = np.tile(s_vals, 5), np.tile(u_vals, 5)  # past one vector width
    a = T.vector("a", dtype=signed)
    b = T.vector("b", dtype="uint64")
    outs = [a < b, a <= b, a > b, a >= b, T.eq(a, b), T.neq(a, b), b < a, b >= a, T.eq(b, a)]
    want = [s_vals < u_vals, s_vals <= u_vals, s_vals > u_vals, s_vals >= u_vals,
            s_vals == u_vals, s_vals != u_vals, u_vals < s_vals, u_vals >= s_vals,
            u_vals == s_vals]
    for got, ref in zip(cg.function([a, b], outs)(s_vals, u_vals), want, strict=True):
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint16"])
def test_integer_overflow_wraps_as_numpy_in_fused_kernels(dtype):
    """Signed overflow is undefined in C and Clang folds on it (x + 1 > x became true once
    fused); the kernels compute in the unsigned type and wrap like NumPy, in vector bodies
    and scalar tails alike (lengths past a vector width)."""
    info = np.iinfo(dtype)
    vals = np.array([info.max, info.min, -1 if info.min else 1, 0, info.max // 3, 7], dtype)
    vals = np.tile(vals, 7)[:37]
    x = T.vector("x", dtype=dtype)
    one = np.array(1, dtype)
    outs = [T.gt(x + one, x), x + one, x - one, x * x, x * np.array(3, dtype), T.sqr(x),
            T.lt(x * x, 0), T.cumsum(x), T.sum(x, dtype=dtype), T.prod(x, dtype=dtype)]
    want = [vals + one > vals, vals + one, vals - one, vals * vals, vals * np.array(3, dtype),
            vals * vals, vals * vals < 0, np.cumsum(vals),
            np.sum(vals, dtype=dtype), np.prod(vals, dtype=dtype)]
    if info.min:
        outs += [-x, T.lt(-x, 0)]
        want += [-vals, -vals < 0]
    with np.errstate(over="ignore"):
        for got, ref in zip(cg.function([x], outs)(vals), want, strict=True):
            np.testing.assert_array_equal(got, ref)


def test_switch_dtype_comes_from_its_branches_not_its_condition():
    """Theano's Switch: upcast of ift and iff; a Python scalar branch does not take the
    condition's dtype (16777217 would round in float32)."""
    x = T.fvector("x")
    y = T.switch(x, 16777217, 0)
    assert y.dtype == "int32"
    np.testing.assert_array_equal(cg.function([x], y)(np.array([1, 0], "float32")),
                                  [16777217, 0])
    assert T.switch(T.dvector(), 1, 2).dtype == "int8"
    assert T.switch(T.ivector(), 1, 2).dtype == "int8"
    assert T.switch(x, x, 0).dtype == "float32"
    assert T.where(T.bvector(), T.dvector(), 1).dtype == "float64"
