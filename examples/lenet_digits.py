"""A LeNet-like convolutional network on scikit-learn's digits (1x8x8 images):
conv 3x3x20 (half) - ReLU - max-pool 2 - conv 3x3x50 (half) - ReLU - max-pool 2 -
dense 500 - ReLU - dropout - dense 10 - softmax.

    python examples/lenet_digits.py [--quick] [--epochs N]
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits_common import fit, load_digits, parse, sgd_momentum  # noqa: E402


def main(argv=None, out=None) -> dict:
    import clgraph as cg
    import clgraph.tensor as T
    from clgraph.tensor.random import RandomStreams
    from clgraph.tensor.signal.pool import pool_2d

    args = parse(argv, "LeNet on digits", epochs=30, quick_epochs=2)
    data = load_digits(args.seed, images=True)
    rng = np.random.default_rng(args.seed)
    srng = RandomStreams(args.seed)

    def shared(shape, fan_in, name):
        w = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in) if fan_in else np.zeros(shape)
        return cg.shared(w.astype("float32"), name=name)

    w1, b1 = shared((20, 1, 3, 3), 9, "W1"), shared((20,), 0, "b1")
    w2, b2 = shared((50, 20, 3, 3), 180, "W2"), shared((50,), 0, "b2")
    w3, b3 = shared((50 * 2 * 2, 500), 200, "W3"), shared((500,), 0, "b3")
    w4, b4 = shared((500, 10), 500, "W4"), shared((10,), 0, "b4")
    params = [w1, b1, w2, b2, w3, b3, w4, b4]
    x, y = T.ftensor4("x"), T.ivector("y")

    def forward(h, train: bool):
        h = T.nnet.relu(T.nnet.conv2d(h, w1, border_mode="half") + b1.dimshuffle("x", 0, "x", "x"))
        h = pool_2d(h, (2, 2), ignore_border=True)
        h = T.nnet.relu(T.nnet.conv2d(h, w2, border_mode="half") + b2.dimshuffle("x", 0, "x", "x"))
        h = pool_2d(h, (2, 2), ignore_border=True)
        h = T.nnet.relu(T.dot(T.flatten(h, 2), w3) + b3)
        if train:
            h = h * srng.binomial(h.shape, p=0.5, dtype="float32") * 2
        return T.dot(h, w4) + b4

    loss = T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(forward(x, True)), y))
    grads = cg.grad(loss, params)
    train = cg.function([x, y], loss, updates=sgd_momentum(params, grads, lr=0.02))
    predict = cg.function([x], T.argmax(forward(x, False), axis=1))
    return fit(train, predict, data, args.epochs, batch=32, seed=args.seed, out=out,
               progress=not args.no_progress)


if __name__ == "__main__":
    main()
