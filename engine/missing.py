"""Which unknown fields, answered alone, change some status: what makes the decision's `missing` exact.

A field is asked only if some value of it, with every other field as it is (the unknown ones still unknown),
changes the status of some option (docs/decision.md, 4). The values tried are every value that can behave
differently under the rule base: each code of a yes/no or coded field; for a number, every threshold it is
compared with (directly, through the metastasis total, or as a score's point range) and one value in each
interval between them; for `levels`, one list of vertebrae per combination of what rules can read of it (its
count's interval, which of the rule base's sets its most cranial level falls in, the regions it touches). A value
the consistency checks refuse with the other fields is not an answer. Only the rules that read the field are
re-evaluated, on top of the case's own readings.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from .case import REGION_OF_PREFIX, VERTEBRAE
from .conditions import Compare, fields_of, leaves
from .decision import DecisionPlan, _ranks, conditions_inputs
from .evaluator import RuleEvaluator, input_values
from .fields import LEVEL_REGIONS, FieldSpec, input_specs
from .kleene import Truth, compile_condition
from .rulebook import Rulebook
from .whatif import candidate_values

_T = Truth.TRUE
_COUNTS = ("vertebral_metastases", "extraspinal_bone_metastases")


class MissingProbe:
    """Per rule base: for each input field, the rules, facts and consistency checks that read it and the values
    worth trying; per case, the fields some value of which changes a status."""

    def __init__(self, rulebook: Rulebook, evaluator: RuleEvaluator, plan: DecisionPlan) -> None:
        catalog = rulebook.catalog
        rules = rulebook.active_rules
        self._rulebook = rulebook
        self._now = evaluator.now_conditions
        self._plans = tuple(plan.rules[r.id] for r in rules)
        self._order = plan.order
        self._ids = evaluator.rule_ids
        inputs = [conditions_inputs(r, catalog) for r in rules]
        specs = input_specs()
        self._specs = specs
        names = [*specs, "levels"]
        self._readers = {n: tuple(i for i, got in enumerate(inputs) if n in got) for n in names}
        self._facts = {n: tuple((fact, derivers) for fact, derivers in evaluator.fact_plan
                                if n in catalog.inputs_of(fact)) for n in names}
        checks = [(c, compile_condition(c.when, catalog)) for c in rulebook.constraints]
        self._checks = {n: tuple(test for c, test in checks
                                 if n in frozenset().union(*(catalog.inputs_of(f) for f in fields_of(c.when))))
                        for n in names}
        # Fields that feed a computed value or a score: setting one recomputes what rests on it.
        self._feeds = frozenset({"levels", *_COUNTS} | {c.input for s in rulebook.scores for c in s.components})
        conds = [r.when for r in rules] + [c.when for c in rulebook.constraints]
        cuts: dict[str, set[float]] = {}
        for leaf in (leaf for cond in conds for leaf in leaves(cond)):
            if isinstance(leaf, Compare) and catalog.specs[leaf.field].numeric:
                values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
                cuts.setdefault(leaf.field, set()).update(v for v in values if isinstance(v, (int, float)))
        for score in rulebook.scores:
            for component in score.components:
                for band in component.ranges:
                    cuts.setdefault(component.input, set()).update((band.min, band.max))
        self._cuts = {n: tuple(sorted(v)) for n, v in cuts.items()}
        self._values = {n: tuple(candidate_values(spec, self._cuts.get(n, ()))) for n, spec in specs.items()}
        self._levels = _level_lists(catalog.specs.get("level_count"), self._cuts.get("level_count", ()),
                                    [leaf for cond in conds for leaf in leaves(cond)
                                     if isinstance(leaf, Compare) and leaf.field == "top_level"])

    def changes(self, inputs: dict[str, Any], values: dict[str, Any], now: Sequence[int], facts: dict[str, int],
                unknown: Iterable[str]) -> dict[str, tuple[set[str], set[str]]]:
        """For each unknown field some value of which changes a status: the options it changes and the rules whose
        firing that value changes. `inputs` are the case's known inputs, `values` what rules read (`case_values`),
        `now` and `facts` the evaluator's reading of the case as it stands."""
        found: dict[str, tuple[set[str], set[str]]] = {}
        fired = [i for i, t in enumerate(now) if t == _T]
        plans = self._plans
        order = self._order
        for name in unknown:
            readers = self._readers.get(name)
            if not readers or not any(plans[i].affects for i in readers):
                continue
            for value in self._tried(name, inputs):
                if name in self._feeds:
                    scope, _ = input_values({**inputs, name: value}, self._rulebook)
                else:
                    scope = {**values, name: value}
                if any(test(scope) == _T for test in self._checks[name]):
                    continue  # not an answer the rule base accepts with the other fields
                scope.update(facts)
                for fact, derivers in self._facts[name]:  # in dependency order
                    scope[fact] = max((self._now[i](scope) for i in derivers), default=Truth.FALSE)
                changed = [i for i in readers if (self._now[i](scope) == _T) != (now[i] == _T)]
                if not changed:
                    continue
                flipped = set(changed)
                after = [plans[i] for i in (set(fired) ^ flipped)]
                before = [plans[i] for i in fired]
                moved = {o for i in changed for o in plans[i].affects
                         if _ranks(after, o) != _ranks(before, o)}
                if moved:
                    entry = found.setdefault(name, (set(), set()))
                    entry[0].update(order[o] for o in moved)
                    entry[1].update(self._ids[i] for i in changed if moved.intersection(plans[i].affects))
        return found

    def _tried(self, name: str, inputs: dict[str, Any]) -> Sequence[Any]:
        if name == "levels":
            return self._levels
        values = self._values[name]
        if name in _COUNTS:
            other = inputs.get(_COUNTS[1 - _COUNTS.index(name)])
            totals = self._cuts.get("bone_metastases_total", ())
            if other is not None and totals:
                shifted = tuple(sorted({*self._cuts.get(name, ()), *(t - other for t in totals)}))
                return candidate_values(self._specs[name], shifted)
        return values


