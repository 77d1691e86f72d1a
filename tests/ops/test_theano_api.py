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


# ---------------------------------------------------------------- argument names and forms
def test_clip_takes_theanos_and_numpys_names():
    x = T.dmatrix("x")
    a = np.arange(6.0).reshape(2, 3)
    want = np.clip(a, 1, 3)
    outs = [T.clip(x, 1, 3), T.clip(x, min=1, max=3), T.clip(x, a_min=1, a_max=3),
            x.clip(1, 3)]
    for got in cg.function([x], outs)(a):
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, want)
    with pytest.raises(TypeError, match="give min= or a_min=, not both"):
        T.clip(x, 1, 3, a_min=0)
    with pytest.raises(TypeError, match="both bounds are needed"):
        T.clip(x, min=1)


def test_reshape_newshape_and_flatten_outdim():
    x = T.ftensor3("x")
    a = np.arange(24, dtype="float32").reshape(2, 3, 4)
    n = T.lscalar("n")
    outs = [T.reshape(x, newshape=(6, 4)), T.reshape(x, shape=(4, -1)),
            T.reshape(x, (n, 12), ndim=2), T.flatten(x), T.flatten(x, ndim=2)]
    with pytest.warns(DeprecationWarning, match="outdim is deprecated"):
        outs.append(T.flatten(x, outdim=2))
    wants = [a.reshape(6, 4), a.reshape(4, -1), a.reshape(2, 12), a.reshape(-1),
             a.reshape(2, 12), a.reshape(2, 12)]
    for got, want in zip(cg.function([x, n], outs)(a, 2), wants, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    with pytest.raises(TypeError, match="give newshape= or shape=, not both"):
        T.reshape(x, (6, 4), shape=(6, 4))
    with pytest.raises(TypeError, match="newshape is needed"):
        T.reshape(x)
    with pytest.raises(TypeError, match="give ndim= or outdim=, not both"):
        T.flatten(x, ndim=2, outdim=2)


def test_stack_in_theanos_forms():
    a, b = T.dvectors("a", "b")
    va, vb = np.arange(3.0), np.ones(3)
    with pytest.warns(DeprecationWarning, match=r"stack\(a, b, ...\) is deprecated"):
        several = T.stack(a, b)
    outs = [several, T.stack([a, b]), T.stack([a, b], 1), T.stack(tensors=[a, b], axis=1),
            T.stack((a, b), axis=-1)]
    wants = [np.stack([va, vb]), np.stack([va, vb]), np.stack([va, vb], 1),
             np.stack([va, vb], 1), np.stack([va, vb], -1)]
    for got, want in zip(cg.function([a, b], outs)(va, vb), wants, strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(TypeError, match="too many arguments"):
        T.stack([a, b], 1, axis=1)
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['foo'\]"):
        T.stack([a], foo=1)
    with pytest.raises(ValueError, match="stack needs at least one tensor"):
        T.stack()


def test_prod_no_zeros_in_input_and_mean_op():
    x = T.fmatrix("x")
    a = np.arange(1, 7, dtype="float32").reshape(2, 3)
    p = T.prod(x, axis=1, no_zeros_in_input=True)
    m_op, m_axis = T.mean(x, op=True), T.mean(x, 0, None, True, keepdims=True)
    assert (p.dtype, m_op.dtype, m_axis.dtype) == ("float32", "float64", "float64")
    gp = cg.grad(p.sum(), x)  # the gradient is the exact one either way
    got = cg.function([x], [p, m_op, m_axis, T.mean(x, op=False), gp])(a)
    np.testing.assert_allclose(got[0], a.prod(axis=1), rtol=1e-6)
    np.testing.assert_allclose(got[1], a.astype("float64").mean(), rtol=1e-12)
    np.testing.assert_allclose(got[2], a.astype("float64").mean(0, keepdims=True), rtol=1e-12)
    assert got[3].dtype == np.float32
    np.testing.assert_allclose(got[4], a.prod(axis=1, keepdims=True) / a, rtol=1e-6)
    with pytest.raises(TypeError, match="no_zeros_in_input must be a bool"):
        T.prod(x, no_zeros_in_input="yes")
    with pytest.raises(NotImplementedError, match="dtype='float32' needs op=False"):
        T.mean(x, dtype="float32", op=True)
    with pytest.raises(NotImplementedError, match="one axis or all"):
        T.mean(T.ftensor3(), axis=(0, 1), op=True)


def test_constant_theanos_argument_order_and_ndim():
    """constant(x, name=None, ndim=None, dtype=None); ndim pads with broadcastable axes."""
    c = T.constant(3.0, None, 2)
    assert c.broadcastable == (True, True) and c.data.shape == (1, 1)
    assert c.dtype == cg.config.floatX
    v = T.constant([1, 2], "v", 3, "int32")
    assert (v.name, v.dtype, v.type.shape, v.broadcastable) == ("v", "int32", (1, 1, 2),
                                                                (True, True, False))
    x = T.dmatrix("x")
    got = cg.function([x], x + T.constant(2.0, ndim=2, dtype="float64"))(np.ones((2, 3)))
    np.testing.assert_array_equal(got, np.full((2, 3), 3.0))
    with pytest.raises(ValueError, match=r"shape \(2, 2\) cannot be given 1 dimension"):
        T.constant(np.ones((2, 2)), ndim=1)
    with pytest.raises(TypeError, match="ndim must be a non-negative int"):
        T.constant(1.0, ndim=-1)


def test_shared_strict_and_allow_downcast():
    """Theano's strict and allow_downcast: how set_value filters. API.md's positional order
    is shared(value, name, borrow); compat's theano.shared has Theano's (value, name,
    strict, allow_downcast)."""
    from clgraph.shared import theano_shared

    s = theano_shared(np.zeros(2), "s", True)
    assert cg.shared(np.zeros(2), "b", True).get_value(borrow=True) is not None
    assert not cg.shared(np.zeros(2), "b", True).strict
    assert s.strict and s.get_value().dtype == np.float64
    s.set_value(np.ones(2))
    np.testing.assert_array_equal(s.get_value(), np.ones(2))
    with pytest.raises(TypeError, match="s is strict: .* dtype float64, got dtype float32"):
        s.set_value(np.ones(2, "float32"))
    with pytest.raises(TypeError, match="s is strict: .* got a list"):
        s.set_value([1.0, 2.0])
    d = cg.shared(np.zeros(2, "float32"), name="d", allow_downcast=True)
    d.set_value(np.array([1.123456789, 2.0]))
    assert d.get_value().dtype == np.float32
    np.testing.assert_array_equal(d.get_value(), np.float32([1.123456789, 2.0]))
    with cg.config.change_flags(floatX="float32"):
        lr = cg.shared(np.float32(0.1), name="lr", allow_downcast=False)
        with pytest.raises(TypeError, match="without losing precision"):
            lr.set_value(0.05)  # allow_downcast=None would take a Python float into floatX
        lr_default = cg.shared(np.float32(0.1), name="lr2")
        lr_default.set_value(0.05)
        assert lr_default.get_value() == np.float32(0.05)
    w = cg.shared(np.zeros((1, 3)), name="w", borrow=True, broadcastable=(True, False))
    assert w.broadcastable == (True, False)


def test_rop_disconnected_outputs():
    """Theano's Rop: an output that does not depend on wrt raises by default."""
    from clgraph.diff import DisconnectedInputError
    from clgraph.diff.markers import DisconnectedType

    x, y, v = T.dvectors("x", "y", "v")
    with pytest.raises(DisconnectedInputError, match=r"Rop: output 1 \(y"):
        cg.gradient.Rop([x * 2, y], x, v)
    with pytest.raises(DisconnectedInputError, match="does not depend on wrt"):
        cg.gradient.Rop(T.argmax(x), x, v)  # only through a non-differentiable op
    jv, zero = cg.gradient.Rop([x * 2, y], x, v, disconnected_outputs="ignore")
    got = cg.function([x, y, v], [jv, zero])(np.ones(3), np.arange(3.0), np.arange(3.0))
    np.testing.assert_array_equal(got[0], 2 * np.arange(3.0))
    np.testing.assert_array_equal(got[1], np.zeros(3))
    assert got[1].dtype == np.float64
    with pytest.warns(UserWarning, match="does not depend on wrt"):
        none = cg.gradient.Rop(y, x, v, disconnected_outputs="warn", return_disconnected="None")
    assert none is None
    disc = cg.gradient.Rop(y, x, v, "ignore", "Disconnected")
    assert isinstance(disc, DisconnectedType)
    with pytest.raises(ValueError, match="disconnected_outputs must be"):
        cg.gradient.Rop(y, x, v, disconnected_outputs="skip")
    with pytest.raises(ValueError, match="return_disconnected must be"):
        cg.gradient.Rop(y, x, v, return_disconnected="nan")


# ---------------------------------------------------------------- Theano 1.0 names
def test_diag_tri_tril_triu():
    v, m = T.dvector("v"), T.dmatrix("m")
    vv = np.arange(1.0, 4.0)
    mv = np.arange(12.0).reshape(3, 4)
    mv[0, 3] = np.nan  # zeroed by triu's k=... and tril: where, not a product
    outs = {
        "diag_v": (T.diag(v), np.diag(vv)), "diag_v1": (T.diag(v, 1), np.diag(vv, 1)),
        "diag_v-2": (T.diag(v, -2), np.diag(vv, -2)), "diag_m": (T.diag(m), np.diag(mv)),
        "diag_m1": (T.diag(m, 1), np.diag(mv, 1)), "diag_m-1": (T.diag(m, -1), np.diag(mv, -1)),
        "tri": (T.tri(3), np.tri(3, dtype="float32")),
        "tri_rect": (T.tri(3, 4, 1, dtype="int32"), np.tri(3, 4, 1, dtype="int32")),
        "tri_neg": (T.tri(4, 2, -1, dtype="float64"), np.tri(4, 2, -1)),
        "tril": (T.tril(m), np.tril(mv)), "tril-1": (T.tril(m, -1), np.tril(mv, -1)),
        "triu": (T.triu(m), np.triu(mv)), "triu1": (T.triu(m, 1), np.triu(mv, 1)),
        "triu-1": (T.triu(m, -1), np.triu(mv, -1)),
    }
    with cg.config.change_flags(floatX="float32"):
        f = cg.function([v, m], [o for o, _ in outs.values()])
    for name, got, (_, want) in zip(outs, f(vv, mv), outs.values(), strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert T.diag(T.dvector(shape=(3,)), 2).type.shape == (5, 5)
    a3 = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(T.tril(T.constant(a3), 1).eval(), np.tril(a3, 1))
    g = cg.function([v], cg.grad((T.diag(v, 1) * np.arange(16.0).reshape(4, 4)).sum(), v))
    np.testing.assert_array_equal(g(vv), np.diag(np.arange(16.0).reshape(4, 4), 1))
    with pytest.raises(ValueError, match="must be a vector or a matrix"):
        T.diag(T.dtensor3())
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        T.tril(v)
    with pytest.raises(TypeError, match="k must be an int"):
        T.triu(m, 0.5)


def test_stacklists_and_plural_constructors():
    a, b, c, d = T.dscalars("abcd")  # Theano: one string, one name per character
    assert [x.name for x in (a, b, c, d)] == ["a", "b", "c", "d"]
    assert T.dscalars("x").name == "x"  # a single name: the variable, not a list
    assert len(T.fmatrices(2)) == 2 and len(T.dvectors("p", "q")) == 2
    got = cg.function([a, b, c, d], T.stacklists([[a, b], [c, d]]))(1, 2, 3, 4)
    np.testing.assert_array_equal(got, [[1.0, 2.0], [3.0, 4.0]])
    ms = T.fmatrices("wxyz")
    ones = np.ones((4, 4), "float32")
    assert cg.function(ms, T.stacklists([ms[:2], ms[2:]]))(*[ones] * 4).shape == (2, 2, 4, 4)
    assert T.stacklists(a) is a


def test_clone_replaces_variables():
    x, y = T.dvectors("x", "y")
    e = T.exp(x) * 2 + y
    c = cg.clone(e, replace={x: y})
    np.testing.assert_array_equal(cg.function([y], c)(np.zeros(3)), np.full(3, 2.0))
    z = T.dvector("z", shape=(3,))
    c2 = cg.clone([e, x.sum()], replace=[(x, z)])  # a static length: the copy carries it
    assert isinstance(c2, list) and c2[0].type.shape == (3,)
    got = cg.function([z, y], c2)(np.zeros(3), np.ones(3))
    np.testing.assert_array_equal(got[0], np.full(3, 3.0))
    with pytest.raises(TypeError, match="cannot replace x .* with strict=True"):
        cg.clone(e, {x: T.fvector()})
    assert cg.clone(e, {x: T.fvector()}, strict=False).dtype == "float64"
    from clgraph.expr.graph import graph_inputs

    fresh = cg.clone(e, share_inputs=False)
    ins = [v for v in graph_inputs([fresh]) if not isinstance(v, T.Constant)]
    assert [v.name for v in ins] == ["x", "y"] and not any(v is x or v is y for v in ins)
    with pytest.raises(TypeError, match="replace must be a dict"):
        cg.clone(e, replace=x)


def test_ordered_updates():
    s = cg.shared(np.zeros(2), name="s")
    t = cg.shared(np.zeros(2), name="t")
    u = cg.OrderedUpdates([(s, s + 1)])
    both = u + {t: t + 2}
    assert list(both) == [s, t] and isinstance(both, cg.OrderedUpdates)
    assert list({t: t + 2} + u) == [t, s]
    assert u + {s: u[s]} == u  # the same value again is no collision
    with pytest.raises(KeyError, match="two different updates for s"):
        u + {s: s + 2}
    with pytest.raises(TypeError, match="keys must be shared variables"):
        cg.OrderedUpdates({T.dvector("v"): 1})
    cg.function([], [], updates=both)()
    np.testing.assert_array_equal(s.get_value(), np.ones(2))
    np.testing.assert_array_equal(t.get_value(), np.full(2, 2.0))
