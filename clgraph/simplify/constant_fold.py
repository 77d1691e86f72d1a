"""constant_fold: a node whose inputs are all constants becomes a constant (via `perform`)."""

from __future__ import annotations

from clgraph.expr.graph import FunctionGraph, clone_graph
from clgraph.expr.type import TensorType
from clgraph.expr.variable import Constant, Variable

# Folding huge constants would move work from the device to the host and bloat memory.
MAX_FOLD_ELEMENTS = 1 << 16


def constant_fold(fgraph: FunctionGraph) -> FunctionGraph:
    replace: dict[Variable, Variable] = {}
    for node in fgraph.toposort():
        inputs = [replace.get(i, i) for i in node.inputs]
        if getattr(node.op, "no_constant_fold", False):
            continue
        if not all(isinstance(i, Constant) and i not in fgraph.inputs for i in inputs):
            continue
        try:
            node_now = node if all(a is b for a, b in zip(inputs, node.inputs)) else \
                node.op.make_node(*inputs)
            values = node.op.perform(node_now, [i.data for i in inputs])
        except NotImplementedError:
            continue
        if any(v.size > MAX_FOLD_ELEMENTS for v in values):
            continue
        for out, val in zip(node.outputs, values):
            replace[out] = Constant(TensorType(out.dtype, out.type.shape), val)
    if not replace:
        return fgraph
    outs, _ = clone_graph(fgraph.outputs, replace, stop=fgraph.inputs)
    return FunctionGraph(fgraph.inputs, outs)
