"""Reductions on the device (sum/prod/max/min/all/any/mean/var/std/argmax/argmin/logsumexp)
against NumPy: dtypes, axes, keepdims, strided views, 0-d, empty and multi-work-group sizes.

Each test compiles one function with many outputs (each distinct reduction is one kernel, and
PoCL compiles every kernel of a program), so the whole file builds few programs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.expr.apply import Apply
from clgraph.expr.reduce import Reduce
from clgraph.expr.scalar.composite import Composite
from clgraph.expr.type import TensorType
from clgraph.expr.variable import TensorVariable
from clgraph.lower import reduce as R
from clgraph.runtime.device import get_context


def _np_logsumexp(a, axis=None, keepdims=False):
    with np.errstate(all="ignore"):
        m = np.max(a, axis=axis, keepdims=True)
        m = np.where(np.isinf(m), 0, m).astype(a.dtype)
        out = (np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m).astype(a.dtype)
    return out if keepdims else np.squeeze(out, axis=axis)


def _check(name, got, want, rtol, atol=0.0):
    want = np.asarray(want)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != {want.dtype}"
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=name)
    else:
        np.testing.assert_array_equal(got, want, err_msg=name)


def _compile(inputs, cases):
    """One function for all cases: (name, symbolic output, NumPy function of the values)."""
    f = cg.function(inputs, [c[1] for c in cases])

    def check(*vals, rtol, atol=0.0):
        outs = f(*vals)
        with np.errstate(all="ignore"):
            for (name, _, ref), got in zip(cases, outs, strict=True):
                _check(f"{name} {[np.shape(v) for v in vals]}", got, ref(*vals), rtol, atol)
    check.fn = f
    return check


def _cases(x, specs):
    """`(view, method, axis, keepdims)` → cases run alike on a variable and an ndarray."""
    cases = []
    for vname, view, op, axis, kd in specs:
        def ref(a, view=view, op=op, axis=axis, kd=kd):
            return np.asarray(getattr(view(a), op)(axis=axis, keepdims=kd))
        sym = getattr(view(x), op)(axis=axis, keepdims=kd)
        cases.append((f"{vname}.{op}(axis={axis}, keepdims={kd})", sym, ref))
    return cases


def _same(v):
    return v


def _t(v):
    return v.T


def _flip(v):
    return v[::-1, 1:]


def _step(v):
    return v[:, ::2]


def test_float32_matrix(rng):
    x = T.fmatrix("x")
    specs = [("x", _same, op, axis, kd)
             for op, axes in [("sum", [None, 0, 1, -1, (0, 1)]), ("max", [0, 1]),
                              ("min", [None, (1, 0)]), ("argmax", [1, None]), ("argmin", [0]),
                              ("all", [1]), ("any", [0]), ("mean", [0]), ("var", [1]),
                              ("std", [1])]
             for axis in axes for kd in (False, True)]
    specs += [("x.T", _t, "sum", 0, False), ("x[::-1, 1:]", _flip, "max", 1, True),
              ("x[::-1, 1:]", _flip, "argmax", 0, False), ("x[:, ::2]", _step, "sum", 0, False)]
    cases = _cases(x, specs) + [
        ("logsumexp(1)", T.logsumexp(x, axis=1), lambda a: _np_logsumexp(a, axis=1)),
        ("logsumexp(1, kd)", T.logsumexp(x, axis=1, keepdims=True),
         lambda a: _np_logsumexp(a, axis=1, keepdims=True)),
        ("sum(float64)", T.sum(x, axis=1, dtype="float64"),
         lambda a: a.sum(axis=1, dtype="float64")),
    ]
    check = _compile([x], cases)
    if R.reduce_width(check.fn.ctx, {"float32"}) > 1 and R.tree_size(check.fn.ctx) == 1:
        text = check.fn.kernels_text()
        assert "vload" in text and "vstore" in text
    # Column sums of many rows split in chunks; 1000 x 3001 takes several work-groups.
    for shape in [(7, 5), (1, 2), (2, 3), (33, 2), (1, 40), (1000, 3001), (4096, 17)]:
        check(rng.standard_normal(shape).astype("float32"), rtol=2e-4, atol=1e-3)
    # Ties (the first index wins), infinities, and NaN (it propagates and counts as the
    # extreme for argmax/argmin, as in NumPy).
    a = np.zeros((6, 9), "float32")
    a[1, 3] = a[1, 5] = 1
    a[2, :] = -np.inf
    a[3, 2] = a[3, 6] = np.nan
    a[4, 0] = np.inf
    a[5, 4] = -np.inf
    check(a, rtol=1e-6)


def test_float64_tensor3_tuple_axes(rng):
    x = T.dtensor3("x*/ t3")  # a user name: it may only appear, sanitised, in comments

    def perm(v):
        return v.transpose(2, 0, 1)

    def sl(v):
        return v[:, ::-1, 1:]

    specs = [("x", _same, "sum", (0, 2), kd) for kd in (False, True)]
    specs += [("x", _same, "max", (1, 2), kd) for kd in (False, True)]
    specs += [("x", _same, "prod", None, False), ("x", _same, "prod", (2, 0, 1), False),
              ("x", _same, "mean", (0, -1), False), ("x", _same, "argmax", 1, True),
              ("perm", perm, "min", (0, 1), False), ("perm", perm, "sum", (1,), False),
              ("sl", sl, "sum", (0, 2), True), ("sl", sl, "argmin", -1, False)]
    check = _compile([x], _cases(x, specs))
    text = check.fn.kernels_text()
    assert "*/ t3" not in text and "x__ t3" in text
    for shape in [(4, 5, 6), (2, 1, 3), (1, 2, 2), (20, 30, 40)]:
        # Values near 1 keep the products finite.
        check(1 + 0.01 * rng.standard_normal(shape), rtol=1e-10, atol=1e-12)


INT_DTYPES = ["int8", "int32", "int64", "uint8", "bool"]
INT_OPS = {
    "int8": [("sum", 1), ("max", 0), ("argmin", 1), ("mean", None)],
    "int32": [("sum", 0), ("min", None), ("argmax", 0)],
    "int64": [("sum", None), ("max", 1), ("argmax", None)],
    "uint8": [("sum", 1), ("max", None), ("argmin", 0)],
    "bool": [("all", 1), ("any", 0), ("sum", None), ("max", 0), ("argmax", 1)],
}


def test_integer_and_bool_dtypes(rng):
    xs = [T.matrix(f"x_{dt}", dtype=dt) for dt in INT_DTYPES]
    cases = []
    for k, (x, dt) in enumerate(zip(xs, INT_DTYPES, strict=True)):
        for op, axis in INT_OPS[dt]:
            cases.append((f"{dt}.{op}({axis})", getattr(x, op)(axis=axis),
                          lambda *v, k=k, op=op, axis=axis: np.asarray(
                              getattr(v[k], op)(axis=axis))))
    cases += [
        ("int8[:, :4].prod(1)", xs[0][:, :4].prod(axis=1), lambda *v: v[0][:, :4].prod(axis=1)),
        ("int32.T.sum(0)", xs[1].T.sum(axis=0), lambda *v: v[1].T.sum(axis=0)),
        ("uint8[::-1].max(1)", xs[3][::-1].max(axis=1), lambda *v: v[3][::-1].max(axis=1)),
    ]
    check = _compile(xs, cases)
    for shape in [(6, 7), (1, 5), (300, 201), (5000, 9)]:
        vals = []
        for dt in INT_DTYPES:
            if dt == "bool":
                vals.append(rng.random(shape) < 0.5)
            elif dt == "uint8":
                vals.append(rng.integers(0, 256, shape).astype(dt))
            else:
                lo, hi = max(np.iinfo(dt).min, -1000), min(np.iinfo(dt).max, 1000)
                vals.append(rng.integers(lo, hi + 1, shape).astype(dt))
        check(*vals, rtol=1e-12)
    # Extremes: all-False rows and one all-True row, minimum integers everywhere.
    vals = [np.full((3, 4), np.iinfo(dt).min if dt != "bool" else False, dtype=dt)
            for dt in INT_DTYPES]
    vals[-1][1] = True
    check(*vals, rtol=1e-12)


def test_large_vectors(rng):
    """1e6 elements: several work-groups, then the launch that combines their results."""
    xf, xl, xb = T.fvector("xf"), T.lvector("xl"), T.vector("xb", dtype="bool")
    cases = [
        ("sum", T.sum(xf), lambda f, i, b: f.sum()),
        ("mean", T.mean(xf), lambda f, i, b: f.mean()),
        ("max", T.max(xf), lambda f, i, b: f.max()),
        ("argmax", T.argmax(xf), lambda f, i, b: f.argmax()),
        ("argmin step", T.argmin(xf[::3]), lambda f, i, b: f[::3].argmin()),
        ("min rev", T.min(xf[::-1]), lambda f, i, b: f[::-1].min()),
        ("int64 sum", T.sum(xl), lambda f, i, b: i.sum()),
        ("int64 argmax", T.argmax(xl), lambda f, i, b: i.argmax()),
        ("bool any", T.any(xb), lambda f, i, b: b.any()),
    ]
    check = _compile([xf, xl, xb], cases)
    n = 1_000_000
    f = rng.random(n, dtype=np.float32)
    i = rng.integers(-2**40, 2**40, n)
    b = np.zeros(n, bool)
    check(f, i, b, rtol=1e-4)
    b[n - 3] = True
    i[[10, 500_000, n - 1]] = i.max() + 1  # ties: the first wins
    f[[77, 600_000]] = 2.0
    f[[30, 700_001]] = -1.0
    check(f, i, b, rtol=1e-4)
    f[[123_456, 900_000]] = np.nan  # NaN propagates; argmax/argmin find the first NaN
    check(f, i, b, rtol=1e-4)
    check(f[:1001], i[:1001], b[:1001], rtol=1e-5)


def test_zero_dim_and_empty():
    s, x, i = T.fscalar("s"), T.fmatrix("x"), T.imatrix("i")
    cases = [
        ("s.sum", T.sum(s), lambda s, x, i: np.sum(s)),
        ("s.max", T.max(s), lambda s, x, i: np.max(s)),
        ("s.argmax", T.argmax(s), lambda s, x, i: np.argmax(s)),
        ("s.mean", T.mean(s), lambda s, x, i: np.mean(s)),
        ("x.mean(1)", x.mean(axis=1), lambda s, x, i: np.mean(x, axis=1)),
    ]
    for name, var, op, axes in [("x", x, "sum", [None, 0, 1]), ("x", x, "prod", [1]),
                                ("x", x, "all", [None]), ("x", x, "any", [0]),
                                ("i", i, "sum", [1]), ("i", i, "prod", [None])]:
        for axis in axes:
            cases.append((f"{name}.{op}({axis})", getattr(var, op)(axis=axis),
                          lambda s, x, i, name=name, op=op, axis=axis: np.asarray(
                              getattr(x if name == "x" else i, op)(axis=axis))))
    check = _compile([s, x, i], cases)
    for shape in [(0, 4), (3, 0), (0, 0), (2, 3)]:
        check(np.float32(2.5), np.ones(shape, "float32"), np.ones(shape, "int32"), rtol=1e-6)

    # max/min/argmin over an empty axis fail before anything runs, naming the node.
    f = cg.function([x], [T.max(x, axis=0), T.argmin(x, axis=0)])
    assert [o.shape for o in f(np.zeros((3, 0), "float32"))] == [(0,), (0,)]
    with pytest.raises(ValueError, match=r"Reduce\{max.*zero-length axis"):
        f(np.zeros((0, 3), "float32"))
    g = cg.function([x], T.argmin(x[:, 1:], axis=1))
    with pytest.raises(ValueError, match=r"Argmin.*zero-length axis"):
        g(np.zeros((2, 1), "float32"))
    np.testing.assert_array_equal(g(np.array([[9, 3, 1, 1]], "float32")), [1])


def test_gpu_style_tree_reduction(monkeypatch, rng):
    """The GPU path (scalar work-items, a work-group tree in local memory), run here."""
    monkeypatch.setattr(R, "tree_size", lambda ctx: 16)
    x, xi = T.fmatrix("x"), T.bmatrix("xi")
    specs = [("x", _same, "sum", None, False), ("x", _same, "sum", 0, False),
             ("x", _same, "max", 1, False), ("x", _same, "argmax", 1, False),
             ("x", _same, "argmin", None, False), ("x.T", _t, "any", 1, False)]
    cases = [(n, s, lambda a, b, r=r: r(a)) for n, s, r in _cases(x, specs)]
    cases += [("i.sum", xi.sum(axis=1), lambda a, b: b.sum(axis=1)),
              ("i.min", xi.min(axis=1), lambda a, b: b.min(axis=1))]
    check = _compile([x, xi], cases)
    assert "__local" in check.fn.kernels_text()
    for shape in [(5, 3), (3, 100_001), (300, 301)]:
        a = rng.standard_normal(shape).astype("float32")
        a.flat[::7] = 0.5  # ties
        b = rng.integers(-100, 100, shape).astype("int8")
        check(a, b, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("tree", [False, True])
def test_float32_sums_are_as_accurate_as_numpys(monkeypatch, rng, tree):
    """Compensated (Kahan) sums along runs: a long float32 run summed in a few registers loses
    ~n/lanes ulps; NumPy's pairwise sum stays near one (mean and variance of 1e4 + U(0, 1)
    were 10005.02 and 20.5 for 10000.5 and 0.0833)."""
    if tree:  # the GPU form: scalar work-items and a work-group tree
        monkeypatch.setattr(R, "tree_size", lambda ctx: 16)
    xv = (rng.random(2_000_000) + 1e4).astype("float32")
    x, m = T.fvector("x"), T.fmatrix("m")
    mv = xv.reshape(-1, 500)
    f = cg.function([x, m], [x.sum(), x.mean(), x.var(), m.sum(axis=0), m.sum(axis=1),
                             T.sum(x ** 2)])
    s, mean, var, cols, rows, sq = f(xv, mv)
    exact = xv.astype("float64")
    np.testing.assert_allclose(s, exact.sum(), rtol=2e-7)
    np.testing.assert_allclose(mean, exact.mean(), rtol=2e-7)
    np.testing.assert_allclose(var, exact.var(), rtol=1e-3)
    # columns: not compensated, but summed in chunks (NumPy's own column sums are naive:
    # ~1e-4 here)
    np.testing.assert_allclose(cols, mv.astype("float64").sum(0), rtol=1e-6)
    np.testing.assert_allclose(rows, mv.astype("float64").sum(1), rtol=2e-7)
    np.testing.assert_allclose(sq, (exact ** 2).sum(), rtol=2e-7)


@dataclass(frozen=True)
class _ReduceWithPrologue(Reduce):
    """A Reduce of `prologue(*inputs)`: the node a fusion rewrite would build."""

    prologue: Composite | None = None

    def make_node(self, *inputs) -> Apply:
        value = TensorVariable(TensorType(self.prologue.out_dtypes()[0],
                                          (None,) * inputs[0].ndim))
        out = Reduce.make_node(self, value).outputs[0]
        return Apply(self, list(inputs), [TensorVariable(out.type)])


def test_reduce_with_prologue(rng):
    from clgraph.expr.scalar.ops import add, mul

    x, y = T.fmatrix("x"), T.row("y", dtype="float32")
    # (x + y) * x reduced in one kernel; y is read with stride 0 along axis 0.
    comp = Composite(("float32", "float32"), ((add, (0, 1)), (mul, (2, 0))), (3,))
    kinds = [("add", (0, 1)), ("add", (0,)), ("max", (1,))]
    f = cg.function([x, y], [_ReduceWithPrologue(k, a, None, comp)(x, y) for k, a in kinds])
    kernels = [k for k in f.plan.kernel_defs if k.alt_of is None]  # (not their copies)
    assert len(kernels) == len(kinds)  # no separate elementwise kernel
    for shape in [(4, 9), (500, 301), (3, 200_000)]:
        a = rng.standard_normal(shape).astype("float32")
        b = rng.standard_normal((1, shape[1])).astype("float32")
        v = (a + b) * a
        for (kind, axes), got in zip(kinds, f(a, b), strict=True):
            want = v.sum(axis=axes) if kind == "add" else v.max(axis=axes)
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-2,
                                       err_msg=f"{kind} {axes} {shape}")


def test_reduction_space():
    # Stride-0 (broadcast) axes go outermost, negative strides are flipped, runs merge.
    sp = R.reduction_space((4, 3, 5), [(0, -5, 1)], [10], (0, 1, 2), reorder=True)
    assert sp.kept == () and sp.red == (4, 15) and sp.rstrides == [(0, 1)]
    assert sp.offsets == [0]
    # Column layout: the kept axis is the contiguous one.
    sp = R.reduction_space((6, 7), [(7, 1)], [0], (0,), reorder=True)
    assert sp.kept == (7,) and sp.kstrides == [(1,)] and sp.red == (6,)
    # Length-1 axes are dropped; kept axes merge in output order.
    sp = R.reduction_space((2, 1, 3, 4), [(12, 12, 4, 1)], [0], (3,), reorder=True)
    assert sp.kept == (6,) and sp.kstrides == [(4,)] and sp.red == (4,)
    # Argmax keeps the direction of its axis.
    sp = R.reduction_space((5,), [(-1,)], [4], (0,), reorder=False)
    assert sp.rstrides == [(-1,)] and sp.offsets == [4]


def test_acc_dtype_accumulates_wider():
    x = T.fvector("x")
    a = np.full(1 << 20, 0.1, "float32")
    f = cg.function([x], [T.sum(x, acc_dtype="float64"), T.mean(x, acc_dtype="float64"),
                          T.prod(x[:3], acc_dtype="float64")])
    s, m, p = f(a)
    assert s.dtype == np.float32 and m.dtype == np.float32
    np.testing.assert_allclose(s, a.astype("float64").sum(), rtol=1e-7)
    np.testing.assert_allclose(m, 0.1, rtol=1e-7)
    np.testing.assert_allclose(p, 0.1 ** 3, rtol=1e-6)


def test_split_reductions_finish_in_one_launch(rng):
    """On CPUs a reduction split over work-groups combines its partial results in the last
    group to finish (an atomic counter, reset each time): one launch, the same value every
    call, for sums, maxima, int32 -> int64 sums and fused producers (sum(x ** 2))."""
    x, xi, m = T.fvector("x"), T.ivector("xi"), T.fmatrix("m")
    outs = [T.sum(x), T.max(x), T.sum(xi), T.sum(x ** 2), T.sum(m, axis=1), T.min(m, axis=1)]
    f = cg.function([x, xi, m], outs)
    n = 3_000_001
    state = f.plan.prepare(((n,), (n,), (3, 400_000)))
    if get_context().is_cpu:  # one launch per reduction (GPUs: a second one combines)
        assert len(state.work) == len(outs), [w.kernel for w in state.work]
    a = rng.random(n, dtype=np.float32)
    ai = rng.integers(-2**30, 2**30, n).astype("int32")
    mv = rng.standard_normal((3, 400_000)).astype("float32")
    first = f(a, ai, mv)
    for _ in range(3):  # the counters are reset: repeated calls give identical results
        again = f(a, ai, mv)
        for u, v in zip(first, again, strict=True):
            np.testing.assert_array_equal(u, v)
    a64 = a.astype("float64")
    want = [a64.sum(), a.max(), ai.astype("int64").sum(), (a64 ** 2).sum(),
            mv.astype("float64").sum(axis=1), mv.min(axis=1)]
    for got, w in zip(first, want, strict=True):
        np.testing.assert_allclose(got, w, rtol=2e-5)
    assert first[2].dtype == np.int64
    np.testing.assert_array_equal(first[2], ai.astype("int64").sum())


def test_vector_loads_at_any_alignment(rng):
    """Contiguous runs read with vectors from element-aligned (not vector-aligned) starts."""
    x, m = T.fvector("x"), T.fmatrix("m")
    for k in range(1, 9):
        f = cg.function([x, m], [T.sum(x[k:]), T.max(x[k:]), T.sum(m[:, k:], axis=1),
                                 T.argmax(m[:, k:], axis=1), T.sum(T.sqr(x[k:]))])
        a = rng.standard_normal(100_003).astype("float32")
        b = rng.standard_normal((7, 1001)).astype("float32")
        got = f(a, b)
        want = [a[k:].sum(dtype="float64"), a[k:].max(), b[:, k:].sum(axis=1),
                b[:, k:].argmax(axis=1), (a[k:].astype("float64") ** 2).sum()]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-3)


def test_cpu_column_reductions_run_their_copy_without_mode_0():
    """On CPUs a reduction that keeps axes has a copy of its kernel without mode 0, which
    launches in columns mode run (PoCL compiles only what is launched); layouts that need
    mode 0 (a transposed input, one reduced row) run the whole kernel. Values as NumPy's."""
    m = T.fmatrix("m")
    f = cg.function([m], [T.sum(m, axis=0), T.max(m, axis=0)])
    rng = np.random.default_rng(5)
    cpu = get_context().is_cpu
    cases = [rng.standard_normal((64, 40)), rng.standard_normal((40, 64)).T,
             rng.standard_normal((1, 40)), rng.standard_normal((3000, 300))]
    for xv in cases:
        xv = xv.astype("f4")
        got_sum, got_max = f(xv)
        np.testing.assert_allclose(got_sum, xv.sum(0), rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(got_max, xv.max(0))
        state = f.plan.prepare(((tuple(xv.shape)),), ())
        launched = {w.kernel for w in state.work if hasattr(w, "gsize")}
        assert launched
        if cpu:  # one reduced row is mode 0's (the whole kernel), the rest columns mode
            assert all(k.endswith("_cols") == (xv.shape[0] > 1) for k in launched), launched
    assert len(f.kernels()) == 2  # the copies are listed with their kernels
    if cpu:
        assert sum(k.alt_of is not None for k in f.plan.kernel_defs) == 2
    # a reduction along the rows is mode 0's: the whole kernel runs
    g = cg.function([m], T.sum(m, axis=1))
    xv = cases[0].astype("f4")
    np.testing.assert_allclose(g(xv), xv.sum(1), rtol=1e-5, atol=1e-5)
    state = g.plan.prepare(((64, 40),), ())
    assert not any(w.kernel.endswith("_cols") for w in state.work if hasattr(w, "gsize"))


def test_epilogue_on_a_whole_array_reduction():
    """An elementwise consumer of a full reduction (a 0-d result, no extra operand) fused
    as the reduction's epilogue: the gradient of a branch, zeros_like(x.sum())."""
    x = T.dvector("x")
    xv = np.arange(5.0)
    for expr, want in [(T.zeros_like(x.sum()), 0.0), (T.ones_like(x.max()), 1.0),
                       (x.sum() * 2 + 1, 21.0)]:
        fn = cg.function([x], expr)
        assert float(fn(xv)) == want


def test_integer_shared_scalar_in_a_graph():
    """A shared integer scalar is not an input's value known on the host: it is read from
    its buffer (it was once taken for an explicit input's slot and failed)."""
    n = cg.shared(np.int32(3), name="n")
    x = T.dvector("x")
    fn = cg.function([x], x * n + n)
    np.testing.assert_allclose(fn(np.arange(3.0)), np.arange(3.0) * 3 + 3)
    n.set_value(np.int32(-2))
    np.testing.assert_allclose(fn(np.arange(3.0)), np.arange(3.0) * -2 - 2)


def test_reduction_dtype_rules_found_by_a_probe():
    """axis=() still gives a reduction's dtype (NumPy: an int8 sum is int64); an integer
    dtype= gives an integer mean; an accumulator narrower than the input is refused
    (Theano's rule), a float one for integers is fine."""
    i8 = T.tensor("int8", shape=(None, None))
    v = np.array([[100, 100, 100], [-100, 50, 120]], "int8")
    outs = [T.sum(i8, axis=()), T.prod(i8, axis=()), T.mean(i8, dtype="int16"),
            T.mean(i8, axis=1, dtype="int8"), T.sum(i8, acc_dtype="float64")]
    got = cg.function([i8], outs)(v)
    want = [np.sum(v, axis=()), np.prod(v, axis=()), np.mean(v, dtype="int16"),
            np.mean(v, axis=1, dtype="int8"), np.sum(v)]  # Theano: acc_dtype keeps the dtype
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and np.array_equal(g, w), (g, w)
    with pytest.raises(TypeError, match="acc_dtype=int8: precision would be lost"):
        T.sum(T.tensor("uint8", shape=(None,)), acc_dtype="int8")
    with pytest.raises(TypeError, match="precision would be lost"):
        T.mean(T.fvector(), acc_dtype="int32")


def _launched_modes(f, shapes):
    """(kernel, mode) of each launch for inputs of these shapes."""
    state = f.plan.prepare(tuple(shapes) + f.plan.constant_shapes, ())
    return [(w.kernel, int(w.args[0])) for w in state.work if hasattr(w, "gsize")]


def test_column_reductions_with_broadcast_prologue_operands_use_columns_mode(rng):
    """A prologue operand broadcast along the kept columns (a constant, a scalar input, a
    column) is read once per row for all lanes: these column reductions run in mode 1
    (they ran a strided scalar loop per output). Values as NumPy's, tails included."""
    m, s, c = T.fmatrix("m"), T.fscalar("s"), T.fcol("c")
    b = T.TensorType("bool", (False, False))("b")
    cases = [
        ([m], T.sum(m * 2, axis=0), lambda mv: np.sum(mv * 2, axis=0)),
        ([m, s], T.sum(m * s, axis=0), lambda mv, sv: np.sum(mv * sv, axis=0)),
        ([m, c], T.sum(m * c, axis=0), lambda mv, cv: np.sum(mv * cv, axis=0)),
        ([m], T.max(m + 1, axis=0), lambda mv: np.max(mv + 1, axis=0)),
        ([m], T.sum(m > 0.5, axis=0), lambda mv: np.sum(mv > 0.5, axis=0)),
        ([m, c], T.any((m > 0.9) & (c > 0), axis=0),
         lambda mv, cv: np.any((mv > 0.9) & (cv > 0), axis=0)),
        ([b], T.any(b, axis=0), lambda bv: np.any(bv, axis=0)),
    ]
    for ins, expr, ref in cases:
        f = cg.function(ins, expr)
        for rows, cols in [(64, 40), (37, 13), (301, 1029), (3, 7)]:
            args = []
            for v in ins:
                if v is s:
                    args.append(np.float32(1.5))
                elif v is c:
                    args.append(rng.standard_normal((rows, 1)).astype("f4"))
                elif v is b:
                    args.append(rng.random((rows, cols)) > 0.95)
                else:
                    args.append(rng.random((rows, cols)).astype("f4"))
            np.testing.assert_allclose(f(*args), ref(*args), rtol=1e-4, atol=1e-4)
            modes = [(k, mode) for k, mode in _launched_modes(f, [np.shape(a) for a in args])
                     if "composite" not in k]  # the reduction's launches (c > 0 may run apart)
            assert modes[0][1] == R.ReduceStep.MODES["cols"], (expr, modes)
