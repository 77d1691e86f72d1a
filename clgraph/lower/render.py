"""Rendering: Mako templates (user template_path first, then the package's) to OpenCL C.

A kernel author overrides `elemwise.cl.mako` by putting a file of that name in a directory
of `config.template_path`. The override must declare every parameter the package's template
declares in its `<%page args="..."/>`; one that lacks any is rejected, naming the file.
An edited override renders anew at its next use (its bytes are compared, not its
modification time), and errors decoding, compiling or rendering it are TemplateOverrideErrors
naming the file (and line), with the original error as their cause.
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
from mako.template import Template  # noqa: E402

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
    templates are kept (overrides are compiled in memory: `_OverridingLookup`), in one
    directory per search path and Mako version. Mako writes modules atomically and
    recompiles one older than its template. An unwritable compiledir means no module
    cache, not an error."""
    tag = hashlib.sha256("\0".join((mako.__version__, *dirs)).encode()).hexdigest()[:16]
    path = os.path.join(compiledir, "mako", tag)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


class _OverridingLookup(TemplateLookup):
    """Mako's lookup of the package's templates, where a file of the same name in an
    override directory (config.template_path) wins. clgraph reads an override at every
    lookup and compiles it again whenever its bytes change: Mako compares modification
    times in whole seconds, so an override edited within the second of its first load
    stayed stale. Errors reading or compiling an override name its file."""

    def __init__(self, override_dirs: tuple[str, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.override_dirs = override_dirs
        self._overrides: dict[str, tuple[bytes, Template]] = {}  # uri -> (sha256, template)

    def override_path(self, uri: str) -> str | None:
        """The override file standing for template `uri`, or None."""
        for d in self.override_dirs:
            path = os.path.join(d, uri)
            if os.path.isfile(path):
                return path
        return None

    def compiled_override(self, filename: str) -> Template | None:
        """The override compiled from `filename`, or None."""
        return next((t for _, t in self._overrides.values() if t.filename == filename), None)

    def get_template(self, uri: str) -> Template:
        path = self.override_path(uri)
        if path is None:
            return super().get_template(uri)
        with open(path, "rb") as f:
            data = f.read()
        digest = hashlib.sha256(data).digest()
        hit = self._overrides.get(uri)
        if hit is None or hit[0] != digest:
            hit = (digest, self._compile_override(uri, path, data))
            self._overrides[uri] = hit
        return hit[1]

    def _compile_override(self, uri: str, path: str, data: bytes) -> Template:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TemplateOverrideError(f"template override {path} is not UTF-8 text: {exc}"
                                        ) from exc
        _check_override(uri, path, text)
        args = dict(self.template_args, module_directory=None)  # compiled in memory only
        try:
            return Template(text=text, filename=path, uri=uri, lookup=self, **args)
        except Exception as exc:  # Mako's syntax and compile errors
            raise TemplateOverrideError(f"template override {path} does not compile: "
                                        f"{type(exc).__name__}: {exc}") from exc


@lru_cache(maxsize=16)
def _lookup(override_dirs: tuple[str, ...], module_dir: str | None) -> _OverridingLookup:
    return _OverridingLookup(override_dirs, directories=list(_package_dirs()),
                             strict_undefined=True, filesystem_checks=True,
                             input_encoding="utf-8", module_directory=module_dir)


def _package_dirs() -> tuple[str, str]:
    return package_template_dir(), kernels_dir()


def _page_args(text: str) -> list[str]:
    m = _PAGE_ARGS.search(text)
    if not m:
        return []
    return [a.strip().split("=")[0].strip() for a in m.group(1).split(",") if a.strip()]


def _check_override(name: str, path: str, text: str) -> None:
    package_file = os.path.join(package_template_dir(), name)
    if not os.path.isfile(package_file):
        return  # an override of an included helper (philox.cl): no parameters
    with open(package_file, encoding="utf-8") as f:
        required = _page_args(f.read())
    have = set(_page_args(text))
    missing = [a for a in required if a not in have]
    if missing:
        raise TemplateOverrideError(
            f"template override {path} does not declare the parameter(s) {', '.join(missing)} "
            f"in its <%page args=\"...\"/>; {name} must accept: {', '.join(required)}")


def render(name: str, **params) -> str:
    """Render template `name` (e.g. 'elemwise.cl.mako') with `params`."""
    lookup = _current_lookup()
    template = lookup.get_template(name)
    try:
        return template.render(**params)
    except Exception as exc:
        where = _override_at_fault(lookup, exc)
        if where is None:
            raise
        raise TemplateOverrideError(f"template override {where} failed to render {name}: "
                                    f"{type(exc).__name__}: {exc}") from exc


def override_file(name: str) -> str | None:
    """The override file (config.template_path) that template `name` renders from, or None."""
    return _current_lookup().override_path(name)


def _current_lookup() -> _OverridingLookup:
    return _lookup(tuple(config.template_dirs), _module_dir(_package_dirs(), config.compiledir))


_UNDEFINED = re.compile(r"'(\w+)' is not defined")


def _override_at_fault(lookup: _OverridingLookup, exc: Exception) -> str | None:
    """'file, line N' of the innermost override in the traceback being handled, or None."""
    from mako.exceptions import RichTraceback

    for filename, lineno, _, _ in reversed(RichTraceback().traceback):
        template = lookup.compiled_override(filename)
        if template is not None:
            undefined = _UNDEFINED.fullmatch(str(exc)) if isinstance(exc, NameError) else None
            if undefined:  # strict_undefined raises before the body: find the name's use
                lineno = _first_use(template.source, undefined.group(1))
            return f"{filename}, line {lineno}" if lineno else filename
    return None


def _first_use(text: str, name: str) -> int:
    """The first line of a template's text that names `name` (0 if none)."""
    for n, line in enumerate(text.splitlines(), 1):
        if re.search(rf"\b{re.escape(name)}\b", line):
            return n
    return 0


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
