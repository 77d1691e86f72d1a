"""Lowering of Scan: the loop unrolled into the plan, once per shape signature.

The inner graph is optimized and lowered once (its steps and kernels join the program,
named under the Scan's kernel prefix). `prepare` knows the number of steps (shapes and
integer inputs are on the host; a computed count is read back at a sync point), so it
prepares the inner steps once per iteration: each sequence's element t is a view into the
sequence, each recurrent input is the slice the previous iteration wrote, and each step
output lands in its slice of the stacked output (written there by the kernel computing it
where one does, else copied). The work list then holds every iteration's launches back to
back; the memory planner reuses the buffers of iterations that are done.
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
            raise NotImplementedError(f"{node_label(node)}: scan: an ifelse inside the step "
                                      "whose branches differ in type is not supported (an "
                                      "ifelse of one type runs as a switch there)")
        self.stores = [copy_step(out, ctx, f"{kernel_prefix}_st{k}")
                       for k, out in enumerate(inner.outputs)]
        self.direct = _direct_writers(self.sub.steps, inner)
        # The inner kernels take their inputs as C-contiguous (graph inputs are): an outer
        # sequence, initial value or non-sequence that is a view is copied once first.
        _, seqs, inits, nonseqs = op.split(node.inputs)
        self.copies = {id(v): copy_step(v, ctx, f"{kernel_prefix}_in{k}")
                       for k, v in enumerate([*seqs, *inits, *nonseqs])}

    def kernels(self) -> list:
        defs = list(self.sub.kernel_defs)
        for d in defs:  # the Scan's kernels, each with the step's nodes it computes
            d.nodes = [self.node] + [n for n in d.nodes if n is not self.node]
        for _, step in [*self.stores, *self.copies.values()]:
            defs += self.claim(step.kernels())
        return defs

    def _contiguous(self, var, state: PrepareState) -> Layout:
        """`var`'s layout, or that of a contiguous copy of it (enqueued here)."""
        lay = state.layouts[var]
        if lay.is_contiguous:
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
        # One step's output shapes, from preparing it on a throwaway copy of the state.
        dry = state.fork()
        self._bind_step(dry, seq_lays, prev, 0)
        self._prepare_inner(dry, {})
        shapes = [tuple(dry.layouts[out].shape) for out in self.inner.outputs]
        stacks = [state.new_buffer((min(n, 1) if op.keeps_last_only(k) else n, *shape), out.dtype)
                  for k, (out, shape) in enumerate(zip(self.inner.outputs, shapes))]
        for t in range(n):
            self._bind_step(state, seq_lays, prev, t)
            slices = []
            for k, shape in enumerate(shapes):
                if op.keeps_last_only(k) and t < n - 1:
                    slices.append(None)  # not stored: the next step reads the step's buffer
                    continue
                size = int(np.prod(shape, dtype=np.int64))
                at = 0 if op.keeps_last_only(k) else t
                slices.append(Layout(stacks[k].buffer, shape, contiguous_strides(shape),
                                     stacks[k].offset + at * size))
            # steps computing an output write it straight into its slice; the rest is copied
            direct = {id(self.direct[k]): [lay] for k, lay in enumerate(slices)
                      if lay is not None and self.direct[k] is not None}
            self._prepare_inner(state, direct)
            for k, (out, copy) in enumerate(zip(self.inner.outputs, self.stores)):
                lay = state.layouts[out]
                if tuple(lay.shape) != shapes[k]:
                    raise ValueError(f"{node_label(node)}: scan: output {k} has shape "
                                     f"{lay.shape} at step {t} but {shapes[k]} at the first "
                                     "step; every step's outputs must keep their shapes")
                if slices[k] is None:
                    slices[k] = lay if lay.is_contiguous else _fresh_copy(copy, state)
                elif lay != slices[k]:
                    copy[1].prepare(state, out_layouts=[slices[k]])
            # the next step reads this step's values from their (contiguous) slices
            prev = [lay for lay, r in zip(slices, op.recurrent) if r]
        for var, stack in zip(node.outputs, stacks):
            state.layouts[var] = stack

    def _prepare_inner(self, state: PrepareState, direct: dict) -> None:
        """One iteration's inner steps; `direct`: {id(step): the layouts it writes}. A value an
        inner step needs on the host must be known there already (lengths, integer inputs):
        the loop cannot stop at a sync point."""
        for step in self.sub.steps:
            missing = [v for v in step.sync_vars if v not in state.host_values]
            if missing:
                raise NotImplementedError(
                    f"{node_label(self.node)}: scan: {step.node.op} in the step function "
                    f"needs {missing[0]} on the host, computed on the device inside the loop "
                    "(data-dependent lengths or indices); not supported inside scan")
            if id(step) in direct:
                step.prepare(state, out_layouts=direct[id(step)])
            else:
                step.prepare(state)
            self._track(step.node, state)

    def _bind_step(self, state: PrepareState, seq_lays: list, prev: list, t: int) -> None:
        """Layouts of step `t`'s inputs: its element of each sequence, the previous values;
        host values of the last iteration's inner results are forgotten."""
        op = self.node.op
        ph = self.inner.inputs
        for var, lay in zip(ph[:op.n_seqs], seq_lays):
            idx = op.element_at(t, lay.shape[0])
            state.layouts[var] = Layout(lay.buffer, lay.shape[1:], lay.strides[1:],
                                        lay.offset + idx * lay.strides[0])
        for var, lay in zip(ph[op.n_seqs:op.n_seqs + op.n_states], prev):
            state.layouts[var] = lay
        for inner_node in self.inner.toposort():
            for out in inner_node.outputs:
                state.host_values.pop(out, None)


def _fresh_copy(copy, state: PrepareState) -> Layout:
    """Enqueue `copy` ((node, step) of copy_step) into a new contiguous buffer."""
    copy_node, step = copy
    step.prepare(state)
    return state.layouts[copy_node.outputs[0]]


def _direct_writers(steps: list, inner) -> list:
    """Per inner output, the step that can write it straight into its stacked slice (a
    kernel step with that one output, which no other output shares), or None (copied)."""
    producer = {id(o): st for st in steps for o in st.node.outputs}
    outs = inner.outputs
    found = []
    for out in outs:
        st = producer.get(id(out))
        ok = st is not None and getattr(st, "takes_out_layouts", False) and \
            len(st.node.outputs) == 1 and sum(o is out for o in outs) == 1
        found.append(st if ok else None)
    return found
