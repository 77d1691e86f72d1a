"""verify_grad: the symbolic gradient against central finite differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

_EPS = {"float32": 1e-3, "float64": 1e-6}
_TOL = {"float32": 1e-2, "float64": 1e-4}


class GradientError(AssertionError):
    def __init__(self, arg: int, err_pos: tuple, abs_err: float, rel_err: float,
                 analytic: float, numeric: float, abs_tol: float, rel_tol: float) -> None:
        self.arg, self.err_pos, self.abs_err, self.rel_err = arg, err_pos, abs_err, rel_err
        super().__init__(
            f"verify_grad: gradient of input {arg} differs from finite differences: at index "
            f"{err_pos}, symbolic {analytic:.6g} vs numeric {numeric:.6g} (abs error "
            f"{abs_err:.3g} > {abs_tol:.3g} and rel error {rel_err:.3g} > {rel_tol:.3g})")


def verify_grad(fun: Callable, pt: Sequence[Any], n_tests: int = 2, rng: Any = None,
                eps: float | None = None, abs_tol: float | None = None,
                rel_tol: float | None = None, mode: Any = None) -> None:
    """Check `fun`'s gradient at the point `pt` (a list of arrays), Theano's way: the output
    is projected on a random direction to get a scalar cost, whose gradient is compared with
    central differences, element by element. Raises GradientError naming the input."""
    import clgraph as cg
    from clgraph import tensor as T
    from clgraph.diff.grad import grad

    rng = rng if rng is not None else np.random.default_rng(42)
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng.randint(2**31) if hasattr(rng, "randint") else None)
    pt = [np.array(p, dtype=p.dtype if hasattr(p, "dtype") else "float64", copy=True)
          for p in pt]
    for i, p in enumerate(pt):
        if p.dtype.kind != "f":
            raise TypeError(f"verify_grad: point {i} has dtype {p.dtype}; it must be float")
    inputs = [T.tensor(p.dtype, shape=(None,) * p.ndim, name=f"input{i}")
              for i, p in enumerate(pt)]
    out = fun(*inputs)
    if isinstance(out, (list, tuple)):
        raise TypeError("verify_grad: fun must return one variable")
    out = T.as_tensor_variable(out)
    dtype = out.dtype
    eps = eps or _EPS.get(dtype, 1e-6)
    abs_tol = abs_tol if abs_tol is not None else _TOL.get(dtype, 1e-4)
    rel_tol = rel_tol if rel_tol is not None else _TOL.get(dtype, 1e-4)
    out_shape = cg.function(inputs, out, mode=mode, on_unused_input="ignore")(*pt).shape
    for _ in range(n_tests):
        proj = T.constant(rng.random(out_shape).astype(dtype) + 0.5)
        cost = T.sum(out * proj)
        grads = grad(cost, inputs, disconnected_inputs="ignore")
        cost_fn = cg.function(inputs, cost, mode=mode, on_unused_input="ignore")
        grad_fn = cg.function(inputs, grads, mode=mode, on_unused_input="ignore")
        analytic = grad_fn(*pt)
        for i, p in enumerate(pt):
            numeric = np.zeros(p.shape, dtype="float64")
            flat = p.reshape(-1)
            for k in range(flat.size):
                orig = flat[k]
                flat[k] = orig + eps
                hi = float(cost_fn(*pt))
                flat[k] = orig - eps
                lo = float(cost_fn(*pt))
                flat[k] = orig
                numeric.reshape(-1)[k] = (hi - lo) / (2 * eps)
            a = np.asarray(analytic[i], dtype="float64")
            abs_err = np.abs(a - numeric)
            rel_err = abs_err / np.maximum(np.abs(a) + np.abs(numeric), 1e-8)
            bad = (abs_err > abs_tol) & (rel_err > rel_tol)
            if bad.any():
                pos = np.unravel_index(int(np.argmax(np.where(bad, abs_err, -1))), p.shape)
                raise GradientError(i, tuple(int(x) for x in pos), float(abs_err[pos]),
                                    float(rel_err[pos]), float(a[pos]), float(numeric[pos]),
                                    abs_tol, rel_tol)
