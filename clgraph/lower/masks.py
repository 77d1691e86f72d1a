"""Steps of Nonzero and RepeatIndices: the emit stage of a device compaction.

Their output length is the total of a device scan (`last`, one int64), so each declares
`sync_vars`: Plan.prepare stops before them, the executor reads `last` back (a few bytes)
and prepares the rest with its value (see `lower/plan.py`, host sync points).
"""

from __future__ import annotations

import numpy as np

from clgraph.expr.masks import check_mask_shape
from clgraph.lower.advanced import grid
from clgraph.lower.plan import BufRef, KernelDef, Launch, PrepareState, Step, node_label
from clgraph.lower.render import render, sanitize_comment


def _total(state: PrepareState, var) -> int:
    v = np.asarray(state.host_values[var])
    return int(v.reshape(-1)[-1]) if v.size else 0


class _CompactStep(Step):
    kind = ""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        self.kname = f"{kernel_prefix}_{self.kind[:2]}"
        self.sync_vars = (node.inputs[2],) + ((node.inputs[3],) if self.kind == "repeat" else ())

    def kernels(self) -> list[KernelDef]:
        node = self.node
        src = render("compact.cl.mako", kname=self.kname, kind=self.kind,
                     ndim=node.inputs[0].ndim,
                     comment=sanitize_comment(f"{node.op} -> {node.outputs[0]}"))
        return [KernelDef(self.kname, src, [node], "compact.cl.mako")]


class NonzeroStep(_CompactStep):
    kind = "nonzero"

    def presync(self, state: PrepareState) -> None:
        """Shape checks that need no device value: done before anything is enqueued."""
        mask, _incl, _last, *lengths = self.node.inputs
        if not lengths:
            return
        known = [int(np.asarray(state.host_values[n]).item()) if n in state.host_values
                 else None for n in lengths]
        try:
            check_mask_shape(state.layouts[mask].shape, known, self.node.op.first_axis)
        except IndexError as e:
            raise IndexError(f"{e} (in {node_label(self.node)})") from None

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        mask, incl, last, *_ = node.inputs
        self.presync(state)
        shape = state.layouts[mask].shape
        count = _total(state, last)
        out = state.new_buffer((len(shape), count), "int64")
        state.layouts[node.outputs[0]] = out
        n = int(np.prod(shape, dtype=np.int64))
        if count == 0 or n == 0:
            return
        il = state.layouts[incl]
        g, lsz = grid(n)
        state.work.append(Launch(self.kname, g, lsz, [np.int64(n), np.int64(count)]
                                 + [np.int64(d) for d in shape]
                                 + [BufRef(il.buffer), np.int64(il.offset), BufRef(out.buffer)],
                                 node))


class RepeatIndicesStep(_CompactStep):
    kind = "repeat"

    def _lengths(self, state: PrepareState) -> tuple[int, int]:
        counts, *_, n_var = self.node.inputs
        c = state.layouts[counts].shape[0]
        if n_var not in state.host_values:
            raise NotImplementedError(f"{node_label(self.node)}: the axis length must be known "
                                      "on the host")
        n = int(np.asarray(state.host_values[n_var]).item())
        if c not in (1, n):
            raise ValueError(f"repeat: {c} counts for an axis of length {n} "
                             f"(in {node_label(self.node)})")
        return c, n

    def presync(self, state: PrepareState) -> None:
        self._lengths(state)

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        counts, incl, last, neg, _n = node.inputs
        c, n = self._lengths(state)
        if np.asarray(state.host_values[neg]).any():
            raise ValueError(f"repeats may not contain negative values. "
                             f"(in {node_label(node)})")
        total = _total(state, last) * (n if c == 1 else 1)
        out = state.new_buffer((total,), "int64")
        state.layouts[node.outputs[0]] = out
        if total == 0:
            return
        cl_, il = state.layouts[counts], state.layouts[incl]
        cs = 0 if c == 1 else cl_.strides[0]
        g, lsz = grid(n)
        state.work.append(Launch(self.kname, g, lsz, [
            np.int64(n), np.int64(cs), np.int64(total), BufRef(cl_.buffer), np.int64(cl_.offset),
            BufRef(il.buffer), np.int64(il.offset), BufRef(out.buffer)], node))


def device_index_bound(var, state: PrepareState) -> int | None:
    """An exclusive upper bound of a non-negative index array computed on the device that is
    in range by construction (a row of Nonzero's matrix, RepeatIndices' output), else None.
    A gather indexing an axis at least that long needs no out-of-range check read back."""
    from clgraph.expr.masks import Nonzero, RepeatIndices
    from clgraph.expr.subtensor import Subtensor

    owner = var.owner
    if owner is None:
        return None
    if isinstance(owner.op, RepeatIndices):
        n = state.host_values.get(owner.inputs[4])
        return None if n is None else int(np.asarray(n).item())
    if isinstance(owner.op, Subtensor) and len(owner.op.idx_list) == 1 \
            and len(owner.op.idx_list[0]) == 2:
        kind, j = owner.op.idx_list[0]
        src = owner.inputs[0].owner
        if kind == "int" and isinstance(j, int) and src is not None \
                and isinstance(src.op, Nonzero):
            shape = state.layouts[src.inputs[0]].shape
            return shape[j] if -len(shape) <= j < len(shape) else None
    return None
