"""The scalar operations of API.md, table-driven: a row per op, a class per typing rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.dtypes import cl_type
from clgraph.expr.scalar import special, special_code
from clgraph.expr.scalar.base import ScalarOp
from clgraph.expr.scalar.codegen import CodeCtx


def _errstate(fn: Callable) -> Callable:
    def run(*xs):
        with np.errstate(all="ignore"):
            return fn(*xs)
    return run


# ---------------------------------------------------------------- unary float functions
# name: (NumPy reference, OpenCL builtin, or a function writing the code). Integer inputs
# become float first (Theano's upgrade_to_float).
_UNARY_FLOAT: dict[str, tuple[Callable, str]] = {
    "exp": (np.exp, "exp"), "exp2": (np.exp2, "exp2"), "expm1": (np.expm1, "expm1"),
    "log": (np.log, "log"), "log2": (np.log2, "log2"), "log10": (np.log10, "log10"),
    "log1p": (np.log1p, "log1p"), "sqrt": (np.sqrt, "sqrt"),
    "sin": (np.sin, "sin"), "cos": (np.cos, "cos"), "tan": (np.tan, "tan"),
    "arcsin": (np.arcsin, "asin"), "arccos": (np.arccos, "acos"), "arctan": (np.arctan, "atan"),
    "sinh": (np.sinh, "sinh"), "cosh": (np.cosh, "cosh"), "tanh": (np.tanh, "tanh"),
    "arcsinh": (np.arcsinh, "asinh"), "arccosh": (np.arccosh, "acosh"),
    "arctanh": (np.arctanh, "atanh"),
    "erf": (special.erf, "erf"), "erfc": (special.erfc, "erfc"),
    "gamma": (special.gamma, "tgamma"), "gammaln": (special.gammaln, "lgamma"),
    # OpenCL has no erfinv or digamma. They were to call helpers of a kernels/special.cl that
    # never existed (FileNotFoundError); written inline, they need no helper file.
    "erfinv": (special.erfinv, special_code.erfinv), "psi": (special.psi, special_code.psi),
    "tri_gamma": (special.tri_gamma, special_code.tri_gamma),
}
_TRIG = ("sin", "cos", "tan")
_TRIG_SPLIT = 65536.0


@dataclass(frozen=True)
class UnaryFloat(ScalarOp):
    fn: str = "exp"

    @property
    def name(self) -> str:
        return self.fn

    def out_dtype(self, a: str) -> str:
        return D.upgrade_to_float(a)

    def impl(self, a):
        out = self.out_dtype(a.dtype.name)
        with np.errstate(all="ignore"):  # the float64 references overflow float32: inf
            return np.asarray(_UNARY_FLOAT[self.fn][0](a.astype(out)), dtype=out)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x = ctx.cast(args[0], in_dtypes[0], out_dtype)
        fn = _UNARY_FLOAT[self.fn][1]
        if callable(fn):
            return fn(ctx, x, out_dtype)
        if fn in _TRIG and out_dtype == "float32" and ctx.width > 1:
            # PoCL 3.0's floatN sin/cos/tan are wrong (sin(1e-30) = 0.0099) in lanes with
            # |x| <= ~1e-3 when another lane of the vector is past ~4e6 (large-argument
            # reduction). Lanes below _TRIG_SPLIT are computed apart, without the large ones.
            # The split costs a second call, so it runs only when some lane is large.
            x = ctx.let(x, out_dtype)
            big = f"fabs({x}) > {ctx.literal(_TRIG_SPLIT, out_dtype)}"
            small = ctx.where(big, ctx.literal(0, out_dtype), x)
            split = ctx.where(big, f"{fn}({x})", f"{fn}({small})")
            return f"(any({big}) ? {split} : {fn}({x}))"
        return f"{fn}({x})"


# ---------------------------------------------------------------- unary, same dtype
# Signed integer +, -, * and negation in C overflow into undefined behaviour, which Clang
# exploits once ops are fused (x + 1 > x folds to true); kernels/wrap.cl's helpers compute
# them in the unsigned type and wrap as NumPy does. A uint16 product is one too: its scalar
# operands are promoted to int, where 65535 * 65535 overflows.
_WRAPPED = {"int8", "int16", "int32", "int64"}


def wrapping(fn: str, c_op: str, dtype: str, *xs: str) -> str:
    """`xs[0] c_op xs[1]` (or `c_op xs[0]`), through kernels/wrap.cl's clg_w<fn> where C's
    version could overflow into undefined behaviour."""
    if dtype in _WRAPPED or (fn == "mul" and dtype == "uint16"):
        return f"clg_w{fn}({', '.join(xs)})"
    return f"({c_op}{xs[0]})" if len(xs) == 1 else f"({xs[0]} {c_op} {xs[1]})"


@dataclass(frozen=True)
class Neg(ScalarOp):
    def out_dtype(self, a):
        if a == "bool":
            raise TypeError("negation of a bool tensor is not defined; use ~x (invert)")
        return a

    def impl(self, a):
        return _errstate(np.negative)(a)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        return wrapping("neg", "-", out_dtype, args[0])


@dataclass(frozen=True)
class Abs(ScalarOp):
    def out_dtype(self, a):
        return a

    def impl(self, a):
        return np.abs(a)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        a = args[0]
        if D.is_float(out_dtype):
            return f"fabs({a})"
        if out_dtype == "bool" or not D.is_signed(out_dtype):
            return a
        # OpenCL's integer abs returns the unsigned type; NumPy keeps the signed one.
        return ctx.cast(f"abs({a})", "u" + out_dtype, out_dtype)


@dataclass(frozen=True)
class Sqr(ScalarOp):
    def out_dtype(self, a):
        return "int8" if a == "bool" else a

    def impl(self, a):
        return _errstate(np.square)(a.astype(self.out_dtype(a.dtype.name)))

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        a = ctx.cast(args[0], in_dtypes[0], out_dtype)
        return wrapping("mul", "*", out_dtype, a, a)


@dataclass(frozen=True)
class Sgn(ScalarOp):
    def out_dtype(self, a):
        if a == "bool":
            raise TypeError("sgn of a bool tensor is not defined")
        return a

    def impl(self, a):
        return np.sign(a)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        a = args[0]
        if D.is_float(out_dtype):
            # OpenCL's sign(NaN) is 0 and sign(-0.0) is -0.0; NumPy's are NaN and 0.0.
            zero = ctx.literal(0, out_dtype)
            return ctx.where(f"{a} == {zero}", zero, ctx.where(f"isnan({a})", a, f"sign({a})"))
        one, zero = ctx.literal(1, out_dtype), ctx.literal(0, out_dtype)
        if not D.is_signed(out_dtype):
            return ctx.where(f"{a} > {zero}", one, zero)
        return ctx.where(f"{a} > {zero}", one, ctx.where(f"{a} < {zero}", f"(-{one})", zero))


def _round_half_away(a: np.ndarray) -> np.ndarray:
    # Not floor(|a| + 0.5): that sum rounds up for 0.49999997f. a - trunc(a) is exact.
    t = np.trunc(a)
    return t + np.where(np.abs(a - t) >= 0.5, np.sign(a), 0).astype(a.dtype)


# Rounding: identity on integers and bools, as NumPy 2's floor, ceil and trunc are.
_ROUND = {"floor": (np.floor, "floor"), "ceil": (np.ceil, "ceil"), "trunc": (np.trunc, "trunc"),
          "round_half_to_even": (np.rint, "rint"),
          "round_half_away_from_zero": (_round_half_away, "round")}


@dataclass(frozen=True)
class Rounding(ScalarOp):
    fn: str = "floor"

    @property
    def name(self) -> str:
        return self.fn

    def out_dtype(self, a):
        return a

    def impl(self, a):
        if not D.is_float(a.dtype.name):
            return a.copy()
        with np.errstate(all="ignore"):
            return _ROUND[self.fn][0](a).astype(a.dtype)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        if not D.is_float(out_dtype):
            return ctx.cast(args[0], in_dtypes[0], out_dtype)
        return f"{_ROUND[self.fn][1]}({args[0]})"


@dataclass(frozen=True)
class Invert(ScalarOp):
    def out_dtype(self, a):
        if D.is_float(a):
            raise TypeError(f"invert (~) needs an integer or bool tensor, got {a}")
        return a

    def impl(self, a):
        return np.invert(a)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        if out_dtype == "bool":
            return f"({args[0]} ^ {ctx.literal(1, 'bool')})"
        return f"(~{args[0]})"


@dataclass(frozen=True)
class IsNan(ScalarOp):
    def out_dtype(self, a):
        return "bool"

    def impl(self, a):
        return np.isnan(a) if D.is_float(a.dtype.name) else np.zeros(a.shape, bool)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        if not D.is_float(in_dtypes[0]):
            return ctx.literal(0, "bool")
        return ctx.to_bool(f"isnan({args[0]})")


@dataclass(frozen=True)
class IsInf(ScalarOp):
    def out_dtype(self, a):
        return "bool"

    def impl(self, a):
        return np.isinf(a) if D.is_float(a.dtype.name) else np.zeros(a.shape, bool)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        if not D.is_float(in_dtypes[0]):
            return ctx.literal(0, "bool")
        return ctx.to_bool(f"isinf({args[0]})")


@dataclass(frozen=True)
class Cast(ScalarOp):
    dtype: str = "float32"

    @property
    def name(self) -> str:
        return f"cast{{{self.dtype}}}"

    def out_dtype(self, a):
        return self.dtype

    def impl(self, a):
        with np.errstate(all="ignore"):
            return a.astype(self.dtype)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        return ctx.cast(args[0], in_dtypes[0], out_dtype)


@dataclass(frozen=True)
class Identity(ScalarOp):
    def out_dtype(self, a):
        return a

    def impl(self, a):
        return a.copy()

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        return args[0]


# ---------------------------------------------------------------- binary
class Binary(ScalarOp):
    nin: ClassVar[int] = 2

    def _operands(self, ctx: CodeCtx, args, in_dtypes, dtype: str) -> tuple[str, str]:
        return (ctx.cast(args[0], in_dtypes[0], dtype), ctx.cast(args[1], in_dtypes[1], dtype))


@dataclass(frozen=True)
class Add(Binary):
    def out_dtype(self, a, b):
        return D.upcast(a, b)

    def impl(self, a, b):
        return _errstate(np.add)(a, b)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x, y = self._operands(ctx, args, in_dtypes, out_dtype)
        return f"({x} | {y})" if out_dtype == "bool" else wrapping("add", "+", out_dtype, x, y)


@dataclass(frozen=True)
class Sub(Binary):
    def out_dtype(self, a, b):
        if a == "bool" and b == "bool":
            raise TypeError("subtracting bool tensors is not defined; use xor (^)")
        return D.upcast(a, b)

    def impl(self, a, b):
        return _errstate(np.subtract)(a, b)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x, y = self._operands(ctx, args, in_dtypes, out_dtype)
        return wrapping("sub", "-", out_dtype, x, y)


@dataclass(frozen=True)
class Mul(Binary):
    def out_dtype(self, a, b):
        return D.upcast(a, b)

    def impl(self, a, b):
        return _errstate(np.multiply)(a, b)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x, y = self._operands(ctx, args, in_dtypes, out_dtype)
        return f"({x} & {y})" if out_dtype == "bool" else wrapping("mul", "*", out_dtype, x, y)


@dataclass(frozen=True)
class TrueDiv(Binary):
    def out_dtype(self, a, b):
        return D.true_div_dtype(a, b)

    def impl(self, a, b):
        out = self.out_dtype(a.dtype.name, b.dtype.name)
        return _errstate(np.true_divide)(a.astype(out), b.astype(out))

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x, y = self._operands(ctx, args, in_dtypes, out_dtype)
        return f"({x} / {y})"


def _int_div_trap(ctx: CodeCtx, x: str, y: str, dtype: str) -> str:
    """Where C integer division is undefined: y == 0, and MIN / -1 (a SIGFPE on x86). There
    a divisor of 1 gives NumPy's answers: MIN // -1 wraps to MIN, and MIN % -1 is 0."""
    zero = ctx.literal(0, dtype)
    if not D.is_signed(dtype):
        return f"{y} == {zero}"
    lo, minus1 = ctx.literal(np.iinfo(dtype).min, dtype), ctx.literal(-1, dtype)
    return f"({y} == {zero}) | (({x} == {lo}) & ({y} == {minus1}))"


