"""The one ordered list of passes, and which of them each optimizer level runs."""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable

from clgraph.config import config
from clgraph.expr.graph import FunctionGraph
from clgraph.simplify import canonicalize as _canonicalize_rules  # noqa: F401 (registers)
from clgraph.simplify import rewriter
from clgraph.simplify import stabilize as _stabilize_rules  # noqa: F401 (registers)
from clgraph.simplify import stabilize_grads as _stabilize_grad_rules  # noqa: F401
from clgraph.simplify.constant_fold import constant_fold
from clgraph.simplify.fusion import fuse_elemwise, fuse_into_reductions
from clgraph.simplify.merge import merge
from clgraph.simplify.rewriter import apply_rules
from clgraph.simplify.specialize import specialize
from clgraph.simplify.sympy_bridge import sympy_pass
from clgraph.simplify.xent_merge import merge_xent

# Order matters and is read here, nowhere else.
PASSES: list[tuple[str, Callable[[FunctionGraph], FunctionGraph]]] = [
    ("merge", merge),
    ("constant_fold", constant_fold),
    ("canonicalize", lambda fg: apply_rules(fg, "canonicalize")),
    ("sympy", sympy_pass),
    ("stabilize", lambda fg: apply_rules(fg, "stabilize")),
    ("merge2", merge),
    ("fusion", fuse_elemwise),
    ("xent_merge", merge_xent),  # before specialize: it takes the logits' bias add
    ("specialize", specialize),  # GEMM epilogues, sum(x*y) -> dot: before reduce_fusion
    ("reduce_fusion", fuse_into_reductions),
]

LEVELS = {
    "fast_run": [name for name, _ in PASSES],
    "fast_compile": ["merge", "constant_fold"],
    "none": [],
}


def _names(flag: str) -> set[str]:
    return {s.strip() for s in flag.split(":") if s.strip()}


def optimize(fgraph: FunctionGraph, optimizer: str | None = None,
             timings: dict[str, float] | None = None,
             on_pass: Callable[[str, FunctionGraph, FunctionGraph], None] | None = None,
             including: tuple[str, ...] = ()) -> FunctionGraph:
    """Run the passes of `optimizer`, plus passes named in `including` or
    config.optimizer_including, less those named in config.optimizer_excluding (rule names
    there are skipped by the rule runner); `on_pass(name, before, after)` sees each pass
    (DebugMode)."""
    level = (optimizer or config.optimizer).lower()
    if level not in LEVELS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {list(LEVELS)}")
    excluded = _names(config.optimizer_excluding)
    included = _names(config.optimizer_including) | set(including)
    for name, fn in PASSES:
        if (name not in LEVELS[level] and name not in included) or name in excluded:
            continue
        t0 = time.perf_counter()
        before, fgraph = fgraph, _run_pass(name, fn, fgraph, t0)
        validate_pass(name, before, fgraph)
        spent = time.perf_counter() - t0
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + spent
        if config.debug >= 2:
            print(f"clgraph: pass {name}: {spent * 1e3:.1f} ms, "
                  f"{len(fgraph.apply_nodes)} nodes", file=sys.stderr)
        if on_pass is not None:
            on_pass(name, before, fgraph)
    return fgraph


class PassValidationError(TypeError):
    """A pass changed the graph's interface: its outputs' number, dtypes or static shapes."""


def validate_pass(name: str, before: FunctionGraph, after: FunctionGraph) -> None:
    """The graph a pass returns has the same inputs and outputs of the same types (dtype
    and static shape, so broadcast patterns too) as the one it was given."""
    if list(after.inputs) != list(before.inputs) or len(after.outputs) != len(before.outputs):
        raise PassValidationError(f"pass {name} changed the graph's inputs or number of "
                                  f"outputs ({len(before.outputs)} -> {len(after.outputs)})")
    for k, (old, new) in enumerate(zip(before.outputs, after.outputs)):
        if old.type != new.type:
            raise PassValidationError(f"pass {name} changed output {k} ({old}) from type "
                                      f"{old.type} to {new.type}")


def _run_pass(name: str, fn: Callable[[FunctionGraph], FunctionGraph], fgraph: FunctionGraph,
              t0: float) -> FunctionGraph:
    """One pass under config.optimizer_pass_budget: rule passes stop at the deadline
    themselves (rewriter.apply_rules); a pass of another kind (a single linear walk, as merge
    or fusion) is warned about, by name, when it took longer."""
    budget = config.optimizer_pass_budget
    rewriter.deadline[0] = t0 + budget
    rewriter.stopped.discard(name)
    try:
        out = fn(fgraph)
    finally:
        rewriter.deadline[0] = None
    took = time.perf_counter() - t0
    if took > budget and name not in rewriter.stopped:
        warnings.warn(f"pass {name} took {took:.3g} s, over its time budget of {budget:g} s "
                      "(config.optimizer_pass_budget)", stacklevel=3)
    return out


def rewrite_graph(outputs, include: tuple[str, ...] | None = None):
    """Rewrite the graph of `outputs` (a variable or list) with the named passes, for tests."""
    from clgraph.expr.graph import graph_inputs

    single = not isinstance(outputs, (list, tuple))
    outs = [outputs] if single else list(outputs)
    fg = FunctionGraph([v for v in graph_inputs(outs) if v.owner is None and
                        type(v).__name__ == "TensorVariable"], outs)
    for name, fn in PASSES:
        if include is None or name in include:
            fg = fn(fg)
    return fg.outputs[0] if single else fg.outputs
