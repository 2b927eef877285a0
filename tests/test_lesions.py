"""Cases in lesion form: each lesion decided from its view, the patient's summary, the plan (docs/decision.md, 7)."""
from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinemets import CaseError, case_from_data, evaluate, read_case_file
from spinemets.case import PER_LEVEL_FIELDS, VERTEBRAE
from spinemets.lesion import LESION_ONLY_FIELDS
from spinemets.lesion_views import compressive_blocks, discrete_compressions

from .conftest import CASES_DIR

FLAT = [p for p in sorted(CASES_DIR.glob("*.yaml")) if read_case_file(p).case.lesions is None]


def as_one_lesion(data: dict) -> dict:
    """The flat case written in lesion form: its per-level fields moved into one lesion at its first level."""
    lesion = {"level": data["levels"][0]}
    lesion.update({k: v for k, v in data.items() if k in PER_LEVEL_FIELDS})
    rest = {k: v for k, v in data.items() if k not in PER_LEVEL_FIELDS and k not in ("levels", "board")}
    return {**rest, "lesions": [lesion]}


def flat_data(path) -> dict:
    case = read_case_file(path).case
    return case.model_dump(exclude_none=True)


@pytest.mark.parametrize("path", [p for p in FLAT if len(read_case_file(p).case.levels or ()) == 1],
                         ids=lambda p: p.stem)
def test_a_one_lesion_case_in_lesion_form_is_graded_as_the_flat_case(path):
    data = flat_data(path)
    flat = evaluate(data)
    lesion = evaluate(as_one_lesion(data))
    assert lesion.statuses() == flat.statuses()
    assert lesion.ranking == flat.ranking
    assert lesion.lesions[0].statuses() == flat.statuses()
    # in lesion form the lesion's own questions (is it a pain generator?) may be asked besides the flat ones
    assert [m.field for m in lesion.missing if m.field not in LESION_ONLY_FIELDS] == [m.field for m in flat.missing]
    assert lesion.plan.levels[0].advice == flat.top


def test_a_flat_decision_has_no_lesion_keys():
    data = json.loads(evaluate({"id": "flat", "levels": ["T9"], "primary_tumor": "lung"}).to_json())
    assert "lesions" not in data and "plan" not in data
    assert all("levels" not in o for o in data["options"]) and all("levels" not in m for m in data["missing"])


CASE = {
    "id": "three-levels", "primary_tumor": "breast", "age": 64, "karnofsky": 70, "life_expectancy_months": 12,
    "neurological_deficit": False, "refractory_to_analgesics": True, "coagulopathy": False,
    "lesions": [
        {"level": "L1", "pathological_fracture": True, "mechanical_pain": True, "pain_score": 7, "painful": True,
         "spinal_cord_compression": False},
        {"level": "T11", "pathological_fracture": True, "mechanical_pain": True, "pain_score": 6, "painful": True,
         "spinal_cord_compression": False},
        {"level": "T7", "painful": False, "spinal_cord_compression": False, "pathological_fracture": False},
    ],
}


def test_each_lesion_is_decided_and_the_plan_follows_each_level_top():
    decision = evaluate(CASE)
    assert [lesion.level for lesion in decision.lesions] == ["T7", "T11", "L1"]  # cranial first
    for lesion, planned in zip(decision.lesions, decision.plan.levels, strict=True):
        assert planned.level == lesion.level and planned.advice == lesion.top
        assert planned.status == lesion.option(lesion.top).status
    t7 = decision.lesions[0]
    assert t7.option("PVP").status == "not_recommended"  # not a pain generator: no cement for pain
    assert "ind.conservative.level_not_painful" in t7.fired
    assert decision.plan.procedures[0].option == "PVP"
    assert decision.plan.procedures[0].sessions == (("T11", "L1"),)


def test_the_patient_summary_is_each_option_at_its_best_level():
    decision = evaluate(CASE)
    rank = {"recommended": 4, "appropriate": 3, "caution": 2, "not_recommended": 1, "contraindicated": 0}
    for option in decision.options:
        best = max(rank[lesion.option(option.option).status] for lesion in decision.lesions)
        assert rank[option.status] == best
        assert option.levels == tuple(lesion.level for lesion in decision.lesions
                                      if rank[lesion.option(option.option).status] == best)


