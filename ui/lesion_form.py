"""Per-level entry: the case's lesions one at a time (add a level, copy the findings of another, remove one).

The level in focus is the one whose findings are drawn (a dozen widgets, not a dozen per level), whose decision
the decision column opens and which the spine picture highlights: one session-state key, `form.lesion_focus`,
holds its slot for all three. Copying findings over a level and removing a level put the form as it was on the
undo stack first, so either can be taken back.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import streamlit as st
from spinemets import Engine
from spinemets.case import GROUPS, VERTEBRAE
from spinemets.fields import FieldSpec

from . import case_state, labels, lesion_state, sins_link
from .evaluation import Outcome

FOCUS = case_state.KEPT_FOCUS
GROUP = "form.lesion_group"
ADD_LEVEL = "form.add_level"
ADD_FROM = "form.add_from"
COPY_FROM = "form.copy_from"
BLANK, FLAT = "blank", "flat"


def focus(state: case_state.State) -> int | None:
    """The slot of the lesion in focus (the first, cranio-caudally, when none was chosen)."""
    slots = ordered(state)
    if not slots:
        return None
    if state.get(FOCUS) not in slots:
        state[FOCUS] = slots[0]
    found: int = state[FOCUS]
    return found


def focus_level(state: case_state.State) -> str | None:
    slot = focus(state)
    return lesion_state.level_of(state, slot) if slot is not None else None


def ordered(state: case_state.State) -> list[int]:
    """The slots cranio-caudally (the order a board reads the spine in), whatever order they were entered in."""
    return sorted(lesion_state.slots(state), key=lambda s: _rank(lesion_state.level_of(state, s)))


def _rank(level: str) -> int:
    return VERTEBRAE.index(level) if level in VERTEBRAE else len(VERTEBRAE)


def index_of(state: case_state.State, slot: int) -> int:
    """The lesion's place in input order: how the case model and its problems name it (`lesions.<index>`)."""
    return lesion_state.slots(state).index(slot)


def switched(state: case_state.State, specs: dict[str, FieldSpec]) -> None:
    """The per-level switch was turned: nothing typed on either side is dropped (ui/lesion_state.py)."""
    if lesion_state.on(state):
        lesion_state.start_per_level(state, specs)
        return
    # Back to the flat form: when it holds no level and no per-level finding, it takes the lesions' levels (and the
    # findings of a single lesion), so what was entered is in view; the lesions themselves stay in state either way.
    blank = all(state.get(case_state.key(n)) == case_state.blank_value(n, specs.get(n))
                for n in lesion_state.FLAT_PER_LEVEL if n in case_state.field_names())
    slots = ordered(state)
    if not blank or not slots:
        return
    state[case_state.key(case_state.LEVELS)] = [lesion_state.level_of(state, s) for s in slots]
    if len(slots) == 1:
        for name, value in lesion_state.values(state, slots[0]).items():
            if name in lesion_state.FLAT_PER_LEVEL and name in case_state.field_names():
                state[case_state.key(name)] = value


def settle(state: case_state.State, engine: Engine,
           specs: dict[str, FieldSpec]) -> dict[int, dict[str, sins_link.Link]]:
    """Each lesion's SINS components narrowed to what its own findings allow (before the widgets are drawn)."""
    if not lesion_state.on(state):
        return {}
    reading = case_state.read(state, specs)
    lesions = reading.data.get("lesions") or []
    found = {}
    for index, slot in enumerate(lesion_state.slots(state)):
        data = sins_link.flat(lesions[index]) if index < len(lesions) else {}
        found[slot] = sins_link.settle(state, engine, specs, key_of=partial(lesion_state.key, slot), data=data)
    return found


def problem_title(engine: Engine, state: case_state.State, name: str) -> str | None:
    """'L1: Height loss (%)' for a problem named `lesions.1.height_loss_percent`; None for a flat field."""
    head, _, rest = name.partition(".")
    index, _, field = rest.partition(".")
    slots = lesion_state.slots(state)
    if head != "lesions" or not index.isdigit() or int(index) >= len(slots):
        return None
    level = lesion_state.level_of(state, slots[int(index)])
    return f"{level}: {field_title(engine, field)}"


