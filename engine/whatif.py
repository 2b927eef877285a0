"""What-if: how the decision changes when one field changes, and which single changes move the top suggestion."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .case import Case, case_from_values, known_values
from .decision import Decision
from .errors import CaseError
from .fields import FieldSpec, input_specs

_UNKNOWN = object()


@dataclass(frozen=True)
class StatusChange:
    option: str
    before: str
    after: str


@dataclass(frozen=True)
class FieldChange:
    """One field set to another value (None: unknown), and what that does to the decision."""

    field: str
    before: Any
    after: Any
    top_before: str
    top_after: str
    changes: tuple[StatusChange, ...]

    @property
    def moves_top(self) -> bool:
        return self.top_before != self.top_after


def diff(before: Decision, after: Decision) -> tuple[StatusChange, ...]:
    """Options whose status differs between two decisions, in the first decision's order."""
    old, new = before.statuses(), after.statuses()
    return tuple(StatusChange(o, old[o], new[o]) for o in old if old[o] != new[o])


def with_value(case: Case, field: str, value: Any) -> Case:
    """The case with one field changed (None makes it unknown); identity fields are kept."""
    values = known_values(case)
    if value is None:
        values.pop(field, None)
    else:
        values[field] = value
    return case_from_values(case.id, values, title=case.title, presentation=case.presentation)


def candidate_values(spec: FieldSpec, constants: tuple[float, ...]) -> list[Any]:
    """Values that can behave differently under the rules: every code, or one value per cell between thresholds."""
    if spec.kind == "bool":
        return [True, False]
    if spec.kind == "enum":
        return list(spec.values)
    lo = spec.minimum if spec.minimum is not None else 0
    hi = spec.maximum if spec.maximum is not None else max(constants, default=lo) + 1
    points = set()
    cuts = [c for c in constants if lo <= c <= hi]
    edges = [lo, *cuts, hi]
    for a, b in zip(edges, edges[1:]):
        if b > a:
            middle = (a + b) / 2
            points.add(int(middle) if spec.kind == "int" and a < int(middle) < b else middle)
    points.update(cuts)
    points.update({lo, hi})
    if spec.kind == "int":
        points = {int(p) for p in points if float(p).is_integer()} | {int(c) for c in cuts}
    return sorted(p for p in points if spec.accepts(p))


def sweep(engine: Any, case: Case, baseline: Optional[Decision] = None) -> list[FieldChange]:
    """Every single-field change that changes some status; top-moving changes first, then by field order."""
    baseline = baseline or engine.evaluate(case)
    constants = engine.rulebook.numeric_constants
    current = known_values(case)
    found: list[FieldChange] = []
    for name, spec in input_specs().items():
        for value in candidate_values(spec, constants.get(name, ())):
            if current.get(name, _UNKNOWN) == value:
                continue
            changed = with_value(case, name, value)
            if engine.check(changed):
                continue  # a combination the rule base refuses is not a real alternative
            try:
                decision = engine.evaluate(changed)
            except CaseError:
                continue
            changes = diff(baseline, decision)
            if changes:
                found.append(FieldChange(name, current.get(name), value, baseline.top, decision.top, changes))
    order = {name: i for i, name in enumerate(input_specs())}
    found.sort(key=lambda c: (not c.moves_top, order[c.field]))
    return found
