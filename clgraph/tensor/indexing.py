"""x[index], set_subtensor, inc_subtensor and take: NumPy's basic and advanced indexing.

Basic indices (ints, slices, None, Ellipsis) make views (Subtensor). Integer arrays (lists,
NumPy arrays, integer tensors) make an AdvancedSubtensor, a gather; an integer next to them
is an advanced index too, as in NumPy. A constant boolean mask is turned into the integer
arrays of its nonzero positions when the graph is built; a symbolic one into those of
`nonzero_matrix` (expr/masks.py: count, scan and emit on the device, then the gather).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.advanced import AdvancedIncSubtensor, AdvancedSubtensor
from clgraph.expr.subtensor import IncSubtensor, Subtensor, index_entries, make_subtensor
from clgraph.expr.variable import Constant, Variable


def _is_array_index(i: Any) -> bool:
    if isinstance(i, (list, np.ndarray)):
        return True
    return isinstance(i, Variable) and i.ndim > 0


def _is_bool(i: Any) -> bool:
    if isinstance(i, Variable):
        return i.dtype == "bool"
    if isinstance(i, (list, np.ndarray)):
        return np.asarray(i).dtype == np.bool_
    return isinstance(i, (bool, np.bool_))


def _is_mask(i: Any) -> bool:
    return _is_bool(i) and not isinstance(i, (bool, np.bool_))


def _expand(x: Variable, index: tuple) -> list:
    """Ellipsis expanded; boolean masks replaced by the integer arrays of their nonzero
    positions: computed now for a constant mask, on the device for a symbolic one."""
    from clgraph.expr.masks import check_mask_shape, nonzero_matrix
    from clgraph.tensor.basic import as_tensor_variable
    from clgraph.tensor.shape import shape_i

    def n_axes(i) -> int:
        if i is None or i is Ellipsis:
            return 0
        if _is_mask(i):
            return i.ndim if isinstance(i, Variable) else np.ndim(i)
        return 1

    items = list(index)
    if any(i is Ellipsis for i in items):
        k = next(j for j, i in enumerate(items) if i is Ellipsis)
        fill = x.ndim - sum(n_axes(i) for i in items)
        items = items[:k] + [slice(None)] * max(fill, 0) + items[k + 1:]
    out: list = []
    axis = 0
    for i in items:
        if not _is_mask(i):
            out.append(i)
            axis += 0 if i is None else 1
            continue
        nd = n_axes(i)
        if axis + nd > x.ndim:
            raise IndexError(f"too many indices for array: array is {x.ndim}-dimensional, but "
                             f"{axis + nd} were indexed")
        if isinstance(i, Variable) and not isinstance(i, Constant):
            if i.ndim == 0:
                raise NotImplementedError("indexing with a 0-d symbolic boolean is not "
                                          "implemented; use T.switch")
            lengths = [shape_i(x, axis + j) for j in range(nd)]
            nz = nonzero_matrix(i, lengths, first_axis=axis)
            out += [nz[j] for j in range(nd)]
        else:
            mask = np.asarray(i.data if isinstance(i, Constant) else i, dtype=bool)
            check_mask_shape(mask.shape, list(x.type.shape[axis:axis + nd]), axis)
            out += [as_tensor_variable(np.asarray(nz, dtype="int64")) for nz in mask.nonzero()]
        axis += nd
    return out


def getitem(x: Variable, index: Any) -> Variable:
    from clgraph.tensor.basic import as_tensor_variable

    idx = index if isinstance(index, tuple) else (index,)
    if not any(_is_array_index(i) for i in idx):
        return make_subtensor(x, index)
    entries, extra = advanced_entries(x, _expand(x, idx))
    return AdvancedSubtensor(tuple(entries))(as_tensor_variable(x), *extra)


def advanced_entries(x: Variable, index: list) -> tuple[list, list]:
    """The AdvancedSubtensor idx_list and extra inputs of an expanded index."""
    return index_entries(index, _array_entry)


def _array_entry(i: Any, extra: list) -> tuple:
    """An integer array (or tensor) index: an extra input, int64 for host arrays."""
    from clgraph.tensor.basic import as_tensor_variable

    if isinstance(i, (list, np.ndarray, int, np.integer)):
        arr = np.asarray(i)
        if arr.dtype.kind not in "iu":
            if arr.size == 0:
                arr = arr.astype("int64")
            else:
                raise IndexError(f"arrays used as indices must be of integer (or boolean) "
                                 f"type, got {arr.dtype}")
        if arr.dtype.kind == "i" and arr.dtype != np.int64:
            arr = arr.astype("int64")
        i = arr
    extra.append(as_tensor_variable(i))
    return ("adv", len(extra) - 1)


def _python_int_as(y: Any, dtype: str, name: str) -> Any:
    """A Python int written into an integer tensor takes its dtype when it fits, as NumPy's
    `a[1:3] = 7` does for a uint8 `a`; one that does not fit raises (NumPy 2)."""
    from clgraph.tensor.basic import constant

    if not isinstance(y, int) or isinstance(y, bool) or not D.is_int(dtype):
        return y
    info = np.iinfo(dtype)
    if not info.min <= y <= info.max:
        raise OverflowError(f"{name}: Python integer {y} is out of bounds for the {dtype} "
                            f"tensor it is written into ({info.min}..{info.max})")
    return constant(y, dtype=dtype)


def _inc_or_set(x_sub: Any, y: Any, set_instead_of_inc: bool, name: str) -> Variable:
    from clgraph.tensor.basic import as_tensor_variable

    x_sub = as_tensor_variable(x_sub)
    y = _python_int_as(y, x_sub.dtype, name)
    owner = x_sub.owner
    if owner is not None and isinstance(owner.op, Subtensor):
        x, *extra = owner.inputs
        return IncSubtensor(owner.op.idx_list, set_instead_of_inc)(x, y, *extra)
    if owner is not None and isinstance(owner.op, AdvancedSubtensor):
        x, *extra = owner.inputs
        return AdvancedIncSubtensor(owner.op.idx_list, set_instead_of_inc)(x, y, *extra)
    raise TypeError(f"{name}: the first argument must be an indexed tensor such as x[idx] "
                    f"(the result of indexing), got {x_sub}"
                    + (f" computed by {owner.op}" if owner is not None else ""))


def set_subtensor(x: Any, y: Any, inplace: bool = False, tolerate_inplace_aliasing: bool = False
                  ) -> Variable:
    """x with the region x[idx] set to y: `T.set_subtensor(x[idx], y)`, as in Theano."""
    return _inc_or_set(x, y, True, "set_subtensor")


def inc_subtensor(x: Any, y: Any, inplace: bool = False, set_instead_of_inc: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> Variable:
    """x with y added to the region x[idx]; repeated indices accumulate (np.add.at)."""
    return _inc_or_set(x, y, set_instead_of_inc, "inc_subtensor")


def take(a: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> Variable:
    """np.take: elements of `a` at `indices` along `axis` (of the flattened `a` if None)."""
    from clgraph.tensor.basic import as_tensor_variable
    from clgraph.tensor.shape import flatten

    if mode != "raise":
        raise NotImplementedError(f"take: mode={mode!r}; only 'raise' is implemented")
    a = as_tensor_variable(a)
    if axis is None:
        a = flatten(a)
        axis = 0
    if not -a.ndim <= axis < a.ndim:
        raise ValueError(f"take: axis {axis} is out of range for {a} with {a.ndim} dimensions")
    axis %= a.ndim
    ind = indices if isinstance(indices, Variable) else np.asarray(indices)
    if isinstance(ind, np.ndarray) and ind.ndim == 0:
        ind = as_tensor_variable(ind.astype("int64"))
    if isinstance(ind, Variable) and ind.ndim == 0:
        entries, extra = advanced_entries(a, [slice(None)] * axis + [ind])
        return AdvancedSubtensor(tuple(entries))(a, *extra)
    return getitem(a, (slice(None),) * axis + (ind,))
