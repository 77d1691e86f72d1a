"""Host-addressable buffers (runtime/host_memory.py) and the waits before host work
(runtime/execute.py's host_waits): host BLAS reads and writes buffer memory in place."""

from __future__ import annotations

import contextlib
import gc

import numpy as np
import pyopencl as cl
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.lower import gemm, host_work
from clgraph.lower.plan import BufRef, HostCall, Launch, PrepareState
from clgraph.runtime import buffers
from clgraph.runtime.execute import host_waits
from clgraph.runtime.host_memory import ALIGN, HostPool, _block_bytes, host_bytes, probe


def test_block_sizes_waste_at_most_a_quarter():
    for n in (1, 255, 256, 257, 1000, 4096, 4097, 10**6, 3 * 2**20 + 1):
        size = _block_bytes(n)
        assert size >= n and size >= 256
        assert size <= max(256, n * 1.25 + 1)


def test_pool_blocks_stay_within_the_device_limit(ctx):
    """A size class above the device's largest buffer would make a request that fits fail:
    such a request gets a block of its own size."""
    pool = HostPool(ctx.context, max_block=1000)
    assert _block_bytes(900) > 1000
    assert host_bytes(pool.allocate(900)).size == 900
    assert host_bytes(pool.allocate(500)).size == _block_bytes(500)


def test_pool_reuses_blocks_and_aligns(ctx):
    pool = HostPool(ctx.context)
    buf = pool.allocate(1000)
    raw = host_bytes(buf)
    assert raw is not None and raw.size >= 1000 and raw.ctypes.data % ALIGN == 0
    address = raw.ctypes.data
    assert (pool.active_blocks, pool.held_blocks) == (1, 0)
    del buf, raw
    gc.collect()
    assert (pool.active_blocks, pool.held_blocks) == (0, 1)
    again = pool.allocate(900)  # same size class: the freed block
    assert host_bytes(again).ctypes.data == address
    other = pool.allocate(10**5)
    del again, other
    gc.collect()
    assert pool.held_blocks == 2
    pool.free_held()
    assert (pool.active_blocks, pool.held_blocks) == (0, 0)


@pytest.mark.skipif("not __import__('clgraph').runtime.device.get_context().host_addressable")
def test_kernels_and_host_share_the_memory(ctx):
    assert probe(ctx.context, ctx.queue)
    buf = buffers.allocate(ctx, 64)
    host = host_bytes(buf).view(np.float32)[:16]
    host[:] = np.arange(16)
    out = np.empty(16, np.float32)
    cl.enqueue_copy(ctx.queue, out, buf)  # the device sees the host's write
    np.testing.assert_array_equal(out, np.arange(16))
    cl.enqueue_fill_buffer(ctx.queue, buf, np.float32(3), 0, 64)
    ctx.queue.finish()
    np.testing.assert_array_equal(host, 3)  # and the host the device's


def _state(work) -> PrepareState:
    state = PrepareState()
    state.work = work
    return state


def test_host_waits_follow_buffer_use():
    def launch(*slots):
        return Launch("k", (1,), None, [BufRef(s) for s in slots])

    def host(*slots):
        return HostCall(None, [BufRef(s) for s in slots])

    # 0: k(0->1); 1: host(1->2) waits for everything before it (launch 0)
    # 2: k(2->3); 3: k(4->5); 4: host(5->6): waits for 3 (which also covers 2)
    # 5: host(1->7): buffers last used by launch 0, already covered: no wait
    # 6: k(7->8); 7: host(3->9): launch 2 is covered by the wait for 3: no wait
    work = [launch(0, 1), host(1, 2), launch(2, 3), launch(4, 5), host(5, 6), host(1, 7),
            launch(7, 8), host(3, 9)]
    assert host_waits(_state(work)) == {1: 0, 4: 3}
    # a first host call with nothing before it finishes the queue (earlier calls' work)
    assert host_waits(_state([host(0, 1), launch(1, 2)])) == {0: -1}
    # buffers reused by the planner (aliases) count as one
    state = _state([launch(0, 1), host(0, 2), launch(3, 4), host(5, 6)])
    state.aliases = {6: 4}
    assert host_waits(state) == {1: 0, 3: 2}


