"""Call arguments: checked and converted against the inputs' types (Theano's filter), and
bound to the inputs by position, name, default or state (Theano's `In`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyopencl.array as cl_array

from clgraph.compile.io import In, check_input_variable
from clgraph.expr import dtypes as D
from clgraph.expr.type import shape_str
from clgraph.expr.variable import SharedVariable, Variable
from clgraph.runtime.device import get_context
from clgraph.runtime.strided_copy import contiguous_copy


def _downcast_hint(var: Variable, got: str) -> str:
    return (f"input {_name(var)} of type {var.type} cannot take a value of dtype {got} without "
            f"risking a loss of precision. Cast the value to {var.dtype} yourself, or pass "
            f"allow_input_downcast=True to function().")


def _name(var: Variable) -> str:
    return repr(var.name) if var.name else str(var)


def convert_input(var: Variable, value: Any, allow_downcast: bool | None, position: int):
    """Return a NumPy array or a pyopencl Array of var's dtype, or raise naming the input."""
    want = np.dtype(var.dtype)
    is_device = isinstance(value, cl_array.Array)
    if is_device:
        arr = value
    elif isinstance(value, (bool, int)) and not isinstance(value, np.generic):
        arr = _convert_python_int(var, value, allow_downcast)
    else:
        try:
            arr = np.asarray(value)
        except Exception as e:  # ragged lists and the like
            raise TypeError(f"input {_name(var)} (argument {position}): cannot convert "
                            f"{type(value).__name__} to an array: {e}") from e
        if arr.dtype == object:
            raise TypeError(f"input {_name(var)} (argument {position}): got a "
                            f"{type(value).__name__} that is not numeric")
    if arr.ndim != var.ndim:
        raise TypeError(f"input {_name(var)} (argument {position}) expects {var.ndim} "
                        f"dimension(s) (type {var.type}), got an array of shape {arr.shape} "
                        f"({arr.ndim} dimension(s))")
    for d, (n, s) in enumerate(zip(arr.shape, var.type.shape)):
        if s is not None and n != s:
            raise ValueError(f"input {_name(var)} (argument {position}) has shape "
                             f"{tuple(arr.shape)}, but its type fixes axis {d} to length {s}: "
                             f"expected shape {shape_str(var.type.shape)}")
    if arr.dtype != want:
        if allow_downcast is True or _safe_cast(arr.dtype, want) or (
                not is_device and D.filter_accepts(value, arr, want, allow_downcast)):
            arr = _cast(arr, want)
        else:
            got = arr.dtype.name + (" (a Python float)" if type(value) is float else "")
            raise TypeError(f"argument {position}: " + _downcast_hint(var, got))
    return arr


def _cast(arr, want: np.dtype):
    """`arr` as dtype `want`. pyopencl's astype reads a strided device array as if it were
    contiguous (wrong values for a transpose) or refuses it, so that is made contiguous first."""
    if isinstance(arr, cl_array.Array) and not arr.flags.c_contiguous:
        arr = contiguous_copy(get_context(), arr)
    return arr.astype(want)


def _safe_cast(src: np.dtype, dst: np.dtype) -> bool:
    return bool(np.can_cast(src, dst, casting="safe"))


def _convert_python_int(var: Variable, value: bool | int, allow_downcast: bool | None
                        ) -> np.ndarray:
    """A Python int or bool as an array of the input's dtype when it holds the value (or
    allow_downcast=True); other dtypes are left to the filter."""
    want = np.dtype(var.dtype)
    if want.kind not in "iubf":
        return np.asarray(value)
    converted = np.asarray(value).astype(want)
    if converted.item() == value or allow_downcast:
        return converted
    raise TypeError(f"input {_name(var)} of type {var.type}: the Python value {value} "
                    f"does not fit in {want.name}")


# ---------------------------------------------------------------- the call's signature
NO_DEFAULT = object()
_MISSING = object()
_AMBIGUOUS = -1


@dataclass
class Arg:
    """One argument of a compiled function (an `In`, or a plain variable)."""

    variable: Variable
    name: str | None
    default: Any = NO_DEFAULT  # converted once; used when the call omits the argument
    state: SharedVariable | None = None  # In(update=...): its value between calls
    update: Variable | None = None  # the state's new value after each call
    implicit: bool = False
    strict: bool = False
    allow_downcast: bool | None = None

    def convert(self, value: Any, position: int):
        """`value` as this argument's array, or raise naming it."""
        if self.strict and not (type(value) is np.ndarray and
                                value.dtype == np.dtype(self.variable.dtype)):
            raise TypeError(f"input {_name(self.variable)} (argument {position}) is strict: it "
                            f"takes a numpy.ndarray of dtype {self.variable.dtype}, got "
                            f"{_describe(value)}")
        return convert_input(self.variable, value, self.allow_downcast, position)


