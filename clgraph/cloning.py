"""theano.clone: a copy of a graph with some variables replaced (a module not named
`clone`, so that `clgraph.clone` stays the function)."""

from __future__ import annotations

from typing import Any

from clgraph.expr.graph import clone_graph, graph_inputs
from clgraph.expr.variable import Constant, SharedVariable, Variable


def _replace_pairs(replace: Any) -> list[tuple[Variable, Variable]]:
    """Theano's replace: a dict or a sequence of (old, new) pairs; values that are not
    variables become shared variables (as Theano's clone does)."""
    from clgraph.shared import shared

    if replace is None:
        return []
    if isinstance(replace, dict):
        items = list(replace.items())
    elif isinstance(replace, (list, tuple)):
        items = list(replace)
    else:
        raise TypeError(f"clone: replace must be a dict, a list of pairs or None, got "
                        f"{type(replace).__name__}")
    pairs = []
    for old, new in items:
        if not isinstance(old, Variable):
            raise TypeError(f"clone: replace keys must be variables, got {old!r}")
        pairs.append((old, new if isinstance(new, Variable) else shared(new)))
    return pairs


def _check_strict(pairs: list[tuple[Variable, Variable]]) -> None:
    """strict=True: a replacement has the dtype and number of dimensions of what it
    replaces (Theano's filter_variable)."""
    for old, new in pairs:
        if new.dtype != old.dtype or new.ndim != old.ndim:
            raise TypeError(f"clone: {new} (type {new.type}) cannot replace {old} (type "
                            f"{old.type}) with strict=True; pass strict=False or cast it")


def clone(output: Any, replace: Any = None, strict: bool = True,
          share_inputs: bool = True) -> Any:
    """Theano's clone: `output` (a variable or a list of them) rebuilt with the variables of
    `replace` substituted. share_inputs=False gives the copy new input variables of the
    same types (shared variables and constants are kept: they are one slot everywhere)."""
    outputs = list(output) if isinstance(output, (list, tuple)) else [output]
    pairs = _replace_pairs(replace)
    if strict:
        _check_strict(pairs)
    mapping = dict(pairs)
    if not share_inputs:
        for var in graph_inputs(outputs):
            if var not in mapping and not isinstance(var, (Constant, SharedVariable)):
                mapping[var] = var.type(var.name)
    new = clone_graph(outputs, mapping, keep_types=False)[0]
    return new if isinstance(output, (list, tuple)) else new[0]
