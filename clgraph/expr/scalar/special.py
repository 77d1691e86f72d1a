"""NumPy references for special functions NumPy lacks (SciPy is not a dependency)."""

from __future__ import annotations

import math

import numpy as np

from clgraph.expr.scalar.special_code import PSI_SERIES


def _vectorize(fn, x: np.ndarray) -> np.ndarray:
    flat = [fn(float(v)) for v in np.asarray(x, dtype=np.float64).ravel()]
    return np.asarray(flat, dtype=np.float64).reshape(np.shape(x))


def _safe(fn):
    def wrapped(v: float) -> float:
        try:
            return fn(v)
        except (ValueError, OverflowError):
            if math.isnan(v):
                return math.nan
            return math.inf if fn is not math.lgamma else math.inf
    return wrapped


def erf(x: np.ndarray) -> np.ndarray:
    return _vectorize(math.erf, x)


def erfc(x: np.ndarray) -> np.ndarray:
    return _vectorize(math.erfc, x)


def gamma(x: np.ndarray) -> np.ndarray:
    def g(v: float) -> float:
        if v == 0:
            return math.copysign(math.inf, v)
        if math.isinf(v):  # before math.floor, which raises on infinities
            return v if v > 0 else math.nan
        if v < 0 and v == math.floor(v):
            return math.nan
        try:
            return math.gamma(v)
        except OverflowError:
            return math.inf
        except ValueError:
            return math.nan
    return _vectorize(g, x)


def gammaln(x: np.ndarray) -> np.ndarray:
    def g(v: float) -> float:
        if math.isinf(v):
            return math.inf
        try:
            return math.lgamma(v)
        except (ValueError, OverflowError):  # the poles; past 1e305 the value overflows
            return math.inf
    return _vectorize(g, x)


def erfinv(x: np.ndarray) -> np.ndarray:
    """Inverse error function: an initial guess refined by Newton steps. Near |y| = 1 the
    steps solve erfc(x) = 1 - y instead (exact by Sterbenz), as erf(x) - y cancels there."""
    def inv(y: float) -> float:
        if math.isnan(y) or abs(y) > 1:
            return math.nan
        if y < 0:
            return -inv(-y)
        if y == 1:
            return math.inf
        w = -math.log((1.0 - y) * (1.0 + y))
        x = math.sqrt(w - math.log(w)) if w >= 5 else (
            math.sqrt(max(w, 0.0)) * 0.8862269254527580 if y > 0.5 else y * 0.8862269254527580)
        tail = 1.0 - y
        for _ in range(60):
            err = (tail - math.erfc(x)) if y > 0.5 else (math.erf(x) - y)
            step = err / (2.0 / math.sqrt(math.pi) * math.exp(-x * x))
            x -= step
            if abs(step) <= 1e-17 * max(1.0, abs(x)):
                break
        return x
    return _vectorize(inv, x)


def psi(x: np.ndarray) -> np.ndarray:
    """Digamma: recurrence up to x >= 10, then the asymptotic series (to 1e-16, where up to
    6 and five terms left 1e-11); reflection for x < 0."""
    def dg(v: float) -> float:
        if math.isnan(v) or v == -math.inf:
            return math.nan
        if v == math.inf:
            return math.inf
        if v == 0:  # SciPy's psi(+-0) = -+inf, as the kernel's
            return -math.copysign(math.inf, v)
        if v < 0 and v == math.floor(v):
            return math.nan
        acc = 0.0
        if v < 0:
            # psi(1 - x) - psi(x) = pi cot(pi x); x - round(x) is exact, pi * x is not.
            acc -= math.pi / math.tan(math.pi * (v - round(v)))
            v = 1.0 - v
        while v < 10.0:
            acc -= 1.0 / v
            v += 1.0
        f = 1.0 / (v * v)
        poly = 0.0
        for c in reversed(PSI_SERIES):
            poly = c + f * poly
        return acc + (math.log(v) - 0.5 / v - f * poly)
    return _vectorize(dg, x)


def tri_gamma(x: np.ndarray) -> np.ndarray:
    """Trigamma (psi's derivative): recurrence up to x >= 10, then the asymptotic series;
    reflection for x < 0; +inf at the poles (0 and the negative integers), as SciPy."""
    from clgraph.expr.scalar.special_code import TRIGAMMA_SERIES

    def tg(v: float) -> float:
        if math.isnan(v) or v == -math.inf:
            return math.nan
        if v == math.inf:
            return 0.0
        if v <= 0 and v == math.floor(v):
            return math.inf
        acc, sign = 0.0, 1.0
        if v < 0:
            acc = (math.pi / math.sin(math.pi * (v - round(v)))) ** 2
            sign, v = -1.0, 1.0 - v
        rest = 0.0
        while v < 10.0:
            rest += 1.0 / v / v  # not 1 / (v * v): v * v underflows to 0 for tiny v
            v += 1.0
        f = 1.0 / (v * v)
        poly = 0.0
        for c in reversed(TRIGAMMA_SERIES):
            poly = c + f * poly
        return acc + sign * (rest + 1.0 / v + 0.5 * f + f / v * poly)
    return _vectorize(tg, x)
