"""Brute-force oracles for the status range and the exact `missing`, written apart from engine/missing.py.

Statuses are read off the three-valued evaluator and the decision plan alone (durable-rules agrees with the
evaluator on every case, tests/test_agreement.py). The values tried are broader than the engine's: every number
the rule base writes anywhere (any field's threshold, score point ranges), each with its neighbours, and for
`levels` lists of every length up to a few beyond the rule base's counts, from every vertebra.
"""
from __future__ import annotations

import itertools
from typing import Any

from spinemets.case import REGION_OF_PREFIX, VERTEBRAE, input_fields
from spinemets.conditions import Compare, leaves
from spinemets.decision import pivotal_rules
from spinemets.evaluator import input_values
from spinemets.fields import LEVEL_REGIONS, input_specs
from spinemets.kleene import Truth

SPECS = input_specs()
COUNTS = ("vertebral_metastases", "extraspinal_bone_metastases")


def every_number(rulebook) -> tuple[float, ...]:
    """Every number a condition of the rule base (rules, consistency checks, questions) or a score table writes."""
    conds = ([r.when for r in rulebook.active_rules] + [c.when for c in rulebook.constraints]
             + [q.ask_when for q in rulebook.questions])
    found: set[float] = set()
    for leaf in (leaf for cond in conds for leaf in leaves(cond)):
        if isinstance(leaf, Compare):
            values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
            found.update(v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool))
    for score in rulebook.scores:
        for component in score.components:
            for band in component.ranges:
                found.update((band.min, band.max))
    return tuple(sorted(found))


def numbers_for(name: str, numbers: tuple[float, ...], known: dict[str, Any]) -> list[Any]:
    spec = SPECS[name]
    shifts = [0]
    if name in COUNTS:
        other = known.get(COUNTS[1 - COUNTS.index(name)])
        if other is not None:
            shifts.append(other)
    points = {spec.minimum if spec.minimum is not None else 0, spec.maximum if spec.maximum is not None else 1000}
    for c in numbers:
        for shift in shifts:
            base = c - shift
            points.update({base - 1, base - 0.5, base, base + 0.5, base + 1})
    out = []
    for p in sorted(points):
        value = int(p) if spec.kind == "int" and float(p).is_integer() else p
        if spec.accepts(value):
            out.append(value)
    return out


def level_lists(rulebook) -> list[list[str]]:
    """Lists of vertebrae: from every vertebra, every set of regions below it, every length up to 6 and around
    the rule base's level counts."""
    counts = sorted({n for c in every_number(rulebook) for n in (int(c) - 1, int(c), int(c) + 1) if 1 <= n <= 24}
                    | set(range(1, 7)))
    lists, seen = [], set()
    for top, vertebra in enumerate(VERTEBRAE):
        first = LEVEL_REGIONS.index(REGION_OF_PREFIX[vertebra[0]])
        for k in range(len(LEVEL_REGIONS) - first):
            for extra in itertools.combinations(LEVEL_REGIONS[first + 1:], k):
                regions = (LEVEL_REGIONS[first], *extra)
                pool = [v for v in VERTEBRAE[top + 1:] if REGION_OF_PREFIX[v[0]] in regions]
                heads = [next((v for v in pool if REGION_OF_PREFIX[v[0]] == r), None) for r in extra]
                if None in heads:
                    continue
                chosen = [vertebra, *heads]
                spare = [v for v in pool if v not in chosen]
                for n in counts:
                    if len(chosen) <= n <= len(chosen) + len(spare):
                        levels = sorted(chosen + spare[:n - len(chosen)], key=VERTEBRAE.index)
                        key = tuple(levels)
                        if key not in seen:
                            seen.add(key)
                            lists.append(levels)
    return lists


class Oracle:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.numbers = every_number(engine.rulebook)
        self.levels = level_lists(engine.rulebook)
        self.ids = engine.evaluator.rule_ids
        book = engine.rulebook
        conds = ([r.when for r in book.active_rules] + [c.when for c in book.constraints]
                 + [q.ask_when for q in book.questions])
        tops = [frozenset(leaf.value if isinstance(leaf.value, tuple) else (leaf.value,))
                for cond in conds for leaf in leaves(cond) if isinstance(leaf, Compare) and leaf.field == "top_level"]
        self._by_signature: dict[tuple[Any, ...], list[str]] = {}
        for levels in self.levels:  # what any condition can read of a list: its count, its top's sets, its regions
            values, _ = input_values({"levels": levels}, book)
            sig = (values["level_count"], tuple(values["top_level"] in s for s in tops),
                   *(values[f"region_{r}"] for r in LEVEL_REGIONS))
            self._by_signature.setdefault(sig, levels)

    def reading(self, known: dict[str, Any]) -> tuple[dict[str, str], frozenset[str]] | None:
        """Statuses and fired rules for known inputs, or None when the consistency checks refuse them."""
        values, _ = input_values(dict(known), self.engine.rulebook)
        if self.engine.check_values(values):
            return None
        truths, _ = self.engine.evaluator.evaluate(values)
        fired = frozenset(r for r, t in zip(self.ids, truths) if t == Truth.TRUE)
        return self.engine.plan.ranking(fired)[0], fired

    def values_of(self, name: str, known: dict[str, Any]) -> list[Any]:
        if name == "levels":
            return list(self._by_signature.values())
        spec = SPECS[name]
        if spec.kind == "bool":
            return [True, False]
        if spec.kind == "enum":
            return list(spec.values)
        return numbers_for(name, self.numbers, known)

    def single_changes(self, known: dict[str, Any]) -> dict[str, tuple[set[str], set[str]]]:
        """Every unknown field some value of which alone changes a status, with the options and rules it changes."""
        base = self.reading(known)
        assert base is not None
        statuses, fired = base
        book = self.engine.rulebook
        # the rules through which a field changes a status: those whose firing can change one (pivotal_rules)
        values, _ = input_values(dict(known), book)
        _, settled, _ = self.engine.evaluator.readings(values)
        undecided = {r for r, t in zip(self.ids, settled) if t == Truth.UNKNOWN}
        certain = [book.rule_by_id[r] for r in sorted(fired - undecided)]
        open_rules = [book.rule_by_id[r] for r in sorted(undecided)]
        pivotal = {rule.id for o in statuses for rule in pivotal_rules(o, certain, open_rules)}
        found: dict[str, tuple[set[str], set[str]]] = {}
        for name in input_fields():
            if name in known:
                continue
            for value in self.values_of(name, known):
                got = self.reading({**known, name: value})
                if got is None:
                    continue
                moved = {o for o in statuses if got[0][o] != statuses[o]}
                if moved:
                    entry = found.setdefault(name, (set(), set()))
                    entry[0].update(moved)
                    entry[1].update(r for r in (fired ^ got[1]) & pivotal
                                    if any(o in moved for o in _options(book.rule_by_id[r])))
        return found


def _options(rule) -> set[str]:
    from spinemets.rulebook import effect_options
    return {o for e in rule.then for o in effect_options(e)}
