"""Shared fixtures: the built-in rule base and engine, and scratch rule bases to break on purpose."""
from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from spinemets import EngineError, get_engine, load_rulebook
from spinemets.rulebook import DEFAULT_RULES_DIR

ROOT = Path(__file__).resolve().parent.parent
CASES_DIR = ROOT / "cases"
SHARED = ROOT.parent / "shared"

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

# A citation that passes every check of the loader, for rules written by tests.
CITATION = {
    "source": "barbanti-brodano-2007",
    "section": "Complications",
    "locator": "Bone defect within posterior wall is considered as relative contraindication",
    "claim": "The review reports that a posterior wall defect is considered a relative contraindication.",
    "stance": "reports",
    "attributed_to": "the literature it cites (ref. 16)",
}
# Test rules rest on CITATION alone (level 5): a strong indication among them says why (the loader's strength check).
RATIONALE = "written by a test"


@pytest.fixture(scope="session")
def rulebook():
    return load_rulebook()


@pytest.fixture(scope="session")
def engine(rulebook):
    return get_engine(rulebook)


@pytest.fixture(scope="session")
def shipped_verify_report():
    """`spinemets verify` on the built-in rule base, once per test process: every proof test reads this one report
    (a full run takes about 9 s; the proofs are deterministic, which test_properties checks against a second run)."""
    from spinemets.verify import verify

    return verify(None)


def vocabulary_files(target: Path) -> Path:
    """A rule base folder with the built-in manifest, sources, scores and consistency checks, but no rules."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("rulebook.yaml", "sources.yaml", "consistency.yaml"):
        shutil.copy(DEFAULT_RULES_DIR / name, target / name)
    shutil.copytree(DEFAULT_RULES_DIR / "scores", target / "scores", dirs_exist_ok=True)
    return target


@pytest.fixture
def scratch_rules(tmp_path):
    """Write a rules file (YAML text) beside the built-in vocabulary; returns the folder."""
    def make(rules_yaml: str, name: str = "test_rules.yaml") -> Path:
        folder = vocabulary_files(tmp_path / "rules")
        (folder / name).write_text(textwrap.dedent(rules_yaml))
        return folder
    return make


@pytest.fixture
def rules_copy(tmp_path):
    """A full copy of the built-in rule base, to mutate."""
    target = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, target)
    return target


def fail_the_evaluation(monkeypatch, engine, call: int = 20) -> None:
    """Make the engine's `call`-th evaluation in this process raise, as a disagreement of its two evaluators would."""
    real = type(engine).evaluate
    calls = {"n": 0}

    def failing(self, case):
        calls["n"] += 1
        if calls["n"] == call:
            raise EngineError("simulated disagreement")
        return real(self, case)

    monkeypatch.setattr(type(engine), "evaluate", failing)


# Each test's memory budget (tests/memory_budget.py): its hooks, made this conftest's.
from .memory_budget import (  # noqa: E402, F401
    pytest_configure, pytest_runtest_call, pytest_runtest_logstart, pytest_unconfigure)
