"""jacobian and hessian, built from one grad per element of the expression."""

from __future__ import annotations

from typing import Any

from clgraph.diff.grad import grad


def _T():
    from clgraph import tensor as T

    return T


def jacobian(expression: Any, wrt: Any, consider_constant=None,
             disconnected_inputs: str = "raise") -> Any:
    """Jacobian of a scalar or vector expression: shape expression.shape + wrt.shape.

    A length known at build time is unrolled (one gradient per element, which the merge
    pass shares between elements); otherwise, as Theano does, a scan over the rows of the
    identity: row i is the gradient of expression . e_i.
    """
    T = _T()
    expression = T.as_tensor_variable(expression)
    single = not isinstance(wrt, (list, tuple))
    wrts = [wrt] if single else list(wrt)
    if expression.ndim == 0:
        out = grad(expression, wrts, consider_constant=consider_constant,
                   disconnected_inputs=disconnected_inputs)
        return out[0] if single else out
    if expression.ndim != 1:
        raise TypeError(f"jacobian: the expression must be a scalar or a vector, got "
                        f"{expression.type}")
    n = expression.type.shape[0]
    if n is None:
        from clgraph.scan import scan

        def row(unit):
            return grad(None, wrts, consider_constant=consider_constant,
                        disconnected_inputs=disconnected_inputs,
                        known_grads={expression: unit}, return_disconnected="zero")

        rows, _ = scan(row, sequences=T.eye(expression.shape[0], dtype=expression.dtype),
                       return_list=True)
        return rows[0] if single else rows
    rows = [grad(expression[i], wrts, consider_constant=consider_constant,
                 disconnected_inputs=disconnected_inputs) for i in range(n)]
    out = [T.stack([r[k] for r in rows]) for k in range(len(wrts))]
    return out[0] if single else out


def hessian(cost: Any, wrt: Any, consider_constant=None,
            disconnected_inputs: str = "raise") -> Any:
    """Hessian of a scalar cost with respect to vector(s)."""
    single = not isinstance(wrt, (list, tuple))
    wrts = [wrt] if single else list(wrt)
    out = []
    for w in wrts:
        if w.ndim != 1:
            raise TypeError(f"hessian: wrt must be vectors, got {w.type}")
        g = grad(cost, w, consider_constant=consider_constant,
                 disconnected_inputs=disconnected_inputs)
        out.append(jacobian(g, w, consider_constant=consider_constant,
                            disconnected_inputs=disconnected_inputs))
    return out[0] if single else out
