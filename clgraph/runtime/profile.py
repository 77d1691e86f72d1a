"""Profiles of compiled functions: device times from OpenCL events, per kernel, node, op type.

`function(..., profile=True)` (or `config.profile`) runs the kernels on a profiling queue;
each launch's event gives its device time. Also kept: call counts and wall times, host-side
steps, transfers to and from the device, and the compile-time breakdown (each rewrite pass,
lowering, Mako rendering, the OpenCL build and whether the program came from the cache).
`fn.profile.summary()` prints it all as tables (to stderr, or `file=`, as Theano's) and
returns the text; with `config.profile` on, every profiled function's summary is printed to
stderr at exit.
"""

from __future__ import annotations

import atexit
import sys
from collections import defaultdict
from typing import Any

_AT_EXIT: list[Profile] = []
_STDERR: Any = object()  # summary's default file: sys.stderr at the time of the call
_HOOKED = False


def _op_type(node) -> str:
    if node is None:
        return "(none)"
    op = node.op
    name = type(op).__name__
    scalar = getattr(op, "scalar_op", None)
    if scalar is not None:
        kind = type(scalar).__name__
        return f"{name}{{{kind}}}" if kind == "Composite" else f"{name}{{{scalar.name}}}"
    return name


def _node_label(node) -> str:
    if node is None:
        return "(none)"
    from clgraph.lower.plan import node_label

    return node_label(node)


