"""The order steps run in when some of them are host products (NumPy's BLAS on buffers the
device shares with the host, lower/gemm.py).

A host product must wait for the kernels that produce its operands: a round trip through
the driver (~50 µs on PoCL, ~100 µs when BLAS's threads spin beside PoCL's). The graph's
depth-first order often puts such a wait where an independent product could run instead
(a backward pass: the weight gradient of one layer while the kernel of the next layer's
input gradient runs). So, among the steps whose inputs are ready, this picks in turn:

1. steps without device work (views, lengths): they cost nothing;
2. kernels that some host product needs (they start early, overlapping host work);
3. host products whose operands' kernels are known finished (no wait);
4. host products that must wait;
5. other kernels (parameter updates, a loss): at the end, queued back to back.

Ties keep the graph's order. Correctness does not depend on the order (any topological
order is valid, and the executor waits for what each host call needs:
runtime/execute.py's host_waits); only the number of waits does.
"""

from __future__ import annotations

from clgraph.lower.gemm import GemmStep
from clgraph.lower.plan import Step

__all__ = ["schedule_host_work"]

FREE, KERNEL, HOST = "free", "kernel", "host"


def _kind(step: Step, kernels: list) -> str:
    if isinstance(step, GemmStep) and step.provider == "host":
        return HOST
    return KERNEL if kernels else FREE


def schedule_host_work(steps: list[Step], kernels: dict[int, list]) -> list[Step]:
    """`steps` (a topological order) reordered as the module doc says; unchanged when none
    of them is a host product. `kernels`: each step's kernels, by id(step)."""
    kinds = [_kind(s, kernels[id(s)]) for s in steps]
    if HOST not in kinds:
        return steps
    producer: dict[int, int] = {}  # id(variable) -> index of the step computing it
    for i, s in enumerate(steps):
        for v in s.node.outputs:
            producer[id(v)] = i
    deps = [sorted({producer[id(v)] for v in s.node.inputs if id(v) in producer})
            for s in steps]
    # Kernels behind each step's inputs, seen through steps without device work; a host
    # product's own epilogue kernel (GemmEpilogue) produces its outputs.
    feeding: list[set[int]] = []
    for i in range(len(steps)):
        found: set[int] = set()
        for d in deps[i]:
            if kinds[d] == FREE:
                found |= feeding[d]
            elif kinds[d] == KERNEL or getattr(steps[d], "epi", None) is not None:
                found.add(d)
        feeding.append(found)
    needed: set[int] = set()  # kernels some host product depends on
    stack = [i for i, k in enumerate(kinds) if k == HOST]
    seen = set(stack)
    while stack:
        for d in deps[stack.pop()]:
            if d not in seen:
                seen.add(d)
                stack.append(d)
                if kinds[d] != FREE:
                    needed.add(d)

    users: list[list[int]] = [[] for _ in steps]
    waiting = [len(d) for d in deps]
    for i, ds in enumerate(deps):
        for d in ds:
            users[d].append(i)
    ready = {i for i, n in enumerate(waiting) if n == 0}
    queued: dict[int, int] = {}  # step -> position of its kernel in the queue
    covered = -1  # kernels queued at or before this position are known finished
    order: list[int] = []

    def rank(i: int) -> tuple[int, int]:
        kind = kinds[i]
        if kind == FREE:
            return 0, i
        if kind == KERNEL:
            return (1 if i in needed else 4), i
        wait = max((queued[d] for d in feeding[i]), default=-1)
        return (2 if wait <= covered else 3), i

    while ready:
        i = min(ready, key=rank)
        ready.remove(i)
        if kinds[i] == HOST:
            covered = max([covered] + [queued[d] for d in feeding[i]])
        if kinds[i] == KERNEL or getattr(steps[i], "epi", None) is not None:
            queued[i] = len(queued)
        order.append(i)
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.add(u)
    assert len(order) == len(steps), "steps do not form a DAG"
    return [steps[i] for i in order]
