"""Configuration flags: one typed, validated table read from defaults, rc file, env and code.

Sources, later wins: the defaults below < ``~/.clgraphrc`` (or the files named by the
environment variable ``CLGRAPHRC``, an INI file with a ``[global]`` section, as ``.theanorc``)
< ``CLGRAPH_FLAGS="floatX=float64,device=opencl:0:1"`` < assignments in code
(``config.floatX = 'float64'``, ``with config.change_flags(floatX='float64'):``).

Every flag is parsed and checked when it is set, so a typo fails at once with the allowed
values, not later inside a kernel. ``config.version`` counts changes, so caches may key on it.
"""

from __future__ import annotations

import configparser
import contextlib
import difflib
import os
import re
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Config", "UnknownFlagError", "change_flags", "config", "default_compiledir"]


class UnknownFlagError(AttributeError, ValueError):
    """A flag name that clgraph does not know (a typo, usually)."""


# --- value parsers -------------------------------------------------------------------------

Parser = Callable[[str, Any], Any]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _bad(name: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"config.{name}: invalid value {value!r}; allowed: {allowed}")


def _enum(*choices: str) -> Parser:
    def parse(name: str, value: Any) -> str:
        if isinstance(value, str) and value in choices:
            return value
        raise _bad(name, value, ", ".join(repr(c) for c in choices))

    return parse


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    raise _bad(name, value, "True/False, 1/0, yes/no")


def _int_range(lo: int, hi: int | None) -> Parser:
    allowed = f"an integer from {lo} to {hi}" if hi is not None else f"an integer >= {lo}"

    def parse(name: str, value: Any) -> int:
        if isinstance(value, bool):
            raise _bad(name, value, allowed)
        try:
            out = int(value.strip()) if isinstance(value, str) else int(value)
        except (TypeError, ValueError):
            raise _bad(name, value, allowed) from None
        if isinstance(value, float) and value != out:
            raise _bad(name, value, allowed)
        if out < lo or (hi is not None and out > hi):
            raise _bad(name, value, allowed)
        return out

    return parse


def _seconds(name: str, value: Any) -> float:
    allowed = "a positive number of seconds"
    if isinstance(value, bool):
        raise _bad(name, value, allowed)
    try:
        out = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise _bad(name, value, allowed) from None
    if not out > 0:
        raise _bad(name, value, allowed)
    return out


