"""Looking inside graphs: `debugprint`, `pp`, `pydotprint` (PNG/SVG via Graphviz, or a
self-contained interactive HTML page), and the kernel headers of `fn.kernels()`.

`debugprint` and `pydotprint` take a variable, a list of variables, a FunctionGraph or a
compiled function; for a compiled function they show the optimized graph, which kernel
computes each node, and which original nodes were fused into it (`node.tag['fused']`).
"""

from __future__ import annotations

import html
import io
import json
import os
import shutil
import subprocess
import sys
from typing import Any

from clgraph.expr.apply import Apply
from clgraph.expr.graph import FunctionGraph, toposort
from clgraph.expr.variable import Constant, SharedVariable, Variable

__all__ = ["debugprint", "pp", "pprint", "pydotprint", "GraphvizMissingError"]


class GraphvizMissingError(RuntimeError):
    """Graphviz's `dot` program is needed for PNG/SVG output and is not installed."""


# --- what a printable object is --------------------------------------------------------------


def _is_function(obj: Any) -> bool:
    return hasattr(obj, "maker_fgraph") and hasattr(obj, "plan")


def _outputs_of(obj: Any) -> tuple[list[Variable], Any]:
    """(output variables, compiled function or None) of whatever the user passed."""
    if _is_function(obj):
        return list(obj.maker_fgraph.outputs), obj
    if isinstance(obj, FunctionGraph):
        return list(obj.outputs), None
    if isinstance(obj, Apply):
        return list(obj.outputs), None
    if isinstance(obj, Variable):
        return [obj], None
    if isinstance(obj, (list, tuple)):
        outs: list[Variable] = []
        for o in obj:
            outs += _outputs_of(o)[0]
        return outs, None
    raise TypeError(f"cannot print a {type(obj).__name__}: give a variable, a list of "
                    "variables, a FunctionGraph or a compiled function")


def _letters(i: int) -> str:
    """Theano's ids: A, B, ..., Z, BA, BB, ..."""
    s = ""
    while True:
        s = chr(ord("A") + i % 26) + s
        i //= 26
        if i == 0:
            return s


def _where(node: Apply) -> str:
    trace = node.tag.get("trace")
    return f"{os.path.basename(trace[0])}:{trace[1]}" if trace else ""


def _kernels_of(fn: Any) -> dict[int, list[str]]:
    """id(node) -> names of the kernels that compute it, for a compiled function."""
    out: dict[int, list[str]] = {}
    if fn is None:
        return out
    for k in fn.plan.kernel_defs:
        if k.alt_of is not None:
            continue  # a copy of a kernel listed already
        for n in k.nodes:
            out.setdefault(id(n), []).append(k.name)
    return out


def _node_kind(node: Apply) -> str:
    return "view" if getattr(node.op, "view_map", None) else ""


def _var_text(v: Variable) -> str:
    if isinstance(v, Constant):
        return f"TensorConstant{{{v}}}" if v.name is None else v.name
    if isinstance(v, SharedVariable):
        return str(v)
    return v.name if v.name is not None else f"<{v.type}>"


# --- debugprint ------------------------------------------------------------------------------


