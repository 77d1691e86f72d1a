"""Buffer planning: a dead intermediate's buffer is reused by a later one of no larger size,
and an elementwise kernel whose input dies at that kernel writes its output in place.

Runs once per prepared shape signature. Lifetimes come from the work list: a slot lives from
the first work item that names it to the last; slots that outlive the call (outputs, update
values) are never reused, and inputs and shared variables are not allocations, so they are
never written. The queue is in order, so a later kernel writing a reused buffer cannot
overtake an earlier one reading it. In place is allowed only for the (output, input) pairs a
step declared in `state.inplace_ok` (same layout, each element read before it is written by
the same work item). Reused buffers are also warm in the CPU's caches.
"""

from __future__ import annotations

import bisect

import numpy as np

from clgraph.expr.variable import SharedVariable
from clgraph.lower.plan import BufRef, HostCall, PrepareState


def check_input_sizes(ctx, slot_vars: list, state: PrepareState) -> None:
    """Each input, shared variable and constant fits in one device buffer (else a clear
    DeviceMemoryError naming it), checked before anything is allocated or enqueued."""
    for var in slot_vars:
        lay = state.layouts[var]
        kind = "shared variable" if isinstance(var, SharedVariable) else "input"
        ctx.check_alloc(lay.size * np.dtype(var.dtype).itemsize,
                        f"{kind} {var} (shape {lay.shape}, dtype {var.dtype})")


def check_new_allocs(ctx, state: PrepareState, first: int, outputs: list) -> None:
    """Allocations state.allocs[first:] (one step's) each fit in one device buffer."""
    by_slot = {state.layouts[v].buffer: v for v in outputs if v in state.layouts}
    for alloc in state.allocs[first:]:
        var = by_slot.get(alloc.slot)
        what = (f"the value {var} (shape {state.layouts[var].shape}, dtype {var.dtype})"
                if var is not None else "a work buffer")
        ctx.check_alloc(alloc.nbytes, what)


def plan_memory(state: PrepareState, keep: set[int]) -> None:
    """Fold allocations into fewer physical buffers; sets `state.aliases` (slot -> slot).

    A buffer last used by a kernel is not given to a slot that a host call (host BLAS)
    writes first: the host call would have to wait for that kernel (lower/schedule.py
    orders steps so that host products do not wait where they need not)."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, work in enumerate(state.work):
        for a in work.args:
            if isinstance(a, BufRef):
                first.setdefault(a.slot, i)
                last[a.slot] = i
    sizes = {a.slot: a.nbytes for a in state.allocs}
    order = sorted((first[s], s) for s in sizes if s in first and s not in keep)
    # free buffers, (nbytes, physical slot) sorted: after a host call's last use, after a kernel's
    free: dict[bool, list[tuple[int, int]]] = {True: [], False: []}
    releases: list[tuple[int, int, int]] = []  # (last use, physical, slot) of buffers in use
    aliases: dict[int, int] = {}
    for start, slot in order:
        for rel in [r for r in releases if r[0] < start]:
            releases.remove(rel)
            bisect.insort(free[isinstance(state.work[rel[0]], HostCall)], (sizes[rel[1]], rel[1]))
        phys = _in_place(state, releases, start, slot, sizes)
        if phys is None:
            pools = [True] if isinstance(state.work[start], HostCall) else [True, False]
            best = None
            for pool in pools:
                k = bisect.bisect_left(free[pool], (sizes[slot], -1))
                if k < len(free[pool]) and free[pool][k][0] <= 2 * sizes[slot] and \
                        (best is None or free[pool][k] < free[best[0]][best[1]]):
                    best = (pool, k)
            if best is not None:
                _, phys = free[best[0]].pop(best[1])
        if phys is not None:
            aliases[slot] = phys
        else:
            phys = slot
        releases.append((last[slot], phys, slot))
    if aliases:
        state.allocs = [a for a in state.allocs if a.slot not in aliases]
        state.aliases = aliases


def _in_place(state: PrepareState, releases: list, start: int, slot: int, sizes: dict
              ) -> int | None:
    """The buffer of an input that dies at work item `start`, if `slot` may take it there."""
    for rel in releases:
        end, phys, src = rel
        if end == start and (slot, src) in state.inplace_ok and sizes[phys] >= sizes[slot]:
            releases.remove(rel)
            return phys
    return None


def update_in_place(state: PrepareState, updates: list, outputs: list) -> None:
    """Let a host product that computes a shared variable's update from the variable itself
    (gemm's beta: `W - lr * A.B`, lower/gemm.py) write into the variable's own buffer: no
    new buffer, no copy of W into it (Theano's gemm_inplace).

    Only where nothing after it reads the old value: no later work item names the buffer,
    no output of the call lives in it, the product's own operands are not in it; the
    update's slot then aliases the shared variable's for every call of this state."""
    if not updates:
        return
    out_slots = [state.layouts[v].buffer for v in outputs if v in state.layouts]
    for shared, new in updates:
        lay_s, lay_c = state.layouts.get(shared), state.layouts.get(new)
        if lay_s is None or lay_c is None or lay_c.buffer in state.aliases:
            continue
        s, c = lay_s.buffer, lay_c.buffer
        writers = [i for i, w in enumerate(state.work) if isinstance(w, HostCall) and
                   w.args and isinstance(w.args[-1], BufRef) and w.args[-1].slot == c]
        if len(writers) != 1 or out_slots.count(s) or out_slots.count(c) != 1:
            continue
        i = writers[0]
        fn = state.work[i].fn
        addend = getattr(fn, "addend", None)
        operands = [fn.a.buffer, fn.b.buffer] + [f.buffer for f in fn.factors]
        if addend is None or addend.buffer != s or s in operands or \
                not _whole(addend, lay_c) or not _whole(lay_c, lay_c):
            continue
        if any(isinstance(a, BufRef) and a.slot == s for w in state.work[i + 1:] for a in w.args):
            continue
        state.aliases[c] = s
        state.allocs = [a for a in state.allocs if a.slot != c]


def _whole(lay, like) -> bool:
    """`lay` covers a whole contiguous buffer of `like`'s shape from offset 0."""
    return lay.offset == 0 and tuple(lay.shape) == tuple(like.shape) and lay.is_contiguous
