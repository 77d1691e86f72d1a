"""Composite: a fused scalar program, itself a ScalarOp, so one Elemwise runs many ops."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from clgraph.expr.scalar.base import ScalarOp
from clgraph.expr.scalar.codegen import CodeCtx


@dataclass(frozen=True)
class ScalarConstant(ScalarOp):
    """A literal inside a Composite (small constants are inlined, not passed as buffers)."""

    nin: ClassVar[int] = 0
    dtype: str = "float32"
    value: float | int | bool = 0

    @property
    def name(self) -> str:
        return f"const{{{self.value}}}"

    def out_dtype(self) -> str:
        return self.dtype

    def impl(self) -> np.ndarray:
        return np.asarray(self.value, dtype=self.dtype)

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        return ctx.literal(self.value, self.dtype)


@dataclass(frozen=True)
class Composite(ScalarOp):
    """`steps[k] = (op, refs)`: refs index inputs (0..nin-1) then earlier steps (nin + k)."""

    in_dtypes: tuple[str, ...] = ()
    steps: tuple[tuple[ScalarOp, tuple[int, ...]], ...] = ()
    outputs: tuple[int, ...] = ()

    @property
    def nin(self) -> int:  # type: ignore[override]
        return len(self.in_dtypes)

    @property
    def name(self) -> str:
        return "composite{" + ",".join(op.name for op, _ in self.steps) + "}"

    def step_dtypes(self) -> list[str]:
        dts = list(self.in_dtypes)
        for op, refs in self.steps:
            dts.append(op.out_dtype(*[dts[r] for r in refs]))
        return dts

    def out_dtypes(self) -> list[str]:
        dts = self.step_dtypes()
        return [dts[o] for o in self.outputs]

    def out_dtype(self, *in_dtypes: str) -> str:
        return self.out_dtypes()[0]

    def impl_all(self, *xs: np.ndarray) -> list[np.ndarray]:
        vals = list(xs)
        for op, refs in self.steps:
            vals.append(np.asarray(op.impl(*[vals[r] for r in refs])))
        return [vals[o] for o in self.outputs]

    def impl(self, *xs):
        return self.impl_all(*xs)[0]

    def body(self, ctx: CodeCtx, in_names: list[str], prefix: str = "t"
             ) -> tuple[list[str], list[str]]:
        """Lines declaring one register per step, and the expressions of the outputs."""
        dts = self.step_dtypes()
        names = list(in_names)
        lines = []
        for k, (op, refs) in enumerate(self.steps):
            reg = f"{prefix}{k}"
            dt = dts[len(in_names) + k]
            step_ctx = replace(ctx, pre=[], tmp_prefix=reg)  # the op's temporaries: reg_0, ..
            expr = op.c_code(step_ctx, [names[r] for r in refs], [dts[r] for r in refs], dt)
            lines += step_ctx.pre
            lines.append(f"const {ctx.ty(dt)} {reg} = {expr};  /* {op.name} */")
            names.append(reg)
        return lines, [names[o] for o in self.outputs]

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        raise TypeError("a Composite is rendered with body(), not inlined")

    @staticmethod
    def of(op: ScalarOp, in_dtypes: tuple[str, ...]) -> Composite:
        """The one-step Composite running `op`."""
        return Composite(tuple(in_dtypes), ((op, tuple(range(len(in_dtypes)))),),
                         (len(in_dtypes),))
