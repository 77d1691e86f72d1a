"""profile=True and config.profile: device times per kernel, node and op type, transfers,
call counts and the compile-time breakdown."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T

HERE = os.path.basename(__file__)


def _build():
    x = T.fmatrix("x")
    line = sys._getframe().f_lineno + 1
    y = (T.exp(x) * 2).sum(axis=1)
    with cg.config.change_flags(optimizer_excluding="reduce_fusion"):  # the tables' shape
        f = cg.function([x], y, profile=True, name="prof")
    return f, line


def test_summary_tables():
    f, line = _build()
    a = np.ones((8, 16), "f4")
    for _ in range(3):
        f(a)
    p = f.profile
    assert p.calls == 3 and set(p.kernel_counts.values()) == {3}
    assert all(s > 0 for s in p.kernel_seconds.values())
    nodes = p.node_seconds()
    assert any(f"{__file__}:{line}" in label for label in nodes)
    types = p.op_type_seconds()
    assert types["Elemwise{Composite}"][1] == 1 and "Reduce" in types
    assert p.transfer_counts == {"to device": 3, "to host": 3}
    assert p.transfer_bytes["to device"] == 3 * a.nbytes
    assert p.transfer_bytes["to host"] == 3 * 8 * 4
    text = p.summary()
    for part in ("Function profile: prof", "3 call(s)", "Compile time:", "rewrites",
                 "fusion", "rendering", "OpenCL build", "Transfers:", "to device",
                 "Kernels (device time from OpenCL events", "Nodes:", "Op types:",
                 f"{HERE}:{line}", "Elemwise{Composite}"):
        assert part in text, part
    # the same program again comes from the cache, and the profile says so
    g, _ = _build()
    assert g.cache_hits >= 1 and "cache hit" in g.profile.summary()


def test_profile_flag_prints_at_exit(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        import numpy as np, clgraph as cg, clgraph.tensor as T
        x = T.fvector("x")
        f = cg.function([x], T.sqrt(x) + 1, name="atexit_fn")
        f(np.ones(10, "f4"))
        print("done")
    """))
    env = dict(os.environ, CLGRAPH_FLAGS=f"profile=True,compiledir={cg.config.compiledir}")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    assert "Function profile: atexit_fn" in proc.stderr
    assert "1 call(s)" in proc.stderr and "prog.py:4" in proc.stderr


def test_summary_writes_to_file_like_theanos(capsys):
    """Theano's ProfileStats.summary(file=sys.stderr, n_ops_to_print=20,
    n_apply_to_print=20) writes the tables; the text is also returned."""
    import io

    f, _ = _build()
    f(np.ones((2, 3), "f4"))
    buf = io.StringIO()
    text = f.profile.summary(file=buf)
    assert buf.getvalue() == text + "\n" and "Function profile: prof" in text
    assert capsys.readouterr().err == ""
    assert f.profile.summary() == text  # default: stderr
    assert capsys.readouterr().err == text + "\n"
    assert f.profile.summary(file=None) == text and capsys.readouterr().err == ""


def test_summary_limits_the_tables():
    x = T.fvector("x")
    y = x
    for _ in range(4):
        y = T.exp(y) * 0.5
    f = cg.function([x], y, mode="FAST_COMPILE", profile=True)  # a kernel per op
    f(np.ones(5, "f4"))
    full = f.profile.summary(file=None, n_apply_to_print=None)
    n_kernels = len(f.profile.kernel_seconds)
    assert n_kernels >= 4 and "more)" not in full
    short = f.profile.summary(file=None, n_apply_to_print=1, n_ops_to_print=1)
    kernels = short.split("Kernels")[1].split("Nodes:")[0]
    assert len([ln for ln in kernels.splitlines()[2:] if ln.strip()]) == 2  # 1 row + "more"
    assert f"... ({n_kernels - 1} more)" in kernels
    assert short.count("more)") == 3  # kernels, nodes, op types
    with pytest.raises(ValueError, match="n_ops_to_print must be a count"):
        f.profile.summary(file=None, n_ops_to_print=-1)
