"""Steps for shape values (computed on the host per shape signature) and Reshape."""

from __future__ import annotations

import numpy as np

from clgraph.expr.variable import Constant
from clgraph.lower.elemwise import copy_step
from clgraph.lower.layout import Layout, contiguous_strides
from clgraph.lower.plan import KernelDef, PrepareState, Step, node_label


class HostValueStep(Step):
    """Shape, Shape_i, MakeVector, and elementwise arithmetic on their results: values known
    from shapes and constants alone."""

    is_view = False

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        values = []
        for v in node.inputs:
            if v in state.host_values:
                values.append(state.host_values[v])
            elif isinstance(v, Constant):
                values.append(v.data)
            elif getattr(node.op, "host_value", None) is not None:
                values.append(None)
            else:
                raise NotImplementedError(
                    f"{node_label(node)}: its input {v} is computed from data at run time; "
                    "shapes built from data values are not supported yet")
        if hasattr(node.op, "host_value"):
            shapes = [state.layouts[v].shape for v in node.inputs]
            outs = node.op.host_value(node, shapes, values)
        else:
            outs = node.op.perform(node, values)
        for var, val in zip(node.outputs, outs):
            val = np.asarray(val, dtype=var.dtype)
            state.host_values[var] = val
            state.layouts[var] = state.static_buffer(val)


class ReshapeStep(Step):
    """A view when the input is contiguous; otherwise a copy kernel first, then the view."""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        self.copy_node, self.copy = copy_step(node.inputs[0], ctx, f"{kernel_prefix}_copy")

    def kernels(self) -> list[KernelDef]:
        return self.claim(self.copy.kernels())

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        x, shp = node.inputs
        src = state.layouts[x]
        if shp not in state.host_values:
            raise NotImplementedError(f"{node_label(node)}: the target shape is computed from "
                                      "data at run time, which is not supported yet")
        target = [int(s) for s in state.host_values[shp]]
        size = src.size
        if target.count(-1) > 1:
            raise ValueError(f"{node_label(node)}: at most one -1 in the shape, got {target}")
        if -1 in target:
            rest = int(np.prod([t for t in target if t != -1]))
            if rest == 0 or size % rest:
                raise ValueError(f"{node_label(node)}: cannot reshape an array of shape "
                                 f"{src.shape} into {tuple(target)}")
            target[target.index(-1)] = size // rest
        if int(np.prod(target)) != size or any(t < 0 for t in target):
            raise ValueError(f"{node_label(node)}: cannot reshape an array of shape {src.shape} "
                             f"into {tuple(target)}")
        for d, (t, s) in enumerate(zip(target, node.outputs[0].type.shape)):
            if s is not None and t != s:
                raise ValueError(f"{node_label(node)}: axis {d} has length {t} at run time but "
                                 f"the graph fixed it to {s}")
        if not src.is_contiguous:
            state.layouts[self.copy_node.inputs[0]] = src
            self.copy.prepare(state)
            src = state.layouts[self.copy_node.outputs[0]]
        state.layouts[node.outputs[0]] = Layout(src.buffer, tuple(target),
                                                contiguous_strides(tuple(target)), src.offset)
