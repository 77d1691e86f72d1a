"""`T.nnet.conv2d` (API.md): NCHW convolution with Theano 1.0's arguments."""

from __future__ import annotations

from typing import Any

from clgraph.expr.conv import Conv2d, ConvGeom

__all__ = ["conv2d"]


def _pair(value: Any, what: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f"conv2d: {what} must be an int or a pair of ints, "
                         f"got {value!r}") from None
    return (int(a), int(b))


def _border(border_mode: Any) -> Any:
    if isinstance(border_mode, str):
        if border_mode not in ("valid", "full", "half"):
            raise ValueError(f"conv2d: border_mode must be 'valid', 'full', 'half', an int or a "
                             f"pair of ints, got {border_mode!r}")
        return "valid" if border_mode == "valid" else border_mode
    pads = _pair(border_mode, "border_mode")
    if min(pads) < 0:
        raise ValueError(f"conv2d: negative padding {pads}")
    return "valid" if pads == (0, 0) else pads


def conv2d(input: Any, filters: Any, input_shape: Any = None, filter_shape: Any = None,  # noqa: A002
           border_mode: Any = "valid", subsample: Any = (1, 1), filter_flip: bool = True,
           image_shape: Any = None, filter_dilation: Any = (1, 1), num_groups: int = 1,
           unshared: bool = False, **kwargs: Any):
    """2-d convolution of `input` (N, C, H, W) with `filters` (F, C, KH, KW).

    border_mode: 'valid', 'full', 'half', an int or (pad_h, pad_w); subsample: strides;
    filter_flip=True is a true convolution (Theano's default), False a cross-correlation;
    filter_dilation: spacing between filter taps. input_shape / filter_shape are hints
    (checked when the call's shapes are known).
    """
    from clgraph import tensor as T

    if num_groups != 1 or unshared:
        raise NotImplementedError("conv2d: grouped and unshared convolutions are not supported")
    sub = _pair(subsample, "subsample")
    dil = _pair(filter_dilation, "filter_dilation")
    if min(sub) < 1 or min(dil) < 1:
        raise ValueError(f"conv2d: subsample {sub} and filter_dilation {dil} must be >= 1")
    x, w = T.as_tensor_variable(input), T.as_tensor_variable(filters)
    hints = []
    for hint, var, what in ((input_shape if input_shape is not None else image_shape, x,
                             "input_shape"), (filter_shape, w, "filter_shape")):
        if hint is not None:
            hint = tuple(None if h is None else int(h) for h in hint)
            if len(hint) != 4:
                raise ValueError(f"conv2d: {what} {hint} must have 4 entries")
            for d, (h, s) in enumerate(zip(hint, var.type.shape, strict=True)):
                if h is not None and s is not None and h != s:
                    raise ValueError(f"conv2d: {what}[{d}] = {h} but {var} has length {s} there")
        hints.append(hint)
    geom = ConvGeom(_border(border_mode), sub, bool(filter_flip), dil, *hints)
    return Conv2d(geom)(x, w)
