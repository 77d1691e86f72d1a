"""The program cache: memory and disk hits, other processes, damaged entries, build errors."""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import time
import warnings
from types import SimpleNamespace

import numpy as np
import pyopencl as cl
import pytest

from clgraph.config import config
from clgraph.runtime import buffers, cache
from clgraph.runtime.cache import KernelBuildError, build_program, cache_key, entry_path, stats

SOURCE = """\
__kernel void add_value(__global float *x)
{
    const size_t i = get_global_id(0);
    x[i] = x[i] + VALUE;
}
"""
OPTIONS = ("-DVALUE=3.0f",)

CHILD = """
import json, sys, time
from pathlib import Path
from clgraph.runtime.cache import build_program, stats
from clgraph.runtime.device import get_context
ctx = get_context()
barrier = sys.argv[1] if len(sys.argv) > 1 else None
if barrier:
    Path(barrier + ".ready." + sys.argv[2]).touch()
    deadline = time.time() + 60
    while not Path(barrier + ".go").exists() and time.time() < deadline:
        time.sleep(0.005)
prg = build_program(ctx, {source!r}, {options!r})
prg.add_value  # the kernel exists
print(json.dumps(dict(builds=stats.builds, disk_hits=stats.disk_hits)))
"""


def run_kernel(ctx, program, values):
    """Run add_value on values and return the result, to show a program really works."""
    data = np.asarray(values, dtype=np.float32)
    buf = buffers.allocate(ctx, data.nbytes)
    cl.enqueue_copy(ctx.queue, buf, data)
    program.add_value(ctx.queue, data.shape, None, buf)
    out = np.empty_like(data)
    cl.enqueue_copy(ctx.queue, out, buf)
    return out


def entry_for(ctx, source=SOURCE, options=OPTIONS):
    return entry_path(cache_key(ctx, source, options))


def test_second_build_is_a_memory_hit(ctx):
    first = build_program(ctx, SOURCE, OPTIONS)
    again = build_program(ctx, SOURCE, list(OPTIONS))
    assert again is first
    assert (stats.builds, stats.memory_hits, stats.disk_hits) == (1, 1, 0)
    assert stats.build_seconds > 0
    np.testing.assert_array_equal(run_kernel(ctx, again, [1, 2, 3]), [4, 5, 6])


def test_disk_entry_layout_and_disk_hit(ctx, compiledir):
    build_program(ctx, SOURCE, OPTIONS)
    key = cache_key(ctx, SOURCE, OPTIONS)
    path = entry_for(ctx)
    assert len(key) == 64 and int(key, 16) >= 0
    assert path == os.path.join(str(compiledir), key[:2], key + ".bin")
    assert os.path.isfile(path) and stats.disk_writes == 1
    assert [n for n in os.listdir(os.path.dirname(path)) if n != key + ".bin"] == []  # no temp
    cache.clear_memory_cache()
    program = build_program(ctx, SOURCE, OPTIONS)
    assert (stats.builds, stats.disk_hits) == (1, 1)
    assert stats.disk_read_seconds > 0
    np.testing.assert_array_equal(run_kernel(ctx, program, [0, 1]), [3, 4])


def test_key_covers_source_options_and_device(ctx):
    base = cache_key(ctx, SOURCE, OPTIONS)
    assert cache_key(ctx, SOURCE, OPTIONS) == base
    assert cache_key(ctx, SOURCE + " ", OPTIONS) != base
    assert cache_key(ctx, SOURCE, ("-DVALUE=4.0f",)) != base
    assert cache_key(ctx, SOURCE, ()) != base
    other = SimpleNamespace(identity=ctx.identity + " driver 2")
    assert cache_key(other, SOURCE, OPTIONS) != base  # type: ignore[arg-type]
    # Options change what is built, not only the key.
    four = build_program(ctx, SOURCE, ["-DVALUE=4.0f"])
    np.testing.assert_array_equal(run_kernel(ctx, four, [1]), [5])


def test_options_as_a_string(ctx):
    program = build_program(ctx, SOURCE, "-DVALUE=3.0f")
    assert build_program(ctx, SOURCE, OPTIONS) is program


def test_fresh_process_is_served_from_disk(ctx, child_env, run_python):
    build_program(ctx, SOURCE, OPTIONS)
    proc = run_python(CHILD.format(source=SOURCE, options=OPTIONS), child_env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"builds": 0, "disk_hits": 1}


def test_two_processes_compiling_at_once(ctx, child_env, tmp_path):
    source = SOURCE.replace("add_value(", "add_value(/* concurrent */ ")
    barrier = str(tmp_path / "barrier")
    code = CHILD.format(source=source, options=OPTIONS)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, barrier, str(i)], env=child_env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]
    deadline = time.time() + 60
    while not all(os.path.exists(f"{barrier}.ready.{i}") for i in range(2)):
        assert time.time() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.005)
    open(barrier + ".go", "w").close()
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        counts = json.loads(out.strip().splitlines()[-1])
        assert counts["builds"] + counts["disk_hits"] == 1
    # The entry left behind is valid: served from disk, and the kernel runs.
    path = entry_for(ctx, source)
    assert os.path.isfile(path)
    assert [n for n in os.listdir(os.path.dirname(path)) if n.startswith(".tmp")] == []
    program = build_program(ctx, source, OPTIONS)
    assert (stats.builds, stats.disk_hits, stats.corrupt_entries) == (0, 1, 0)
    np.testing.assert_array_equal(run_kernel(ctx, program, [2]), [5])


