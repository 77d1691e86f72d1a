"""`ifelse(condition, then_branch, else_branch)`: Theano's lazy conditional.

Only the branch taken runs: the nodes that only the other branch needs are not computed
(nodes both branches, or other outputs, need are). The condition is read back to the host
first, a round trip per call, so `T.switch` is the faster choice for cheap branches; ifelse
pays off when a branch is expensive or must not run (a shape that only fits one case).
"""

from __future__ import annotations

from typing import Any

from clgraph.expr.ifelse import IfElse

__all__ = ["IfElse", "ifelse"]


def ifelse(condition: Any, then_branch: Any, else_branch: Any, name: str | None = None) -> Any:
    """The then-branch's value(s) where the scalar `condition` is nonzero, else the
    else-branch's. Branches are single values or equally long lists/tuples of them (a list
    comes back); each pair must have one rank and dtype (a Python number or array takes the
    other branch's dtype)."""
    from clgraph import tensor as T

    cond = T.as_tensor_variable(condition)
    if cond.ndim != 0:
        raise TypeError(f"ifelse: the condition must be a scalar, got {cond} of type "
                        f"{cond.type}")
    many = isinstance(then_branch, (list, tuple))
    thens = list(then_branch) if many else [then_branch]
    elses = list(else_branch) if isinstance(else_branch, (list, tuple)) else [else_branch]
    if len(thens) != len(elses):
        raise ValueError(f"ifelse: {len(thens)} then-branch value(s) but {len(elses)} "
                         "else-branch value(s)")
    pairs = []
    for a, b in zip(thens, elses):
        a_var, b_var = isinstance(a, T.Variable), isinstance(b, T.Variable)
        if a_var and not b_var:
            a = T.as_tensor_variable(a)
            b = T.constant(b, dtype=a.dtype)
        elif b_var and not a_var:
            b = T.as_tensor_variable(b)
            a = T.constant(a, dtype=b.dtype)
        else:
            a, b = T.as_tensor_variable(a), T.as_tensor_variable(b)
        pairs.append((a, b))
    outs = IfElse(len(pairs))(cond, *[a for a, _ in pairs], *[b for _, b in pairs])
    outs = outs if isinstance(outs, list) else [outs]
    if name is not None:
        for k, out in enumerate(outs):
            out.name = name if len(outs) == 1 else f"{name}[{k}]"
    return outs if many else outs[0]
