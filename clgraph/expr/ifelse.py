"""IfElse: Theano's lazy conditional. Outputs are one branch's values, by a scalar condition.

Inputs: the condition (a scalar, true where nonzero), then the `n_outs` values of the
then-branch, then the `n_outs` of the else-branch; each pair has one type. Lazy: the plan
(lower/lower.py, `branch_guards`) prepares the nodes that only one branch needs once the
condition's value is on the host, and only those of the branch taken; the outputs are
views of that branch's values (no copy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.apply import Apply
from clgraph.expr.op import Op
from clgraph.expr.type import TensorType
from clgraph.expr.variable import TensorVariable

__all__ = ["IfElse"]


@dataclass(frozen=True)
class IfElse(Op):
    n_outs: int = 1

    @property
    def view_map(self) -> dict[int, int]:  # type: ignore[override]
        """Output k is the value of input k + 1 or k + 1 + n_outs (no copy is made)."""
        return {k: k + 1 for k in range(self.n_outs)}

    def make_node(self, cond, *branches) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        cond = as_tensor_variable(cond)
        if cond.ndim != 0:
            raise TypeError(f"ifelse: the condition must be a scalar, got {cond} of type "
                            f"{cond.type}")
        if len(branches) != 2 * self.n_outs:
            raise TypeError(f"ifelse: {self.n_outs} output(s) need {2 * self.n_outs} branch "
                            f"values, got {len(branches)}")
        branches = [as_tensor_variable(b) for b in branches]
        outs = []
        for k, (a, b) in enumerate(zip(branches[:self.n_outs], branches[self.n_outs:])):
            if a.ndim != b.ndim or a.dtype != b.dtype:
                raise TypeError(f"ifelse: output {k}: the then-branch {a} ({a.type}) and the "
                                f"else-branch {b} ({b.type}) must have one dtype and rank")
            shape = tuple(x if x == y else None for x, y in zip(a.type.shape, b.type.shape))
            outs.append(TensorVariable(TensorType(a.dtype, shape)))
        return Apply(self, [cond, *branches], outs)

    def perform(self, node, inputs):
        cond, branches = inputs[0], inputs[1:]
        taken = branches[:self.n_outs] if bool(np.asarray(cond)) else branches[self.n_outs:]
        return [np.array(v, dtype=o.dtype) for v, o in zip(taken, node.outputs)]

    def L_op(self, node, grads):
        """Each branch gets the output's gradient where it was taken, zeros elsewhere (as
        another lazy ifelse); the condition gets none."""
        from clgraph import tensor as T

        n = self.n_outs
        cond, thens, elses = node.inputs[0], node.inputs[1:1 + n], node.inputs[1 + n:]
        g_then, g_else = [], []
        for g, a, b in zip(grads, thens, elses):
            float_out = D.is_float(a.dtype)
            if g is None or not float_out:
                g_then.append(None)
                g_else.append(None)
                continue
            g_then.append(IfElse(1)(cond, g, T.zeros_like(a)))
            g_else.append(IfElse(1)(cond, T.zeros_like(b), g))
        return [None, *g_then, *g_else]

    def __str__(self) -> str:
        return "IfElse" if self.n_outs == 1 else f"IfElse{{n_outs={self.n_outs}}}"
