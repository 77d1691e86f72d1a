"""Every differentiable row of the elementwise op table (`cases.py`, grad=True) against
central finite differences, in float64, with respect to each input.

All rows run in one function (the outputs) and one more (their vector-Jacobian products
with fixed random weights, through known_grads); the differences perturb one element of
input k of every row at once (rows are independent), so a whole sweep is 2 * n_inputs * N
calls. Inputs are drawn away from kinks and poles, where a derivative is not the limit of
differences (abs at 0, ties of maximum, clip's bounds, mod's jumps, tan's and gamma's poles).
"""

from __future__ import annotations

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T

from .cases import CASES, FLOATS, OpCase

N = 6  # elements per input


def _eps(case: OpCase) -> float:
    # cast_float32 rounds to ~1e-7: a step of 1e-6 would see its steps (it is linear)
    return 1e-2 if case.name == "cast_float32" else 1e-6

# Open intervals per input domain, chosen inside each function's smooth region.
SMOOTH = {"any": (0.2, 2.5), "positive": (0.2, 4.0), "unit": (-0.8, 0.8), "ge1": (1.2, 4.0),
          "nonzero": (0.5, 3.0), "small": (0.5, 2.5), "exponent": (-2.0, 2.0),
          "near0": (0.2, 2.5)}
# Rows whose smooth region is narrower than their domain's.
OVERRIDE = {"tan": [(-1.2, 1.2)], "mod": [(0.2, 2.5), (3.0, 4.0)],
            "op_mod": [(0.2, 2.5), (3.0, 4.0)]}


def _rows() -> list[OpCase]:
    return [c for c in CASES if c.grad and "float64" in c.dtypes and
            not c.name.startswith("cast_") or c.name in ("cast_float32", "cast_float64")]


def _draw(case: OpCase, k: int, dom: str, rng) -> np.ndarray:
    lo, hi = OVERRIDE.get(case.name, [None] * 3)[k] or SMOOTH[dom]
    v = rng.uniform(lo, hi, N)
    # signs mixed where the region allows; kinks at 0 stay away by lo > 0
    if lo > 0 and dom in ("any", "nonzero", "near0") and case.name not in (
            "mod", "op_mod", "gamma", "gammaln", "psi"):
        v *= rng.choice([-1.0, 1.0], N)
    return v


def _inputs(case: OpCase, rng) -> list[np.ndarray]:
    vals = [_draw(case, k, dom, rng) for k, dom in enumerate(case.domains)]
    if case.name == "clip":  # x away from its bounds: lo in (-3, -2.5), hi in (2.6, 3)
        vals[1] = -rng.uniform(2.6, 3.0, N)
        vals[2] = rng.uniform(2.6, 3.0, N)
        vals[0] = np.where(rng.random(N) < 0.3, rng.choice([-4.0, 4.0], N), vals[0])
    if case.name in ("maximum", "minimum"):
        vals[1] = vals[0] + rng.choice([-1.0, 1.0], N) * rng.uniform(0.1, 1.0, N)
    if case.name in ("switch", "where"):
        vals[0] = rng.choice([-1.0, 0.0, 2.0], N)  # the condition: far from a change
    return vals


@pytest.mark.parametrize("seed", [0, 1])
def test_elementwise_gradients_match_finite_differences(seed):
    rng = np.random.default_rng(seed)
    rows = _rows()
    assert len(rows) > 40
    syms, outs, data = [], [], []
    for case in rows:
        xs = [T.dvector(f"{case.name}_{k}") for k in range(case.n_inputs)]
        syms.append(xs)
        outs.append(T.cast(case.build(*xs), "float64"))
        data.append(_inputs(case, rng))
    flat_syms = [x for xs in syms for x in xs]
    f_out = cg.function(flat_syms, outs)
    weights = [rng.standard_normal(N) for _ in rows]
    grads = []
    for xs, out, w in zip(syms, outs, weights, strict=True):
        grads += cg.grad(None, xs, known_grads={out: T.constant(w)},
                         disconnected_inputs="ignore")
    f_grad = cg.function(flat_syms, grads, on_unused_input="ignore")

    def flat(values):
        return [v for vs in values for v in vs]

    got = f_grad(*flat(data))
    num = [[np.zeros(N) for _ in range(c.n_inputs)] for c in rows]
    for k in range(max(c.n_inputs for c in rows)):
        for pos in range(N):
            costs = []
            for sign in (1, -1):
                moved = [[v.copy() for v in vs] for vs in data]
                for c, vs in zip(rows, moved, strict=True):
                    if k < c.n_inputs:
                        vs[k][pos] += sign * _eps(c) * max(1.0, abs(vs[k][pos]))
                costs.append([float(np.dot(o, w)) for o, w in
                              zip(f_out(*flat(moved)), weights, strict=True)])
            for r, c in enumerate(rows):
                if k < c.n_inputs:
                    h = _eps(c) * max(1.0, abs(data[r][k][pos]))
                    num[r][k][pos] = (costs[0][r] - costs[1][r]) / (2 * h)
    it = iter(got)
    for case, vals, ref in zip(rows, data, num, strict=True):
        for k in range(case.n_inputs):
            np.testing.assert_allclose(next(it), ref[k], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{case.name}: d/d input {k} at {vals}")


def test_float32_rows_give_float32_gradients():
    x = T.fvector("x")
    for case in _rows():
        if case.n_inputs != 1 or "float32" not in case.dtypes or case.name == "cast_float64":
            continue
        g = cg.grad(T.sum(T.cast(case.build(x), "float32")), x)
        assert g.dtype == "float32", case.name


assert set(FLOATS) == {"float32", "float64"}
