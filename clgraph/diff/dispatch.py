"""Per-op-type rule tables for L_op and R_op: an op's own method wins, then the rule
registered for the nearest class in its MRO."""

from __future__ import annotations

from collections.abc import Callable


class RuleTable(dict):
    """op type -> rule(node, values). `method` names the op method that overrides it."""

    def __init__(self, method: str) -> None:
        super().__init__()
        self.method = method

    def register(self, *op_types: type) -> Callable[[Callable], Callable]:
        def deco(fn: Callable) -> Callable:
            for t in op_types:
                self[t] = fn
            return fn
        return deco

    def lookup(self, op) -> Callable | None:
        own = getattr(op, self.method, None)
        if own is not None:
            return own
        for cls in type(op).__mro__:
            if cls in self:
                return self[cls]
        return None
