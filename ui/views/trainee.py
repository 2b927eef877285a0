"""Vignettes for trainees: read the case, commit to an option, then see the engine's reasoning and what the board did.

Until the trainee commits, a vignette is named neutrally (its number, the primary tumour and the level), never by
its title, which often gives the answer away. The list keeps those names after an answer too: a selectbox's value
travels as its label, so a label that changed on answering would no longer match any vignette.

The first committed answer to a vignette is the one scored. *Try this vignette again* opens a practice attempt on
the same vignette: it is graded for the trainee to read, earns nothing, and leaves the first answer in the score.
"""
from __future__ import annotations

import streamlit as st
from spinemets import CaseDocument
from spinemets.case import VERTEBRAE, known_values
from spinemets.ui import (
    case_state,
    citations,
    decision_view,
    evaluation,
    labels,
    lesion_state,
    resources,
    session,
    trainee_score,
)
from spinemets.ui.text import md

engine = resources.engine()
rulebook = engine.rulebook
specs = evaluation.input_specs(engine)
case_state.ensure(st.session_state, specs)
state = st.session_state
# vignette id -> the option the trainee first committed to (the scored one); lives only in this session's memory
answers: dict[str, str] = state.setdefault("trainee.answers", {})
# vignette id -> the latest practice answer after "Try this vignette again" (None while that attempt is open)
practice: dict[str, str | None] = state.setdefault("trainee.practice", {})

st.title("Vignettes for trainees")
all_vignettes = resources.vignettes()
for broken in (v for v in all_vignettes if v.document is None):
    st.warning(f"cases/{broken.name} does not read and is left out: {broken.error}", icon=":material/warning:")
teaching = {v.name: v for v in all_vignettes if v.document is not None and v.document.board is not None}
if not teaching:
    st.info("No vignettes with a board's management in cases/ yet.")
    st.stop()
names = list(teaching)


def _doc(name: str) -> CaseDocument:  # the CaseDocument of a teaching vignette
    document = teaching[name].document
    assert document is not None
    return document


def neutral_label(number: int, name: str) -> str:
    return labels.neutral_title(rulebook, number, _doc(name).case)


def _label(name: str) -> str:
    return neutral_label(names.index(name) + 1, name) if name in teaching else str(name)


def _credits() -> list[float]:
    found = []
    for name in names:
        document = _doc(name)
        if document.case.id in answers and document.board is not None:
            decision = engine.evaluate(document.case)
            found.append(trainee_score.credit(rulebook, document.board, decision, answers[document.case.id]).points)
    return found


def _start_over() -> None:
    answers.clear()
    practice.clear()


def _next() -> None:
    current = state.get("trainee.vignette")
    here = names.index(current) if current in teaching else -1
    order = names[here + 1:] + names[:here + 1]
    state["trainee.vignette"] = next((n for n in order if _doc(n).case.id not in answers), order[0])


credits = _credits()
score_col, next_col, reset_col = st.columns([4, 1.2, 1.2], vertical_alignment="center")
score_col.markdown(f"Score this session: **{trainee_score.score(credits)}** answered ({len(teaching)} vignettes; "
                   "an appropriate option that is not the board's counts half).")
next_col.button("Next vignette", on_click=_next, icon=":material/skip_next:", width="stretch")
reset_col.button("Start over", on_click=_start_over, disabled=not answers, icon=":material/restart_alt:",
                 width="stretch", help="Forget this session's answers and score.")
if state.get("trainee.vignette") not in teaching:
    state["trainee.vignette"] = names[0]
name = st.selectbox("Vignette", names, key="trainee.vignette", format_func=_label)
if name not in teaching:  # a value from another version of cases/: start at the first vignette
    name = names[0]
document = _doc(name)
case, board = document.case, document.board
assert board is not None
scored = answers.get(case.id)
practising = case.id in practice and practice[case.id] is None
answer = None if practising else practice.get(case.id) or scored
if answers:
    done = [str(i + 1) for i, n in enumerate(names) if _doc(n).case.id in answers]
    st.caption(f"Answered: vignette{'s' if len(done) > 1 else ''} {', '.join(done)}.")

