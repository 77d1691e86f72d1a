"""pydotprint: PNG/SVG through Graphviz, and the self-contained interactive HTML page."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import clgraph as cg
import clgraph.tensor as T
from clgraph import printing
from clgraph.printing import GraphvizMissingError, html_page, pydotprint

HERE = os.path.basename(__file__)
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz (apt-get install graphviz) is not installed")


def _chromium() -> str | None:
    for name in ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome",
                 "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def fn():
    x = T.fmatrix("x")
    w = cg.shared(np.ones((3, 2), "f4"), name="w")
    out = T.tanh(x @ w + 1).max(axis=0)
    with cg.config.change_flags(optimizer_excluding="reduce_fusion"):  # keep the drawn graph
        f = cg.function([x], out, name="net")
    f(np.ones((4, 3), "f4"))
    return f


@needs_dot
def test_png_and_svg(fn, tmp_path):
    png = pydotprint(fn, str(tmp_path / "g.png"))
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    svg = pydotprint(fn, str(tmp_path / "g.svg"), format="svg")
    text = open(svg, encoding="utf-8").read()
    assert "<svg" in text and "Elemwise{composite{add,tanh}}" in text.replace("&#45;", "-")
    # a variable works too, and so does returning the bytes
    x = T.fvector("x")
    assert pydotprint(T.exp(x), format="png", return_image=True)[:4] == b"\x89PNG"


def test_missing_dot_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setattr(printing.shutil, "which", lambda name: None)
    x = T.fvector("x")
    with pytest.raises(GraphvizMissingError, match="apt-get install graphviz"):
        pydotprint(T.exp(x), str(tmp_path / "g.png"))
    # the HTML page does not need Graphviz
    assert os.path.exists(pydotprint(T.exp(x), str(tmp_path / "g.html"), format="html"))


def test_bad_format():
    with pytest.raises(ValueError, match="'png', 'svg' or 'html'"):
        pydotprint(T.fvector("x"), "x.gif", format="gif")


def test_html_page_is_self_contained_with_details(fn):
    page = html_page(fn)
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # no network
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    data = json.loads(re.search(r'<script id="graph-data" type="application/json">(.*?)'
                                r"</script>", page, re.S).group(1))
    ops = {v["info"].get("op"): v for v in data["vertices"] if v["kind"] != "input"}
    tanh = next(v for k, v in ops.items() if k and "tanh" in k)
    info = tanh["info"]
    assert info["output shape (last call)"] == "(4, 2)"
    assert info["output static shape"] == "(?, ?)"
    assert HERE in info["created at"]
    assert info["kernel"].startswith("k") and "__kernel void" in tanh["source"]
    assert any("Elemwise{tanh}" in s for s in info["fused from"])
    kinds = {v["kind"] for v in data["vertices"]}
    assert {"input", "shared", "output", "fused"} <= kinds


def test_user_text_cannot_break_the_page(tmp_path):
    x = T.fvector("</script><script>alert(1)</script>")
    page = html_page(T.exp(x))
    assert "<script>alert" not in page


@pytest.mark.skipif(_chromium() is None, reason="no Chromium (apt-get install "
                    "chromium-headless-shell) to render the page")
def test_html_renders_in_headless_chromium(fn, tmp_path):
    path = pydotprint(fn, str(tmp_path / "net.html"), format="html")
    n_vertices = len(json.loads(re.search(
        r'application/json">(.*?)</script>', open(path).read(), re.S).group(1))["vertices"])
    # '#select=n1' clicks node n1 on load, as a user click would.
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
           f"file://{path}#select=n1"]
    if os.path.basename(cmd[0]) == "chromium-headless-shell":
        cmd.remove("--headless")
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    drawn = re.search(r'data-rendered="(\d+)"', dom)
    assert drawn, dom[-2000:]
    assert int(drawn.group(1)) == n_vertices > 3
    assert dom.count('class="node ') == n_vertices
    assert 'data-selected="n1"' in dom
    assert '<table id="info">' in dom and HERE in dom  # the details panel shows the line
