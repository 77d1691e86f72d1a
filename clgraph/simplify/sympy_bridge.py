"""The bounded SymPy bridge: propose cheaper forms of float elementwise subgraphs.

The pass runs after canonicalize and before fusion, so it sees single-op `Elemwise` nodes.
`sympy_pass` marks the *roots* of maximal float elementwise subgraphs (nodes whose output is a
graph output, has several clients, or feeds something that is not part of such a subgraph);
the rule `sympy_simplify` then, for each root:

1. collects the subgraph under it (at most `MAX_NODES` interior nodes; single-client interior
   nodes only, every op with a SymPy counterpart, every value of the root's float dtype;
   anything else is a leaf);
2. translates it to SymPy on plain symbols (no assumptions: `log(exp(x))` stays as it is);
3. builds a few candidates with bounded transformations only (never `simplify()`): SymPy's
   eager evaluation, `powsimp` (exp(a)*exp(b) -> exp(a+b), power folding), Horner form of
   polynomials, `factor_terms` (collecting), `log(b**2k) -> 2k*log(abs(b))`, and the identities
   sin^2 + cos^2 = 1, cosh^2 - sinh^2 = 1. Structural sharing on the way back is the CSE;
4. when a candidate lost a symbol `s` of the original, it adds `(s - s)` to it: zero for finite
   `s`, NaN for inf and NaN, so it keeps the original's NaN where the lost symbol was not finite
   (this is how sin(x)**2 + cos(x)**2 becomes `1 + (x - x)` and stays NaN at x = inf);
5. keeps the cheapest candidate that is cheaper than the original by `OP_COST` **and** agrees
   with it (`values_agree`) evaluated with the ops' `perform` (their NumPy `impl`) in the
   subgraph's dtype on random points and on 0, -0, +-1, +-inf, nan, tiny and huge values.

Results are memoised per structural key of the subgraph, in memory and under config.compiledir
(`sympy_store`: small programs that rebuild without SymPy, value-checked again when read from
disk); a subgraph gets `TIME_BUDGET` seconds of SymPy work, a pass `PASS_BUDGET` (then only
remembered subgraphs are rewritten); `config.sympy_simplify = False` turns the pass off. SymPy
itself is imported on the first subgraph worth a try and not remembered (about 0.3 s once per
process), never for graphs without one (`Subgraph.promising`).
"""

from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np

from clgraph.config import config
from clgraph.expr.elemwise import Elemwise
from clgraph.expr.graph import FunctionGraph
from clgraph.expr.scalar import ops as S
from clgraph.expr.shape_ops import DimShuffle
from clgraph.expr.variable import Constant, Variable
from clgraph.simplify import sympy_store as store
from clgraph.simplify.registry import rule

MAX_NODES = 40          # interior nodes of one subgraph; deeper nodes become leaves
# Transcendental calls nested along one path of a subgraph, at most; deeper ones become
# leaves. SymPy evaluates a call on building it, and on nested calls with Float
# coefficients that work grows exponentially (tanh(1.01 * tanh(...) + 0.1), 8 deep: 5 s
# in to_sympy, 12 deep: minutes), outside any time budget: a call cannot be interrupted.
MAX_NESTING = 3
TIME_BUDGET = 0.05      # seconds of SymPy work per subgraph
PASS_BUDGET = 1.0       # seconds of SymPy work per pass; then only remembered subgraphs
MAX_POLY_DEGREE = 12    # Horner form only for polynomials up to this total degree
MAX_INT_POWER = 8       # x**n, integer n up to this, becomes sqr/mul chains
MAX_CACHE = 4096        # memoised subgraphs (the cache is emptied when it is full)

# The op-cost table: rough relative cost of one element of each op on a CPU (a multiply-add
# is 1; a division and sqrt about 4; transcendental functions 10-16; a general pow, which is
# exp(y*log(x)) with special cases, 24). DimShuffle is free (an indexing change only).
# A candidate is kept only if the sum over its distinct nodes is strictly smaller.
OP_COST: dict[str, float] = {
    "add": 1, "sub": 1, "neg": 1, "abs": 1, "mul": 1, "sqr": 1,
    "true_div": 4, "sqrt": 4, "pow": 24,
    "exp": 10, "log": 10, "sin": 12, "cos": 12, "tan": 16,
    "sinh": 16, "cosh": 16, "tanh": 16,
    "arcsin": 16, "arccos": 16, "arctan": 16, "arcsinh": 16, "arccosh": 16, "arctanh": 16,
}
_FLOATS = ("float32", "float64")
_UNARY_SYMPY = ("exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh",
                "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh")
