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
        if shape is None and broadcastable is not None:
            # Theano's spelling: TensorType(dtype, broadcastable=(True, False)).
            shape = tuple(1 if b else None for b in broadcastable)
        if shape is None:
            raise TypeError("TensorType needs a shape (a tuple of int or None)")
        shape = tuple(None if s is None else int(s) for s in shape)
        for s in shape:
            if s is not None and s < 0:
                raise ValueError(f"TensorType shape {shape} has a negative length")
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


def shape_str(shape: tuple[int | None, ...]) -> str:
    """A static shape as users read it: (3, ?)."""
    inner = ", ".join("?" if s is None else str(s) for s in shape)
    return f"({inner}{',' if len(shape) == 1 else ''})"
