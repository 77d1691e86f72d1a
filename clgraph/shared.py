"""cg.shared: a variable whose value lives on the device between calls."""

from __future__ import annotations

from typing import Any

import numpy as np

from clgraph.expr.dtypes import check_dtype
from clgraph.expr.type import TensorType
from clgraph.expr.variable import SharedVariable


def shared(value: Any, name: str | None = None, borrow: bool = False,
           shape: Any = None, broadcastable: Any = None) -> SharedVariable:
    """Theano's `shared`: the dtype is the value's (Python floats give float64, as NumPy);
    every axis is of unknown length unless `shape`/`broadcastable` says otherwise."""
    import pyopencl.array as cl_array

    if isinstance(value, cl_array.Array):
        value = value.get()
    arr = np.asarray(value)
    dtype = check_dtype(arr.dtype, f"shared {name or ''}".strip())
    if shape is None:
        shape = (None,) * arr.ndim if broadcastable is None else \
            tuple(1 if b else None for b in broadcastable)
    return SharedVariable(TensorType(dtype, shape), arr, name=name, borrow=borrow)
