"""Running a Plan: per call, allocate, enqueue the prepared launches, read outputs back.

Everything that depends only on input shapes (layouts, grids, scalar arguments, shape
errors) was computed by `Plan.prepare`; this loop only swaps in the call's buffers.
"""

from __future__ import annotations

import time

import pyopencl as cl

from clgraph.lower.lower import Plan
from clgraph.lower.plan import BufRef, HostCall, Launch, node_label
from clgraph.runtime.buffers import allocate
from clgraph.runtime.cache import build_program
from clgraph.runtime.darray import upload


class Executor:
    def __init__(self, plan: Plan, ctx) -> None:
        self.plan = plan
        self.ctx = ctx
        t0 = time.perf_counter()
        self.program = build_program(ctx, plan.source) if plan.kernel_defs else None
        self.build_seconds = time.perf_counter() - t0
        self.kernels = {k.name: cl.Kernel(self.program, k.name) for k in plan.kernel_defs}
        self.const_buffers = [upload(ctx, c.data) for c in plan.constants]
        self.profile = None  # set by compile.function when profiling

    def run(self, slot_buffers: list, shapes: tuple, host_scalars: tuple = ()
            ) -> tuple[list, object]:
        """Enqueue one call; returns (all buffers by slot, the prepared state)."""
        state = self.plan.prepare(shapes, host_scalars)
        bufs = list(slot_buffers) + self.const_buffers
        bufs += [None] * (state.n_slots - len(bufs))
        for alloc in state.allocs:
            bufs[alloc.slot] = allocate(self.ctx, alloc.nbytes)
        if state.static:
            if not state.static_buffers:
                state.static_buffers = {s: upload(self.ctx, v) for s, v in state.static.items()}
            for slot, buf in state.static_buffers.items():
                bufs[slot] = buf
        queue = self.ctx.queue if self.profile is None else self.ctx.profiling_queue
        for work in state.work:
            if isinstance(work, Launch):
                args = [bufs[a.slot] if isinstance(a, BufRef) else a for a in work.args]
                kernel = self.kernels[work.kernel]
                try:
                    kernel.set_args(*args)
                    event = cl.enqueue_nd_range_kernel(queue, kernel, work.gsize, work.lsize)
                except cl.Error as e:
                    raise RuntimeError(f"launching kernel {work.kernel} for "
                                       f"{node_label(work.node)} failed: {e}") from e
                if self.profile is not None:
                    self.profile.record_event(work, event)
            elif isinstance(work, HostCall):
                t0 = time.perf_counter()
                work.fn(self.ctx, [bufs[a.slot] if isinstance(a, BufRef) else a
                                   for a in work.args])
                if self.profile is not None:
                    self.profile.record_host(work, time.perf_counter() - t0)
        return bufs, state
