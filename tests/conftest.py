"""Shared fixtures: one compile cache for the whole run (PoCL builds cost 0.05-0.5 s each)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import clgraph as cg

# One compiledir per test session (not the user's): tests share builds, CI stays fast.
_SESSION_CACHE = os.environ.get("CLGRAPH_TEST_COMPILEDIR")


@pytest.fixture(scope="session", autouse=True)
def _session_compiledir(tmp_path_factory):
    path = _SESSION_CACHE or str(tmp_path_factory.mktemp("compiledir"))
    old = cg.config.compiledir
    cg.config.compiledir = path
    yield path
    cg.config.compiledir = old


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
