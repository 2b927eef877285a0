"""The examples in the public API's docstrings and in docs/library.md run, and print what they show."""
from __future__ import annotations

import doctest
import importlib

import pytest

from .conftest import ROOT

# The modules of the public API (spinemets/__init__.py's names) whose docstrings carry examples.
MODULES = ["spinemets", "spinemets.engine", "spinemets.decision", "spinemets.case", "spinemets.errors",
           "spinemets.vignettes", "spinemets.registry_io"]
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


def python_blocks(markdown: str) -> str:
    """The text of the Markdown's ```python blocks; every other line blank, so line numbers stay the file's and a
    closing fence never reads as expected output."""
    kept, inside = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```python"
            kept.append("")
        else:
            kept.append(line if inside else "")
    return "\n".join(kept) + "\n"


def test_the_library_guide_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the guide writes a registry file: not into the repository
    path = ROOT / "docs" / "library.md"
    test = doctest.DocTestParser().get_doctest(python_blocks(path.read_text(encoding="utf-8")), {}, "library.md",
                                               str(path), 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 20 and result.failed == 0, result


def test_the_guide_reader_skips_prose_and_fences():
    text = "prose\n>>> 1 + 1\n```python\n>>> 2 + 2\n4\n```\n>>> 3\n"
    examples = doctest.DocTestParser().get_examples(python_blocks(text))
    assert [(e.source, e.want, e.lineno) for e in examples] == [("2 + 2\n", "4\n", 3)]
