"""View and shape ops: DimShuffle (transpose, add/drop broadcast dims) and Reshape."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr.apply import Apply
from clgraph.expr.op import Op
from clgraph.expr.type import TensorType, shape_str
from clgraph.expr.variable import TensorVariable


def as_var(x) -> TensorVariable:
    from clgraph.tensor.basic import as_tensor_variable

    return as_tensor_variable(x)


@dataclass(frozen=True)
class DimShuffle(Op):
    """Theano's DimShuffle: `new_order` lists input axes and 'x' (a new broadcastable axis).

    Input axes left out must have static length 1. Runs as a view: no kernel, no copy.
    """

    new_order: tuple = ()
    view_map = {0: 0}

    def make_node(self, x) -> Apply:
        x = as_var(x)
        kept = [d for d in self.new_order if d != "x"]
        for d in kept:
            if not isinstance(d, (int, np.integer)) or not 0 <= d < x.ndim:
                raise ValueError(f"dimshuffle{self.new_order}: axis {d!r} is not an axis of an "
                                 f"input of {x.ndim} dimensions")
        if len(set(kept)) != len(kept):
            raise ValueError(f"dimshuffle{self.new_order} repeats an axis")
        for d in range(x.ndim):
            if d not in kept and x.type.shape[d] != 1:
                raise ValueError(
                    f"dimshuffle{self.new_order} drops axis {d} of input {x} with shape "
                    f"{shape_str(x.type.shape)}; only axes of static length 1 can be dropped")
        shape = tuple(1 if d == "x" else x.type.shape[d] for d in self.new_order)
        return Apply(self, [x], [TensorVariable(TensorType(x.dtype, shape))])

    def perform(self, node, inputs):
        (x,) = inputs
        kept = [d for d in self.new_order if d != "x"]
        dropped = tuple(d for d in range(x.ndim) if d not in kept)
        y = np.squeeze(x, axis=dropped) if dropped else x
        rank = {d: i for i, d in enumerate(sorted(kept))}
        y = np.transpose(y, [rank[d] for d in kept])
        shape = list(y.shape)
        for i, d in enumerate(self.new_order):
            if d == "x":
                shape.insert(i, 1)
        return [y.reshape(shape)]

    def view_strides(self, shape, strides):
        """Runtime view: the output's (shape, strides) from the input's, in elements."""
        out_shape, out_strides = [], []
        for d in self.new_order:
            if d == "x":
                out_shape.append(1)
                out_strides.append(0)
            else:
                out_shape.append(shape[d])
                out_strides.append(strides[d])
        return tuple(out_shape), tuple(out_strides), 0

    def infer_shape(self, node, input_shapes):
        (s,) = input_shapes
        return [tuple(1 if d == "x" else s[d] for d in self.new_order)]

    def __str__(self) -> str:
        return "DimShuffle{" + ",".join(str(d) for d in self.new_order) + "}"


@dataclass(frozen=True)
class Reshape(Op):
    """Reshape to `ndim` dims given by a shape vector (int64, -1 allowed once).

    A view of a contiguous input; the lowering copies a non-contiguous input first.
    `static_shape` keeps what is known at build time (constant entries).
    """

    ndim: int = 1
    static_shape: tuple = ()

    def make_node(self, x, shape) -> Apply:
        x = as_var(x)
        shape = as_var(shape)
        if shape.ndim != 1 or shape.dtype not in ("int8", "int16", "int32", "int64", "uint8"):
            raise TypeError(f"reshape: the new shape must be a vector of integers, got "
                            f"{shape.type}")
        out = self.static_shape or (None,) * self.ndim
        known = [s for s in out if s is not None and s >= 0]
        if None not in out and -1 not in out and None not in x.type.shape:
            if int(np.prod(known)) != int(np.prod(x.type.shape)):
                raise ValueError(f"cannot reshape input {x} of shape {shape_str(x.type.shape)} "
                                 f"to {shape_str(out)}")
        static = tuple(None if s is None or s < 0 else s for s in out)
        if -1 in out and None not in x.type.shape:
            total = int(np.prod(x.type.shape))
            rest = int(np.prod(known)) if known else 1
            if rest and total % rest == 0:
                static = tuple(total // rest if o == -1 else s for o, s in zip(out, static))
        return Apply(self, [x, shape], [TensorVariable(TensorType(x.dtype, static))])

    def perform(self, node, inputs):
        x, shape = inputs
        return [np.reshape(x, tuple(int(s) for s in shape))]

    def infer_shape(self, node, input_shapes):
        from clgraph import tensor as T

        return [tuple(T.getitem(node.inputs[1], i) for i in range(self.ndim))]

    def __str__(self) -> str:
        return f"Reshape{{{self.ndim}}}"
