"""concatenate, join and stack (a module not named `join`, so that `T.join` is the
function: importing a submodule sets the package attribute of its name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from clgraph.expr.join import Join
from clgraph.expr.reduce import normalize_axes
from clgraph.expr.variable import TensorVariable
from clgraph.tensor.basic import as_tensor_variable
from clgraph.tensor.shape import shape_padaxis


def _axis(axis: Any, n: int, what: str) -> int:
    """One axis in range(n) (negative counts from the end): normalize_axes', without its
    None (all axes), which means nothing here."""
    if axis is None or isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{what}: axis must be an integer, got {axis!r}")
    return normalize_axes(axis, n, what)[0]


def _concatenate(tensors: Sequence[Any], axis: Any, what: str) -> TensorVariable:
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError(f"{what} needs at least one tensor")
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ValueError(f"{what}: zero-dimensional tensors cannot be concatenated")
    axis = _axis(axis, ndim, what)
    if len(tensors) == 1:
        return tensors[0]
    return Join(axis)(*tensors)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> TensorVariable:
    return _concatenate(tensors, axis, "concatenate")


def join(axis: int, *tensors_list: Any) -> TensorVariable:
    """Theano's join(axis, *tensors): the tensors concatenated along axis (an int; Theano
    also takes a symbolic scalar)."""
    return _concatenate(tensors_list, axis, "join")


def stack(tensors: Sequence[Any], axis: int = 0) -> TensorVariable:
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    ndim = tensors[0].ndim
    axis = _axis(axis, ndim + 1, "stack (into one more dimension)")
    padded = [shape_padaxis(t, axis) for t in tensors]
    if len(padded) == 1:
        return padded[0]
    return Join(axis)(*padded)
