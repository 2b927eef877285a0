"""The case's levels one by one: each lesion's findings kept in session state, in the widgets' terms, like the form.

A case is entered either flat (one set of findings for the levels to treat, as before) or level by level
(`case.per_level` on). Each lesion has a slot number that never changes while it exists, so its widgets keep their
keys when another lesion is added or removed: `case.lesion.<slot>.<field>`, the level itself among them.
`case.lesions` lists the slots in the order the board entered them (the engine orders them cranio-caudally).

Nothing typed is lost by switching: the flat per-level fields stay in state (hidden, not read) while the levels are
described one by one, and the lesions stay (hidden, not read) while the form is flat. Switching to per-level entry
the first time starts one lesion per level to treat, each with the flat findings.
"""
from __future__ import annotations

from typing import Any

from spinemets import Rulebook
from spinemets.case import PER_LEVEL_FIELDS, SINS_COMPONENTS, VERTEBRAE
from spinemets.fields import FieldSpec
from spinemets.lesion import LESION_ONLY_FIELDS, Lesion

from . import case_state, labels
from .case_state import State

PER_LEVEL = "case.per_level"
SLOTS = "case.lesions"
LEVEL = "level"
# The lesion's inputs as the form names them (SINS expanded), the level first.
FIELDS: tuple[str, ...] = (LEVEL, *(name for field in (*PER_LEVEL_FIELDS, *LESION_ONLY_FIELDS)
                                     for name in ([f"sins.{c}" for c in SINS_COMPONENTS] if field == "sins"
                                                  else [field])))
# The flat form's fields that describe one level: hidden while the levels are described one by one.
FLAT_PER_LEVEL = frozenset({case_state.LEVELS, *(n for n in FIELDS if n != LEVEL)})
# Where a lesion-only field sits among the form's groups (the lesion model files them all under mechanical).
_LESION_ONLY_GROUPS = {"painful": "pain", "prior_cement_at_level": "oncologic", "causes_deficit": "neurologic"}


def key(slot: int, name: str) -> str:
    return f"{case_state.PREFIX}lesion.{slot}.{name}"


def on(state: State) -> bool:
    return bool(state.get(PER_LEVEL))


def slots(state: State) -> list[int]:
    return [s for s in state.get(SLOTS) or [] if isinstance(s, int)]


