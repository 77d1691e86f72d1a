"""Rules: `rule(node) -> list[Variable] | None`, registered under the pass they belong to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    pass_name: str
    tracks: tuple[type, ...]
    fn: Callable


RULES: dict[str, list[Rule]] = defaultdict(list)


def rule(pass_name: str, tracks: type | tuple[type, ...] = object, name: str | None = None):
    """Register `fn(node)` in `pass_name`; it sees only nodes whose op is one of `tracks`."""
    tracks_t = tracks if isinstance(tracks, tuple) else (tracks,)

    def deco(fn: Callable) -> Callable:
        RULES[pass_name].append(Rule(name or fn.__name__, pass_name, tracks_t, fn))
        return fn
    return deco
