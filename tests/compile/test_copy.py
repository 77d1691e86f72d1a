"""Function.copy (Theano's: shared variables shared, swap, delete_updates, share_memory,
states of In copied) and Function.trust_input."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.compile.io import In


def _counters():
    x = T.dscalar("x")
    y = cg.shared(np.float64(1), name="y")
    z = cg.shared(np.float64(2), name="z")
    m = cg.shared(np.float64(0), name="m")
    f = cg.function([x], x + y + z + m, updates=[(z, z + 1), (m, m + 2)], name="f")
    return f, x, y, z, m


def test_copy_shares_shared_variables_and_their_updates():
    """As Theano's test_swap_SharedVariable: a copy reads and updates the same shared
    variables as the original (there is one value per shared variable)."""
    f, _, y, z, m = _counters()
    g = f.copy()
    assert g.name == "f copy"
    assert f(1.0) == 1 + 1 + 2 + 0
    assert g(1.0) == 1 + 1 + 3 + 2  # sees f's updates
    assert (z.get_value(), m.get_value(), y.get_value()) == (4, 4, 1)
    assert copy.copy(f)(0.0) == 1 + 4 + 4


def test_copy_swap_replaces_shared_variables_in_the_copy_only():
    f, _, y, z, m = _counters()
    y2 = cg.shared(np.float64(3), name="y_rpl")
    z2 = cg.shared(np.float64(4), name="z_rpl")
    g = f.copy(swap={y: y2, z: z2})
    assert f(1.0) == 1 + 1 + 2 + 0
    assert g(1.0) == 1 + 3 + 4 + 2
    assert g(2.0) == 2 + 3 + 5 + 4
    # m updated 3 times, z once (by f), z_rpl twice (by g); y and y_rpl never
    assert (m.get_value(), z.get_value(), z2.get_value()) == (6, 3, 6)
    assert (y.get_value(), y2.get_value()) == (1, 3)
    assert f(0.0) == 1 + 3 + 6  # f still reads its own
    assert g.shared[:2] != f.shared[:2] and any(s is z2 for s in g.shared)


def test_copy_swap_is_checked():
    f, _, y, _, _ = _counters()
    other = cg.shared(np.float64(0), name="other")
    with pytest.raises(ValueError, match="other is not a shared variable of this function"):
        f.copy(swap={other: y})
    with pytest.raises(TypeError, match="has type .*float64.* but its replacement"):
        f.copy(swap={y: cg.shared(np.float32(0), name="y32")})
    with pytest.raises(TypeError, match="replaced by a shared variable, got float64"):
        f.copy(swap={y: np.float64(1)})


def test_copy_delete_updates():
    f, _, _, z, m = _counters()
    g = f.copy(delete_updates=True)
    assert [g(1.0), g(1.0), g(1.0)] == [4.0, 4.0, 4.0]
    assert (z.get_value(), m.get_value()) == (2, 0)
    assert len(g.maker.fgraph.outputs) == 1 and not g.updates
    assert f(1.0) == 4.0 and z.get_value() == 3  # the original still updates


def test_copy_share_memory_shares_the_plan_otherwise_the_kernels():
    x = T.fmatrix("x")
    w = cg.shared(np.ones((3, 3), "float32"), name="w")
    f = cg.function([x], T.tanh(T.dot(x, w) + 1).sum(axis=1), updates=[(w, w * 0.5)])
    a = np.arange(6, dtype="float32").reshape(2, 3) / 10
    same = f.copy(share_memory=True)
    own = f.copy()
    assert same.plan is f.plan and same.executor is f.executor
    assert own.plan is not f.plan
    assert own.executor._program(True) is f.executor._program(True)  # built once, cached
    for fn in (f, same, own):
        wv = w.get_value()
        np.testing.assert_allclose(fn(a), np.tanh(a @ wv + 1).sum(axis=1), rtol=1e-6)
        np.testing.assert_array_equal(w.get_value(), wv * 0.5)


def test_copy_gets_its_own_state_of_in_with_update():
    """As Theano's test_copy: the states of In(update=...) are copied, defaults kept."""
    a = T.dscalar()
    x, s = T.dscalar("x"), T.dscalar("s")
    f = cg.function([x, In(a, value=1.0, name="a"),
                     In(s, value=0.0, update=s + a * x, mutable=True)], s + a * x)
    g = copy.copy(f)
    assert g["a"] is f["a"]  # the same default
    assert f(2, 1) == g(2) == 2  # in sync: same default and state
    assert f(2, 1) == g(2) == 4
    assert f(1, 2) == 6  # f alone: out of sync
    assert f(1, 2) == 8 and g(1, 2) == 6
    assert (f["s"], g["s"]) == (8, 6)


def test_copy_with_profile_and_name():
    f, _, _, _, _ = _counters()
    g = f.copy(name="g", profile=True)
    assert g.name == "g" and g.profile is not None and f.profile is None
    assert g(1.0) == 4.0
    assert g.profile.calls == 1


def test_trust_input_skips_the_argument_checks(monkeypatch):
    x = T.fvector("x")
    f = cg.function([x], x * 2)
    a = np.arange(4, dtype="float32")
    f.trust_input = True

    def refuse(args):
        raise AssertionError("checked")

    monkeypatch.setattr(f, "_checked_values", refuse)
    np.testing.assert_array_equal(f(a), a * 2)
    f.trust_input = False
    with pytest.raises(AssertionError, match="checked"):
        f(a)
