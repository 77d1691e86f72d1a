"""Graph walking and FunctionGraph, an immutable snapshot of a computation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from clgraph.expr.apply import Apply
from clgraph.expr.variable import Constant, SharedVariable, Variable


def toposort(outputs: Sequence[Variable], stop: Iterable[Variable] = ()) -> list[Apply]:
    """Nodes needed for `outputs`, each after its inputs' owners; `stop` vars count as inputs."""
    stop_set = set(map(id, stop))
    order: list[Apply] = []
    seen: set[int] = set()
    for out in outputs:
        stack: list[tuple[Apply, int]] = []
        if out.owner is not None and id(out) not in stop_set and id(out.owner) not in seen:
            stack.append((out.owner, 0))
            seen.add(id(out.owner))
        while stack:
            node, i = stack.pop()
            if i < len(node.inputs):
                stack.append((node, i + 1))
                inp = node.inputs[i]
                owner = inp.owner
                if owner is not None and id(inp) not in stop_set and id(owner) not in seen:
                    seen.add(id(owner))
                    stack.append((owner, 0))
            else:
                order.append(node)
    return order


def graph_inputs(outputs: Sequence[Variable], stop: Iterable[Variable] = ()) -> list[Variable]:
    """Variables without owner (or in `stop`) that `outputs` depend on, in first-use order."""
    stop_list = list(stop)
    stop_set = set(map(id, stop_list))
    found: dict[int, Variable] = {}
    for out in outputs:
        if out.owner is None or id(out) in stop_set:
            found.setdefault(id(out), out)
    for node in toposort(outputs, stop_list):
        for inp in node.inputs:
            if inp.owner is None or id(inp) in stop_set:
                found.setdefault(id(inp), inp)
    return list(found.values())


def rebuild(node: Apply, inputs: Sequence[Variable], memo: dict | None = None) -> Apply:
    """`node`'s op applied to new inputs, keeping its tags and output names; with `memo`,
    records old output -> new output there."""
    new = node.op.make_node(*inputs)
    new.tag.update(node.tag)
    for old, out in zip(node.outputs, new.outputs):
        out.name = old.name
        if memo is not None:
            memo[old] = out
    return new


def clone_graph(outputs: Sequence[Variable], replace: dict[Variable, Variable] | None = None,
                stop: Iterable[Variable] = (), keep_types: bool = True
                ) -> tuple[list[Variable], dict[Variable, Variable]]:
    """Rebuild the graph of `outputs` with `replace` substituted; returns (new outputs, memo).

    Inputs, constants and shared variables are kept (not copied); owned variables are rebuilt
    by calling `make_node` again so types are re-derived and checked: with `keep_types`, a
    node whose output type changes is an error (False: theano.clone's replacements may fix
    static lengths, which the rebuilt nodes then carry).
    """
    memo: dict[Variable, Variable] = dict(replace or {})
    for node in toposort(outputs, list(stop) + list(memo)):
        new_inputs = [memo.get(i, i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        new_node = rebuild(node, new_inputs, memo)
        for old, new in zip(node.outputs, new_node.outputs):
            if keep_types and new.type != old.type:
                raise TypeError(f"replacing inputs of {node.op} changed its output type from "
                                f"{old.type} to {new.type}")
    return [memo.get(o, o) for o in outputs], memo


class FunctionGraph:
    """An immutable snapshot: inputs, outputs, and cached topological order and clients.

    `replace` returns a new FunctionGraph; nothing edits a graph in place.
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable]) -> None:
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self._order: list[Apply] | None = None
        self._clients: dict[Variable, list[tuple[Apply | str, int]]] | None = None

    def __getstate__(self) -> dict:
        # The nodes in order first: pickle then meets each node's inputs already saved,
        # instead of recursing once per owner link (~100 levels before RecursionError).
        return {"_order": self.toposort(), "inputs": self.inputs, "outputs": self.outputs,
                "_clients": None}

    @property
    def apply_nodes(self) -> list[Apply]:
        return self.toposort()

    def toposort(self) -> list[Apply]:
        if self._order is None:
            self._order = toposort(self.outputs, self.inputs)
        return self._order

    @property
    def variables(self) -> list[Variable]:
        seen: dict[int, Variable] = {id(v): v for v in self.inputs}
        for node in self.toposort():
            for v in node.inputs + node.outputs:
                seen.setdefault(id(v), v)
        for v in self.outputs:
            seen.setdefault(id(v), v)
        return list(seen.values())

    def clients(self, var: Variable) -> list[tuple[Apply | str, int]]:
        """(node, input index) pairs using `var`; ('output', i) for graph outputs."""
        if self._clients is None:
            table: dict[Variable, list[tuple[Apply | str, int]]] = {}
            for node in self.toposort():
                for i, inp in enumerate(node.inputs):
                    table.setdefault(inp, []).append((node, i))
            for i, out in enumerate(self.outputs):
                table.setdefault(out, []).append(("output", i))
            self._clients = table
        return self._clients.get(var, [])

    def replace(self, mapping: dict[Variable, Variable]) -> FunctionGraph:
        new_outputs, _ = clone_graph(self.outputs, mapping, stop=self.inputs)
        return FunctionGraph(self.inputs, new_outputs)

    def constants(self) -> list[Constant]:
        return [v for v in self.variables if isinstance(v, Constant)]

    def shared_variables(self) -> list[SharedVariable]:
        return [v for v in self.variables if isinstance(v, SharedVariable)]

    def __repr__(self) -> str:
        return f"FunctionGraph({len(self.toposort())} nodes, {len(self.outputs)} outputs)"


def replace_nodes(fgraph: FunctionGraph, replace: Callable[[Apply, dict], Variable | None]
                  ) -> FunctionGraph:
    """One walk over `fgraph` in run order: `replace(node, memo)` returns a variable to stand
    for the node's (single) output, or None; other nodes are rebuilt on replaced inputs.
    `memo` maps old variables to new ones (look inputs up in it). The graph itself when
    nothing was replaced."""
    memo: dict[Variable, Variable] = {}
    for node in fgraph.toposort():
        new = replace(node, memo)
        if new is not None:
            memo[node.outputs[0]] = new
            continue
        inputs = [memo.get(i, i) for i in node.inputs]
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            rebuild(node, inputs, memo)
    if not memo:
        return fgraph
    return FunctionGraph(fgraph.inputs, [memo.get(o, o) for o in fgraph.outputs])


def stands_for(new: Variable, node: Apply, fused: list) -> Variable:
    """`new` takes over `node`'s tags and output name, recording the nodes it fuses."""
    new.owner.tag.update(node.tag)
    new.owner.tag["fused"] = fused
    new.name = node.outputs[0].name
    return new
