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
    assert level_problems(board, decision) == []
    assert plan_problems(board, decision) == []


def level_problems(board, decision) -> list[str]:
    """Where the engine's advice at a level differs from what the board expects there (empty when it agrees)."""
    if not board.levels:
        return []
    decided = {lesion.level: lesion for lesion in decision.lesions or ()}
    problems = []
    for level, expected in board.levels.items():
        lesion = decided.get(level)
        if lesion is None:
            problems.append(f"{level}: no decision at this level")
            continue
        if expected.top is not None and lesion.top != expected.top:
            problems.append(f"{level}: top {lesion.top}, expected {expected.top} ({lesion.statuses()})")
        problems += [f"{level}: {option} {lesion.option(option).status}, expected {status}"
                     for option, status in expected.statuses.items() if lesion.option(option).status != status]
        listed = {a.adjunct for a in lesion.adjuncts}
        problems += [f"{level}: adjunct {a} not listed ({sorted(listed)})" for a in expected.adjuncts if a not in listed]
    return problems


def plan_problems(board, decision) -> list[str]:
    """Where the patient's plan differs from the board's plan expectation (empty when it agrees)."""
    expected = board.plan
    if expected is None:
        return []
    plan = decision.plan
    if plan is None:
        return ["the decision has no plan"]
    problems = []
    if expected.procedures is not None:
        given = {p.option: p for p in plan.procedures}
        if set(given) != set(expected.procedures):
            problems.append(f"procedures {sorted(given)}, expected {sorted(expected.procedures)}")
        for option, want in expected.procedures.items():
            got = given.get(option)
            if got is None:
                continue
            if tuple(got.levels) != want.levels:
                problems.append(f"{option} at {list(got.levels)}, expected {list(want.levels)}")
            if want.sessions is not None and len(got.sessions) != want.sessions:
                problems.append(f"{option} in {len(got.sessions)} sessions {got.sessions}, expected {want.sessions}")
    if expected.radiotherapy is not None and tuple(plan.radiotherapy) != expected.radiotherapy:
        problems.append(f"radiotherapy at {list(plan.radiotherapy)}, expected {list(expected.radiotherapy)}")
    if expected.weigh is not None and tuple(plan.weigh) != expected.weigh:
        problems.append(f"levels to weigh {list(plan.weigh)}, expected {list(expected.weigh)}")
    given_reasons = {r.rule for r in plan.reasons}
    problems += [f"plan reason {r} not given ({sorted(given_reasons)})" for r in expected.reasons
                 if r not in given_reasons]
    return problems


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


def test_the_knowledge_base_credits_a_rule_to_the_lesion_vignette_whose_level_fires_it(engine):
    """A rule read only in a lesion's view (lesion_form, painful) fires in no flat reading of the case."""
    from spinemets.commands.knowledge_base import vignette_firings

    firings = vignette_firings(engine, CASES_DIR)
    assert "teach-multilevel-painless-level-breast-l1-l4" in firings["ind.conservative.level_not_painful"]
    assert "teach-multilevel-two-discrete-compressions-lung-t4-t10" in firings[
        "caution.surgery.multiple_discrete_compressions"]


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


LESION_FORM = [p for p in VIGNETTES if read_case_file(p).case.lesions]
CEMENT = {"PVP", "KP", "TAE_PVP", "PVP_ITR"}


@pytest.mark.parametrize("path", LESION_FORM, ids=lambda p: p.stem)
def test_a_vignette_in_lesion_form_says_what_it_expects_at_every_level_and_of_the_plan(path):
    document = read_case_file(path)
    board = document.board
    assert set(board.levels) == {lesion.level for lesion in document.case.lesions}
    assert all(expected.top is not None for expected in board.levels.values())
    assert board.plan is not None and board.plan.procedures is not None
    # the expected advice rests on a passage a paper states or on a declared external source, never on nothing
    assert any(c.stance == "states" for c in board.citations)


