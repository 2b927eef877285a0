"""Case entry: every data-dictionary field, grouped the way a board thinks, with unknown as the default.

Only the open group is drawn (a group switcher that shows how much of each group is known), so a click sends a
dozen widgets to the browser, not fifty. Yes/no and short coded fields are segmented buttons: one click each, and
arrow keys move the focus without committing every value they pass (a radio would re-evaluate on each).
"""
from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import streamlit as st
from spinemets import Engine, Rulebook
from spinemets.case import GROUPS, VERTEBRAE
from spinemets.fields import FieldSpec
from spinemets.scores import ScoreResult

from . import case_state, labels, lesion_form, lesion_state, sins_link
from .evaluation import Outcome, input_specs
from .text import md

# Segmented buttons hold a few short choices; long code lists (and graded scales, whose definitions are long)
# go in a drop-down.
_BUTTON_MAX_CODES = 5
GROUP_KEY = "form.group"
# Fields a board reads together, placed beside each other (otherwise the data dictionary's order).
_AFTER = {"compression_site": "spinal_cord_compression", "deficit_onset_hours": "neurological_deficit",
          "deficit_progressing": "deficit_onset_hours"}


def render(engine: Engine, outcome: Outcome, links: dict[str, sins_link.Link],
           lesion_links: dict[int, dict[str, sins_link.Link]] | None = None) -> None:
    specs = input_specs(engine)
    _problem_summary(engine, outcome)
    state = st.session_state
    st.toggle("Describe the levels one by one", key=lesion_state.PER_LEVEL, on_change=lesion_form.switched,
              args=(state, specs),
              help="On: each involved vertebra gets its own findings (fracture, compression, SINS, pain, prior "
                   "treatment), the engine advises at each level and plans for the patient. Off: one set of "
                   "findings for the levels to treat, read as one lesion. What is typed in either stays when you "
                   "switch.")
    if lesion_state.on(state):
        lesion_form.render(engine, specs, outcome, lesion_links or {})
        st.markdown("**The patient**")
    groups = fields_by_group(engine)
    if state.get(GROUP_KEY) not in GROUPS:
        state[GROUP_KEY] = GROUPS[0]
    st.segmented_control("Findings", GROUPS, key=GROUP_KEY, required=True, width="stretch", wrap=True,
                         format_func=lambda g: _group_label(g, groups[g], outcome),
                         help="Each group's button shows how many of its fields are known. Leave a field on "
                              "*unknown* until it has been assessed: unknown is not *no*.")
    group = state[GROUP_KEY]
    names = groups[group]
    _grid(engine, specs, [n for n in names if not n.startswith("sins.")], outcome)
    scored = [n for n in names if n.startswith("sins.")]
    if scored:
        _sins(engine, specs, scored, outcome, links)


def _known(name: str, outcome: Outcome) -> bool:
    return name not in outcome.reading.unknown and name not in outcome.reading.problems


def _group_label(group: str, names: list[str], outcome: Outcome) -> str:
    known = sum(1 for n in names if _known(n, outcome))
    flag = " ⚠" if any(n in outcome.field_problems for n in names) else ""
    return f"{labels.GROUP_TITLES[group]} {known}/{len(names)}{flag}"


def identity() -> None:
    """Case id, title and presentation: drawn outside the form's fragment (typing in them reruns the page); their
    problems are listed with the others above the form."""
    left, middle, right = st.columns([2, 4, 3], vertical_alignment="bottom")
    with left:
        st.text_input("Case id", key=case_state.key("id"),
                      help="A short label for the minutes and the file name: letters, digits, '.', '_' or '-'. "
                           "No patient names.")
    with middle:
        st.text_input("Title", key=case_state.key("title"), help="One-line summary (optional).")
    with right, st.popover("Presentation (free text, not read by the rules)", width="stretch"):
        st.text_area("Presentation", key=case_state.key("presentation"), height=160)


