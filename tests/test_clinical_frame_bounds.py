"""The clinical frame, second pass (issue 20, classes 5-7): the `limit` bound (the lesser of two choices), cement for
pain that is not mechanical, and adjuncts a board would name. Each class is guarded by a proved invariant that a
mutant reintroducing the error breaks; the bound itself is checked in the loader, the decision and the proof."""
from __future__ import annotations


import pytest
from spinemets import RulebookError, load_rulebook
from spinemets.decision import decide, resolve_status, status_of
from spinemets.verify import verify
from spinemets.verify.invariants import explained

from .test_clinical_frame import _one_rule, assert_verify_catches


def _drop_option_from_limit(option: str):
    def mutation(rule: dict) -> bool:
        for effect in rule["then"]:
            if "limit" in effect and option in effect["limit"]:
                effect["limit"] = [o for o in effect["limit"] if o != option]
                return True
        return False
    return mutation


def _limit_becomes_a_preference_only(rule: dict) -> bool:
    """The state before the bound: the lesser choice only ordered among equals, so a stronger grade lifts it above."""
    kept = [e for e in rule["then"] if "limit" not in e]
    changed = len(kept) < len(rule["then"])
    rule["then"] = kept or [{"prefer": "TAE_PVP", "over": ["PVP", "KP"]}]
    return changed


# (what the mutant does, the rule it changes, how (None: deleted), the invariant that must catch it)
MUTANTS = [
    ("cement alone recommended for a hypervascular paravertebral mass",
     "limit.cement_alone.hypervascular_paravertebral_mass", None, "inv.tae_pvp.cement_alone_is_the_lesser_choice"),
    ("cement alone graded above embolization first", "limit.cement_alone.hypervascular_paravertebral_mass",
     _limit_becomes_a_preference_only, "inv.tae_pvp.embolization_before_cement_alone"),
    ("cement alone first for a hypervascular paravertebral mass", "limit.cement_alone.hypervascular_paravertebral_mass",
     _limit_becomes_a_preference_only, "inv.tae_pvp.cement_alone_never_first"),
    ("kyphoplasty escapes the bound", "limit.cement_alone.hypervascular_paravertebral_mass",
     _drop_option_from_limit("KP"), "inv.tae_pvp.cement_alone_is_the_lesser_choice"),
    ("cement recommended for pain that is not mechanical", "limit.cement.pain_not_mechanical", None,
     "inv.pain.not_mechanical_cement_lesser"),
    ("kyphoplasty recommended for pain that is not mechanical", "limit.cement.pain_not_mechanical",
     _drop_option_from_limit("KP"), "inv.pain.not_mechanical_cement_lesser"),
    ("no corticosteroids for cord compression with a deficit", "adj.steroids.symptomatic_epidural_compression", None,
     "inv.adjunct.steroids_for_cord_compression"),
    ("a biopsy only when the histology is unproven", "adj.biopsy.first_cement_at_level", None,
     "inv.adjunct.biopsy_at_every_first_cement"),
]


@pytest.fixture(scope="module")
def shipped(shipped_verify_report):
    return shipped_verify_report


def test_every_invariant_of_the_second_pass_holds_on_the_shipped_rule_base(shipped):
    outcomes = {r.invariant.id: r.outcome for r in shipped.invariants}
    for *_, invariant in MUTANTS:
        assert outcomes[invariant] == "proved", invariant


