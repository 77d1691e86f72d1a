"""The cached per-call path (runtime/execute.py bindings, compile/function.py's fast path):
kept intermediate buffers and pre-set kernel arguments must never leak between calls."""

from __future__ import annotations

import numpy as np
import pyopencl.array as cl_array
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.compile.io import Out
from clgraph.runtime.device import get_context


def _arange(n: int, start: float = 0.0) -> np.ndarray:
    return np.arange(start, start + n, dtype="float32")


def test_returned_arrays_are_not_overwritten_by_later_calls():
    x = T.fvector("x")
    f = cg.function([x], [x + 1, T.exp(x) * 2 - x])
    a, b = _arange(100) / 100, _arange(100, 50) / 100
    first = f(a)
    second = f(b)
    np.testing.assert_allclose(first[0], a + 1)
    np.testing.assert_allclose(first[1], np.exp(a) * 2 - a, rtol=1e-5)
    np.testing.assert_allclose(second[0], b + 1)
    assert first[0] is not second[0]


def test_alternating_shapes_and_more_shapes_than_bindings():
    x = T.fmatrix("x")
    y = T.fvector("y")
    f = cg.function([x, y], [(x * 2 + y).sum(axis=1), T.tanh(x + y).max(axis=0)])
    limit = f.executor.MAX_BOUND
    shapes = [(3, 5), (7, 2), (3, 5), (1000, 33)] + [(k + 2, 4) for k in range(limit + 2)]
    shapes += shapes[:3]
    rng = np.random.default_rng(0)
    for rows, cols in shapes:
        a = rng.standard_normal((rows, cols)).astype("float32")
        v = rng.standard_normal(cols).astype("float32")
        s, m = f(a, v)
        np.testing.assert_allclose(s, (a * 2 + v).sum(axis=1), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(m, np.tanh(a + v).max(axis=0), rtol=1e-5, atol=1e-6)
    assert len(f.executor._bound) <= limit


def test_update_takes_a_fresh_buffer_each_call():
    # An in-place update would read w reversed while writing it: a kept buffer would corrupt.
    w = cg.shared(_arange(1000), name="w")
    f = cg.function([], (w * 3).sum(), updates={w: w[::-1] * 2 + 1})
    ref = _arange(1000)
    kept = []
    for _ in range(4):
        kept.append((w.container.buffer, ref.copy()))
        got = f()
        np.testing.assert_allclose(got, (ref * 3).sum(), rtol=1e-5)
        ref = ref[::-1] * 2 + 1
        np.testing.assert_allclose(w.get_value(), ref, rtol=1e-6)
    # Buffers a shared variable held earlier still hold the values it had then.
    ctx = get_context()
    for buf, value in kept[1:]:
        got = np.empty_like(value)
        import pyopencl as cl

        cl.enqueue_copy(ctx.queue, got, buf, is_blocking=True)
        np.testing.assert_allclose(got, value, rtol=1e-6)


def test_update_that_is_also_an_output():
    w = cg.shared(_arange(8), name="w")
    new = T.sin(w) * 2 - w
    f = cg.function([], new, updates={w: new})
    ref = _arange(8)
    outs = []
    for _ in range(3):
        outs.append(f())
        ref = np.sin(ref) * 2 - ref
        np.testing.assert_allclose(outs[-1], ref, rtol=1e-5)
        np.testing.assert_allclose(w.get_value(), ref, rtol=1e-5)
    assert outs[0] is not outs[1]


def test_borrowed_outputs_survive_the_next_call():
    x = T.fvector("x")
    f = cg.function([x], [Out(T.sqrt(x) + 1, borrow=True), x * 2])
    a, b = _arange(64, 1), _arange(64, 100)
    dev1, host1 = f(a)
    dev2, host2 = f(b)
    assert isinstance(dev1, cl_array.Array)
    np.testing.assert_allclose(dev1.get(), np.sqrt(a) + 1, rtol=1e-6)
    np.testing.assert_allclose(dev2.get(), np.sqrt(b) + 1, rtol=1e-6)
    np.testing.assert_allclose(host1, a * 2)


def test_outputs_aliasing_inputs_and_each_other():
    x = T.fmatrix("x")
    y = T.exp(x)
    f = cg.function([x], [x, x[::-1], y, y, y.T, y[1:, ::2]])
    for shape in [(3, 4), (5, 2), (3, 4)]:
        a = np.random.default_rng(1).standard_normal(shape).astype("float32")
        outs = f(a)
        e = np.exp(a)
        for got, want in zip(outs, [a, a[::-1], e, e, e.T, e[1:, ::2]], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6)
        assert outs[2] is not outs[3]
        outs[0][...] = -1  # returned arrays are the caller's own
        assert a[0, 0] != -1


def test_shared_variable_read_by_two_functions_and_set_value():
    w = cg.shared(_arange(6), name="w")
    x = T.fvector("x")
    step = cg.function([], [], updates={w: w * 2})
    read = cg.function([x], w + x)
    xs = _arange(6, 1)
    np.testing.assert_allclose(read(xs), _arange(6) + xs)
    step()
    np.testing.assert_allclose(read(xs), _arange(6) * 2 + xs)
    w.set_value(np.full(6, 5, dtype="float32"))
    np.testing.assert_allclose(read(xs), 5 + xs)
    w.set_value(np.full(3, 1, dtype="float32"))  # another shape: another prepared state
    np.testing.assert_allclose(read(_arange(3)), 1 + _arange(3))


def test_fast_input_check_still_rejects_and_converts():
    x = T.fmatrix("x")
    f = cg.function([x], x * 2)
    a = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(f(a), a * 2)
    np.testing.assert_allclose(f(np.asfortranarray(a)), a * 2)  # not C-contiguous: converted
    np.testing.assert_allclose(f(a.T), a.T * 2)
    np.testing.assert_allclose(f(a.astype("int16")), a * 2)  # safe cast
    with pytest.raises(TypeError):
        f(a.astype("float64"))
    with pytest.raises(TypeError):
        f(a[0])
    bcast = T.TensorType("float32", (1, None))("row")
    g = cg.function([bcast], bcast + 1)
    with pytest.raises(ValueError):
        g(a)
    np.testing.assert_allclose(g(a[:1]), a[:1] + 1)


def test_failed_call_leaves_shared_unchanged_and_function_usable():
    w = cg.shared(_arange(4), name="w")
    x = T.fvector("x")
    f = cg.function([x], (w * x).sum(), updates={w: w + x})
    np.testing.assert_allclose(f(_arange(4, 1)), (_arange(4) * _arange(4, 1)).sum())
    before = w.get_value()
    with pytest.raises(ValueError):
        f(_arange(5))
    np.testing.assert_allclose(w.get_value(), before)
    np.testing.assert_allclose(f(_arange(4)), (before * _arange(4)).sum())
    np.testing.assert_allclose(w.get_value(), before + _arange(4))


def test_same_kernel_launched_twice_in_one_call():
    # Reductions over long axes run several passes of one kernel; joins copy with one kernel.
    x = T.fvector("x")
    y = T.fvector("y")
    f = cg.function([x, y], [x.sum(), T.concatenate([x, y, x]), T.argmax(x)])
    rng = np.random.default_rng(2)
    for n in (10, 300_000, 17, 300_000):
        a = rng.standard_normal(n).astype("float32")
        b = rng.standard_normal(7).astype("float32")
        s, c, i = f(a, b)
        np.testing.assert_allclose(s, a.astype("float64").sum(), rtol=1e-3, atol=1e-3)
        np.testing.assert_array_equal(c, np.concatenate([a, b, a]))
        assert int(i) == int(np.argmax(a))


def test_profile_and_device_inputs_use_the_general_path():
    x = T.fvector("x")
    f = cg.function([x], x + 1, profile=True)
    a = _arange(10)
    np.testing.assert_allclose(f(a), a + 1)
    d = cl_array.to_device(get_context().queue, a)
    g = cg.function([x], x * 3)
    np.testing.assert_allclose(g(d), a * 3)
    np.testing.assert_allclose(g(a), a * 3)


def test_kept_buffers_are_capped_by_bytes():
    x = T.fvector("x")
    f = cg.function([x], T.exp(T.sin(x).mean() + x).sum())  # intermediates between kernels
    f.executor.MAX_KEPT_BYTES = 1  # every binding is over: only the newest stays
    for n in (100, 200, 300, 100):
        a = _arange(n) / n
        np.testing.assert_allclose(f(a), np.exp(np.sin(a).mean() + a).sum(), rtol=1e-4)
        assert len(f.executor._bound) == 1
        assert f.executor._bound[0].bound is not None


def test_large_inputs_wrapped_in_place_are_done_with_when_the_call_returns():
    n = 1 << 18  # 1 MiB of float32: above the copy-in size, wrapped where memory is shared
    w = cg.shared(np.zeros(n, dtype="float32"), name="w")
    x = T.fvector("x")
    only_updates = cg.function([x], [], updates={w: T.sqrt(x) * 2 + w})
    empty_out = cg.function([x], [x[:0] * 2], updates={w: w + T.exp(x * 0)})
    a = np.full(n, 4, dtype="float32")
    only_updates(a)
    a[...] = 100  # the caller may change its array as soon as the call returns
    np.testing.assert_allclose(w.get_value(), 4)
    b = np.full(n, 9, dtype="float32")
    assert empty_out(b)[0].shape == (0,)
    b[...] = np.nan
    np.testing.assert_allclose(w.get_value(), 5)


def test_general_path_between_fast_calls_resets_the_kernel_arguments():
    from clgraph.runtime.darray import upload_input

    x = T.fvector("x")
    f = cg.function([x], x * 3 + 1)
    a = _arange(20)
    np.testing.assert_allclose(f(a[:7]), a[:7] * 3 + 1)
    state = f.plan.prepare(((20,),) + f.plan.constant_shapes, ())
    ctx = get_context()
    for _ in range(2):  # the shared kernel objects get this state's arguments here
        f.executor._run_general([upload_input(ctx, a, False)[0]], state)
        np.testing.assert_allclose(f(a[:7]), a[:7] * 3 + 1)
        np.testing.assert_allclose(f(a), a * 3 + 1)


def test_caller_may_change_its_arrays_after_set_value_and_borrowed_calls():
    n = 1 << 18  # above the copy-in size: uploaded by a queued write
    big = np.full(n, 3, dtype="float32")
    w = cg.shared(np.zeros(n, dtype="float32"), name="w")
    w.set_value(big)
    big[...] = -1
    np.testing.assert_allclose(w.get_value(), 3)
    x = T.fvector("x")
    f = cg.function([x], Out(x * 2, borrow=True))  # borrowed: no read-back waits
    a = np.full(n, 5, dtype="float32")
    out = f(a)
    a[...] = np.nan
    np.testing.assert_allclose(out.get(), 10)


def test_large_outputs_written_in_place_are_independent_and_correct():
    from clgraph.runtime.execute import HOST_OUT_BYTES

    n = HOST_OUT_BYTES // 4 * 2  # float32 outputs above the in-place size
    x = T.fvector("x")
    m = T.fmatrix("m")
    f = cg.function([x], [T.exp(x), x * 2, (x + 1)[:10]])
    g = cg.function([m], [T.tanh(m), T.tanh(m), T.sqrt(m).T])
    w = cg.shared(np.zeros(n, dtype="float32"), name="w")
    h = cg.function([x], [x + w, w * 1], updates={w: x + w})
    rng = np.random.default_rng(3)
    firsts = None
    for _ in range(3):
        a = rng.random(n, dtype=np.float32)
        outs = f(a)
        np.testing.assert_allclose(outs[0], np.exp(a), rtol=1e-6)
        np.testing.assert_allclose(outs[1], a * 2)
        np.testing.assert_allclose(outs[2], a[:10] + 1)
        if firsts is None:
            firsts = [o.copy() for o in outs], outs
    for kept, got in zip(*firsts, strict=True):  # later calls wrote other arrays
        np.testing.assert_array_equal(kept, got)
    b = rng.random((n // 512, 512), dtype=np.float32)
    t1, t2, s = g(b)
    np.testing.assert_allclose(t1, np.tanh(b), rtol=1e-6)
    np.testing.assert_allclose(t2, np.tanh(b), rtol=1e-6)
    np.testing.assert_allclose(s, np.sqrt(b).T, rtol=1e-6)
    assert t1 is not t2
    ref = np.zeros(n, dtype="float32")
    for _ in range(2):
        a = rng.random(n, dtype=np.float32)
        s1, s2 = h(a)
        np.testing.assert_allclose(s1, a + ref)
        np.testing.assert_allclose(s2, ref)
        ref = a + ref
        s1[...] = -5  # the caller's array: the shared variable must not see it
        np.testing.assert_allclose(w.get_value(), ref)