def _describe(value: Any) -> str:
    dtype = getattr(value, "dtype", None)
    return f"{type(value).__name__} of dtype {dtype}" if dtype is not None else \
        type(value).__name__


def make_arg(spec: Any, position: int, allow_input_downcast: bool | None) -> Arg:
    """An `Arg` from a function input: a free variable or an `In`."""
    if not isinstance(spec, In):
        check_input_variable(spec, f"input {position}")
        spec = In(spec)
    allow = spec.allow_downcast if spec.allow_downcast is not None else allow_input_downcast
    arg = Arg(spec.variable, spec.name, implicit=spec.implicit, strict=spec.strict,
              allow_downcast=allow)
    if spec.value is not None:
        value = convert_input(spec.variable, spec.value, allow, position)
        if spec.update is None:
            arg.default = value
        else:  # a state: kept on the device, like a shared variable the function owns
            arg.state = SharedVariable(spec.variable.type, value, name=spec.name)
            arg.update = spec.update
    return arg


class Signature:
    """How a call's positional and keyword arguments become the values of the compiled
    inputs: names, defaults, implicit inputs and states (Theano's `In`)."""

    def __init__(self, args: list[Arg]) -> None:
        self.args = args
        self.by_name: dict[str, int] = {}
        for i, arg in enumerate(args):
            if arg.name is not None:
                self.by_name[arg.name] = _AMBIGUOUS if arg.name in self.by_name else i
        self.refresh()

    def refresh(self) -> None:
        """`plain`: every argument is required, positional-only in effect and unchecked
        beyond its type, so a call without keywords needs no binding."""
        self.plain = all(a.default is NO_DEFAULT and a.state is None and not a.implicit and
                         not a.strict for a in self.args)

    def index(self, key: Any) -> int:
        """The argument named by `key`: its name, its variable or its position."""
        if isinstance(key, str):
            i = self.by_name.get(key)
            if i == _AMBIGUOUS:
                raise TypeError(f"the name {key!r} is ambiguous: several inputs of the function "
                                f"are named {key!r}; pass them by position")
            if i is not None:
                return i
        elif isinstance(key, Variable):
            for i, arg in enumerate(self.args):
                if arg.variable is key:
                    return i
        elif isinstance(key, int) and -len(self.args) <= key < len(self.args):
            return key % len(self.args)
        names = [a.name for a in self.args]
        raise TypeError(f"unknown input or state {key!r}; inputs are named {names}")

    def bind(self, args: tuple, kwargs: dict, where: str) -> list:
        """The values of the compiled inputs (states excluded) for one call; a value given
        for a state is stored in it, after every argument converted without error."""
        given = self._given(args, kwargs, where)
        values, states = [], []
        for k, (arg, value) in enumerate(zip(self.args, given)):
            if value is not _MISSING:
                value = arg.convert(value, k)
            elif arg.state is None:
                value = arg.default
            if arg.state is None:
                values.append(value)
            elif value is not _MISSING:
                states.append((arg.state, value))
        for state, value in states:
            state.set_value(value)
        return values

    def _given(self, args: tuple, kwargs: dict, where: str) -> list:
        """Per argument, the value the call gives (by position or keyword) or _MISSING."""
        n = len(self.args)
        if len(args) > n:
            raise TypeError(f"{where} takes {n} argument(s) ({self.names()}), got {len(args)}")
        given = list(args) + [_MISSING] * (n - len(args))
        for key, value in kwargs.items():
            if key not in self.by_name:
                raise TypeError(f"{where}: unknown keyword argument {key!r}; inputs are named "
                                f"{[a.name for a in self.args]}")
            i = self.index(key)
            if given[i] is not _MISSING:
                raise TypeError(f"{where} got multiple values for input {key!r}")
            given[i] = value
        for arg, value in zip(self.args, given):
            if value is not _MISSING and arg.implicit:
                raise TypeError(f"{where}: input {_name(arg.variable)} is implicit; the call "
                                "may not give it a value")
        missing = [_name(a.variable) for a, v in zip(self.args, given)
                   if v is _MISSING and a.default is NO_DEFAULT and a.state is None]
        if missing:
            got = sum(v is not _MISSING for v in given)
            raise TypeError(f"{where} takes {n} argument(s) ({self.names()}), got {got}: "
                            f"missing {', '.join(missing)}")
        return given

    def names(self) -> str:
        return ", ".join(str(a.name or a.variable) for a in self.args)
