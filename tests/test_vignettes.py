"""Golden tests: each vignette's board expectation, and what the library as a whole must cover."""
from __future__ import annotations

import subprocess
import sys

import pytest

from spinemets import OPTIONS, read_case_file
from spinemets.evaluator import case_values
from spinemets.rulebook import Conflict, Contraindicate

from .conftest import CASES_DIR, SHARED

VIGNETTES = sorted(CASES_DIR.glob("*.yaml"))


def fired_rules(engine, document) -> frozenset[str]:
    values, _ = case_values(document.case, engine.rulebook)
    return engine.durable.fire(values)


@pytest.fixture(scope="module")
def library(engine):
    """Every vignette with its decision and the rules it fires."""
    return {path.stem: (doc, engine.evaluate(doc.case), fired_rules(engine, doc))
            for path in VIGNETTES for doc in [read_case_file(path)]}


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_vignette_matches_its_board(engine, path):
    document = read_case_file(path)
    assert document.board is not None, "a file in cases/ is a vignette: it needs a board section"
    assert document.case.id == path.stem, "the case id is the file's slug"
    decision = engine.evaluate(document.case)
    assert decision.top == document.board.top, decision.statuses()
    for option, status in document.board.statuses.items():
        assert decision.option(option).status == status, option


def test_at_least_15_vignettes():
    assert len(VIGNETTES) >= 15


def test_every_option_is_the_top_suggestion_somewhere(library):
    assert {decision.top for _, decision, _ in library.values()} == set(OPTIONS)


def test_every_absolute_contraindication_and_every_conflict_occurs(library, rulebook):
    fired = set().union(*(rules for _, _, rules in library.values()))
    absolute = {r.id for r in rulebook.active_rules
                if any(isinstance(e, Contraindicate) and e.severity == "absolute" for e in r.then)}
    conflicts = {r.id for r in rulebook.active_rules if any(isinstance(e, Conflict) for e in r.then)}
    assert absolute - fired == set() and conflicts - fired == set()


def test_every_rule_fires_for_some_vignette(library, rulebook):
    fired = set().union(*(rules for _, _, rules in library.values()))
    assert {r.id for r in rulebook.active_rules} - fired == set()


def test_a_vignette_shows_important_fields_unknown(library):
    unknown = [d for _, d, _ in library.values() if all(o.provisional for o in d.options) and len(d.missing) >= 5]
    assert unknown, "the library needs a case where the board must first find things out"


def test_papers_and_teaching_cases_are_both_present(library):
    kinds = {doc.board.kind for doc, _, _ in library.values()}
    sources = {c.source for doc, _, _ in library.values() for c in doc.board.citations}
    assert kinds == {"reported", "teaching"}
    assert {"tae-pvp-2016", "gu-2017", "barbanti-brodano-2007", "pvp-cancer-vcf-2018"} <= sources


@pytest.mark.skipif(not (SHARED / "tools" / "check_citations.py").exists(), reason="../shared is not beside the project")
def test_vignette_citations_are_found_in_the_papers():
    out = subprocess.run([sys.executable, str(SHARED / "tools" / "check_citations.py"), "rules", "cases"],
                         capture_output=True, text=True, cwd=CASES_DIR.parent, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:]


def test_knowledge_base_document_is_generated_from_the_rules(engine):
    from spinemets.commands.knowledge_base import render, vignette_firings

    expected = render(engine.rulebook, vignette_firings(engine, CASES_DIR))
    committed = (CASES_DIR.parent / "docs" / "knowledge-base.md").read_text()
    assert committed == expected, "run: spinemets knowledge-base --out docs/knowledge-base.md"