def specs_for(specs: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
    """The specs of a lesion's fields: the case's own for the per-level fields (a lesion reads a value exactly as
    the case does), the lesion model's for the fields only a lesion has (unless the rule base has them too)."""
    found = {name: specs[name] for name in FIELDS if name in specs}
    for name in LESION_ONLY_FIELDS:
        if name not in found:
            info = Lesion.model_fields[name]
            found[name] = FieldSpec(name, "bool", title=info.title or name, description=info.description or "",
                                    inputs=frozenset({name}), group=_LESION_ONLY_GROUPS[name])
    return found


def group_of(name: str, spec: FieldSpec | None) -> str:
    if name in _LESION_ONLY_GROUPS:
        return _LESION_ONLY_GROUPS[name]
    if name == LEVEL or name.startswith("sins."):
        return "mechanical"
    return spec.group if spec is not None and spec.group else "mechanical"


def level_of(state: State, slot: int) -> str:
    return str(state.get(key(slot, LEVEL)) or "")


def levels(state: State) -> list[str]:
    return [level_of(state, s) for s in slots(state)]


def free_levels(state: State) -> list[str]:
    """The vertebrae no lesion describes yet, cranio-caudally."""
    taken = set(levels(state))
    return [v for v in VERTEBRAE if v not in taken]


def values(state: State, slot: int) -> dict[str, Any]:
    """One lesion as its widgets hold it (a copy)."""
    return {name: _copy(state.get(key(slot, name), _blank(name))) for name in FIELDS}


def _blank(name: str) -> Any:
    return "" if name == LEVEL else None


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _fill(state: State, specs: dict[str, FieldSpec], slot: int, found: dict[str, Any]) -> None:
    lesion_specs = specs_for(specs)
    for name in FIELDS:
        blank = "" if name == LEVEL else case_state.blank_value(name, lesion_specs.get(name))
        value = found.get(name)
        state[key(slot, name)] = _copy(value) if value is not None else blank


def add(state: State, specs: dict[str, FieldSpec], level: str, start: dict[str, Any] | None = None) -> int:
    """A new lesion at `level` (its findings from `start`, widget values, else unknown); returns its slot."""
    if level not in VERTEBRAE:
        raise ValueError(f"not a vertebra: {level!r}")
    if level in levels(state):
        raise ValueError(f"{level} is described already")
    taken = slots(state)
    slot = max(taken, default=0) + 1
    _fill(state, specs, slot, {**(start or {}), LEVEL: level})
    state[SLOTS] = [*taken, slot]
    return slot


def remove(state: State, slot: int) -> None:
    state[SLOTS] = [s for s in slots(state) if s != slot]
    for name in FIELDS:
        state.pop(key(slot, name), None)


def copy_findings(state: State, specs: dict[str, FieldSpec], source: dict[str, Any], slot: int) -> None:
    """Every finding of `source` (widget values) into the lesion at `slot`; its level stays."""
    _fill(state, specs, slot, {**source, LEVEL: level_of(state, slot)})


def flat_findings(state: State, specs: dict[str, FieldSpec]) -> dict[str, Any]:
    """The flat form's per-level findings, as a lesion's widget values (what 'start from the one-lesion form'
    copies)."""
    return {name: _copy(state.get(case_state.key(name), case_state.blank_value(name, specs.get(name))))
            for name in FIELDS if name != LEVEL and name in case_state.field_names()}


def start_per_level(state: State, specs: dict[str, FieldSpec]) -> None:
    """The first switch to per-level entry: one lesion per level to treat, each with the flat findings."""
    if slots(state):
        return
    start = flat_findings(state, specs)
    for level in state.get(case_state.key(case_state.LEVELS)) or []:
        if level in VERTEBRAE and level not in levels(state):
            add(state, specs, level, start)


def snapshot(state: State) -> dict[str, Any]:
    """Per-level entry and the lesions, for the form's snapshot."""
    return {"per_level": on(state), "lesions": [values(state, s) for s in slots(state)]}


def restore(state: State, specs: dict[str, FieldSpec], saved: dict[str, Any]) -> None:
    for slot in slots(state):
        remove(state, slot)
    state[SLOTS] = []
    for found in saved.get("lesions") or []:
        level = found.get(LEVEL)
        if level in VERTEBRAE and level not in levels(state):
            add(state, specs, level, found)
    state[PER_LEVEL] = bool(saved.get("per_level"))


def from_case(specs: dict[str, FieldSpec], lesions: list[Lesion] | None) -> dict[str, Any]:
    """A case's lesions as the snapshot's entries (input order kept)."""
    lesion_specs = specs_for(specs)
    found = []
    for lesion in lesions or []:
        data = lesion.model_dump(exclude_none=True)
        sins = data.pop("sins", None) or {}
        data.update({f"sins.{k}": v for k, v in sins.items()})
        found.append({name: case_state.widget_value(name, lesion_specs.get(name), data.get(name))
                      if name != LEVEL else data[LEVEL] for name in FIELDS})
    return {"per_level": bool(lesions), "lesions": found}


def name_at(index: int, name: str) -> str:
    """How a problem with a lesion's field is named: `lesions.<index>.<field>`, the index in input order (as the
    case model names it)."""
    return f"lesions.{index}.{name}"


def read(state: State, specs: dict[str, FieldSpec], reading: case_state.Reading) -> None:
    """Put the lesions into `reading.data` (in per-level entry), their problems and unknowns named by
    `name_at`."""
    if not on(state):
        return
    lesion_specs = specs_for(specs)
    found = []
    for index, slot in enumerate(slots(state)):
        lesion: dict[str, Any] = {LEVEL: level_of(state, slot)}
        sins: dict[str, Any] = {}
        for name in FIELDS[1:]:
            named = name_at(index, name)
            value = case_state.value_of(name, lesion_specs.get(name), state.get(key(slot, name)), reading, named)
            if value is None:
                if named not in reading.problems:
                    reading.unknown.append(named)
                continue
            if name.startswith("sins."):
                sins[name.split(".", 1)[1]] = value
            else:
                lesion[name] = value
        if sins:
            lesion["sins"] = sins
        found.append(lesion)
    if found:
        reading.data["lesions"] = found


def known_count(reading: case_state.Reading, index: int) -> tuple[int, int]:
    """(known, all) findings of the lesion at `index` (its level not counted)."""
    prefix = f"lesions.{index}."
    unknown = sum(1 for n in reading.unknown if n.startswith(prefix))
    problems = sum(1 for n in reading.problems if n.startswith(prefix))
    total = len(FIELDS) - 1
    return total - unknown - problems, total


def field_title(rulebook: Rulebook, name: str) -> str:
    """A lesion field's title: the rule base's, else the lesion model's (the fields only a lesion has)."""
    if name == LEVEL:
        return "Level"
    only = specs_for({})
    if rulebook.catalog.get(name) is None and name in only:
        return only[name].title
    return labels.field_title(rulebook, name)
