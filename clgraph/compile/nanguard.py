"""NanGuardMode: every node's float outputs checked on the device for NaN, Inf, huge values.

A reduction kernel (templates/nanguard.cl.mako: each work-group ORs flags in local memory,
then one atomic per group) runs right after each node's kernels, on the output's layout in
place — nothing is copied to the host but one int of flags per checked tensor, read once per
call. The first flagged tensor in program order names the culprit: an input (bad data) or the
first node that produced a bad value.
"""

from __future__ import annotations

import numpy as np
import pyopencl as cl

from clgraph.expr.dtypes import cl_type
from clgraph.expr.variable import Constant, SharedVariable, Variable
from clgraph.lower.plan import node_context, node_label
from clgraph.lower.render import render

BIG = 1e10  # Theano's threshold of big_is_error
LOCAL_SIZE = 64
MAX_GROUPS = 256
_CHECKED = ("float32", "float64")


class NanGuardError(AssertionError):
    """A NaN, Inf or huge value appeared (Theano raises AssertionError here too)."""


def _kname(dtype: str, ndim: int) -> str:
    return f"ng_{dtype}_{ndim}"


class NanGuard:
    """Per-function checker: builds the check kernels once, runs them after every node."""

    def __init__(self, fn) -> None:
        from clgraph.runtime.cache import build_program

        self.fn = fn
        self.mode = fn.mode
        ctx = fn.ctx
        self.ctx = ctx
        self.acc = "double" if ctx.has_fp64 else "float"
        wanted = {(v.dtype, v.ndim) for v in fn.maker_fgraph.variables if v.dtype in _CHECKED}
        self.sources = [render("nanguard.cl.mako", kname=_kname(dt, nd), ctype=cl_type(dt),
                               acc=self.acc, load="x[p]", ndim=nd, lsize=LOCAL_SIZE)
                        for dt, nd in sorted(wanted)]
        src = "#ifdef cl_khr_fp64\n#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n#endif\n" + \
            "\n".join(self.sources)
        self.program = build_program(ctx, src) if wanted else None
        self.kernels = {(dt, nd): cl.Kernel(self.program, _kname(dt, nd)) for dt, nd in wanted}
        self.mask = (1 if self.mode.nan_is_error else 0) | (2 if self.mode.inf_is_error else 0) \
            | (4 if self.mode.big_is_error else 0)
        self._checked: list[tuple[Variable, object]] = []
        self._seen: set[int] = set()
        self._flags = None

    def run(self, fn, bufs: list, shapes: tuple, host_scalars: tuple, values: list):
        n_vars = len(fn.maker_fgraph.variables) + len(fn.maker_fgraph.inputs)
        self._flags = cl.Buffer(self.ctx.context, cl.mem_flags.READ_WRITE, 4 * max(n_vars, 1))
        cl.enqueue_fill_buffer(self.ctx.queue, self._flags, np.int32(0), 0, 4 * max(n_vars, 1))
        self._checked = []
        self._seen = set()
        out = fn.executor.run_checked(bufs, shapes, host_scalars, self)
        self._report(*out)
        return out

    def _check(self, var: Variable, where, bufs: list, state) -> None:
        if var.dtype not in _CHECKED or id(var) in self._seen or self.mask == 0:
            return
        lay = state.layouts.get(var)
        if lay is None or bufs[lay.buffer] is None or lay.size == 0:
            return
        self._seen.add(id(var))
        slot = len(self._checked)
        self._checked.append((var, where))
        kernel = self.kernels[(var.dtype, var.ndim)]
        acc = np.float64 if self.acc == "double" else np.float32
        args = [bufs[lay.buffer], np.int64(lay.offset), np.int64(lay.size)]
        for n, s in zip(lay.shape, lay.strides, strict=True):
            args += [np.int64(n), np.int64(s)]
        args += [acc(BIG), self._flags, np.int32(slot)]
        kernel.set_args(*args)
        groups = min(MAX_GROUPS, -(-lay.size // LOCAL_SIZE))
        cl.enqueue_nd_range_kernel(self.ctx.queue, kernel, (groups * LOCAL_SIZE,),
                                   (LOCAL_SIZE,))

    def before(self, step, bufs: list, state) -> None:
        for v in step.node.inputs:
            if v.owner is None:  # graph inputs (arguments, shared values, constants)
                self._check(v, ("input", step.node), bufs, state)

    def after(self, step, bufs: list, state) -> None:
        for v in step.node.outputs:
            self._check(v, step.node, bufs, state)

    def _report(self, bufs: list, state) -> None:
        if not self._checked:
            return
        flags = np.empty(len(self._checked), np.int32)
        cl.enqueue_copy(self.ctx.queue, flags, self._flags, is_blocking=True)
        for (var, where), f in zip(self._checked, flags, strict=True):
            bad = int(f) & self.mask
            if not bad:
                continue
            kinds = [name for bit, name in ((1, "NaN"), (2, "Inf"), (4, f"|x| > {BIG:g}"))
                     if bad & bit]
            from clgraph.runtime.darray import download

            lay = state.layouts[var]
            value = download(self.ctx, bufs[lay.buffer], lay, var.dtype)
            sample = np.array2string(value, threshold=20, edgeitems=3)
            if isinstance(where, tuple):  # ("input", the first node reading it)
                raise NanGuardError(_input_message(var, where[1], " and ".join(kinds), sample))
            inner = self._blame_fused(where, bufs, state, bad)
            raise NanGuardError(
                f"NanGuardMode: {node_label(where)} produced {' and '.join(kinds)} in output "
                f"{var} (shape {lay.shape}, {var.dtype}): {sample}\n{inner}"
                f"{node_context(where, state)}")

    def _blame_fused(self, node, bufs: list, state, bad: int) -> str:
        """For a fused node, the first of its original nodes that makes a bad value (the
        fused subgraph replayed with `perform` on the node's inputs, read back on error)."""
        from clgraph.runtime.darray import download

        group = node.tag.get("fused")
        if not group:
            return ""
        inside = {id(o) for n in group for o in n.outputs}
        externals: list = []
        for n in group:
            for v in n.inputs:
                if id(v) not in inside and all(v is not e for e in externals):
                    externals.append(v)
        if len(externals) != len(node.inputs):
            return ""
        env: dict[int, np.ndarray] = {}
        for orig, v in zip(externals, node.inputs, strict=True):
            if v in state.host_values:
                env[id(orig)] = np.asarray(state.host_values[v])
            else:
                lay = state.layouts[v]
                env[id(orig)] = download(self.ctx, bufs[lay.buffer], lay, v.dtype)
        try:
            with np.errstate(all="ignore"):
                for n in group:
                    outs = n.op.perform(n, [env[id(v)] if id(v) in env else v.data
                                            for v in n.inputs])
                    for o, val in zip(n.outputs, outs, strict=False):
                        env[id(o)] = val
                        if np.asarray(val).dtype.kind == "f" and _flags(val) & bad:
                            return (f"Within the fused kernel, the first bad value comes from "
                                    f"{node_label(n)}.\n")
        except Exception:  # a best-effort hint: the main message stands without it
            return ""
        return ""


def _input_message(var: Variable, reader, kinds: str, sample: str) -> str:
    """A bad graph input: the caller's argument, a shared variable's value or a constant.
    Theano's NanGuardMode checks all three (its VM's callback_input sees constants too)."""
    if isinstance(var, Constant):
        return (f"NanGuardMode: a constant in the graph, {var} ({var.type}), contains {kinds}: "
                f"{sample}. It is read by {node_label(reader)}. NanGuardMode checks the "
                "graph's constants as it checks its inputs (as Theano's does).")
    what = f"shared variable {var}" if isinstance(var, SharedVariable) else f"input {var}"
    return (f"NanGuardMode: {what} ({var.type}) already contains {kinds}: {sample} "
            f"(read by {node_label(reader)})")


def _flags(value) -> int:
    v = np.asarray(value)
    with np.errstate(all="ignore"):
        return (1 if np.isnan(v).any() else 0) | (2 if np.isinf(v).any() else 0) | \
            (4 if (np.abs(v[np.isfinite(v)]) > BIG).any() else 0)