def test_host_products_use_buffers_in_place(ctx, monkeypatch):
    """A chain of host products with kernels between them (large inputs wrapped in place,
    intermediates from the pool): no buffer is mapped, and the values are NumPy's."""
    if not ctx.host_addressable:
        pytest.skip("this device's buffers are not host-addressable")

    def no_map(*args, **kwargs):
        raise AssertionError("a host product mapped a buffer")

    monkeypatch.setattr(host_work.cl, "enqueue_map_buffer", no_map)
    rng = np.random.default_rng(0)
    # every input > 64 KiB: wrapped in place (smaller ones are copied into the driver's
    # own memory, which host products map)
    x = rng.standard_normal((130, 300)).astype(np.float32)
    w1 = rng.standard_normal((300, 70)).astype(np.float32)
    w2 = rng.standard_normal((70, 250)).astype(np.float32)
    xs, a, b = T.fmatrix("x"), T.fmatrix("a"), T.fmatrix("b")
    h = T.tanh(T.dot(xs, a))
    with cg.config.change_flags(gemm="host"):
        fn = cg.function([xs, a, b], [T.dot(h * 2, b) + T.dot(h, b), T.dot(xs.T, h)])
    # an output past HOST_OUT_BYTES is the NumPy array returned: the product writes it
    big_a = rng.standard_normal((600, 300)).astype(np.float32)
    big_b = rng.standard_normal((300, 700)).astype(np.float32)
    with cg.config.change_flags(gemm="host"):
        big = cg.function([a, b], T.dot(a, b))
    np.testing.assert_allclose(big(big_a, big_b), big_a @ big_b, rtol=1e-4, atol=1e-3)
    href = np.tanh(x @ w1)
    for _ in range(3):  # repeated calls reuse the pool's blocks
        got, gx = fn(x, w1, w2)
        np.testing.assert_allclose(got, 3 * (href @ w2), rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(gx, x.T @ href, rtol=1e-4, atol=1e-3)


@contextlib.contextmanager
def _no_blas_beta(active: bool):
    """Lower as if the host BLAS had no gemm with beta (linear epilogues become kernels)."""
    orig = gemm.gemm_for
    if active:
        gemm.gemm_for = lambda dtype: None
    try:
        yield
    finally:
        gemm.gemm_for = orig


def _mlp_step(sizes=(40, 30, 20, 5), n=16, kernel_updates=False):
    """A ReLU MLP's training step (no biases) on the host GEMM provider. `kernel_updates`:
    the weight updates as epilogue kernels (as where the BLAS has no gemm with beta, or
    with a non-linear update rule), not inside the products."""
    rng = np.random.default_rng(1)
    params = [cg.shared(rng.standard_normal((a, b)).astype(np.float32) * 0.3, name=f"W{k}")
              for k, (a, b) in enumerate(zip(sizes, sizes[1:]))]
    x, y = T.fmatrix("x"), T.ivector("y")
    h = x
    for k, w in enumerate(params):
        h = T.dot(h, w)
        if k < len(params) - 1:
            h = T.nnet.relu(h)
    loss = T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(h), y))
    grads = cg.grad(loss, params)
    with cg.config.change_flags(gemm="host"), _no_blas_beta(kernel_updates):
        fn = cg.function([x, y], loss, updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)])
    xv = rng.standard_normal((n, sizes[0])).astype(np.float32)
    yv = rng.integers(0, sizes[-1], n).astype(np.int32)
    return fn, params, xv, yv


