"""View steps: DimShuffle and basic slicing change only offset, shape and strides."""

from __future__ import annotations

from clgraph.lower.layout import Layout
from clgraph.lower.plan import PrepareState, Step, node_label


class ViewStep(Step):
    """Runs `op.view_strides(shape, strides)` → (shape, strides, extra offset)."""

    def prepare(self, state: PrepareState) -> None:
        src = state.layouts[self.node.inputs[0]]
        extra = []
        for v in self.node.inputs[1:]:
            if v not in state.host_values:
                raise NotImplementedError(
                    f"{node_label(self.node)}: index {v} is computed from data on the device; "
                    "indices must be inputs, constants or shape arithmetic")
            extra.append(state.host_values[v])
        shape, strides, offset = self.node.op.view_strides(src.shape, src.strides, *extra)
        state.layouts[self.node.outputs[0]] = Layout(src.buffer, tuple(shape), tuple(strides),
                                                     src.offset + offset)


def ensure_layout(var, state: PrepareState) -> None:
    """Layouts of synthetic views (e.g. the broadcast padding an internal node adds)."""
    if var in state.layouts:
        return
    owner = var.owner
    if owner is None or not hasattr(owner.op, "view_strides"):
        raise KeyError(f"no layout for {var}")
    for inp in owner.inputs[:1]:
        ensure_layout(inp, state)
    ViewStep(owner, None, "").prepare(state)
