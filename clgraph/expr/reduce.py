"""Reductions: Reduce (sum, prod, max, min, all, any over a set of axes) and Argmax."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.apply import Apply
from clgraph.expr.op import Op
from clgraph.expr.type import TensorType, shape_str
from clgraph.expr.variable import TensorVariable

_NP = {"add": np.sum, "mul": np.prod, "max": np.max, "min": np.min, "and": np.all,
       "or": np.any}


def normalize_axes(axis, ndim: int, what: str) -> tuple[int, ...]:
    """None → all axes; ints and tuples with negative values allowed; duplicates rejected."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{what}: axis {a} is out of range for an input of {ndim} "
                             "dimension(s)")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: repeated axis in {axis}")
    return tuple(sorted(out)) if ndim else ()


def reduce_out_dtype(kind: str, dtype: str) -> str:
    """NumPy's: sums and products of small ints widen to int64/uint64; bool sums to int64."""
    if kind in ("and", "or"):
        return "bool"
    if kind in ("add", "mul"):
        if dtype == "bool" or (D.is_int(dtype) and D.is_signed(dtype)):
            return "int64"
        if D.is_int(dtype):
            return "uint64"
    return dtype


@dataclass(frozen=True)
class Reduce(Op):
    kind: str = "add"
    axes: tuple = ()
    dtype: str | None = None  # output dtype; None: NumPy's rule

    def make_node(self, x) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        x = as_tensor_variable(x)
        for a in self.axes:
            if not 0 <= a < x.ndim:
                raise ValueError(f"{self}: axis {a} out of range for {x} of type {x.type}")
        if self.kind in ("max", "min"):
            for a in self.axes:
                if x.type.shape[a] == 0:
                    raise ValueError(f"{self}: zero-size axis {a} of {x} with shape "
                                     f"{shape_str(x.type.shape)} has no {self.kind}imum")
        out_dtype = self.dtype or reduce_out_dtype(self.kind, x.dtype)
        shape = tuple(n for d, n in enumerate(x.type.shape) if d not in self.axes)
        return Apply(self, [x], [TensorVariable(TensorType(out_dtype, shape))])

    def perform(self, node, inputs):
        (x,) = inputs
        out = node.outputs[0].dtype
        if self.kind in ("max", "min") and any(x.shape[a] == 0 for a in self.axes):
            raise ValueError(f"{self}: zero-size axis has no {self.kind}imum")
        with np.errstate(all="ignore"):
            if self.kind in ("add", "mul"):
                r = _NP[self.kind](x, axis=self.axes, dtype=out)
            else:
                r = _NP[self.kind](x, axis=self.axes)
        return [np.asarray(r, dtype=out)]

    def infer_shape(self, node, input_shapes):
        return [tuple(s for d, s in enumerate(input_shapes[0]) if d not in self.axes)]

    def __str__(self) -> str:
        return f"Reduce{{{self.kind}, axes={list(self.axes)}}}"


@dataclass(frozen=True)
class Argmax(Op):
    """Index of the max (`kind='max'`) or min along one axis; first occurrence on ties.

    NaN counts as the maximum (and minimum), as in NumPy.
    """

    axis: int = 0
    kind: str = "max"

    def make_node(self, x) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        x = as_tensor_variable(x)
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"arg{self.kind}: axis {self.axis} out of range for {x.type}")
        shape = tuple(n for d, n in enumerate(x.type.shape) if d != self.axis)
        return Apply(self, [x], [TensorVariable(TensorType("int64", shape))])

    def perform(self, node, inputs):
        fn = np.argmax if self.kind == "max" else np.argmin
        return [np.asarray(fn(inputs[0], axis=self.axis), dtype="int64")]

    def __str__(self) -> str:
        return f"Arg{self.kind}{{axis={self.axis}}}"


@dataclass(frozen=True)
class FusedReduce(Reduce):
    """Reduce of `prologue(*inputs)`: an elementwise producer fused into the reduction, so
    `sum(x ** 2)` reads x once and writes nothing in between. Built by the fusion pass."""

    prologue: object = None  # a scalar Composite

    def make_node(self, *inputs) -> Apply:
        from clgraph.expr.elemwise import Elemwise

        value = Elemwise(self.prologue).make_node(*inputs).outputs[0]
        out = Reduce.make_node(self, value).outputs[0]
        return Apply(self, list(value.owner.inputs), [TensorVariable(out.type)])

    def perform(self, node, inputs):
        from clgraph.expr.elemwise import Elemwise

        value_node = Elemwise(self.prologue).make_node(*node.inputs)
        (value,) = value_node.op.perform(value_node, inputs)
        return Reduce.perform(self, node, [value])

    def __str__(self) -> str:
        return f"FusedReduce{{{self.kind}, axes={list(self.axes)}, {self.prologue.name}}}"


@dataclass(frozen=True)
class ReduceEpilogue(Reduce):
    """`epilogue(reduce(x), *extras)`: an elementwise consumer fused into the reduction's
    final store (a bias update `b - lr * sum(d, 0)`, a mean's division by the count). The
    extras have the result's rank and broadcast to its shape; the epilogue's value has the
    accumulator's dtype. Built by the fusion pass."""

    epilogue: object = None  # a scalar Composite: input 0 is the reduced value

    def make_node(self, x, *extras) -> Apply:
        node = Reduce.make_node(self, x)
        out = node.outputs[0]
        if self.epilogue.out_dtypes() != [out.dtype] or any(e.ndim != out.ndim
                                                             for e in extras):
            raise TypeError(f"{self}: the epilogue must give {out.dtype} values and its "
                            f"operands must have {out.ndim} dimension(s)")
        return Apply(self, [node.inputs[0], *extras], [TensorVariable(out.type)])

    def perform(self, node, inputs):
        (value,) = Reduce.perform(self, node, inputs[:1])
        out = node.outputs[0]
        with np.errstate(all="ignore"):
            res = self.epilogue.impl(value, *inputs[1:])
        return [np.asarray(np.broadcast_to(res, value.shape), dtype=out.dtype).copy()]

    def __str__(self) -> str:
        return (f"ReduceEpilogue{{{self.kind}, axes={list(self.axes)}, "
                f"{self.epilogue.name}}}")
