"""DebugMode: every node run as its kernel and as its NumPy `perform`, and compared.

Per call, the plan is run step by step (`Executor.run_checked`): before a node's kernels run,
its inputs are read back; after, its outputs are, and `op.perform` on the same inputs must
agree with them (NaNs in the same places, values within a dtype's tolerance). The first node
that differs raises `BadThunkOutput` naming it, with both values.

The rewrites are checked too: `optimize` hands each pass's graph before and after to a
`RewriteChecker`, which evaluates both with `perform` on the test inputs (the inputs'
`tag.test_value` when all have one, else the first call's arguments) and raises
`BadOptimization` naming the first pass that changed an output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clgraph.expr.graph import FunctionGraph
from clgraph.expr.variable import Constant, SharedVariable, Variable
from clgraph.lower.plan import node_context, node_label


class DebugModeError(Exception):
    """A check of DebugMode failed."""


class BadThunkOutput(DebugModeError):
    """A node's kernel and its NumPy perform disagree."""


class BadOptimization(DebugModeError):
    """A rewrite pass changed the value of an output."""


_RTOL = {"float16": 1e-2, "float32": 1e-4, "float64": 1e-7}
_ATOL = {"float16": 1e-3, "float32": 1e-5, "float64": 1e-10}


def _fmt(value: np.ndarray, limit: int = 400) -> str:
    text = np.array2string(np.asarray(value), threshold=50, edgeitems=3, precision=7)
    text = text if len(text) <= limit else text[:limit] + " ..."
    return f"{text} (shape {np.shape(value)}, {np.asarray(value).dtype})"


def compare(expected: np.ndarray, got: np.ndarray, dtype: str, rtol: float | None = None,
            atol: float | None = None) -> str | None:
    """Why `got` differs from `expected` (None when they agree)."""
    expected = np.asarray(expected)
    got = np.asarray(got)
    if expected.shape != got.shape:
        return f"shapes differ: {got.shape} vs {expected.shape}"
    if expected.size == 0:
        return None
    if np.dtype(dtype).kind not in "fc":
        bad = expected.astype(got.dtype, copy=False) != got
        if not bad.any():
            return None
        idx = np.unravel_index(int(np.argmax(bad)), bad.shape)
        return f"{int(bad.sum())} element(s) differ, first at index {tuple(map(int, idx))}"
    rtol = _RTOL.get(dtype, 1e-4) if rtol is None else rtol
    atol = _ATOL.get(dtype, 1e-5) if atol is None else atol
    e = expected.astype(np.float64)
    g = got.astype(np.float64)
    with np.errstate(all="ignore"):
        ok = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if ok.all():
        return None
    idx = np.unravel_index(int(np.argmin(ok)), ok.shape)
    with np.errstate(all="ignore"):
        diff = np.where(ok, 0.0, np.abs(g - e))
    return (f"{int((~ok).sum())} element(s) differ (rtol {rtol}, atol {atol}); first at index "
            f"{tuple(map(int, idx))}: device {g[idx]!r} vs perform {e[idx]!r}; largest "
            f"difference {np.nanmax(diff) if np.isfinite(diff).any() else 'inf/nan'}")


def first_mismatch(mode, outputs) -> tuple | None:
    """(index, variable, expected, got, why) of the first (variable, expected, got) whose
    values differ beyond the mode's tolerances; outputs with no value (None) are skipped."""
    for k, (var, ref, got) in enumerate(outputs):
        if got is None:
            continue
        why = compare(ref, got, var.dtype, mode.rtol, mode.atol)
        if why is not None:
            return k, var, ref, got, why
    return None


def _value_of(v: Variable, env: dict, where: str) -> Any:
    """v's value: computed (env), a constant's data or a shared variable's current value."""
    if v in env:
        return env[v]
    if isinstance(v, Constant):
        return v.data
    if isinstance(v, SharedVariable):
        return v.get_value(borrow=True)
    raise KeyError(f"no value for {v}, {where}")


