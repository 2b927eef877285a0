"""Which unknown fields, answered alone, change some status: what makes the decision's `missing` exact.

A field is asked only if some value of it, with every other field as it is (the unknown ones still unknown),
changes the status of some option (docs/decision.md, 4). The values tried are one per class of values the rule
base cannot tell apart: yes and no; the codes of a coded field that no rule's comparison or score's points
separate; for a number, each threshold a rule compares it
with (directly, through the metastasis total, or as a score's point range) and each interval between them; for
`levels`, each combination of what rules read of it (its count's interval, which of the rule base's sets its most
cranial level falls in, the regions it touches). Within a class the first value the consistency checks accept
with the other fields stands for it (their own thresholds split the classes further for that). Only fields read
by a rule that can change some option (`pivotal_rules`) are tried, and only the rules that read the field are
re-evaluated, on top of the case's own reading.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .case import REGION_OF_PREFIX, VERTEBRAE
from .conditions import Compare, fields_of, leaves
from .decision import DecisionPlan, _ranks, conditions_inputs
from .evaluator import RuleEvaluator, input_values
from .fields import LEVEL_REGIONS, FieldSpec, input_specs, lesion_input_specs
from .kleene import Truth, compile_condition
from .lesion_views import FLAT_FACTS
from .rulebook import Rulebook
from .whatif import candidate_values

_T = Truth.TRUE
_ABSENT = object()
_COUNTS = ("vertebral_metastases", "extraspinal_bone_metastases")
Classes = tuple[tuple[Any, ...], ...]  # each class: its values, in the order they are tried


class MissingProbe:
    """Per rule base: for each input field, the rules, facts and consistency checks that read it and its classes
    of values; per case, the fields some value of which changes a status."""

    def __init__(self, rulebook: Rulebook, evaluator: RuleEvaluator, plan: DecisionPlan) -> None:
        catalog = rulebook.catalog
        rules = rulebook.active_rules
        self._rulebook = rulebook
        self._now = evaluator.now_conditions
        self._plans = tuple(plan.rules[r.id] for r in rules)
        self._order = plan.order
        self._ids = evaluator.rule_ids
        self._index = {rule_id: i for i, rule_id in enumerate(self._ids)}
        inputs = [conditions_inputs(r, catalog) for r in rules]
        self._specs = specs = {**input_specs(), **lesion_input_specs()}
        names = [*specs, "levels"]
        self._readers = {n: tuple(i for i, got in enumerate(inputs) if n in got) for n in names}
        # Rules that read the field other than through a derived fact: the only ones to evaluate again when no
        # derived fact changes.
        direct = [frozenset().union(*(catalog.inputs_of(f) for f in fields_of(r.when)
                                      if catalog.specs[f].kind != "fact")) for r in rules]
        self._direct = {n: frozenset(i for i, got in enumerate(direct) if n in got) for n in names}
        self._facts = {n: tuple((fact, derivers) for fact, derivers in evaluator.fact_plan
                                if n in catalog.inputs_of(fact)) for n in names}
        checks = [(c, compile_condition(c.when, catalog)) for c in rulebook.constraints]
        self._checks = {n: tuple(test for c, test in checks
                                 if n in frozenset().union(*(catalog.inputs_of(f) for f in fields_of(c.when))))
                        for n in names}
        self._scores = {n: tuple(s for s in rulebook.scores if any(c.input == n for c in s.components)) for n in names}
        rule_leaves = [leaf for r in rules for leaf in leaves(r.when) if isinstance(leaf, Compare)]
        check_leaves = [leaf for c in rulebook.constraints for leaf in leaves(c.when) if isinstance(leaf, Compare)]
        self._rule_cuts = _numbers(rule_leaves, catalog)
        for score in rulebook.scores:
            for component in score.components:
                for band in component.ranges:
                    self._rule_cuts.setdefault(component.input, set()).update((band.min, band.max))
        self._check_cuts = _numbers(check_leaves, catalog)
        sets: dict[str, list[frozenset[Any]]] = {}
        for leaf in rule_leaves:
            sets.setdefault(leaf.field, []).append(frozenset(leaf.value if isinstance(leaf.value, tuple)
                                                             else (leaf.value,)))
        scored = {n: [c for s in rulebook.scores for c in s.components if c.input == n] for n in specs}

        def code_class(name: str) -> Callable[[Any], Any]:
            return lambda code: (tuple(code in group for group in sets.get(name, ())),
                                 tuple(c.points_for(code) for c in scored[name]))
        self._classes = {n: self._numeric_classes(n, ()) if spec.numeric else _grouped(_codes(spec), code_class(n))
                         for n, spec in specs.items()}
        top_sets = [frozenset(t.value if isinstance(t.value, tuple) else (t.value,))
                    for t in rule_leaves if t.field == "top_level"]
        # built on the first case whose levels are unknown and pivotal (a tenth of a second): not at every start of
        # the command line, most of whose cases name their levels
        self._level_args = (catalog.specs.get("level_count"), tuple(sorted(self._rule_cuts.get("level_count", ()))),
                            tuple(sorted(self._check_cuts.get("level_count", ()))), top_sets, rulebook)
        self._levels: Classes | None = None

    def changes(self, inputs: dict[str, Any], values: dict[str, Any], now: Sequence[int], settled: Sequence[int],
                facts: dict[str, int], candidates: Iterable[str], pivotal: Iterable[str]) -> dict[
                    str, tuple[set[str], set[str]]]:
        """For each of the `candidates` (unknown fields) some value of which changes a status: the options it
        changes and the rules whose firing that value changes. `inputs` are the case's known inputs, `values` what
        rules read (`case_values`), `now`, `settled` and `facts` the evaluator's readings of the case as it stands.

        Only the `pivotal` rules that read the field are evaluated again: a rule that is not pivotal changes no
        status on any mix of the undecided rules (decision.pivotal_rules), so flipping it together with others
        changes nothing they would not; and a rule settled TRUE or FALSE keeps its firing whatever the unknown
        fields turn out, so of the derived facts only those an undecided rule derives are derived again."""
        found: dict[str, tuple[set[str], set[str]]] = {}
        fired = {i for i, t in enumerate(now) if t == _T}
        open_rules = {i for i, t in enumerate(settled) if t == Truth.UNKNOWN}
        pivots = {self._index[r] for r in pivotal}
        plans = self._plans
        compiled = self._now
        before = {o: _ranks([plans[i] for i in fired], o) for o in range(len(self._order))}
        scope = {**values, **facts}  # set for each trial and put back after it, not copied
        for name in candidates:
            readers = [i for i in self._readers.get(name, ()) if i in pivots]
            if not readers:
                continue
            derived = [(fact, [(i, i in open_rules) for i in derivers]) for fact, derivers in self._facts[name]
                       if any(i in open_rules for i in derivers)]
            checks = self._checks[name]
            direct = self._direct[name]
            for values_of_class in self._classes_for(name, inputs):
                # The rules cannot tell the values of a class apart: the first says what the class changes, and
                # only a class that changes something needs a value the consistency checks accept.
                changes = self._with(scope, inputs, name, values_of_class[0])
                saved = {key: scope.get(key, _ABSENT) for key in (*changes, *(fact for fact, _ in derived))}
                scope.update(changes)
                moved_fact = False
                for fact, derivers in derived:  # in dependency order
                    truth = max((compiled[i](scope) if open_ else now[i] for i, open_ in derivers),
                                default=Truth.FALSE)
                    if truth != scope[fact]:
                        scope[fact] = truth
                        moved_fact = True
                tried = readers if moved_fact else [i for i in readers if i in direct]
                changed = [i for i in tried if (compiled[i](scope) == _T) != (i in fired)]
                _restore(scope, saved)
                if not changed:
                    continue
                after = [plans[i] for i in fired.symmetric_difference(changed)]
                moved = {o for o in {o for i in changed for o in plans[i].affects} if _ranks(after, o) != before[o]}
                if not moved or not any(self._accepted(scope, inputs, name, v, checks) for v in values_of_class):
                    continue  # nothing moves, or no value of the class is an answer the rule base accepts
                entry = found.setdefault(name, (set(), set()))
                entry[0].update(self._order[o] for o in moved)
                entry[1].update(self._ids[i] for i in changed if moved.intersection(plans[i].affects))
        return found

    def _accepted(self, scope: dict[str, Any], inputs: dict[str, Any], name: str, value: Any,
                  checks: Sequence[Callable[[dict[str, Any]], int]]) -> bool:
        changes = self._with(scope, inputs, name, value)
        saved = {key: scope.get(key, _ABSENT) for key in changes}
        scope.update(changes)
        refused = any(test(scope) == _T for test in checks)
        _restore(scope, saved)
        return not refused

    def _with(self, scope: dict[str, Any], inputs: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
        """What changes in what rules read once the field takes the value: the field, and the computed values and
        scores that rest on it."""
        if name == "levels":
            return dict(value[1])
        changes = {name: value}
        if name in _COUNTS:
            other = inputs.get(_COUNTS[1 - _COUNTS.index(name)])
            if other is not None:
                changes["bone_metastases_total"] = value + other
        for score in self._scores[name]:
            total = 0
            for component in score.components:
                given = value if component.input == name else scope.get(component.input, _ABSENT)
                points = None if given is _ABSENT else component.points_for(given)
                if points is None:
                    break
                total += points
            else:
                changes[score.total_field] = total
                band = score.band_of(total)
                if band is not None:
                    changes[score.band_field] = band.name
        return changes

    def _classes_for(self, name: str, inputs: dict[str, Any]) -> Classes:
        if name == "levels":
            if self._levels is None:
                self._levels = _level_classes(*self._level_args)
            return self._levels
        if name in _COUNTS:
            other = inputs.get(_COUNTS[1 - _COUNTS.index(name)])
            totals = self._rule_cuts.get("bone_metastases_total", ())
            if other is not None and totals:
                return self._numeric_classes(name, tuple(t - other for t in totals))
        return self._classes[name]

    def _numeric_classes(self, name: str, shifted: tuple[float, ...]) -> Classes:
        """The field's values split by every threshold, grouped by what the rules (not the checks) can tell apart."""
        spec = self._specs[name]
        coarse = tuple(sorted({*self._rule_cuts.get(name, ()), *shifted}))
        fine = candidate_values(spec, tuple(sorted({*coarse, *self._check_cuts.get(name, ())})))
        return _grouped(fine, lambda v: tuple((v < c, v == c) for c in coarse))


