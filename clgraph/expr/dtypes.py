"""Dtype rules: which dtypes exist, how they promote, and their OpenCL names.

NumPy's promotion is the rule, with Theano's exceptions (API.md "Semantics that Theano fixes"):
Python float constants take floatX, `int / int` gives a float, and integer inputs of
transcendental functions become float32 (≤16 bits) or float64 (wider), as Theano's
`upgrade_to_float` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ALL_DTYPES = ("bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
              "float32", "float64")
FLOAT_DTYPES = ("float32", "float64")
INT_DTYPES = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")
DISCRETE_DTYPES = ("bool",) + INT_DTYPES

# OpenCL C name of the element type in memory. bool is stored as one byte, 0 or 1.
_CL_NAMES = {
    "bool": "uchar", "int8": "char", "uint8": "uchar", "int16": "short", "uint16": "ushort",
    "int32": "int", "uint32": "uint", "int64": "long", "uint64": "ulong",
    "float32": "float", "float64": "double",
}


def check_dtype(dtype: object, what: str = "dtype") -> str:
    """Normalise a dtype-like to its NumPy name; reject ones clgraph cannot run."""
    try:
        name = np.dtype(dtype).name  # type: ignore[arg-type]
    except TypeError as e:
        raise TypeError(f"{what}: {dtype!r} is not a dtype") from e
    if name not in _CL_NAMES:
        raise TypeError(f"{what}: dtype {name} is not supported; expected one of "
                        f"{', '.join(ALL_DTYPES)}")
    return name


def cl_type(dtype: str, width: int = 1) -> str:
    """OpenCL C type of `dtype`, as a vector of `width` when width > 1."""
    base = _CL_NAMES[dtype]
    return base if width == 1 else f"{base}{width}"


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


def is_int(dtype: str) -> bool:
    return dtype in INT_DTYPES


def is_signed(dtype: str) -> bool:
    return dtype.startswith("int") or dtype.startswith("float")


def upcast(*dtypes: str) -> str:
    """NumPy's result dtype of combining arrays of these dtypes."""
    return np.result_type(*[np.dtype(d) for d in dtypes]).name


def upgrade_to_float(dtype: str) -> str:
    """Theano's rule for functions that need a float: small ints → float32, others → float64."""
    if is_float(dtype):
        return dtype
    if dtype in ("bool", "int8", "uint8", "int16", "uint16"):
        return "float32"
    return "float64"


def true_div_dtype(a: str, b: str) -> str:
    """`/` result: floats upcast; int/int gives floatX when both fit in 32 bits, else float64."""
    from clgraph.config import config

    out = upcast(a, b)
    if is_float(out):
        return out
    if np.dtype(a).itemsize <= 4 and np.dtype(b).itemsize <= 4:
        return config.floatX
    return "float64"


def python_scalar_dtype(value: object) -> str:
    """Dtype of a Python scalar constant: floats take floatX (Theano), ints the smallest of
    int8..int64 that holds them, so `x_int8 + 1` stays int8 as in NumPy's value-based rules."""
    from clgraph.config import config

    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.integer):
        for d in ("int8", "int16", "int32", "int64"):
            info = np.iinfo(d)
            if info.min <= value <= info.max:
                return d
        return "uint64"
    if isinstance(value, float):
        return config.floatX
    if isinstance(value, complex):
        raise TypeError(f"complex value {value!r} is not supported")
    return check_dtype(np.asarray(value).dtype)


def exact_cast(arr: np.ndarray, want: np.dtype) -> bool:
    """Whether converting the array `arr` to dtype `want` keeps every value (NaN stays NaN)."""
    with np.errstate(all="ignore"):
        converted = arr.astype(want)
    nan_ok = arr.dtype.kind in "fc" and want.kind in "fc"  # a NaN stays a NaN
    return bool(np.array_equal(converted, arr, equal_nan=nan_ok))


def filter_accepts(value: Any, arr: np.ndarray, want: np.dtype,
                   allow_downcast: bool | None = None) -> bool:
    """Theano's filter (TensorType.filter) for `value`, converted to `arr`, going into a
    `want` variable: a safe cast; with allow_downcast=None, a Python float (only `float`
    itself: NumPy's float64 subclasses it) into a floatX variable (lr = 0.05); a value that
    is not an array (a list, a Python or NumPy number) whose values the conversion keeps."""
    from clgraph.config import config

    if np.can_cast(arr.dtype, want, casting="safe"):
        return True
    if allow_downcast is None and type(value) is float and want == np.dtype(config.floatX):
        return True
    return not isinstance(value, np.ndarray) and exact_cast(arr, want)
