"""Arguments that Theano and NumPy spell differently (a module of its own: `clgraph.tensor`
star-imports `basic`, whose public names are the user namespace)."""

from __future__ import annotations

from typing import Any


def argument_alias(what: str, name: str, value: Any, alias: str, alias_value: Any) -> Any:
    """An argument given under Theano's `name` or under `alias` (NumPy's name, or an older
    Theano one), not both; None where neither is given."""
    if alias_value is None:
        return value
    if value is not None:
        raise TypeError(f"{what}: give {name}= or {alias}=, not both")
    return alias_value