def _restore(scope: dict[str, Any], saved: dict[str, Any]) -> None:
    for key, old in saved.items():
        if old is _ABSENT:
            scope.pop(key, None)
        else:
            scope[key] = old


def _numbers(found: list[Compare], catalog: Any) -> dict[str, set[float]]:
    cuts: dict[str, set[float]] = {}
    for leaf in found:
        if catalog.specs[leaf.field].numeric:
            values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
            cuts.setdefault(leaf.field, set()).update(v for v in values if isinstance(v, (int, float)))
    return cuts


def _codes(spec: FieldSpec) -> tuple[Any, ...]:
    return (True, False) if spec.kind == "bool" else spec.values


def _grouped(values: Iterable[Any], key: Callable[[Any], Any]) -> Classes:
    groups: dict[Any, list[Any]] = {}
    for value in values:
        groups.setdefault(key(value), []).append(value)
    return tuple(tuple(group) for group in groups.values())


def _level_classes(count_spec: FieldSpec | None, rule_cuts: tuple[float, ...], check_cuts: tuple[float, ...],
                   top_sets: list[frozenset[Any]], rulebook: Rulebook) -> Classes:
    """Lists of vertebrae (each with the values computed from it), grouped by what rules can read of them: the
    count's interval between the rules' thresholds, which of the rules' sets the most cranial level falls in, the
    regions touched."""
    counts = [int(c) for c in candidate_values(count_spec, tuple(sorted({*rule_cuts, *check_cuts})))] \
        if count_spec else [1]
    found: list[tuple[Any, tuple[list[str], dict[str, Any]]]] = []
    for top, vertebra in enumerate(VERTEBRAE):
        first = LEVEL_REGIONS.index(REGION_OF_PREFIX[vertebra[0]])
        for k in range(len(LEVEL_REGIONS) - first):
            for extra in itertools.combinations(LEVEL_REGIONS[first + 1:], k):
                regions = (LEVEL_REGIONS[first], *extra)
                pool = [v for v in VERTEBRAE[top + 1:] if REGION_OF_PREFIX[v[0]] in regions]
                heads = [next((v for v in pool if REGION_OF_PREFIX[v[0]] == r), None) for r in extra]
                chosen = [vertebra, *(h for h in heads if h is not None)]
                if len(chosen) != len(regions):
                    continue
                spare = [v for v in pool if v not in chosen]
                for count in counts:
                    if len(chosen) <= count <= len(chosen) + len(spare):
                        levels = sorted(chosen + spare[:count - len(chosen)], key=VERTEBRAE.index)
                        computed, _ = input_values({"levels": levels}, rulebook)
                        for name in ("levels", *FLAT_FACTS):  # only what rules read of the levels
                            del computed[name]
                        key = (tuple((count < c, count == c) for c in rule_cuts),
                               tuple(vertebra in s for s in top_sets), regions)
                        found.append((key, (levels, computed)))
    groups: dict[Any, list[Any]] = {}
    for key, item in found:
        groups.setdefault(key, []).append(item)
    # within a class, the most cranial top (most room below) and the smallest count first
    return tuple(tuple(group) for group in groups.values())
