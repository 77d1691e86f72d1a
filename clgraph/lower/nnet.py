"""Lowering of the nnet ops: Softmax rows (softmax.cl.mako) and RowPick (pick.cl.mako).

`ContiguousInput` is shared with the conv/pool/random lowerings: kernels that want a
C-contiguous operand get one, with a copy kernel only for inputs that may be views.
"""

from __future__ import annotations

import numpy as np

from clgraph.expr.dtypes import cl_type
from clgraph.expr.type import shape_str
from clgraph.lower.elemwise import copy_step, vector_width
from clgraph.lower.layout import Layout
from clgraph.lower.plan import BufRef, KernelDef, Launch, PrepareState, Step, node_label
from clgraph.lower.render import render, sanitize_comment
from clgraph.lower.vec_mem import vec_preamble, vld, vst


def may_be_view(var) -> bool:
    """Statically: var may live in another buffer with non-contiguous strides."""
    return var.owner is not None and bool(getattr(var.owner.op, "view_map", None))


class ContiguousInput:
    """Gives a kernel `var` as a C-contiguous layout, copying views that are not."""

    def __init__(self, var, ctx, prefix: str) -> None:
        self.copy = None
        if may_be_view(var):
            self.cnode, self.copy = copy_step(var, ctx, prefix)

    def kernels(self, node) -> list[KernelDef]:
        if self.copy is None:
            return []
        defs = self.copy.kernels()
        for d in defs:
            d.nodes = [node]
        return defs

    def layout(self, state: PrepareState, lay: Layout) -> Layout:
        if lay.is_contiguous or lay.size == 0:
            return lay
        state.layouts[self.cnode.inputs[0]] = lay
        self.copy.prepare(state)
        return state.layouts[self.cnode.outputs[0]]


def comment_for(node) -> str:
    names = ", ".join(sanitize_comment(v) for v in node.inputs)
    return sanitize_comment(f"{node.op}({names}) -> {sanitize_comment(node.outputs[0])}")


ROW_GROUP = 256        # GPU work-items per row (a power of two: the trees halve it)
GROUP_ROWS_MIN = 64    # shorter rows: a work-item per row (a group would idle)


def row_group(ctx) -> int:
    """Work-items per row in the group-per-row softmax (GPUs), 0 for a work-item per row
    (CPUs, where a work-group runs as a loop). On a GPU a work-item per row reads memory
    uncoalesced: 36 GB/s on an H200 for 4096 x 1024 float32."""
    if ctx.is_cpu:
        return 0
    n = min(ROW_GROUP, ctx.max_work_group_size)
    return 1 << (n.bit_length() - 1)


