"""clgraph.compat.theano: Theano scripts run on clgraph with one import added (API.md)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

import clgraph as cg

# The classic Theano logistic regression (deeplearning.net tutorial), written the Theano way.
LOGREG = textwrap.dedent("""
    import numpy
    import theano
    import theano.tensor as T

    rng = numpy.random.RandomState(0)
    N, feats = 200, 20
    true_w = rng.randn(feats)
    xs = rng.randn(N, feats).astype(theano.config.floatX)
    ys = (xs.dot(true_w) > 0).astype(theano.config.floatX)
    D = (xs, ys)
    training_steps = 150

    x = T.matrix("x")
    y = T.vector("y")
    w = theano.shared(rng.randn(feats).astype(theano.config.floatX) * 0.01, name="w")
    b = theano.shared(numpy.asarray(0., dtype=theano.config.floatX), name="b")

    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.001 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])

    train = theano.function(inputs=[x, y], outputs=[prediction, cost],
                            updates=[(w, w - 0.5 * gw), (b, b - 0.5 * gb)])
    predict = theano.function(inputs=[x], outputs=prediction)

    first_cost = None
    for i in range(training_steps):
        pred, err = train(D[0], D[1])
        if first_cost is None:
            first_cost = float(err)
    last_cost = float(err)
    accuracy = float((predict(D[0]) == D[1]).mean())
    print("accuracy", accuracy, "cost", first_cost, last_cost)
