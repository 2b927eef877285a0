"""The examples in the public API's docstrings and in docs/library.md run, and print what they show."""
from __future__ import annotations

import doctest
import importlib

import pytest

from .conftest import ROOT

# The modules of the public API (spinemets/__init__.py's names) whose docstrings carry examples.
MODULES = ["spinemets", "spinemets.engine", "spinemets.decision", "spinemets.case", "spinemets.errors",
           "spinemets.vignettes"]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name} (output above)"


def test_the_public_api_has_examples():
    finder = doctest.DocTestFinder()
    import spinemets

    examples = {t.name.removeprefix("spinemets.") for name in MODULES
                for t in finder.find(importlib.import_module(name)) if t.examples}
    for needed in ("engine.evaluate", "engine.Engine", "decision.Decision", "decision.Decision.to_dict",
                   "case.Case", "errors.SpinemetsError"):
        assert needed in examples, f"{needed} has no example in its docstring"
    assert spinemets.evaluate.__doc__ and "Bundle" in spinemets.evaluate.__doc__


def test_the_library_guide_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the guide writes a registry file: not into the repository
    result = doctest.testfile(str(ROOT / "docs" / "library.md"), module_relative=False, optionflags=FLAGS,
                              report=True)
    assert result.attempted > 10 and result.failed == 0, result
