"""Running a Plan: per call, allocate, enqueue the prepared launches, read outputs back.

Everything that depends only on input shapes (layouts, grids, scalar arguments, shape
errors) was computed by `Plan.prepare`; this loop only swaps in the call's buffers.

Fast path (`run` of a state without host sync points, not profiling): a state is *bound*
once (`_Binding`): each launch gets a kernel object of its own whose fixed arguments
(scalars, constants, static buffers, intermediates) are set when the binding becomes the
active one; per call only the arguments that change (inputs, shared variables' buffers,
buffers the caller keeps: updates and borrowed outputs) are set before each enqueue.
Intermediates and outputs read back to NumPy live in buffers the binding keeps between
calls: the queue is in order and the read-back is blocking, so the next call cannot
overwrite what this call returns.

On PoCL's CPU device the fast path also has the device's inline queue (PoCL's 'basic'
driver, which runs a command inside its enqueue: runtime/device.py): launches whose buffers
are small (`_runs_inline`) go there and cost ~4 µs instead of a wake-up of PoCL's worker
threads. The two queues are ordered by this thread, never by events (PoCL 3.0 hung on a
'basic' command waiting for a 'pthread' event): an inline launch first finishes the
threaded queue if it may hold work, and is itself done when its enqueue returns.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import pyopencl as cl

from clgraph.lower.layout import contiguous_strides
from clgraph.lower.lower import Plan
from clgraph.lower.plan import BufRef, HostCall, Launch, annotate_error, node_context, node_label
from clgraph.lower.render import override_file
from clgraph.runtime.buffers import allocate, allocator
from clgraph.runtime.cache import KernelBuildError, _log_lines, build_program
from clgraph.runtime.darray import download, upload
from clgraph.runtime.host_memory import host_bytes, wrap_host_array


class Executor:
    def __init__(self, plan: Plan, ctx) -> None:
        self.plan = plan
        self.ctx = ctx
        # The program for each queue (False: the device's, True: the inline one), built on
        # first need, so that PoCL compiles for the device the launches use (building for a
        # second device costs its compiler's start again: ~0.4 s cold). The one for small
        # launches, which most functions have, is built now, so that build errors show here.
        self._programs: dict[bool, object] = {}
        t0 = time.perf_counter()
        self._program(ctx.inline_queue is not None)
        self.build_seconds = time.perf_counter() - t0
        self.const_buffers = [upload(ctx, c.data) for c in plan.constants]
        self.profile = None  # set by compile.function when profiling
        self._typed: dict[str, list] = {}  # kernel name -> scalar dtypes (None for buffers)
        # The general path's kernel objects by name, with their scalar dtypes declared.
        self._declared: dict[str, object] = {}
        # Variables whose buffers the caller keeps after a call (updates, borrowed outputs):
        # fresh per call. Set by compile.function.
        self.fresh_vars: list = []
        # Outputs read back into NumPy arrays (not borrowed). Set by compile.function.
        self.host_vars: list = []
        # Kernel objects by (kernel name, inline), one per launch of that name in a state:
        # bindings share them (the active binding's arguments are the ones set).
        self._kernel_pool: dict[tuple[str, bool], list] = {}
        self._active: _Binding | None = None
        self._bound: deque = deque()  # states holding a binding (its kept buffers), oldest first

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

    # Bindings kept at once: each holds its state's intermediate buffers between calls.
    MAX_BOUND = 4
    MAX_KEPT_BYTES = 256 << 20

    def run(self, slot_buffers: list, state) -> tuple[list, object]:
        """Enqueue one call of a prepared state (`Plan.prepare`); returns (all buffers by
        slot, the state the call ended in: a continuation after host sync points).
        `slot_buffers`: the buffers of the graph inputs (explicit, then shared), in order."""
        if state.sync is None and self.profile is None:
            return self.run_and_read(slot_buffers, state, ())[0], state
        return self._run_general(slot_buffers, state)

    def run_and_read(self, slot_buffers: list, state, reads) -> tuple[list, list]:
        """The fast path of `run` (a state without sync points, not profiling), then read
        `reads` ((slot, shape, dtype, byte offset): contiguous outputs) into new NumPy arrays
        and wait for them; returns (all buffers by slot, the arrays).

        Host work before the first launch costs more than its own time (PoCL's worker thread
        goes to sleep and must be woken), work while the kernels run costs less: the output
        arrays are made after the launches, and the reads enqueued right after them."""
        b = state.bound
        if b is None:
            b = self._bind(state, len(slot_buffers))
        bufs = slot_buffers + b.tail
        ctx = self.ctx
        made = None
        if b.host_outs:  # large outputs: kernels write the NumPy arrays returned (see _Binding)
            made = {}
            # where the host addresses buffers in place, host products write them directly
            wrap = wrap_host_array if ctx.host_addressable else None
            for slot, shape, dt in b.host_outs:
                made[slot] = out = np.empty(shape, dt)
                bufs[slot] = wrap(ctx, out, cl.mem_flags.READ_WRITE) if wrap else \
                    cl.Buffer(ctx.context, _HOST_OUT, hostbuf=out)
        if b.fresh_allocs:
            alloc = b.allocate
            for slot, nbytes in b.fresh_allocs:
                bufs[slot] = alloc(nbytes)
        for slot, phys in b.call_aliases:
            bufs[slot] = bufs[phys]
        if self._active is not b:
            b.activate(bufs)
            self._active = b
        queue = ctx.queue
        inline_queue = ctx.inline_queue
        enqueue = cl.enqueue_nd_range_kernel
        item = gate = None
        gates = b.gates
        events: dict[int, object] = {}
        # Whether `queue` may still have work: an inline launch waits for it first (the two
        # queues are ordered by this thread, never by events: see the module doc). Earlier
        # calls and this call's uploads may have left some.
        busy = True
        try:
            for i, item in enumerate(b.items):
                kernel, gsize, lsize, varying, host, mark, inline = item
                if host is not None:
                    if mark is not None:  # the launches on its buffers must be done
                        events[mark].wait() if mark >= 0 else queue.finish()
                    host.fn(ctx, [bufs[s] for s in varying])
                    busy = True  # it may have queued work (maps)
                    continue
                for k, slot in varying:
                    kernel.set_arg(k, bufs[slot])
                if inline:
                    if busy:
                        queue.finish()
                        busy = False
                    event = enqueue(inline_queue, kernel, gsize, lsize)  # done on return
                else:
                    if gates and gates.get(i) is False:
                        gate = _open_gate(ctx, queue)
                    event = enqueue(queue, kernel, gsize, lsize)
                    busy = True
                    if gates and gates.get(i):
                        gate = _close_gate(gate)
                if mark:
                    events[i] = event
        except cl.Error as e:
            raise self._launch_error(b.work[b.items.index(item)], state, e) from e
        finally:
            _close_gate(gate)  # also after an error: the queue would wait forever
        if made is not None:
            return bufs, self._map_outputs(queue, bufs, reads, made)
        arrays = [np.empty(shape, dt) for _, shape, dt, _ in reads]
        if arrays:
            final = arrays[-1]
            # with nothing left on the threaded queue, reads are copies in this thread
            read_queue = queue if busy else inline_queue
            for out, (slot, _, _, offset) in zip(arrays, reads):
                # Only the last read blocks: the queue is in order, so all are done then.
                _read_buffer(read_queue, bufs[slot], out, offset, None, out is final)
        return bufs, arrays

    @staticmethod
    def _map_outputs(queue, bufs: list, reads, made: dict) -> list:
        """`reads` where some outputs were written in place (`made`: slot -> array): those
        are mapped (which makes the host's copy current, without copying where the memory
        is shared; HostBuffers need only the wait), the others read; waits for all."""
        arrays, maps = [], []
        for slot, shape, dt, offset in reads:
            out = made.get(slot)
            if out is not None and host_bytes(bufs[slot]) is not None:
                pass  # used in place: the finish below makes it current
            elif out is not None:
                mapped, _ = cl.enqueue_map_buffer(queue, bufs[slot], cl.map_flags.READ, 0,
                                                  out.shape, out.dtype, is_blocking=False)
                maps.append(mapped)
            else:
                out = np.empty(shape, dt)
                _read_buffer(queue, bufs[slot], out, offset, None, False)
            arrays.append(out)
        queue.finish()
        for mapped in maps:
            mapped.base.release(queue)
        return arrays

    def _bind(self, state, n_inputs: int) -> _Binding:
        binding = _Binding(self, state, n_inputs)
        state.bound = binding
        self._bound.append(state)
        # Kept buffers cost memory per shape signature: keep few bindings, and fewer when
        # they are large (the newest always stays).
        while len(self._bound) > 1 and (
                len(self._bound) > self.MAX_BOUND or
                sum(s.bound.kept_bytes for s in self._bound) > self.MAX_KEPT_BYTES):
            old = self._bound.popleft()
            if old.bound is self._active:
                self._active = None
            old.bound = None  # its kept buffers go back to the pool
        return binding

    def _program(self, inline: bool):
        """The program built for the inline queue's device or for the device's own."""
        program = self._programs.get(inline)
        if program is None and self.plan.kernel_defs:
            device = self.ctx.inline_queue.device if inline else self.ctx.device
            try:
                program = build_program(self.ctx, self.plan.source, device=device)
            except KernelBuildError as exc:
                _blame_kernels(exc, self.plan)
                raise
            self._programs[inline] = program
        return program

    def new_kernel(self, name: str, inline: bool = False):
        """A new kernel object of kernel `name` (its alias where it is a copy)."""
        return cl.Kernel(self._program(inline), self.plan.kernel_alias.get(name, name))

    def _kernel_for(self, name: str, index: int, inline: bool):
        """The index-th kernel object of this name for that queue (created on first need)."""
        pool = self._kernel_pool.setdefault((name, inline), [])
        while len(pool) <= index:
            pool.append(self.new_kernel(name, inline))
        return pool[index]

    def _run_general(self, slot_buffers: list, state) -> tuple[list, object]:
        """`run` for states with host sync points and for profiling (events per launch)."""
        self._active = None  # the shared kernel objects get other arguments here
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

    def scalar_dtypes(self, work: Launch) -> list:
        """The kernel's scalar argument dtypes (None for buffers), fixed by its first launch."""
        dtypes = self._typed.get(work.kernel)
        if dtypes is None:
            dtypes = [None if isinstance(a, BufRef) else np.asarray(a).dtype for a in work.args]
            self._typed[work.kernel] = dtypes
        return dtypes

    def _kernel(self, work: Launch):
        """The kernel, with its scalar argument types declared once: pyopencl packs
        undeclared scalars by inspection, which costs ~40 µs a call (measured)."""
        kernel = self._declared.get(work.kernel)
        if kernel is None:
            kernel = self.new_kernel(work.kernel)
            kernel.set_scalar_arg_dtypes(self.scalar_dtypes(work))
            self._declared[work.kernel] = kernel
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
            # host work reads and writes buffers directly (HostGemm): everything before it
            # must be done (the profiling queue's kernels included)
            side = self.ctx.__dict__.get("profiling_queue")
            if side is not None:
                side.finish()
            self.ctx.queue.finish()
            work.fn(self.ctx, [bufs[a.slot] if isinstance(a, BufRef) else a for a in work.args])
            if self.profile is not None:
                self.profile.record_host(work, time.perf_counter() - t0)

    def run_checked(self, slot_buffers: list, shapes: tuple, host_scalars: tuple, checker
                    ) -> tuple[list, object]:
        """`run`, step by step: `checker.before(step, bufs, state)` and
        `checker.after(step, bufs, state)` around each step's work (DebugMode, NanGuardMode).
        """
        state = self.plan.prepare(shapes, host_scalars)
        self._active = None  # the shared kernel objects get other arguments here
        bufs = self._buffers(slot_buffers, state)
        queue = self.ctx.queue if self.profile is None else self.ctx.profiling_queue
        self.ctx.queue.finish()
        for i, step in enumerate(self.plan.steps):
            if state.sync is not None and state.sync.step == i:
                state = self._resume(state, bufs, queue)
            lo, hi = state.step_ranges[i]
            if any(o not in state.layouts for o in step.node.outputs):
                continue  # in an ifelse branch not taken: not prepared
            checker.before(step, bufs, state)
            for work in state.work[lo:hi]:
                self.enqueue(work, bufs, state, queue)
            queue.finish()
            checker.after(step, bufs, state)
        return bufs, state


