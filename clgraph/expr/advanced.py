"""Advanced (integer-array) indexing, NumPy semantics: AdvancedSubtensor, AdvancedIncSubtensor.

An index is a tuple of entries, one per position of the user's index (Ellipsis expanded):

- ``("slice", start, stop, step)``: each part None, a Python int or ``("in", k)``, the k-th
  extra input of the node (an integer scalar whose value the plan knows on the host);
- ``("adv", k)``: the k-th extra input is an integer array (any rank, 0-d included: an
  integer next to arrays is an advanced index, as in NumPy);
- ``("newaxis",)``.

The index arrays broadcast together to a shape B. As in NumPy, B replaces the indexed axes
where they are adjacent in the index, and goes first where a slice or newaxis separates them.
Negative indices count from the end; an index outside ``[-n, n)`` raises IndexError naming
the index, the axis and its length: before launch where the values are known on the host
(constants, integer scalar inputs), else from a flag the kernel sets and the host reads back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.apply import Apply
from clgraph.expr.elemwise import combine_lengths
from clgraph.expr.op import Op
from clgraph.expr.subtensor import value_for_region
from clgraph.expr.type import TensorType, shape_str
from clgraph.expr.variable import Constant, TensorVariable

INDEX_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def broadcast_index_shapes(shapes: list[tuple], static: bool = False) -> tuple:
    """NumPy broadcast of the index arrays' shapes (right-aligned); None = unknown length."""
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for d in range(nd):
        lengths = [s[len(s) - nd + d] for s in shapes if len(s) - nd + d >= 0]
        n = combine_lengths(lengths)
        if n is False:
            desc = " ".join(shape_str(s) if static else str(tuple(s)) for s in shapes)
            raise IndexError("shape mismatch: indexing arrays could not be broadcast together "
                             f"with shapes {desc}")
        out.append(n)
    return tuple(out)


@dataclass
class IndexMap:
    """How output axes of x[index] map to x: per output axis, a view axis or a B axis."""

    shape: tuple                 # output shape (None where unknown statically)
    x_strides: tuple             # per output axis: element stride into x (0 on B axes)
    offset: int                  # element offset of the sliced view
    adv: list                    # per index array: (k, x axis, axis length, x stride)
    b_shape: tuple               # broadcast shape of the index arrays
    b_start: int                 # first output axis of B


def _part(v, values):
    if isinstance(v, tuple):
        if values is None or values[v[1]] is None:
            return "?"
        return int(np.asarray(values[v[1]]).item())
    return v


def index_map(idx_list: tuple, x_shape: tuple, x_strides: tuple | None, idx_shapes: dict,
              values: list | None) -> IndexMap:
    """The index map for x of `x_shape` (static: may hold None; strides None when static).

    `idx_shapes`: k -> shape of index array k; `values`: extra inputs' host values (None
    entries unknown), used for slice parts.
    """
    static = x_strides is None
    strides = x_strides if x_strides is not None else (0,) * len(x_shape)
    view: list = []
    adv: list = []
    adv_pos: list[int] = []
    offset, axis = 0, 0
    for e in idx_list:
        if e[0] == "newaxis":
            view.append((1, 0))
            continue
        n, st = x_shape[axis], strides[axis]
        if e[0] == "adv":
            adv.append((e[1], axis, n, st))
            adv_pos.append(len(view))
            view.append(None)
        else:
            start, stop, step = (_part(p, values) for p in e[1:])
            if step == 0:
                raise ValueError("slice step cannot be zero")
            if "?" in (start, stop, step) or n is None:
                if not static:
                    raise ValueError(f"slice {e} has parts unknown at run time")
                view.append((None, 0))
            else:
                start, stop, step = slice(start, stop, step).indices(n)
                length = len(range(start, stop, step))
                view.append((length, st * step))
                if length:
                    offset += start * st
        axis += 1
    view += [(x_shape[a], strides[a]) for a in range(axis, len(x_shape))]
    b_shape = broadcast_index_shapes([idx_shapes[k] for k, *_ in adv], static) if adv else ()
    adjacent = adv_pos == list(range(adv_pos[0], adv_pos[0] + len(adv_pos))) if adv_pos else True
    kept = [v for v in view if v is not None]
    b_start = (adv_pos[0] if adjacent else 0) if adv_pos else 0
    out_shape = [n for n, _ in kept]
    out_strides = [s for _, s in kept]
    out_shape[b_start:b_start] = list(b_shape)
    out_strides[b_start:b_start] = [0] * len(b_shape)
    return IndexMap(tuple(out_shape), tuple(out_strides), offset, adv, tuple(b_shape), b_start)


def numpy_index(idx_list: tuple, extra: list) -> tuple:
    idx = []
    for e in idx_list:
        if e[0] == "newaxis":
            idx.append(None)
        elif e[0] == "adv":
            idx.append(np.asarray(extra[e[1]]).astype(np.int64))
        else:
            idx.append(slice(*[int(np.asarray(extra[p[1]]).item()) if isinstance(p, tuple)
                               else p for p in e[1:]]))
    return tuple(idx)


