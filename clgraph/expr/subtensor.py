"""Basic indexing: integers, slices and newaxis, as views (offset and strides only).

Index entries may be symbolic integer scalars (Theano's `x[i * bs:(i + 1) * bs]`): their
values are known on the host when a call is prepared, like shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr.apply import Apply
from clgraph.expr.op import Op
from clgraph.expr.type import TensorType
from clgraph.expr.variable import Constant, TensorVariable, Variable

# An index entry: ("int", v) | ("slice", start, stop, step) | ("newaxis",), where each v is
# None, a Python int, or ("in", k): the k-th extra input of the node.


def _resolve(v, extra):
    if isinstance(v, tuple):
        return int(np.asarray(extra[v[1]]).item())
    return v


@dataclass(frozen=True)
class Subtensor(Op):
    idx_list: tuple = ()
    view_map = {0: 0}

    def make_node(self, x, *extra) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        x = as_tensor_variable(x)
        extra = [as_tensor_variable(e) for e in extra]
        for e in extra:
            if e.ndim != 0 or e.dtype not in ("int8", "int16", "int32", "int64", "uint8",
                                              "uint16", "uint32"):
                raise TypeError(f"index {e} must be an integer scalar, got {e.type}")
        n_axes = sum(1 for e in self.idx_list if e[0] != "newaxis")
        if n_axes > x.ndim:
            raise IndexError(f"too many indices for {x} of type {x.type}: {n_axes} given")
        shape = []
        axis = 0
        for entry in self.idx_list:
            if entry[0] == "newaxis":
                shape.append(1)
                continue
            n = x.type.shape[axis]
            if entry[0] == "int":
                v = entry[1]
                if isinstance(v, int) and n is not None and not -n <= v < n:
                    raise IndexError(f"index {v} is out of bounds for axis {axis} of {x} with "
                                     f"length {n}")
            else:
                _, start, stop, step = entry
                if step == 0:
                    raise ValueError("slice step cannot be zero")
                static = all(not isinstance(p, tuple) for p in (start, stop, step))
                shape.append(len(range(*slice(start, stop, step).indices(n)))
                             if static and n is not None else None)
            axis += 1
        shape += list(x.type.shape[axis:])
        return Apply(self, [x, *extra], [TensorVariable(TensorType(x.dtype, tuple(shape)))])

    def _index(self, extra):
        idx = []
        for entry in self.idx_list:
            if entry[0] == "newaxis":
                idx.append(None)
            elif entry[0] == "int":
                idx.append(_resolve(entry[1], extra))
            else:
                idx.append(slice(*[_resolve(p, extra) for p in entry[1:]]))
        return tuple(idx)

    def perform(self, node, inputs):
        x, *extra = inputs
        return [np.array(x[self._index(extra)])]

    def view_strides(self, shape, strides, *extra):
        """(shape, strides, offset) of the view, checking integer indices against lengths."""
        out_shape, out_strides, offset, axis = [], [], 0, 0
        for entry in self.idx_list:
            if entry[0] == "newaxis":
                out_shape.append(1)
                out_strides.append(0)
                continue
            n, st = shape[axis], strides[axis]
            if entry[0] == "int":
                i = _resolve(entry[1], extra)
                if not -n <= i < n:
                    raise IndexError(f"index {i} is out of bounds for axis {axis} with length {n}")
                offset += (i % n if n else 0) * st
            else:
                start, stop, step = (_resolve(p, extra) for p in entry[1:])
                start, stop, step = slice(start, stop, step).indices(n)
                length = len(range(start, stop, step))
                out_shape.append(length)
                out_strides.append(st * step)
                if length:
                    offset += start * st
            axis += 1
        out_shape += list(shape[axis:])
        out_strides += list(strides[axis:])
        return tuple(out_shape), tuple(out_strides), offset

    def inner_mode(self, input_mode: str, input_ndim: int) -> str:
        """Access of the view's innermost axis, given the input's (see lower/access.py)."""
        covered = sum(1 for e in self.idx_list if e[0] != "newaxis")
        if covered < input_ndim:
            return input_mode  # the input's last axis is kept as it was
        for e in reversed(self.idx_list):
            if e[0] == "newaxis":
                return "bcast"
            if e[0] == "slice":
                last = e is [x for x in self.idx_list if x[0] != "newaxis"][-1]
                return input_mode if last and e[3] in (None, 1) else "strided"
        return "strided"

    def __str__(self) -> str:
        parts = []
        for e in self.idx_list:
            if e[0] == "newaxis":
                parts.append("None")
            elif e[0] == "int":
                parts.append("i" if isinstance(e[1], tuple) else str(e[1]))
            else:
                parts.append(":".join("" if p is None else ("i" if isinstance(p, tuple) else
                                                            str(p)) for p in e[1:]))
        return "Subtensor{" + ", ".join(parts) + "}"


def index_part(v, extra: list):
    """One index bound as an idx_list entry: None, an int, or ("in", k) naming the k-th
    symbolic input, which is appended to `extra`."""
    if v is None or isinstance(v, (int, np.integer)):
        return None if v is None else int(v)
    if isinstance(v, Constant) and v.ndim == 0:
        return int(v.data)
    if isinstance(v, Variable):
        extra.append(v)
        return ("in", len(extra) - 1)
    raise TypeError(f"index entry {v!r} is not an integer, a slice or None")


def make_subtensor(x: Variable, index) -> Variable:
    """x[index] for basic indices; symbolic integer scalars become extra inputs."""
    if not isinstance(index, tuple):
        index = (index,)
    if any(i is Ellipsis for i in index):
        k = index.index(Ellipsis)
        n_axes = sum(1 for i in index if i is not None and i is not Ellipsis)
        index = index[:k] + (slice(None),) * (x.ndim - n_axes) + index[k + 1:]
    entries, extra = index_entries(index, lambda i, extra: ("int", index_part(i, extra)))
    return Subtensor(tuple(entries))(x, *extra)


def index_entries(index, entry) -> tuple[list, list]:
    """(idx_list entries, extra inputs) of an index tuple: None -> newaxis, slices with their
    bounds as `index_part`s, anything else through `entry(i, extra)`."""
    extra: list = []
    entries: list = []
    for i in index:
        if i is None:
            entries.append(("newaxis",))
        elif isinstance(i, slice):
            entries.append(("slice", index_part(i.start, extra), index_part(i.stop, extra),
                            index_part(i.step, extra)))
        else:
            entries.append(entry(i, extra))
    return entries, extra


@dataclass(frozen=True)
class IncSubtensor(Op):
    """x with x[index] incremented by y (or set to y): a new tensor, x is not modified.

    Basic indices only (the same idx_list as Subtensor). Gradient of Subtensor.
    """

    idx_list: tuple = ()
    set_instead_of_inc: bool = False

    def make_node(self, x, y, *extra) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        x = as_tensor_variable(x)
        y = as_tensor_variable(y)
        region = Subtensor(self.idx_list).make_node(x, *extra).outputs[0]
        y = value_for_region(self, x, y, region.type.shape)
        extra = [as_tensor_variable(e) for e in extra]
        return Apply(self, [x, y, *extra], [TensorVariable(x.type)])

    def perform(self, node, inputs):
        x, y, *extra = inputs
        out = x.copy()
        idx = Subtensor(self.idx_list)._index(extra)
        if self.set_instead_of_inc:
            out[idx] = y
        else:
            out[idx] += y
        return [out]

    def __str__(self) -> str:
        kind = "Set" if self.set_instead_of_inc else "Inc"
        return f"{kind}{Subtensor(self.idx_list)}"


def value_for_region(op, x, y, region: tuple):
    """`y` to be written (set or added) into a region of static shape `region` of `x`: at
    most as many dimensions, castable to x's dtype ('same_kind', then cast), each length 1
    or the region's. Errors name `op`."""
    from clgraph.expr.type import shape_str
    from clgraph.tensor.basic import cast

    if y.ndim > len(region):
        raise ValueError(f"{op}: value {y} has {y.ndim} dimensions, more than the "
                         f"{len(region)} of the indexed region {shape_str(region)}")
    if y.dtype != x.dtype:
        if not np.can_cast(y.dtype, x.dtype, casting="same_kind"):
            raise TypeError(f"{op}: value of dtype {y.dtype} cannot be written into {x} "
                            f"of dtype {x.dtype}")
        y = cast(y, x.dtype)
    padded = (1,) * (len(region) - y.ndim) + y.type.shape
    for r, n in zip(region, padded, strict=True):
        if r is not None and n is not None and n != 1 and r != n:
            raise ValueError(f"{op}: value shape {shape_str(y.type.shape)} does not fit the "
                             f"indexed region {shape_str(region)}")
    return y
