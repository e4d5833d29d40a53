"""Every docstring `Example:` in tfmm runs and prints what it says (doctest)."""

import doctest
import importlib
import pkgutil

import pytest

import tfmm

MODULES = sorted(m.name for m in pkgutil.walk_packages(tfmm.__path__, "tfmm."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {name}"


def test_the_fusion_modules_have_examples():
    finder = doctest.DocTestFinder()
    for name in ("concat", "gated", "cross_attention", "single_stream", "late"):
        module = importlib.import_module(f"tfmm.fusion.{name}")
        assert any(t.examples for t in finder.find(module)), name
