"""Dot22: matrix product (M, K) x (K, N). Every `dot` case lowers to it through views.
GemmEpilogue: Dot22 with an elementwise program applied to the product (specialize pass).
BatchedDot: (B, M, K) x (B, K, N), a product per batch element (batched_dot's 3-d case)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.apply import Apply
from clgraph.expr.elemwise import broadcast_static_shapes
from clgraph.expr.op import Op
from clgraph.expr.scalar.composite import Composite
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


@dataclass(frozen=True)
class GemmEpilogue(Op):
    """Dot22 followed by an elementwise program on its product: one GEMM with an epilogue.

    Inputs: A (M, K), B (K, N), then the `extras`, each broadcastable to (M, N) (a bias row
    or column, a mask, the weights an SGD update reads). `comp` is a scalar program whose
    input 0 is the product (in Dot22's dtype) and inputs 1.. are the extras; each of its
    outputs is an (M, N) output of the node. Made by the specialize pass (never by users):
    several outputs let a pre-activation that a gradient also needs leave the same kernel.
    """

    comp: Composite = None  # type: ignore[assignment]

    def make_node(self, a, b, *extras) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        prod = Dot22().make_node(a, b)
        extras = [as_tensor_variable(e) for e in extras]
        if self.comp.nin != 1 + len(extras):
            raise TypeError(f"{self}: takes {self.comp.nin - 1} extra operands, got "
                            f"{len(extras)}")
        if self.comp.in_dtypes[0] != prod.outputs[0].dtype:
            raise TypeError(f"{self}: the epilogue reads a {self.comp.in_dtypes[0]} product, "
                            f"Dot22 gives {prod.outputs[0].dtype}")
        for e in extras:
            if e.ndim != 2:
                raise TypeError(f"{self}: extra operand {e} must be a matrix, got {e.type}")
        shapes = [prod.outputs[0].type.shape] + [e.type.shape for e in extras]
        shape = broadcast_static_shapes(shapes, [str(v) for v in [prod.outputs[0]] + extras],
                                        str(self))
        outs = [TensorVariable(TensorType(dt, shape)) for dt in self.comp.out_dtypes()]
        return Apply(self, list(prod.inputs) + extras, outs)

    def perform(self, node, inputs):
        a, b, *extras = inputs
        dt = self.comp.in_dtypes[0]
        prod = np.asarray(np.dot(a.astype(dt), b.astype(dt)), dtype=dt)
        with np.errstate(all="ignore"):
            outs = self.comp.impl_all(prod, *extras)
        shape = np.broadcast_shapes(prod.shape, *[e.shape for e in extras])
        if shape != prod.shape:
            raise ValueError(f"{self}: the extra operands' shapes "
                             f"{[e.shape for e in extras]} do not broadcast to the product's "
                             f"shape {prod.shape}")
        return [np.asarray(np.broadcast_to(o, shape), dtype=v.dtype).copy()
                for o, v in zip(outs, node.outputs, strict=True)]

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[0][0], input_shapes[1][1])] * len(node.outputs)

    def __str__(self) -> str:
        return f"GemmEpilogue{{{self.comp.name}}}"


@dataclass(frozen=True)
class BatchedDot(Op):
    """out[i] = a[i] . b[i] for a (B, M, K) and b (B, K, N): `batched_dot`'s core (its other
    forms are views of this one). One host matmul on CPU devices, one kernel elsewhere."""

    def make_node(self, a, b) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        a, b = as_tensor_variable(a), as_tensor_variable(b)
        if a.ndim != 3 or b.ndim != 3:
            raise TypeError(f"BatchedDot takes two 3-d tensors, got {a.type} and {b.type}")
        for i, j, what in ((0, 0, "batch sizes"), (2, 1, "inner lengths")):
            n, m = a.type.shape[i], b.type.shape[j]
            if n is not None and m is not None and n != m:
                raise ValueError(f"batched_dot: {what} differ: {a} has shape "
                                 f"{shape_str(a.type.shape)}, {b} has shape "
                                 f"{shape_str(b.type.shape)}")
        dt = D.upcast(a.dtype, b.dtype)
        if dt == "bool":
            raise TypeError(f"batched_dot of bool tensors {a} and {b}: cast them first")
        batch = a.type.shape[0] if a.type.shape[0] is not None else b.type.shape[0]
        out = TensorVariable(TensorType(dt, (batch, a.type.shape[1], b.type.shape[2])))
        return Apply(self, [a, b], [out])

    def perform(self, node, inputs):
        a, b = inputs
        dt = node.outputs[0].dtype
        if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
            raise ValueError(f"batched_dot: shapes {a.shape} and {b.shape} do not match "
                             "(batch sizes, then a's axis 2 against b's axis 1)")
        return [np.matmul(a.astype(dt), b.astype(dt))]

    def infer_shape(self, node, input_shapes):
        (sa, sb) = input_shapes
        return [(sa[0], sa[1], sb[2])]

    def __str__(self) -> str:
        return "BatchedDot"
