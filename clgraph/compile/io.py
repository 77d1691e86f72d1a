"""In and Out: how a compiled function takes an input and returns an output (Theano's
`theano.compile.io`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from clgraph.expr.variable import Constant, SharedVariable, Variable


@dataclass
class Out:
    """`Out(var, borrow=True)` returns the device array (pyopencl) instead of a NumPy copy."""

    variable: Variable
    borrow: bool = False


@dataclass(eq=False)
class In:
    """An input of `function` with Theano's options (`theano.In`).

    - `name`: the keyword that passes it (default: the variable's name, with `autoname`).
    - `value`: its default, used when the call omits it (converted once, at compile time).
    - `update`: an expression of the inputs (typically of `variable` itself): the input is
      then a state kept on the device between calls, starting at `value`, replaced by the
      update's value after every call; a value passed for it replaces the state first.
      Read or set it with `fn[name]`.
    - `implicit`: the call may not pass it (it needs a `value`).
    - `strict`: the value must be an array of exactly the input's dtype (no conversion).
    - `allow_downcast`: as `function(allow_input_downcast=...)`, for this input only
      (None: the function's setting).
    - `mutable`, `borrow`: accepted for Theano's code; they change nothing here, since
      compiled functions never write their inputs and outputs never alias them (mutable
      still requires borrow, as in Theano).
    """

    variable: Variable
    name: str | None = None
    value: Any = None
    update: Variable | None = None
    mutable: bool | None = None
    strict: bool = False
    allow_downcast: bool | None = None
    autoname: bool = True
    implicit: bool | None = None
    borrow: bool | None = None

    def __post_init__(self) -> None:
        check_input_variable(self.variable, "In: the variable")
        if self.name is None and self.autoname:
            self.name = self.variable.name
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError(f"In({self.variable}): name must be a string, got "
                            f"{type(self.name).__name__} {self.name!r}")
        if isinstance(self.value, Variable):
            raise TypeError(f"In({self.variable}): value must be a number or an array, not the "
                            f"variable {self.value}; use givens to compute an input")
        _check_update(self.variable, self.update)
        if self.mutable is None:
            self.mutable = self.update is not None
        if self.borrow is None:
            self.borrow = self.mutable
        if self.mutable and not self.borrow:
            raise ValueError(f"In({self.variable}): mutable=True needs borrow=True (an input "
                             "that may be overwritten may also be aliased)")
        self.implicit = bool(self.implicit)
        if self.implicit and self.value is None:
            raise TypeError(f"In({self.variable}): an implicit input needs a value")
        if self.update is not None and self.value is None:
            raise TypeError(f"In({self.variable}): an input with an update is a state and "
                            "needs value= (its initial value)")

    def __str__(self) -> str:
        return f"In({self.variable} -> {self.update})" if self.update is not None else \
            f"In({self.variable})"


def check_input_variable(var: Any, where: str) -> None:
    """Raise unless `var` can be a function input: a free symbolic variable."""
    if not isinstance(var, Variable):
        raise TypeError(f"{where} must be a symbolic variable, got {type(var).__name__}")
    if isinstance(var, (Constant, SharedVariable)):
        raise TypeError(f"{where} ({var}) is a {type(var).__name__}; constants and shared "
                        "variables are not function inputs (shared ones are implicit)")
    if var.owner is not None:
        raise TypeError(f"{where} ({var}) is computed by {var.owner.op}; inputs must be free "
                        "variables (use givens to replace computed values)")


def _check_update(var: Variable, update: Any) -> None:
    if update is None:
        return
    if not isinstance(update, Variable):
        raise TypeError(f"In({var}): update must be a symbolic expression, got "
                        f"{type(update).__name__}")
    if update.type.dtype != var.type.dtype or update.broadcastable != var.broadcastable:
        raise TypeError(f"In({var}): the variable has type {var.type} but its update has type "
                        f"{update.type}; they must be the same")


def Param(variable: Variable, default: Any = None, name: str | None = None,  # noqa: N802
          mutable: bool = False, strict: bool = False, allow_downcast: bool | None = None,
          implicit: bool | None = None, borrow: bool | None = None) -> In:
    """Theano's deprecated `Param(variable, default=...)`: `In(variable, value=default)`."""
    warnings.warn("Param is deprecated (as in Theano): use In(variable, value=...)",
                  DeprecationWarning, stacklevel=2)
    return In(variable, name=name, value=default, mutable=mutable, strict=strict,
              allow_downcast=allow_downcast, implicit=implicit, borrow=borrow)
