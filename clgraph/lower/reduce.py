"""Lowering of reductions (Reduce: sum/prod/max/min/all/any, and Argmax) to OpenCL kernels.

Per shape signature the input's axes are split into kept axes (the output's, in order) and
reduced axes; axes of length 1 are dropped, reduced axes are reordered (decreasing stride,
negative strides flipped: order does not matter to these reductions) and adjacent axes that
memory walks in step are merged, as the elemwise kernel merges its axes. What remains is read
in one of two ways:

- `inner`: one work-item (a work-group with a local-memory tree on GPUs) reduces a chunk of
  the reduced elements of one output. The innermost reduced axis (the "run") is read with
  `floatN` vectors when it is contiguous, N lanes accumulating side by side (unrolled into
  several independent accumulators), then combined, with a scalar tail. Sums over a whole
  contiguous array and row reductions of a C-contiguous matrix go this way.
- `cols`: the innermost kept axis is contiguous (column sums): each work-item owns N adjacent
  outputs and walks the reduced elements, loading an N-vector of the outputs' inputs each step.

When there are too few outputs to occupy the device, the reduced elements are split in
chunks, a few per compute unit: the first launch writes partial results `(chunks, n_out)`
and a second, small launch of the same program (`final`) combines them.

Accumulation is in the output dtype (`acc`): float32 sums add float32 lanes, integer sums add
int64 (or uint64), and/or work on 0/1 bytes. max/min propagate NaN as NumPy does.

A Reduce op may carry a `prologue` (a scalar `Composite`): its inputs are then the node's
inputs (broadcast together), and each element is computed by the Composite before it is
accumulated, so `sum(x ** 2)` can be one kernel once a rewrite builds such nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr.dtypes import cl_type
from clgraph.expr.scalar.codegen import CodeCtx
from clgraph.expr.scalar.composite import Composite
from clgraph.expr.type import shape_str
from clgraph.lower.layout import broadcast_strides, collapse
from clgraph.lower.plan import BufRef, KernelDef, Launch, PrepareState, Step, node_label
from clgraph.lower.render import render, sanitize_comment

KIND_NAMES = {"add": "sum", "mul": "prod", "max": "max", "min": "min", "and": "all",
              "or": "any"}
TREE_MAX = 256          # GPU: work-items that reduce one chunk together through local memory
GROUP = 64              # outputs per work-group on a CPU (work-items run as one loop there)
UNROLL = 4              # independent vector accumulators in the contiguous loops
CHUNKS_PER_UNIT = 4     # target work-groups per compute unit when a reduction is split
MIN_CHUNK = 1 << 15     # reduced elements below which one work-item does the whole reduction


def tree_size(ctx) -> int:
    """Work-items that cooperate on one chunk through local memory: 1 on CPUs."""
    if ctx.is_cpu:
        return 1
    n = 1
    while n * 2 <= min(TREE_MAX, ctx.max_work_group_size):
        n *= 2
    return n


def reduce_width(ctx, dtypes) -> int:
    """Vector lanes per work-item: the elemwise width (1 on GPUs)."""
    from clgraph.lower.elemwise import vector_width

    return vector_width(ctx, set(dtypes))


# --------------------------------------------------------------------------------- layout


@dataclass
class Space:
    """A reduction's iteration space after dropping, reordering and merging axes.

    `kept`/`red` are the lengths (the output's order; the last reduced axis is the run),
    `kstrides`/`rstrides` one tuple per operand, `offsets` one per operand.
    """

    kept: tuple[int, ...]
    kstrides: list[tuple[int, ...]]
    red: tuple[int, ...]
    rstrides: list[tuple[int, ...]]
    offsets: list[int]

    @property
    def n_out(self) -> int:
        return int(np.prod(self.kept, dtype=np.int64))

    @property
    def n_red(self) -> int:
        return int(np.prod(self.red, dtype=np.int64))


def reduction_space(shape: tuple[int, ...], strides: list[tuple[int, ...]],
                    offsets: list[int], axes: tuple[int, ...], reorder: bool) -> Space:
    """Split `shape` into kept and reduced axes for operands with these strides.

    reorder: reduced axes may be visited in any order and direction (not for argmax).
    """
    offsets = list(offsets)
    strides = [list(s) for s in strides]
    if 0 in shape:
        kept = tuple(n for d, n in enumerate(shape) if d not in axes)
        red = 0 if any(shape[d] == 0 for d in axes) else 1
        n_out = int(np.prod(kept, dtype=np.int64))
        flat = ((n_out,), [(0,) for _ in strides]) if kept else ((), [() for _ in strides])
        return Space(flat[0], flat[1], (red,), [(0,) for _ in strides], offsets)
    kept_axes = [d for d in range(len(shape)) if d not in axes and shape[d] != 1]
    red_axes = [d for d in axes if shape[d] != 1]
    if reorder:
        for d in red_axes:
            if strides[0][d] < 0:
                for k, st in enumerate(strides):
                    offsets[k] += (shape[d] - 1) * st[d]
                    st[d] = -st[d]
        # Broadcast (stride 0) axes outermost, then by decreasing stride: the run is the
        # reduced axis that memory walks fastest.
        red_axes.sort(key=lambda d: (strides[0][d] != 0, -abs(strides[0][d])))
    kept, ksets = _merge([shape[d] for d in kept_axes], [[s[d] for d in kept_axes]
                                                         for s in strides])
    red, rsets = _merge([shape[d] for d in red_axes], [[s[d] for d in red_axes]
                                                       for s in strides])
    if not red:  # nothing left to reduce: a run of one element
        red, rsets = (1,), [(0,) for _ in strides]
    return Space(kept, ksets, red, rsets, offsets)


def _merge(lengths: list[int], sets: list[list[int]]):
    if not lengths:
        return (), [() for _ in sets]
    return collapse(tuple(lengths), [tuple(s) for s in sets])


def _pad(values: tuple[int, ...], n: int, fill: int) -> tuple[int, ...]:
    """Left-pad to n entries (the kernel is compiled for the node's largest axis count)."""
    assert len(values) <= n, (values, n)
    return (fill,) * (n - len(values)) + tuple(values)


def split(ctx, n_groups: int, n_red: int, align: int, min_chunk: int = MIN_CHUNK
          ) -> tuple[int, int]:
    """(chunks, chunk length): split the reduced elements when the outputs alone would
    leave the device idle."""
    target = CHUNKS_PER_UNIT * max(1, ctx.compute_units)
    parts = 1
    if n_groups < target and n_red > min_chunk:
        parts = min(-(-target // max(n_groups, 1)), -(-n_red // min_chunk))
    chunk = -(-max(n_red, 1) // parts)
    chunk = -(-chunk // align) * align
    return -(-max(n_red, 1) // chunk), chunk


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


# ------------------------------------------------------------------------------- helpers


def identity_value(kind: str, dtype: str):
    if kind in ("add", "or"):
        return 0
    if kind in ("mul", "and"):
        return 1
    if dtype in ("float32", "float64"):
        return -np.inf if kind == "max" else np.inf
    if dtype == "bool":
        return 0 if kind == "max" else 1
    info = np.iinfo(dtype)
    return info.min if kind == "max" else info.max


def combine(ctx: CodeCtx, kind: str, dtype: str, a: str, b: str) -> str:
    """The accumulation of registers a and b (NaN-propagating max/min for floats)."""
    if kind == "add":
        return f"{a} + {b}"
    if kind == "mul":
        return f"{a} * {b}"
    if kind == "and":
        return f"{a} & {b}"
    if kind == "or":
        return f"{a} | {b}"
    if dtype in ("float32", "float64"):
        op = ">" if kind == "max" else "<"
        # Keep a when it is NaN or wins; otherwise b (which is NaN when b is).
        return ctx.where(f"({a} {op} {b}) | isnan({a})", a, b)
    return f"{kind}({a}, {b})"


def lane_lines(kind: str, dtype: str, width: int, src: str, dst: str) -> list[str]:
    """Lines folding the lanes of vector register `src` into scalar register `dst`."""
    lines = []
    cur, w = src, width
    while w > 1:
        w //= 2
        nxt = f"h{w}"
        ctx = CodeCtx(w)
        lines.append(f"const {cl_type(dtype, w)} {nxt} = "
                     f"{combine(ctx, kind, dtype, cur + '.lo', cur + '.hi')};")
        cur = nxt
    lines.append(f"{dst} = {combine(CodeCtx(1), kind, dtype, dst, cur)};")
    return lines


# ----------------------------------------------------------------------------- Reduce


class ReduceStep(Step):
    """Reduce (and Reduce with a `prologue` Composite) → `inner`, `cols` and `final` kernels."""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        op = node.op
        self.kind = op.kind
        self.axes = tuple(op.axes)
        self.acc = node.outputs[0].dtype
        self.prologue: Composite | None = getattr(op, "prologue", None)
        self.operands = list(node.inputs) if self.prologue is not None else [node.inputs[0]]
        if self.prologue is not None:
            self.value_dtype = self.prologue.out_dtypes()[0]
            dtypes = set(self.prologue.step_dtypes())
        else:
            self.value_dtype = node.inputs[0].dtype
            dtypes = {self.value_dtype}
        dtypes.add(self.acc)
        for dt in dtypes:
            ctx.check_dtype(dt, node_label(node))
        self.width = reduce_width(ctx, dtypes)
        self.tree = tree_size(ctx)
        if self.tree > 1:
            self.width = 1  # lanes and a work-group tree are not combined
        ndim = self.operands[0].ndim
        self.n_keep = max(ndim - len(self.axes), 0)
        self.n_rest = max(len(self.axes) - 1, 0)
        base = f"{kernel_prefix}_{KIND_NAMES[self.kind]}"
        self.knames = {"inner": base, "cols": f"{base}_cols", "final": f"{base}_final"}
        # The column kernel serves reductions that keep an axis; a full reduction never
        # needs it.
        self.variants = ["inner", "final"] + (["cols"] if self.n_keep else [])

    # -- code ----------------------------------------------------------------------------

    def helpers(self) -> set[str]:
        if self.prologue is None:
            return set()
        from clgraph.expr.scalar.ops import HELPER_FUNCS
        from clgraph.lower.elemwise import _helper_name

        return {op.fn for op, _ in self.prologue.steps if getattr(op, "fn", None) and
                _helper_name(op) in HELPER_FUNCS}

    def _value(self, ctx: CodeCtx, regs: list[str], prefix: str) -> tuple[list[str], str]:
        """Lines computing one element from loaded registers, and its value as `acc`."""
        if self.prologue is None:
            return [], ctx.cast(regs[0], self.value_dtype, self.acc)
        lines, outs = self.prologue.body(ctx, regs, prefix)
        return lines, ctx.cast(outs[0], self.value_dtype, self.acc)

    def _step(self, ctx: CodeCtx, loads: list[str], acc: str) -> list[str]:
        """Load operands (one expression each), compute the element, accumulate into acc."""
        regs = [f"a{k}" for k in range(len(loads))]
        lines = [f"const {ctx.ty(v.dtype)} {r} = {ld};"
                 for r, v, ld in zip(regs, self.operands, loads)]
        body, value = self._value(ctx, regs, "t")
        lines += body
        lines.append(f"const {ctx.ty(self.acc)} v = {value};")
        lines.append(f"{acc} = {combine(ctx, self.kind, self.acc, acc, 'v')};")
        return lines

    def _params(self, variant: str) -> list[str]:
        W = self.width
        if variant == "final":
            return ["const long n_out", "const long n_part",
                    f"__global const {cl_type(self.acc)}* part",
                    f"__global {cl_type(self.acc)}* out0"]
        params = ["const long n_out", "const long n_red", "const long chunk", "const int vec"]
        n_keep = self.n_keep if variant == "inner" else self.n_keep - 1
        if variant == "cols":
            params.insert(0, "const long n_kin")
        params += [f"const long kn{d}" for d in range(n_keep)]
        params += [f"const long rn{d}" for d in range(self.n_rest)] + ["const long n_run"]
        for k, var in enumerate(self.operands):
            nm = f"in{k}"
            params += [f"__global const {cl_type(var.dtype)}* {nm}", f"const long {nm}_off"]
            params += [f"const long {nm}_k{d}" for d in range(n_keep)]
            if variant == "cols":
                params.append(f"const long {nm}_kin")
            params += [f"const long {nm}_r{d}" for d in range(self.n_rest)]
            params.append(f"const long {nm}_sr")
        params.append(f"__global {cl_type(self.acc)}* out0")
        del W
        return params

    def _render(self, variant: str) -> str:
        W, U = self.width, UNROLL
        names = [f"in{k}" for k in range(len(self.operands))]
        vec, sca = CodeCtx(W), CodeCtx(1)
        acc_t, acc_vt = cl_type(self.acc), cl_type(self.acc, W)
        ident = identity_value(self.kind, self.acc)
        lit, lit_v = sca.literal(ident, self.acc), vec.literal(ident, self.acc)
        what = ", ".join(sanitize_comment(v) for v in self.operands)
        comment = sanitize_comment(f"{KIND_NAMES[self.kind]} over axes {list(self.axes)} of "
                                   f"{what} -> {self.node.outputs[0]}")
        if self.prologue is not None:
            comment += " (prologue " + sanitize_comment(self.prologue.name) + ")"
        n_keep = self.n_keep if variant == "inner" else max(self.n_keep - 1, 0)
        params = dict(kname=self.knames[variant], variant=variant, comment=comment, width=W,
                      unroll=U, tree=self.tree if variant == "inner" else 0, acc_type=acc_t,
                      acc_vtype=acc_vt, identity=lit, identity_v=lit_v,
                      params=self._params(variant), operands=names, n_keep=n_keep,
                      n_rest=self.n_rest, unrolled=[], vector_step=[], scalar_step=[],
                      fold_unrolled=[], fold_lanes=[], tree_step=[], c_first="c0",
                      c_step="1")
        if variant == "final":
            params["scalar_step"] = [f"const {acc_t} v = part[p * n_out + o];",
                                     f"acc = {combine(sca, self.kind, self.acc, 'acc', 'v')};"]
        elif variant == "inner":
            if W > 1:
                params["unrolled"] = [self._step(vec, [f"vload{W}(0, {n} + r_{n} + c + {u * W})"
                                                       for n in names], f"va{u}")
                                      for u in range(U)]
                params["vector_step"] = self._step(vec, [f"vload{W}(0, {n} + r_{n} + c)"
                                                         for n in names], "va0")
                params["fold_unrolled"] = self._fold_unrolled(vec)
                params["fold_lanes"] = lane_lines(self.kind, self.acc, W, "va0", "acc")
            params["scalar_step"] = self._step(sca, [f"{n}[r_{n} + c * {n}_sr]" for n in names],
                                               "acc")
            if self.tree > 1:
                params["c_first"], params["c_step"] = "c0 + lid", "nl"
                params["tree_step"] = [
                    f"const {acc_t} x = scratch[lid];",
                    f"const {acc_t} y = scratch[lid + s];",
                    f"scratch[lid] = {combine(sca, self.kind, self.acc, 'x', 'y')};"]
        else:  # cols
            if W > 1:
                params["unrolled"] = [self._step(vec, [f"vload{W}(0, {n} + r_{n} + (c + {u}) * "
                                                       f"{n}_sr)" for n in names], f"va{u}")
                                      for u in range(U)]
                params["vector_step"] = self._step(vec, [f"vload{W}(0, {n} + r_{n} + c * {n}_sr)"
                                                         for n in names], "va0")
                params["fold_unrolled"] = self._fold_unrolled(vec)
            params["scalar_step"] = self._step(
                sca, [f"{n}[r_{n} + j * {n}_kin + c * {n}_sr]" for n in names], "acc")
        return render("reduce.cl.mako", **params)

    def _fold_unrolled(self, vec: CodeCtx) -> list[str]:
        lines = []
        step = 1
        while step < UNROLL:
            for u in range(0, UNROLL, 2 * step):
                if u + step < UNROLL:
                    lines.append(f"va{u} = "
                                 f"{combine(vec, self.kind, self.acc, f'va{u}', f'va{u + step}')};")
            step *= 2
        return lines

    def kernels(self) -> list[KernelDef]:
        return [KernelDef(self.knames[v], self._render(v), [self.node], "reduce.cl.mako")
                for v in self.variants]

    # -- launches ------------------------------------------------------------------------

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        layouts = [state.layouts[v] for v in self.operands]
        shape = _broadcast_shape(node, [lay.shape for lay in layouts])
        out_shape = tuple(n for d, n in enumerate(shape) if d not in self.axes)
        if self.kind in ("max", "min") and any(shape[d] == 0 for d in self.axes):
            raise ValueError(f"{node_label(node)}: cannot take the {self.kind}imum over a "
                             f"zero-length axis (input shape {shape_str(shape)}, axes "
                             f"{list(self.axes)}); {self.kind} has no identity")
        out = state.new_buffer(out_shape, self.acc)
        state.layouts[node.outputs[0]] = out
        strides = [broadcast_strides(lay, shape) for lay in layouts]
        space = reduction_space(shape, strides, [lay.offset for lay in layouts], self.axes,
                                reorder=True)
        n_out, n_red = space.n_out, space.n_red
        if n_out == 0:
            return
        s_run = [st[-1] for st in space.rstrides]
        use_cols = ("cols" in self.variants and len(space.kept) >= 1 and n_red > 1 and
                    all(st[-1] == 1 for st in space.kstrides) and
                    not all(s == 1 for s in s_run))
        if use_cols:
            self._prepare_cols(state, space, layouts, out)
        else:
            self._prepare_inner(state, space, layouts, out)

    def _operand_args(self, space: Space, layouts, n_keep: int, cols: bool) -> list:
        args: list = []
        for k, lay in enumerate(layouts):
            ks, rs = space.kstrides[k], space.rstrides[k]
            args += [BufRef(lay.buffer), np.int64(space.offsets[k])]
            kk = ks[:-1] if cols else ks
            args += [np.int64(s) for s in _pad(kk, n_keep, 0)]
            if cols:
                args.append(np.int64(ks[-1]))
            args += [np.int64(s) for s in _pad(rs[:-1], self.n_rest, 0)]
            args.append(np.int64(rs[-1]))
        return args

    def _finish(self, state: PrepareState, parts: int, n_out: int, first: list, out) -> None:
        """Point the first launch at the output, or at partials plus the final launch."""
        if parts == 1:
            first.append(BufRef(out.buffer))
            return
        partial = state.new_buffer((parts, n_out), self.acc)
        first.append(BufRef(partial.buffer))
        g = min(GROUP, n_out)
        state.work.append(Launch(self.knames["final"], (_round_up(n_out, g),), (g,),
                                 [np.int64(n_out), np.int64(parts), BufRef(partial.buffer),
                                  BufRef(out.buffer)], self.node))

    def _prepare_inner(self, state, space: Space, layouts, out) -> None:
        n_out, n_red = space.n_out, space.n_red
        vec = int(self.width > 1 and all(st[-1] == 1 for st in space.rstrides))
        L = self.tree
        if L > 1:
            parts, chunk = split(self.ctx, n_out, n_red, 1, max(MIN_CHUNK // 4, 1))
            gsize, lsize = (L * parts, n_out), (L, 1)
        else:
            g = min(GROUP, n_out)
            parts, chunk = split(self.ctx, -(-n_out // g), n_red, self.width * UNROLL)
            gsize, lsize = (parts, _round_up(n_out, g)), (1, g)
        red = space.red
        args: list = [np.int64(n_out), np.int64(n_red), np.int64(chunk), np.int32(vec)]
        args += [np.int64(n) for n in _pad(space.kept, self.n_keep, 1)]
        args += [np.int64(n) for n in _pad(red[:-1], self.n_rest, 1)] + [np.int64(red[-1])]
        args += self._operand_args(space, layouts, self.n_keep, cols=False)
        launch = Launch(self.knames["inner"], gsize, lsize, args, self.node)
        state.work.append(launch)
        self._finish(state, parts, n_out, launch.args, out)

    def _prepare_cols(self, state, space: Space, layouts, out) -> None:
        n_out, n_red = space.n_out, space.n_red
        W = self.width
        n_kin = space.kept[-1]
        n_kout = n_out // n_kin
        nv = -(-n_kin // W)
        g = min(16 if self.ctx.is_cpu else GROUP, nv)
        groups = -(-nv // g) * n_kout
        parts, chunk = split(self.ctx, groups, n_red, UNROLL, max(MIN_CHUNK // 64, 1))
        red = space.red
        args: list = [np.int64(n_kin), np.int64(n_out), np.int64(n_red), np.int64(chunk),
                      np.int32(int(W > 1))]
        args += [np.int64(n) for n in _pad(space.kept[:-1], self.n_keep - 1, 1)]
        args += [np.int64(n) for n in _pad(red[:-1], self.n_rest, 1)] + [np.int64(red[-1])]
        args += self._operand_args(space, layouts, self.n_keep - 1, cols=True)
        launch = Launch(self.knames["cols"], (_round_up(nv, g), n_kout, parts), (g, 1, 1),
                        args, self.node)
        state.work.append(launch)
        self._finish(state, parts, n_out, launch.args, out)


def _broadcast_shape(node, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    if len(shapes) == 1:
        return tuple(shapes[0])
    out = []
    for d in range(len(shapes[0])):
        lengths = {s[d] for s in shapes if s[d] != 1}
        if len(lengths) > 1:
            raise ValueError(f"{node_label(node)}: input shapes do not broadcast along axis "
                             f"{d}: {', '.join(shape_str(s) for s in shapes)}")
        out.append(lengths.pop() if lengths else 1)
    return tuple(out)


# ----------------------------------------------------------------------------- Argmax


class ArgmaxStep(Step):
    """Argmax/argmin along one axis: first index on ties, NaN wins (NumPy)."""

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        self.kind = node.op.kind
        self.axis = node.op.axis
        self.dtype = node.inputs[0].dtype
        ctx.check_dtype(self.dtype, node_label(node))
        self.n_keep = node.inputs[0].ndim - 1
        self.tree = tree_size(ctx)
        base = f"{kernel_prefix}_arg{self.kind}"
        self.knames = {"main": base, "final": f"{base}_final"}

    def _better(self, v: str, best: str) -> str:
        op = ">" if self.kind == "max" else "<"
        if self.dtype in ("float32", "float64"):
            return f"({v} {op} {best}) || (isnan({v}) && !isnan({best}))"
        return f"{v} {op} {best}"

    def _render(self, variant: str) -> str:
        T = cl_type(self.dtype)
        if variant == "final":
            params = ["const long n_out", "const long n_part", f"__global const {T}* vals",
                      "__global const long* idx", "__global long* out0"]
        else:
            params = ["const long n_out", "const long n_axis", "const long chunk",
                      "const int write_vals"]
            params += [f"const long kn{d}" for d in range(self.n_keep)]
            params += [f"__global const {T}* in0", "const long in0_off"]
            params += [f"const long in0_k{d}" for d in range(self.n_keep)]
            params += ["const long in0_sa", "__global long* out0", f"__global {T}* vals"]
        comment = sanitize_comment(f"arg{self.kind} over axis {self.axis} of "
                                   f"{self.node.inputs[0]} -> {self.node.outputs[0]}")
        tree = self.tree if variant == "main" else 0
        return render("argmax.cl.mako", kname=self.knames[variant], variant=variant,
                      comment=comment, tree=tree, val_type=T, params=params,
                      n_keep=self.n_keep, better=self._better("v", "best"),
                      tree_better=self._better("bv", "av"),
                      tree_worse=self._better("av", "bv"),
                      zero=CodeCtx(1).literal(0, self.dtype),
                      i_first="start + lid" if tree else "start",
                      i_step="nl" if tree else "1")

    def kernels(self) -> list[KernelDef]:
        return [KernelDef(self.knames[v], self._render(v), [self.node], "argmax.cl.mako")
                for v in ("main", "final")]

    def prepare(self, state: PrepareState) -> None:
        node = self.node
        lay = state.layouts[node.inputs[0]]
        shape = lay.shape
        out_shape = tuple(n for d, n in enumerate(shape) if d != self.axis)
        if shape[self.axis] == 0:
            raise ValueError(f"{node_label(node)}: cannot take the arg{self.kind} over the "
                             f"zero-length axis {self.axis} (input shape {shape_str(shape)})")
        out = state.new_buffer(out_shape, "int64")
        state.layouts[node.outputs[0]] = out
        space = reduction_space(shape, [lay.strides], [lay.offset], (self.axis,),
                                reorder=False)
        n_out, n_axis = space.n_out, space.n_red
        if n_out == 0:
            return
        L = self.tree
        if L > 1:
            parts, chunk = split(self.ctx, n_out, n_axis, 1, max(MIN_CHUNK // 4, 1))
            gsize, lsize = (L * parts, n_out), (L, 1)
        else:
            g = min(GROUP, n_out)
            parts, chunk = split(self.ctx, -(-n_out // g), n_axis, 1)
            gsize, lsize = (parts, _round_up(n_out, g)), (1, g)
        args: list = [np.int64(n_out), np.int64(n_axis), np.int64(chunk),
                      np.int32(int(parts > 1))]
        args += [np.int64(n) for n in _pad(space.kept, self.n_keep, 1)]
        args += [BufRef(lay.buffer), np.int64(space.offsets[0])]
        args += [np.int64(s) for s in _pad(space.kstrides[0], self.n_keep, 0)]
        args.append(np.int64(space.rstrides[0][-1]))
        if parts == 1:
            args += [BufRef(out.buffer), BufRef(out.buffer)]  # vals unused: write_vals = 0
            state.work.append(Launch(self.knames["main"], gsize, lsize, args, node))
            return
        idx = state.new_buffer((parts, n_out), "int64")
        vals = state.new_buffer((parts, n_out), self.dtype)
        args += [BufRef(idx.buffer), BufRef(vals.buffer)]
        state.work.append(Launch(self.knames["main"], gsize, lsize, args, node))
        g = min(GROUP, n_out)
        state.work.append(Launch(self.knames["final"], (_round_up(n_out, g),), (g,),
                                 [np.int64(n_out), np.int64(parts), BufRef(vals.buffer),
                                  BufRef(idx.buffer), BufRef(out.buffer)], node))
