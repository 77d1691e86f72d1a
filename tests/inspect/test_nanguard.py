"""NanGuardMode: each node's output checked on the device; the first bad node is named."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.compile import NanGuardMode
from clgraph.compile.nanguard import NanGuardError
from clgraph.runtime import darray


@pytest.fixture(scope="module")
def guarded():
    x = T.fmatrix("x")
    line = sys._getframe().f_lineno + 1
    y = T.log(x)          # NaN for x < 0, -Inf for x == 0
    z = (y * 1e6).T       # a strided view of a big value
    out = (z * 1e6).sum(axis=0)
    # The big product must stay a node of its own (not fused into the sum) to be checked.
    with cg.config.change_flags(optimizer_excluding="reduce_fusion"):
        f = cg.function([x], out, mode=NanGuardMode(nan_is_error=True, inf_is_error=True,
                                                      big_is_error=True))
    return f, line


def test_clean_call_checks_on_the_device(guarded, monkeypatch):
    f, _ = guarded
    downloads = []
    real = darray.download
    monkeypatch.setattr(darray, "download", lambda *a: downloads.append(1) or real(*a))
    a = np.full((2, 3), 1.0, "f4")
    np.testing.assert_allclose(f(a), np.zeros(2, "f4"))
    assert len(downloads) == 1  # only the output: the checks read back just their flags
    assert "atomic_or" in "".join(f._checker.sources)


def test_nan_names_the_first_node_and_line(guarded):
    f, line = guarded
    a = np.full((2, 3), 1.0, "f4")
    a[1, 2] = -1
    with pytest.raises(NanGuardError) as info:
        f(a)
    msg = str(info.value)
    assert "Elemwise{composite{log,mul}}" in msg.splitlines()[0] and "produced NaN" in msg
    assert f"the first bad value comes from Elemwise{{log}} (created at {__file__}:{line})" \
        in msg


def test_inf_and_big(guarded):
    f, line = guarded
    a = np.full((2, 3), 1.0, "f4")
    a[0, 0] = 0.0
    with pytest.raises(NanGuardError, match=r"produced Inf(.|\n)*comes from Elemwise\{log\}"):
        f(a)
    a = np.full((2, 3), 1e8, "f4")  # log is fine, * 1e6 is ~1.8e7, * 1e6 again is big
    with pytest.raises(NanGuardError) as info:
        f(a)
    msg = str(info.value)
    assert "|x| > 1e+10" in msg and msg.startswith("NanGuardMode: Elemwise{mul}")
    assert f"{__file__}:{line + 2}" in msg


def test_input_with_nan_and_switches():
    x = T.fvector("x")
    f = cg.function([x], T.exp(x), mode=NanGuardMode(nan_is_error=True, inf_is_error=False))
    np.testing.assert_array_equal(f(np.array([1000.0], "f4")), [np.inf])  # Inf allowed
    with pytest.raises(NanGuardError, match="input x .* already contains NaN"):
        f(np.array([np.nan], "f4"))


def test_big_constant_is_reported_as_a_constant():
    """Theano's NanGuardMode checks the graph's constants with its inputs (its VM's
    callback_input sees them), so `x * 1e11` under big_is_error=True is an error; the message
    says the value is a constant of the graph, not an argument the caller passed."""
    x = T.fvector("x")
    line = sys._getframe().f_lineno + 1
    y = x * 1e11
    f = cg.function([x], y, mode=NanGuardMode(nan_is_error=True, inf_is_error=True,
                                              big_is_error=True))
    with pytest.raises(NanGuardError) as info:
        f(np.full(3, 1e-3, "f4"))
    msg = str(info.value)
    assert msg.startswith("NanGuardMode: a constant in the graph") and "|x| > 1e+10" in msg
    assert "1.e+11" in msg and f"{__file__}:{line}" in msg
    w = cg.shared(np.full(2, 1e12, "float32"), name="w")
    g = cg.function([x], x * w, mode=NanGuardMode(True, True, True))
    with pytest.raises(NanGuardError, match="shared variable w .* already contains"):
        g(np.ones(2, "f4"))
    quiet = cg.function([x], x * 1e11, mode=NanGuardMode(True, True, big_is_error=False))
    np.testing.assert_allclose(quiet(np.ones(2, "f4")), [1e11, 1e11])
