"""Function inputs: Theano's filter for values of another dtype, In (defaults, names, state),
keyword arguments."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T


# ---------------------------------------------------------------- Theano's filter
def test_only_a_python_float_is_downcast_to_floatx():
    """Theano's filter downcasts `type(v) is float` to floatX; np.float64 (a subclass of
    float) goes through the lossless check like any NumPy value."""
    x = T.fscalar("x")
    f = cg.function([x], x * 2)
    assert f(0.1) == np.float32(0.1) * 2
    assert f(np.float64(0.5)) == 1.0  # exact in float32
    with pytest.raises(TypeError, match=r"'x'.*float64.*allow_input_downcast"):
        f(np.float64(0.1))
    assert cg.function([x], x * 2, allow_input_downcast=True)(np.float64(0.1)) == \
        np.float32(0.1) * 2


def test_python_float_into_a_float32_input_when_floatx_is_float64():
    """The Python-float exception is for floatX only: with floatX=float64 a float32 input
    takes a Python float only when it is exact (Theano's filter)."""
    x = T.fscalar("x")
    f = cg.function([x], x + 1)
    with cg.config.change_flags(floatX="float64"):
        assert f(0.5) == 1.5
        with pytest.raises(TypeError, match="a Python float"):
            f(0.1)


def test_set_value_filter_matches_the_call_path():
    s = cg.shared(np.float32(1.0), name="s")
    with pytest.raises(TypeError, match="float64 cannot be stored in a float32"):
        s.set_value(np.float64(0.1))
    s.set_value(np.float64(0.25))  # exact: accepted
    assert s.get_value() == np.float32(0.25) and s.get_value().dtype == np.float32
    s.set_value(0.1)  # a Python float into floatX
    assert s.get_value() == np.float32(0.1)
    with pytest.raises(TypeError, match="cannot be stored"):
        s.set_value(np.array(0.1))  # an array is never downcast