def field_title(engine: Engine, name: str) -> str:
    return lesion_state.field_title(engine.rulebook, name)


def _label(state: case_state.State, outcome: Outcome, slot: int) -> str:
    index = index_of(state, slot)
    known, total = lesion_state.known_count(outcome.reading, index)
    flag = " ⚠" if any(n.startswith(f"lesions.{index}.") for n in outcome.field_problems) else ""
    return f"{lesion_state.level_of(state, slot)} {known}/{total}{flag}"


def render(engine: Engine, specs: dict[str, FieldSpec], outcome: Outcome,
           links: dict[int, dict[str, sins_link.Link]]) -> None:
    state = st.session_state
    slots = ordered(state)
    st.markdown("**The levels, one by one**")
    if slots:
        focus(state)
        # Labels worked out here: a format function is also called where the session's state is not at hand.
        shown = {slot: _label(state, outcome, slot) for slot in slots}
        st.segmented_control("Level in focus", slots, key=FOCUS, required=True, width="stretch", wrap=True,
                             format_func=lambda s: shown.get(s, str(s)),
                             help="The level whose findings are shown below, whose decision is opened and which "
                                  "the spine picture highlights. Each button shows how many of its findings are "
                                  "known.")
    else:
        st.info("No level described yet: add the first one below.", icon=":material/add_circle:")
    _add_row(state, specs)
    slot = focus(state)
    if slot is not None:
        _lesion(engine, specs, outcome, slot, links.get(slot, {}))


def _add_row(state: case_state.State, specs: dict[str, FieldSpec]) -> None:
    free = lesion_state.free_levels(state)
    if not free:
        st.caption("Every vertebra from C1 to S5 is described.")
        return
    if state.get(ADD_LEVEL) not in free:
        state[ADD_LEVEL] = _next_free(state, free)
    starts = [BLANK, *(str(s) for s in ordered(state))]
    if not case_state.is_blank(lesion_state.flat_findings(state, specs), specs):
        starts.append(FLAT)
    if state.get(ADD_FROM) not in starts:
        state[ADD_FROM] = BLANK
    level_col, from_col, button_col = st.columns([1.3, 2.4, 1.1], vertical_alignment="bottom")
    level_col.selectbox("Add a level", free, key=ADD_LEVEL)
    words = {start: _start_words(state, start) for start in starts}
    from_col.selectbox("Starting from", starts, key=ADD_FROM, format_func=lambda s: words.get(s, s),
                       help="A new level starts unknown, or with a copy of another level's findings.")
    button_col.button("Add", on_click=_add, args=(state, specs), icon=":material/add:", width="stretch",
                      help="Add the level chosen, starting as chosen; it becomes the level in focus.")


def _next_free(state: case_state.State, free: list[str]) -> str:
    """The free vertebra just below the lowest described one (levels are often entered top down)."""
    described = [VERTEBRAE.index(level) for level in lesion_state.levels(state) if level in VERTEBRAE]
    below = [v for v in free if VERTEBRAE.index(v) > max(described, default=-1)]
    return below[0] if below else free[0]


def _start_words(state: case_state.State, start: str) -> str:
    if start == BLANK:
        return "every finding unknown"
    if start == FLAT:
        return "the findings of the one-lesion form"
    return f"a copy of {lesion_state.level_of(state, int(start))}"


def _source(state: case_state.State, specs: dict[str, FieldSpec], start: str) -> dict[str, Any] | None:
    if start == FLAT:
        return lesion_state.flat_findings(state, specs)
    if start.isdigit() and int(start) in lesion_state.slots(state):
        return lesion_state.values(state, int(start))
    return None


def _add(state: case_state.State, specs: dict[str, FieldSpec]) -> None:
    level = state.get(ADD_LEVEL)
    if level not in lesion_state.free_levels(state):
        return
    slot = lesion_state.add(state, specs, level, _source(state, specs, str(state.get(ADD_FROM))))
    state[FOCUS] = slot


def _copy(state: case_state.State, specs: dict[str, FieldSpec], slot: int) -> None:
    start = str(state.get(COPY_FROM))
    source = _source(state, specs, start)
    if source is None:
        return
    target = lesion_state.level_of(state, slot)
    case_state.remember(state, specs, f"copying {_start_words(state, start).removeprefix('a copy of ')} into {target}"
                        if start != FLAT else f"copying the one-lesion form's findings into {target}")
    lesion_state.copy_findings(state, specs, source, slot)


