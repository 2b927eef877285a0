"""The structural checks over a case of several lesions (lesions.py): every invariant at every lesion, and the
patient-level invariant of the plan the solver can state.

- invariants_at_every_lesion: the one-view domain covers every view of a case of 1..K lesions (so the
  invariants proved over views hold at every lesion of such cases by construction), and, proved again on the
  exact encoding, each invariant holds at every lesion of every admissible case of 1..K lesions;
- plan_advice_never_contraindicated: at no lesion of such a case is the top option (the plan's advice at that
  level) contraindicated, nor does an absolute contraindication of it fire there.
The plan's grouping (sessions, operations) is a property of engine/plan.py, tested over its code
(tests/test_plan_invariants.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import z3

from ..kleene import Truth
from ..vocabulary import STATUS_RANK
from .invariants import Invariant, failed_claims, load_invariants
from .lesions import LesionCase
from .prove import Search, case_document, claim_expr, evaluate_values, when_truth

if TYPE_CHECKING:
    from .structure import CheckResult, StructureProver


def lesion_search(prover: StructureProver, k: int) -> tuple[LesionCase, Search]:
    """The encoding of a case of 1..k lesions and its solver, built once per prover and bound (both checks use it)."""
    if k not in prover.lesion_searches:
        case = LesionCase(prover.engine.rulebook, k, "lesions:")
        search = Search([case.whole, *case.slots], extra=tuple(case.domain()), timeout_ms=prover.timeout_ms,
                        minimize=prover.minimize, domains=False, optional=tuple(case.present[1:]))
        prover.lesion_searches[k] = (case, search)
    return prover.lesion_searches[k]


def invariants_at_every_lesion(prover: StructureProver, result: CheckResult) -> None:
    from .structure import Finding, Witness

    k = result.check.lesions
    case, search = lesion_search(prover, k)
    outcome, _ = search.find(z3.Not(case.views_covered()), simplify=False)
    if outcome == "sat":
        result.unconfirmed.append(f"a view of a case of {k} lesions lies outside the one-view domain (encode.py, "
                                  "CaseSpace.view_domain): the proofs over views do not cover it")
    elif outcome == "unknown":
        result.undecided.append("views covered")
    invariants, _ = load_invariants(prover.engine.rulebook)
    held = 0
    for inv in invariants:
        bad = []
        for j, slot in enumerate(case.slots):
            when = slot.condition(inv.when).t if inv.when is not None else z3.BoolVal(True)
            bad.append(z3.And(case.present[j], when, z3.Not(z3.And(*[claim_expr(slot, c) for c in inv.then]))))
        outcome, _ = search.find(z3.Or(*bad))
        if outcome == "unknown":
            result.undecided.append(inv.id)
        elif outcome == "unsat":
            held += 1
        else:
            assert search.model is not None
            data = case.case_from(search.model)
            confirmed, says, document = confirm_at_lesions(prover, inv, data)
            result.findings.append(Finding(inv.id, f"{inv.id} fails at a lesion of a case of {len(data['lesions'])} "
                                                   "lesions", Witness([document], confirmed, says)))
            if not confirmed:
                result.unconfirmed.append(f"{inv.id}: {says}")
    result.summary = (f"{held} of {len(invariants)} invariants hold at every lesion of every case of 1 to {k} "
                      f"lesions; every view of such a case lies in the one-view domain")


def confirm_at_lesions(prover: StructureProver, inv: Invariant, data: dict[str, Any]) -> tuple[bool, str, Any]:
    """The engine's decision of the case breaks the invariant at some lesion whose view makes `when` TRUE."""
    outcome = evaluate_values(prover.engine, f"lesions-{inv.id}", data)
    if isinstance(outcome, str):
        return False, outcome, data
    built, decision = outcome
    for lesion in decision.lesions or ():
        if inv.when is not None and when_truth(prover.engine, inv, built, lesion.level) != Truth.TRUE:
            continue
        failed = failed_claims(inv, lesion)
        if failed:
            return True, f"at {lesion.level}: " + "; ".join(failed), case_document(built)
    return False, "the engine's decision satisfies the invariant at every lesion", case_document(built)


def plan_advice_never_contraindicated(prover: StructureProver, result: CheckResult) -> None:
    from .structure import Finding, Witness

    k = result.check.lesions
    case, search = lesion_search(prover, k)
    options = case.slots[0].options

    def against(option: str) -> z3.BoolRef:
        return z3.Or(*[z3.And(case.present[j], slot.top[option],
                              z3.Or(slot.status[option] == STATUS_RANK["contraindicated"],
                                    case.absolute_contraindications(j, option)))
                       for j, slot in enumerate(case.slots)])
    # One question for all options first: the usual answer, UNSAT, needs no more.
    outcome, _ = search.find(z3.Or(*[against(o) for o in options]), simplify=False)
    if outcome == "unsat":
        result.summary = f"proved for {len(options)} of {len(options)} options, every case of 1 to {k} lesions"
        return
    held = 0
    for option in options:
        outcome, _ = search.find(against(option))
        if outcome == "unknown":
            result.undecided.append(option)
        elif outcome == "unsat":
            held += 1
        else:
            assert search.model is not None
            data = case.case_from(search.model)
            run = evaluate_values(prover.engine, f"plan-{option}", data)
            says, confirmed, document = (run, False, data) if isinstance(run, str) else _advice_against(run, option)
            result.findings.append(Finding(option, f"the plan advises {option} at a level where it is contraindicated",
                                           Witness([document], confirmed, says)))
            if not confirmed:
                result.unconfirmed.append(f"{option}: {says}")
    result.summary = f"proved for {held} of {len(options)} options, every case of 1 to {k} lesions"


def _advice_against(run: Any, option: str) -> tuple[str, bool, Any]:
    built, decision = run
    for level in decision.plan.levels:
        if level.advice == option and level.status == "contraindicated":
            return f"the plan advises {option} at {level.level}, contraindicated there", True, case_document(built)
    return "the engine's plan does not show this", False, case_document(built)
