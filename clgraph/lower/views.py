"""View steps: DimShuffle and basic slicing change only offset, shape and strides."""

from __future__ import annotations

from clgraph.lower.layout import Layout
from clgraph.lower.plan import PrepareState, Step


class ViewStep(Step):
    """Runs `op.view_strides(shape, strides)` → (shape, strides, extra offset)."""

    @property
    def sync_vars(self) -> tuple:
        """The index inputs: one computed on the device (`x[:k]`, k counted there) is read
        back first, at a host sync point; inside a scan's step that is refused."""
        return tuple(self.node.inputs[1:])

    def prepare(self, state: PrepareState) -> None:
        src = state.layouts[self.node.inputs[0]]
        extra = [state.host_values[v] for v in self.node.inputs[1:]]
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