def _float_floor_div(ctx: CodeCtx, x: str, y: str, dtype: str) -> str:
    """NumPy's float floor division (npy_divmod), not floor(x / y): 1.0 // 0.1 is 9.0 (the
    quotient 10.0 is rounded), -1.0 // inf is -1.0 and inf // 1.0 is NaN."""
    zero, one = ctx.literal(0, dtype), ctx.literal(1, dtype)
    m = ctx.let(f"fmod({x}, {y})", dtype)
    d = ctx.let(f"(({x} - {m}) / {y})", dtype)
    fix = f"({m} != {zero}) & (({y} < {zero}) != ({m} < {zero}))"
    d = ctx.let(ctx.where(fix, f"({d} - {one})", d), dtype)
    fl = ctx.let(f"floor({d})", dtype)
    q = ctx.where(f"({d} - {fl}) > {ctx.literal(0.5, dtype)}", f"({fl} + {one})", fl)
    q = ctx.where(f"{d} == {zero}", f"copysign({zero}, {x} / {y})", q)
    return ctx.where(f"{y} == {zero}", f"({x} / {y})", q)


@dataclass(frozen=True)
class IntDiv(Binary):
    """Python's floor division, as NumPy: integer x // 0 gives 0, MIN // -1 wraps to MIN."""

    def out_dtype(self, a, b):
        out = D.upcast(a, b)
        return "int8" if out == "bool" else out

    def impl(self, a, b):
        out = self.out_dtype(a.dtype.name, b.dtype.name)
        return _errstate(np.floor_divide)(a.astype(out), b.astype(out))

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x, y = self._operands(ctx, args, in_dtypes, out_dtype)
        if D.is_float(out_dtype):
            return _float_floor_div(ctx, x, y, out_dtype)
        zero, one = ctx.literal(0, out_dtype), ctx.literal(1, out_dtype)
        safe_y = ctx.let(ctx.where(_int_div_trap(ctx, x, y, out_dtype), one, y), out_dtype)
        q = f"({x} / {safe_y})"
        if D.is_signed(out_dtype):
            # Round toward -inf: subtract one where the remainder is nonzero and signs differ.
            r = f"({x} % {safe_y})"
            q = ctx.where(f"({r} != {zero}) & (({r} ^ {safe_y}) < {zero})", f"({q} - {one})", q)
        return ctx.where(f"{y} == {zero}", zero, q)


