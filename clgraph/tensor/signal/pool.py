"""`T.signal.pool.pool_2d` (API.md), with Theano 1.0's older names ds, st, padding."""

from __future__ import annotations

from typing import Any

from clgraph.expr.conv import Pool2d, PoolGeom

__all__ = ["pool_2d", "max_pool_2d_same_size"]

_MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


def _pair(value: Any, what: str) -> tuple[int, int]:
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f"pool_2d: {what} must be a pair of ints, got {value!r}") from None
    return (int(a), int(b))


def pool_2d(input: Any, ws: Any = None, ignore_border: bool | None = None,  # noqa: A002
            stride: Any = None, pad: Any = (0, 0), mode: str = "max", ds: Any = None,
            st: Any = None, padding: Any = None):
    """Pool the last two axes of `input` with windows `ws`, steps `stride` (default ws) and
    zero padding `pad`; mode 'max', 'sum', 'average_inc_pad' or 'average_exc_pad'
    ('average' is 'average_inc_pad'). ignore_border=False keeps partial windows."""
    from clgraph import tensor as T

    if ds is not None:
        if ws is not None:
            raise ValueError("pool_2d: give ws or its old name ds, not both")
        ws = ds
    if st is not None:
        if stride is not None:
            raise ValueError("pool_2d: give stride or its old name st, not both")
        stride = st
    if padding is not None:
        if tuple(pad) != (0, 0):
            raise ValueError("pool_2d: give pad or its old name padding, not both")
        pad = padding
    if ws is None:
        raise ValueError("pool_2d: the window size ws is required")
    if ignore_border is None:
        ignore_border = True  # Theano 1.0 warns and will default to True
    if mode == "average":
        mode = "average_inc_pad"
    if mode not in _MODES:
        raise ValueError(f"pool_2d: mode must be one of {', '.join(_MODES)}, got {mode!r}")
    ws = _pair(ws, "ws")
    stride = ws if stride is None else _pair(stride, "stride")
    pad = _pair(pad, "pad")
    if min(ws) < 1 or min(stride) < 1 or min(pad) < 0:
        raise ValueError(f"pool_2d: ws {ws} and stride {stride} must be >= 1 and pad {pad} >= 0")
    if pad != (0, 0):
        if not ignore_border:
            raise NotImplementedError("pool_2d: padding works only with ignore_border=True")
        if pad[0] >= ws[0] or pad[1] >= ws[1]:
            raise ValueError(f"pool_2d: pad {pad} must be smaller than the window {ws}")
    x = T.as_tensor_variable(input)
    return Pool2d(PoolGeom(ws, stride, pad, bool(ignore_border), mode))(x)


def max_pool_2d_same_size(input: Any, patch_size: Any):  # noqa: A002
    """Keep each patch's maximum in place, zero elsewhere (Theano's helper)."""
    from clgraph import tensor as T

    x = T.as_tensor_variable(input)
    out = pool_2d(x, patch_size, ignore_border=True)
    from clgraph.expr.conv import MaxPoolGrad

    return MaxPoolGrad(PoolGeom(_pair(patch_size, "patch_size"), _pair(patch_size, "patch_size"),
                                (0, 0), True, "max"))(x, out, out)
