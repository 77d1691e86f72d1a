"""grad and Lop: reverse mode over the graph between `wrt` and the cost."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from clgraph.diff.lop import L_op, no_gradient
from clgraph.diff.markers import DisconnectedType, NullGrad
from clgraph.diff.shortcuts import shortcut
from clgraph.expr import dtypes as D
from clgraph.expr.graph import toposort
from clgraph.expr.variable import Variable


class DisconnectedInputError(ValueError):
    """grad was asked for an input the cost does not depend on."""


class NullGradError(TypeError):
    """A gradient that is undefined (e.g. through argmax) reached a requested input."""


def _T():
    from clgraph import tensor as T

    return T


def _add_all(terms: list) -> Any:
    nulls = [t for t in terms if isinstance(t, NullGrad)]
    if nulls:
        return nulls[0]
    out = terms[0]
    for t in terms[1:]:
        out = _T().add(out, t)
    return out


def _connected_to(wrt: list[Variable], nodes) -> set[int]:
    """ids of variables that depend on any of wrt."""
    live = {id(v) for v in wrt}
    for node in nodes:
        if any(id(i) in live for i in node.inputs):
            live.update(id(o) for o in node.outputs)
    return live


def _backprop(outputs_grads: dict[Variable, Any], wrt: list[Variable],
              consider_constant: Sequence[Variable]) -> dict[int, list]:
    """Accumulated gradient terms for every variable between wrt and the seeded outputs."""
    const_ids = {id(v) for v in consider_constant}
    seeds = list(outputs_grads)
    # The whole graph under the seeds: a wrt may depend on another (grad(c, [h, x]) with
    # h = tanh(x)), and each gets every path (Theano).
    nodes = toposort(seeds)
    live = _connected_to(wrt, nodes)
    keep = const_ids | {id(v) for v in wrt}
    acc: dict[int, list] = {id(v): [g] for v, g in outputs_grads.items()}
    for node in reversed(nodes):
        # A consider_constant variable gets its gradient but passes none to its own inputs.
        flowing = [o for o in node.outputs if id(o) in acc and id(o) not in const_ids]
        if not flowing or not any(id(i) in live for i in node.inputs):
            continue
        out_grads = [_add_all(acc[id(o)]) if o in flowing else no_gradient(o)
                     for o in node.outputs]
        if any(isinstance(g, NullGrad) for g in out_grads):
            null = next(g for g in out_grads if isinstance(g, NullGrad))
            terms: list = [(inp, null) for inp in node.inputs]
        else:
            terms = shortcut(node, out_grads, keep) or list(zip(node.inputs,
                                                                L_op(node, out_grads)))
        for inp, g in terms:
            if g is None or id(inp) not in live:
                continue
            if not D.is_float(inp.dtype):
                continue  # integers and bools carry no gradient (Theano: zero)
            if not isinstance(g, NullGrad):
                g = _T().as_tensor_variable(g)
                if D.is_float(inp.dtype) and g.dtype != inp.dtype:
                    g = _T().cast(g, inp.dtype)
            acc.setdefault(id(inp), []).append(g)
    return acc


def _add_integer_cost_zeros(cost: Variable, wrt: list[Variable],
                            consider_constant: Sequence[Variable], acc: dict[int, list]) -> None:
    """An integer cost is a step function of its inputs: Theano gives zeros (not an error) for
    every float wrt the cost depends on; integer wrt get theirs from _finish."""
    from clgraph.tensor.alloc import zeros_like

    const_ids = {id(v) for v in consider_constant}
    nodes = [n for n in toposort([cost], stop=wrt)
             if not any(id(o) in const_ids for o in n.outputs)]
    for v in wrt:
        if D.is_float(v.dtype) and (v is cost or id(cost) in _connected_to([v], nodes)):
            acc.setdefault(id(v), []).append(zeros_like(v))


def disconnected_options(disconnected: str, flag: str, return_disconnected: str) -> str:
    """Theano's options for results that do not depend on wrt (`flag`: grad's
    disconnected_inputs, Rop's disconnected_outputs), checked; return_disconnected
    normalized to 'zero', 'none' or 'disconnected' (Theano writes 'None', 'Disconnected')."""
    if disconnected not in ("raise", "warn", "ignore"):
        raise ValueError(f"{flag} must be 'raise', 'warn' or 'ignore', got {disconnected!r}")
    normalized = str(return_disconnected).lower()
    if normalized not in ("zero", "none", "disconnected"):
        raise ValueError("return_disconnected must be 'zero', 'none' or 'disconnected', got "
                         f"{return_disconnected!r}")
    return normalized


def disconnected_result(var: Variable, msg: str, disconnected: str, return_disconnected: str,
                        stacklevel: int) -> Any:
    """What grad and Rop give for `var` when the result does not depend on wrt: raise or
    warn with `msg` as `disconnected` says, then zeros like var, None or DisconnectedType."""
    from clgraph.tensor.alloc import zeros_like

    if disconnected == "raise":
        raise DisconnectedInputError(msg)
    if disconnected == "warn":
        warnings.warn(msg, stacklevel=stacklevel)
    if return_disconnected == "zero":
        return zeros_like(var)
    return None if return_disconnected == "none" else DisconnectedType()


def _finish(wrt: list[Variable], acc: dict[int, list], disconnected_inputs: str,
            return_disconnected: str, null_gradients: str) -> list:
    from clgraph.tensor.alloc import zeros_like

    out = []
    for i, v in enumerate(wrt):
        terms = acc.get(id(v))
        if not terms:
            if not D.is_float(v.dtype):
                out.append(zeros_like(v, dtype="float64" if v.dtype == "int64"
                                      else "float32") if return_disconnected == "zero"
                           else None)
                continue
            msg = (f"grad: the cost does not depend on input {i} ({v}, type {v.type}), or only "
                   "through non-differentiable operations; pass disconnected_inputs='ignore' "
                   "to get a zero gradient")
            out.append(disconnected_result(v, msg, disconnected_inputs, return_disconnected,
                                           stacklevel=4))
            continue
        g = _add_all(terms)
        if isinstance(g, NullGrad):
            if null_gradients == "raise":
                raise NullGradError(f"grad: the gradient with respect to {v} is undefined: "
                                    f"{g.reason}")
            out.append(None)
            continue
        out.append(g)
    return out


def grad(cost: Any, wrt: Any, consider_constant: Sequence[Variable] | None = None,
         disconnected_inputs: str = "raise", known_grads: dict | None = None,
         return_disconnected: str = "zero", null_gradients: str = "raise") -> Any:
    """Symbolic gradient of the scalar `cost` with respect to `wrt` (a variable or a list)."""
    T = _T()
    return_disconnected = disconnected_options(disconnected_inputs, "disconnected_inputs",
                                               return_disconnected)
    single = not isinstance(wrt, (list, tuple))
    wrt_list = [wrt] if single else list(wrt)
    for v in wrt_list:
        if not isinstance(v, Variable):
            raise TypeError(f"grad: wrt must be symbolic variables, got {type(v).__name__}")
    seeds: dict[Variable, Any] = {}
    if cost is not None:
        cost = T.as_tensor_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"grad: the cost must be a scalar, got {cost} of type {cost.type}; "
                            "sum it, or use jacobian/Lop for non-scalar expressions")
        if D.is_float(cost.dtype):
            seeds[cost] = T.constant(1, dtype=cost.dtype)
    integer_cost = cost is not None and not D.is_float(cost.dtype)
    for var, g in (known_grads or {}).items():
        g = T.as_tensor_variable(g)
        if g.ndim != var.ndim:
            raise ValueError(f"known_grads: gradient {g.type} does not match {var.type}")
        seeds[var] = g if g.dtype == var.dtype or not D.is_float(var.dtype) else T.cast(
            g, var.dtype)
    if not seeds and not integer_cost:
        raise ValueError("grad: give a cost or known_grads")
    acc = _backprop(seeds, wrt_list, consider_constant or []) if seeds else {}
    if integer_cost:
        _add_integer_cost_zeros(cost, wrt_list, consider_constant or [], acc)
    out = _finish(wrt_list, acc, disconnected_inputs, return_disconnected, null_gradients)
    return out[0] if single else out


def Lop(f: Any, wrt: Any, eval_points: Any, consider_constant=None,  # noqa: N802
        disconnected_inputs: str = "raise") -> Any:
    """Vector-Jacobian product: eval_points (shaped like f) times the Jacobian of f."""
    fs = f if isinstance(f, (list, tuple)) else [f]
    evs = eval_points if isinstance(eval_points, (list, tuple)) else [eval_points]
    if len(fs) != len(evs):
        raise ValueError(f"Lop: {len(fs)} expressions but {len(evs)} eval points")
    return grad(None, wrt, consider_constant=consider_constant,
                disconnected_inputs=disconnected_inputs, known_grads=dict(zip(fs, evs)))
