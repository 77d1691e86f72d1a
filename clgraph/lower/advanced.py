"""Gather and scatter kernels (templates/gather.cl.mako) for advanced indexing.

`GatherKernel` renders one kernel and prepares its launch from an `IndexMap`; the steps of
AdvancedSubtensor (gather into a new buffer) and AdvancedIncSubtensor (copy x, then scatter
y with np.add.at semantics) build on it; Alloc and other broadcast copies reuse the gather
with no index arrays.

Out-of-range indices: where every index array's values are known on the host (constants,
integer scalar inputs, shape arithmetic), `prepare` checks them and raises IndexError before
anything is enqueued. Otherwise the kernel skips the bad element and records it in a small
flag buffer, and an `IndexCheck` host call right after the launch reads the flag back (one
small blocking read) and raises IndexError naming the index, the axis and its length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr.advanced import check_index_values, index_map
from clgraph.expr.dtypes import cl_type
from clgraph.lower.elemwise import copy_step
from clgraph.lower.layout import Layout
from clgraph.lower.plan import BufRef, HostCall, KernelDef, Launch, PrepareState, Step, node_label
from clgraph.lower.render import render, sanitize_comment

LOCAL = 64
MAX_GROUPS = 4096  # work-items stride over the rest


def grid(n: int) -> tuple[tuple[int], tuple[int]]:
    groups = min(-(-n // LOCAL), MAX_GROUPS)
    return (max(groups, 1) * LOCAL,), (LOCAL,)


def atomic_kind(ctx, dtype: str) -> str:
    """How the scatter kernel accumulates elements of `dtype` (see gather.cl.mako)."""
    has64 = "cl_khr_int64_base_atomics" in getattr(ctx, "extensions", ())
    if dtype == "float32":
        return "cas32"
    if dtype in ("int32", "uint32"):
        return "add32"
    if dtype == "float64":
        return "cas64" if has64 else "serial"
    if dtype in ("int64", "uint64"):
        return "add64" if has64 else "serial"
    if dtype == "bool":
        return "bool"
    return "serial"


@dataclass(frozen=True)
class IndexCheck:
    """HostCall function: read the kernel's error flag; raise IndexError if it is set."""

    axes: tuple[int, ...]   # x axis indexed by each index array
    label: str

    def __call__(self, ctx, bufs) -> None:
        import pyopencl as cl

        (buf,) = bufs
        side = ctx.__dict__.get("profiling_queue")  # kernels go there while profiling
        if side is not None:
            side.finish()
        host = np.zeros(4, dtype=np.int64)
        cl.enqueue_copy(ctx.queue, host, buf, is_blocking=True)
        if host[0] & 0xFFFFFFFF:
            cl.enqueue_copy(ctx.queue, buf, np.zeros(4, dtype=np.int64), is_blocking=True)
            raise IndexError(f"index {int(host[1])} is out of bounds for axis "
                             f"{self.axes[int(host[3])]} with size {int(host[2])} "
                             f"(in {self.label})")


class GatherKernel:
    """One gather or scatter kernel over `ndim` output axes with `idx_dtypes` index arrays."""

    def __init__(self, kname: str, mode: str, ndim: int, dtype: str, idx_dtypes: list,
                 atomic: str = "none", comment: str = "") -> None:
        self.kname, self.mode, self.ndim, self.dtype = kname, mode, ndim, dtype
        self.idx_dtypes = list(idx_dtypes)
        self.atomic = atomic
        self.comment = comment

    def kernel(self, node) -> KernelDef:
        src = render("gather.cl.mako", kname=self.kname, mode=self.mode, ndim=self.ndim,
                     ctype=cl_type(self.dtype), idx_ctypes=[cl_type(d) for d in self.idx_dtypes],
                     atomic=self.atomic, comment=sanitize_comment(self.comment))
        return KernelDef(self.kname, src, [node], "gather.cl.mako")

    def launch(self, state: PrepareState, node, out_shape, src, src_strides, src_off,
               idx: list, target, host_known: bool) -> None:
        """Append the launch. `idx`: per index array (layout, out-axis strides, length, x
        stride, x axis). `target`: (layout) of dst for a gather, (layout, out-axis strides)
        of y for a scatter."""
        n = int(np.prod(out_shape, dtype=np.int64)) if out_shape else 1
        if n == 0:
            return
        err = state.static_buffer(np.zeros(4, dtype=np.int64))
        args: list = [np.int64(n)] + [np.int64(d) for d in out_shape]
        args += [BufRef(src.buffer), np.int64(src_off)] + [np.int64(s) for s in src_strides]
        for lay, strides, length, xs, _ in idx:
            args += [BufRef(lay.buffer), np.int64(lay.offset), np.int64(length), np.int64(xs)]
            args += [np.int64(s) for s in strides]
        if self.mode == "gather":
            args += [BufRef(target.buffer), np.int64(target.offset)]
        else:
            lay, strides = target
            args += [BufRef(lay.buffer), np.int64(lay.offset)] + [np.int64(s) for s in strides]
        args.append(BufRef(err.buffer))
        if self.atomic in ("serial", "bool"):
            gsize, lsize = (1,), (1,)
        else:
            gsize, lsize = grid(n)
        state.work.append(Launch(self.kname, gsize, lsize, args, node))
        if idx and not host_known:
            check_index_flag(state, node, err, tuple(a for *_, a in idx))


