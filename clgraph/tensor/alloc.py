"""Filled tensors: fill, zeros_like, ones_like (shapes taken from another tensor)."""

from __future__ import annotations

from typing import Any

from clgraph.config import config
from clgraph.expr.elemwise import Elemwise
from clgraph.expr.scalar.fill import second
from clgraph.expr.variable import TensorVariable
from clgraph.tensor.basic import as_tensor_variable, constant


def fill(model: Any, value: Any) -> TensorVariable:
    """`value` broadcast to the shape of `model` (Theano's fill / second)."""
    model = as_tensor_variable(model)
    value = as_tensor_variable(value)
    return Elemwise(second)(model, value)


def zeros_like(x: Any, dtype: Any = None) -> TensorVariable:
    x = as_tensor_variable(x)
    return fill(x, constant(0, dtype=dtype or x.dtype))


def ones_like(x: Any, dtype: Any = None) -> TensorVariable:
    x = as_tensor_variable(x)
    return fill(x, constant(1, dtype=dtype or x.dtype))


def floatX_zeros_like(x: Any) -> TensorVariable:  # noqa: N802
    return zeros_like(x, dtype=config.floatX)
