"""Theano's argument names and forms in the user namespace (`clgraph.tensor`, `cg.shared`,
`Rop`): values, dtypes and broadcast patterns against NumPy and Theano 1.0's behaviour."""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T


# ---------------------------------------------------------------- broadcastable patterns
def test_tensor_type_reads_a_tuple_of_bools_as_broadcastable():
    """Theano's positional TensorType(dtype, (False, True)): True is a static length of 1,
    False an unknown length (not lengths 0 and 1)."""
    tt = T.TensorType("float64", (False, True))
    assert tt.shape == (None, 1)
    assert tt().broadcastable == (False, True)
    assert T.tensor("float64", (False, False, False)).type.shape == (None, None, None)
    assert T.TensorType("float32", [True]).shape == (1,)
    assert T.TensorType("float32", (np.bool_(True), False)).shape == (1, None)
    # ints and None stay lengths; the empty tuple is a scalar either way
    assert T.TensorType("float32", (0, 1)).shape == (0, 1)
    assert T.TensorType("float32", ()).shape == ()
    x = T.tensor("float64", (False, True), name="x")
    got = cg.function([x], x + np.ones((1, 4)))(np.zeros((3, 1)))
    assert got.shape == (3, 4)


def test_tensor_type_rejects_unclear_shapes():
    with pytest.raises(TypeError, match="mixes bools"):
        T.TensorType("float32", (True, 3))
    with pytest.raises(TypeError, match="broadcastable= is given too"):
        T.TensorType("float32", (True,), broadcastable=(True,))
    with pytest.raises(TypeError, match="must be int or None, got 'a'"):
        T.TensorType("float32", ("a",))
    with pytest.raises(TypeError, match="must be a tuple of int or None, got 3"):
        T.TensorType("float32", 3)
    with pytest.raises(ValueError, match="negative length"):
        T.TensorType("float32", (-1,))


# ---------------------------------------------------------------- join
def test_join_is_theanos_function():
    """T.join(axis, *tensors) is the function (its module is clgraph.tensor.joining)."""
    import clgraph.tensor.joining  # noqa: F401 - importing it must not rebind T.join

    x, y = T.dmatrix("x"), T.dmatrix("y")
    a, b = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    f = cg.function([x, y], [T.join(0, x, y), T.join(1, x, y, x), T.join(-1, x)])
    for got, want in zip(f(a, b), [np.concatenate([a, b], 0), np.concatenate([a, b, a], 1),
                                   a], strict=True):
        np.testing.assert_array_equal(got, want)
    assert T.join(0, x) is x
    with pytest.raises(TypeError, match="join: axis must be an integer, got x"):
        T.join(x, y)
    with pytest.raises(ValueError, match="join needs at least one tensor"):
        T.join(0)


def test_as_tensor_variable_of_a_list_with_variables():
    a = T.lscalar("a")
    v = T.as_tensor_variable([a, 1])
    assert v.type.shape == (2,) and v.dtype == "int64"
    np.testing.assert_array_equal(cg.function([a], v)(5), [5, 1])