def check_index_flag(state: PrepareState, node, err, axes: tuple[int, ...]) -> None:
    """Append the host call raising IndexError if the kernel just launched set `err`."""
    state.work.append(HostCall(IndexCheck(axes, node_label(node)), [BufRef(err.buffer)], node))


class RowGatherKernel:
    """Whole-row gather (templates/gather_rows.cl.mako): out[r, ...] = x[idx[r], ...] for
    one contiguous index array on x's first axis and contiguous rows (embedding lookups)."""

    def __init__(self, kname: str, dtype: str, idx_dtype: str, comment: str) -> None:
        self.kname, self.dtype, self.idx_dtype, self.comment = kname, dtype, idx_dtype, comment

    def kernel(self, node) -> KernelDef:
        src = render("gather_rows.cl.mako", kname=self.kname, ctype=cl_type(self.dtype),
                     idx_ctype=cl_type(self.idx_dtype), comment=sanitize_comment(self.comment))
        return KernelDef(self.kname, src, [node], "gather_rows.cl.mako")

    @staticmethod
    def row_length(m, idx_layout) -> int | None:
        """Elements a row, where the map `m` gathers whole contiguous rows; else None."""
        nb = len(m.b_shape)
        if len(m.adv) != 1 or m.b_start != 0 or m.adv[0][1] != 0:
            return None
        if idx_layout.shape != tuple(m.b_shape) or not idx_layout.is_contiguous:
            return None
        rows = Layout(0, tuple(m.shape[nb:]), tuple(m.x_strides[nb:]))
        return rows.size if rows.is_contiguous else None

    def launch(self, state: PrepareState, node, m, src, idx_layout, row_len: int, out,
               host_known: bool) -> None:
        n_rows = int(np.prod(m.b_shape, dtype=np.int64))
        if n_rows == 0 or row_len == 0:
            return
        err = state.static_buffer(np.zeros(4, dtype=np.int64))
        _, _, length, xs = m.adv[0]
        args = [np.int64(n_rows), np.int64(row_len), BufRef(src.buffer),
                np.int64(src.offset + m.offset), np.int64(xs), BufRef(idx_layout.buffer),
                np.int64(idx_layout.offset), np.int64(length), BufRef(out.buffer),
                np.int64(out.offset), BufRef(err.buffer)]
        gsize, lsize = grid(n_rows)
        state.work.append(Launch(self.kname, gsize, lsize, args, node))
        if not host_known:
            check_index_flag(state, node, err, (0,))


def index_operands(node, m, state: PrepareState, extra) -> tuple[list, bool]:
    """Per index array of the map: (layout, out-axis strides, length, x stride, x axis);
    and whether all their values are known (and were checked) on the host."""
    ops, host_known = [], True
    nb = len(m.b_shape)
    nd = len(m.shape)
    for k, axis, length, xs in m.adv:
        var = extra[k]
        lay = state.layouts[var]
        strides = [0] * nd
        r = len(lay.shape)
        for j in range(nb):
            dim = j - (nb - r)
            if dim >= 0 and lay.shape[dim] != 1:
                strides[m.b_start + j] = lay.strides[dim]
        if var in state.host_values:
            try:
                check_index_values(state.host_values[var], length, axis)
            except IndexError as e:
                raise IndexError(f"{e} (in {node_label(node)})") from None
        else:
            from clgraph.lower.masks import device_index_bound

            bound = device_index_bound(var, state)  # masks, repeat: in range by construction
            host_known = host_known and bound is not None and bound <= length
        ops.append((lay, strides, length, xs, axis))
    return ops, host_known


def _host_values(node, extra, state):
    return [state.host_values.get(v) for v in extra]


