"""The plan's patient-level invariants that are properties of the plan code (engine/plan.py) rather than of the
rules, checked over generated multi-lesion cases (docs/verification.md, "Lesions": which invariant is proved by
the solver and which is checked here)."""
from __future__ import annotations

from hypothesis import assume, given, settings

from spinemets.case import VERTEBRAE

from . import strategies as gen


def contiguous(levels) -> bool:
    places = [VERTEBRAE.index(v) for v in levels]
    return places == list(range(places[0], places[0] + len(places)))


def check_plan(decision) -> None:
    """Every structural invariant of the plan against the lesions' own decisions."""
    plan = decision.plan
    lesions = {lesion.level: lesion for lesion in decision.lesions}
    assert [p.level for p in plan.levels] == [lesion.level for lesion in decision.lesions]
    for p in plan.levels:
        lesion = lesions[p.level]
        top = lesion.ranking[0] if lesion.ranking else None
        assert p.advice == top, p.level
        if top is not None:
            option = lesion.option(top)
            assert p.status == option.status and p.provisional == option.provisional, p.level
            assert option.status != "contraindicated", p.level
    advised = {p.level: p.advice for p in plan.levels}
    compression = {p.level: p.compression for p in plan.levels}
    for procedure in plan.procedures:
        assert all(advised[v] == procedure.option for v in procedure.levels), procedure
        in_sessions = [v for session in procedure.sessions for v in session]
        assert sorted(in_sessions, key=VERTEBRAE.index) == sorted(procedure.levels, key=VERTEBRAE.index)
        assert len(set(in_sessions)) == len(in_sessions)
        if procedure.option == "SURGERY":
            for operation in procedure.sessions:
                assert contiguous(operation), operation
                assert not discrete_within(operation, compression), operation
    for option in {p.advice for p in plan.levels} - {"CONSERVATIVE", None}:
        planned = [v for proc in plan.procedures if proc.option == option for v in proc.levels]
        assert sorted(planned) == sorted(v for v, a in advised.items() if a == option), option
    for p in plan.levels:
        if p.advice == "CONSERVATIVE":
            assert p.level in plan.radiotherapy


def discrete_within(operation, compression) -> bool:
    """Two levels of one operation known to compress with a level known not to between them."""
    flags = [compression.get(v) for v in operation]
    first = next((i for i, c in enumerate(flags) if c is True), None)
    last = next((i for i in range(len(flags) - 1, -1, -1) if flags[i] is True), None)
    return first is not None and last is not None and any(c is False for c in flags[first:last])


@given(case=gen.lesion_cases(max_lesions=6))
@settings(max_examples=80)
def test_the_plan_follows_each_lesions_decision_and_never_merges_discrete_compressions(engine, case):
    assume(not engine.check(case))
    check_plan(engine.evaluate(case))
