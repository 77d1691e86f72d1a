"""The host BLAS's gemm with alpha and beta: C = alpha * A . B + beta * C, in place.

NumPy's `dot`/`matmul` compute A . B only, so a product followed by a linear epilogue (an
SGD update `W - lr * A . B`, a bias add `P + b`) needs a second pass over C: a kernel
launch on the device. The BLAS that NumPy links has the whole operation: NumPy's wheels
carry OpenBLAS with its CBLAS interface (symbols `scipy_cblas_sgemm64_`: a `scipy_` prefix
and a `64_` suffix for 64-bit integers). It is found by name among the shared libraries
already loaded in the process (Linux: /proc/self/maps; NumPy's own first) and called
through ctypes, which releases the GIL during the call as NumPy does. Where no known
symbol is loaded (NumPy built on MKL or Accelerate, another OS) `gemm_for` returns None
and callers keep NumPy's product plus a kernel. The same library means the same thread
pool: `threadpoolctl` limits apply to it too.
"""

from __future__ import annotations

import ctypes
import functools
import sys

import numpy as np

__all__ = ["gemm_for"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
# (symbol pattern, integer type): ILP64 builds first (NumPy's wheels), then plain CBLAS.
_SYMBOLS = (("scipy_cblas_{t}gemm64_", ctypes.c_int64), ("cblas_{t}gemm64_", ctypes.c_int64),
            ("scipy_cblas_{t}gemm", ctypes.c_int32), ("cblas_{t}gemm", ctypes.c_int32))
_TYPES = {np.dtype(np.float32): ("s", ctypes.c_float), np.dtype(np.float64): ("d", ctypes.c_double)}


def _loaded_blas_paths() -> list[str]:
    """Paths of loaded shared libraries whose names mention BLAS, NumPy's own first."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if ".so" in line and "blas" in line.lower()}
    except OSError:
        return []
    return sorted(paths, key=lambda p: ("numpy" not in p, p))


@functools.cache
def _raw_gemm(dtype: np.dtype):
    """(ctypes function, integer type) of the first cblas ?gemm found, or None."""
    prefix, scalar = _TYPES[dtype]
    for path in _loaded_blas_paths():
        try:
            lib = ctypes.CDLL(path)  # already loaded: the same handle, no new initialisation
        except OSError:
            continue
        for pattern, integer in _SYMBOLS:
            fn = getattr(lib, pattern.format(t=prefix), None)
            if fn is None:
                continue
            ptr = ctypes.c_void_p
            fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, integer, integer, integer,
                           scalar, ptr, integer, ptr, integer, scalar, ptr, integer]
            fn.restype = None
            return fn, integer
    return None


def _operand(x: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(array, transpose flag, leading dimension) of a 2-d operand as CBLAS row-major reads
    it: rows contiguous (as is), or columns contiguous (its transpose as is); else a copy."""
    item = x.itemsize
    rows, cols = x.shape
    s0, s1 = x.strides
    if (s1 == item or cols == 1) and s0 % item == 0 and s0 >= item * max(1, cols):
        return x, _NO_TRANS, s0 // item if rows > 1 else max(1, cols)
    if (s0 == item or rows == 1) and s1 % item == 0 and s1 >= item * max(1, rows):
        return x, _TRANS, s1 // item if cols > 1 else max(1, rows)
    x = np.ascontiguousarray(x)
    return x, _NO_TRANS, max(1, cols)


def gemm_for(dtype):
    """A function `gemm(alpha, a, b, beta, c)` doing C = alpha * a . b + beta * c in place
    for 2-d float32/float64 NumPy views (`c`'s rows contiguous, all of `dtype`), or None
    where the loaded BLAS has no CBLAS gemm we know."""
    dtype = np.dtype(dtype)
    if dtype not in _TYPES or (found := _raw_gemm(dtype)) is None:
        return None
    raw, _ = found

    def gemm(alpha: float, a: np.ndarray, b: np.ndarray, beta: float, c: np.ndarray) -> None:
        (m, k), n = a.shape, b.shape[1]
        if c.strides[1] != c.itemsize and n > 1 or c.strides[0] % c.itemsize:
            raise ValueError(f"gemm: C's rows must be contiguous, got strides {c.strides}")
        a, ta, lda = _operand(a)
        b, tb, ldb = _operand(b)
        ldc = c.strides[0] // c.itemsize if m > 1 else max(1, n)
        raw(_ROW_MAJOR, ta, tb, m, n, k, alpha, a.ctypes.data, lda, b.ctypes.data, ldb,
            beta, c.ctypes.data, ldc)

    return gemm
