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
  outputs and walks the reduced elements, loading an N-vector of the outputs' inputs each step
  (one element in every lane for a prologue operand broadcast along that axis: `sum(M*c, 0)`).

Each node is one kernel (PoCL compiles every kernel of a program, so variants are modes of
one kernel, picked per launch by an argument): `inner`, `cols`, and `final` where needed.
When there are too few outputs to occupy the device, the reduced elements are split in
chunks, a few per compute unit: the first launch writes partial results `(chunks, n_out)`.
On CPUs, in `inner` mode, the last work-group of each output to finish (an atomic counter
per output, in a zeroed static buffer that this group resets) combines them in chunk order:
one launch, the same result every call. Otherwise a second launch of the same kernel
combines them, as a column reduction (`cols` or `inner` mode) or, when the first launch
converted its input (int32 sums in int64, a prologue), in `final` mode, which reads the
partials as the accumulator type.

Vector loads and stores go through `lower/vec_mem.py` (PoCL's vloadN is an out-of-line
call, about half the bandwidth of a vector dereference).

Accumulation is in the output dtype (`acc`): float32 sums add float32 lanes, integer sums add
int64 (or uint64), and/or work on 0/1 bytes. max/min propagate NaN as NumPy does.

A Reduce op may carry a `prologue` (a scalar `Composite`): its inputs are then the node's
inputs (broadcast together), and each element is computed by the Composite before it is
accumulated, so `sum(x ** 2)` can be one kernel once a rewrite builds such nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.dtypes import cl_type
from clgraph.expr.scalar.codegen import CodeCtx
from clgraph.expr.scalar.composite import Composite
from clgraph.expr.scalar.ops import wrapping
from clgraph.expr.type import shape_str
from clgraph.expr.variable import TensorVariable
from clgraph.lower.layout import broadcast_strides, collapse
from clgraph.lower.plan import BufRef, KernelDef, Launch, PrepareState, Step, node_label
from clgraph.lower.render import render, sanitize_comment
from clgraph.lower.vec_mem import vec_preamble, vld, vsplat, vst

KIND_NAMES = {"add": "sum", "mul": "prod", "max": "max", "min": "min", "and": "all",
              "or": "any"}
TREE_MAX = 256          # GPU: work-items that reduce one chunk together through local memory
GROUP = 16              # CPU: work-items counted as a group where launches are split
                        # (each launch's local size is elemwise.CPU_LOCAL_SIZE)
GPU_GROUP = 128         # GPU work-items per group outside the tree
UNROLL = 4              # independent vector accumulators in the contiguous loops
CASCADE = 32            # iterations per level of the float sums' cascade (ReduceStep.cascade)
CHUNKS_PER_UNIT = 4     # target work-groups per compute unit when a reduction is split
MIN_CHUNK = 1 << 15     # reduced elements below which one work-item does the whole reduction
COL_CHUNK = 32          # CPU column reductions: rows per chunk
MAX_GROUPS = 4096       # work-groups of one launch, at most, when splitting column reductions
# CPU column reductions of fewer elements than this are not split into row chunks: the
# matrix sits in the cache, and the second launch that combines the chunks costs more
# (~25-40 µs on PoCL, measured: a 256 x 512 bias gradient) than the split saves.
COL_SPLIT_ELEMS = 1 << 18


def tree_size(ctx) -> int:
    """Work-items that cooperate on one chunk through local memory: 1 on CPUs."""
    if ctx.is_cpu:
        return 1
    n = 1
    while n * 2 <= min(TREE_MAX, ctx.max_work_group_size):
        n *= 2
    return n


def reduce_width(ctx, dtypes) -> int:
    """Vector lanes per work-item: the elemwise width (GPUs use a work-group tree instead,
    at width 1)."""
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


def _local(cpu: bool, group: int) -> tuple[int, int, int]:
    """A launch's local size: `group` items on GPUs, CPU_LOCAL_SIZE on CPUs (where the
    grid is still counted in groups of GROUP, which the split heuristics are tuned to)."""
    from clgraph.lower.elemwise import CPU_LOCAL_SIZE

    return (CPU_LOCAL_SIZE if cpu else group, 1, 1)


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


