"""How scalar ops write OpenCL C: one expression per op, in scalar or vector (floatN) form.

Scalar and vector OpenCL differ in a few places that every op would otherwise repeat:
a comparison gives 1 on scalars but -1 on vectors, `?:` becomes `select`, and casts are
`(T)x` versus `convert_TN(x)`. `CodeCtx` hides those, so an op writes one expression.
Booleans live in registers as 0/1 `uchar`/`ucharN`, exactly as they are stored.
An op may also declare temporaries (`let`), and compute a wider type in pieces (`in_chunks`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from clgraph.expr.dtypes import cl_type

# Signed integer type of the same size: the mask type `select` wants for each dtype.
_MASK = {"bool": "char", "int8": "char", "uint8": "char", "int16": "short", "uint16": "short",
         "int32": "int", "uint32": "int", "int64": "long", "uint64": "long",
         "float32": "int", "float64": "long"}

# Widest vector register: the lowering caps the kernel's width so that its registers fit in
# 32 bytes (PoCL 3.0 on AVX2 miscompiles wider ones: ABI warnings, crashes, lost kernels).
MAX_VECTOR_BYTES = 32
_LANES = "0123456789abcdef"


@dataclass(frozen=True)
class CodeCtx:
    """Code-writing context: the vector width (1 = scalar code)."""

    width: int = 1
    # Temporaries an op declared with `let`; `Composite.body` writes them before its step.
    pre: list[str] = field(default_factory=list, compare=False, repr=False)
    tmp_prefix: str = "tmp"

    def ty(self, dtype: str) -> str:
        return cl_type(dtype, self.width)

    def cast(self, x: str, src: str, dst: str) -> str:
        if src == dst:
            return x
        if dst == "bool":
            return self.to_bool(f"({x}) != {self.literal(0, src)}")
        if self.width == 1:
            return f"(({cl_type(dst)})({x}))"
        return f"convert_{cl_type(dst, self.width)}({x})"

    def to_bool(self, cond: str) -> str:
        """A C comparison (1 or -1 for true) as a 0/1 bool register."""
        if self.width == 1:
            return f"((uchar)({cond}))"
        return f"convert_uchar{self.width}(-({cond}))"

    def where(self, cond: str, a: str, b: str) -> str:
        """`cond ? a : b` where cond is a comparison of values as wide as a and b."""
        if self.width == 1:
            return f"(({cond}) ? ({a}) : ({b}))"
        return f"select({b}, {a}, {cond})"

    def switch(self, c: str, a: str, b: str, dtype: str) -> str:
        """`c ? a : b` where c is a 0/1 bool register and a, b are of `dtype`."""
        if self.width == 1:
            return f"(({c}) ? ({a}) : ({b}))"
        mask = f"convert_{_MASK[dtype]}{self.width}({c})"
        return f"select({b}, {a}, -{mask})"

    def let(self, expr: str, dtype: str) -> str:
        """A temporary holding `expr`, for ops that would otherwise repeat a subexpression."""
        name = f"{self.tmp_prefix}_{len(self.pre)}"
        self.pre.append(f"const {self.ty(dtype)} {name} = {expr};")
        return name

    def in_chunks(self, fn, args: list[str], work_dtype: str, out_dtype: str) -> str:
        """`fn(ctx, *args)`, split into narrower vectors when the op computes in `work_dtype`,
        a type wider than its inputs and output (which alone set the kernel's width): e.g.
        an int32 op computed in double, whose double8 registers would pass MAX_VECTOR_BYTES."""
        lanes = max(1, MAX_VECTOR_BYTES // np.dtype(work_dtype).itemsize)
        if self.width <= lanes:
            return fn(self, *args)
        sub = replace(self, width=lanes)  # shares `pre`, so temporaries stay unique
        parts = []
        for start in range(0, self.width, lanes):
            sw = _LANES[start:start + lanes]
            parts.append(fn(sub, *[f"({a}).s{sw}" for a in args]))
        return f"(({self.ty(out_dtype)})({', '.join(parts)}))"

    def literal(self, value: object, dtype: str) -> str:
        """A constant of `dtype`, broadcast to the vector width."""
        v = np.asarray(value, dtype=dtype).item()
        if dtype in ("float32", "float64"):
            suffix = "f" if dtype == "float32" else ""
            if math.isnan(v):
                s = "NAN"
            elif math.isinf(v):
                s = "INFINITY" if v > 0 else "(-INFINITY)"
            else:
                s = repr(float(v))
                if "e" not in s and "." not in s:
                    s += ".0"
                s = f"{s}{suffix}"
                if dtype == "float64" or s.startswith("-"):
                    s = f"({s})"
        elif dtype == "bool":
            s = "1" if v else "0"
        else:
            s = str(int(v))
            if dtype in ("int64",):
                s = f"{s}L" if v != -(2**63) else "(-9223372036854775807L - 1)"
            elif dtype == "uint64":
                s = f"{s}UL"
            elif dtype == "uint32":
                s = f"{s}U"
            elif dtype == "int32" and v == -(2**31):
                s = "(-2147483647 - 1)"
            if s.startswith("-"):
                s = f"({s})"
        if self.width == 1:
            return f"(({cl_type(dtype)}){s})" if dtype not in ("float32", "float64", "int32") \
                else s
        return f"(({cl_type(dtype, self.width)})({s}))"
