"""dot, @, outer and tensordot against NumPy, through both Dot22 providers.

Every case lowers to Dot22 plus views, so one compiled function holds many outputs and is
called at several shapes (M, K, N including 0 and 1): one program build per function. Both
providers run here: the OpenCL template (register-blocked kernel; transposed and sliced
operands read in place, or through C^T = B^T A^T, or a copy of B) and the host's BLAS on
mapped buffers (this device's buffers are host memory).
"""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph.lower.gemm import COPY_B_MIN_ROWS, GemmStep

PROVIDERS = ("host", "template")


@pytest.fixture(params=PROVIDERS)
def provider(request):
    with cg.config.change_flags(gemm=request.param):
        yield request.param


def _check(refs: dict, got: list, tol: float = 1e-4, what: str = "") -> None:
    """Each output against its NumPy reference: shape, dtype, values (exact for integers)."""
    for (name, ref), out in zip(refs.items(), got, strict=True):
        ref = np.asarray(ref)
        msg = f"{name} {what}"
        assert out.shape == ref.shape, msg
        assert out.dtype == ref.dtype, msg
        if ref.dtype.kind in "biu":
            np.testing.assert_array_equal(out, ref, err_msg=msg)
        else:
            k = max(ref.size and np.abs(ref).max(), 1.0)
            np.testing.assert_allclose(out, ref, rtol=tol, atol=tol * k, err_msg=msg)


def _family(L, x, y, z, u, v, w, t3, s3, r3) -> dict:
    """Every dot form on symbolic (L = clgraph.tensor) or NumPy (L = numpy) operands."""
    return {
        "vec.vec": L.dot(u, v),
        "mat.vec": L.dot(x, u),
        "vec.mat": L.dot(u, y),
        "mat.mat": L.dot(x, y),
        "method": x.dot(y),
        "matmul": x @ y,
        "matmul_vm": w @ z,
        "matmul_mv": x @ u,
        "xT.z": L.dot(x.T, z),
        "z.yT": L.dot(z, y.T),
        "yT.xT": L.dot(y.T, x.T),
        "x.xT": L.dot(x, x.T),  # one buffer as both operands
        "rows::2": L.dot(x[::2], y),
        "reversed": L.dot(x[:, ::-1], y[::-1]),
        "cols::2": L.dot(x, y[:, ::2]),
        "outer": L.outer(w, u),
        "outer_mat": L.outer(x, u),
        "3d.2d": L.dot(t3, y),
        "3d.vec": L.dot(t3, u),
        "2d.3d": L.dot(x, s3),
        "3d.3d": L.dot(t3, s3),
        "vec.3d": L.dot(u, s3),
        "td_1": L.tensordot(t3, y, axes=1),
        "td_2": L.tensordot(t3, r3, axes=2),
        "td_0": L.tensordot(w, u, axes=0),
        "td_pair": L.tensordot(t3, s3, axes=(2, 1)),
        "td_pairs": L.tensordot(t3, r3, axes=([1, 2], [0, 1])),
        "td_swapped": L.tensordot(x, r3, axes=([1, 0], [1, 0])),
    }


def test_dot_family_float32(provider):
    """Every dot form, views and N-d cases in one function, at shapes with 0s, 1s, edges."""
    x, y, z = T.fmatrix("x"), T.fmatrix("y"), T.fmatrix("z")     # (M,K) (K,N) (M,N)
    u, v, w = T.fvector("u"), T.fvector("v"), T.fvector("w")     # (K,) (K,) (M,)
    t3, s3, r3 = T.ftensor3("t3"), T.ftensor3("s3"), T.ftensor3("r3")  # (2,M,K) (3,K,N) (M,K,N)
    ins = [x, y, z, u, v, w, t3, s3, r3]
    f = cg.function(ins, list(_family(T, *ins).values()))
    rng = np.random.default_rng(7)
    # (M, K, N): 0 and 1 on every axis, tiles moved back at C's edges, and M large enough
    # for the template's B copy (z . y.T).
    for m, k, n in [(7, 5, 9), (1, 1, 1), (0, 3, 4), (3, 0, 4), (4, 3, 0), (1, 6, 1),
                    (COPY_B_MIN_ROWS + 3, 17, 20)]:
        shapes = [(m, k), (k, n), (m, n), (k,), (k,), (m,), (2, m, k), (3, k, n), (m, k, n)]
        vals = [rng.standard_normal(s).astype("float32") for s in shapes]
        refs = _family(np, *vals)
        _check(refs, f(*vals), what=f"at M, K, N = {m}, {k}, {n}")


def test_dtypes(provider):
    """float64, int32, int64, bool and mixed operands: result dtypes as NumPy's."""
    dts = ["float32", "float64", "int32", "int64", "bool"]
    a = {dt: T.matrix(f"a_{dt}", dtype=dt) for dt in dts}     # (M, K)
    b = {dt: T.matrix(f"b_{dt}", dtype=dt) for dt in dts}     # (K, N)
    at = T.matrix("at", dtype="int64")                          # (K, M)
    pairs = [("float64", "float64"), ("int32", "int32"), ("int64", "int64"), ("bool", "bool"),
             ("int32", "float32"), ("float32", "int64"), ("int32", "int64"), ("bool", "int32"),
             ("float32", "float64")]

    def cases(a, b, at):
        out = {f"{p}.{q}": a[p].dot(b[q]) for p, q in pairs}
        out["int64 T"] = at.T.dot(b["int64"])
        out["float64 reversed"] = a["float64"][:, ::-1].dot(b["float64"][::-1])
        return out

    sym = cases(a, b, at)
    f = cg.function([*a.values(), *b.values(), at], list(sym.values()))
    rng = np.random.default_rng(3)

    def draw(shape, dt):
        if dt == "bool":
            return rng.random(shape) < 0.3
        if dt.startswith("int"):
            return rng.integers(-50, 50, shape).astype(dt)
        return rng.standard_normal(shape).astype(dt)

    for m, k, n in [(5, 7, 6), (COPY_B_MIN_ROWS + 1, 3, 33), (2, 0, 3), (1, 1, 1)]:
        av = {dt: draw((m, k), dt) for dt in dts}
        bv = {dt: draw((k, n), dt) for dt in dts}
        atv = draw((k, m), "int64")
        _check(cases(av, bv, atv), f(*av.values(), *bv.values(), atv), tol=1e-5,
               what=f"at M, K, N = {m}, {k}, {n}")