def _problem_summary(engine: Engine, outcome: Outcome) -> None:
    if outcome.complete or not (outcome.field_problems or outcome.general_problems):
        return
    lines = []
    for name, messages in outcome.field_problems.items():
        lesion_title = lesion_form.problem_title(engine, st.session_state, name)
        if lesion_title is not None:
            lines += [f"- **{md(lesion_title)}**: {md(m)}" for m in messages]
            continue
        group = labels.field_group(engine.rulebook, name)
        where = f" ({labels.GROUP_TITLES.get(group, group)})" if group else ""
        lines += [f"- **{md(labels.field_title(engine.rulebook, name))}**{where}: {md(m)}" for m in messages]
    lines += [f"- {md(m)}" for m in outcome.general_problems]
    st.error("Some values cannot be used; each problem is also shown next to its field. Nothing you entered has "
             "been changed, and the decision is shown without these fields.\n\n" + "\n".join(lines),
             icon=":material/error:")


def fields_by_group(engine: Engine) -> dict[str, list[str]]:
    """The flat form's fields by group; while the levels are described one by one, the patient's alone."""
    groups: dict[str, list[str]] = {g: [] for g in GROUPS}
    hidden = lesion_state.FLAT_PER_LEVEL if lesion_state.on(st.session_state) else frozenset()
    for name in case_state.field_names():
        if name in case_state.IDENTITY or name in hidden:
            continue
        groups.setdefault(labels.field_group(engine.rulebook, name), []).append(name)
    for names in groups.values():
        for name, anchor in _AFTER.items():
            if name in names and anchor in names:
                names.remove(name)
                names.insert(names.index(anchor) + 1, name)
    return groups


def _wide(rulebook: Rulebook, spec: FieldSpec | None, name: str) -> bool:
    """Coded fields drawn as a row of buttons take the whole width; yes/no, numbers and drop-downs pair up."""
    if spec is None or spec.kind != "enum" or not _buttons(rulebook, spec, name):
        return False
    return sum(len(choice_words(rulebook, name, c)) + 4 for c in choices(spec)) > 36


def _buttons(rulebook: Rulebook, spec: FieldSpec, name: str) -> bool:
    return spec.kind == "bool" or (len(spec.values) <= _BUTTON_MAX_CODES and not labels.scale_grades(rulebook, name)
                                   and not name.startswith("sins."))


def _grid(engine: Engine, specs: dict[str, FieldSpec], names: list[str], outcome: Outcome,
          key_of: Callable[[str], str] = case_state.key, problem_of: Callable[[str], str] = str) -> None:
    """Narrow fields two by two in one pair of columns, a wide field on its own row: few layout blocks to send.
    A lesion's fields: `key_of` names their widgets and `problem_of` their problems."""
    blocks: list[list[str]] = []
    for name in names:
        wide = _wide(engine.rulebook, specs.get(name), name)
        if wide or not blocks or _is_wide_block(engine, specs, blocks[-1]):
            blocks.append([name])
        else:
            blocks[-1].append(name)
    for block in blocks:
        if _is_wide_block(engine, specs, block):
            field_widget(engine, specs, block[0], widget_key=key_of(block[0]))
            _problems(outcome.problems_for(problem_of(block[0])))
            continue
        columns = st.columns(2)
        for i, name in enumerate(block):
            with columns[i % 2]:
                field_widget(engine, specs, name, widget_key=key_of(name))
                _problems(outcome.problems_for(problem_of(name)))


def _is_wide_block(engine: Engine, specs: dict[str, FieldSpec], block: list[str]) -> bool:
    return len(block) == 1 and _wide(engine.rulebook, specs.get(block[0]), block[0])


def choices(spec: FieldSpec) -> list[str]:
    return [case_state.UNKNOWN, case_state.YES, case_state.NO] if spec.kind == "bool" \
        else [case_state.UNKNOWN, *spec.values]


