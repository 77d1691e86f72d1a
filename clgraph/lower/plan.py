"""The Plan: kernels of one program plus the steps that launch them.

Lowering turns each graph node into a `Step`. A step contributes kernel sources to the
function's single OpenCL program and, once per input-shape signature, `prepare`s: it computes
its outputs' layouts (checking shapes, so a bad call fails before anything is enqueued) and
the launches (kernel, grid, arguments) that compute them. Per call, the executor only
allocates buffers and enqueues the prepared launches.
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
    """A step done on the host with the queue (e.g. host BLAS on mapped buffers)."""

    fn: Any
    args: list[Any]
    node: Apply | None = None


@dataclass
class Alloc:
    slot: int
    nbytes: int


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
    """One lowered node. Subclasses render kernels at lowering and prepare launches per shape."""

    def __init__(self, node: Apply, ctx, kernel_prefix: str) -> None:
        self.node = node
        self.ctx = ctx
        self.prefix = kernel_prefix

    def kernels(self) -> list[KernelDef]:
        return []

    def prepare(self, state: PrepareState) -> None:
        raise NotImplementedError


def node_label(node: Apply) -> str:
    """Where a node came from, for error messages: op and the user's source line."""
    trace = node.tag.get("trace")
    where = f" (created at {trace[0]}:{trace[1]})" if trace else ""
    return f"{node.op}{where}"
