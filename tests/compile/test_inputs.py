"""Function inputs: Theano's filter for values of another dtype, In (defaults, names, state),
keyword arguments."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.compile.io import In, Param


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


# ---------------------------------------------------------------- In
def test_in_value_is_a_default_addressable_by_name():
    x, y = T.fvector("x"), T.fscalar("y")
    f = cg.function([x, In(y, value=2.0)], x * y)
    xv = np.array([1, 2, 3], "float32")
    np.testing.assert_array_equal(f(xv), xv * 2)
    np.testing.assert_array_equal(f(xv, 3.0), xv * 3)
    np.testing.assert_array_equal(f(xv, y=-1.0), -xv)
    np.testing.assert_array_equal(f(y=0.5, x=xv), xv * 0.5)
    assert f["y"] == 2.0 and f[y] == 2.0 and f[1] == 2.0 and f["x"] is None
    assert "y" in f and "z" not in f
    f["y"] = 4.0  # a new default, kept
    np.testing.assert_array_equal(f(xv), xv * 4)
    np.testing.assert_array_equal(f(xv), xv * 4)


def test_in_name_overrides_the_variables_name():
    x = T.dscalar("x")
    f = cg.function([In(x, name="rate", value=0.5)], x * 10)
    assert f() == 5.0 and f(rate=2.0) == 20.0
    with pytest.raises(TypeError, match="unknown keyword argument 'x'"):
        f(x=1.0)


def test_in_default_is_converted_and_checked_at_compile_time():
    x = T.fscalar("x")
    f = cg.function([In(x, value=0.1)], x + 0)  # a Python float into floatX
    assert f() == np.float32(0.1) and f().dtype == np.float32
    with pytest.raises(TypeError, match="'x'.*allow_input_downcast"):
        cg.function([In(x, value=np.float64(0.1))], x + 0)
    v = T.fvector("v")
    with pytest.raises(TypeError, match="'v' .*expects 1 dimension"):
        cg.function([In(v, value=np.zeros((2, 2), "float32"))], v + 0)


def test_in_update_keeps_a_state_between_calls():
    """Theano's accumulator: In(s, value=0, update=s + a * x) — the state starts at value,
    takes the update's value after each call; a value passed replaces it first."""
    a = T.dscalar()
    x, s = T.dscalar("x"), T.dscalar("s")
    f = cg.function([x, In(a, value=1.0, name="a"),
                     In(s, value=0.0, update=s + a * x, mutable=True)], s + a * x)
    assert f(2.0) == 2.0 and f["s"] == 2.0
    assert f(2.0, 3.0) == 8.0 and f["s"] == 8.0
    assert f(1.0, s=10.0) == 11.0 and f["s"] == 11.0
    f["s"] = 100.0
    assert f(1.0) == 101.0
    assert f.inputs == [x, a]  # the state is not a compiled input: it stays on the device


def test_in_state_of_an_array_and_implicit_inputs():
    acc = T.fvector("acc")
    x = T.fvector("x")
    f = cg.function([x, In(acc, value=np.zeros(3, "float32"), update=acc + x,
                           implicit=True)], acc.sum())
    for k in range(1, 4):
        f(np.ones(3, "float32"))
        np.testing.assert_array_equal(f["acc"], np.full(3, k, "float32"))
    with pytest.raises(TypeError, match="'acc' is implicit"):
        f(np.ones(3, "float32"), np.zeros(3, "float32"))


def test_in_strict_and_allow_downcast_per_input():
    x, y = T.fvector("x"), T.fvector("y")
    f = cg.function([In(x, strict=True), In(y, allow_downcast=True)], x + y)
    one = np.ones(2, "float32")
    np.testing.assert_array_equal(f(one, np.full(2, 0.1)), one + np.float32(0.1))
    with pytest.raises(TypeError, match="'x' .*strict.*float32, got list"):
        f([1.0, 1.0], one)
    with pytest.raises(TypeError, match="'x' .*strict.*got ndarray of dtype int16"):
        f(np.ones(2, "int16"), one)


def test_in_checks_its_options():
    x = T.fscalar("x")
    with pytest.raises(TypeError, match="implicit input needs a value"):
        In(x, implicit=True)
    with pytest.raises(TypeError, match="needs value="):
        In(x, update=x + 1)
    with pytest.raises(TypeError, match="its update has type"):
        In(x, value=0.0, update=T.dscalar() + 1)
    with pytest.raises(ValueError, match="mutable=True needs borrow=True"):
        In(x, mutable=True, borrow=False)
    with pytest.raises(TypeError, match="name must be a string"):
        In(x, name=3)
    with pytest.raises(TypeError, match="Constant"):
        In(T.constant(1.0))
    assert In(x, borrow=True, mutable=False).borrow  # accepted: no effect here


def test_param_is_theanos_deprecated_in():
    x = T.dscalar("x")
    with pytest.warns(DeprecationWarning, match="In"):
        p = Param(x, default=3.0)
    assert cg.function([p], x * 2)() == 6.0


def test_missing_and_repeated_arguments():
    x, y = T.fscalar("x"), T.fscalar("y")
    f = cg.function([x, In(y, value=1.0)], x + y)
    with pytest.raises(TypeError, match=r"takes 2 argument\(s\) \(x, y\), got 0: missing 'x'"):
        f()
    with pytest.raises(TypeError, match="multiple values for input 'x'"):
        f(1.0, x=2.0)
    with pytest.raises(TypeError, match=r"takes 2 argument\(s\).*got 3"):
        f(1.0, 2.0, 3.0)


# ---------------------------------------------------------------- keyword arguments
def test_ambiguous_keyword_names_the_name():
    """Two inputs named 'a': `h(v, a=w)` used to replace the first positional silently and
    report 'takes 2 argument(s) (a, a), got 1'; Theano raises that the name is ambiguous."""
    v, w = T.fvector("a"), T.fvector("a")
    h = cg.function([v, w], v - w)
    one, two = np.ones(2, "float32"), np.full(2, 2, "float32")
    with pytest.raises(TypeError, match="name 'a' is ambiguous"):
        h(one, a=two)
    with pytest.raises(TypeError, match="name 'a' is ambiguous"):
        h["a"]
    assert "a" in h and v in h and "b" not in h
    np.testing.assert_array_equal(h(one, two), [-1, -1])  # by position: fine


# ---------------------------------------------------------------- no_default_updates
def _stream_function(**kwargs):
    from clgraph.tensor.random import RandomStreams

    u = RandomStreams(7).uniform((4,))
    return cg.function([], u, **kwargs), u


def test_no_default_updates_true_keeps_random_states():
    f, _ = _stream_function()
    assert not np.array_equal(f(), f())  # the state advances
    g, _ = _stream_function(no_default_updates=True)
    first = g()
    np.testing.assert_array_equal(g(), first)


def test_no_default_updates_list_skips_only_those():
    f, u = _stream_function()
    (state,) = f.shared
    g = cg.function([], u, no_default_updates=[state])
    first = g()
    np.testing.assert_array_equal(g(), first)
    h = cg.function([], u, no_default_updates=[])
    assert not np.array_equal(h(), h())
    with pytest.raises(TypeError, match="no_default_updates must be a bool or a list"):
        cg.function([], u, no_default_updates="yes")
