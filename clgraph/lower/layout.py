"""Layouts: where a tensor's elements sit in a buffer (offset and strides, in elements).

Every kernel output is allocated C-contiguous, and views (transpose, slicing, broadcast)
derive their strides from their input's, so once the input shapes of a call are known every
layout in the plan is known: the plan computes them once per input-shape signature.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    buffer: int                 # index of the buffer slot holding the data
    shape: tuple[int, ...]
    strides: tuple[int, ...]    # in elements; 0 for broadcast axes
    offset: int = 0             # in elements

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def is_contiguous(self) -> bool:
        return self.strides == contiguous_strides(self.shape) or self.size <= 1 or \
            all(st == cs for st, cs, n in zip(self.strides, contiguous_strides(self.shape),
                                              self.shape) if n != 1)


def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides = []
    acc = 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(strides))


def broadcast_strides(layout: Layout, out_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Strides reading `layout` over `out_shape`: 0 on axes of length 1 (broadcast)."""
    return tuple(0 if n == 1 else s for n, s in zip(layout.shape, layout.strides))


def drop_unit_axes(shape: tuple[int, ...], stride_sets: list[tuple[int, ...]]
                   ) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """The iteration space without its axes of length 1 (one axis kept if all are)."""
    keep = [d for d, n in enumerate(shape) if n != 1] or [len(shape) - 1]
    return (tuple(shape[d] for d in keep),
            [tuple(s[d] for d in keep) for s in stride_sets])


def collapse(shape: tuple[int, ...], stride_sets: list[tuple[int, ...]]
             ) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """Merge adjacent axes that every operand walks contiguously (NumPy's iterator trick).

    Never drops an axis, so each operand's innermost stride stays what it was.
    """
    if not shape:
        return shape, stride_sets
    out_shape = [shape[-1]]
    out_strides = [[s[-1]] for s in stride_sets]
    for d in range(len(shape) - 2, -1, -1):
        inner_n = out_shape[0]
        if all(s[d] == st[0] * inner_n for s, st in zip(stride_sets, out_strides)):
            out_shape[0] *= shape[d]
        else:
            out_shape.insert(0, shape[d])
            for s, st in zip(stride_sets, out_strides):
                st.insert(0, s[d])
    return tuple(out_shape), [tuple(st) for st in out_strides]
