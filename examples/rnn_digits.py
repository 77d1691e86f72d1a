"""A recurrent network with `scan` on scikit-learn's digits: each 8x8 image is read as a
sequence of 8 rows of 8 pixels by a tanh RNN of 64 units (with dropout drawn inside the
loop), and the last state is classified.

    python examples/rnn_digits.py [--quick] [--epochs N]
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_common import run_flat, sgd_momentum  # noqa: E402

ROWS = COLS = 8


def build(seed: int = 0, hidden: int = 64, dropout: float = 0.1, lr: float = 0.02):
    """(train(x, y) -> loss, predict(x) -> labels) for the RNN."""
    import clgraph as cg
    import clgraph.tensor as T
    from clgraph.tensor.random import RandomStreams

    rng = np.random.default_rng(seed)
    srng = RandomStreams(seed)

    def weights(shape, name, scale):
        return cg.shared((rng.standard_normal(shape) * scale).astype("float32"), name=name)

    U = weights((COLS, hidden), "U", np.sqrt(1.0 / COLS))  # input -> state
    W = weights((hidden, hidden), "W", np.sqrt(1.0 / hidden))  # state -> state
    b = cg.shared(np.zeros(hidden, "float32"), name="b")
    V = weights((hidden, 10), "V", np.sqrt(1.0 / hidden))  # state -> class scores
    c = cg.shared(np.zeros(10, "float32"), name="c")
    params = [U, W, b, V, c]
    x, y = T.fmatrix("x"), T.ivector("y")
    rows = x.reshape((x.shape[0], ROWS, COLS)).dimshuffle(1, 0, 2)  # (row, batch, pixels)

    def scores(train: bool):
        def step(row, h):
            h = T.tanh(T.dot(row, U) + T.dot(h, W) + b)
            if train and dropout:  # a new mask every step, drawn on the device
                h = h * srng.binomial(h.shape, p=1 - dropout, dtype="float32") / (1 - dropout)
            return h

        states, updates = cg.scan(step, sequences=rows,
                                  outputs_info=T.zeros((x.shape[0], hidden), dtype="float32"))
        return T.dot(states[-1], V) + c, updates

    train_scores, rng_updates = scores(True)
    loss = T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(train_scores), y))
    grads = cg.grad(loss, params)
    updates = list(rng_updates.items()) + sgd_momentum(params, grads, lr=lr)
    train = cg.function([x, y], loss, updates=updates)
    test_scores, _ = scores(False)
    predict = cg.function([x], T.argmax(test_scores, axis=1))
    return train, predict


def main(argv=None, out=None) -> dict:
    return run_flat(argv, out, "RNN (scan) on digits", build)

if __name__ == "__main__":
    main()
