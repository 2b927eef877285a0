"""SINS, revised Tokuhashi and Tomita against their published tables; unknown inputs give a range, never a guess.

The expected points below are written out from the published tables (Fisher et al. 2010; Tokuhashi et al.
2005 as reproduced in NICE CG75 Appendix 3; Tomita et al. 2001), independently of rules/scores/*.yaml, so
a slip in the YAML fails here.
"""
from __future__ import annotations

import pytest

from spinemets.case import case_from_values
from spinemets.evaluator import case_values
from spinemets.scores import compute

SINS = {
    "sins.location": {"junctional": 3, "mobile": 2, "semirigid": 1, "rigid": 0},
    "sins.pain": {"mechanical": 3, "occasional": 1, "none": 0},
    "sins.lesion": {"lytic": 2, "mixed": 1, "blastic": 0},
    "sins.alignment": {"subluxation": 4, "deformity": 2, "normal": 0},
    "sins.collapse": {"over_50": 3, "under_50": 2, "none_over_50_involved": 1, "none": 0},
    "sins.posterolateral": {"bilateral": 3, "unilateral": 1, "none": 0},
}
TOKUHASHI = {
    "karnofsky": {10: 0, 40: 0, 50: 1, 70: 1, 80: 2, 100: 2},
    "extraspinal_bone_metastases": {0: 2, 1: 1, 2: 1, 3: 0, 12: 0},
    "vertebral_metastases": {1: 2, 2: 1, 3: 0, 9: 0},
    "visceral_metastases": {"none": 2, "removable": 1, "unremovable": 0},
    "primary_tumor": {"lung": 0, "stomach": 0, "liver": 1, "unknown_primary": 1, "kidney": 3, "thyroid": 5,
                      "breast": 5, "prostate": 5, "multiple_myeloma": 2, "lymphoma": 2, "leukemia": 2, "melanoma": 2},
    "asia_grade": {"A": 0, "B": 0, "C": 1, "D": 1, "E": 2},
}
TOKUHASHI_UNMAPPED = {"karnofsky": [45, 0, 75], "vertebral_metastases": [0], "primary_tumor": ["colorectal", "other"]}
TOMITA_PRIMARY = {"breast": 1, "thyroid": 1, "prostate": 1, "kidney": 2, "lung": 4, "liver": 4, "stomach": 4}
TOMITA_VISCERAL = {"none": 0, "removable": 2, "unremovable": 4}


def score(rulebook, score_id):
    return next(s for s in rulebook.scores if s.id == score_id)


def values_with(base: dict, field: str, value) -> dict:
    return {**base, field: value}


# --- SINS ---------------------------------------------------------------------------------------------------

SINS_ZERO = {"sins.location": "rigid", "sins.pain": "none", "sins.lesion": "blastic", "sins.alignment": "normal",
             "sins.collapse": "none", "sins.posterolateral": "none"}


@pytest.mark.parametrize("field, code, points", [(f, c, p) for f, table in SINS.items() for c, p in table.items()])
def test_sins_component_points(rulebook, field, code, points):
    assert compute(score(rulebook, "sins"), values_with(SINS_ZERO, field, code)).total == points


@pytest.mark.parametrize("total, band", [(0, "stable"), (6, "stable"), (7, "indeterminate"), (12, "indeterminate"),
                                         (13, "unstable"), (18, "unstable")])
def test_sins_band_edges(rulebook, total, band):
    assert score(rulebook, "sins").band_of(total).name == band


def test_sins_range_covers_what_unknown_components_allow(rulebook):
    result = compute(score(rulebook, "sins"), {"sins.location": "junctional", "sins.pain": "mechanical"})
    assert (result.total, result.minimum, result.maximum) == (None, 6, 18)
    assert result.possible_bands == ("stable", "indeterminate", "unstable")


# --- revised Tokuhashi --------------------------------------------------------------------------------------

TOKUHASHI_ZERO = {"karnofsky": 30, "extraspinal_bone_metastases": 5, "vertebral_metastases": 4,
                  "visceral_metastases": "unremovable", "primary_tumor": "lung", "asia_grade": "A"}


@pytest.mark.parametrize("field, value, points",
                         [(f, v, p) for f, table in TOKUHASHI.items() for v, p in table.items()])
