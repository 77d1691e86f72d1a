"""Building int64 shape vectors from a mix of constants and symbolic scalars."""

from __future__ import annotations

from clgraph.expr.shape_infer import MakeVector


def stack_scalars(scalars):
    return MakeVector("int64")(*scalars)
