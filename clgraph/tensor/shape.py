"""Shape functions of the user namespace: transpose, dimshuffle, reshape, flatten, shape."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from clgraph.expr.shape_ops import DimShuffle, Reshape
from clgraph.expr.variable import Constant, TensorVariable, Variable
from clgraph.tensor.arguments import argument_alias
from clgraph.tensor.basic import as_tensor_variable, constant


def dimshuffle(x: Any, pattern: tuple) -> TensorVariable:
    x = as_tensor_variable(x)
    pattern = tuple(p if p == "x" else int(p) for p in pattern)
    if pattern == tuple(range(x.ndim)):
        return x
    return DimShuffle(pattern)(x)


def transpose(x: Any, axes: Any = None) -> TensorVariable:
    x = as_tensor_variable(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    axes = tuple(int(a) % x.ndim if x.ndim else int(a) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes "
                         f"of {x}")
    return dimshuffle(x, axes)


def shape_padleft(x: Any, n_ones: int = 1) -> TensorVariable:
    x = as_tensor_variable(x)
    return dimshuffle(x, ("x",) * n_ones + tuple(range(x.ndim)))


def shape_padright(x: Any, n_ones: int = 1) -> TensorVariable:
    x = as_tensor_variable(x)
    return dimshuffle(x, tuple(range(x.ndim)) + ("x",) * n_ones)


def shape_padaxis(x: Any, axis: int) -> TensorVariable:
    x = as_tensor_variable(x)
    axis = axis % (x.ndim + 1)
    order = list(range(x.ndim))
    order.insert(axis, "x")
    return dimshuffle(x, tuple(order))


def _static_ints(shape: Any) -> tuple | None:
    if isinstance(shape, Variable):
        if isinstance(shape, Constant):
            return tuple(int(s) for s in np.ravel(shape.data))
        return None
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    out = []
    for s in shape:
        if isinstance(s, Constant):
            out.append(int(s.data))
        elif isinstance(s, Variable):
            out.append(None)
        else:
            out.append(int(s))
    return tuple(out)


def reshape(x: Any, newshape: Any = None, ndim: int | None = None, *, shape: Any = None
            ) -> TensorVariable:
    """Theano's reshape(x, newshape, ndim=None), as NumPy's (one -1 allowed; `shape=` is
    NumPy's name for newshape); newshape may mix ints and symbolic scalars, or be a
    symbolic vector (ndim= gives its length when that is not static)."""
    from clgraph.tensor.basic import cast

    shape = argument_alias("reshape", "newshape", newshape, "shape", shape)
    if shape is None:
        raise TypeError("reshape(x, newshape): newshape is needed")
    x = as_tensor_variable(x)
    static = _static_ints(shape)
    if isinstance(shape, Variable):
        shp = cast(shape, "int64")
        if shp.ndim != 1:
            raise TypeError(f"reshape: the shape must be a vector, got {shp.type}")
        if shp.type.shape[0] is None and ndim is None:
            raise ValueError("reshape: pass ndim= when the shape vector's length is unknown")
        n = ndim if ndim is not None else shp.type.shape[0]
        static = static or (None,) * n
    else:
        parts = list(shape) if not isinstance(shape, (int, np.integer)) else [shape]
        if sum(1 for p in static if p == -1) > 1:
            raise ValueError(f"reshape: at most one -1 is allowed, got {tuple(static)}")
        if all(not isinstance(p, Variable) for p in parts):
            shp = constant(np.asarray(parts, dtype="int64"))
        else:
            from clgraph.tensor.shape_vec import stack_scalars

            shp = stack_scalars([cast(as_tensor_variable(p), "int64") for p in parts])
        n = len(parts)
    if static is not None and None not in static and None not in x.type.shape:
        if -1 not in static and int(np.prod(static)) == int(np.prod(x.type.shape)) and \
                tuple(static) == x.type.shape:
            return x
    return Reshape(n, tuple(static))(x, shp)


def flatten(x: Any, ndim: int | None = None, outdim: int | None = None) -> TensorVariable:
    """Theano's flatten: keep the first ndim-1 axes, collapse the rest (ndim 1 by default;
    outdim is Theano's deprecated name for ndim)."""
    ndim = argument_alias("flatten", "ndim", ndim, "outdim", outdim)
    if outdim is not None:
        warnings.warn("flatten: outdim is deprecated (as in Theano); use ndim",
                      DeprecationWarning, stacklevel=2)
    ndim = 1 if ndim is None else ndim
    x = as_tensor_variable(x)
    if ndim < 1 or ndim > max(x.ndim, 1):
        raise ValueError(f"flatten: ndim must be between 1 and {max(x.ndim, 1)}, got {ndim}")
    if x.ndim == ndim:
        return x
    dims = [shape_i(x, d) for d in range(ndim - 1)]
    known = x.type.shape
    lead = [known[d] if known[d] is not None else dims[d] for d in range(ndim - 1)]
    return reshape(x, lead + [-1])


def shape_i(x: Any, i: int) -> TensorVariable:
    """Length of axis i: a constant when static, else computed from the runtime shape."""
    x = as_tensor_variable(x)
    n = x.type.shape[i]
    if n is not None:
        return constant(np.int64(n))
    from clgraph.expr.shape_infer import Shape_i

    return Shape_i(i)(x)


def shape(x: Any) -> TensorVariable:
    """Symbolic shape vector (int64); entries known at build time are constants."""
    x = as_tensor_variable(x)
    if None not in x.type.shape:
        return constant(np.asarray(x.type.shape, dtype="int64"))
    from clgraph.expr.shape_infer import Shape

    return Shape()(x)
