"""concatenate and stack."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clgraph.expr.join import Join
from clgraph.expr.variable import TensorVariable
from clgraph.tensor.basic import as_tensor_variable
from clgraph.tensor.shape import shape_padaxis


def concatenate(tensors: Sequence[Any], axis: int = 0) -> TensorVariable:
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    ndim = tensors[0].ndim
    axis = axis % ndim if ndim else axis
    if len(tensors) == 1:
        return tensors[0]
    return Join(axis)(*tensors)


def stack(tensors: Sequence[Any], axis: int = 0) -> TensorVariable:
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    ndim = tensors[0].ndim
    axis = axis % (ndim + 1)
    padded = [shape_padaxis(t, axis) for t in tensors]
    if len(padded) == 1:
        return padded[0]
    return Join(axis)(*padded)
