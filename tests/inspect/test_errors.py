"""Errors name the node, its inputs' shapes, dtypes and strides, and the user's line."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.expr.op import Op
from clgraph.lower.plan import node_context


def _line() -> int:
    return sys._getframe(1).f_lineno


def test_every_node_records_the_users_line():
    x = T.fvector("x")
    line = _line(); y = T.exp(x) * 2  # noqa: E702
    assert y.owner.tag["trace"][:2] == (__file__, line)
    assert y.owner.inputs[0].owner.tag["trace"][:2] == (__file__, line)
    g = cg.grad(y.sum(), x); line_g = _line()  # noqa: E702
    assert g.owner.tag["trace"][:2] == (__file__, line_g - 0)
    assert "stack" not in y.owner.tag  # one frame only, by default


def test_traceback_limit_keeps_more_frames():
    def helper(v):
        return T.log(v)

    x = T.fvector("x")
    with cg.config.change_flags(traceback_limit=3):
        line = _line(); y = helper(x)  # noqa: E702
    stack = y.owner.tag["stack"]
    assert [f[2] for f in stack[:2]] == ["helper", "test_traceback_limit_keeps_more_frames"]
    assert stack[1][:2] == (__file__, line)
    text = node_context(y.owner)
    assert f'File "{__file__}", line {line}' in text and "helper" in text
    with cg.config.change_flags(traceback_limit=0):
        assert "trace" not in T.log(x).owner.tag


def test_runtime_shape_error_names_node_shapes_strides_and_line():
    x = T.fmatrix("x")
    y = T.fmatrix("y")
    line = _line(); z = T.exp(x) + y  # noqa: E702
    f = cg.function([x, y], z)
    with pytest.raises(ValueError) as info:
        f(np.ones((3, 4), "f4"), np.ones((5, 4), "f4"))
    msg = str(info.value)
    assert f"{__file__}:{line}" in msg
    assert f'File "{__file__}", line {line}' in msg
    assert "Elemwise{composite{exp,add}}" in msg
    assert "input 0: x float32, shape (3, 4), strides (4, 1) (elements)" in msg
    assert "input 1: y float32, shape (5, 4), strides (4, 1)" in msg
    assert "Fused from: Elemwise{exp}" in msg
    # the function is still usable
    assert f(np.ones((2, 2), "f4"), np.ones((2, 2), "f4")).shape == (2, 2)


def test_out_of_range_index_names_node_and_value():
    x = T.fvector("x")
    i = T.iscalar("i")
    line = _line(); y = x[i] * 2  # noqa: E702
    f = cg.function([x, i], y)
    with pytest.raises(IndexError) as info:
        f(np.arange(3, dtype="f4"), 10)
    msg = str(info.value)
    assert "out of bounds" in msg and f'File "{__file__}", line {line}' in msg
    assert "input 1: i int32, shape (), strides () (elements), offset 0, value 10" in msg


def test_kernel_launch_failure_names_node_and_line():
    x = T.fvector("x")
    line = _line(); y = T.sqrt(x) + 1  # noqa: E702
    f = cg.function([x], y)
    a = np.ones(64, "f4")
    f(a)
    state = next(reversed(f.plan._prepared.values()))  # the prepared launches of (64,)
    launch = state.work[0]
    good = launch.lsize
    launch.lsize = (1 << 20,) + tuple(launch.lsize[1:])  # more than any device allows
    state.bound = None  # the executor re-reads the launches (runtime/execute.py's binding)
    try:
        with pytest.raises(RuntimeError) as info:
            f(a)
    finally:
        launch.lsize = good
        state.bound = None
    msg = str(info.value)
    assert "launching kernel" in msg and f'File "{__file__}", line {line}' in msg
    assert "input 0: x float32, shape (64,)" in msg


def test_lowering_error_names_node_and_line():
    from dataclasses import dataclass

    from clgraph.expr.apply import Apply

    @dataclass(frozen=True)
    class NoKernel(Op):
        def make_node(self, x):
            return Apply(self, [x], [x.type()])

        def perform(self, node, inputs):
            return [inputs[0]]

    x = T.fvector("x")
    line = _line(); y = NoKernel()(x)  # noqa: E702
    with pytest.raises(NotImplementedError) as info:
        cg.function([x], y)
    msg = str(info.value)
    assert "no device lowering" in msg and f'File "{__file__}", line {line}' in msg
    assert "input 0: x float32 (type Tensor[float32](?,))" in msg


def test_build_failure_names_kernel_node_and_line(tmp_path):
    from clgraph.lower.render import package_template_dir
    from clgraph.runtime.cache import KernelBuildError

    src = open(os.path.join(package_template_dir(), "elemwise.cl.mako")).read()
    broken = src.replace("    const long i_begin = get_global_id(0)",
                         "    this_is_not_c = 1;\n    const long i_begin = get_global_id(0)", 1)
    assert broken != src
    (tmp_path / "elemwise.cl.mako").write_text(broken)
    x = T.fvector("x")
    line = _line(); y = T.cosh(x) * 3  # noqa: E702
    with cg.config.change_flags(template_path=str(tmp_path)):
        with pytest.raises(KernelBuildError) as info:
            cg.function([x], y)
    msg = str(info.value)
    assert "this_is_not_c" in msg and "belong to kernel k0_" in msg
    assert f'File "{__file__}", line {line}' in msg
