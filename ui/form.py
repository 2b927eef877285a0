"""Case entry: every data-dictionary field, grouped the way a board thinks, with unknown as the default."""
from __future__ import annotations

from typing import Any

import streamlit as st
from spinemets import Engine
from spinemets.case import GROUPS, VERTEBRAE
from spinemets.fields import FieldSpec
from spinemets.scores import ScoreResult

from . import case_state, labels
from .evaluation import Outcome, input_specs
from .text import md

# Radios are one click on a shared screen; long code lists go in a drop-down.
_RADIO_MAX_CODES = 4


def render(engine: Engine, outcome: Outcome) -> None:
    specs = input_specs(engine)
    _identity(outcome)
    _problem_summary(engine, outcome)
    groups = _fields_by_group(engine)
    # A key keeps the open tab when an error message appears above the tabs and shifts them down.
    tabs = st.tabs([labels.GROUP_TITLES[g] for g in GROUPS], key="form.groups")
    for group, tab in zip(GROUPS, tabs, strict=True):
        with tab:
            names = groups[group]
            known = sum(1 for n in names if n not in outcome.reading.unknown and n not in outcome.reading.problems)
            st.caption(f"{known} of {len(names)} known. Leave a field on *unknown* until it has been assessed: "
                       "unknown is not *no*.")
            plain = [n for n in names if not n.startswith("sins.")]
            _grid(engine, specs, plain, outcome)
            scored = [n for n in names if n.startswith("sins.")]
            if scored:
                _sins(engine, specs, scored, outcome)


def _identity(outcome: Outcome) -> None:
    left, right = st.columns([2, 3])
    with left:
        st.text_input("Case id", key=case_state.key("id"),
                      help="A short label for the minutes and the file name: letters, digits, '.', '_' or '-'. "
                           "No patient names.")
        _problems(outcome.problems_for("id"))
    with right:
        st.text_input("Title", key=case_state.key("title"), help="One-line summary (optional).")
        _problems(outcome.problems_for("title"))
    with st.expander("Presentation (free text, not read by the rules)"):
        st.text_area("Presentation", key=case_state.key("presentation"), label_visibility="collapsed", height=120)
        _problems(outcome.problems_for("presentation"))


def _problem_summary(engine: Engine, outcome: Outcome) -> None:
    box = st.container()  # always drawn, so the tabs below keep their place in the page
    if outcome.ok:
        return
    lines = []
    for name, messages in outcome.field_problems.items():
        group = labels.field_group(engine.rulebook, name)
        where = f" ({labels.GROUP_TITLES.get(group, group)})" if group else ""
        lines += [f"- **{md(labels.field_title(engine.rulebook, name))}**{where}: {md(m)}" for m in messages]
    lines += [f"- {md(m)}" for m in outcome.general_problems]
    box.error("The case cannot be evaluated yet; each problem is also shown next to its field. "
             "Nothing you entered has been changed.\n\n" + "\n".join(lines), icon=":material/error:")


def _fields_by_group(engine: Engine) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {g: [] for g in GROUPS}
    for name in case_state.field_names():
        if name in case_state.IDENTITY:
            continue
        group = labels.field_group(engine.rulebook, name)
        groups.setdefault(group, []).append(name)
    return groups


def _grid(engine: Engine, specs: dict[str, FieldSpec], names: list[str], outcome: Outcome) -> None:
    columns = st.columns(2)
    for i, name in enumerate(names):
        with columns[i % 2]:
            field_widget(engine, specs, name)
            _problems(outcome.problems_for(name))


def field_widget(engine: Engine, specs: dict[str, FieldSpec], name: str, *, widget_key: str | None = None,
                 title: str | None = None, **options: Any) -> Any:
    """The widget for one field; `widget_key` lets another place draw a second widget for the same field
    (`options`, e.g. on_change, go to Streamlit)."""
    spec = specs.get(name)
    k = widget_key or case_state.key(name)
    title = title or labels.field_title(engine.rulebook, name)
    if name == case_state.LEVELS:
        return st.multiselect(title, VERTEBRAE, key=k, placeholder="unknown - choose the levels to treat",
                              help="Symptomatic vertebral levels to treat; leave empty while unknown.", **options)
    assert spec is not None, name
    help_text = spec.description + (f". Leave empty if unknown ({spec.describe_type()})." if spec.numeric else "")
    if spec.numeric:
        return st.text_input(title, key=k, placeholder="unknown", help=help_text, **options)
    if spec.kind == "bool":
        return st.radio(title, [case_state.UNKNOWN, case_state.YES, case_state.NO], key=k, horizontal=True,
                        help=help_text, **options)
    choices = [case_state.UNKNOWN, *spec.values]
    if len(spec.values) <= _RADIO_MAX_CODES:
        return st.radio(title, choices, key=k, horizontal=True, help=help_text, format_func=_choice_label, **options)
    return st.selectbox(title, choices, key=k, help=help_text, format_func=_choice_label, **options)


def prompt(engine: Engine, name: str) -> None:
    """A second widget for an unknown field, beside the advice it could change; answering it fills the form."""
    prompt_key, form_key = "prompt." + name, case_state.key(name)
    specs = input_specs(engine)
    # Always start from the form's value, so this widget can never hold anything the form does not.
    st.session_state[prompt_key] = st.session_state.get(form_key, case_state.blank_value(name, specs.get(name)))
    field_widget(engine, specs, name, widget_key=prompt_key, label_visibility="collapsed",
                 on_change=_copy, args=(prompt_key, form_key))


def _copy(source: str, target: str) -> None:
    st.session_state[target] = st.session_state[source]


def _choice_label(code: str) -> str:
    return labels.UNKNOWN_WORD if code == case_state.UNKNOWN else labels.code_label(code)


def _sins(engine: Engine, specs: dict[str, FieldSpec], names: list[str], outcome: Outcome) -> None:
    st.markdown("**Spinal Instability Neoplastic Score (SINS), by component**")
    _grid(engine, specs, names, outcome)
    for score in engine.rulebook.scores:
        inputs = {c.input for c in score.components}
        if not inputs <= set(names):
            continue
        result = outcome.decision.frameworks.get(score.id) if outcome.decision else None
        shown = result if isinstance(result, ScoreResult) else None
        st.markdown(score_line(score.title, shown), help=score.description or None)


def score_line(title: str, result: ScoreResult | None) -> str:
    """'SINS total 9 (indeterminate)', or the range it can still take while components are unknown."""
    if result is None:
        return f"{title}: shown once the case can be evaluated."
    if result.total is not None:
        band = result.band_title or result.band or ""
        return f"{title}: **{result.total}**" + (f" ({md(band)})" if band else "")
    unknown = len(result.unknown)
    why = ([f"{unknown} component{'s are' if unknown != 1 else ' is'} unknown"] if unknown else []) + (
        [f"the score has no published category for {md(', '.join(result.unmapped))} (not guessed)"]
        if result.unmapped else [])
    bands = ", ".join(result.possible_bands)
    return (f"{title}: between **{result.minimum}** and **{result.maximum}** while " + " and ".join(why)
            + (f" (could be {md(bands)})" if bands else ""))


def _problems(messages: list[str]) -> None:
    for message in messages:
        st.error(message, icon=":material/error:")
