"""The engine: a rule base compiled once, evaluating cases through durable-rules with a three-valued cross-check."""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import kleene
from .case import PER_LEVEL_FIELDS, REGION_OF_PREFIX, Case, input_fields, known_values
from .case_io import case_from_data
from .conditions import Compare, fields_of, leaves
from .decision import Decision, DecisionPlan, DerivationPlan, MissingField
from .durable_ruleset import DurableRuleset
from .errors import CaseError, EngineError, Problem
from .evaluator import RuleEvaluator, case_values, input_values
from .frameworks import CompiledFramework, Summary
from .kleene import Truth
from .lesion import LESION_ONLY_FIELDS, Lesion
from .lesion_decision import LesionDecision, patient_summary
from .lesion_views import adjacent_levels, facts_at, facts_over, lesion_view, ordered, patient_values
from .missing import MissingProbe
from .plan import Planner
from .rulebook import Rulebook, files_digest, load_rulebook
from .scores import ScoreResult
from .vignette import CaseDocument

_INPUTS = tuple(input_fields())
_LESION_INPUTS = (*_INPUTS, *LESION_ONLY_FIELDS)
# Patient-level pain fields that a check may pair with the index level's pain: in lesion form they describe the
# patient, and one painless level among painful ones does not contradict them.
_PATIENT_PAIN = frozenset({"refractory_to_analgesics", "refractory_to_conservative"})
_PER_LEVEL_NAMES = frozenset(PER_LEVEL_FIELDS) | frozenset({"levels", "top_level", "level_count"})
_LESION_NAMES = frozenset(PER_LEVEL_FIELDS) | frozenset(LESION_ONLY_FIELDS) | frozenset({"sins"})


