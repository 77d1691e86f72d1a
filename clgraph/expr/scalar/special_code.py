"""OpenCL code of the special functions that OpenCL C lacks: erfinv, psi (digamma) and
tri_gamma (psi's derivative).

Each is an expression over temporaries (`CodeCtx.let`) with branches as `where`, so the same
code serves scalar and vector (floatN) kernels, like the builtins it sits beside. Values
follow SciPy: erfinv(+-1) = +-inf, NaN outside [-1, 1]; psi(+-0) = -+inf, NaN at the negative
integers and -inf.
"""

from __future__ import annotations

import math

from clgraph.expr.scalar.codegen import CodeCtx

# M. Giles, "Approximating the erfinv function", GPU Computing Gems Jade (2011):
# (branch bound on w, shift of w or of sqrt(w), coefficients from the highest power down).
_ERFINV = {
    "float32": [
        (5.0, ("w", 2.5), (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                           0.00021858087, -0.00125372503, -0.00417768164, 0.246640727,
                           1.50140941)),
        (None, ("sqrt", 3.0), (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                               0.00573950773, -0.0076224613, 0.00943887047, 1.00167406,
                               2.83297682)),
    ],
    "float64": [
        (6.25, ("w", 3.125), (
            -3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18,
            1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17,
            6.6376381343583238325e-15, -4.0545662729752068639e-14, -8.1519341976054721522e-14,
            2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11,
            1.051212273321532285e-09, -4.1126339803469836976e-09, -2.9070369957882005086e-08,
            4.2347877827932403518e-07, -1.3654692000834678645e-06, -1.3882523362786468719e-05,
            0.0001867342080340571352, -0.00074070253416626697512, -0.0060336708714301490533,
            0.24015818242558961693, 1.6536545626831027356)),
        (16.0, ("sqrt", 3.25), (
            2.2137376921775787049e-09, 9.0756561938885390979e-08, -2.7517406297064545428e-07,
            1.8239629214389227755e-08, 1.5027403968909827627e-06, -4.013867526981545969e-06,
            2.9234449089955446044e-06, 1.2475304481671778723e-05, -4.7318229009055733981e-05,
            6.8284851459573175448e-05, 2.4031110387097893999e-05, -0.0003550375203628474796,
            0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066,
            -0.0037512085075692412107, 0.005370914553590063617, 1.0052589676941592334,
            3.0838856104922207635)),
        (None, ("sqrt", 5.0), (
            -2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-09,
            -3.7894654401267369937e-09, 7.6157012080783393804e-09, -1.4960026627149240478e-08,
            2.9147953450901080826e-08, -6.7711997758452339498e-08, 2.2900482228026654717e-07,
            -9.9298272942317002539e-07, 4.5260625972231537039e-06, -1.9681778105531670567e-05,
            7.5995277030017761139e-05, -0.00021503011930044477347, -0.00013871931833623122026,
            1.0103004648645343977, 4.8499064014085844221)),
    ],
}

# psi: recurrence psi(z) = psi(z + S) - sum 1/(z + k), then the asymptotic series at z + S:
# log v - 1/(2v) - sum B_2k / (2k v^2k), B_2k / 2k for k = 1..7 below.
_PSI_SHIFT = {"float32": 6, "float64": 10}
PSI_SERIES = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


def _horner(ctx: CodeCtx, w: str, coeffs, dtype: str) -> str:
    """sum coeffs[k] * w**(n-k), coefficients from the highest power down."""
    p = ctx.literal(coeffs[0], dtype)
    for c in coeffs[1:]:
        p = f"({ctx.literal(c, dtype)} + {p} * {w})"
    return p


def erfinv(ctx: CodeCtx, x: str, dtype: str) -> str:
    lit = ctx.literal
    one = lit(1, dtype)
    x = ctx.let(x, dtype)  # x may be a cast of an integer input, used many times below
    w = ctx.let(f"(-log(({one} - {x}) * ({one} + {x})))", dtype)
    branches = _ERFINV[dtype]
    p = None
    for bound, (kind, shift), coeffs in reversed(branches):
        arg = f"({w} - {lit(shift, dtype)})" if kind == "w" else \
            f"(sqrt({w}) - {lit(shift, dtype)})"
        poly = _horner(ctx, ctx.let(arg, dtype), coeffs, dtype)
        p = poly if bound is None else ctx.where(f"{w} < {lit(bound, dtype)}", poly, p)
    # At x = +-1 the polynomials meet inf - inf; |x| > 1 and NaN give NaN through the log.
    return ctx.where(f"fabs({x}) == {one}", f"({x} * {lit(math.inf, dtype)})",
                     f"({p} * {x})")