def test_tokuhashi_component_points(rulebook, field, value, points):
    assert compute(score(rulebook, "tokuhashi"), values_with(TOKUHASHI_ZERO, field, value)).total == points


@pytest.mark.parametrize("field, value", [(f, v) for f, vs in TOKUHASHI_UNMAPPED.items() for v in vs])
def test_tokuhashi_does_not_guess_a_category(rulebook, field, value):
    result = compute(score(rulebook, "tokuhashi"), values_with(TOKUHASHI_ZERO, field, value))
    assert result.total is None and f"{field}={value}" in result.unmapped
    assert result.minimum == 0 and result.maximum > 0  # the range the total can still take


@pytest.mark.parametrize("total, band", [(0, "under_6_months"), (8, "under_6_months"), (9, "six_months_or_more"),
                                         (11, "six_months_or_more"), (12, "one_year_or_more"), (15, "one_year_or_more")])
def test_tokuhashi_band_edges(rulebook, total, band):
    assert score(rulebook, "tokuhashi").band_of(total).name == band


def test_tokuhashi_worked_example(rulebook):
    # KPS 80 (2) + one extraspinal focus (1) + one vertebral metastasis (2) + no visceral (2) + breast (5)
    # + incomplete palsy (1) = 13: predicted survival a year or more.
    values = {"karnofsky": 80, "extraspinal_bone_metastases": 1, "vertebral_metastases": 1,
              "visceral_metastases": "none", "primary_tumor": "breast", "asia_grade": "D"}
    result = compute(score(rulebook, "tokuhashi"), values)
    assert (result.total, result.band) == (13, "one_year_or_more")


# --- Tomita -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("primary, points", TOMITA_PRIMARY.items())
def test_tomita_primary_growth(rulebook, primary, points):
    values = {"primary_tumor": primary, "visceral_metastases": "none", "bone_metastases_total": 1}
    assert compute(score(rulebook, "tomita"), values).total == points + 0 + 1


@pytest.mark.parametrize("visceral, points", TOMITA_VISCERAL.items())
def test_tomita_visceral(rulebook, visceral, points):
    values = {"primary_tumor": "breast", "visceral_metastases": visceral, "bone_metastases_total": 1}
    assert compute(score(rulebook, "tomita"), values).total == 1 + points + 1


@pytest.mark.parametrize("count, points", [(1, 1), (2, 2), (30, 2)])
def test_tomita_bone_metastases_solitary_or_multiple(rulebook, count, points):
    values = {"primary_tumor": "breast", "visceral_metastases": "none", "bone_metastases_total": count}
    assert compute(score(rulebook, "tomita"), values).total == 1 + 0 + points


@pytest.mark.parametrize("total, band", [(2, "long_term_control"), (3, "long_term_control"), (4, "middle_term_control"),
                                         (5, "middle_term_control"), (6, "short_term_palliation"),
                                         (7, "short_term_palliation"), (8, "terminal_care"), (10, "terminal_care")])
def test_tomita_band_edges(rulebook, total, band):
    assert score(rulebook, "tomita").band_of(total).name == band


@pytest.mark.parametrize("primary", ["colorectal", "multiple_myeloma", "lymphoma", "leukemia", "melanoma", "other",
                                     "unknown_primary"])
def test_tomita_says_unmapped_rather_than_guess(rulebook, primary):
    result = compute(score(rulebook, "tomita"), {"primary_tumor": primary, "visceral_metastases": "none",
                                                 "bone_metastases_total": 1})
    assert result.total is None and result.unmapped == (f"primary_tumor={primary}",)
    assert (result.minimum, result.maximum) == (2, 5)


def test_bone_metastases_total_needs_both_counts(rulebook):
    values, _ = case_values(case_from_values("x", {"vertebral_metastases": 2}), rulebook)
    assert "bone_metastases_total" not in values
    values, _ = case_values(case_from_values("x", {"vertebral_metastases": 2, "extraspinal_bone_metastases": 3}),
                            rulebook)
    assert values["bone_metastases_total"] == 5


# --- the survival estimate and NOMS in decisions ---------------------------------------------------------------

COMPRESSION = {"neurological_deficit": True, "spinal_cord_compression": True, "epidural_involvement": True,
               "bilsky_grade": "2", "karnofsky": 80, "asa_class": 2, "extraspinal_bone_metastases": 1,
               "vertebral_metastases": 1, "visceral_metastases": "none", "primary_tumor": "breast",
               "asia_grade": "D", "histology_confirmed": True, "levels": ["T8"]}


