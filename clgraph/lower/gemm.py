"""Lowering of Dot22 (C = A . B) to a register-blocked OpenCL kernel or to the host's BLAS,
and of GemmEpilogue (the same product followed by an elementwise program on it).

Two providers, chosen per device by ``config.gemm``:

- ``template``: ``gemm.cl.mako``. Each work-item computes a TM x TN tile of C in TM x NV
  vector accumulators, loading B's rows as vectors; tiles at C's edges are moved back
  inside and store only their own part. A C narrower than a tile, or a B with strided
  rows, is computed element by element. A and B are read in place through their offsets
  and strides. When B's rows are strided, the step computes C^T = B^T A^T
  if A's columns are contiguous, else copies B to a contiguous buffer first (x . W.T).
  No local-memory tiling: on CPUs (PoCL) it was measured slower than register blocking
  alone; GPUs run the same kernel with a smaller tile and 2-d work-groups.
- ``host``: a `HostCall` that maps the buffers into host memory and runs NumPy's BLAS on
  strided views of them, writing straight into the mapped C. On a device whose buffers are
  host memory (a CPU driver such as PoCL) the maps are free. ``auto`` picks it there and
  the template everywhere else; ``host`` forces it on any device (mapping may then copy).
  ``config.host_blas_threads`` caps the host product's BLAS threads (threadpoolctl, when
  installed): BLAS worker threads left spinning beside the CPU driver's own threads fight
  them for the cores on a busy machine (measured below, on `host_blas_limit`).

A GemmEpilogue's program runs, in the template, on the accumulators just before the store
(each extra operand is read at the same elements through its own strides, 0 where it is
broadcast); on the host path, BLAS writes the product into the first output's buffer and
one elementwise kernel then runs the program there in place (it reads each element before
writing it), writing the other outputs beside it. An epilogue linear in the product and
one operand (an SGD update, a bias add: lower/linear_epilogue.py) needs no kernel there:
C is filled with that operand and BLAS's gemm applies alpha and beta itself.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from dataclasses import dataclass

import numpy as np

from clgraph.config import config
from clgraph.expr.dtypes import cl_type
from clgraph.expr.scalar.codegen import CodeCtx
from clgraph.expr.shape_ops import DimShuffle
from clgraph.expr.type import TensorType, shape_str
from clgraph.expr.variable import TensorVariable
from clgraph.lower.elemwise import ElemwiseStep, copy_step, inline_constants, runtime_broadcast
from clgraph.lower.host_work import HostView, host_operands
from clgraph.lower.layout import Layout, broadcast_strides
from clgraph.lower.linear_epilogue import LinearEpilogue, linear_epilogue
from clgraph.lower.plan import BufRef, HostCall, KernelDef, Launch, PrepareState, Step, node_label
from clgraph.lower.render import render, sanitize_comment
from clgraph.runtime.host_blas import gemm_for
from clgraph.runtime.host_memory import host_bytes

__all__ = ["GemmStep", "HostGemm", "Tile", "choose_provider", "host_blas_limit", "tile_for"]


def choose_provider(ctx) -> str:
    """'host' or 'template' for this device under ``config.gemm``."""
    flag = config.gemm
    if flag == "auto":
        return "host" if ctx.is_cpu and ctx.host_unified_memory else "template"
    return flag


@dataclass(frozen=True)
class Tile:
    """Work-item tile: `rows` x (`vecs` * `width`) outputs; `local` is the work-group shape."""

    rows: int
    width: int
    vecs: int
    local: tuple[int, int]

    @property
    def cols(self) -> int:
        return self.width * self.vecs


def tile_for(ctx, dtype: str) -> Tile:
    """The tile for C's dtype. Vectors are capped at 32 bytes (PoCL splits wider ones).

    Measured on PoCL 3.0 (2-core Zen 4, AVX2 code, 1024^3, float32 GFLOP/s): 6 x 16 (two
    float8 per row, 12 accumulators: OpenBLAS's Haswell block) 135-148, 5 x 16 131,
    8 x 16 110, 4 x 16 108, 8 x 8 110, 4 x 24 106, 3 x 24 77; float64 6 x 8 72, 4 x 8 55.
    GPUs get one float4 per row and a 16 x 4 work-group, so neighbouring work-items read
    neighbouring B columns.
    """
    itemsize = np.dtype(dtype).itemsize
    if ctx.is_cpu:
        width = 8 if itemsize <= 4 else 4
        return Tile(rows=6, width=width, vecs=2, local=(16, 1))
    return Tile(rows=4, width=4, vecs=1, local=(16, max(1, min(4, ctx.max_work_group_size // 16))))


def _norm(n: int, stride: int) -> int:
    """An axis of length 1 is never stepped along: call its stride 1 (contiguous)."""
    return 1 if n == 1 else stride


# A B whose rows are strided (x . W.T) is copied to a contiguous buffer first when C has at
# least this many rows: the copy costs O(K N), the gathers it saves O(M K N).
COPY_B_MIN_ROWS = 16


def inner_axis_contiguous(var) -> bool:
    """Statically: `var`'s last axis has stride 1 (or length 1) in every call.

    Graph inputs and kernel outputs are C-contiguous; only views (transposes, slices) can
    make the last axis strided. An unknown view answers False: the kernel handles any stride.
    """
    node = var.owner
    if node is None or var.ndim == 0 or not getattr(node.op, "view_map", None):
        return True
    op, src = node.op, node.inputs[0]
    if isinstance(op, DimShuffle):
        last = op.new_order[-1]
        return last == "x" or (last == src.ndim - 1 and inner_axis_contiguous(src))
    view_mode = getattr(op, "inner_mode", None)
    if view_mode is not None:
        mode = view_mode("contig" if inner_axis_contiguous(src) else "strided", src.ndim)
        return mode in ("contig", "bcast")
    return False


def _contiguous_owned(variables) -> set[int]:
    """Ids of the values below `variables`' chains of views that sit in fresh contiguous
    buffers (kernel outputs): what ElemwiseStep calls `owned`, for operands of an epilogue."""
    owned: set[int] = set()
    stack = list(variables)
    while stack:
        var = stack.pop()
        node = var.owner
        if node is None:
            continue
        if getattr(node.op, "view_map", None):
            stack.append(node.inputs[0])
        else:
            owned.add(id(var))
    return owned


class GemmStep(Step):
    """Dot22: (M, K) x (K, N) -> a new contiguous (M, N) buffer. GemmEpilogue: the same
    product, then its scalar program on (product, extras...) -> one buffer per output."""

    def __init__(self, node, ctx, kernel_prefix, provider: str | None = None) -> None:
        super().__init__(node, ctx, kernel_prefix)
        for var in list(node.inputs) + list(node.outputs):
            ctx.check_dtype(var.dtype, f"{node_label(node)}: {var}")
        self.provider = provider or choose_provider(ctx)
        comp = getattr(node.op, "comp", None)
        prod_dt = comp.in_dtypes[0] if comp is not None else node.outputs[0].dtype
        self.dtypes = (node.inputs[0].dtype, node.inputs[1].dtype, prod_dt)
        self.tile = tile_for(ctx, self.dtypes[2])
        self.kname = f"{kernel_prefix}_dot22" if comp is None else f"{kernel_prefix}_gemm_epi"
        self.copy = None
        if self.provider == "template" and not inner_axis_contiguous(node.inputs[1]):
            copy_node, self.copy = copy_step(node.inputs[1], ctx, f"{kernel_prefix}_copy_b")
        self.epi = None  # the epilogue as an elementwise node over (product, extras...)
        self.linear = None  # on the host path: the epilogue as gemm's alpha and beta
        if comp is not None:
            from clgraph.expr.elemwise import Elemwise

            prod = TensorVariable(TensorType(
                prod_dt, (node.inputs[0].type.shape[0], node.inputs[1].type.shape[1])))
            prod.name = "product"
            self.epi = Elemwise(comp).make_node(prod, *node.inputs[2:])
            # Constants written in as literals; operand 0 stays the product.
            self.epi_comp, self.epi_operands = inline_constants(self.epi)
            if self.provider == "host":
                self.linear = _blas_linear(self.epi_comp, self.epi_operands,
                                           node.outputs[0].dtype)
                if self.linear is None:
                    owned = _contiguous_owned(node.inputs[2:]) | {id(prod)}
                    self.epi_step = ElemwiseStep(self.epi, ctx, f"{kernel_prefix}_epi", owned)
        # Small products on the host cost a round trip each (BLAS waits for the kernels
        # before, the kernels after wait for BLAS); the template's kernel queues behind them.
        # Only inside a loop body (scan), where the round trip recurs every iteration: at
        # the top level one round trip is about what compiling that kernel costs once
        # (~0.2 s cold; the MLP step measured no faster with it).
        self.small = None
        if self.provider == "host" and provider is None and config.gemm == "auto" and \
                IN_LOOP.get() and _may_be_small(node, self.tile):
            self.small = GemmStep(node, ctx, f"{kernel_prefix}s", provider="template")

    def kernels(self) -> list[KernelDef]:
        if self.provider != "template":
            needs_kernel = self.epi is not None and self.linear is None
            own = self.claim(self.epi_step.kernels()) if needs_kernel else []
            return own + (self.small.kernels() if self.small is not None else [])
        copies = self.claim(self.copy.kernels()) if self.copy is not None else []
        a_dt, b_dt, c_dt = self.dtypes
        t = self.tile
        ctype = cl_type(c_dt)
        lanes = [(v, v * t.width + e) for v in range(t.vecs) for e in range(t.width)]
        names = ", ".join(sanitize_comment(v) for v in self.node.inputs[:2])
        outs = ", ".join(sanitize_comment(v) for v in self.node.outputs)
        comment = f"Dot22({names}) -> {outs} ({c_dt})"
        epi = self._epilogue_code(lanes) if self.epi is not None else {
            "outs": [{"ptr": "C", "ctype": ctype, "vreg": "acc%d_%d", "sreg": "sum"}],
            "extras": [], "epi_vec": {}, "epi_scalar": [], "epi_note": ""}
        src = render(
            "gemm.cl.mako", kname=self.kname, comment=sanitize_comment(comment),
            a_type=cl_type(a_dt), b_type=cl_type(b_dt), c_type=ctype,
            vec_type=cl_type(c_dt, t.width), width=t.width, rows=list(range(t.rows)),
            vecs=list(range(t.vecs)), lanes=lanes,
            a_cast="" if a_dt == c_dt else f"({ctype})",
            b_cast="" if b_dt == c_dt else f"({ctype})",
            logical=c_dt == "bool", **epi)
        return copies + [KernelDef(self.kname, src, [self.node], "gemm.cl.mako")]

    def _epilogue_code(self, lanes) -> dict:
        """Template arguments running the epilogue program on accumulator vector (r, v)
        (registers t<r>_<v>_<k>) and on one element `sum` (registers s<k>)."""
        t, comp = self.tile, self.epi_comp
        extras = [{"ptr": f"E{x}", "ctype": cl_type(v.dtype), "dtype": v.dtype}
                  for x, v in enumerate(self.epi_operands[1:], start=1)]
        vec, sca = CodeCtx(t.width), CodeCtx(1)
        epi_vec = {}
        for r in range(t.rows):
            for v in range(t.vecs):
                lines, regs = [], [f"acc{r}_{v}"]
                for e in extras:
                    p = e["ptr"]
                    elems = ", ".join(f"{p}[{p}_off + er{r} * {p}_sr + (j0 + {col}) * {p}_sc]"
                                      for vv, col in lanes if vv == v)
                    vt = cl_type(e["dtype"], t.width)
                    lines.append(f"const {vt} {p.lower()}_{r}_{v} = ({vt})({elems});")
                    regs.append(f"{p.lower()}_{r}_{v}")
                body, out_exprs = comp.body(vec, regs, prefix=f"t{r}_{v}_")
                lines += body
                for k, expr in enumerate(out_exprs):
                    lines.append(f"const {cl_type(comp.out_dtypes()[k], t.width)} "
                                 f"o{k}_{r}_{v} = {expr};")
                epi_vec[(r, v)] = lines
        scalar = [f"const {e['ctype']} {e['ptr'].lower()} = {e['ptr']}[{e['ptr']}_off + "
                  f"i * {e['ptr']}_sr + j * {e['ptr']}_sc];" for e in extras]
        body, out_exprs = comp.body(sca, ["sum"] + [e["ptr"].lower() for e in extras],
                                    prefix="s")
        scalar += body
        outs = [{"ptr": "C" if k == 0 else f"C{k}", "ctype": cl_type(dt),
                 "vreg": f"o{k}_%d_%d", "sreg": out_exprs[k]}
                for k, dt in enumerate(comp.out_dtypes())]
        note = sanitize_comment(f"Epilogue {comp.name}(product, "
                                f"{', '.join(str(v) for v in self.epi_operands[1:])})")
        return {"outs": outs, "extras": extras, "epi_vec": epi_vec, "epi_scalar": scalar,
                "epi_note": note}

    takes_out_layouts = True  # prepare(out_layouts=...) writes into given layouts (scan)

    def prepare(self, state: PrepareState, out_layouts: list | None = None) -> None:
        node = self.node
        a, b = node.inputs[:2]
        la, lb = state.layouts[a], state.layouts[b]
        (m, k), (kb, n) = la.shape, lb.shape
        if k != kb:
            raise ValueError(f"{node_label(node)}: dot: shapes {shape_str(la.shape)} ({a}) and "
                             f"{shape_str(lb.shape)} ({b}) are not aligned: {k} (axis 1) != "
                             f"{kb} (axis 0)")
        if self.small is not None and _small_enough(m, k, n, self.tile):
            self.small.prepare(state, out_layouts)
            return
        if self.epi is not None:
            shapes = [(m, n)] + [state.layouts[v].shape for v in node.inputs[2:]]
            if runtime_broadcast(self.epi, shapes) != (m, n):
                raise ValueError(f"{node_label(node)}: the epilogue's operands "
                                 f"{', '.join(shape_str(s) for s in shapes[1:])} do not "
                                 f"broadcast to the product's shape {shape_str((m, n))}")
        if out_layouts is not None:  # contiguous layouts of the outputs' shapes (scan)
            outs = list(out_layouts)
        else:
            outs = [state.new_buffer((m, n), v.dtype) for v in node.outputs]
        lc = outs[0]
        if self.provider == "host" and node.outputs[0].dtype != self.dtypes[2]:
            lc = state.new_buffer((m, n), self.dtypes[2])  # else BLAS writes in place
        for var, lay in zip(node.outputs, outs):
            state.layouts[var] = lay
        if m == 0 or n == 0:
            return
        if self.provider == "host":
            linear, lx, factors = self.linear, None, ()
            if linear is not None:
                if linear.addend is not None:
                    lx = state.layouts[self.epi_operands[linear.addend]]
                factors = tuple(state.layouts[self.epi_operands[k]] for k in linear.factors)
            reads = [la, lb] + ([lx] if lx is not None else []) + list(factors)
            state.work.append(HostCall(HostGemm(la, lb, lc, self.dtypes, linear, lx, factors),
                                       [BufRef(lay.buffer) for lay in reads + [lc]],
                                       node, writes=(len(reads),)))
            if self.epi is not None and linear is None:
                state.layouts[self.epi.inputs[0]] = lc
                self.epi_step.prepare(state, out_layouts=outs)
            return
        self._prepare_template(state, la, lb, outs)

    def _prepare_template(self, state: PrepareState, la: Layout, lb: Layout,
                          outs: list[Layout]) -> None:
        """The kernel launch, in the formulation that lets it load B's rows as vectors.

        B's rows contiguous: C = A . B directly. Else, A's columns contiguous: C^T = B^T A^T
        (the kernel reads A^T's rows and writes C transposed; the epilogue's operands are
        read transposed too). Else, with enough rows, copy B to a contiguous buffer first.
        Otherwise the kernel gathers B in place.
        """
        (m, k), (_, n) = la.shape, lb.shape
        lc = outs[0]
        a_sr, a_sc = _norm(m, la.strides[0]), _norm(k, la.strides[1])
        b_sr, b_sc = _norm(k, lb.strides[0]), _norm(n, lb.strides[1])
        a = (la.buffer, la.offset, a_sr, a_sc)
        b = (lb.buffer, lb.offset, b_sr, b_sc)
        c = (lc.offset, n, 1)
        extras = []
        for var in self.epi_operands[1:] if self.epi is not None else ():
            lay = state.layouts[var]
            sr, sc = broadcast_strides(lay, lay.shape)
            extras.append((lay.buffer, lay.offset, sr, sc))
        transposed = False
        if b_sc == 1:
            pass
        elif a_sr == 1 and m > 1 and self.dtypes[0] == self.dtypes[1]:
            a, b = (lb.buffer, lb.offset, b_sc, b_sr), (la.buffer, la.offset, a_sc, a_sr)
            c = (lc.offset, 1, n)
            m, n = n, m
            transposed = True
        elif self.copy is not None and m >= COPY_B_MIN_ROWS and k > 0:
            copy_node = self.copy.node
            state.layouts[copy_node.inputs[0]] = lb
            self.copy.prepare(state)  # enqueues the copy
            lb = state.layouts[copy_node.outputs[0]]
            b = (lb.buffer, lb.offset, _norm(k, lb.strides[0]), 1)
        args: list = [np.int64(m), np.int64(n), np.int64(k)]
        for buf, off, sr, sc in (a, b):
            args += [BufRef(buf), np.int64(off), np.int64(sr), np.int64(sc)]
        args += [BufRef(lay.buffer) for lay in outs] + [np.int64(x) for x in c]
        for buf, off, sr, sc in extras:
            if transposed:
                sr, sc = sc, sr
            args += [BufRef(buf), np.int64(off), np.int64(sr), np.int64(sc)]
        t = self.tile
        g0, g1 = -(-n // t.cols), -(-m // t.rows)
        l0, l1 = t.local
        gsize = (-(-g0 // l0) * l0, -(-g1 // l1) * l1)
        state.work.append(Launch(self.kname, gsize, (l0, l1), args, self.node))


# On a CPU device under config.gemm='auto', products of at most this many flops run as the
# template's kernel instead of host BLAS, when C is at least one tile wide and tall (the
# template computes narrower C element by element). Measured on PoCL (2 cores, float32,
# one product between two kernels, host / template): 32x128x128 160/123 us, 256x10x512
# 289/239, 256x64x64 137/128, 128^3 164/158; 64x256x256 (8.4 MFLOP) 145/207, 16x512x512
# 201/255; N = 10: 260/1579. In a scan's loop, 8 chained 32x128x128 products: 556/236 us.
SMALL_TEMPLATE_FLOPS = 4e6
# True while a loop body (a scan's step) is lowered: lower/scan.py sets it.
IN_LOOP: contextvars.ContextVar[bool] = contextvars.ContextVar("IN_LOOP", default=False)


def _may_be_small(node, tile: Tile) -> bool:
    """Statically: the product may be small enough for the template (lengths unknown, or
    known and fitting)."""
    m = node.inputs[0].type.shape[0]
    k = node.inputs[0].type.shape[1]
    n = node.inputs[1].type.shape[1]
    if (m is not None and m < tile.rows) or (n is not None and n < tile.cols):
        return False
    known = [d for d in (m, k, n) if d is not None]
    return not known or 2.0 * float(np.prod(known)) <= SMALL_TEMPLATE_FLOPS


def _small_enough(m: int, k: int, n: int, tile: Tile) -> bool:
    return m >= tile.rows and n >= tile.cols and 2.0 * m * n * k <= SMALL_TEMPLATE_FLOPS


# BLAS threads for host products smaller than HOST_BLAS_LIMIT_FLOPS: config.host_blas_threads
# (0 leaves the BLAS library's own count). Measured on 2 cores with PoCL
# (benchmarks/training.py), after the kernels were made fast: on a quiet machine BLAS's own 2
# threads win (MLP step 5.8 ms vs 10.5 ms with 1; LeNet step 33 vs 38 ms); under load from
# other processes its workers, which spin after each product beside PoCL's threads, made steps
# bimodal (MLP 22-130 ms, LeNet 120-490 ms, against 14-15 and 100-180 ms with 1 thread).
# So the default is BLAS's own count, and 1 is the setting for a shared, busy machine.
HOST_BLAS_LIMIT_FLOPS = 1e9
_blas_controller: list = []  # [ThreadpoolController or None], made at the first product


def host_blas_threads() -> int | None:
    """The BLAS thread cap for small host products, or None (BLAS's own count)."""
    return config.host_blas_threads or None


_NO_LIMIT = contextlib.nullcontext()  # reusable: it holds no state


def host_blas_limit(flops: float = 0.0):
    """A context that caps the BLAS pool at host_blas_threads() for a product of `flops`
    (below HOST_BLAS_LIMIT_FLOPS), or does nothing (no cap set, no threadpoolctl, or a large
    product)."""
    threads = host_blas_threads()
    if threads is None or flops >= HOST_BLAS_LIMIT_FLOPS:
        return _NO_LIMIT
    if not _blas_controller:
        try:  # made lazily: it lists the BLAS libraries loaded at that moment
            from threadpoolctl import ThreadpoolController

            _blas_controller.append(ThreadpoolController())
        except Exception:  # not installed (or broken): leave BLAS as it is
            _blas_controller.append(None)
    controller = _blas_controller[0]
    if controller is None:
        return contextlib.nullcontext()
    try:
        return controller.limit(limits=threads, user_api="blas")
    except Exception:
        return contextlib.nullcontext()


@dataclass(frozen=True)
class HostGemm:
    """C = A . B with NumPy's BLAS on the buffers' host memory; run as `HostCall.fn`.

    The executor calls it once the commands on its buffers have finished. HostBuffers
    (runtime/host_memory.py) are used in place; other buffers are mapped: the last map
    blocks on the in-order queue (one round trip) and the unmaps are enqueued behind the
    product, so later commands see C. A buffer that holds both A and B is mapped once.
    """

    a: Layout
    b: Layout
    c: Layout
    dtypes: tuple[str, str, str]
    # C = alpha * A . B + beta * X (`addend`, broadcast to C) in one gemm call, or None;
    # `factors`: the scalar operands alpha and beta read (linear.factors, in that order)
    linear: LinearEpilogue | None = None
    addend: Layout | None = None
    factors: tuple = ()

    @functools.cached_property
    def _views(self) -> list[HostView]:
        lays = [self.a, self.b] + ([self.addend] if self.addend is not None else []) + \
            list(self.factors) + [self.c]
        dts = list(self.dtypes[:2]) + [self.dtypes[2]] * (len(lays) - 2)
        return [HostView.of(lay, dt) for lay, dt in zip(lays, dts)]

    def __call__(self, ctx, bufs) -> None:
        last = self._last_operands
        if last and last[0] == bufs:  # the same host buffers as the last call (a binding's)
            self._product(*last[1])
            return
        views, given = self._views, list(bufs)
        in_place = self.addend is not None and bufs[2] == bufs[-1]  # (update_in_place)
        if in_place:  # C is X: mapped once, its contents kept
            bufs, views = bufs[:2] + bufs[3:], views[:2] + views[3:]
        with host_operands(ctx, bufs, views, keep_out=in_place) as got:
            x, y, out = got[0], got[1], got[-1]
            addend = out if in_place else got[2] if self.addend is not None else None
            scalars = got[len(got) - 1 - len(self.factors):-1]
            self._product(x, y, out, addend, scalars)
            last.clear()
            if all(host_bytes(buf) is not None for buf in bufs):  # views stay valid
                last += [given, (x, y, out, addend, scalars)]

    @functools.cached_property
    def _last_operands(self) -> list:
        """[buffers, _product's arguments] of the last call on host memory, or []: a
        binding calls with the same buffers every time, and making the NumPy views again
        cost ~5 µs a product (a scan's step is ~25 µs). The views keep the buffers alive."""
        return []

    def _product(self, x: np.ndarray, y: np.ndarray, out: np.ndarray,
                 addend: np.ndarray | None, scalars: list) -> None:
        lin = self.linear
        values = dict(zip(lin.factors, scalars)) if lin is not None and scalars else {}
        beta = 0.0 if lin is None or addend is None else lin.beta.value(values)
        if addend is not None and addend is not out:
            np.copyto(out, addend)  # gemm scales it by beta in place
        if self.a.shape[1] == 0:  # an empty sum: the product is 0
            if addend is None:
                out[...] = 0
            else:
                out *= beta
            return
        c_dt = out.dtype
        if x.dtype != c_dt or y.dtype != c_dt:
            x, y = x.astype(c_dt, copy=False), y.astype(c_dt, copy=False)
        with host_blas_limit(self._flops):
            if lin is None:
                _dot_into(x, y, out)
            else:
                self._gemm(lin.alpha.value(values), x, y, beta, out)

    @functools.cached_property
    def _flops(self) -> float:
        (m, k), n = self.a.shape, self.b.shape[1]
        return 2.0 * m * n * k

    @functools.cached_property
    def _gemm(self):
        """The host BLAS's gemm for C's dtype, looked up once (not on every call)."""
        return gemm_for(self.dtypes[2])


def _dot_into(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """out = x . y through the BLAS routine its shape wants: a row or a column of C is a
    matrix-vector product (gemv), one element an inner product (dot). Through gemm, a
    vector dot of 1e5 elements took ~40 µs, NumPy's ~9."""
    m, n = out.shape
    if m == 1 and n == 1:
        out[0, 0] = np.dot(x[0], y[:, 0])
    elif m == 1:
        np.dot(x[0], y, out=out[0])
    elif n == 1:
        np.dot(x, y[:, 0], out=out[:, 0])
    else:
        np.dot(x, y, out=out)


def _blas_linear(comp, operands: list, out_dtype: str) -> LinearEpilogue | None:
    """The epilogue as gemm's alpha and beta, where it is linear, every operand it reads
    has the output's dtype, and the host BLAS has a gemm with beta (runtime/host_blas.py).
    `operands`: the program's inputs (0: the product); scalars among them may scale."""
    scalars = frozenset(k for k, v in enumerate(operands) if k and all(
        d == 1 for d in v.type.shape))
    lin = linear_epilogue(comp, scalars)
    if lin is None or gemm_for(out_dtype) is None or comp.out_dtypes()[0] != out_dtype:
        return None
    read = ([lin.addend] if lin.addend is not None else []) + list(lin.factors)
    if any(comp.in_dtypes[k] != out_dtype for k in read):
        return None
    return lin
