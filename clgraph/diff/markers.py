"""Gradient markers and the identity ops that change only how gradients flow."""

from __future__ import annotations

from dataclasses import dataclass

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
