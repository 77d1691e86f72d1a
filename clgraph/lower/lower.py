"""lower(fgraph, ctx) -> Plan: one Step per node, all kernels in one program source."""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from clgraph.expr.array_ops import ARange
from clgraph.expr.blas import BatchedDot, Dot22, GemmEpilogue
from clgraph.expr.dtypes import is_float
from clgraph.expr.elemwise import Elemwise
from clgraph.expr.graph import FunctionGraph, graph_inputs
from clgraph.expr.ifelse import IfElse
from clgraph.expr.join import Join
from clgraph.expr.reduce import Argmax, Reduce
from clgraph.expr.scan_op import Scan
from clgraph.expr.shape_infer import MakeVector, Shape, Shape_i
from clgraph.expr.shape_ops import DimShuffle, Reshape
from clgraph.expr.subtensor import IncSubtensor, Subtensor
from clgraph.expr.variable import Constant, SharedVariable, Variable
from clgraph.lower.batched_gemm import BatchedGemmStep
from clgraph.lower.branches import branch_guards, lazy_order
from clgraph.lower.elemwise import ElemwiseStep
from clgraph.lower.gemm import GemmStep
from clgraph.lower.ifelse import IfElseStep
from clgraph.lower.inc_subtensor import IncSubtensorStep
from clgraph.lower.join import JoinStep
from clgraph.lower.layout import Layout, contiguous_strides
from clgraph.lower.memory import (
    check_input_sizes,
    check_new_allocs,
    plan_memory,
    update_in_place,
)
from clgraph.lower.plan import KernelDef, PrepareState, Step, SyncPoint, annotate_error, node_label
from clgraph.lower.reduce import ArgmaxStep, ReduceStep
from clgraph.lower.render import program_source
from clgraph.lower.scan import ScanStep
from clgraph.lower.schedule import schedule_host_work
from clgraph.lower.shape_steps import HostValueStep, ReshapeStep
from clgraph.lower.views import ViewStep

# Op type -> Step class. Ops of later stages register here (see register_lowering).
LOWERINGS: dict[type, type[Step]] = {
    DimShuffle: ViewStep, Subtensor: ViewStep, Reshape: ReshapeStep,
    IncSubtensor: IncSubtensorStep, Join: JoinStep,
    Reduce: ReduceStep, Argmax: ArgmaxStep,
    Shape: HostValueStep, Shape_i: HostValueStep, MakeVector: HostValueStep,
    Dot22: GemmStep, GemmEpilogue: GemmStep, IfElse: IfElseStep, Scan: ScanStep,
    BatchedDot: BatchedGemmStep,
}
# Neural-network ops (issue 6): softmax, row picks, conv, pool, random numbers.
from clgraph.lower.nnet_registry import NNET_LOWERINGS  # noqa: E402

LOWERINGS.update(NNET_LOWERINGS)
# Indexing and array ops (issue 3): gather, scatter, arange, alloc, scans, sorts.
from clgraph.lower.array_registry import ARRAY_LOWERINGS  # noqa: E402

LOWERINGS.update(ARRAY_LOWERINGS)

# The dtypes of integer scalar inputs whose values the host keeps (indices and lengths)
_HOST_INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")


def register_lowering(op_type: type):
    def deco(step_cls: type[Step]) -> type[Step]:
        LOWERINGS[op_type] = step_cls
        return step_cls
    return deco


def _step_for(node, ctx, prefix: str, owned: set, host_vars: set) -> Step:
    if isinstance(node.op, Elemwise):
        if all(id(v) in host_vars or isinstance(v, Constant) for v in node.inputs):
            # arithmetic on lengths (a mean's 1/n): computed on the host per shape signature,
            # like the lengths themselves, instead of a one-element kernel
            return HostValueStep(node, ctx, prefix)
        return ElemwiseStep(node, ctx, prefix, owned)
    for cls in type(node.op).__mro__:
        if cls in LOWERINGS:
            return LOWERINGS[cls](node, ctx, prefix)
    raise NotImplementedError(f"no device lowering for {node.op} (op type "
                              f"{type(node.op).__name__}); every op must run on the device")


