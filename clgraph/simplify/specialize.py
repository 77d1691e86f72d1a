"""specialize: rewrites into specialised kernels, run after elementwise fusion.

1. `sum(x * y)` over every axis of two same-shape vectors or contiguous matrices -> one
   product (1, n) x (n, 1) (Dot22), read back as a scalar: a BLAS dot on the host path.
2. GEMM epilogues: a Dot22 whose product is read only by elementwise nodes becomes one
   GemmEpilogue running those nodes' scalar program on the product (a bias add and an
   activation after `x @ W`, the relu mask after `d @ W.T`, the SGD update `W - lr * g`
   after `g = h.T @ d`). The group grows from the product's readers to their elementwise
   readers, as far as each new node reads only the group and values computed without the
   product (so nothing waits on itself) and keeps the product's shape (no broadcast
   growth). Every group value read outside the group becomes one more output of the node:
   a pre-activation that a gradient needs (relu's backward reads sgn(pre)) is stored beside
   the activation by the same kernel, rather than recomputed (recomputing would need the
   product again, i.e. a second GEMM or keeping the product in memory anyway).

Groups are found on the input graph and contracted together; the cycle check walks the
graph with the groups found so far contracted, so two groups never feed each other.
"""

from __future__ import annotations

import heapq

from clgraph.expr.blas import Dot22, GemmEpilogue
from clgraph.expr.elemwise import Elemwise
from clgraph.expr.graph import FunctionGraph, rebuild, replace_nodes, stands_for
from clgraph.expr.reduce import Reduce
from clgraph.expr.scalar.composite import Composite
from clgraph.expr.shape_ops import DimShuffle
from clgraph.expr.variable import Variable
from clgraph.simplify.fusion import composite_of

__all__ = ["specialize"]

FLOATS = ("float32", "float64")
# The template GEMM runs an epilogue on its accumulator vectors (<= 32 bytes each): steps
# wider than the product's dtype would need wider vectors.
_ITEMSIZE = {"bool": 1, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4,
             "uint32": 4, "float32": 4, "int64": 8, "uint64": 8, "float64": 8}


def specialize(fgraph: FunctionGraph) -> FunctionGraph:
    return gemm_epilogues(sum_mul_to_dot(fgraph))


# --- sum(x * y) -> dot ----------------------------------------------------------------------


def _mul_operands(node) -> tuple[Variable, Variable] | None:
    """(x, y) when `node` is the elementwise x * y (plain or a one-step Composite)."""
    if node is None or not isinstance(node.op, Elemwise) or len(node.inputs) != 2:
        return None
    sop = node.op.scalar_op
    if isinstance(sop, Composite):
        if len(sop.steps) != 1 or sop.steps[0][1] != (0, 1) or sop.outputs != (2,):
            return None
        sop = sop.steps[0][0]
    if getattr(sop, "name", None) != "mul":
        return None
    return node.inputs[0], node.inputs[1]


def _fresh(var: Variable) -> bool:
    """Statically C-contiguous: a graph input or a kernel's output, not a view."""
    return var.owner is None or not getattr(var.owner.op, "view_map", None)


def _dot_of(x: Variable, y: Variable) -> Variable | None:
    """The scalar sum(x * y) as a Dot22, or None when the operands do not suit."""
    from clgraph.tensor.shape import flatten

    dt = x.dtype
    if dt not in FLOATS or y.dtype != dt or x.ndim != y.ndim or x.ndim not in (1, 2):
        return None
    for a, b in zip(x.type.shape, y.type.shape, strict=True):
        if a != b and (a == 1 or b == 1):
            return None  # broadcast: not one inner product
    if x.ndim == 2:
        if not (_fresh(x) and _fresh(y)):
            return None  # flattening a transposed or sliced matrix would copy it
        x, y = flatten(x, 1), flatten(y, 1)
    prod = Dot22()(DimShuffle(("x", 0))(x), DimShuffle((0, "x"))(y))
    return DimShuffle(())(prod)


