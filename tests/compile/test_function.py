"""function(): inputs, outputs, updates, givens, Out, eval, and bad calls."""

from __future__ import annotations

import numpy as np
import pyopencl.array as cl_array
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.compile.function import MissingInputError, UnusedInputError
from clgraph.runtime.device import DeviceMemoryError, get_context


def test_single_and_list_outputs():
    x = T.fvector("x")
    f = cg.function([x], x * 2)
    g = cg.function([x], [x * 2, x + 1])
    a = np.arange(5, dtype="float32")
    assert isinstance(f(a), np.ndarray)
    np.testing.assert_array_equal(f(a), a * 2)
    out = g(a)
    assert isinstance(out, list) and len(out) == 2
    np.testing.assert_array_equal(out[1], a + 1)


def test_shared_updates_and_swap():
    a = cg.shared(np.arange(3, dtype="float32"), name="a")
    b = cg.shared(np.arange(3, 6, dtype="float32"), name="b")
    swap = cg.function([], [], updates=[(a, b), (b, a)])
    swap()
    np.testing.assert_array_equal(a.get_value(), [3, 4, 5])
    np.testing.assert_array_equal(b.get_value(), [0, 1, 2])
    # Updates see old values: outputs and both updates read the values from before the call.
    step = cg.function([], a + b, updates={a: a + 1, b: a * 10})
    np.testing.assert_array_equal(step(), [3, 5, 7])
    np.testing.assert_array_equal(a.get_value(), [4, 5, 6])
    np.testing.assert_array_equal(b.get_value(), [30, 40, 50])


def test_shared_stays_on_device_and_accumulates():
    w = cg.shared(np.zeros(4, dtype="float64"), name="w")
    x = T.dvector("x")
    acc = cg.function([x], w, updates=[(w, w + x)])
    for _ in range(3):
        acc(np.ones(4))
    np.testing.assert_array_equal(w.get_value(), [3, 3, 3, 3])
    w.set_value(np.full(4, 7.0))
    np.testing.assert_array_equal(acc(np.ones(4)), [7, 7, 7, 7])


def test_givens_replace_inputs():
    x = T.fvector("x")
    y = T.fvector("y")
    data = cg.shared(np.arange(4, dtype="float32"))
    f = cg.function([y], x * y, givens={x: data})
    np.testing.assert_array_equal(f(np.ones(4, "float32")), [0, 1, 2, 3])


def test_minibatch_slice_with_symbolic_index():
    data = cg.shared(np.arange(20, dtype="float32").reshape(10, 2))
    i = T.lscalar("i")
    f = cg.function([i], data[i * 2:(i + 1) * 2] * 1)
    np.testing.assert_array_equal(f(1), np.arange(20, dtype="float32").reshape(10, 2)[2:4])
    np.testing.assert_array_equal(f(4), np.arange(20, dtype="float32").reshape(10, 2)[8:10])


def test_device_array_inputs_and_borrowed_outputs():
    ctx = get_context()
    x = T.fmatrix("x")
    f = cg.function([x], cg.Out(x + 1, borrow=True))
    host = np.arange(12, dtype="float32").reshape(3, 4)
    dev = cl_array.to_device(ctx.queue, host)
    out = f(dev)
    assert isinstance(out, cl_array.Array)
    np.testing.assert_array_equal(out.get(), host + 1)
    # A non-contiguous device array (a pyopencl view) is copied to a contiguous buffer first.
    np.testing.assert_array_equal(f(dev[1:]).get(), host[1:] + 1)


# Views of a (3, 4, 5) array: transposed, sliced, stepped and reversed device arrays.
STRIDED_VIEWS = {
    "transpose": lambda a: a.transpose((2, 0, 1)),
    "column_slice": lambda a: a[:, :, 1:3],
    "stepped": lambda a: a[:, ::2, ::2],
    "reversed_rows": lambda a: a[:, ::-1],
    "reversed_inner": lambda a: a[1:, :, ::-1],
    "slice_of_transpose": lambda a: a.transpose((1, 2, 0))[1:, :, 1:],
}


@pytest.mark.parametrize("view", STRIDED_VIEWS.values(), ids=STRIDED_VIEWS.keys())
def test_strided_device_arrays_are_read_as_their_values(view):
    x = T.ftensor3("x")
    f = cg.function([x], x * 2 + 1)
    host = np.arange(60, dtype="float32").reshape(3, 4, 5)
    dev = view(cl_array.to_device(get_context().queue, host))
    assert not dev.flags.c_contiguous or dev.offset
    np.testing.assert_array_equal(f(dev), view(host) * 2 + 1)


def test_borrowed_transposed_output_goes_back_in():
    m = T.fmatrix("m")
    f = cg.function([m], m * 2)
    g = cg.function([m], cg.Out(m.T, borrow=True))
    host = np.arange(6, dtype="float32").reshape(2, 3)
    dev = g(host)
    assert dev.strides == (4, 12)
    np.testing.assert_array_equal(f(dev), host.T * 2)