""")


@pytest.fixture
def compat():
    """Install clgraph.compat.theano for one test; remove every `theano*` module afterwards."""
    before = {n: m for n, m in sys.modules.items() if n == "theano" or n.startswith("theano.")}
    mod = importlib.import_module("clgraph.compat.theano")
    mod.install()
    yield mod
    mod.uninstall()
    for name in [n for n in sys.modules if n == "theano" or n.startswith("theano.")]:
        del sys.modules[name]
    sys.modules.update(before)


def test_logistic_regression_script_runs_unchanged_and_learns(compat):
    ns: dict = {}
    exec(compile("import clgraph.compat.theano\n" + LOGREG, "<theano-script>", "exec"), ns)
    assert ns["last_cost"] < 0.5 * ns["first_cost"]
    assert ns["accuracy"] >= 0.95
    assert ns["w"].get_value().dtype == np.dtype(cg.config.floatX)


def test_script_in_fresh_interpreter(tmp_path):
    """The import alone installs the names (no install() call), in a clean process."""
    script = tmp_path / "logreg.py"
    script.write_text("import clgraph.compat.theano  # the only line added\n" + LOGREG)
    env = dict(os.environ)
    env["CLGRAPH_FLAGS"] = ",".join(filter(None, [env.get("CLGRAPH_FLAGS"),
                                                  f"compiledir={cg.config.compiledir}"]))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    accuracy = float(out.stdout.split()[1])
    assert accuracy >= 0.95, out.stdout


@pytest.mark.parametrize("name,attrs", [
    ("theano", ["function", "shared", "Out", "In", "Param", "grad", "Rop", "Lop", "config",
                "scan", "tensor"]),
    ("theano.tensor", ["fmatrix", "matrix", "vector", "dot", "grad", "switch", "nnet", "Rop",
                       "Lop", "jacobian", "hessian", "verify_grad", "consider_constant"]),
    ("theano.tensor.nnet", ["sigmoid", "softmax", "conv2d", "relu",
                            "categorical_crossentropy", "binary_crossentropy", "bn"]),
    ("theano.tensor.nnet.bn", ["batch_normalization_train"]),
    ("theano.tensor.signal", ["pool"]),
    ("theano.tensor.signal.pool", ["pool_2d"]),
    ("theano.ifelse", ["ifelse"]),
    ("theano.scan_module", ["scan", "until", "map", "reduce", "foldl", "foldr"]),
    ("theano.printing", ["debugprint", "pp", "pydotprint"]),
    ("theano.gradient", ["grad", "verify_grad", "jacobian", "disconnected_grad", "grad_scale",
                         "undefined_grad", "zero_grad", "grad_clip"]),
    ("theano.sandbox.rng_mrg", ["MRG_RandomStreams"]),
    ("theano.tensor.shared_randomstreams", ["RandomStreams"]),
    ("theano.compile", ["function", "Mode", "NanGuardMode", "DebugMode", "In", "Param"]),
    ("theano.compile.mode", ["Mode", "NanGuardMode"]),
    ("theano.compile.nanguardmode", ["NanGuardMode"]),
])
def test_module_names_resolve(compat, name, attrs):
    module = importlib.import_module(name)
    assert isinstance(module, types.ModuleType) and module.__name__ == name
    assert sys.modules[name] is module
    for attr in attrs:
        assert getattr(module, attr) is not None, (name, attr)


def test_aliases_are_clgraphs(compat):
    import theano
    import theano.tensor as T
    from theano.compile.nanguardmode import NanGuardMode
    from theano.sandbox.rng_mrg import MRG_RandomStreams
    from theano.tensor.shared_randomstreams import RandomStreams
    from theano.tensor.signal.pool import pool_2d

    import clgraph.tensor as CT

    assert theano.function is cg.function
    # Theano's positional order (value, name, strict, allow_downcast), else cg.shared
    assert theano.shared(np.zeros(2), "w", True).strict
    assert theano.Out is cg.Out and theano.grad is T.grad is cg.grad
    assert theano.config is cg.config
    assert T.fmatrix is CT.fmatrix and T.nnet.sigmoid is CT.nnet.sigmoid
    assert T.nnet.conv2d is CT.nnet.conv2d and pool_2d is CT.signal.pool.pool_2d
    assert MRG_RandomStreams is RandomStreams is CT.random.RandomStreams
    assert NanGuardMode is cg.compile.NanGuardMode
    assert theano.compile.mode.Mode is cg.compile.Mode
    assert theano.gradient.verify_grad is cg.gradient.verify_grad
    assert theano.printing.debugprint is cg.printing.debugprint
    assert theano.Rop is T.Rop is cg.gradient.Rop and theano.Lop is T.Lop is cg.gradient.Lop
    assert T.jacobian is cg.gradient.jacobian and T.hessian is cg.gradient.hessian
    assert T.verify_grad is cg.gradient.verify_grad
    assert T.consider_constant is cg.gradient.consider_constant
    assert theano.gradient.grad_scale is cg.gradient.grad_scale
    assert theano.gradient.undefined_grad is cg.gradient.undefined_grad


def test_missing_names_say_so(compat):
    import theano

    with pytest.raises(AttributeError, match="'OpFromGraph'.*clgraph"):
        theano.OpFromGraph  # noqa: B018 - clgraph has no OpFromGraph
    assert theano.In is cg.In and theano.compile.In is cg.In  # implemented now
    assert theano.scan is cg.scan  # implemented now (tests/ops/test_scan.py)
    assert (theano.map, theano.reduce, theano.foldl, theano.foldr) == \
        (cg.map, cg.reduce, cg.foldl, cg.foldr)


def test_theano_in_accumulator_program(compat):
    """Theano's tutorial accumulator with In: a state updated every call, a default by name."""
    import theano
    import theano.tensor as T
    from theano import In

    inc = T.dscalar("inc")
    step = T.dscalar("step")
    total = T.dscalar("total")
    acc = theano.function([In(inc, value=1.0), In(step, value=2.0, name="scale"),
                           In(total, value=0.0, update=total + inc * step)], total)
    assert [acc(), acc(), acc(3.0, scale=1.0)] == [0.0, 2.0, 4.0]
    assert acc["total"] == 7.0


