"""Lazy ifelse in the plan: which nodes only one branch of an IfElse needs, and an order
that computes each condition before the nodes it guards.

A node's guards are the (condition, branch) pairs that all of its uses go through: every
path from it to the function's outputs enters that IfElse by that branch's inputs. The plan
prepares a guarded node only once every guard's condition is on the host (a sync point)
and only if each one selects its branch; a node that both branches, or anything else,
needs has no guard and runs as usual. A node under an IfElse that is itself inside a
branch carries both guards.
"""

from __future__ import annotations

import heapq

from clgraph.expr.ifelse import IfElse

__all__ = ["Guards", "branch_guards", "lazy_order"]

# ((condition variable, True for the then-branch), ...), outermost IfElse first
Guards = tuple


def branch_guards(fgraph, order: list) -> dict[int, Guards]:
    """{id(node): its guards} for the nodes that have any, `order` being a topological
    order of fgraph's nodes; empty when the graph has no IfElse."""
    if not any(isinstance(n.op, IfElse) for n in order):
        return {}
    found: dict[int, dict] = {}  # id(node) -> {(id(IfElse node), branch): (cond, branch)}
    for node in reversed(order):
        common = None
        for out in node.outputs:
            for client, j in fgraph.clients(out):
                if client == "output":
                    use: dict = {}
                else:
                    use = dict(found[id(client)])
                    if isinstance(client.op, IfElse) and j > 0:
                        then = j <= client.op.n_outs
                        use[(id(client), then)] = (client.inputs[0], then)
                common = use if common is None else \
                    {k: v for k, v in common.items() if k in use}
        found[id(node)] = common or {}
    return {k: tuple(v.values()) for k, v in found.items() if v}


def lazy_order(steps: list, guards: dict[int, Guards]) -> list:
    """`steps` (a topological order) reordered so that steps with fewer guards go first
    whenever their inputs allow (a condition is computed before the branch nodes it
    guards); ties keep the given order."""
    if not guards:
        return steps
    producer = {id(v): i for i, s in enumerate(steps) for v in s.node.outputs}
    deps = [{producer[id(v)] for v in s.node.inputs if id(v) in producer} for s in steps]
    users: list[list[int]] = [[] for _ in steps]
    for i, ds in enumerate(deps):
        for d in ds:
            users[d].append(i)
    waiting = [len(ds) for ds in deps]
    ready = [(len(guards.get(id(s.node), ())), i) for i, s in enumerate(steps) if not deps[i]]
    heapq.heapify(ready)
    out = []
    while ready:
        _, i = heapq.heappop(ready)
        out.append(steps[i])
        for u in users[i]:
            waiting[u] -= 1
            if not waiting[u]:
                heapq.heappush(ready, (len(guards.get(id(steps[u].node), ())), u))
    return out
