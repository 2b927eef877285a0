"""Case and decision: the board enters the case on the left and reads the graded, cited decision on the right.

The form and the decision are one Streamlit fragment: a click in the form reruns only them, not the page around
(the agenda, the case files, the navigation), and only the open group of fields and the chosen view of the
decision are drawn.
"""
from __future__ import annotations

import time
from typing import Any

import streamlit as st
from spinemets import CaseDocument
from spinemets.ui import (
    cards,
    case_state,
    decision_view,
    drafts,
    evaluation,
    export,
    form,
    imports,
    labels,
    lesion_form,
    lesion_state,
    record_panel,
    resources,
    session,
    sins_link,
)
from spinemets.ui.form import findings
from spinemets.ui.text import md

engine = resources.engine()
specs = evaluation.input_specs(engine)
case_state.ensure(st.session_state, specs)
vignettes = {v.name: v for v in resources.readable_vignettes()}
# Named neutrally, as on the trainees' page: a title or an id often names the treatment the patient had.
vignette_labels = {n: labels.neutral_title(engine.rulebook, i + 1, v.document.case) if v.document else v.label
                   for i, (n, v) in enumerate(vignettes.items())}
state = st.session_state


def _replace_with(document: CaseDocument, what: str) -> None:
    session.detach(state)
    case_state.replace(state, specs, case_state.from_case(specs, document.case), what)


def _load_vignette() -> None:
    name = state.get("board.vignette")
    chosen = vignettes.get(name) if name is not None else None
    if chosen is not None and chosen.document is not None:
        _replace_with(chosen.document, f"the vignette {chosen.document.case.id}")


def _open_upload() -> None:
    upload = state.get("upload.case")
    if upload is None:
        return
    found = imports.read_file(upload.name, upload.getvalue())
    readable = [f.document for f in found if f.document is not None]
    if len(found) == 1 and readable:
        _replace_with(readable[0], f"the file {upload.name}")
        state["board.upload_message"] = None
    else:
        errors = [f.error for f in found if f.error]
        state["board.upload_message"] = (errors[0] if errors else
                                         f"{upload.name} holds {len(found)} cases: import it as an agenda on the "
                                         "Board session page")


def _clear() -> None:
    session.detach(state)
    case_state.replace(state, specs, {}, "clearing the form")


def _undo() -> None:
    case_state.undo(state, specs)


def _step(offset: int) -> None:
    session.step(state, specs, offset)


def _jump() -> None:
    session.open_item(state, specs, state["agenda.jump"])


def _add_to_agenda() -> None:
    session.add_form(state)


PRESENT = "board.present"
title_col, present_col = st.columns([3, 2], vertical_alignment="bottom")
title_col.title("Case and decision")
present_col.toggle("Presentation view (projector)", key=PRESENT, help="The top suggestion, its status and its first "
                   "reasons large enough to read across the room, the case form hidden. Turn off to edit the case.")
presenting = bool(state.get(PRESENT))

items = [i for i in session.agenda(state) if i.values is not None]
here = session.current(state)
with st.container(border=bool(items)):
    if items:
        where = f"patient {[i.key for i in items].index(here.key) + 1} of {len(items)}" if here in items else \
            "the form holds a case that is not on the agenda"
        back, pick, forward = st.columns([1.1, 6.2, 1.1], vertical_alignment="bottom")
        back.button("Previous", on_click=_step, args=(-1,), icon=":material/arrow_back:", width="stretch",
                    disabled=here is None or here is items[0])
        state["agenda.jump"] = here.key if here is not None else None
        pick.selectbox(f"Agenda: {where}", [i.key for i in items], key="agenda.jump", on_change=_jump,
                       format_func=lambda k: next(i.label for i in items if i.key == k),
                       placeholder="open a patient of the agenda")
        forward.button("Next", on_click=_step, args=(1,), icon=":material/arrow_forward:", width="stretch",
                       disabled=here is items[-1])

with st.expander("Open or save a case", icon=":material/folder_open:", expanded=not items and not presenting):
    pick, load, clear = st.columns([6, 2, 2], vertical_alignment="bottom")
    with pick:
        st.selectbox("Vignette", list(vignettes), key="board.vignette", format_func=lambda n: vignette_labels.get(n, n),
                     placeholder="no vignettes in cases/", help="A teaching case from cases/.")
    with load:
        st.button("Load into the form", on_click=_load_vignette, disabled=not vignettes, icon=":material/upload:",
                  width="stretch")
    with clear:
        st.button("Clear the form", on_click=_clear, icon=":material/restart_alt:", width="stretch",
                  help="Every field back to unknown (undo brings the case back).")
    upload, add = st.columns([3, 2], vertical_alignment="bottom")
    with upload:
        st.file_uploader("Open a case file (YAML or JSON)", type=["yaml", "yml", "json"], key="upload.case",
                         on_change=_open_upload, help="Read in memory; nothing is stored.")
        if state.get("board.upload_message"):
            st.error(state["board.upload_message"], icon=":material/error:")
    add.button("Add this case to the agenda", on_click=_add_to_agenda, icon=":material/playlist_add:",
               width="stretch", disabled=here is not None, help="The case in the form becomes a patient of the agenda.")

