"""ReLU as one scalar op whose gradient reads its output: relu'(x) = (relu(x) > 0).

Theano writes relu as 0.5 * (x + |x|), whose gradient needs the pre-activation x; a training
step then keeps x alive beside relu(x) and a GEMM epilogue must write both. Reading the
output instead (as PyTorch's threshold_backward does) lets the forward pass write one array.
The gradient at exactly 0 is 0 (Theano's form gives 0.5 there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr.nnet import _FloatActivation


@dataclass(frozen=True)
class ScalarRelu(_FloatActivation):
    @property
    def name(self) -> str:
        return "relu"

    @staticmethod
    def reference(x):
        return np.where(x <= 0, np.zeros((), x.dtype), x)  # NaN stays NaN, -0 becomes 0

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        x = ctx.let(ctx.cast(args[0], in_dtypes[0], out_dtype), out_dtype)
        zero = ctx.literal(0, out_dtype)
        return ctx.where(f"{x} <= {zero}", zero, x)

    def grad(self, inputs, z, gz):
        from clgraph import tensor as T

        zero = T.constant(0, dtype=z.dtype)
        return [T.switch(T.gt(z, zero), gz, T.constant(0, dtype=gz.dtype))]


scalar_relu = ScalarRelu()
