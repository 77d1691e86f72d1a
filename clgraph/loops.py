"""Theano's loop forms built on `scan`: `map`, `reduce`, `foldl`, `foldr` (`cg.map`, ...).

They shadow Python's builtins inside this module only; clgraph's own code does not use
those builtins here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from clgraph.scan import scan

__all__ = ["foldl", "foldr", "map", "reduce"]


def map(fn: Callable, sequences: Any, non_sequences: Any = None, truncate_gradient: int = -1,
        go_backwards: bool = False, mode: Any = None, name: str | None = None
        ) -> tuple[Any, OrderedDict]:
    """Theano's `map`: `fn` applied to each element of the sequences (a scan without
    recurrent outputs)."""
    return scan(fn, sequences=sequences, non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=mode,
                name=name)


def reduce(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None,
           go_backwards: bool = False, mode: Any = None, name: str | None = None
           ) -> tuple[Any, OrderedDict]:
    """Theano's `reduce`: a scan whose outputs are only the last step's values."""
    outs, updates = scan(fn, sequences=sequences, outputs_info=outputs_info,
                         non_sequences=non_sequences, go_backwards=go_backwards, mode=mode,
                         name=name)
    last = [o[-1] for o in outs] if isinstance(outs, list) else outs[-1]
    return last, updates


def foldl(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None,
          mode: Any = None, name: str | None = None) -> tuple[Any, OrderedDict]:
    """Theano's `foldl`: `reduce` from the first element."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False, mode=mode,
                  name=name)


def foldr(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None,
          mode: Any = None, name: str | None = None) -> tuple[Any, OrderedDict]:
    """Theano's `foldr`: `reduce` from the last element."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True, mode=mode,
                  name=name)
