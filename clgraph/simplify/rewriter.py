"""Running registered rules over a graph: bottom-up rebuild, to a fixed point, bounded.

A rule sees one node (of the op types it tracks) whose inputs are already rewritten and
returns replacement variables for its outputs, or None. A replacement must keep each
output's type (dtype and static shape), else it is refused. A rule that raises is reported
once with its name and the graph it failed on, and the node is left as it was.

The work is bounded twice: at most `MAX_ROUNDS` rounds (rules that undo each other stop
there, with a warning naming the pass and the rules that still fired), and at most
`config.optimizer_pass_budget` seconds per pass (past it the pass stops where it is, with a
warning naming the pass and the rule that took the most time; the graph keeps the rewrites
made so far, each of which is complete and type-checked).
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict

from clgraph.config import config
from clgraph.expr.graph import FunctionGraph, rebuild
from clgraph.expr.variable import Variable
from clgraph.simplify.registry import RULES, Rule

MAX_ROUNDS = 8
_reported: set[tuple[str, str]] = set()
# The running pass's deadline, set by `passes.optimize` (None: each apply_rules call starts
# its own budget), and the passes that stopped on it (so optimize does not warn twice).
deadline: list[float | None] = [None]
stopped: set[str] = set()


def _enabled(rules: list[Rule]) -> list[Rule]:
    from clgraph.simplify.passes import _names

    excluded = _names(config.optimizer_excluding)
    return [r for r in rules if r.name not in excluded]


def _graph_text(node) -> str:
    from clgraph.printing import debugprint

    try:
        return debugprint(node.outputs[0], file="str", depth=4).rstrip()
    except Exception:  # noqa: BLE001 - the report must not fail on the printer
        return str(node)


def _try(rule: Rule, node) -> list[Variable] | None:
    try:
        out = rule.fn(node)
    except Exception as e:  # noqa: BLE001 - a broken rule must not break compilation
        key = (rule.name, type(e).__name__)
        if key not in _reported:
            _reported.add(key)
            warnings.warn(f"rewrite {rule.pass_name}/{rule.name} failed on {node}: "
                          f"{type(e).__name__}: {e}; the node is left as it was. "
                          f"The graph it failed on:\n{_graph_text(node)}", stacklevel=2)
        return None
    if out is None:
        return None
    out = list(out)
    if len(out) != len(node.outputs):
        return None
    for old, new in zip(node.outputs, out):
        if not isinstance(new, Variable) or new.type != old.type:
            return None
    return out


def _out_of_time(pass_name: str, budget: float, spent: dict[str, float]) -> None:
    stopped.add(pass_name)
    worst = max(spent, key=spent.get) if spent else None
    where = f"; most of it in rule {worst} ({spent[worst]:.3g} s)" if worst else ""
    warnings.warn(f"pass {pass_name} exceeded its time budget of {budget:g} s "
                  f"(config.optimizer_pass_budget){where}; stopping it there, the graph keeps "
                  "the rewrites made so far", stacklevel=3)


def apply_rules(fgraph: FunctionGraph, pass_name: str) -> FunctionGraph:
    rules = _enabled(RULES.get(pass_name, []))
    if not rules:
        return fgraph
    budget = config.optimizer_pass_budget
    stop_at = deadline[0] if deadline[0] is not None else time.perf_counter() + budget
    spent: dict[str, float] = defaultdict(float)
    late = False
    fired: set[str] = set()
    for _ in range(MAX_ROUNDS):
        changed = False
        fired = set()
        memo: dict[Variable, Variable] = {}
        for node in fgraph.toposort():
            inputs = [memo.get(i, i) for i in node.inputs]
            if any(a is not b for a, b in zip(inputs, node.inputs)):
                cur = rebuild(node, inputs)
            else:
                cur = node
            # Out of time: the walk goes on (rebuilding what depends on rewritten nodes, so
            # the graph stays whole), without trying rules.
            late = late or time.perf_counter() > stop_at
            for rule in () if late else rules:
                if not isinstance(cur.op, rule.tracks):
                    continue
                t0 = time.perf_counter()
                new = _try(rule, cur)
                spent[rule.name] += time.perf_counter() - t0
                if new is None:
                    continue
                if config.optimizer_verbose or config.debug >= 3:
                    print(f"{pass_name}/{rule.name}: {cur} -> {', '.join(map(str, new))}")
                for old, nv in zip(node.outputs, new):
                    if nv.owner is not None and "trace" in node.tag:
                        nv.owner.tag.setdefault("trace", node.tag["trace"])
                    nv.name = nv.name or old.name
                    memo[old] = nv
                changed = True
                fired.add(rule.name)
                break
            else:
                if cur is not node:
                    for old, nv in zip(node.outputs, cur.outputs):
                        nv.name = old.name
                        memo[old] = nv
        if memo:
            fgraph = FunctionGraph(fgraph.inputs, [memo.get(o, o) for o in fgraph.outputs])
        if late:
            _out_of_time(pass_name, budget, spent)
            return fgraph
        if not changed:
            return fgraph
    warnings.warn(f"pass {pass_name} did not reach a fixed point in {MAX_ROUNDS} rounds "
                  f"(rules still firing: {', '.join(sorted(fired))}); stopping it there",
                  stacklevel=2)
    return fgraph