_TRANSCENDENTAL = frozenset(_UNARY_SYMPY) - {"sqrt"}

_CACHE: dict[tuple, Any] = {}   # structural key -> sympy_store program, or None
_pass_spent = [0.0]             # seconds of SymPy work in the running pass
# The budgets count this thread's CPU time: the work done, not the time spent waiting for a
# core on a loaded machine (where wall-clock budgets made results depend on the load).
_clock = time.thread_time
_ROOT_TAG = "sympy_root"      # tags survive the rewriter's rebuilding of a node
_SINGLE_TAG = "sympy_single"
_run_token: list[object] = [None]


def op_cost(node) -> float:
    op = node.op
    if isinstance(op, DimShuffle):
        return 0.0
    if isinstance(op, Elemwise):
        return float(OP_COST.get(op.scalar_op.name, 4))
    return 4.0


def _op_name(node) -> str | None:
    """The bridge's name of a node's op, or None when it has no SymPy counterpart."""
    if not isinstance(node.op, Elemwise):
        return None
    sop = node.op.scalar_op
    if isinstance(sop, S.UnaryFloat):
        return sop.fn if sop.fn in _UNARY_SYMPY else None
    for cls, name in ((S.Add, "add"), (S.Sub, "sub"), (S.Mul, "mul"), (S.TrueDiv, "true_div"),
                      (S.Neg, "neg"), (S.Sqr, "sqr"), (S.Abs, "abs"), (S.Pow, "pow")):
        if type(sop) is cls:
            return name
    return None


def _uniform_const(v) -> float | None:
    """The finite value of a constant that is the same everywhere (seen through the
    DimShuffle that broadcasting puts on a 0-d constant), else None."""
    if v.owner is not None and isinstance(v.owner.op, DimShuffle):
        v = v.owner.inputs[0]
    if isinstance(v, Constant):
        flat = np.ravel(v.data)
        if flat.size and flat.dtype.kind in "fiub" and np.all(flat == flat[0]) \
                and np.isfinite(flat[0]):
            return float(flat[0])
    return None


def _eligible(node, dtype: str) -> bool:
    if _op_name(node) is None or node.outputs[0].dtype != dtype:
        return False
    return all(i.dtype == dtype or _uniform_const(i) is not None for i in node.inputs)


def _nesting(node) -> int:
    return 1 if _op_name(node) in _TRANSCENDENTAL else 0


# ---------------------------------------------------------------- the subgraph
class Subgraph:
    """Interior nodes (toposorted, root last) and leaves (variables seen as symbols)."""

    def __init__(self, root, single_client) -> None:
        self.root = root
        self.dtype = root.outputs[0].dtype
        interior: set = {root}
        nesting = {root: _nesting(root)}  # transcendental calls from the root down to it
        frontier = [root]
        while frontier and len(interior) < MAX_NODES:
            node = frontier.pop(0)
            for inp in node.inputs:
                owner = inp.owner
                if owner is None or owner in interior or len(interior) >= MAX_NODES:
                    continue
                depth = nesting[node] + _nesting(owner)
                if depth <= MAX_NESTING and single_client(inp) and \
                        _eligible(owner, self.dtype):
                    interior.add(owner)
                    nesting[owner] = depth
                    frontier.append(owner)
        self.nodes = [n for n in _toposort_nodes(root) if n in interior]
        self.leaves: list[Variable] = []
        for n in self.nodes:
            for i in n.inputs:
                if (i.owner not in interior and _uniform_const(i) is None
                        and i not in self.leaves):
                    self.leaves.append(i)

    def key(self) -> tuple:
        ids = {v: ("x", k) for k, v in enumerate(self.leaves)}
        parts = []
        for k, n in enumerate(self.nodes):
            refs = []
            for i in n.inputs:
                if i in ids:
                    refs.append(ids[i])
                else:
                    c = _uniform_const(i)
                    refs.append(("c", c, i.dtype))
            ids[n.outputs[0]] = ("n", k)
            parts.append((_op_name(n), tuple(refs)))
        leaves = tuple((v.dtype, v.type.shape) for v in self.leaves)
        return (self.dtype, leaves, tuple(parts))

    def cost(self) -> float:
        return sum(op_cost(n) for n in self.nodes)

    def promising(self) -> bool:
        """A cheap filter before SymPy is imported: something it could improve.

        Importing SymPy costs ~0.3 s, most of a small function's compile time, so subgraphs
        it cannot make cheaper are skipped here: one op alone and two cheap ops (add, sub,
        mul, neg, sqr, abs) are canonicalize's business; otherwise a general pow, two
        transcendental calls, or an atom used twice (the room for factoring, cancelling and
        merging) is needed. `abs(x)` counts as an atom of its own, apart from `x`: without
        assumptions SymPy sees nothing shared between them (relu's `0.5 * (x + abs(x))`)."""
        if len(self.nodes) < 2:
            return False
        names = [_op_name(n) for n in self.nodes]
        if "pow" in names:
            return True
        if sum(nm in _TRANSCENDENTAL for nm in names) >= 2:
            return True
        if len(self.nodes) < 3 and all(OP_COST.get(nm, 4) <= 1 for nm in names):
            return False
        uses: dict = {}
        for n, nm in zip(self.nodes, names):
            for i in n.inputs:
                if _uniform_const(i) is None:
                    atom = ("abs", i) if nm == "abs" and i in self.leaves else i
                    uses[atom] = uses.get(atom, 0) + 1
        return any(c >= 2 for c in uses.values())