def debugprint(obj: Any, file: Any = None, print_type: bool = False, ids: str = "CHAR",
               depth: int = -1, print_fused: bool = True) -> Any:
    """Print the graph of `obj` as an indented tree, one line per node or variable.

    Each line gives the op (or variable), an id (`[id A]`; a subtree printed before is not
    repeated), the name, with `print_type=True` the type, and for a compiled function the
    node's position in the run order and the kernel that computes it. Fused nodes list the
    original nodes they were made of, with the user's line of each; a table of kernels ends
    the printout. `file=None` prints to stdout; `file='str'` returns the text.
    """
    outs, fn = _outputs_of(obj)
    buf = io.StringIO()
    done: dict[int, str] = {}
    counter = [0]
    order = {id(n): i for i, n in enumerate(fn.maker_fgraph.toposort())} if fn else {}
    kernels = _kernels_of(fn)

    def ident(v: Variable) -> str:
        key = id(v.owner) if v.owner is not None else id(v)
        if key not in done:
            done[key] = _letters(counter[0]) if ids == "CHAR" else str(counter[0])
            counter[0] += 1
        return done[key]

    def line(v: Variable, prefix: str, level: int) -> None:
        node = v.owner
        key = id(node) if node is not None else id(v)
        seen = key in done
        vid = ident(v)
        typ = f" <{v.type}>" if print_type else ""
        if node is None:
            buf.write(f"{prefix}{_var_text(v)} [id {vid}]{typ}\n")
            return
        head = str(node.op) + (f".{v.index}" if len(node.outputs) > 1 else "")
        name = f" '{v.name}'" if v.name else " ''"
        extra = ""
        if not seen:
            if fn is not None and id(node) in order:
                extra += f"   {order[id(node)]}"
            if id(node) in kernels:
                extra += f"   kernel {', '.join(kernels[id(node)])}"
            elif fn is not None:
                extra += "   (view)" if _node_kind(node) == "view" else "   (host)"
            where = _where(node)
            if where:
                extra += f"   # {where}"
        buf.write(f"{prefix}{head} [id {vid}]{name}{typ}{extra}\n")
        if seen or level == depth:
            return
        child_prefix = (prefix.replace("|", " ") if prefix else "") + " |"
        fused = node.tag.get("fused")
        if fused and print_fused:
            inner = ", ".join(f"{n.op}" + (f" ({_where(n)})" if _where(n) else "")
                              for n in fused)
            buf.write(f"{child_prefix.rstrip('|')} ~ fused from {len(fused)} nodes: {inner}\n")
        for inp in node.inputs:
            line(inp, child_prefix, level + 1)

    for v in outs:
        line(v, "", 0)
    if fn is not None and fn.plan.kernel_defs:
        buf.write("Kernels:\n")
        alts = {k.alt_of: k.name for k in fn.plan.kernel_defs if k.alt_of is not None}
        for k in fn.plan.kernel_defs:
            if k.alt_of is not None:
                continue
            nodes = ", ".join(f"[id {done[id(n)]}] {n.op}" if id(n) in done else
                              f"{n.op} (in a scan's step)" for n in k.nodes)
            also = f", and its copy {alts[k.name]}" if k.name in alts else ""
            buf.write(f"  {k.name} ({k.template}{also}): {nodes}\n")
            for n in k.nodes:
                for f in n.tag.get("fused") or ():
                    where = _where(f)
                    buf.write(f"      fused: {f.op}" + (f"  # {where}" if where else "") + "\n")
    text = buf.getvalue()
    if file == "str":
        return text
    out = sys.stdout if file is None else file
    out.write(text)
    return out


# --- pp: infix math --------------------------------------------------------------------------

_INFIX = {"add": ("+", 4), "sub": ("-", 4), "mul": ("*", 5), "truediv": ("/", 5),
          "true_div": ("/", 5), "intdiv": ("//", 5), "int_div": ("//", 5), "mod": ("%", 5),
          "pow": ("**", 7), "lt": ("<", 2), "le": ("<=", 2), "gt": (">", 2), "ge": (">=", 2),
          "eq": ("==", 2), "neq": ("!=", 2), "and_": ("&", 1), "or_": ("|", 1),
          "xor": ("^", 1)}
_REDUCE_NAMES = {"add": "sum", "mul": "prod", "max": "max", "min": "min", "and": "all",
                 "or": "any"}
_ATOM = 9


def _scalar_expr(sop, args: list[tuple[str, int]]) -> tuple[str, int]:
    """Infix text and precedence of scalar op `sop` applied to `args` (text, precedence)."""
    name = getattr(sop, "name", type(sop).__name__.lower())
    if name in _INFIX and len(args) == 2:
        sym, prec = _INFIX[name]
        left = args[0][0] if args[0][1] >= prec else f"({args[0][0]})"
        # Right operands bind tighter (a - (b - c)); ** is right-associative.
        right_ok = args[1][1] > prec or (args[1][1] == prec and name in ("add", "mul")) \
            or (name == "pow" and args[1][1] >= prec)
        right = args[1][0] if right_ok else f"({args[1][0]})"
        if name == "pow" and args[0][1] <= prec:
            left = f"({args[0][0]})"
        return f"{left} {sym} {right}", prec
    if name == "neg" and len(args) == 1:
        a = args[0][0] if args[0][1] >= 6 else f"({args[0][0]})"
        return f"-{a}", 6
    if name == "identity" and len(args) == 1:
        return args[0]
    if name == "invert" and len(args) == 1:
        a = args[0][0] if args[0][1] >= 6 else f"({args[0][0]})"
        return f"~{a}", 6
    return f"{name}({', '.join(a for a, _ in args)})", _ATOM


