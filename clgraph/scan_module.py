"""Theano's `theano.scan_module` names: the loop (`scan`), its stop condition (`until`)
and the loops built on it (`map`, `reduce`, `foldl`, `foldr`)."""

from clgraph.loops import foldl, foldr, map, reduce  # noqa: A004 - Theano's names
from clgraph.scan import scan, until

__all__ = ["foldl", "foldr", "map", "reduce", "scan", "until"]
