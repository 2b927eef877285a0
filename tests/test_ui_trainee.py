"""Trainee mode: read a vignette, commit to an option, then see the engine's reasoning and the board's management."""
from __future__ import annotations

import re

from spinemets import get_engine
from tests.ui_apptest import document, start, texts, vignette_files, widget
from spinemets.ui import case_state

TEACHING = [p for p in vignette_files() if document(p).board is not None]


def _open():
    at = start()
    at.switch_page("views/trainee.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _commit(at, path, option, attempt="scored"):
    at.selectbox(key="trainee.vignette").set_value(path.name).run()
    case = document(path).case
    at.radio(key=f"trainee.choice.{case.id}.{attempt}").set_value(option)
    next(b for b in at.button if b.label == "Commit and reveal").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_presentation_is_shown_and_nothing_is_revealed_before_commitment():
    at = _open()
    path = TEACHING[0]
    at.selectbox(key="trainee.vignette").set_value(path.name).run()
    doc = document(path)
    page = texts(at)
    if doc.case.presentation:
        assert doc.case.presentation.split()[0] in page
    assert doc.board.reasoning not in page and doc.board.management not in page
    assert "Top suggestion" not in page


def test_committing_reveals_the_board_and_the_engine_and_keeps_score():
    at = _open()
    first, second = TEACHING[0], TEACHING[-1]
    right = document(first).board.top
    _commit(at, first, right)
    page = texts(at)
    assert document(first).board.management in page
    engine = get_engine()
    top = engine.evaluate(document(first).case).top
    assert f"top suggestion **{next(o.title for o in engine.rulebook.manifest.options if o.code == top)}**" in page
    assert "Score this session: **1 of 1**" in page
    wrong = next(o for o in get_engine().rulebook.option_order if o != document(second).board.top)
    _commit(at, second, wrong)
    expected_right = 1 if first != second else 0
    assert f"Score this session: **{expected_right} of {1 if first == second else 2}**" in texts(at)


def test_trying_again_stays_on_the_vignette_hides_the_answer_and_keeps_the_first_in_the_score():
    at = _open()
    path = TEACHING[1]
    board = document(path).board
    wrong = next(o for o in get_engine().rulebook.option_order
                 if o != board.top and get_engine().evaluate(document(path).case).option(o).status
                 not in ("recommended", "appropriate"))
    _commit(at, path, wrong)
    assert "Score this session: **0 of 1**" in texts(at)
    next(b for b in at.button if b.label == "Try this vignette again").click().run()
    assert at.selectbox(key="trainee.vignette").value == path.name
    assert "Score this session: **0 of 1**" in texts(at)
    assert board.management not in texts(at)
    # the right answer now, after the reveal: graded for the trainee, no credit
    _commit(at, path, board.top, attempt="practice")
    page = texts(at)
    assert "Score this session: **0 of 1**" in page and "practice attempt would have earned full credit" in page
    assert at.selectbox(key="trainee.vignette").value == path.name


def test_next_vignette_after_an_answer_moves_on_without_an_error():
    at = _open()
    first, second = TEACHING[0], TEACHING[1]
    _commit(at, first, document(first).board.top)
    next(b for b in at.button if b.label == "Next vignette").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="trainee.vignette").value == second.name


def test_no_title_of_a_vignette_is_in_the_list_before_or_after_an_answer():
    at = _open()
    titles = [document(p).case.title for p in TEACHING if document(p).case.title]
    options = at.selectbox(key="trainee.vignette").options
    assert not any(t in o for t in titles for o in options)
    _commit(at, TEACHING[0], document(TEACHING[0]).board.top)
    assert at.selectbox(key="trainee.vignette").options == options


def test_a_vignette_can_be_opened_on_the_case_page():
    at = _open()
    path = TEACHING[0]
    _commit(at, path, document(path).board.top)
    next(b for b in at.button if b.label == "Open it on the case page").click().run()
    at.switch_page("views/board.py").run()
    assert widget(at, "id").value == document(path).case.id
    assert at.session_state[case_state.key("id")] == document(path).case.id


def test_start_over_forgets_every_answer():
    at = _open()
    for path in TEACHING[:2]:
        _commit(at, path, document(path).board.top)
    next(b for b in at.button if b.label == "Start over").click().run()
    assert "Score this session: **0 of 0**" in texts(at)


def test_before_commitment_a_vignette_is_named_neutrally_never_by_its_title():
    at = _open()
    for path in TEACHING:
        at.selectbox(key="trainee.vignette").set_value(path.name).run()
        title = document(path).case.title
        shown = [s.value for s in at.subheader] + list(at.selectbox(key="trainee.vignette").options)
        assert title and not any(title in s for s in shown), f"{path.name}: the title shows before commitment"
    _commit(at, TEACHING[0], document(TEACHING[0]).board.top)
    assert document(TEACHING[0]).case.title in [s.value for s in at.subheader]


def test_an_appropriate_option_that_is_not_the_boards_gets_half_credit_and_the_reason():
    engine = get_engine()
    found = None
    for path in TEACHING:
        doc = document(path)
        decision = engine.evaluate(doc.case)
        other = next((o.option for o in decision.options if o.option != doc.board.top
                      and o.status in ("recommended", "appropriate")), None)
        if other is not None:
            found = path, other
            break
    assert found, "no vignette has an appropriate option besides the board's"
    path, other = found
    at = _open()
    _commit(at, path, other)
    page = texts(at)
    assert "Half credit" in page and "Why the board's option comes first" in page
    assert "Score this session: **0.5 of 1**" in page


def test_a_contraindicated_choice_gets_no_credit_and_says_what_limits_it():
    engine = get_engine()
    path, option = next((p, o.option) for p in TEACHING for o in engine.evaluate(document(p).case).options
                        if o.status == "contraindicated")
    at = _open()
    _commit(at, path, option)
    assert "No credit" in texts(at) and "graded contraindicated" in texts(at)
    assert "Score this session: **0 of 1**" in texts(at)


def test_next_vignette_goes_to_the_next_unanswered_one():
    at = _open()
    first, second = TEACHING[0], TEACHING[1]
    _commit(at, first, document(first).board.top)
    next(b for b in at.button if b.label == "Next vignette").click().run()
    assert at.selectbox(key="trainee.vignette").value == second.name
    assert document(second).board.management not in texts(at)


def test_no_text_a_trainee_reads_holds_a_maintainers_note_and_no_presentation_ends_with_the_answer():
    for path in TEACHING:
        doc = document(path)
        for text in (doc.board.engine_note, doc.board.reasoning, doc.board.management):
            assert not re.search(r"\bissue \d+|vignette review", text or "", re.IGNORECASE), path.name
        last = re.split(r"(?<=[.!?])\s+", (doc.case.presentation or "").strip())[-1]
        assert not re.search(r"\b(chose|opted|elected|underwent|was treated|received)\b", last, re.IGNORECASE), (
            path.name, last)