@pytest.mark.parametrize("what, rule_id, mutation, invariant", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_a_mutant_that_reintroduces_the_error_is_caught(tmp_path, what, rule_id, mutation, invariant):
    assert_verify_catches(tmp_path, what, rule_id, mutation, invariant)


# --- the bound in the loader -------------------------------------------------------------------------------


def test_the_loader_refuses_a_limit_below_appropriate_and_names_the_effect_that_says_why(scratch_rules):
    folder = scratch_rules(_one_rule("limit.pvp.test", """\
              - limit: [PVP]
                at_most: caution"""))
    with pytest.raises(RulebookError) as err:
        load_rulebook(folder)
    problem = next(p for p in err.value.problems if p.rule == "limit.pvp.test")
    assert "at_most: caution" in problem.message and "contraindicate" in problem.message
    assert problem.line is not None


def test_the_loader_refuses_a_limit_on_conservative_care(scratch_rules):
    folder = scratch_rules(_one_rule("limit.conservative.test", """\
              - limit: [CONSERVATIVE]
                at_most: appropriate"""))
    with pytest.raises(RulebookError) as err:
        load_rulebook(folder)
    assert any("CONSERVATIVE" in p.message and "never capped" in p.message and p.rule == "limit.conservative.test"
               for p in err.value.problems)


def test_the_loader_refuses_a_limit_without_its_status(scratch_rules):
    folder = scratch_rules(_one_rule("limit.pvp.test", "              - limit: [PVP]"))
    with pytest.raises(RulebookError) as err:
        load_rulebook(folder)
    assert any("at_most" in str(p) for p in err.value.problems if p.rule == "limit.pvp.test")


# --- the bound in the decision ------------------------------------------------------------------------------


def test_a_limit_caps_a_strong_indication_at_appropriate_and_never_lifts():
    assert resolve_status(["recommended"], ["appropriate"]) == "appropriate"
    assert resolve_status(["appropriate"], ["appropriate"]) == "appropriate"
    assert resolve_status([], ["appropriate"]) == "not_recommended"  # a cap is not an indication
    assert resolve_status(["recommended"], ["appropriate", "caution"]) == "caution"  # the lowest ceiling wins


def test_the_limit_reason_is_shown_and_explains_the_status(rulebook):
    fired = ["limit.cement_alone.hypervascular_paravertebral_mass", "ind.pvp.refractory_painful_fracture"]
    assert status_of([rulebook.rule_by_id[r] for r in fired], "PVP") == "appropriate"
    decision = decide(rulebook, "t", fired, [], [])
    pvp = decision.option("PVP")
    limits = [r for r in pvp.reasons if r.effect == "limits"]
    assert pvp.status == "appropriate" and limits and limits[0].detail == "appropriate"
    # the limit comes before the indication it bounds: what limits an option is read first
    assert [r.effect for r in pvp.reasons].index("limits") < [r.effect for r in pvp.reasons].index("indicates")
    assert explained(pvp)


def test_the_hypervascular_paravertebral_vignette_ranks_embolization_first(engine):
    case = {"id": "t", "hypervascular_tumor": True, "paravertebral_extension": True, "pathological_fracture": True,
            "refractory_to_conservative": True, "neurological_deficit": False, "mechanical_pain": True,
            "histology_confirmed": True}
    decision = engine.evaluate(case)
    statuses = decision.statuses()
    assert statuses["PVP"] == statuses["KP"] == "appropriate" == statuses["TAE_PVP"]
    assert decision.ranking.index("TAE_PVP") < decision.ranking.index("PVP")
    assert decision.ranking.index("TAE_PVP") < decision.ranking.index("KP")


def test_pain_that_is_not_mechanical_at_an_irradiated_level_puts_conservative_care_before_cement(engine):
    case = {"id": "t", "pathological_fracture": True, "refractory_to_analgesics": True, "neurological_deficit": False,
            "mechanical_pain": False, "prior_radiotherapy_at_level": True, "pain_score": 7}
    decision = engine.evaluate(case)
    assert decision.option("PVP").status == "appropriate"
    assert decision.ranking.index("CONSERVATIVE") < decision.ranking.index("PVP")


def test_corticosteroids_wait_for_the_site_and_stand_aside_for_leaked_cement(engine):
    base = {"id": "t", "neurological_deficit": True, "epidural_involvement": True, "levels": ["T8"]}
    def adjuncts(**extra):
        return {a.adjunct for a in engine.evaluate({**base, **extra}).adjuncts}
    assert "corticosteroids" in adjuncts()  # site not recorded: read as the cord
    assert "corticosteroids" in adjuncts(compression_site="conus")
    assert "corticosteroids" not in adjuncts(compression_site="root")
    assert "corticosteroids" not in adjuncts(symptomatic_cement_leak=True)


def test_the_routine_biopsy_goes_with_the_cement_procedures_only(engine):
    case = {"id": "t", "pathological_fracture": True, "refractory_to_analgesics": True, "neurological_deficit": False,
            "histology_confirmed": True, "mechanical_pain": True}
    routine = [a for a in engine.evaluate(case).adjuncts if a.rule == "adj.biopsy.first_cement_at_level"]
    assert routine and set(routine[0].options) == {"PVP", "KP", "TAE_PVP", "PVP_ITR"}
    unfit = engine.evaluate({**case, "coagulopathy": True})  # every cement procedure contraindicated
    assert not [a for a in unfit.adjuncts if a.rule == "adj.biopsy.first_cement_at_level"]


def test_not_above_is_read_alike_by_the_engine_and_the_solver(tmp_path):
    """A not_above claim that a limit makes true is proved; without the limit the solver's counterexample is one
    the engine confirms (the claim means the same to both)."""
    from .verify_support import invariant, rule, write_base

    rules = [rule("ind.pvp.fracture", "pathological_fracture == true", {"indicate": "PVP"}),
             rule("ind.tae_pvp.mass", "paravertebral_extension == true",
                  {"indicate": "TAE_PVP", "strength": "moderate"}),
             rule("limit.pvp.mass", "paravertebral_extension == true", {"limit": "PVP", "at_most": "appropriate"})]
    claim = {"not_above": {"options": ["PVP"], "than": "TAE_PVP"}}
    inv = invariant("inv.lesser", "paravertebral_extension == true", claim)
    proved = verify(write_base(tmp_path / "a", rules, [inv]))
    assert [r.outcome for r in proved.invariants] == ["proved"]
    broken = verify(write_base(tmp_path / "b", rules[:2], [inv]))
    result = broken.invariants[0]
    assert result.outcome == "violated" and result.counterexample.confirmed


def test_corticosteroids_are_not_named_for_an_unrecorded_site_below_the_cord(engine):
    case = {"id": "t", "neurological_deficit": True, "epidural_involvement": True, "levels": ["L4"]}
    assert "corticosteroids" not in {a.adjunct for a in engine.evaluate(case).adjuncts}
