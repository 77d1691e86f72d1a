"""Join: concatenate tensors along an axis (stack is Join of padded inputs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.apply import Apply
from clgraph.expr.op import Op
from clgraph.expr.type import TensorType, shape_str
from clgraph.expr.variable import TensorVariable


@dataclass(frozen=True)
class Join(Op):
    axis: int = 0

    def make_node(self, *tensors) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable, cast

        if not tensors:
            raise ValueError("concatenate needs at least one tensor")
        tensors = [as_tensor_variable(t) for t in tensors]
        ndim = tensors[0].ndim
        if ndim == 0:
            raise ValueError("zero-dimensional arrays cannot be concatenated")
        for t in tensors:
            if t.ndim != ndim:
                raise ValueError(f"concatenate: all inputs need {ndim} dimensions, {t} has "
                                 f"{t.ndim}")
        if not 0 <= self.axis < ndim:
            raise ValueError(f"concatenate: axis {self.axis} out of range for {ndim}-d inputs")
        dtype = D.upcast(*[t.dtype for t in tensors])
        tensors = [cast(t, dtype) for t in tensors]
        shape = []
        for d in range(ndim):
            lengths = [t.type.shape[d] for t in tensors]
            if d == self.axis:
                shape.append(None if None in lengths else int(sum(lengths)))
                continue
            known = {n for n in lengths if n is not None}
            if len(known) > 1:
                desc = ", ".join(f"{t} {shape_str(t.type.shape)}" for t in tensors)
                raise ValueError(f"concatenate along axis {self.axis}: axis {d} lengths "
                                 f"differ: {desc}")
            shape.append(known.pop() if known else None)
        return Apply(self, tensors, [TensorVariable(TensorType(dtype, tuple(shape)))])

    def perform(self, node, inputs):
        return [np.concatenate(inputs, axis=self.axis)]

    def L_op(self, node, grads):
        from clgraph import tensor as T

        (gz,) = grads
        out, start = [], 0
        for t in node.inputs:
            n = T.shape_i(t, self.axis)
            idx = [slice(None)] * t.ndim
            idx[self.axis] = slice(start, start + n if start is not None else None)
            out.append(gz[tuple(idx)] if D.is_float(t.dtype) else None)
            start = start + n
        return out

    def __str__(self) -> str:
        return f"Join{{axis={self.axis}}}"
