"""`T.nnet.bn`: batch normalization as in Theano 1.0, written with reductions and elementwise
ops (so it fuses, and its gradients come from theirs)."""

from __future__ import annotations

from typing import Any

__all__ = ["batch_normalization", "batch_normalization_train", "batch_normalization_test"]


def _T():
    from clgraph import tensor as T

    return T


def _axes(axes: Any, ndim: int) -> tuple[int, ...]:
    if axes == "per-activation":
        return (0,)
    if axes == "spatial":
        return (0,) + tuple(range(2, ndim))
    if isinstance(axes, str):
        raise ValueError(f"axes must be 'per-activation', 'spatial' or a tuple of ints, got "
                         f"{axes!r}")
    out = tuple(sorted(int(a) % ndim for a in axes))
    if len(set(out)) != len(out):
        raise ValueError(f"axes {axes} repeat an axis")
    return out


def _params_ndim(inputs, axes, *params) -> int:
    nd = {p.ndim for p in params if p is not None}
    if len(nd) > 1:
        raise ValueError(f"batch normalization parameters differ in rank: {sorted(nd)}")
    pnd = nd.pop()
    if pnd not in (inputs.ndim, inputs.ndim - len(axes)):
        raise ValueError(f"batch normalization parameters have {pnd} dimensions; expected "
                         f"{inputs.ndim} or {inputs.ndim - len(axes)} for inputs of "
                         f"{inputs.ndim} dimensions normalized over axes {axes}")
    return pnd


def _bcast(p, inputs, axes):
    """`p` as a tensor of the inputs' rank, broadcastable over `axes`."""
    T = _T()
    p = T.as_tensor_variable(p)
    if p.ndim == inputs.ndim:
        if all(p.type.shape[a] == 1 for a in axes):
            return p
        return T.sum(p, axis=axes, keepdims=True)  # lengths 1 there: only the type changes
    from clgraph.tensor.reduction import expand_reduced

    return expand_reduced(p, inputs.ndim, axes)


def _unbcast(v, axes, pnd: int, ndim: int):
    """Back to the parameters' rank."""
    if pnd == ndim:
        return v
    return _T().dimshuffle(v, tuple(d for d in range(ndim) if d not in axes))


def batch_normalization_train(inputs: Any, gamma: Any, beta: Any, axes: Any = "per-activation",
                              epsilon: float = 1e-4, running_average_factor: float = 0.1,
                              running_mean: Any = None, running_var: Any = None):
    """(out, mean, invstd[, new_running_mean, new_running_var]) as Theano's: normalize over
    `axes` with the batch statistics; the running variance takes the unbiased variance."""
    T = _T()
    x = T.as_tensor_variable(inputs)
    axes = _axes(axes, x.ndim)
    gamma, beta = T.as_tensor_variable(gamma), T.as_tensor_variable(beta)
    if (running_mean is None) != (running_var is None):
        raise ValueError("give both running_mean and running_var, or neither")
    pnd = _params_ndim(x, axes, gamma, beta, running_mean, running_var)
    g, b = _bcast(gamma, x, axes), _bcast(beta, x, axes)
    mean = T.mean(x, axis=axes, keepdims=True)
    var = T.mean(T.sqr(x - mean), axis=axes, keepdims=True)
    eps = T.constant(epsilon, dtype=x.dtype)
    invstd = T.constant(1, dtype=x.dtype) / T.sqrt(var + eps)
    out = (x - mean) * (invstd * g) + b
    results = [out, _unbcast(mean, axes, pnd, x.ndim), _unbcast(invstd, axes, pnd, x.ndim)]
    if running_mean is not None:
        f = T.constant(running_average_factor, dtype=x.dtype)
        one = T.constant(1, dtype=x.dtype)
        m = T.cast(T.prod(T.stack([T.shape_i(x, a) for a in axes])), x.dtype)
        rm = _bcast(running_mean, x, axes)
        rv = _bcast(running_var, x, axes)
        new_rm = rm * (one - f) + mean * f
        new_rv = rv * (one - f) + (m / T.maximum(m - one, one)) * var * f
        results += [_unbcast(new_rm, axes, pnd, x.ndim), _unbcast(new_rv, axes, pnd, x.ndim)]
    return tuple(results)


def batch_normalization_test(inputs: Any, gamma: Any, beta: Any, mean: Any, var: Any,
                             axes: Any = "per-activation", epsilon: float = 1e-4):
    """(inputs - mean) * gamma / sqrt(var + epsilon) + beta, with given statistics."""
    T = _T()
    x = T.as_tensor_variable(inputs)
    axes = _axes(axes, x.ndim)
    params = [T.as_tensor_variable(p) for p in (gamma, beta, mean, var)]
    _params_ndim(x, axes, *params)
    g, b, m, v = (_bcast(p, x, axes) for p in params)
    eps = T.constant(epsilon, dtype=x.dtype)
    return (x - m) * (g / T.sqrt(v + eps)) + b


def batch_normalization(inputs: Any, gamma: Any, beta: Any, mean: Any, std: Any,
                        mode: str = "low_mem"):
    """Theano's older form: (inputs - mean) * (gamma / std) + beta, broadcasting as given."""
    T = _T()
    return (T.as_tensor_variable(inputs) - mean) * (gamma / T.as_tensor_variable(std)) + beta
