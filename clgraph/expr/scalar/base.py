"""ScalarOp: one elementwise operation on scalars, the unit that Elemwise and Composite use.

A scalar op gives its output dtype rule, its NumPy function (the reference), and its OpenCL
expression through `CodeCtx` (so one expression serves scalar and vector code). Gradients
and SymPy counterparts attach in `clgraph.diff` and `clgraph.simplify`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from clgraph.expr.scalar.codegen import CodeCtx


@dataclass(frozen=True)
class ScalarOp:
    nin: ClassVar[int] = 1

    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    def out_dtype(self, *in_dtypes: str) -> str:
        raise NotImplementedError

    def impl(self, *xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def c_code(self, ctx: CodeCtx, args: list[str], in_dtypes: list[str], out_dtype: str) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.name