def damage_truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def damage_garbage(data: bytes) -> bytes:
    return bytes((b * 7 + 13) % 256 for b in data)


def damage_flip_payload_byte(data: bytes) -> bytes:
    damaged = bytearray(data)
    damaged[-100] ^= 0x5A
    return bytes(damaged)


def damage_header_only(data: bytes) -> bytes:
    return data[:20]


def damage_valid_header_bad_binary(data: bytes) -> bytes:
    """A checksum that matches, over bytes the driver refuses: the driver's own check."""
    payload = b"this is not a device binary" * 10
    return struct.pack("<12s32sQ", b"CLGRAPH-BIN\n", hashlib.sha256(payload).digest(),
                       len(payload)) + payload


@pytest.mark.parametrize(
    "damage",
    [damage_truncate, damage_garbage, damage_flip_payload_byte, damage_header_only,
     damage_valid_header_bad_binary, lambda data: b""],
    ids=["truncated", "garbage", "flipped-byte", "header-only", "refused-by-driver", "empty"],
)
def test_damaged_entry_is_rebuilt(ctx, damage):
    build_program(ctx, SOURCE, OPTIONS)
    path = entry_for(ctx)
    good = open(path, "rb").read()
    with open(path, "wb") as fh:
        fh.write(damage(good))
    cache.clear_memory_cache()
    program = build_program(ctx, SOURCE, OPTIONS)
    assert (stats.builds, stats.disk_hits, stats.corrupt_entries) == (2, 0, 1)
    np.testing.assert_array_equal(run_kernel(ctx, program, [1]), [4])
    # The rebuilt entry replaced the damaged one and is served from disk next time.
    assert len(open(path, "rb").read()) == len(good)
    cache.clear_memory_cache()
    build_program(ctx, SOURCE, OPTIONS)
    assert (stats.builds, stats.disk_hits) == (2, 1)