def test_schedule_hides_host_waits(monkeypatch):
    """lower/schedule.py: in a backward pass, a weight gradient's product runs while the
    kernel of the next input gradient does, so fewer host products wait for the launch just
    before them; the values are those of the graph's own order."""
    import clgraph.lower.lower as lower_mod

    def waits_and_values():
        fn, params, xv, yv = _mlp_step()
        losses = [float(fn(xv, yv)) for _ in range(2)]
        state = next(iter(fn.plan._prepared.values()))
        kinds = [type(w).__name__ for w in state.work]
        # waits for the launch just before: nothing runs on the host meanwhile
        exposed = sum(1 for i, k in host_waits(state).items() if k == i - 1)
        return exposed, losses, [p.get_value() for p in params], kinds

    scheduled = waits_and_values()
    monkeypatch.setattr(lower_mod, "schedule_host_work", lambda steps, kernels: steps)
    plain = waits_and_values()
    assert scheduled[0] < plain[0]
    np.testing.assert_allclose(scheduled[1], plain[1], rtol=1e-5)
    for a, b in zip(scheduled[2], plain[2]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # the loss's kernels and the updates are queued after the last host product
    kinds = scheduled[3]
    last_host = max(i for i, k in enumerate(kinds) if k == "HostCall")
    assert kinds[last_host + 1:] and set(kinds[last_host + 1:]) == {"Launch"}


def test_gated_runs_of_launches():
    """Runs of GATE_MIN_LAUNCHES or more launches between host calls are queued behind a gate
    (opened before the first, closed after the last)."""
    from clgraph.runtime.execute import GATE_MIN_LAUNCHES, _gated_runs

    launch = (None, None, None, None, None, None, False)
    host = (None, None, None, None, "h", None, False)
    inline = (None, None, None, None, None, None, True)  # runs in this thread: not gated
    n = GATE_MIN_LAUNCHES
    items = [host] + [launch] * n + [host] + [launch] * (n - 1) + [host] + [launch] * n
    gates = _gated_runs(items)
    tail = 2 * n + 2
    assert gates == {1: False, n: True, tail: False, tail + n - 1: True}
    assert _gated_runs([launch] * (n - 1)) == {}
    assert _gated_runs([launch] * (n - 1) + [inline] + [launch] * (n - 1)) == {}
    assert _gated_runs([inline] + [launch] * n) == {1: False, n: True}


def test_gated_training_step_matches_numpy(monkeypatch):
    """A step whose update launches run gated gives NumPy's loss and updates."""
    import clgraph.runtime.execute as execute

    monkeypatch.setattr(execute, "GATE_MIN_LAUNCHES", 2)  # this small step's tail is short
    monkeypatch.setattr(execute, "INLINE_MAX_BYTES", 0)  # and on the threaded queue
    fn, params, xv, yv = _mlp_step(n=64, kernel_updates=True)
    w0 = [p.get_value() for p in params]
    loss = float(fn(xv, yv))
    # the tail is gated on CPU devices (where the calling thread shares cores with PoCL)
    gated = bool(next(iter(fn.plan._prepared.values())).bound.gates)
    assert gated == fn.executor.ctx.is_cpu
    h, hs = xv, [xv]
    for k, w in enumerate(w0):
        h = h @ w
        if k < len(w0) - 1:
            h = np.maximum(h, 0)
            hs.append(h)
    z = h - h.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    rows = np.arange(len(yv))
    np.testing.assert_allclose(loss, -np.log(p[rows, yv]).mean(), rtol=1e-5)
    d = p.copy()
    d[rows, yv] -= 1
    d /= len(yv)
    for k in range(len(w0) - 1, -1, -1):
        gw = hs[k].T @ d
        if k:
            d = (d @ w0[k].T) * (hs[k] > 0)
        np.testing.assert_allclose(params[k].get_value(), w0[k] - 0.1 * gw, rtol=1e-4,
                                   atol=1e-5)


def test_independent_launches_are_deferred_past_host_products():
    """On CPU devices, weight updates (launches nothing later depends on) are queued after
    the last host product (test_gated_training_step_matches_numpy checks the values in this
    order)."""
    from clgraph.lower.plan import HostCall as HC
    from clgraph.runtime.execute import _defer_launches

    fn, params, xv, yv = _mlp_step(n=32, kernel_updates=True)
    fn(xv, yv)
    state = next(iter(fn.plan._prepared.values()))
    order = state.bound.work
    if not fn.executor.ctx.is_cpu:  # a GPU's queue runs the launches while BLAS does
        assert order == state.work
        return
    assert order == _defer_launches(state)
    assert sorted(map(id, order)) == sorted(map(id, state.work))  # a permutation
    last_host = max(i for i, w in enumerate(order) if isinstance(w, HC))
    moved = [w for w in order[last_host + 1:]
             if state.work.index(w) < max(i for i, w2 in enumerate(state.work)
                                          if isinstance(w2, HC))]
    assert moved  # an update of an earlier layer runs at the end now


def test_host_products_through_maps(monkeypatch):
    """Where buffers are not host-addressable, host products map them (read operands
    without waiting, the output blocking): dot with a transposed operand, and conv2d."""
    monkeypatch.setattr(gemm, "host_bytes", lambda buf: None)
    rng = np.random.default_rng(2)
    a = rng.standard_normal((40, 30)).astype(np.float32)
    b = rng.standard_normal((40, 20)).astype(np.float32)
    img = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    x, y, xi, wi = T.fmatrix(), T.fmatrix(), T.ftensor4(), T.ftensor4()
    with cg.config.change_flags(gemm="host"):
        f = cg.function([x, y, xi, wi], [T.dot(x.T, y), T.dot(x[:, :0], y[:0]),
                                         T.nnet.conv2d(xi, wi, filter_flip=False)])
    got, empty, conv = f(a, b, img, w)
    np.testing.assert_allclose(got, a.T @ b, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(empty, np.zeros((40, 20), np.float32))
    want = np.zeros((2, 4, 7, 7), np.float32)
    for i in range(7):
        for j in range(7):
            want[:, :, i, j] = np.einsum("nchw,fchw->nf", img[:, :, i:i + 3, j:j + 3], w)
    np.testing.assert_allclose(conv, want, rtol=1e-4, atol=1e-4)