def test_survival_estimated_from_tokuhashi_when_the_board_gives_none(engine):
    decision = engine.evaluate(case_from_values("est", COMPRESSION))
    assert decision.option("SURGERY").status == "recommended" and decision.option("SURGERY").provisional
    survival = next(d for d in decision.derived if d.fact == "survival_3_months_or_more")
    assert [b.rule for b in survival.because] == ["derive.survival.tokuhashi_estimate"]
    assert "ind.surgery.symptomatic_compression" in survival.used_by
    assert any(m.field == "life_expectancy_months" for m in decision.missing)
    # the surgery reason itself says it rests on the estimate, not only the trace at the end
    assert survival in decision.rests_on("ind.surgery.symptomatic_compression")


def test_the_boards_estimate_always_wins(engine):
    decision = engine.evaluate(case_from_values("board", {**COMPRESSION, "life_expectancy_months": 2}))
    assert decision.option("SURGERY").status == "not_recommended"
    assert all(d.fact != "survival_3_months_or_more" for d in decision.derived)


def test_noms_summary_lines(engine):
    decision = engine.evaluate(case_from_values("noms", {**COMPRESSION, "primary_tumor": "lymphoma"}))
    lines = {line.name: line for line in decision.frameworks["noms"].lines}
    assert lines["neurologic"].text.startswith("High-grade epidural compression") and lines["neurologic"].known
    assert lines["oncologic"].text.startswith("Radiosensitive")
    assert not lines["mechanical"].known and "sins.location" in lines["mechanical"].find_out
    assert decision.frameworks["noms"].citations[0].source == "laufer-2013-noms"


@pytest.mark.parametrize("changes, systemic", [
    ({}, "Survival of a year or more estimated from the revised Tokuhashi score"),             # 13 points
    ({"primary_tumor": "kidney"}, "Survival of 6 months or more estimated from the revised Tokuhashi score"),  # 11
    ({"primary_tumor": "lung", "karnofsky": 60, "extraspinal_bone_metastases": 3, "vertebral_metastases": 3,
      "visceral_metastases": "unremovable"}, "Survival under 6 months estimated"),                 # 2
    ({"life_expectancy_months": 12}, "Expected survival of 3 months or more"),                   # the board's own
])
def test_noms_systemic_line_names_the_estimated_band_or_the_boards_figure(engine, changes, systemic):
    decision = engine.evaluate(case_from_values("noms", {**COMPRESSION, **changes}))
    line = next(line for line in decision.frameworks["noms"].lines if line.name == "systemic")
    assert line.text.startswith(systemic), line.text


@pytest.mark.parametrize("primary, grade, adjunct", [
    ("lymphoma", "2", "radiotherapy_conventional"),
    ("multiple_myeloma", "0", "radiotherapy_conventional"),
    ("kidney", "1b", "radiotherapy_stereotactic"),
])
def test_radiotherapy_follows_radiosensitivity(engine, primary, grade, adjunct):
    epidural = grade != "0"
    # A lytic lesion shows tumour at the level: radiotherapy treats tumour, not a body emptied by treatment.
    decision = engine.evaluate(case_from_values("rt", {"primary_tumor": primary, "bilsky_grade": grade,
                                                       "epidural_involvement": epidural, "lesion_type": "lytic"}))
    assert adjunct in {a.adjunct for a in decision.adjuncts}


def test_no_radiotherapy_adjunct_for_a_body_emptied_of_tumour(engine):
    decision = engine.evaluate(case_from_values("empty", {"primary_tumor": "multiple_myeloma", "bilsky_grade": "0",
                                                          "epidural_involvement": False}))
    assert "radiotherapy_conventional" not in {a.adjunct for a in decision.adjuncts}


def test_radioresistant_high_grade_compression_gets_separation_surgery(engine):
    decision = engine.evaluate(case_from_values("sep", {
        "primary_tumor": "kidney", "bilsky_grade": "3", "epidural_involvement": True,
        "spinal_cord_compression": True, "life_expectancy_months": 12}))
    assert decision.option("SURGERY").status == "appropriate"
    assert any(a.adjunct == "radiotherapy_stereotactic" and a.options == ("SURGERY",) for a in decision.adjuncts)
