"""Generated source: one program per function, readable kernels, overrides, build errors,
profiling."""

from __future__ import annotations

import os

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.lower.render import TemplateOverrideError, package_template_dir
from clgraph.runtime.cache import KernelBuildError, build_program
from clgraph.runtime.device import get_context


def test_fused_expression_is_one_vectorised_kernel():
    x = T.fvector("x")
    w = T.fvector("w")
    y = T.exp(-x * x) * T.sin(w) + 0.5 * T.tanh(x * w) + T.sqrt(abs(x) + 1)
    f = cg.function([x, w], y)
    ks = f.kernels()
    assert len(ks) == 1
    if get_context().is_cpu:
        assert "float8" in ks[0] or "float16" in ks[0] or "float4" in ks[0]
    a, b = np.random.default_rng(0).standard_normal((2, 1001)).astype("float32")
    ref = np.exp(-a * a) * np.sin(b) + 0.5 * np.tanh(a * b) + np.sqrt(abs(a) + 1)
    np.testing.assert_allclose(f(a, b), ref, rtol=1e-5, atol=1e-6)


def test_fast_compile_does_not_fuse():
    x = T.fvector("x")
    f = cg.function([x], T.exp(x) + 1, mode="FAST_COMPILE")
    assert len(f.kernels()) == 2


def test_user_names_never_become_code():
    x = T.fvector("x */ } __kernel void evil() { /*")
    f = cg.function([x], (x + 1) * 2)
    src = f.program_source
    assert "evil" not in src.replace("evil_", "") or "__kernel void evil" not in src
    assert "__kernel void evil" not in src
    np.testing.assert_array_equal(f(np.ones(3, "f4")), [4, 4, 4])


def test_template_override_is_used_and_edit_rebuilds(tmp_path):
    src = open(os.path.join(package_template_dir(), "elemwise.cl.mako")).read()
    override = tmp_path / "elemwise.cl.mako"
    override.write_text(src.replace("/* ${comment}", "/* OVERRIDE-ONE ${comment}"))
    first = override.stat()
    x = T.fvector("x")
    with cg.config.change_flags(template_path=str(tmp_path)):
        f = cg.function([x], x * 3)
        assert "OVERRIDE-ONE" in f.program_source
        np.testing.assert_array_equal(f(np.ones(2, "f4")), [3, 3])
        # Edited within the same second, to the same size: only the bytes differ (Mako
        # compares modification times in whole seconds)
        override.write_text(src.replace("/* ${comment}", "/* OVERRIDE-TWO ${comment}"))
        os.utime(override, ns=(first.st_atime_ns, first.st_mtime_ns))
        assert override.stat().st_size == first.st_size
        g = cg.function([x], x * 3)
        assert "OVERRIDE-TWO" in g.program_source and "OVERRIDE-ONE" not in g.program_source
        np.testing.assert_array_equal(g(np.ones(2, "f4")), [3, 3])


def broken_override(tmp_path, text: str | bytes):
    """The package's elemwise template with `text` written over it as an override; returns
    the function call that renders it and the override's path."""
    path = tmp_path / "elemwise.cl.mako"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    x = T.fvector("x")
    return (lambda: cg.function([x], x * 3)), str(path)


def elemwise_source() -> str:
    return open(os.path.join(package_template_dir(), "elemwise.cl.mako")).read()


def test_override_render_error_names_the_file_and_line(tmp_path):
    src = elemwise_source()
    compile_it, path = broken_override(tmp_path, src.replace("${kname}(", "${knme}("))
    line = next(n for n, text in enumerate(src.splitlines(), 1) if "${kname}(" in text)
    with cg.config.change_flags(template_path=str(tmp_path)):
        with pytest.raises(TemplateOverrideError) as info:
            compile_it()
        assert f"template override {path}, line {line} failed to render elemwise.cl.mako" \
            in str(info.value)
        assert "NameError: 'knme' is not defined" in str(info.value)
        assert isinstance(info.value.__cause__, NameError)
        (tmp_path / "elemwise.cl.mako").write_text(src)  # fixed: renders again at once
        np.testing.assert_array_equal(compile_it()(np.ones(2, "f4")), [3, 3])


def test_override_that_is_not_utf8_names_the_file(tmp_path):
    text = elemwise_source().replace("/* ${comment}", "/* caf\u00e9 ${comment}")
    compile_it, path = broken_override(tmp_path, text.encode("latin-1"))
    with cg.config.change_flags(template_path=str(tmp_path)):
        with pytest.raises(TemplateOverrideError, match=f"template override {path} is not "
                           "UTF-8 text") as info:
            compile_it()
    assert isinstance(info.value.__cause__, UnicodeDecodeError)