def _read_buffer_public(queue, buf, out, offset: int, wait_for, is_blocking: bool):
    return cl.enqueue_copy(queue, out, buf, src_offset=offset, wait_for=wait_for,
                           is_blocking=is_blocking)


# pyopencl's enqueue_copy dispatches on its arguments' types in Python (~1.7 µs a call,
# measured); the read it ends in is called directly where this pyopencl has it.
_read_buffer = getattr(cl._cl, "_enqueue_read_buffer", None) or _read_buffer_public


# Outputs this large are written by the kernels into the NumPy array the call returns, on
# devices that share the host's memory: the read-back copy (and its page faults on a fresh
# array) cost ~5 ms per 40 MB on PoCL (measured); smaller ones are read as usual.
HOST_OUT_BYTES = 1 << 20
_HOST_OUT = cl.mem_flags.READ_WRITE | cl.mem_flags.USE_HOST_PTR


def _host_outputs(ex: Executor, state, fresh: set) -> list:
    """(slot, shape, dtype) of the outputs the kernels may write in place: large, not
    borrowed nor an update, the whole of a buffer of their own that no other output names."""
    if not ex.ctx.host_unified_memory or not ex.host_vars:
        return []
    sizes = {a.slot: a.nbytes for a in state.allocs}
    named = [state.layouts[v].buffer for v in ex.host_vars + ex.fresh_vars if v in state.layouts]
    found = []
    for var in dict.fromkeys(ex.host_vars):
        lay = state.layouts.get(var)
        if lay is None:
            continue
        dt = np.dtype(var.dtype)
        nbytes = lay.size * dt.itemsize
        slot = lay.buffer
        if slot in fresh or named.count(slot) != 1 or sizes.get(slot) != nbytes or \
                nbytes < HOST_OUT_BYTES or lay.offset != 0 or \
                lay.strides != contiguous_strides(lay.shape):
            continue
        found.append((slot, tuple(lay.shape), dt))
    return found


