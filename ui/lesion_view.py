"""A decision on a case with lesions, as a board reads it: the spine picture and the plan for the patient first,
then the decision at one level at a time (its top suggestion, the six options as today's cards, what is still to
find out there, conflicts, adjuncts and its scores).

The level opened here is the level in focus of the form (`focus`); opening another here moves the form's focus
too (`on_focus`), so the picture, the findings and the decision always show the same level.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st
from spinemets import Decision, Rulebook

from . import cards, decision_view, labels, plan_view, spine_picture

LEVEL_KEY = "decision.level"


def render(rulebook: Rulebook, decision: Decision, *, ask: Callable[[str, str], None] | None = None,
           findings: str = "", after_top: Callable[[], None] | None = None,
           focus: str | None = None, on_focus: Callable[[str], None] | None = None) -> None:
    lesions = plan_view.lesion_decisions(decision)
    levels = [lesion.level for lesion in lesions]
    state = st.session_state
    if focus in levels:
        state[LEVEL_KEY] = focus
    if state.get(LEVEL_KEY) not in levels:
        state[LEVEL_KEY] = levels[0]
    plan = plan_view.plan_of(decision)
    assert plan is not None  # a decision with lesions has its plan
    picture = spine_picture.svg(plan_view.marks(rulebook, plan), focus=state[LEVEL_KEY], ident="spine-decision")
    st.markdown(cards.STYLE + f"<div class='sm-spine-box' style='margin:.2rem 0 .4rem 0'>{picture}</div>"
                + plan_view.card(rulebook, plan), unsafe_allow_html=True)
    if after_top is not None:
        after_top()
    words = {lesion.level: f"{lesion.level} · {labels.option_title(rulebook, lesion.top)}" for lesion in lesions}
    st.segmented_control("Decision at level", levels, key=LEVEL_KEY, required=True, width="stretch", wrap=True,
                         format_func=lambda level: words.get(level, level),
                         on_change=_focused if on_focus is not None else None,
                         args=(on_focus,) if on_focus is not None else None,
                         help="Each level is advised on by itself (the patient's findings with that level's own); "
                              "the plan above puts the levels together.")
    lesion = next(found for found in lesions if found.level == state[LEVEL_KEY])
    st.markdown(cards.top_card(rulebook, lesion, heading=f"Advice at {lesion.level}", level=lesion.level)
                + decision_view.glance_html(rulebook, lesion) + findings, unsafe_allow_html=True)
    elsewhere = {m.field: m.levels[0] for m in lesion.missing if m.levels}

    def ask_here(name: str) -> None:
        # a finding is asked of the level it belongs to: this one, or the other level the missing item names
        assert ask is not None
        ask(name, elsewhere.get(name, lesion.level))

    decision_view.views(rulebook, lesion, ask_here if ask is not None else None)
    decision_view.scores(rulebook, lesion)
    decision_view.footer(decision)


def _focused(on_focus: Callable[[str], None]) -> None:
    on_focus(str(st.session_state[LEVEL_KEY]))


def level_words(rulebook: Rulebook, lesion: Any) -> str:
    """'T11: Vertebroplasty (PVP), recommended' for captions and lists."""
    top = lesion.option(lesion.top)
    return (f"{lesion.level}: {labels.option_label(rulebook, lesion.top)}, {labels.status_label(top.status).lower()}"
            + (" (provisional)" if top.provisional else ""))
