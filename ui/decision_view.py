"""The decision as a board reads it: options best first as cards, why, what is missing, where papers disagree."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from spinemets import Decision, Rulebook
from spinemets.decision import OptionDecision

from . import citations, labels
from .form import score_line
from .text import attr, md

DECISION_TABS = ("Options and reasons", "Still to find out", "Papers disagree", "Adjuncts")


def render(rulebook: Rulebook, decision: Decision, *, ask: Callable[[str], None] | None = None) -> None:
    """`ask(field)`, when given, draws an answer widget beside each unknown field that could change the advice."""
    top_line(rulebook, decision)
    glance(decision)
    st.markdown(summary_line(decision))
    # Static labels: a label that changed with the counts would send the board back to the first tab.
    # Only the open tab is built ("rerun" tabs report which one is open): the browser then draws a few dozen
    # elements instead of a few hundred, and a rerun after a field change stays quick on the shared screen.
    reasons_tab, missing_tab, conflicts_tab, adjuncts_tab = st.tabs(
        list(DECISION_TABS), key="decision.tabs", on_change="rerun")
    if reasons_tab.open is not False:
        with reasons_tab:
            for rank, option in enumerate(decision.options, start=1):
                option_card(rulebook, option, rank if option.option in decision.ranking else None, decision)
    if missing_tab.open:
        with missing_tab:
            missing(rulebook, decision, ask)
    if conflicts_tab.open:
        with conflicts_tab:
            conflicts(rulebook, decision)
    if adjuncts_tab.open:
        with adjuncts_tab:
            adjuncts(rulebook, decision)
    scores(decision)
    footer(decision)


def summary_line(decision: Decision) -> str:
    def count(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"
    return " · ".join([
        f"**{count(len(decision.missing), 'unknown field')}** could change the advice",
        f"**{count(len(decision.conflicts), 'conflict')}** between papers",
        f"**{count(len(decision.adjuncts), 'adjunct')}**"])


def top_line(rulebook: Rulebook, decision: Decision) -> None:
    top = decision.option(decision.top)
    style = labels.STATUS_STYLES[top.status]
    provisional = " (provisional: unknown fields could change it)" if top.provisional else ""
    st.markdown(
        f"<div class='sm-top' style='border:2px solid {style.colour};background:{style.tint};"
        f"border-radius:8px;padding:.6rem 1rem;margin-bottom:.5rem'>"
        f"<div style='font-size:.85rem;color:#444'>Top suggestion</div>"
        f"<div style='font-size:1.5rem;font-weight:700'>{attr(top.option)} - "
        f"{attr(labels.option_title(rulebook, top.option))}</div>"
        f"<div style='color:{style.colour};font-weight:600'>{style.icon} {attr(style.label)}"
        f"{attr(provisional)}</div></div>",
        unsafe_allow_html=True)


def glance(decision: Decision) -> None:
    """All six in one row, best first, so the room sees the whole picture before any detail."""
    chips = []
    for option in decision.options:
        style = labels.STATUS_STYLES[option.status]
        mark = " *" if option.provisional else ""
        chips.append(
            f"<span style='display:inline-block;margin:2px 4px 2px 0;padding:3px 10px;border-radius:14px;"
            f"background:{style.colour};color:white;font-weight:600;font-size:.9rem'>"
            f"{attr(option.option)}: {attr(style.label)}{mark}</span>")
    st.markdown("<div class='sm-glance'>" + "".join(chips) + "</div>", unsafe_allow_html=True)
    if any(o.provisional for o in decision.options):
        st.caption("\\* provisional: an unknown field, once known, could change this status.")


def option_card(rulebook: Rulebook, option: OptionDecision, rank: int | None, decision: Decision) -> None:
    style = labels.STATUS_STYLES[option.status]
    place = f"{rank}. " if rank else ""
    flag = " &middot; provisional" if option.provisional else ""
    with st.container(border=True):
        st.markdown(
            f"<div class='sm-card' style='border-left:8px solid {style.colour};background:{style.tint};"
            f"padding:.4rem .8rem;border-radius:4px'>"
            f"<span style='font-size:1.15rem;font-weight:700'>{place}{attr(option.option)}</span> "
            f"<span style='color:#333'>{attr(labels.option_title(rulebook, option.option))}</span><br>"
            f"<span style='color:{style.colour};font-weight:700'>{style.icon} {attr(style.label)}</span>"
            f"<span style='color:#555'>{flag}</span></div>",
            unsafe_allow_html=True)
        if not option.reasons:
            st.caption("No rule applies to this option for this case: it stays at the baseline, not recommended.")
        for reason in option.reasons:
            detail = f" ({md(reason.detail)})" if reason.detail else ""
            st.markdown(f"**{labels.EFFECT_WORDS[reason.effect]}**{detail}: {md(reason.text)}")
            st.caption(f"rule `{reason.rule}`" + "".join(
                f" · rests on *{md(d.title)}*, derived by " + ", ".join(f"`{b.rule}`" for b in d.because)
                for d in decision.rests_on(reason.rule)))
            citations.render_all(rulebook, reason.citations)


def missing(rulebook: Rulebook, decision: Decision, ask: Callable[[str], None] | None = None) -> None:
    if not decision.missing:
        st.success("No unknown field could change this advice.", icon=":material/task_alt:")
        return
    st.caption("Unknown fields that could change the advice once known, in data-dictionary order."
               + (" Answer here or in the case form." if ask else ""))
    for item in decision.missing:
        title = labels.field_title(rulebook, item.field)
        spec = rulebook.catalog.get(item.field)
        group = labels.GROUP_TITLES.get(labels.field_group(rulebook, item.field), "")
        about = f" - {md(spec.description)}" if spec is not None and spec.description else ""
        text = (f"**{md(title)}?**{about}  \n:gray[could change {', '.join(item.affects)}"
                + (f" · {group} tab]" if group else "]"))
        if ask is None:
            st.markdown("- " + text)
            continue
        question, answer = st.columns([3, 2], vertical_alignment="center")
        question.markdown(text)
        with answer:
            ask(item.field)


def conflicts(rulebook: Rulebook, decision: Decision) -> None:
    if not decision.conflicts:
        st.caption("No conflict between the papers applies to this case.")
    for conflict in decision.conflicts:
        with st.container(border=True):
            caution = " - each is at most *caution* until the board weighs it" if conflict.caution else ""
            st.markdown(f"##### :orange[The papers disagree] about {', '.join(conflict.options)}{caution}")
            st.markdown(md(conflict.text))
            st.caption(f"rule `{conflict.rule}`")
            citations.render_all(rulebook, conflict.citations)


def adjuncts(rulebook: Rulebook, decision: Decision) -> None:
    if not decision.adjuncts:
        st.caption("No adjunct applies to this case.")
    for adjunct in decision.adjuncts:
        with st.container(border=True):
            tied = f" (with {', '.join(adjunct.options)})" if adjunct.options else ""
            st.markdown(f"##### {md(adjunct.title)}{tied}")
            st.markdown(md(adjunct.text))
            st.caption(f"rule `{adjunct.rule}`")
            citations.render_all(rulebook, adjunct.citations)


def scores(decision: Decision) -> None:
    for result in decision.frameworks.values():
        if result.kind == "score":
            st.markdown(score_line(result.title, result))
    for result in decision.frameworks.values():
        if result.kind == "summary":
            st.markdown(f"**{md(result.title)}**")
            for line in result.lines:
                pending = (f" *(provisional: find out {md(', '.join(line.find_out))})*"
                           if line.provisional and line.find_out else "")
                st.markdown(f"- **{md(line.title)}**: {md(line.text)}{pending}")
    if decision.derived:
        with st.expander(f"How the engine got there: {len(decision.derived)} derived facts"):
            for d in decision.derived:
                st.markdown(f"**{md(d.title)}** (`{d.fact}`), used by " + ", ".join(f"`{r}`" for r in d.used_by))
                for because in d.because:
                    st.markdown(f"- {md(because.text)} (rule `{because.rule}`)")


def footer(decision: Decision) -> None:
    ref = decision.rulebook
    st.caption(f"Rule base **{md(ref.name)} {md(ref.version)}**, sha256 `{ref.sha256}` · case `{decision.case_id}`. "
               "The same case and rule base always give this decision.")