def choice_words(rulebook: Rulebook, name: str, code: Any, *, long: bool = False) -> str:
    """A widget's choice in words; `long` adds a graded scale's definition (Bilsky, ASIA) and SINS points."""
    if code in (None, case_state.UNKNOWN):
        return labels.UNKNOWN_WORD
    if code in (case_state.YES, case_state.NO):
        return str(code)
    grades = labels.scale_grades(rulebook, name)
    if code in grades:
        grade = grades[code]
        return f"{code} - {grade.title}: {grade.description}" if long else f"{code} - {grade.title}"
    words = labels.value_words(rulebook, name, code)
    points = labels.points_of(rulebook, name)
    if code in points:
        words += f" · {points[code]} pt{'s' if points[code] != 1 else ''}"
    return words


def field_widget(engine: Engine, specs: dict[str, FieldSpec], name: str, *, widget_key: str | None = None,
                 title: str | None = None, allowed: tuple[str, ...] | None = None, **options: Any) -> Any:
    """The widget for one field; `widget_key` lets another place draw a second widget for the same field
    (`options`, e.g. on_change, go to Streamlit); `allowed` narrows a coded field's choices."""
    rulebook = engine.rulebook
    spec = specs.get(name)
    k = widget_key or case_state.key(name)
    title = title or (spec.title if spec is not None and rulebook.catalog.get(name) is None
                      else labels.field_title(rulebook, name))
    if name == case_state.LEVELS:
        return st.multiselect(title, VERTEBRAE, key=k, placeholder="unknown - choose the levels to treat",
                              help="Symptomatic vertebral levels to treat; leave empty while unknown.", **options)
    assert spec is not None, name
    help_text = spec.description[:1].upper() + spec.description[1:] + (
        f". Leave empty if unknown ({spec.describe_type()})." if spec.numeric else ".")
    if spec.numeric:
        return st.text_input(title, key=k, placeholder="unknown", help=help_text, **options)
    codes = choices(spec)
    if allowed is not None:
        codes = [case_state.UNKNOWN, *[c for c in spec.values if c in allowed]]
    if _buttons(rulebook, spec, name):
        if st.session_state.get(k) not in codes:
            st.session_state[k] = case_state.UNKNOWN
        return st.segmented_control(title, codes, key=k, required=True, help=help_text, wrap=True,
                                    format_func=lambda c: choice_words(rulebook, name, c), **options)
    return st.selectbox(title, codes, key=k, help=help_text, format_func=lambda c: choice_words(rulebook, name, c,
                                                                                                long=True), **options)


def prompt(engine: Engine, name: str, *, form_key: str | None = None,
           specs: dict[str, FieldSpec] | None = None) -> None:
    """A second widget for an unknown field, beside the advice it could change; answering it fills the form (at
    `form_key`: a lesion's widget, whose `specs` are the lesion's)."""
    form_key = form_key or case_state.key(name)
    prompt_key = "prompt." + form_key.removeprefix(case_state.PREFIX)
    specs = specs or input_specs(engine)
    # Always start from the form's value, so this widget can never hold anything the form does not.
    st.session_state[prompt_key] = st.session_state.get(form_key, case_state.blank_value(name, specs.get(name)))
    field_widget(engine, specs, name, widget_key=prompt_key, label_visibility="collapsed",
                 on_change=_copy, args=(prompt_key, form_key))


def _copy(source: str, target: str) -> None:
    st.session_state[target] = st.session_state[source]


