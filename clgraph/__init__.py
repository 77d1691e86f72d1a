"""clgraph: a symbolic tensor compiler in the line of Theano.

Graphs built on symbolic variables (`clgraph.tensor`) are simplified, lowered to a plan of
Mako-rendered OpenCL kernels built as one program, and run on any OpenCL device.

Stages: expr (graph) -> diff (gradients) -> simplify (rewrites) -> lower (plan, templates)
-> runtime (device, cache, execution).
"""

from clgraph import gradient, ifelse, printing, scan_module
from clgraph.cloning import clone
from clgraph.compile.function import Function, function
from clgraph.compile.io import In, Out, Param
from clgraph.config import config
from clgraph.gradient import grad
from clgraph.loops import foldl, foldr, map, reduce  # noqa: A004 - Theano's names
from clgraph.scan import scan, until
from clgraph.shared import shared
from clgraph.updates import OrderedUpdates

__version__ = "0.1.0"

__all__ = ["Function", "In", "OrderedUpdates", "Out", "Param", "clone", "config", "foldl",
           "foldr", "function", "grad", "gradient", "ifelse", "map", "printing", "reduce", "scan",
           "scan_module", "shared", "until", "__version__"]