def _string(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _bad(name, value, "a string")


def _path(name: str, value: Any) -> str:
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip():
            return os.path.abspath(os.path.expanduser(text.strip()))
    raise _bad(name, value, "a non-empty directory path")


def _optimizer(name: str, value: Any) -> str:
    if value is None:
        return "None"
    return _enum("fast_run", "fast_compile", "None")(name, value)


_DEVICE_RE = re.compile(r"opencl:(\d+):(\d+)")


def _device(name: str, value: Any) -> str:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("opencl", "cpu", "gpu") or _DEVICE_RE.fullmatch(text):
            return text
    raise _bad(
        name,
        value,
        "'opencl' (best device, GPU preferred), 'cpu', 'gpu' (best of that type), "
        "'opencl:P:D' (platform P, device D; see `python -m clgraph info`)",
    )


def default_compiledir(environ: Mapping[str, str] | None = None) -> str:
    """The default kernel cache directory, honouring XDG_CACHE_HOME as the XDG spec says."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME", "")
    if not base or not os.path.isabs(base):
        home = env.get("HOME") or os.path.expanduser("~")
        base = os.path.join(home, ".cache")
    return os.path.join(base, "clgraph", "compiledir")


# --- the flag table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    """One configuration flag: its name, default, parser and a one-line doc."""

    name: str
    default: Any
    parse: Parser
    doc: str


def _flags(environ: Mapping[str, str]) -> list[Flag]:
    return [
        Flag("floatX", "float32", _enum("float32", "float64"),
             "Default float dtype of variables and of Python float constants."),
        Flag("device", "opencl", _device,
             "OpenCL device: 'opencl' best (GPU preferred), 'cpu', 'gpu', or 'opencl:P:D'."),
        Flag("compiledir", default_compiledir(environ), _path,
             "Directory of the on-disk cache of built kernel binaries."),
        Flag("binary_cache", "auto", _enum("auto", "always", "never"),
             "Store built program binaries in compiledir: 'auto' = except on PoCL, which "
             "caches by source itself and compiles every kernel when asked for a binary."),
        Flag("optimizer", "fast_run", _optimizer,
             "Graph rewrites to run: 'fast_run', 'fast_compile' or 'None' (no rewrites)."),
        Flag("optimizer_excluding", "", _string,
             "Colon-separated rewrite rule or pass names to skip."),
        Flag("optimizer_including", "", _string,
             "Colon-separated rewrite rule or pass names to add to the mode's set."),
        Flag("optimizer_verbose", False, _bool,
             "Print 'pass/rule: old -> new' each time a rewrite fires."),
        Flag("optimizer_pass_budget", 10.0, _seconds,
             "Seconds one rewrite pass may take; past it the pass stops with a warning."),
        Flag("sympy_simplify", True, _bool,
             "Let the bounded SymPy pass propose cheaper fused elementwise expressions."),
        Flag("mode", "FAST_RUN", _enum("FAST_RUN", "FAST_COMPILE", "DebugMode", "NanGuardMode"),
             "Default compilation mode of clgraph.function."),
        Flag("template_path", "", _string,
             "os.pathsep-separated directories of kernel templates, searched before the package."),
        Flag("gemm", "auto", _enum("auto", "host", "template"),
             "Matrix products: 'template' OpenCL kernel, 'host' NumPy BLAS, 'auto' choose."),
        Flag("pocl_inline", True, _bool,
             "On PoCL's CPU device, run small launches on its 'basic' driver in the calling "
             "thread (~4 µs a launch and read, against ~50 µs through its worker threads)."),
        Flag("host_blas_threads", 0, _int_range(0, None),
             "BLAS threads of host matrix products under 1 GFLOP (0: the BLAS library's own "
             "count); 1 helps when other work loads the cores PoCL also runs on."),
        Flag("cast_policy", "theano", _enum("theano"),
             "Dtype rules of mixed-type arithmetic; Theano's rules are the only ones implemented."),
        Flag("exception_verbosity", "low", _enum("low", "high"),
             "'high' adds the graph around the failing node to runtime errors."),
        Flag("compute_test_value", "off", _enum("off", "raise", "warn"),
             "Evaluate test values while building graphs: 'off', 'raise' or 'warn' on failure."),
        Flag("traceback_limit", 1, _int_range(-1, None),
             "Stack frames of user code kept on each node for error messages (-1: all)."),
        Flag("print_kernels", False, _bool,
             "Print the rendered OpenCL source of each program when it is built."),
        Flag("profile", False, _bool,
             "Profile every compiled function (time per kernel and per node)."),
        Flag("debug", 0, _int_range(0, 5),
             "Debug output on stderr: 1 compile times and OpenCL build logs, 2 time per "
            "rewrite pass, 3 each rule fired, 4 kernel sources."),
    ]


class Config:
    """The configuration object: typed flags as attributes, validated on every assignment."""

    def __init__(self, environ: Mapping[str, str] | None = None, read_sources: bool = True):
        env = os.environ if environ is None else environ
        table = {f.name: f for f in _flags(env)}
        object.__setattr__(self, "_flags", table)
        object.__setattr__(self, "_version", 0)
        # Values live in the instance dict so that reading a flag is a plain attribute lookup
        # (it is on per-call paths); writes go through __setattr__ and are checked.
        for name, flag in table.items():
            object.__setattr__(self, name, flag.default)
        object.__setattr__(self, "_lock", threading.RLock())
        if read_sources:
            self._read_sources(env)

    # --- access ---------------------------------------------------------------------------

    def _unknown(self, name: str) -> UnknownFlagError:
        close = difflib.get_close_matches(name, list(self._flags), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        known = ", ".join(sorted(self._flags, key=str.lower))
        return UnknownFlagError(f"unknown config flag {name!r}.{hint} Known flags: {known}")

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: the name is not a flag.
        if name.startswith("__") or "_flags" not in self.__dict__:
            raise AttributeError(name)
        raise self._unknown(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._set(name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"config flags cannot be deleted ({name!r}); assign a value instead")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._flags))

    def _parse(self, name: str, value: Any) -> Any:
        flag = self._flags.get(name)
        if flag is None:
            raise self._unknown(name)
        return flag.parse(name, value)

    def _set(self, name: str, value: Any) -> None:
        parsed = self._parse(name, value)
        with self._lock:
            if self.__dict__[name] != parsed:
                object.__setattr__(self, name, parsed)
                object.__setattr__(self, "_version", self._version + 1)

    @property
    def version(self) -> int:
        """A counter bumped on every change of any flag, so caches can key on it cheaply."""
        return self._version

    @property
    def template_dirs(self) -> list[str]:
        """The template_path directories as a list (empty entries dropped)."""
        return [p for p in self.template_path.split(os.pathsep) if p.strip()]

    def as_dict(self) -> dict[str, Any]:
        """Every flag and its current value, for saving, comparing and printing."""
        return {name: self.__dict__[name] for name in self._flags}

    def describe(self) -> list[tuple[str, Any, str]]:
        """(name, value, doc) for every flag, in table order, for printing."""
        return [(n, self.__dict__[n], f.doc) for n, f in self._flags.items()]

    def change_flags(self, *args: Mapping[str, Any], **kwargs: Any) -> _ChangeFlags:
        """Set flags for a block or a function, restoring the old values afterwards.

        Usable as ``with config.change_flags(floatX='float64'):`` and as a decorator. Names and
        values are checked here, before anything changes.
        """
        changes: dict[str, Any] = {}
        for arg in args:
            changes.update(arg)
        changes.update(kwargs)
        parsed = {name: self._parse(name, value) for name, value in changes.items()}
        return _ChangeFlags(self, parsed)

    # --- sources ----------------------------------------------------------------------------

    def _read_sources(self, environ: Mapping[str, str]) -> None:
        for path in _rc_files(environ):
            self._read_rc(path)
        flags = environ.get("CLGRAPH_FLAGS", "")
        if flags.strip():
            for name, value in parse_flags_string(flags):
                try:
                    self._set(name, value)
                except ValueError as exc:
                    raise type(exc)(f"in CLGRAPH_FLAGS={flags!r}: {exc}") from None

    def _read_rc(self, path: str) -> None:
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep 'floatX'
        try:
            with open(path, encoding="utf-8") as fh:
                parser.read_file(fh)
        except configparser.Error as exc:
            raise ValueError(f"config file {path}: cannot parse it: {exc}") from None
        for section in parser.sections():
            if section != "global":
                warnings.warn(
                    f"config file {path}: section [{section}] ignored; put flags under [global]",
                    stacklevel=4,
                )
                continue
            for name, value in parser.items(section):
                try:
                    self._set(name, value)
                except ValueError as exc:
                    raise type(exc)(f"config file {path}: {exc}") from None


def parse_flags_string(text: str) -> list[tuple[str, str]]:
    """Split 'a=1,b=2' (the CLGRAPH_FLAGS syntax) into name/value pairs."""
    pairs = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise ValueError(f"CLGRAPH_FLAGS entry {item!r} lacks '='; write name=value")
        name, value = item.split("=", 1)
        pairs.append((name.strip(), value.strip()))
    return pairs


def _rc_files(environ: Mapping[str, str]) -> list[str]:
    named = environ.get("CLGRAPHRC")
    if named is None:
        home = environ.get("HOME") or os.path.expanduser("~")
        path = os.path.join(home, ".clgraphrc")
        return [path] if os.path.isfile(path) else []
    files = []
    for entry in named.split(os.pathsep):
        entry = os.path.expanduser(entry.strip())
        if not entry:
            continue
        if os.path.isfile(entry):
            files.append(entry)
        else:
            warnings.warn(f"CLGRAPHRC names {entry!r}, which is not a file", stacklevel=4)
    return files


class _ChangeFlags(contextlib.ContextDecorator):
    """Context manager and decorator made by Config.change_flags; re-entrant."""

    def __init__(self, cfg: Config, changes: dict[str, Any]):
        self._cfg = cfg
        self._changes = changes
        self._saved: list[dict[str, Any]] = []

    def __enter__(self) -> Config:
        cfg = self._cfg
        old = {name: getattr(cfg, name) for name in self._changes}
        self._saved.append(old)
        try:
            for name, value in self._changes.items():
                cfg._set(name, value)
        except BaseException:
            self._restore()
            raise
        return cfg

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _restore(self) -> None:
        old = self._saved.pop()
        for name, value in old.items():
            self._cfg._set(name, value)

    def __repr__(self) -> str:
        return f"change_flags({', '.join(f'{k}={v!r}' for k, v in self._changes.items())})"


config = Config()
"""The process-wide configuration (``clgraph.config``)."""


def change_flags(*args: Mapping[str, Any], **kwargs: Any) -> _ChangeFlags:
    """Module-level alias of ``config.change_flags``."""
    return config.change_flags(*args, **kwargs)
