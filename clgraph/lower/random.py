"""Lowering of PhiloxRandom to random.cl.mako (Philox4x32-10 from kernels/philox.cl)."""

from __future__ import annotations

import numpy as np

from clgraph.expr.dtypes import cl_type
from clgraph.expr.random import per_block
from clgraph.lower.nnet import comment_for
from clgraph.lower.plan import BufRef, KernelDef, Launch, PrepareState, Step, node_label
from clgraph.lower.render import render


class PhiloxStep(Step):
    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        ctx.check_dtype(node.op.dtype, node_label(node))
        self.kname = f"{kernel_prefix}_rng"

    def kernels(self) -> list[KernelDef]:
        op = self.node.op
        src = render("random.cl.mako", kname=self.kname, dist=op.dist, ctype=cl_type(op.dtype),
                     per_block=per_block(op.dtype), comment=comment_for(self.node))
        return [KernelDef(self.kname, src, [self.node], "random.cl.mako")]

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        st, shp = node.inputs
        if shp not in state.host_values:
            raise NotImplementedError(f"{node_label(node)}: the size of the sample is computed "
                                      "from data at run time, which is not supported")
        shape = tuple(int(s) for s in state.host_values[shp])
        if any(s < 0 for s in shape):
            raise ValueError(f"{node_label(node)}: negative size {shape}")
        for d, (n, s) in enumerate(zip(shape, node.outputs[1].type.shape, strict=True)):
            if s is not None and n != s:
                raise ValueError(f"{node_label(node)}: axis {d} has length {n} but the graph "
                                 f"fixed it to {s}")
        lst = state.layouts[st]
        if lst.shape != (4,) or not lst.is_contiguous:
            raise ValueError(f"{node_label(node)}: the stream state must be a contiguous uint32 "
                             f"vector of 4, got shape {lst.shape}")
        new_state = state.new_buffer((4,), "uint32")
        out = state.new_buffer(shape, node.op.dtype)
        state.layouts[node.outputs[0]] = new_state
        state.layouts[node.outputs[1]] = out
        n = out.size
        blocks = max(1, -(-n // per_block(node.op.dtype)))
        state.work.append(Launch(self.kname, (blocks,), None,
                                 [np.int64(n), BufRef(lst.buffer), np.int64(lst.offset),
                                  BufRef(new_state.buffer), BufRef(out.buffer)], node))