def check_index_values(values: np.ndarray, n: int, axis: int) -> None:
    """IndexError naming the first index outside [-n, n) (NumPy's message)."""
    v = np.asarray(values)
    if v.size == 0:
        return
    bad = (v < -n) | (v >= n)
    if bad.any():
        first = v[bad].flat[0]
        raise IndexError(f"index {int(first)} is out of bounds for axis {axis} with size {n}")


def _check_extra(op, x, extra) -> None:
    for e in op.idx_list:
        if e[0] == "adv":
            v = extra[e[1]]
            if v.dtype not in INDEX_DTYPES:
                raise TypeError(f"{op}: index {v} must be an array of integers, got {v.type}")
        elif e[0] == "slice":
            for p in e[1:]:
                if isinstance(p, tuple):
                    v = extra[p[1]]
                    if v.ndim != 0 or v.dtype not in INDEX_DTYPES:
                        raise TypeError(f"{op}: slice bound {v} must be an integer scalar, got "
                                        f"{v.type}")
    n_axes = sum(1 for e in op.idx_list if e[0] != "newaxis")
    if n_axes > x.ndim:
        raise IndexError(f"too many indices for {x} of type {x.type}: {n_axes} given")


def _static_map(op, x, extra) -> IndexMap:
    shapes = {k: e.type.shape for k, e in enumerate(extra)}
    values = [e.data if isinstance(e, Constant) else None for e in extra]
    m = index_map(op.idx_list, x.type.shape, None, shapes, values)
    for k, axis, n, _ in m.adv:
        if isinstance(extra[k], Constant) and n is not None:
            check_index_values(extra[k].data, n, axis)
    return m


def _idx_str(idx_list: tuple) -> str:
    parts = []
    for e in idx_list:
        if e[0] == "newaxis":
            parts.append("None")
        elif e[0] == "adv":
            parts.append("int[]")
        else:
            parts.append(":".join("" if p is None else ("i" if isinstance(p, tuple) else str(p))
                                  for p in e[1:]))
    return ", ".join(parts)


@dataclass(frozen=True)
class AdvancedSubtensor(Op):
    """x[index] with integer arrays (NumPy advanced indexing): a gather into a new tensor."""

    idx_list: tuple = ()

    def make_node(self, x, *extra) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        x = as_tensor_variable(x)
        extra = [as_tensor_variable(e) for e in extra]
        _check_extra(self, x, extra)
        m = _static_map(self, x, extra)
        return Apply(self, [x, *extra], [TensorVariable(TensorType(x.dtype, m.shape))])

    def perform(self, node, inputs):
        x, *extra = inputs
        return [np.array(x[numpy_index(self.idx_list, extra)])]

    def infer_shape(self, node, input_shapes):
        return [node.outputs[0].type.shape]

    def L_op(self, node, grads):  # noqa: N802 - Theano's name
        from clgraph.tensor.alloc import zeros_like

        x, *extra = node.inputs
        (gz,) = grads
        if not D.is_float(x.dtype):
            return [None] * len(node.inputs)
        gx = AdvancedIncSubtensor(self.idx_list)(zeros_like(x), gz, *extra)
        return [gx] + [None] * len(extra)

    def __str__(self) -> str:
        return "AdvancedSubtensor{" + _idx_str(self.idx_list) + "}"


@dataclass(frozen=True)
class AdvancedIncSubtensor(Op):
    """x with x[index] incremented by y (repeated indices accumulate: np.add.at), or set to y.

    A new tensor; x is not modified. y broadcasts into the indexed region as in NumPy, except
    that, as everywhere in clgraph, an axis of y broadcasts only where its static length is 1.
    """

    idx_list: tuple = ()
    set_instead_of_inc: bool = False

    def make_node(self, x, y, *extra) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        x = as_tensor_variable(x)
        y = as_tensor_variable(y)
        extra = [as_tensor_variable(e) for e in extra]
        _check_extra(self, x, extra)
        y = value_for_region(self, x, y, _static_map(self, x, extra).shape)
        return Apply(self, [x, y, *extra], [TensorVariable(x.type)])

    def perform(self, node, inputs):
        x, y, *extra = inputs
        out = x.copy()
        idx = numpy_index(self.idx_list, extra)
        if self.set_instead_of_inc:
            out[idx] = y
        else:
            np.add.at(out, idx, y)
        return [out]

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, node, grads):  # noqa: N802
        from clgraph import tensor as T
        from clgraph.diff.lop import sum_to

        x, y, *extra = node.inputs
        (gz,) = grads
        if self.set_instead_of_inc:
            gx = AdvancedIncSubtensor(self.idx_list, True)(
                gz, T.constant(0, dtype=gz.dtype), *extra)
        else:
            gx = gz
        gy = AdvancedSubtensor(self.idx_list)(gz, *extra)
        lead = gy.ndim - y.ndim
        if lead:
            gy = T.sum(gy, axis=tuple(range(lead)))
        gy = sum_to(gy, y) if D.is_float(y.dtype) else None
        return [gx if D.is_float(x.dtype) else None, gy] + [None] * len(extra)

    def __str__(self) -> str:
        kind = "AdvancedSet" if self.set_instead_of_inc else "AdvancedInc"
        return f"{kind}Subtensor{{{_idx_str(self.idx_list)}}}"
