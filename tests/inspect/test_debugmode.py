"""mode='DebugMode': kernels checked against NumPy perform, rewrites checked on test values."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.compile import DebugMode
from clgraph.compile.debugmode import BadOptimization, BadThunkOutput
from clgraph.compile.mode import get_mode
from clgraph.expr.elemwise import Elemwise
from clgraph.expr.scalar.ops import UnaryFloat
from clgraph.simplify import passes


@dataclass(frozen=True)
class OffByOne(UnaryFloat):
    """exp in NumPy, exp + 1 in OpenCL: a kernel bug DebugMode must find."""

    @property
    def name(self) -> str:
        return "offbyone"

    def c_code(self, ctx, args, in_dtypes, out_dtype):
        return f"(exp({args[0]}) + 1.0f)"


def test_debugmode_passes_correct_graphs():
    x = T.fmatrix("x")
    y = T.fvector("y")
    f = cg.function([x, y], [(T.exp(x) * y).sum(axis=0), x.T[1:] - 1], mode="DebugMode")
    a = np.random.default_rng(0).standard_normal((3, 4)).astype("f4")
    b = np.arange(4, dtype="f4")
    s, t = f(a, b)
    np.testing.assert_allclose(s, (np.exp(a) * b).sum(0), rtol=1e-5)
    np.testing.assert_allclose(t, a.T[1:] - 1)


def test_debugmode_names_the_first_bad_node_with_both_values():
    x = T.fmatrix("x")
    s = x.sum(axis=0)
    line = sys._getframe().f_lineno + 1
    bad = Elemwise(OffByOne())(s)
    out = bad.max() * 2  # later nodes agree with perform on the kernel's inputs
    with cg.config.change_flags(optimizer_excluding="reduce_fusion"):  # keep `bad` its own node
        f = cg.function([x], out, mode=DebugMode())
    with pytest.raises(BadThunkOutput) as info:
        f(np.zeros((2, 3), "f4"))
    msg = str(info.value)
    assert "offbyone" in msg and f"{__file__}:{line}" in msg
    assert "kernel:  [2. 2. 2.]" in msg and "perform: [1. 1. 1.]" in msg
    assert "first at index (0,)" in msg


def test_debugmode_names_the_rewrite_that_broke_values(monkeypatch):
    def bad_rewrite(fgraph):
        mapping = {}
        for node in fgraph.toposort():
            if str(node.op) == "Elemwise{exp}":
                mapping[node.outputs[0]] = T.log(node.inputs[0])
        return fgraph.replace(mapping) if mapping else fgraph

    monkeypatch.setattr(passes, "PASSES", [("merge", passes.merge),
                                           ("bad_rewrite", bad_rewrite)] + passes.PASSES[1:])
    monkeypatch.setitem(passes.LEVELS, "fast_run", ["merge", "bad_rewrite"] +
                        passes.LEVELS["fast_run"][1:])
    # With test values, the rewrites are checked at compile time ...
    x = T.fvector("x")
    x.tag.test_value = np.array([1.0, 2.0], "f4")
    with pytest.raises(BadOptimization, match="rewrite pass 'bad_rewrite' changed the value"):
        cg.function([x], T.exp(x) + 1, mode="DebugMode")
    # ... without them, on the first call's arguments.
    z = T.fvector("z")
    f = cg.function([z], T.exp(z) * 3, mode="DebugMode")
    with pytest.raises(BadOptimization) as info:
        f(np.array([0.5, 1.0], "f4"))
    assert "'bad_rewrite'" in str(info.value) and "before the rewrites" in str(info.value)


def test_mode_from_config():
    with cg.config.change_flags(mode="DebugMode"):
        assert isinstance(get_mode(None), DebugMode)
    with cg.config.change_flags(mode="NanGuardMode"):
        assert get_mode(None).linker == "nanguard"