class SoftmaxStep(Step):
    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        x = node.inputs[0]
        ctx.check_dtype(x.dtype, node_label(node))
        self.inp = ContiguousInput(x, ctx, f"{kernel_prefix}_cp")
        self.width = min(vector_width(ctx, {x.dtype}), 8)
        self.kname = f"{kernel_prefix}_{'lsm' if node.op.log else 'sm'}"
        self.group = row_group(ctx)

    def kernels(self) -> list[KernelDef]:
        op = self.node.op
        ct = cl_type(self.node.inputs[0].dtype)
        out = self.inp.kernels(self.node)
        dt, W = self.node.inputs[0].dtype, self.width
        forms = [(True, 0, "r"), (False, 0, "c")] + ([(True, self.group, "g")] if self.group
                                                      else [])
        for rows, group, suffix in forms:
            src = render("softmax.cl.mako", kname=f"{self.kname}{suffix}", ctype=ct,
                         width=W, log=op.log, rows=rows, group=group,
                         comment=comment_for(self.node),
                         preamble=vec_preamble({dt}, W) if rows and not group else "",
                         vld=lambda p: vld(dt, W, p),
                         vst=lambda v, p: vst(dt, W, v, p))
            out.append(KernelDef(f"{self.kname}{suffix}", src, [self.node], "softmax.cl.mako"))
        return out

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        lay = self.inp.layout(state, state.layouts[node.inputs[0]])
        shape = lay.shape
        out = state.new_buffer(shape, node.outputs[0].dtype)
        state.layouts[node.outputs[0]] = out
        if out.size == 0:
            return
        axis = node.op.axis
        outer = int(np.prod(shape[:axis], dtype=np.int64))
        length = shape[axis]
        inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
        if inner == 1 and self.group and length >= GROUP_ROWS_MIN:
            state.work.append(Launch(f"{self.kname}g", (outer * self.group,), (self.group,),
                                     [np.int64(outer), np.int64(length), BufRef(lay.buffer),
                                      np.int64(lay.offset), BufRef(out.buffer)], node))
        elif inner == 1:
            state.work.append(Launch(f"{self.kname}r", (outer,), None,
                                     [np.int64(outer), np.int64(length), BufRef(lay.buffer),
                                      np.int64(lay.offset), BufRef(out.buffer)], node))
        else:
            state.work.append(Launch(f"{self.kname}c", (inner, outer), None,
                                     [np.int64(outer), np.int64(length), np.int64(inner),
                                      BufRef(lay.buffer), np.int64(lay.offset),
                                      BufRef(out.buffer)], node))


class RowPickStep(Step):
    """RowPick (grad=False) and RowPickGrad (grad=True); operands read through strides."""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        from clgraph.expr.nnet import RowPickGrad

        self.grad = isinstance(node.op, RowPickGrad)
        for v in node.inputs:
            ctx.check_dtype(v.dtype, node_label(node))
        self.kname = f"{kernel_prefix}_{'pickg' if self.grad else 'pick'}"

    def kernels(self) -> list[KernelDef]:
        node = self.node
        src = render("pick.cl.mako", kname=self.kname, xtype=cl_type(node.outputs[0].dtype),
                     ytype=cl_type(node.inputs[1].dtype), grad=self.grad,
                     comment=comment_for(node))
        return [KernelDef(self.kname, src, [node], "pick.cl.mako")]

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        lays = [state.layouts[v] for v in node.inputs]
        ly = lays[1]
        if self.grad:
            lg, _, like = lays
            n, c = like.shape
            if lg.shape[0] != n or ly.shape[0] != n:
                raise ValueError(f"{node_label(node)}: {n} rows, but the gradient has shape "
                                 f"{shape_str(lg.shape)} and the labels {shape_str(ly.shape)}")
            out = state.new_buffer((n, c), node.outputs[0].dtype)
            args = [BufRef(lg.buffer), np.int64(lg.offset), np.int64(lg.strides[0])]
        else:
            lx = lays[0]
            n, c = lx.shape
            if ly.shape[0] != n:
                raise ValueError(f"{node_label(node)}: {node.inputs[0]} has {n} rows "
                                 f"({shape_str(lx.shape)}) but there are {ly.shape[0]} labels")
            out = state.new_buffer((n,), node.outputs[0].dtype)
            args = [BufRef(lx.buffer), np.int64(lx.offset), np.int64(lx.strides[0]),
                    np.int64(lx.strides[1])]
        state.layouts[node.outputs[0]] = out
        state.index_checks.append((node.inputs[1], c))
        if n == 0:
            return
        args = [np.int64(n), np.int64(c)] + args + [
            BufRef(ly.buffer), np.int64(ly.offset), np.int64(ly.strides[0]), BufRef(out.buffer)]
        state.work.append(Launch(self.kname, (n,), None, args, node))