def _composite_expr(comp, args: list[tuple[str, int]]) -> tuple[str, int]:
    vals = list(args)
    for sop, refs in comp.steps:
        if not refs and hasattr(sop, "value"):
            vals.append((repr(sop.value), _ATOM))
            continue
        vals.append(_scalar_expr(sop, [vals[r] for r in refs]))
    return vals[comp.outputs[0]]


def _pp(v: Variable, memo: dict[int, tuple[str, int]]) -> tuple[str, int]:
    if id(v) in memo:
        return memo[id(v)]
    node = v.owner
    if node is None:
        if isinstance(v, Constant):
            text = repr(v.data.item()) if v.data.size == 1 else \
                str(v) if v.data.size <= 8 else f"Constant{{{v.type}}}"
            out = (text if v.name is None else v.name, _ATOM)
        else:
            out = (v.name if v.name is not None else f"<{v.type}>", _ATOM)
        memo[id(v)] = out
        return out
    args = [_pp(i, memo) for i in node.inputs]
    op = node.op
    cls = type(op).__name__
    sop = getattr(op, "scalar_op", None)
    if sop is not None:
        if type(sop).__name__ == "Composite":
            out = _composite_expr(sop, args)
        else:
            out = _scalar_expr(sop, args)
    elif cls == "Reduce":
        fname = _REDUCE_NAMES.get(op.kind, op.kind)
        axes = list(op.axes) if op.axes is not None else None
        ax = "" if axes is None or len(axes) == node.inputs[0].ndim else \
            f", axis={axes[0] if len(axes) == 1 else tuple(axes)}"
        out = (f"{fname}({args[0][0]}{ax})", _ATOM)
    elif cls == "DimShuffle" and [d for d in op.new_order if d != "x"] == \
            list(range(node.inputs[0].ndim)):
        out = args[0]  # only broadcastable axes added: invisible in math
    elif cls == "DimShuffle" and tuple(op.new_order) == (1, 0):
        a = args[0][0] if args[0][1] >= _ATOM else f"({args[0][0]})"
        out = (f"{a}.T", _ATOM)
    elif cls == "Dot22" or cls.lower().startswith("dot"):
        a = args[0][0] if args[0][1] >= 6 else f"({args[0][0]})"
        b = args[1][0] if args[1][1] > 5 else f"({args[1][0]})"
        out = (f"{a} @ {b}", 5)
    else:
        out = (f"{op}({', '.join(a for a, _ in args)})", _ATOM)
        if len(node.outputs) > 1:
            out = (f"{out[0]}[{v.index}]", _ATOM)
    memo[id(v)] = out
    return out


def pp(obj: Any) -> str:
    """Readable infix math of a variable (or of each output of a list / compiled function)."""
    outs, _ = _outputs_of(obj)
    memo: dict[int, tuple[str, int]] = {}
    texts = [_pp(v, memo)[0] for v in outs]
    return texts[0] if len(texts) == 1 and isinstance(obj, Variable) else "\n".join(texts)


pprint = pp


# --- kernel headers (fn.kernels()) -----------------------------------------------------------


def kernel_header(kdef) -> str:
    """The comment heading a kernel in `fn.kernels()`: the nodes it computes and their lines.

    User text (names, file names) is sanitised: it can never end the comment.
    """
    from clgraph.lower.render import sanitize_comment as s

    lines = [f"/* kernel {kdef.name} (template {kdef.template}): "
             + "; ".join(s(n.op) for n in kdef.nodes)]
    for n in kdef.nodes:
        outs = ", ".join(s(o) for o in n.outputs)
        where = _where(n)
        lines.append(f" *   computes {s(n.op)} -> {outs}"
                     + (f"   (created at {s(where)})" if where else ""))
        for f in n.tag.get("fused") or ():
            fw = _where(f)
            lines.append(f" *     fused: {s(f.op)}" + (f"   (created at {s(fw)})" if fw else ""))
    lines.append(" */")
    return "\n".join(lines)


# --- the graph model shared by pydotprint's outputs --------------------------------------------


def _runtime_layouts(fn: Any) -> dict:
    """Layouts of the most recent call's shape signature, if the function has run."""
    if fn is None:
        return {}
    prepared = getattr(fn.plan, "_prepared", None)
    if not prepared:
        return {}
    state = next(reversed(prepared.values()))
    return state.layouts


