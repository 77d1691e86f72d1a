"""Config flags: parsing, sources and their order, change_flags, unknown names."""

from __future__ import annotations

import os

import pytest

from clgraph.config import Config, UnknownFlagError, change_flags, config, default_compiledir


def fresh(**env: str) -> Config:
    """A Config read from a fake environment (no real rc file unless CLGRAPHRC names one)."""
    env.setdefault("CLGRAPHRC", "")
    env.setdefault("HOME", "/nonexistent-home")
    return Config(environ=env)


def test_defaults():
    cfg = fresh()
    assert cfg.floatX == "float32"
    assert cfg.device == "opencl"
    assert cfg.optimizer == "fast_run"
    assert cfg.template_path == "" and cfg.template_dirs == []
    assert cfg.exception_verbosity == "low"
    assert cfg.compute_test_value == "off"
    assert cfg.print_kernels is False and cfg.profile is False
    assert cfg.debug == 0 and cfg.traceback_limit == 1
    assert cfg.optimizer_excluding == "" and cfg.optimizer_including == ""
    assert cfg.optimizer_verbose is False and cfg.sympy_simplify is True
    assert cfg.gemm == "auto" and cfg.mode == "FAST_RUN" and cfg.cast_policy == "theano"
    assert cfg.compiledir == os.path.join("/nonexistent-home", ".cache", "clgraph", "compiledir")


def test_compiledir_honours_xdg_cache_home():
    assert default_compiledir({"XDG_CACHE_HOME": "/xdg", "HOME": "/h"}) == os.path.join(
        "/xdg", "clgraph", "compiledir"
    )
    # The XDG spec says relative values are ignored.
    assert default_compiledir({"XDG_CACHE_HOME": "rel", "HOME": "/h"}) == os.path.join(
        "/h", ".cache", "clgraph", "compiledir"
    )
    assert fresh(XDG_CACHE_HOME="/xdg").compiledir == "/xdg/clgraph/compiledir"


@pytest.mark.parametrize(
    "text, expected",
    [("True", True), ("true", True), ("1", True), ("yes", True), ("YES", True),
     ("False", False), ("false", False), ("0", False), ("no", False), (True, True), (0, False)],
)
def test_bool_parsing(text, expected):
    cfg = fresh()
    cfg.print_kernels = text
    assert cfg.print_kernels is expected


@pytest.mark.parametrize(
    "name, value, allowed",
    [("floatX", "float16", "'float32', 'float64'"),
     ("optimizer", "fast", "'fast_run', 'fast_compile', 'None'"),
     ("exception_verbosity", "medium", "'low', 'high'"),
     ("compute_test_value", "ignore", "'off', 'raise', 'warn'"),
     ("gemm", "blas", "'auto', 'host', 'template'"),
     ("print_kernels", "maybe", "True/False"),
     ("debug", 6, "0 to 5"),
     ("debug", "two", "0 to 5"),
     ("traceback_limit", "x", "integer"),
     ("device", "cuda", "opencl:P:D"),
     ("device", "opencl:0", "opencl:P:D")],
)
def test_invalid_values_name_flag_value_and_allowed(name, value, allowed):
    cfg = fresh()
    with pytest.raises(ValueError) as info:
        setattr(cfg, name, value)
    message = str(info.value)
    assert name in message and repr(value) in message and allowed in message


def test_typed_values():
    cfg = fresh()
    cfg.debug = "3"
    assert cfg.debug == 3
    cfg.optimizer = None
    assert cfg.optimizer == "None"
    cfg.optimizer = "None"
    assert cfg.optimizer == "None"
    for spec in ("opencl", "cpu", "gpu", "opencl:0:1", "OpenCL:2:3"):
        cfg.device = spec
        assert cfg.device == spec.lower()
    cfg.compiledir = "~/somewhere"
    assert cfg.compiledir == os.path.join(os.path.expanduser("~"), "somewhere")


def test_template_dirs():
    cfg = fresh()
    cfg.template_path = os.pathsep.join(["/a", "", "/b"])
    assert cfg.template_dirs == ["/a", "/b"]


def test_unknown_flag_attribute_access_lists_known_flags():
    cfg = fresh()
    with pytest.raises(AttributeError) as info:
        cfg.floatx  # noqa: B018
    assert "floatx" in str(info.value) and "floatX" in str(info.value)
    assert "compiledir" in str(info.value) and "exception_verbosity" in str(info.value)
    with pytest.raises(UnknownFlagError) as info:
        cfg.floatx = "float64"
    assert "Known flags" in str(info.value)
    assert cfg.floatX == "float32"
    # getattr with a default keeps working for code that probes for a flag.
    assert getattr(cfg, "no_such_flag", "dflt") == "dflt"


def test_unknown_flag_in_change_flags_is_a_value_error():
    with pytest.raises(ValueError, match="flaotX.*Known flags.*floatX"):
        config.change_flags(flaotX="float64")


def test_unknown_flag_in_clgraph_flags():
    with pytest.raises(ValueError, match="flaotX.*Known flags"):
        fresh(CLGRAPH_FLAGS="flaotX=float64")
    with pytest.raises(ValueError, match="lacks '='"):
        fresh(CLGRAPH_FLAGS="floatX")


def test_clgraph_flags_env():
    cfg = fresh(CLGRAPH_FLAGS=" floatX=float64, device=opencl:0:1,,debug=2,profile=yes")
    assert cfg.floatX == "float64"
    assert cfg.device == "opencl:0:1"
    assert cfg.debug == 2 and cfg.profile is True
    with pytest.raises(ValueError, match="CLGRAPH_FLAGS.*floatX.*'float8'"):
        fresh(CLGRAPH_FLAGS="floatX=float8")


