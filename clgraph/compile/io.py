"""Out: how a compiled function returns an output."""

from __future__ import annotations

from dataclasses import dataclass

from clgraph.expr.variable import Variable


@dataclass
class Out:
    """`Out(var, borrow=True)` returns the device array (pyopencl) instead of a NumPy copy."""

    variable: Variable
    borrow: bool = False
