"""Dot22: matrix product (M, K) x (K, N). Every `dot` case lowers to it through views."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.apply import Apply
from clgraph.expr.op import Op
from clgraph.expr.type import TensorType, shape_str
from clgraph.expr.variable import TensorVariable


@dataclass(frozen=True)
class Dot22(Op):
    def make_node(self, a, b) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        a, b = as_tensor_variable(a), as_tensor_variable(b)
        if a.ndim != 2 or b.ndim != 2:
            raise TypeError(f"Dot22 takes two matrices, got {a.type} and {b.type}")
        ka, kb = a.type.shape[1], b.type.shape[0]
        if ka is not None and kb is not None and ka != kb:
            raise ValueError(f"dot: shapes {shape_str(a.type.shape)} ({a}) and "
                             f"{shape_str(b.type.shape)} ({b}) are not aligned: "
                             f"{ka} (axis 1) != {kb} (axis 0)")
        dt = D.upcast(a.dtype, b.dtype)
        if dt == "bool":
            dt = "bool"
        out = TensorVariable(TensorType(dt, (a.type.shape[0], b.type.shape[1])))
        return Apply(self, [a, b], [out])

    def perform(self, node, inputs):
        a, b = inputs
        dt = node.outputs[0].dtype
        return [np.asarray(np.dot(a.astype(dt), b.astype(dt)), dtype=dt)]

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[0][0], input_shapes[1][1])]
