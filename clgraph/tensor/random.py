"""`cg.tensor.random.RandomStreams`: random numbers generated on the device (API.md).

Each draw (`uniform`, `normal`, `binomial`) owns a stream state, a shared uint32 vector
[key0, key1, counter0, counter1]; the Philox4x32-10 kernel reads it and writes the state
with the counter advanced, which becomes the state's `default_update`, so every compiled
function that draws advances its streams after each call (as Theano's MRG_RandomStreams).
Keys come from the seed and the draw's index, so the same seed and the same sequence of
draws give the same numbers, on any device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clgraph.config import config
from clgraph.expr import dtypes as D
from clgraph.expr.random import PhiloxRandom
from clgraph.expr.variable import Variable

__all__ = ["RandomStreams", "MRG_RandomStreams"]


def _T():
    from clgraph import tensor as T

    return T


_draws = [0]  # streams drawn so far in this process (scan tells its step's draws apart)


def draw_serial() -> int:
    """How many streams have been drawn so far; a stream's state has `rng_serial`, its
    place in that count."""
    return _draws[0]


def _key(seed: int, index: int) -> np.ndarray:
    words = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(seed) >> 32, index])
    return words.generate_state(2, dtype=np.uint32)


def _size_vector(size: Any, what: str):
    """`size` (tuple of ints or scalars, or a shape vector) as an int64 vector variable."""
    T = _T()
    if isinstance(size, Variable):
        if size.ndim != 1 or size.type.shape[0] is None:
            raise TypeError(f"{what}: size {size} must be a vector of known length (or a tuple)")
        return T.cast(size, "int64")
    if isinstance(size, (int, np.integer)):
        size = (int(size),)
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"{what}: size must be a tuple, got {type(size).__name__}")
    if all(isinstance(s, (int, np.integer)) for s in size):
        return T.constant(np.asarray(size, dtype="int64").reshape(len(size)))
    parts = [T.cast(T.as_tensor_variable(s), "int64") for s in size]
    for s in parts:
        if s.ndim != 0:
            raise TypeError(f"{what}: size entries must be scalars, got {s.type}")
    return T.stack(parts)


class RandomStreams:
    """Device random streams: `RandomStreams(seed).uniform(size) / normal / binomial`."""

    def __init__(self, seed: int | None = None) -> None:
        self._seed = 12345 if seed is None else int(seed)
        self._count = 0
        self.state_updates: list[tuple] = []

    # Theano's name for re-seeding every stream drawn so far.
    def seed(self, seed: int | None = None) -> None:
        """Reset every stream drawn from this object as if created with `seed`."""
        self._seed = 12345 if seed is None else int(seed)
        for index, (state, _) in enumerate(self.state_updates):
            state.set_value(np.concatenate([_key(self._seed, index), [0, 0]]).astype("uint32"))

    def _draw(self, dist: str, size: Any, dtype: str):
        import clgraph as cg

        what = f"RandomStreams.{dist}"
        shape = _size_vector(size, what)
        static = None
        if shape.owner is None and hasattr(shape, "data"):
            static = tuple(int(s) for s in shape.data)
        state = cg.shared(np.concatenate([_key(self._seed, self._count), [0, 0]]).astype(
            "uint32"), name=f"rstate{self._count}")
        self._count += 1
        state.rng_serial = _draws[0]
        _draws[0] += 1
        new_state, sample = PhiloxRandom(dist, dtype, static)(state, shape)
        state.default_update = new_state
        self.state_updates.append((state, new_state))
        return sample

    def uniform(self, size: Any = (), low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
                dtype: Any = None, nstreams: Any = None) -> Variable:
        """Uniform numbers in [low, high)."""
        T = _T()
        dtype = _float_dtype(dtype, low, high)
        u = self._draw("uniform", size, dtype)
        if _is(low, 0) and _is(high, 1):
            return u
        low, high = _param(low, dtype), _param(high, dtype)
        return T.cast(low + (high - low) * u, dtype)

    def normal(self, size: Any = (), avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
               dtype: Any = None, nstreams: Any = None, truncate: bool = False) -> Variable:
        """Normal numbers of mean `avg` and standard deviation `std` (Box-Muller)."""
        T = _T()
        if truncate:
            raise NotImplementedError("RandomStreams.normal(truncate=True) is not supported")
        dtype = _float_dtype(dtype, avg, std)
        z = self._draw("normal", size, dtype)
        if _is(avg, 0) and _is(std, 1):
            return z
        return T.cast(_param(avg, dtype) + _param(std, dtype) * z, dtype)

    def binomial(self, size: Any = None, n: int = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: str = "int64", nstreams: Any = None) -> Variable:
        """Binomial(n, p) counts; n a static int. With size None, p's shape."""
        T = _T()
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise TypeError(f"RandomStreams.binomial: n must be a non-negative int, got {n!r}")
        p_var = T.as_tensor_variable(p)
        if size is None:
            size = T.shape(p_var)
        work = p_var.dtype if D.is_float(p_var.dtype) else config.floatX
        if n == 1:
            u = self._draw("uniform", size, work)
            return T.cast(T.lt(u, T.cast(p_var, work)), dtype)
        size_vec = _size_vector(size, "RandomStreams.binomial")
        if size_vec.owner is None and hasattr(size_vec, "data"):
            shape = T.constant(np.concatenate([[n], size_vec.data]).astype("int64"))
        else:
            shape = T.concatenate([T.constant(np.array([n], dtype="int64")), size_vec])
        u = self._draw("uniform", shape, work)
        pw = T.cast(p_var, work)
        hits = T.cast(T.lt(u, T.shape_padleft(pw) if pw.ndim else pw), "int64")
        return T.cast(T.sum(hits, axis=0), dtype)

    def choice(self, *args, **kwargs):
        raise NotImplementedError("RandomStreams.choice is not supported yet")


MRG_RandomStreams = RandomStreams  # noqa: N816 - Theano's name


def _is(value: Any, v: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == v


def _float_dtype(dtype: Any, *params: Any) -> str:
    if dtype is not None:
        dtype = D.check_dtype(dtype, "random dtype")
        if dtype not in ("float32", "float64"):
            raise TypeError(f"random numbers of dtype {dtype}: use float32 or float64")
        return dtype
    dts = [p.dtype for p in params if isinstance(p, Variable)]
    return D.upcast(config.floatX, *dts) if dts else config.floatX


def _param(value: Any, dtype: str):
    T = _T()
    if isinstance(value, Variable):
        return T.cast(value, dtype)
    return T.constant(value, dtype=dtype)
