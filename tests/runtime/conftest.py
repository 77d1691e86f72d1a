"""Fixtures of the runtime tests: a private compiledir, config restored, the device context."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clgraph.config import config
from clgraph.runtime import cache
from clgraph.runtime.device import DeviceContext, get_context


@pytest.fixture(autouse=True)
def compiledir(tmp_path: Path):
    """Every test gets its own empty compiledir and a cold in-memory program cache."""
    directory = tmp_path / "compiledir"
    saved = config.as_dict()
    cache.clear_memory_cache()
    cache.stats.reset()
    # The disk cache's own tests store binaries on every device (PoCL skips it by default).
    with config.change_flags(compiledir=directory, binary_cache="always"):
        yield directory
    for name, value in saved.items():
        if getattr(config, name) != value:
            setattr(config, name, value)
    cache.clear_memory_cache()


@pytest.fixture(scope="session")
def ctx() -> DeviceContext:
    """The default device context (PoCL's CPU device in CI)."""
    return get_context()


@pytest.fixture
def child_env(compiledir: Path) -> dict[str, str]:
    """Environment for a child Python: this compiledir, no user rc file, repo importable."""
    env = dict(os.environ)
    env["CLGRAPH_FLAGS"] = f"compiledir={compiledir},binary_cache=always"
    env["CLGRAPHRC"] = ""
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture
def run_python():
    """Run code in a fresh interpreter: run_python(code, env) -> CompletedProcess (text)."""

    def run(code: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout
        )

    return run