def sum_mul_to_dot(fgraph: FunctionGraph) -> FunctionGraph:
    def as_dot(node, memo):
        if not (type(node.op) is Reduce and node.op.kind == "add"):
            return None
        (val,) = node.inputs
        pair = _mul_operands(val.owner)
        if not (pair is not None and len(node.op.axes) == val.ndim
                and node.outputs[0].dtype == val.dtype
                and all(c[0] is node for c in fgraph.clients(val))):
            return None
        new = _dot_of(*(memo.get(v, v) for v in pair))
        if new is None or new.type != node.outputs[0].type:
            return None
        return stands_for(new, node, [val.owner, node])

    return replace_nodes(fgraph, as_dot)


# --- GEMM epilogues -------------------------------------------------------------------------


class _Group:
    """A Dot22 node and the elementwise nodes (toposorted) that become its epilogue."""

    def __init__(self, dot, members: list, outs: list[Variable]) -> None:
        self.dot, self.members, self.outs = dot, members, outs


def _keeps_shape(node, inside: set[int]) -> bool:
    """`node`'s output has the shape of the group values it reads (no broadcast growth)."""
    out = node.outputs[0].type.shape
    if node.outputs[0].ndim != 2:
        return False
    return all(not (s == 1 and o != 1) for v in node.inputs if id(v) in inside
               for s, o in zip(v.type.shape, out))


def _descendants(var: Variable, fgraph: FunctionGraph, group_of: dict[int, _Group]
                 ) -> set[int]:
    """Ids of the variables computed from `var`, with the groups found so far contracted
    (a group's every output depends on each of its inputs)."""
    seen: set[int] = set()
    stack = [var]
    while stack:
        v = stack.pop()
        for client, _ in fgraph.clients(v):
            if client == "output":
                continue
            grp = group_of.get(id(client))
            outs = ([o for n in [grp.dot] + grp.members for o in n.outputs] if grp is not None
                    else client.outputs)
            for o in outs:
                if id(o) not in seen:
                    seen.add(id(o))
                    stack.append(o)
    return seen


def _grow(dot, fgraph: FunctionGraph, group_of: dict[int, _Group], pos: dict[int, int]
          ) -> _Group | None:
    prod = dot.outputs[0]
    itemsize = _ITEMSIZE[prod.dtype]
    outputs = {id(o) for o in fgraph.outputs}
    clients = fgraph.clients(prod)
    if id(prod) in outputs or not clients:
        return None
    below = _descendants(prod, fgraph, group_of)
    inside: set[int] = {id(prod)}
    members: list = []

    def fits(node) -> bool:
        if (node == "output" or not isinstance(node.op, Elemwise) or len(node.outputs) != 1
                or id(node) in group_of or not _keeps_shape(node, inside)):
            return False
        if _ITEMSIZE.get(node.outputs[0].dtype, 99) > itemsize:
            return False
        sop = node.op.scalar_op
        if isinstance(sop, Composite) and any(_ITEMSIZE.get(d, 99) > itemsize
                                              for d in sop.step_dtypes()):
            return False
        return all(id(v) in inside or (id(v) not in below and v.ndim == 2)
                   for v in node.inputs)

    # The product must be read by the group alone (it is never stored).
    first = list(dict.fromkeys(c for c, _ in clients))
    if not all(fits(c) for c in first):
        return None
    frontier = first
    while frontier:
        nxt = []
        for node in frontier:
            if node in members or not fits(node):
                continue
            members.append(node)
            inside.add(id(node.outputs[0]))
            nxt += [c for c, _ in fgraph.clients(node.outputs[0]) if c != "output"]
        # A reader of two members is tried once both are in.
        frontier = [n for n in dict.fromkeys(nxt) if n not in members]
        frontier = [n for n in frontier if fits(n)]
    members.sort(key=lambda n: pos[id(n)])
    if _only_feeds_a_reduction(members, fgraph):
        return None
    outs = [n.outputs[0] for n in members
            if id(n.outputs[0]) in outputs
            or any(c == "output" or c not in members for c, _ in fgraph.clients(n.outputs[0]))]
    return _Group(dot, members, outs)