@dataclass(frozen=True)
class Mod(Binary):
    """Python's modulo: the result takes the divisor's sign; x % 0 gives 0 for integers."""

    def out_dtype(self, a, b):
        out = D.upcast(a, b)
        return "int8" if out == "bool" else out

    def impl(self, a, b):
        out = self.out_dtype(a.dtype.name, b.dtype.name)
        return _errstate(np.mod)(a.astype(out), b.astype(out))

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x, y = self._operands(ctx, args, in_dtypes, out_dtype)
        zero = ctx.literal(0, out_dtype)
        if D.is_float(out_dtype):
            r = ctx.let(f"fmod({x}, {y})", out_dtype)
            fix = f"({r} < {zero}) != ({y} < {zero})"
            # A zero remainder takes the divisor's sign, as in NumPy (-0.0 % 1.0 is 0.0).
            return ctx.where(f"{r} == {zero}", f"copysign({zero}, {y})",
                             ctx.where(fix, f"({r} + {y})", r))
        one = ctx.literal(1, out_dtype)
        safe_y = ctx.let(ctx.where(_int_div_trap(ctx, x, y, out_dtype), one, y), out_dtype)
        r = f"({x} % {safe_y})"
        if D.is_signed(out_dtype):
            r = ctx.where(f"({r} != {zero}) & (({r} ^ {safe_y}) < {zero})", f"({r} + {safe_y})", r)
        return ctx.where(f"{y} == {zero}", zero, r)


