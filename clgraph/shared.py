"""cg.shared: a variable whose value lives on the device between calls."""

from __future__ import annotations

from typing import Any

import numpy as np

from clgraph.expr.dtypes import check_dtype
from clgraph.expr.type import TensorType
from clgraph.expr.variable import SharedVariable


def shared(value: Any, name: str | None = None, borrow: bool = False, *, strict: bool = False,
           allow_downcast: bool | None = None, shape: Any = None,
           broadcastable: Any = None) -> SharedVariable:
    """API.md's `shared(value, name=None, borrow=False)`, with Theano's keywords: the dtype is
    the value's (Python floats give float64, as NumPy); every axis is of unknown length
    unless `shape`/`broadcastable` says otherwise. `strict`: set_value takes only arrays of
    exactly that dtype; `allow_downcast`: set_value casts any value to it (False: not even a
    Python float into floatX; None: Theano's filter). Theano's own positional order
    (value, name, strict, allow_downcast) is `theano_shared`, compat's `theano.shared`."""
    import pyopencl.array as cl_array

    if isinstance(value, cl_array.Array):
        value = value.get()
    arr = np.asarray(value)
    dtype = check_dtype(arr.dtype, f"shared {name or ''}".strip())
    if shape is None:
        shape = (None,) * arr.ndim if broadcastable is None else \
            tuple(1 if b else None for b in broadcastable)
    return SharedVariable(TensorType(dtype, shape), arr, name=name, borrow=borrow,
                          strict=bool(strict), allow_downcast=allow_downcast)


def theano_shared(value: Any, name: str | None = None, strict: bool = False,
                  allow_downcast: bool | None = None, **kwargs: Any) -> SharedVariable:
    """Theano's `shared(value, name=None, strict=False, allow_downcast=None, **kwargs)`
    (the Theano compat layer's `theano.shared`): the same variable as `shared`."""
    return shared(value, name, strict=strict, allow_downcast=allow_downcast, **kwargs)
