"""Data-dependent lengths: nonzero positions of a mask, indices of np.repeat with counts.

Both are compactions done on the device in three stages: count, scan, gather/emit. The
count and scan are ordinary graph nodes (``incl = cumsum(flatten(mask != 0))``); the op
here takes ``incl`` and its last element ``last = incl[-1:]``, whose value its lowering
needs on the host to size its output (a *host sync point*, see `lower/plan.py`): the
executor runs the graph up to it, reads those few bytes back, and prepares the rest.

- `Nonzero`: inputs (mask, incl, last, *lengths). Output: int64 matrix (mask.ndim, count),
  the rows of np.nonzero(mask). `lengths`, when given, are the lengths of the axes of the
  array that the mask indexes (x[mask]); they must equal the mask's shape (IndexError).
- `RepeatIndices`: inputs (counts, incl, last, any_negative, n). Output: int64 vector
  np.repeat(arange(n), counts); counts has n entries or one (used for every element).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr.apply import Apply
from clgraph.expr.op import Op
from clgraph.expr.type import TensorType
from clgraph.expr.variable import Constant, TensorVariable


def _const_int(v) -> int | None:
    return int(np.asarray(v.data).item()) if isinstance(v, Constant) else None


def check_mask_shape(mask_shape: tuple, lengths: list, first_axis: int = 0) -> None:
    """NumPy's IndexError when a boolean mask does not match the axes it indexes."""
    for j, (m, n) in enumerate(zip(mask_shape, lengths, strict=True)):
        if m is not None and n is not None and m != n:
            raise IndexError(f"boolean index did not match indexed array along axis "
                             f"{first_axis + j}; size of axis is {n} but size of corresponding "
                             f"boolean axis is {m}")


@dataclass(frozen=True)
class Nonzero(Op):
    """(mask.ndim, count) int64 positions where mask is nonzero (see the module doc).

    `first_axis`: the axis of the indexed array the mask starts at (for error messages).
    """

    first_axis: int = 0

    def make_node(self, mask, incl, last, *lengths) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        mask, incl, last = (as_tensor_variable(v) for v in (mask, incl, last))
        lengths = [as_tensor_variable(n) for n in lengths]
        if mask.ndim == 0:
            raise ValueError("nonzero of a 0-d array is not supported (NumPy deprecates it); "
                             "use x.dimshuffle('x') first")
        if lengths and len(lengths) != mask.ndim:
            raise ValueError(f"{self}: {len(lengths)} lengths for a {mask.ndim}-d mask")
        if incl.dtype != "int64" or incl.ndim != 1 or last.dtype != "int64":
            raise TypeError(f"{self}: incl/last must be int64 vectors")
        if lengths:
            check_mask_shape(mask.type.shape, [_const_int(n) for n in lengths], self.first_axis)
        out = TensorVariable(TensorType("int64", (mask.ndim, None)))
        return Apply(self, [mask, incl, last, *lengths], [out])

    def perform(self, node, inputs):
        mask, _incl, _last, *lengths = inputs
        if lengths:
            check_mask_shape(np.shape(mask), [int(n) for n in lengths], self.first_axis)
        nz = np.nonzero(np.asarray(mask))
        return [np.array(nz, dtype="int64").reshape(len(nz), -1)]

    def L_op(self, node, grads):  # noqa: N802 - Theano's name
        return [None] * len(node.inputs)

    def __str__(self) -> str:
        return "Nonzero"


@dataclass(frozen=True)
class RepeatIndices(Op):
    """np.repeat(arange(n), counts) as an int64 vector (see the module doc)."""

    def make_node(self, counts, incl, last, any_negative, n) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        counts, incl, last, any_negative, n = (
            as_tensor_variable(v) for v in (counts, incl, last, any_negative, n))
        if counts.ndim != 1 or counts.dtype != "int64":
            raise TypeError(f"{self}: counts must be an int64 vector, got {counts.type}")
        c, nn = counts.type.shape[0], _const_int(n)
        if c is not None and nn is not None and c not in (1, nn):
            raise ValueError(f"repeat: {c} counts for an axis of length {nn}")
        return Apply(self, [counts, incl, last, any_negative, n],
                     [TensorVariable(TensorType("int64", (None,)))])

    def perform(self, node, inputs):
        counts, _incl, _last, _neg, n = inputs
        n = int(n)
        counts = np.asarray(counts)
        if counts.size not in (1, n):
            raise ValueError(f"repeat: {counts.size} counts for an axis of length {n}")
        if (counts < 0).any():
            raise ValueError("repeats may not contain negative values.")
        return [np.repeat(np.arange(n, dtype="int64"), counts)]

    def L_op(self, node, grads):  # noqa: N802
        return [None] * len(node.inputs)

    def __str__(self) -> str:
        return "RepeatIndices"


def _scan_count(flags):
    """incl = cumsum(flags) (int64) and last = incl[-1:], the total (empty if no flags)."""
    from clgraph.expr.array_ops import CumOp
    from clgraph.tensor.basic import cast

    incl = CumOp(0, "add")(flags)
    if incl.dtype != "int64":
        incl = cast(incl, "int64")
    return incl, incl[-1:]


def nonzero_matrix(mask, lengths=(), first_axis: int = 0) -> TensorVariable:
    """Graph of the (mask.ndim, count) int64 nonzero positions of `mask`."""
    from clgraph import tensor as T
    from clgraph.tensor.shape import flatten

    mask = T.as_tensor_variable(mask)
    if mask.ndim == 0:
        raise ValueError("nonzero of a 0-d array is not supported (NumPy deprecates it)")
    flags = flatten(mask)
    if flags.dtype != "bool":
        flags = T.neq(flags, 0)
    incl, last = _scan_count(flags)
    return Nonzero(first_axis)(mask, incl, last, *lengths)


def repeat_indices(counts, n) -> TensorVariable:
    """Graph of np.repeat(arange(n), counts) for a symbolic integer vector `counts`."""
    from clgraph import tensor as T

    counts = T.as_tensor_variable(counts)
    if counts.ndim != 1 or counts.dtype not in ("int8", "int16", "int32", "int64", "uint8",
                                                  "uint16", "uint32", "bool"):
        raise TypeError(f"repeat: counts must be a vector of integers, got {counts.type}")
    if counts.dtype != "int64":
        counts = T.cast(counts, "int64")
    incl, last = _scan_count(counts)
    return RepeatIndices()(counts, incl, last, T.any(T.lt(counts, 0)), n)
