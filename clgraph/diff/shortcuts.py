"""Gradients of written-out formulas taken as a whole, where the chain rule through their
parts overflows.

`exp(z) / sum(exp(z))` is softmax(z), and the forward rewrites compute it as one stable kernel;
the chain rule through exp and the sum, though, builds exp(z) * sum(...) / sum(exp(z))**2, which
is inf / inf for z of a few hundred. Its gradient is the softmax's own,
sm * (g - sum(g * sm)), in terms of the node's value sm (which the rewrites make the stable
softmax; under log, stabilize's rules then give g - sm * sum(g) with no division by sm).
"""

from __future__ import annotations

from typing import Any


def shortcut(node: Any, out_grads: list, keep: set[int]) -> list[tuple[Any, Any]] | None:
    """[(variable, gradient term)] standing for node's L_op, or None to use the L_op. The
    shortcut is taken only when no variable it skips is in `keep` (ids of wrt and of
    consider_constant: those must see the gradient that flows through them)."""
    from clgraph import tensor as T
    from clgraph.simplify.stabilize import softmax_formula

    found = softmax_formula(node)
    if found is None:
        return None
    z, axis, interior = found
    if any(id(v) in keep for v in interior):
        return None
    sm, g = node.outputs[0], out_grads[0]
    return [(z, sm * (g - T.sum(g * sm, axis=axis, keepdims=True)))]
