"""Per-kernel device times (from OpenCL events) and per-call times of a compiled function."""

from __future__ import annotations

from collections import defaultdict


class Profile:
    """Collects events while `profile=True`; times are read when a summary is asked for."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.calls = 0
        self.call_seconds = 0.0
        self._events: list = []
        self.kernel_seconds: dict[str, float] = defaultdict(float)
        self.kernel_counts: dict[str, int] = defaultdict(int)
        self.host_seconds: dict[str, float] = defaultdict(float)
        self.node_of: dict[str, str] = {}

    def record_event(self, launch, event) -> None:
        self._events.append((launch.kernel, event))
        self.node_of[launch.kernel] = str(launch.node.op) if launch.node is not None else ""

    def record_host(self, work, seconds: float) -> None:
        self.host_seconds[str(work.node.op) if work.node is not None else "host"] += seconds

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

    def summary(self) -> str:
        self._collect()
        lines = [f"Function {self.fn.name or ''}: {self.calls} call(s), "
                 f"{self.call_seconds * 1e3:.3f} ms in calls",
                 f"compile: " + ", ".join(f"{k} {v * 1e3:.1f} ms"
                                          for k, v in self.fn.timings.items()),
                 f"{'kernel':<28}{'node':<36}{'calls':>7}{'total ms':>11}{'%':>7}"]
        total = sum(self.kernel_seconds.values()) or 1e-30
        for name, secs in sorted(self.kernel_seconds.items(), key=lambda kv: -kv[1]):
            lines.append(f"{name:<28}{self.node_of.get(name, '')[:35]:<36}"
                         f"{self.kernel_counts[name]:>7}{secs * 1e3:>11.3f}"
                         f"{100 * secs / total:>7.1f}")
        for name, secs in self.host_seconds.items():
            lines.append(f"{'(host)':<28}{name[:35]:<36}{'':>7}{secs * 1e3:>11.3f}")
        return "\n".join(lines)
