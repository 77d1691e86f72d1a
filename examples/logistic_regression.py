"""Multinomial logistic regression on scikit-learn's digits (8x8 images, 10 classes).

    python examples/logistic_regression.py [--quick] [--epochs N]
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

    args = parse(argv, "logistic regression on digits", epochs=40, quick_epochs=3)
    data = load_digits(args.seed)
    x, y = T.fmatrix("x"), T.ivector("y")
    w = cg.shared(np.zeros((64, 10), "float32"), name="W")
    b = cg.shared(np.zeros(10, "float32"), name="b")
    p = T.nnet.softmax(T.dot(x, w) + b)
    loss = T.mean(T.nnet.categorical_crossentropy(p, y)) + 1e-4 * T.sum(T.sqr(w))
    grads = cg.grad(loss, [w, b])
    train = cg.function([x, y], loss, updates=sgd_momentum([w, b], grads, lr=0.1))
    predict = cg.function([x], T.argmax(p, axis=1))
    return fit(train, predict, data, args.epochs, batch=32, seed=args.seed, out=out,
               progress=not args.no_progress)


if __name__ == "__main__":
    main()