@settings(max_examples=25, deadline=None)
@given(st.permutations(range(3)))
def test_the_order_lesions_are_listed_in_changes_nothing(order):
    shuffled = {**CASE, "lesions": [CASE["lesions"][i] for i in order]}
    assert evaluate(shuffled).to_json() == evaluate(CASE).to_json()


def test_a_level_that_compresses_nothing_does_not_carry_the_deficit():
    decision = evaluate(read_case_file(CASES_DIR / "teach-multilevel-discrete-compressions-renal.yaml").case)
    t4, t7, t10 = decision.lesions
    assert t7.option("PVP").status != "contraindicated"  # the deficit's absolute contraindication is T4's and T10's
    assert t4.option("PVP").status == "contraindicated"
    assert t4.option("SURGERY").status == t10.option("SURGERY").status == "caution"
    assert "caution.surgery.multiple_discrete_compressions" in t4.fired
    assert [r.rule for r in decision.plan.reasons] == ["plan.surgery.discrete_compressions"]
    assert decision.plan.reasons[0].levels == ("T4", "T10")


def test_more_than_three_cement_levels_are_split_into_sessions():
    levels = ["T12", "L1", "L2", "L3", "L4"]
    case = {"id": "myeloma", "primary_tumor": "multiple_myeloma", "histology_confirmed": True,
            "neurological_deficit": False, "refractory_to_conservative": True, "age": 54,
            "lesions": [{"level": v, "pathological_fracture": True, "mechanical_pain": True, "painful": True}
                        for v in levels]}
    plan = evaluate(case).plan
    cement = [p for p in plan.procedures if p.option in ("PVP", "KP", "TAE_PVP", "PVP_ITR")]
    assert cement and all(len(group) <= 3 for p in cement for group in p.sessions)
    assert [v for p in cement for group in p.sessions for v in group] == levels
    assert "plan.cement.levels_per_session" in [r.rule for r in plan.reasons]


def test_an_unknown_compression_elsewhere_is_asked_at_the_level_it_affects():
    case = {"id": "open", "primary_tumor": "kidney", "histology_confirmed": True, "neurological_deficit": True,
            "asia_grade": "D", "deficit_onset_hours": 12, "life_expectancy_months": 12, "karnofsky": 80,
            "asa_class": 2, "coagulopathy": False, "active_infection": False,
            "severe_cardiopulmonary_disease": False,
            "lesions": [{"level": "T4", "spinal_cord_compression": True, "compression_site": "cord",
                         "bilsky_grade": "3", "prior_radiotherapy_at_level": False},
                        {"level": "T10"}]}
    decision = evaluate(case)
    t4 = decision.lesions[0]
    asked = [m for m in t4.missing if m.field == "spinal_cord_compression" and m.levels == ("T10",)]
    assert asked and "SURGERY" in asked[0].affects
    assert t4.option("SURGERY").provisional


@pytest.mark.parametrize("data, field, fragment", [
    ({"id": "x", "lesions": [{"level": "T9"}, {"level": "T9"}]}, "lesions.1.level", "described twice"),
    ({"id": "x", "lesions": [{"pain_score": 3}]}, "lesions.0.level", "required"),
    ({"id": "x", "lesions": [{"level": "T13"}]}, "lesions.0.level", "expected one of"),
    ({"id": "x", "pain_score": 4, "lesions": [{"level": "T9", "pain_score": 4}, {"level": "L1", "pain_score": 2}]},
     "lesions.1.pain_score", "give per-level findings in each lesion"),
    ({"id": "x", "levels": ["T9"], "lesions": [{"level": "T10"}]}, "levels", "the lesions describe T10"),
    ({"id": "x", "lesions": [{"level": v} for v in VERTEBRAE] + [{"level": "T1"}]}, "lesions",
     "at most 29"),
])
def test_bad_lesions_are_refused_with_the_lesion_and_field(data, field, fragment):
    with pytest.raises(CaseError) as err:
        case_from_data(data)
    problems = {p.field: p.message for p in err.value.problems}
    assert field in problems, problems
    assert fragment in problems[field]


