"""The invariants on generated cases, and the SMT encoding against the engine it claims to describe.

A proof is only as good as its encoding: here every piece of it (admissibility, fired rules, derived
facts, statuses, ranking, top suggestion, adjuncts, provisional flags, invariant conditions and claims)
is pinned to generated cases, partial and complete, and compared with what the engine decides."""
from __future__ import annotations

from typing import Any

import pytest
import z3
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from spinemets.case import case_from_values
from spinemets.conditions import AllOf, AnyOf, Compare, NotOf, Presence, nnf
from spinemets.decision import decide
from spinemets.evaluator import RuleEvaluator, case_values
from spinemets.kleene import Truth
from spinemets.lesion import LESION_ONLY_FIELDS
from spinemets.verify import verify
from spinemets.verify.encode import STATUS_OF_RANK, Encoding
from spinemets.verify.invariants import failed_claims, load_invariants
from spinemets.verify.prove import claim_expr, evaluate_values, when_truth, witness_level

from . import strategies as gen
from .test_agreement import generated_rulebook, random_rule_bases


class Pinned:
    """The encoding of a rule base with a solver that pins it to one concrete case at a time."""

    def __init__(self, rulebook):
        self.enc = Encoding(rulebook)
        self.solver = z3.Solver()
        self.solver.add(*self.enc.domain())

    def model(self, values: dict[str, Any]):
        """The model of the pinned case, or None when the encoding calls the case inadmissible."""
        self.solver.push()
        try:
            self.solver.add(*self.enc.case.equals(values))
            return self.solver.model() if self.solver.check() == z3.sat else None
        finally:
            self.solver.pop()


def value(model, expr) -> Any:
    got = model.eval(expr, model_completion=True)
    return z3.is_true(got) if z3.is_bool(got) else got.as_long()


@pytest.fixture(scope="module")
def pinned(rulebook):
    return Pinned(rulebook)


@pytest.fixture(scope="module")
def invariants(rulebook):
    return load_invariants(rulebook)[0]


@pytest.fixture(scope="module")
def proved(shipped_verify_report):
    report = shipped_verify_report
    return [r.invariant for r in report.invariants if r.outcome == "proved"]


def compare_with_engine(engine, pinned: Pinned, values: dict[str, Any]) -> None:
    case = case_from_values("pinned", values)
    model = pinned.model(values)
    if engine.check(case):
        assert model is None, "the encoding admits a case the consistency checks refuse"
        return
    assert model is not None, "the encoding refuses a case the engine accepts"
    enc = pinned.enc
    decision = engine.evaluate(case)
    known, _ = case_values(case, engine.rulebook)
    fired = engine.evaluator.fired(known)
    assert {r.id for i, r in enumerate(enc.rules) if value(model, enc.fired(i))} == fired
    _, facts = engine.evaluator.evaluate(known)
    for fact, truth in facts.items():
        t = enc.fact(fact)
        assert (value(model, t.t), value(model, t.f)) == (truth == Truth.TRUE, truth == Truth.FALSE), fact
    for option in enc.options:
        said = decision.option(option)
        assert STATUS_OF_RANK[value(model, enc.status[option])] == said.status, option
        assert value(model, enc.ranked(option)) == (option in decision.ranking)
        assert value(model, enc.top[option]) == (decision.ranking[:1] == (option,)), option
        assert value(model, enc.provisional(option)) == said.provisional, option
    for code in engine.rulebook.manifest.adjuncts:
        assert value(model, enc.adjunct_listed(code)) == any(a.adjunct == code for a in decision.adjuncts), code


@given(gen.case_values())
@settings(max_examples=200)
def test_the_encoding_decides_partial_cases_as_the_engine_does(engine, pinned, values):
    compare_with_engine(engine, pinned, values)


@given(gen.case_values(complete=True))
@settings(max_examples=100)
def test_the_encoding_decides_complete_cases_as_the_engine_does(engine, pinned, values):
    compare_with_engine(engine, pinned, gen.make_consistent(values))


@given(rules=random_rule_bases(), cases=st.lists(gen.case_values(), min_size=4, max_size=4))
@settings(max_examples=30)
def test_the_encoding_fires_and_decides_like_kleene_on_random_rule_bases(tmp_path_factory, rules, cases):
    book = generated_rulebook(tmp_path_factory, rules)
    evaluator, pinned = RuleEvaluator(book), Pinned(book)
    for values in cases:
        case = case_from_values("gen", values)
        known, _ = case_values(case, book)
        model = pinned.model(values)
        assert model is not None
        truths, facts = evaluator.evaluate(known)
        settled, _ = evaluator.evaluate(known, settled=True)
        fired = {rid for rid, t in zip(evaluator.rule_ids, truths) if t == Truth.TRUE}
        undecided = [rid for rid, t in zip(evaluator.rule_ids, settled) if t == Truth.UNKNOWN]
        enc = pinned.enc
        assert {r.id for i, r in enumerate(enc.rules) if value(model, enc.fired(i))} == fired
        assert {r.id for i, r in enumerate(enc.rules) if value(model, enc.undecided(i))} == set(undecided)
        decision = decide(book, "gen", fired, undecided, [])
        for option in enc.options:
            assert STATUS_OF_RANK[value(model, enc.status[option])] == decision.option(option).status
            assert value(model, enc.provisional(option)) == decision.option(option).provisional