def test_unwritable_compiledir_warns_once(ctx, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with config.change_flags(compiledir=blocker / "compiledir"):
        with pytest.warns(RuntimeWarning, match="cannot write kernel binaries.*compiledir"):
            program = build_program(ctx, SOURCE, OPTIONS)
        np.testing.assert_array_equal(run_kernel(ctx, program, [0]), [3])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            build_program(ctx, SOURCE, ("-DVALUE=1.0f",))
    assert stats.builds == 2 and stats.disk_writes == 0


BROKEN = """\
// a helper
float twice(float v) { return 2.0f * v; }

__kernel void broken(__global float *x)
{
    x[get_global_id(0)] = twice(x[0]) +;
}
"""


def test_build_failure_shows_numbered_source_and_log(ctx):
    with pytest.raises(KernelBuildError) as info:
        build_program(ctx, BROKEN, ["-DUNUSED=1"])
    error = info.value
    message = str(error)
    assert isinstance(error, RuntimeError)
    assert ctx.name in message and "-DUNUSED=1" in message
    for n, line in enumerate(BROKEN.splitlines(), start=1):
        assert f"{n} | {line}" in message
    assert error.log and error.log in message and "build log" in message
    assert error.source == BROKEN and error.device_name == ctx.name
    assert "error" in error.log.lower()
    if ":6:" in error.log:  # drivers that name the line get it marked
        assert ">> 6 |" in message
    assert stats.builds == 0


def test_long_failing_source_shows_a_window(ctx):
    lines = [f"// filler line {i}" for i in range(1, 1200)]
    lines.insert(700, "__kernel void broken(__global float *x) { x[0] = ; }")
    with pytest.raises(KernelBuildError) as info:
        build_program(ctx, "\n".join(lines))
    message = str(info.value)
    assert "broken(__global float *x)" in message
    if ":701:" in info.value.log:
        assert re.search(r"^>> +701 \| __kernel", message, re.M) and "filler line 695" in message
        assert "filler line 20\n" not in message and "filler line 900\n" not in message
    assert message.count("\n") < 300


def test_binary_cache_modes(ctx, compiledir):
    """'always' writes the binary; 'never' does not; 'auto' skips PoCL only (it caches by
    source itself and compiles every kernel when asked for a binary)."""
    from clgraph.config import config

    def entries():
        return list(compiledir.rglob("*.bin")) if compiledir.exists() else []

    src = "__kernel void mode_probe(__global float* a) { a[0] = %d; }"
    with config.change_flags(binary_cache="never"):
        cache.build_program(ctx, src % 1)
    assert entries() == []
    with config.change_flags(binary_cache="auto"):
        cache.build_program(ctx, src % 2)
    is_pocl = "Portable Computing Language" in ctx.platform_name
    assert (entries() == []) == is_pocl
    with config.change_flags(binary_cache="always"):
        cache.build_program(ctx, src % 3)
    assert len(entries()) == (1 if is_pocl else 2)


def test_binary_of_pocls_inline_device_is_stored_and_loaded(ctx, compiledir):
    """PoCL lists both devices of the context but only the built one's binary: the binary
    of a program built for the in-thread 'basic' device is found and cached."""
    if ctx.inline_queue is None:
        pytest.skip("no in-thread sibling device (PoCL with pocl_inline only)")
    inline = ctx.inline_queue.device
    build_program(ctx, SOURCE, OPTIONS, device=inline)
    path = entry_path(cache_key(ctx, SOURCE, OPTIONS, inline))
    assert os.path.isfile(path) and stats.disk_writes == 1
    assert path != entry_for(ctx)  # an entry per device
    cache.clear_memory_cache()
    program = build_program(ctx, SOURCE, OPTIONS, device=inline)
    assert (stats.builds, stats.disk_hits) == (1, 1)
    data = np.array([1, 2], dtype=np.float32)
    buf = cl.Buffer(ctx.context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR,
                    hostbuf=data)
    program.add_value(ctx.inline_queue, data.shape, None, buf)
    cl.enqueue_copy(ctx.inline_queue, data, buf)
    np.testing.assert_array_equal(data, [4, 5])


FUNCTION_CHILD = """
import json
import numpy as np
import clgraph as cg
import clgraph.tensor as T
from clgraph.runtime.cache import stats
x = T.fvector("x")
f = cg.function([x], x * 2 + 1)
small = f(np.arange(3, dtype="float32"))  # PoCL: the in-thread device's program
large = f(np.ones(2_000_000, dtype="float32"))  # over INLINE_MAX_BYTES: the device's own
print(json.dumps(dict(builds=stats.builds, disk_hits=stats.disk_hits, writes=stats.disk_writes,
                      programs=len(f.executor._programs), small=small.tolist(),
                      large=[float(large.min()), float(large.max())])))
"""


def test_function_programs_of_every_device_are_cached_across_processes(
        ctx, compiledir, child_env, run_python):
    """binary_cache=always with the default pocl_inline: both programs of a function (the
    in-thread device's and the threaded one's) are written, and a new process loads both."""
    runs = []
    for _ in range(2):
        proc = run_python(FUNCTION_CHILD, child_env)
        assert proc.returncode == 0, proc.stderr
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    first, second = runs
    programs = 2 if ctx.inline_queue is not None else 1
    assert first["programs"] == second["programs"] == programs
    assert (first["builds"], first["writes"], first["disk_hits"]) == (programs, programs, 0)
    assert len(list(compiledir.rglob("*.bin"))) == programs
    assert (second["builds"], second["writes"], second["disk_hits"]) == (0, 0, programs)
    for run in runs:
        assert run["small"] == [1.0, 3.0, 5.0] and run["large"] == [3.0, 3.0]


def test_missing_binary_warns_once(ctx, monkeypatch):
    monkeypatch.setattr(cache, "_binary_of", lambda device, program: b"")
    monkeypatch.setattr(cache, "_warned", set())
    with pytest.warns(RuntimeWarning, match="gave no binary"):
        build_program(ctx, SOURCE.replace("x[i] +", "x[i] + 1.0f +"), OPTIONS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_program(ctx, SOURCE.replace("x[i] +", "x[i] + 2.0f +"), OPTIONS)
    assert stats.disk_writes == 0


def _double_kernels() -> list[str]:
    import clgraph as cg
    import clgraph.tensor as T

    v = T.fvector("v")
    f = cg.function([v], T.exp(v) * 2)
    np.testing.assert_allclose(f(np.ones(3, "f4")), 2 * np.e, rtol=1e-6)
    return f.kernels()


def test_templates_are_compiled_once_into_compiledir(compiledir):
    """Mako's compiled template modules live under compiledir/mako: a new process (here: a
    cleared lookup) loads them instead of compiling the templates again."""
    from clgraph.lower import render

    render._lookup.cache_clear()
    first = _double_kernels()
    modules = list(compiledir.glob("mako/*/elemwise.cl.mako.py"))
    assert len(modules) == 1
    stamp = modules[0].stat().st_mtime_ns
    render._lookup.cache_clear()
    assert _double_kernels() == first
    assert modules[0].stat().st_mtime_ns == stamp  # loaded, not written again


def test_templates_render_with_an_unwritable_compiledir(tmp_path):
    from clgraph.lower import render

    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    render._lookup.cache_clear()
    with config.change_flags(compiledir=blocker / "compiledir", binary_cache="never"):
        assert render._module_dir(("x",), config.compiledir) is None
        assert _double_kernels()
