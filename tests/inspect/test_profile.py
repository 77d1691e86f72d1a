"""profile=True and config.profile: device times per kernel, node and op type, transfers,
call counts and the compile-time breakdown."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np

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
