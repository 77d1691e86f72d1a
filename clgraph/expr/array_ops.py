"""Array ops with kernels of their own: ARange, Alloc, CumOp, Sort; views that check:
Rebroadcast, SplitCheck.

Composite functions (eye, tile, repeat, roll, split, zeros, ones, ...) are built from these
and from views in `clgraph.tensor.array`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.apply import Apply
from clgraph.expr.op import Op
from clgraph.expr.type import TensorType, shape_str
from clgraph.expr.variable import Constant, TensorVariable


def _as(x):
    from clgraph.tensor.basic import as_tensor_variable

    return as_tensor_variable(x)


def _const_scalar(v):
    return v.data.item() if isinstance(v, Constant) and v.ndim == 0 else None


def arange_length(start, stop, step) -> int:
    """NumPy's length of arange(start, stop, step), from the bounds' exact values."""
    if step == 0:
        raise ValueError("arange: step cannot be zero")
    if not all(np.isfinite(v) for v in (start, stop, step)):
        raise ValueError(f"arange: start, stop and step must be finite, got {start}, {stop}, "
                         f"{step}")
    return max(0, int(np.ceil((stop - start) / step)))


def arange_fill_terms(start, step, dtype: str) -> tuple[np.generic, np.generic, np.generic]:
    """The terms of NumPy's arange fill in `dtype`: the first two elements are start and
    start + step (exact sums) converted to dtype; element i > 1 is first + i * delta with
    delta = second - first, computed in dtype (so float32 results match NumPy's bit for bit)."""
    dt = np.dtype(dtype)
    first = np.array(start).astype(dt)
    second = np.array(start + step).astype(dt)
    delta = (second - first).astype(dt)
    return first[()], second[()], delta[()]


@dataclass(frozen=True)
class ARange(Op):
    """[start, stop) by step. The inputs' values must be known on the host when a call is
    prepared (constants, integer scalar inputs, shape arithmetic): they fix the length."""

    dtype: str = "int64"

    def __post_init__(self) -> None:
        if D.check_dtype(self.dtype, "arange") == "bool":  # NumPy: no fill for bool either
            raise TypeError("arange: dtype bool is not supported; use an integer dtype")

    def make_node(self, start, stop, step) -> Apply:
        ins = [_as(v) for v in (start, stop, step)]
        for name, v in zip(("start", "stop", "step"), ins, strict=True):
            if v.ndim != 0:
                raise TypeError(f"arange: {name} must be a scalar, got {v} of type {v.type}")
        vals = [_const_scalar(v) for v in ins]
        n = arange_length(*vals) if None not in vals else None
        return Apply(self, ins, [TensorVariable(TensorType(self.dtype, (n,)))])

    def perform(self, node, inputs):
        start, stop, step = (np.asarray(v).item() for v in inputs)
        arange_length(start, stop, step)
        return [np.arange(start, stop, step, dtype=self.dtype)]

    def infer_shape(self, node, input_shapes):
        return [node.outputs[0].type.shape]

    def L_op(self, node, grads):  # noqa: N802
        return [None, None, None]

    def R_op(self, node, tangents):  # noqa: N802
        return [None]

    def __str__(self) -> str:
        return f"ARange{{{self.dtype}}}"


@dataclass(frozen=True)
class Alloc(Op):
    """`value` broadcast to the shape given by integer scalars (Theano's Alloc).

    An axis of `value` broadcasts only where its static length is 1 (Theano's rule), so the
    gradient (a sum over the broadcast axes) is known at build time.
    """

    def make_node(self, value, *shape) -> Apply:
        from clgraph.tensor.basic import cast

        value = _as(value)
        shape = [cast(_as(s), "int64") if _as(s).dtype != "int64" else _as(s) for s in shape]
        for s in shape:
            if s.ndim != 0 or not D.is_int(s.dtype):
                raise TypeError(f"alloc: shape entries must be integer scalars, got {s.type}")
        if value.ndim > len(shape):
            raise ValueError(f"alloc: value {value} has {value.ndim} dimensions, more than the "
                             f"{len(shape)} of the shape")
        static = []
        off = len(shape) - value.ndim
        for d, s in enumerate(shape):
            n = _const_scalar(s)
            if n is not None and n < 0:
                raise ValueError(f"alloc: negative length {n} on axis {d}")
            v = value.type.shape[d - off] if d >= off else 1
            if n is not None and v is not None and v != 1 and v != n:
                raise ValueError(f"alloc: value of shape {shape_str(value.type.shape)} cannot "
                                 f"be broadcast to length {n} on axis {d}")
            static.append(n if n is not None else (v if v != 1 else None))
        return Apply(self, [value, *shape],
                     [TensorVariable(TensorType(value.dtype, tuple(static)))])

    def perform(self, node, inputs):
        value, *shape = inputs
        return [np.broadcast_to(value, tuple(int(s) for s in shape)).copy()]

    def infer_shape(self, node, input_shapes):
        return [tuple(node.inputs[1:])]

    def L_op(self, node, grads):  # noqa: N802
        from clgraph import tensor as T
        from clgraph.diff.lop import sum_to

        value, *shape = node.inputs
        (gz,) = grads
        if not D.is_float(value.dtype):
            return [None] * len(node.inputs)
        lead = gz.ndim - value.ndim
        g = T.sum(gz, axis=tuple(range(lead))) if lead else gz
        return [sum_to(g, value)] + [None] * len(shape)

    def R_op(self, node, tangents):  # noqa: N802
        v = tangents[0]
        return [None if v is None else self(v, *node.inputs[1:])]


def check_split_sizes(sizes: list, given: int | None, length: int | None, axis: int) -> None:
    """Theano's Split checks, on what is known (None: not yet): one size per split
    (`given` sizes were passed), none negative, adding up to the axis length."""
    if given is not None and given != len(sizes):
        raise ValueError(f"split: {given} sizes given for {len(sizes)} splits")
    known = [int(s) for s in sizes if s is not None]
    if any(s < 0 for s in known):
        raise ValueError(f"split: negative size in {known}")
    if length is not None and len(known) == len(sizes) and sum(known) != length:
        raise ValueError(f"split: the sizes {known} sum to {sum(known)}, expected {length} "
                         f"(the length of axis {axis})")


class _CheckedView(Op):
    """An op that is its input 0 itself (a view) once a check at run time has passed."""

    view_map = {0: 0}

    def inner_mode(self, input_mode: str, input_ndim: int) -> str:
        return input_mode

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]


