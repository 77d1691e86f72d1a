"""merge: one node per (op, inputs), one constant per value (common subexpressions)."""

from __future__ import annotations

from clgraph.expr.graph import FunctionGraph, rebuild
from clgraph.expr.variable import Constant, Variable


def merge(fgraph: FunctionGraph) -> FunctionGraph:
    memo: dict[Variable, Variable] = {}
    const_by_sig: dict[tuple, Constant] = {}
    seen: dict[tuple, tuple[Variable, ...]] = {}
    for node in fgraph.toposort():
        inputs = []
        for inp in node.inputs:
            inp = memo.get(inp, inp)
            if isinstance(inp, Constant) and inp not in fgraph.inputs:
                inp = const_by_sig.setdefault(inp.signature(), inp)
            inputs.append(inp)
        key = (node.op, tuple(id(i) for i in inputs))
        if key in seen:
            for old, new in zip(node.outputs, seen[key]):
                memo[old] = new
            continue
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            seen[key] = rebuild(node, inputs, memo).outputs
        else:
            seen[key] = node.outputs
    if not memo:
        return fgraph
    return FunctionGraph(fgraph.inputs, [memo.get(o, o) for o in fgraph.outputs])
