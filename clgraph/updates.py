"""Theano's OrderedUpdates: shared variable -> new value, in insertion order, joined by +."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from clgraph.expr.variable import SharedVariable


class OrderedUpdates(OrderedDict):
    """Updates for `function(updates=...)` (Theano's theano.updates.OrderedUpdates): keys
    must be shared variables; `update` and `+` refuse two different values for one key.
    Unlike Theano it does not warn about plain dicts: they keep insertion order in Python 3."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.update(OrderedDict(*args, **kwargs))

    def __setitem__(self, key: Any, value: Any) -> None:
        if not isinstance(key, SharedVariable):
            raise TypeError(f"OrderedUpdates keys must be shared variables, got {key!r} "
                            f"({type(key).__name__})")
        super().__setitem__(key, value)

    def update(self, other: Any = None) -> None:  # type: ignore[override]
        """Add `other`'s pairs; a key already present with another value is a KeyError."""
        if other is None:
            return
        for key, value in OrderedDict(other).items():
            if key in self:
                if self[key] is value:
                    continue
                raise KeyError(f"OrderedUpdates: two different updates for {key}")
            self[key] = value

    def __add__(self, other: Any) -> OrderedUpdates:
        out = OrderedUpdates(self)
        out.update(other)
        return out

    def __radd__(self, other: Any) -> OrderedUpdates:
        out = OrderedUpdates(other)
        out.update(self)
        return out
