"""Vector loads and stores of `typeN` at element-aligned addresses, fast on PoCL.

PoCL 3.0 compiles `vloadN`/`vstoreN` into out-of-line calls: a sum over 10M floats read with
`vload8` ran at ~25 GB/s, the same loop dereferencing a vector pointer at ~45 GB/s. A plain
`floatN*` cast is only legal at N-element alignment, so under Clang (PoCL, and the other
Clang-based OpenCL compilers) the macros dereference a vector type declared with the
element's alignment (`ext_vector_type` + `aligned`): one unaligned vector move. Other
compilers keep `vloadN`/`vstoreN`. Every kernel source that uses the macros starts with
`vec_preamble(...)`; its lines are guarded, so several kernels may share a program.
VSTNT_ is the same store past the caches (`__builtin_nontemporal_store`), for large outputs.
"""

from __future__ import annotations

import numpy as np

from clgraph.expr.dtypes import cl_type


def _tag(dtype: str, width: int) -> str:
    return f"{cl_type(dtype)}{width}"


# CLG_TAIL_LOOP goes before a loop over the few elements a vector loop left: Clang must not
# vectorize or unroll it. Its vector version is never used, and building it is slow: PoCL
# compiled an elementwise kernel in ~90 ms at its first launch with this, 115-138 without.
TAIL_LOOP = """#ifndef CLG_TAIL_LOOP
#ifdef __clang__
#define CLG_TAIL_LOOP _Pragma("clang loop vectorize(disable) unroll(disable)")
#else
#define CLG_TAIL_LOOP
#endif
#endif
"""


def vec_preamble(dtypes: set[str] | list[str], width: int) -> str:
    """Definitions of VLD_<type><N>(p) and VST_<type><N>(v, p) for each dtype, and of
    CLG_TAIL_LOOP."""
    if width <= 1:
        return TAIL_LOOP
    lines = [TAIL_LOOP.rstrip("\n")]
    for dt, size in sorted({(cl_type(d), np.dtype(d).itemsize) for d in dtypes}):
        tag = f"{dt}{width}"
        lines += [
            f"#ifndef VLD_{tag}",
            "#ifdef __clang__",
            f"typedef {dt} clg_{tag}u __attribute__((ext_vector_type({width}), "
            f"aligned({size})));",
            f"#define VLD_{tag}(p) (*(__global const clg_{tag}u*)(p))",
            f"#define VST_{tag}(v, p) (*(__global clg_{tag}u*)(p) = (v))",
            f"#define VSTNT_{tag}(v, p) __builtin_nontemporal_store((v), "
            f"(__global clg_{tag}u*)(p))",
            "#else",
            f"#define VLD_{tag}(p) vload{width}(0, (p))",
            f"#define VST_{tag}(v, p) vstore{width}((v), 0, (p))",
            f"#define VSTNT_{tag}(v, p) vstore{width}((v), 0, (p))",
            "#endif",
            "#endif",
        ]
    return "\n".join(lines) + "\n"


def vld(dtype: str, width: int, ptr: str) -> str:
    """A `width`-vector load of `dtype` elements at `ptr` (a __global pointer expression)."""
    if width <= 1:
        return f"(*({ptr}))"
    return f"VLD_{_tag(dtype, width)}({ptr})"


def vsplat(dtype: str, width: int, ptr: str) -> str:
    """The `dtype` element at `ptr` in every lane of a `width`-vector (an operand broadcast
    along the lanes' axis)."""
    if width <= 1:
        return f"(*({ptr}))"
    return f"(({cl_type(dtype, width)})(*({ptr})))"


def vst(dtype: str, width: int, value: str, ptr: str) -> str:
    """A statement storing `value` (a `width`-vector of `dtype`) at `ptr`."""
    if width <= 1:
        return f"*({ptr}) = {value};"
    return f"VST_{_tag(dtype, width)}({value}, {ptr});"


def vst_stream(dtype: str, width: int, value: str, ptr: str) -> str:
    """A statement storing `value` at `ptr` past the caches (a non-temporal store under
    Clang): for outputs larger than the cache, which would only evict what is in it, and
    whose lines need not be read before they are written (triad on PoCL: 38 -> 45-51 GB/s)."""
    if width <= 1:
        return f"*({ptr}) = {value};"
    return f"VSTNT_{_tag(dtype, width)}({value}, {ptr});"
