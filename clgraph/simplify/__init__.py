"""simplify/: rewrites. Takes a FunctionGraph, returns a new, equivalent FunctionGraph.

Passes run in the one order listed in `passes.py`; next stage: `clgraph.lower`.
"""

from clgraph.simplify.passes import optimize, rewrite_graph

__all__ = ["optimize", "rewrite_graph"]