def test_override_that_does_not_compile_names_the_file(tmp_path):
    compile_it, path = broken_override(tmp_path, elemwise_source() + "\n% for x in\n")
    with cg.config.change_flags(template_path=str(tmp_path)):
        with pytest.raises(TemplateOverrideError, match=f"template override {path} does not "
                           "compile"):
            compile_it()


def test_override_that_renders_bad_opencl_names_the_file(tmp_path):
    compile_it, path = broken_override(
        tmp_path, elemwise_source().replace("__kernel void", "__kernel voidd"))
    with cg.config.change_flags(template_path=str(tmp_path)):
        with pytest.raises(KernelBuildError, match=f"rendered from the template override {path}"):
            compile_it()


def test_override_missing_a_parameter_is_rejected(tmp_path):
    (tmp_path / "elemwise.cl.mako").write_text('<%page args="kname"/>\n// nothing\n')
    x = T.fvector("x")
    with cg.config.change_flags(template_path=str(tmp_path)):
        with pytest.raises(TemplateOverrideError, match="width"):
            cg.function([x], x * 3)


def test_build_failure_shows_numbered_source_and_log():
    ctx = get_context()
    with pytest.raises(KernelBuildError) as err:
        build_program(ctx, "__kernel void broken(__global float* a) {\n  a[0] = undefined_x;\n}\n")
    msg = str(err.value)
    assert "undefined_x" in msg
    assert "2" in msg and "broken" in msg


def test_profile_reports_kernel_times():
    x = T.fvector("x")
    f = cg.function([x], T.exp(x) * 2, profile=True)
    for _ in range(3):
        f(np.ones(1000, "f4"))
    text = f.profile.summary()
    assert "3 call(s)" in text and "composite" in text


def test_dead_intermediates_share_buffers():
    x = T.fvector("x")
    y = x
    for _ in range(6):  # FAST_COMPILE: one kernel and one intermediate per op
        y = T.tanh(y) + 1
    f = cg.function([x], y, mode="FAST_COMPILE")
    a = np.linspace(-1, 1, 1000).astype("float32")
    ref = a
    for _ in range(6):
        ref = np.tanh(ref) + 1
    np.testing.assert_allclose(f(a), ref, rtol=1e-5)
    np.testing.assert_allclose(f(a), ref, rtol=1e-5)  # again, with pooled buffers
    state = next(iter(f.plan._prepared.values()))
    assert len(state.aliases) >= 8  # 12 intermediates live in a handful of buffers
    assert len(state.allocs) <= 4


def test_elementwise_runs_in_place_where_its_input_dies():
    x = T.fmatrix("x")
    w = cg.shared(np.eye(16, dtype="f4") * 0.5, name="w")
    prod = T.dot(x, w)  # read by a row max, then dies at the elementwise kernel below
    keep = T.dot(x, x)  # an intermediate read by two later kernels
    act = T.exp(prod - prod.max(axis=1, keepdims=True))  # not a GEMM epilogue: max reads prod
    out = T.dot(act, w) + T.sum(T.exp(keep)) + T.sum(keep)
    f = cg.function([x], out, updates=[(w, w * 0.5)])
    a = np.random.default_rng(0).standard_normal((16, 16)).astype("f4")
    w0 = w.get_value()
    e = a @ a
    def act_ref(w):
        p = a @ w
        return np.exp(p - p.max(1, keepdims=True))

    ref = act_ref(w0) @ w0 + np.exp(e).sum() + e.sum()
    np.testing.assert_allclose(f(a), ref, rtol=1e-4)
    np.testing.assert_allclose(w.get_value(), w0 * 0.5)  # the shared input was not written
    state = next(iter(f.plan._prepared.values()))
    phys = state.aliases.get
    in_place = [(o, i) for o, i in state.inplace_ok if o != i and phys(o, o) == phys(i, i)]
    assert in_place, "exp(prod - max) should take prod's buffer"
    np.testing.assert_allclose(f(a), act_ref(w0 * 0.5) @ (w0 * 0.5) + np.exp(e).sum()
                               + e.sum(), rtol=1e-4)


def test_identical_kernels_are_built_once():
    x, y, z = T.fmatrix("x"), T.fmatrix("y"), T.fmatrix("z")
    f = cg.function([x, y, z], T.concatenate([x, y, z], axis=1))
    assert len(f.plan.kernel_defs) == 3  # one copy per input, as fn.kernels() shows
    assert f.program_source.count("__kernel") == 1  # but the program holds the code once
    a = np.ones((2, 2), "f4")
    np.testing.assert_array_equal(f(a, 2 * a, 3 * a), np.concatenate([a, 2 * a, 3 * a], 1))