class _Binding:
    """A prepared state bound to an executor for the fast path (see the module doc)."""

    __slots__ = ("n_inputs", "tail", "allocate", "fresh_allocs", "call_aliases", "items",
                 "fixed", "kept_bytes", "host_outs", "gates", "work")

    def __init__(self, ex: Executor, state, n_inputs: int) -> None:
        self.n_inputs = n_inputs
        n = state.n_slots
        fresh = {state.layouts[v].buffer for v in ex.fresh_vars if v in state.layouts}
        fresh.update(range(n_inputs))  # inputs and shared variables: the caller's buffers
        self.host_outs = _host_outputs(ex, state, fresh)
        in_place = {slot for slot, _, _ in self.host_outs}
        fresh |= in_place
        template: list = [None] * n
        template[n_inputs:n_inputs + len(ex.const_buffers)] = ex.const_buffers
        self.allocate = allocator(ex.ctx)
        self.fresh_allocs = []
        self.kept_bytes = 0
        for alloc in state.allocs:
            if alloc.slot in in_place:
                continue  # wraps the call's output array
            if alloc.slot in fresh:
                self.fresh_allocs.append((alloc.slot, max(1, int(alloc.nbytes))))
            else:  # kept between calls (intermediates, outputs read back to NumPy)
                template[alloc.slot] = allocate(ex.ctx, alloc.nbytes)
                self.kept_bytes += alloc.nbytes
        if state.static and not state.static_buffers:
            state.static_buffers = {s: upload(ex.ctx, v) for s, v in state.static.items()}
        for slot, buf in state.static_buffers.items():
            template[slot] = buf
        self.call_aliases = []
        for slot, phys in state.aliases.items():
            if phys in fresh:
                self.call_aliases.append((slot, phys))
                fresh.add(slot)
            else:
                template[slot] = template[phys]
        self.tail = template[n_inputs:]  # every slot after the inputs and shared variables
        self.items: list[tuple] = []
        # Per launch: (kernel, [(arg index, packed scalar or slot), ...]) set on activation.
        self.fixed: list[tuple] = []
        uses: dict[str, int] = {}
        inline_ok = ex.ctx.inline_queue is not None
        slot_bytes = _slot_bytes(state, ex.const_buffers, n_inputs) if inline_ok else {}
        # the order launches are queued in (the fast path's; checked calls keep state.work's)
        self.work = _defer_launches(state) if ex.ctx.is_cpu else list(state.work)
        waits = host_waits(state, self.work)
        awaited = set(waits.values())  # launches whose events a host call waits for
        for i, work in enumerate(self.work):
            if not isinstance(work, Launch):
                # a host call's buffers by slot, resolved here rather than on every call
                if not all(isinstance(a, BufRef) for a in work.args):
                    raise TypeError(f"host call {work.fn}: arguments must be buffers")
                slots = tuple(a.slot for a in work.args)
                self.items.append((None, None, None, slots, work, waits.get(i), False))
                continue
            inline = inline_ok and _runs_inline(work, state, slot_bytes)
            index = uses.get((work.kernel, inline), 0)
            uses[work.kernel, inline] = index + 1
            kernel = ex._kernel_for(work.kernel, index, inline)
            dtypes = ex.scalar_dtypes(work)
            varying, fixed = [], []
            for k, (a, dt) in enumerate(zip(work.args, dtypes, strict=True)):
                if isinstance(a, BufRef):
                    (varying if a.slot in fresh else fixed).append((k, a.slot))
                else:  # the scalar's bytes, as OpenCL takes them
                    fixed.append((k, np.asarray(a, dtype=dt).tobytes()))
            self.fixed.append((kernel, fixed))
            gsize = tuple(int(g) for g in work.gsize)
            lsize = None if work.lsize is None else tuple(int(g) for g in work.lsize)
            self.items.append((kernel, gsize, lsize, tuple(varying), None, i in awaited, inline))
        self.gates = _gated_runs(self.items) if ex.ctx.is_cpu and waits else {}

    def activate(self, bufs: list) -> None:
        """Set every launch's fixed arguments (the kernel objects are shared). Scalars go
        in as bytes through pyopencl's `_set_arg_buf` (what its own set_args does): its
        public set_arg inspects a NumPy scalar for ~6.5 µs, against 0.07 (measured), and a
        scan's binding sets thousands."""
        for kernel, fixed in self.fixed:
            set_bytes = getattr(kernel, "_set_arg_buf", None) or kernel.set_arg
            for k, a in fixed:
                if type(a) is int:
                    kernel.set_arg(k, bufs[a])
                else:
                    set_bytes(k, a)