def _idx_shapes(idx_list, extra, state):
    return {e[1]: state.layouts[extra[e[1]]].shape for e in idx_list if e[0] == "adv"}


class AdvancedSubtensorStep(Step):
    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        x, *extra = node.inputs
        adv = [extra[e[1]].dtype for e in node.op.idx_list if e[0] == "adv"]
        comment = f"{node.op} -> {node.outputs[0]}"
        self.gk = GatherKernel(f"{kernel_prefix}_gather", "gather", node.outputs[0].ndim,
                               x.dtype, adv, comment=comment)
        self.rows = (RowGatherKernel(f"{kernel_prefix}_rows", x.dtype, adv[0], comment)
                     if len(adv) == 1 else None)

    def kernels(self) -> list[KernelDef]:
        rows = [self.rows.kernel(self.node)] if self.rows else []
        return [self.gk.kernel(self.node)] + rows

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        x, *extra = node.inputs
        src = state.layouts[x]
        m = _node_index_map(node, src, extra, state)
        out = state.new_buffer(m.shape, x.dtype)
        state.layouts[node.outputs[0]] = out
        idx, host_known = index_operands(node, m, state, extra)
        if self.rows:
            idx_layout = idx[0][0]
            row_len = self.rows.row_length(m, idx_layout)
            if row_len is not None:
                self.rows.launch(state, node, m, src, idx_layout, row_len, out, host_known)
                return
        self.gk.launch(state, node, m.shape, src, m.x_strides, src.offset + m.offset, idx, out,
                       host_known)


def broadcast_into(node, y, lay, region: tuple) -> list[int]:
    """Strides reading y (layout `lay`) over `region`, right-aligned; Theano's broadcast rule."""
    strides = [0] * len(region)
    off = len(region) - len(lay.shape)
    for d, (n, st) in enumerate(zip(lay.shape, lay.strides, strict=True)):
        r = region[off + d]
        if n == r:
            strides[off + d] = st if n != 1 else 0
        elif n == 1 and y.type.shape[d] == 1:
            strides[off + d] = 0
        elif n == 1:
            raise ValueError(f"{node_label(node)}: value {y} has length 1 on axis {d} at run time "
                             f"but was not declared broadcastable there (its type is {y.type}), "
                             f"while the indexed region has length {r}. Declare it with "
                             f"T.addbroadcast(y, {d}).")
        else:
            raise ValueError(f"{node_label(node)}: value of shape {lay.shape} does not fit the "
                             f"indexed region of shape {region}")
    return strides


def _node_index_map(node, layout, extra, state: PrepareState):
    """index_map of the node's index over `layout`, errors naming the node."""
    idx_list = node.op.idx_list
    try:
        return index_map(idx_list, layout.shape, layout.strides,
                         _idx_shapes(idx_list, extra, state), _host_values(node, extra, state))
    except (IndexError, ValueError) as e:
        raise type(e)(f"{node_label(node)}: {e}") from None


class AdvancedIncSubtensorStep(Step):
    """Copy x into a new buffer, then scatter y into it (atomics for np.add.at semantics)."""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        x, y, *extra = node.inputs
        self.copy_node, self.copy = copy_step(x, ctx, f"{kernel_prefix}_copy")
        adv = [extra[e[1]].dtype for e in node.op.idx_list if e[0] == "adv"]
        mode = "set" if node.op.set_instead_of_inc else "add"
        atomic = "none" if mode == "set" else atomic_kind(ctx, x.dtype)
        ndim = len(index_map(node.op.idx_list, x.type.shape, None,
                             {k: e.type.shape for k, e in enumerate(extra)},
                             [None] * len(extra)).shape)
        self.gk = GatherKernel(f"{kernel_prefix}_scatter", mode, ndim, x.dtype, adv, atomic,
                               comment=f"{node.op} -> {node.outputs[0]}")

    def kernels(self) -> list[KernelDef]:
        return self.claim(self.copy.kernels() + [self.gk.kernel(self.node)])

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        x, y, *extra = node.inputs
        self.copy.prepare(state)
        out = state.layouts[self.copy_node.outputs[0]]
        m = _node_index_map(node, out, extra, state)
        ylay = state.layouts[y]
        ystrides = broadcast_into(node, y, ylay, m.shape)
        idx, host_known = index_operands(node, m, state, extra)
        self.gk.launch(state, node, m.shape, out, m.x_strides, out.offset + m.offset, idx,
                       (ylay, ystrides), host_known)
        state.layouts[node.outputs[0]] = out
