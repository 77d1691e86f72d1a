"""Modes: which optimizer (and later, which checking linker) a function uses."""

from __future__ import annotations

from dataclasses import dataclass

from clgraph.config import config


@dataclass(frozen=True)
class Mode:
    optimizer: str | None = None  # None: config.optimizer
    linker: str = "opencl"

    def including(self, *tags: str) -> Mode:
        return self

    def excluding(self, *tags: str) -> Mode:
        return self


FAST_RUN = Mode("fast_run")
FAST_COMPILE = Mode("fast_compile")

_NAMED = {"FAST_RUN": FAST_RUN, "FAST_COMPILE": FAST_COMPILE}


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
