"""Theano programs unchanged: `import clgraph.compat.theano` before `import theano`.

Importing this module calls `install()`, which builds module objects (`types.ModuleType`)
named like Theano's and puts them in `sys.modules`:

- `theano` -> `clgraph` (function, shared, In, Out, grad, config, clone, OrderedUpdates;
  plus dot, pp, Mode, scan, Rop, Lop)
- `theano.tensor` -> `clgraph.tensor` (with grad, Rop, Lop, jacobian, hessian, verify_grad,
  consider_constant); `theano.tensor.extra_ops` and `theano.tensor.basic` -> the same;
  `theano.tensor.sort` (sort, argsort)
- `theano.updates.OrderedUpdates` -> `clgraph.OrderedUpdates`
- `theano.tensor.nnet` (`.conv`, `.bn`) -> `clgraph.tensor.nnet`
- `theano.tensor.signal`, `theano.tensor.signal.pool` -> `clgraph.tensor.signal(.pool)`
- `theano.tensor.shared_randomstreams.RandomStreams` -> clgraph's device `RandomStreams`
- `theano.sandbox.rng_mrg.MRG_RandomStreams` -> the same `RandomStreams`
- `theano.gradient` -> `clgraph.gradient`; `theano.printing` -> `clgraph.printing`
- `theano.compile` (`.mode`, `.nanguardmode`, `.debugmode`, `.io`) -> `clgraph.compile`
- `theano.ifelse` -> `clgraph.ifelse` (lazy: only the branch taken runs)
- `theano.scan_module` -> `clgraph.scan_module` (scan, until, map, reduce, foldl, foldr)
- `theano.config` -> `clgraph.config` (an attribute, as in Theano)

Attribute look-ups on these modules forward to the clgraph module at the time of the
look-up; a name clgraph lacks raises AttributeError naming both the Theano and the clgraph
module.

A real Theano: if a module `theano` that is not ours is already imported, `install()`
raises `TheanoConflictError` (replacing it under live references would mix two
libraries' graphs). If a real Theano is installed but not imported, `install()` shadows
it and warns with `TheanoShadowWarning` (that is what the import asked for; the warning
says so). `install()` is idempotent; `uninstall()` removes our modules from `sys.modules`.
"""

from __future__ import annotations

import importlib.util
import sys
import types
import warnings
from typing import Any

import clgraph
import clgraph.compile
import clgraph.compile.debugmode
import clgraph.compile.io
import clgraph.compile.mode
import clgraph.gradient
import clgraph.ifelse
import clgraph.printing
import clgraph.scan_module
import clgraph.tensor
import clgraph.tensor.nnet
import clgraph.tensor.nnet.bn
import clgraph.tensor.nnet.conv
import clgraph.tensor.random
import clgraph.tensor.signal
import clgraph.tensor.signal.pool
from clgraph.config import config
from clgraph.ifelse import ifelse
from clgraph.shared import theano_shared

__all__ = ["TheanoConflictError", "TheanoShadowWarning", "ifelse", "install", "installed",
           "module_names", "uninstall"]

_MARK = "__clgraph_compat__"


class TheanoConflictError(ImportError):
    """A real `theano` is already imported; clgraph's compat modules cannot replace it."""


class TheanoShadowWarning(RuntimeWarning):
    """A real Theano is installed; `import theano` now gives clgraph's compat modules."""


class _ForwardModule(types.ModuleType):
    """A module whose own attributes come first, then those of `target` (a clgraph module)."""

    def __init__(self, name: str, target: types.ModuleType | None, doc: str,
                 **attrs: Any) -> None:
        super().__init__(name, doc)
        self.__dict__[_MARK] = True
        self.__dict__["_clgraph_target"] = target
        self.__dict__["__spec__"] = importlib.util.spec_from_loader(name, loader=None)
        self.__dict__["__package__"] = name
        self.__dict__["__path__"] = []  # a package, so submodule imports resolve
        self.__dict__.update(attrs)

    def __getattr__(self, attr: str) -> Any:
        target = self.__dict__.get("_clgraph_target")
        if target is not None and not attr.startswith("__"):
            try:
                return getattr(target, attr)
            except AttributeError:
                pass
        where = f" (nor does {target.__name__})" if target is not None else ""
        raise AttributeError(f"module {self.__name__!r} (clgraph.compat.theano) has no "
                             f"attribute {attr!r}{where}")

    def __dir__(self) -> list[str]:
        target = self.__dict__.get("_clgraph_target")
        names = set(self.__dict__)
        if target is not None:
            names.update(n for n in dir(target) if not n.startswith("_"))
        return sorted(names)


