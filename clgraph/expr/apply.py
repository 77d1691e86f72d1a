"""Apply: one use of an Op on input variables, producing output variables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clgraph.expr.op import Op
    from clgraph.expr.variable import Variable


class Apply:
    """A node of the graph. Never edited after creation: rewrites build new nodes."""

    __slots__ = ("op", "inputs", "outputs", "tag", "__weakref__")

    def __init__(self, op: Op, inputs: list[Variable], outputs: list[Variable]) -> None:
        self.op = op
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.tag: dict[str, Any] = {}
        for i, out in enumerate(self.outputs):
            out.owner = self
            out.index = i

    @property
    def out(self) -> Variable:
        assert len(self.outputs) == 1, f"{self.op} has {len(self.outputs)} outputs"
        return self.outputs[0]

    def __repr__(self) -> str:
        return f"{self.op}({', '.join(str(i) for i in self.inputs)})"
