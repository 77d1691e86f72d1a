"""Op: the whole contract of one operation, as a frozen dataclass of its parameters.

Equal parameters mean equal ops, so `(op, inputs)` identifies a computation and merging
works by hashing. Subclasses implement:

- `make_node(*inputs) -> Apply`: checks inputs (errors name the input, its type and what was
  expected) and computes the static output types;
- `perform(node, inputs) -> list[np.ndarray]`: the NumPy reference (truth for tests, constant
  folding and DebugMode);
- `infer_shape(node, input_shapes) -> list[tuple]`: symbolic output shapes;
- `L_op` / `R_op`: gradients, as more graph (clgraph.diff);
- `lower(node, ctx)`: which template renders it (clgraph.lower).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from clgraph.expr.apply import Apply

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_frame() -> tuple[str, int, str] | None:
    """(file, line, function) of the innermost caller outside clgraph: the user's line.

    Walks frames without building a traceback, so recording it on every node stays cheap.
    """
    f = sys._getframe(1)
    while f is not None:
        fname = f.f_code.co_filename
        if not fname.startswith(_PACKAGE_DIR):
            return (fname, f.f_lineno, f.f_code.co_name)
        f = f.f_back
    return None


@dataclass(frozen=True)
class Op:
    """Base class of all operations. Fields are parameters; subclasses are frozen dataclasses."""

    # How many outputs view an input rather than own memory: {output index: input index}.
    view_map = None  # type: dict[int, int] | None

    def make_node(self, *inputs: Any) -> Apply:
        raise NotImplementedError

    def __call__(self, *inputs: Any, **kwargs: Any):
        node = self.make_node(*inputs, **kwargs)
        trace = user_frame()
        if trace is not None:
            node.tag["trace"] = trace
        _maybe_compute_test_value(node)
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} has no NumPy reference")

    def infer_shape(self, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        raise NotImplementedError(f"{type(self).__name__} cannot infer its shape")

    def __str__(self) -> str:
        return type(self).__name__


def _maybe_compute_test_value(node: Apply) -> None:
    """Theano's compute_test_value: run `perform` on the inputs' test values as graph builds."""
    from clgraph.config import config

    mode = getattr(config, "compute_test_value", "off")
    if mode == "off":
        return
    values = []
    for inp in node.inputs:
        from clgraph.expr.variable import Constant, SharedVariable

        if isinstance(inp, Constant):
            values.append(inp.data)
        elif isinstance(inp, SharedVariable):
            values.append(inp.get_value(borrow=True))
        elif "test_value" in inp.tag:
            values.append(np.asarray(inp.tag["test_value"], dtype=inp.dtype))
        else:
            if mode == "raise":
                raise ValueError(f"compute_test_value is 'raise' but input {inp} of {node.op} "
                                 "has no tag.test_value")
            return
    outs = node.op.perform(node, values)
    for var, val in zip(node.outputs, outs):
        var.tag["test_value"] = val
