"""Array functions of the user namespace: arange eye tri tril triu identity_like alloc zeros
ones addbroadcast unbroadcast patternbroadcast tile repeat roll split cumsum cumprod sort argsort.

Where an operation is a composition (tile and repeat are a broadcast copy and a reshape, roll
two slices joined, eye a comparison of two aranges), it is built as one, so its gradient and
fusion come from the parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from clgraph.config import config
from clgraph.expr import dtypes as D
from clgraph.expr.array_ops import Alloc, ARange, CumOp, Rebroadcast, Sort
from clgraph.expr.variable import Constant, TensorVariable, Variable
from clgraph.tensor.basic import as_tensor_variable, cast, constant


def _scalar(v: Any) -> TensorVariable:
    """A Python number as int64 / floatX (not the smallest int type); variables as they are."""
    if isinstance(v, Variable):
        return v
    if isinstance(v, (bool, np.bool_)):
        return constant(int(v), dtype="int64")
    if isinstance(v, (int, np.integer)):
        return constant(int(v), dtype="int64")
    if isinstance(v, (float, np.floating)):
        return constant(float(v), dtype=config.floatX if isinstance(v, float) else v.dtype)
    return as_tensor_variable(v)


def _static_int(v: Any) -> int | None:
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, Constant) and v.ndim == 0:
        return int(v.data)
    return None


def _arange_bound(v: Any) -> tuple[TensorVariable, str | None]:
    """A bound of arange holding its exact value, and the dtype it brings to the result:
    a Python float brings floatX (Theano's rule), a Python int none (it fits any result)."""
    if isinstance(v, Variable):
        return v, v.dtype
    if isinstance(v, float) and not isinstance(v, np.generic):
        return constant(v, dtype="float64"), config.floatX
    if isinstance(v, int) and not isinstance(v, np.generic):
        return constant(int(v), dtype="int64"), None
    var = as_tensor_variable(v)  # NumPy scalars keep their dtype
    return var, var.dtype


def _arange_dtype(dtypes: list[str | None]) -> str:
    """Theano's arange dtype: the upcast of the bounds' dtypes, integers widened to int64
    (unsigned ones to uint64) so lengths do not overflow."""
    known = [d for d in dtypes if d is not None]
    dtype = D.upcast(*known) if known else "int64"
    if D.is_float(dtype):
        return dtype
    return "uint64" if D.is_int(dtype) and not D.is_signed(dtype) else "int64"


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> TensorVariable:
    """np.arange on the device; the bounds must be known when a call is prepared (constants,
    shape arithmetic, integer or float scalar inputs). The elements are NumPy's in the
    result's dtype, computed from the bounds' exact values (0.1 is not rounded to floatX)."""
    if stop is None:
        start, stop = 0, start
    bounds = [_arange_bound(v) for v in (start, stop, step)]
    if dtype is None:
        dtype = _arange_dtype([d for _, d in bounds])
    dtype = D.check_dtype(dtype, "arange")
    return ARange(dtype)(*(var for var, _ in bounds))


def alloc(value: Any, *shape: Any) -> TensorVariable:
    """`value` broadcast to `shape` (Theano's alloc); shape entries ints or integer scalars."""
    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        shape = tuple(shape[0])
    value = as_tensor_variable(value)
    return Alloc()(value, *[_scalar(s) for s in shape])


def _shape_args(shape: Any) -> tuple:
    if isinstance(shape, Variable) and shape.ndim == 1:
        n = shape.type.shape[0]
        if n is None:
            raise ValueError("zeros/ones: a shape vector must have a static length")
        return tuple(shape[i] for i in range(n))
    if isinstance(shape, (int, np.integer)) or (isinstance(shape, Variable) and shape.ndim == 0):
        return (shape,)
    return tuple(shape)


def zeros(shape: Any, dtype: Any = None) -> TensorVariable:
    return alloc(constant(0, dtype=dtype or config.floatX), *_shape_args(shape))


def ones(shape: Any, dtype: Any = None) -> TensorVariable:
    return alloc(constant(1, dtype=dtype or config.floatX), *_shape_args(shape))


def _diagonal_mask(n: Any, m: Any, k: Any, compare: Any, dtype: Any) -> TensorVariable:
    """n x m: compare(row + k, column) as dtype (eq: diagonal k; ge: at and below it)."""
    from clgraph import tensor as T

    rows = arange(n, dtype="int64")
    cols = arange(n if m is None else m, dtype="int64")
    mask = compare(T.shape_padright(rows) + _scalar(k), T.shape_padleft(cols))
    return cast(mask, dtype or config.floatX)


def eye(n: Any, m: Any = None, k: int = 0, dtype: Any = None) -> TensorVariable:
    """n x m with ones on diagonal k (k > 0 above the main diagonal)."""
    from clgraph.tensor.basic import eq

    return _diagonal_mask(n, m, k, eq, dtype)


def tri(N: Any, M: Any = None, k: int = 0, dtype: Any = None) -> TensorVariable:  # noqa: N803
    """Theano's tri: N x M (M = N by default) with ones at and below diagonal k (k > 0 above
    the main diagonal), zeros elsewhere; floatX unless dtype is given."""
    from clgraph.tensor.basic import ge

    return _diagonal_mask(N, M, k, ge, dtype)


def _triangle(m: Any, k: Any, lower: bool, what: str) -> TensorVariable:
    """m with the elements outside its lower (upper) triangle at diagonal k set to zero,
    over the last two axes as NumPy's (where, not a product: NaN there becomes 0 too)."""
    from clgraph.tensor.alloc import zeros_like
    from clgraph.tensor.basic import invert, switch
    from clgraph.tensor.shape import shape_i

    m = as_tensor_variable(m)
    if m.ndim < 2:
        raise ValueError(f"{what}: {m} ({m.type}) must have at least 2 dimensions")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"{what}: k must be an int, got {k!r}")
    rows, cols = shape_i(m, m.ndim - 2), shape_i(m, m.ndim - 1)
    keep = tri(rows, cols, k if lower else k - 1, dtype="bool")
    return switch(keep if lower else invert(keep), m, zeros_like(m))


