"""fusion: every maximal elementwise subgraph becomes one Elemwise(Composite): one kernel.

A producer is absorbed into a group when all its clients are in the group (so nothing
is computed twice) and it is not broadcast by the consumer (which would recompute it per
broadcast element).
"""

from __future__ import annotations

from clgraph.expr.elemwise import Elemwise
from clgraph.expr.graph import FunctionGraph, rebuild, replace_nodes, stands_for
from clgraph.expr.scalar.composite import Composite
from clgraph.expr.variable import Variable


def _absorbable(var: Variable, group_ids: set, root, fgraph: FunctionGraph,
                absorbed: set) -> bool:
    p = var.owner
    if p is None or not isinstance(p.op, Elemwise) or len(p.outputs) != 1 or id(p) in absorbed:
        return False
    if id(p) in group_ids:
        return False
    # Every use must be inside the group (one node may use it twice, as in e * e, or
    # several, as in t + t * sgn(x)): then nothing is computed twice.
    clients = fgraph.clients(var)
    if not clients or any(id(c[0]) not in group_ids for c in clients):
        return False
    out_shape = root.outputs[0].type.shape
    return all(not (s == 1 and o != 1) for s, o in zip(var.type.shape, out_shape))


def _groups(fgraph: FunctionGraph) -> dict[int, list]:
    """root node id -> nodes of its group (toposorted), for groups of two or more."""
    order = fgraph.toposort()
    pos = {id(n): i for i, n in enumerate(order)}
    absorbed: set[int] = set()
    groups: dict[int, list] = {}
    for node in reversed(order):
        if not isinstance(node.op, Elemwise) or id(node) in absorbed or len(node.outputs) != 1:
            continue
        group, ids = [node], {id(node)}
        grew = True
        while grew:  # to a fixed point: a producer joins once all its users have joined
            grew = False
            for n in list(group):
                for inp in n.inputs:
                    if _absorbable(inp, ids, node, fgraph, absorbed):
                        absorbed.add(id(inp.owner))
                        ids.add(id(inp.owner))
                        group.append(inp.owner)
                        grew = True
        if len(group) > 1:
            absorbed.add(id(node))
            groups[id(node)] = sorted(group, key=lambda n: pos[id(n)])
    return groups


def composite_of(group: list, outs: list[Variable] | None = None,
                 lead: tuple[Variable, ...] = ()) -> tuple[Composite, list[Variable]]:
    """The scalar program of `group` (toposorted elementwise nodes) and its inputs: `lead`
    first, then every other value the group reads from outside; its outputs are `outs`
    (default: the last node's output)."""
    externals: list[Variable] = list(lead)
    ext_index: dict[int, int] = {id(v): k for k, v in enumerate(lead)}
    inside = {id(o) for n in group for o in n.outputs}
    for n in group:
        for inp in n.inputs:
            if id(inp) not in inside and id(inp) not in ext_index:
                ext_index[id(inp)] = len(externals)
                externals.append(inp)
    nin = len(externals)
    steps: list = []
    ref_of: dict[int, int] = {}
    for n in group:
        refs = [ext_index[id(i)] if id(i) in ext_index else ref_of[id(i)] for i in n.inputs]
        sop = n.op.scalar_op
        if isinstance(sop, Composite):
            local = list(refs)
            for op, rs in sop.steps:
                steps.append((op, tuple(local[r] for r in rs)))
                local.append(nin + len(steps) - 1)
            ref_of[id(n.outputs[0])] = local[sop.outputs[0]]
        else:
            steps.append((sop, tuple(refs)))
            ref_of[id(n.outputs[0])] = nin + len(steps) - 1
    outs = outs if outs is not None else [group[-1].outputs[0]]
    comp = Composite(tuple(v.dtype for v in externals), tuple(steps),
                     tuple(ref_of[id(o)] for o in outs))
    return comp, externals


