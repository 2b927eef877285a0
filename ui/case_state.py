"""The case being entered, kept in session state in the widgets' own terms so nothing typed is ever lost.

Every input field has one widget key, `case.<field>`. Values are stored as the widget shows them: "unknown",
"yes" or "no" for booleans; "unknown" or a code for enumerations; the text as typed for numbers (empty is
unknown); a list of vertebrae for levels. Turning that into case data is `read`, which never changes state.
"""
from __future__ import annotations

import math
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from spinemets import Case
from spinemets.case import input_fields, known_values
from spinemets.fields import FieldSpec

PREFIX = "case."
IDENTITY = ("id", "title", "presentation")
LEVELS = "levels"
UNKNOWN = "unknown"
YES, NO = "yes", "no"
DEFAULT_ID = "board-case"
# st.session_state (a mapping whose keys may be str or int), or a plain dict in tests
State = MutableMapping[Any, Any]


def key(name: str) -> str:
    return PREFIX + name


def field_names() -> list[str]:
    """Identity first, then every clinical input of the data dictionary (SINS as `sins.<component>`)."""
    return [*IDENTITY, *input_fields()]


def blank_value(name: str, spec: FieldSpec | None) -> Any:
    if name == "id":
        return DEFAULT_ID
    if name == LEVELS:
        return []
    if spec is None or spec.numeric or name in IDENTITY:
        return ""
    return UNKNOWN


def widget_value(name: str, spec: FieldSpec | None, value: Any) -> Any:
    """A case value in the form the widget holds it."""
    if value is None:
        return blank_value(name, spec)
    if name == LEVELS:
        return list(value)
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def ensure(state: State, specs: dict[str, FieldSpec]) -> None:
    """Give every field a widget value (unknown) the first time a session sees the form."""
    for name in field_names():
        state.setdefault(key(name), blank_value(name, specs.get(name)))


def load(state: State, specs: dict[str, FieldSpec], case: Case) -> None:
    """Fill the form from a case: every field the case leaves out becomes unknown, none is left over; a case with
    lesions opens in per-level entry."""
    known = known_values(case)
    identity = {"id": case.id, "title": case.title or "", "presentation": case.presentation or ""}
    for name in field_names():
        spec = specs.get(name)
        value = identity[name] if name in identity else known.get(name)
        state[key(name)] = widget_value(name, spec, value)
    lesion_state.restore(state, specs, lesion_state.from_case(specs, case.lesions))


def clear(state: State, specs: dict[str, FieldSpec]) -> None:
    for name in field_names():
        state[key(name)] = blank_value(name, specs.get(name))
    lesion_state.restore(state, specs, {})


# The snapshot's own entries beside the fields: per-level entry and the lesions (ui/lesion_state.py).
STRUCTURE = ("per_level", "lesions")


def snapshot(state: State) -> dict[str, Any]:
    """Every form value as the widgets hold it (a copy: later edits do not change it), the lesions with them."""
    values = {name: _copy(state.get(key(name))) for name in field_names() if key(name) in state}
    return {**values, **lesion_state.snapshot(state)}


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def restore(state: State, specs: dict[str, FieldSpec], values: dict[str, Any]) -> None:
    """Put a snapshot back into the form; a field the snapshot lacks becomes unknown."""
    for name in field_names():
        state[key(name)] = _copy(values.get(name, blank_value(name, specs.get(name))))
    lesion_state.restore(state, specs, values)


def from_case(specs: dict[str, FieldSpec], case: Case) -> dict[str, Any]:
    """A case as a snapshot of the form."""
    scratch: dict[str, Any] = {}
    load(scratch, specs, case)
    return snapshot(scratch)


def is_blank(values: dict[str, Any], specs: dict[str, FieldSpec]) -> bool:
    """Nothing entered: every clinical field unknown, no lesion and no title or presentation typed."""
    return not values.get("lesions") and all(
        values.get(name, blank_value(name, specs.get(name))) == blank_value(name, specs.get(name))
        for name in field_names() if name != "id")


UNDO = "undo.stack"
_UNDO_DEPTH = 10


@dataclass(frozen=True)
class Undo:
    """The form as it was before something replaced it, and what replaced it (for the button's words)."""

    what: str
    values: dict[str, Any]


