"""From the form to a decision, with every problem tied to the field (widget) it belongs to."""
from __future__ import annotations

import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from spinemets import Case, CaseError, Decision, Engine, case_from_data

from . import case_state


@dataclass
class Outcome:
    """What the page shows: a decision, or the problems that stop one (nothing is ever half-evaluated)."""

    reading: case_state.Reading
    case: Case | None = None
    decision: Decision | None = None
    field_problems: dict[str, list[str]] = field(default_factory=dict)
    general_problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.decision is not None

    def problems_for(self, name: str) -> list[str]:
        return self.field_problems.get(name, [])


def input_specs(engine: Engine) -> dict[str, Any]:
    """The field specs of the case's own inputs (not computed values, scores or facts)."""
    return {name: spec for name, spec in engine.rulebook.catalog.specs.items() if spec.origin == "input"}


def widget_fields(engine: Engine, problem_fields: tuple[str, ...]) -> list[str]:
    """The form fields a problem names: 'levels.1' -> levels; a computed value, score or derived fact ->
    the case inputs it rests on."""
    names = case_state.field_names()
    found: list[str] = []
    for part in problem_fields:
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


def evaluate_form(engine: Engine, state: MutableMapping[Any, Any]) -> Outcome:
    """Read the form and evaluate it; problems are attached to fields, never raised at the page."""
    started = time.perf_counter()
    reading = case_state.read(state, input_specs(engine))
    outcome = Outcome(reading)
    for name, message in reading.problems.items():
        outcome.field_problems.setdefault(name, []).append(message)
    if not reading.problems:
        try:
            outcome.case = case_from_data(reading.data, "the form").case
            outcome.decision = engine.evaluate(outcome.case)
        except CaseError as err:
            outcome.decision = None
            _attach(engine, outcome, err)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _attach(engine: Engine, outcome: Outcome, err: CaseError) -> None:
    if not err.problems:
        outcome.general_problems.append(err.summary)
    for problem in err.problems:
        targets = widget_fields(engine, problem.fields)
        if not targets:
            outcome.general_problems.append(problem.message)
        for name in targets:
            outcome.field_problems.setdefault(name, []).append(problem.message)