def _toposort_nodes(root) -> list:
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for i in node.inputs:
            if i.owner is not None and i.owner not in seen:
                stack.append((i.owner, False))
    return order


# ---------------------------------------------------------------- clgraph <-> SymPy
@functools.cache
def _sympy():
    import sympy

    _warm(sympy)
    return sympy


def _warm(sp) -> None:
    """Run each transformation once on a small expression: SymPy's first use of them sets
    up caches and loads modules (~25 ms here), which would otherwise count against the
    first subgraph's budget and make its result depend on the machine's speed."""
    a, b = sp.symbols("a b", real=True)
    e = sp.exp(a) * sp.exp(b) + a * a + 2 * a
    sp.powsimp(e)
    sp.factor_terms(e)
    sp.horner(a * a + 2 * a, a)


def _sym_const(sp, value: float):
    if float(value).is_integer() and abs(value) < 2 ** 53:
        return sp.Integer(int(value))
    return sp.Float(float(value), 17)


def to_sympy(sub: Subgraph):
    sp = _sympy()
    syms = sp.symbols(f"x0:{len(sub.leaves)}") if sub.leaves else ()
    env: dict = dict(zip(sub.leaves, syms))
    fns = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos,
           "tan": sp.tan, "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh,
           "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan, "arcsinh": sp.asinh,
           "arccosh": sp.acosh, "arctanh": sp.atanh}
    for n in sub.nodes:
        args = [env[i] if i in env else _sym_const(sp, _uniform_const(i)) for i in n.inputs]
        name = _op_name(n)
        if name in fns:
            e = fns[name](args[0])
        elif name == "add":
            e = args[0] + args[1]
        elif name == "sub":
            e = args[0] - args[1]
        elif name == "mul":
            e = args[0] * args[1]
        elif name == "true_div":
            e = args[0] / args[1]
        elif name == "neg":
            e = -args[0]
        elif name == "sqr":
            e = args[0] ** 2
        elif name == "abs":
            e = sp.Abs(args[0])
        else:  # pow
            e = args[0] ** args[1]
        env[n.outputs[0]] = e
    return env[sub.root.outputs[0]], list(syms)


class _Untranslatable(Exception):
    pass


