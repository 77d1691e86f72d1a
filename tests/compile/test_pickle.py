"""Pickling and copying shared variables, expressions and compiled functions (Theano's rules:
a shared variable pickles its value; a function pickles what compiles it and compiles on load).
"""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyopencl.array as cl_array

import clgraph as cg
import clgraph.tensor as T
from clgraph.compile.mode import NanGuardMode
from clgraph.expr.graph import graph_inputs
from clgraph.tensor.random import RandomStreams


def named_inputs(var) -> dict:
    return {v.name: v for v in graph_inputs([var]) if v.name is not None}


def test_shared_variable_pickles_its_value():
    w = cg.shared(np.arange(6, dtype="float32").reshape(1, 6), name="w", shape=(1, None))
    loaded = pickle.loads(pickle.dumps(w))
    assert loaded is not w and loaded.name == "w" and loaded.type == w.type
    np.testing.assert_array_equal(loaded.get_value(), np.arange(6, dtype="float32")[None])
    device_value = loaded.get_value(return_internal_type=True)
    assert isinstance(device_value, cl_array.Array)  # on the current device
    np.testing.assert_array_equal(cg.function([], loaded * 2)(), 2 * w.get_value())


def test_expression_with_a_shared_variable_pickles():
    x = T.fvector("x")
    w = cg.shared(np.array([1, 2, 3], "float32"), name="w")
    expr = pickle.loads(pickle.dumps(T.exp(x) * 2 + w))
    x2, w2 = named_inputs(expr)["x"], named_inputs(expr)["w"]
    assert x2 is not x and w2 is not w
    value = cg.function([x2], expr)(np.zeros(3, "float32"))
    np.testing.assert_array_equal(value, [3, 4, 5])


def test_deepcopy_of_a_shared_variable_is_independent():
    w = cg.shared(np.ones(3, "float32"), name="w")
    twin = copy.deepcopy(w)
    twin.set_value(np.full(3, 7, "float32"))
    w.set_value(np.zeros(3, "float32"))
    np.testing.assert_array_equal(twin.get_value(), np.full(3, 7, "float32"))
    np.testing.assert_array_equal(w.get_value(), np.zeros(3, "float32"))
    assert twin.container is not w.container and twin.container.var is twin


def test_function_and_its_shared_variables_load_together():
    x = T.fvector("x")
    w = cg.shared(np.zeros(3, "float32"), name="w")
    f = cg.function([x], (x * w).sum(), updates=[(w, w + x)])
    f(np.ones(3, "float32"))
    f2, w2 = pickle.loads(pickle.dumps((f, w)))
    assert w2 is not w and any(s is w2 for s in f2.shared)
    assert f2(np.full(3, 2, "float32")) == 6  # reads the loaded w: [1, 1, 1]
    np.testing.assert_array_equal(w2.get_value(), np.full(3, 3, "float32"))  # updated
    np.testing.assert_array_equal(w.get_value(), np.ones(3, "float32"))  # the original not
    assert f(np.ones(3, "float32")) == 3  # the original still works on its own w
    np.testing.assert_array_equal(w.get_value(), np.full(3, 2, "float32"))


def test_pickled_function_keeps_givens_out_mode_and_options():
    x, y = T.fvector("x"), T.fvector("y")
    unused = T.fvector("unused")
    f = cg.function([y, unused], [cg.Out(x * 2, borrow=True), y.sum()], givens={x: y + 1},
                    mode=NanGuardMode(), on_unused_input="ignore", allow_input_downcast=True,
                    name="step")
    g = pickle.loads(pickle.dumps(f))
    assert g.name == "step" and isinstance(g.mode, NanGuardMode)
    borrowed, total = g(np.array([1.0, 2.0]), np.zeros(1, "float32"))  # float64 downcast
    assert isinstance(borrowed, cl_array.Array)
    np.testing.assert_array_equal(borrowed.get(), [4, 6])
    assert total == 3


def test_function_with_random_streams_continues_the_same_draws():
    draws = RandomStreams(7).uniform((4,))
    f = cg.function([], draws)
    g = pickle.loads(pickle.dumps(f))  # the stream's state is a shared variable: copied
    for _ in range(2):
        np.testing.assert_array_equal(f(), g())


def test_deep_graph_function_pickles():
    x = T.fvector("x")
    out = x
    for _ in range(1500):
        out = out * 0.5 + 0.25
    f = cg.function([x], out)
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_allclose(g(np.zeros(2, "float32")), f(np.zeros(2, "float32")))


CHILD = """
import pickle, sys
import numpy as np
with open(sys.argv[1], "rb") as fh:
    f, w = pickle.load(fh)
print(float(f(np.ones(3, "float32"))), w.get_value().tolist())
"""


def test_function_loads_in_a_new_process(tmp_path: Path):
    x = T.fvector("x")
    w = cg.shared(np.array([1, 2, 3], "float32"), name="w")
    f = cg.function([x], (x * w).sum(), updates=[(w, w * 2)])
    path = tmp_path / "f.pkl"
    path.write_bytes(pickle.dumps((f, w)))
    env = dict(os.environ, CLGRAPH_FLAGS=f"compiledir={cg.config.compiledir}", CLGRAPHRC="")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["6.0", "[2.0,", "4.0,", "6.0]"]


def test_scan_with_a_deep_step_pickles():
    def step(a, acc):
        out = acc
        for _ in range(300):
            out = out * 0.5 + 0.5
        return out + a

    seq = T.fvector("seq")
    out, _ = cg.scan(step, sequences=seq, outputs_info=T.constant(np.float32(0)))
    f = cg.function([seq], out)
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_allclose(g(np.arange(4, dtype="float32")), [1, 2, 3, 4], rtol=1e-6)
