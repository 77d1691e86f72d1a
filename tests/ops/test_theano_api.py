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