class Plan:
    """Steps in order, the program source, and per-shape prepared launches (cached)."""

    MAX_SHAPE_CACHE = 64

    def __init__(self, fgraph: FunctionGraph, ctx, prefix: str = "k",
                 updates: Sequence = ()) -> None:
        """`prefix` starts every kernel name (a Scan's inner plan nests its own); `updates`:
        (shared variable input, its new value) pairs that may be written in place."""
        self.fgraph = fgraph
        self.ctx = ctx
        consts = [v for v in fgraph.variables if isinstance(v, Constant)
                  and v not in fgraph.inputs]
        # Slots 0..n-1 hold the graph inputs (explicit, then shared), then the constants.
        self.slot_vars: list[Variable] = list(fgraph.inputs) + consts
        owned = {id(v) for v in self.slot_vars}
        host_vars: set[int] = set()  # values HostValueStep computes per shape signature
        self.steps: list[Step] = []
        order = fgraph.toposort()
        # lazy ifelse: per node, the branch conditions it waits for (lower/branches.py)
        self.guards = branch_guards(fgraph, order)
        for i, node in enumerate(order):
            try:
                step = _step_for(node, ctx, f"{prefix}{i}", owned, host_vars)
            except Exception as exc:
                annotate_error(exc, node)
                raise
            if isinstance(step, HostValueStep):
                host_vars.update(id(o) for o in node.outputs)
            if not isinstance(step, ViewStep) and not getattr(step, "is_view", False):
                owned.update(id(o) for o in node.outputs)
            self.steps.append(step)
        t0 = time.perf_counter()
        rendered = {id(s): s.kernels() for s in self.steps}
        self.render_seconds = time.perf_counter() - t0  # Mako rendering, for profiles
        self.steps = lazy_order(schedule_host_work(self.steps, rendered), self.guards)
        self.kernel_defs: list[KernelDef] = [k for s in self.steps for k in rendered[id(s)]]
        self.kernel_alias = _dedupe(self.kernel_defs)
        self.source = self._assemble()
        self._prepared: OrderedDict[tuple, PrepareState] = OrderedDict()
        self.updates = list(updates)

    def _assemble(self) -> str:
        return program_source([k.source for k in self.kernel_defs
                               if k.name not in self.kernel_alias])

    @cached_property
    def constants(self) -> list[Constant]:
        return [v for v in self.slot_vars if isinstance(v, Constant)]

    @cached_property
    def constant_shapes(self) -> tuple:
        """The constants' shapes, the tail of every prepare key (computed once, not per call)."""
        return tuple(c.data.shape for c in self.constants)

    @cached_property
    def host_scalar_slots(self) -> list[int]:
        """Scalar inputs whose values join the shapes in the prepare key: integers, so they
        can serve as indices and lengths (Theano's `x[i * bs:(i + 1) * bs]`), and floats
        that an arange's bounds are computed from (they fix its length)."""
        bounds = _arange_bound_inputs(self.fgraph)
        return [k for k, v in enumerate(self.fgraph.inputs)
                if v.ndim == 0 and not isinstance(v, SharedVariable) and
                (v.dtype in _HOST_INT_DTYPES or (is_float(v.dtype) and id(v) in bounds))]

    def prepare(self, shapes: tuple[tuple[int, ...], ...], host_scalars: tuple = ()
                ) -> PrepareState:
        """Layouts and launches for inputs of these shapes (slot order), computed once."""
        key = (shapes, host_scalars)
        hit = self._prepared.get(key)
        if hit is not None:
            self._prepared.move_to_end(key)
            return hit
        state = PrepareState()
        state.n_slots = len(self.slot_vars)
        for slot, (var, shape) in enumerate(zip(self.slot_vars, shapes)):
            state.layouts[var] = Layout(slot, shape, contiguous_strides(shape), 0)
            state.slot_dtypes[slot] = var.dtype
            if isinstance(var, Constant):
                state.host_values[var] = var.data
        for slot, value in zip(self.host_scalar_slots, host_scalars):
            var = self.slot_vars[slot]
            state.host_values[var] = np.asarray(value, dtype=var.dtype)
        check_input_sizes(self.ctx, self.slot_vars, state)
        self._prepare_steps(state, 0)
        if state.sync is None:  # states that resume later keep one buffer per slot
            keep = {state.layouts[v].buffer for v in self.fgraph.outputs}
            plan_memory(state, keep)
            update_in_place(state, self.updates, self.fgraph.outputs)
        self._prepared[key] = state
        if len(self._prepared) > self.MAX_SHAPE_CACHE:
            self._prepared.popitem(last=False)
        return state

    def _prepare_steps(self, state: PrepareState, first: int) -> None:
        """Prepare steps[first:] into `state`, stopping at a host sync point (state.sync)."""
        for idx in range(first, len(self.steps)):
            step = self.steps[idx]
            start = len(state.work)
            try:
                guards = self.guards.get(id(step.node), ())
                if guards and not _branch_taken(guards, state):
                    state.step_ranges.append((start, start))  # not prepared: no work
                    continue
                needs = step.sync_vars + tuple(c for c, _ in guards)
                if needs and any(v not in state.host_values for v in needs):
                    step.presync(state)
                    unknown = [v for v in needs if v not in state.layouts]
                    if unknown:  # lazy_order computes every condition before its branches
                        raise RuntimeError(f"{node_label(step.node)}: {unknown[0]} is needed "
                                           "on the host before it is computed")
                    wanted = [v for s in self.steps[idx:] for v in self._needs(s)
                              if v in state.layouts and v not in state.host_values]
                    state.sync = SyncPoint(idx, list(dict.fromkeys(wanted)))
                    return
                n_allocs = len(state.allocs)
                step.prepare(state)
                check_new_allocs(self.ctx, state, n_allocs, step.node.outputs)
            except Exception as exc:
                annotate_error(exc, step.node, state)
                raise
            state.step_ranges.append((start, len(state.work)))
            track_host_values(step.node, state)

    def _needs(self, step: Step) -> tuple:
        """Values `step` needs on the host: its own sync vars and its guards' conditions."""
        return step.sync_vars + tuple(c for c, _ in self.guards.get(id(step.node), ()))

    def resume(self, state: PrepareState, values: list) -> PrepareState:
        """The continuation of partial `state` once its sync vars have these host values
        (read back by the executor); cached in `state` by the values."""
        key = tuple((v.dtype.str, v.shape, v.tobytes()) for v in map(np.asarray, values))
        hit = state.resumed.get(key)
        if hit is not None:
            return hit
        new = state.fork()
        for var, value in zip(state.sync.vars, values, strict=True):
            new.host_values[var] = np.asarray(value)
        self._prepare_steps(new, state.sync.step)
        state.resumed[key] = new
        if len(state.resumed) > self.MAX_SHAPE_CACHE:
            state.resumed.pop(next(iter(state.resumed)))
        return new


