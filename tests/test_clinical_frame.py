"""The clinical frame: each class of unsafe advice is guarded by a proved invariant that a mutant reintroducing it breaks."""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from spinemets import RulebookError, load_rulebook
from spinemets.rulebook import DEFAULT_RULES_DIR
from spinemets.verify import verify

Mutation = Callable[[dict], bool]  # edits one rule (in place); True when it changed something


def _mutate(folder: Path, rule_id: str, mutation: Mutation | None) -> None:
    """Delete the rule (mutation None) or apply `mutation` to it, in the copy of the rule base."""
    for path in sorted(folder.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if not isinstance(data, dict) or "rules" not in data:
            continue
        for i, rule in enumerate(data["rules"]):
            if rule.get("id") == rule_id:
                if mutation is None:
                    del data["rules"][i]
                else:
                    assert mutation(rule), f"the mutation changed nothing in {rule_id}"
                path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
                return
    raise AssertionError(f"no rule {rule_id} in the rule base")


def _drop_clause(text: str) -> Mutation:
    """Remove the item of the rule's top-level `all:` whose YAML contains `text`."""
    def mutation(rule: dict) -> bool:
        items = rule["when"]["all"]
        kept = [item for item in items if text not in yaml.safe_dump(item)]
        rule["when"]["all"] = kept
        return len(kept) < len(items)
    return mutation


def _every_deficit(rule: dict) -> bool:
    rule["when"] = "neurological_deficit_present == true"
    return True


def _swap_site(rule: dict) -> bool:
    """Make the progressing-deficit rule speak of the cord and conus only, as if the trial's bound were a finding."""
    for item in rule["when"]["all"]:
        for alternative in item.get("any", []) if isinstance(item, dict) else []:
            if isinstance(alternative, str) and "cauda_equina" in alternative:
                item["any"][item["any"].index(alternative)] = "compression_site in [cord, conus]"
                return True
    return False


def _drop_effect(kind: str) -> Mutation:
    """Remove the rule's effects of one kind (`prefer`, `indicate`, ...)."""
    def mutation(rule: dict) -> bool:
        kept = [effect for effect in rule["then"] if kind not in effect]
        changed = len(kept) < len(rule["then"])
        rule["then"] = kept
        return changed
    return mutation


def _add_effect(effect: dict) -> Mutation:
    def mutation(rule: dict) -> bool:
        rule["then"].append(effect)
        return True
    return mutation


def _strength(strength: str) -> Mutation:
    def mutation(rule: dict) -> bool:
        effects = [effect for effect in rule["then"] if "indicate" in effect and effect.get("strength") != strength]
        for effect in effects:
            effect["strength"] = strength
        if strength == "strong":  # the loader asks a level-4/5 strong indication for its reason
            rule.setdefault("strength_rationale", "written by a test: the mutant's strength")
        return bool(effects)
    return mutation


def _primaries(*codes: str) -> Mutation:
    def mutation(rule: dict) -> bool:
        old = rule["when"]
        rule["when"] = f"primary_tumor in [{', '.join(codes)}]"
        return rule["when"] != old
    return mutation


# (what the mutant does, the rule it changes, how (None: deleted), the invariant that must catch it)
MUTANTS = [
    ("open surgery despite an uncorrectable coagulopathy", "ci.surgery.coagulopathy", None,
     "inv.surgery.unfit_never_endorsed"),
    ("open surgery despite severe cardio-respiratory disease", "ci.surgery.cardiorespiratory", None,
     "inv.surgery.unfit_never_endorsed"),
    ("open surgery despite active infection", "ci.surgery.active_infection", None,
     "inv.surgery.unfit_never_endorsed"),
    ("frailty no longer limits surgery", "against.surgery.short_survival_or_frail", None,
     "inv.surgery.frail_never_endorsed"),
    ("radiosensitivity changes no status", "ind.conservative.radiosensitive", None,
     "inv.radiosensitive.radiotherapy_first"),
    ("radiotherapy not yet given drops off the list", "ind.conservative.not_irradiated", None,
     "inv.radiotherapy.not_given_stays_on_list"),
    # issue 20, class 4: the mechanical line is independent of radiosensitivity
    ("radiotherapy outranks indicated cement by a tie-break for a radiosensitive fracture",
     "ind.conservative.radiosensitive_mechanical_pain", _strength("strong"),
     "inv.radiosensitive.mechanical_line_independent"),
    ("instability leaves cement endorsed", "caution.cement.unstable_spine", None, "inv.cement.unstable_spine"),
    ("instability brings no surgery", "ind.surgery.unstable_spine", None, "inv.surgery.unstable_fit"),
    ("collapse of 80% leaves cement endorsed", "caution.cement.collapse_80", None, "inv.cement.collapse_80"),
    ("a painless lesion gets cement", "ind.conservative.no_pain", None, "inv.pain.painless"),
    ("biological pain gets cement before radiotherapy", "ind.conservative.non_mechanical_pain", None,
     "inv.pain.not_mechanical"),
    ("diffuse pain gets no conservative care", "ind.conservative.diffuse_pain", None, "inv.pain.diffuse"),
    ("kyphoplasty escapes the epidural-tumour caution", "caution.pvp.epidural_involvement",
     lambda rule: rule["then"][0].update(contraindicate=["PVP"]) or True, "inv.kp.epidural_tumour"),
    ("ASIA A-D is not a deficit", "derive.deficit.asia_grade", None, "inv.neuro.asia_impaired"),
    ("a root deficit contraindicates cement as cord compression would", "ci.vertebroplasty.symptomatic_cord_compression",
     _every_deficit, "inv.neuro.root_not_cord"),
    ("tumour removal before a tissue diagnosis", "ind.pvp_itr.broken_posterior_cortex",
     _drop_clause("histology_confirmed"), "inv.itr.histology_not_proven"),
    ("tumour removal with no survival estimate", "ind.pvp_itr.broken_posterior_cortex",
     _drop_clause("survival_3_months_or_more"), "inv.itr.survival_unknown"),
    # issue 20, class 1: a progressing deficit is urgent wherever the compression is
    ("a progressing cauda equina deficit gets no urgent decompression", "ind.surgery.progressing_deficit", None,
     "inv.neuro.progressing_deficit_decompression_first"),
    ("a tie-break puts radiotherapy before decompression for a progressing deficit", "ind.surgery.progressing_deficit",
     _drop_effect("prefer"), "inv.neuro.progressing_deficit_decompression_first"),
    ("the urgent decompression stops at the cord", "ind.surgery.progressing_deficit",
     _swap_site, "inv.neuro.progressing_deficit_decompression_first"),
    # issue 20, class 2: the survival floor, and frailty that raises no status
    ("procedures rank above comfort care with days to weeks to live", "caution.procedures.survival_floor", None,
     "inv.survival_floor.comfort_care_first"),
    ("Karnofsky 30 or less with weeks to live is not under the floor", "derive.survival.floor_bedbound", None,
     "inv.survival_floor.comfort_care_first"),
    ("the floor widened to every survival under 3 months", "derive.survival.floor_under_1_month",
     lambda rule: rule.update(when="life_expectancy_months < 3") or True,
     "inv.survival.one_to_three_months_not_the_floor"),
    ("frailty counted as an indication for vertebroplasty", "pref.pvp.frail_local_anaesthesia",
     _add_effect({"indicate": "PVP", "strength": "moderate"}), "inv.frailty.never_raises_a_status"),
    # issue 20, class 3: radiosensitivity as NOMS classes it
    ("hepatocellular carcinoma not radioresistant", "derive.radiosensitivity.resistant",
     _primaries("kidney", "thyroid", "colorectal", "melanoma"), "inv.radiosensitivity.resistant_classes"),
    ("lung cancer not radioresistant", "derive.radiosensitivity.lung_as_nsclc", None,
     "inv.radiosensitivity.resistant_classes"),
    ("breast epidural disease gets no radiotherapy indication", "ind.conservative.moderately_radiosensitive_epidural",
     None, "inv.radiosensitivity.moderate_epidural_radiotherapy"),
    ("breast and prostate read as radiosensitive, as the tumours the surgical trial excluded",
     "derive.radiosensitivity.sensitive", _primaries("lymphoma", "multiple_myeloma", "breast", "prostate"),
     "inv.surgery.trial_population_recommended"),
]


@pytest.fixture(scope="module")
def shipped(shipped_verify_report):
    return shipped_verify_report


def test_every_frame_invariant_holds_on_the_shipped_rule_base(shipped):
    outcomes = {r.invariant.id: r.outcome for r in shipped.invariants}
    for *_, invariant in MUTANTS:
        assert outcomes[invariant] == "proved", invariant


@pytest.mark.parametrize("what, rule_id, mutation, invariant", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_a_mutant_that_reintroduces_the_error_is_caught(tmp_path, what, rule_id, mutation, invariant):
    assert_verify_catches(tmp_path, what, rule_id, mutation, invariant)


def assert_verify_catches(tmp_path: Path, what: str, rule_id: str, mutation: Mutation | None, invariant: str) -> None:
    """The shipped rule base with one rule mutated (None: deleted): verify finds the invariant violated, with a
    counterexample the engine confirms."""
    folder = shutil.copytree(DEFAULT_RULES_DIR, tmp_path / "rules")
    _mutate(folder, rule_id, mutation)
    report = verify(folder, only={invariant})
    result = next(r for r in report.invariants if r.invariant.id == invariant)
    assert result.outcome == "violated", what
    assert result.counterexample is not None and result.counterexample.confirmed


def _one_rule(rule_id: str, then: str, extra: str = "") -> str:
    """A rules file of one rule citing a passage the loader accepts; `then` and `extra` are YAML lines."""
    return f"""
        rules:
          - id: {rule_id}
            title: written by a test
            when: coagulopathy == true
            then:
{then}
{extra}
            text: written by a test
            evidence_level: 5
            citations:
              - source: barbanti-brodano-2007
                section: Complications
                locator: "Bone defect within posterior wall is considered as relative contraindication"
                stance: states
    """


def test_the_loader_refuses_a_limit_on_conservative_care(scratch_rules):
    folder = scratch_rules(_one_rule("caution.conservative.test", """\
              - contraindicate: [CONSERVATIVE]
                severity: relative"""))
    with pytest.raises(RulebookError) as err:
        load_rulebook(folder)
    assert any("CONSERVATIVE" in p.message and p.rule == "caution.conservative.test" for p in err.value.problems)


def test_an_indication_names_a_population_that_exists(scratch_rules):
    folder = scratch_rules(_one_rule("ind.pvp.test", "              - indicate: PVP",
                                     "            population: barbanti-brodano-2007"))
    with pytest.raises(RulebookError) as err:
        load_rulebook(folder)
    assert any("population" in p.message and p.rule == "ind.pvp.test" for p in err.value.problems)


def test_each_populated_indication_shows_its_study_criteria(rulebook):
    populated = [r for r in rulebook.active_rules if r.population]
    assert {r.population for r in populated} >= {"gu-2017", "tae-pvp-2016", "patchell-2005"}
    for rule in populated:
        source_id, population = rulebook.population_of(rule.id)
        assert source_id == rule.population and (population.inclusion or population.exclusion)


@pytest.mark.parametrize("fields, old_field", [
    ({"refractory_to_conservative": True}, "refractory_to_conservative"),
    ({"refractory_to_analgesics": True}, "refractory_to_analgesics"),
])
def test_old_and_new_refractoriness_fields_both_reach_the_cement_indication(engine, fields, old_field):
    case = {"id": "refractory", "pathological_fracture": True, "neurological_deficit": False, **fields}
    decision = engine.evaluate(case)
    assert "ind.pvp.refractory_painful_fracture" in decision.fired, old_field


def test_the_option_card_shows_the_study_population_and_each_passage_stance(engine):
    from spinemets import read_case_file
    from spinemets.ui import cards

    from .conftest import CASES_DIR

    document = read_case_file(CASES_DIR / "teach-myeloma-radiotherapy-failed-t10.yaml")
    decision = engine.evaluate(document)
    html = cards.option_cards(engine.rulebook, decision)
    assert "Applies to patients like those of Gu et al. 2017" in html
    assert "excluded: PMMA allergy, poor overall condition, or a life expectancy under 3 months" in html
    assert "- reports " in html or "- states" in html
