"""`python -m clgraph info` and `demo`."""

from __future__ import annotations

import re
import sys
import types

import pyopencl as cl

from clgraph.__main__ import main
from clgraph.config import config
from clgraph.runtime import device as device_mod
from clgraph.runtime.device import list_devices


def test_info_lists_devices_choice_and_flags(capsys, ctx, compiledir):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for pi, di, _, dev in list_devices():
        assert f"opencl:{pi}:{di}" in out and dev.name.strip() in out
    assert "* opencl:" in out  # the chosen device is marked
    assert f"chosen: {ctx.name}" in out and f"reason: {ctx.reason}" in out
    assert ("small launches: in the calling thread" in out) == (ctx.inline_queue is not None)
    for label in ("fp64:", "global memory:", "largest buffer:", "compute units:",
                  "max work-group size:", "preferred float vector width:",
                  "host-unified memory:", "driver:"):
        assert label in out
    assert f"compiledir: {compiledir}" in out
    for name, value, _ in config.describe():
        assert re.search(rf"^  {name} += {re.escape(str(value))} ", out, re.M), name


def test_info_with_no_platform_prints_the_fix(capsys, monkeypatch):
    def no_icd():
        raise cl.LogicError("clGetPlatformIDs failed: PLATFORM_NOT_FOUND_KHR")

    monkeypatch.setattr(cl, "get_platforms", no_icd)
    monkeypatch.setattr(device_mod, "_contexts", {})
    assert main(["info"]) == 1
    captured = capsys.readouterr()
    assert "pip install pocl-binary-distribution" in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert "config flags:" in captured.out


def test_info_with_a_bad_device_index(capsys, monkeypatch):
    monkeypatch.setattr(device_mod, "_contexts", {})
    with config.change_flags(device="opencl:0:42"):
        assert main(["info"]) == 1
    captured = capsys.readouterr()
    assert "platform 0 has no device 42" in captured.err
    assert "opencl:0:0" in captured.out


def test_demo_calls_clgraph_demo_main(monkeypatch):
    calls = []
    fake = types.ModuleType("clgraph.demo")
    fake.main = lambda **kw: calls.append("ran")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "clgraph.demo", fake)
    import clgraph

    monkeypatch.setattr(clgraph, "demo", fake, raising=False)
    assert main(["demo"]) == 0
    assert calls == ["ran"]


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "info" in capsys.readouterr().out


def test_python_m_clgraph_info(child_env, run_python):
    proc = run_python("import sys; from clgraph.__main__ import main; sys.exit(main(['info']))",
                      child_env)
    assert proc.returncode == 0, proc.stderr
    assert "OpenCL devices:" in proc.stdout and "reason: config.device=" in proc.stdout
    proc = run_python("import runpy, sys; sys.argv = ['clgraph', 'info'];"
                      "runpy.run_module('clgraph', run_name='__main__')", child_env)
    assert proc.returncode == 0, proc.stderr
    assert "config flags:" in proc.stdout
