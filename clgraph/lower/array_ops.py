"""Steps of ARange, Alloc, CumOp and Sort (templates arange, gather, scan, sort)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from clgraph.expr.array_ops import arange_fill_terms, arange_length
from clgraph.expr.dtypes import cl_type, is_float
from clgraph.expr.scalar.ops import wrapping
from clgraph.lower.access import operand_mode
from clgraph.lower.advanced import broadcast_into, grid
from clgraph.lower.elemwise import copy_step
from clgraph.lower.host_work import HostView, host_operands
from clgraph.lower.layout import Layout
from clgraph.lower.plan import (
    BufRef,
    HostCall,
    KernelDef,
    Launch,
    PrepareState,
    Step,
    node_label,
)
from clgraph.lower.render import render, sanitize_comment


def _host(node, state, what: str, inputs=None) -> list:
    vals = []
    for v in node.inputs if inputs is None else inputs:
        if v not in state.host_values:
            raise NotImplementedError(f"{node_label(node)}: {what} {v} is computed from data "
                                      "on the device; it must be known when the call is "
                                      "prepared (a constant, an integer scalar input or shape "
                                      "arithmetic)")
        vals.append(state.host_values[v])
    return vals


class ARangeStep(Step):
    """NumPy's arange fill on the device: the first two elements and the step between the
    others are computed on the host from the bounds' exact values (`arange_fill_terms`)."""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        self.dtype = node.outputs[0].dtype
        ctx.check_dtype(self.dtype, node_label(node))
        # NumPy multiplies in the dtype for floats, in the index's width for integers
        self.acc = cl_type(self.dtype) if is_float(self.dtype) else (
            "ulong" if self.dtype == "uint64" else "long")
        self.kname = f"{kernel_prefix}_arange"

    def kernels(self) -> list[KernelDef]:
        src = render("arange.cl.mako", kname=self.kname, ctype=cl_type(self.dtype),
                     acc_type=self.acc, comment=sanitize_comment(f"{self.node.op} -> "
                                                                 f"{self.node.outputs[0]}"))
        return [KernelDef(self.kname, src, [self.node], "arange.cl.mako")]

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        start, stop, step = (np.asarray(v).item() for v in _host(node, state, "bound"))
        try:
            n = arange_length(start, stop, step)
        except ValueError as e:
            raise ValueError(f"{node_label(node)}: {e}") from None
        static = node.outputs[0].type.shape[0]
        if static is not None and static != n:
            raise ValueError(f"{node_label(node)}: length {n} differs from the static {static}")
        out = state.new_buffer((n,), self.dtype)
        state.layouts[node.outputs[0]] = out
        if n == 0:
            return
        first, second, delta = arange_fill_terms(start, step, self.dtype)
        gsize, lsize = grid(n)
        state.work.append(Launch(self.kname, gsize, lsize,
                                 [np.int64(n), first, second, delta, BufRef(out.buffer)], node))


class AllocStep(Step):
    """A broadcast copy, run by the elementwise copy kernel over a view of the value with the
    output's shape (stride 0 on broadcast axes): it walks whole rows with vector loads and
    stores, where a per-element gather paid three 64-bit div/mod an element (repeat, tile)."""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        value, out = node.inputs[0], node.outputs[0]
        mode = operand_mode(value, out.type.shape[-1] if out.ndim else 1, set())
        self.copy_node, self.copy = copy_step(out.type(), ctx, f"{kernel_prefix}_alloc",
                                              in_mode=mode)

    def kernels(self) -> list[KernelDef]:
        return self.claim(self.copy.kernels())

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        value, *shape = node.inputs
        dims = tuple(int(np.asarray(v).item()) for v in _host(node, state, "length", shape))
        for d, (n, s) in enumerate(zip(dims, node.outputs[0].type.shape, strict=True)):
            if n < 0:
                raise ValueError(f"{node_label(node)}: negative length {n} on axis {d}")
            if s is not None and s != n:
                raise ValueError(f"{node_label(node)}: axis {d} has length {n} at run time but "
                                 f"the graph fixed it to {s}")
        vlay = state.layouts[value]
        strides = broadcast_into(node, value, vlay, dims)
        state.layouts[self.copy_node.inputs[0]] = Layout(vlay.buffer, dims, tuple(strides),
                                                         vlay.offset)
        self.copy.prepare(state)
        state.layouts[node.outputs[0]] = state.layouts[self.copy_node.outputs[0]]


def _lines(shape: tuple, axis: int) -> tuple[int, int, int]:
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    return outer, shape[axis], inner


class _ContiguousInput(Step):
    """A step whose kernels read its input as a contiguous array: copies a strided view."""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        self.copy_node, self.copy = copy_step(node.inputs[0], ctx, f"{kernel_prefix}_copy")

    def contiguous_input(self, state: PrepareState):
        src = state.layouts[self.node.inputs[0]]
        if not src.is_contiguous:
            state.layouts[self.copy_node.inputs[0]] = src
            self.copy.prepare(state)
            src = state.layouts[self.copy_node.outputs[0]]
        return src

    def own_kernels(self) -> list[KernelDef]:
        raise NotImplementedError

    def entry_points(self, src: str, template: str, parts: tuple[str, ...]) -> list[KernelDef]:
        """One program source holding kernels `{kname}_{part}`: the first part carries the
        source, the others a comment pointing at it (fn.kernels() shows the code once)."""
        see = f"/* {self.kname}_%s: in the source of {self.kname}_{parts[0]} */"
        return [KernelDef(f"{self.kname}_{p}", src if p == parts[0] else see % p, [self.node],
                          template) for p in parts]

    def kernels(self) -> list[KernelDef]:
        return self.claim(self.copy.kernels() + self.own_kernels())


