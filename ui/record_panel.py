"""The board's own decision for the case on screen: chosen option(s), whether that follows the top suggestion, and
why not. Kept for the meeting's minutes; written to the board log only while recording is on (and it says where).

No entry is lost: the fields are plain widgets (not a Streamlit form), so what the board has chosen and typed is
in the session's state at once, survives a reload (ui/drafts.py keeps `record.*`) and stays through a refusal.
Recording happens in the button's callback, before the page is drawn again, so its message is drawn right above
the button; the fields are cleared only once the decision is kept. A second click on Record with nothing new (a
double click) records nothing more and shows the first click's result again.

A wrong record is never edited: the board records the right decision as a correction of it, or voids it, and
both are new records that name the one they replace (board_log.standing resolves which one stands).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import streamlit as st
from spinemets import Engine, InputError, Rulebook
from spinemets.board_log import OVERRIDE_REASONS, BoardDecision, make_decision_record

from . import case_state, labels, plan_view, session
from .evaluation import Outcome
from .text import md

CHOSEN, REASON, COMMENT, CORRECTS = "record.chosen", "record.reason", "record.comment", "record.corrects"
MESSAGE = "record.message"      # (kind, text, case id) of the last press of Record or Void
LAST = "record.last"            # what the last kept record was made of: the same again is a double click
_CHOSEN_LABEL = "Chosen option(s), the main one first"
_REASON_LABEL = "If the main choice is not the top suggestion, why"
_COMMENT_LABEL = "Comment for the minutes (no patient names)"


def render(engine: Engine, outcome: Outcome, evaluate: Callable[[], Outcome]) -> None:
    """`outcome` is the decision on screen; `evaluate()` reads the form again when Record is pressed."""
    rulebook = engine.rulebook
    state = st.session_state
    _restate_top(rulebook, outcome)
    standing = session.standing_for(state, _case_id(state))
    if standing is not None:
        number, entry = standing
        st.caption(f"Recorded for this case: {_in_words(rulebook, entry.decision)} ({_where(number, entry)}).")
        state.setdefault(CORRECTS, True)  # a default through the state: a value= as well would warn on a reload
        st.checkbox(f"Correct the decision recorded above ({_where(number, entry)}) with the one recorded now",
                    key=CORRECTS,
                    help="The record stays in the log; the new one says it replaces it, and the minutes and the "
                         "concordance count only the new one.")
    # The message first, under the restated top suggestion: the popover opens low on a 1366x768 screen and
    # its lower part may be out of sight, so a refusal drawn below the fields could go unseen.
    message = state.get(MESSAGE)
    if message and message[2] == _case_id(state):  # a message about the patient before says nothing here
        kind, text, _ = message
        (st.success if kind == "success" else st.error)(text, icon=":material/check_circle:" if kind == "success"
                                                         else ":material/error:")
    chosen_col, reason_col = st.columns(2)
    chosen_col.multiselect(_CHOSEN_LABEL, rulebook.option_order, key=CHOSEN,
                           format_func=lambda c: labels.option_label(rulebook, c),
                           placeholder="the option(s) the board chose")
    reason_col.selectbox(_REASON_LABEL, list(OVERRIDE_REASONS), index=None, key=REASON,
                         format_func=lambda r: OVERRIDE_REASONS[r],
                         placeholder="not needed when the board follows the top suggestion")
    comment_col, record_col = st.columns([3, 2], vertical_alignment="bottom")
    comment_col.text_input(_COMMENT_LABEL, key=COMMENT)
    record_col.button("Record the board's decision", icon=":material/how_to_vote:", type="primary",
                      on_click=_record, args=(engine, evaluate), width="stretch")
    if standing is not None:
        st.button(f"Void {_where(*standing)}", icon=":material/block:", on_click=_void, args=(engine,),
                  help="Withdraw the recorded decision (the comment says why); the record stays in the log, "
                       "marked void by a new one.")
    if session.recording(state):
        st.caption(f":material/database: Recording is on: each decision is added to the board log at "
                   f"`{md(session.log_path(state))}` (set on the Board session page).")
    else:
        st.caption(":material/database_off: Recording is off: decisions are kept for this meeting's minutes only, "
                   "in memory. Turn recording on in *Board session* to store them.")
    who = ", ".join(session.attendees(state)) or "no roles entered"
    st.caption(f"Meeting of {session.meeting_date(state):%Y-%m-%d}; attendees: {md(who)} (Board session page).")
    _history(rulebook, standing)


def _restate_top(rulebook: Rulebook, outcome: Outcome) -> None:
    """The popover covers the page below it: it says itself what the engine's top suggestion is."""
    decision = outcome.decision
    if decision is None or outcome.empty:
        st.markdown("**The board's decision** · no decision from the engine yet")
        return
    top = decision.option(decision.top)
    title = md(labels.option_title(rulebook, top.option))
    st.markdown(f"**The board's decision** · the engine's top suggestion: **{title}** "
                f"({md(labels.status_label(top.status).lower())}" + (", provisional" if top.provisional else "") + ")")
    plan = plan_view.plan_of(decision)
    if plan is not None:
        # a case with lesions: the record keeps every level's decision and the plan, named here
        st.caption("The plan recorded with it: " + md("; ".join(plan_view.lines(rulebook, plan))) + ".")


def _case_id(state: Any) -> str:
    return str(state.get(case_state.key("id")) or "").strip() or case_state.DEFAULT_ID


def _where(number: int, entry: session.Recorded) -> str:
    return f"record {number}" if entry.record is not None else f"minutes entry {number}"