class XentStep(Step):
    """SoftmaxXent (per-row loss), SoftmaxXentGrad (gradient w.r.t. the logits) and
    SoftmaxXentWithGrad (both, the logits maybe plus a bias row): one work-item per row
    (xent.cl.mako); the logits (and dense targets) made C-contiguous."""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        from clgraph.expr.nnet import SoftmaxXent, SoftmaxXentWithGrad

        op = node.op
        for v in node.inputs:
            ctx.check_dtype(v.dtype, node_label(node))
        self.b = None
        if isinstance(op, SoftmaxXent):
            self.kind = "loss_dense" if op.dense else "loss_labels"
            self.x, self.t = node.inputs
            self.g = None
        elif isinstance(op, SoftmaxXentWithGrad):
            self.kind = "both_labels"
            self.g, self.x, self.t = node.inputs[0], node.inputs[1], node.inputs[-1]
            self.b = node.inputs[2] if op.bias else None
        else:
            self.kind = "grad_labels" if op.labels else "grad_rows"
            self.g, self.x = node.inputs[:2]
            self.t = node.inputs[2] if op.labels else self.g
        self.labels = self.kind.endswith("labels")
        self.cx = ContiguousInput(self.x, ctx, f"{kernel_prefix}_cx")
        self.ct = None if self.labels else ContiguousInput(self.t, ctx, f"{kernel_prefix}_ct")
        self.kname = f"{kernel_prefix}_xent"

    def kernels(self) -> list[KernelDef]:
        node = self.node
        src = render("xent.cl.mako", kname=self.kname, ctype=cl_type(self.x.dtype),
                     ytype=cl_type(self.t.dtype), kind=self.kind, bias=self.b is not None,
                     comment=comment_for(node))
        out = self.cx.kernels(node) + (self.ct.kernels(node) if self.ct else [])
        return out + [KernelDef(self.kname, src, [node], "xent.cl.mako")]

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        lx = self.cx.layout(state, state.layouts[self.x])
        n, c = lx.shape
        lt = state.layouts[self.t]
        if self.labels:
            if lt.shape[0] != n:
                raise ValueError(f"{node_label(node)}: {self.x} has {n} rows "
                                 f"({shape_str(lx.shape)}) but there are {lt.shape[0]} labels")
            state.index_checks.append((self.t, c))
            targs = [BufRef(lt.buffer), np.int64(lt.offset), np.int64(lt.strides[0])]
        else:
            if tuple(lt.shape) != (n, c):
                raise ValueError(f"{node_label(node)}: logits of shape {shape_str(lx.shape)} "
                                 f"but targets of shape {shape_str(lt.shape)}")
            lt = self.ct.layout(state, lt)
            targs = [BufRef(lt.buffer), np.int64(lt.offset)]
        args = [np.int64(n), np.int64(c), BufRef(lx.buffer), np.int64(lx.offset)]
        if self.b is not None:
            args += self._vector_args(state, self.b, c, "columns", "the bias")
        args += targs
        if self.g is not None and self.labels:
            args += self._vector_args(state, self.g, n, "rows", "the gradient")
        shape = (n, c) if self.kind.startswith("grad") else (n,)  # "both": the loss first
        outs = [state.new_buffer(shape, node.outputs[0].dtype)]
        if self.kind == "both_labels":
            outs.append(state.new_buffer((n, c), node.outputs[1].dtype))
        for var, lay in zip(node.outputs, outs, strict=True):
            state.layouts[var] = lay
        if n == 0:
            return
        state.work.append(Launch(self.kname, (n,), None,
                                 args + [BufRef(o.buffer) for o in outs], node))

    def _vector_args(self, state: PrepareState, var, length: int, what: str, name: str) -> list:
        """(buffer, offset, stride) of a vector of `length` entries or one broadcast entry."""
        lay = state.layouts[var]
        if lay.shape[0] not in (length, 1):
            raise ValueError(f"{node_label(self.node)}: {length} {what}, but {name} has shape "
                             f"{shape_str(lay.shape)}")
        stride = lay.strides[0] if lay.shape[0] == length else 0
        return [BufRef(lay.buffer), np.int64(lay.offset), np.int64(stride)]
