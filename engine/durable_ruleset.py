"""The rule base compiled to a durable-rules ruleset, and cases run through it."""
from __future__ import annotations

import bisect
import string
from collections.abc import Iterable
from typing import Any

from . import conditions
from ._internal import durable_capacity, durable_host
from .conditions import AllOf, AnyOf, Compare, Condition, Presence
from .errors import EngineError, Problem, RulebookError
from .rulebook import Rule, Rulebook

CASE, DERIVED = "case", "derived"
_OPS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
Branch = tuple[frozenset[str], Condition | None]  # derived facts to join, condition on the case fact


def fact_keys(rulebook: Rulebook) -> dict[str, str]:
    """Short keys in durable's facts for the fields some active rule reads, in catalog order.

    durable-rules reads a dotted name as a path into nested objects, so `sins.location` cannot be a key
    as it stands; and durable passes the whole case fact as JSON to every action it runs, so short keys
    ("a", "b", ..., "aa", ...) make every fired rule cheaper. Fields no rule reads are not sent at all.
    """
    specs = rulebook.catalog.specs
    read = {name for rule in rulebook.active_rules for name in conditions.fields_of(rule.when)
            if specs[name].kind != "fact"}
    names = [name for name in specs if name in read]
    return {name: _short(i) for i, name in enumerate(names)}


def _short(i: int) -> str:
    letters = string.ascii_lowercase
    key = letters[i % 26]
    while i >= 26:
        i = i // 26 - 1
        key = letters[i % 26] + key
    return key


def plain_number(value: float) -> bool:
    """durable-rules' JSON parser rejects exponent notation (1e-05, 1e+16), which Python writes for some floats."""
    text = repr(value)
    return "e" not in text and "E" not in text


def stand_in(value: float, constants: tuple[float, ...]) -> float:
    """A plain decimal that compares with every constant exactly as `value` does (same cell between them)."""
    if plain_number(value):
        return value
    i = bisect.bisect_left(constants, value)
    if i < len(constants) and constants[i] == value:
        return constants[i]
    lo = constants[i - 1] if i > 0 else None
    hi = constants[i] if i < len(constants) else None
    if lo is None and hi is None:
        return 0
    if lo is None:
        assert hi is not None
        return hi - 1
    if hi is None:
        return lo + 1
    for digits in range(16):
        candidate = round((lo + hi) / 2, digits)
        if lo < candidate < hi and plain_number(candidate):
            return candidate
    raise EngineError(f"no plain decimal between {lo} and {hi} to stand in for {value!r}")


