"""A 64-256-256-10 ReLU multilayer perceptron with dropout on scikit-learn's digits.

    python examples/mlp_digits.py [--quick] [--epochs N]

This is what `python -m clgraph demo` runs.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_common import run_flat, sgd_momentum  # noqa: E402


def build(seed: int = 0, hidden=(256, 256), dropout: float = 0.1, lr: float = 0.05):
    """(train(x, y) -> loss, predict(x) -> labels) for the MLP."""
    import clgraph as cg
    import clgraph.tensor as T
    from clgraph.tensor.random import RandomStreams

    rng = np.random.default_rng(seed)
    srng = RandomStreams(seed)
    sizes = (64,) + tuple(hidden) + (10,)
    params = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        scale = np.sqrt(2.0 / n_in)  # He initialisation for ReLU
        params.append(cg.shared((rng.standard_normal((n_in, n_out)) * scale).astype("float32"),
                                name=f"W{k}"))
        params.append(cg.shared(np.zeros(n_out, "float32"), name=f"b{k}"))
    x, y = T.fmatrix("x"), T.ivector("y")

    def forward(h, train: bool):
        for k in range(0, len(params) - 2, 2):
            h = T.nnet.relu(T.dot(h, params[k]) + params[k + 1])
            if train and dropout:
                h = h * srng.binomial(h.shape, p=1 - dropout, dtype="float32") / (1 - dropout)
        return T.dot(h, params[-2]) + params[-1]

    loss = T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(forward(x, True)), y))
    grads = cg.grad(loss, params)
    train = cg.function([x, y], loss, updates=sgd_momentum(params, grads, lr=lr))
    predict = cg.function([x], T.argmax(forward(x, False), axis=1))
    return train, predict


def main(argv=None, out=None) -> dict:
    return run_flat(argv, out, "MLP on digits", build)

if __name__ == "__main__":
    main()
