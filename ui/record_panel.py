"""The board's own decision for the case on screen: chosen option(s), whether that follows the top suggestion, and
why not. Kept for the meeting's minutes; written to the board log only while recording is on (and it says where)."""
from __future__ import annotations

import json
from collections.abc import Callable

import streamlit as st
from spinemets import Engine, InputError, Rulebook
from spinemets.board_log import OVERRIDE_REASONS, make_decision_record

from . import case_state, labels, session
from .evaluation import Outcome
from .text import md

FORM = "record.form"


def render(engine: Engine, evaluate: Callable[[], Outcome]) -> None:
    """`evaluate()` reads the form as it is at the moment of recording (this panel may be drawn before the form
    last changed)."""
    rulebook = engine.rulebook
    state = st.session_state
    with st.container(border=True):
        st.markdown("**The board's decision**")
        if session.recording(state):
            st.caption(f":material/database: Recording is on: each decision is added to the board log at "
                       f"`{md(session.log_path(state))}` (set on the Board session page).")
        else:
            st.caption(":material/database_off: Recording is off: decisions are kept for this meeting's minutes only, "
                       "in memory. Turn recording on in *Board session* to store them.")
        with st.form(FORM, clear_on_submit=True, border=False):
            chosen = st.multiselect(
                "Chosen option(s), the main one first", rulebook.option_order, key="record.chosen",
                format_func=lambda c: labels.option_label(rulebook, c), placeholder="the option(s) the board chose")
            reason = st.selectbox("If the main choice is not the top suggestion, why", list(OVERRIDE_REASONS),
                                  index=None, key="record.reason", format_func=lambda r: OVERRIDE_REASONS[r],
                                  placeholder="not needed when the board follows the top suggestion")
            comment = st.text_input("Comment for the minutes (no patient names)", key="record.comment")
            submitted = st.form_submit_button("Record the board's decision", icon=":material/how_to_vote:")
        who = ", ".join(session.attendees(state)) or "no roles entered"
        st.caption(f"Meeting of {session.meeting_date(state):%Y-%m-%d}; attendees: {md(who)} (Board session page).")
        outcome = evaluate() if submitted else None
        if outcome is not None:
            _submit(engine, outcome, chosen, reason, comment)
        _shown(rulebook)


def _submit(engine: Engine, outcome: Outcome, chosen: list[str], reason: str | None, comment: str) -> None:
    state = st.session_state
    if outcome.decision is None or outcome.empty:
        st.error("Enter the case first: there is no decision to record against.", icon=":material/error:")
        return
    if not chosen:
        st.error("Choose the option the board decided on.", icon=":material/error:")
        return
    if not outcome.complete:
        st.error("Not recorded: some values in the form cannot be used (marked in red). A decision recorded for a "
                 "case the form does not hold would mislead the minutes.", icon=":material/error:")
        return
    assert outcome.case is not None and outcome.decision is not None
    case = outcome.case.model_dump(mode="json", exclude_none=True)
    try:
        decision = make_decision_record(case, json.loads(outcome.decision.to_json()), chosen, override_reason=reason,
                                        comment=comment.strip() or None, attendees=session.attendees(state),
                                        meeting_date=session.meeting_date(state), source="ui")
        if session.current(state) is None:
            session.add_form(state)
        entry = session.record(state, decision)
    except InputError as err:
        why = "; ".join(md(p.message) for p in err.problems) if err.problems else md(err)
        st.error(f"Not recorded: {why}", icon=":material/error:")
        return
    follows = "follows the top suggestion" if decision.follows_top else \
        f"does not follow the top suggestion ({OVERRIDE_REASONS[decision.override_reason or 'other']})"
    where = (f"record {entry.record.seq} of the board log `{md(entry.path)}`, hash `{entry.record.hash[:16]}…`"
             if entry.record else "this meeting's minutes (recording is off)")
    st.success(f"Recorded: {md(labels.options_in_words(engine.rulebook, chosen))}; {follows}. Kept in {where}.",
               icon=":material/check_circle:")


def _shown(rulebook: Rulebook) -> None:
    """What the board has already recorded in this meeting for the case in the form."""
    state = st.session_state
    case_id = str(state.get(case_state.key("id")) or "").strip()
    earlier = [r for r in session.decisions(state) if r.decision.case_id == case_id]
    for entry in earlier[-3:]:
        d = entry.decision
        mark = "follows" if d.follows_top else "overrides"
        st.caption(f"Recorded: {md(labels.options_in_words(rulebook, d.chosen))} ({mark} the top suggestion"
                   + (f"; {md(OVERRIDE_REASONS.get(d.override_reason, ''))}" if d.override_reason else "") + ")"
                   + (f" · log record {entry.record.seq}" if entry.record else ""))
