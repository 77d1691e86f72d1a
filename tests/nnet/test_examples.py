"""Each digits example trains in its quick mode to well above chance (10%)."""

from __future__ import annotations

import io
import os
import runpy

import pytest

pytest.importorskip("sklearn")

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


@pytest.mark.parametrize("name,epochs,need", [("logistic_regression", 3, 0.85),
                                              ("mlp_digits", 2, 0.85),
                                              ("lenet_digits", 2, 0.6),
                                              ("rnn_digits", 2, 0.6)])
def test_example_learns(name, epochs, need):
    module = runpy.run_path(os.path.join(EXAMPLES, f"{name}.py"), run_name="test")
    buf = io.StringIO()
    result = module["main"](["--quick", "--epochs", str(epochs), "--no-progress"], out=buf)
    text = buf.getvalue()
    assert "epoch   1  loss" in text and "val accuracy" in text and "time" in text
    assert result["test_accuracy"] >= need, text
