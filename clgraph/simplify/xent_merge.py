"""The xent_merge pass: a training step's loss and gradient of softmax cross-entropy in one op.

A step computes `SoftmaxXent{labels}(x, y)` (the loss per row) and, for the backward pass,
`SoftmaxXentGrad{labels}(g, x, y)` of the same logits and labels: two kernels that each find
the row's max and exp-sum. They become one `SoftmaxXentWithGrad` (one kernel). Where the
logits are `P + b` (a bias vector added to every row) read by nothing else, the add moves
into that kernel too, so the product P needs no epilogue kernel (this pass runs before
specialize, which would otherwise make `P + b` a GEMM epilogue).

On the MLP training step of benchmarks/: two kernels fewer (one launch on the path between
the last forward product and the first backward one), ~100 ms less cold compile on PoCL.
"""

from __future__ import annotations

from clgraph.expr.elemwise import Elemwise
from clgraph.expr.graph import FunctionGraph, stands_for, toposort
from clgraph.expr.nnet import SoftmaxXent, SoftmaxXentGrad, SoftmaxXentWithGrad
from clgraph.expr.scalar import ops as S
from clgraph.expr.shape_ops import DimShuffle
from clgraph.expr.variable import Variable


def merge_xent(fgraph: FunctionGraph) -> FunctionGraph:
    losses = {(id(n.inputs[0]), id(n.inputs[1])): n for n in fgraph.toposort()
              if type(n.op) is SoftmaxXent and not n.op.dense}
    mapping: dict[Variable, Variable] = {}
    for grad in fgraph.toposort():
        if not (type(grad.op) is SoftmaxXentGrad and grad.op.labels):
            continue
        g, x, y = grad.inputs
        loss = losses.pop((id(x), id(y)), None)
        if loss is None or loss.outputs[0] in _ancestors(g):
            continue
        split = _row_bias(x, fgraph, {loss, grad})
        if split is None:
            merged = SoftmaxXentWithGrad(False)(g, x, y)
        else:
            merged = SoftmaxXentWithGrad(True)(g, *split, y)
        merged_node = merged[0].owner
        fused = [loss, grad] + ([x.owner] if split is not None else [])
        stands_for(merged[0], grad, fused)
        merged_node.outputs[0].name = loss.outputs[0].name
        merged_node.outputs[1].name = grad.outputs[0].name
        mapping[loss.outputs[0]] = merged[0]
        mapping[grad.outputs[0]] = merged[1]
    return fgraph.replace(mapping) if mapping else fgraph


def _ancestors(var: Variable) -> set[Variable]:
    """Every variable `var` is computed from (itself included)."""
    out = {var}
    for node in toposort([var]):
        out.update(node.inputs)
        out.update(node.outputs)
    return out


def _row_bias(x: Variable, fgraph: FunctionGraph, readers: set) -> tuple | None:
    """(P, b) where x = P + b (b a vector broadcast over the rows) and only `readers` read
    x; else None."""
    node = x.owner
    if node is None or not (isinstance(node.op, Elemwise) and isinstance(node.op.scalar_op,
                                                                          S.Add)):
        return None
    if len(node.inputs) != 2 or any(c not in readers for c, _ in fgraph.clients(x)):
        return None
    for p, row in (node.inputs, node.inputs[::-1]):
        if (row.owner is not None and isinstance(row.owner.op, DimShuffle)
                and tuple(row.owner.op.new_order) == ("x", 0)
                and p.type == x.type and row.owner.inputs[0].dtype == x.dtype):
            return p, row.owner.inputs[0]
    return None