def _in_words(rulebook: Rulebook, decision: BoardDecision) -> str:
    if decision.voids:
        return "withdrawn (void)"
    mark = "follows the top suggestion" if decision.follows_top else "overrides the top suggestion" + (
        f": {OVERRIDE_REASONS.get(decision.override_reason, '')}" if decision.override_reason else "")
    return f"{md(labels.options_in_words(rulebook, decision.chosen))} ({md(mark)})"


def _history(rulebook: Rulebook, standing: tuple[int, session.Recorded] | None) -> None:
    if standing is None:
        return
    _, entry = standing
    for number, earlier in session.history_of(st.session_state, entry):
        st.caption(f"Replaced: {_where(number, earlier)}, {_in_words(rulebook, earlier.decision)}.")


def _refusal(rulebook: Rulebook, outcome: Outcome, chosen: list[str], reason: str | None, comment: str) -> str | None:
    """Why the decision cannot be recorded, in the board's words (None: it can)."""
    if outcome.decision is None or outcome.empty:
        return "Not recorded: enter the case first. There is no decision to record against."
    if not chosen:
        return f"Not recorded: choose the option the board decided on (*{_CHOSEN_LABEL}*)."
    if not outcome.complete:
        return ("Not recorded: some values in the form cannot be used (marked in red). A decision recorded for a "
                "case the form does not hold would mislead the minutes.")
    top = outcome.decision.top
    if chosen[0] != top and reason is None:
        return (f"Not recorded: the board's main choice, **{md(labels.option_title(rulebook, chosen[0]))}**, is not "
                f"the top suggestion, **{md(labels.option_title(rulebook, top))}**. Choose why under "
                f"*{_REASON_LABEL}*; the choice and the comment are kept.")
    if chosen[0] != top and reason == "other" and not comment:
        return (f"Not recorded: the reason *{OVERRIDE_REASONS['other']}* needs a comment that says why "
                f"(*{_COMMENT_LABEL}*).")
    return None


def _record(engine: Engine, evaluate: Callable[[], Outcome]) -> None:
    state = st.session_state
    rulebook = engine.rulebook
    chosen = list(state.get(CHOSEN) or [])
    reason = state.get(REASON)
    comment = str(state.get(COMMENT) or "").strip()
    outcome = evaluate()
    standing = session.standing_for(state, _case_id(state))
    supersedes = standing[0] if standing is not None and state.get(CORRECTS, True) else None
    case = outcome.case.model_dump(mode="json", exclude_none=True) if outcome.case is not None else None
    made_of = json.dumps([case, chosen, reason, comment], sort_keys=True, default=str)
    last = state.get(LAST)
    if last is not None and (made_of == last[1] or (not chosen and not comment and reason is None
                                                    and last[0] == _case_id(state))):
        # A second click on the same entry (or on the fields the first click cleared): already kept. Its click
        # came with the fields as they were before the first click cleared them: clear them again.
        _clear()
        return
    refusal = _refusal(rulebook, outcome, chosen, reason, comment)
    if refusal is not None:
        state[MESSAGE] = ("error", refusal, _case_id(state))
        return
    assert outcome.case is not None and outcome.decision is not None and case is not None
    _keep(rulebook, case, json.loads(outcome.decision.to_json()), chosen, reason, comment, supersedes, False,
          made_of)


def _void(engine: Engine) -> None:
    state = st.session_state
    standing = session.standing_for(state, _case_id(state))
    if standing is None:
        return
    comment = str(state.get(COMMENT) or "").strip()
    if not comment:
        state[MESSAGE] = ("error", f"Not voided: say why in *{_COMMENT_LABEL}* (the reason goes into the minutes).",
                          _case_id(state))
        return
    number, entry = standing
    old = entry.decision
    _keep(engine.rulebook, old.case, old.decision, list(old.chosen), old.override_reason, comment, number, True,
          json.dumps(["void", number]))


def _keep(rulebook: Rulebook, case: dict[str, Any], decision_json: dict[str, Any], chosen: list[str],
          reason: str | None, comment: str, supersedes: int | None, voids: bool, made_of: str) -> None:
    state = st.session_state
    try:
        decision = make_decision_record(case, decision_json, chosen, override_reason=reason, comment=comment or None,
                                        attendees=session.attendees(state), meeting_date=session.meeting_date(state),
                                        source="ui", supersedes=supersedes, voids=voids)
        if session.current(state) is None:
            session.add_form(state)
        number, entry = session.record(state, decision)
    except InputError as err:
        why = "; ".join(md(p.message) for p in err.problems) if err.problems else md(err)
        state[MESSAGE] = ("error", f"Not recorded: {why}", _case_id(state))
        return
    if voids:
        what = f"{_where(supersedes or 0, entry)} is withdrawn"
    else:
        follows = "follows the top suggestion" if decision.follows_top else \
            f"does not follow the top suggestion ({OVERRIDE_REASONS[decision.override_reason or 'other']})"
        what = f"{md(labels.options_in_words(rulebook, chosen))}; {follows}"
        if supersedes is not None:
            what += f"; it corrects {'record' if entry.record else 'minutes entry'} {supersedes}"
    where = (f"record {entry.record.seq} of the board log `{md(entry.path)}`, hash `{entry.record.hash[:16]}…`"
             if entry.record else f"entry {number} of this meeting's minutes (recording is off)")
    state[MESSAGE] = ("success", f"Recorded: {what}. Kept in {where}.", _case_id(state))
    state[LAST] = (_case_id(state), made_of)
    _clear()


def _clear() -> None:
    # Values, not deleted keys: the browser keeps a widget's value unless the server sets a new one.
    state = st.session_state
    state[CHOSEN], state[REASON], state[COMMENT], state[CORRECTS] = [], None, "", True
