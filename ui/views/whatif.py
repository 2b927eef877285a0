"""What-if: change one field of the case in the form and see which statuses change; and every single change that
would move the top suggestion."""
from __future__ import annotations

import streamlit as st
from spinemets import Decision
from spinemets.case import VERTEBRAE
from spinemets.ui import (
    case_state,
    decision_view,
    evaluation,
    form,
    labels,
    lesion_form,
    lesion_state,
    lesion_view,
    plan_view,
    resources,
)
from spinemets.ui.text import md
from spinemets.whatif import FieldChange, diff, sweep

engine = resources.engine()
rulebook = engine.rulebook
specs = evaluation.input_specs(engine)
case_state.ensure(st.session_state, specs)

st.title("What-if")
outcome = evaluation.evaluate_form(engine, st.session_state)
if outcome.complete and outcome.empty:
    st.info("Enter the case first: there is nothing to compare against yet.", icon=":material/edit_note:")
    st.page_link("views/board.py", label="Go to the case", icon=":material/groups:")
    st.stop()
if not outcome.complete:
    st.warning("The case in the form has problems, so there is nothing to compare against yet. "
               "Fix them on the case page.", icon=":material/error:")
    st.page_link("views/board.py", label="Go to the case", icon=":material/groups:")
    st.stop()

case, decision = outcome.case, outcome.decision
assert case is not None and decision is not None  # outcome.ok
st.markdown(f"Case `{case.id}` as entered on the case page; top suggestion now "
            f"**{md(labels.option_title(rulebook, decision.top))}**.")
decision_view.glance(rulebook, decision)


def _status_table(before: Decision, after: Decision) -> list[dict[str, str]]:
    old, new = before.statuses(), after.statuses()
    return [{"option": labels.option_title(rulebook, o), "now": labels.status_label(old[o]),
             "after the change": labels.status_label(new[o]), "changed": "yes" if old[o] != new[o] else ""}
            for o in old]


st.subheader("Change one field")
state = st.session_state
per_level = lesion_state.on(state)
hidden = lesion_state.FLAT_PER_LEVEL if per_level else frozenset()
# A choice names the form's widget without its prefix: a flat field ('age'), or a finding of one level
# ('lesion.2.pain_score') while the levels are described one by one.
names = [n for n in case_state.field_names() if n not in case_state.IDENTITY and n not in hidden]
lesion_specs = lesion_state.specs_for(specs)
if per_level:
    names += [lesion_state.key(slot, n).removeprefix(case_state.PREFIX)
              for slot in lesion_form.ordered(state) for n in lesion_state.FIELDS[1:]]


def _parts(choice: str) -> tuple[int | None, str]:
    """(lesion slot or None, field name) of a choice."""
    if choice.startswith("lesion."):
        _, slot, name = choice.split(".", 2)
        return int(slot), name
    return None, choice


def _field_label(choice: str) -> str:
    slot, name = _parts(choice)
    if slot is not None:
        level = lesion_state.level_of(state, slot)
        current = labels.value_words(rulebook, name, state.get(case_state.PREFIX + choice))
        return f"{level}: {lesion_state.field_title(rulebook, name)} (now {current})"
    group = labels.GROUP_TITLES.get(labels.field_group(rulebook, name), "")
    current = labels.value_words(rulebook, name, outcome.reading.data.get(name) if not name.startswith("sins.")
                                 else (outcome.reading.data.get("sins") or {}).get(name.split(".", 1)[1]))
    return f"{group}: {labels.field_title(rulebook, name)} (now {current})"


if state.get("whatif.field") not in names:
    state["whatif.field"] = names[0]
shown = {n: _field_label(n) for n in names}
chosen = st.selectbox("Field", names, key="whatif.field", format_func=lambda n: shown.get(n, n))
chosen_slot, chosen_name = _parts(chosen)
form_key = case_state.PREFIX + chosen
value_key = f"whatif.value.{chosen}"
if value_key not in state:
    state[value_key] = state.get(form_key)
form.field_widget(engine, lesion_specs if chosen_slot is not None else specs, chosen_name, widget_key=value_key,
                  title="Value to try")