def test_ten_thousand_lesions_are_refused_by_length():
    with pytest.raises(CaseError) as err:
        case_from_data({"id": "x", "lesions": [{"level": "T9"}] * 10_000})
    assert any(p.field == "lesions" for p in err.value.problems)


def test_patient_checks_count_every_lesion():
    with pytest.raises(CaseError, match="cannot all be true"):
        evaluate({"id": "x", "vertebral_metastases": 1, "lesions": [{"level": "T9"}, {"level": "L2"}]})


# --- discrete compressions, three-valued ------------------------------------------------------------------


def brute_force(compressed: dict[str, bool | None]) -> bool | None:
    unknown = [v for v, c in compressed.items() if c is None]
    answers = set()
    for values in itertools.product((True, False), repeat=len(unknown)):
        filled = {**compressed, **dict(zip(unknown, values, strict=True))}
        answers.add(len(compressive_blocks([v for v, c in filled.items() if c])) >= 2)
    return answers.pop() if len(answers) == 1 else None


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(VERTEBRAE[:12]), st.sampled_from([True, False, None]), max_size=7))
def test_discrete_compressions_agree_with_every_completion(compressed):
    assert discrete_compressions(compressed) == brute_force(compressed)


def test_what_if_on_a_case_in_lesion_form_names_the_level_of_each_change():
    from spinemets import get_engine
    from spinemets.whatif import sweep, with_lesion_value

    engine = get_engine()
    case = read_case_file(CASES_DIR / "teach-multilevel-discrete-compressions-renal.yaml").case
    found = sweep(engine, case)
    assert found and {c.level for c in found} >= {None, "T4"}
    for change in found[:5]:
        variant = (with_lesion_value(case, change.level, change.field, change.after) if change.level
                   else case.model_copy(update={change.field: change.after}))
        after = engine.evaluate(variant).statuses()
        assert all(after[s.option] == s.after for s in change.changes)


def test_the_minutes_carry_the_plan_by_level(tmp_path):
    from spinemets.commands.cli import main

    db = tmp_path / "board.sqlite"
    path = CASES_DIR / "teach-multilevel-discrete-compressions-renal.yaml"
    assert main(["board", "record", str(path), "--chosen", "CONSERVATIVE", "--db", str(db)]) == 0
    out = tmp_path / "minutes.md"
    assert main(["board", "export", "--format", "markdown", "--db", str(db), "--out", str(out)]) == 0
    text = out.read_text()
    assert "Plan by level: T4 Conservative care (CONSERVATIVE), recommended; T7" in text


def test_one_level_preferences_do_not_order_another_level_and_a_painless_level_does_not_lead():
    import yaml

    data = yaml.safe_load((CASES_DIR / "teach-multilevel-painless-level-breast-l1-l4.yaml").read_text())
    data.pop("board")
    for lesion in data["lesions"]:
        if lesion.get("painful") is False:
            lesion.pop("pain_score", None)  # the level's pain left to `painful: false` alone
    decision = evaluate(data)
    painful = next(lesion for lesion in decision.lesions if lesion.level == "L1")
    assert decision.top == painful.top


def test_the_level_carrying_the_deficit_leads_among_equals():
    decision = evaluate(read_case_file(CASES_DIR / "teach-multilevel-compression-beside-fractures-lung-t8-l1.yaml"
                                       ).case)
    t8 = next(lesion for lesion in decision.lesions if lesion.level == "T8")
    assert decision.top == t8.top == "SURGERY"
    assert decision.option("SURGERY").status == decision.option("PVP").status


def test_radiotherapy_covers_the_compressed_levels_not_the_quiet_one():
    decision = evaluate(read_case_file(CASES_DIR / "teach-multilevel-discrete-compressions-renal.yaml").case)
    assert decision.plan.radiotherapy == ("T4", "T10")