def evaluate(fgraph: FunctionGraph, values: dict[Variable, np.ndarray]) -> list[np.ndarray]:
    """The graph's outputs computed with every node's NumPy `perform`."""
    env: dict[Variable, Any] = dict(values)
    for node in fgraph.toposort():
        ins = [_value_of(v, env, f"input of {node_label(node)}") for v in node.inputs]
        for out, val in zip(node.outputs, node.op.perform(node, ins), strict=False):
            env[out] = val
    return [_value_of(v, env, "an output of the graph") for v in fgraph.outputs]


class RewriteChecker:
    """Records the graph after each pass (`on_pass`) and checks them on test values."""

    def __init__(self, mode) -> None:
        self.mode = mode
        self.passes: list[tuple[str, FunctionGraph, FunctionGraph]] = []
        self.checked = False

    def on_pass(self, name: str, before: FunctionGraph, after: FunctionGraph) -> None:
        if after is not before:
            self.passes.append((name, before, after))

    def check(self, inputs: list[Variable], values: list[np.ndarray]) -> None:
        """Evaluate every pass's graph on `values` (one per explicit input); raise on a change."""
        self.checked = True
        if not self.passes:
            return
        original = self.passes[0][1]
        env = {v: np.asarray(x) for v, x in zip(inputs, values, strict=True)}
        for v in original.inputs:
            if isinstance(v, SharedVariable):
                env[v] = v.get_value(borrow=True)
        try:
            reference = evaluate(original, env)
        except NotImplementedError:
            return  # an op without a NumPy reference: nothing to compare with
        for name, _before, after in self.passes:
            try:
                got = evaluate(after, env)
            except NotImplementedError:
                continue
            bad = first_mismatch(self.mode, zip(original.outputs, reference, got, strict=True))
            if bad is not None:
                k, var, ref, val, why = bad
                raise BadOptimization(
                    f"DebugMode: the rewrite pass {name!r} changed the value of output {k} "
                    f"({var}): {why}.\n  before the rewrites: {_fmt(ref)}\n  after "
                    f"{name!r}: {_fmt(val)}")
            reference = got

    def test_values(self, inputs: list[Variable]) -> list[np.ndarray] | None:
        if all("test_value" in v.tag for v in inputs):
            return [np.asarray(v.tag["test_value"], dtype=v.dtype) for v in inputs]
        return None


def _value(ctx, var: Variable, bufs: list, state) -> np.ndarray | None:
    from clgraph.runtime.darray import download

    if var in state.host_values:
        return np.asarray(state.host_values[var])
    lay = state.layouts.get(var)
    if lay is None or bufs[lay.buffer] is None:
        return None
    return download(ctx, bufs[lay.buffer], lay, var.dtype)


class DebugChecker:
    """Per-call hooks of `Executor.run_checked`: compare each node with its `perform`."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.mode = fn.mode
        self._inputs: list | None = None

    def run(self, fn, bufs: list, shapes: tuple, host_scalars: tuple, values: list):
        rewrites = getattr(fn, "rewrite_checker", None)
        if rewrites is not None and not rewrites.checked:
            host = [v.get() if hasattr(v, "get") else np.asarray(v) for v in values]
            rewrites.check(fn.inputs, host)
        return fn.executor.run_checked(bufs, shapes, host_scalars, self)

    def before(self, step, bufs: list, state) -> None:
        self._inputs = [_value(self.fn.ctx, v, bufs, state) for v in step.node.inputs]

    def after(self, step, bufs: list, state) -> None:
        node = step.node
        ins = self._inputs
        self._inputs = None
        if ins is None or any(v is None for v in ins):
            return
        try:
            expected = node.op.perform(node, ins)
        except NotImplementedError:
            return
        outs = ((var, ref, _value(self.fn.ctx, var, bufs, state))
                for var, ref in zip(node.outputs, expected, strict=False))
        bad = first_mismatch(self.mode, outs)
        if bad is not None:
            k, var, ref, got, why = bad
            raise BadThunkOutput(
                f"DebugMode: {node_label(node)}: output {k} ({var}) computed by its kernel "
                f"differs from its NumPy perform: {why}.\n  kernel:  {_fmt(got)}\n  "
                f"perform: {_fmt(ref)}\n{node_context(node, state)}")
