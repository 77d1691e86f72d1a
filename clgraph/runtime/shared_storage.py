"""Storage of a shared variable: one device buffer it owns, kept between calls."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyopencl.array as cl_array

from clgraph.expr import dtypes as D
from clgraph.lower.layout import Layout, contiguous_strides
from clgraph.runtime.darray import download, upload


class SharedStorage:
    """Holds a C-contiguous device buffer and its shape; `set_value` checks type and shape."""

    def __init__(self, var, value: Any, borrow: bool = False) -> None:
        self.var = var
        self.buffer = None
        self.shape: tuple[int, ...] = ()
        self.set_value(value, borrow=borrow)

    @property
    def ctx(self):
        from clgraph.runtime.device import get_context

        return get_context()

    def _check(self, value: Any) -> np.ndarray:
        t = self.var.type
        want = np.dtype(t.dtype)
        if getattr(self.var, "strict", False):
            self._check_strict(value, want)
        if isinstance(value, cl_array.Array):
            value = value.get()
        arr = np.asarray(value)
        downcast = getattr(self.var, "allow_downcast", None)
        if arr.dtype != want:
            if not (downcast or D.filter_accepts(value, arr, want, downcast)):
                raise TypeError(f"shared variable {self.var}: value of dtype {arr.dtype} cannot be "
                                f"stored in a {t.dtype} variable without losing precision; cast "
                                f"it first (value.astype('{t.dtype}'))")
            arr = arr.astype(want)
        if not t.is_valid_value(arr):
            raise ValueError(f"shared variable {self.var}: value of shape {arr.shape} does not "
                             f"fit its type {t}")
        return arr

    def _check_strict(self, value: Any, want: np.dtype) -> None:
        """Theano's strict filter: an array of exactly the variable's dtype, nothing else."""
        if not isinstance(value, (np.ndarray, cl_array.Array)):
            raise TypeError(f"shared variable {self.var} is strict: it takes a NumPy array of "
                            f"dtype {want.name}, got a {type(value).__name__}")
        if value.dtype != want:
            raise TypeError(f"shared variable {self.var} is strict: it takes a NumPy array of "
                            f"dtype {want.name}, got dtype {value.dtype.name}")

    def set_value(self, value: Any, borrow: bool = False) -> None:
        arr = self._check(value)
        self.ctx.check_dtype(arr.dtype.name, f"shared variable {self.var}")
        self.ctx.check_alloc(arr.nbytes, f"shared variable {self.var} (shape {arr.shape}, "
                                         f"dtype {arr.dtype})")
        self.buffer = upload(self.ctx, arr, blocking=True)  # arr may be the caller's
        self.shape = tuple(arr.shape)

    def get_value(self, borrow: bool = False, return_internal_type: bool = False):
        lay = Layout(0, self.shape, contiguous_strides(self.shape), 0)
        if return_internal_type:
            from clgraph.runtime.darray import as_device_array

            return as_device_array(self.ctx, self.buffer, lay, self.var.dtype)
        return download(self.ctx, self.buffer, lay, self.var.dtype)

    def assign(self, buffer, shape: tuple[int, ...]) -> None:
        """Take ownership of a buffer computed by an update (no copy)."""
        self.buffer = buffer
        self.shape = tuple(shape)
