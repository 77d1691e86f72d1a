"""`python -m clgraph demo` (clgraph.demo.main): it runs, shows the kernel, and reports OK."""

from __future__ import annotations

from clgraph import demo
from clgraph.__main__ import main as cli_main
from clgraph.runtime.device import get_context


def test_demo_reports_device_source_and_ok(capsys):
    assert demo.main() == 0
    out = capsys.readouterr().out
    ctx = get_context()
    assert ctx.name in out
    assert ctx.reason in out
    assert "__kernel void" in out  # the generated OpenCL source is shown
    assert "max abs error vs NumPy" in out
    assert "OK" in out and "MISMATCH" not in out
    assert "clgraph" in out and "NumPy" in out and " ms" in out


def test_demo_small_run_through_the_cli(capsys):
    assert cli_main(["demo"]) == 0
    assert "OK" in capsys.readouterr().out


def test_demo_writes_to_the_given_stream(capsys):
    import io

    buf = io.StringIO()
    assert demo.main(n=1000, runs=1, out=buf) == 0
    assert "1,000 float32 elements" in buf.getvalue() and "OK" in buf.getvalue()
    assert capsys.readouterr().out == ""