def from_sympy(expr, syms, leaves, dtype: str) -> Variable:
    """Build clgraph ops for `expr`; equal subexpressions become one node (the CSE)."""
    import clgraph.tensor as T

    sp = _sympy()
    leaf_of = dict(zip(syms, leaves))
    memo: dict = {}
    unary = {sp.exp: T.exp, sp.log: T.log, sp.sin: T.sin, sp.cos: T.cos, sp.tan: T.tan,
             sp.sinh: T.sinh, sp.cosh: T.cosh, sp.tanh: T.tanh, sp.asin: T.arcsin,
             sp.acos: T.arccos, sp.atan: T.arctan, sp.asinh: T.arcsinh, sp.acosh: T.arccosh,
             sp.atanh: T.arctanh, sp.Abs: T.abs_}

    def const(v) -> Variable:
        try:
            f = float(v)
        except TypeError as e:
            raise _Untranslatable(str(v)) from e
        if not np.isfinite(f):
            raise _Untranslatable(str(v))
        return T.constant(f, dtype=dtype)

    def int_power(b: Variable, n: int) -> Variable:
        if n == 1:
            return b
        if n % 2 == 0:
            return T.sqr(int_power(b, n // 2))
        return T.mul(int_power(b, n - 1), b)

    def build(e) -> Variable:
        if e in memo:
            return memo[e]
        memo[e] = out = _build(e)
        return out

    def _build(e) -> Variable:
        if e in leaf_of:
            return leaf_of[e]
        if e.is_Number or e.is_NumberSymbol:
            return const(e)
        if e.is_Add:
            coeff, terms = e.as_coeff_add()
            pos, neg = [], []
            for t in terms:
                c, rest = t.as_coeff_Mul()
                (neg if c.is_negative else pos).append(-t if c.is_negative else t)
            if coeff.is_negative:
                neg.append(-coeff)
            elif coeff != 0:
                pos.append(coeff)
            acc = None
            for t in pos:
                v = build(t)
                acc = v if acc is None else T.add(acc, v)
            for t in neg:
                v = build(t)
                acc = T.neg(v) if acc is None else T.sub(acc, v)
            return acc
        if e.is_Mul:
            coeff, factors = e.as_coeff_mul()
            num, den = [], []
            for f in factors:
                b, x = f.as_base_exp()
                if x.is_Number and x.is_negative:
                    den.append(b ** -x)
                else:
                    num.append(f)
            sign = 1
            if coeff.is_negative:
                sign, coeff = -1, -coeff
            if coeff != 1:
                num.insert(0, coeff)
            acc = None
            for f in num:
                v = build(f)
                acc = v if acc is None else T.mul(acc, v)
            if den:
                d = None
                for f in den:
                    v = build(f)
                    d = v if d is None else T.mul(d, v)
                acc = T.true_div(acc if acc is not None else const(1), d)
            if acc is None:
                acc = const(1)
            return T.neg(acc) if sign < 0 else acc
        if e.is_Pow:
            b, x = e.as_base_exp()
            if x.is_Integer and 1 <= int(x) <= MAX_INT_POWER:
                return int_power(build(b), int(x))
            if x.is_Integer and -MAX_INT_POWER <= int(x) <= -1:
                return T.true_div(const(1), int_power(build(b), -int(x)))
            if x == sp.Rational(1, 2):
                return T.sqrt(build(b))
            if x == sp.Rational(-1, 2):
                return T.true_div(const(1), T.sqrt(build(b)))
            if b == sp.E:
                return T.exp(build(x))
            return T.pow(build(b), build(x))
        fn = unary.get(e.func)
        if fn is not None and len(e.args) == 1:
            return fn(build(e.args[0]))
        raise _Untranslatable(type(e).__name__)

    return build(expr)


def _candidate_cost(out: Variable, leaves) -> float:
    stop = set(leaves)
    seen: set = set()
    total = 0.0
    stack = [out]
    while stack:
        v = stack.pop()
        if v in stop or v.owner is None or v.owner in seen:
            continue
        seen.add(v.owner)
        total += op_cost(v.owner)
        stack.extend(v.owner.inputs)
    return total


# ---------------------------------------------------------------- candidates
def _candidates(expr, syms, deadline: float):
    """Bounded rewrites of `expr`, each a SymPy expression (duplicates dropped)."""
    sp = _sympy()
    out = [expr]

    def add(e):
        if e is not None and all(e != o for o in out):
            out.append(e)

    steps = [
        lambda e: sp.powsimp(e),
        lambda e: _horner(sp, e, syms),
        lambda e: sp.factor_terms(e),
        lambda e: _log_even_powers(sp, e),
        lambda e: _pythagoras(sp, e),
    ]
    for step in steps:
        for base in list(out):
            if _clock() > deadline:
                return out
            try:
                add(step(base))
            except Exception:  # noqa: BLE001 - a failed transformation is no candidate
                continue
    return out


def _horner(sp, e, syms):
    free = [s for s in syms if s in e.free_symbols]
    if not free or not e.is_polynomial(*free):
        return None
    poly = sp.Poly(e, *free)
    if poly.total_degree() > MAX_POLY_DEGREE or poly.total_degree() < 2:
        return None
    return sp.horner(e, *free)


def _log_even_powers(sp, e):
    """log(b**2k) -> 2k*log(abs(b)): true for real b != 0 (and both are -inf at 0)."""
    def fix(arg):
        b, x = arg.as_base_exp()
        if x.is_Integer and int(x) % 2 == 0 and int(x) != 0:
            return x * sp.log(sp.Abs(b))
        return sp.log(arg)
    return e.replace(lambda t: t.func == sp.log, lambda t: fix(t.args[0]))


def _pythagoras(sp, e):
    """sin^2 -> 1 - cos^2 and cosh^2 -> 1 + sinh^2, then let the terms cancel."""
    new = e
    for t in e.atoms(sp.sin):
        new = new.subs(t ** 2, 1 - sp.cos(t.args[0]) ** 2)
    for t in e.atoms(sp.cosh):
        new = new.subs(t ** 2, 1 + sp.sinh(t.args[0]) ** 2)
    new = sp.expand(new) if sp.count_ops(new) <= 4 * sp.count_ops(e) + 8 else new
    return new if sp.count_ops(new) < sp.count_ops(e) else None


# ---------------------------------------------------------------- the value check
def _test_points(n_leaves: int, dtype: str, seed: int = 0) -> list[np.ndarray]:
    fi = np.finfo(dtype)
    specials = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, fi.tiny, -fi.tiny,
                         np.sqrt(fi.max) * 4, -np.sqrt(fi.max) * 4, fi.max, -fi.max, 0.5],
                        dtype=dtype)
    rng = np.random.default_rng(seed)
    n_rand = 64
    # Random points are moderate (|v| <= 10, no overflow in a few dozen ops); the extremes are
    # the specials, tried on one leaf at a time (the others moderate) and on all leaves at
    # once. Mixed extremes (x = +huge with y = -huge) are not tried: there exp(x)*exp(y) is
    # inf*0 = NaN or inf and exp(x + y) is the correct finite value.
    mags = 10.0 ** rng.uniform(-4, 1, (n_leaves, n_rand // 2))
    rand = np.concatenate([rng.uniform(-4, 4, (n_leaves, n_rand // 2)),
                           mags * rng.choice([-1.0, 1.0], mags.shape)], axis=1)
    blocks = [rand]
    moderate = rng.uniform(-2, 2, (n_leaves, len(specials)))
    for i in range(n_leaves):          # one leaf special, the others moderate
        b = moderate.copy()
        b[i] = specials
        blocks.append(b)
    blocks.append(np.tile(specials, (n_leaves, 1)))   # all leaves the same special
    pts = np.concatenate(blocks, axis=1).astype(dtype)
    return [pts[i] for i in range(n_leaves)]


_ARITH = ("add", "sub", "mul", "true_div", "sqr")


def _evaluate(out: Variable, leaves, values) -> tuple[np.ndarray, np.ndarray, np.ndarray, set]:
    """`out` at the points; the largest finite |intermediate| at each point; where a NaN was
    born of an indeterminate form of infinities (inf - inf, 0 * inf, inf / inf in add, sub,
    mul, true_div, sqr with no NaN input); and the leaves `out` depends on."""
    env: dict = dict(zip(leaves, values))
    npts = len(values[0])
    scale = np.zeros(npts)
    for v in values:
        scale = np.maximum(scale, np.where(np.isfinite(v), np.abs(v), 0))
    indeterminate = np.zeros(npts, bool)
    used: set = set()

    def flat(a):
        a = np.ravel(a)
        return np.broadcast_to(a, (npts,)) if a.size == 1 else a

    def val(v):
        if v in env:
            if v in leaves:
                used.add(v)
            return env[v]
        if v.owner is None:
            if isinstance(v, Constant):
                return v.data
            raise KeyError(v)
        nonlocal scale, indeterminate
        node = v.owner
        ins = [val(i) for i in node.inputs]
        res = node.op.perform(node, ins)
        for o, r in zip(node.outputs, res):
            env[o] = r
        r = flat(env[v])
        if r.size == npts:
            scale = np.maximum(scale, np.where(np.isfinite(r), np.abs(r), 0))
            if _op_name(node) in _ARITH:
                fins = [flat(i) for i in ins if np.size(i) in (1, npts)]
                no_nan_in = np.all([~np.isnan(i) for i in fins], axis=0)
                inf_in = np.any([np.isinf(i) for i in fins], axis=0)
                indeterminate |= np.isnan(r) & no_nan_in & inf_in
        return env[v]

    return flat(val(out)).copy(), scale, indeterminate, used


def values_agree(original: Variable, candidate: Variable, leaves, dtype: str | None = None
                 ) -> bool:
    """Does `candidate` compute `original` over `leaves`, evaluated with `perform`?

    On random points and on 0, -0, +-1, +-inf, nan, tiny and huge values of each leaf
    (see `_test_points`):
    - a candidate NaN only where the original is NaN; a candidate inf only where the original
      has the same inf (so log(exp(x)) -> x is refused: inf at x = huge);
    - an original NaN stays NaN, except one born of an indeterminate form of infinities
      (inf - inf, 0 * inf, inf / inf; not 0 / 0, not a function's domain error such as
      sin(inf) or log(-1), not a NaN input), and only if the candidate still depends on every
      leaf the original depends on: there the candidate's value (the limit, as Horner's
      -inf for x**3 + 2*x**2 + x at x = -inf) is let through. So x - x + y -> y is refused at
      x = inf, and x / x -> 1 at x = 0;
    - finite values agree within 8 ulps of the result times min(1 + sum |leaves|, 1/eps),
      plus 8 ulps of the largest finite intermediate of either form (the cancellation
      bound), plus 8 times the smallest normal number.
    """
    dtype = dtype or original.dtype
    if candidate.dtype != dtype or not leaves:
        return False
    pts = _test_points(len(leaves), dtype)
    with np.errstate(all="ignore"):
        o, oscale, indeterminate, oused = _evaluate(original, leaves, pts)
        c, cscale, _, cused = _evaluate(candidate, leaves, pts)
        if o.shape != c.shape:
            return False
        o, c = o.astype("float64"), c.astype("float64")
        onan, cnan = np.isnan(o), np.isnan(c)
        excused = onan & indeterminate if oused <= cused else np.zeros(o.shape, bool)
        if np.any(cnan & ~onan) or np.any(onan & ~cnan & ~excused):
            return False
        oinf, cinf = np.isinf(o), np.isinf(c)
        if np.any(cinf & ~(oinf | excused)) or np.any(oinf & (o != c)):
            return False
        both = np.isfinite(o) & np.isfinite(c)
        eps = float(np.finfo(dtype).eps)
        # Capped at 1/eps (no digit is right past it), which also keeps 0 * cond finite.
        cond = np.minimum(1.0 + np.sum([np.where(np.isfinite(p), np.abs(p.astype("float64")),
                                                 0) for p in pts], axis=0), 1 / eps)
        tol = 8 * eps * (np.abs(o) * cond + np.maximum(oscale, cscale)) + \
            8 * float(np.finfo(dtype).tiny)
        return bool(np.all(np.abs(o - c)[both] <= tol[both]))


# ---------------------------------------------------------------- the rule and the pass
def simplify_subgraph(sub: Subgraph) -> Variable | None:
    """The cheapest checked candidate for `sub`'s root output, or None.

    Results are kept per structural key, as sympy_store programs: in memory, and under
    config.compiledir for new processes (an entry from disk is value-checked again)."""
    key = sub.key()
    orig = sub.root.outputs[0]
    found = _CACHE.get(key, store.MISSING)
    from_disk = found is store.MISSING
    if from_disk:
        found = store.load(key)
    if found is not store.MISSING:
        var = _rebuild(found, sub)
        if var is not None and from_disk and not (
                var.type == orig.type and values_agree(orig, var, sub.leaves, sub.dtype)):
            var = found = store.MISSING  # a stale or damaged entry: worked out again below
        if found is not store.MISSING:
            _remember(key, found)
            return var
    if _pass_spent[0] > PASS_BUDGET:
        return None  # the pass has used its SymPy time: known subgraphs only from here on
    t0 = _clock()
    try:
        return _work_out(sub, key, orig)
    finally:
        _pass_spent[0] += _clock() - t0


def _rebuild(found: list | None, sub: Subgraph) -> Variable | None:
    if found is None:
        return None
    try:
        var = store.from_program(found, sub.leaves, sub.dtype)
    except (KeyError, ValueError, TypeError, IndexError):
        return None
    return var


def _remember(key: tuple, result: list | None, persist: bool = False) -> None:
    if len(_CACHE) >= MAX_CACHE:
        _CACHE.clear()
    _CACHE[key] = result
    if persist:
        store.save(key, result)


def _work_out(sub: Subgraph, key: tuple, orig: Variable) -> Variable | None:
    _remember(key, None)  # also what a subgraph that fails or runs out of time is left as
    sp = _sympy()  # the first import (~0.4 s, once per process) is not the subgraph's time
    deadline = _clock() + TIME_BUDGET
    try:
        expr, syms = to_sympy(sub)
    except Exception:  # noqa: BLE001
        return None
    base = sub.cost()
    scored = []
    for cand in _candidates(expr, syms, deadline):
        try:
            var = _guarded_build(sp, cand, syms, sub, expr)
        except (_Untranslatable, TypeError, ValueError):
            continue
        cost = _candidate_cost(var, sub.leaves)
        if cost < base:
            scored.append((cost, len(scored), cand, var))
    for _, _, _cand, var in sorted(scored, key=lambda t: t[:2]):
        if _clock() > deadline + TIME_BUDGET:  # the check gets one more budget
            return None
        if var.type == orig.type and values_agree(orig, var, sub.leaves, sub.dtype):
            prog = store.to_program(var, sub.leaves, _op_name, _uniform_const)
            rebuilt = _rebuild(prog, sub)
            if rebuilt is not None and rebuilt.type == orig.type:
                _remember(key, prog, persist=True)
                return rebuilt
            return var  # not expressible as a program: used, not remembered
    # Nothing cheaper: remembered across processes too, unless time ran out on the way.
    _remember(key, None, persist=_clock() <= deadline)
    return None


def _guarded_build(sp, cand, syms, sub, expr) -> Variable:
    """Build `cand`, adding (s - s) for each symbol of the original it lost."""
    import clgraph.tensor as T

    var = from_sympy(cand, syms, sub.leaves, sub.dtype)
    leaf_of = dict(zip(syms, sub.leaves))
    for s in syms:
        if s in expr.free_symbols and s not in cand.free_symbols:
            x = leaf_of[s]
            var = T.add(var, T.sub(x, x))
    return var


@rule("sympy", tracks=Elemwise)
def sympy_simplify(node):
    """A float elementwise subgraph -> a cheaper SymPy-derived form that keeps its values."""
    if not config.sympy_simplify or node.tag.get(_ROOT_TAG) is not _run_token[0]:
        return None
    if node.outputs[0].dtype not in _FLOATS or not _eligible(node, node.outputs[0].dtype):
        return None
    token = _run_token[0]
    sub = Subgraph(node, lambda v: v.owner.tag.get(_SINGLE_TAG) is token)
    if not sub.leaves or not sub.promising():
        return None
    out = simplify_subgraph(sub)
    return None if out is None else [out]


def sympy_pass(fgraph: FunctionGraph) -> FunctionGraph:
    """The "sympy" pass: mark subgraph roots, then run the rule over the graph."""
    from clgraph.simplify.rewriter import apply_rules

    if not config.sympy_simplify:
        return fgraph
    token = object()
    _run_token[0] = token
    _pass_spent[0] = 0.0
    marked = []
    for node in fgraph.toposort():
        out = node.outputs[0]
        if len(node.outputs) != 1 or out.dtype not in _FLOATS or not _eligible(node, out.dtype):
            continue
        clients = fgraph.clients(out)
        single = (len(clients) == 1 and clients[0][0] != "output"
                  and _eligible(clients[0][0], out.dtype))
        node.tag[_SINGLE_TAG if single else _ROOT_TAG] = token
        marked.append(node)
    try:
        return apply_rules(fgraph, "sympy")
    finally:
        for node in marked:
            node.tag.pop(_ROOT_TAG, None)
            node.tag.pop(_SINGLE_TAG, None)
        _run_token[0] = None