def _vertebra_gaps(levels) -> list[int]:
    from spinemets.case import VERTEBRAE

    ordered = sorted(VERTEBRAE.index(level) for level in levels)
    return [b - a for a, b in zip(ordered, ordered[1:])]


def test_the_multilevel_vignettes_cover_the_situations_of_issue_19(library):
    documents = [doc for doc, _, _ in library.values() if doc.case.lesions]
    lesions = [doc.case.lesions for doc in documents]
    compressive = [[lesion.level for lesion in case if lesion.spinal_cord_compression] for case in lesions]
    procedures = [p for doc in documents for option, p in (doc.board.plan.procedures or {}).items()
                  if option in CEMENT]
    situations = {
        "eight teaching vignettes": sum(doc.case.id.startswith("teach-multilevel-") for doc in documents) >= 8,
        "a reported patient cemented at several levels": any(
            doc.board.kind == "reported" and len(doc.case.lesions) >= 3 for doc in documents),
        "contiguous levels": any(1 in _vertebra_gaps(lesion.level for lesion in case) for case in lesions),
        "a skipped level": any(any(g > 1 for g in _vertebra_gaps(lesion.level for lesion in case)) for case in lesions),
        "two discrete compressions": any(any(g > 1 for g in _vertebra_gaps(levels)) for levels in compressive),
        "one area of compression over contiguous levels": any(
            len(levels) >= 2 and set(_vertebra_gaps(levels)) == {1} for levels in compressive),
        "a compressive level beside painful non-compressive ones": any(
            levels and any(lesion.painful and lesion.spinal_cord_compression is False for lesion in case)
            for levels, case in zip(compressive, lesions)),
        "a painless level beside painful ones": any(
            {lesion.painful for lesion in case} >= {True, False} for case in lesions),
        "a cervical level": any(lesion.level.startswith("C") for case in lesions for lesion in case),
        "an upper thoracic level": any(lesion.level in ("T1", "T2", "T3", "T4") for case in lesions for lesion in case),
        "cement at several levels in one session": any(len(p.levels) >= 2 and p.sessions == 1 for p in procedures),
        "cement in two sessions": any(p.sessions is not None and p.sessions >= 2 for p in procedures),
    }
    assert [name for name, covered in situations.items() if not covered] == []


def test_a_plan_or_level_expectation_is_refused_on_a_flat_case_and_for_a_level_not_described():
    from spinemets.case_io import parse_case_text
    from spinemets.errors import CaseError

    flat = yaml.safe_load((CASES_DIR / "barbanti-fig3-myeloma-multilevel.yaml").read_text())
    flat["board"]["levels"] = {"T12": {"top": "PVP"}}
    with pytest.raises(CaseError) as err:
        parse_case_text(yaml.safe_dump(flat), "flat.yaml")
    assert [p.field for p in err.value.problems] == ["board.levels"]
    assert "lesion form" in err.value.problems[0].message

    lesion_form = yaml.safe_load((CASES_DIR / "barbanti-fig3-myeloma-multilevel-lesions.yaml").read_text())
    lesion_form["board"]["levels"]["T11"] = {"top": "PVP"}
    lesion_form["board"]["plan"]["radiotherapy"] = ["L5"]
    with pytest.raises(CaseError) as err:
        parse_case_text(yaml.safe_dump(lesion_form), "lesions.yaml")
    assert sorted(p.field for p in err.value.problems) == ["board.levels.T11", "board.plan.radiotherapy"]
    assert all(p.line is not None for p in err.value.problems)


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_what_a_trainee_reads_holds_no_maintainers_note(path):
    """Notes about the project's own history (an issue, a review) go in YAML comments, not in the texts shown."""
    document = read_case_file(path)
    board = document.board
    shown = [document.case.title, document.case.presentation, board.management, board.reasoning, board.engine_note]
    assert [t for t in shown if t and re.search(r"\bissue \d+|vignette review|maintainer", t, re.IGNORECASE)] == []