def fuse_elemwise(fgraph: FunctionGraph) -> FunctionGraph:
    groups = _groups(fgraph)
    if not groups:
        return fgraph
    members = {id(n) for g in groups.values() for n in g[:-1]}
    memo: dict[Variable, Variable] = {}
    for node in fgraph.toposort():
        if id(node) in members:
            continue
        if id(node) in groups:
            comp, externals = composite_of(groups[id(node)])
            new = Elemwise(comp).make_node(*[memo.get(v, v) for v in externals])
            new.tag.update(node.tag)
            new.tag["fused"] = groups[id(node)]
            out = node.outputs[0]
            if new.outputs[0].type != out.type:
                raise TypeError(f"fusion changed the type of {out}: {out.type} -> "
                                f"{new.outputs[0].type}")
            new.outputs[0].name = out.name
            memo[out] = new.outputs[0]
            continue
        inputs = [memo.get(i, i) for i in node.inputs]
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            rebuild(node, inputs, memo)
    return FunctionGraph(fgraph.inputs, [memo.get(o, o) for o in fgraph.outputs])


def fuse_into_reductions(fgraph: FunctionGraph) -> FunctionGraph:
    """Elementwise producers and consumers into reductions (`fuse_prologues`, then
    `fuse_epilogues`)."""
    return fuse_epilogues(fuse_prologues(fgraph))


def fuse_prologues(fgraph: FunctionGraph) -> FunctionGraph:
    """Reduce(Elemwise(...)) -> FusedReduce with the elementwise program as its prologue,
    when the reduction is the elementwise result's only user and nothing is broadcast."""
    from clgraph.expr.reduce import FusedReduce, Reduce

    def fused(node, memo):
        if type(node.op) is not Reduce:
            return None
        (val,) = node.inputs
        p = val.owner
        if not (p is not None and isinstance(p.op, Elemwise) and len(p.outputs) == 1
                and val not in fgraph.outputs
                and all(c[0] is node for c in fgraph.clients(val))
                and all(i.type.shape == val.type.shape or i.ndim == val.ndim
                        for i in p.inputs)):
            return None
        sop = p.op.scalar_op
        comp = sop if isinstance(sop, Composite) else \
            Composite.of(sop, tuple(i.dtype for i in p.inputs))
        op = FusedReduce(node.op.kind, node.op.axes, node.op.dtype, comp)
        new = op.make_node(*[memo.get(i, i) for i in p.inputs]).outputs[0]
        if new.type != node.outputs[0].type:
            return None
        return stands_for(new, node, list(p.tag.get("fused", [p])) + [node])

    return replace_nodes(fgraph, fused)


def fuse_epilogues(fgraph: FunctionGraph) -> FunctionGraph:
    """Elemwise(..., Reduce(x), ...) -> ReduceEpilogue: the elementwise program runs in the
    reduction's final store (a bias update `b - lr * sum(d, 0)`, a mean's division), when the
    reduction's only user is that node, which does not broadcast the reduced value further
    and gives values of its dtype."""
    from clgraph.expr.reduce import Reduce, ReduceEpilogue

    def fused(node, memo):
        if not isinstance(node.op, Elemwise) or len(node.outputs) != 1:
            return None
        out = node.outputs[0]
        for k, r in enumerate(node.inputs):
            rn = r.owner
            if (rn is None or type(rn.op) is not Reduce or r in fgraph.outputs
                    or sum(1 for i in node.inputs if i is r) != 1
                    or not all(c[0] is node for c in fgraph.clients(r))
                    or out.type != r.type or any(i.ndim != r.ndim for i in node.inputs)):
                continue
            sop = node.op.scalar_op
            comp = sop if isinstance(sop, Composite) else \
                Composite.of(sop, tuple(i.dtype for i in node.inputs))
            op = ReduceEpilogue(rn.op.kind, rn.op.axes, rn.op.dtype, _input_first(comp, k))
            extras = [memo.get(i, i) for j, i in enumerate(node.inputs) if j != k]
            try:
                new = op.make_node(memo.get(rn.inputs[0], rn.inputs[0]), *extras).outputs[0]
            except TypeError:
                continue
            if new.type != out.type:
                continue
            return stands_for(new, node, [rn] + list(node.tag.get("fused", [node])))
        return None

    return replace_nodes(fgraph, fused)


def _input_first(comp: Composite, k: int) -> Composite:
    """The same program with its input k moved to position 0."""
    n = comp.nin
    order = [k] + [i for i in range(n) if i != k]
    new_pos = {old: new for new, old in enumerate(order)}

    def ref(r: int) -> int:
        return new_pos[r] if r < n else r

    return Composite(tuple(comp.in_dtypes[i] for i in order),
                     tuple((op, tuple(ref(r) for r in refs)) for op, refs in comp.steps),
                     tuple(ref(o) for o in comp.outputs))
