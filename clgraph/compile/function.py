"""function(): graph -> simplified graph -> Plan -> one built program, callable.

A call checks every argument and prepares every launch (shapes) before anything is
enqueued, so a bad call leaves shared variables untouched and the function usable.
Updates are applied together, after every output is computed.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyopencl.array as cl_array

from clgraph.compile.inputs import NO_DEFAULT, Signature, make_arg
from clgraph.compile.io import In, Out
from clgraph.config import config
from clgraph.expr.graph import FunctionGraph, clone_graph, graph_inputs, toposort
from clgraph.expr.variable import Constant, SharedVariable, Variable
from clgraph.lower.layout import contiguous_strides
from clgraph.runtime import darray
from clgraph.runtime.darray import (
    as_device_array,
    device_array_buffer,
    download,
    upload_input,
)


class UnusedInputError(ValueError):
    pass


class MissingInputError(ValueError):
    pass


def _as_list(x) -> tuple[list, bool]:
    if x is None:
        return [], False
    if isinstance(x, (list, tuple)):
        return list(x), False
    return [x], True


def _updates_list(updates) -> list[tuple[SharedVariable, Variable]]:
    if updates is None:
        return []
    if isinstance(updates, dict) and not isinstance(updates, OrderedDict) and len(updates) > 1:
        pairs = list(updates.items())  # dicts keep insertion order in Python 3.7+
    elif isinstance(updates, dict):
        pairs = list(updates.items())
    else:
        pairs = list(updates)
    from clgraph.tensor.basic import as_tensor_variable

    out = []
    seen = set()
    for pair in pairs:
        if len(pair) != 2:
            raise TypeError(f"updates must be (shared variable, expression) pairs, got {pair!r}")
        var, expr = pair
        if not isinstance(var, SharedVariable):
            raise TypeError(f"updates: {var} is not a shared variable; only shared variables "
                            "can be updated")
        if id(var) in seen:
            raise ValueError(f"updates: shared variable {var} is updated twice")
        seen.add(id(var))
        expr = as_tensor_variable(expr)
        if expr.dtype != var.dtype:
            raise TypeError(f"updates: the update of {var} has dtype {expr.dtype}, but the shared "
                            f"variable is {var.dtype}; cast it (expr.astype('{var.dtype}'))")
        if expr.ndim != var.ndim or any(a is not None and b is not None and a != b for a, b in
                                        zip(expr.type.shape, var.type.shape)):
            raise TypeError(f"updates: the update of {var} has type {expr.type}, which does not "
                            f"fit the shared variable's type {var.type}")
        out.append((var, expr))
    return out


def _default_updates(outs: list, updates: list, no_default_updates: Any) -> list:
    """The default updates (random streams' states) of the shared variables the graph reads
    and `updates` does not update; `no_default_updates`: True skips them all, a list skips
    those of its shared variables (Theano's rule)."""
    if no_default_updates is True:
        return []
    if no_default_updates is False:
        skip: set[int] = set()
    elif isinstance(no_default_updates, (list, tuple)):
        skip = {id(v) for v in no_default_updates}
    else:
        raise TypeError("no_default_updates must be a bool or a list of shared variables, got "
                        f"{type(no_default_updates).__name__}")
    explicit = {id(s) for s, _ in updates}
    return [(v, v.default_update) for v in graph_inputs(outs + [e for _, e in updates])
            if isinstance(v, SharedVariable) and v.default_update is not None
            and id(v) not in explicit and id(v) not in skip]


def _givens_list(givens: Any) -> list:
    if not givens:
        return []
    return list(givens.items()) if isinstance(givens, dict) else list(givens)


def _apply_givens(outs: list, updates: list, givens: list) -> tuple[list, list]:
    """Outputs and update expressions with every `old` of the (old, new) pairs replaced."""
    from clgraph.tensor.basic import as_tensor_variable

    mapping = {}
    for old, new in givens:
        new = as_tensor_variable(new)
        if new.type.dtype != old.type.dtype or new.ndim != old.ndim:
            raise TypeError(f"givens: {old} of type {old.type} is replaced by {new} of "
                            f"type {new.type}")
        mapping[old] = new
    all_out, _ = clone_graph(outs + [e for _, e in updates], mapping)
    return all_out[:len(outs)], [(s, e) for (s, _), e in zip(updates, all_out[len(outs):])]


class Function:
    """A compiled function. Call it with one value per input (by position, or by name as a
    keyword); inputs given as `In(..., value=...)` may be omitted."""

    def __init__(self, inputs, outputs, updates, givens, mode, profile, on_unused_input,
                 allow_input_downcast, name, no_default_updates: Any = False) -> None:
        from clgraph.compile.mode import get_mode

        t_start = time.perf_counter()
        self.name = name
        self.allow_input_downcast = allow_input_downcast
        # Theano's fast path: when True, positional calls skip every argument check and
        # conversion (the values must then be arrays of exactly the inputs' types).
        self.trust_input = False
        self.mode = get_mode(mode)
        inputs = list(inputs or [])
        # What compiles this function again when it is unpickled (`__reduce__`).
        self._spec: dict[str, Any] = dict(
            inputs=inputs, mode=self.mode, profile=bool(profile),
            on_unused_input=on_unused_input, allow_input_downcast=allow_input_downcast,
            name=name, no_default_updates=no_default_updates)
        args = [make_arg(v, i, allow_input_downcast) for i, v in enumerate(inputs)]
        if len({id(a.variable) for a in args}) != len(args):
            raise ValueError("the same variable is given twice in the function's inputs")
        self.signature = Signature(args)
        self.inputs = [a.variable for a in args if a.state is None]
        outs, self.single = _as_list(outputs)
        self._spec["outputs"] = outs[0] if self.single else list(outs)
        self.borrow = [o.borrow if isinstance(o, Out) else False for o in outs]
        outs = [o.variable if isinstance(o, Out) else o for o in outs]
        from clgraph.tensor.basic import as_tensor_variable

        outs = [as_tensor_variable(o) for o in outs]
        user_updates = _updates_list(updates)
        self._spec["updates"] = list(user_updates)
        self._spec["givens"] = _givens_list(givens) or None
        states = [a for a in args if a.state is not None]
        updates = user_updates + [(a.state, a.update) for a in states]
        updates += _default_updates(outs, updates, no_default_updates)
        givens = _givens_list(givens) + [(a.variable, a.state) for a in states]
        if givens:
            outs, updates = _apply_givens(outs, updates, givens)
        self.updates = updates
        self.shared = self._check_graph_inputs(outs, updates, on_unused_input)
        # Updates must land in fresh buffers the shared variable can own: copy views/aliases.
        upd_exprs = [_own_buffer(e) for _, e in updates]
        fgraph = FunctionGraph(self.inputs + self.shared, outs + upd_exprs)
        self.timings: dict[str, float] = {}
        self._optimize(fgraph)
        self.n_out = len(outs)
        self._build_runtime(self.maker_fgraph, self._in_place_updates(), profile)
        self.timings["total"] = time.perf_counter() - t_start
        if config.debug >= 1:
            spent = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in self.timings.items())
            n = sum(k.alt_of is None for k in self.plan.kernel_defs)  # copies not counted
            print(f"clgraph: compiled a function with {n} kernels: "
                  f"{spent}", file=sys.stderr)
        if config.print_kernels or config.debug >= 4:
            print(self.kernels_text())

    def _check_graph_inputs(self, outs: list, updates: list, on_unused_input: str) -> list:
        """The shared variables the graph reads or updates; raises for a free variable that
        is not an input, and for unused inputs unless `on_unused_input` allows them."""
        needed = graph_inputs(outs + [e for _, e in updates])
        needed_ids = {id(v) for v in needed}
        for i, v in enumerate(self.inputs):
            if id(v) not in needed_ids and on_unused_input != "ignore":
                msg = (f"input {i} ({v}) is not used to compute the outputs; pass "
                       "on_unused_input='warn' or 'ignore' to allow it")
                if on_unused_input == "raise":
                    raise UnusedInputError(msg)
                import warnings

                warnings.warn(msg, stacklevel=4)
        input_ids = {id(v) for v in self.inputs}
        shared = []
        for v in needed:
            if isinstance(v, SharedVariable):
                shared.append(v)
            elif not isinstance(v, Constant) and id(v) not in input_ids:
                raise MissingInputError(
                    f"variable {v} (type {v.type}) is needed to compute the outputs but is not "
                    "in the function's inputs (nor a shared variable or a constant)")
        for s, _ in updates:
            if s not in shared:
                shared.append(s)
        return shared

    def _optimize(self, fgraph: FunctionGraph) -> None:
        """The rewrites (`maker_fgraph`), checked by DebugMode when its mode asks."""
        from clgraph.simplify import optimize

        t0 = time.perf_counter()
        self.rewrite_checker = None
        on_pass = None
        if self.mode.linker == "debug" and self.mode.check_rewrites:
            from clgraph.compile.debugmode import RewriteChecker

            self.rewrite_checker = RewriteChecker(self.mode)
            on_pass = self.rewrite_checker.on_pass
        # A mode's exclusions name passes or rules, as config.optimizer_excluding does.
        excluding = ":".join([config.optimizer_excluding, *self.mode.excluded]).strip(":")
        with config.change_flags(optimizer_excluding=excluding):
            self.maker_fgraph = optimize(fgraph, self.mode.optimizer, self.timings, on_pass,
                                         including=self.mode.included)
        self.timings["optimize"] = time.perf_counter() - t0
        if self.rewrite_checker is not None:
            test_values = self.rewrite_checker.test_values(self.inputs)
            if test_values is not None:  # check the rewrites now, on the test values
                self.rewrite_checker.check(self.inputs, test_values)

    def _in_place_updates(self) -> list:
        """(shared variable's input, its new value) pairs: a host product may then write an
        update like W - lr * A.B into W's own buffer (lower/memory.py, update_in_place).
        Not in checked modes: a check that fails later in the call must leave W as it was."""
        if self.mode.linker in ("debug", "nanguard"):
            return []
        graph_in, graph_out = self.maker_fgraph.inputs, self.maker_fgraph.outputs
        n_in = len(self.inputs)
        return [(graph_in[n_in + self.shared.index(s)], graph_out[self.n_out + k])
                for k, (s, _) in enumerate(self.updates)]

    def _build_runtime(self, fgraph: FunctionGraph, in_place: list, profile: Any) -> None:
        """Plan, program (from the kernel cache when it holds it), checker and profile."""
        from clgraph.lower.lower import Plan
        from clgraph.runtime.cache import stats
        from clgraph.runtime.device import get_context
        from clgraph.runtime.execute import Executor

        self.ctx = get_context()
        for v in self.inputs:
            self.ctx.check_dtype(v.dtype, f"input {v}")
        t0 = time.perf_counter()
        self.plan = Plan(fgraph, self.ctx, updates=in_place)
        self.timings["lower"] = time.perf_counter() - t0
        hits = stats.memory_hits + stats.disk_hits
        self.executor = Executor(self.plan, self.ctx)
        self.timings["render"] = self.plan.render_seconds
        self.timings["build"] = self.executor.build_seconds
        self.cache_hits = stats.memory_hits + stats.disk_hits - hits
        self._make_checker()
        self.profile = None
        if profile or config.profile:
            from clgraph.runtime.profile import Profile

            self.profile = Profile(self)
            self.executor.profile = self.profile
        self._call_setup()

    def _make_checker(self) -> None:
        self._checker = None
        if self.mode.linker == "debug":
            from clgraph.compile.debugmode import DebugChecker

            self._checker = DebugChecker(self)
        elif self.mode.linker == "nanguard":
            from clgraph.compile.nanguard import NanGuard

            self._checker = NanGuard(self)

    def __reduce__(self):
        """Pickled as what compiles it (Theano): inputs, outputs, updates, givens, mode and
        options; loading compiles it again on the current device. Shared variables pickled
        with it come back as the very objects its graph uses (pickle keeps one object per
        object), so the loaded function updates the loaded shared variables."""
        return (_compile_again, (_nodes_in_order(self._spec), self._spec))

    @property
    def maker(self):
        return self

    @property
    def fgraph(self) -> FunctionGraph:
        return self.maker_fgraph

    def kernels(self) -> list[str]:
        """The OpenCL source of every kernel this function runs, each headed by a comment
        naming the nodes it computes (for a fused kernel, every original node), with the
        user's line that created each."""
        from clgraph.printing import kernel_header

        entries: dict[str, str] = {}
        for k in self.plan.kernel_defs:
            if k.alt_of is not None and k.alt_of in entries:  # shown with its kernel
                entries[k.alt_of] += f"\n{k.source}"
            else:
                entries[k.name] = f"{kernel_header(k)}\n{k.source}"
        return list(entries.values())

    def kernels_text(self) -> str:
        return "\n".join(self.kernels())

    @property
    def program_source(self) -> str:
        return self.plan.source

    # ------------------------------------------------------------ Theano's Function.copy
    def copy(self, share_memory: bool = False, swap: dict | None = None,
             delete_updates: bool = False, name: str | None = None,
             profile: Any = None) -> Function:
        """A copy of this function (Theano's `Function.copy`), without compiling again.

        As in Theano, the copy reads and updates the same shared variables as this function,
        except those `swap` ({old shared variable: new one of the same type}) replaces; the
        states of `In(..., update=...)` inputs are copied (each function then has its own),
        defaults are kept. `delete_updates=True`: the copy updates nothing (also no random
        stream states; a value given for a state input is still stored). `share_memory=True`:
        the copy runs on this function's plan and buffers (its intermediate values);
        otherwise it gets its own, with the same kernels (the built program is cached).
        `name`: default this name + " copy"; `profile` as in `function`.
        """
        new = object.__new__(Function)
        new.__dict__.update(self.__dict__)
        new.name = name or (f"{self.name} copy" if self.name else None)
        replace = self._swap_map(swap)
        new.signature = self._copied_signature(replace)
        new.shared = [replace.get(id(v), v) for v in self.shared]
        new.updates = [] if delete_updates else \
            [(replace.get(id(s), s), e) for s, e in self.updates]
        new.timings = dict(self.timings)
        wants_profile = bool(profile or config.profile)
        if share_memory and not delete_updates and self.profile is None and not wants_profile:
            new._call_setup()  # same plan, executor and checker
            return new
        fgraph = self.maker_fgraph
        if delete_updates:
            fgraph = FunctionGraph(fgraph.inputs, fgraph.outputs[:self.n_out])
        new.maker_fgraph = fgraph
        new._build_runtime(fgraph, [] if delete_updates else self.plan.updates, profile)
        return new

    def __copy__(self) -> Function:
        return self.copy()

    def _swap_map(self, swap: dict | None) -> dict[int, SharedVariable]:
        """id(old) -> new for `copy(swap=...)`, checked: old among this function's shared
        variables, new a shared variable of old's type."""
        replace: dict[int, SharedVariable] = {}
        for old, new in (swap or {}).items():
            if not any(old is s for s in self.shared):
                raise ValueError(f"copy(swap=...): {old} is not a shared variable of this "
                                 "function")
            if not isinstance(new, SharedVariable):
                raise TypeError(f"copy(swap=...): {old} must be replaced by a shared variable, "
                                f"got {type(new).__name__}")
            if new.type != old.type:
                raise TypeError(f"copy(swap=...): {old} has type {old.type} but its replacement "
                                f"{new} has type {new.type}")
            replace[id(old)] = new
        return replace

    def _copied_signature(self, replace: dict[int, SharedVariable]) -> Signature:
        """This function's arguments for a copy: each state in a new shared variable holding
        its current value (added to `replace`), defaults as they are."""
        args = []
        for arg in self.signature.args:
            if arg.state is not None:
                state = SharedVariable(arg.state.type, arg.state.get_value(), arg.state.name)
                replace[id(arg.state)] = state
                arg = dataclasses.replace(arg, state=state)
            args.append(dataclasses.replace(arg))
        return Signature(args)

    # ------------------------------------------------------------ Theano's fn[name]
    def __getitem__(self, key: Any) -> Any:
        """The value an input takes when a call omits it: a state's current value (In with
        an update), a default (In with a value), or None for a required input. `key`: the
        input's name, its variable or its position (Theano's `fn[key]`, `fn.value[key]`)."""
        arg = self.signature.args[self.signature.index(key)]
        if arg.state is not None:
            return arg.state.get_value()
        return None if arg.default is NO_DEFAULT else arg.default

    def __setitem__(self, key: Any, value: Any) -> None:
        """Set a state, or the default of an input (it then stays the default: Theano
        restores the first default after the next call)."""
        k = self.signature.index(key)
        arg = self.signature.args[k]
        converted = arg.convert(value, k)
        if arg.state is not None:
            arg.state.set_value(converted)
        else:
            arg.default = converted
            self.signature.refresh()

    def __contains__(self, key: Any) -> bool:
        if isinstance(key, str):  # an ambiguous name is there too (Theano's finder)
            return key in self.signature.by_name
        try:
            self.signature.index(key)
        except TypeError:
            return False
        return True

    @property
    def value(self) -> Function:
        """Theano's `fn.value[key]`: the same as `fn[key]`."""
        return self

    def _call_setup(self) -> None:
        """What every call needs, computed once: per input (dtype, ndim, fixed axes) for the
        fast argument check, and which variables' buffers the caller keeps."""
        self._in_specs = [(np.dtype(v.dtype), v.ndim,
                           tuple((d, s) for d, s in enumerate(v.type.shape) if s is not None))
                          for v in self.inputs]
        self._n_in = len(self.inputs)
        self._containers = [s.container for s in self.shared]
        self._update_containers = [s.container for s, _ in self.updates]
        self._plan_args = [a for a in self.signature.args if a.state is None]
        # (slot, int or float): the host scalars' values, converted as the prepare key holds them
        self._scalar_slots = [(k, float if np.dtype(self.plan.slot_vars[k].dtype).kind == "f"
                               else int) for k in self.plan.host_scalar_slots]
        outs = self.maker_fgraph.outputs
        self.executor.fresh_vars = [v for v, b in zip(outs[:self.n_out], self.borrow) if b] + \
            list(outs[self.n_out:])
        self.executor.host_vars = [v for v, b in zip(outs[:self.n_out], self.borrow) if not b]
        self._zero_copy = not any(self.borrow)
        # (input shapes, shared shapes, integer scalars, state) of the last call: a call with
        # the same signature skips Plan.prepare's lookup.
        self._last: tuple | None = None

    def _convert(self, i: int, value: Any):
        return self._plan_args[i].convert(value, i)

    def _read_plan(self, state) -> tuple:
        """How to hand back the outputs of a state, computed once per state:
        (per output (borrow, slot, layout, dtype, contiguous, size, byte offset),
         the plain reads (slot, shape, dtype, byte offset): contiguous NumPy outputs,
         per output its index in the plain reads or -1, whether every output is a plain read,
         per update (slot, shape), in the order of `_update_containers`). It depends on the
         plan only: copies of the function that share the plan share it."""
        plan = state.call_cache.get("outs")
        if plan is None:
            outs = []
            graph_outs = self.maker_fgraph.outputs
            for var, borrow in zip(graph_outs[:self.n_out], self.borrow):
                lay = state.layouts[var]
                dt = np.dtype(var.dtype)
                size = int(np.prod(lay.shape, dtype=np.int64))
                contig = lay.strides == contiguous_strides(lay.shape) or size == 1
                outs.append((borrow, lay.buffer, lay, dt, contig, size, lay.offset * dt.itemsize))
            reads, index = [], []
            for borrow, slot, lay, dt, contig, size, off in outs:
                index.append(len(reads) if contig and size and not borrow else -1)
                if index[-1] >= 0:
                    reads.append((slot, lay.shape, dt, off))
            upd = [(state.layouts[var].buffer, state.layouts[var].shape)
                   for var in graph_outs[self.n_out:]]
            plan = (outs, reads, index, len(reads) == len(outs), upd)
            state.call_cache["outs"] = plan
        return plan

    def __call__(self, *args: Any, **kwargs: Any):
        # One call at a time per device: a call uses buffers and kernel objects kept between
        # calls, and shared variables, which another thread's call would overwrite.
        with self.ctx.call_lock:
            return self._call(args, kwargs)

    def _call(self, args: tuple, kwargs: dict):
        if kwargs or not self.signature.plain:
            args = self.signature.bind(args, kwargs, self._where())
        if self.trust_input:
            values = list(args)
        else:
            values = self._checked_values(args)
        in_shapes = tuple([v.shape for v in values])
        containers = self._containers
        shared_shapes = tuple([c.shape for c in containers]) if containers else ()
        slots = self._scalar_slots
        host_scalars = tuple([conv(values[k]) for k, conv in slots]) if slots else ()
        last = self._last
        if last is not None and last[0] == in_shapes and last[1] == shared_shapes and \
                last[2] == host_scalars:
            state = last[3]
        else:  # shape errors: raised here, before anything is enqueued
            state = self.plan.prepare(in_shapes + shared_shapes + self.plan.constant_shapes,
                                      host_scalars)
            self._last = (in_shapes, shared_shapes, host_scalars, state)
        if state.index_checks:
            self._check_indices(values, state)
        if self._checker is not None or self.profile is not None or state.sync is not None:
            return self._call_general(values, in_shapes + shared_shapes +
                                      self.plan.constant_shapes, host_scalars, state)
        # Fast path: inputs to buffers, launches and the outputs' reads enqueued together.
        ctx = self.ctx
        bufs, aliased = self._input_buffers(values)
        outs, reads, index, plain, upd = state.call_cache.get("outs") or self._read_plan(state)
        all_bufs, results = self.executor.run_and_read(bufs, state, reads)
        if not plain:  # borrowed, strided or empty outputs
            results = [results[j] if j >= 0 else
                       as_device_array(ctx, all_bufs[slot], lay, dt) if borrow else
                       download(ctx, all_bufs[slot], lay, dt)
                       for j, (borrow, slot, lay, dt, _, _, _) in zip(index, outs)]
        for container, (slot, shape) in zip(self._update_containers, upd):
            container.assign(all_bufs[slot], shape)
        if aliased and not reads:  # no blocking read waited for the kernels
            ctx.queue.finish()  # they may still read the caller's arrays
        return results[0] if self.single else results

    def _where(self) -> str:
        return f"function {self.name!r}" if self.name else "function"

    def _checked_values(self, args) -> list:
        """The arguments as arrays of the inputs' types: arrays of the exact dtype, rank and
        contiguity pass untouched, the others are converted (or refused)."""
        if len(args) != self._n_in:
            raise TypeError(f"{self._where()} takes {self._n_in} argument(s) "
                            f"({self.signature.names()}), got {len(args)}")
        values = []
        for a, (dtype, ndim, fixed) in zip(args, self._in_specs):
            if type(a) is np.ndarray and a.dtype == dtype and a.ndim == ndim and \
                    a.flags.c_contiguous and (not fixed or _fits(a.shape, fixed)):
                values.append(a)
            else:
                values.append(self._convert(len(values), a))
        return values

    def _check_indices(self, values: list, state) -> None:
        """Raise for a label input outside its axis (`PrepareState.index_checks`), before
        anything is enqueued; labels computed on the device are not checked."""
        checks = state.call_cache.get("index_checks")
        if checks is None:
            at = {id(v): k for k, v in enumerate(self.maker_fgraph.inputs[:len(values)])}
            checks = [(at[id(v)], n) for v, n in state.index_checks if id(v) in at]
            state.call_cache["index_checks"] = checks
        for k, n in checks:
            v = values[k]
            if isinstance(v, np.ndarray) and v.size:
                lo, hi = int(v.min()), int(v.max())
                if lo < -n or hi >= n:
                    bad = lo if lo < -n else hi
                    raise IndexError(
                        f"input {self.inputs[k]} (argument {k}): label {bad} is out of range "
                        f"for {n} classes (labels index an axis of length {n}: -{n} to {n - 1})")

    def _input_buffers(self, values: list) -> tuple[list, bool]:
        """(buffers of the inputs then of the shared variables, whether an input buffer is
        the caller's own memory). Zero-copy inputs are safe only if the call waits for its
        kernels before returning and no borrowed output can alias the caller's array
        afterwards (`darray.upload_input`)."""
        ctx = self.ctx
        bufs = []
        aliased = False
        shared = None
        for v in values:
            if isinstance(v, cl_array.Array):
                buf = device_array_buffer(ctx, v)
                if shared is None:
                    shared = {c.buffer.int_ptr for c in self._containers if c.buffer is not None}
                if buf.int_ptr in shared:
                    # a shared variable's own memory (get_value(return_internal_type=True),
                    # a borrowed output): an update may write it while kernels or BLAS still
                    # read it as this input, so the input is a copy (as Theano does)
                    buf = device_array_buffer(ctx, v.copy())
                bufs.append(buf)
            else:
                buf, alias = upload_input(ctx, v, self._zero_copy)
                bufs.append(buf)
                aliased = aliased or alias
        bufs += [c.buffer for c in self._containers]
        return bufs, aliased

    def _call_general(self, values: list, shapes: tuple, host_scalars: tuple, state):
        """A call that is checked (DebugMode, NanGuardMode), profiled, or stops at host
        sync points (data-dependent shapes)."""
        profile = self.profile
        t0 = time.perf_counter() if profile is not None else 0.0
        ctx = self.ctx
        bufs, aliased = self._input_buffers(values)
        if profile is not None:
            ctx.queue.finish()  # kernels go to the profiling queue: uploads must be done
            profile.record_transfer("to device", time.perf_counter() - t0,
                                    sum(getattr(v, "nbytes", 0) for v in values))
        if self._checker is None:
            all_bufs, state = self.executor.run(bufs, state)
        else:
            all_bufs, state = self._checker.run(self, bufs, shapes, host_scalars, values)
        if profile is not None:
            ctx.profiling_queue.finish()
            t_out = time.perf_counter()
        results = self._read_back(ctx, all_bufs, state)
        if profile is not None:
            profile.record_transfer("to host", time.perf_counter() - t_out,
                                    sum(r.nbytes for r in results if isinstance(r, np.ndarray)))
        for container, (slot, shape) in zip(self._update_containers, self._read_plan(state)[4]):
            container.assign(all_bufs[slot], shape)
        if aliased:
            ctx.queue.finish()  # kernels may still read the caller's arrays
        if profile is not None:
            ctx.queue.finish()
            profile.record_call(time.perf_counter() - t0)
        return results[0] if self.single else results

    def _read_back(self, ctx, bufs: list, state) -> list:
        """The outputs after a checked, profiled or resumed run: NumPy arrays read back or,
        for Out(borrow=True), device arrays."""
        results: list = []
        for borrow, slot, lay, dt, _, _, _ in self._read_plan(state)[0]:
            if borrow:
                results.append(as_device_array(ctx, bufs[slot], lay, dt))
            else:  # through the module: checkers' tests count the downloads
                results.append(darray.download(ctx, bufs[slot], lay, dt))
        return results


def _compile_again(nodes: list, spec: dict) -> Function:
    """Unpickling a Function: compile it again (`nodes` only ordered the pickle)."""
    return Function(**spec)


def _nodes_in_order(spec: dict) -> list:
    """The nodes of a function's graphs, each after its inputs' owners: pickled before the
    spec, so that pickle meets every node's inputs already saved (walking owner links it
    recurses once per level: ~100 levels before RecursionError)."""
    outs = spec["outputs"] if isinstance(spec["outputs"], list) else [spec["outputs"]]
    roots = [o.variable if isinstance(o, Out) else o for o in outs]
    roots += [e for _, e in spec["updates"]] + [new for _, new in spec["givens"] or ()]
    return toposort([v for v in roots if isinstance(v, Variable)])


def _fits(shape: tuple, fixed: tuple) -> bool:
    return all(shape[d] == n for d, n in fixed)


def _own_buffer(expr: Variable) -> Variable:
    """`expr`, copied into a fresh buffer unless a kernel already writes it into one."""
    from clgraph.expr.elemwise import Elemwise
    from clgraph.expr.scalar.ops import identity

    op = expr.owner.op if expr.owner is not None else None
    if op is not None and not getattr(op, "view_map", None) and \
            type(op).__name__ not in ("Reshape",):
        return expr
    return Elemwise(identity)(expr)


def function(inputs: Sequence[Variable | In] | None, outputs: Any = None, updates: Any = None,
             givens: Any = None, mode: Any = None, profile: Any = None,
             on_unused_input: str = "raise", allow_input_downcast: bool | None = None,
             name: str | None = None, no_default_updates: bool | list = False) -> Function:
    """Compile `outputs` as a function of `inputs` (Theano's `theano.function`). An input is
    a free variable or an `In` (a default value, a keyword name, a state with an update);
    `no_default_updates` skips the default updates (random streams' states) of every shared
    variable (True) or of those listed."""
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', got "
                         f"{on_unused_input!r}")
    return Function(inputs, outputs, updates, givens, mode, profile, on_unused_input,
                    allow_input_downcast, name, no_default_updates)


_eval_cache: dict = {}


def eval_variable(var: Variable, inputs_dict: dict) -> Any:
    """Variable.eval: compile once per (variable, inputs), then run."""
    keys = list(inputs_dict)
    cache_key = (id(var), tuple(id(k) for k in keys), config.version)
    fn = _eval_cache.get(cache_key)
    if fn is None or fn[0] is not var:
        fn = (var, function(keys, var, on_unused_input="ignore"))
        _eval_cache[cache_key] = fn
    return fn[1](*[inputs_dict[k] for k in keys])
