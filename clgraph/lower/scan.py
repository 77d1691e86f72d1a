"""Lowering of Scan: the loop unrolled into the plan, once per shape signature.

The inner graph is optimized and lowered once (its steps and kernels join the program,
named under the Scan's kernel prefix). `prepare` knows the number of steps (shapes and
integer inputs are on the host; a computed count is read back at a sync point), so it
prepares the inner steps once per iteration: each sequence's element t is a view into the
sequence, each recurrent input is the buffer the previous iteration wrote, and a copy
kernel stores each step output into its slice of the stacked output. The work list then
holds every iteration's launches back to back; the memory planner reuses the buffers
of iterations that are done.
"""

from __future__ import annotations

import numpy as np

from clgraph.lower.elemwise import copy_step
from clgraph.lower.gemm import IN_LOOP
from clgraph.lower.layout import Layout, contiguous_strides
from clgraph.lower.plan import PrepareState, Step, node_label

__all__ = ["ScanStep"]


class ScanStep(Step):
    def __init__(self, node, ctx, kernel_prefix) -> None:
        from clgraph.lower.lower import Plan, track_host_values
        from clgraph.simplify.passes import optimize

        super().__init__(node, ctx, kernel_prefix)
        op = node.op
        self.sync_vars = (node.inputs[0],)  # the number of steps
        inner = optimize(op.inner)
        self.inner = inner
        token = IN_LOOP.set(True)  # small products as kernels: no round trip per iteration
        try:
            self.sub = Plan(inner, ctx, prefix=f"{kernel_prefix}_")
        finally:
            IN_LOOP.reset(token)
        self._track = track_host_values
        if self.sub.guards:
            raise NotImplementedError(f"{node_label(node)}: scan: ifelse inside the step "
                                      "function is not supported (use T.switch)")
        self.stores = [copy_step(out, ctx, f"{kernel_prefix}_st{k}")
                       for k, out in enumerate(inner.outputs)]
        # The inner kernels take their inputs as C-contiguous (graph inputs are): an outer
        # sequence, initial value or non-sequence that is a view is copied once first.
        _, seqs, inits, nonseqs = op.split(node.inputs)
        self.copies = {id(v): copy_step(v, ctx, f"{kernel_prefix}_in{k}")
                       for k, v in enumerate([*seqs, *inits, *nonseqs])}

    def kernels(self) -> list:
        defs = list(self.sub.kernel_defs)
        for _, step in [*self.stores, *self.copies.values()]:
            defs += self.claim(step.kernels())
        return defs

    def _contiguous(self, var, state: PrepareState) -> Layout:
        """`var`'s layout, or that of a contiguous copy of it (enqueued here)."""
        lay = state.layouts[var]
        if _contiguous_layout(lay):
            return lay
        return _fresh_copy(self.copies[id(var)], state)

    def prepare(self, state: PrepareState) -> None:
        node, op = self.node, self.node.op
        n_var, seqs, inits, nonseqs = op.split(node.inputs)
        n = int(np.asarray(state.host_values[n_var]))
        if n < 0:
            raise ValueError(f"{node_label(node)}: scan: the number of steps is {n}")
        seq_lays = [self._contiguous(s, state) for s in seqs]
        for s, lay in zip(seqs, seq_lays):
            if lay.shape[0] < n:
                raise ValueError(f"{node_label(node)}: scan: n_steps is {n} but sequence {s} "
                                 f"has only {lay.shape[0]} elements")
        ph = self.inner.inputs
        for var, outer in zip(ph[op.n_seqs + op.n_states:], nonseqs):
            state.layouts[var] = self._contiguous(outer, state)
            if outer in state.host_values:
                state.host_values[var] = state.host_values[outer]
        for const in self.sub.constants:
            state.layouts[const] = state.static_buffer(np.asarray(const.data))
            state.host_values[const] = const.data
        prev = [self._contiguous(i, state) for i in inits]
        stacks: list[Layout | None] = [None] * len(self.inner.outputs)
        slices: list = [None] * len(self.inner.outputs)
        for t in range(n):
            self._bind_step(state, seq_lays, prev, n - 1 - t if op.go_backwards else t)
            self._prepare_inner(state)
            for k, (out, copy) in enumerate(zip(self.inner.outputs, self.stores)):
                lay = state.layouts[out]
                store = copy[1]
                if op.keeps_last_only(k) and t < n - 1:
                    # not stored: the next step reads this step's buffer (a copy if a view)
                    slices[k] = lay if _contiguous_layout(lay) else _fresh_copy(copy, state)
                    continue
                if stacks[k] is None:
                    length = 1 if op.keeps_last_only(k) else n
                    stacks[k] = state.new_buffer((length, *lay.shape), out.dtype)
                elif tuple(lay.shape) != tuple(stacks[k].shape[1:]):
                    raise ValueError(f"{node_label(node)}: scan: output {k} has shape "
                                     f"{lay.shape} at step {t} but {stacks[k].shape[1:]} "
                                     "at step 0; every step's outputs must keep their shapes")
                stack = stacks[k]
                size = int(np.prod(lay.shape, dtype=np.int64))
                at = 0 if op.keeps_last_only(k) else t
                slices[k] = Layout(stack.buffer, tuple(lay.shape),
                                   contiguous_strides(tuple(lay.shape)), stack.offset + at * size)
                store.prepare(state, out_layouts=[slices[k]])
            # the next step reads this step's values from their (contiguous) stacked slices
            prev = [lay for lay, r in zip(slices, op.recurrent) if r]
        if n == 0:  # no steps: one step's shapes come from preparing it on a throwaway copy
            dry = state.fork()
            self._bind_step(dry, seq_lays, prev, 0)
            self._prepare_inner(dry)
            stacks = [state.new_buffer((0, *dry.layouts[out].shape), out.dtype)
                      for out in self.inner.outputs]
        for var, stack in zip(node.outputs, stacks):
            state.layouts[var] = stack

    def _prepare_inner(self, state: PrepareState) -> None:
        """One iteration's inner steps. A value an inner step needs on the host must be
        known there already (lengths, integer inputs): the loop cannot stop at a sync point."""
        for step in self.sub.steps:
            missing = [v for v in step.sync_vars if v not in state.host_values]
            if missing:
                raise NotImplementedError(
                    f"{node_label(self.node)}: scan: {step.node.op} in the step function "
                    f"needs {missing[0]} on the host, computed on the device inside the loop "
                    "(data-dependent lengths or indices); not supported inside scan")
            step.prepare(state)
            self._track(step.node, state)

    def _bind_step(self, state: PrepareState, seq_lays: list, prev: list, idx: int) -> None:
        """Layouts of one iteration's inputs: element `idx` of each sequence, the previous
        values; host values of the last iteration's inner results are forgotten."""
        op = self.node.op
        ph = self.inner.inputs
        for var, lay in zip(ph[:op.n_seqs], seq_lays):
            state.layouts[var] = Layout(lay.buffer, lay.shape[1:], lay.strides[1:],
                                        lay.offset + idx * lay.strides[0])
        for var, lay in zip(ph[op.n_seqs:op.n_seqs + op.n_states], prev):
            state.layouts[var] = lay
        for inner_node in self.inner.toposort():
            for out in inner_node.outputs:
                state.host_values.pop(out, None)


def _contiguous_layout(lay: Layout) -> bool:
    want = contiguous_strides(tuple(lay.shape))
    return all(n <= 1 or a == b for n, a, b in zip(lay.shape, lay.strides, want))


def _fresh_copy(copy, state: PrepareState) -> Layout:
    """Enqueue `copy` ((node, step) of copy_step) into a new contiguous buffer."""
    copy_node, step = copy
    step.prepare(state)
    return state.layouts[copy_node.outputs[0]]
