"""Device choice, capabilities, errors without a device, and the buffer pool."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import numpy as np
import pyopencl as cl
import pytest

from clgraph.config import config
from clgraph.runtime import buffers
from clgraph.runtime import device as device_mod
from clgraph.runtime.device import (
    DeviceCapabilityError,
    DeviceContext,
    NoDeviceError,
    choose_device,
    get_context,
    list_devices,
)

GPU, CPU, ACC = cl.device_type.GPU, cl.device_type.CPU, cl.device_type.ACCELERATOR


def fake(kind, name, units=4, unified=False):
    """A stand-in cl.Device carrying just what the choice looks at."""
    return SimpleNamespace(
        type=kind, name=name, max_compute_units=units, max_clock_frequency=1000,
        host_unified_memory=unified, extensions="",
    )


def entries(*devices):
    platform = SimpleNamespace(name="Fake platform")
    return [(0, i, platform, d) for i, d in enumerate(devices)]


def test_context_has_queue_and_properties(ctx):
    assert isinstance(ctx, DeviceContext)
    assert ctx.queue.context == ctx.context and ctx.queue.device == ctx.device
    assert not ctx.queue.properties & cl.command_queue_properties.PROFILING_ENABLE
    prof = ctx.profiling_queue
    assert prof is ctx.profiling_queue and prof.context == ctx.context
    assert prof.properties & cl.command_queue_properties.PROFILING_ENABLE
    assert ctx.name and ctx.platform_name
    assert ctx.is_cpu != ctx.is_gpu or not (ctx.is_cpu or ctx.is_gpu)
    assert isinstance(ctx.has_fp64, bool) and isinstance(ctx.host_unified_memory, bool)
    assert ctx.compute_units >= 1 and ctx.max_work_group_size >= 1
    assert ctx.global_mem_size > 0 and ctx.local_mem_size > 0
    assert ctx.device.name.strip() in ctx.identity
    assert ctx.device.driver_version.strip() in ctx.identity
    assert ctx.platform.version.strip() in ctx.identity
    assert "config.device='opencl'" in ctx.reason


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "float32", "float64"])
def test_preferred_vector_width(ctx, dtype):
    width = ctx.preferred_vector_width(dtype)
    assert width in (1, 2, 4, 8, 16)
    if ctx.is_gpu:
        assert width == 1


def test_preferred_vector_width_clamps(monkeypatch):
    dev = fake(CPU, "cpu")
    dev.preferred_vector_width_float = 3
    dev.preferred_vector_width_double = 0
    dev.preferred_vector_width_int = 64
    info = device_mod.DeviceInfo(SimpleNamespace(name="p"), dev)
    assert info.preferred_vector_width("float32") == 2
    assert info.preferred_vector_width("float64") == 1
    assert info.preferred_vector_width(np.int32) == 16
    gpu = fake(GPU, "gpu")
    gpu.preferred_vector_width_float = 4
    assert device_mod.DeviceInfo(SimpleNamespace(name="p"), gpu).preferred_vector_width("f4") == 1


def test_get_context_is_cached_per_device_string(ctx):
    assert get_context() is ctx
    first = list_devices()[0]
    with config.change_flags(device=f"opencl:{first[0]}:{first[1]}"):
        named = get_context()
        assert get_context() is named
    assert named.device == first[3]
    assert "as named" in named.reason
    if named.device == ctx.device:  # the same device shares one context
        assert named.context is ctx.context


def test_list_devices():
    found = list_devices()
    assert found
    per_platform: dict[int, list[int]] = {}
    for pi, di, platform, device in found:
        assert cl.get_platforms()[pi] == platform and device in platform.get_devices()
        assert device.platform == platform
        per_platform.setdefault(pi, []).append(di)
    # indices count the devices listed: PoCL's in-thread helper is not one of them
    for indices in per_platform.values():
        assert indices == list(range(len(indices)))
    names = [device.name for _, _, _, device in found]
    assert not any(n.startswith("basic-") and "pthread-" + n[6:] in names for n in names)


def test_pocl_inline_queue_runs_small_launches():
    """On PoCL's threaded CPU device, small launches go to the 'basic' sibling's queue (run
    in the calling thread) and large ones stay on the threaded queue; results agree."""
    import clgraph as cg
    import clgraph.tensor as T
    from clgraph.runtime import execute

    ctx = get_context()
    if ctx.inline_queue is None:
        pytest.skip(f"{ctx.name}: no PoCL 'basic' sibling device")
    assert ctx.inline_queue.device in ctx.context.devices
    assert ctx.inline_queue.device.name.startswith("basic-")
    x = T.vector("x")
    f = cg.function([x], T.exp(x) * 2 + 1)
    # built for the inline queue's device at compile; for the device's own on first need
    assert set(f.executor._programs) == {True}
    big = execute.INLINE_MAX_BYTES // 4  # in + out: twice the limit
    for n, inline in ((10, True), (big, False), (7, True), (big + 3, False)):
        a = np.random.default_rng(n).standard_normal(n).astype(np.float32)
        for _ in range(2):  # the binding is made on the first call, reused on the second
            np.testing.assert_allclose(f(a), np.exp(a) * 2 + 1, rtol=1e-5)
        launches = [item for item in f._last[-1].bound.items if item[4] is None]
        assert launches and all(item[6] is inline for item in launches), n
        assert set(f.executor._programs) == ({True} if n == 10 else {True, False})


def test_choice_prefers_gpu_then_discrete_then_throughput():
    cpu, igpu, dgpu = fake(CPU, "cpu", 64), fake(GPU, "igpu", 8, True), fake(GPU, "dgpu", 8)
    big = fake(GPU, "big", 80)
    (_, _, _, dev), reason = choose_device("opencl", entries(cpu, igpu, dgpu, big))
    assert dev is big and "GPU preferred" in reason and "no GPU" not in reason
    (_, _, _, dev), reason = choose_device("opencl", entries(cpu, igpu))
    assert dev is igpu
    (_, _, _, dev), reason = choose_device("opencl", entries(cpu))
    assert dev is cpu and "no GPU found, using CPU" in reason
    (_, _, _, dev), reason = choose_device("cpu", entries(igpu, cpu))
    assert dev is cpu and "best CPU" in reason
    (_, _, _, dev), _ = choose_device("gpu", entries(cpu, igpu))
    assert dev is igpu
    (_, di, _, dev), _ = choose_device("opencl:0:1", entries(cpu, igpu))
    assert dev is igpu and di == 1


def test_missing_type_lists_devices():
    with pytest.raises(NoDeviceError, match="(?s)no GPU OpenCL device.*opencl:0:0  CPU  cpu"):
        choose_device("gpu", entries(fake(CPU, "cpu")))


@pytest.mark.parametrize("spec, says", [("opencl:0:7", "platform 0 has no device 7"),
                                        ("opencl:9:0", "there is no platform 9")])
def test_bad_index_lists_devices_present(monkeypatch, spec, says):
    monkeypatch.setattr(device_mod, "_contexts", {})
    with config.change_flags(device=spec):
        with pytest.raises(NoDeviceError) as info:
            get_context()
    message = str(info.value)
    assert says in message and spec in message
    for pi, di, _, dev in list_devices():
        assert f"opencl:{pi}:{di}" in message and dev.name.strip() in message


def test_no_platform_at_all(monkeypatch):
    def no_icd():
        raise cl.LogicError("clGetPlatformIDs failed: PLATFORM_NOT_FOUND_KHR")

    monkeypatch.setattr(cl, "get_platforms", no_icd)
    monkeypatch.setattr(device_mod, "_contexts", {})
    with pytest.raises(NoDeviceError, match="No OpenCL platform.*pip install pocl-binary"):
        get_context()
    with pytest.raises(NoDeviceError, match="offers no device.*pocl-binary-distribution"):
        choose_device("opencl", [])


def test_check_dtype(ctx, monkeypatch):
    for dtype in ("float32", "int32", "int64", np.float32, "bool"):
        ctx.check_dtype(dtype, "input 'x'")
    if ctx.has_fp64:
        ctx.check_dtype("float64", "input 'x'")
    monkeypatch.setattr(DeviceContext, "has_fp64", property(lambda self: False))
    with pytest.raises(DeviceCapabilityError) as info:
        ctx.check_dtype(np.dtype("float64"), "input 'x'")
    message = str(info.value)
    assert isinstance(info.value, TypeError)
    for part in (ctx.name, "float64", "input 'x'", "floatX='float32'", "config.device"):
        assert part in message
    with pytest.raises(DeviceCapabilityError, match="output 0.*float16.*float32"):
        ctx.check_dtype("float16", "output 0")


def test_allocate_and_pool_reuse(ctx):
    gc.collect()  # buffers of earlier tests must not be freed in the middle of this one
    start = buffers.pool_stats(ctx)
    buf = buffers.allocate(ctx, 64)
    assert buf.size >= 64
    data = np.arange(16, dtype=np.float32)
    cl.enqueue_copy(ctx.queue, buf, data)
    back = np.empty_like(data)
    cl.enqueue_copy(ctx.queue, back, buf)
    np.testing.assert_array_equal(back, data)
    assert buffers.pool_stats(ctx)["active"] == start["active"] + 1
    del buf
    gc.collect()
    after = buffers.pool_stats(ctx)
    assert after["active"] == start["active"] and after["held"] >= 1
    again = buffers.allocate(ctx, 64)  # served from the pool
    assert buffers.pool_stats(ctx)["held"] == after["held"] - 1
    del again


def test_allocate_zero_bytes(ctx):
    buf = buffers.allocate(ctx, 0)
    assert buf.size >= 1
    with pytest.raises(ValueError):
        buffers.allocate(ctx, -1)


_INLINE_PROBE = """
import json, os
import numpy as np
import clgraph as cg
import clgraph.tensor as T
from clgraph.runtime.device import get_context
ctx = get_context()
x = T.vector("x")
f = cg.function([x], x * 3 + 1)
a = np.arange(5, dtype=np.float32)
print(json.dumps(dict(inline=ctx.inline_queue is not None, ok=bool((f(a) == a * 3 + 1).all()),
                      env=os.environ.get("POCL_DEVICES"),
                      devices=[d.name for d in ctx.context.devices])))
"""


@pytest.mark.parametrize("flag", ["True", "False"])
def test_pocl_inline_flag_in_a_fresh_process(run_python, child_env, flag):
    """config.pocl_inline decides whether PoCL is asked for its in-thread driver; the
    variable that asks is not left in the environment (child processes see the user's)."""
    import json

    if "Portable Computing Language" not in get_context().platform_name:
        pytest.skip("not PoCL")
    env = dict(child_env)
    env.pop("POCL_DEVICES", None)
    env["CLGRAPH_FLAGS"] += f",pocl_inline={flag}"
    proc = run_python(_INLINE_PROBE, env)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["ok"] and got["env"] is None
    assert got["inline"] is (flag == "True") and len(got["devices"]) == (2 if got["inline"] else 1)
