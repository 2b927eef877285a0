"""From the form to a decision, with every problem tied to the field (widget) it belongs to.

A value the engine refuses does not take the decision away: the case is evaluated without the fields at fault
(as if unknown), the page says so, and the options those fields could change are marked. Only a problem tied to
no field at all leaves no decision.
"""
from __future__ import annotations

import re
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from spinemets import Case, CaseError, Decision, Engine, case_from_data

from . import case_state, lesion_state


@dataclass
class Outcome:
    """What the page shows: a decision (for the case as entered, or without the fields at fault) and the problems."""

    reading: case_state.Reading
    case: Case | None = None
    decision: Decision | None = None
    field_problems: dict[str, list[str]] = field(default_factory=dict)
    general_problems: list[str] = field(default_factory=list)
    blocked: tuple[str, ...] = ()        # fields left out of the decision because of their problems
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """A decision can be shown (perhaps without some fields: see `complete`)."""
        return self.decision is not None

    @property
    def complete(self) -> bool:
        """The decision is for the whole case as entered."""
        return self.decision is not None and not self.field_problems and not self.general_problems

    @property
    def empty(self) -> bool:
        """No clinical finding entered yet: nothing to advise on."""
        return not any(k not in case_state.IDENTITY for k in self.reading.data)

    def problems_for(self, name: str) -> list[str]:
        return self.field_problems.get(name, [])


def input_specs(engine: Engine) -> dict[str, Any]:
    """The field specs of the case's own inputs (not computed values, scores or facts)."""
    return _input_specs(engine)


@lru_cache(maxsize=8)
def _input_specs(engine: Engine) -> dict[str, Any]:
    return {name: spec for name, spec in engine.rulebook.catalog.specs.items() if spec.origin == "input"}


def widget_fields(engine: Engine, problem_fields: tuple[str, ...]) -> list[str]:
    """The form fields a problem names: 'levels.1' -> levels; a computed value, score or derived fact ->
    the case inputs it rests on."""
    names = case_state.field_names()
    found: list[str] = []
    for part in problem_fields:
        lesion_field = _lesion_field(part)
        if lesion_field is not None:
            found.append(lesion_field)
            continue
        if part in names:
            found.append(part)
            continue
        prefix = next((n for n in sorted(names, key=len, reverse=True) if part.startswith(n + ".")), None)
        if prefix:
            found.append(prefix)
            continue
        inputs = engine.rulebook.catalog.inputs_of(part)
        found += sorted((n for n in inputs if n in names), key=names.index)
    return list(dict.fromkeys(found))


def _lesion_field(part: str) -> str | None:
    """'lesions.1.sins.location' -> that lesion's SINS location widget; 'lesions.1' -> its level."""
    head, _, rest = part.partition(".")
    index, _, name = rest.partition(".")
    if head != "lesions" or not index.isdigit():
        return None
    if name in lesion_state.FIELDS:
        return lesion_state.name_at(int(index), name)
    owner = next((f for f in lesion_state.FIELDS if name.startswith(f + ".")), None)
    return lesion_state.name_at(int(index), owner or lesion_state.LEVEL)


def evaluate_form(engine: Engine, state: MutableMapping[Any, Any]) -> Outcome:
    """Read the form and evaluate it; problems are attached to fields, never raised at the page."""
    started = time.perf_counter()
    reading = case_state.read(state, input_specs(engine))
    outcome = Outcome(reading)
    for name, message in reading.problems.items():
        outcome.field_problems.setdefault(name, []).append(message)
    data = dict(reading.data)
    if "id" in reading.problems:
        data["id"] = case_state.DEFAULT_ID
    try:
        outcome.case, outcome.decision = _evaluate(engine, data)
    except CaseError as err:
        _attach(engine, outcome, err, data)
    if outcome.decision is None and outcome.field_problems and not outcome.general_problems:
        # Evaluate without the fields at fault, so the rest of the decision (and its downloads) stays in view.
        blocked = tuple(outcome.field_problems)
        try:
            outcome.case, outcome.decision = _evaluate(engine, _without(data, blocked))
            outcome.blocked = blocked
        except CaseError:
            outcome.case, outcome.decision = None, None
    elif outcome.field_problems:
        outcome.blocked = tuple(outcome.field_problems)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _without(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    kept = _drop(data, names)
    if "id" in names:
        kept["id"] = case_state.DEFAULT_ID
    if isinstance(kept.get("lesions"), list):
        lesions = []
        for index, lesion in enumerate(kept["lesions"]):
            prefix = f"lesions.{index}."
            if prefix + lesion_state.LEVEL in names:
                continue  # a lesion whose level is at fault is left out whole
            lesions.append(_drop(lesion, tuple(n[len(prefix):] for n in names if n.startswith(prefix))))
        if lesions:
            kept["lesions"] = lesions
        else:
            kept.pop("lesions")
    return kept


def _drop(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    kept = {k: v for k, v in data.items() if k not in names}
    if isinstance(kept.get("sins"), dict):
        sins = {k: v for k, v in kept["sins"].items() if f"sins.{k}" not in names}
        if sins:
            kept["sins"] = sins
        else:
            kept.pop("sins")
    return kept


def _evaluate(engine: Engine, data: dict[str, Any]) -> tuple[Case, Decision]:
    case = case_from_data(data, "the form").case
    return case, engine.evaluate(case)


_LESION_OF = re.compile(r", lesion ([A-Z][0-9]{1,2}):")


def _attach(engine: Engine, outcome: Outcome, err: CaseError, data: dict[str, Any]) -> None:
    # A check on one lesion's view names plain fields and says the lesion in its summary ("case x, lesion T5:
    # ..."): its per-level fields are that lesion's widgets, its patient fields the patient's.
    found = _LESION_OF.search(err.summary)
    levels = [str(lesion.get("level")) for lesion in data.get("lesions") or []]
    index = levels.index(found.group(1)) if found and found.group(1) in levels else None
    if not err.problems:
        outcome.general_problems.append(err.summary)
    for problem in err.problems:
        fields = problem.fields if index is None else tuple(
            lesion_state.name_at(index, f) if f in lesion_state.FIELDS else f for f in problem.fields)
        targets = widget_fields(engine, fields)
        if not targets:
            outcome.general_problems.append(problem.message)
        for name in targets:
            outcome.field_problems.setdefault(name, []).append(problem.message)