# ---------------------------------------------------------------- missing features
# ---------------------------------------------------------------- building the modules
def _build() -> dict[str, types.ModuleType]:
    T = clgraph.tensor
    rs = clgraph.tensor.random.RandomStreams
    mods: dict[str, types.ModuleType] = {}

    def mod(name: str, target: types.ModuleType | None, doc: str,
            **attrs: Any) -> types.ModuleType:
        m = _ForwardModule(name, target, doc, **attrs)
        mods[name] = m
        parent, _, child = name.rpartition(".")
        if parent:
            mods[parent].__dict__[child] = m
        return m

    mod("theano", clgraph, "Theano's top-level names, on clgraph (clgraph.compat.theano).",
        __version__=f"clgraph-{clgraph.__version__}", function=clgraph.function,
        shared=theano_shared, Out=clgraph.Out, grad=clgraph.grad, config=config,
        scan=clgraph.scan, dot=T.dot, Mode=clgraph.compile.Mode, pp=clgraph.printing.pp,
        Rop=clgraph.gradient.Rop, Lop=clgraph.gradient.Lop)
    mod("theano.tensor", T, "theano.tensor -> clgraph.tensor (with grad, Rop, Lop, jacobian, "
        "hessian, verify_grad, consider_constant, as Theano's).")
    mod("theano.tensor.extra_ops", T,
        "theano.tensor.extra_ops -> clgraph.tensor (cumsum, repeat, to_one_hot, ...).")
    mod("theano.tensor.basic", T,
        "theano.tensor.basic -> clgraph.tensor (Theano's basic tensor functions live there).")
    mod("theano.tensor.sort", None, "theano.tensor.sort: sort and argsort (no topk).",
        sort=T.sort, argsort=T.argsort)
    mod("theano.tensor.nnet", clgraph.tensor.nnet, "theano.tensor.nnet -> clgraph.tensor.nnet.")
    mod("theano.tensor.nnet.conv", clgraph.tensor.nnet.conv,
        "theano.tensor.nnet.conv -> clgraph.tensor.nnet.conv.")
    mod("theano.tensor.nnet.bn", clgraph.tensor.nnet.bn,
        "theano.tensor.nnet.bn -> clgraph.tensor.nnet.bn.")
    mod("theano.tensor.signal", clgraph.tensor.signal,
        "theano.tensor.signal -> clgraph.tensor.signal.")
    mod("theano.tensor.signal.pool", clgraph.tensor.signal.pool,
        "theano.tensor.signal.pool -> clgraph.tensor.signal.pool.")
    mod("theano.tensor.shared_randomstreams", None,
        "theano.tensor.shared_randomstreams: clgraph's device RandomStreams.",
        RandomStreams=rs)
    mod("theano.sandbox", None, "theano.sandbox: only rng_mrg.")
    mod("theano.sandbox.rng_mrg", None,
        "theano.sandbox.rng_mrg: MRG_RandomStreams is clgraph's device RandomStreams.",
        MRG_RandomStreams=rs)
    mod("theano.gradient", clgraph.gradient, "theano.gradient -> clgraph.gradient.")
    mod("theano.updates", None, "theano.updates: OrderedUpdates.",
        OrderedUpdates=clgraph.OrderedUpdates)
    mod("theano.printing", clgraph.printing, "theano.printing -> clgraph.printing.")
    mod("theano.ifelse", clgraph.ifelse, "theano.ifelse -> clgraph.ifelse (lazy).")
    mod("theano.scan_module", clgraph.scan_module,
        "theano.scan_module -> clgraph.scan_module (scan, until, map, reduce, foldl, foldr).")
    mod("theano.compile", clgraph.compile, "theano.compile -> clgraph.compile.",
        function=clgraph.function, Out=clgraph.Out)
    mod("theano.compile.mode", clgraph.compile.mode,
        "theano.compile.mode -> clgraph.compile.mode.")
    mod("theano.compile.nanguardmode", None, "theano.compile.nanguardmode: NanGuardMode.",
        NanGuardMode=clgraph.compile.NanGuardMode)
    mod("theano.compile.debugmode", clgraph.compile.debugmode,
        "theano.compile.debugmode -> clgraph.compile.debugmode.",
        DebugMode=clgraph.compile.DebugMode)
    mod("theano.compile.io", clgraph.compile.io, "theano.compile.io -> clgraph.compile.io.")
    # `theano.config` is an attribute, not a module, in Theano too; `from theano import
    # config` works through the attribute.
    return mods


_MODULES: dict[str, types.ModuleType] = {}


def module_names() -> list[str]:
    """The `sys.modules` names that `install()` registers."""
    if not _MODULES:
        _MODULES.update(_build())
    return sorted(_MODULES)


def installed() -> bool:
    """Whether `sys.modules['theano']` is clgraph's compat module."""
    return getattr(sys.modules.get("theano"), _MARK, False) is True


def _real_theano_origin() -> str | None:
    """Where an installed (not imported) real Theano lives, else None."""
    try:
        spec = importlib.util.find_spec("theano")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return spec.origin or "(namespace package)"


def install() -> types.ModuleType:
    """Register the `theano.*` module names (idempotent); return the `theano` module.

    Raises TheanoConflictError when a real `theano` is already imported; warns
    (TheanoShadowWarning) when one is installed but not imported, and shadows it.
    """
    existing = sys.modules.get("theano")
    if existing is not None:
        if getattr(existing, _MARK, False) is True:
            return existing
        raise TheanoConflictError(
            f"clgraph.compat.theano: a real theano is already imported "
            f"({getattr(existing, '__file__', existing)!r}); import clgraph.compat.theano "
            "before anything imports theano, or run the program without the real theano")
    origin = _real_theano_origin()
    if origin is not None:
        warnings.warn(f"clgraph.compat.theano: shadowing the installed theano at {origin}; "
                      "`import theano` now runs on clgraph", TheanoShadowWarning, stacklevel=2)
    if not _MODULES:
        _MODULES.update(_build())
    for name, module in _MODULES.items():
        sys.modules[name] = module
    return _MODULES["theano"]


def uninstall() -> None:
    """Remove clgraph's `theano.*` modules from `sys.modules` (others are left alone)."""
    for name in list(sys.modules):
        if (name == "theano" or name.startswith("theano.")) and \
                getattr(sys.modules[name], _MARK, False) is True:
            del sys.modules[name]


install()
