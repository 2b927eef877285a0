"""The plan's patient-level invariants that are properties of the plan code (engine/plan.py) rather than of the
rules: checked exhaustively over small inputs and over generated multi-lesion cases (docs/verification.md,
"Lesions", says which plan invariant the solver proves and which is checked here)."""
from __future__ import annotations

import itertools

from hypothesis import assume, given, settings
from spinemets.case import VERTEBRAE, case_from_values
from spinemets.errors import CaseError
from spinemets import load_rulebook
from spinemets.plan import LOCAL_CONTROL_ADJUNCT, RADIOTHERAPY_ADJUNCTS, SCHEDULED, PlanLevel, _operations
from spinemets.rulebook import SessionLimit
from spinemets.vocabulary import STATUS_RANK

from . import strategies as gen

CEMENT = frozenset(o.code for o in load_rulebook().manifest.options if o.cement)


def decided(engine, case):
    """The decision, or None when the engine refuses the case (a lesion's view is checked only as it is decided)."""
    try:
        return engine.evaluate(case)
    except CaseError:
        return None


def contiguous(levels) -> bool:
    places = [VERTEBRAE.index(v) for v in levels]
    return places == list(range(places[0], places[0] + len(places)))


def separate_compressions(operation, compression) -> bool:
    """Two levels known to compress with a level known not to between them, in one operation."""
    flags = [compression.get(v) for v in operation]
    inner = [i for i, c in enumerate(flags) if c is True]
    return len(inner) >= 2 and False in flags[inner[0]:inner[-1]]


def session_caps(rulebook) -> dict[str, int]:
    """The smallest per-session cap the rule base's plan rules set for each option."""
    caps: dict[str, int] = {}
    for rule in rulebook.plan_rules:
        for effect in rule.then:
            if isinstance(effect, SessionLimit):
                for code in effect.sessions:
                    caps[code] = min(caps.get(code, effect.levels_at_most), effect.levels_at_most)
    return caps


def check_plan(decision, caps: dict[str, int]) -> None:
    """Every structural invariant of the plan against the lesions' own decisions."""
    plan = decision.plan
    lesions = {lesion.level: lesion for lesion in decision.lesions}
    assert [p.level for p in plan.levels] == [lesion.level for lesion in decision.lesions]
    for p in plan.levels:  # the advice is the lesion's top option, with its grade
        option = lesions[p.level].option(lesions[p.level].top)
        assert (p.advice, p.status, p.provisional) == (option.option, option.status, option.provisional), p.level
        assert p.status != "contraindicated", p.level
    scheduled = {p.level: p.advice for p in plan.levels if p.status in SCHEDULED}
    compression = {p.level: p.compression for p in plan.levels}
    for procedure in plan.procedures:
        assert list(procedure.levels) == [v for v, a in scheduled.items() if a == procedure.option], procedure
        assert [v for session in procedure.sessions for v in session] == list(procedure.levels), procedure
        for session in procedure.sessions:
            if procedure.option == "SURGERY":
                assert contiguous(session), session
                assert not separate_compressions(session, compression), session
            elif procedure.option in CEMENT and len(procedure.levels) > caps.get(procedure.option, len(VERTEBRAE)):
                assert len(session) <= caps[procedure.option], session
    planned = {v for procedure in plan.procedures for v in procedure.levels}
    assert planned == {v for v, a in scheduled.items() if a != "CONSERVATIVE"}
    for p in plan.levels:  # radiotherapy: every level an adjunct names it at, and only where something asks for it
        adjuncts = {a.adjunct for a in lesions[p.level].adjuncts}
        if adjuncts & RADIOTHERAPY_ADJUNCTS:
            assert p.level in plan.radiotherapy, p.level
        if p.level in plan.radiotherapy:
            assert adjuncts & {*RADIOTHERAPY_ADJUNCTS, LOCAL_CONTROL_ADJUNCT} or \
                (p.advice == "CONSERVATIVE" and p.status in SCHEDULED), p.level
    assert set(plan.weigh) == {p.level for p in plan.levels if p.status not in SCHEDULED}
    for option in decision.options:  # the patient's summary: each option at its best level, which it names
        best = max(STATUS_RANK[lesion.option(option.option).status] for lesion in decision.lesions)
        assert STATUS_RANK[option.status] == best, option.option
        assert set(option.levels or ()) == {lesion.level for lesion in decision.lesions
                                            if STATUS_RANK[lesion.option(option.option).status] == best}