# --- the invariants themselves ------------------------------------------------------------------------------


def steer(values: dict[str, Any], cond, catalog) -> dict[str, Any]:
    """Set the case fields a condition compares so that it tends to be TRUE (what random cases rarely hit)."""
    if cond is None:
        return values
    cond = nnf(cond)
    if isinstance(cond, AllOf):
        for item in cond.items:
            values = steer(values, item, catalog)
        return values
    if isinstance(cond, AnyOf):
        return steer(values, cond.items[0], catalog)
    if isinstance(cond, Presence):
        if cond.kind == "unknown":
            values.pop(cond.field, None)
        return values
    assert isinstance(cond, Compare) and not isinstance(cond, NotOf)
    if cond.field == "adjacent_levels":  # a run of more than one level is a case in lesion form (as_view)
        values[cond.field] = {">": cond.value + 1, ">=": cond.value, "==": cond.value}.get(cond.op, 1)
        return values
    if cond.field in LESION_NAMES:  # a lesion's view: verify/witness.py builds the case around it
        values[cond.field] = cond.value if cond.op == "==" else not cond.value
        values.setdefault("lesion_form", True)
        return values
    spec = gen.INPUTS.get(cond.field)
    if spec is None:
        return values  # computed values, scores and facts are steered through their inputs only by chance
    chosen = _satisfying(spec, cond.op, cond.value)
    if chosen is not None:
        values[cond.field] = chosen
    return values


def _satisfying(spec, op: str, target: Any) -> Any:
    if spec.kind == "bool":
        return target if op == "==" else not target
    if spec.kind == "enum":
        pool = {"==": [target], "!=": [v for v in spec.values if v != target], "in": list(target),
                "not in": [v for v in spec.values if v not in target]}[op]
        return pool[0] if pool else None
    lo, hi = gen.bounds(spec)
    if op in ("in", "not in"):
        return target[0] if op == "in" else next((x for x in range(int(lo), int(hi) + 1) if x not in target), None)
    step = 1 if spec.kind == "int" else 0.5
    candidate = {"==": target, "!=": target + step if target + step <= hi else target - step, "<": target - step,
                 "<=": target, ">": target + step, ">=": target}[op]
    return candidate if lo <= candidate <= hi else None


LESION_NAMES = frozenset({"lesion_form", "discrete_compressive_lesions", "adjacent_levels", *LESION_ONLY_FIELDS})


def as_view(values: dict[str, Any]) -> dict[str, Any]:
    """Steered values naming a lesion's facts or lesion-only fields, as the values of one lesion's view: one level,
    and enough lesions for discrete compressions and the run of adjacent levels (and vertebral metastases for
    them). A run of more than one level is a case described level by level."""
    if values.get("adjacent_levels", 1) > 1:
        values = {**values, "lesion_form": True}
    if not values.get("lesion_form"):
        return {k: v for k, v in values.items() if k not in LESION_NAMES}
    view = {**values, "levels": values.get("levels", ["T8"])[:1]}
    view.setdefault("adjacent_levels", 1)
    view["lesion_count"] = (3 if view.get("discrete_compressive_lesions") else 1) + view["adjacent_levels"] - 1
    if view["lesion_count"] == 1:
        view["discrete_compressive_lesions"] = False
    if "vertebral_metastases" in view:
        view["vertebral_metastases"] = max(view["vertebral_metastases"], view["lesion_count"])
    return view


def steered_decision(engine, values: dict[str, Any]):
    """(case, decision of the case or of the view's lesion, the lesion's level) or None when refused."""
    outcome = evaluate_values(engine, "steered", as_view(values))
    if isinstance(outcome, str):
        return None
    case, decision = outcome
    return case, decision, witness_level(case, decision)


def test_steering_makes_every_invariant_condition_reachable(engine, invariants):
    for inv in invariants:
        values = steer({}, inv.when, engine.rulebook.catalog)
        steered = steered_decision(engine, values)
        assert steered is not None, inv.id
        case, _, level = steered
        assert inv.when is None or when_truth(engine, inv, case, level) == Truth.TRUE, inv.id


@given(gen.case_values())
@settings(max_examples=200)
def test_proved_invariants_hold_on_generated_cases(engine, proved, values):
    for inv in proved:
        steered = steer(dict(values), inv.when, engine.rulebook.catalog)
        decided = steered_decision(engine, steered)
        if decided is None:
            continue
        case, decision, level = decided
        if inv.when is not None and when_truth(engine, inv, case, level) != Truth.TRUE:
            continue
        assert failed_claims(inv, decision) == [], (inv.id, steered)


@given(gen.case_values())
@settings(max_examples=150)
def test_conditions_and_claims_mean_the_same_to_the_solver_and_to_the_engine(engine, pinned, invariants, values):
    case = case_from_values("generated", values)
    assume(not engine.check(case))
    model = pinned.model(values)
    decision = engine.evaluate(case)
    for inv in invariants:
        if inv.when is not None:
            truth = pinned.enc.condition(inv.when)
            engine_truth = when_truth(engine, inv, case)
            assert (value(model, truth.t), value(model, truth.f)) == (
                engine_truth == Truth.TRUE, engine_truth == Truth.FALSE), inv.id
        for claim in inv.then:
            holds = value(model, claim_expr(pinned.enc, claim))
            assert holds == (not failed_claims(inv.model_copy(update={"then": (claim,)}), decision)), (inv.id, claim)
