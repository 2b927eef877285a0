"""Vignettes for trainees: read the case, commit to an option, then see the engine's reasoning and the board's."""
from __future__ import annotations

import streamlit as st
from spinemets.case import known_values
from spinemets.ui import case_state, citations, decision_view, evaluation, labels, resources
from spinemets.ui.text import md

engine = resources.engine()
rulebook = engine.rulebook
specs = evaluation.input_specs(engine)
case_state.ensure(st.session_state, specs)
# vignette id -> the option the trainee committed to; lives only in this session's memory
answers: dict[str, str] = st.session_state.setdefault("trainee.answers", {})

st.title("Vignettes for trainees")
all_vignettes = resources.vignettes()
for broken in (v for v in all_vignettes if v.document is None):
    st.warning(f"cases/{broken.name} does not read and is left out: {broken.error}", icon=":material/warning:")
teaching = {v.name: v for v in all_vignettes if v.document is not None and v.document.board is not None}
if not teaching:
    st.info("No vignettes with a board's management in cases/ yet.")
    st.stop()


def _score_line() -> str:
    tried = [d for d in (v.document for v in teaching.values()) if d is not None and d.case.id in answers]
    right = len([d for d in tried if d.board is not None and answers[d.case.id] == d.board.top])
    return f"Score this session: **{right} of {len(tried)}** answered ({len(teaching)} vignettes)."


def _answered(vignette: resources.Vignette) -> bool:
    return vignette.document is not None and vignette.document.case.id in answers


def _start_over() -> None:
    answers.clear()


score, reset = st.columns([4, 1], vertical_alignment="center")
score.markdown(_score_line())
reset.button("Start over", on_click=_start_over, disabled=not answers, icon=":material/restart_alt:",
             help="Forget this session's answers and score.")
name = st.selectbox("Vignette", list(teaching), key="trainee.vignette",
                    format_func=lambda n: ("✓ " if _answered(teaching[n]) else "") + teaching[n].label)
assert name is not None  # the list is not empty
document = teaching[name].document
assert document is not None and document.board is not None  # `teaching` holds only such vignettes
case, board = document.case, document.board

st.subheader(case.title or case.id)
st.markdown(md(case.presentation) if case.presentation else "*No presentation text: read the findings below.*")
with st.expander("Findings as entered in the case", expanded=not case.presentation):
    rows = [{"field": labels.field_title(rulebook, n), "value": labels.value_label(v)}
            for n, v in known_values(case).items()]
    st.dataframe(rows, hide_index=True)
    st.caption("Every other field is unknown.")

answer = answers.get(case.id)
if answer is None:
    with st.form(f"trainee.commit.{case.id}"):
        choice = st.radio("Your choice for this patient: which option should come first?", rulebook.option_order,
                          format_func=lambda code: labels.option_label(rulebook, code), index=None,
                          key=f"trainee.choice.{case.id}")
        committed = st.form_submit_button("Commit and reveal", icon=":material/lock:")
    if committed and choice is None:
        st.warning("Choose an option first.")
    elif committed and choice is not None:
        answers[case.id] = choice
        st.rerun()
    st.stop()

decision = engine.evaluate(case)
if answer == board.top:
    st.success(f"You chose **{answer}**; the board's management corresponds to **{board.top}**.",
               icon=":material/check_circle:")
else:
    st.error(f"You chose **{answer}**; the board's management corresponds to **{board.top}**.",
             icon=":material/cancel:")


def _retry() -> None:
    answers.pop(case.id, None)


def _open_in_form() -> None:
    case_state.load(st.session_state, specs, case)


left, right = st.columns(2)
with left:
    st.button("Try this vignette again", on_click=_retry, icon=":material/replay:")
with right:
    st.button("Open it on the case page", on_click=_open_in_form, icon=":material/groups:",
              help="Load the vignette into the case form, to try what-ifs on it.")

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
    st.markdown(f"The engine's top suggestion **{decision.top}** {agrees} the board's.")
    decision_view.render(rulebook, decision)
