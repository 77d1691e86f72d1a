"""Variables, constants and the elementwise functions of the user namespace (graph only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from clgraph.config import config
from clgraph.expr import dtypes as D
from clgraph.expr.elemwise import Elemwise
from clgraph.expr.scalar import ops as S
from clgraph.expr.type import TensorType
from clgraph.expr.variable import Constant, TensorVariable, Variable


# ---------------------------------------------------------------- making variables
def tensor(dtype: Any = None, shape: Any = None, name: str | None = None,
           broadcastable: Any = None) -> TensorVariable:
    """`T.tensor(dtype, shape=(None, 3), name=None)`: None is an unknown length."""
    if isinstance(shape, str) and name is None:  # T.tensor('float32', 'x') is not a thing
        raise TypeError("T.tensor(dtype, shape, name): shape must be a tuple")
    dtype = config.floatX if dtype is None else dtype
    if shape is None and broadcastable is None:
        raise TypeError("T.tensor needs shape=(...) (None for unknown lengths)")
    return TensorType(dtype, shape, broadcastable)(name)


def _maker(ndim: int, fixed_dtype: str | None = None):
    def make(name: str | None = None, dtype: Any = None, shape: Any = None) -> TensorVariable:
        dt = fixed_dtype or (config.floatX if dtype is None else dtype)
        shp = (None,) * ndim if shape is None else tuple(shape)
        if len(shp) != ndim:
            raise ValueError(f"shape {shp} does not have {ndim} entries")
        return TensorType(dt, shp)(name)
    return make


scalar, vector, matrix, tensor3, tensor4, tensor5 = (_maker(n) for n in range(6))
row = _maker(2)  # refined below to shape (1, None)
_PREFIX = {"f": "float32", "d": "float64", "i": "int32", "l": "int64", "b": "int8",
           "w": "int16", "bool": "bool"}
_NAMES = {0: "scalar", 1: "vector", 2: "matrix", 3: "tensor3", 4: "tensor4", 5: "tensor5"}
for _p, _dt in _PREFIX.items():
    for _n, _nm in _NAMES.items():
        globals()[f"{_p}{_nm}"] = _maker(_n, _dt)


def row(name: str | None = None, dtype: Any = None) -> TensorVariable:  # noqa: F811
    return TensorType(dtype or config.floatX, (1, None))(name)


def col(name: str | None = None, dtype: Any = None) -> TensorVariable:
    return TensorType(dtype or config.floatX, (None, 1))(name)


def _typed(fn, dtype: str):
    def make(name: str | None = None) -> TensorVariable:
        return fn(name, dtype)
    return make


# Theano's typed rows and columns (frow, dcol, irow, ...), and its plural constructors
# (fscalars('a', 'b'), matrices('x', 'y'), ...): one variable per name.
for _p, _dt in _PREFIX.items():
    globals()[f"{_p}row"], globals()[f"{_p}col"] = _typed(row, _dt), _typed(col, _dt)


def _plural(single):
    def make(*names: Any) -> TensorVariable | list[TensorVariable]:
        """Theano's plural constructors: scalars('a', 'b'); scalars(3); one argument is a
        sequence of names, a string one name per character (scalars('abcd')), and a single
        name gives the variable itself, not a list."""
        if len(names) == 1 and isinstance(names[0], int):
            return [single() for _ in range(names[0])]
        if len(names) == 1:
            names = names[0]
        if len(names) == 1:
            return single(names[0])
        return [single(n) for n in names]
    return make


for _p in ("", *_PREFIX):
    for _nm, _plural_name in (("scalar", "scalars"), ("vector", "vectors"),
                              ("matrix", "matrices"), ("row", "rows"), ("col", "cols"),
                              ("tensor3", "tensor3s"), ("tensor4", "tensor4s")):
        globals()[f"{_p}{_plural_name}"] = _plural(globals()[f"{_p}{_nm}"])


def constant(x: Any, name: str | None = None, ndim: int | None = None, dtype: Any = None
             ) -> Constant:
    """Theano's constant(x, name=None, ndim=None, dtype=None). Python floats take floatX
    (Theano); arrays keep their dtype. `ndim` pads the value with leading broadcastable
    axes (Theano: constant(3., ndim=2) is of shape (1, 1))."""
    if dtype is None:
        # np.float64 subclasses float, but NumPy scalars keep their dtype.
        if isinstance(x, (bool, int, float)) and not isinstance(x, np.generic):
            dtype = D.python_scalar_dtype(x)
        else:
            arr = np.asarray(x)
            if arr.dtype.kind == "f" and not isinstance(x, np.ndarray) and \
                    not isinstance(x, np.generic):
                dtype = config.floatX  # lists of Python floats, as Theano
            else:
                dtype = arr.dtype
    arr = np.asarray(x, dtype=D.check_dtype(dtype, f"constant {name or ''}".strip()))
    if ndim is not None:
        arr = _pad_leading_axes(arr, ndim)
    return Constant(TensorType(arr.dtype, arr.shape), arr, name=name)


def _pad_leading_axes(arr: np.ndarray, ndim: int) -> np.ndarray:
    """arr with leading axes of length 1 up to ndim dimensions (Theano's constant)."""
    if isinstance(ndim, bool) or not isinstance(ndim, (int, np.integer)) or ndim < 0:
        raise TypeError(f"constant: ndim must be a non-negative int, got {ndim!r}")
    if arr.ndim > ndim:
        raise ValueError(f"constant of shape {arr.shape} cannot be given {ndim} dimension(s): "
                         f"it has {arr.ndim}")
    return arr.reshape((1,) * (ndim - arr.ndim) + arr.shape)


def as_tensor_variable(x: Any, name: str | None = None, ndim: int | None = None
                       ) -> TensorVariable:
    if isinstance(x, TensorVariable):
        if ndim is not None and x.ndim != ndim:
            raise TypeError(f"{x} has {x.ndim} dimensions, expected {ndim}")
        return x
    if isinstance(x, Variable):
        raise TypeError(f"{x} is not a tensor variable")
    if isinstance(x, (list, tuple)) and any(isinstance(e, Variable) for e in x):
        from clgraph.tensor.joining import stack

        return stack([as_tensor_variable(e) for e in x])
    return constant(x, name=name, ndim=ndim)


# ---------------------------------------------------------------- elementwise
def _align(args: tuple) -> list[TensorVariable]:
    """Python scalars take the dtype of the tensors beside them (NumPy 2's weak scalars),
    except that a Python float next to integer tensors takes floatX (Theano)."""
    tensors = [a for a in args if isinstance(a, Variable)]
    if not tensors:
        return [as_tensor_variable(a) for a in args]
    ref = D.upcast(*[t.dtype for t in tensors])
    out = []
    for a in args:
        if isinstance(a, Variable):
            out.append(as_tensor_variable(a))
            continue
        if isinstance(a, np.generic):
            # NumPy scalars have their dtype (NumPy 2, and Theano's constants): float32 data
            # times np.float64(0.5) is float64. Only Python's bool, int, float are weak.
            out.append(as_tensor_variable(a))
            continue
        if isinstance(a, bool):
            dt = "bool"
        elif isinstance(a, int):
            if D.is_float(ref):
                dt = ref
            elif D.is_int(ref):
                info = np.iinfo(ref)
                dt = ref if info.min <= int(a) <= info.max else D.python_scalar_dtype(int(a))
            else:
                dt = D.python_scalar_dtype(int(a))
        elif isinstance(a, float):
            dt = ref if D.is_float(ref) else config.floatX
        else:
            out.append(as_tensor_variable(a))
            continue
        out.append(constant(a, dtype=dt))
    return out


def _elemwise(scalar_op):
    def apply(*args):
        return Elemwise(scalar_op)(*_align(args))
    apply.__name__ = scalar_op.name
    apply.__doc__ = f"Elementwise {scalar_op.name}, broadcasting as NumPy."
    return apply


for _name in S.UNARY_FLOAT_NAMES:
    globals()[_name] = _elemwise(S.UnaryFloat(_name))
for _name in S.ROUNDING_NAMES:
    globals()[_name] = _elemwise(S.Rounding(_name))
for _name in S.COMPARE_NAMES:
    globals()[_name] = _elemwise(S.Compare(_name))
for _name in S.BITWISE_NAMES:
    globals()[_name] = _elemwise(S.Bitwise(_name))

neg = _elemwise(S.neg)
abs_ = _elemwise(S.abs_)
sqr = _elemwise(S.sqr)
sgn = _elemwise(S.sgn)
invert = _elemwise(S.invert)
isnan = _elemwise(S.isnan)
isinf = _elemwise(S.isinf)
add = _elemwise(S.add)
sub = _elemwise(S.sub)
mul = _elemwise(S.mul)
true_div = _elemwise(S.true_div)
int_div = _elemwise(S.int_div)
floor_div = int_div
mod = _elemwise(S.mod)
pow = _elemwise(S.pow_)  # noqa: A001 - Theano's name
maximum = _elemwise(S.maximum)
minimum = _elemwise(S.minimum)
arctan2 = _elemwise(S.arctan2)
def switch(cond: Any, ift: Any, iff: Any) -> TensorVariable:
    """ift where cond is nonzero, else iff (broadcasting as NumPy). The result's dtype is that
    of ift and iff alone (Theano's Switch): Python scalars take the branches' dtypes, not the
    condition's (switch(x_float32, 16777217, 0) is an integer)."""
    return Elemwise(S.switch)(as_tensor_variable(cond), *_align((ift, iff)))


where = switch
bitwise_and, bitwise_or, bitwise_xor = globals()["and_"], globals()["or_"], globals()["xor"]
bitwise_not = invert
abs = abs_  # noqa: A001


def cast(x: Any, dtype: Any) -> TensorVariable:
    x = as_tensor_variable(x)
    dtype = D.check_dtype(dtype, "cast")
    if x.dtype == dtype:
        return x
    return Elemwise(S.Cast(dtype))(x)


def round(x: Any, mode: str | None = None) -> TensorVariable:  # noqa: A001
    """Round to integral values; mode None is 'half_to_even', NumPy's rounding (Theano 1.0's
    default too)."""
    mode = "half_to_even" if mode is None else mode
    if mode not in ("half_away_from_zero", "half_to_even"):
        raise ValueError(f"round: mode must be 'half_away_from_zero' or 'half_to_even', "
                         f"got {mode!r}")
    return globals()[f"round_{mode}"](x)


def iround(x: Any, mode: str | None = None) -> TensorVariable:
    return cast(round(x, mode), "int64")


def clip(x: Any, min: Any = None, max: Any = None, *, a_min: Any = None,  # noqa: A002
         a_max: Any = None) -> TensorVariable:
    """Theano's clip(x, min, max): x bounded below by min, then above by max (NumPy's
    names a_min and a_max are accepted too)."""
    from clgraph.tensor.arguments import argument_alias

    lo = argument_alias("clip", "min", min, "a_min", a_min)
    hi = argument_alias("clip", "max", max, "a_max", a_max)
    if lo is None or hi is None:
        raise TypeError("clip(x, min, max): both bounds are needed")
    x, lo, hi = _align((x, lo, hi))
    return minimum(maximum(x, lo), hi)


def isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> TensorVariable:
    a, b = _align((a, b))
    if not D.is_float(D.upcast(a.dtype, b.dtype)):
        # NumPy compares integers as floats: in int8, |-128 - 0| wraps to -128 <= tol.
        dt = D.upgrade_to_float(D.upcast(a.dtype, b.dtype))
        a, b = cast(a, dt), cast(b, dt)
    diff = abs_(sub(a, b))
    close = le(diff, add(atol, mul(rtol, abs_(b))))  # noqa: F821 - defined by the loop above
    # Only a finite b has a tolerance band (NumPy): else |1 - inf| <= rtol * inf holds.
    close = and_(close, invert(isinf(b)))  # noqa: F821
    close = or_(close, eq(a, b))  # noqa: F821 - equal infinities
    if equal_nan:
        close = or_(close, and_(isnan(a), isnan(b)))  # noqa: F821
    return close


def allclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> TensorVariable:
    from clgraph.tensor.reduction import all as all_

    return all_(isclose(a, b, rtol, atol, equal_nan))


def true_divide(a, b):
    return true_div(a, b)