class DurableRuleset:
    """One rule base registered with durable-rules under a name derived from its content hash."""

    def __init__(self, rulebook: Rulebook) -> None:
        self.rulebook = rulebook
        self.name = f"spinemets_{rulebook.sha256[:24]}"
        self._derivers = _derivers(rulebook.active_rules)
        self._constants = rulebook.numeric_constants
        self.keys = fact_keys(rulebook)
        self._keys = tuple(self.keys.items())
        self.definition: dict[str, Any] = {}
        keyed = [(f"r{number:04d}", rule) for number, rule in enumerate(rulebook.active_rules)]
        for key, rule in keyed:
            try:
                self.definition[key] = self._compile_rule(rule.when)
            except _TooLarge:
                raise RulebookError(
                    f"rule {rule.id}: its durable-rules form needs more than {MAX_BRANCHES:,} alternative "
                    "conditions (each derived fact it tests false is replaced by the negation of every rule "
                    "deriving it, and the result spelled out as alternatives, which grows exponentially); "
                    "simplify the condition, or test fewer derived facts as false in it",
                    [Problem("durable form too large", rule=rule.id)]) from None
            paths = durable_capacity.matching_paths(self.definition[key])
            if paths > durable_capacity.MAX_PATHS:
                raise RulebookError(
                    f"rule {rule.id}: durable-rules could follow {paths:,} ways of matching it on one case, past the "
                    f"{durable_capacity.MAX_PATHS:,} it can hold in memory (each alternative that holds is a path, "
                    "and alternatives in one condition multiply); simplify the condition, or test fewer derived "
                    "facts as false in it", [Problem("durable form too large", rule=rule.id)])
        # A derived fact no rule joins on (one only ever tested `== false`) would match no pattern: not asserting
        # it spares durable an assert and the catch-all action it would otherwise need.
        self.joined = frozenset(f for spec in self.definition.values() for f in _joined_facts(spec))
        handlers: dict[str, durable_host.Handler] = {
            key: _handler(rule.id, tuple(f for f in rule.derives if f in self.joined)) for key, rule in keyed}
        # A rule for every case fact: an unmatched assert raises, and deleting that session can segfault
        # (so can deleting a session in which no action ran). Derived facts need none: each one asserted
        # is joined by some rule, so it always matches a pattern.
        self.definition[f"seen_{CASE}"] = {"all": [{"m": {"kind": CASE}}]}
        handlers[f"seen_{CASE}"] = _ignore
        durable_host.register(self.name, self.definition, handlers)

    def fire(self, values: dict[str, Any]) -> frozenset[str]:
        """Ids of the rules durable-rules fires for a case's known values."""
        return frozenset(durable_host.run(self.name, self.case_fact(values)).fired)

    def case_fact(self, values: dict[str, Any]) -> dict[str, Any]:
        """The case fact as durable sees it: the known values its patterns read (durable counts None as present)."""
        fact: dict[str, Any] = {}
        for name, key in self._keys:
            if name in values:
                value = values[name]
                if value.__class__ is float and not plain_number(value):
                    value = stand_in(value, self._constants.get(name, ()))
                fact[key] = value
        fact["kind"] = CASE
        return fact

    # --- compilation ---------------------------------------------------------------------------------------

    def _compile_rule(self, when: Condition) -> dict[str, Any]:
        merged = _merge(self._branches(conditions.nnf(when)))
        branches: list[Branch] = _bounded([(facts, piece) for facts, cond in merged
                                           for piece in (_fit(cond) if cond is not None else [None])])
        if len(branches) == 1:
            return {"all": _join(*branches[0], self.keys)}
        return {"any": [{f"b{i}$all": _join(facts, cond, self.keys)} for i, (facts, cond) in enumerate(branches)]}

    def _branches(self, cond: Condition) -> list[Branch]:
        """Disjunction of (derived facts joined, case condition): durable joins facts only at the top."""
        if not self._mentions_fact(cond):
            return [(frozenset(), cond)]
        if isinstance(cond, Compare):  # a derived fact
            if (cond.value is True) == (cond.op == "=="):
                return [(frozenset({cond.field}), None)]
            # a derived fact is false when every rule deriving it is false: inline that, no negation-as-failure
            negated = AllOf(items=tuple(conditions.negate(r.when) for r in self._derivers[cond.field]))
            return self._branches(conditions.nnf(negated))
        if isinstance(cond, AnyOf):
            return [b for item in cond.items for b in self._branches(item)]
        assert isinstance(cond, AllOf)
        result: list[Branch] = [(frozenset(), None)]
        for item in cond.items:
            result = _bounded([(f1 | f2, _and(c1, c2)) for f1, c1 in result for f2, c2 in self._branches(item)])
        return result

    def _mentions_fact(self, cond: Condition) -> bool:
        return any(self.rulebook.catalog.specs[n].kind == "fact" for n in conditions.fields_of(cond))


def _joined_facts(spec: dict[str, Any]) -> set[str]:
    terms = spec.get("all") or [term for b in spec["any"] for term in next(iter(b.values()))]
    return {t[k]["$and"][1]["name"] for t in terms for k in t if k != "c"}


def _derivers(rules: Iterable[Rule]) -> dict[str, list[Rule]]:
    found: dict[str, list[Rule]] = {}
    for rule in rules:
        for fact in rule.derives:
            found.setdefault(fact, []).append(rule)
    return found


# durable-rules gives each join term 32 expression slots; every $and / $or group takes two (open, end),
# and the anchoring $and on `kind` takes one group. Past the limit, create_ruleset fails with error 113.
MAX_GROUPS = 12


def _simplify(cond: Condition) -> Condition:
    """Same truth, fewer groups: nested same-kind groups flattened, singletons unwrapped, repeats dropped."""
    if isinstance(cond, Compare) and cond.op in ("in", "not in") and len(cond.value) == 1:
        return Compare(field=cond.field, op="==" if cond.op == "in" else "!=", value=cond.value[0])
    if not isinstance(cond, (AllOf, AnyOf)):
        return cond
    kind = type(cond)
    items: list[Condition] = []
    for item in (_simplify(i) for i in cond.items):
        for part in (item.items if isinstance(item, kind) else (item,)):
            if part not in items:
                items.append(part)
    return items[0] if len(items) == 1 else kind(items=tuple(items))


def _groups(cond: Condition) -> int:
    if isinstance(cond, (AllOf, AnyOf)):
        return 1 + sum(_groups(i) for i in cond.items)
    if isinstance(cond, Compare) and cond.op in ("in", "not in"):
        return 1
    return 0


