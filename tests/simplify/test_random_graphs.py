"""Random elementwise/reduction graphs: FAST_RUN == optimizer None == NumPy (perform)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clgraph as cg
import clgraph.tensor as T
from clgraph.compile.mode import Mode
from clgraph.expr.graph import toposort

UNARY = [T.tanh, T.sin, T.abs_, lambda v: T.sqrt(T.abs_(v) + 1), lambda v: T.exp(-T.sqr(v)),
         T.neg, lambda v: T.log1p(T.abs_(v)), T.sqr, lambda v: v * 2 + 1]
BINARY = [T.add, T.sub, T.mul, T.maximum, T.minimum, lambda a, b: a / (T.abs_(b) + 1)]
REDUCE = [lambda v: T.sum(v, axis=1, keepdims=True), lambda v: T.max(v, axis=0, keepdims=True),
          lambda v: T.mean(v, axis=1, keepdims=True), lambda v: v - T.mean(v)]


def _numpy_eval(outputs, env):
    """Evaluate the graph with every op's NumPy `perform`: the reference."""
    vals = dict(env)
    for node in toposort(outputs):
        ins = [vals[i] if i in vals else i.data for i in node.inputs]
        for o, v in zip(node.outputs, node.op.perform(node, ins)):
            vals[o] = v
    return [vals[o] for o in outputs]


@st.composite
def graphs(draw):
    x, y = T.fmatrix("x"), T.fmatrix("y")
    pool = [x, y]
    for _ in range(draw(st.integers(2, 7))):
        kind = draw(st.sampled_from(["u", "b", "r"]))
        a = draw(st.sampled_from(pool))
        if kind == "u":
            pool.append(draw(st.sampled_from(UNARY))(a))
        elif kind == "b":
            pool.append(draw(st.sampled_from(BINARY))(a, draw(st.sampled_from(pool))))
        else:
            pool.append(draw(st.sampled_from(REDUCE))(a))
    return (x, y), pool[-1]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 2**31 - 1))
def test_fast_run_matches_no_optimizer_and_numpy(graph, seed):
    (x, y), out = graph
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, 5, 19)).astype("float32")
    fast = cg.function([x, y], out, on_unused_input="ignore")
    slow = cg.function([x, y], out, mode=Mode("None"), on_unused_input="ignore")
    (ref,) = _numpy_eval([out], {x: a, y: b})
    got_fast, got_slow = fast(a, b), slow(a, b)
    np.testing.assert_allclose(got_slow, ref, rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(got_fast, ref, rtol=2e-5, atol=1e-5)