def test_theano_scan_program(compat):
    """A Theano-style recurrence: a cumulative product through theano.scan, and its gradient."""
    import theano
    import theano.tensor as T

    x = T.vector("x")
    prods, updates = theano.scan(lambda v, acc: v * acc, sequences=x,
                                 outputs_info=T.ones_like(x[0]))
    assert not updates
    f = theano.function([x], [prods, T.grad(prods[-1], x)])
    xv = np.array([2.0, 3.0, 0.5, 4.0], dtype=cg.config.floatX)
    got, g = f(xv)
    np.testing.assert_allclose(got, np.cumprod(xv), rtol=1e-6)
    np.testing.assert_allclose(g, np.prod(xv) / xv, rtol=1e-5)


def test_theano_while_loop(compat):
    """theano.scan_module.until: a doubling loop that stops once past a bound."""
    import theano
    import theano.tensor as T
    from theano.scan_module import until

    x0 = T.dscalar("x0")
    vals, _ = theano.scan(lambda p: (p * 2, until(p * 2 > 50)), outputs_info=x0, n_steps=100)
    np.testing.assert_allclose(theano.function([x0], vals)(3.0), [6, 12, 24, 48, 96])


def test_config_floatx(compat):
    import theano
    import theano.tensor as T

    assert theano.config.floatX == cg.config.floatX
    with cg.config.change_flags(floatX="float64"):
        assert theano.config.floatX == "float64"
        assert T.matrix("x").dtype == "float64"
        assert theano.shared(np.zeros(3)).dtype == "float64"
    old = cg.config.floatX
    try:
        theano.config.floatX = "float32"
        assert cg.config.floatX == "float32" and T.matrix().dtype == "float32"
    finally:
        cg.config.floatX = old


def test_install_is_idempotent_and_uninstall_cleans(compat):
    import theano

    assert compat.install() is theano is sys.modules["theano"]
    tensor = sys.modules["theano.tensor"]
    compat.install()
    assert sys.modules["theano.tensor"] is tensor
    assert compat.installed()
    compat.uninstall()
    assert not any(n == "theano" or n.startswith("theano.") for n in sys.modules)
    assert not compat.installed()
    assert compat.install() is theano  # the same objects come back
    assert set(compat.module_names()) <= set(sys.modules)


def test_real_theano_already_imported_raises(compat):
    compat.uninstall()
    fake = types.ModuleType("theano")
    sys.modules["theano"] = fake
    with pytest.raises(compat.TheanoConflictError, match="real theano"):
        compat.install()
    assert sys.modules["theano"] is fake  # not clobbered


def test_real_theano_installed_warns_and_shadows(compat, monkeypatch):
    compat.uninstall()
    monkeypatch.setattr(compat, "_real_theano_origin", lambda: "/site-packages/theano/x.py")
    with pytest.warns(compat.TheanoShadowWarning, match="shadowing"):
        compat.install()
    assert compat.installed()


def test_ifelse_lazy_and_correct(compat):
    """theano.ifelse is clgraph's lazy ifelse (tests/ops/test_ifelse.py checks laziness)."""
    import theano
    import theano.tensor as T
    from theano.ifelse import ifelse

    c = T.iscalar("c")
    a = T.vector("a")
    b = T.vector("b")
    out = ifelse(T.gt(c, 0), a * 2, b + 1)
    outs = ifelse(T.gt(c, 0), [a, a.sum()], [b, b.sum()])
    g = T.grad(out.sum(), a)
    f = theano.function([c, a, b], [out, g] + outs)
    av = np.array([1, 2, 3], dtype=cg.config.floatX)
    bv = np.array([10, 20, 30], dtype=cg.config.floatX)
    o, ga, o0, o1 = f(1, av, bv)
    np.testing.assert_allclose(o, av * 2)
    np.testing.assert_allclose(ga, [2, 2, 2])
    np.testing.assert_allclose(o0, av)
    np.testing.assert_allclose(o1, av.sum())
    o, ga, o0, o1 = f(0, av, bv)
    np.testing.assert_allclose(o, bv + 1)
    np.testing.assert_allclose(ga, [0, 0, 0])
    np.testing.assert_allclose(o1, bv.sum())
    s = T.scalar("s")
    h = theano.function([c, s], ifelse(T.eq(c, 0), 0.0, s))
    assert float(h(0, 5.0)) == 0.0 and float(h(1, 5.0)) == 5.0
    with pytest.raises(TypeError, match="scalar"):
        ifelse(a, a, b)
    with pytest.raises(TypeError, match="one dtype and rank"):
        ifelse(c, a, T.matrix())
    assert ifelse is cg.ifelse.ifelse


