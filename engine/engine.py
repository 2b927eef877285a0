"""The engine: a rule base compiled once, evaluating cases through durable-rules with a three-valued cross-check."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from . import kleene
from .case import Case, input_fields, known_values
from .case_io import case_from_data
from .conditions import fields_of
from .decision import Decision, DecisionPlan, DerivationPlan
from .durable_ruleset import DurableRuleset
from .errors import CaseError, EngineError, Problem
from .evaluator import RuleEvaluator, case_values, input_values
from .frameworks import CompiledFramework, Summary
from .kleene import Truth
from .missing import MissingProbe
from .rulebook import Rulebook, files_digest, load_rulebook
from .scores import ScoreResult
from .vignette import CaseDocument

_INPUTS = tuple(input_fields())


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
        """Combinations of values the rule base declares impossible for one patient, named by field."""
        values, _ = case_values(case, self.rulebook)
        return self.check_values(values)

    def check_values(self, values: dict[str, Any]) -> list[Problem]:
        """`check` on the values `case_values` computed."""
        return [Problem(c.message, field=c.fields[0], also=tuple(c.fields[1:]), rule=c.id)
                for c, test in self._constraints if test(values) == Truth.TRUE]

    def evaluate(self, case: Case | CaseDocument | dict[str, Any]) -> Decision:
        """The graded, cited decision for one case (see the module function `evaluate` for what `case` may be).

        Raises CaseError for input the data dictionary refuses or values the rule base declares impossible
        together, and EngineError when the engine itself fails (never for bad input)."""
        case = _as_case(case)
        known = known_values(case)
        values, scores = input_values(dict(known), self.rulebook)
        problems = self.check_values(values)
        if problems:
            raise CaseError(f"case {case.id}: these values cannot all be true of one patient", problems)
        now, settled, facts = self.evaluator.readings(values)
        ids = self.evaluator.rule_ids
        fired = self._cross_checked(case.id, self.durable.fire(values),
                                    frozenset(r for r, t in zip(ids, now, strict=True) if t == Truth.TRUE))
        undecided = [r for r, t in zip(ids, settled, strict=True) if t == Truth.UNKNOWN]
        unknown = [name for name in _INPUTS if name not in values]
        frameworks = self.frameworks_for(values, facts, scores, unknown)
        asks = self.questions_for(values, facts, unknown)
        def exact(candidates: frozenset[str], pivotal: frozenset[str]) -> dict[str, tuple[set[str], set[str]]]:
            return self.missing_probe.changes(known, values, now, settled, facts, candidates, pivotal)
        decision = self.plan.decide(case.id, fired, undecided, unknown, frameworks, asks, exact)
        return decision.model_copy(update=self.trace(fired))

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
