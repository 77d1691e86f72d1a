"""nonzero, flatnonzero, nonzero_values (Theano's): data-dependent lengths, on the device."""

from __future__ import annotations

from typing import Any

from clgraph.expr.masks import nonzero_matrix
from clgraph.tensor.basic import as_tensor_variable


def nonzero(a: Any, return_matrix: bool = False):
    """Positions of the nonzero elements of `a`: a tuple of a.ndim int64 vectors (as
    np.nonzero), or with `return_matrix` the (a.ndim, count) matrix of them stacked."""
    a = as_tensor_variable(a)
    if a.ndim == 0:
        raise ValueError("nonzero of a 0-d array is not supported (NumPy deprecates it)")
    m = nonzero_matrix(a)
    if return_matrix:
        return m
    return tuple(m[k] for k in range(a.ndim))


def flatnonzero(a: Any):
    """Positions of the nonzero elements of `a` flattened (np.flatnonzero)."""
    from clgraph.tensor.shape import flatten

    a = as_tensor_variable(a)
    return nonzero_matrix(flatten(a) if a.ndim != 1 else a)[0]


def nonzero_values(a: Any):
    """The nonzero elements of `a` flattened, in order (a.flatten()[flatnonzero(a)])."""
    from clgraph.tensor.shape import flatten

    a = as_tensor_variable(a)
    flat = flatten(a) if a.ndim != 1 else a
    return flat[flatnonzero(flat)]
