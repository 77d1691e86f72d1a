"""Lowering of Elemwise nodes to the vectorised, strided elementwise kernel."""

from __future__ import annotations

import numpy as np

from clgraph.expr.dtypes import cl_type
from clgraph.expr.scalar.codegen import CodeCtx
from clgraph.expr.scalar.composite import Composite, ScalarConstant
from clgraph.expr.type import shape_str
from clgraph.expr.variable import Constant
from clgraph.lower.access import operand_mode, unit_last_operand_mode
from clgraph.lower.layout import broadcast_strides, collapse, drop_unit_axes
from clgraph.lower.plan import BufRef, KernelDef, Launch, PrepareState, Step, node_label
from clgraph.lower.render import render, sanitize_comment
from clgraph.lower.vec_mem import vec_preamble, vld, vst, vst_stream

LOCAL_SIZE = 64
# CPU devices: a work item walks a contiguous run of up to MAX_RUN vectors, so the index
# arithmetic (64-bit div/mod, ~40 cycles on PoCL) is paid once per run, not per vector: on
# PoCL that halved memory-bound kernels (x + y on 4M floats: 2.2 ms -> 1.1 ms). Runs are
# sized to leave about WORK_ITEMS_PER_UNIT work items per compute unit.
MAX_RUN = 64
WORK_ITEMS_PER_UNIT = 64
# CPU launches use work-groups of one item: PoCL compiles a kernel at its first launch for
# that launch's local size, and with one item it builds no work-item loop: ~25% less
# compile time per kernel (a bias add: 99-115 -> 76-78 ms), the same run time (A/B in one
# process: 6-op expression 1.007x, x + 2.5 y 0.986x, MLP step 1.007x). Reductions use it too.
CPU_LOCAL_SIZE = 1
# CPU launches of at most this many elements run as one work item: PoCL runs a group on one
# thread, and waking its other threads costs more than they save on small arrays (~20-25 µs
# on 2 cores, worse when BLAS's threads spin beside them between host products).
SMALL_LAUNCH = 1 << 15


