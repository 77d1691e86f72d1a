"""Gradient markers and the identity ops that change only how gradients flow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from clgraph.expr.scalar.base import ScalarOp
from clgraph.expr.scalar.ops import Identity


class NullGrad:
    """An undefined gradient (e.g. of argmax): an error only if it reaches a `wrt`."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"NullGrad({self.reason!r})"


class DisconnectedType:
    """Returned for disconnected inputs when return_disconnected='disconnected'."""

    def __repr__(self) -> str:
        return "<disconnected>"


@dataclass(frozen=True)
class ZeroGradOp(Identity):
    """Identity forward; zero gradient backward (Theano's zero_grad)."""

    @property
    def name(self) -> str:
        return "zero_grad"


@dataclass(frozen=True)
class DisconnectedGradOp(Identity):
    """Identity forward; disconnected backward (disconnected_grad, consider_constant)."""

    @property
    def name(self) -> str:
        return "disconnected_grad"


@dataclass(frozen=True)
class GradClipOp(Identity):
    """Identity forward; the gradient clipped to [lo, hi] backward (grad_clip)."""

    lo: float = -1.0
    hi: float = 1.0

    @property
    def name(self) -> str:
        return "grad_clip"


@dataclass(frozen=True)
class UndefinedGradOp(Identity):
    """Identity forward; an undefined gradient (NullGrad) backward (Theano's undefined_grad):
    an error when a gradient that must pass through it reaches a wrt."""

    @property
    def name(self) -> str:
        return "undefined_grad"


@dataclass(frozen=True)
class GradScaleOp(ScalarOp):
    """x forward (its second input, the multiplier, is read only backward); the gradient
    times the multiplier backward (Theano's grad_scale). The multiplier is an input, so it
    may be an expression (a shared scale), not only a number."""

    nin: ClassVar[int] = 2

    @property
    def name(self) -> str:
        return "grad_scale"

    def out_dtype(self, a: str, b: str) -> str:
        return a

    def impl(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.array(a, copy=True)

    def c_code(self, ctx, args: list[str], in_dtypes: list[str], out_dtype: str) -> str:
        return args[0]
