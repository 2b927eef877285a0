"""The decision as a board reads it: the top suggestion, the options best first as coloured cards, what is still to
find out (what could move the top suggestion first), where the papers disagree, adjuncts, scores."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

import streamlit as st
from spinemets import Case, Decision, Engine, Rulebook
from spinemets.vocabulary import Citation

from . import cards, labels, missing_rank, plan_view
from .form import score_line
from .text import md

VIEW_KEY = "decision.view"
VIEWS = ("options", "missing", "conflicts", "adjuncts")
_PROMPTS = 8   # answer boxes drawn under "still to find out"; the rest are listed


def render(rulebook: Rulebook, decision: Decision, *, ask: Callable[[str], None] | None = None,
           engine: Engine | None = None, case: Case | None = None, blocked: dict[str, list[str]] | None = None,
           findings: str = "", after_top: Callable[[], None] | None = None, top_card: bool = True,
           focus: str | None = None, on_focus: Callable[[str], None] | None = None,
           ask_at: Callable[[str, str], None] | None = None) -> None:
    """`ask(field)`, when given, draws an answer widget beside each unknown field that could change the advice;
    `blocked` names, per option, fields at fault in the form that could change it; `findings` (HTML) shows the
    case as entered under the top suggestion; `after_top()` draws what goes right under the top suggestion.
    A case with lesions is shown as its plan and the decision at each level (ui/lesion_view.py): `focus` names the
    level to open, `on_focus(level)` is told when the reader opens another, and `ask_at(field, level)` draws the
    answer widget for a finding of that level."""
    if plan_view.lesion_decisions(decision):
        from . import lesion_view  # it draws each level with this module's views

        lesion_view.render(rulebook, decision, ask=ask_at, findings=findings, after_top=after_top, focus=focus,
                           on_focus=on_focus)
        return
    if after_top is None:
        st.markdown(cards.top_card(rulebook, decision) + glance_html(rulebook, decision) + findings,
                    unsafe_allow_html=True)
    else:
        # top_card=False: the presentation view has drawn the top suggestion large already
        st.markdown(cards.top_card(rulebook, decision) if top_card else cards.STYLE, unsafe_allow_html=True)
        after_top()
        st.markdown(glance_html(rulebook, decision) + findings, unsafe_allow_html=True)  # STYLE came with the top
    views(rulebook, decision, ask, engine=engine, case=case, blocked=blocked)
    scores(rulebook, decision)
    footer(decision)


def views(rulebook: Rulebook, decision: Any, ask: Callable[[str], None] | None = None, *,
          engine: Engine | None = None, case: Case | None = None, blocked: dict[str, list[str]] | None = None) -> None:
    """The switch between the options, what is still to find out, where the papers disagree and the adjuncts, and
    the chosen one drawn (of a decision, or of one level's decision)."""
    state = st.session_state
    if state.get(VIEW_KEY) not in VIEWS:
        state[VIEW_KEY] = VIEWS[0]
    counts = {"options": None, "missing": len(decision.missing), "conflicts": len(decision.conflicts),
              "adjuncts": len(decision.adjuncts)}
    titles = {"options": "Options and reasons", "missing": "Still to find out", "conflicts": "Papers disagree",
              "adjuncts": "Adjuncts"}
    # Only the chosen view is built: the browser draws a few elements per click instead of a few hundred.
    view = st.segmented_control(
        "Show", VIEWS, key=VIEW_KEY, required=True, label_visibility="collapsed", width="stretch", wrap=True,
        format_func=lambda v: titles[v] + (f" ({counts[v]})" if counts[v] is not None else ""))
    if view == "missing":
        missing(rulebook, decision, ask, engine=engine, case=case)
    elif view == "conflicts":
        conflicts(rulebook, decision)
    elif view == "adjuncts":
        adjuncts(rulebook, decision)
    else:
        st.html(cards.option_cards(rulebook, decision, blocked))  # STYLE came with the top card


def glance_html(rulebook: Rulebook, decision: Decision) -> str:
    note = ("<div style='font-size:.8rem;color:#555'>* provisional: an unknown field, once known, could change this "
            "status.</div>") if any(o.provisional for o in decision.options) else ""
    return cards.chips(rulebook, decision) + note


def glance(rulebook: Rulebook, decision: Decision) -> None:
    """All six in one row, best first, so the room sees the whole picture before any detail."""
    st.markdown(cards.STYLE + glance_html(rulebook, decision), unsafe_allow_html=True)


def _could_change(rulebook: Rulebook, ask: missing_rank.Ask) -> str:
    parts = []
    if ask.moves_top:
        moves = "; ".join(f"to {labels.option_title(rulebook, top)} if {labels.value_words(rulebook, ask.field, value)}"
                          for value, top in ask.moves_top[:3])
        parts.append(f"**could move the top suggestion** ({md(moves)})")
    parts.append("could change " + md(labels.options_in_words(rulebook, ask.affects)))
    return "; ".join(parts)


def missing(rulebook: Rulebook, decision: Decision, ask: Callable[[str], None] | None = None, *,
            engine: Engine | None = None, case: Case | None = None) -> None:
    if not decision.missing:
        st.success("No unknown field could change this advice.", icon=":material/task_alt:")
        return
    if engine is not None and case is not None:
        asks = missing_rank.ranked(engine, case, decision)
        order = "Unknown fields that could change the advice once known: those that could move the top suggestion " \
                "first, then by how many options they could change."
    else:
        asks = [missing_rank.Ask(m.field, m.affects) for m in decision.missing]
        order = "Unknown fields that could change the advice once known, in data-dictionary order."
    # at one level of a case with lesions: a field of another level (its compression, say) names that level
    elsewhere: dict[str, tuple[str, ...]] = {m.field: tuple(m.levels or ()) for m in decision.missing
                                             if getattr(m, "levels", None)}
    st.caption(order + (" Answer here or in the case form." if ask else ""))
    for i, item in enumerate(asks):
        title = labels.field_title(rulebook, item.field) + (
            f" at {', '.join(elsewhere[item.field])}" if item.field in elsewhere else "")
        group = labels.GROUP_TITLES.get(labels.field_group(rulebook, item.field), "")
        text = f"**{md(title)}?** {_could_change(rulebook, item)}" + (f" :gray[({group})]" if group else "")
        if ask is None or i >= _PROMPTS:
            if ask is not None and i == _PROMPTS:
                st.caption(f"{len(asks) - _PROMPTS} more, with less effect on the advice (answer them in the form):")
            st.markdown("- " + text)
            continue
        question, answer = st.columns([3, 2], vertical_alignment="center")
        question.markdown(text)
        with answer:
            ask(item.field)


def conflicts(rulebook: Rulebook, decision: Decision) -> None:
    if not decision.conflicts:
        st.caption("No conflict between the papers applies to this case.")
        return
    parts = []
    for conflict in decision.conflicts:
        caution = " - each is at most <i>caution</i> until the board weighs it" if conflict.caution else ""
        heading = f"The papers disagree about {escape(labels.options_in_words(rulebook, conflict.options))}{caution}"
        parts.append(_rule_card(rulebook, "#b45309", "#fffaf2", heading, conflict.text, conflict.rule,
                                conflict.citations))
    st.markdown("".join(parts), unsafe_allow_html=True)


def adjuncts(rulebook: Rulebook, decision: Decision) -> None:
    if not decision.adjuncts:
        st.caption("No adjunct applies to this case.")
        return
    parts = []
    for adjunct in decision.adjuncts:
        tied = f" (with {escape(labels.options_in_words(rulebook, adjunct.options))})" if adjunct.options else ""
        parts.append(_rule_card(rulebook, "#1d4ed8", "#f3f6fd", f"{escape(adjunct.title)}{tied}", adjunct.text,
                                adjunct.rule, adjunct.citations))
    st.markdown("".join(parts), unsafe_allow_html=True)


def _rule_card(rulebook: Rulebook, colour: str, tint: str, heading_html: str, text: str, rule: str,
               citations: Sequence[Citation]) -> str:
    """A card of one fired rule's text, the rule named below it in words, then its passages."""
    return (f"<div class='sm-card' style='--c:{colour};--t:{tint}'><div class='sm-h'>{heading_html}</div>"
            f"<div>{escape(text)}<span class='sm-small' title='rule {escape(rule)}'> - rule: "
            f"{escape(labels.rule_title(rulebook, rule))}</span></div>"
            + "".join(cards.citation(rulebook, c) for c in citations) + "</div>")


def scores(rulebook: Rulebook, decision: Decision) -> None:
    parts = ["  \n".join(score_line(result.title, result, rulebook) for result in decision.frameworks.values()
                         if result.kind == "score")]
    for result in decision.frameworks.values():
        if result.kind == "summary":
            lines = [f"**{md(result.title)}**", ""]
            for line in result.lines:
                find = ", ".join(labels.field_title(rulebook, f) for f in line.find_out)
                pending = f" *(provisional: find out {md(find)})*" if line.provisional and find else ""
                lines.append(f"- **{md(line.title)}**: {md(line.text)}{pending}")
            parts.append("\n".join(lines))
    st.markdown("\n\n".join(p for p in parts if p))
    if decision.derived:
        st.markdown(cards.derived(rulebook, decision), unsafe_allow_html=True)


def footer(decision: Decision) -> None:
    ref = decision.rulebook
    st.caption(f"Rule base **{md(ref.name)} {md(ref.version)}**, sha256 `{ref.sha256}` · case `{decision.case_id}`. "
               "The same case and rule base always give this decision.")
