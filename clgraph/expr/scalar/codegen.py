"""How scalar ops write OpenCL C: one expression per op, in scalar or vector (floatN) form.

Scalar and vector OpenCL differ in a few places that every op would otherwise repeat:
a comparison gives 1 on scalars but -1 on vectors, `?:` becomes `select`, and casts are
`(T)x` versus `convert_TN(x)`. `CodeCtx` hides those, so an op writes one expression.
Booleans live in registers as 0/1 `uchar`/`ucharN`, exactly as they are stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from clgraph.expr.dtypes import cl_type

# Signed integer type of the same size: the mask type `select` wants for each dtype.
_MASK = {"bool": "char", "int8": "char", "uint8": "char", "int16": "short", "uint16": "short",
         "int32": "int", "uint32": "int", "int64": "long", "uint64": "long",
         "float32": "int", "float64": "long"}


@dataclass(frozen=True)
class CodeCtx:
    """Code-writing context: the vector width (1 = scalar code)."""

    width: int = 1

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