# Runs of at least this many launches between host calls are queued behind a gate (a
# barrier on a user event) that opens once all are queued. Between host products BLAS's
# threads spin on one core, and PoCL's worker then takes the other from the thread that
# enqueues: each launch costs its whole run time there, ~20-30 µs more than queued back to
# back (measured: 10 small launches after a product, 224-298 µs plain, 130-146 µs gated).
GATE_MIN_LAUNCHES = 4


def _gated_runs(items: list) -> dict[int, bool]:
    """{item index: False to open a gate before that launch, True to close it after}."""
    gates: dict[int, bool] = {}
    start = None
    for i, item in enumerate(items + [(None, None, None, None, "end", None, False)]):
        if item[4] is None and not item[6]:  # a launch on the threaded queue
            if start is None:
                start = i
            continue
        if start is not None and i - start >= GATE_MIN_LAUNCHES:
            gates[start] = False
            gates[i - 1] = True
        start = None
    return gates


# Launches that read and write at most this many bytes run on the inline queue (PoCL's
# 'basic' driver, in the calling thread: runtime/device.py) on devices that have one.
INLINE_MAX_BYTES = 4 << 20


def _slot_bytes(state, const_buffers: list, n_inputs: int) -> dict[int, int]:
    """Bytes of each buffer slot that a state knows: allocations, static values, constants
    and the whole-buffer layouts of the inputs."""
    sizes = {a.slot: a.nbytes for a in state.allocs}
    for slot, value in state.static.items():
        sizes[slot] = value.nbytes
    for k, buf in enumerate(const_buffers):
        sizes[n_inputs + k] = buf.size
    for var, lay in state.layouts.items():
        if lay.buffer < n_inputs and lay.offset == 0:
            nbytes = lay.size * np.dtype(var.dtype).itemsize
            sizes[lay.buffer] = max(sizes.get(lay.buffer, 0), nbytes)
    return sizes