def test_no_reason_claims_refractory_pain_at_a_level_known_painless():
    decision = evaluate({**CASE, "lesions": [
        {"level": "L1", "pathological_fracture": True, "mechanical_pain": True, "pain_score": 7, "painful": True},
        {"level": "L4", "pathological_fracture": True, "pain_score": 0, "painful": False,
         "prior_radiotherapy_at_level": False, "lesion_type": "lytic"}]})
    l1, l4 = decision.lesions
    assert "derive.pain.refractory_to_analgesics" in l1.fired
    assert not any(rule.startswith("derive.pain.refractory") for rule in l4.fired)
    assert "ind.pvp.refractory_painful_fracture" not in l4.fired


# --- an area of adjacent levels reads as a flat case's levels ----------------------------------------------------

CONTIGUOUS_COMPRESSION = {
    "id": "t5-t7", "age": 61, "primary_tumor": "kidney", "histology_confirmed": True, "karnofsky": 80,
    "asa_class": 2, "life_expectancy_months": 12, "coagulopathy": False, "active_infection": False,
    "cement_allergy": False, "severe_cardiopulmonary_disease": False, "neurological_deficit": True,
    "asia_grade": "D", "deficit_onset_hours": 24, "deficit_progressing": False,
    "epidural_involvement": True, "bilsky_grade": "3", "spinal_cord_compression": True, "compression_site": "cord",
    "prior_radiotherapy_at_level": False, "pathological_fracture": False,
}


def test_an_area_of_three_adjacent_levels_gets_the_multilevel_caution_entered_either_way():
    flat = evaluate({**CONTIGUOUS_COMPRESSION, "levels": ["T5", "T6", "T7"]})
    per_level = {k: v for k, v in CONTIGUOUS_COMPRESSION.items() if k in PER_LEVEL_FIELDS}
    patient = {k: v for k, v in CONTIGUOUS_COMPRESSION.items() if k not in PER_LEVEL_FIELDS}
    lesions = evaluate({**patient, "lesions": [{"level": lv, **per_level} for lv in ("T5", "T6", "T7")]})
    fired = {r.rule for r in flat.option("SURGERY").reasons}
    assert "caution.surgery.multilevel" in fired
    for lesion in lesions.lesions:
        assert lesion.option("SURGERY").status == flat.option("SURGERY").status, lesion.level
        assert "caution.surgery.multilevel" in {r.rule for r in lesion.option("SURGERY").reasons}
    # two adjacent levels, or three levels apart, are no such area
    for levels in (("T5", "T6"), ("T5", "T7", "T9")):
        apart = evaluate({**patient, "lesions": [{"level": lv, **per_level} for lv in levels]})
        assert all("caution.surgery.multilevel" not in {r.rule for r in lesion.option("SURGERY").reasons}
                   for lesion in apart.lesions), levels


@given(st.sets(st.sampled_from(VERTEBRAE), min_size=1, max_size=12))
def test_adjacent_levels_is_the_length_of_each_levels_unbroken_run(levels):
    from spinemets.lesion import Lesion
    from spinemets.lesion_views import adjacent_levels

    runs = adjacent_levels([Lesion(level=lv) for lv in levels])
    for level in levels:
        i = VERTEBRAE.index(level)
        up = next(k for k in range(i + 1) if i - k - 1 < 0 or VERTEBRAE[i - k - 1] not in levels)
        down = next(k for k in range(len(VERTEBRAE)) if i + k + 1 >= len(VERTEBRAE) or VERTEBRAE[i + k + 1] not in levels)
        assert runs[level] == 1 + up + down


def test_a_progressing_deficit_over_three_adjacent_levels_is_decompressed_first_entered_either_way():
    # the multilevel caution does not hold back a decompression that is urgent
    urgent = {**CONTIGUOUS_COMPRESSION, "deficit_progressing": True}
    flat = evaluate({**urgent, "levels": ["T5", "T6", "T7"]})
    per_level = {k: v for k, v in urgent.items() if k in PER_LEVEL_FIELDS}
    patient = {k: v for k, v in urgent.items() if k not in PER_LEVEL_FIELDS}
    lesions = evaluate({**patient, "lesions": [{"level": lv, **per_level} for lv in ("T5", "T6", "T7")]})
    assert flat.top == "SURGERY" and flat.option("SURGERY").status == "recommended"
    for lesion in lesions.lesions:
        assert lesion.ranking[0] == "SURGERY" and lesion.option("SURGERY").status == "recommended", lesion.level
