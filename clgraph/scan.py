"""`scan`: Theano's symbolic loop (`cg.scan`), and its gradient (a Scan running backwards).

    outputs, updates = cg.scan(fn, sequences=None, outputs_info=None, non_sequences=None,
                               n_steps=None, go_backwards=False)

`fn` is called once, on placeholders: one argument per tap of each sequence (by default
element t), then per output that has an initial value in `outputs_info` one argument per
tap (by default its previous value; None there: the output is not fed back), then the
non-sequences; it returns the step's outputs (one variable or a list). Values `fn` reads
without being given them (shared weights, outer tensors, expressions of them) are computed
once, outside the loop. The outputs come back stacked on a new first axis in the order
computed. `updates` holds the final values of the shared variables the step updates (its
own updates, returned as `(outputs, updates)`, and random streams drawn inside it): pass
it to `function`.

The number of steps is the shortest sequence's length (less the span of its taps), or
`n_steps` (an int, at most that). Taps follow Theano: a sequence tap k gives element
t + k - min(taps, 0) at step t (the span counts tap 0 even when it is not among the taps);
output taps are negative, and `initial` holds at least -min(taps) values, of which the
first -min(taps) are read. Going backwards, each sequence is read from its own last
element (Theano reverses it before cutting it to the number of steps).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.graph import FunctionGraph, clone_graph, graph_inputs, toposort
from clgraph.expr.scan_op import Scan
from clgraph.expr.type import TensorType
from clgraph.expr.variable import Constant, SharedVariable, TensorVariable
from clgraph.tensor.random import draw_serial

__all__ = ["scan", "steps_run", "until"]


def _as_list(x) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _with_taps(entry, key: str, default: list, what: str) -> tuple[Any, list[int]]:
    """(variable, taps) of a sequence or outputs_info entry: a variable, or Theano's dict
    (`input=`/`initial=`, `taps=`)."""
    if not isinstance(entry, dict):
        return entry, list(default)
    taps = entry.get("taps", default)
    taps = list(taps) if isinstance(taps, (list, tuple)) else [taps]
    if not taps or not all(isinstance(t, (int, np.integer)) for t in taps) or \
            len(set(taps)) != len(taps):
        raise ValueError(f"scan: {what}: taps must be distinct integers, got {taps}")
    if key not in entry:
        raise ValueError(f"scan: {what}: a dict entry needs {key!r}")
    return entry[key], [int(t) for t in taps]


def _placeholder(type_: TensorType, name: str) -> TensorVariable:
    var = TensorVariable(type_)
    var.name = name
    return var


def scan(fn: Callable, sequences: Any = None, outputs_info: Any = None,
         non_sequences: Any = None, n_steps: Any = None, truncate_gradient: int = -1,
         go_backwards: bool = False, mode: Any = None, name: str | None = None,
         profile: Any = False, allow_gc: Any = None, strict: bool = False,
         return_list: bool = False) -> tuple[Any, OrderedDict]:
    """Theano's scan (see the module doc): (outputs, updates).

    Theano's other arguments are accepted as Theano scripts pass them: `strict=True`
    refuses a step function that reads variables it was not given; `return_list=True`
    returns a list even for one output; `truncate_gradient=k` (k >= 0) differentiates
    through the last k steps only (Theano's truncated backpropagation: outputs of earlier
    steps give no gradient, and the initial values get none unless k covers every step;
    -1, the default: every step); `mode`, `profile` and `allow_gc` belong to Theano's
    inner compilation and change nothing here (the step is compiled with the function
    that uses it)."""
    _check_truncate_gradient(truncate_gradient)
    outs, updates = _scan(fn, sequences, outputs_info, non_sequences, n_steps, go_backwards,
                          name, strict=strict, truncate_gradient=int(truncate_gradient))
    if return_list and not isinstance(outs, list):
        outs = [outs]
    return outs, updates


def _scan(fn: Callable, sequences: Any = None, outputs_info: Any = None,
          non_sequences: Any = None, n_steps: Any = None, go_backwards: bool = False,
          name: str | None = None, last_only: tuple[bool, ...] = (), strict: bool = False,
          truncate_gradient: int = -1) -> tuple[Any, OrderedDict]:
    """`scan`, where outputs flagged in `last_only` keep only their last value (a
    stack of at most one: scan_grad's sums)."""
    from clgraph import tensor as T

    n_steps = None if n_steps is None else _integer_n_steps(n_steps)
    seqs = []
    for k, entry in enumerate(_as_list(sequences)):
        var, taps = _with_taps(entry, "input", [0], f"sequence {k}")
        var = T.as_tensor_variable(var)
        if var.ndim == 0:
            raise TypeError(f"scan: sequence {k} ({var}) is a scalar; sequences are iterated "
                            "over their first axis")
        seqs += _tap_views(var, taps)
    # Outputs fed back: taps [-1] carry the previous value; other (negative) taps carry a
    # window of -min(taps) values, from the initial value's first rows (Theano's rule).
    inits, out_taps = [], []
    for k, entry in enumerate(_as_list(outputs_info)):
        if entry is None:
            inits.append(None)
            out_taps.append(None)
            continue
        var, taps = _with_taps(entry, "initial", [-1], f"outputs_info {k}")
        if any(t >= 0 for t in taps):
            raise ValueError(f"scan: outputs_info {k}: taps must be negative, got {taps}")
        var = T.as_tensor_variable(var)
        inits.append(var if taps == [-1] else var[:-min(taps)])
        out_taps.append(taps)
    nonseqs = [T.as_tensor_variable(v) for v in _as_list(non_sequences)]
    seq_ph = [_placeholder(TensorType(s.dtype, s.type.shape[1:]), f"{s.name or 'seq'}[t]")
              for s in seqs]
    state_ph = [_placeholder(i.type, f"{i.name or 'state'}[t-1]") for i in inits if i is not None]
    state_args = []  # the step's arguments for the fed-back outputs: a value per tap
    for ph, taps in zip(state_ph, [t for t in out_taps if t is not None]):
        width = -min(taps)
        state_args += [ph] if taps == [-1] else [ph[width + t] for t in taps]
    nonseq_ph = [_placeholder(v.type, v.name or "non_seq") for v in nonseqs]
    drawn_before = draw_serial()
    result = fn(*seq_ph, *state_args, *nonseq_ph)
    result, step_updates, stop = _step_result(result)
    single = not isinstance(result, (list, tuple))
    outs = [T.as_tensor_variable(o) for o in _as_list(result)]
    if not out_taps:
        inits, out_taps = [None] * len(outs), [None] * len(outs)
    if len(inits) != len(outs):
        raise ValueError(f"scan: the step function returns {len(outs)} output(s) but "
                         f"outputs_info has {len(inits)} entries")
    # Inner outputs: per output its value; a windowed one first its moved-on window.
    inner_outs, rec_inits, value_at, si = [], [], [], 0
    for k, (out, init, taps) in enumerate(zip(outs, inits, out_taps)):
        windowed = taps is not None and taps != [-1]
        if init is not None and (out.dtype != init.dtype or out.ndim + windowed != init.ndim):
            raise TypeError(f"scan: output {k} of the step ({out.type}) must have the dtype and "
                            f"rank of its initial value {init} ({init.type})")
        if windowed:
            window = T.concatenate([state_ph[si][1:], T.shape_padleft(out)], axis=0)
            inner_outs.append(window)
            rec_inits.append(init)
        if init is not None:
            si += 1
        value_at.append(len(inner_outs))
        inner_outs.append(out)
        rec_inits.append(None if windowed else init)
    if last_only and len(last_only) != len(inner_outs):
        raise AssertionError("scan: last_only is given per inner output")
    # A while loop's condition is the last inner output (Scan.until): stacked, never fed back.
    stops = [] if stop is None else [T.neq(stop, 0)]
    outs, inits = inner_outs + stops, rec_inits + [None] * len(stops)
    n_inner = len(inner_outs)
    # Random streams drawn inside the step advance every step: their states are carried as
    # recurrent values (kept for every step: the gradient's scan draws the same numbers
    # again from them), and their last values come back as updates.
    # Shared variables the step function updates itself are carried the same way (Theano:
    # each step reads the value the previous step gave it).
    step_new = [T.as_tensor_variable(e) for e in step_updates.values()]
    rng = [v for v in graph_inputs(outs + step_new) if isinstance(v, SharedVariable) and
           v.default_update is not None and getattr(v, "rng_serial", -1) >= drawn_before
           and v not in step_updates]
    carried = rng + list(step_updates)
    if carried:
        for var, new in zip(step_updates, step_new):
            if new.dtype != var.dtype or new.ndim != var.ndim:
                raise TypeError(f"scan: the step's update of {var} ({var.type}) has type "
                                f"{new.type}")
        carried_ph = [_placeholder(v.type, f"{v.name or 'shared'}[t-1]") for v in carried]
        nexts = [v.default_update for v in rng] + step_new
        both = clone_graph(outs + nexts, dict(zip(carried, carried_ph)))[0]
        # the carried values go before the condition, which stays last
        outs = both[:n_inner] + both[len(outs):] + both[n_inner:len(outs)]
        inits, state_ph = rec_inits + carried + [None] * len(stops), state_ph + carried_ph
        last_only = tuple(last_only) + (False,) * len(carried) if last_only else ()
    args = seq_ph + state_ph + nonseq_ph
    if strict:
        unknown = [v for v in graph_inputs(outs, args)
                   if id(v) not in set(map(id, args)) and not isinstance(v, Constant)]
        if unknown:
            raise ValueError(f"scan(strict=True): the step function reads "
                             f"{', '.join(map(str, unknown))} without being given it; pass it "
                             "in non_sequences")
    # Values the step reads that depend on none of its inputs (shared weights, outer
    # tensors, expressions of them) are computed once, outside: extra non-sequences.
    free = _outer_values(outs, args)
    free_ph = [_placeholder(v.type, v.name or "free") for v in free]
    if free:
        outs = clone_graph(outs, dict(zip(free, free_ph)))[0]
    outs = _gather_device_indices(_switch_for_ifelse(outs), seq_ph + state_ph)
    outs, hoisted_ph, hoisted = _push_out_products(
        outs, list(zip(seq_ph, seqs)), list(zip(nonseq_ph + free_ph, nonseqs + free)))
    seq_ph, seqs = seq_ph + hoisted_ph, seqs + hoisted
    outs, copied_ph, copied = _contiguous_transposes(
        outs, list(zip(nonseq_ph + free_ph, nonseqs + free)))
    free_ph, free = free_ph + copied_ph, free + copied
    outs = _vector_products_as_sums(outs)
    args = seq_ph + state_ph + nonseq_ph
    inner = FunctionGraph(args + free_ph, outs)
    if n_steps is None and not seqs:
        raise ValueError("scan: give sequences or n_steps (the number of steps)")
    steps = None
    for s in seqs:
        steps = s.shape[0] if steps is None else T.minimum(steps, s.shape[0])
    if n_steps is not None:
        steps = n_steps
    op = Scan(inner, len(seqs), tuple(i is not None for i in inits), go_backwards, last_only,
              until=stop is not None, truncate_gradient=truncate_gradient)
    stacked = op(T.cast(steps, "int64"), *seqs, *[i for i in inits if i is not None],
                 *nonseqs, *free)
    stacked = stacked if isinstance(stacked, list) else [stacked]
    # A while loop computed every step (it is unrolled before any condition is known):
    # its results are cut to the steps run, Theano's outputs.
    ran = steps_run(stacked[-1]) if stop is not None else None
    updates = OrderedDict((state, _value_after(state, states, ran))
                          for state, states in zip(carried, stacked[n_inner:]))
    stacked = [stacked[k] if ran is None else stacked[k][:ran] for k in value_at]
    if name is not None:
        for k, v in enumerate(stacked):
            v.name = name if len(stacked) == 1 else f"{name}[{k}]"
    if not stacked:
        return [], updates
    return (stacked[0] if single or len(stacked) == 1 else stacked), updates


def _check_truncate_gradient(k) -> None:
    """Theano's truncate_gradient: -1 (every step) or a number of steps."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"scan: truncate_gradient must be an int, got {k!r}")
    if k < -1:
        raise ValueError(f"scan: truncate_gradient must be -1 (every step) or a number of "
                         f"steps >= 0, got {k}")


def _tap_views(var, taps: list[int]) -> list:
    """One view of the sequence `var` per tap: the elements its tap reads at steps 0, 1,
    ...: element t + tap - min(taps, 0). Theano cuts as if tap 0 were always among the
    taps (scan.py's mintap/maxtap proxies), so all-negative taps drop the sequence's last
    elements and all-positive ones its first."""
    if taps == [0]:
        return [var]
    lo, hi = min(min(taps), 0), max(max(taps), 0)
    return [var[tap - lo:] if tap == hi else var[tap - lo:var.shape[0] - (hi - tap)]
            for tap in taps]


def _integer_n_steps(n_steps) -> TensorVariable:
    """`n_steps` as a tensor, refused unless it is an integer (Theano: "n_steps must be an
    int"): a float count would be truncated silently."""
    from clgraph import tensor as T

    if isinstance(n_steps, (float, np.floating)):
        raise TypeError(f"scan: n_steps must be an int, got {n_steps!r}")
    n_steps = T.as_tensor_variable(n_steps)
    if n_steps.ndim != 0 or not D.is_int(n_steps.dtype):
        raise TypeError(f"scan: n_steps must be an integer scalar, got {n_steps.type}")
    return n_steps


class until:  # noqa: N801 - Theano's name
    """Theano's stop condition (`theano.scan_module.until`): a step function returning
    `(outputs, until(cond))`, `(updates, until(cond))` or `(outputs, updates, until(cond))`
    makes scan a while loop that stops after the first step where the scalar `cond` is
    true; its outputs have a row per step run (n_steps, or the sequences, still bound
    it)."""

    def __init__(self, condition: Any) -> None:
        from clgraph import tensor as T

        self.condition = T.as_tensor_variable(condition)
        if self.condition.ndim != 0:
            raise TypeError(f"until: the condition must be a scalar, got {self.condition.type}")


def steps_run(stops) -> TensorVariable:
    """The number of steps a while loop ran, from its stacked conditions: up to the first
    true one, that step included; all of them when none is true."""
    from clgraph import tensor as T

    before_first = T.sum(T.eq(T.cumsum(T.cast(stops, "int64")), 0))
    return T.cast(T.minimum(stops.shape[0], before_first + 1), "int64")


def _value_after(initial, states, ran):
    """A carried value after the loop: the last of `states`, or the one after `ran` steps
    (a while loop); the initial value after no steps."""
    from clgraph import tensor as T

    every = T.concatenate([T.shape_padleft(initial), states], axis=0)
    return every[-1] if ran is None else every[ran]


def _step_result(result) -> tuple[Any, dict, Any]:
    """(outputs, updates, stop condition or None) of a step's result: Theano's forms, and a
    trailing `until(cond)` (see `until`)."""
    if not (isinstance(result, (list, tuple)) and result and isinstance(result[-1], until)):
        if isinstance(result, until) or isinstance(result, (list, tuple)) and \
                any(isinstance(r, until) for r in result):
            raise ValueError("scan: until(...) comes last in the step's result, after the "
                             "outputs or updates")
        return (*_outputs_and_updates(result), None)
    stop, rest = result[-1].condition, list(result[:-1])
    if len(rest) == 2 and isinstance(rest[1], dict):
        return (*_outputs_and_updates(tuple(rest)), stop)
    if len(rest) == 1 and not isinstance(rest[0], until):
        return (*_outputs_and_updates(rest[0]), stop)
    raise ValueError("scan: a step with a stop condition returns (outputs, until(cond)), "
                     "(updates, until(cond)) or (outputs, updates, until(cond))")


def _outputs_and_updates(result) -> tuple[Any, dict]:
    """Theano's forms of a step's result: outputs, (outputs, updates), (updates, outputs)
    or updates alone (a dict of shared variable -> new value)."""
    if isinstance(result, dict):
        result, updates = [], result
    elif isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
        result, updates = result
    elif isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], dict):
        updates, result = result
    else:
        updates = {}
    for var in updates:
        if not isinstance(var, SharedVariable):
            raise TypeError(f"scan: the step function's updates must be keyed by shared "
                            f"variables, got {var!r}")
    return result, dict(updates)


def _outer_values(outs: list, args: list) -> list:
    """The outermost variables under `outs` that depend on none of `args` (constants
    excepted), in first-use order: what the step reads from outside the loop."""
    arg_ids = set(map(id, args))
    inner: set[int] = set(arg_ids)  # variables that depend on an argument
    for node in toposort(outs, args):
        if any(id(i) in inner for i in node.inputs):
            inner.update(id(o) for o in node.outputs)
    found: dict[int, Any] = {}
    seen: set[int] = set()
    stack = list(reversed(outs))
    while stack:
        v = stack.pop()
        if id(v) in seen or id(v) in arg_ids or isinstance(v, Constant):
            continue
        seen.add(id(v))
        if id(v) not in inner:
            found.setdefault(id(v), v)
        elif v.owner is not None:
            stack.extend(reversed(v.owner.inputs))
    return list(found.values())


def _switch_for_ifelse(outs: list) -> list:
    """An ifelse inside the step becomes a switch: the loop is unrolled when the call is
    prepared, before any condition is known, so both branches are computed and the
    condition picks elementwise (the same values; a branch that cannot run fails)."""
    from clgraph import tensor as T
    from clgraph.expr.ifelse import IfElse

    replace = {}
    for node in toposort(outs):
        if isinstance(node.op, IfElse):
            n = node.op.n_outs
            cond, thens, elses = node.inputs[0], node.inputs[1:1 + n], node.inputs[1 + n:]
            picked = [T.switch(T.neq(cond, 0), a, b) for a, b in zip(thens, elses)]
            if all(p.type == o.type for p, o in zip(picked, node.outputs)):
                replace.update(zip(node.outputs, picked))  # else lowering says it cannot
    return clone_graph(outs, replace)[0] if replace else outs


def _rewritten(v, replace: dict):
    """v rebuilt with the replacements made so far: a rewrite built from v's node's inputs
    must see earlier rewrites of them (clone_graph does not apply replacements inside the
    replacing graphs)."""
    return clone_graph([v], replace)[0][0] if replace else v


def _gather_device_indices(outs: list, step_values: list) -> list:
    """`x[i]` (and `x[i, j]`...) where an index comes from a sequence or a carried value (an
    embedding row per token): such an index lives on the device, where a view cannot use
    it, so each becomes a gather (`x[[i]][0]`, advanced indexing). Slices with computed
    bounds are left as they are."""
    from clgraph import tensor as T
    from clgraph.expr.subtensor import IncSubtensor, Subtensor

    inside = set(map(id, step_values))
    for node in toposort(outs, step_values):
        if any(id(i) in inside for i in node.inputs):
            inside.update(id(o) for o in node.outputs)
    replace = {}

    for node in toposort(outs, step_values):
        op = node.op
        if isinstance(op, IncSubtensor) and op.idx_list == (("int", ("in", 0)),) and \
                id(node.inputs[2]) in inside:
            # x[i] = y (or += y) at a device index: a scatter of one row
            x, y, i = (_rewritten(v, replace) for v in node.inputs)
            write = T.set_subtensor if op.set_instead_of_inc else T.inc_subtensor
            replace[node.outputs[0]] = write(x[T.shape_padleft(i)], T.shape_padleft(y))
            continue
        if not isinstance(op, Subtensor) or not op.idx_list or \
                any(e[0] != "int" for e in op.idx_list) or \
                not any(id(i) in inside for i in node.inputs[1:]):
            continue
        out = _rewritten(node.inputs[0], replace)
        for _, index in op.idx_list:  # x[i, j] is x[i][j]: one axis at a time
            if isinstance(index, tuple):  # ("in", k): an index computed in the graph
                i = node.inputs[1 + index[1]]
                out = out[T.shape_padleft(i)][0] if id(i) in inside else out[i]
            else:
                out = out[index]
        replace[node.outputs[0]] = out
    return clone_graph(outs, replace)[0] if replace else outs


def _push_out_products(outs: list, seqs: list, nonseqs: list) -> tuple[list, list, list]:
    """Products of a sequence's element by a value of the non-sequences alone
    (`dot(x_t, U)` in an RNN step), moved out of the loop: one GEMM over the whole sequence
    before it, whose rows become a new sequence (Theano's scan push-out). `seqs`, `nonseqs`:
    (placeholder, outer variable) pairs. Returns (outputs, new placeholders, new outer
    sequences)."""
    from clgraph import tensor as T
    from clgraph.expr.blas import Dot22
    from clgraph.expr.shape_ops import DimShuffle

    seq_of = {id(ph): outer for ph, outer in seqs}
    outer_of = {ph: outer for ph, outer in nonseqs}
    allowed = set(map(id, outer_of))
    fg = FunctionGraph([ph for ph, _ in seqs + nonseqs], outs)
    replace, new_ph, new_seqs = {}, [], []
    for node in fg.toposort():
        if not isinstance(node.op, Dot22):
            continue
        a, b = node.inputs
        row = a.owner is not None and isinstance(a.owner.op, DimShuffle) and \
            a.owner.op.new_order == ("x", 0) and id(a.owner.inputs[0]) in seq_of
        if not (id(a) in seq_of or row):
            continue
        if any(id(v) not in allowed and not isinstance(v, Constant) for v in graph_inputs([b])):
            continue
        seq = seq_of[id(a.owner.inputs[0]) if row else id(a)]
        b_outer = clone_graph([b], outer_of)[0][0]
        whole = T.dot(seq, b_outer)  # (steps, [rows,] columns)
        ph = _placeholder(TensorType(whole.dtype, whole.type.shape[1:]), "pushed[t]")
        replace[node.outputs[0]] = T.shape_padleft(ph) if row else ph
        new_ph.append(ph)
        new_seqs.append(whole)
    if not replace:
        return outs, [], []
    return clone_graph(outs, replace)[0], new_ph, new_seqs


def _contiguous_transposes(outs: list, nonseqs: list) -> tuple[list, list, list]:
    """The right operand of a product that is the transpose of a non-sequence (`dot(d,
    W.T)`, which every RNN's gradient has), made contiguous once before the loop, as an
    extra non-sequence: the product's kernel would otherwise copy it every step (a B with
    strided rows is copied first: lower/gemm.py). `nonseqs`: (placeholder, outer value)
    pairs. Returns (outputs, new placeholders, their outer values)."""
    from clgraph.expr.blas import Dot22

    outer_of = {id(ph): outer for ph, outer in nonseqs}
    fg = FunctionGraph([ph for ph, _ in nonseqs], outs)
    replace: dict = {}
    made: dict[int, TensorVariable] = {}  # id(placeholder) -> its transposed copy's placeholder
    new_ph, new_outer = [], []
    for node in fg.toposort():
        if not isinstance(node.op, Dot22):
            continue
        b = node.inputs[1]
        src = _transposed(b)
        if src is None or id(src) not in outer_of:
            continue
        if id(src) not in made:
            outer = outer_of[id(src)].T.copy()
            made[id(src)] = _placeholder(outer.type, f"{src.name or 'non_seq'}.T")
            new_ph.append(made[id(src)])
            new_outer.append(outer)
        replace[b] = made[id(src)]
    if not replace:
        return outs, [], []
    return clone_graph(outs, replace)[0], new_ph, new_outer


def _vector_products_as_sums(outs: list) -> list:
    """Products in the step with one row (h . W for a vector state h) or one column, as a
    broadcast product and a sum: one fused reduction kernel a step, launched in the calling
    thread. As host BLAS products they cost a round trip every step (~70 µs: a 256-wide
    vector RNN ran 4x slower than NumPy's loop); the GEMM template's narrow-C path computes
    them element by element."""
    from clgraph import tensor as T
    from clgraph.expr.blas import Dot22

    replace = {}
    for node in FunctionGraph(graph_inputs(outs), outs).toposort():
        if not isinstance(node.op, Dot22) or not D.is_float(node.outputs[0].dtype):
            continue
        # the operands as rewritten so far (h . W1 . W2: both products become sums)
        a, b = (_rewritten(v, replace) for v in node.inputs)
        if a.type.shape[0] == 1:  # (1, K) . (K, N): a column of a times b, summed over K
            new = T.sum(a.dimshuffle(1, 0) * b, axis=0).dimshuffle("x", 0)
        elif b.type.shape[1] == 1:  # (M, K) . (K, 1)
            new = T.sum(a * b.dimshuffle(1, 0), axis=1).dimshuffle(0, "x")
        else:
            continue
        if new.type == node.outputs[0].type:
            replace[node.outputs[0]] = new
    return clone_graph(outs, replace)[0] if replace else outs


def scan_grad(op: Scan, node, grads: list) -> list:
    """Gradients of a Scan's inputs: a second Scan over the steps in reverse, carrying the
    gradient of each float recurrent value and summing those of the non-sequences."""
    from clgraph import tensor as T
    from clgraph.diff.grad import grad

    n, seqs, inits, nonseqs = op.split(node.inputs)
    outs = node.outputs
    if op.until:
        op, n, outs, grads = _as_for_loop(op, outs, grads)
    if any(op.last_only):
        # A gradient's own scan (a second-order gradient): its sums keep only their last
        # value, but differentiating needs every step's. The same loop again, keeping all
        # of them; an output's gradient lands on its last step.
        op = Scan(op.inner, op.n_seqs, op.recurrent, op.go_backwards)
        full = op(*node.inputs)
        full = full if isinstance(full, list) else [full]
        grads = [T.set_subtensor(T.zeros_like(f)[-1:], g) if kept and g is not None else g
                 for f, g, kept in zip(full, grads, node.op.last_only)]
        outs = full
    ph = op.inner.inputs
    n_seq, n_state = len(seqs), len(inits)
    # truncate_gradient: the backward loop goes back over the last `window` steps only
    window = _gradient_window(op, n)
    # What step t read: the n elements of each sequence that the loop reads, in step order,
    # and the value of each recurrent output before step t.
    seq_eff = [s[_rows_read(s, n, op.go_backwards)] for s in seqs]
    seq_eff = [s[::-1] for s in seq_eff] if op.go_backwards else seq_eff
    state_outs = [o for o, r in zip(outs, op.recurrent) if r]
    prev = [T.concatenate([T.shape_padleft(i), o[:-1]], axis=0)
            for i, o in zip(inits, state_outs)]
    g_outs = [g if g is not None else T.zeros_like(o) for g, o in zip(grads, outs)]
    # sequences the step reads (after push-out a sequence may feed only the hoisted product)
    read = set(map(id, graph_inputs(op.inner.outputs)))
    f_seq = [D.is_float(s.dtype) and id(p) in read for s, p in zip(seqs, ph)]
    f_state = [D.is_float(i.dtype) for i in inits]
    n_ph = len(ph) - len(nonseqs)
    f_nonseq = [D.is_float(v.dtype) and id(p) in read for v, p in zip(nonseqs, ph[n_ph:])]
    stored = [j for j in range(len(outs)) if not op.keeps_last_only(j)]  # every step's value
    bwd_seqs = seq_eff + prev + g_outs + [outs[j] for j in stored]
    # Per float non-sequence: True where its gradient is one product a_t^T . b_t per step
    # (W in h_{t-1} . W), summed outside as one GEMM over the stacked a, b (set by the first
    # trace; see _outer_terms). `sources`: per such product, (the index in bwd_seqs of a_t
    # where it is a sequence the step reads, the index among the step's sequence gradients
    # of b_t where it is one of them (an RNN's d_t is its input's gradient)); None where
    # the value is stacked as an extra output instead.
    pushed: list[bool] = []
    sources: list = []

    def step(*args):
        first = len(pushed) == 0
        k = 0
        s_t = args[k:k + n_seq]
        k += n_seq
        p_t = args[k:k + n_state]
        k += n_state
        g_t = args[k:k + len(outs)]
        k += len(outs)
        o_t = args[k:k + len(stored)]
        k += len(stored)
        carry = list(args[k:k + sum(f_state)])
        k += sum(f_state)
        n_acc = sum(f_nonseq) if first else pushed.count(False)
        acc = list(args[k:k + n_acc])
        ns = args[k + n_acc:]
        inner_outs = clone_graph(op.inner.outputs, dict(zip(ph, [*s_t, *p_t, *ns])))[0]
        known, ci, si = {}, 0, 0
        for out, g, rec in zip(inner_outs, g_t, op.recurrent):
            total = g
            if rec:
                if f_state[si]:
                    total = total + carry[ci]
                    ci += 1
                si += 1
            if D.is_float(out.dtype):
                known[out] = total
        wrt = [v for v, f in zip(s_t, f_seq) if f] + [v for v, f in zip(p_t, f_state) if f] + \
            [v for v, f in zip(ns, f_nonseq) if f]
        gs = grad(None, wrt, known_grads=known, disconnected_inputs="ignore",
                  return_disconnected="zero") if known and wrt else \
            [T.zeros_like(v) for v in wrt]
        # the step's own outputs (tanh's derivative reads tanh's value) are read from the
        # forward pass's stacks instead of being computed again
        gs = clone_graph(gs, {inner_outs[j]: o for j, o in zip(stored, o_t)})[0] if stored \
            else gs
        n_gs, n_gp = sum(f_seq), sum(f_state)
        nonseq_gs = gs[n_gs + n_gp:]
        step_seqs = [*s_t, *p_t, *g_t, *o_t]  # this step's elements of bwd_seqs
        terms = [_outer_terms(g) for g in nonseq_gs]
        srcs = [None if t is None else (_index(step_seqs, t[0]), _index(gs[:n_gs], t[1]))
                for t in terms]
        if first:  # the plan (both traces build the same graph): sums stay in this loop
            pushed[:] = [t is not None for t in terms] or [False]
            sources[:] = [src for src in srcs if src is not None]
            return list(gs[:n_gs + n_gp]) + [a + g for a, g in zip(acc, nonseq_gs)]
        new_acc, stacked = [], []
        for g, t, src in zip(nonseq_gs, terms, srcs):
            if t is None:
                new_acc.append(acc[len(new_acc)] + g)
            else:
                stacked += [v for v, known in zip(t[::-1], src[::-1]) if known is None]
        return list(gs[:n_gs + n_gp]) + new_acc + stacked

    float_seqs = [s for s, f in zip(seq_eff, f_seq) if f]
    zeros_state = [T.zeros_like(i) for i, f in zip(inits, f_state) if f]
    zeros_nonseq = [T.zeros_like(v) for v, f in zip(nonseqs, f_nonseq) if f]
    carried = zeros_state + zeros_nonseq
    # going backwards, the loop reads the last `window` rows of its sequences (all n rows
    # long): the last steps of the forward loop
    bwd, _ = _scan(step, sequences=bwd_seqs,
                   outputs_info=[None] * len(float_seqs) + carried, non_sequences=nonseqs,
                   n_steps=window, go_backwards=True,
                   last_only=(False,) * len(float_seqs) + (True,) * len(carried))
    if any(pushed):  # again, with those sums out of the loop
        kept = [z for z, p in zip(zeros_nonseq, pushed) if not p]
        n_extra = sum(known is None for src in sources for known in src)
        bwd, _ = _scan(step, sequences=bwd_seqs,
                       outputs_info=[None] * len(float_seqs) + zeros_state + kept +
                       [None] * n_extra, non_sequences=nonseqs, n_steps=window,
                       go_backwards=True,
                       last_only=(False,) * len(float_seqs) +
                       (True,) * (len(zeros_state) + len(kept)) + (False,) * n_extra)
    bwd = bwd if isinstance(bwd, list) else [bwd]

    def last(stack, zero):  # the final carried value (the initial one after no steps)
        return T.concatenate([T.shape_padleft(zero), stack], axis=0)[-1]

    result: list = [None]
    k = 0
    first = None if window is None else n - window  # the first step differentiated
    for s, f in zip(seqs, f_seq):
        if not f:  # an integer sequence, or one the step does not read
            result.append(None if not D.is_float(s.dtype) else T.zeros_like(s))
            continue
        g = bwd[k] if op.go_backwards else bwd[k][::-1]
        k += 1
        rows = _rows_read(s, n, op.go_backwards, first)
        result.append(T.set_subtensor(T.zeros_like(s)[rows], g))
    # The sums: the carried ones (initial values' gradients, then the non-sequences' kept
    # in the loop), then the stacks of the products summed outside (b_t, and a_t unless it
    # is a sequence), in the order of the float non-sequences.
    in_loop = [not p for p in pushed] if any(pushed) else [True] * len(zeros_nonseq)
    carried_sums = iter(bwd[k:])
    sums = [_reaches_start(last(next(carried_sums), z), window, n) for z in zeros_state]
    sums += [last(next(carried_sums), z) if kept else None
             for z, kept in zip(zeros_nonseq, in_loop)]
    outside = iter(sources)
    for j, kept in enumerate(in_loop):
        if not kept:
            a_src, b_src = next(outside)
            b = bwd[b_src] if b_src is not None else next(carried_sums)
            # the loop ran backwards: its stacks are in reverse step order, sequences are not
            a = bwd_seqs[a_src][::-1] if a_src is not None else next(carried_sums)
            sums[len(zeros_state) + j] = _sum_of_products(a, b)
    sums = iter(sums)
    # initial values, then non-sequences: their sums, or None (not float)
    for v, f in zip(inits + nonseqs, f_state + f_nonseq):
        if not f:  # an integer value, or a non-sequence the step does not read
            result.append(None if not D.is_float(v.dtype) else T.zeros_like(v))
            continue
        result.append(next(sums))
    return result


def _as_for_loop(op: Scan, outs: list, grads: list) -> tuple:
    """A while loop, for its gradient: the for loop of the steps it ran (op, number of
    steps, outputs and their gradients cut to those steps). The steps after the stop were
    computed but cut away by scan; going back through them could only turn their zero
    gradients into NaN (0 * inf)."""
    ran = steps_run(outs[-1])
    plain = Scan(FunctionGraph(op.inner.inputs, op.inner.outputs[:-1]), op.n_seqs,
                 op.recurrent[:-1], op.go_backwards, truncate_gradient=op.truncate_gradient)
    return (plain, ran, [o[:ran] for o in outs[:-1]],
            [None if g is None else g[:ran] for g in grads[:-1]])


def _rows_read(seq, n, backwards: bool, first=None) -> slice:
    """The rows of `seq` that steps first..n-1 of a loop of `n` steps read (all n steps
    when `first` is None), in ascending order: rows first..n-1, or going backwards
    (the op's `element_at`) rows len-n..len-1-first."""
    if backwards:
        return slice(seq.shape[0] - n, None if first is None else seq.shape[0] - first)
    return slice(first, n)


def _gradient_window(op: Scan, n):
    """How many of the last steps the gradient goes back over: min(n, truncate_gradient),
    or None for every step."""
    from clgraph import tensor as T

    if op.truncate_gradient == -1:
        return None
    return T.cast(T.minimum(n, op.truncate_gradient), "int64")


def _reaches_start(g, window, n):
    """An initial value's gradient `g` carried back over `window` steps: it is the initial
    value's only when the window covers every step (Theano's truncated gradient gives it
    zero otherwise)."""
    from clgraph import tensor as T

    if window is None:
        return g
    return T.switch(T.lt(window, n), T.zeros_like(g), g)


def _index(values: list, var) -> int | None:
    """The position of `var` itself (not an equal variable) in `values`, or None."""
    return next((i for i, v in enumerate(values) if v is var), None)


def _transposed(v):
    """The matrix `v` is the transpose of (v = DimShuffle{1,0}(m)), or None."""
    from clgraph.expr.shape_ops import DimShuffle

    node = v.owner
    if node is None or not isinstance(node.op, DimShuffle) or node.op.new_order != (1, 0):
        return None
    return node.inputs[0]


def _outer_terms(g) -> tuple | None:
    """(a_t, b_t) where a step's gradient `g` is dot(a_t.T, b_t), else None."""
    from clgraph.expr.blas import Dot22

    node = g.owner
    if node is None or not isinstance(node.op, Dot22):
        return None
    a = _transposed(node.inputs[0])
    return None if a is None else (a, node.inputs[1])


def _sum_of_products(a, b):
    """sum over steps t of a[t].T . b[t], as one product: (steps * m, k)^T . (steps * m, n).
    `a` may be longer than `b` (a sequence of previous states has one row for no steps)."""
    from clgraph import tensor as T

    a = a[:b.shape[0]]
    rows = b.shape[0] * b.shape[1]
    return T.dot(T.reshape(a, (rows, a.shape[2])).T, T.reshape(b, (rows, b.shape[2])))