def test_strided_device_array_of_another_dtype_is_cast_by_value():
    # pyopencl's own astype reads a transposed array as if it were contiguous
    m = T.fmatrix("m")
    f = cg.function([m], m + 0.5)
    host = np.arange(20, dtype="int16").reshape(4, 5)
    dev = cl_array.to_device(get_context().queue, host)
    np.testing.assert_array_equal(f(dev.T), host.T + np.float32(0.5))
    np.testing.assert_array_equal(f(dev[:, 1:3]), host[:, 1:3] + np.float32(0.5))


@pytest.mark.parametrize("dtype", ["int8", "int64", "bool"])
def test_strided_device_arrays_of_other_dtypes(dtype):
    m = T.matrix("m", dtype=dtype)
    f = cg.function([m], cg.Out(m * 1, borrow=False))
    host = (np.arange(20).reshape(4, 5) % 3).astype(dtype)
    dev = cl_array.to_device(get_context().queue, host)
    np.testing.assert_array_equal(f(dev[::-1, 1::2]), host[::-1, 1::2] * 1)
    assert f(dev[:, 2:2]).shape == (4, 0)


def test_python_scalars_and_kwargs():
    x = T.fscalar("x")
    y = T.fscalar("y")
    f = cg.function([x, y], x - y)
    assert f(3.0, 1) == 2.0
    assert f(y=1.0, x=5.0) == 4.0


def test_eval():
    x = T.dvector("x")
    np.testing.assert_array_equal((x * 3).eval({x: np.arange(3.0)}), [0, 3, 6])
    assert T.constant(2.0).eval() == 2.0


def test_wrong_argument_count():
    x = T.fvector("x")
    f = cg.function([x], x)
    with pytest.raises(TypeError, match="takes 1 argument"):
        f()
    with pytest.raises(TypeError, match="takes 1 argument"):
        f(np.ones(2, "f4"), np.ones(2, "f4"))


def test_wrong_ndim_names_input():
    x = T.fvector("xin")
    f = cg.function([x], x)
    with pytest.raises(TypeError, match="'xin'.*expects 1 dimension"):
        f(np.ones((2, 2), "f4"))


def test_downcast_refused_unless_allowed():
    x = T.fvector("x")
    f = cg.function([x], x * 2)
    with pytest.raises(TypeError, match="allow_input_downcast"):
        f(np.ones(3, "float64"))
    g = cg.function([x], x * 2, allow_input_downcast=True)
    np.testing.assert_array_equal(g(np.ones(3, "float64")), [2, 2, 2])
    # Safe casts are fine: int16 -> float32.
    np.testing.assert_array_equal(f(np.ones(3, "int16")), [2, 2, 2])


def test_lists_go_in_when_converting_them_changes_no_value():
    """Theano's rule for values that are not arrays: a list converted to the input's dtype
    is accepted when no value changes (an ndarray of a wider dtype is still refused)."""
    x, i = T.fvector("x"), T.ivector("i")
    f, g = cg.function([x], x * 2), cg.function([i], i + 1)
    np.testing.assert_array_equal(f([1.0, 2.5, float("nan")]), [2, 5, np.nan])
    np.testing.assert_array_equal(g([1, 2]), [2, 3])
    for fn, value in ((f, [1.1]), (g, [2 ** 40]), (g, [1.5])):
        with pytest.raises(TypeError, match="allow_input_downcast"):
            fn(value)


def test_shape_mismatch_raises_before_enqueue_and_keeps_state():
    w = cg.shared(np.zeros(3, dtype="float32"), name="w")
    x = T.fvector("x")
    y = T.fvector("y")
    f = cg.function([x, y], x + y, updates=[(w, w + 1)])
    with pytest.raises(ValueError, match="broadcast"):
        f(np.ones(3, "f4"), np.ones(4, "f4"))
    np.testing.assert_array_equal(w.get_value(), [0, 0, 0])
    np.testing.assert_array_equal(f(np.ones(3, "f4"), np.ones(3, "f4")), [2, 2, 2])
    np.testing.assert_array_equal(w.get_value(), [1, 1, 1])


def test_runtime_length_one_needs_declared_broadcast():
    x = T.fmatrix("x")
    y = T.fmatrix("y")
    f = cg.function([x, y], x + y)
    with pytest.raises(ValueError, match="addbroadcast"):
        f(np.ones((1, 3), "f4"), np.ones((2, 3), "f4"))
    r = T.tensor("float32", shape=(1, None), name="r")
    g = cg.function([r, y], r + y)
    np.testing.assert_array_equal(g(np.ones((1, 3), "f4"), np.ones((2, 3), "f4")),
                                  np.full((2, 3), 2, "f4"))


def test_static_shape_checked_at_call():
    x = T.tensor("float32", shape=(None, 3), name="x")
    f = cg.function([x], x * 2)
    with pytest.raises(ValueError, match="axis 1 to length 3"):
        f(np.ones((2, 4), "f4"))