def _runs_inline(work: Launch, state, slot_bytes: dict[int, int]) -> bool:
    """Whether a launch is small enough for the inline queue: the buffers it is given come
    to at most INLINE_MAX_BYTES, a buffer holding its node's values counted by those values
    (a scan step's slice of a stack is one step's worth), any other (scratch: a convolution's
    columns) whole. Unknown sizes: no."""
    def phys(slot: int) -> int:
        return state.aliases.get(slot, slot)

    seen: dict[int, int] = {}
    if work.node is not None:
        for v in (*work.node.inputs, *work.node.outputs):
            lay = state.layouts.get(v)
            if lay is not None:
                slot = phys(lay.buffer)
                seen[slot] = seen.get(slot, 0) + lay.size * np.dtype(v.dtype).itemsize
    total = 0
    for a in work.args:
        if isinstance(a, BufRef):
            slot = phys(a.slot)
            nbytes = seen.get(slot, slot_bytes.get(slot))
            if nbytes is None:
                return False
            total += nbytes
    return total <= INLINE_MAX_BYTES


def _open_gate(ctx, queue):
    gate = cl.UserEvent(ctx.context)
    cl.enqueue_barrier(queue, wait_for=[gate])
    return gate


def _close_gate(gate) -> None:
    if gate is not None:
        gate.set_status(cl.command_execution_status.COMPLETE)


