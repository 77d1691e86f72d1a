"""Lowering of IfElse: once the condition is on the host (a sync point), each output is a
view of the value the branch taken computed; nothing is launched or copied."""

from __future__ import annotations

import numpy as np

from clgraph.lower.plan import PrepareState, Step

__all__ = ["IfElseStep"]


class IfElseStep(Step):
    is_view = True  # its outputs live in the branch values' buffers

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        self.sync_vars = (node.inputs[0],)

    def prepare(self, state: PrepareState) -> None:
        node, n = self.node, self.node.op.n_outs
        taken = bool(np.asarray(state.host_values[node.inputs[0]]))
        branch = node.inputs[1:1 + n] if taken else node.inputs[1 + n:]
        for out, var in zip(node.outputs, branch, strict=True):
            state.layouts[out] = state.layouts[var]
