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


def user_stack(limit: int) -> list[tuple[str, int, str]]:
    """Up to `limit` (-1: all) frames of user code, innermost first, for `traceback_limit`."""
    out: list[tuple[str, int, str]] = []
    f = sys._getframe(1)
    while f is not None and (limit < 0 or len(out) < limit):
        fname = f.f_code.co_filename
        if not fname.startswith(_PACKAGE_DIR):
            out.append((fname, f.f_lineno, f.f_code.co_name))
        f = f.f_back
    return out


def record_trace(node: Apply) -> None:
    """Store the user's line on `node.tag['trace']` (and more frames when
    `config.traceback_limit` asks for them, in `node.tag['stack']`)."""
    from clgraph.config import config

    limit = config.traceback_limit
    if limit == 0:
        return
    trace = user_frame()
    if trace is not None:
        node.tag["trace"] = trace
        if limit != 1:
            node.tag["stack"] = user_stack(limit)


@dataclass(frozen=True)
class Op:
    """Base class of all operations. Fields are parameters; subclasses are frozen dataclasses."""

    # How many outputs view an input rather than own memory: {output index: input index}.
    view_map = None  # type: dict[int, int] | None

    def make_node(self, *inputs: Any) -> Apply:
        raise NotImplementedError

    def __call__(self, *inputs: Any, **kwargs: Any):
        node = self.make_node(*inputs, **kwargs)
        record_trace(node)
        _maybe_compute_test_value(node)
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} has no NumPy reference")

    def infer_shape(self, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        raise NotImplementedError(f"{type(self).__name__} cannot infer its shape")

    def __str__(self) -> str:
        return type(self).__name__


def _maybe_compute_test_value(node: Apply) -> None:
    """Theano's compute_test_value: run `perform` on the inputs' test values as graph builds.

    A missing test value raises ('raise') or warns ('warn'); a failing `perform` (a shape
    error) raises in both modes, naming the node, the inputs' shapes and the user's line, so
    the error points at the line that built the bad node.
    """
    from clgraph.config import config

    mode = config.compute_test_value
    if mode == "off":
        return
    from clgraph.expr.variable import Constant, SharedVariable

    values = []
    for k, inp in enumerate(node.inputs):
        if isinstance(inp, Constant):
            values.append(inp.data)
        elif isinstance(inp, SharedVariable):
            values.append(inp.get_value(borrow=True))
        elif "test_value" in inp.tag:
            values.append(np.asarray(inp.tag["test_value"], dtype=inp.dtype))
        else:
            msg = (f"compute_test_value is {mode!r} but input {k} ({inp}) of {_where(node)} "
                   "has no test value; set it with var.tag.test_value = value")
            if mode == "raise":
                raise ValueError(msg)
            import warnings

            warnings.warn(msg, stacklevel=3)
            return
    try:
        outs = node.op.perform(node, values)
    except NotImplementedError:
        return
    except Exception as exc:
        desc = ", ".join(f"{i} {_value_desc(v)}" for i, v in zip(node.inputs, values, strict=True))
        raise ValueError(f"computing the test value of {_where(node)} failed: {exc}. "
                         f"Input test values: {desc}") from exc
    for var, val in zip(node.outputs, outs, strict=False):
        shape = getattr(val, "shape", ())
        static = var.type.shape
        if len(shape) != len(static) or any(s is not None and s != n
                                            for s, n in zip(static, shape, strict=True)):
            raise ValueError(f"the test value of {var}, output of {_where(node)}, has shape "
                             f"{tuple(shape)}, which does not fit its type {var.type}")
        var.tag["test_value"] = val


def _value_desc(v) -> str:
    v = np.asarray(v)
    return f"(shape {v.shape}, {v.dtype})"


def _where(node: Apply) -> str:
    trace = node.tag.get("trace")
    where = f" (created at {trace[0]}:{trace[1]})" if trace else ""
    return f"{node.op}{where}"