def graph_model(obj: Any) -> dict:
    """Vertices (inputs, nodes, outputs) and edges of `obj`'s graph, with the details shown
    on click: type, static and (after a call) actual shape, source line, kernel, fused nodes."""
    outs, fn = _outputs_of(obj)
    nodes = fn.maker_fgraph.toposort() if fn is not None else toposort(outs)
    kernels = _kernels_of(fn)
    sources = {k.name: k.source for k in fn.plan.kernel_defs} if fn is not None else {}
    layouts = _runtime_layouts(fn)
    verts: list[dict] = []
    edges: list[dict] = []
    vid: dict[int, str] = {}

    def shape_info(v: Variable) -> dict:
        info = {"type": str(v.type), "dtype": v.dtype,
                "static shape": "(" + ", ".join("?" if s is None else str(s)
                                                for s in v.type.shape) + ")"}
        lay = layouts.get(v)
        if lay is not None:
            info["shape (last call)"] = str(tuple(lay.shape))
        return info

    def leaf(v: Variable) -> str:
        if id(v) in vid:
            return vid[id(v)]
        kind = "constant" if isinstance(v, Constant) else \
            "shared" if isinstance(v, SharedVariable) else "input"
        key = f"v{len(verts)}"
        vid[id(v)] = key
        info = {"kind": kind, "name": _var_text(v)}
        info.update(shape_info(v))
        verts.append({"id": key, "kind": kind, "label": _var_text(v)[:40], "info": info})
        return key

    for i, node in enumerate(nodes):
        key = f"n{i}"
        vid[id(node)] = key
        info: dict[str, Any] = {"kind": "apply", "op": str(node.op), "order": i}
        trace = node.tag.get("trace")
        if trace:
            info["created at"] = f"{trace[0]}:{trace[1]} in {trace[2]}"
        for k, o in enumerate(node.outputs):
            for name, val in shape_info(o).items():
                info[f"output {k} {name}" if len(node.outputs) > 1 else f"output {name}"] = val
        if fn is not None:
            ks = kernels.get(id(node))
            info["kernel"] = ", ".join(ks) if ks else \
                ("none (a view of its input)" if _node_kind(node) == "view" else
                 "none (host step)")
        fused = node.tag.get("fused")
        if fused:
            info["fused from"] = [f"{n.op}" + (f" at {_where(n)}" if _where(n) else "")
                                  for n in fused]
        src = "\n\n".join(sources[k] for k in kernels.get(id(node), []))
        kind = "fused" if fused else ("view" if _node_kind(node) == "view" else "apply")
        src_keys = [vid[id(inp.owner)] if inp.owner is not None and id(inp.owner) in vid
                    else leaf(inp) for inp in node.inputs]  # leaves first: topological order
        verts.append({"id": key, "kind": kind, "label": str(node.op)[:48], "info": info,
                      "source": src})
        for j, (inp, src_key) in enumerate(zip(node.inputs, src_keys, strict=True)):
            label = "" if inp.owner is None else (inp.name or "")
            edges.append({"s": src_key, "t": key, "label": label, "type": str(inp.type),
                          "i": j})
    for k, v in enumerate(outs):
        key = f"o{k}"
        src_key = vid[id(v.owner)] if v.owner is not None else leaf(v)
        info = {"kind": "output", "name": v.name or f"output {k}"}
        info.update(shape_info(v))
        verts.append({"id": key, "kind": "output", "label": v.name or f"out{k}", "info": info})
        edges.append({"s": src_key, "t": key, "label": "", "type": str(v.type), "i": 0})
    return {"vertices": verts, "edges": edges,
            "title": getattr(fn, "name", None) or "clgraph graph"}