@given(case=gen.lesion_cases(max_lesions=6))
@settings(max_examples=80)
def test_the_plan_follows_each_lesions_decision_and_groups_as_it_says(engine, rulebook, case):
    decision = decided(engine, case)
    assume(decision is not None)
    check_plan(decision, session_caps(rulebook))


def test_operations_never_join_separate_compressions_and_split_only_where_they_must():
    """Every run of up to 7 adjacent levels, every pattern of compression (yes, no, unknown)."""
    for n in range(1, 8):
        run = VERTEBRAE[7:7 + n]
        for pattern in itertools.product([True, False, None], repeat=n):
            compression = dict(zip(run, pattern, strict=True))
            levels = [PlanLevel(level=v, advice="SURGERY", status="appropriate", provisional=False, compression=c)
                      for v, c in compression.items()]
            operations = _operations(run, levels)
            assert [v for op in operations for v in op] == list(run)
            for op in operations:
                assert not separate_compressions(op, compression), (pattern, operations)
            for before, after in itertools.pairwise(operations):  # a split is needed: joined, they would mix
                assert separate_compressions((*before, after[0]), compression), (pattern, operations)


def test_the_operation_verify_found_across_two_compressions_is_split(rules_copy):
    """`verify` found this case (L1 and L3 compressing, L2 not, open surgery advised at each): the plan made
    L1-L3 one operation although its own reason says it never joins separate compressions. The shipped rule base
    now cautions surgery over three adjacent levels (caution.surgery.multilevel), so the planner is tried on the
    rule base without that caution, where surgery is still advised at all three."""
    import yaml

    from spinemets import get_engine, load_rulebook

    cautions = rules_copy / "cautions.yaml"
    data = yaml.safe_load(cautions.read_text())
    data["rules"] = [r for r in data["rules"] if r["id"] != "caution.surgery.multilevel"]
    cautions.write_text(yaml.safe_dump(data, sort_keys=False))
    engine = get_engine(load_rulebook(rules_copy))
    case = case_from_values("joined", {
        "life_expectancy_months": 3.0, "histology_confirmed": True, "neurological_deficit": True, "asia_grade": "B",
        "refractory_to_conservative": True, "refractory_to_analgesics": True,
        "lesions": [
            {"level": "L1", "pathological_fracture": True, "paravertebral_extension": True,
             "spinal_cord_compression": True, "sins": {"alignment": "subluxation"}, "symptomatic_cement_leak": True,
             "causes_deficit": False},
            {"level": "L2", "paravertebral_extension": True, "epidural_involvement": True,
             "spinal_cord_compression": False, "compression_site": "conus"},
            {"level": "L3", "posterior_wall_defect": True, "epidural_involvement": True,
             "spinal_cord_compression": True, "sins": {"alignment": "subluxation"}, "causes_deficit": False}]})
    decision = engine.evaluate(case)
    surgery = next(p for p in decision.plan.procedures if p.option == "SURGERY")
    assert surgery.levels == ("L1", "L2", "L3")
    assert surgery.sessions == (("L1", "L2"), ("L3",))
    assert "plan.surgery.discrete_compressions" in {r.rule for r in decision.plan.reasons}


def test_cement_at_many_levels_is_split_into_sessions_within_the_rule_bases_cap(engine, rulebook):
    painful = {"pathological_fracture": True, "height_loss_percent": 30, "pain_score": 8, "mechanical_pain": True,
               "painful": True, "spinal_cord_compression": False, "epidural_involvement": False}
    levels = ["T10", "T11", "T12", "L1", "L2", "L3", "L4"]
    case = case_from_values("seven", {"refractory_to_analgesics": True, "refractory_to_conservative": True,
                                      "neurological_deficit": False, "life_expectancy_months": 12,
                                      "lesions": [{"level": v, **painful} for v in levels]})
    decision = engine.evaluate(case)
    caps = session_caps(rulebook)
    cement = [p for p in decision.plan.procedures if p.option in CEMENT]
    assert sum(len(p.levels) for p in cement) > max(caps.values()), "the case should schedule cement at many levels"
    check_plan(decision, caps)
    assert all(len(s) <= caps[p.option] for p in cement for s in p.sessions)