def tril(m: Any, k: int = 0) -> TensorVariable:
    """Lower triangle of m: elements above diagonal k zeroed (Theano's tril)."""
    return _triangle(m, k, True, "tril")


def triu(m: Any, k: int = 0) -> TensorVariable:
    """Upper triangle of m: elements below diagonal k zeroed (Theano's triu)."""
    return _triangle(m, k, False, "triu")


def identity_like(x: Any, dtype: Any = None) -> TensorVariable:
    """eye of x's (2-d) shape, of x's dtype unless dtype is given."""
    from clgraph.tensor.shape import shape_i

    x = as_tensor_variable(x)
    if x.ndim != 2:
        raise ValueError(f"identity_like: {x} must be a matrix, got {x.ndim} dimensions")
    return eye(shape_i(x, 0), shape_i(x, 1), 0, dtype or x.dtype)


def _axes(x, axes, what) -> list[int]:
    out = []
    for a in axes:
        if not -x.ndim <= a < x.ndim:
            raise ValueError(f"{what}: axis {a} is out of range for {x} with {x.ndim} dims")
        out.append(int(a) % x.ndim)
    return out


def addbroadcast(x: Any, *axes: int) -> TensorVariable:
    """x with `axes` made broadcastable (checked to be of length 1 at run time)."""
    x = as_tensor_variable(x)
    axes = _axes(x, axes, "addbroadcast")
    todo = tuple((a, True) for a in axes if x.type.shape[a] != 1)
    return Rebroadcast(todo)(x) if todo else x


def unbroadcast(x: Any, *axes: int) -> TensorVariable:
    """x with `axes` no longer broadcastable (their static length forgotten if 1)."""
    x = as_tensor_variable(x)
    axes = _axes(x, axes, "unbroadcast")
    todo = tuple((a, False) for a in axes if x.type.shape[a] == 1)
    return Rebroadcast(todo)(x) if todo else x


def patternbroadcast(x: Any, broadcastable: Sequence[bool]) -> TensorVariable:
    x = as_tensor_variable(x)
    todo = tuple((a, bool(b)) for a, b in enumerate(broadcastable)
                 if bool(b) != (x.type.shape[a] == 1))
    return Rebroadcast(todo)(x) if todo else x


def _length(x, d):
    from clgraph.tensor.shape import shape_i

    return shape_i(x, d)


