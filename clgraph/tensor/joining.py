"""concatenate, join, stack and stacklists (a module not named `join`, so that `T.join` is the
function: importing a submodule sets the package attribute of its name)."""

from __future__ import annotations

import warnings
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


def _stack_arguments(args: tuple, axis: Any, named: dict) -> tuple[Sequence[Any], Any]:
    """(tensors, axis) from Theano's forms of stack: stack(tensors, axis=0), the axis given
    positionally, stack(tensors=..., axis=...), and the older stack(a, b, ...) (axis 0)."""
    unknown = sorted(set(named) - {"tensors"})
    if unknown:
        raise TypeError(f"stack got unexpected keyword argument(s) {unknown}")
    if "tensors" in named:
        if args:
            raise TypeError("stack: tensors given both positionally and as tensors=")
        return named["tensors"], axis
    if args and isinstance(args[0], (list, tuple)):
        if len(args) > 2 or (len(args) == 2 and axis is not None):
            raise TypeError("stack(tensors, axis=0): too many arguments")
        return args[0], args[1] if len(args) == 2 else axis
    if args:
        warnings.warn("stack(a, b, ...) is deprecated (as in Theano 1.0); use "
                      "stack([a, b, ...], axis=0)", DeprecationWarning, stacklevel=3)
    return args, axis


def stack(*tensors: Any, axis: Any = None, **named: Any) -> TensorVariable:
    """The tensors stacked along a new axis (default 0): stack(tensors, axis=0), also in
    Theano's older form stack(a, b, ...)."""
    tensors, axis = _stack_arguments(tensors, axis, named)
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    ndim = tensors[0].ndim
    axis = _axis(0 if axis is None else axis, ndim + 1, "stack (into one more dimension)")
    padded = [shape_padaxis(t, axis) for t in tensors]
    if len(padded) == 1:
        return padded[0]
    return Join(axis)(*padded)


def stacklists(arg: Any) -> Any:
    """Theano's stacklists: nested lists of tensors stacked into one tensor of the same
    nesting (stacklists([[a, b], [c, d]]) of scalars is a 2 x 2 matrix)."""
    if isinstance(arg, (list, tuple)):
        return stack([stacklists(a) for a in arg])
    return arg
