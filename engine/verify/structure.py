"""Structural properties of the rule base, proved over every admissible case.

- rules_can_fire: every active rule fires for some case (no dead rules);
- no_shadowed_rules: no rule whose effects another rule also gives on every case where it fires;
- every_option_can_lead: every option is the top suggestion for some case;
- no_undeclared_contradictions: no indication that an opposite limit overrides on every case it fires
  on, and no two opposite preferences that fire together, unless a conflict on the option is declared;
- provisional_is_sound: an option not marked provisional keeps its status for every case that fills
  in more of the unknown fields;
- range_is_sound: every case that fills in more of the unknown fields gives each option a status within the
  range (worst to best) the partial case shows.

Each finding carries a witness case where one exists, evaluated by the engine to confirm it.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import z3

from ..conditions import Condition, fields_of
from ..decision import FLOOR
from ..engine import Engine
from ..evaluator import input_values
from ..lesion_views import ordered, view_facts
from ..rulebook import Adjunct, AdviseAgainst, Conflict, Contraindicate, Derive, Indicate, Limit, Prefer, Rule, Rulebook
from ..vocabulary import STATUS_RANK
from . import lesion_checks
from .encode import STATUS_OF_RANK, Encoding
from .invariants import StructuralCheck
from .prove import DEFAULT_TIMEOUT_MS, Search, case_document, evaluate_values, witness_level
from .witness import view_of


@dataclass
class Witness:
    """A case (or a pair: a partial case and a case that fills it in) and what the engine made of it."""

    cases: list[dict[str, Any]]
    confirmed: bool
    engine_says: str


@dataclass
class Finding:
    key: str
    message: str
    witness: Witness | None = None
    allowed: str | None = None  # the reason the rule base gives for keeping it


@dataclass
class CheckResult:
    check: StructuralCheck
    passed: bool
    seconds: float
    summary: str
    findings: list[Finding] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)  # witnesses the engine contradicts: encoding bugs
    undecided: list[str] = field(default_factory=list)    # queries the solver gave up on


class StructureProver:
    def __init__(self, engine: Engine, enc: Encoding, search: Search, timeout_ms: int = DEFAULT_TIMEOUT_MS,
                 minimize: bool = True) -> None:
        self.engine, self.enc, self.search = engine, enc, search
        self.rules = enc.rules
        self.timeout_ms, self.minimize = timeout_ms, minimize
        self._can_fire: dict[int, tuple[str, list[Any]]] = {}
        self._may_not_fire: dict[int, bool] = {}
        self._groups: dict[int, frozenset[str]] = {}
        self._group = _field_groups(engine.rulebook, self._inputs)
        self.lesion_searches: dict[int, tuple[Any, Search]] = {}  # lesion_checks: a case of 1..k lesions, by k

    def run(self, check: StructuralCheck) -> CheckResult:
        start = time.perf_counter()
        method: Callable[[CheckResult], None] = getattr(self, "_" + check.check)
        result = CheckResult(check, True, 0.0, "")
        method(result)
        for finding in result.findings:
            finding.allowed = check.allowed(finding.key)
        result.passed = not [f for f in result.findings if f.allowed is None] and not result.undecided \
            and not result.unconfirmed
        result.seconds = time.perf_counter() - start
        return result

    def can_fire(self, i: int) -> tuple[str, list[Any]]:
        if i not in self._can_fire:
            self._can_fire[i] = self.search.find(self.enc.fired(i), simplify=False)
        return self._can_fire[i]

    def may_not_fire(self, i: int) -> bool:
        if i not in self._may_not_fire:
            self._may_not_fire[i] = self.search.find(z3.Not(self.enc.fired(i)), simplify=False)[0] == "sat"
        return self._may_not_fire[i]

    def implies(self, r: int, s: int) -> str:
        """'unsat' when rule s fires on every case rule r fires on (r must be able to fire), else 'sat' or
        'unknown'. Rules over independent fields need no solver: the domain is a product of independent
        groups of fields (the consistency checks are what ties fields together), so r can fire while s
        does not unless s always fires."""
        if r != s and not (self._groups_of(r) & self._groups_of(s)) and self.may_not_fire(s):
            return "sat"
        return self.search.find(self.enc.fired(r), z3.Not(self.enc.fired(s)), simplify=False)[0]

    def _groups_of(self, i: int) -> frozenset[str]:
        if i not in self._groups:
            self._groups[i] = frozenset(self._group.get(name, name) for name in self._inputs(self.rules[i].when))
        return self._groups[i]

    def _inputs(self, cond: Condition) -> frozenset[str]:
        catalog = self.engine.rulebook.catalog
        return frozenset().union(*(catalog.inputs_of(n) or {n} for n in fields_of(cond)))

    def _run_engine(self, values: dict[str, Any], case_id: str) -> tuple[Any, Any, frozenset[str]] | str:
        """The case, the engine's decision and the rules it fired; or why the case is refused."""
        outcome = evaluate_values(self.engine, case_id, values)
        if isinstance(outcome, str):
            return outcome
        case, decision = outcome
        level = witness_level(case, decision)
        shared = view_facts(ordered(case.lesions), level) if level is not None and case.lesions else None
        known, _ = input_values(view_of(case, level), self.engine.rulebook, shared)
        return case, decision, self.engine.evaluator.fired(known)

    # --- the checks -----------------------------------------------------------------------------------------

    def _invariants_at_every_lesion(self, result: CheckResult) -> None:
        lesion_checks.invariants_at_every_lesion(self, result)

    def _plan_advice_never_contraindicated(self, result: CheckResult) -> None:
        lesion_checks.plan_advice_never_contraindicated(self, result)

    def _rules_can_fire(self, result: CheckResult) -> None:
        for i, rule in enumerate(self.rules):
            outcome, found = self.can_fire(i)
            if outcome == "unknown":
                result.undecided.append(rule.id)
            elif outcome == "unsat":
                result.findings.append(Finding(rule.id, f"{rule.id} ({rule.file}) can never fire: no admissible case "
                                                        "makes its condition TRUE"))
            else:
                run = self._run_engine(found[0], f"fires-{rule.id}")
                if isinstance(run, str) or rule.id not in run[2]:
                    why = run if isinstance(run, str) else "the engine does not fire it"
                    result.unconfirmed.append(f"{rule.id}: the solver's witness case: {why}")
        live = len(self.rules) - len(result.findings)
        result.summary = f"{live} of {len(self.rules)} active rules can fire"

    def _no_shadowed_rules(self, result: CheckResult) -> None:
        atoms = [_atoms(rule) for rule in self.rules]
        pairs = 0
        for r, rule in enumerate(self.rules):
            if self.can_fire(r)[0] != "sat":
                continue
            for s, other in enumerate(self.rules):
                if s == r or not _covered(atoms[r], atoms[s]):
                    continue
                pairs += 1
                outcome = self.implies(r, s)
                if outcome == "unknown":
                    result.undecided.append(f"{rule.id} by {other.id}")
                elif outcome == "unsat":
                    result.findings.append(Finding(
                        f"{rule.id} by {other.id}",
                        f"{rule.id} is shadowed by {other.id}: whenever it fires, {other.id} fires too and gives "
                        "every one of its effects"))
        result.summary = f"{pairs} pairs of rules with overlapping effects compared"

    def _every_option_can_lead(self, result: CheckResult) -> None:
        leading = []
        for option in self.enc.options:
            outcome, found = self.search.find(self.enc.top[option], simplify=False)
            if outcome == "unknown":
                result.undecided.append(option)
            elif outcome == "unsat":
                result.findings.append(Finding(option, f"{option} is never the top suggestion, for any case"))
            else:
                leading.append(option)
                verdict = evaluate_values(self.engine, f"leads-{option}", found[0])
                if isinstance(verdict, str) or verdict[1].top != option:
                    said = verdict if isinstance(verdict, str) else f"the engine ranks {verdict[1].top} first"
                    result.unconfirmed.append(f"{option}: {said}")
        result.summary = f"{len(leading)} of {len(self.enc.options)} options can lead: {', '.join(leading) or 'none'}"

    def _no_undeclared_contradictions(self, result: CheckResult) -> None:
        enc = self.enc
        compared = 0
        for option in enc.options:
            effects = enc.effects[option]
            lifters = [(i, e.floor) for i, e in enumerate(effects) if e is not None and e.floor is not None]
            limiters = [(i, e.ceiling) for i, e in enumerate(effects) if e is not None and e.ceiling is not None]
            for r, floor in lifters:
                if self.can_fire(r)[0] != "sat":
                    continue
                for s, ceiling in limiters:
                    if ceiling >= floor:
                        continue
                    compared += 1
                    outcome = self.implies(r, s)
                    if outcome != "unsat":
                        if outcome == "unknown":
                            result.undecided.append(f"{self.rules[r].id} vs {self.rules[s].id}")
                        continue
                    # s fires on every case r fires on: r's indication never takes effect.
                    self._contradiction(result, option, r, s, (option,),
                                        f"{self.rules[r].id} lifts {option} to {STATUS_OF_RANK[floor]}, but "
                                        f"{self.rules[s].id} fires on every case it fires on and caps it at "
                                        f"{STATUS_OF_RANK[ceiling]}")
        prefs = [(i, e.prefer, worse) for i, rule in enumerate(self.rules) for e in rule.then
                 if isinstance(e, Prefer) for worse in e.over]
        for a, (r, better, worse) in enumerate(prefs):
            for s, better2, worse2 in prefs[a:]:
                if (better2, worse2) != (worse, better):
                    continue
                compared += 1
                self._contradiction(result, better, r, s, (better, worse),
                                    f"{self.rules[r].id} prefers {better} over {worse} and {self.rules[s].id} the "
                                    "opposite, on the same case")
        result.summary = f"{compared} pairs of opposite effects compared"

    def _contradiction(self, result: CheckResult, option: str, r: int, s: int, options: tuple[str, ...],
                       message: str) -> None:
        enc = self.enc
        key = f"{self.rules[r].id} vs {self.rules[s].id}"
        outcome, found = self.search.find(enc.fired(r), enc.fired(s), z3.Not(enc.conflict_declared(options)))
        if outcome == "unknown":
            result.undecided.append(key)
            return
        if outcome == "unsat":
            return  # a declared conflict shows the board the disagreement
        run = self._run_engine(found[0], f"contradiction-{option}")
        if isinstance(run, str):
            confirmed, says, case = False, run, {}
        else:
            shown = any(set(c.options) & set(options) for c in run[1].conflicts)
            confirmed = {self.rules[r].id, self.rules[s].id} <= run[2] and not shown
            says = "both fire and no conflict is declared" if confirmed else "the engine does not show this"
            case = case_document(run[0])
        result.findings.append(Finding(key, message + " - and no conflict is declared for these cases",
                                       Witness([case], confirmed, says)))
        if not confirmed:
            result.unconfirmed.append(f"{key}: {says}")

    def _provisional_is_sound(self, result: CheckResult) -> None:
        def unmarked(a: Any, b: Any) -> tuple[bool, str]:
            return (not a.provisional and a.status != b.status,
                    f"{a.option} is {a.status}{' (provisional)' if a.provisional else ''} on the partial case and "
                    f"{b.status} once it is filled in")
        self._over_completions(
            result, lambda partial, complete, option: (z3.Not(partial.provisional(option)),
                                                       partial.status[option] != complete.status[option]),
            unmarked, "{option} is not marked provisional, yet filling in unknown fields changes its status")

    def _range_is_sound(self, result: CheckResult) -> None:
        """Every case that states more of the unknown fields gives each option a status within the range the
        partial case shows (docs/decision.md, 4): never above its best, never below its worst."""
        def outside(a: Any, b: Any) -> tuple[bool, str]:
            low, high = (a.range.worst, a.range.best) if a.range else (a.status, a.status)
            return (not STATUS_RANK[low] <= STATUS_RANK[b.status] <= STATUS_RANK[high],
                    f"{a.option} ranges {low}..{high} on the partial case and is {b.status} once it is filled in")

        def escapes(partial: Encoding, complete: Encoding, option: str) -> tuple[Any, ...]:
            worst, best = partial.span[option]
            return (z3.Or(complete.status[option] > best, complete.status[option] < worst),)
        self._over_completions(result, escapes, outside, "filling in unknown fields takes {option} outside its range")

    def _over_completions(self, result: CheckResult, claim: Callable[[Encoding, Encoding, str], tuple[Any, ...]],
                          judge: Callable[[Any, Any], tuple[bool, str]], finding: str) -> None:
        """For each option, a partial case and a completion of it (a case stating more of its unknown fields) such
        that `claim` holds: none found proves the check for that option; one found is a finding, evaluated by the
        engine to confirm it."""
        book = self.engine.rulebook
        partial, complete = Encoding(book, "partial:"), Encoding(book, "completion:")
        search = Search([partial, complete], extra=(partial.case.extended_by(complete.case),),
                        timeout_ms=self.timeout_ms, minimize=self.minimize)
        sound = []
        for option in partial.options:
            outcome, found = search.find(*claim(partial, complete, option))
            if outcome == "unknown":
                result.undecided.append(option)
            elif outcome == "unsat":
                sound.append(option)
            else:
                self._completion_witness(result, option, found, judge, finding.format(option=option))
        result.summary = f"proved for {len(sound)} of {len(partial.options)} options"

    def _completion_witness(self, result: CheckResult, option: str, found: Any,
                            judge: Callable[[Any, Any], tuple[bool, str]], finding: str) -> None:
        """A model of a partial case and its completion, evaluated by the engine: the finding, confirmed when the
        engine's own decisions show what the solver found (`judge` reads the option on each and says so)."""
        first = evaluate_values(self.engine, f"partial-{option}", found[0])
        second = evaluate_values(self.engine, f"completion-{option}", found[1])
        if isinstance(first, str) or isinstance(second, str):
            says, confirmed, cases = first if isinstance(first, str) else str(second), False, []
        else:
            confirmed, says = judge(first[1].option(option), second[1].option(option))
            cases = [case_document(first[0]), case_document(second[0])]
        result.findings.append(Finding(option, finding, Witness(cases, confirmed, says)))
        if not confirmed:
            result.unconfirmed.append(f"{option}: {says}")