trial_state = {k: v for k, v in state.items() if isinstance(k, str) and k.startswith(case_state.PREFIX)}
trial_state[form_key] = state[value_key]
trial = evaluation.evaluate_form(engine, trial_state)


def _apply() -> None:
    title = shown.get(chosen, chosen).split(" (now ")[0]
    case_state.remember(state, specs, f"the what-if value for {title}")
    state[form_key] = state[value_key]


if not trial.ok:
    for message in [m for ms in trial.field_problems.values() for m in ms] + trial.general_problems:
        st.error(message, icon=":material/error:")
    st.caption("This value cannot be combined with the rest of the case; the case itself is unchanged.")
else:
    assert trial.decision is not None  # trial.ok
    changes = diff(decision, trial.decision)
    if trial.decision.top != decision.top:
        st.markdown(f"Top suggestion: **{md(labels.option_title(rulebook, decision.top))} → "
                    f"{md(labels.option_title(rulebook, trial.decision.top))}**")
    else:
        st.markdown(f"Top suggestion unchanged: **{md(labels.option_title(rulebook, decision.top))}**")
    if not changes:
        st.info("No option changes status with this value.", icon=":material/check:")
    st.table(_status_table(decision, trial.decision), hide_index=True)
    before_levels = {d.level: d for d in plan_view.lesion_decisions(decision)}
    after_levels = {d.level: d for d in plan_view.lesion_decisions(trial.decision)}
    if before_levels or after_levels:
        st.table([{"level": level,
                   "now": lesion_view.level_words(rulebook, before_levels[level]).split(": ", 1)[1]
                   if level in before_levels else "not described",
                   "after the change": lesion_view.level_words(rulebook, after_levels[level]).split(": ", 1)[1]
                   if level in after_levels else "not described",
                   "changed": "yes" if (level in before_levels) != (level in after_levels) or (
                       level in before_levels and before_levels[level].statuses() != after_levels[level].statuses())
                   else ""}
                  for level in sorted({*before_levels, *after_levels}, key=VERTEBRAE.index)], hide_index=True)
    st.button("Apply this value to the case", on_click=_apply, icon=":material/done:",
              disabled=state[value_key] == state.get(form_key))

st.subheader("Single changes that would move the top suggestion")
st.caption("Every field tried at each value (numbers: one value on each side of every threshold the rules use), "
           "one at a time; values the rule base declares inconsistent with the rest of the case are skipped. "
           "Levels are not varied.")


def _changes() -> list[FieldChange]:
    # The sweep evaluates the case a few hundred times; keep it for this session until the case changes.
    assert case is not None and decision is not None  # outcome.ok, above
    memo_key = (engine.sha256, case.model_dump_json())
    memo = st.session_state.get("whatif.sweep")
    if memo is None or memo[0] != memo_key:
        memo = (memo_key, sweep(engine, case, decision))
        st.session_state["whatif.sweep"] = memo
    return memo[1]


def _rows(found: list[FieldChange]) -> list[dict[str, str]]:
    def title(code: str) -> str:
        return labels.option_title(rulebook, code)
    return [{**({"level": c.level or "the patient"} if case is not None and case.lesions else {}),
             "field": lesion_state.field_title(rulebook, c.field) if c.level else labels.field_title(rulebook, c.field),
             "now": labels.value_words(rulebook, c.field, c.before),
             "if": labels.value_words(rulebook, c.field, c.after),
             "top suggestion": f"{title(c.top_before)} → {title(c.top_after)}",
             "status changes": "; ".join(f"{title(s.option)}: {labels.status_label(s.before)} → "
                                         f"{labels.status_label(s.after)}" for s in c.changes)} for c in found]


if case.lesions:
    st.caption("Described level by level: each finding of each level is tried on its own, and a change is judged "
               "by the patient's summary (each option at the best status it reaches at any level).")
found = _changes()
moving = [c for c in found if c.moves_top]
if moving:
    st.table(_rows(moving), hide_index=True)
else:
    st.success("No single change of one field moves the top suggestion.", icon=":material/task_alt:")
others = [c for c in found if not c.moves_top]
with st.expander(f"{len(others)} other single changes alter some status but not the top suggestion"):
    if others:
        st.table(_rows(others), hide_index=True)