def buffer_use(state, work_list: list) -> list[tuple[set[int], set[int]]]:
    """Per work item, (physical buffers it touches, those it may write). A launch reads its
    node's inputs and may write any other buffer it is given; a host call writes the
    arguments `HostCall.writes` names (all when None)."""
    def phys(slot: int) -> int:
        return state.aliases.get(slot, slot)

    def buffers(variables) -> set[int]:
        return {phys(state.layouts[v].buffer) for v in variables if v in state.layouts}

    use = []
    for w in work_list:
        slots = {phys(a.slot) for a in w.args if isinstance(a, BufRef)}
        if isinstance(w, Launch):
            read_only = (buffers(w.node.inputs) - buffers(w.node.outputs)
                         if w.node is not None else set())
            writes = slots - read_only
        elif w.writes is None:
            writes = slots
        else:
            writes = {phys(w.args[k].slot) for k in w.writes if isinstance(w.args[k], BufRef)}
        use.append((slots, writes))
    return use


def _defer_launches(state) -> list:
    """The work list with launches that nothing after them depends on moved to the end
    (kept in order), when there are host calls: a parameter update then runs with the
    other tail launches after the last product instead of beside the next one, whose BLAS
    threads it slows (MLP step 1.3% faster, A/B in one process). A launch stays where it
    is when a later item touches what it may write or writes what it reads."""
    work = list(state.work)
    hosts = [i for i, w in enumerate(work) if isinstance(w, HostCall)]
    if not hosts:
        return work
    later_touch: set[int] = set()
    later_write: set[int] = set()
    moved = [False] * len(work)
    for i, (touched, written) in reversed(list(enumerate(buffer_use(state, work)))):
        if isinstance(work[i], Launch) and i < hosts[-1] and not (written & later_touch) \
                and not ((touched - written) & later_write):
            moved[i] = True
        later_touch |= touched
        later_write |= written
    return [w for i, w in enumerate(work) if not moved[i]] + \
        [w for i, w in enumerate(work) if moved[i]]


def host_waits(state, work_list: list | None = None) -> dict[int, int]:
    """For each host call of `work_list` (default `state.work`), by index, that must wait:
    the index of the launch to wait for (the queue is in order, so everything before it is
    done then), or -1 for a finish of the queue.

    The first host call waits for everything before it (commands of earlier calls may still
    use the memory of this call's fresh buffers). A later one waits for the last launch
    that may write a buffer it touches, or touch a buffer it writes (`buffer_use`), unless
    an earlier wait already covers it."""
    work_list = state.work if work_list is None else work_list
    waits: dict[int, int] = {}
    last_write: dict[int, int] = {}
    last_touch: dict[int, int] = {}
    last_launch = -1
    covered = None  # launches up to this index are known done
    for i, (work, (touched, written)) in enumerate(zip(work_list,
                                                       buffer_use(state, work_list))):
        if isinstance(work, Launch):
            for slot in touched:
                last_touch[slot] = i
            for slot in written:
                last_write[slot] = i
            last_launch = i
            continue
        if covered is None:
            waits[i] = covered = last_launch
            continue
        need = max([last_write.get(s, -1) for s in touched] +
                   [last_touch.get(s, -1) for s in written] + [-1])
        if need > covered:
            waits[i] = covered = need
    return waits


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
        parts = [f"The failing line(s) belong to {_kernel_origin(k)}, which computes:\n"
                 + "\n".join(node_context(node) for node in k.nodes) for k in blamed]
        exc.args = (f"{exc.args[0]}\n" + "\n".join(parts),)


def _kernel_origin(kernel) -> str:
    """'kernel NAME', with the template override it was rendered from, if any."""
    where = override_file(kernel.template) if kernel.template else None
    return f"kernel {kernel.name}" + (f" (rendered from the template override {where})"
                                      if where else "")