def _fit(cond: Condition) -> list[Condition]:
    """Disjuncts of `cond`, each small enough for one durable join term."""
    cond = _simplify(cond)
    if _groups(cond) <= MAX_GROUPS:
        return [cond]
    if isinstance(cond, AnyOf):
        return _bounded([piece for item in cond.items for piece in _fit(item)])
    assert isinstance(cond, AllOf)
    alternatives = [i for i in cond.items if isinstance(i, AnyOf) or (isinstance(i, Compare) and i.op == "in")]
    if not alternatives:  # only not-in groups left: spell them out as separate != leaves
        leaves = [Compare(field=i.field, op="!=", value=v) for i in cond.items if isinstance(i, Compare)
                  and i.op == "not in" for v in i.value]
        others = [i for i in cond.items if not (isinstance(i, Compare) and i.op == "not in")]
        return [AllOf(items=tuple(others + leaves))]
    widest = max(alternatives, key=_groups)
    options = widest.items if isinstance(widest, AnyOf) else tuple(
        Compare(field=widest.field, op="==", value=v) for v in widest.value)
    rest = tuple(i for i in cond.items if i is not widest)
    pieces: list[Condition] = []
    for option in options:
        pieces += _fit(AllOf(items=rest + (option,)))
        _bounded(pieces)
    return pieces


# Alternatives one rule may compile to. The built-in rules need at most 6; a rule testing derived facts as
# false inlines the negation of every rule deriving them, and spelling that out as alternatives grows
# exponentially (a generated rule base of three chained facts reached 1.5 MB of definition in 9 s at one step
# and exhausted memory at the next): past this bound the rule is refused before anything large is built.
MAX_BRANCHES = 256


class _TooLarge(Exception):
    pass


def _bounded(found: list[Any]) -> list[Any]:
    if len(found) > MAX_BRANCHES:
        raise _TooLarge
    return found


def _and(a: Condition | None, b: Condition | None) -> Condition | None:
    if a is None:
        return b
    if b is None:
        return a
    return AllOf(items=(a, b))


def _merge(branches: list[Branch]) -> list[Branch]:
    """Branches joining the same facts share one durable branch with their case conditions OR-ed."""
    by_facts: dict[frozenset[str], list[Condition | None]] = {}
    for facts, cond in branches:
        by_facts.setdefault(facts, []).append(cond)
    merged: list[Branch] = []
    for facts, conds in sorted(by_facts.items(), key=lambda kv: sorted(kv[0])):
        if any(c is None for c in conds):
            merged.append((facts, None))
        else:
            merged.append((facts, conds[0] if len(conds) == 1 else AnyOf(items=tuple(conds))))
    return merged


def _join(facts: frozenset[str], cond: Condition | None, keys: dict[str, str]) -> list[dict[str, Any]]:
    anchor: dict[str, Any] = {"kind": CASE}
    if cond is None:
        case_term = anchor
    else:
        parts = cond.items if isinstance(cond, AllOf) else (cond,)  # the anchor's $and absorbs a top-level and
        case_term = {"$and": [anchor, *(_pattern(p, keys) for p in parts)]}
    terms: list[dict[str, Any]] = [{"c": case_term}]
    for i, fact in enumerate(sorted(facts)):
        terms.append({f"f{i}": {"$and": [{"kind": DERIVED}, {"name": fact}]}})
    return terms


def _pattern(cond: Condition, keys: dict[str, str]) -> dict[str, Any]:
    """A condition in negation normal form as a durable-rules expression.

    Absent fields match no comparison (not even $neq), so a leaf matches exactly when Kleene logic
    calls it TRUE; with negations already at the leaves, the whole tree matches exactly when TRUE.
    """
    if isinstance(cond, Compare):
        key = keys[cond.field]
        if cond.op == "==":
            return {key: cond.value}
        if cond.op == "in":
            return {"$or": [{key: v} for v in cond.value]} if len(cond.value) > 1 else {key: cond.value[0]}
        if cond.op == "not in":
            terms = [{"$neq": {key: v}} for v in cond.value]
            return {"$and": terms} if len(terms) > 1 else terms[0]
        return {_OPS[cond.op]: {key: cond.value}}
    if isinstance(cond, Presence):
        return {"$ex" if cond.kind == "known" else "$nex": {keys[cond.field]: 1}}
    if isinstance(cond, AllOf):
        return {"$and": [_pattern(i, keys) for i in cond.items]}
    if isinstance(cond, AnyOf):
        return {"$or": [_pattern(i, keys) for i in cond.items]}
    raise EngineError(f"cannot compile {type(cond).__name__}: conditions must be in negation normal form")


def _handler(rule_id: str, derives: tuple[str, ...]) -> durable_host.Handler:
    def handle(run: durable_host.Run) -> list[dict[str, Any]]:
        run.fired.add(rule_id)  # an 'any' rule fires once per true branch: the set de-duplicates
        new = [fact for fact in derives if fact not in run.asserted]
        run.asserted.update(new)
        return [{"kind": DERIVED, "name": fact} for fact in new]
    return handle


def _ignore(run: durable_host.Run) -> list[dict[str, Any]]:  # noqa: ARG001 (a handler's signature)
    return []