def _layout(model: dict) -> None:
    """Layered top-to-bottom layout, in place: nodes by longest path, each input just above
    its first consumer; rows ordered by barycenters (a down sweep, then one both ways)."""
    verts = {v["id"]: v for v in model["vertices"]}
    preds: dict[str, list[str]] = {k: [] for k in verts}
    succs: dict[str, list[str]] = {k: [] for k in verts}
    for e in model["edges"]:
        preds[e["t"]].append(e["s"])
        succs[e["s"]].append(e["t"])
    leaves = {k for k in verts if not preds[k]}
    layer: dict[str, int] = {}
    for v in model["vertices"]:  # vertices are in topological order
        k = v["id"]
        if k not in leaves:
            layer[k] = 1 + max((layer[p] for p in preds[k] if p not in leaves), default=0)
    for k in leaves:
        layer[k] = min((layer[c] for c in succs[k]), default=1) - 1
    layers: dict[int, list[str]] = {}
    for k in verts:
        layers.setdefault(layer[k], []).append(k)
    pos: dict[str, float] = {}

    def bary(k: str, around: list[str]) -> float:
        known = [pos[n] for n in around if n in pos]
        return sum(known) / len(known) if known else pos.get(k, 0.0)

    for lv in sorted(layers):
        row = layers[lv]
        row.sort(key=lambda k: bary(k, preds[k]))
        for i, k in enumerate(row):
            pos[k] = i - len(row) / 2
    for lv in sorted(layers):
        row = layers[lv]
        row.sort(key=lambda k: bary(k, preds[k] + succs[k]))
        for i, k in enumerate(row):
            pos[k] = i - len(row) / 2
    for v in model["vertices"]:
        v["w"] = max(60, 7 * len(v["label"]) + 24)
        v["h"] = 32
    xgap, ygap = 40, 90
    for lv, row in layers.items():
        x = 0.0
        for k in row:
            v = verts[k]
            v["x"] = x + v["w"] / 2
            v["y"] = lv * ygap + 30
            x += v["w"] + xgap
        for k in row:  # center each row
            verts[k]["x"] -= x / 2


# --- Graphviz --------------------------------------------------------------------------------

_COLORS = {"input": "palegreen", "shared": "lightyellow", "constant": "lightgrey",
           "output": "lightblue", "fused": "salmon", "apply": "white", "view": "lavender"}


def _dot_quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot_source(obj: Any) -> str:
    """The Graphviz DOT text of `obj`'s graph (what `pydotprint` renders)."""
    model = graph_model(obj)
    lines = ["digraph G {", "  graph [rankdir=TB];", '  node [fontname="Helvetica"];']
    for v in model["vertices"]:
        shape = "box" if v["kind"] in ("apply", "fused", "view") else "ellipse"
        info = v["info"]
        tip = "\n".join(f"{k}: {val}" for k, val in info.items() if not isinstance(val, list))
        lines.append(f"  {v['id']} [label={_dot_quote(v['label'])}, shape={shape}, "
                     f"style=filled, fillcolor={_COLORS[v['kind']]}, "
                     f"tooltip={_dot_quote(tip)}];")
    for e in model["edges"]:
        label = e["label"] or e["type"]
        lines.append(f"  {e['s']} -> {e['t']} [label={_dot_quote(label)}, fontsize=9];")
    lines.append("}")
    return "\n".join(lines)


def _dot_program() -> str:
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissingError(
            "pydotprint needs Graphviz's 'dot' program for PNG and SVG output, and it is not "
            "on PATH. Install the Graphviz package: 'apt-get install graphviz' (Debian/Ubuntu), "
            "'dnf install graphviz', 'brew install graphviz' or 'conda install graphviz'. "
            "format='html' needs no Graphviz.")
    return exe


def pydotprint(obj: Any, outfile: str | None = None, format: str = "png",
               return_image: bool = False) -> str | bytes:
    """Draw the graph of `obj` into `outfile`: 'png' or 'svg' through Graphviz's `dot`, or
    'html', a self-contained interactive page (pan: drag; zoom: wheel or +/-; click a node
    for its type, shape, source line and kernel) that needs no network.

    Returns the path written (or the image bytes with `return_image=True`).
    """
    fmt = format.lower()
    if fmt not in ("png", "svg", "html"):
        raise ValueError(f"pydotprint: format must be 'png', 'svg' or 'html', got {format!r}")
    if outfile is None:
        name = getattr(obj, "name", None) if _is_function(obj) else None
        outfile = os.path.join(os.getcwd(), f"{name or 'clgraph_graph'}.{fmt}")
    if fmt == "html":
        page = html_page(obj).encode("utf-8")
        if return_image:
            return page
        with open(outfile, "wb") as f:
            f.write(page)
        return outfile
    exe = _dot_program()
    proc = subprocess.run([exe, f"-T{fmt}"], input=dot_source(obj).encode("utf-8"),
                          capture_output=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"Graphviz dot failed ({proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace')[:2000]}")
    if return_image:
        return proc.stdout
    with open(outfile, "wb") as f:
        f.write(proc.stdout)
    return outfile


