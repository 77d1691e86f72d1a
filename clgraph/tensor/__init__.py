"""The user namespace (API.md "Operations"): `import clgraph.tensor as T`. Builds graph only."""

from clgraph.expr.type import TensorType  # noqa: F401
from clgraph.expr.variable import (  # noqa: F401
    Constant,
    SharedVariable,
    TensorVariable,
    Variable,
)

# Theano's tensor/__init__.py exports the gradient functions too (T.grad, T.Rop, ...).
from clgraph.gradient import (  # noqa: F401
    Lop,
    Rop,
    consider_constant,
    grad,
    hessian,
    jacobian,
    verify_grad,
)
from clgraph.tensor import nnet, random, signal  # noqa: F401,E402 - issue 6's namespaces
from clgraph.tensor.alloc import fill, ones_like, zeros_like  # noqa: F401
from clgraph.tensor.array import (  # noqa: F401
    addbroadcast,
    alloc,
    arange,
    argsort,
    cumprod,
    cumsum,
    eye,
    identity_like,
    ones,
    patternbroadcast,
    repeat,
    roll,
    sort,
    split,
    tile,
    tri,
    tril,
    triu,
    unbroadcast,
    zeros,
)
from clgraph.tensor.basic import *  # noqa: F401,F403
from clgraph.tensor.basic import abs_, as_tensor_variable, cast, constant, tensor  # noqa: F401
from clgraph.tensor.blas import (  # noqa: F401
    batched_dot,
    batched_tensordot,
    dot,
    matmul,
    outer,
    tensordot,
)
from clgraph.tensor.extra import (  # noqa: F401
    diag,
    diagonal,
    max_and_argmax,
    ptp,
    squeeze,
    swapaxes,
    to_one_hot,
    trace,
)
from clgraph.tensor.indexing import getitem, inc_subtensor, set_subtensor, take  # noqa: F401
from clgraph.tensor.joining import concatenate, join, stack, stacklists  # noqa: F401
from clgraph.tensor.masks import flatnonzero, nonzero, nonzero_values  # noqa: F401
from clgraph.tensor.reduction import (  # noqa: F401
    all,
    any,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from clgraph.tensor.shape import (  # noqa: F401
    dimshuffle,
    flatten,
    reshape,
    shape,
    shape_i,
    shape_padaxis,
    shape_padleft,
    shape_padright,
    transpose,
)

__all__ = [n for n in dir() if not n.startswith("_")]
