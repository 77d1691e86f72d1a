"""Helpers of the elementwise table tests: input values, NumPy references and packing.

Packing exists because PoCL builds cost ~0.15 s a kernel, whatever the kernel holds: all
outputs of a table sweep that would run at the same vector width become one multi-output
Elemwise(Composite) node (one kernel), the node that fusion builds, so each op's OpenCL code
is still exercised in scalar and vector form at the width it gets alone.
"""

from __future__ import annotations

import numpy as np

import clgraph as cg
from clgraph.expr.elemwise import Elemwise
from clgraph.expr.scalar.composite import Composite
from clgraph.expr.shape_ops import DimShuffle
from clgraph.expr.variable import Constant
from clgraph.lower.elemwise import vector_width
from clgraph.runtime.device import get_context

from .cases import FLOATS, TRUE_DIV, OpCase

# Theano's upgrade_to_float, written out here rather than imported from clgraph.
UPGRADE_TO_FLOAT = {"bool": "float32", "int8": "float32", "uint8": "float32",
                    "int16": "float32", "int32": "float64", "int64": "float64"}


# ---------------------------------------------------------------- values
def edge_values(dtype: str) -> np.ndarray:
    if dtype == "bool":
        return np.array([False, True])
    if dtype in FLOATS:
        info = np.finfo(dtype)
        return np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5, 3.0, np.inf, -np.inf,
                         np.nan, info.max, -info.max, info.tiny], dtype=dtype)
    info = np.iinfo(dtype)
    vals = {0, 1, 2, 3, info.max, info.max - 1, info.min, info.min + 1, 127}
    if info.min < 0:
        vals |= {-1, -2, -3}
    return np.array(sorted(v for v in vals if info.min <= v <= info.max), dtype=dtype)


def draw(domain: str, dtype: str, n: int, rng, first: np.ndarray | None = None) -> np.ndarray:
    """n values of `dtype` from `domain` (see cases.DOMAINS); 'near0' needs `first`."""
    with np.errstate(all="ignore"):  # near0 of +-max overflows to +-inf: fine
        return _draw(domain, dtype, n, rng, first)


def _draw(domain: str, dtype: str, n: int, rng, first: np.ndarray | None) -> np.ndarray:
    if dtype == "bool":
        v = rng.integers(0, 2, n).astype(bool)
        return v | (domain in ("positive", "ge1", "nonzero"))
    if domain == "near0":
        if dtype in FLOATS:
            scale = 1 + rng.uniform(-3e-5, 3e-5, n)
            return (first.astype("float64") * scale + rng.uniform(-3e-8, 3e-8, n)).astype(dtype)
        info = np.iinfo(dtype)
        return np.clip(first.astype("int64") + rng.integers(-1, 2, n), info.min,
                       info.max).astype(dtype)
    if dtype in FLOATS:
        u = rng.uniform(-1, 1, n)
        mag = 10.0 ** rng.uniform(-4, 4, n)
        v = {"any": np.where(rng.random(n) < 0.6, 10 * u, np.sign(u) * mag),
             "positive": mag, "unit": u * 0.999, "ge1": 1 + mag,
             "nonzero": np.where(u == 0, 1.0, 10 * u),
             "small": 3 * u, "exponent": 4 * u}[domain]
        return v.astype(dtype)
    info = np.iinfo(dtype)
    lo, hi = int(info.min), int(info.max)
    small = rng.integers(max(lo, -100), min(hi, 100) + 1, n)
    wide = rng.integers(lo, hi, n, endpoint=True, dtype="int64" if hi < 2**63 else "uint64")
    if domain == "any":
        v = np.where(rng.random(n) < 0.5, small, wide.astype("int64"))
    elif domain == "positive":
        v = np.abs(small) + 1
    elif domain == "unit":
        v = rng.integers(max(lo, -1), 2, n)
    elif domain == "ge1":
        v = np.abs(small) + 1
    elif domain == "nonzero":
        v = np.where(small == 0, 1, small)
    elif domain == "small":
        v = rng.integers(max(lo, -9), 10, n)
    elif domain == "exponent":
        v = rng.integers(0, 9, n)
    else:
        raise ValueError(domain)
    return v.astype(dtype)


def sample(domains: tuple[str, ...], dtypes: tuple[str, ...], n: int, rng) -> list[np.ndarray]:
    """Inputs of length n: every pair of edge values of the first two inputs, then draws."""
    edges = [edge_values(dt) for dt in dtypes]
    if len(dtypes) == 1:
        head = [edges[0]]
    else:
        g = np.meshgrid(edges[0], edges[1], indexing="ij")
        head = [g[0].ravel(), g[1].ravel()]
        m = len(head[0])
        for e in edges[2:]:
            head.append(e[rng.integers(0, len(e), m)])
    out = []
    for k, (dom, dt) in enumerate(zip(domains, dtypes, strict=True)):
        body = draw(dom, dt, n, rng, out[0] if out else None)
        v = np.concatenate([head[k], body])[:n].astype(dt)
        out.append(v)
    return out


def sprinkle(domain: str, dtype: str, shape: tuple, rng, first=None) -> np.ndarray:
    """Draws of `shape` with edge values at random places (broadcast and view tests)."""
    n = int(np.prod(shape))
    v = draw(domain, dtype, n, rng, None if first is None else np.resize(first.ravel(), n))
    e = edge_values(dtype)
    pos = rng.random(n) < 0.25
    v[pos] = e[rng.integers(0, len(e), int(pos.sum()))]
    return v.reshape(shape)