class Profile:
    """Collects events while profiling; device times are read when a summary is asked for."""

    def __init__(self, fn) -> None:
        global _HOOKED
        self.fn = fn
        self.calls = 0
        self.call_seconds = 0.0
        self._events: list = []
        self.kernel_seconds: dict[str, float] = defaultdict(float)
        self.kernel_counts: dict[str, int] = defaultdict(int)
        self.host_seconds: dict[str, float] = defaultdict(float)
        self.node_of: dict[str, str] = {}       # kernel name -> op of its node (compat)
        self._node_of_kernel: dict[str, object] = {}
        self._host_nodes: dict[str, object] = {}
        self.transfer_seconds: dict[str, float] = defaultdict(float)
        self.transfer_bytes: dict[str, int] = defaultdict(int)
        self.transfer_counts: dict[str, int] = defaultdict(int)
        from clgraph.config import config

        if config.profile:
            _AT_EXIT.append(self)
            if not _HOOKED:
                atexit.register(print_all_at_exit)
                _HOOKED = True

    # --- recording (executor and Function.__call__) -------------------------------------

    def record_event(self, launch, event) -> None:
        self._events.append((launch.kernel, event))
        if launch.kernel not in self.node_of:
            self.node_of[launch.kernel] = str(launch.node.op) if launch.node is not None else ""
            self._node_of_kernel[launch.kernel] = launch.node

    def record_host(self, work, seconds: float) -> None:
        label = str(work.node.op) if work.node is not None else "host"
        self.host_seconds[label] += seconds
        self._host_nodes.setdefault(label, work.node)

    def record_transfer(self, direction: str, seconds: float, nbytes: int) -> None:
        self.transfer_seconds[direction] += seconds
        self.transfer_bytes[direction] += int(nbytes)
        self.transfer_counts[direction] += 1

    def record_call(self, seconds: float) -> None:
        self.calls += 1
        self.call_seconds += seconds
        self._collect()

    def _collect(self) -> None:
        for name, ev in self._events:
            ev.wait()
            self.kernel_seconds[name] += (ev.profile.end - ev.profile.start) * 1e-9
            self.kernel_counts[name] += 1
        self._events.clear()

    # --- aggregates -----------------------------------------------------------------------

    def node_seconds(self) -> dict[str, float]:
        """Device (and host-step) seconds per node label (op and the user's line)."""
        self._collect()
        out: dict[str, float] = defaultdict(float)
        for name, secs in self.kernel_seconds.items():
            out[_node_label(self._node_of_kernel.get(name))] += secs
        for label, secs in self.host_seconds.items():
            out[_node_label(self._host_nodes.get(label)) + " (host)"] += secs
        return dict(out)

    def op_type_seconds(self) -> dict[str, tuple[float, int]]:
        """(seconds, number of nodes) per op type, e.g. 'Elemwise{Composite}', 'Reduce'."""
        self._collect()
        secs: dict[str, float] = defaultdict(float)
        nodes: dict[str, set] = defaultdict(set)
        for name, s in self.kernel_seconds.items():
            node = self._node_of_kernel.get(name)
            secs[_op_type(node)] += s
            nodes[_op_type(node)].add(id(node))
        for label, s in self.host_seconds.items():
            node = self._host_nodes.get(label)
            secs[_op_type(node)] += s
            nodes[_op_type(node)].add(id(node))
        return {k: (v, len(nodes[k])) for k, v in secs.items()}

    # --- printing -------------------------------------------------------------------------

    def summary(self, file: Any = _STDERR, n_ops_to_print: int | None = 20,
                n_apply_to_print: int | None = 20) -> str:
        """The profile as tables, written to `file` (Theano's ProfileStats.summary; default
        sys.stderr, None writes nothing) and returned. `n_apply_to_print` limits the kernel
        and node tables, `n_ops_to_print` the op-type table (None: no limit)."""
        for arg, n in (("n_ops_to_print", n_ops_to_print),
                       ("n_apply_to_print", n_apply_to_print)):
            if n is not None and (not isinstance(n, int) or n < 0):
                raise ValueError(f"Profile.summary: {arg} must be a count (an int >= 0) or "
                                 f"None, got {n!r}")
        self._collect()
        lines = self._compile_lines() + self._transfer_lines()
        total = sum(self.kernel_seconds.values()) + sum(self.host_seconds.values()) or 1e-30
        lines += self._kernel_lines(total, n_apply_to_print)
        lines += self._node_lines(total, n_apply_to_print)
        lines += self._op_type_lines(total, n_ops_to_print)
        text = "\n".join(lines)
        out = sys.stderr if file is _STDERR else file
        if out is not None:
            print(text, file=out)
        return text

    def _compile_lines(self) -> list[str]:
        fn = self.fn
        t = fn.timings
        lines = [f"Function profile: {fn.name or '(unnamed)'}",
                 f"  {self.calls} call(s), {self.call_seconds * 1e3:.3f} ms in calls"
                 + (f", {self.call_seconds / self.calls * 1e6:.1f} us per call"
                    if self.calls else "")]
        from clgraph.simplify.passes import PASSES

        pass_names = [n for n, _ in PASSES if n in t]
        rewrites = sum(t[n] for n in pass_names)
        lines.append("Compile time:")
        lines.append(f"  rewrites     {rewrites * 1e3:10.2f} ms  (" + ", ".join(
            f"{n} {t[n] * 1e3:.2f}" for n in pass_names) + ")")
        lines.append(f"  lowering     {(t.get('lower', 0.0) - t.get('render', 0.0)) * 1e3:10.2f}"
                     " ms")
        lines.append(f"  rendering    {t.get('render', 0.0) * 1e3:10.2f} ms  "
                     f"({len(fn.plan.kernel_defs)} kernel(s))")
        cache = getattr(fn, "cache_hits", 0)
        lines.append(f"  OpenCL build {t.get('build', 0.0) * 1e3:10.2f} ms  "
                     f"({'cache hit' if cache else 'built'}; cache hits: {cache})")
        lines.append(f"  total        {t.get('total', 0.0) * 1e3:10.2f} ms")
        return lines

    def _transfer_lines(self) -> list[str]:
        if not self.transfer_counts:
            return []
        lines = ["Transfers:"]
        for d in self.transfer_seconds:
            lines.append(f"  {d:<10}{self.transfer_counts[d]:>7} x  "
                         f"{self.transfer_seconds[d] * 1e3:10.3f} ms  "
                         f"{self.transfer_bytes[d]:>12} bytes")
        return lines

    def _kernel_lines(self, total: float, limit: int | None) -> list[str]:
        rows = []
        for name, secs in sorted(self.kernel_seconds.items(), key=lambda kv: -kv[1]):
            n = self.kernel_counts[name]
            rows.append(f"  {name:<28}{self.node_of.get(name, '')[:35]:<36}{n:>7}"
                        f"{secs * 1e3:>11.3f}{secs / max(n, 1) * 1e6:>10.1f}"
                        f"{100 * secs / total:>7.1f}")
        for name, secs in self.host_seconds.items():
            rows.append(f"  {'(host)':<28}{name[:35]:<36}{'':>7}{secs * 1e3:>11.3f}"
                        f"{'':>10}{100 * secs / total:>7.1f}")
        return [f"Kernels (device time from OpenCL events; total {total * 1e3:.3f} ms):",
                f"  {'kernel':<28}{'node':<36}{'calls':>7}{'total ms':>11}"
                f"{'us/call':>10}{'%':>7}"] + _first(rows, limit)

    def _node_lines(self, total: float, limit: int | None) -> list[str]:
        rows = [f"  {secs * 1e3:>10.3f}{100 * secs / total:>7.1f}  {label}"
                for label, secs in sorted(self.node_seconds().items(), key=lambda kv: -kv[1])]
        return ["Nodes:", f"  {'total ms':>10}{'%':>7}  node (created at)"] + \
            _first(rows, limit)

    def _op_type_lines(self, total: float, limit: int | None) -> list[str]:
        rows = [f"  {secs * 1e3:>10.3f}{100 * secs / total:>7.1f}{n:>7}  {op}"
                for op, (secs, n) in sorted(self.op_type_seconds().items(),
                                            key=lambda kv: -kv[1][0])]
        return ["Op types:", f"  {'total ms':>10}{'%':>7}{'nodes':>7}  op type"] + \
            _first(rows, limit)


def _first(rows: list[str], limit: int | None) -> list[str]:
    """The first `limit` rows (all for None), and a line counting those left out."""
    if limit is None or len(rows) <= limit:
        return rows
    return rows[:limit] + [f"  ... ({len(rows) - limit} more)"]


def print_all_at_exit(file=None) -> None:
    """Print every profile collected under `config.profile` (registered with atexit)."""
    out = file or sys.stderr
    for prof in _AT_EXIT:
        try:
            prof.summary(file=out)
            print(file=out)
        except Exception as exc:  # the device may be gone at exit: say so, do not crash
            print(f"(profile of {prof.fn.name or 'a function'} unavailable: {exc})", file=out)
