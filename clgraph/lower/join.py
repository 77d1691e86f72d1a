"""Join: one output buffer, each input copied into its slab by a strided-store kernel."""

from __future__ import annotations

from clgraph.lower.elemwise import copy_step
from clgraph.lower.layout import Layout
from clgraph.lower.plan import KernelDef, PrepareState, Step, node_label


class JoinStep(Step):
    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        self.copies = []
        for k, t in enumerate(node.inputs):
            self.copies.append(copy_step(t, ctx, f"{kernel_prefix}_{k}", "strided"))

    def kernels(self) -> list[KernelDef]:
        # Identical copies render identical kernels but under distinct names; one suffices
        # per distinct source, yet distinct names keep the program simple to read.
        return self.claim([d for _, step in self.copies for d in step.kernels()])

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        axis = node.op.axis
        layouts = [state.layouts[t] for t in node.inputs]
        ref = layouts[0].shape
        for t, lay in zip(node.inputs, layouts):
            for d, (a, b) in enumerate(zip(ref, lay.shape)):
                if d != axis and a != b:
                    raise ValueError(f"{node_label(node)}: input {t} has shape {lay.shape}, "
                                     f"which differs from {ref} outside axis {axis}")
        shape = list(ref)
        shape[axis] = sum(lay.shape[axis] for lay in layouts)
        out = state.new_buffer(tuple(shape), node.outputs[0].dtype)
        start = 0
        for (cnode, step), lay in zip(self.copies, layouts):
            n = lay.shape[axis]
            slab_shape = list(shape)
            slab_shape[axis] = n
            slab = Layout(out.buffer, tuple(slab_shape), out.strides,
                          out.offset + start * out.strides[axis])
            start += n
            state.layouts[cnode.outputs[0]] = slab
            step.prepare(state, out_layouts=[slab])
        state.layouts[node.outputs[0]] = out