class Engine:
    """Evaluates cases against one rule base. Thread-safe; build it once per process (see `get_engine`).

    Building compiles the rule base (durable-rules and the three-valued evaluator); `get_engine` does it once
    per rule base and shares the result, so prefer it to calling `Engine(...)` yourself.

    >>> from spinemets import get_engine
    >>> engine = get_engine()  # the built-in rule base
    >>> engine.rulebook.manifest.name, len(engine.sha256)
    ('spinemets', 64)
    >>> decision = engine.evaluate({"id": "demo", "primary_tumor": "kidney", "levels": ["L2"]})
    >>> decision.rulebook.sha256 == engine.sha256  # every decision names the rule base that made it
    True
    """

    def __init__(self, rulebook: Rulebook) -> None:
        self.rulebook = rulebook
        self.evaluator = RuleEvaluator(rulebook)
        self.durable = DurableRuleset(rulebook)
        self.plan = DecisionPlan(rulebook)
        self.missing_probe = MissingProbe(rulebook, self.evaluator, self.plan)
        self._frameworks = tuple(CompiledFramework(f, rulebook.catalog) for f in rulebook.frameworks)
        self._derivations = DerivationPlan(rulebook)
        catalog = rulebook.catalog
        self._constraints = tuple((c, kleene.compile_condition(c.when, catalog)) for c in rulebook.constraints)
        self._lesion_constraints = tuple((c, test) for c, test in self._constraints if checks_a_lesion(c.fields))
        self.planner = Planner(rulebook)
        self._level_sets = _level_sets(rulebook)
        inputs = {name: i for i, name in enumerate(_INPUTS)}
        self._questions = tuple(
            (q.field, kleene.compile_condition(q.ask_when, catalog),
             tuple(sorted(frozenset().union(*(catalog.inputs_of(n) for n in fields_of(q.ask_when))),
                          key=lambda n: inputs.get(n, len(inputs)))))
            for q in rulebook.questions)

    @property
    def sha256(self) -> str:
        return self.rulebook.sha256

    def check(self, case: Case) -> list[Problem]:
        """Combinations of values the rule base declares impossible for one patient, named by field; in lesion form
        the patient's values and then each lesion's view, as `evaluate` checks them (a lesion's field named
        `lesions.<i>.<field>`), all reported at once."""
        if not case.lesions:
            values, _ = case_values(case, self.rulebook)
            return self.check_values(values)
        lesions = ordered(case.lesions)
        patient = patient_values(case)
        values, _ = input_values({**patient, "levels": [lesion.level for lesion in lesions]}, self.rulebook)
        problems = self.check_values(values)
        shared, runs = facts_over(lesions), adjacent_levels(lesions)
        for lesion in lesions:
            view = lesion_view(patient, lesions, lesion)
            values, _ = input_values(view, self.rulebook, facts_at(shared, runs, lesion.level))
            problems += [_located(p, case, lesion) for p in self._check(values, lesion.level)]
        return problems

    def check_values(self, values: dict[str, Any]) -> list[Problem]:
        """`check` on the values `case_values` computed."""
        return [Problem(c.message, field=c.fields[0], also=tuple(c.fields[1:]), rule=c.id)
                for c, test in self._constraints if test(values) == Truth.TRUE]

    def evaluate(self, case: Case | CaseDocument | dict[str, Any]) -> Decision:
        """The graded, cited decision for one case (see the module function `evaluate` for what `case` may be).

        Raises CaseError for input the data dictionary refuses or values the rule base declares impossible
        together, and EngineError when the engine itself fails (never for bad input)."""
        case = _as_case(case)
        if case.lesions:
            return self._evaluate_lesions(case)
        return self._decide(case.id, known_values(case), None, _INPUTS)

    def _decide(self, case_id: str, known: dict[str, Any], shared: dict[str, Any] | None, inputs: tuple[str, ...],
                lesion: str | None = None) -> Decision:
        """The decision for known input values and the facts over lesions they share (None: a flat case's);
        `lesion` names the level when the values are one lesion's view."""
        values, scores = input_values(dict(known), self.rulebook, shared)
        problems = self._check(values, lesion)
        if problems:
            where = f"case {case_id}" + (f", lesion {lesion}" if lesion else "")
            raise CaseError(f"{where}: these values cannot all be true of one patient", problems)
        now, settled, facts = self.evaluator.readings(values)
        ids = self.evaluator.rule_ids
        fired = self._cross_checked(case_id, self.durable.fire(values),
                                    frozenset(r for r, t in zip(ids, now, strict=True) if t == Truth.TRUE))
        undecided = [r for r, t in zip(ids, settled, strict=True) if t == Truth.UNKNOWN]
        unknown = [name for name in inputs if name not in values]
        frameworks = self.frameworks_for(values, facts, scores, unknown)
        asks = self.questions_for(values, facts, unknown)
        def exact(candidates: frozenset[str], pivotal: frozenset[str]) -> dict[str, tuple[set[str], set[str]]]:
            return self.missing_probe.changes(known, values, now, settled, facts, candidates, pivotal)
        decision = self.plan.decide(case_id, fired, undecided, unknown, frameworks, asks, exact)
        return decision.model_copy(update=self.trace(fired))

    def _check(self, values: dict[str, Any], lesion: str | None) -> list[Problem]:
        if lesion is None:
            return self.check_values(values)
        return [Problem(c.message, field=c.fields[0], also=tuple(c.fields[1:]), rule=c.id)
                for c, test in self._lesion_constraints if test(values) == Truth.TRUE]

    def _evaluate_lesions(self, case: Case) -> Decision:
        """A case in lesion form: each lesion decided from its view, the patient's summary, and the plan."""
        assert case.lesions is not None
        lesions = ordered(case.lesions)
        patient = patient_values(case)
        whole = {**patient, "levels": [lesion.level for lesion in lesions]}  # the patient's own checks
        values, _ = input_values(whole, self.rulebook)
        problems = self.check_values(values)  # the patient's values alone: no per-level field is known here
        if problems:
            raise CaseError(f"case {case.id}: these values cannot all be true of one patient", problems)
        shared = facts_over(lesions)
        runs = adjacent_levels(lesions)
        decisions = []
        # Two lesions whose views differ only in vertebrae that nothing tells apart (the same region, the same
        # side of every set of levels a rule, check, question or framework names) get the same decision: the
        # level itself appears nowhere in it. Multi-level disease is often the same finding at several levels.
        decided: dict[Any, Decision] = {}
        for lesion in lesions:
            view = lesion_view(patient, lesions, lesion)
            facts = facts_at(shared, runs, lesion.level)
            key = self._view_key(view, lesion.level), facts["adjacent_levels"]
            decision = decided.get(key)
            if decision is None:
                try:
                    decision = decided[key] = self._decide(case.id, view, facts, _LESION_INPUTS, lesion.level)
                except CaseError as err:
                    raise CaseError(err.summary, [_located(p, case, lesion) for p in err.problems]) from None
            if "discrete_compressive_lesions" not in shared:
                decision = self._with_other_levels(patient, lesions, runs, lesion, decision)
            decisions.append(LesionDecision.of(lesion.level, decision))
        summary = patient_summary(decisions, self.rulebook,
                                  frozenset(lesion.level for lesion in lesions if lesion.painful is False))
        plan = self.planner.plan(patient, shared, lesions, decisions)
        return Decision(case_id=case.id, rulebook=self.plan.ref, **summary, lesions=tuple(decisions),
                        plan=plan)

    def _view_key(self, view: dict[str, Any], level: str) -> Any:
        items = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in view.items() if k != "levels"))
        return items, REGION_OF_PREFIX[level[0]], tuple(level in s for s in self._level_sets)

    def _with_other_levels(self, patient: dict[str, Any], lesions: Sequence[Lesion], runs: dict[str, int],
                           lesion: Lesion, decision: Decision) -> Decision:
        """`missing` of one lesion when whether compressions are discrete is open: each level whose unknown
        compression, answered alone, changes a status here (found by trying both answers). `runs` are the lesions'
        runs of adjacent levels, which no answer about compression changes."""
        before = decision.statuses()
        found: dict[str, set[str]] = {}
        for other in lesions:
            if other.spinal_cord_compression is not None:
                continue
            for answer in (True, False):
                # the answer moves the facts over lesions and, through whose deficit it can be, this level's view
                trial = [entry.model_copy(update={"spinal_cord_compression": answer}) if entry.level == other.level
                         else entry for entry in lesions]
                this = next(entry for entry in trial if entry.level == lesion.level)
                values, _ = input_values(lesion_view(patient, trial, this), self.rulebook,
                                         facts_at(facts_over(trial), runs, lesion.level))
                if self._check(values, lesion.level):
                    continue
                statuses, _ = self.plan.ranking(self.evaluator.fired(values))
                changed = {o for o, status in statuses.items() if before[o] != status}
                if changed:
                    found.setdefault(other.level, set()).update(changed)
        if not found:
            return decision
        order: list[str] = [o.code for o in self.rulebook.manifest.options]
        missing = list(decision.missing)
        for level, affects in found.items():
            own = level == lesion.level
            current = next((m for m in missing if m.field == "spinal_cord_compression" and own and m.levels is None),
                           None)
            merged = sorted(affects | set(current.affects if current else ()), key=order.index)
            replacement = MissingField(field="spinal_cord_compression", affects=tuple(merged),
                                 rules=tuple(current.rules) if current else (), levels=None if own else (level,))
            if current is not None:
                missing[missing.index(current)] = replacement
            else:
                missing.append(replacement)
        return decision.model_copy(update={"missing": tuple(missing)})

    def frameworks_for(self, values: dict[str, Any], facts: dict[str, int], scores: dict[str, ScoreResult],
                       unknown: list[str]) -> dict[str, ScoreResult | Summary]:
        """Every score (exact or its range) and every summary (NOMS) for the case, as the decision shows them."""
        frameworks: dict[str, ScoreResult | Summary] = dict(scores)
        if self._frameworks:
            scope, missing = {**values, **facts}, frozenset(unknown)
            for framework in self._frameworks:
                frameworks[framework.framework.id] = framework.summarise(scope, missing)
        return frameworks

    def questions_for(self, values: dict[str, Any], facts: dict[str, int],
                      unknown: list[str]) -> dict[str, tuple[str, ...]]:
        """What to ask in place of each unknown field with a question (rules/questions.yaml): nothing while its
        situation is ruled out, the unknown fields that decide the situation while it is open; a field asked as
        itself has no entry."""
        asks: dict[str, tuple[str, ...]] = {}
        missing = frozenset(unknown)
        scope = {**values, **facts}
        for field, test, reads in self._questions:
            if field not in missing:
                continue
            truth = test(scope)
            if truth == Truth.FALSE:
                asks[field] = ()
            elif truth == Truth.UNKNOWN:
                asks[field] = tuple(n for n in reads if n in missing)
        return asks

    def trace(self, fired: frozenset[str]) -> dict[str, Any]:
        """The decision's `derived` facts (with why) and `fired` rules."""
        return {"derived": self._derivations.derivations(fired), "fired": tuple(sorted(fired))}

    def fire(self, case_id: str, values: dict[str, Any]) -> frozenset[str]:
        """The rules durable-rules fires for the values, once the three-valued evaluator agrees."""
        return self._cross_checked(case_id, self.durable.fire(values), self.evaluator.fired(values))

    @staticmethod
    def _cross_checked(case_id: str, fired: frozenset[str], expected: frozenset[str]) -> frozenset[str]:
        if fired != expected:
            raise EngineError(
                f"durable-rules and the three-valued evaluator disagree on case {case_id}: "
                f"only durable fired {sorted(fired - expected)}, only Kleene fired {sorted(expected - fired)}")
        return fired