def _only_feeds_a_reduction(members: list, fgraph: FunctionGraph) -> bool:
    """One elementwise node read only by a plain reduction: reduce_fusion puts it in the
    reduction's kernel, which beats an epilogue on the host path (one kernel, not two)."""
    if len(members) != 1:
        return False
    out = members[0].outputs[0]
    readers = {id(c): c for c, _ in fgraph.clients(out)}
    if len(readers) != 1:
        return False
    (reader,) = readers.values()
    return reader != "output" and type(reader.op) is Reduce


def gemm_epilogues(fgraph: FunctionGraph) -> FunctionGraph:
    order = fgraph.toposort()
    pos = {id(n): i for i, n in enumerate(order)}
    group_of: dict[int, _Group] = {}
    groups: list[_Group] = []
    for node in order:
        if type(node.op) is not Dot22 or node.outputs[0].dtype not in FLOATS:
            continue
        grp = _grow(node, fgraph, group_of, pos)
        if grp is None or not _make(grp, {}):  # a trial build: its types must match
            continue
        groups.append(grp)
        for n in [grp.dot] + grp.members:
            group_of[id(n)] = grp
    if not groups:
        return fgraph
    return _contract(fgraph, order, pos, group_of)


def _make(grp: _Group, memo: dict[Variable, Variable]) -> bool:
    """Build the GemmEpilogue of `grp` on already rebuilt inputs; False if types differ."""
    prod = grp.dot.outputs[0]
    comp, externals = composite_of(grp.members, grp.outs, lead=(prod,))
    a, b = (memo.get(v, v) for v in grp.dot.inputs)
    new = GemmEpilogue(comp).make_node(a, b, *[memo.get(v, v) for v in externals[1:]])
    if any(n.type != o.type for n, o in zip(new.outputs, grp.outs, strict=True)):
        return False
    new.tag.update(grp.members[-1].tag)
    new.tag["fused"] = [grp.dot] + [f for n in grp.members for f in n.tag.get("fused", [n])]
    for old, out in zip(grp.outs, new.outputs, strict=True):
        out.name = old.name
        memo[old] = out
    return True


def _contract(fgraph: FunctionGraph, order: list, pos: dict[int, int],
              group_of: dict[int, _Group]) -> FunctionGraph:
    """Rebuild the graph with each group as one node, in an order where every unit comes
    after the units computing its inputs (the old order may not be one: a group's output
    can be read by a node placed before the group's last member)."""
    units: dict[int, object] = {}  # first position -> node or group
    for node in order:
        grp = group_of.get(id(node))
        key = pos[id(grp.dot)] if grp is not None else pos[id(node)]
        units.setdefault(key, grp if grp is not None else node)
    producer: dict[int, int] = {}
    for key, unit in units.items():
        nodes = [unit.dot] + unit.members if isinstance(unit, _Group) else [unit]
        for n in nodes:
            for o in n.outputs:
                producer[id(o)] = key
    deps: dict[int, set[int]] = {}
    for key, unit in units.items():
        nodes = [unit.dot] + unit.members if isinstance(unit, _Group) else [unit]
        own = {id(o) for n in nodes for o in n.outputs}
        deps[key] = {producer[id(v)] for n in nodes for v in n.inputs
                     if id(v) in producer and id(v) not in own}
    readers: dict[int, list[int]] = {}
    for key, ds in deps.items():
        for d in ds:
            readers.setdefault(d, []).append(key)
    ready = [k for k, ds in deps.items() if not ds]
    heapq.heapify(ready)
    waiting = {k: len(ds) for k, ds in deps.items()}
    memo: dict[Variable, Variable] = {}
    failed = False
    while ready:
        key = heapq.heappop(ready)
        unit = units[key]
        if isinstance(unit, _Group):
            if not _make(unit, memo):
                failed = True
                break
        else:
            inputs = [memo.get(i, i) for i in unit.inputs]
            if any(a is not b for a, b in zip(inputs, unit.inputs)):
                rebuild(unit, inputs, memo)
        for r in readers.get(key, []):
            waiting[r] -= 1
            if waiting[r] == 0:
                heapq.heappush(ready, r)
    if failed or any(waiting.values()):
        return fgraph  # cannot happen after the checks in _grow; leave the graph as it was
    return FunctionGraph(fgraph.inputs, [memo.get(o, o) for o in fgraph.outputs])