def combine(kind: str, dtype: str, a: str, b: str) -> str:
    """The accumulation of registers a and b; max/min propagate NaN (NumPy).

    Written with `?:` rather than `select`: on vectors both mean the same, but PoCL turns
    `cond ? a : b` into one blend (and `a > b ? a : b` into maxps) while `select` and
    `isnan` go through slower library code.
    """
    if kind in ("add", "mul"):
        return wrapping(kind, "+" if kind == "add" else "*", dtype, a, b)
    if kind == "and":
        return f"{a} & {b}"
    if kind == "or":
        return f"{a} | {b}"
    op = ">" if kind == "max" else "<"
    if dtype in ("float32", "float64"):
        # Keep a when it wins or is NaN (a != a); otherwise b, which is NaN when b is.
        return f"(({a} {op} {b}) | ({a} != {a})) ? {a} : {b}"
    return f"({a} {op} {b}) ? {a} : {b}"


def lane_lines(kind: str, dtype: str, width: int, src: str, dst: str) -> list[str]:
    """Lines folding the lanes of vector register `src` into scalar register `dst`."""
    lines = []
    cur, w = src, width
    while w > 1:
        w //= 2
        nxt = f"h{w}"
        lines.append(f"const {cl_type(dtype, w)} {nxt} = "
                     f"{combine(kind, dtype, cur + '.lo', cur + '.hi')};")
        cur = nxt
    lines.append(f"{dst} = {combine(kind, dtype, dst, cur)};")
    return lines


# ----------------------------------------------------------------------------- Reduce


