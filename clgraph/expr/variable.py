"""Variables: graph values. TensorVariable carries the NumPy-like operators.

The operator methods only build graph; their op constructors live in `clgraph.tensor`
and are imported lazily to keep expr/ free of the user namespace.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from clgraph.expr.type import TensorType

if TYPE_CHECKING:
    from clgraph.expr.apply import Apply

_ids = itertools.count()


class Tag(dict):
    """Free-form annotations (`test_value`, `trace`), readable as attributes like Theano's."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class Variable:
    """A value in a graph: an input (owner None), an op output, a constant or a shared slot."""

    def __init__(self, type: TensorType, owner: Apply | None = None, index: int | None = None,
                 name: str | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"variable name must be a str, got {type!r}")
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.tag = Tag()
        self.auto_name = f"v{next(_ids)}"

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable

    @property
    def static_shape(self) -> tuple[int | None, ...]:
        return self.type.shape

    def clone(self) -> Variable:
        """A fresh input variable of the same type and name (no owner)."""
        return type(self)(self.type, name=self.name)

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        if self.owner is not None:
            op = self.owner.op
            return f"{op}.{self.index}" if len(self.owner.outputs) > 1 else f"{op}.out"
        return f"<{self.type}>"

    def __repr__(self) -> str:
        return str(self)


