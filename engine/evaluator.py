"""Three-valued evaluation of a whole rule base: derived facts first, in dependency order, then every rule."""
from __future__ import annotations

from collections.abc import Mapping
from graphlib import TopologicalSorter
from typing import Any

from . import conditions, kleene
from .case import REGION_OF_PREFIX, Case, known_values
from .fields import LEVEL_REGIONS
from .kleene import Truth
from .lesion_views import FLAT_FACTS
from .rulebook import Rulebook
from .scores import ScoreResult, compute


def case_values(case: Case, rulebook: Rulebook) -> tuple[dict[str, Any], dict[str, ScoreResult]]:
    """The known values rules read (inputs, computed counts and regions, exact score outputs), and every score."""
    return input_values(known_values(case), rulebook)


def input_values(values: dict[str, Any], rulebook: Rulebook, lesion_facts: Mapping[str, Any] | None = None
                 ) -> tuple[dict[str, Any], dict[str, ScoreResult]]:
    """`case_values` from a case's known values as `known_values` gives them (extended in place), with the facts
    over lesions a lesion's view shares (`lesion_facts`; a flat case's when None: engine/lesion_views.py)."""
    values.update(FLAT_FACTS if lesion_facts is None else lesion_facts)
    levels = values.get("levels")
    if levels:
        regions = {REGION_OF_PREFIX[level[0]] for level in levels}
        values["level_count"] = len(levels)
        values["top_level"] = levels[0]  # the case model keeps levels in cranio-caudal order
        for region in LEVEL_REGIONS:
            values[f"region_{region}"] = region in regions
    vertebral, extraspinal = values.get("vertebral_metastases"), values.get("extraspinal_bone_metastases")
    if vertebral is not None and extraspinal is not None:
        values["bone_metastases_total"] = vertebral + extraspinal
    results = {}
    for score in rulebook.scores:
        result = compute(score, values)
        results[score.id] = result
        if result.total is not None:
            values[score.total_field] = result.total
            values[score.band_field] = result.band
    return values, results


class RuleEvaluator:
    """Kleene evaluation of every active rule, in two readings of the case.

    `now`: what holds of the case as it stands; the rules it calls TRUE are exactly those durable fires.
    `settled`: what still holds whichever way the unknown fields turn out; a rule that is not TRUE or
    FALSE in this reading is undecided, and may change the decision once the fields are known.
    """

    def __init__(self, rulebook: Rulebook) -> None:
        catalog = rulebook.catalog
        rules = rulebook.active_rules
        self.rule_ids = tuple(r.id for r in rules)
        self._now = tuple(kleene.compile_condition(r.when, catalog) for r in rules)
        self._settled = tuple(kleene.compile_condition(r.when, catalog, settled=True) for r in rules)
        derivers: dict[str, list[int]] = {}
        for i, rule in enumerate(rules):
            for fact in rule.derives:
                derivers.setdefault(fact, []).append(i)
        facts = [name for name, spec in catalog.specs.items() if spec.kind == "fact"]
        graph = {fact: {n for i in derivers.get(fact, ()) for n in conditions.fields_of(rules[i].when)
                        if n in derivers} for fact in facts}
        order = list(TopologicalSorter(graph).static_order())
        # A fact with no active deriver is FALSE: it is never asserted.
        self._fact_plan = tuple((fact, tuple(derivers.get(fact, ()))) for fact in order if fact in graph)
        # The two readings differ only through `known`/`unknown` tests, in a rule or in a fact it tests.
        presence = {i for i, rule in enumerate(rules)
                    if any(isinstance(leaf, conditions.Presence) for leaf in conditions.leaves(rule.when))}
        while True:
            tainted = {fact for fact, indices in self._fact_plan if presence.intersection(indices)}
            grown = presence | {i for i, rule in enumerate(rules) if tainted & conditions.fields_of(rule.when)}
            if grown == presence:
                break
            presence = grown
        self._differs = frozenset(presence)

    @property
    def now_conditions(self) -> tuple[kleene.Evaluate, ...]:
        """Each active rule's condition as it reads the case now, in `rule_ids` order."""
        return self._now

    @property
    def fact_plan(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """Each derived fact with the indices of its deriving rules, in dependency order."""
        return self._fact_plan

    def evaluate(self, values: dict[str, Any], *, settled: bool = False) -> tuple[tuple[int, ...], dict[str, int]]:
        """Truth of every active rule (in `rule_ids` order) and of every derived fact."""
        compiled = self._settled if settled else self._now
        scope = dict(values)
        truths: list[int | None] = [None] * len(compiled)
        facts: dict[str, int] = {}
        for fact, rule_indices in self._fact_plan:
            value: int = Truth.FALSE
            for i in rule_indices:
                truth = truths[i]
                if truth is None:
                    truth = truths[i] = compiled[i](scope)
                if truth > value:
                    value = truth
            scope[fact] = facts[fact] = value
        return tuple(t if t is not None else compiled[i](scope) for i, t in enumerate(truths)), facts

    def readings(self, values: dict[str, Any]) -> tuple[tuple[int, ...], tuple[int, ...], dict[str, int]]:
        """Both readings of every rule, `(now, settled, facts now)`; the second re-evaluates only where they differ."""
        now, facts = self.evaluate(values)
        differs = self._differs
        if not differs:
            return now, now, facts
        settled = self._settled
        scope = dict(values)
        truths: list[int | None] = [None] * len(now)
        for fact, rule_indices in self._fact_plan:
            value: int = Truth.FALSE
            for i in rule_indices:
                truth = truths[i]
                if truth is None:
                    truth = truths[i] = settled[i](scope) if i in differs else now[i]
                if truth > value:
                    value = truth
            scope[fact] = value
        return now, tuple(t if t is not None else (settled[i](scope) if i in differs else now[i])
                          for i, t in enumerate(truths)), facts

    def fired(self, values: dict[str, Any]) -> frozenset[str]:
        """Rules TRUE of the case as it stands: the set durable-rules must fire."""
        truths, _ = self.evaluate(values)
        return frozenset(rid for rid, t in zip(self.rule_ids, truths, strict=True) if t == Truth.TRUE)
