"""diff/: gradients. Takes graphs, returns more graph (ordinary ops, simplified and fused
like the rest); next stage: `clgraph.simplify` when the result is compiled.

`grad` walks the reversed topological order from the cost and calls each op's L_op (the
rules in `lop.py`); "no gradient" is a disconnected marker (None), never a materialised zero.
"""

from clgraph.diff.grad import DisconnectedInputError, Lop, NullGradError, grad
from clgraph.diff.jacobian import hessian, jacobian
from clgraph.diff.rop import Rop
from clgraph.diff.verify import GradientError, verify_grad

__all__ = ["DisconnectedInputError", "GradientError", "Lop", "NullGradError", "Rop", "grad",
           "hessian", "jacobian", "verify_grad"]