undo = case_state.last_undo(state)
if undo is not None and not presenting:
    note, button = st.columns([5, 1], vertical_alignment="center")
    note.info(f"The form was replaced by {md(undo.what)}; the case entered before can be brought back.",
              icon=":material/history:")
    button.button("Undo", on_click=_undo, icon=":material/undo:", width="stretch")


def _save_buttons(data: dict[str, Any]) -> None:
    """The form's case as a file, built when clicked (a case with problems is saved as far as it reads)."""
    stem = str(data.get("id") or case_state.DEFAULT_ID)
    yaml_col, json_col = st.columns(2)
    yaml_col.download_button("Save the case (YAML)", lambda: imports.case_file(data, "yaml"), file_name=f"{stem}.yaml",
                             mime="application/yaml", icon=":material/download:", on_click="ignore", width="stretch",
                             key="download.case_yaml")
    json_col.download_button("Save the case (JSON)", lambda: imports.case_file(data, "json"), file_name=f"{stem}.json",
                             mime="application/json", icon=":material/download:", on_click="ignore", width="stretch",
                             key="download.case_json")


if not presenting:
    form.identity()


@st.fragment
def case_and_decision() -> None:
    started = time.perf_counter()
    case_state.keep(state, clinical_only=True)
    links = sins_link.settle(state, engine, specs)
    lesion_links = lesion_form.settle(state, engine, specs)
    outcome = evaluation.evaluate_form(engine, state)
    if presenting:
        # The form out of the way: the decision alone, the top suggestion first and large (cards.PRESENT_STYLE).
        _decision(outcome, present=True)
        session.save_current(state)
        drafts.save(state)
        return
    left, right = st.columns([5, 6], gap="large")
    with left:
        st.subheader("Case")
        form.render(engine, outcome, links, lesion_links)
        _save_buttons(outcome.reading.data)
    with right:
        st.subheader("Decision")
        _decision(outcome)
    session.save_current(state)
    drafts.save(state)
    state["timing.board_seconds"] = time.perf_counter() - started
    st.caption(f"Evaluated in {outcome.seconds * 1000:.0f} ms; built in "
               f"{state['timing.board_seconds'] * 1000:.0f} ms on the server.")


def _decision(outcome: evaluation.Outcome, present: bool = False) -> None:
    rulebook = engine.rulebook
    if outcome.decision is None:
        st.error("No decision: " + ("; ".join(md(m) for m in outcome.general_problems)
                                    or "some values cannot be used together (marked in the form)."),
                 icon=":material/error:")
        return
    if outcome.empty:
        st.markdown(cards.empty_card(), unsafe_allow_html=True)
        return
    blocked: dict[str, list[str]] = {}
    if outcome.blocked:
        names = [labels.field_title(rulebook, n) for n in outcome.blocked]
        cannot = "its value cannot" if len(names) == 1 else "their values cannot"
        st.warning(f"Shown without {md(', '.join(names))}: {cannot} be used (see the form). Options they could change "
                   "are marked.", icon=":material/warning:")
        for item in outcome.decision.missing:
            if item.field in outcome.blocked:
                for option in item.affects:
                    blocked.setdefault(option, []).append(labels.field_title(rulebook, item.field))
    assert outcome.case is not None
    if present:
        st.markdown(cards.presentation_card(rulebook, outcome.decision), unsafe_allow_html=True)
    export.buttons(rulebook, outcome.case, outcome.decision)

    def board_decision() -> None:
        # Right under the top suggestion: the popover opens below it, never over it, and it is redrawn with the
        # decision, so the top suggestion it restates is the one on screen.
        # Always drawn: a popover drawn only while open (on_change="rerun") left the next page blank after a
        # recording inside this fragment (Streamlit 1.67: "Couldn't find fragment").
        with st.popover("The board's decision", icon=":material/how_to_vote:", width="stretch"):
            record_panel.render(engine, outcome, lambda: evaluation.evaluate_form(engine, state))

    decision_view.render(rulebook, outcome.decision, ask=_ask, engine=engine, case=outcome.case, blocked=blocked,
                         findings=findings(rulebook, outcome.reading.data), after_top=board_decision,
                         top_card=not present, focus=lesion_form.focus_level(state), on_focus=_focus_level,
                         ask_at=_ask)


def _ask(name: str, level: str | None = None) -> None:
    """An answer box for an unknown field: while the levels are described one by one, a finding of one level is
    asked of that level (the decision shown is that level's, or it names another level)."""
    slot = next((s for s in lesion_state.slots(state) if lesion_state.level_of(state, s) == level), None) \
        if lesion_state.on(state) else None
    if slot is not None and name in lesion_state.FIELDS:
        form.prompt(engine, name, form_key=lesion_state.key(slot, name), specs=lesion_state.specs_for(specs))
    else:
        form.prompt(engine, name)


def _focus_level(level: str) -> None:
    slot = next((s for s in lesion_state.slots(state) if lesion_state.level_of(state, s) == level), None)
    if slot is not None:
        state[lesion_form.FOCUS] = slot


case_and_decision()