def checks_a_lesion(fields: Sequence[str] | frozenset[str] | tuple[str, ...]) -> bool:
    """Whether a consistency check with these fields applies to a lesion's view (all apply to a flat case): not one
    pairing the patient's refractory pain with a level's pain (verify/encode.py encodes the same)."""
    return not (_PATIENT_PAIN.intersection(fields) and _reads_a_level(fields))


def _level_sets(rulebook: Rulebook) -> tuple[frozenset[str], ...]:
    """Every set of vertebrae a condition of the rule base compares the most cranial level with."""
    conds = [r.when for r in rulebook.rules] + [c.when for c in rulebook.constraints]
    conds += [q.ask_when for q in rulebook.questions] + [p.when for p in rulebook.plan_rules]
    conds += [o.when for f in rulebook.frameworks for line in f.lines for o in line.outcomes]
    found: set[frozenset[str]] = set()
    for cond in conds:
        for leaf in leaves(cond):
            if isinstance(leaf, Compare) and leaf.field == "top_level":
                found.add(frozenset(leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)))
    return tuple(sorted(found, key=sorted))


def _located(problem: Problem, case: Case, lesion: Lesion) -> Problem:
    """A problem of one lesion's view, named by that lesion's entry when the field is the lesion's."""
    assert case.lesions is not None
    index = next(i for i, entry in enumerate(case.lesions) if entry.level == lesion.level)

    def at(name: str) -> str:  # every field the problem names, `field` and `also` alike
        return f"lesions.{index}.{name}" if name.split(".", 1)[0] in _LESION_NAMES else name
    if problem.field is None:
        return problem
    return dataclasses.replace(problem, field=at(problem.field), also=tuple(at(name) for name in problem.also))


