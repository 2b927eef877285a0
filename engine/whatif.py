"""What-if: how the decision changes when one field changes, and which single changes move the top suggestion."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from .case import PER_LEVEL_FIELDS, Case, case_from_values, known_values
from .decision import Decision, conditions_inputs
from .errors import CaseError
from .evaluator import input_values
from .fields import FieldSpec, input_specs, lesion_input_specs
from .kleene import Truth
from .lesion import LESION_ONLY_FIELDS, Lesion
from .lesion_views import lesion_values

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
    level: str | None = None  # a case in lesion form: the lesion whose field it is (None: the patient's)

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


def with_lesion_value(case: Case, level: str, field: str, value: Any) -> Case:
    """A case in lesion form with one field of one lesion changed (None makes it unknown; `sins.x` for a SINS
    component)."""
    assert case.lesions is not None
    lesions = []
    for lesion in case.lesions:
        data = lesion.model_dump(exclude_none=True)
        if lesion.level == level:
            if field.startswith("sins."):
                sins = dict(data.get("sins", {}))
                component = field.split(".", 1)[1]
                if value is None:
                    sins.pop(component, None)
                else:
                    sins[component] = value
                data["sins"] = sins or None
            else:
                data[field] = value
        lesions.append({k: v for k, v in data.items() if v is not None})
    return case.model_copy(update={"lesions": [Lesion.model_validate(item) for item in lesions]})


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
    for a, b in itertools.pairwise(edges):
        if b > a:
            middle = (a + b) / 2
            points.add(int(middle) if spec.kind == "int" and a < int(middle) < b else middle)
    points.update(cuts)
    points.update({lo, hi})
    if spec.kind == "int":
        points = {int(p) for p in points if float(p).is_integer()} | {int(c) for c in cuts}
    return sorted(p for p in points if spec.accepts(p))


def sweep(engine: Any, case: Case, baseline: Decision | None = None) -> list[FieldChange]:
    """Every single-field change that changes some status; top-moving changes first, then by field order.

    Each variant goes through durable-rules (cross-checked by the three-valued evaluator) like any
    evaluation, but only as far as its statuses and ranking: that is all a change is judged by. What
    durable is given is a function of the values rules read, so variants that give durable the same case
    fact (a SINS component that leaves the total alone, say) share one run; fields no rule reads,
    directly or through a computed value, score or derived fact, cannot change the fired rules, so their
    variants are not evaluated at all.
    """
    baseline = baseline or engine.evaluate(case)
    if case.lesions:
        return _sweep_lesions(engine, case, baseline)
    rulebook = engine.rulebook
    constants = rulebook.numeric_constants
    current = known_values(case)
    read = frozenset().union(*(conditions_inputs(rule, rulebook.catalog) for rule in rulebook.active_rules))
    before = baseline.statuses()
    outcomes: dict[tuple[Any, ...], tuple[dict[str, str], list[str]]] = {}
    found: list[FieldChange] = []
    for name, spec in input_specs().items():
        if name not in read:
            continue
        for value in candidate_values(spec, constants.get(name, ())):
            if current.get(name, _UNKNOWN) == value:
                continue
            values, _ = input_values({**current, name: value}, rulebook)
            if engine.check_values(values):
                continue  # a combination the rule base refuses is not a real alternative
            fact = tuple(engine.durable.case_fact(values).items())
            outcome = outcomes.get(fact)
            if outcome is None:
                _, settled, _ = engine.evaluator.readings(values)  # undecided rules: the ranking's range
                undecided = [r for r, t in zip(engine.evaluator.rule_ids, settled, strict=True) if t == Truth.UNKNOWN]
                outcome = outcomes[fact] = engine.plan.ranking(engine.fire(case.id, values), undecided)
            statuses, ranking = outcome
            changes = tuple(StatusChange(o, before[o], statuses[o]) for o in before if before[o] != statuses[o])
            if changes:
                found.append(FieldChange(name, current.get(name), value, baseline.top, ranking[0], changes))
    order = {name: i for i, name in enumerate(input_specs())}
    found.sort(key=lambda c: (not c.moves_top, order[c.field]))
    return found


def _sweep_lesions(engine: Any, case: Case, baseline: Decision) -> list[FieldChange]:
    """The sweep of a case in lesion form, judged on the patient's summary: each patient field, then each
    lesion's own fields, every variant a whole evaluation (a change at one level can move the facts over all
    lesions)."""
    assert case.lesions is not None
    rulebook = engine.rulebook
    constants = rulebook.numeric_constants
    read = frozenset().union(*(conditions_inputs(rule, rulebook.catalog) for rule in rulebook.active_rules))
    before = baseline.statuses()
    specs = {**input_specs(), **lesion_input_specs()}
    per_level = frozenset(PER_LEVEL_FIELDS) | frozenset(LESION_ONLY_FIELDS)
    found: list[FieldChange] = []

    def judge(name: str, now: Any, value: Any, variant: Case, level: str | None) -> None:
        try:
            decision = engine.evaluate(variant)
        except CaseError:
            return  # a combination the rule base refuses is not a real alternative
        changes = tuple(StatusChange(o, before[o], s) for o, s in decision.statuses().items() if before[o] != s)
        if changes:
            found.append(FieldChange(name, now, value, baseline.top, decision.top, changes, level))

    patient = known_values(case)
    for name, spec in input_specs().items():
        if name not in read or name.split(".")[0] in per_level or name == "levels":
            continue
        for value in candidate_values(spec, constants.get(name, ())):
            if patient.get(name, _UNKNOWN) != value:
                judge(name, patient.get(name), value, case.model_copy(update={name: value}), None)
    for lesion in case.lesions:
        own = lesion_values(lesion)
        for name, spec in specs.items():
            if name not in read or name.split(".")[0] not in per_level:
                continue
            for value in candidate_values(spec, constants.get(name, ())):
                if own.get(name, _UNKNOWN) != value:
                    judge(name, own.get(name), value, with_lesion_value(case, lesion.level, name, value), lesion.level)
    order = {name: i for i, name in enumerate(specs)}
    found.sort(key=lambda c: (not c.moves_top, c.level is not None, order[c.field]))
    return found
