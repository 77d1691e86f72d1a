"""TensorType: the static type of a tensor value (dtype and what is known of its shape)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from clgraph.expr.dtypes import check_dtype


@dataclass(frozen=True)
class TensorType:
    """A dtype plus a static shape: each entry an int (known length) or None (unknown).

    A dimension broadcasts exactly when its static length is 1 (Theano's `broadcastable`).
    """

    dtype: str
    shape: tuple[int | None, ...]

    def __init__(self, dtype: Any, shape: Any = None, broadcastable: Any = None) -> None:
        if _is_broadcastable_pattern(shape):
            # Theano's positional form: TensorType('float64', (False, True))
            if broadcastable is not None:
                raise TypeError(f"TensorType: shape {shape} is a broadcastable pattern (bools) "
                                "and broadcastable= is given too; pass one of them")
            shape, broadcastable = None, shape
        if shape is None and broadcastable is not None:
            # Theano's spelling: TensorType(dtype, broadcastable=(True, False)).
            shape = tuple(1 if b else None for b in broadcastable)
        if shape is None:
            raise TypeError("TensorType needs a shape (a tuple of int or None)")
        shape = _static_shape(shape)
        object.__setattr__(self, "dtype", check_dtype(dtype))
        object.__setattr__(self, "shape", shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return tuple(s == 1 for s in self.shape)

    def __call__(self, name: str | None = None):
        """Make a new variable of this type, as Theano's `TensorType(...)(name)`."""
        from clgraph.expr.variable import TensorVariable

        return TensorVariable(self, name=name)

    def with_shape(self, shape: tuple[int | None, ...]) -> TensorType:
        return TensorType(self.dtype, shape)

    def with_dtype(self, dtype: str) -> TensorType:
        return TensorType(dtype, self.shape)

    def is_valid_value(self, value: np.ndarray) -> bool:
        return value.ndim == self.ndim and all(
            s is None or s == v for s, v in zip(self.shape, value.shape))

    def __str__(self) -> str:
        dims = ", ".join("?" if s is None else str(s) for s in self.shape)
        return f"Tensor[{self.dtype}]({dims}{',' if self.ndim == 1 else ''})"

    __repr__ = __str__


def _is_broadcastable_pattern(shape: Any) -> bool:
    """A non-empty tuple or list of bools only: Theano's broadcastable pattern (True: static
    length 1, False: unknown), never lengths 0 and 1."""
    return isinstance(shape, (tuple, list)) and len(shape) > 0 and \
        all(isinstance(s, (bool, np.bool_)) for s in shape)


def _static_shape(shape: Any) -> tuple[int | None, ...]:
    """`shape` as a tuple of ints (>= 0) and None, or a clear error."""
    try:
        entries = tuple(shape)
    except TypeError:
        raise TypeError(f"TensorType shape must be a tuple of int or None, got {shape!r}") \
            from None
    out = []
    for s in entries:
        if isinstance(s, (bool, np.bool_)):
            raise TypeError(f"TensorType shape {entries} mixes bools (a broadcastable pattern) "
                            "with lengths; use ints and None, or bools only")
        if s is not None and not isinstance(s, (int, np.integer)):
            raise TypeError(f"TensorType shape entries must be int or None, got {s!r} in "
                            f"{entries}")
        if s is not None and s < 0:
            raise ValueError(f"TensorType shape {entries} has a negative length")
        out.append(None if s is None else int(s))
    return tuple(out)


def shape_str(shape: tuple[int | None, ...]) -> str:
    """A static shape as users read it: (3, ?)."""
    inner = ", ".join("?" if s is None else str(s) for s in shape)
    return f"({inner}{',' if len(shape) == 1 else ''})"