def tile(x: Any, reps: Any, ndim: int | None = None) -> TensorVariable:
    """np.tile: x repeated reps[d] times along each axis d (reps ints or integer scalars)."""
    from clgraph.tensor.shape import dimshuffle, reshape

    x = as_tensor_variable(x)
    if isinstance(reps, Variable) and reps.ndim == 1:
        if reps.type.shape[0] is None:
            raise ValueError("tile: a reps vector must have a static length")
        reps = [reps[i] for i in range(reps.type.shape[0])]
    elif isinstance(reps, (int, np.integer)) or (isinstance(reps, Variable) and reps.ndim == 0):
        reps = [reps]
    reps = list(reps)
    nd = max(x.ndim, len(reps), ndim or 0)
    reps = [1] * (nd - len(reps)) + reps
    if x.ndim < nd:
        x = dimshuffle(x, ("x",) * (nd - x.ndim) + tuple(range(x.ndim)))
    if all(_static_int(r) == 1 for r in reps):
        return x
    pattern, shape, final = [], [], []
    for d, r in enumerate(reps):
        pattern += ["x", d]
        n = x.type.shape[d] if x.type.shape[d] is not None else _length(x, d)
        shape += [_scalar(r), n]
        rs, ns = _static_int(r), _static_int(n) if not isinstance(n, int) else n
        final.append(rs * ns if rs is not None and ns is not None else _scalar(r) * n)
    big = alloc(dimshuffle(x, tuple(pattern)), *shape)
    return reshape(big, final)


def repeat(x: Any, repeats: Any, axis: int | None = None) -> TensorVariable:
    """np.repeat. `repeats`: an int or integer scalar (each element repeated that many
    times), or a sequence of per-element counts: constant, or a symbolic integer vector
    (the output length then depends on the data: computed on the device)."""
    from clgraph.tensor.indexing import take
    from clgraph.tensor.shape import dimshuffle, flatten, reshape

    x = as_tensor_variable(x)
    if axis is None:
        x = flatten(x)
        axis = 0
    axis = _axes(x, [axis], "repeat")[0]
    if isinstance(repeats, (list, tuple, np.ndarray)) or (
            isinstance(repeats, Constant) and repeats.ndim == 1):
        counts = np.asarray(repeats.data if isinstance(repeats, Constant) else repeats)
        if counts.ndim == 0:
            repeats = int(counts)
        else:
            if (counts < 0).any():
                raise ValueError("repeat: negative repeat counts")
            n = x.type.shape[axis]
            if n is not None and counts.size != n and counts.size != 1:
                raise ValueError(f"repeat: {counts.size} counts for axis {axis} of length {n}")
            if counts.size == 1:
                repeats = int(counts[0])
            else:
                return take(x, np.repeat(np.arange(counts.size), counts), axis=axis)
    elif isinstance(repeats, Variable) and repeats.ndim > 0:
        # Data-dependent length: the indices are built on the device (expr/masks.py).
        from clgraph.expr.masks import repeat_indices

        n = x.type.shape[axis] if x.type.shape[axis] is not None else _length(x, axis)
        return take(x, repeat_indices(repeats, n), axis=axis)
    r = _scalar(repeats)
    if _static_int(r) is not None and _static_int(r) < 0:
        raise ValueError("repeat: negative repeat count")
    order = list(range(x.ndim))
    order.insert(axis + 1, "x")
    shape = [x.type.shape[d] if x.type.shape[d] is not None else _length(x, d)
             for d in range(x.ndim)]
    big = alloc(dimshuffle(x, tuple(order)), *(shape[:axis + 1] + [r] + shape[axis + 1:]))
    n, rs = shape[axis], _static_int(r)
    merged = n * rs if isinstance(n, int) and rs is not None else _scalar(n) * r
    return reshape(big, shape[:axis] + [merged] + shape[axis + 1:])


def roll(x: Any, shift: Any, axis: Any = None) -> TensorVariable:
    """np.roll: elements shifted by `shift` along `axis` (of the flattened x if None); a
    tuple of shifts and/or axes rolls along each (broadcast against each other, as NumPy)."""
    from clgraph import tensor as T
    from clgraph.tensor.joining import concatenate
    from clgraph.tensor.shape import flatten, reshape, shape

    x = as_tensor_variable(x)
    if isinstance(shift, (tuple, list)) or isinstance(axis, (tuple, list)):
        if axis is None:
            raise ValueError("roll: a tuple of shifts needs a tuple of axes")
        shifts, axes = np.broadcast_arrays(np.asarray(shift, dtype=object),
                                           np.asarray(axis, dtype=object))
        for sh, ax in zip(shifts.ravel(), axes.ravel(), strict=True):
            x = roll(x, sh, int(ax))
        return x
    if axis is None:
        return reshape(roll(flatten(x), shift, 0), shape(x), ndim=x.ndim)
    if x.ndim == 0:
        return x
    axis = _axes(x, [axis], "roll")[0]
    n = x.type.shape[axis]
    sh = _static_int(shift)
    if n is not None and sh is not None:
        s = sh % n if n else 0
        cut = n - s
    else:
        length = _length(x, axis)
        s = T.mod(_scalar(shift), T.maximum(length, 1))
        cut = length - s
    pre = (slice(None),) * axis
    return concatenate([x[pre + (slice(cut, None),)], x[pre + (slice(None, cut),)]], axis=axis)


