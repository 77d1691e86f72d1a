"""Static access modes: how a kernel reads an operand's innermost axis.

'contig' (stride 1: vector loads), 'bcast' (stride 0: one load, broadcast), or 'strided'
(a gather). Graph inputs and kernel outputs are C-contiguous, so the mode follows from the
chain of views between a value and its buffer; the prepare step checks it at run time.
"""

from __future__ import annotations

from clgraph.expr.shape_ops import DimShuffle
from clgraph.expr.variable import Variable


def inner_mode(var: Variable, owned: set) -> str:
    """Mode of `var`'s own innermost axis. `owned`: ids of variables in contiguous buffers."""
    if var.ndim == 0:
        return "bcast"
    if var.owner is None or id(var) in owned:
        return "contig"
    op = var.owner.op
    if isinstance(op, DimShuffle):
        last = op.new_order[-1]
        src = var.owner.inputs[0]
        if last == "x":
            return "bcast"
        if last == src.ndim - 1:
            return inner_mode(src, owned)
        return "strided"
    view_mode = getattr(op, "inner_mode", None)
    if view_mode is not None:
        src = var.owner.inputs[0]
        return view_mode(inner_mode(src, owned), src.ndim)
    return "strided"


def operand_mode(var: Variable, out_static_last: int | None, owned: set) -> str:
    """Mode of an elementwise operand over the output's iteration space."""
    if var.ndim == 0:
        return "bcast"
    if var.type.shape[-1] == 1 and out_static_last != 1:
        return "bcast"
    return inner_mode(var, owned)


def unit_last_operand_mode(var: Variable, out_static_second: int | None, owned: set) -> str:
    """Mode of an elementwise operand over an output whose last axis has static length 1,
    for the axis that is innermost once that axis is dropped (its axis -2). Any mode is
    valid while the unit axis stays innermost, so the step can choose the dropped space."""
    if var.ndim < 2 or var.type.shape[-2] == 1 and out_static_second != 1:
        return "bcast"
    if var.owner is None or id(var) in owned:
        return "contig"  # C-contiguous, last length 1: axis -2 has stride 1
    op = var.owner.op
    if isinstance(op, DimShuffle) and op.new_order[-1] == "x":
        last = op.new_order[-2]
        src = var.owner.inputs[0]
        if last == "x":
            return "bcast"
        return inner_mode(src, owned) if last == src.ndim - 1 else "strided"
    return "strided"