def test_mrg_random_streams_and_nanguard(compat):
    import theano
    import theano.tensor as T
    from theano.compile.nanguardmode import NanGuardMode
    from theano.sandbox.rng_mrg import MRG_RandomStreams

    srng = MRG_RandomStreams(seed=42)
    x = T.matrix("x")
    mask = srng.binomial(size=x.shape, p=0.5, dtype=theano.config.floatX)
    f = theano.function([x], x * mask, mode=NanGuardMode(nan_is_error=True, inf_is_error=True,
                                                         big_is_error=True))
    xv = np.ones((4, 5), dtype=theano.config.floatX)
    r1, r2 = f(xv), f(xv)
    assert r1.shape == (4, 5) and set(np.unique(r1)) <= {0.0, 1.0}
    assert not np.array_equal(r1, r2) or r1.sum() in (0, 20)  # the stream advances


def test_conv_pool_and_printing(compat):
    import theano
    import theano.printing
    import theano.tensor as T
    from theano.tensor.signal import pool

    x = T.tensor4("x")
    w = theano.shared(np.ones((2, 1, 3, 3), dtype=theano.config.floatX), name="w")
    y = pool.pool_2d(T.nnet.relu(T.nnet.conv2d(x, w)), ws=(2, 2), ignore_border=True)
    f = theano.function([x], y)
    out = f(np.ones((1, 1, 6, 6), dtype=theano.config.floatX))
    assert out.shape == (1, 2, 2, 2)
    np.testing.assert_allclose(out, 9.0)
    assert "x" in theano.printing.pp(y)
    text = theano.printing.debugprint(y, file="str")
    assert isinstance(text, str) and text


def test_tensor_type_broadcastable_pattern(compat):
    """Theano's positional broadcastable pattern through the compat module."""
    import theano

    x = theano.tensor.TensorType("float32", (False,) * 2)("x")
    assert x.type.shape == (None, None) and x.broadcastable == (False, False)
    r = theano.tensor.TensorType("float32", (True, False))("r")
    got = theano.function([x, r], x + r)(np.ones((3, 2), "float32"),
                                         np.arange(2, dtype="float32")[None])
    np.testing.assert_array_equal(got, np.ones((3, 2)) + np.arange(2))


def test_theano_1_0_names(compat):
    """theano.clone, theano.OrderedUpdates (also theano.updates), theano.tensor.basic and
    theano.tensor.sort, T.join as the function, T.diag/tri/tril/triu/stacklists."""
    import theano
    import theano.tensor as T
    import theano.tensor.basic as TB
    from theano.tensor.sort import argsort, sort
    from theano.updates import OrderedUpdates

    import clgraph.tensor as CT

    assert theano.clone is cg.clone and theano.OrderedUpdates is OrderedUpdates is \
        cg.OrderedUpdates
    assert TB.join is T.join is CT.join and TB.diag is CT.diag
    assert (sort, argsort) == (CT.sort, CT.argsort)
    for name in ("diag", "tri", "tril", "triu", "stacklists"):
        assert getattr(T, name) is getattr(CT, name)
    with pytest.raises(AttributeError, match="'topk'"):
        theano.tensor.sort.topk  # noqa: B018 - not in clgraph
    a, b = T.dmatrices("a", "b")
    va, vb = np.arange(4.0).reshape(2, 2), np.ones((2, 2))
    got = theano.function([a, b], [T.join(0, a, b), theano.clone(a * 2, {a: b})])(va, vb)
    np.testing.assert_array_equal(got[0], np.concatenate([va, vb]))
    np.testing.assert_array_equal(got[1], 2 * vb)