def _split_sizes(splits_size: Any, n_splits: int) -> tuple[list, int | None]:
    """split's `n_splits` sizes (ints, or integer scalars picked from a symbolic vector;
    None past the end of a short list) and how many were given (None: a vector of unknown
    length)."""
    if isinstance(splits_size, Variable) and not isinstance(splits_size, Constant):
        if splits_size.ndim != 1 or not D.is_int(splits_size.dtype):
            raise TypeError(f"split: splits_size must be an integer vector, got {splits_size} "
                            f"of type {splits_size.type}")
        return [splits_size[i] for i in range(n_splits)], splits_size.type.shape[0]
    data = splits_size.data if isinstance(splits_size, Constant) else splits_size
    sizes = [int(s) for s in np.ravel(np.asarray(data))]
    return (sizes + [None] * n_splits)[:n_splits], len(sizes)


def split(x: Any, splits_size: Any, n_splits: int, axis: int = 0) -> list[TensorVariable]:
    """Theano's split: `n_splits` pieces along `axis` of lengths `splits_size`. The sizes
    must add up to the axis length: checked at build time when both are static, else when
    a call is prepared (a ValueError, as Theano's Split raises)."""
    from clgraph.expr.array_ops import SplitCheck, check_split_sizes
    from clgraph.tensor.shape import shape_i

    x = as_tensor_variable(x)
    axis = _axes(x, [axis], "split")[0]
    sizes, given = _split_sizes(splits_size, n_splits)
    static = [_static_int(s) for s in sizes]
    check_split_sizes(static, given, x.type.shape[axis], axis)
    if None in static or x.type.shape[axis] is None:
        count = given if given is not None else shape_i(splits_size, 0)
        x = SplitCheck(axis)(x, _scalar(count), *(_scalar(s) for s in sizes))
    out, start = [], 0
    pre = (slice(None),) * axis
    for s in sizes:
        stop = start + s
        out.append(x[pre + (slice(start, stop),)])
        start = stop
    return out


def _cum(x, axis, mode):
    from clgraph.tensor.shape import flatten

    x = as_tensor_variable(x)
    if axis is None:
        x = flatten(x)
        axis = 0
    if x.ndim == 0:
        x = flatten(x)
    axis = _axes(x, [axis], "cumsum" if mode == "add" else "cumprod")[0]
    return CumOp(axis, mode)(x)


def cumsum(x: Any, axis: int | None = None) -> TensorVariable:
    return _cum(x, axis, "add")


def cumprod(x: Any, axis: int | None = None) -> TensorVariable:
    return _cum(x, axis, "mul")


def _sort(a, axis, kind, indices):
    from clgraph.tensor.shape import flatten

    a = as_tensor_variable(a)
    if kind not in ("quicksort", "mergesort", "heapsort", "stable", None):
        raise ValueError(f"sort: unknown kind {kind!r}")
    if axis is None:
        a = flatten(a)
        axis = 0
    if a.ndim == 0:
        raise ValueError("sort: a 0-d array cannot be sorted along an axis; pass axis=None")
    axis = _axes(a, [axis], "sort")[0]
    return Sort(axis, indices)(a)


def sort(a: Any, axis: int | None = -1, kind: str = "quicksort", order: Any = None
         ) -> TensorVariable:
    """Sorted copy of `a` along `axis` (stable whatever `kind`; NaN last)."""
    if order is not None:
        raise ValueError("sort: order= applies to structured arrays, which clgraph lacks")
    return _sort(a, axis, kind, False)


def argsort(a: Any, axis: int | None = -1, kind: str = "quicksort", order: Any = None
            ) -> TensorVariable:
    """Indices that sort `a` along `axis` (int64; stable whatever `kind`)."""
    if order is not None:
        raise ValueError("argsort: order= applies to structured arrays, which clgraph lacks")
    return _sort(a, axis, kind, True)