# ---------------------------------------------------------------- expected results
def expected_dtype(case: OpCase, in_dtypes: tuple[str, ...], numpy_dtype: str) -> str:
    """NumPy's result dtype, but for the deviations that API.md takes from Theano."""
    if not any(d in FLOATS for d in in_dtypes):
        up = np.result_type(*in_dtypes).name
        if case.int_to_float:
            return UPGRADE_TO_FLOAT[up]
        if case.name in TRUE_DIV:
            small = all(np.dtype(d).itemsize <= 4 for d in in_dtypes)
            return cg.config.floatX if small else "float64"
    return numpy_dtype


def reference(case: OpCase, arrays: list[np.ndarray]) -> tuple[np.ndarray, str]:
    """(NumPy's result, in our dtype where a deviation applies; our expected dtype)."""
    with np.errstate(all="ignore"):
        want = np.asarray(case.numpy_fn(*arrays))
        dtype = expected_dtype(case, tuple(a.dtype.name for a in arrays), want.dtype.name)
        if want.dtype != dtype:  # a documented deviation: NumPy on inputs in our dtype
            want = np.asarray(case.numpy_fn(*[a.astype(dtype) for a in arrays]))
    return want, dtype


def check(what: str, got: np.ndarray, want: np.ndarray, dtype: str, arrays: list,
          tol: float = 1.0, mask: np.ndarray | None = None, signed_zero: bool = True) -> None:
    """got == want (floats: 16 ulp times `tol`, same NaNs, infinities and signs of zero)."""
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    want = want.astype(dtype)
    if dtype in FLOATS:
        eps = 16 * np.finfo(dtype).eps * tol
        g, w = got.astype("float64"), want.astype("float64")
        with np.errstate(all="ignore"):
            bad = np.isnan(g) != np.isnan(w)
            bad |= (np.isinf(g) | np.isinf(w)) & (g != w) & ~np.isnan(w)
            fin = np.isfinite(g) & np.isfinite(w)
            bad |= fin & (np.abs(g - w) > eps * np.maximum(1.0, np.abs(w)))
            if signed_zero:
                bad |= (g == 0) & (w == 0) & (np.signbit(g) != np.signbit(w))
    else:
        bad = got != want
    if mask is not None:
        bad &= np.broadcast_to(mask, bad.shape)
    if bad.any():
        idx = np.argwhere(bad)[:8]
        rows = []
        for i in map(tuple, idx):
            ins = ", ".join(repr(np.broadcast_to(a, bad.shape)[i].item()) for a in arrays)
            rows.append(f"  f({ins}) = {got[i]!r}, NumPy {want[i]!r}")
        raise AssertionError(f"{what}: {int(bad.sum())} of {bad.size} values differ:\n"
                             + "\n".join(rows))


# ---------------------------------------------------------------- graphs
def graph_dtypes(out) -> set[str]:
    """Dtypes of every elementwise value on the way from the inputs to `out`."""
    seen, stack = set(), [out]
    while stack:
        v = stack.pop()
        seen.add(v.dtype)
        if v.owner is not None and isinstance(v.owner.op, Elemwise):
            stack.extend(v.owner.inputs)
    return seen


def width_of(out) -> int:
    """The vector width the lowering gives the kernel of `out` alone."""
    return vector_width(get_context(), graph_dtypes(out))


def pack(outputs: list, inputs: list) -> list:
    """`outputs`, elementwise graphs over `inputs`, as one multi-output Elemwise(Composite)."""
    externals = list(inputs)
    ref = {id(v): k for k, v in enumerate(inputs)}
    nodes: list = []  # (scalar op, input variables, output variable)

    def visit(v):
        if id(v) in ref or any(o is v for _, _, o in nodes):
            return
        node = v.owner
        if isinstance(v, Constant) or node is None:
            ref[id(v)] = len(externals)
            externals.append(v)
            return
        if isinstance(node.op, DimShuffle):  # the left padding that Elemwise adds
            src = node.inputs[0]
            pad = len(node.op.new_order) - src.ndim
            assert node.op.new_order == ("x",) * pad + tuple(range(src.ndim)), node.op
            visit(src)
            ref[id(v)] = ("alias", src)
            return
        assert isinstance(node.op, Elemwise), f"cannot pack {node.op}"
        for i in node.inputs:
            visit(i)
        nodes.append((node.op.scalar_op, node.inputs, v))

    for o in outputs:
        visit(o)
    nin = len(externals)

    def index(v):
        r = ref[id(v)]
        return index(r[1]) if isinstance(r, tuple) else r

    steps = []
    for k, (sop, ins, out) in enumerate(nodes):
        steps.append((sop, tuple(index(i) for i in ins)))
        ref[id(out)] = nin + k
    comp = Composite(tuple(v.dtype for v in externals), tuple(steps),
                     tuple(index(o) for o in outputs))
    res = Elemwise(comp)(*externals)
    return res if isinstance(res, list) else [res]


def pack_by_width(outputs: list, inputs: list) -> list:
    """`pack` per group of outputs that alone would get the same vector width."""
    groups: dict[int, list[int]] = {}
    for k, o in enumerate(outputs):
        groups.setdefault(width_of(o), []).append(k)
    packed = [None] * len(outputs)
    for ks in groups.values():
        for k, p in zip(ks, pack([outputs[k] for k in ks], inputs), strict=True):
            packed[k] = p
    return packed