_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def _dedupe(defs: list[KernelDef]) -> dict[str, str]:
    """Kernels whose code is the same but for their name and comments (a Join's copies, GEMMs
    of the same dtypes) are built once: name -> the name of the kernel it reuses."""
    seen: dict[str, str] = {}
    alias: dict[str, str] = {}
    for k in defs:
        code = _COMMENT.sub("", k.source)
        if code.count("__kernel") != 1:
            continue  # a source holding several kernels is kept as it is
        # (also in the names of a kernel's own helper functions: <name>_epi)
        key = re.sub(rf"\b{re.escape(k.name)}(?![A-Za-z0-9])", "@", code)
        if key in seen:
            alias[k.name] = seen[key]
        else:
            seen[key] = k.name
    return alias


def _branch_taken(guards, state: PrepareState) -> bool:
    """False once a guard's condition is known and selects the other branch (a node inside
    a branch not taken is never prepared, so its inner conditions are not needed)."""
    for cond, then in guards:
        value = state.host_values.get(cond)
        if value is None:
            return True  # not known yet: the step's sync point reads it
        if bool(np.asarray(value)) != then:
            return False
    return True


def _arange_bound_inputs(fgraph: FunctionGraph) -> set[int]:
    """ids of the graph inputs that arange bounds are computed from."""
    bounds = [v for node in fgraph.toposort() if isinstance(node.op, ARange)
              for v in node.inputs]
    return {id(v) for v in graph_inputs(bounds)} if bounds else set()


def _host_trackable(var, state: PrepareState) -> bool:
    """Small integer results (shape arithmetic) and float scalars (an arange bound computed
    from a float scalar input) are worth computing on the host."""
    lay = state.layouts.get(var)
    if lay is None:
        return False
    if var.dtype in ("int8", "int16", "int32", "int64", "bool"):
        return lay.size <= 64
    return is_float(var.dtype) and var.ndim == 0


def track_host_values(node, state: PrepareState) -> None:
    """Results of host-known inputs are known too where `_host_trackable`."""
    outs = node.outputs
    if any(o in state.host_values for o in outs):
        return
    if not all(i in state.host_values for i in node.inputs):
        return
    if not all(_host_trackable(o, state) for o in outs):
        return
    try:
        vals = node.op.perform(node, [state.host_values[i] for i in node.inputs])
    except NotImplementedError:
        return
    for o, v in zip(outs, vals):
        state.host_values[o] = v