def _level_lists(count_spec: FieldSpec | None, count_cuts: tuple[float, ...], top_tests: list[Compare]) -> tuple[
        list[str], ...]:
    """One list of vertebrae per combination rules can tell apart: the count's interval between the rule base's
    thresholds, the sets of the rule base its most cranial level falls in, the regions it touches."""
    counts = candidate_values(count_spec, count_cuts) if count_spec else [1]
    sets = [frozenset(t.value if isinstance(t.value, tuple) else (t.value,)) for t in top_tests]
    seen: set[tuple[Any, ...]] = set()
    lists: list[list[str]] = []
    for top, vertebra in enumerate(VERTEBRAE):
        first = LEVEL_REGIONS.index(REGION_OF_PREFIX[vertebra[0]])
        below = LEVEL_REGIONS[first + 1:]
        for k in range(len(below) + 1):
            for extra in itertools.combinations(below, k):
                regions = (LEVEL_REGIONS[first], *extra)
                pools = {r: [v for v in VERTEBRAE[top + 1:] if REGION_OF_PREFIX[v[0]] == r] for r in regions}
                chosen = [vertebra] + [pools[r][0] for r in extra if pools[r]]
                if len(chosen) != len(regions):
                    continue
                spare = [v for r in regions for v in pools[r] if v not in chosen]
                for count in counts:
                    count = int(count)
                    if not len(chosen) <= count <= len(chosen) + len(spare):
                        continue
                    key = (_interval(count, count_cuts), tuple(vertebra in s for s in sets), regions)
                    if key in seen:
                        continue
                    seen.add(key)
                    lists.append(sorted(chosen + spare[:count - len(chosen)], key=VERTEBRAE.index))
    return tuple(lists)


def _interval(count: int, cuts: tuple[float, ...]) -> tuple[int, bool]:
    """Which interval between thresholds (or which threshold) a count falls on."""
    below = sum(1 for c in cuts if c < count)
    return below, count in cuts