def _remove(state: case_state.State, specs: dict[str, FieldSpec], slot: int) -> None:
    case_state.remember(state, specs, f"removing the level {lesion_state.level_of(state, slot)}")
    lesion_state.remove(state, slot)
    state.pop(FOCUS, None)


def _lesion(engine: Engine, specs: dict[str, FieldSpec], outcome: Outcome, slot: int,
            links: dict[str, sins_link.Link]) -> None:
    from . import form  # the form draws widgets for both the flat fields and a lesion's

    state = st.session_state
    lesion_specs = lesion_state.specs_for(specs)
    index = index_of(state, slot)
    level = lesion_state.level_of(state, slot)
    key_of = partial(lesion_state.key, slot)

    def problem_of(name: str) -> str:
        return lesion_state.name_at(index, name)

    with st.container(border=True):
        level_col, copy_col = st.columns([1.3, 2.4], vertical_alignment="bottom")
        copy_button, remove_col = st.columns([1.3, 2.4], vertical_alignment="bottom")
        level_col.selectbox(f"Level of {level}", [level, *lesion_state.free_levels(state)],
                            key=lesion_state.key(slot, lesion_state.LEVEL),
                            help="Move these findings to another vertebra.")
        others = [str(s) for s in ordered(state) if s != slot]
        if not case_state.is_blank(lesion_state.flat_findings(state, specs), specs):
            others.append(FLAT)
        if others:
            if state.get(COPY_FROM) not in others:
                state[COPY_FROM] = others[0]
            words = {other: _start_words(state, other).removeprefix("a copy of ") for other in others}
            copy_col.selectbox(f"Copy findings into {level} from", others, key=COPY_FROM,
                               format_func=lambda s: words.get(s, s))
            copy_button.button("Copy", on_click=_copy, args=(state, specs, slot), icon=":material/content_copy:",
                               width="stretch", help=f"Every finding of {level} replaced by the other's "
                                                     "(Undo brings them back).")
        remove_col.button(f"Remove {level}", on_click=_remove, args=(state, specs, slot), icon=":material/delete:",
                          help="The level and its findings leave the case (Undo brings them back).")
        groups = _groups(lesion_specs)
        if state.get(GROUP) not in groups:
            state[GROUP] = next(iter(groups))
        titles = {g: _group_label(groups, outcome, index, g) for g in groups}
        st.segmented_control(f"Findings at {level}", list(groups), key=GROUP, required=True, width="stretch",
                             wrap=True, format_func=lambda g: titles.get(g, g))
        names = groups[state[GROUP]]
        form._grid(engine, lesion_specs, [n for n in names if not n.startswith("sins.")], outcome, key_of=key_of,
                   problem_of=problem_of)
        scored = [n for n in names if n.startswith("sins.")]
        if scored:
            form._sins(engine, lesion_specs, scored, outcome, links, key_of=key_of, problem_of=problem_of,
                       frameworks=_frameworks(outcome, level))


def _groups(lesion_specs: dict[str, FieldSpec]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {g: [] for g in GROUPS}
    for name in lesion_state.FIELDS[1:]:
        groups[lesion_state.group_of(name, lesion_specs.get(name))].append(name)
    return {g: names for g, names in groups.items() if names}


def _group_label(groups: dict[str, list[str]], outcome: Outcome, index: int, group: str) -> str:
    names = [lesion_state.name_at(index, n) for n in groups[group]]
    unknown = set(outcome.reading.unknown) | set(outcome.reading.problems)
    known = sum(1 for n in names if n not in unknown)
    flag = " ⚠" if any(n in outcome.field_problems for n in names) else ""
    return f"{labels.GROUP_TITLES[group]} {known}/{len(names)}{flag}"


def _frameworks(outcome: Outcome, level: str) -> dict[str, Any]:
    """The lesion's own scores (its decision's frameworks) once the engine has decided each lesion."""
    for lesion in getattr(outcome.decision, "lesions", None) or ():
        if lesion.level == level:
            return dict(lesion.frameworks)
    return {}