def _reflected_and_shifted(ctx: CodeCtx, x: str, dtype: str) -> tuple[str, str, str, str]:
    """Registers of psi's and tri_gamma's common start: x; z = 1 - x for negative x (the
    reflection's argument), else x; v = z + S (the recurrence's shift); f = 1 / v^2 (the
    asymptotic series' variable)."""
    lit = ctx.literal
    zero, one = lit(0, dtype), lit(1, dtype)
    x = ctx.let(x, dtype)
    z = ctx.let(ctx.where(f"{x} < {zero}", f"({one} - {x})", x), dtype)
    v = ctx.let(f"({z} + {lit(_PSI_SHIFT[dtype], dtype)})", dtype)
    f = ctx.let(f"({one} / ({v} * {v}))", dtype)
    return x, z, v, f


def psi(ctx: CodeCtx, x: str, dtype: str) -> str:
    lit = ctx.literal
    zero, one = lit(0, dtype), lit(1, dtype)
    shift = _PSI_SHIFT[dtype]
    # x < 0 by reflection: psi(x) = psi(1 - x) - pi / tan(pi x). At x = -0 the 1/z term
    # below gives +inf, and -inf at +0, as SciPy.
    x, z, v, f = _reflected_and_shifted(ctx, x, dtype)
    series = (f"(log({v}) - {lit(0.5, dtype)} / {v} - "
              f"{f} * {_horner(ctx, f, PSI_SERIES[::-1], dtype)})")
    # 1 / z itself, not 1 / (z + 0): that would turn z = -0 into +0.
    recur = " + ".join([f"{one} / {z}"] + [f"{one} / ({z} + {lit(k, dtype)})"
                                           for k in range(1, shift)])
    r = ctx.let(f"({series} - ({recur}))", dtype)
    # tanpi has period 1: reduced exactly to [-1/2, 1/2], it stays accurate near the poles.
    refl = ctx.where(f"{x} < {zero}", f"({lit(math.pi, dtype)} / tanpi({x} - rint({x})))", zero)
    pole = f"({x} < {zero}) & (floor({x}) == {x})"  # the negative integers and -inf
    return ctx.where(pole, lit(math.nan, dtype), f"({r} - {refl})")


# tri_gamma: recurrence psi1(z) = psi1(z + S) + sum 1/(z + k)^2, then the asymptotic series
# 1/v + 1/(2v^2) + sum B_2k / v^(2k+1) at v = z + S (B_2k for k = 1..7 below).
TRIGAMMA_SERIES = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)


def tri_gamma(ctx: CodeCtx, x: str, dtype: str) -> str:
    lit = ctx.literal
    zero, one = lit(0, dtype), lit(1, dtype)
    shift = _PSI_SHIFT[dtype]
    # x < 0 by reflection: psi1(x) = pi^2 / sin^2(pi x) - psi1(1 - x).
    x, z, v, f = _reflected_and_shifted(ctx, x, dtype)
    series = (f"({one} / {v} + {lit(0.5, dtype)} * {f} + "
              f"{f} / {v} * {_horner(ctx, f, TRIGAMMA_SERIES[::-1], dtype)})")
    recur = " + ".join([f"{one} / ({z} * {z})"] + [
        f"{one} / (({z} + {lit(k, dtype)}) * ({z} + {lit(k, dtype)}))" for k in range(1, shift)])
    r = ctx.let(f"({series} + {recur})", dtype)
    # sinpi has period 2 up to sign, squared: reduced exactly to [-1/2, 1/2] like psi's tanpi.
    s = ctx.let(f"sinpi({x} - rint({x}))", dtype)
    refl = ctx.where(f"{x} < {zero}", f"({lit(math.pi ** 2, dtype)} / ({s} * {s}))", zero)
    pos = ctx.where(f"{x} < {zero}", f"({refl} - {r})", r)
    # +inf at 0 and the negative integers (double poles), NaN at -inf, 0 at +inf.
    pole = f"(floor({x}) == {x}) & ({x} <= {zero}) & ({x} != {lit(-math.inf, dtype)})"
    return ctx.where(pole, lit(math.inf, dtype),
                     ctx.where(f"{x} == {lit(-math.inf, dtype)}", lit(math.nan, dtype), pos))
