"""Running registered rules over a graph: bottom-up rebuild, to a fixed point, bounded.

A rule sees one node (of the op types it tracks) whose inputs are already rewritten and
returns replacement variables for its outputs, or None. A replacement must keep each
output's type (dtype and static shape), else it is refused. A rule that raises is reported
once with its name and the node, and the node is left as it was.
"""

from __future__ import annotations

import warnings

from clgraph.config import config
from clgraph.expr.graph import FunctionGraph, rebuild
from clgraph.expr.variable import Variable
from clgraph.simplify.registry import RULES, Rule

MAX_ROUNDS = 8
_reported: set[tuple[str, str]] = set()


def _enabled(rules: list[Rule]) -> list[Rule]:
    from clgraph.simplify.passes import _names

    excluded = _names(config.optimizer_excluding)
    return [r for r in rules if r.name not in excluded]


def _try(rule: Rule, node) -> list[Variable] | None:
    try:
        out = rule.fn(node)
    except Exception as e:  # noqa: BLE001 - a broken rule must not break compilation
        key = (rule.name, type(e).__name__)
        if key not in _reported:
            _reported.add(key)
            warnings.warn(f"rewrite {rule.pass_name}/{rule.name} failed on {node}: "
                          f"{type(e).__name__}: {e}; the node is left as it was", stacklevel=2)
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


def apply_rules(fgraph: FunctionGraph, pass_name: str) -> FunctionGraph:
    rules = _enabled(RULES.get(pass_name, []))
    if not rules:
        return fgraph
    for _ in range(MAX_ROUNDS):
        changed = False
        memo: dict[Variable, Variable] = {}
        for node in fgraph.toposort():
            inputs = [memo.get(i, i) for i in node.inputs]
            if any(a is not b for a, b in zip(inputs, node.inputs)):
                cur = rebuild(node, inputs)
            else:
                cur = node
            for rule in rules:
                if not isinstance(cur.op, rule.tracks):
                    continue
                new = _try(rule, cur)
                if new is None:
                    continue
                if config.optimizer_verbose:
                    print(f"{pass_name}/{rule.name}: {cur} -> {', '.join(map(str, new))}")
                for old, nv in zip(node.outputs, new):
                    if nv.owner is not None and "trace" in node.tag:
                        nv.owner.tag.setdefault("trace", node.tag["trace"])
                    nv.name = nv.name or old.name
                    memo[old] = nv
                changed = True
                break
            else:
                if cur is not node:
                    for old, nv in zip(node.outputs, cur.outputs):
                        nv.name = old.name
                        memo[old] = nv
        if not memo:
            return fgraph
        fgraph = FunctionGraph(fgraph.inputs, [memo.get(o, o) for o in fgraph.outputs])
        if not changed:
            return fgraph
    warnings.warn(f"pass {pass_name} did not reach a fixed point in {MAX_ROUNDS} rounds; "
                  "stopping it there", stacklevel=2)
    return fgraph
