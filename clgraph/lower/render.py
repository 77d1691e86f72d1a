"""Rendering: Mako templates (user template_path first, then the package's) to OpenCL C.

A kernel author overrides `elemwise.cl.mako` by putting a file of that name in a directory
of `config.template_path`. The override must declare every parameter the package's template
declares in its `<%page args="..."/>`; one that lacks any is rejected, naming the file.
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from importlib import resources

from clgraph.config import config


def _import_mako():
    """Import Mako without its Pygments plugin: mako.exceptions loads Pygments' lexers only to
    colour its HTML error pages (~45 ms, a fifth of a small function's compile in a new
    process). Blocked during the import only, and only when Mako was not imported before, so
    a program that uses Mako itself and imported it first keeps the colours."""
    import sys

    if "mako.exceptions" in sys.modules:
        import mako.lookup
        return
    blocked = "mako.ext.pygmentplugin"
    had = sys.modules.get(blocked, False)
    if had is False:
        sys.modules[blocked] = None  # type: ignore[assignment]  # makes its import fail
    try:
        import mako.lookup  # noqa: F401
    finally:
        if had is False and sys.modules.get(blocked, False) is None:
            del sys.modules[blocked]


_import_mako()
import mako  # noqa: E402
from mako.lookup import TemplateLookup  # noqa: E402

_PAGE_ARGS = re.compile(r'<%page\s+args="([^"]*)"')


class TemplateOverrideError(ValueError):
    """A template override that cannot stand in for the package's template."""


def package_template_dir() -> str:
    return str(resources.files("clgraph.templates"))


def kernels_dir() -> str:
    return str(resources.files("clgraph.kernels"))


@lru_cache(maxsize=16)
def _module_dir(dirs: tuple[str, ...], compiledir: str) -> str | None:
    """Where Mako keeps the Python modules it compiles templates into, or None.

    Compiling the templates costs ~40 ms per process (most of the rendering of a small
    function); kept under config.compiledir they are compiled once. Only the package's
    templates are kept (user overrides are edited, and Mako compares whole-second mtimes),
    in one directory per search path and Mako version. Mako writes modules atomically and
    recompiles one older than its template. An unwritable compiledir means no module
    cache, not an error."""
    tag = hashlib.sha256("\0".join((mako.__version__, *dirs)).encode()).hexdigest()[:16]
    path = os.path.join(compiledir, "mako", tag)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


@lru_cache(maxsize=16)
def _lookup(dirs: tuple[str, ...], module_dir: str | None) -> TemplateLookup:
    # Mako checks file modification times, so an edited override re-renders by itself.
    return TemplateLookup(directories=list(dirs), strict_undefined=True,
                          filesystem_checks=True, input_encoding="utf-8",
                          module_directory=module_dir)


def _page_args(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        m = _PAGE_ARGS.search(f.read())
    if not m:
        return []
    return [a.strip().split("=")[0].strip() for a in m.group(1).split(",") if a.strip()]


def _check_override(name: str, path: str) -> None:
    required = _page_args(os.path.join(package_template_dir(), name))
    have = set(_page_args(path))
    missing = [a for a in required if a not in have]
    if missing:
        raise TemplateOverrideError(
            f"template override {path} does not declare the parameter(s) {', '.join(missing)} "
            f"in its <%page args=\"...\"/>; {name} must accept: {', '.join(required)}")


def render(name: str, **params) -> str:
    """Render template `name` (e.g. 'elemwise.cl.mako') with `params`."""
    dirs = tuple(config.template_dirs) + (package_template_dir(), kernels_dir())
    for d in config.template_dirs:
        path = os.path.join(d, name)
        if os.path.exists(path):
            _check_override(name, path)
            break
    module_dir = None if config.template_dirs else _module_dir(dirs, config.compiledir)
    lookup = _lookup(dirs, module_dir)
    return lookup.get_template(name).render(**params)


def helper_source(filename: str) -> str:
    """A helper file from the top-level kernels/ directory, included verbatim."""
    with open(os.path.join(kernels_dir(), filename), encoding="utf-8") as f:
        return f.read()


def program_source(bodies: list[str]) -> str:
    """One program: the helper files its kernel bodies use, then the bodies."""
    helpers = [helper_source("common.cl")]
    if any("clg_ipow_" in b for b in bodies):  # integer power (kernels/ipow.cl)
        helpers.append(helper_source("ipow.cl"))
    if any("clg_w" in b for b in bodies):  # wrapping integer arithmetic (kernels/wrap.cl)
        helpers.append(helper_source("wrap.cl"))
    return "\n".join(helpers + bodies)


def sanitize_comment(text: str) -> str:
    """User text (variable names) made safe inside a /* */ comment: it never becomes code."""
    safe = re.sub(r"[^A-Za-z0-9_ .,:()\[\]{}<>=+\-]", "_", str(text))
    return safe[:80]