def replace(state: State, specs: dict[str, FieldSpec], values: dict[str, Any], what: str) -> None:
    """Replace the form, keeping what it held on the undo stack when anything had been entered."""
    remember(state, specs, what)
    restore(state, specs, values)


def remember(state: State, specs: dict[str, FieldSpec], what: str) -> None:
    """Put the form as it is on the undo stack (when anything has been entered), before `what` changes it."""
    before = snapshot(state)
    if not is_blank(before, specs):
        stack: list[Undo] = state.setdefault(UNDO, [])
        stack.append(Undo(what, before))
        del stack[:-_UNDO_DEPTH]


def undo(state: State, specs: dict[str, FieldSpec]) -> None:
    stack: list[Undo] = state.get(UNDO) or []
    if stack:
        restore(state, specs, stack.pop().values)


def last_undo(state: State) -> Undo | None:
    stack = state.get(UNDO) or []
    return stack[-1] if stack else None


KEPT_FOCUS = "form.lesion_focus"


def keep(state: State, *, clinical_only: bool = False) -> None:
    """Streamlit forgets a widget's value on a run where the widget is not drawn (another page, another group of
    the form); writing each value back to session state makes it the app's own, so it survives. A fragment's
    rerun keeps only the clinical fields (`clinical_only`): the identity fields are drawn outside it."""
    skip = {key(n) for n in IDENTITY} if clinical_only else set()
    for name in [k for k in state if isinstance(k, str) and k.startswith(PREFIX) and k not in skip]:
        state[name] = state[name]
    if KEPT_FOCUS in state:  # the level in focus, whose switcher is drawn only on the case page
        state[KEPT_FOCUS] = state[KEPT_FOCUS]


@dataclass
class Reading:
    """The form read as case data, and what could not be read (field -> message)."""

    data: dict[str, Any]
    problems: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


def parse_number(text: str, spec: FieldSpec) -> tuple[Any, str | None]:
    """(value, None), or (None, message) when the text is not a number. Range checks are the engine's."""
    cleaned = text.strip().replace(" ", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")  # a decimal comma, as many European boards write it
    try:
        number = float(cleaned)
    except ValueError:
        return None, f"expected {spec.describe_type()}, got '{text.strip()}'; leave it empty if unknown"
    if not math.isfinite(number):
        return None, f"expected {spec.describe_type()}, got '{text.strip()}'"
    if spec.kind == "int" and number.is_integer():
        return int(number), None
    # A fraction in a whole-number field goes to the engine as it is, so its message names the rule broken.
    return number, None


def read(state: State, specs: dict[str, FieldSpec]) -> Reading:
    """The case data the form holds now; unknown fields are left out, exactly as in a case file."""
    reading = Reading(data={})
    sins: dict[str, Any] = {}
    hidden = lesion_state.FLAT_PER_LEVEL if lesion_state.on(state) else frozenset()
    for name in field_names():
        if name in hidden:
            continue
        raw = state.get(key(name), blank_value(name, specs.get(name)))
        spec = specs.get(name)
        if name in IDENTITY:
            text = str(raw).strip() if name == "id" else str(raw)
            if text.strip():
                reading.data[name] = text
            elif name == "id":
                reading.problems[name] = "required: a short label for the case (no patient names)"
            continue
        value = value_of(name, spec, raw, reading)
        if value is None:
            if name not in reading.problems:
                reading.unknown.append(name)
            continue
        if name.startswith("sins."):
            sins[name.split(".", 1)[1]] = value
        else:
            reading.data[name] = value
    if sins:
        reading.data["sins"] = sins
    lesion_state.read(state, specs, reading)
    return reading


def value_of(name: str, spec: FieldSpec | None, raw: Any, reading: Reading, problem: str | None = None) -> Any:
    """One widget's value as case data (None: unknown); a value that does not read is noted in `reading` under
    `problem` (default: the field's name)."""
    if name == LEVELS:
        return list(raw) or None
    if spec is None:
        return None
    if spec.numeric:
        if not str(raw).strip():
            return None
        value, message = parse_number(str(raw), spec)
        if message:
            reading.problems[problem or name] = message
        return value
    if raw == UNKNOWN or raw is None:
        return None
    if spec.kind == "bool":
        return raw == YES
    return raw


from . import lesion_state  # noqa: E402  (it builds on this module's values and widgets: imported after them)
