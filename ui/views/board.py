"""Case and decision: the board enters the case on the left and reads the graded, cited decision on the right."""
from __future__ import annotations

import time

import streamlit as st
from spinemets.ui import case_state, decision_view, evaluation, export, form, resources

started = time.perf_counter()
engine = resources.engine()
specs = evaluation.input_specs(engine)
case_state.ensure(st.session_state, specs)
vignettes = {v.name: v for v in resources.readable_vignettes()}


def _load_vignette() -> None:
    chosen = vignettes.get(str(st.session_state.get("board.vignette")))
    if chosen is not None and chosen.document is not None:
        case_state.load(st.session_state, specs, chosen.document.case)


def _clear() -> None:
    case_state.clear(st.session_state, specs)


st.title("Case and decision")
pick, load, clear = st.columns([6, 2, 2], vertical_alignment="bottom")
with pick:
    st.selectbox("Vignette", list(vignettes), key="board.vignette", format_func=lambda n: vignettes[n].label,
                 placeholder="no vignettes in cases/",
                 help="A teaching case from cases/; loading it replaces the form.")
with load:
    st.button("Load into the form", on_click=_load_vignette, disabled=not vignettes, icon=":material/upload:",
              width="stretch")
with clear:
    st.button("Clear the form", on_click=_clear, icon=":material/restart_alt:", width="stretch",
              help="Every field back to unknown.")

outcome = evaluation.evaluate_form(engine, st.session_state)
left, right = st.columns([5, 6], gap="large")
with left:
    st.subheader("Case")
    form.render(engine, outcome)
with right:
    st.subheader("Decision")
    if outcome.ok and outcome.case is not None and outcome.decision is not None:
        export.buttons(engine.rulebook, outcome.case, outcome.decision)
        decision_view.render(engine.rulebook, outcome.decision, ask=lambda name: form.prompt(engine, name))
    else:
        st.info("No decision while the case has problems: advice for a case the form does not hold would mislead. "
                "Fix the fields marked in red; nothing you entered has been lost.", icon=":material/pending:")

st.session_state["timing.board_seconds"] = time.perf_counter() - started
st.caption(f"Evaluated in {outcome.seconds * 1000:.0f} ms; page built in "
           f"{st.session_state['timing.board_seconds'] * 1000:.0f} ms on the server.")
