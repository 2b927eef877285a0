"""Golden tests: each vignette's board expectation, and what the library as a whole must cover."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from spinemets import OPTIONS, read_case_file
from spinemets.evaluator import case_values
from spinemets.rulebook import Conflict, Contraindicate

from .conftest import CASES_DIR, SHARED

VIGNETTES = sorted(CASES_DIR.glob("*.yaml"))
REPORTED = [p for p in VIGNETTES if read_case_file(p).board.kind == "reported"]

# How a paper names each option when it describes what was done: a reported vignette's `top` must be named by a
# passage of its own paper (figure caption or text about that patient or every patient of the series).
NAMED_BY = {
    "PVP": ("vertebroplasty", "pvp", " vp ", "pmma is injected"),
    "TAE_PVP": ("tae", "embolization"),
    "PVP_ITR": ("itr", "tumor removal", "tumour removal"),
    "KP": ("kyphoplasty", " kp "),
    "SURGERY": ("decompression", "osteosynthesis", "fusion", "arthrodesis", "laminectomy", "stabilisation"),
    "CONSERVATIVE": ("radiotherapy", "chemotherapy", "analgesic", "conservative"),
}
# What a passage naming another option must not be read as: tumour removal and embolization include cement.
EXCLUDES = {"PVP": ("itr", "tumor removal", "tae", "embolization", "kyphoplasty")}


def fired_rules(engine, document) -> frozenset[str]:
    if document.case.lesions:  # every lesion's view goes through durable-rules; the decision lists what fired
        return frozenset(engine.evaluate(document.case).fired)
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
    board = document.board
    assert decision.top == board.expected_top, decision.statuses()
    if board.engine_top is not None:  # a recorded disagreement must be a real one
        assert decision.top != board.top and decision.top == board.engine_top
    for option, status in document.board.statuses.items():
        assert decision.option(option).status == status, option
    listed = {a.adjunct for a in decision.adjuncts}
    assert set(board.adjuncts) <= listed, f"adjuncts listed: {sorted(listed)}"


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


def _squash(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _paper_text(source: str) -> str:
    index = yaml.safe_load((SHARED / "seeds" / "index.yaml").read_text())
    return (SHARED / "seeds" / index[source]["file"]).read_text(errors="replace")


def _names(passage: str, option: str) -> bool:
    text = f" {re.sub(r'[^a-z]+', ' ', passage.lower())} "
    named = any(word in text for word in NAMED_BY[option])
    return named and not any(word in text for word in EXCLUDES.get(option, ()))


def choice_problems(board, decision) -> list[str]:
    """Why a reported vignette's `top` is not the paper's own recorded choice (empty when it is)."""
    papers = yaml.safe_load((SHARED / "seeds" / "index.yaml").read_text())
    own = [c for c in board.citations if c.stance == "states" and c.source in papers]
    problems = []
    if not any(c.section.startswith("Figure") for c in own):
        problems.append("no citation of the figure caption that shows this patient")
    problems += [f"not in {c.source}: {c.locator}" for c in own
                 if _squash(c.locator) not in _squash(_paper_text(c.source))]
    naming = [c for c in own if _names(c.locator, board.top)]
    if not naming:
        problems.append(f"no passage of the paper names {board.top}, the management recorded as the board's choice")
    others = [o for o in NAMED_BY if o not in (board.top, "CONSERVATIVE", "PVP")]
    problems += [f"the passages naming {board.top} also name {o}" for o in others
                 if any(_names(c.locator, o) for c in naming)]
    if decision.top != board.top and not (board.engine_top == decision.top and board.engine_note):
        problems.append(f"the engine ranks {decision.top} first: record it as engine_top and explain it")
    return problems


@pytest.mark.skipif(not (SHARED / "seeds").exists(), reason="../shared is not beside the project")
@pytest.mark.parametrize("path", REPORTED, ids=lambda p: p.stem)
def test_a_reported_boards_choice_is_the_papers_own_words_not_the_engines(engine, path):
    """`top` of a reported vignette is what the paper's team did, quoted from the paper: a passage of the paper,
    found in its text and stated as the paper's own, names that procedure. An engine answer copied into `top`
    fails here whenever the paper did something else, and must then be recorded as `engine_top`."""
    document = read_case_file(path)
    assert choice_problems(document.board, engine.evaluate(document.case)) == []


@pytest.mark.skipif(not (SHARED / "seeds").exists(), reason="../shared is not beside the project")
def test_a_board_that_copied_the_engines_answer_is_caught(engine):
    """The Danish vignette once recorded the engine's PVP_ITR as the board's choice; the paper did vertebroplasty."""
    document = read_case_file(CASES_DIR / "danish-fig1b-cll-l1-wall-defect.yaml")
    decision = engine.evaluate(document.case)
    copied = document.board.model_copy(update={"top": decision.top, "engine_top": None})
    assert decision.top != document.board.top
    assert any(f"no passage of the paper names {decision.top}" in p for p in choice_problems(copied, decision))
    unexplained = document.board.model_copy(update={"engine_top": None})
    assert any("record it as engine_top" in p for p in choice_problems(unexplained, decision))


def test_the_library_keeps_the_papers_choices_where_the_engine_disagrees(library):
    """Reported vignettes are not all rewritten to the engine's answer: where the papers did otherwise, it shows."""
    reported = [doc.board for doc, _, _ in library.values() if doc.board.kind == "reported"]
    assert len(reported) >= 9 and sum(1 for b in reported if b.engine_top) >= 2


@pytest.mark.parametrize("change, message", [
    ({"kind": "teaching"}, "engine_top is for reported vignettes"),
    ({"engine_top": "PVP"}, "engine_top repeats top"),
    ({"engine_note": None}, "explains why in engine_note"),
])
def test_engine_top_records_only_an_explained_disagreement_on_a_reported_case(change, message):
    from pydantic import ValidationError

    from spinemets.vignette import Board

    data = read_case_file(CASES_DIR / "danish-fig1b-cll-l1-wall-defect.yaml").board.model_dump()
    with pytest.raises(ValidationError, match=message):
        Board.model_validate({**data, **change})
