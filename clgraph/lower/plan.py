"""The Plan: kernels of one program plus the steps that launch them.

Lowering turns each graph node into a `Step`. A step contributes kernel sources to the
function's single OpenCL program and, once per input-shape signature, `prepare`s: it computes
its outputs' layouts (checking shapes, so a bad call fails before anything is enqueued) and
the launches (kernel, grid, arguments) that compute them. Per call, the executor only
allocates buffers and enqueues the prepared launches.

Host sync points (data-dependent shapes: x[mask], nonzero, repeat with counts): a step may
name in `sync_vars` small device values it needs on the host to prepare (e.g. the total of
a scan, which sizes its output). Plan.prepare then stops before that step and returns a
partial state whose `sync` says which values to read; the executor enqueues the work so
far, reads them back (a blocking read of a few bytes) and calls `Plan.resume`, which
prepares the rest in a copy of the state, cached in the partial state by those values.
Graphs without such steps never see any of this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clgraph.expr.apply import Apply
from clgraph.expr.variable import Variable
from clgraph.lower.layout import Layout


@dataclass
class KernelDef:
    name: str
    source: str
    nodes: list[Apply]
    template: str
    # A copy of kernel `alt_of` specialized for some launches (built only if launched):
    # listed with it, not as a kernel of its own.
    alt_of: str | None = None


@dataclass(frozen=True)
class BufRef:
    """A kernel argument that is the buffer in slot `slot`."""

    slot: int


@dataclass
class Launch:
    kernel: str
    gsize: tuple[int, ...]
    lsize: tuple[int, ...] | None
    args: list[Any]
    node: Apply | None = None


@dataclass
class HostCall:
    """A step done on the host with the queue (e.g. host BLAS on mapped buffers).

    `writes`: indices of the buffer arguments it writes (the others it only reads); None:
    it may write any of them. The executor waits for the kernels it depends on by these."""

    fn: Any
    args: list[Any]
    node: Apply | None = None
    writes: tuple[int, ...] | None = None


@dataclass
class Alloc:
    slot: int
    nbytes: int


@dataclass
class SyncPoint:
    """Where a partial PrepareState stopped: `step` (index into Plan.steps) waits for the
    host values of `vars` (every sync var of the remaining steps that is computed by now)."""

    step: int
    vars: list[Variable]


@dataclass
class PrepareState:
    """What `prepare` builds for one shape signature: layouts, allocations, launches."""

    layouts: dict[Variable, Layout] = field(default_factory=dict)
    allocs: list[Alloc] = field(default_factory=list)
    work: list[Launch | HostCall] = field(default_factory=list)
    n_slots: int = 0
    slot_dtypes: dict[int, str] = field(default_factory=dict)
    host_values: dict[Variable, np.ndarray] = field(default_factory=dict)
    # Slots whose contents are fixed for this shape signature (shape vectors): uploaded once.
    static: dict[int, np.ndarray] = field(default_factory=dict)
    static_buffers: dict[int, Any] = field(default_factory=dict)
    # For each step of the plan, in order: the range of `work` items it enqueued.
    step_ranges: list[tuple[int, int]] = field(default_factory=list)
    # Set on a partial state (stopped at a host sync point); continuations by read values.
    sync: SyncPoint | None = None
    resumed: dict = field(default_factory=dict)
    # slot -> slot whose buffer it reuses (set by lower/memory.py's planner).
    aliases: dict[int, int] = field(default_factory=dict)
    # (output slot, input slot) pairs a kernel may share (it reads each element before writing
    # it, in the same work item): the planner may then run it in place.
    inplace_ok: set[tuple[int, int]] = field(default_factory=set)
    # (integer variable, length): its values index an axis of that length (class labels);
    # the caller checks those that are function inputs before the call (kernels cannot
    # raise: an out-of-range label would give NaN).
    index_checks: list[tuple[Variable, int]] = field(default_factory=list)
    # Per-call caches of the runtime, never copied by `fork`: the executor's binding
    # (runtime/execute.py) and the caller's read-back plan (compile/function.py).
    bound: Any = field(default=None, repr=False, compare=False)
    call_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def fork(self) -> PrepareState:
        """A copy that continues after this state's sync point (the prefix is kept as is:
        same slots, allocations, static buffers and work)."""
        return PrepareState(dict(self.layouts), list(self.allocs), list(self.work), self.n_slots,
                            dict(self.slot_dtypes), dict(self.host_values), dict(self.static),
                            dict(self.static_buffers), list(self.step_ranges),
                            index_checks=list(self.index_checks))

    def static_buffer(self, value: np.ndarray) -> Layout:
        from clgraph.lower.layout import contiguous_strides

        slot = self.n_slots
        self.n_slots += 1
        self.static[slot] = np.ascontiguousarray(value)
        self.slot_dtypes[slot] = value.dtype.name
        return Layout(slot, value.shape, contiguous_strides(value.shape), 0)

    def new_buffer(self, shape: tuple[int, ...], dtype: str) -> Layout:
        from clgraph.lower.layout import contiguous_strides

        slot = self.n_slots
        self.n_slots += 1
        size = int(np.prod(shape, dtype=np.int64)) if shape else 1
        self.allocs.append(Alloc(slot, max(size, 1) * np.dtype(dtype).itemsize))
        self.slot_dtypes[slot] = dtype
        return Layout(slot, tuple(shape), contiguous_strides(tuple(shape)), 0)


class Step:
    """One lowered node. Subclasses render kernels at lowering and prepare launches per shape.

    `sync_vars`: inputs whose values the step needs on the host (a host sync point, see the
    module doc); `presync(state)` may check shapes before the plan stops there.
    """

    sync_vars: tuple = ()

    def __init__(self, node: Apply, ctx, kernel_prefix: str) -> None:
        self.node = node
        self.ctx = ctx
        self.prefix = kernel_prefix

    def kernels(self) -> list[KernelDef]:
        return []

    def claim(self, defs: list[KernelDef]) -> list[KernelDef]:
        """Kernels of helper steps (copies, writes) shown as computing this step's node."""
        for d in defs:
            d.nodes = [self.node]
        return defs

    def prepare(self, state: PrepareState) -> None:
        raise NotImplementedError

    def presync(self, state: PrepareState) -> None:
        pass


