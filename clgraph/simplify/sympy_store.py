"""The SymPy bridge's results as small programs, kept in memory and under config.compiledir.

A result is what the bridge found for one subgraph structure: None (nothing cheaper), or
the cheaper form as a program over the subgraph's leaves, `[[op, [ref, ...]], ...]` with
refs `["x", k]` (leaf k), `["n", j]` (node j of the program) and `["c", value]` (a constant
in the subgraph's dtype); the last node is the result. Rebuilding one needs no SymPy, so a
new process that meets a known subgraph does not import it (~0.3 s). The ops are a fixed
table of clgraph functions: an entry on disk names ops, never code. Entries are JSON files
written atomically; an unreadable or malformed one is ignored, and a rebuilt form is value-
checked again by the caller before use.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from typing import Any

from clgraph.config import config

FORMAT = 1  # of the entries and of the bridge's rules that make them; part of every path


def _ops() -> dict[str, Any]:
    import clgraph.tensor as T

    return {"add": T.add, "sub": T.sub, "mul": T.mul, "true_div": T.true_div, "neg": T.neg,
            "sqr": T.sqr, "abs": T.abs_, "pow": T.pow, "sqrt": T.sqrt, "exp": T.exp,
            "log": T.log, "sin": T.sin, "cos": T.cos, "tan": T.tan, "sinh": T.sinh,
            "cosh": T.cosh, "tanh": T.tanh, "arcsin": T.arcsin, "arccos": T.arccos,
            "arctan": T.arctan, "arcsinh": T.arcsinh, "arccosh": T.arccosh,
            "arctanh": T.arctanh}


def _left_broadcast_of_leaf(node, leaf_k) -> bool:
    """A DimShuffle adding broadcast axes on the left of a leaf: what an elementwise op of a
    lower-rank leaf inserts by itself."""
    from clgraph.expr.shape_ops import DimShuffle

    if not isinstance(node.op, DimShuffle) or node.inputs[0] not in leaf_k:
        return False
    order = tuple(node.op.new_order)
    ndim = node.inputs[0].ndim
    k = len(order) - ndim
    return k >= 0 and all(d == "x" for d in order[:k]) and order[k:] == tuple(range(ndim))


def to_program(out, leaves, op_name, uniform_const) -> list | None:
    """`out` (built over `leaves`) as a program, or None when a node has no op name."""
    index: dict = {}
    prog: list = []
    leaf_k = {v: k for k, v in enumerate(leaves)}

    def ref(v) -> list | None:
        if v in leaf_k:
            return ["x", leaf_k[v]]
        c = uniform_const(v)
        if c is not None:
            return ["c", c]
        if v.owner is None:
            return None
        if _left_broadcast_of_leaf(v.owner, leaf_k):
            return ref(v.owner.inputs[0])  # the elementwise op puts it back when rebuilt
        return visit(v.owner)

    def visit(node) -> list | None:
        if node in index:
            return ["n", index[node]]
        name = op_name(node)
        if name is None:
            return None
        refs = [ref(i) for i in node.inputs]
        if any(r is None for r in refs):
            return None
        index[node] = len(prog)
        prog.append([name, refs])
        return ["n", index[node]]

    if out in leaf_k:
        return None
    return prog if visit(out.owner) is not None else None


def from_program(prog: list, leaves, dtype: str):
    """The variable `prog` computes over `leaves`; ValueError/KeyError/TypeError when it is
    malformed."""
    import clgraph.tensor as T

    ops = _ops()
    built: list = []
    for name, refs in prog:
        args = []
        for kind, v in refs:
            if kind == "x":
                args.append(leaves[int(v)])
            elif kind == "n" and 0 <= int(v) < len(built):
                args.append(built[int(v)])
            elif kind == "c" and isinstance(v, (int, float)) and math.isfinite(v):
                args.append(T.constant(float(v), dtype=dtype))
            else:
                raise ValueError(f"bad reference {kind!r}")
        built.append(ops[name](*args))
    if not built:
        raise ValueError("empty program")
    return built[-1]


# --- disk ----------------------------------------------------------------------------------

MISSING = object()


def _path(key: tuple) -> str:
    digest = hashlib.sha256(f"{FORMAT}\0{key!r}".encode()).hexdigest()
    return os.path.join(config.compiledir, "sympy", digest[:2], digest + ".json")


def load(key: tuple) -> Any:
    """The stored result for `key` (None or a program), or MISSING."""
    try:
        with open(_path(key), encoding="utf-8") as fh:
            entry = json.load(fh)
    except (OSError, ValueError):
        return MISSING
    if not isinstance(entry, dict) or entry.get("key") != repr(key):
        return MISSING
    result = entry.get("result")
    return result if result is None or isinstance(result, list) else MISSING


def save(key: tuple, result: list | None) -> None:
    """Store a result; an unwritable compiledir is silently skipped (this is an optimisation)."""
    path = _path(key)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"key": repr(key), "result": result}, fh)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return