st.subheader((case.title or case.id) if answer is not None else neutral_label(names.index(name) + 1, name))
st.markdown(md(case.presentation) if case.presentation else "*No presentation text: read the findings below.*")
with st.expander("Findings as entered in the case", expanded=not case.presentation):
    rows = [{"finding": labels.field_title(rulebook, n), "value": labels.value_words(rulebook, n, v)}
            for n, v in known_values(case).items()]
    for lesion in sorted(case.lesions or [], key=lambda found: VERTEBRAE.index(found.level)):
        values = lesion.model_dump(exclude_none=True)
        values.update({f"sins.{k}": v for k, v in (values.pop("sins", None) or {}).items()})
        rows += [{"finding": f"{lesion.level}: {lesion_state.field_title(rulebook, n)}",
                  "value": labels.value_words(rulebook, n, v)} for n, v in values.items() if n != "level"]
    st.dataframe(rows, hide_index=True)
    st.caption("Every other field is unknown.")

if answer is None:
    if practising:
        st.info("A practice attempt: your first answer stays in the score, and this one earns no credit.",
                icon=":material/replay:")
    # a practice attempt has a form of its own, so the radio does not come back holding the earlier choice
    attempt = "practice" if practising else "scored"
    with st.form(f"trainee.commit.{case.id}.{attempt}"):
        choice = st.radio("Your choice for this patient: which option should come first?", rulebook.option_order,
                          format_func=lambda code: labels.option_label(rulebook, code), index=None,
                          key=f"trainee.choice.{case.id}.{attempt}")
        committed = st.form_submit_button("Commit and reveal", icon=":material/lock:")
    if committed and choice is None:
        st.warning("Choose an option first.")
    elif committed and practising:
        practice[case.id] = str(choice)
        st.rerun()
    elif committed:
        answers.setdefault(case.id, str(choice))  # a second commit (a double click) cannot replace the first
        st.rerun()
    st.stop()

decision = engine.evaluate(case)
result = trainee_score.credit(rulebook, board, decision, answer)
chose = f"You chose **{md(labels.option_title(rulebook, answer))}**; the board's management corresponds to " \
        f"**{md(labels.option_title(rulebook, board.top))}**."
earned = {"right": " Full credit.", "partial": " Half credit:", "wrong": " No credit."}[result.verdict]
if answer != scored or case.id in practice:
    assert scored is not None
    first = trainee_score.credit(rulebook, board, decision, scored)
    earned = {"right": " This practice attempt would have earned full credit.",
              "partial": " This practice attempt would have earned half credit:",
              "wrong": " This practice attempt would have earned no credit."}[result.verdict]
    st.caption(f"Scored: your first answer, {md(labels.option_title(rulebook, scored))} "
               f"({trainee_score.score([first.points]).split()[0]} point{'' if first.points == 1 else 's'}). "
               "A practice attempt earns nothing.")
if result.verdict == "right":
    st.success(chose + earned, icon=":material/check_circle:")
elif result.verdict == "partial":
    graded = labels.status_label(decision.option(answer).status).lower()
    st.warning(f"{chose}{earned} the engine grades your choice {graded} too. Why the board's option comes "
               f"first: {md(result.why)}", icon=":material/star_half:")
else:
    st.error(f"{chose}{earned} {md(result.why)}", icon=":material/cancel:")


def _retry() -> None:
    practice[case.id] = None  # the same vignette again; the first answer stays in the score


def _open_in_form() -> None:
    session.detach(state)
    case_state.replace(state, specs, case_state.from_case(specs, case), f"the vignette {case.id}")


left, middle, right = st.columns(3)
left.button("Try this vignette again", on_click=_retry, icon=":material/replay:")
middle.button("Open it on the case page", on_click=_open_in_form, icon=":material/groups:",
              help="Load the vignette into the case form, to try what-ifs on it (the case there can be brought back "
                   "with Undo).")
right.button("Next vignette", on_click=_next, icon=":material/skip_next:", key="btn.trainee_next")

board_col, engine_col = st.columns(2, gap="large")
with board_col:
    kind = "what the paper's board did" if board.kind == "reported" else "the teaching answer"
    st.markdown(f"#### The board: {kind}")
    st.markdown(md(board.management))
    st.markdown(f"**Why:** {md(board.reasoning)}")
    if board.engine_note:
        st.info(f"**Where the engine differs:** {md(board.engine_note)}", icon=":material/compare:")
    citations.render_all(rulebook, board.citations)
with engine_col:
    st.markdown("#### The engine")
    agrees = "agrees with" if decision.top == board.top else "differs from"
    st.markdown(f"The engine's top suggestion **{md(labels.option_title(rulebook, decision.top))}** {agrees} the "
                "board's.")
    decision_view.render(rulebook, decision)