def _field_groups(rulebook: Rulebook, inputs_of: Callable[[Condition], frozenset[str]]) -> dict[str, str]:
    """Each case input's group: inputs a consistency check names together are in one group (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for name, spec in rulebook.catalog.specs.items():
        if spec.origin == "input":
            find(name)
    find("levels")
    for constraint in rulebook.constraints:
        names = sorted(inputs_of(constraint.when))
        for other in names[1:]:
            parent[find(other)] = find(names[0])
    return {name: find(name) for name in list(parent)}


# --- what a rule does, as comparable atoms --------------------------------------------------------------------


def _atoms(rule: Rule) -> list[tuple[Any, ...]]:
    """Each effect as (effect, subject, strength): only the same kind of effect can stand in for another."""
    atoms: list[tuple[Any, ...]] = []
    for e in rule.then:
        if isinstance(e, Indicate):
            atoms += [("indicate", o, STATUS_RANK[FLOOR[e.strength]]) for o in e.indicate]
        elif isinstance(e, Contraindicate):
            rank = STATUS_RANK["contraindicated" if e.severity == "absolute" else "caution"]
            atoms += [("contraindicate", o, rank) for o in e.contraindicate]
        elif isinstance(e, AdviseAgainst):
            atoms += [("advise_against", o, 0) for o in e.advise_against]
        elif isinstance(e, Limit):
            atoms += [("limit", o, STATUS_RANK[e.at_most]) for o in e.limit]
        elif isinstance(e, Conflict):
            atoms += [("conflict", o, e.caution) for o in e.conflict]
        elif isinstance(e, Prefer):
            atoms += [("prefer", e.prefer, worse) for worse in e.over]
        elif isinstance(e, Adjunct):
            atoms.append(("adjunct", e.adjunct, frozenset(e.options)))
        elif isinstance(e, Derive):
            atoms.append(("derive", e.derive, None))
    return atoms


def _covered(mine: list[tuple[Any, ...]], theirs: list[tuple[Any, ...]]) -> bool:
    """Every effect of `mine` is given, by the same kind of effect and at least as strongly, by `theirs`."""
    def covers(b: tuple[Any, ...], a: tuple[Any, ...]) -> bool:
        if a[0] != b[0] or a[1] != b[1]:
            return False
        if a[0] == "indicate":
            return bool(b[2] >= a[2])
        if a[0] == "contraindicate":
            return bool(b[2] <= a[2])
        if a[0] == "adjunct":
            return not b[2] or (bool(a[2]) and bool(a[2] <= b[2]))
        return bool(a[2] == b[2])
    return bool(mine) and all(any(covers(b, a) for b in theirs) for a in mine)