class ReduceStep(Step):
    """Reduce (and Reduce with a `prologue` Composite) → one kernel, launched in one of its
    modes (`inner`, `cols`, `final`), once or twice per call."""

    MODES = {"inner": 0, "cols": 1, "final": 2}

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
        # An elementwise consumer run at the final store (ReduceEpilogue): its program with
        # small constants inlined, operand 0 the reduced value, then the extra operands. It
        # is scalar code: its dtypes do not choose the vector width.
        self.epi_comp, self.extras = None, []
        epi_dtypes: set[str] = set()
        epilogue = getattr(op, "epilogue", None)
        if epilogue is not None:
            from clgraph.expr.elemwise import Elemwise
            from clgraph.lower.elemwise import inline_constants

            value = TensorVariable(node.outputs[0].type)
            value.name = "reduced"
            epi_node = Elemwise(epilogue).make_node(value, *node.inputs[1:])
            self.epi_comp, epi_ops = inline_constants(epi_node)
            self.extras = epi_ops[1:]
            epi_dtypes = set(self.epi_comp.step_dtypes())
        for dt in sorted(dtypes | epi_dtypes):
            ctx.check_dtype(dt, node_label(node))
        self.tree = tree_size(ctx)
        # Lanes and a work-group tree are not combined (GPUs get width 1 anyway).
        self.width = 1 if self.tree > 1 else reduce_width(ctx, dtypes)
        ndim = self.operands[0].ndim
        self.n_keep = max(ndim - len(self.axes), 0)
        self.n_rest = max(len(self.axes) - 1, 0)
        self.kname = f"{kernel_prefix}_{KIND_NAMES[self.kind]}"
        # `cols` serves reductions that keep an axis. Partial results are combined by a
        # second launch in `cols` or `inner` mode when they are of the input's type; a
        # prologue or a conversion (int32 -> int64 sums) needs the `final` mode.
        self.has_cols = self.n_keep > 0
        # Operands broadcast along the last kept axis (a scalar, a column for axis=0): mode 1
        # reads one element of theirs per step for all lanes, instead of a vector.
        self.splat = [self._broadcast_on_last_kept(v, ndim) for v in self.operands]
        self.has_final = self.prologue is not None or self.value_dtype != self.acc
        # Float sums along runs (mode 0: whole arrays, rows) are summed in a cascade (vector
        # code) or compensated (Kahan; scalar loops, the GPU's tree form): a chunk's running
        # float32 sum otherwise loses ~chunk/lanes ulps (a 10M-element mean was off by 5e-4,
        # its variance by 250x); NumPy's pairwise sum keeps it near one. The cascade adds
        # blocks of CASCADE iterations into fresh registers, then those into others, then
        # into the running sums: one add per element as before (Kahan's four cost a 10M sum
        # ~20%, measured), ~CASCADE + CASCADE + n / CASCADE^2 additions on any path. Column
        # sums (mode 1) are plain: long columns are split into chunks of a few hundred rows
        # (`_grid`), and compensating them cost the MLP step ~2% (measured).
        float_sum = self.kind == "add" and D.is_float(self.acc)
        self.cascade = float_sum and self.width > 1
        self.compensated = float_sum and self.width == 1
        # CPUs: reductions that keep axes also get a variant without mode 0, which their
        # launches use unless their layout needs mode 0. PoCL compiles a kernel at its first
        # launch, so the unused one costs only its parse: the bias-update sum of a training
        # step compiles in ~90-115 ms instead of ~135-140 (measured on its source).
        self.cols_variant = self.has_cols and ctx.is_cpu
        # CPUs: a split `inner` launch combines its partial results itself (the last
        # work-group of each output, counted with an atomic), one launch instead of two.
        self.gather = self.tree == 1 and ctx.is_cpu
        # Every work-item of every mode reaches the tree: a group fits its local memory.
        self._gpu_group = min(GPU_GROUP, self.tree) if self.tree > 1 else GPU_GROUP

    def _broadcast_on_last_kept(self, var, ndim: int) -> bool:
        """Whether `var` is broadcastable along the node's last kept axis (operands are
        aligned on their last axes)."""
        kept = [d for d in range(ndim) if d not in self.axes]
        if not kept:
            return False
        d = kept[-1] - (ndim - var.ndim)
        return d < 0 or var.broadcastable[d]

    # -- code ----------------------------------------------------------------------------

    def _value(self, ctx: CodeCtx, regs: list[str], prefix: str) -> tuple[list[str], str]:
        """Lines computing one element from loaded registers, and its value as `acc`."""
        if self.prologue is None:
            return [], ctx.cast(regs[0], self.value_dtype, self.acc)
        lines, outs = self.prologue.body(ctx, regs, prefix)
        return lines, ctx.cast(outs[0], self.value_dtype, self.acc)

    def _step(self, ctx: CodeCtx, loads: list[str], acc: str, compensated: bool = False
              ) -> list[str]:
        """Load operands (one expression each), compute the element, accumulate into acc."""
        regs = [f"a{k}" for k in range(len(loads))]
        lines = [f"const {ctx.ty(v.dtype)} {r} = {ld};"
                 for r, v, ld in zip(regs, self.operands, loads, strict=True)]
        body, value = self._value(ctx, regs, "t")
        lines += body
        lines.append(f"const {ctx.ty(self.acc)} v = {value};")
        if compensated:
            # Kahan's summation: {acc}_c keeps what the last addition rounded away; none once
            # the sum is inf or NaN (inf - inf would turn an inf sum into NaN).
            t = ctx.ty(self.acc)
            zero = ctx.literal(0, self.acc)
            # kt - kt == 0 tests finiteness; `?:`, not select/isfinite: PoCL compiles those to
            # library calls, which halved a 10M-element sum's speed (measured)
            lost = f"((kt - kt) == {zero}) ? ((kt - {acc}) - ky) : {zero}"
            lines += [f"const {t} ky = v - {acc}_c;", f"const {t} kt = {acc} + ky;",
                      f"{acc}_c = {lost};", f"{acc} = kt;"]
        else:
            lines.append(f"{acc} = {combine(self.kind, self.acc, acc, 'v')};")
        return lines


    def _params(self) -> list[str]:
        acc_t = cl_type(self.acc)
        params = ["const int mode", "const long n_out", "const long n_red", "const long chunk",
                  "const int vec"]
        params += [f"const long kn{d}" for d in range(self.n_keep)]
        params += [f"const long rn{d}" for d in range(self.n_rest)] + ["const long n_run"]
        for k, var in enumerate(self.operands):
            nm = f"in{k}"
            params += [f"__global const {cl_type(var.dtype)}* {nm}", f"const long {nm}_off"]
            params += [f"const long {nm}_k{d}" for d in range(self.n_keep)]
            params += [f"const long {nm}_r{d}" for d in range(self.n_rest)]
            params.append(f"const long {nm}_sr")
        params.append(f"__global {acc_t}* out0")
        if self.has_final:
            params.append(f"__global const {acc_t}* part")
        if self.gather:
            params += ["const int gather", f"__global {acc_t}* fin", "__global volatile int* cnt"]
        if self.epi_comp is not None:
            params += ["const int epi"] + self._epi_params()
        return params

    def _epi_params(self) -> list[str]:
        """The epilogue's parameters: the result's lengths, each extra operand's strides."""
        params = [f"const long on{d}" for d in range(self.node.outputs[0].ndim)]
        for k, var in enumerate(self.extras):
            params += [f"__global const {cl_type(var.dtype)}* e{k}", f"const long e{k}_off"]
            params += [f"const long e{k}_s{d}" for d in range(var.ndim)]
        return params

    def _epi_function(self, kname: str) -> str:
        """An OpenCL function applying the epilogue to `count` results from flat index
        `first` of `ptr`, in place (`<kname>_epi`)."""
        acc_t = cl_type(self.acc)
        nd = self.node.outputs[0].ndim
        params = [f"__global {acc_t}* ptr", "const long first", "const long count"]
        lines = [f"static void {kname}_epi({', '.join(params + self._epi_params())})", "{",
                 "    for (long eo = first; eo < first + count; ++eo) {"]
        regs = ["a0"]
        lines.append(f"        const {acc_t} a0 = ptr[eo];")
        if self.extras:
            lines.append("        long q = eo;")
            for k in range(len(self.extras)):
                lines.append(f"        long p{k} = e{k}_off;")
            for d in reversed(range(nd)):
                lines.append("        {")
                lines.append(f"            const long i = q % on{d};")
                lines.append(f"            q /= on{d};")
                for k in range(len(self.extras)):
                    lines.append(f"            p{k} += i * e{k}_s{d};")
                lines.append("        }")
            for k, var in enumerate(self.extras):
                lines.append(f"        const {cl_type(var.dtype)} a{k + 1} = e{k}[p{k}];")
                regs.append(f"a{k + 1}")
        body, outs = self.epi_comp.body(CodeCtx(1), regs, "t")
        lines += ["        " + line for line in body]
        lines.append(f"        ptr[eo] = {outs[0]};")
        lines += ["    }", "}"]
        return "\n".join(lines) + "\n"

    def _epi_call(self, kname: str, ptr: str, first: str, count: str, when: str = "epi"
                  ) -> str:
        """The statement applying the epilogue at a store ('' without one)."""
        if self.epi_comp is None:
            return ""
        cond = f"if ({when}) " if when else ""
        names = [p.rsplit(" ", 1)[1] for p in self._epi_params()]  # passed on as they are
        return f"{cond}{kname}_epi({', '.join([ptr, first, count, *names])});"

    def _fold_unrolled(self) -> list[str]:
        lines = []
        step = 1
        while step < UNROLL:
            for u in range(0, UNROLL, 2 * step):
                if u + step < UNROLL:
                    lines.append(f"va{u} = "
                                 f"{combine(self.kind, self.acc, f'va{u}', f'va{u + step}')};")
            step *= 2
        return lines

    def _render(self, kname: str, has_inner: bool = True) -> str:
        W, U = self.width, UNROLL
        names = [f"in{k}" for k in range(len(self.operands))]
        vec, sca = CodeCtx(W), CodeCtx(1)
        acc_t, acc_vt = cl_type(self.acc), cl_type(self.acc, W)
        ident = identity_value(self.kind, self.acc)
        what = ", ".join(sanitize_comment(v) for v in self.operands)
        comment = sanitize_comment(f"{KIND_NAMES[self.kind]} over axes {list(self.axes)} of "
                                   f"{what} -> {self.node.outputs[0]}")
        if self.prologue is not None:
            comment += " (prologue " + sanitize_comment(self.prologue.name) + ")"
        code: dict = dict(inner_unrolled=[], inner_rest=[], inner_vector=[], inner_fold=[],
                          tree_step=[],
                          cols_unrolled=[], cols_vector=[], cols_scalar=[], cols_fold=[],
                          final_vector=[], final_scalar=[], c_first="c0", c_step="1")
        dts = [v.dtype for v in self.operands]

        def ld(k: int, ptr: str) -> str:
            return vld(dts[k], W, ptr)

        def ld_cols(k: int, ptr: str) -> str:
            return vsplat(dts[k], W, ptr) if self.splat[k] else vld(dts[k], W, ptr)

        comp = self.compensated
        code["inner_scalar"] = self._step(sca, [f"{n}[r_{n} + c * {n}_sr]" for n in names],
                                          "acc", comp)
        if W > 1:
            def unrolled(into: str) -> list[list[str]]:
                return [self._step(vec, [ld(k, f"{n} + r_{n} + c + {u * W}")
                                         for k, n in enumerate(names)], f"{into}{u}")
                        for u in range(U)]
            # the cascade's first level (vd), and the rest of a run after its blocks (va)
            code["inner_unrolled"] = unrolled("vd" if self.cascade else "va")
            code["inner_rest"] = unrolled("va")
            code["inner_vector"] = self._step(vec, [ld(k, f"{n} + r_{n} + c")
                                                    for k, n in enumerate(names)], "va0")
            code["inner_fold"] = self._fold_unrolled() + lane_lines(self.kind, self.acc, W,
                                                                    "va0", "acc")
        if self.tree > 1:
            code["c_first"], code["c_step"] = "c0 + lid", "nl"
            code["tree_step"] = [f"const {acc_t} x = scratch[lid];",
                                 f"const {acc_t} y = scratch[lid + s];",
                                 f"scratch[lid] = {combine(self.kind, self.acc, 'x', 'y')};"]
        if self.has_cols:
            last = self.n_keep - 1
            code["cols_scalar"] = self._step(
                sca, [f"{n}[r_{n} + j * {n}_k{last} + c * {n}_sr]" for n in names], "acc")
            if W > 1:
                code["cols_unrolled"] = [
                    self._step(vec, [ld_cols(k, f"{n} + r_{n} + (c + {u}) * {n}_sr")
                                     for k, n in enumerate(names)], f"va{u}") for u in range(U)]
                code["cols_vector"] = self._step(vec, [ld_cols(k, f"{n} + r_{n} + c * {n}_sr")
                                                       for k, n in enumerate(names)], "va0")
                code["cols_fold"] = self._fold_unrolled()
        if self.has_final:
            code["final_vector"] = [
                f"const {acc_vt} v = {vld(self.acc, W, 'part + p * n_out + o')};",
                f"va0 = {combine(self.kind, self.acc, 'va0', 'v')};"]
            code["final_scalar"] = [
                f"const {acc_t} v = part[p * n_out + o + j];",
                f"acc = {combine(self.kind, self.acc, 'acc', 'v')};"]
        epi_fn = self._epi_function(kname) if self.epi_comp is not None else ""
        if self.epi_comp is not None:
            comment += " (epilogue " + sanitize_comment(self.epi_comp.name) + ")"
        code.update(epi_fn=epi_fn, epi_inner=self._epi_call(kname, "out0", "o", "1"),
                    epi_gather=self._epi_call(kname, "fin", "o", "1", when=""),
                    epi_cols_vec=self._epi_call(kname, "out0", "o0", str(W)),
                    epi_cols_sca=self._epi_call(kname, "out0", "o0 + j", "1"),
                    epi_final_vec=self._epi_call(kname, "out0", "o", str(W)),
                    epi_final_sca=self._epi_call(kname, "out0", "o + j", "1"),
                    epi_tree=self._epi_call(kname, "out0", "get_group_id(0)", "1"))
        return render("reduce.cl.mako", kname=kname, comment=comment, width=W,
                      unroll=U, tree=self.tree if self.tree > 1 else 0, acc_type=acc_t,
                      acc_vtype=acc_vt, identity=sca.literal(ident, self.acc),
                      identity_v=vec.literal(ident, self.acc), params=self._params(),
                      operands=names, n_keep=self.n_keep, n_rest=self.n_rest,
                      has_inner=has_inner, has_cols=self.has_cols, has_final=self.has_final,
                      comp=self.compensated, cascade=CASCADE if self.cascade else 0,
                      preamble=vec_preamble(set(dts) | {self.acc}, W),
                      store_cols=vst(self.acc, W, "va0", "out0 + o0"),
                      store_final=vst(self.acc, W, "va0", "out0 + o"), gather=self.gather,
                      gather_step=[f"const {acc_t} v = ((volatile __global {acc_t}*)out0)"
                                   "[p * n_out + o];",
                                   f"tot = {combine(self.kind, self.acc, 'tot', 'v')};"],
                      **code)

    def kernels(self) -> list[KernelDef]:
        defs = [KernelDef(self.kname, self._render(self.kname), [self.node], "reduce.cl.mako")]
        if self.cols_variant:
            name = f"{self.kname}_cols"
            defs.append(KernelDef(name, self._render(name, has_inner=False), [self.node],
                                  "reduce.cl.mako", alt_of=self.kname))
        return defs

    def _kernel(self, mode: str) -> str:
        """The kernel a launch in `mode` runs: the variant without mode 0 where there is one
        and the launch does not need that mode."""
        return f"{self.kname}_cols" if self.cols_variant and mode != "inner" else self.kname

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
        n_out = space.n_out
        if n_out == 0:
            return
        mode = self._mode(space, self.splat)
        parts, chunk, gsize, lsize = self._grid(mode, space, split_ok=True)
        target = out if parts == 1 else state.new_buffer((parts, n_out), self.acc)
        gather = None
        if parts > 1 and mode == "inner" and self.gather:
            gather = (out.buffer, state.static_buffer(np.zeros(n_out, np.int32)).buffer)
        epi = self._epi_args(state, out_shape)
        args = self._args(mode, space, [lay.buffer for lay in layouts], chunk, target.buffer,
                          gather=gather)
        # the epilogue runs where the final values are stored: in this launch when it is the
        # only one (a gathering launch applies it to its final store by itself)
        args += [np.int32(parts == 1)] + epi if self.epi_comp is not None else []
        state.work.append(Launch(self._kernel(mode), gsize, lsize, args, node))
        if parts == 1 or gather is not None:
            return
        # Combine the partials (parts, n_out): a column reduction of the accumulator type.
        kept = ((n_out,), [(1,)]) if self.n_keep else ((), [()])
        partials = Space(kept[0], kept[1], (parts,), [(n_out,)], [0])
        if self.has_final:
            mode, buffers = "final", [lay.buffer for lay in layouts]
        else:
            mode, buffers = self._mode(partials, [False]), [target.buffer]
        _, chunk, gsize, lsize = self._grid(mode, partials, split_ok=False)
        args = self._args(mode, partials, buffers, chunk, out.buffer, part=target.buffer)
        args += [np.int32(1)] + epi if self.epi_comp is not None else []
        state.work.append(Launch(self._kernel(mode), gsize, lsize, args, node))

    def _epi_args(self, state: PrepareState, out_shape: tuple) -> list:
        """The epilogue's arguments after its flag: the result's lengths, then each extra
        operand's buffer, offset and strides (0 along broadcast axes)."""
        if self.epi_comp is None:
            return []
        args: list = [np.int64(n) for n in out_shape]
        for var in self.extras:
            lay = state.layouts[var]
            if any(n not in (1, m) for n, m in zip(lay.shape, out_shape)):
                raise ValueError(f"{node_label(self.node)}: {var} of shape "
                                 f"{shape_str(lay.shape)} does not broadcast to the "
                                 f"reduction's result, of shape {shape_str(out_shape)}")
            args += [BufRef(lay.buffer), np.int64(lay.offset)]
            args += [np.int64(st) for st in broadcast_strides(lay, out_shape)]
        return args

    def _mode(self, space: Space, splat: list[bool]) -> str:
        """`cols` when the innermost kept axis is contiguous and the run is not, in the
        operands read as vectors; the others (`splat[k]`) must be broadcast along it."""
        if not (self.has_cols and space.kept and space.n_red > 1):
            return "inner"
        dense = [k for k, s in enumerate(splat) if not s]
        if (dense and all(space.kstrides[k][-1] == (0 if s else 1) for k, s in enumerate(splat))
                and not all(space.rstrides[k][-1] == 1 for k in dense)):
            return "cols"
        return "inner"

    def _grid(self, mode: str, space: Space, split_ok: bool):
        """(chunks, chunk length, global size, local size) of a launch over `space`.

        On CPUs every mode uses one local size, CPU_LOCAL_SIZE: PoCL compiles a kernel once
        per local size.
        """
        n_out, n_red = space.n_out, space.n_red
        cpu = self.ctx.is_cpu
        whole = (1, max(n_red, 1))
        if mode == "final":
            nv = -(-n_out // self.width)
            g = GROUP if cpu else min(self._gpu_group, nv)
            return 1, max(n_red, 1), (_round_up(nv, g), 1, 1), _local(cpu, g)
        if mode == "inner":
            L = self.tree
            if L > 1:
                parts, chunk = split(self.ctx, n_out, n_red, 1, max(MIN_CHUNK // 4, 1)) \
                    if split_ok else whole
                # One work-group per (chunk, output), all along dim 0 (GPUs limit dims 1, 2).
                return parts, chunk, (L * parts * n_out, 1, 1), (L, 1, 1)
            g = GROUP if cpu else min(self._gpu_group, n_out)
            parts, chunk = split(self.ctx, -(-n_out // g), n_red, self.width * UNROLL) \
                if split_ok else whole
            return parts, chunk, (_round_up(n_out, g), parts, 1), _local(cpu, g)
        n_kin = space.kept[-1]
        n_kout = n_out // n_kin
        nv = -(-n_kin // self.width)
        g = GROUP if cpu else min(self._gpu_group, nv)
        groups = -(-nv // g) * n_kout
        if not split_ok:
            parts, chunk = whole
        elif cpu and n_red > COL_CHUNK and n_red * n_out >= COL_SPLIT_ELEMS:
            # Rows in small chunks: the work-items of a group then share the cache lines of
            # a chunk (columns far apart in memory alias in the cache otherwise), so these
            # launches keep groups of GROUP items (4096 x 4096 column sum: 5% faster).
            parts = min(-(-n_red // COL_CHUNK), max(1, MAX_GROUPS // groups))
            chunk = _round_up(-(-n_red // parts), UNROLL)
            parts = -(-n_red // chunk)
            return parts, chunk, (_round_up(nv, g) * n_kout, parts, 1), (g, 1, 1)
        else:
            parts, chunk = split(self.ctx, groups, n_red, UNROLL, max(MIN_CHUNK // 64, 1))
        return parts, chunk, (_round_up(nv, g) * n_kout, parts, 1), _local(cpu, g)

    def _args(self, mode: str, space: Space, buffers: list[int], chunk: int,
              out_buffer: int, part: int | None = None,
              gather: tuple[int, int] | None = None) -> list:
        """gather: (final output, zeroed int32 counter per output) for a split launch that
        combines its own partial results (`out_buffer`)."""
        if mode == "cols":
            vec = self.width > 1
        else:
            vec = self.width > 1 and all(st[-1] == 1 for st in space.rstrides)
        args: list = [np.int32(self.MODES[mode]), np.int64(space.n_out),
                      np.int64(space.n_red), np.int64(chunk), np.int32(int(vec))]
        args += [np.int64(n) for n in _pad(space.kept, self.n_keep, 1)]
        args += [np.int64(n) for n in _pad(space.red[:-1], self.n_rest, 1)]
        args.append(np.int64(space.red[-1]))
        for k, buf in enumerate(buffers):
            if mode == "final":  # the operands are not read: `part` is
                args += [BufRef(buf), np.int64(0)] + [np.int64(0)] * (self.n_keep +
                                                                      self.n_rest + 1)
                continue
            ks, rs = space.kstrides[k], space.rstrides[k]
            args += [BufRef(buf), np.int64(space.offsets[k])]
            args += [np.int64(s) for s in _pad(ks, self.n_keep, 0)]
            args += [np.int64(s) for s in _pad(rs[:-1], self.n_rest, 0)]
            args.append(np.int64(rs[-1]))
        args.append(BufRef(out_buffer))
        if self.has_final:
            args.append(BufRef(out_buffer if part is None else part))
        if self.gather:  # unused buffers (gather = 0) point at the output
            fin, cnt = gather if gather is not None else (out_buffer, out_buffer)
            args += [np.int32(gather is not None), BufRef(fin), BufRef(cnt)]
        return args


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
    """Argmax/argmin along one axis: first index on ties, NaN wins (NumPy).

    On a contiguous axis (CPU) a chunk is read twice with vectors: its max (NaN-propagating,
    as Reduce), then the first index holding it. Otherwise one scalar pass keeps the best
    value and its index (with a local-memory tree on GPUs).
    """

    def __init__(self, node, ctx, kernel_prefix) -> None:
        super().__init__(node, ctx, kernel_prefix)
        self.kind = node.op.kind
        self.axis = node.op.axis
        self.dtype = node.inputs[0].dtype
        ctx.check_dtype(self.dtype, node_label(node))
        self.n_keep = node.inputs[0].ndim - 1
        self.tree = tree_size(ctx)
        self.width = 1 if self.tree > 1 else reduce_width(ctx, {self.dtype})
        self.kname = f"{kernel_prefix}_arg{self.kind}"

    def _better(self, v: str, best: str) -> str:
        op = ">" if self.kind == "max" else "<"
        if self.dtype in ("float32", "float64"):
            return f"({v} {op} {best}) || ({v} != {v} && {best} == {best})"
        return f"{v} {op} {best}"

    def _equal(self, v: str, m: str) -> str:
        """v holds the best value m (NaN when m is NaN)."""
        if self.dtype in ("float32", "float64"):
            return f"({v} == {m}) | (({v} != {v}) & ({m} != {m}))"
        return f"{v} == {m}"

    def _vector_code(self) -> dict:
        """The first pass (the chunk's best value, into `m`) and the test of the second."""
        W, U, T = self.width, UNROLL, self.dtype
        vt = cl_type(T, W)

        def step(load: str, acc: str) -> list[str]:
            return [f"const {vt} v = {load};", f"{acc} = {combine(self.kind, T, acc, 'v')};"]

        fold = []
        stride = 1
        while stride < U:
            for u in range(0, U, 2 * stride):
                if u + stride < U:
                    fold.append(f"va{u} = {combine(self.kind, T, f'va{u}', f'va{u + stride}')};")
            stride *= 2
        fold += lane_lines(self.kind, T, W, "va0", "m")
        ident = identity_value(self.kind, T)
        return dict(
            vec_type=vt, identity=CodeCtx(1).literal(ident, T),
            identity_v=CodeCtx(W).literal(ident, T),
            unrolled=[step(vld(T, W, f"in0 + p + i + {u * W}"), f"va{u}") for u in range(U)],
            vector_step=step(vld(T, W, "in0 + p + i"), "va0"),
            scalar_step=[f"const {cl_type(T)} v = in0[p + i];",
                         f"m = {combine(self.kind, T, 'm', 'v')};"],
            fold=fold, vec_equal=self._equal("v", "mv"),
            find_unrolled=[f"const {vt} v{u} = {vld(T, W, f'in0 + p + i + {u * W}')};"
                           for u in range(U)],
            find_any=" | ".join(f"({self._equal(f'v{u}', 'mv')})" for u in range(U)),
            scalar_equal=self._equal("in0[p + i]", "m"),
            preamble=vec_preamble({T}, W), find_load=vld(T, W, "in0 + p + i"))

    def _render(self) -> str:
        T = cl_type(self.dtype)
        params = ["const int remap", "const long n_out", "const long n_axis", "const long chunk",
                  "const int vec", "const int write_vals"]
        params += [f"const long kn{d}" for d in range(self.n_keep)]
        params += [f"__global const {T}* in0", "const long in0_off"]
        params += [f"const long in0_k{d}" for d in range(self.n_keep)]
        params += ["const long in0_sa", "__global long* out0", f"__global {T}* vals",
                   "__global const long* idx_in"]
        comment = sanitize_comment(f"arg{self.kind} over axis {self.axis} of "
                                   f"{self.node.inputs[0]} -> {self.node.outputs[0]}")
        tree = self.tree if self.tree > 1 else 0
        vector = self._vector_code() if self.width > 1 else dict(
            vec_type=T, identity="", identity_v="", unrolled=[], vector_step=[],
            scalar_step=[], fold=[], find_unrolled=[], find_any="", vec_equal="",
            scalar_equal="", preamble="", find_load="")
        return render("argmax.cl.mako", kname=self.kname, comment=comment, tree=tree,
                      width=self.width, unroll=UNROLL, val_type=T, params=params,
                      n_keep=self.n_keep, better=self._better("v", "best"),
                      tree_better=self._better("bv", "av"),
                      tree_worse=self._better("av", "bv"),
                      zero=CodeCtx(1).literal(0, self.dtype),
                      i_first="start + lid" if tree else "start",
                      i_step="nl" if tree else "1", **vector)

    def kernels(self) -> list[KernelDef]:
        return [KernelDef(self.kname, self._render(), [self.node], "argmax.cl.mako")]

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
        n_out = space.n_out
        if n_out == 0:
            return
        parts, chunk, gsize, lsize = self._grid(space, split_ok=True)
        if parts == 1:
            state.work.append(Launch(self.kname, gsize, lsize, self._args(
                space, lay.buffer, chunk, out.buffer, None, None), node))
            return
        # Each chunk's best value and index, then the first best of those (`remap`).
        idx = state.new_buffer((parts, n_out), "int64")
        vals = state.new_buffer((parts, n_out), self.dtype)
        state.work.append(Launch(self.kname, gsize, lsize, self._args(
            space, lay.buffer, chunk, idx.buffer, vals.buffer, None), node))
        kept = ((n_out,), [(1,)]) if self.n_keep else ((), [()])
        partials = Space(kept[0], kept[1], (parts,), [(n_out,)], [0])
        _, chunk, gsize, lsize = self._grid(partials, split_ok=False)
        state.work.append(Launch(self.kname, gsize, lsize, self._args(
            partials, vals.buffer, chunk, out.buffer, None, idx.buffer), node))

    def _grid(self, space: Space, split_ok: bool):
        n_out, n = space.n_out, space.n_red
        L = self.tree
        if L > 1:
            parts, chunk = split(self.ctx, n_out, n, 1, max(MIN_CHUNK // 4, 1)) \
                if split_ok else (1, n)
            return parts, chunk, (L * parts * n_out, 1, 1), (L, 1, 1)
        g = GROUP if self.ctx.is_cpu else min(GPU_GROUP, n_out)
        parts, chunk = split(self.ctx, -(-n_out // g), n, self.width * UNROLL) \
            if split_ok else (1, n)
        return parts, chunk, (_round_up(n_out, g), parts, 1), _local(self.ctx.is_cpu, g)

    def _args(self, space: Space, src: int, chunk: int, out: int, vals: int | None,
              idx_in: int | None) -> list:
        vec = int(self.width > 1 and space.rstrides[0][-1] == 1)
        args: list = [np.int32(int(idx_in is not None)), np.int64(space.n_out),
                      np.int64(space.n_red), np.int64(chunk), np.int32(vec),
                      np.int32(int(vals is not None))]
        args += [np.int64(n) for n in _pad(space.kept, self.n_keep, 1)]
        args += [BufRef(src), np.int64(space.offsets[0])]
        args += [np.int64(s) for s in _pad(space.kstrides[0], self.n_keep, 0)]
        args.append(np.int64(space.rstrides[0][-1]))
        # Unused buffer arguments (write_vals = 0, remap = 0) point at the output.
        args += [BufRef(out), BufRef(out if vals is None else vals),
                 BufRef(out if idx_in is None else idx_in)]
        return args
