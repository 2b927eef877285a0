"""Proofs over every admissible case: each invariant holds, or a concrete counterexample the engine confirms.

A proof asks z3 for a case where the invariant's condition is TRUE and some claim fails. UNSAT is a
proof over the whole domain (every field's range, unknown included, consistency checks respected);
SAT gives a model, turned into a case (as few known fields as the solver allows), validated by the
case model and evaluated by the engine, which must show the same violation.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import z3
from pydantic import ValidationError

from ..case import Case
from ..engine import Engine
from ..errors import CaseError
from ..evaluator import input_values
from ..kleene import Truth, compile_condition
from ..lesion_views import ordered, view_facts
from ..vocabulary import STATUS_RANK
from .encode import Encoding
from .invariants import (
    AdjunctClaim,
    CitedReasonsClaim,
    ExcludesContraindicatedClaim,
    Invariant,
    NotAboveClaim,
    RankedClaim,
    RankingNonemptyClaim,
    StatusClaim,
    TopClaim,
    failed_claims,
)
from .witness import view_of, witness_case

DEFAULT_TIMEOUT_MS = 20_000


@dataclass
class Counterexample:
    """A case (only known fields) that the solver found, and what the engine made of it."""

    values: dict[str, Any]
    case: dict[str, Any]
    confirmed: bool
    engine_says: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class InvariantResult:
    invariant: Invariant
    outcome: str  # proved, violated, unknown
    seconds: float
    counterexample: Counterexample | None = None
    detail: str = ""


def claim_expr(enc: Encoding, claim: Any) -> z3.BoolRef:
    """The claim about the decision as a z3 formula over the encoding's case."""
    if isinstance(claim, StatusClaim):
        return z3.And(*[enc.status_is(o, claim.status.allowed) for o in claim.status.options])
    if isinstance(claim, RankedClaim):
        return z3.And(*[enc.ranked(o) for o in claim.ranked])
    if isinstance(claim, TopClaim):
        return z3.Or(*[enc.top[o] for o in claim.top.allowed]) if claim.top.allowed else z3.BoolVal(False)
    if isinstance(claim, RankingNonemptyClaim):
        return z3.Or(*[enc.ranked(o) for o in enc.options])
    if isinstance(claim, ExcludesContraindicatedClaim):
        # ranked is defined by the decision layer as "status above contraindicated"; stated here so that a
        # change to that definition in encode.py has to be a deliberate one.
        return z3.And(*[z3.Implies(enc.ranked(o), enc.status[o] != STATUS_RANK["contraindicated"])
                        for o in enc.options])
    if isinstance(claim, CitedReasonsClaim):
        test = claim.cited_reasons
        return z3.And(*[z3.Implies(enc.status[o] == STATUS_RANK[s], enc.explained(o, s))
                        for o in test.options for s in test.statuses])
    if isinstance(claim, NotAboveClaim):
        than = enc.status[claim.not_above.than]
        return z3.And(*[enc.status[o] <= than for o in claim.not_above.options])
    if isinstance(claim, AdjunctClaim):
        return enc.adjunct_listed(claim.adjunct)
    raise TypeError(f"unknown claim {claim!r}")


class Search:
    """One solver over one or more encodings (each with its domain); each query is pushed and popped."""

    def __init__(self, encodings: list[Encoding], extra: tuple[Any, ...] = (), timeout_ms: int = DEFAULT_TIMEOUT_MS,
                 minimize: bool = True, domains: bool = True, optional: tuple[z3.BoolRef, ...] = ()) -> None:
        """`domains=False` leaves each encoding's domain to `extra` (a case of several lesions states its own);
        `optional` are Bools a counterexample had better leave false (lesion slots beyond the first)."""
        self.encodings = encodings
        self.solver = z3.Solver()
        self.solver.set("timeout", timeout_ms)
        if domains:
            for enc in encodings:
                self.solver.add(*enc.domain())
        self.solver.add(*extra)
        self.minimize = minimize
        self.optional = optional
        self.model: z3.ModelRef | None = None  # of the last satisfiable `find`

    def find(self, *formulas: z3.BoolRef, simplify: bool = True) -> tuple[str, list[dict[str, Any]]]:
        """('unsat', []), ('unknown', []) or ('sat', the case values of each encoding) for cases satisfying
        every formula; `simplify` spends more queries on a counterexample a person will read."""
        self.solver.push()
        try:
            self.solver.add(*formulas)
            result = self.solver.check()
            if result == z3.unsat:
                return "unsat", []
            if result != z3.sat:
                return "unknown", []
            if self.minimize and simplify:
                self._simplify()
            model = self.model = self.solver.model()
            return "sat", [enc.case.values_from(model) for enc in self.encodings]
        finally:
            self.solver.pop()

    def reason_unknown(self) -> str:
        return str(self.solver.reason_unknown())

    def _simplify(self) -> None:
        """Leave the model with as few known fields and as round numbers as the constraints allow, so a
        counterexample shows only what it needs; ends with the solver holding that model."""
        solver = self.solver
        model = solver.model()
        kept: list[z3.BoolRef] = []
        seen: set[int] = set()  # the patient's fields are shared by the lesions of one case: tried once
        for enc in self.encodings:
            space = enc.case
            # A flat case before a lesion's view, fewer lesions before more, then as few known fields as can be.
            for var in [*reversed(self.optional), space.lesion_form, *space.known.values(), space.levels_known]:
                if z3.is_true(var) or z3.is_false(var) or var.get_id() in seen:
                    continue
                seen.add(var.get_id())
                if z3.is_true(model.eval(var, model_completion=True)):
                    trial = kept + [z3.Not(var)]
                    if solver.check(*trial) == z3.sat:
                        kept = trial
        solver.check(*kept)
        model = solver.model()
        for enc in self.encodings:
            space = enc.case
            for name, spec in space.inputs.items():
                if spec.kind != "number" or not z3.is_true(model.eval(space.known[name], model_completion=True)):
                    continue
                raw = model.eval(space.value[name], model_completion=True)
                current = raw.numerator_as_long() / raw.denominator_as_long()
                for nicer in dict.fromkeys((round(current), round(current, 1), round(current, 2))):
                    trial = kept + [space.value[name] == z3.RealVal(str(nicer))]
                    if solver.check(*trial) == z3.sat:
                        kept = trial
                        break
        solver.check(*kept)


