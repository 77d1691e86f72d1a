"""Elemwise: a ScalarOp (or fused Composite) applied over broadcast tensors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr.apply import Apply
from clgraph.expr.op import Op
from clgraph.expr.scalar.base import ScalarOp
from clgraph.expr.scalar.composite import Composite
from clgraph.expr.shape_ops import DimShuffle
from clgraph.expr.type import TensorType, shape_str
from clgraph.expr.variable import TensorVariable


def broadcast_static_shapes(shapes: list[tuple], names: list[str], what: str) -> tuple:
    """Theano's broadcasting of static shapes; raises naming the inputs when impossible."""
    ndim = len(shapes[0])
    out = []
    for d in range(ndim):
        lengths = [s[d] for s in shapes]
        n = combine_lengths(lengths)
        if n is False:
            desc = ", ".join(f"{nm} of shape {shape_str(s)}" for nm, s in zip(names, shapes))
            raise ValueError(f"{what}: shapes do not broadcast along axis {d}: {desc}")
        out.append(n)
    return tuple(out)


def combine_lengths(lengths: list) -> int | None | bool:
    """The broadcast of static lengths along one axis: an int, None (unknown), or False
    when two known lengths other than 1 differ."""
    known = {n for n in lengths if n is not None and n != 1}
    if len(known) > 1:
        return False
    if known:
        return known.pop()
    return 1 if all(n == 1 for n in lengths) else None


@dataclass(frozen=True)
class Elemwise(Op):
    scalar_op: ScalarOp = None  # type: ignore[assignment]

    @property
    def composite(self) -> Composite:
        """The scalar program this node runs (a one-step Composite for a plain op)."""
        op = self.scalar_op
        return op if isinstance(op, Composite) else None  # type: ignore[return-value]

    def make_node(self, *inputs) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        nin = self.scalar_op.nin
        if len(inputs) != nin:
            raise TypeError(f"{self.scalar_op.name} takes {nin} inputs, got {len(inputs)}")
        inputs = [as_tensor_variable(x) for x in inputs]
        ndim = max((x.ndim for x in inputs), default=0)
        # Lower-rank inputs gain broadcastable axes on the left, as in Theano and NumPy.
        inputs = [x if x.ndim == ndim else
                  DimShuffle(("x",) * (ndim - x.ndim) + tuple(range(x.ndim)))(x)
                  for x in inputs]
        names = [str(x) for x in inputs]
        shape = broadcast_static_shapes([x.type.shape for x in inputs], names,
                                        self.scalar_op.name) if inputs else ()
        in_dtypes = [x.dtype for x in inputs]
        if isinstance(self.scalar_op, Composite):
            out_dtypes = self.scalar_op.out_dtypes()
        else:
            out_dtypes = [self.scalar_op.out_dtype(*in_dtypes)]
        outs = [TensorVariable(TensorType(dt, shape)) for dt in out_dtypes]
        return Apply(self, inputs, outs)

    def perform(self, node, inputs):
        op = self.scalar_op
        outs = op.impl_all(*inputs) if isinstance(op, Composite) else [op.impl(*inputs)]
        shape = np.broadcast_shapes(*[x.shape for x in inputs]) if inputs else ()
        return [np.asarray(np.broadcast_to(o, shape), dtype=v.dtype).copy()
                for o, v in zip(outs, node.outputs)]

    def infer_shape(self, node, input_shapes):
        from clgraph.expr.shape_infer import broadcast_shape_vars

        return [broadcast_shape_vars(node.inputs, input_shapes)] * len(node.outputs)

    def __str__(self) -> str:
        return f"Elemwise{{{self.scalar_op.name}}}"
