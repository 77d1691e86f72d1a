"""The elementwise op table: one `OpCase` per function and operator of API.md.

`tests/ops/test_elemwise.py` expands every row over dtypes, sizes, broadcast patterns,
views and modes against NumPy; the gradient tests will read `grad`.

A row says how to build the op on symbolic variables (`build`), its NumPy counterpart
(`numpy_fn`), where its inputs are drawn from (`domain`, one name or one per input: see
`DOMAINS`), which input dtypes it accepts (`dtypes`; binary and ternary rows take all inputs
of that dtype), and the documented exceptions to plain NumPy equality:

- `int_to_float`: integer and bool inputs become float first, by Theano's `upgrade_to_float`
  (int8, int16, uint8, bool -> float32; int32, int64 -> float64), where NumPy gives float16
  for the 8-bit ones.
- `valid(*inputs) -> mask`: where the result is defined at all; elsewhere C leaves it
  undefined (float -> int casts of NaN, inf or out-of-range values) or NumPy raises (integer
  powers with negative exponents), and the element is not compared.
- `signed_zero=False`: a zero result may have the wrong sign.
- `tol`: a multiplier on the default tolerance (16 ulp, relative to max(1, |value|)); 2
  for tgamma and lgamma, which OpenCL allows 16 ulp (measured here: at most 7.5 ulp for
  all functions, psi and erfinv included).

References for what NumPy lacks: Python's `math` (erf, erfc, gamma, lgamma) and mpmath
(erfinv, psi), both computed in float64 and rounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np

import clgraph.tensor as T

FLOATS = ("float32", "float64")
INTS = ("int8", "int16", "int32", "int64", "uint8")
ALL = FLOATS + INTS + ("bool",)
NOBOOL = FLOATS + INTS
DISCRETE = INTS + ("bool",)

# Input domains: the bulk of the values (edge values are added to every domain).
DOMAINS = ("any", "positive", "unit", "ge1", "nonzero", "small", "exponent", "near0")


@dataclass(frozen=True)
class OpCase:
    name: str
    build: Callable
    numpy_fn: Callable
    n_inputs: int = 1
    domain: str | tuple[str, ...] = "any"
    dtypes: tuple[str, ...] = ALL
    grad: bool = True
    int_to_float: bool = False
    valid: Callable | None = None
    tol: float = 1.0
    signed_zero: bool = True

    @property
    def domains(self) -> tuple[str, ...]:
        d = self.domain
        return (d,) * self.n_inputs if isinstance(d, str) else tuple(d)

    def __str__(self) -> str:
        return self.name


# ---------------------------------------------------------------- references NumPy lacks
def _vectorized(fn: Callable) -> Callable:
    cache: dict = {}  # keyed by sign too: 0.0 == -0.0 (mpmath is slow, inputs repeat)

    def one(v: float) -> float:
        key = (v, math.copysign(1.0, v))
        if key not in cache:
            cache[key] = fn(v)
        return cache[key]

    def run(x):
        x = np.asarray(x)
        flat = [one(float(v)) for v in x.astype("float64").ravel()]
        return np.asarray(flat, dtype="float64").reshape(x.shape).astype(x.dtype)
    return run


def _gamma1(v: float) -> float:
    if v == 0:
        return math.copysign(math.inf, v)
    if math.isinf(v):
        return v if v > 0 else math.nan
    try:
        return math.gamma(v)
    except OverflowError:
        return math.inf
    except ValueError:  # poles at the negative integers
        return math.nan


def _gammaln1(v: float) -> float:
    # C99 lgamma: +inf at the poles and at both infinities (SciPy's gammaln(-inf) is -inf).
    if math.isinf(v):
        return math.inf
    try:
        return math.lgamma(v)
    except (ValueError, OverflowError):
        return math.inf


def _psi1(v: float) -> float:
    # mpmath (a dependency through SymPy), not SciPy: SciPy's psi is ~500 ulp off near the
    # negative poles (psi(-15.999)), where clgraph's is right.
    if math.isnan(v) or v == -math.inf or (v < 0 and v == math.floor(v)):
        return math.nan
    if v == 0:
        return -math.copysign(math.inf, v)
    if v == math.inf:
        return math.inf
    with mpmath.workdps(30):
        return float(mpmath.digamma(v))


def _tri_gamma1(v: float) -> float:
    if math.isnan(v) or v == -math.inf:
        return math.nan
    if v <= 0 and v == math.floor(v):
        return math.inf  # double poles, as SciPy's polygamma(1, x)
    if v == math.inf:
        return 0.0
    with mpmath.workdps(30):
        return float(mpmath.psi(1, v))


def _erfinv1(v: float) -> float:
    if math.isnan(v) or abs(v) > 1:
        return math.nan
    if abs(v) == 1 or v == 0:
        return v * math.inf if v else v
    with mpmath.workdps(30):
        return float(mpmath.erfinv(v))


erf_ref = _vectorized(math.erf)
erfc_ref = _vectorized(math.erfc)
erfinv_ref = _vectorized(_erfinv1)
psi_ref = _vectorized(_psi1)
tri_gamma_ref = _vectorized(_tri_gamma1)
gamma_ref = _vectorized(_gamma1)
gammaln_ref = _vectorized(_gammaln1)


def round_half_away_ref(x):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        return x.copy()
    r = np.trunc(x)  # x - trunc(x) is exact, so the tie test is too
    return r + np.where(np.abs(x - r) >= 0.5, np.sign(x), 0).astype(x.dtype)


def round_half_even_ref(x):
    """np.round, not np.rint, which gives floats for integers; bools stay bools here where
    NumPy gives float16 (clgraph has no float16)."""
    x = np.asarray(x)
    return x.copy() if x.dtype == bool else np.round(x)


def int_pow_ref(a, b):
    """NumPy's power; for integers, where NumPy raises (negative exponents), the truncated
    1 / a**-b the kernels define (0 for a = 0)."""
    a, b = np.asarray(a), np.asarray(b)
    out = np.power(np.zeros(0, a.dtype), np.zeros(0, b.dtype)).dtype  # bool ** bool: int8
    if out.kind not in "iu":
        with np.errstate(all="ignore"):
            return np.power(a, b)
    a, b = np.asarray(a).astype(out), np.asarray(b).astype(out)
    negative = b < 0
    with np.errstate(all="ignore"):
        r = np.power(a, np.where(negative, 0, b).astype(out))  # wraps on overflow
    inverse = np.where(a == 1, 1, np.where(a == -1, np.where(b % 2 != 0, -1, 1), 0))
    return np.where(negative, inverse, r).astype(out)


# ---------------------------------------------------------------- where results are defined
def _fits(values, dtype) -> np.ndarray:
    """Finite values whose truncation fits in integer `dtype` (C's float -> int casts)."""
    if dtype == "bool" or np.dtype(dtype).kind == "f":
        return np.ones(np.shape(values), bool)
    info = np.iinfo(dtype)
    lo, hi = float(info.min), float(int(info.max) + 1)  # both exact in float64
    with np.errstate(all="ignore"):
        v = np.trunc(np.asarray(values, dtype="float64"))
        return np.isfinite(v) & (v >= lo) & (v < hi)


def _cast_valid(dtype: str) -> Callable:
    def valid(x):
        if np.asarray(x).dtype.kind != "f":
            return np.ones(np.shape(x), bool)
        return _fits(x, dtype)
    return valid


def _iround_valid(x):
    return _fits(round_half_away_ref(x), "int64") if np.asarray(x).dtype.kind == "f" \
        else np.ones(np.shape(x), bool)


# ---------------------------------------------------------------- the table
def _unary_float(name, np_fn, domain="any", **kw) -> OpCase:
    return OpCase(name, getattr(T, name), np_fn, 1, domain, ALL, int_to_float=True, **kw)


CASES: list[OpCase] = [
    # Transcendental functions: ints become floats (Theano's upgrade_to_float).
    _unary_float("exp", np.exp),
    _unary_float("exp2", np.exp2),
    _unary_float("log", np.log, "positive"),
    _unary_float("log2", np.log2, "positive"),
    _unary_float("log10", np.log10, "positive"),
    _unary_float("log1p", np.log1p, "unit"),
    _unary_float("expm1", np.expm1),
    _unary_float("sqrt", np.sqrt, "positive"),
    _unary_float("sin", np.sin),
    _unary_float("cos", np.cos),
    _unary_float("tan", np.tan),
    _unary_float("arcsin", np.arcsin, "unit"),
    _unary_float("arccos", np.arccos, "unit"),
    _unary_float("arctan", np.arctan),
    _unary_float("sinh", np.sinh),
    _unary_float("cosh", np.cosh),
    _unary_float("tanh", np.tanh),
    _unary_float("arcsinh", np.arcsinh),
    _unary_float("arccosh", np.arccosh, "ge1"),
    _unary_float("arctanh", np.arctanh, "unit"),
    _unary_float("erf", erf_ref),
    _unary_float("erfc", erfc_ref),
    _unary_float("erfinv", erfinv_ref, "unit"),
    # PoCL's tgamma underflows to +0 where the value is negative (x < -184 in float64).
    _unary_float("gamma", gamma_ref, tol=2, signed_zero=False),
    _unary_float("gammaln", gammaln_ref, tol=2),
    _unary_float("psi", psi_ref),
    _unary_float("tri_gamma", tri_gamma_ref, grad=False),  # its derivative: not implemented
    # Same-dtype unary functions.
    OpCase("sqr", T.sqr, np.square),
    OpCase("abs_", T.abs_, np.abs),
    OpCase("sgn", T.sgn, np.sign, dtypes=NOBOOL, grad=False),
    OpCase("floor", T.floor, np.floor, grad=False),
    OpCase("ceil", T.ceil, np.ceil, grad=False),
    OpCase("trunc", T.trunc, np.trunc, grad=False),
    OpCase("round_half_to_even", T.round_half_to_even, round_half_even_ref, grad=False),
    # iround's other mode: round_half_to_even is covered above, and its default in
    # test_methods (both in one graph would share one rounding node, unfused).
    OpCase("iround", lambda x: T.iround(x, "half_away_from_zero"),
           lambda x: round_half_away_ref(x).astype("int64"), grad=False, valid=_iround_valid),
    OpCase("invert", T.invert, np.invert, dtypes=DISCRETE, grad=False),
    OpCase("isnan", T.isnan, np.isnan, grad=False),
    OpCase("isinf", T.isinf, np.isinf, grad=False),
    *[OpCase(f"cast_{dt}", (lambda d: lambda x: T.cast(x, d))(dt),
             (lambda d: lambda x: x.astype(d))(dt), grad=dt in FLOATS, valid=_cast_valid(dt))
      for dt in ALL],
    # Binary functions.
    OpCase("add", T.add, np.add, 2),
    OpCase("sub", T.sub, np.subtract, 2, dtypes=NOBOOL),
    OpCase("mul", T.mul, np.multiply, 2),
    OpCase("true_div", T.true_div, np.true_divide, 2),
    OpCase("int_div", T.int_div, np.floor_divide, 2, ("any", "nonzero"), grad=False),
    OpCase("mod", T.mod, np.mod, 2, ("any", "nonzero")),
    OpCase("pow", T.pow, int_pow_ref, 2, ("small", "exponent")),
    OpCase("maximum", T.maximum, np.maximum, 2),
    OpCase("minimum", T.minimum, np.minimum, 2),
    OpCase("arctan2", T.arctan2, np.arctan2, 2, int_to_float=True),
    OpCase("eq", T.eq, np.equal, 2, grad=False),
    OpCase("neq", T.neq, np.not_equal, 2, grad=False),
    OpCase("lt", T.lt, np.less, 2, grad=False),
    OpCase("le", T.le, np.less_equal, 2, grad=False),
    OpCase("gt", T.gt, np.greater, 2, grad=False),
    OpCase("ge", T.ge, np.greater_equal, 2, grad=False),
    OpCase("and_", T.and_, np.bitwise_and, 2, dtypes=DISCRETE, grad=False),
    OpCase("or_", T.or_, np.bitwise_or, 2, dtypes=DISCRETE, grad=False),
    OpCase("xor", T.xor, np.bitwise_xor, 2, dtypes=DISCRETE, grad=False),
    OpCase("isclose", T.isclose, np.isclose, 2, ("any", "near0"), grad=False),
    # Ternary functions.
    OpCase("clip", T.clip, np.clip, 3),
    OpCase("switch", T.switch, np.where, 3),
    OpCase("where", T.where, np.where, 3),
    # Operators on variables.
    OpCase("op_add", lambda x, y: x + y, lambda x, y: x + y, 2),
    OpCase("op_sub", lambda x, y: x - y, lambda x, y: x - y, 2, dtypes=NOBOOL),
    OpCase("op_mul", lambda x, y: x * y, lambda x, y: x * y, 2),
    OpCase("op_truediv", lambda x, y: x / y, lambda x, y: x / y, 2),
    OpCase("op_floordiv", lambda x, y: x // y, lambda x, y: x // y, 2, ("any", "nonzero"),
           grad=False),
    OpCase("op_mod", lambda x, y: x % y, lambda x, y: x % y, 2, ("any", "nonzero")),
    OpCase("op_pow", lambda x, y: x ** y, int_pow_ref, 2, ("small", "exponent")),
    OpCase("op_neg", lambda x: -x, lambda x: -x, dtypes=NOBOOL),
    OpCase("op_abs", abs, abs),
    OpCase("op_lt", lambda x, y: x < y, lambda x, y: x < y, 2, grad=False),
    OpCase("op_le", lambda x, y: x <= y, lambda x, y: x <= y, 2, grad=False),
    OpCase("op_gt", lambda x, y: x > y, lambda x, y: x > y, 2, grad=False),
    OpCase("op_ge", lambda x, y: x >= y, lambda x, y: x >= y, 2, grad=False),
    OpCase("op_and", lambda x, y: x & y, lambda x, y: x & y, 2, dtypes=DISCRETE, grad=False),
    OpCase("op_or", lambda x, y: x | y, lambda x, y: x | y, 2, dtypes=DISCRETE, grad=False),
    OpCase("op_xor", lambda x, y: x ^ y, lambda x, y: x ^ y, 2, dtypes=DISCRETE, grad=False),
    OpCase("op_invert", lambda x: ~x, lambda x: ~x, dtypes=DISCRETE, grad=False),
]

# API.md's elementwise functions and operators, each of which the table must cover.
API_FUNCTIONS = (
    "exp exp2 log log2 log10 log1p expm1 sqrt sqr sin cos tan arcsin arccos arctan arctan2 "
    "sinh cosh tanh arcsinh arccosh arctanh abs_ sgn floor ceil round_half_to_even iround trunc "
    "erf erfc erfinv gamma gammaln psi maximum minimum pow mod true_div int_div clip switch "
    "where eq neq lt le gt ge and_ or_ xor invert isnan isinf isclose cast").split()
API_OPERATORS = ("add sub mul truediv floordiv mod pow neg abs lt le gt ge and or xor "
                 "invert").split()

CASES_BY_NAME = {c.name: c for c in CASES}
assert len(CASES_BY_NAME) == len(CASES), "case names must be unique"

# Ops whose `/` follows Theano: int / int gives floatX when both are at most 32 bits.
TRUE_DIV = ("true_div", "op_truediv")