def _reads_a_level(fields: Sequence[str] | frozenset[str] | tuple[str, ...]) -> bool:
    return any(f in _PER_LEVEL_NAMES or f.startswith("sins.") for f in fields)


def _as_case(case: Case | CaseDocument | dict[str, Any]) -> Case:
    if isinstance(case, Case):
        return case
    if isinstance(case, CaseDocument):
        return case.case
    if isinstance(case, dict):
        return case_from_data(case).case
    raise TypeError(f"expected a Case, CaseDocument or mapping, got {type(case).__name__}")


_ENGINES: dict[str, Engine] = {}  # by the rule base's content hash
_BY_FILES: dict[str, Engine] = {}  # by the digest of its files' bytes, to skip parsing unchanged YAML
_ENGINES_LOCK = threading.Lock()


def get_engine(rules: str | Path | Rulebook | None = None) -> Engine:
    """The engine for a rule base (default: the built-in one; else a folder, file or loaded Rulebook), built once
    per content hash and shared (a changed rule base gets a new one).

    A folder whose files are byte for byte the ones already loaded is not parsed again, so calling this per
    case costs a read of the files, not a load."""
    if isinstance(rules, Rulebook):
        return _engine_for(rules)
    files = files_digest(rules)
    engine = _BY_FILES.get(files) if files else None
    if engine is None:
        engine = _engine_for(load_rulebook(rules))
        if files:
            with _ENGINES_LOCK:
                _BY_FILES[files] = engine
    return engine


def _engine_for(rulebook: Rulebook) -> Engine:
    with _ENGINES_LOCK:
        engine = _ENGINES.get(rulebook.sha256)
        if engine is None:
            engine = _ENGINES[rulebook.sha256] = Engine(rulebook)
        return engine


def evaluate(case: Case | CaseDocument | dict[str, Any], rules: str | Path | Rulebook | None = None) -> Decision:
    """Evaluate one case against the built-in rule base (or `rules`: a folder, file or loaded Rulebook).

    `case` is a `Case`, a `CaseDocument` (what `read_case_file` and `load_vignette` return), a mapping of the
    data dictionary's case fields (absent or None = unknown), or a FHIR R4 Bundle as a mapping (parsed JSON,
    `"resourceType": "Bundle"`), read as `spinemets evaluate bundle.json` reads it (docs/interoperability.md).
    Returns an immutable `Decision`; raises CaseError (a SpinemetsError) for input it refuses, naming the field.

    >>> from spinemets import evaluate
    >>> decision = evaluate({"id": "demo", "primary_tumor": "breast", "levels": ["T10"], "karnofsky": 80})
    >>> decision.top in decision.ranking
    True
    >>> "coagulopathy" in [m.field for m in decision.missing]  # unknown is not false: it could change the advice
    True

    A FHIR Bundle (here written from a case, as an EHR would send one) gives the same decision:

    >>> import json
    >>> from spinemets import Case
    >>> from spinemets.fhir import case_to_bundle
    >>> case = Case(id="demo", primary_tumor="breast", levels=["T10"], karnofsky=80)
    >>> bundle = json.loads(json.dumps(case_to_bundle(case)))
    >>> bundle["resourceType"], evaluate(bundle).statuses() == decision.statuses()
    ('Bundle', True)

    Input the data dictionary refuses raises CaseError, with each problem located:

    >>> from spinemets import CaseError
    >>> try:
    ...     evaluate({"id": "demo", "karnofsky": 150})
    ... except CaseError as err:
    ...     print(err.problems[0].field)
    karnofsky
    """
    return get_engine(rules).evaluate(case)


__all__ = ["Engine", "EngineError", "evaluate", "get_engine"]
