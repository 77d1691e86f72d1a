"""Compiled functions called from several threads at once (calls on one device are
serialized by its `call_lock`: a call keeps buffers and kernel objects between calls)."""

from __future__ import annotations

import threading

import numpy as np

import clgraph as cg
import clgraph.tensor as T


def test_one_function_from_two_threads():
    x = T.fmatrix("x")
    w = cg.shared(np.float32(0), name="count")
    f = cg.function([x], [T.tanh(x) * 2 + x.sum(axis=0)], updates=[(w, w + 1)])
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((37, 53)).astype(np.float32) for _ in range(8)]
    wanted = [np.tanh(a) * 2 + a.sum(axis=0) for a in inputs]
    errors: list[str] = []

    def worker(k: int) -> None:
        for n in range(40):
            i = (k + n) % len(inputs)
            (got,) = f(inputs[i])
            if not np.allclose(got, wanted[i], rtol=1e-5, atol=1e-4):
                errors.append(f"thread {k}, call {n}: wrong values")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert float(w.get_value()) == 3 * 40  # no update lost