def _sins(engine: Engine, specs: dict[str, FieldSpec], names: list[str], outcome: Outcome,
          links: dict[str, sins_link.Link], key_of: Callable[[str], str] = case_state.key,
          problem_of: Callable[[str], str] = str, frameworks: Any = None) -> None:
    """The score's components; a lesion's: `key_of` names their widgets, `problem_of` their problems, and
    `frameworks` are that lesion's results (None: the decision's own)."""
    rulebook = engine.rulebook
    score = next((s for s in rulebook.scores if {c.input for c in s.components} <= set(names)), None)
    if score is None:
        return
    if frameworks is None:
        frameworks = outcome.decision.frameworks if outcome.decision else {}
    result = frameworks.get(score.id)
    assert result is None or isinstance(result, ScoreResult)  # a score's id names its result, not a summary
    st.markdown(f"**{md(score.title)}**: " + score_words(rulebook, result), help=score.description or None)
    st.caption("Entered once: a component that another field of the case already says is filled from it, and "
               "offers only the values that agree with it.")
    columns = st.columns(2)
    for i, component in enumerate(c.input for c in score.components):
        with columns[i % 2]:
            link = links.get(component)
            title = labels.field_title(rulebook, component)
            if link is not None and link.determined is not None:
                sources = ", ".join(labels.field_title(rulebook, p) for p in link.known)
                st.markdown(f"<div class='sm-sins'><div style='font-size:.875rem'>{escape(title)}</div>"
                            f"<b>{escape(choice_words(rulebook, component, link.determined))}</b>"
                            f"<div style='font-size:.8rem;color:#555'>from {escape(sources)}</div></div>",
                            unsafe_allow_html=True)
                continue
            allowed = link.allowed if link is not None and link.known else None
            field_widget(engine, specs, component, allowed=allowed, on_change=sins_link.fill_partners,
                         args=(st.session_state, engine, specs, component, key_of), widget_key=key_of(component))
            _problems(outcome.problems_for(problem_of(component)))


def score_words(rulebook: Rulebook, result: ScoreResult | None) -> str:
    """'**9** (Indeterminate, possibly impending instability (7-12))', or the range it can still take."""
    if result is None:
        return "shown once the case can be evaluated."
    bands = labels.band_titles(rulebook, result.score)
    if result.total is not None:
        band = result.band_title or bands.get(result.band or "", result.band or "")
        return f"**{result.total}**" + (f" ({md(band)})" if band else "")
    unknown = len(result.unknown)
    why = ([f"{unknown} component{'s are' if unknown != 1 else ' is'} unknown"] if unknown else []) + (
        [f"the score has no published category for {md(', '.join(labels.code_label(u) for u in result.unmapped))}"
         " (not guessed)"] if result.unmapped else [])
    could = "; ".join(md(bands.get(b, labels.code_label(b))) for b in result.possible_bands)
    return (f"between **{result.minimum}** and **{result.maximum}** while " + " and ".join(why)
            + (f" (could be: {could})" if could else ""))


def score_line(title: str, result: ScoreResult | None, rulebook: Rulebook | None = None) -> str:
    """'SINS: **9** (indeterminate)', for the decision's score list."""
    if rulebook is None:
        if result is None:
            return f"{title}: shown once the case can be evaluated."
        return f"{title}: " + md(result.in_words())
    return f"{title}: " + score_words(rulebook, result)


def findings(rulebook: Rulebook, data: dict[str, Any]) -> str:
    """The case's entered findings in words, grouped, as one block of HTML to read beside the decision."""
    flat = sins_link.flat(data)
    rows = []
    for group in GROUPS:
        items = [(name, value) for name, value in flat.items()
                 if name not in case_state.IDENTITY and labels.field_group(rulebook, name) == group]
        if items:
            words = "; ".join(f"{escape(labels.field_title(rulebook, n))}: "
                              f"<b>{escape(labels.value_words(rulebook, n, v))}</b>" for n, v in items)
            rows.append(f"<div><span style='color:#555'>{labels.GROUP_TITLES[group]}:</span> {words}</div>")
    for lesion in sorted(data.get("lesions") or [], key=lambda found: VERTEBRAE.index(found["level"])):
        items = [(n, v) for n, v in sins_link.flat(lesion).items() if n != lesion_state.LEVEL]
        words = "; ".join(f"{escape(lesion_state.field_title(rulebook, n))}: "
                          f"<b>{escape(labels.value_words(rulebook, n, v))}</b>" for n, v in items) or "no finding"
        rows.append(f"<div data-level='{escape(lesion['level'])}'><span style='color:#555'>"
                    f"{escape(lesion['level'])}:</span> {words}</div>")
    body = "".join(rows) or "<div>No finding entered.</div>"
    return f"<details class='sm-findings' open><summary>The case as entered</summary>{body}</details>"


def _problems(messages: list[str]) -> None:
    for message in messages:
        st.error(message, icon=":material/error:")
