"""x[index]: basic indexing as views (advanced indexing arrives with the indexing issue)."""

from __future__ import annotations

from typing import Any

import numpy as np

from clgraph.expr.subtensor import make_subtensor
from clgraph.expr.variable import Variable


def getitem(x: Variable, index: Any) -> Variable:
    idx = index if isinstance(index, tuple) else (index,)
    for i in idx:
        if isinstance(i, (list, np.ndarray)) or (isinstance(i, Variable) and i.ndim > 0):
            raise NotImplementedError("integer-array and boolean-mask indexing are not "
                                      "implemented yet (tracked by the indexing issue)")
    return make_subtensor(x, index)
