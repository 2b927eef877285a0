"""Properties of multi-lesion decisions over generated cases: the order of lesions, an inert lesion added, and
a one-lesion case written in lesion form against the same case written flat (docs/verification.md, "Lesions")."""
from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from spinemets.case import VERTEBRAE, case_from_values
from spinemets.errors import CaseError

from . import strategies as gen


def decided(engine, case):
    """The decision, or None when the engine refuses the case (the generator's repair is not perfect; a lesion's
    view is checked only as it is decided)."""
    try:
        return engine.evaluate(case)
    except CaseError:
        return None


def by_level(decision) -> dict[str, object]:
    return {lesion.level: lesion for lesion in decision.lesions}


@given(parts=gen.lesion_case_parts(max_lesions=5), seed=st.randoms(use_true_random=False))
@settings(max_examples=60)
def test_the_order_of_lesions_changes_no_decision_and_not_the_plan(engine, parts, seed):
    patient, lesions = parts
    shuffled = list(lesions)
    seed.shuffle(shuffled)
    first = decided(engine, gen.lesion_case("order", patient, lesions))
    assume(first is not None)
    second = engine.evaluate(gen.lesion_case("order", patient, shuffled))
    assert [lesion.level for lesion in first.lesions] == sorted((lv for lv, _ in lesions), key=VERTEBRAE.index)
    assert first.to_dict() == second.to_dict()


@given(parts=gen.lesion_case_parts(max_lesions=4, room=1), added=st.sampled_from(VERTEBRAE), at=st.integers(0, 4))
@settings(max_examples=60)
def test_an_inert_lesion_added_changes_no_other_levels_advice(engine, parts, added, at):
    """A painless, stable, uncompressed lesion (every such finding stated: tests/strategies.inert_lesion) is a
    vertebra the board would leave alone: the other levels keep their decisions and the plan their advice."""
    patient, lesions = parts
    assume(added not in {lv for lv, _ in lesions})
    before = decided(engine, gen.lesion_case("inert", patient, lesions))
    assume(before is not None)
    more = list(lesions)
    more.insert(min(at, len(more)), (added, gen.inert_lesion(added)))
    after = decided(engine, gen.lesion_case("inert", patient, more))
    assert after is not None, "the inert lesion made the case inadmissible"
    old, new = by_level(before), by_level(after)
    for level, lesion in old.items():
        assert new[level].statuses() == lesion.statuses(), level
        assert new[level].ranking == lesion.ranking, level
    advice = {p.level: p.advice for p in after.plan.levels}
    assert {p.level: p.advice for p in before.plan.levels} == {lv: advice[lv] for lv in old}


@given(values=gen.case_values(), level=st.sampled_from(VERTEBRAE))
@settings(max_examples=80)
def test_one_lesion_in_lesion_form_decides_as_the_flat_case(engine, values, level):
    """The flat case with `levels: [L]` and the same case with one lesion at L (no lesion-only fields) give the
    same statuses and ranking at the top level and at the lesion."""
    values = gen.make_consistent({**values, "levels": [level]})
    flat = case_from_values("one", values)
    assume(not engine.check(flat))
    patient = {k: v for k, v in values.items() if k in gen.PATIENT}
    own = {k: v for k, v in values.items() if k in gen.PER_LEVEL}
    lesion_form = gen.lesion_case("one", patient, [(level, own)])
    a, b = engine.evaluate(flat), engine.evaluate(lesion_form)
    assert b.statuses() == a.statuses()
    assert b.ranking == a.ranking
    (lesion,) = b.lesions
    assert lesion.level == level
    assert lesion.statuses() == a.statuses()


def test_an_inert_lesion_added_beside_a_lone_level_that_cannot_cause_the_deficit_changes_nothing(engine):
    patient = {"neurological_deficit": True}
    alone = engine.evaluate(gen.lesion_case("alone", patient, [("C2", {"spinal_cord_compression": False})]))
    beside = engine.evaluate(gen.lesion_case("beside", patient, [("C2", {"spinal_cord_compression": False}),
                                                                 ("T8", gen.inert_lesion("T8"))]))
    assert by_level(beside)["C2"].statuses() == by_level(alone)["C2"].statuses()
