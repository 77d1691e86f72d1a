"""debugprint, pp and fn.kernels(): readable graphs, ids, types, fused nodes and kernels."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.printing import debugprint, pp

HERE = os.path.basename(__file__)


@pytest.fixture(scope="module")
def fused_fn():
    x = T.fmatrix("x")
    y = T.fvector("y")
    out = (T.exp(x) * 2 + y).sum(axis=1)
    out.name = "total"
    # Elementwise fusion only: the reduction stays a node of its own in this picture.
    with cg.config.change_flags(optimizer_excluding="reduce_fusion"):
        f = cg.function([x, y], out, name="fused")
    f(np.ones((2, 3), "f4"), np.ones(3, "f4"))
    return f


def test_debugprint_variable_ids_names_and_types():
    x = T.fmatrix("x")
    a = T.exp(x)
    b = a + a  # the shared subtree is printed once, then by id
    text = debugprint(b, file="str", print_type=True)
    lines = text.splitlines()
    assert lines[0].startswith("Elemwise{add} [id A] ''")
    assert "<Tensor[float32](?, ?)>" in lines[0]
    assert lines[1].startswith(" |Elemwise{exp} [id B]")
    assert lines[2].strip().startswith("|x [id C]")
    assert lines[3].startswith(" |Elemwise{exp} [id B]") and len(lines) == 4
    assert f"# {HERE}:" in lines[0]
    assert "<Tensor" not in debugprint(b, file="str")


def test_debugprint_list_and_file():
    x = T.fvector("x")
    buf = io.StringIO()
    assert debugprint([T.exp(x), T.log(x)], file=buf) is buf
    text = buf.getvalue()
    assert "Elemwise{exp} [id A]" in text and "Elemwise{log} [id C]" in text
    assert text.count("|x [id B]") == 2  # same input, same id


def test_debugprint_function_shows_optimized_graph_kernels_and_fusion(fused_fn):
    text = debugprint(fused_fn, file="str")
    first = text.splitlines()[0]
    assert first.startswith("Reduce{add, axes=[1]} [id A] 'total'")
    assert "kernel k" in first
    assert "Elemwise{composite{exp,mul,add}}" in text
    assert "fused from 3 nodes: Elemwise{exp}" in text
    assert "(view)" in text  # the broadcast of y is a view, no kernel
    assert "Kernels:" in text
    kernel_lines = text[text.index("Kernels:"):]
    assert "fused: Elemwise{mul}" in kernel_lines and f"# {HERE}:" in kernel_lines
    # the optimized graph is what fn.maker.fgraph holds
    assert len(fused_fn.maker.fgraph.toposort()) == 3


def test_pp_infix():
    x, y, z = T.fvector("x"), T.fvector("y"), T.fvector("z")
    assert pp(x + y * z) == "x + y * z"
    assert pp((x + y) * z) == "(x + y) * z"
    assert pp(x - (y - z)) == "x - (y - z)"
    assert pp(-x ** 2) == "-x ** 2.0"
    assert pp((-x) ** 2) == "(-x) ** 2.0"
    assert pp(T.exp(x) / 2) == "exp(x) / 2.0"
    m = T.fmatrix("m")
    assert pp(m.sum(axis=1)) == "sum(m, axis=1)"
    assert pp(m.T) == "m.T"
    assert pp(x < y) == "x < y"


def test_pp_of_compiled_function_expands_fused_kernels(fused_fn):
    assert pp(fused_fn) == "sum(exp(x) * 2.0 + y, axis=1)"


def test_kernels_name_nodes_fused_nodes_and_lines(fused_fn):
    ks = fused_fn.kernels()
    assert len(ks) == 2
    head = ks[0].split("*/")[0]
    assert "computes Elemwise{composite{exp,mul,add}}" in head
    assert "fused: Elemwise{exp}" in head and f"created at {HERE}:" in head
    assert "__kernel void" in ks[0] and "__kernel void" in ks[1]
    assert "Reduce{add, axes=_1_}" in ks[1] or "Reduce{add, axes=" in ks[1]


def test_print_kernels_flag(capsys):
    x = T.fvector("x")
    with cg.config.change_flags(print_kernels=True):
        f = cg.function([x], T.sqrt(x) + 1)
    out = capsys.readouterr().out
    assert "__kernel void" in out and "computes Elemwise{composite{sqrt,add}}" in out
    assert out.strip() == f.kernels_text().strip()
