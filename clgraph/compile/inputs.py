"""Checking and converting call arguments against the inputs' types (Theano's rules)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyopencl.array as cl_array

from clgraph.expr import dtypes as D
from clgraph.expr.type import shape_str
from clgraph.expr.variable import Variable


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
    elif isinstance(value, (bool, int)) and not isinstance(value, np.generic):
        arr = _convert_python_int(var, value, allow_downcast)
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
        if allow_downcast is True or _safe_cast(arr.dtype, want) or (
                not is_device and D.filter_accepts(value, arr, want, allow_downcast)):
            arr = arr.astype(want)
        else:
            got = arr.dtype.name + (" (a Python float)" if type(value) is float else "")
            raise TypeError(f"argument {position}: " + _downcast_hint(var, got))
    return arr


def _safe_cast(src: np.dtype, dst: np.dtype) -> bool:
    return bool(np.can_cast(src, dst, casting="safe"))


def _convert_python_int(var: Variable, value: bool | int, allow_downcast: bool | None
                        ) -> np.ndarray:
    """A Python int or bool as an array of the input's dtype when it holds the value (or
    allow_downcast=True); other dtypes are left to the filter."""
    want = np.dtype(var.dtype)
    if want.kind not in "iubf":
        return np.asarray(value)
    converted = np.asarray(value).astype(want)
    if converted.item() == value or allow_downcast:
        return converted
    raise TypeError(f"input {_name(var)} of type {var.type}: the Python value {value} "
                    f"does not fit in {want.name}")