@dataclass(frozen=True)
class SplitCheck(_CheckedView):
    """x itself (a view), once split's sizes are checked against it (`check_split_sizes`)
    when a call is prepared, where the build could not: inputs x, the number of sizes
    given, one size per split (integer scalars known on the host)."""

    axis: int = 0

    def make_node(self, x, given, *sizes) -> Apply:
        ins = [_as(x), _as(given), *(_as(s) for s in sizes)]
        for v in ins[1:]:
            if v.ndim != 0 or not D.is_int(v.dtype):
                raise TypeError(f"split: sizes must be integer scalars, got {v} of type {v.type}")
        return Apply(self, ins, [TensorVariable(ins[0].type)])

    def perform(self, node, inputs):
        x, given, *sizes = inputs
        self.view_strides(x.shape, (), given, *sizes)
        return [x]

    def view_strides(self, shape, strides, given, *sizes):
        check_split_sizes(list(sizes), int(given), shape[self.axis], self.axis)
        return tuple(shape), tuple(strides), 0

    def L_op(self, node, grads):  # noqa: N802
        return [grads[0]] + [None] * (len(node.inputs) - 1)

    def R_op(self, node, tangents):  # noqa: N802
        return [tangents[0]]

    def __str__(self) -> str:
        return f"SplitCheck{{axis={self.axis}}}"


@dataclass(frozen=True)
class Rebroadcast(_CheckedView):
    """Change which axes are broadcastable (Theano's addbroadcast / unbroadcast): a view.

    `axes`: pairs (axis, broadcastable). Making an axis broadcastable checks at run time
    that its length is 1.
    """

    axes: tuple = ()

    def make_node(self, x) -> Apply:
        x = _as(x)
        shape = list(x.type.shape)
        for axis, b in self.axes:
            if not 0 <= axis < x.ndim:
                raise ValueError(f"{self}: axis {axis} is out of range for {x} with {x.ndim} "
                                 "dimensions")
            if b:
                if shape[axis] not in (None, 1):
                    raise ValueError(f"{self}: axis {axis} of {x} has static length "
                                     f"{shape[axis]}; only a length of 1 can broadcast")
                shape[axis] = 1
            elif shape[axis] == 1:
                shape[axis] = None
        return Apply(self, [x], [TensorVariable(TensorType(x.dtype, tuple(shape)))])

    def perform(self, node, inputs):
        (x,) = inputs
        self._check(x.shape)
        return [x]

    def _check(self, shape):
        for axis, b in self.axes:
            if b and shape[axis] != 1:
                raise ValueError(f"{self}: axis {axis} was declared broadcastable but has length "
                                 f"{shape[axis]} at run time")

    def view_strides(self, shape, strides):
        self._check(shape)
        return tuple(shape), tuple(strides), 0

    def L_op(self, node, grads):  # noqa: N802
        (x,) = node.inputs
        (gz,) = grads
        back = tuple((a, x.type.shape[a] == 1) for a, _ in self.axes)
        return [Rebroadcast(back)(gz)]

    def R_op(self, node, tangents):  # noqa: N802
        v = tangents[0]
        return [None if v is None else self(v)]

    def __str__(self) -> str:
        return "Rebroadcast{" + ",".join(f"{a}:{'1' if b else '?'}" for a, b in self.axes) + "}"