def test_rc_file_and_order_of_sources(tmp_path):
    rc = tmp_path / "clgraphrc"
    rc.write_text("[global]\nfloatX = float64\ndebug = 4\nprint_kernels = True\n")
    cfg = fresh(CLGRAPHRC=str(rc))
    assert (cfg.floatX, cfg.debug, cfg.print_kernels) == ("float64", 4, True)
    # CLGRAPH_FLAGS wins over the rc file; code wins over both.
    cfg = fresh(CLGRAPHRC=str(rc), CLGRAPH_FLAGS="debug=1")
    assert (cfg.floatX, cfg.debug) == ("float64", 1)
    cfg.debug = 5
    assert cfg.debug == 5


def test_rc_file_in_home(tmp_path):
    (tmp_path / ".clgraphrc").write_text("[global]\nexception_verbosity = high\n")
    env = {"HOME": str(tmp_path)}
    assert Config(environ=env).exception_verbosity == "high"


def test_rc_file_errors_name_the_file(tmp_path):
    rc = tmp_path / "bad"
    rc.write_text("[global]\nfloatx = float64\n")
    with pytest.raises(ValueError, match="bad.*floatx.*Known flags"):
        fresh(CLGRAPHRC=str(rc))
    rc.write_text("[global]\ngemm = magic\n")
    with pytest.raises(ValueError, match="bad.*gemm.*'magic'"):
        fresh(CLGRAPHRC=str(rc))


def test_change_flags_context_manager_restores():
    before = config.floatX
    with config.change_flags(floatX="float64", debug=2) as cfg:
        assert cfg is config
        assert config.floatX == "float64" and config.debug == 2
    assert config.floatX == before and config.debug == 0


def test_change_flags_restores_on_exception():
    before = config.as_dict()
    with pytest.raises(KeyError):
        with change_flags(floatX="float64", optimizer="None"):
            assert config.optimizer == "None"
            raise KeyError("boom")
    assert config.as_dict() == before


def test_change_flags_checks_before_changing_anything():
    before = config.as_dict()
    with pytest.raises(ValueError, match="debug"):
        config.change_flags(floatX="float64", debug=99)
    assert config.as_dict() == before


def test_change_flags_decorator_and_reentrancy():
    @config.change_flags(floatX="float64")
    def inner(depth):
        assert config.floatX == "float64"
        if depth:
            with config.change_flags(floatX="float32"):
                assert config.floatX == "float32"
                inner(depth - 1)
            assert config.floatX == "float64"
        return config.floatX

    assert inner(2) == "float64"
    assert config.floatX == "float32"


def test_change_flags_accepts_a_dict_and_module_alias():
    # `clgraph.config` the attribute is the Config object (cg.config); the module's alias
    # is reached through sys.modules.
    import sys

    assert sys.modules["clgraph.config"].change_flags is change_flags
    with change_flags({"debug": 1}, profile=True):
        assert config.debug == 1 and config.profile is True
    assert config.debug == 0 and config.profile is False


def test_version_counts_changes():
    v0 = config.version
    with config.change_flags(debug=3):
        assert config.version > v0
        v1 = config.version
        config.debug = 3  # same value: not a change
        assert config.version == v1
    assert config.version > v1


def test_as_dict_and_describe():
    flags = config.as_dict()
    described = config.describe()
    assert [name for name, _, _ in described] == list(flags)
    for name, value, doc in described:
        assert flags[name] == value
        assert doc and "\n" not in doc
    required = {
        "floatX", "device", "compiledir", "optimizer", "template_path", "exception_verbosity",
        "compute_test_value", "print_kernels", "profile", "debug", "optimizer_excluding",
        "optimizer_including", "optimizer_verbose", "sympy_simplify", "gemm",
        "traceback_limit", "mode", "cast_policy",
    }
    assert required <= set(flags)


def test_real_environment_is_read_at_import(child_env, run_python, tmp_path):
    rc = tmp_path / "rc"
    rc.write_text("[global]\ngemm = host\nfloatX = float64\n")
    env = dict(child_env, CLGRAPHRC=str(rc))
    env["CLGRAPH_FLAGS"] += ",floatX=float32,device=opencl:0:1"
    code = "from clgraph.config import config; print(config.floatX, config.device, config.gemm)"
    proc = run_python(code, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["float32", "opencl:0:1", "host"]


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_debug_levels_add_output(level, capsys):
    """config.debug: 1 compile times, 2 + time per pass, 3 + rules fired, 4 + kernel source."""
    import numpy as np

    import clgraph as cg
    import clgraph.tensor as T

    x = T.fvector("x")
    with config.change_flags(debug=level, sympy_simplify=False):
        f = cg.function([x], T.exp(x) * 1 + 2)
    np.testing.assert_allclose(f(np.zeros(3, "f4")), [3, 3, 3])
    out = capsys.readouterr()
    text = out.out + out.err
    assert ("compiled a function with 1 kernels" in out.err) == (level >= 1)
    if level >= 1:
        assert "build" in out.err.split("compiled a function")[-1]  # with its times
    assert ("clgraph: pass canonicalize:" in out.err) == (level >= 2)
    assert ("canonicalize/mul_by_one" in text) == (level >= 3)
    assert ("__kernel" in text) == (level >= 4)
