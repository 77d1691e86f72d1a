"""Host work on device buffers (host BLAS, NumPy's sorts and matmul): where each operand
lies in its buffer (`HostView`), and NumPy views of them for the duration of the work
(`host_operands`: HostBuffers in place, other buffers mapped)."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import numpy as np
import pyopencl as cl

from clgraph.lower.layout import Layout, contiguous_strides
from clgraph.runtime.host_memory import host_bytes


def host_queue(ctx):
    """The queue to map buffers on for host work, once every kernel before it is done
    (while profiling, kernels run on a second queue that must finish first)."""
    side = ctx.__dict__.get("profiling_queue")
    if side is not None:
        side.finish()
    return ctx.queue


def host_done(ctx, events: list) -> None:
    """After host work: while profiling, wait for the unmaps, as the next kernels go to the
    other queue and would not wait for them."""
    if ctx.__dict__.get("profiling_queue") is not None:
        cl.wait_for_events(events)


@dataclass(frozen=True)
class HostView:
    """Where an operand of host work lies in its buffer: shape, dtype, byte offset and
    byte strides."""

    shape: tuple
    dtype: np.dtype
    offset: int
    strides: tuple

    @staticmethod
    def of(lay: Layout, dtype, shape: tuple | None = None) -> HostView:
        """The layout's elements, or `shape` contiguous elements at its offset."""
        dt = np.dtype(dtype)
        shape, strides = (lay.shape, lay.strides) if shape is None else \
            (tuple(shape), contiguous_strides(tuple(shape)))
        return HostView(tuple(shape), dt, lay.offset * dt.itemsize,
                        tuple(st * dt.itemsize for st in strides))

    @functools.cached_property
    def empty(self) -> bool:
        return 0 in self.shape

    @functools.cached_property
    def span(self) -> tuple[int, int]:
        """(first, end) bytes it touches (negative strides included)."""
        lo = hi = self.offset
        for n, st in zip(self.shape, self.strides, strict=True):
            lo, hi = (lo, hi + st * (n - 1)) if st > 0 else (lo + st * (n - 1), hi)
        return lo, hi + self.dtype.itemsize

    def on(self, raw: np.ndarray, start: int = 0) -> np.ndarray:
        """The view over `raw`, the buffer's bytes from byte `start`."""
        if self.empty:
            return np.zeros(self.shape, self.dtype)
        return np.ndarray(self.shape, self.dtype, buffer=raw, offset=self.offset - start,
                          strides=self.strides)


@contextlib.contextmanager
def host_operands(ctx, bufs: list, views: list[HostView], keep_out: bool = False):
    """NumPy views of host work's operands (the last one is written, the others read;
    `keep_out`: the written one is read first, so a map keeps its contents).

    HostBuffers (runtime/host_memory.py) are used in place: the executor has waited for the
    commands on them. Other buffers are mapped: the read operands without waiting (a buffer
    holding several of them once), then the written one with a blocking map, which on the
    in-order queue returns once everything before it is done: one round trip. The unmaps
    are enqueued on exit, before any later command."""
    raws = [host_bytes(buf) for buf in bufs]
    if all(raw is not None for raw in raws):
        yield [v.on(raw) for v, raw in zip(views, raws, strict=True)]
        return
    queue = host_queue(ctx)
    maps: list = []

    def map_span(buf, lo: int, hi: int, flags, blocking: bool) -> np.ndarray:
        raw, _ = cl.enqueue_map_buffer(queue, buf, flags, lo, (hi - lo,), np.uint8,
                                       is_blocking=blocking)
        maps.append(raw.base)
        return raw

    try:
        ranges: dict[int, list] = {}  # buffer -> [buffer, first byte, end byte]
        for buf, v in zip(bufs[:-1], views[:-1], strict=True):
            if not v.empty:
                lo, hi = v.span
                r = ranges.setdefault(buf.int_ptr, [buf, lo, hi])
                r[1], r[2] = min(r[1], lo), max(r[2], hi)
        mapped = {key: (lo, map_span(buf, lo, hi, cl.map_flags.READ, False))
                  for key, (buf, lo, hi) in ranges.items()}
        out = views[-1]
        if out.empty:
            queue.finish()  # the read maps are valid once the queue is done
            result = out.on(None)
        else:
            lo, hi = out.span
            flags = cl.map_flags.READ | cl.map_flags.WRITE if keep_out else \
                cl.map_flags.WRITE_INVALIDATE_REGION
            result = out.on(map_span(bufs[-1], lo, hi, flags, True), lo)
        yield [v.on(*mapped[buf.int_ptr][::-1]) if not v.empty else v.on(None)
               for buf, v in zip(bufs[:-1], views[:-1], strict=True)] + [result]
    finally:
        host_done(ctx, [m.release(queue) for m in reversed(maps)])