class TensorVariable(Variable):
    """A tensor-valued variable with NumPy-like syntax. All methods build graph."""

    __array_priority__ = 1000  # so ndarray + var calls var.__radd__

    # ---- attributes -------------------------------------------------------------------
    @property
    def shape(self):
        from clgraph import tensor as T

        return T.shape(self)

    @property
    def size(self):
        from clgraph import tensor as T

        return T.prod(self.shape) if self.ndim else T.constant(1, dtype="int64")

    @property
    def T(self):  # noqa: N802 - NumPy's name
        from clgraph import tensor as T

        return T.transpose(self)

    def __len__(self) -> int:
        raise TypeError("len() of a symbolic variable is unknown; use var.shape[0]")

    def __bool__(self) -> bool:
        raise TypeError("a symbolic variable has no truth value; use T.switch / cg.ifelse")

    def __iter__(self):
        raise TypeError("a symbolic variable cannot be iterated; index it or use cg.scan")

    # ---- arithmetic -------------------------------------------------------------------
    def _t(self):
        from clgraph import tensor as T

        return T

    def __add__(self, o): return self._t().add(self, o)
    def __radd__(self, o): return self._t().add(o, self)
    def __sub__(self, o): return self._t().sub(self, o)
    def __rsub__(self, o): return self._t().sub(o, self)
    def __mul__(self, o): return self._t().mul(self, o)
    def __rmul__(self, o): return self._t().mul(o, self)
    def __truediv__(self, o): return self._t().true_div(self, o)
    def __rtruediv__(self, o): return self._t().true_div(o, self)
    def __floordiv__(self, o): return self._t().int_div(self, o)
    def __rfloordiv__(self, o): return self._t().int_div(o, self)
    def __mod__(self, o): return self._t().mod(self, o)
    def __rmod__(self, o): return self._t().mod(o, self)
    def __pow__(self, o): return self._t().pow(self, o)
    def __rpow__(self, o): return self._t().pow(o, self)
    def __matmul__(self, o): return self._t().matmul(self, o)
    def __rmatmul__(self, o): return self._t().matmul(o, self)
    def __neg__(self): return self._t().neg(self)
    def __pos__(self): return self
    def __abs__(self): return self._t().abs_(self)
    def __invert__(self): return self._t().invert(self)
    def __lt__(self, o): return self._t().lt(self, o)
    def __le__(self, o): return self._t().le(self, o)
    def __gt__(self, o): return self._t().gt(self, o)
    def __ge__(self, o): return self._t().ge(self, o)
    def __and__(self, o): return self._t().and_(self, o)
    def __rand__(self, o): return self._t().and_(o, self)
    def __or__(self, o): return self._t().or_(self, o)
    def __ror__(self, o): return self._t().or_(o, self)
    def __xor__(self, o): return self._t().xor(self, o)
    def __rxor__(self, o): return self._t().xor(o, self)

    # Theano keeps == as identity so variables can live in dicts and sets.
    __hash__ = Variable.__hash__

    def __eq__(self, other):  # type: ignore[override]
        return self is other

    # ---- indexing and shape -----------------------------------------------------------
    def __getitem__(self, index):
        return self._t().getitem(self, index)

    def reshape(self, *shape, ndim=None):
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return self._t().reshape(self, shape, ndim=ndim)

    def dimshuffle(self, *pattern):
        if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
            pattern = tuple(pattern[0])
        return self._t().dimshuffle(self, pattern)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        return self._t().transpose(self, axes or None)

    def flatten(self, ndim=1):
        return self._t().flatten(self, ndim)

    def ravel(self):
        return self._t().flatten(self, 1)

    def astype(self, dtype):
        return self._t().cast(self, dtype)

    def dot(self, other):
        return self._t().dot(self, other)

    def clip(self, a_min, a_max):
        return self._t().clip(self, a_min, a_max)

    def nonzero(self, return_matrix=False):
        return self._t().nonzero(self, return_matrix=return_matrix)

    def sum(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return self._t().sum(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def prod(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return self._t().prod(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def mean(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return self._t().mean(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def var(self, axis=None, ddof=0, keepdims=False):
        return self._t().var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        return self._t().std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return self._t().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return self._t().min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        return self._t().argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        return self._t().argmin(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return self._t().all(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        return self._t().any(self, axis=axis, keepdims=keepdims)

    # ---- Theano's other methods, as its TensorVariable has them --------------------------
    def cumsum(self, axis=None):
        return self._t().cumsum(self, axis=axis)

    def cumprod(self, axis=None):
        return self._t().cumprod(self, axis=axis)

    def repeat(self, repeats, axis=None):
        return self._t().repeat(self, repeats, axis=axis)

    def round(self, mode=None):
        return self._t().round(self, mode=mode)

    def sort(self, axis=-1, kind="quicksort", order=None):
        return self._t().sort(self, axis=axis, kind=kind, order=order)

    def argsort(self, axis=-1, kind="quicksort", order=None):
        return self._t().argsort(self, axis=axis, kind=kind, order=order)

    def take(self, indices, axis=None, mode="raise"):
        return self._t().take(self, indices, axis=axis, mode=mode)

    def zeros_like(self, dtype=None):
        return self._t().zeros_like(self, dtype=dtype)

    def ones_like(self, dtype=None):
        return self._t().ones_like(self, dtype=dtype)

    def fill(self, value):
        return self._t().fill(self, value)

    def nonzero_values(self):
        return self._t().nonzero_values(self)

    def squeeze(self):
        """Without its broadcastable (static length 1) axes, as Theano's squeeze."""
        return self.dimshuffle([d for d, b in enumerate(self.broadcastable) if not b])

    def swapaxes(self, axis1, axis2):
        order = list(range(self.ndim))
        order[axis1], order[axis2] = order[axis2], order[axis1]
        return self.dimshuffle(order)

    def ptp(self, axis=None, keepdims=False):
        """max - min (peak to peak)."""
        return self.max(axis=axis, keepdims=keepdims) - self.min(axis=axis, keepdims=keepdims)

    def norm(self, L, axis=None, keepdims=False):
        """The L-norm along `axis` (all axes by default): (sum |x|^L)^(1/L)."""
        if L == 0:
            raise NotImplementedError("norm: L=0 is not supported")
        return (abs(self) ** L).sum(axis=axis, keepdims=keepdims) ** (1.0 / L)

    def copy(self, name=None):
        """A copy in a buffer of its own (Theano's tensor_copy)."""
        from clgraph.expr.elemwise import Elemwise
        from clgraph.expr.scalar.ops import identity

        out = Elemwise(identity)(self)
        out.name = name
        return out

    def eval(self, inputs_dict: dict | None = None):
        """Compile (cached per input set) and run this variable, as Theano's `eval`."""
        from clgraph.compile.function import eval_variable

        return eval_variable(self, inputs_dict or {})


class Constant(TensorVariable):
    """A value fixed when the graph is built. Equal constants merge by `signature()`."""

    def __init__(self, type: TensorType, data: Any, name: str | None = None) -> None:
        super().__init__(type, None, None, name)
        arr = np.array(data, dtype=type.dtype)
        arr.setflags(write=False)
        self.data = arr
        self._sig: tuple | None = None

    def signature(self) -> tuple:
        if self._sig is None:
            self._sig = (self.type, self.data.shape, self.data.tobytes())
        return self._sig

    def clone(self) -> Constant:
        return Constant(self.type, self.data, self.name)

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        if self.data.size <= 8:
            return np.array2string(self.data, separator=",")
        return f"Constant{{{self.type}}}"


class SharedVariable(TensorVariable):
    """A slot whose value the runtime keeps on the device between calls."""

    def __init__(self, type: TensorType, value: np.ndarray, name: str | None = None,
                 borrow: bool = False, strict: bool = False,
                 allow_downcast: bool | None = None) -> None:
        super().__init__(type, None, None, name)
        from clgraph.runtime.shared_storage import SharedStorage

        # how set_value filters new values (Theano's Container): kept here, so pickles keep it
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.container = SharedStorage(self, value, borrow=borrow)
        self.default_update: Variable | None = None

    def get_value(self, borrow: bool = False, return_internal_type: bool = False):
        return self.container.get_value(borrow=borrow, return_internal_type=return_internal_type)

    def set_value(self, value: Any, borrow: bool = False) -> None:
        self.container.set_value(value, borrow=borrow)

    def clone(self) -> SharedVariable:
        raise TypeError("shared variables are not cloned: they are the same slot in every graph")

    # Pickled (and deep-copied) with its value as a NumPy array, as Theano does: the device
    # buffer belongs to this process; loading uploads the value to the current device.
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["container"]
        state["value"] = self.get_value()
        return state

    def __setstate__(self, state: dict) -> None:
        from clgraph.runtime.shared_storage import SharedStorage

        state = dict(state)
        value = state.pop("value")
        self.__dict__.update(state)
        self.container = SharedStorage(self, value)

    def __str__(self) -> str:
        return self.name if self.name is not None else f"shared<{self.type}>"