@dataclass(frozen=True)
class Pow(Binary):
    def out_dtype(self, a, b):
        out = D.upcast(a, b)
        return "int8" if out == "bool" else out

    def impl(self, a, b):
        out = self.out_dtype(a.dtype.name, b.dtype.name)
        if D.is_int(out):
            return int_power(a.astype(out), b.astype(out))
        return _errstate(np.power)(a.astype(out), b.astype(out))

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        if D.is_float(out_dtype):
            x, y = self._operands(ctx, args, in_dtypes, out_dtype)
            return f"pow({x}, {y})"
        # No integer pow in OpenCL C, and a double one is inexact on some devices: a helper
        # (kernels/ipow.cl) per scalar type, called lane by lane on vectors.
        x, y = self._operands(ctx, args, in_dtypes, out_dtype)
        fn = f"clg_ipow_{cl_type(out_dtype)}"
        if ctx.width == 1:
            return f"{fn}({x}, {y})"
        x, y = ctx.let(x, out_dtype), ctx.let(y, out_dtype)
        lanes = ", ".join(f"{fn}({x}.s{k:x}, {y}.s{k:x})" for k in range(ctx.width))
        return f"(({ctx.ty(out_dtype)})({lanes}))"


def int_power(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x ** y for integer arrays of one dtype as the kernels compute it: NumPy's wrapping
    power, and for a negative exponent the truncated 1 / x**-y (NumPy raises there)."""
    negative = b < 0
    with np.errstate(all="ignore"):
        r = np.power(a, np.where(negative, 0, b).astype(b.dtype))
    if negative.any():  # signed dtypes only
        inverse = np.where(a == 1, 1, np.where(a == -1, np.where(b & 1, -1, 1), 0))
        r = np.where(negative, inverse, r).astype(a.dtype)
    return r


@dataclass(frozen=True)
class Maximum(Binary):
    def out_dtype(self, a, b):
        return D.upcast(a, b)

    def impl(self, a, b):
        return np.maximum(a, b)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x, y = self._operands(ctx, args, in_dtypes, out_dtype)
        if D.is_float(out_dtype):  # NaN propagates, as in NumPy
            return ctx.where(f"({x} > {y}) | isnan({x})", x, y)
        return f"max({x}, {y})"


@dataclass(frozen=True)
class Minimum(Binary):
    def out_dtype(self, a, b):
        return D.upcast(a, b)

    def impl(self, a, b):
        return np.minimum(a, b)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x, y = self._operands(ctx, args, in_dtypes, out_dtype)
        if D.is_float(out_dtype):
            return ctx.where(f"({x} < {y}) | isnan({x})", x, y)
        return f"min({x}, {y})"


@dataclass(frozen=True)
class ArcTan2(Binary):
    def out_dtype(self, a, b):
        return D.upgrade_to_float(D.upcast(a, b))

    def impl(self, a, b):
        out = self.out_dtype(a.dtype.name, b.dtype.name)
        return np.arctan2(a.astype(out), b.astype(out))

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x, y = self._operands(ctx, args, in_dtypes, out_dtype)
        return f"atan2({x}, {y})"


_COMPARE = {"eq": ("==", np.equal), "neq": ("!=", np.not_equal), "lt": ("<", np.less),
            "le": ("<=", np.less_equal), "gt": (">", np.greater), "ge": (">=", np.greater_equal)}


@dataclass(frozen=True)
class Compare(Binary):
    fn: str = "eq"

    @property
    def name(self) -> str:
        return self.fn

    def out_dtype(self, a, b):
        return "bool"

    def impl(self, a, b):
        return _COMPARE[self.fn][1](a, b)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        work = D.upcast(*in_dtypes)  # may be wider than both: int32 < float32 is in double
        op = _COMPARE[self.fn][0]
        if D.is_float(work) and all(D.is_int(d) for d in in_dtypes):
            # A signed integer against a uint64 (their common type is float64): compared
            # exactly, as NumPy 2 does, by the signed value's sign and then as unsigned.
            signed = 0 if D.is_signed(in_dtypes[0]) else 1

            def code(c, a, b):
                x, y = (c.cast(v, d, "uint64") for v, d in zip((a, b), in_dtypes, strict=True))
                s = c.cast((a, b)[signed], in_dtypes[signed], "int64")
                zero = c.literal(0, "int64")
                # The signed side is below every uint64 when negative: x op y holds then
                # exactly for these operators.
                below_holds = {"<", "<=", "!="} if signed == 0 else {">", ">=", "!="}
                if op in below_holds:
                    return c.to_bool(f"({s} < {zero}) | ({x} {op} {y})")
                return c.to_bool(f"({s} >= {zero}) & ({x} {op} {y})")
            return ctx.in_chunks(code, args, "int64", out_dtype)

        def code(c, a, b):
            x, y = self._operands(c, [a, b], in_dtypes, work)
            return c.to_bool(f"{x} {op} {y}")
        return ctx.in_chunks(code, args, work, out_dtype)


_BITWISE = {"and_": ("&", np.bitwise_and), "or_": ("|", np.bitwise_or),
            "xor": ("^", np.bitwise_xor)}


@dataclass(frozen=True)
class Bitwise(Binary):
    """and_, or_, xor: bitwise on integers, logical on bools (NumPy's &, |, ^)."""

    fn: str = "and_"

    @property
    def name(self) -> str:
        return self.fn

    def out_dtype(self, a, b):
        if D.is_float(a) or D.is_float(b):
            raise TypeError(f"{self.fn} needs integer or bool tensors, got {a} and {b}")
        return D.upcast(a, b)

    def impl(self, a, b):
        return _BITWISE[self.fn][1](a, b)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x, y = self._operands(ctx, args, in_dtypes, out_dtype)
        return f"({x} {_BITWISE[self.fn][0]} {y})"


@dataclass(frozen=True)
class Switch(ScalarOp):
    """switch(cond, a, b): a where cond is nonzero, else b."""

    nin: ClassVar[int] = 3

    def out_dtype(self, c, a, b):
        return D.upcast(a, b)

    def impl(self, c, a, b):
        return np.where(c.astype(bool), a, b).astype(self.out_dtype(c.dtype.name, a.dtype.name,
                                                                    b.dtype.name))

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        c = ctx.cast(args[0], in_dtypes[0], "bool")
        a = ctx.cast(args[1], in_dtypes[1], out_dtype)
        b = ctx.cast(args[2], in_dtypes[2], out_dtype)
        return ctx.switch(c, a, b, out_dtype)


# Singletons that the user namespace wraps.
neg, abs_, sqr, sgn, invert = Neg(), Abs(), Sqr(), Sgn(), Invert()
isnan, isinf, identity = IsNan(), IsInf(), Identity()
add, sub, mul, true_div, int_div, mod, pow_ = Add(), Sub(), Mul(), TrueDiv(), IntDiv(), Mod(), Pow()
maximum, minimum, arctan2, switch = Maximum(), Minimum(), ArcTan2(), Switch()
UNARY_FLOAT_NAMES = tuple(_UNARY_FLOAT)
ROUNDING_NAMES = tuple(_ROUND)
COMPARE_NAMES = tuple(_COMPARE)
BITWISE_NAMES = tuple(_BITWISE)