def test_many_work_groups(provider):
    """300 x 129 . 129 x 257: many work-groups, edge tiles on both axes, all layouts."""
    x, y = T.fmatrix("x"), T.fmatrix("y")
    rng = np.random.default_rng(11)
    a = rng.standard_normal((300, 129)).astype("float32")
    b = rng.standard_normal((129, 257)).astype("float32")
    at, bt = np.ascontiguousarray(a.T), np.ascontiguousarray(b.T)
    xt, yt = T.fmatrix("xt"), T.fmatrix("yt")
    cases = {
        "nn": (T.dot(x, y), a @ b),
        "tn": (T.dot(xt.T, y), a @ b),
        "nt": (T.dot(x, yt.T), a @ b),
        "tt": (T.dot(xt.T, yt.T), a @ b),
        "sliced": (T.dot(x[1::3, 2:], y[2:, ::-2]), a[1::3, 2:] @ b[2:, ::-2]),
        # Fewer rows than the B copy needs: B's strided rows read element by element.
        "few_rows_cols::2": (T.dot(x[:12], y[:, ::2]), a[:12] @ b[:, ::2]),
        "few_rows_nt": (T.dot(x[:7], yt.T), a[:7] @ b),
    }
    f = cg.function([x, y, xt, yt], [c[0] for c in cases.values()])
    _check({name: ref for name, (_, ref) in cases.items()}, f(a, b, at, bt), tol=1e-5)


def test_provider_choice():
    x, y = T.fmatrix("x"), T.fmatrix("y")
    with cg.config.change_flags(gemm="auto"):
        f = cg.function([x, y], T.dot(x, y))
    (step,) = [s for s in f.plan.steps if isinstance(s, GemmStep)]
    assert step.provider == ("host" if f.ctx.is_cpu and f.ctx.host_unified_memory
                             else "template")
    with cg.config.change_flags(gemm="template"):
        f = cg.function([x, y], T.dot(x, y))
    assert any("dot22" in k and "__kernel" in k for k in f.kernels())
    with cg.config.change_flags(gemm="host"):
        f = cg.function([x, y], T.dot(x, y))
    assert not f.kernels()
    np.testing.assert_allclose(f(np.eye(3, dtype="f4"), np.ones((3, 2), "f4")), np.ones((3, 2)))


def test_misaligned_static_shapes_fail_at_build():
    a = T.tensor("float32", shape=(3, 4), name="a")
    b = T.tensor("float32", shape=(5, 2), name="b")
    v = T.tensor("float32", shape=(5,), name="v")
    t = T.tensor("float32", shape=(2, 3, 7), name="t")
    for build, first, second in [
        (lambda: T.dot(a, b), "(3, 4)", "(5, 2)"),
        (lambda: a @ b, "(3, 4)", "(5, 2)"),
        (lambda: T.dot(a, v), "(3, 4)", "(5,)"),
        (lambda: T.dot(v, a), "(5,)", "(3, 4)"),
        (lambda: T.dot(t, b), "(2, 3, 7)", "(5, 2)"),
        (lambda: T.tensordot(a, t, axes=([1], [2])), "(3, 4)", "(2, 3, 7)"),
    ]:
        with pytest.raises(ValueError, match="not aligned") as info:
            build()
        assert first in str(info.value) and second in str(info.value), str(info.value)


def test_misaligned_runtime_shapes(provider):
    x, y = T.fmatrix("x"), T.fmatrix("y")
    f = cg.function([x, y], T.dot(x, y))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\).*not aligned"):
        f(np.ones((3, 4), "f4"), np.ones((5, 2), "f4"))


@pytest.mark.parametrize("threadpoolctl", ["installed", "missing"])
def test_host_blas_thread_limit(monkeypatch, threadpoolctl):
    """The host product caps BLAS threads for small products (threadpoolctl) and restores
    them after; without threadpoolctl it runs unchanged."""
    import sys

    import clgraph.lower.gemm as gemm

    monkeypatch.setattr(gemm, "_blas_controller", [])
    if threadpoolctl == "missing":
        monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    seen = []
    real_dot = np.dot

    def spy_dot(*args, **kwargs):
        ctl = gemm._blas_controller[0]
        seen.append(None if ctl is None else
                    max((i["num_threads"] for i in ctl.info() if i["user_api"] == "blas"),
                        default=None))
        return real_dot(*args, **kwargs)

    monkeypatch.setattr(gemm.np, "dot", spy_dot)
    rng = np.random.default_rng(0)
    a, b = rng.random((7, 5), dtype=np.float32), rng.random((5, 3), dtype=np.float32)
    x, y = T.fmatrix(), T.fmatrix()
    with cg.config.change_flags(gemm="host", host_blas_threads=1):
        fn = cg.function([x, y], T.dot(x, y))
        np.testing.assert_allclose(fn(a, b), a @ b, rtol=1e-5)
    assert seen, "the host product did not run"
    if threadpoolctl == "missing":
        assert gemm._blas_controller == [None]
    elif seen[0] is not None:  # a BLAS library that threadpoolctl knows is loaded
        assert seen[0] == 1
