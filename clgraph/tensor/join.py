"""concatenate and stack."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from clgraph.expr.join import Join
from clgraph.expr.variable import TensorVariable
from clgraph.tensor.basic import as_tensor_variable
from clgraph.tensor.shape import shape_padaxis


def _axis(axis: Any, n: int, what: str) -> int:
    """`axis` in range(n) (negative counts from the end), or a clear error."""
    if axis is None or isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{what}: axis must be an integer, got {axis!r}")
    if not -n <= axis < n:
        raise ValueError(f"{what}: axis {axis} is out of range for {n} axes")
    return int(axis) % n


def concatenate(tensors: Sequence[Any], axis: int = 0) -> TensorVariable:
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated")
    axis = _axis(axis, ndim, "concatenate")
    if len(tensors) == 1:
        return tensors[0]
    return Join(axis)(*tensors)


def stack(tensors: Sequence[Any], axis: int = 0) -> TensorVariable:
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    ndim = tensors[0].ndim
    axis = _axis(axis, ndim + 1, "stack")
    padded = [shape_padaxis(t, axis) for t in tensors]
    if len(padded) == 1:
        return padded[0]
    return Join(axis)(*padded)
