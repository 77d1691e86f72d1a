"""Modes: which optimizer and which linker (plain, DebugMode, NanGuardMode) a function uses."""

from __future__ import annotations

from dataclasses import dataclass, replace

from clgraph.config import config


@dataclass(frozen=True)
class Mode:
    optimizer: str | None = None  # None: config.optimizer
    linker: str = "opencl"
    included: tuple[str, ...] = ()  # pass names added to the optimizer's list
    excluded: tuple[str, ...] = ()  # pass or rule names skipped

    def including(self, *names: str) -> Mode:
        """This mode with the named passes added (Theano's Mode.including)."""
        return replace(self, included=self.included + names)

    def excluding(self, *names: str) -> Mode:
        """This mode without the named passes or rules (Theano's Mode.excluding)."""
        return replace(self, excluded=self.excluded + names)


@dataclass(frozen=True)
class DebugMode(Mode):
    """Run every node as its kernel and as its NumPy `perform` and compare them; check that
    every rewrite pass preserved the outputs' values (clgraph.compile.debugmode)."""

    optimizer: str | None = "fast_run"
    linker: str = "debug"
    check_rewrites: bool = True
    rtol: float | None = None  # None: by dtype (1e-4 float32, 1e-7 float64, 1e-2 float16)
    atol: float | None = None


@dataclass(frozen=True, init=False)
class NanGuardMode(Mode):
    """Check every node's output on the device for NaN, Inf or huge (|x| > 1e10) values and
    raise naming the first node that made one (clgraph.compile.nanguard).

    Arguments in Theano's order: `NanGuardMode(nan_is_error, inf_is_error, big_is_error)`.
    """

    nan_is_error: bool = True
    inf_is_error: bool = True
    big_is_error: bool = False

    def __init__(self, nan_is_error: bool | None = True, inf_is_error: bool | None = True,
                 big_is_error: bool | None = False, optimizer: str | None = None,
                 linker: str | None = None) -> None:
        object.__setattr__(self, "nan_is_error", True if nan_is_error is None else nan_is_error)
        object.__setattr__(self, "inf_is_error", True if inf_is_error is None else inf_is_error)
        object.__setattr__(self, "big_is_error", bool(big_is_error))
        object.__setattr__(self, "optimizer", optimizer)
        object.__setattr__(self, "linker", "nanguard")


FAST_RUN = Mode("fast_run")
FAST_COMPILE = Mode("fast_compile")

_NAMED = {"FAST_RUN": FAST_RUN, "FAST_COMPILE": FAST_COMPILE, "DebugMode": DebugMode(),
          "DEBUG_MODE": DebugMode(), "NanGuardMode": NanGuardMode()}


def get_mode(mode) -> Mode:
    if mode is None:
        mode = config.mode
        if mode == "FAST_RUN":
            return Mode(None)
    if isinstance(mode, Mode):
        return mode
    if isinstance(mode, str) and mode in _NAMED:
        return _NAMED[mode]
    raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(_NAMED)} or a Mode")
