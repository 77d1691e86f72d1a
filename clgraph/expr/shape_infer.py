"""Shape as values: Shape, Shape_i and MakeVector, whose values the plan knows per call.

Their results depend only on input shapes and constants, so `Plan.prepare` computes them on
the host once per shape signature (and hands the device a cached copy if a kernel reads them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr.apply import Apply
from clgraph.expr.op import Op
from clgraph.expr.type import TensorType
from clgraph.expr.variable import TensorVariable


@dataclass(frozen=True)
class Shape(Op):
    host_only = True

    def make_node(self, x) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorVariable(TensorType("int64", (x.ndim,)))])

    def perform(self, node, inputs):
        return [np.asarray(inputs[0].shape, dtype="int64")]

    def host_value(self, node, shapes, values):
        return [np.asarray(shapes[0], dtype="int64")]


@dataclass(frozen=True)
class Shape_i(Op):  # noqa: N801 - Theano's name
    i: int = 0
    host_only = True

    def make_node(self, x) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        x = as_tensor_variable(x)
        if not 0 <= self.i < x.ndim:
            raise ValueError(f"Shape_i({self.i}) of {x}, which has {x.ndim} dimensions")
        return Apply(self, [x], [TensorVariable(TensorType("int64", ()))])

    def perform(self, node, inputs):
        return [np.asarray(inputs[0].shape[self.i], dtype="int64")]

    def host_value(self, node, shapes, values):
        return [np.asarray(shapes[0][self.i], dtype="int64")]

    def __str__(self) -> str:
        return f"Shape_i{{{self.i}}}"


@dataclass(frozen=True)
class MakeVector(Op):
    """Stack scalars into a vector (used for shapes built from symbolic lengths)."""

    dtype: str = "int64"

    def make_node(self, *scalars) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable, cast

        scalars = [cast(as_tensor_variable(s), self.dtype) for s in scalars]
        for s in scalars:
            if s.ndim != 0:
                raise TypeError(f"MakeVector takes scalars, got {s.type}")
        return Apply(self, scalars, [TensorVariable(TensorType(self.dtype, (len(scalars),)))])

    def perform(self, node, inputs):
        return [np.asarray([np.asarray(v).item() for v in inputs], dtype=self.dtype)]


def broadcast_shape_vars(inputs, input_shapes):
    """Symbolic output shape of an elementwise op: the first non-broadcast length per axis."""
    out = []
    for d in range(inputs[0].ndim if inputs else 0):
        pick = input_shapes[0][d]
        for v, s in zip(inputs, input_shapes):
            if v.type.shape[d] != 1:
                pick = s[d]
                break
        out.append(pick)
    return tuple(out)


def elemwise_length_source(node: Apply, axes) -> TensorVariable | None:
    """An input of the elementwise `node` whose lengths along `axes` are its output's (not
    broadcast there), or None: a length read from it does not keep the node computing."""
    out = node.outputs[0]
    for inp in node.inputs:
        if inp.ndim == out.ndim and all(inp.type.shape[a] != 1 or out.type.shape[a] == 1
                                        for a in axes):
            return inp
    return None
