"""PhiloxRandom: uniform or normal numbers from a Philox4x32-10 stream state.

Inputs: the stream state (uint32 [key0, key1, counter0, counter1]) and the output shape (an
int64 vector whose values are known when the call's shapes are). Outputs: the advanced state
(counter + 1) and the sample. Element block b (4 float32 or 2 float64 numbers) comes from
philox(counter=(b, counter), key), so a state gives the same numbers on any device, and
`perform` (NumPy) reproduces the kernel's bits for uniforms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clgraph.expr.apply import Apply
from clgraph.expr.op import Op
from clgraph.expr.type import TensorType
from clgraph.expr.variable import TensorVariable

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)


def philox4x32_10(ctr: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox4x32-10 of counters `ctr` (n, 4) uint32 under `key`: (n, 4) uint32."""
    c = [ctr[:, i].astype(np.uint64) for i in range(4)]
    k0, k1 = np.uint32(key[0]), np.uint32(key[1])
    with np.errstate(over="ignore"):
        for _ in range(10):
            p0, p1 = _M0 * c[0], _M1 * c[2]
            hi0, lo0 = p0 >> np.uint64(32), p0 & _MASK
            hi1, lo1 = p1 >> np.uint64(32), p1 & _MASK
            c = [hi1 ^ c[1] ^ np.uint64(k0), lo1, hi0 ^ c[3] ^ np.uint64(k1), lo0]
            k0, k1 = k0 + _W0, k1 + _W1
    return np.stack(c, axis=1).astype(np.uint32)


def per_block(dtype: str) -> int:
    return 4 if dtype == "float32" else 2


@dataclass(frozen=True)
class PhiloxRandom(Op):
    dist: str = "uniform"  # or "normal"
    dtype: str = "float32"
    # The sample's static shape when the size was given as ints (None: unknown lengths).
    static_shape: tuple | None = None

    def make_node(self, state, shape) -> Apply:
        from clgraph import tensor as T

        if self.dist not in ("uniform", "normal"):
            raise ValueError(f"PhiloxRandom: dist must be 'uniform' or 'normal', got {self.dist}")
        if self.dtype not in ("float32", "float64"):
            raise TypeError(f"random numbers of dtype {self.dtype}: float32 or float64 only")
        state = T.as_tensor_variable(state)
        if state.dtype != "uint32" or state.ndim != 1:
            raise TypeError(f"PhiloxRandom: the state {state} must be a uint32 vector of 4")
        shape = T.as_tensor_variable(shape)
        if shape.ndim != 1 or shape.type.shape[0] is None:
            raise TypeError(f"PhiloxRandom: size {shape} must be a vector of known length")
        if shape.dtype != "int64":
            shape = T.cast(shape, "int64")
        ndim = shape.type.shape[0]
        out_shape = self.static_shape if self.static_shape is not None else (None,) * ndim
        if len(out_shape) != ndim:
            raise ValueError(f"PhiloxRandom: static shape {out_shape} for a size of {ndim}")
        return Apply(self, [state, shape], [TensorVariable(TensorType("uint32", (4,))),
                                            TensorVariable(TensorType(self.dtype, out_shape))])

    def perform(self, node, inputs):
        state, shape = inputs
        shape = tuple(int(s) for s in shape)
        n = int(np.prod(shape, dtype=np.int64))
        pb = per_block(self.dtype)
        nb = -(-n // pb)
        b = np.arange(nb, dtype=np.uint64)
        ctr = np.stack([b & _MASK, b >> np.uint64(32), np.full(nb, state[2], np.uint64),
                        np.full(nb, state[3], np.uint64)], axis=1).astype(np.uint32)
        r = philox4x32_10(ctr, (int(state[0]), int(state[1])))
        if self.dtype == "float32":
            u = ((r >> 8).astype(np.float32) * np.float32(2.0 ** -24))
        else:
            hi = (r[:, 0::2] >> 5).astype(np.float64)
            lo = (r[:, 1::2] >> 6).astype(np.float64)
            u = (hi * 67108864.0 + lo) * 2.0 ** -53
        if self.dist == "normal":
            u0, u1 = u[:, 0::2], u[:, 1::2]
            rad = np.sqrt(-2 * np.log(1 - u0))
            th = u1 * (2 * np.pi)
            u = np.stack([rad * np.cos(th), rad * np.sin(th)], axis=2).reshape(nb, pb)
        out = u.reshape(-1)[:n].astype(self.dtype).reshape(shape)
        new = state.copy()
        new[2] = np.uint32((int(state[2]) + 1) & 0xFFFFFFFF)
        new[3] = np.uint32(int(state[3]) + (1 if state[2] == 0xFFFFFFFF else 0))
        return [new, out]

    def L_op(self, node, grads):
        return [None, None]

    def __str__(self) -> str:
        return f"PhiloxRandom{{{self.dist}, {self.dtype}}}"
