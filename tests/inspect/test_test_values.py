"""compute_test_value: test values flow through the graph as it is built."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T


def test_values_are_computed_while_building():
    with cg.config.change_flags(compute_test_value="raise"):
        x = T.fmatrix("x")
        x.tag.test_value = np.arange(6, dtype="f4").reshape(2, 3)
        w = cg.shared(np.ones((3, 4), "f4"))
        y = (T.exp(x) @ w).sum(axis=0) + 1.5
        expected = (np.exp(x.tag.test_value) @ np.ones((3, 4))).sum(0) + 1.5
        np.testing.assert_allclose(y.tag.test_value, expected, rtol=1e-5)
        assert y.tag.test_value.dtype == np.float32


def test_shape_error_is_raised_on_the_users_line():
    with cg.config.change_flags(compute_test_value="raise"):
        a = T.fmatrix("a")
        a.tag.test_value = np.ones((3, 4), "f4")
        b = T.fmatrix("b")
        b.tag.test_value = np.ones((5, 4), "f4")
        line = sys._getframe().f_lineno + 2
        with pytest.raises(ValueError) as info:
            a + b  # noqa: B018
    msg = str(info.value)
    assert f"{__file__}:{line}" in msg
    assert "a (shape (3, 4), float32), b (shape (5, 4), float32)" in msg
    tb = info.traceback
    assert any(e.path == __import__("pathlib").Path(__file__) and e.lineno + 1 == line
               for e in tb)


def test_missing_test_value_raise_and_warn():
    x = T.fvector("x")
    with cg.config.change_flags(compute_test_value="raise"):
        with pytest.raises(ValueError, match="has no test value"):
            T.exp(x)
    with cg.config.change_flags(compute_test_value="warn"):
        with pytest.warns(UserWarning, match="has no test value"):
            y = T.exp(x)
        assert "test_value" not in y.tag
    with cg.config.change_flags(compute_test_value="off"):
        x.tag.test_value = np.ones((2, 2), "f4")  # wrong ndim, but nothing is computed
        assert "test_value" not in T.exp(x).tag


def test_static_shape_mismatch_is_caught():
    with cg.config.change_flags(compute_test_value="raise"):
        x = T.tensor("float32", shape=(None, 3), name="x")
        x.tag.test_value = np.ones((2, 5), "f4")
        with pytest.raises(ValueError, match="does not fit its type"):
            T.exp(x)