def test_unused_and_missing_inputs():
    x = T.fvector("x")
    y = T.fvector("y")
    with pytest.raises(UnusedInputError):
        cg.function([x, y], x * 2)
    cg.function([x, y], x * 2, on_unused_input="ignore")
    with pytest.raises(MissingInputError, match="y"):
        cg.function([x], x + y)


def test_bad_updates():
    a = cg.shared(np.zeros(3, "float32"))
    x = T.fvector("x")
    with pytest.raises(TypeError, match="not a shared variable"):
        cg.function([x], x, updates=[(x, x + 1)])
    with pytest.raises(TypeError, match="dtype float64"):
        cg.function([], a, updates=[(a, a * np.float64(2).astype("float64") +
                                     T.constant(np.zeros(3, "float64")))])


def test_shared_set_value_checks():
    a = cg.shared(np.zeros((2, 2), "float32"), name="a")
    with pytest.raises(ValueError, match="shape"):
        a.set_value(np.zeros(3, "float32"))
    with pytest.raises(TypeError, match="precision"):
        a.set_value(np.zeros((2, 2), "float64"))
    a.set_value(np.ones((2, 2), "float32"))
    np.testing.assert_array_equal(a.get_value(), np.ones((2, 2)))


def test_build_time_shape_error_names_both_shapes():
    x = T.tensor("float32", shape=(3,), name="x")
    y = T.tensor("float32", shape=(4,), name="y")
    with pytest.raises(ValueError, match=r"x of shape \(3,\).*y of shape \(4,\)"):
        x + y


def test_set_value_follows_theanos_filter():
    """set_value takes safe casts, Python floats into float variables (lr.set_value(0.05))
    and lists whose values the conversion keeps; a lossy array is refused (it was cast:
    int64 1000 into int8 wrapped to -24)."""
    s = cg.shared(np.array([1, 2], "int8"), name="s")
    with pytest.raises(TypeError, match="int64 cannot be stored in a int8"):
        s.set_value(np.array([1000, 2], "int64"))
    s.set_value([3, -4])
    np.testing.assert_array_equal(s.get_value(), [3, -4])
    assert s.get_value().dtype == np.int8
    f = cg.shared(np.zeros(2, "float32"), name="f")
    with pytest.raises(TypeError, match="int32 cannot be stored"):
        f.set_value(np.array([2 ** 24 + 1, 0], "int32"))
    f.set_value(np.array([1, 2], "int16"))  # safe
    lr = cg.shared(np.float32(0.1), name="lr")
    lr.set_value(0.05)
    assert lr.get_value().dtype == np.float32 and np.isclose(lr.get_value(), 0.05)


@pytest.fixture
def small_device_limit(monkeypatch):
    """The device's largest buffer (CL_DEVICE_MAX_MEM_ALLOC_SIZE) made 1 KiB."""
    monkeypatch.setattr(get_context(), "max_alloc_bytes", 1024)


def test_input_over_the_device_allocation_limit_is_a_clear_error(small_device_limit):
    x = T.fvector("x")
    w = cg.shared(np.zeros(4, "float32"), name="w")
    f = cg.function([x], x.sum() + w, updates=[(w, w + 1)])
    np.testing.assert_array_equal(f(np.ones(256, "float32")), np.full(4, 256, "float32"))
    with pytest.raises(DeviceMemoryError) as info:
        f(np.ones(300, "float32"))
    message = str(info.value)
    assert isinstance(info.value, MemoryError)
    assert "input x (shape (300,), dtype float32) needs 1200 bytes" in message
    assert "CL_DEVICE_MAX_MEM_ALLOC_SIZE is 1024 bytes" in message
    assert get_context().name in message
    np.testing.assert_array_equal(w.get_value(), np.ones(4, "float32"))  # left as it was
    np.testing.assert_array_equal(f(np.ones(3, "float32")), np.full(4, 4, "float32"))


def test_intermediate_over_the_device_allocation_limit_names_its_node(small_device_limit):
    x = T.fvector("x")
    f = cg.function([x], x[:, None] * x[None, :] + 1)
    np.testing.assert_array_equal(f(np.ones(16, "float32")), np.full((16, 16), 2, "float32"))
    with pytest.raises(DeviceMemoryError, match=r"shape \(20, 20\), dtype float32\) needs "
                       r"1600 bytes[\s\S]*Apply node that caused the error"):
        f(np.ones(20, "float32"))


def test_shared_value_over_the_device_allocation_limit_is_refused(small_device_limit):
    w = cg.shared(np.arange(4, dtype="float32"), name="w")
    with pytest.raises(DeviceMemoryError, match=r"shared variable w \(shape \(300,\), dtype "
                       r"float32\) needs 1200 bytes"):
        w.set_value(np.ones(300, "float32"))
    np.testing.assert_array_equal(w.get_value(), np.arange(4, dtype="float32"))