class Prover:
    """The invariants of one rule base, proved over one shared encoding."""

    def __init__(self, engine: Engine, timeout_ms: int = DEFAULT_TIMEOUT_MS, minimize: bool = True) -> None:
        self.engine = engine
        self.rulebook = engine.rulebook
        self.enc = Encoding(self.rulebook)
        self.search = Search([self.enc], timeout_ms=timeout_ms, minimize=minimize)

    # --- invariants -----------------------------------------------------------------------------------------

    def prove(self, invariant: Invariant) -> InvariantResult:
        start = time.perf_counter()
        when = self.enc.condition(invariant.when).t if invariant.when is not None else z3.BoolVal(True)
        claim = z3.And(*[claim_expr(self.enc, c) for c in invariant.then])
        outcome, found = self.search.find(when, z3.Not(claim))
        if outcome == "unsat":
            return InvariantResult(invariant, "proved", time.perf_counter() - start)
        if outcome == "unknown":
            return InvariantResult(invariant, "unknown", time.perf_counter() - start,
                                   detail=f"the solver gave up ({self.search.reason_unknown()})")
        cx = self.confirm(invariant, found[0])
        return InvariantResult(invariant, "violated", time.perf_counter() - start, counterexample=cx)

    def confirm(self, invariant: Invariant, values: dict[str, Any]) -> Counterexample:
        """Evaluate the counterexample with the engine: the condition must be TRUE and some claim must fail."""
        outcome = evaluate_values(self.engine, f"cx-{invariant.id}", values)
        if isinstance(outcome, str):
            return Counterexample(values, {"id": f"cx-{invariant.id}"}, False, outcome)
        case, decision = outcome
        document = case_document(case)
        level = witness_level(case, decision)
        if invariant.when is not None and when_truth(self.engine, invariant, case, level) != Truth.TRUE:
            return Counterexample(values, document, False, f"the engine does not find '{invariant.when_text}' TRUE")
        failed = failed_claims(invariant, decision)
        if not failed:
            return Counterexample(values, document, False, "the engine's decision satisfies every claim")
        return Counterexample(values, document, True, "; ".join(failed))


def evaluate_values(engine: Engine, case_id: str, values: dict[str, Any]) -> tuple[Case, Any] | str:
    """The case and the engine's decision for it (for a lesion's view, that lesion's own decision), or why the case
    model or the engine refuses it."""
    try:
        case, level = witness_case(_slug(case_id), values)
    except (ValidationError, ValueError) as err:
        message = err.errors(include_url=False)[0]["msg"] if isinstance(err, ValidationError) else str(err)
        return f"the case model refuses the case: {message}"
    try:
        decision = engine.evaluate(case)
    except CaseError as err:
        return f"the engine refuses the case: {err}"
    if level is None or decision.lesions is None:
        return case, decision
    return case, next(lesion for lesion in decision.lesions if lesion.level == level)


def witness_level(case: Case, decision: Any) -> str | None:
    """The level whose view a witness case stands for (None for a flat case)."""
    return getattr(decision, "level", None) if case.lesions else None


def when_truth(engine: Engine, invariant: Invariant, case: Case, level: str | None = None) -> int:
    assert invariant.when is not None  # the callers ask only of invariants with a `when`
    shared = view_facts(ordered(case.lesions), level) if level is not None and case.lesions else None
    values, _ = input_values(view_of(case, level), engine.rulebook, shared)
    _, facts = engine.evaluator.evaluate(values)
    return compile_condition(invariant.when, engine.rulebook.catalog)({**values, **facts})


def case_document(case: Case) -> dict[str, Any]:
    """A case mapping as a case file holds it: id, then fields in data-dictionary order, SINS nested."""
    data: dict[str, Any] = {"id": case.id}
    for name in type(case).model_fields:
        value = getattr(case, name)
        if name in ("id", "title", "presentation") or value is None:
            continue
        if isinstance(value, list) and value and hasattr(value[0], "model_dump"):  # lesions
            data[name] = [item.model_dump(exclude_none=True) for item in value]
        else:
            data[name] = value.model_dump(exclude_none=True) if hasattr(value, "model_dump") else value
    return data


def _slug(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in text)
    return cleaned[:80] or "counterexample"
