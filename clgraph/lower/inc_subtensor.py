"""IncSubtensor: copy x into a new buffer, then an elementwise kernel writes the region."""

from __future__ import annotations

from clgraph.expr.elemwise import Elemwise
from clgraph.expr.scalar.fill import second
from clgraph.expr.scalar.ops import add
from clgraph.expr.subtensor import Subtensor
from clgraph.lower.elemwise import ElemwiseStep, copy_step
from clgraph.lower.layout import Layout
from clgraph.lower.plan import KernelDef, PrepareState, Step, node_label
from clgraph.lower.views import ensure_layout


class IncSubtensorStep(Step):
    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        x, y, *extra = node.inputs
        self.copy_node, self.copy = copy_step(x, ctx, f"{kernel_prefix}_copy")
        # A stand-in for the region of the copy: a Subtensor view, never run as a node.
        self.region = Subtensor(node.op.idx_list).make_node(x, *extra).outputs[0]
        op = second if node.op.set_instead_of_inc else add
        self.write_node = Elemwise(op).make_node(self.region, y)
        self.write = ElemwiseStep(self.write_node, ctx, f"{kernel_prefix}_write", set(),
                                  out_modes=["strided"])

    def kernels(self) -> list[KernelDef]:
        return self.claim(self.copy.kernels() + self.write.kernels())

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        x, y, *extra = node.inputs
        values = []
        for v in extra:
            if v not in state.host_values:
                raise NotImplementedError(f"{node_label(node)}: index {v} is computed from "
                                          "data on the device, which is not supported yet")
            values.append(state.host_values[v])
        self.copy.prepare(state)
        out = state.layouts[self.copy_node.outputs[0]]
        shape, strides, offset = Subtensor(node.op.idx_list).view_strides(
            out.shape, out.strides, *values)
        region = Layout(out.buffer, tuple(shape), tuple(strides), out.offset + offset)
        state.layouts[self.region] = region
        # The write node's first input and output are both the region (read, then written).
        state.layouts[self.write_node.inputs[0]] = region
        for v in self.write_node.inputs[1:]:
            ensure_layout(v, state)
        self.write.prepare(state, out_layouts=[region])
        state.layouts[node.outputs[0]] = out
