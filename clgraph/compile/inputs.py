"""Checking and converting call arguments against the inputs' types (Theano's rules)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyopencl.array as cl_array

from clgraph.expr import dtypes as D
from clgraph.expr.type import shape_str
from clgraph.expr.variable import Variable
from clgraph.runtime.device import get_context
from clgraph.runtime.strided_copy import contiguous_copy


def _downcast_hint(var: Variable, got: str) -> str:
    return (f"input {_name(var)} of type {var.type} cannot take a value of dtype {got} without "
            f"risking a loss of precision. Cast the value to {var.dtype} yourself, or pass "
            f"allow_input_downcast=True to function().")


def _name(var: Variable) -> str:
    return repr(var.name) if var.name else str(var)


def convert_input(var: Variable, value: Any, allow_downcast: bool | None, position: int):
    """Return a NumPy array or a pyopencl Array of var's dtype, or raise naming the input."""
    want = np.dtype(var.dtype)
    is_device = isinstance(value, cl_array.Array)
    if is_device:
        arr = value
    elif isinstance(value, (bool, int, float, np.generic)) and not isinstance(value, np.ndarray):
        arr = _convert_python_scalar(var, value, allow_downcast)
    else:
        try:
            arr = np.asarray(value)
        except Exception as e:  # ragged lists and the like
            raise TypeError(f"input {_name(var)} (argument {position}): cannot convert "
                            f"{type(value).__name__} to an array: {e}") from e
        if arr.dtype == object:
            raise TypeError(f"input {_name(var)} (argument {position}): got a "
                            f"{type(value).__name__} that is not numeric")
    if arr.ndim != var.ndim:
        raise TypeError(f"input {_name(var)} (argument {position}) expects {var.ndim} "
                        f"dimension(s) (type {var.type}), got an array of shape {arr.shape} "
                        f"({arr.ndim} dimension(s))")
    for d, (n, s) in enumerate(zip(arr.shape, var.type.shape)):
        if s is not None and n != s:
            raise ValueError(f"input {_name(var)} (argument {position}) has shape "
                             f"{tuple(arr.shape)}, but its type fixes axis {d} to length {s}: "
                             f"expected shape {shape_str(var.type.shape)}")
    if arr.dtype != want:
        if allow_downcast is True or _safe_cast(arr.dtype, want):
            arr = _cast(arr, want)
        elif allow_downcast is None and not is_device and D.filter_accepts(value, arr, want):
            # Theano: a list (not an array) may go in when converting it changes no value
            arr = arr.astype(want)
        else:
            raise TypeError(f"argument {position}: " + _downcast_hint(var, arr.dtype.name))
    return arr


def _cast(arr, want: np.dtype):
    """`arr` as dtype `want`. pyopencl's astype reads a strided device array as if it were
    contiguous (wrong values for a transpose) or refuses it, so that is made contiguous first."""
    if isinstance(arr, cl_array.Array) and not arr.flags.c_contiguous:
        arr = contiguous_copy(get_context(), arr)
    return arr.astype(want)


def _safe_cast(src: np.dtype, dst: np.dtype) -> bool:
    return bool(np.can_cast(src, dst, casting="safe"))


def _convert_python_scalar(var: Variable, value: Any, allow_downcast: bool | None) -> np.ndarray:
    want = np.dtype(var.dtype)
    if isinstance(value, np.generic):
        return np.asarray(value)
    if isinstance(value, float) and want.kind == "f":
        # Theano: a Python float may always go into a float input (allow_input_downcast=None).
        if allow_downcast is False and want != np.float64:
            raise TypeError(_downcast_hint(var, "float64 (a Python float)"))
        return np.asarray(value, dtype=want)
    if isinstance(value, (bool, int)) and not isinstance(value, float):
        if want.kind in "iub" or want.kind == "f":
            converted = np.asarray(value).astype(want)
            if converted.item() == value or allow_downcast:
                return converted
            raise TypeError(f"input {_name(var)} of type {var.type}: the Python value {value} "
                            f"does not fit in {want.name}")
    return np.asarray(value)