@dataclass(frozen=True)
class CumOp(Op):
    """Cumulative sum (mode 'add') or product ('mul') along `axis` (a device scan).

    The result dtype is NumPy's: small integers and bool accumulate in int64 (uint64).
    """

    axis: int = 0
    mode: str = "add"

    def make_node(self, x) -> Apply:
        from clgraph.expr.reduce import reduce_out_dtype

        x = _as(x)
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"cum{'sum' if self.mode == 'add' else 'prod'}: axis {self.axis} "
                             f"is out of range for {x} with {x.ndim} dimensions")
        dtype = reduce_out_dtype(self.mode, x.dtype)
        return Apply(self, [x], [TensorVariable(TensorType(dtype, x.type.shape))])

    def perform(self, node, inputs):
        fn = np.cumsum if self.mode == "add" else np.cumprod
        return [fn(inputs[0], axis=self.axis, dtype=node.outputs[0].dtype)]

    def infer_shape(self, node, input_shapes):
        return input_shapes

    def L_op(self, node, grads):  # noqa: N802
        from clgraph import tensor as T

        (x,) = node.inputs
        (gz,) = grads
        if not D.is_float(x.dtype):
            return [None]
        rev = tuple(slice(None, None, -1) if d == self.axis else slice(None)
                    for d in range(x.ndim))
        if self.mode == "add":
            return [T.cast(CumOp(self.axis, "add")(gz[rev])[rev], x.dtype)]
        fx = node.outputs[0]
        return [T.cast(CumOp(self.axis, "add")((fx * gz)[rev])[rev] / x, x.dtype)]

    def R_op(self, node, tangents):  # noqa: N802
        v = tangents[0]
        if v is None:
            return [None]
        if self.mode == "add":
            return [self(v)]
        fx = node.outputs[0]
        return [fx * CumOp(self.axis, "add")(v / node.inputs[0])]

    def __str__(self) -> str:
        return f"Cum{'sum' if self.mode == 'add' else 'prod'}{{axis={self.axis}}}"


@dataclass(frozen=True)
class Sort(Op):
    """Stable sort (or argsort when `indices`) along `axis`: NumPy's sorts on the buffers
    where the device shares host memory (PoCL), else a bitonic network on the device,
    ordering (value, original position) pairs, so equal values keep their order (NumPy's
    kind='stable'); NaN sorts last, as in NumPy."""

    axis: int = -1
    indices: bool = False

    def make_node(self, x) -> Apply:
        x = _as(x)
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"{'arg' if self.indices else ''}sort: axis {self.axis} is out of "
                             f"range for {x} with {x.ndim} dimensions")
        dtype = "int64" if self.indices else x.dtype
        return Apply(self, [x], [TensorVariable(TensorType(dtype, x.type.shape))])

    def perform(self, node, inputs):
        fn = np.argsort if self.indices else np.sort
        return [np.asarray(fn(inputs[0], axis=self.axis, kind="stable"),
                           dtype=node.outputs[0].dtype)]

    def infer_shape(self, node, input_shapes):
        return input_shapes

    def L_op(self, node, grads):  # noqa: N802
        from clgraph import tensor as T

        (x,) = node.inputs
        if self.indices or not D.is_float(x.dtype):
            return [None]
        (gz,) = grads
        perm = Sort(self.axis, True)(x)
        index = []
        for d in range(x.ndim):
            if d == self.axis:
                index.append(perm)
            else:
                r = T.arange(T.shape_i(x, d))
                index.append(T.dimshuffle(r, tuple(0 if e == d else "x" for e in range(x.ndim))))
        return [T.inc_subtensor(T.zeros_like(x)[tuple(index)], gz)]

    def __str__(self) -> str:
        return f"{'ArgSort' if self.indices else 'Sort'}{{axis={self.axis}}}"