def runtime_broadcast(node, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """Output shape of an elementwise node, with Theano's rule for unknown lengths of 1."""
    ndim = len(node.outputs[0].type.shape)
    out = []
    for d in range(ndim):
        lengths = {s[d] for s in shapes if s[d] != 1}
        if len(lengths) > 1:
            desc = ", ".join(f"{v} {shape_str(s)}" for v, s in zip(node.inputs, shapes))
            raise ValueError(f"{node_label(node)}: input shapes do not broadcast along axis "
                             f"{d}: {desc}")
        n = lengths.pop() if lengths else 1
        if n != 1:
            for v, s in zip(node.inputs, shapes):
                if s[d] == 1 and v.type.shape[d] != 1:
                    raise ValueError(
                        f"{node_label(node)}: input {v} has length 1 on axis {d} at run time but "
                        f"was not declared broadcastable there (its type is {v.type}), while "
                        f"another input has length {n}. Declare it with T.addbroadcast(x, {d}) "
                        "or a static shape of 1 (e.g. T.tensor(dtype, shape=(1, None))).")
        out.append(n)
    return tuple(out)


def inline_constants(node) -> tuple[Composite, list]:
    """The node's Composite with scalar constants written in as literals; remaining inputs."""
    op = node.op.scalar_op
    dtypes = tuple(i.dtype for i in node.inputs)
    comp = op if isinstance(op, Composite) else Composite.of(op, dtypes)
    keep, remap, consts = [], {}, []
    for k, var in enumerate(node.inputs):
        if isinstance(var, Constant) and var.data.size == 1:
            consts.append((k, ScalarConstant(var.dtype, var.data.item())))
        else:
            remap[k] = len(keep)
            keep.append(var)
    if not consts:
        return comp, keep
    nin = len(keep)
    steps = [(c, ()) for _, c in consts]
    const_ref = {k: nin + j for j, (k, _) in enumerate(consts)}
    shift = len(consts)

    def ref(r: int) -> int:
        if r < comp.nin:
            return remap[r] if r in remap else const_ref[r]
        return r - comp.nin + nin + shift

    for sop, refs in comp.steps:
        steps.append((sop, tuple(ref(r) for r in refs)))
    new = Composite(tuple(v.dtype for v in keep), tuple(steps), tuple(ref(o) for o in comp.outputs))
    return new, keep


class ElemwiseStep(Step):
    def __init__(self, node, ctx, kernel_prefix, owned: set, out_modes=None,
                 in_modes=None) -> None:
        super().__init__(node, ctx, kernel_prefix)
        # 'contig' outputs are fresh buffers; 'strided' ones are given layouts (inc_subtensor).
        self.out_modes = out_modes or ["contig"] * len(node.outputs)
        self.comp, self.operands = inline_constants(node)
        # `in_modes`: fixed by a caller whose operands' layouts the graph does not show
        # (a strided device array copied outside any plan: runtime/strided_copy.py)
        self.modes = in_modes or self._operand_modes(owned)
        dtypes = set(self.comp.step_dtypes())
        for dt in dtypes:
            ctx.check_dtype(dt, f"{node_label(node)}")
        self.width = vector_width(ctx, dtypes)
        if not ctx.is_cpu and ("strided" in self.modes or
                               not plain_operands(self.operands, owned, node.outputs[0])):
            # NVIDIA's OpenCL compiler (CUDA 13.0, driver 580) aborts on vector kernels
            # with broadcast operands or views ("fpmath requires a floating point
            # result!"); those gather lane by lane anyway.
            self.width = 1
        self.ndim = node.outputs[0].ndim
        self.n_outer = max(self.ndim - 1, 0)
        self.kname = f"{kernel_prefix}_{sanitize_ident(self.comp.name)}"

    def _operand_modes(self, owned: set) -> list[str]:
        """Static access modes of the operands; for an output of static last length 1, the
        modes of axis -2, innermost once prepare drops the unit axis."""
        shape = self.node.outputs[0].type.shape
        if len(shape) > 1 and shape[-1] == 1:
            return [unit_last_operand_mode(v, shape[-2], owned) for v in self.operands]
        out_last = shape[-1] if shape else 1
        return [operand_mode(v, out_last, owned) for v in self.operands]

    def kernels(self) -> list[KernelDef]:
        n_in = len(self.operands)
        outs = self.node.outputs
        operands = []
        params = ["const long n_inner", "const long per_item", "const long n_rows"]
        params += [f"const long n{d}" for d in range(self.n_outer)]
        for k, var in enumerate(self.operands):
            operands.append({"name": f"in{k}", "ctype": cl_type(var.dtype), "qual":
                             "__global const", "mode": self.modes[k]})
        for j, var in enumerate(outs):
            operands.append({"name": f"out{j}", "ctype": cl_type(var.dtype), "qual": "__global",
                             "mode": self.out_modes[j]})
        for op in operands:
            params.append(f"{op['qual']} {op['ctype']}* {op['name']}")
            params.append(f"const long {op['name']}_off")
            params.append(f"const long {op['name']}_si")
            params += [f"const long {op['name']}_s{d}" for d in range(self.n_outer)]
        vec = CodeCtx(self.width)
        sca = CodeCtx(1)
        in_regs = [f"a{k}" for k in range(n_in)]
        vec_body, vec_outs = self.comp.body(vec, in_regs)
        sca_body, sca_outs = self.comp.body(sca, in_regs)
        W = self.width
        vec_loads, sca_loads = [], []
        for k, op in enumerate(operands[:n_in]):
            nm, ct, mode = op["name"], op["ctype"], op["mode"]
            p = f"p_{nm}"
            if mode == "contig":
                vload = vld(self.operands[k].dtype, W, f"{nm} + {p} + i0")
                sload = f"{nm}[{p} + i]"
            elif mode == "bcast":
                vload = f"({ct}{W})({nm}[{p}])"
                sload = f"{nm}[{p}]"
            else:
                elems = ", ".join(f"{nm}[{p} + (i0 + {e}) * {nm}_si]" for e in range(W))
                vload = f"({ct}{W})({elems})"
                sload = f"{nm}[{p} + i * {nm}_si]"
            vec_loads.append(f"const {ct}{W} a{k} = {vload};")
            sca_loads.append(f"const {ct} a{k} = {sload};")
        vec_dtypes = [v.dtype for k, v in enumerate(self.operands) if self.modes[k] == "contig"]
        vec_dtypes += [v.dtype for j, v in enumerate(outs) if self.out_modes[j] == "contig"]
        names = ", ".join(sanitize_comment(v) for v in outs)
        comment = sanitize_comment(f"{self.comp.name} -> {names}")

        def source(kname: str, streaming: bool) -> str:
            vec_stores, sca_stores = self._stores(vec_outs, sca_outs, streaming)
            return vec_preamble(vec_dtypes, W) + render(
                "elemwise.cl.mako", kname=kname, width=W, n_outer=self.n_outer, params=params,
                operands=operands, vec_loads=vec_loads, vec_body=vec_body,
                vec_stores=vec_stores, scalar_loads=sca_loads, scalar_body=sca_body,
                scalar_stores=sca_stores,
                comment=comment + (" (this copy, for outputs larger than the device's cache,"
                                   " stores vectors around the cache)" if streaming else ""))

        defs = [KernelDef(self.kname, source(self.kname, False), [self.node], "elemwise.cl.mako")]
        if self.streams:
            name = f"{self.kname}_nt"
            defs.append(KernelDef(name, source(name, True), [self.node], "elemwise.cl.mako",
                                  alt_of=self.kname))
        return defs

    @property
    def streams(self) -> bool:
        """Whether large outputs may be written with non-temporal stores, by a copy of the
        kernel (`<name>_nt`, launched for outputs larger than the device's cache): PoCL
        compiles only the kernels launched, and the stores' alignment test costs ~15-20 ms
        of compile time in every kernel that has them."""
        return self.width > 1 and self.ctx.is_cpu and "contig" in self.out_modes

    def _stores(self, vec_outs: list[str], sca_outs: list[str], streaming: bool
                ) -> tuple[list[str], list[str]]:
        W, outs = self.width, self.node.outputs
        vec_stores, sca_stores = [], []
        for j in range(len(outs)):
            nm = f"out{j}"
            if self.out_modes[j] == "contig":
                ptr = f"{nm} + p_{nm} + i0"
                plain = vst(outs[j].dtype, W, vec_outs[j], ptr)
                if streaming:
                    align = W * np.dtype(outs[j].dtype).itemsize - 1  # x86 streaming stores
                    vec_stores.append(f"if (!((ulong)({ptr}) & {align})) "  # fault unaligned
                                      + vst_stream(outs[j].dtype, W, vec_outs[j], ptr))
                    vec_stores.append(f"else {plain}")
                else:
                    vec_stores.append(plain)
                sca_stores.append(f"{nm}[p_{nm} + i] = {sca_outs[j]};")
            else:  # scattered stores, one lane at a time
                vec_stores.append(f"const {cl_type(outs[j].dtype, W)} o{j} = {vec_outs[j]};")
                vec_stores += [f"{nm}[p_{nm} + (i0 + {e}) * {nm}_si] = o{j}.s{e:x};"
                               for e in range(W)]
                sca_stores.append(f"{nm}[p_{nm} + i * {nm}_si] = {sca_outs[j]};")
        return vec_stores, sca_stores

    takes_out_layouts = True  # prepare(out_layouts=...) writes into given layouts

    def prepare(self, state: PrepareState, out_layouts=None) -> None:
        node = self.node
        all_layouts = [state.layouts[v] for v in node.inputs]
        out_shape = runtime_broadcast(node, [lay.shape for lay in all_layouts])
        if out_layouts is None:
            out_layouts = [state.new_buffer(out_shape, v.dtype) for v in node.outputs]
        for v, lay in zip(node.outputs, out_layouts):
            state.layouts[v] = lay
        size = int(np.prod(out_shape, dtype=np.int64))
        if size == 0:
            return
        in_layouts = [state.layouts[v] for v in self.operands]
        shape = out_shape or (1,)
        sets = [broadcast_strides(lay, out_shape) or (0,) for lay in in_layouts]
        sets += [lay.strides or (0,) for lay in out_layouts]
        cshape, csets = self._iteration_space(shape, sets)
        n_inner = cshape[-1]
        outer = (1,) * (self.n_outer - (len(cshape) - 1)) + cshape[:-1]
        g1 = int(np.prod(outer, dtype=np.int64)) if outer else 1
        per_item, g0, local, rows = elemwise_grid(self.ctx, n_inner, self.width, g1)
        out_bytes = size * sum(np.dtype(v.dtype).itemsize for v in node.outputs)
        stream = self.streams and 0 < self.ctx.cache_bytes <= out_bytes
        args: list = [np.int64(n_inner), np.int64(per_item), np.int64(g1)]
        args += [np.int64(n) for n in outer]
        modes = self.modes + self.out_modes
        for k, (lay, st) in enumerate(zip(in_layouts + out_layouts, csets)):
            st = (0,) * (self.n_outer + 1 - len(st)) + st
            if n_inner > 1 and not inner_stride_fits(modes[k], st[-1]):
                raise AssertionError(f"{node_label(node)}: operand {k} expected {modes[k]} "
                                     f"inner access, got stride {st[-1]}")
            args += [BufRef(lay.buffer), np.int64(lay.offset), np.int64(st[-1])]
            args += [np.int64(s) for s in st[:-1]]
        kname = f"{self.kname}_nt" if stream else self.kname
        state.work.append(Launch(kname, (g0, rows), local, args, node))
        if self.out_modes == ["contig"] * len(out_layouts):
            self._allow_in_place(state, in_layouts, out_layouts)

    def _iteration_space(self, shape, sets):
        """(shape, stride sets) of the launch: the first whose innermost strides the static
        modes can read of the axes collapsed without the axes of length 1 (an (N, 1) column
        otherwise runs as N rows of one element, paying the row index arithmetic for each),
        the axes collapsed, and the axes as they are (a length-1 axis then innermost)."""
        modes = self.modes + self.out_modes
        spaces = [collapse(*drop_unit_axes(shape, sets)), collapse(shape, sets)]
        for cshape, csets in spaces:
            if cshape[-1] == 1 or all(inner_stride_fits(m, st[-1]) for m, st in zip(modes, csets)):
                return cshape, csets
        return shape, sets

    def _allow_in_place(self, state: PrepareState, in_layouts, out_layouts) -> None:
        """Each output may reuse an input read element for element at its own position."""
        for out, ovar in zip(out_layouts, self.node.outputs):
            size = np.dtype(ovar.dtype).itemsize
            for lay, var, mode in zip(in_layouts, self.operands, self.modes):
                if (mode == "contig" and lay.buffer != out.buffer and lay.shape == out.shape
                        and lay.strides == out.strides
                        and lay.offset == out.offset == 0
                        and np.dtype(var.dtype).itemsize == size):
                    state.inplace_ok.add((out.buffer, lay.buffer))


def inner_stride_fits(mode: str, stride: int) -> bool:
    """Whether an innermost stride can be read with access mode `mode` (access.py)."""
    return {"contig": stride == 1, "bcast": stride == 0}.get(mode, True)


def elemwise_grid(ctx, n_inner: int, width: int, rows: int
                  ) -> tuple[int, int, tuple[int, int], int]:
    """(vectors per work item, global size of dim 0, local size, global size of dim 1) for
    `rows` rows of `n_inner` elements at `width` elements a vector. GPUs: one vector per work
    item (coalesced). CPUs: runs of vectors per work item, and a small launch (at most
    SMALL_LAUNCH elements) as one work item that loops over the rows."""
    vectors = -(-n_inner // width)
    if ctx.is_cpu:
        local = CPU_LOCAL_SIZE  # one size always: PoCL compiles a kernel once per local size
        if n_inner * rows <= SMALL_LAUNCH:
            return vectors, local, (local, 1), 1
        wanted = ctx.compute_units * WORK_ITEMS_PER_UNIT
        per_item = max(1, min(MAX_RUN, vectors, -(-vectors * rows // wanted)))
        items = -(-vectors // per_item)
    else:
        per_item, items = 1, vectors
        local = min(LOCAL_SIZE, items)
    return per_item, -(-items // local) * local, (local, 1), rows


def copy_step(var, ctx, prefix: str, out_mode: str = "contig", in_mode: str | None = None):
    """(node, step) of a kernel copying `var` (any layout) into a fresh contiguous buffer or,
    with out_mode='strided', into a layout given to `prepare` (a slab, a region).
    `in_mode` fixes how `var` is read where its graph cannot tell ('strided': any strides)."""
    from clgraph.expr.elemwise import Elemwise
    from clgraph.expr.scalar.ops import identity

    node = Elemwise(identity).make_node(var)
    return node, ElemwiseStep(node, ctx, prefix, set(), out_modes=[out_mode],
                              in_modes=[in_mode] if in_mode else None)


def plain_operands(operands, owned: set, out) -> bool:
    """Every operand a scalar (also one broadcast to a tensor), or a whole C-contiguous
    buffer (a graph input or a kernel's output, not a view: `owned` as in
    access.inner_mode) of the output's rank and broadcast pattern."""
    def pattern(v) -> list[bool]:  # which axes broadcast (static length 1)
        return [d == 1 for d in v.type.shape]

    return all(all(pattern(v)) or ((v.owner is None or id(v) in owned)
                                   and pattern(v) == pattern(out)) for v in operands)


def vector_width(ctx, dtypes) -> int:
    """Elements per work-item: on CPUs the device's preferred width, capped at 32 bytes a
    vector; on GPUs 16 bytes.

    PoCL reports 16 floats on AVX2 CPUs, but 512-bit vectors there split into halves, warn
    about the ABI, and (seen with PoCL 3.0) can make the kernel vanish from the program.
    """
    if not dtypes:
        return 1
    sizes = [np.dtype(dt if dt != "bool" else "uint8").itemsize for dt in dtypes]
    if not ctx.is_cpu:
        # GPUs prefer 1, but 16-byte loads and stores move memory faster (NVIDIA H200,
        # 50M-float triad: 1.2 TB/s at 1 float, 3.7 at 4, 2.5 at 8; the 6-op expression
        # 0.126 -> 0.056 ms at 4, faster than the hand-written float8 kernel's 0.076).
        return max(1, min(16 // size for size in sizes))
    width = min(ctx.preferred_vector_width(dt) for dt in dtypes)
    cap = min(32 // size for size in sizes)
    return max(1, min(width, cap, 16))


def sanitize_ident(text: str) -> str:
    """A generated identifier fragment: letters, digits and underscores only, kept short."""
    import re

    out = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")
    return out[:20].strip("_") or "op"