class CumStep(_ContiguousInput):
    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        self.kname = f"{kernel_prefix}_cum"

    def own_kernels(self) -> list[KernelDef]:
        node = self.node
        dtype, op = node.outputs[0].dtype, "+" if node.op.mode == "add" else "*"
        src = render("scan.cl.mako", kname=self.kname, in_ctype=cl_type(node.inputs[0].dtype),
                     ctype=cl_type(dtype), op=op,
                     combine=lambda a, b: wrapping(node.op.mode, op, dtype, a, b),
                     comment=sanitize_comment(f"{node.op} -> {node.outputs[0]}"))
        return self.entry_points(src, "scan.cl.mako", ("chunks", "totals", "fold"))

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        src = self.contiguous_input(state)
        dtype = node.outputs[0].dtype
        out = state.new_buffer(src.shape, dtype)
        state.layouts[node.outputs[0]] = out
        outer, n, inner = _lines(src.shape, node.op.axis)
        lines = outer * inner
        if lines * n == 0:
            return
        c = 1 if lines >= 1024 or n <= 256 else min(-(-n // 64), 1024)
        chunk = -(-n // c)
        c = -(-n // chunk)
        tmp = state.new_buffer((lines * c,), dtype)
        common = [np.int64(lines), np.int64(n), np.int64(inner), np.int64(c), np.int64(chunk)]
        g, lsz = grid(lines * c)
        state.work.append(Launch(f"{self.kname}_chunks", g, lsz, common + [
            BufRef(src.buffer), np.int64(src.offset), BufRef(out.buffer), BufRef(tmp.buffer)],
            node))
        if c > 1:
            g1, l1 = grid(lines)
            state.work.append(Launch(f"{self.kname}_totals", g1, l1, [
                np.int64(lines), np.int64(c), BufRef(tmp.buffer)], node))
            state.work.append(Launch(f"{self.kname}_fold", g, lsz, common + [
                BufRef(out.buffer), BufRef(tmp.buffer)], node))


# Devices whose buffers are host memory (PoCL) sort with NumPy on it: the bitonic network
# (sort.cl.mako, a GPU algorithm: ~log2(n)^2 / 2 passes over the padded keys) was 15-160x
# slower than np.sort there. False runs the network everywhere (tests).
HOST_SORT = True


@dataclass
class HostSort:
    """out = np.sort(x) or np.argsort(x) (stable: NumPy's and the network's order, NaN
    last) along `axis`, on the buffers' host memory; run as `HostCall.fn`."""

    x: Layout
    out: Layout
    dtypes: tuple[str, str]
    axis: int
    indices: bool

    @functools.cached_property
    def _views(self) -> list[HostView]:
        return [HostView.of(self.x, self.dtypes[0]), HostView.of(self.out, self.dtypes[1])]

    def __call__(self, ctx, bufs) -> None:
        with host_operands(ctx, bufs, self._views) as (x, out):
            if self.indices:  # ties keep their order
                out[...] = np.argsort(x, axis=self.axis, kind="stable")
            else:  # equal values are alike: NumPy's fastest sort (SIMD quicksort)
                out[...] = np.sort(x, axis=self.axis)


class SortStep(_ContiguousInput):
    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        self.kname = f"{kernel_prefix}_sort"
        self.on_host = HOST_SORT and ctx.host_addressable

    def kernels(self) -> list[KernelDef]:
        return [] if self.on_host else super().kernels()

    def own_kernels(self) -> list[KernelDef]:
        node = self.node
        x = node.inputs[0]
        src = render("sort.cl.mako", kname=self.kname, ctype=cl_type(x.dtype),
                     is_float=is_float(x.dtype), indices=node.op.indices,
                     comment=sanitize_comment(f"{node.op} -> {node.outputs[0]}"))
        return self.entry_points(src, "sort.cl.mako", ("init", "step", "emit"))

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        x = node.inputs[0]
        if self.on_host:
            src = state.layouts[x]  # read in place through its strides
            out = state.new_buffer(src.shape, node.outputs[0].dtype)
            state.layouts[node.outputs[0]] = out
            if out.size:
                state.work.append(HostCall(
                    HostSort(src, out, (x.dtype, node.outputs[0].dtype), node.op.axis,
                             node.op.indices),
                    [BufRef(src.buffer), BufRef(out.buffer)], node, writes=(1,)))
            return
        src = self.contiguous_input(state)
        out = state.new_buffer(src.shape, node.outputs[0].dtype)
        state.layouts[node.outputs[0]] = out
        outer, n, inner = _lines(src.shape, node.op.axis)
        lines = outer * inner
        if lines * n == 0:
            return
        p = 1
        while p < n:
            p *= 2
        keys = state.new_buffer((lines * p,), x.dtype)
        pos = state.new_buffer((lines * p,), "int64")
        g, lsz = grid(lines * p)
        state.work.append(Launch(f"{self.kname}_init", g, lsz, [
            np.int64(lines), np.int64(n), np.int64(inner), np.int64(p), BufRef(src.buffer),
            np.int64(src.offset), BufRef(keys.buffer), BufRef(pos.buffer)], node))
        k = 2
        while k <= p:
            j = k // 2
            while j >= 1:
                state.work.append(Launch(f"{self.kname}_step", g, lsz, [
                    np.int64(lines), np.int64(n), np.int64(p), np.int64(k), np.int64(j),
                    BufRef(keys.buffer), BufRef(pos.buffer)], node))
                j //= 2
            k *= 2
        ge, le = grid(lines * n)
        state.work.append(Launch(f"{self.kname}_emit", ge, le, [
            np.int64(lines), np.int64(n), np.int64(inner), np.int64(p), BufRef(keys.buffer),
            BufRef(pos.buffer), BufRef(out.buffer)], node))