# --- the interactive HTML page -------------------------------------------------------------

_HTML = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>__TITLE__</title>
<style>
html, body { margin: 0; height: 100%; font-family: Helvetica, Arial, sans-serif; }
#wrap { display: flex; height: 100%; }
#canvas { flex: 1; position: relative; overflow: hidden; background: #fafafa; }
#graph { width: 100%; height: 100%; cursor: grab; display: block; }
#graph.panning { cursor: grabbing; }
#side { width: 380px; border-left: 1px solid #ccc; overflow: auto; padding: 10px;
        font-size: 13px; background: #fff; }
#side table { border-collapse: collapse; width: 100%; }
#side td { border-bottom: 1px solid #eee; padding: 3px; vertical-align: top;
           word-break: break-word; }
#side td.k { color: #555; white-space: nowrap; }
#side pre { font-size: 11px; background: #f4f4f4; padding: 6px; overflow: auto; }
#tools { position: absolute; top: 8px; left: 8px; }
#tools button { font-size: 14px; width: 32px; height: 28px; }
.node rect, .node ellipse { stroke: #333; stroke-width: 1; }
.node text { font-size: 12px; pointer-events: none; }
.node { cursor: pointer; }
.node.selected rect, .node.selected ellipse { stroke: #d00; stroke-width: 3; }
.edge path { fill: none; stroke: #777; stroke-width: 1.2; }
.edge text { font-size: 9px; fill: #555; }
.legend span { display: inline-block; padding: 1px 5px; margin: 2px; border: 1px solid #999; }
</style></head>
<body>
<div id="wrap">
  <div id="canvas">
    <div id="tools"><button id="zin" title="zoom in">+</button><button id="zout"
      title="zoom out">&minus;</button><button id="fit" title="fit">&#9633;</button></div>
    <svg id="graph" xmlns="http://www.w3.org/2000/svg"><defs><marker id="arrow"
      viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7"
      orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#777"/></marker></defs>
      <g id="viewport"></g></svg>
  </div>
  <div id="side"><h3 id="title"></h3>
    <div class="legend" id="legend"></div>
    <p id="hint">Drag to pan, wheel to zoom, click a node for its details.</p>
    <div id="details"></div></div>
</div>
<script id="graph-data" type="application/json">__DATA__</script>
<script>
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("graph-data").textContent);
  var COLORS = __COLORS__;
  var svg = document.getElementById("graph"), vp = document.getElementById("viewport");
  var view = {x: 0, y: 0, k: 1}, byId = {}, elems = {};
  document.title = data.title;
  document.getElementById("title").textContent = data.title;
  Object.keys(COLORS).forEach(function (k) {
    var s = document.createElement("span"); s.textContent = k;
    s.style.background = COLORS[k]; document.getElementById("legend").appendChild(s);
  });
  function el(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    for (var a in attrs) e.setAttribute(a, attrs[a]);
    if (parent) parent.appendChild(e);
    return e;
  }
  data.vertices.forEach(function (v) { byId[v.id] = v; });
  var gEdges = el("g", {"class": "edges"}, vp), gNodes = el("g", {"class": "nodes"}, vp);
  data.edges.forEach(function (e) {
    var s = byId[e.s], t = byId[e.t];
    var x1 = s.x, y1 = s.y + s.h / 2, x2 = t.x, y2 = t.y - t.h / 2, my = (y1 + y2) / 2;
    var g = el("g", {"class": "edge"}, gEdges);
    el("path", {d: "M" + x1 + "," + y1 + " C" + x1 + "," + my + " " + x2 + "," + my + " " +
                x2 + "," + y2, "marker-end": "url(#arrow)"}, g);
    var label = e.label || "";
    if (label) { var tx = el("text", {x: (x1 + x2) / 2 + 4, y: my}, g); tx.textContent = label; }
    var title = el("title", {}, g); title.textContent = e.type;
  });
  data.vertices.forEach(function (v) {
    var g = el("g", {"class": "node " + v.kind, "data-id": v.id,
                     transform: "translate(" + v.x + "," + v.y + ")"}, gNodes);
    var fill = COLORS[v.kind] || "#fff";
    if (v.kind === "input" || v.kind === "shared" || v.kind === "constant" ||
        v.kind === "output") {
      el("ellipse", {rx: v.w / 2, ry: v.h / 2, fill: fill}, g);
    } else {
      el("rect", {x: -v.w / 2, y: -v.h / 2, width: v.w, height: v.h, rx: 4, fill: fill}, g);
    }
    var t = el("text", {"text-anchor": "middle", dy: "0.35em"}, g);
    t.textContent = v.label;
    g.addEventListener("click", function (ev) { ev.stopPropagation(); select(v.id); });
    elems[v.id] = g;
  });
  function apply() {
    vp.setAttribute("transform", "translate(" + view.x + "," + view.y + ") scale(" + view.k +
                    ")");
  }
  function fit() {
    var xs = data.vertices.map(function (v) { return v.x - v.w / 2; });
    var xe = data.vertices.map(function (v) { return v.x + v.w / 2; });
    var ys = data.vertices.map(function (v) { return v.y - v.h / 2; });
    var ye = data.vertices.map(function (v) { return v.y + v.h / 2; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xe);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ye);
    var W = svg.clientWidth || 800, H = svg.clientHeight || 600;
    view.k = Math.min(2, 0.9 * Math.min(W / (x1 - x0 + 1), H / (y1 - y0 + 1)));
    view.x = W / 2 - view.k * (x0 + x1) / 2;
    view.y = H / 2 - view.k * (y0 + y1) / 2;
    apply();
  }
  function zoom(f, cx, cy) {
    if (cx === undefined) { cx = (svg.clientWidth || 800) / 2; cy = (svg.clientHeight || 600) / 2; }
    view.x = cx - f * (cx - view.x); view.y = cy - f * (cy - view.y); view.k *= f; apply();
  }
  function row(table, k, v) {
    var tr = document.createElement("tr"), a = document.createElement("td"),
        b = document.createElement("td");
    a.className = "k"; a.textContent = k;
    if (Array.isArray(v)) {
      var ul = document.createElement("ul");
      v.forEach(function (x) { var li = document.createElement("li"); li.textContent = x;
                               ul.appendChild(li); });
      b.appendChild(ul);
    } else { b.textContent = String(v); }
    tr.appendChild(a); tr.appendChild(b); table.appendChild(tr);
  }
  function select(id) {
    var v = byId[id]; if (!v) return;
    Object.keys(elems).forEach(function (k) { elems[k].classList.remove("selected"); });
    elems[id].classList.add("selected");
    var d = document.getElementById("details"); d.textContent = "";
    var h = document.createElement("h4"); h.textContent = v.label; d.appendChild(h);
    var table = document.createElement("table"); table.id = "info";
    Object.keys(v.info).forEach(function (k) { row(table, k, v.info[k]); });
    d.appendChild(table);
    if (v.source) {
      var h2 = document.createElement("h4"); h2.textContent = "OpenCL kernel"; d.appendChild(h2);
      var pre = document.createElement("pre"); pre.textContent = v.source; d.appendChild(pre);
    }
    document.body.setAttribute("data-selected", id);
  }
  var drag = null;
  svg.addEventListener("mousedown", function (ev) {
    drag = {x: ev.clientX - view.x, y: ev.clientY - view.y}; svg.classList.add("panning");
  });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) return; view.x = ev.clientX - drag.x; view.y = ev.clientY - drag.y; apply();
  });
  window.addEventListener("mouseup", function () { drag = null; svg.classList.remove("panning"); });
  svg.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var r = svg.getBoundingClientRect();
    zoom(ev.deltaY < 0 ? 1.15 : 1 / 1.15, ev.clientX - r.left, ev.clientY - r.top);
  }, {passive: false});
  document.getElementById("zin").addEventListener("click", function () { zoom(1.25); });
  document.getElementById("zout").addEventListener("click", function () { zoom(0.8); });
  document.getElementById("fit").addEventListener("click", fit);
  fit();
  var m = /^#select=(\w+)$/.exec(location.hash);
  if (m) select(m[1]);
  document.body.setAttribute("data-rendered", String(gNodes.childNodes.length));
  window.clgraphSelect = select;
})();
</script>
</body></html>
"""


def html_page(obj: Any) -> str:
    """The interactive page of `obj`'s graph as one self-contained HTML string."""
    model = graph_model(obj)
    _layout(model)
    data = json.dumps(model).replace("<", "\\u003c")  # nothing can close the script
    return (_HTML.replace("__TITLE__", html.escape(model["title"]))
            .replace("__COLORS__", json.dumps(_COLORS))
            .replace("__DATA__", data))
