"""`python -m clgraph demo` (clgraph.demo.main) trains the digits MLP and reports OK; the
earlier elementwise demo (elementwise_main) still shows a kernel and its error vs NumPy."""

from __future__ import annotations

import io

import pytest

from clgraph import demo
from clgraph.__main__ import main as cli_main
from clgraph.runtime.device import get_context

pytest.importorskip("sklearn")


def test_demo_trains_the_mlp_quickly():
    buf = io.StringIO()
    assert demo.main(quick=True, out=buf, progress=False) == 0
    out = buf.getvalue()
    ctx = get_context()
    assert ctx.name in out and ctx.reason in out
    assert "epoch   1  loss" in out and "val accuracy" in out
    assert "test accuracy" in out and "OK" in out


def test_demo_quick_through_the_cli(capsys):
    assert cli_main(["demo", "--quick"]) == 0
    assert "OK" in capsys.readouterr().out


def test_elementwise_demo_writes_to_the_given_stream(capsys):
    buf = io.StringIO()
    assert demo.elementwise_main(n=1000, runs=1, out=buf) == 0
    assert "1,000 float32 elements" in buf.getvalue() and "OK" in buf.getvalue()
    assert "__kernel void" in buf.getvalue()
    assert capsys.readouterr().out == ""
