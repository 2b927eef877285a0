"""Vignettes for trainees: read the case, commit to an option, then see the engine's reasoning and what the board did.

Until the trainee commits, a vignette is named neutrally (its number, the primary tumour and the level), never by
its title, which often gives the answer away.
"""
from __future__ import annotations

import streamlit as st
from spinemets import CaseDocument
from spinemets.case import known_values
from spinemets.ui import case_state, citations, decision_view, evaluation, labels, resources, session, trainee_score
from spinemets.ui.text import md

engine = resources.engine()
rulebook = engine.rulebook
specs = evaluation.input_specs(engine)
case_state.ensure(st.session_state, specs)
state = st.session_state
# vignette id -> the option the trainee committed to; lives only in this session's memory
answers: dict[str, str] = state.setdefault("trainee.answers", {})

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
    number = names.index(name) + 1
    case = _doc(name).case
    if case.id in answers:
        return f"✓ Vignette {number}: {case.title or case.id}"
    return neutral_label(number, name)


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


def _next() -> None:
    here = names.index(state.get("trainee.vignette", names[0]))
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
document = _doc(name)
case, board = document.case, document.board
assert board is not None
answer = answers.get(case.id)

st.subheader((case.title or case.id) if answer is not None else neutral_label(names.index(name) + 1, name))
st.markdown(md(case.presentation) if case.presentation else "*No presentation text: read the findings below.*")
with st.expander("Findings as entered in the case", expanded=not case.presentation):
    rows = [{"finding": labels.field_title(rulebook, n), "value": labels.value_words(rulebook, n, v)}
            for n, v in known_values(case).items()]
    st.dataframe(rows, hide_index=True)
    st.caption("Every other field is unknown.")

if answer is None:
    with st.form(f"trainee.commit.{case.id}"):
        choice = st.radio("Your choice for this patient: which option should come first?", rulebook.option_order,
                          format_func=lambda code: labels.option_label(rulebook, code), index=None,
                          key=f"trainee.choice.{case.id}")
        committed = st.form_submit_button("Commit and reveal", icon=":material/lock:")
    if committed and choice is None:
        st.warning("Choose an option first.")
    elif committed:
        answers[case.id] = str(choice)
        st.rerun()
    st.stop()

decision = engine.evaluate(case)
result = trainee_score.credit(rulebook, board, decision, answer)
chose = f"You chose **{md(labels.option_title(rulebook, answer))}**; the board's management corresponds to " \
        f"**{md(labels.option_title(rulebook, board.top))}**."
if result.verdict == "right":
    st.success(chose + " Full credit.", icon=":material/check_circle:")
elif result.verdict == "partial":
    graded = labels.status_label(decision.option(answer).status).lower()
    st.warning(f"{chose} Half credit: the engine grades your choice {graded} too. Why the board's option comes "
               f"first: {md(result.why)}", icon=":material/star_half:")
else:
    st.error(f"{chose} No credit. {md(result.why)}", icon=":material/cancel:")


def _retry() -> None:
    answers.pop(case.id, None)


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