def node_label(node: Apply) -> str:
    """Where a node came from, for error messages: op and the user's source line."""
    trace = node.tag.get("trace")
    where = f" (created at {trace[0]}:{trace[1]})" if trace else ""
    return f"{node.op}{where}"


def node_context(node: Apply, state: PrepareState | None = None) -> str:
    """Theano's error context: the node, its inputs' types, shapes and strides (where `state`
    knows their layouts) and the user's source line(s) that created it."""
    lines = [f"Apply node that caused the error: {node.op}"
             f"({', '.join(str(v) for v in node.inputs)})"]
    for k, v in enumerate(node.inputs):
        lay = state.layouts.get(v) if state is not None else None
        where = (f", shape {lay.shape}, strides {lay.strides} (elements), offset {lay.offset}"
                 if lay is not None else "")
        known = state.host_values.get(v) if state is not None else None
        if known is not None and np.size(known) <= 8:
            where += f", value {np.asarray(known).tolist()}"
        lines.append(f"  input {k}: {v} {v.dtype}{where} (type {v.type})")
    stack = node.tag.get("stack") or ([node.tag["trace"]] if node.tag.get("trace") else [])
    if stack:
        lines.append("Created by the user's line:" if len(stack) == 1 else
                     "Created by the user's code (innermost first):")
        lines += [f'  File "{f}", line {n}, in {fn}' for f, n, fn in stack]
    else:
        lines.append("(no source line recorded: config.traceback_limit is 0 or the node was "
                     "made by clgraph itself)")
    fused = node.tag.get("fused")
    if fused:
        lines.append("Fused from: " + "; ".join(node_label(n) for n in fused))
    return "\n".join(lines)


def annotate_error(exc: BaseException, node: Apply, state: PrepareState | None = None
                   ) -> BaseException:
    """Append `node_context` to `exc`'s message (once), keeping its type; returns `exc`."""
    if getattr(exc, "_clgraph_annotated", False):
        return exc
    context = node_context(node, state)
    if len(exc.args) == 1 and isinstance(exc.args[0], str):
        exc.args = (f"{exc.args[0]}\n{context}",)
    else:
        exc.add_note(context)
    try:
        exc._clgraph_annotated = True  # type: ignore[attr-defined]
    except AttributeError:
        pass
    return exc
