"""Running a Plan: per call, allocate, enqueue the prepared launches, read outputs back.

Everything that depends only on input shapes (layouts, grids, scalar arguments, shape
errors) was computed by `Plan.prepare`; this loop only swaps in the call's buffers.
"""

from __future__ import annotations

import time

import numpy as np
import pyopencl as cl

from clgraph.lower.lower import Plan
from clgraph.lower.plan import BufRef, Launch, annotate_error, node_context, node_label
from clgraph.runtime.buffers import allocate
from clgraph.runtime.cache import KernelBuildError, _log_lines, build_program
from clgraph.runtime.darray import download, upload


class Executor:
    def __init__(self, plan: Plan, ctx) -> None:
        self.plan = plan
        self.ctx = ctx
        t0 = time.perf_counter()
        try:
            self.program = build_program(ctx, plan.source) if plan.kernel_defs else None
        except KernelBuildError as exc:
            _blame_kernels(exc, plan)
            raise
        self.build_seconds = time.perf_counter() - t0
        self.kernels = {k.name: cl.Kernel(self.program, plan.kernel_alias.get(k.name, k.name))
                        for k in plan.kernel_defs}
        self.const_buffers = [upload(ctx, c.data) for c in plan.constants]
        self.profile = None  # set by compile.function when profiling
        self._typed: set[str] = set()

    def _buffers(self, slot_buffers: list, state) -> list:
        """Every slot's buffer for one call: inputs, constants, fresh ones, static ones."""
        bufs = list(slot_buffers) + self.const_buffers
        bufs += [None] * (state.n_slots - len(bufs))
        for alloc in state.allocs:
            bufs[alloc.slot] = allocate(self.ctx, alloc.nbytes)
        for slot, phys in state.aliases.items():
            bufs[slot] = bufs[phys]
        if state.static:
            if not state.static_buffers:
                state.static_buffers = {s: upload(self.ctx, v) for s, v in state.static.items()}
            for slot, buf in state.static_buffers.items():
                bufs[slot] = buf
        return bufs

    def run(self, slot_buffers: list, state) -> tuple[list, object]:
        """Enqueue one call of a prepared state (`Plan.prepare`); returns (all buffers by
        slot, the state the call ended in: a continuation after host sync points)."""
        bufs = self._buffers(slot_buffers, state)
        queue = self.ctx.queue if self.profile is None else self.ctx.profiling_queue
        done = 0
        if state.sync is not None:  # data-dependent shapes: run up to each host sync point
            while state.sync is not None:
                for work in state.work[done:]:
                    self.enqueue(work, bufs, state, queue)
                done = len(state.work)
                state = self._resume(state, bufs, queue)
        for work in state.work[done:] if done else state.work:
            self.enqueue(work, bufs, state, queue)
        return bufs, state

    def _resume(self, state, bufs: list, queue):
        """At a host sync point (the work before it enqueued): read the sync values back,
        take the prepared continuation and bind its new buffers (see lower/plan.py)."""
        t0 = time.perf_counter()
        if queue is not self.ctx.queue:
            queue.finish()  # profiling: kernels are on another queue
        values = []
        for var in state.sync.vars:
            lay = state.layouts[var]
            values.append(download(self.ctx, bufs[lay.buffer], lay, var.dtype))
        if self.profile is not None:
            self.profile.record_transfer("to host (sync)", time.perf_counter() - t0,
                                         sum(v.nbytes for v in values))
        n_allocs = len(state.allocs)
        state = self.plan.resume(state, values)
        bufs += [None] * (state.n_slots - len(bufs))
        for alloc in state.allocs[n_allocs:]:
            bufs[alloc.slot] = allocate(self.ctx, alloc.nbytes)
        for slot, value in state.static.items():
            if slot not in state.static_buffers:
                state.static_buffers[slot] = upload(self.ctx, value)
            bufs[slot] = state.static_buffers[slot]
        return state

    def _launch_error(self, work, state, exc: Exception) -> RuntimeError:
        msg = f"launching kernel {work.kernel} for {node_label(work.node)} failed: {exc}"
        err = RuntimeError(msg)
        return annotate_error(err, work.node, state) if work.node is not None else err

    def _kernel(self, work: Launch):
        """The kernel, with its scalar argument types declared once: pyopencl packs
        undeclared scalars by inspection, which costs ~40 µs a call (measured)."""
        kernel = self.kernels[work.kernel]
        if work.kernel not in self._typed:
            kernel.set_scalar_arg_dtypes(
                [None if isinstance(a, BufRef) else np.asarray(a).dtype for a in work.args])
            self._typed.add(work.kernel)
        return kernel

    def enqueue(self, work, bufs: list, state, queue) -> None:
        """Enqueue one prepared work item (a kernel launch or a host call)."""
        if isinstance(work, Launch):
            args = [bufs[a.slot] if isinstance(a, BufRef) else a for a in work.args]
            kernel = self._kernel(work)
            try:
                kernel.set_args(*args)
                event = cl.enqueue_nd_range_kernel(queue, kernel, work.gsize, work.lsize)
            except cl.Error as e:
                raise self._launch_error(work, state, e) from e
            if self.profile is not None:
                self.profile.record_event(work, event)
        else:
            t0 = time.perf_counter()
            work.fn(self.ctx, [bufs[a.slot] if isinstance(a, BufRef) else a for a in work.args])
            if self.profile is not None:
                self.profile.record_host(work, time.perf_counter() - t0)

    def run_checked(self, slot_buffers: list, shapes: tuple, host_scalars: tuple, checker
                    ) -> tuple[list, object]:
        """`run`, step by step: `checker.before(step, bufs, state)` and
        `checker.after(step, bufs, state)` around each step's work (DebugMode, NanGuardMode).
        """
        state = self.plan.prepare(shapes, host_scalars)
        bufs = self._buffers(slot_buffers, state)
        queue = self.ctx.queue if self.profile is None else self.ctx.profiling_queue
        self.ctx.queue.finish()
        for i, step in enumerate(self.plan.steps):
            if state.sync is not None and state.sync.step == i:
                state = self._resume(state, bufs, queue)
            lo, hi = state.step_ranges[i]
            checker.before(step, bufs, state)
            for work in state.work[lo:hi]:
                self.enqueue(work, bufs, state, queue)
            queue.finish()
            checker.after(step, bufs, state)
        return bufs, state


def _blame_kernels(exc, plan: Plan) -> None:
    """Add to a build error the kernels whose lines the compiler's log names, and their nodes
    with the user's lines that created them."""
    starts = []
    for k in plan.kernel_defs:
        at = plan.source.find(k.source)
        if at >= 0:
            starts.append((plan.source.count("\n", 0, at) + 1, k))
    lines = sorted(_log_lines(exc.log, plan.source.count("\n") + 1))
    blamed = []
    for n in lines:
        owner = None
        for first, k in starts:
            if first <= n <= first + k.source.count("\n"):
                owner = k
        if owner is not None and owner not in blamed:
            blamed.append(owner)
    if blamed:
        parts = [f"The failing line(s) belong to kernel {k.name}, which computes:\n"
                 + "\n".join(node_context(node) for node in k.nodes) for k in blamed]
        exc.args = (f"{exc.args[0]}\n" + "\n".join(parts),)
