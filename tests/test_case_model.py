"""The case model keeps the data dictionary: every field, strict types, ranges, helpful errors, JSON Schema."""
from __future__ import annotations

import re

import pytest

from spinemets import CaseError, case_from_data, parse_case_text
from spinemets.case import Case, case_from_values, input_fields, known_values
from spinemets.evaluator import case_values
from spinemets.fields import input_specs

from .conftest import SHARED

# The case fields of ../shared/data-dictionary.md, as written there.
DICTIONARY_FIELDS = [
    "id", "title", "presentation", "age", "sex", "primary_tumor", "histology_confirmed", "primary_bone_tumor",
    "life_expectancy_months", "extraspinal_bone_metastases", "vertebral_metastases", "visceral_metastases",
    "karnofsky", "asa_class", "coagulopathy", "active_infection", "cement_allergy",
    "severe_cardiopulmonary_disease", "levels", "multifocal_bone_metastases", "pathological_fracture",
    "height_loss_percent", "kyphosis_degrees", "severe_osteoporosis", "lesion_type", "posterior_wall_defect",
    "pedicle_lysis", "paravertebral_extension", "hypervascular_tumor", "epidural_involvement", "bilsky_grade",
    "spinal_cord_compression", "neurological_deficit", "asia_grade", "pain_score", "radicular_pain",
    "diffuse_back_pain", "mechanical_pain", "refractory_to_conservative",
    "refractory_to_analgesics", "prior_radiotherapy_at_level", "deficit_onset_hours", "deficit_progressing",
    "compression_site", "sins",
]


# Fields this project adds to the dictionary, each documented in docs/knowledge-base.md.
ADDED_FIELDS = {"symptomatic_cement_leak"}
# The dictionary's Lesions section: the case key that holds one entry per vertebra.
LESIONS_KEY = "lesions"


def test_every_data_dictionary_field_is_in_the_model():
    assert set(Case.model_fields) == set(DICTIONARY_FIELDS) | ADDED_FIELDS | {LESIONS_KEY}


@pytest.mark.skipif(not (SHARED / "data-dictionary.md").exists(), reason="../shared is not beside the project")
def test_model_matches_the_shared_data_dictionary_table():
    text = (SHARED / "data-dictionary.md").read_text()
    case_table = text.split("## Case (input)")[1].split("SINS component codes")[0]
    names = re.findall(r"^\| `([a-z_]+)` \|", case_table, flags=re.M)
    assert names and set(names) == set(Case.model_fields) - ADDED_FIELDS - {LESIONS_KEY}
    assert f"## Lesions (`{LESIONS_KEY}`" in text


@pytest.mark.skipif(not (SHARED / "data-dictionary.md").exists(), reason="../shared is not beside the project")
def test_lesion_model_matches_the_shared_lesions_table():
    from spinemets.lesion import Lesion

    text = (SHARED / "data-dictionary.md").read_text()
    table = text.split("## Lesions")[1].split("## Options")[0]
    names = set(re.findall(r"`([a-z_]+)`", "\n".join(line.split(" | ")[0] for line in table.splitlines()
                                                         if line.startswith("| `"))))
    assert names == set(Lesion.model_fields)


def test_every_field_is_titled_described_and_grouped():
    for name, info in Case.model_fields.items():
        assert info.title and info.description, name
        assert (info.json_schema_extra or {}).get("group"), name


def test_only_id_is_required():
    case = case_from_data({"id": "bare"}).case
    assert known_values(case) == {}


@pytest.mark.parametrize("data, field, fragment", [
    ({"id": "x", "age": "old"}, "age", "expected a whole number"),
    ({"id": "x", "age": 60.5}, "age", "expected a whole number"),
    ({"id": "x", "karnofsky": 170}, "karnofsky", "must be <= 100"),
    ({"id": "x", "life_expectancy_months": "10"}, "life_expectancy_months", "without quotes"),
    ({"id": "x", "life_expectancy_months": -1}, "life_expectancy_months", "must be >= 0"),
    ({"id": "x", "coagulopathy": "true"}, "coagulopathy", "expected true or false"),
    ({"id": "x", "coagulopathy": 1}, "coagulopathy", "expected true or false"),
    ({"id": "x", "age": True}, "age", "expected a whole number"),
    ({"id": "x", "bilsky_grade": 2}, "bilsky_grade", "quote them"),
    ({"id": "x", "levels": ["Q7"]}, "levels.0", "expected one of"),
    ({"id": "x", "levels": ["L1", "L1"]}, "levels", "listed twice"),
    ({"id": "x", "levels": []}, "levels", "at least 1"),
    ({"id": "x", "sins": {"pain": "mechanic"}}, "sins.pain", "expected one of"),
    ({"id": "x", "height_loss_percent": float("nan")}, "height_loss_percent", "finite"),
    ({"id": "Jane Doe"}, "id", "no patient names"),
    ({"age": 60}, "id", "required"),
])
def test_bad_values_are_refused_with_the_field_and_what_was_expected(data, field, fragment):
    with pytest.raises(CaseError) as err:
        case_from_data(data)
    problems = {p.field: p.message for p in err.value.problems}
    assert field in problems, problems
    assert fragment in problems[field]


def test_unknown_keys_get_a_suggestion():
    with pytest.raises(CaseError) as err:
        case_from_data({"id": "x", "posterior_wall_defct": True, "sins": {"colapse": "none"}})
    messages = {p.field: p.message for p in err.value.problems}
    assert "did you mean 'posterior_wall_defect'" in messages["posterior_wall_defct"]
    assert "did you mean 'collapse'" in messages["sins.colapse"]


def test_all_problems_are_reported_at_once_with_lines():
    text = "id: x\nage: old\nkarnofsky: 170\ncoagulopathy: 'yes'\n"
    with pytest.raises(CaseError) as err:
        parse_case_text(text, "case.yaml")
    assert [(p.field, p.line) for p in err.value.problems] == [("age", 2), ("karnofsky", 3), ("coagulopathy", 4)]
    assert "case.yaml:3" in str(err.value)


@pytest.mark.parametrize("text, fragment", [
    ("id: [unclosed\n", "not valid YAML"),
    ("- a\n- list\n", "expected a mapping"),
    ("", "empty"),
    (b"\x00\x01\x02\xff", "binary"),
    (b"id: caf\xe9\n", "not UTF-8"),
    ("id: x\nage: 3\nage: 4\n", "duplicate key 'age'"),
    ('{"id": "x", "age": }', "not valid JSON"),
])
def test_unreadable_text_says_why(text, fragment):
    with pytest.raises(CaseError) as err:
        parse_case_text(text, "case.yaml" if not str(text).startswith("{") else "case.json")
    assert fragment in str(err.value)


def test_null_means_unknown():
    case = case_from_data({"id": "x", "coagulopathy": None, "sins": {"pain": None, "lesion": "lytic"}}).case
    assert known_values(case) == {"sins.lesion": "lytic"}


def test_json_and_yaml_give_the_same_case():
    yaml_case = parse_case_text("id: x\nage: 70\nlevels: [L2, T12]\nbilsky_grade: '1b'\n", "c.yaml").case
    json_case = parse_case_text('{"id": "x", "age": 70, "levels": ["L2", "T12"], "bilsky_grade": "1b"}', "c.json").case
    assert yaml_case == json_case
    assert yaml_case.levels == ["T12", "L2"]  # anatomical order


def test_values_computed_from_levels_and_sins(rulebook):
    case = case_from_data({"id": "x", "levels": ["T12", "L1", "L2"], "sins": {
        "location": "junctional", "pain": "mechanical", "lesion": "lytic", "alignment": "normal",
        "collapse": "under_50", "posterolateral": "unilateral"}}).case
    values, scores = case_values(case, rulebook)
    assert values["level_count"] == 3
    assert values["region_thoracic"] and values["region_lumbar"] and not values["region_cervical"]
    # 3 + 3 + 2 + 0 + 2 + 1 (Fisher et al. 2010)
    assert values["sins_total"] == 11 and values["sins_band"] == "indeterminate"
    assert scores["sins"].total == 11


def test_partial_sins_gives_a_range_and_no_total(rulebook):
    case = case_from_data({"id": "x", "sins": {"location": "rigid", "pain": "none", "lesion": "blastic"}}).case
    values, scores = case_values(case, rulebook)
    assert "sins_total" not in values
    assert (scores["sins"].minimum, scores["sins"].maximum) == (0, 10)
    assert scores["sins"].possible_bands == ("stable", "indeterminate")


def test_flat_values_round_trip():
    values = {"age": 70, "sins.pain": "none", "levels": ["L1"], "coagulopathy": False}
    assert known_values(case_from_values("x", values)) == {"age": 70, "coagulopathy": False, "levels": ["L1"],
                                                           "sins.pain": "none"}


def test_input_specs_cover_every_clinical_field():
    assert set(input_specs()) == set(input_fields()) - {"levels"}


def test_json_schema_export_carries_titles_and_ranges():
    schema = Case.model_json_schema()
    karnofsky = schema["properties"]["karnofsky"]["anyOf"][0]
    assert (karnofsky["minimum"], karnofsky["maximum"]) == (0, 100)
    assert schema["properties"]["karnofsky"]["title"] == "Karnofsky performance status"
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("field", ["title", "presentation"])
@pytest.mark.parametrize("blank", [" ", "\xa0", "\t\n", "\u2003"])
def test_a_text_of_blanks_alone_is_refused(field, blank):
    # found by the FHIR round trip: a title of one no-break space is not a FHIR string
    with pytest.raises(CaseError) as err:
        case_from_data({"id": "x", field: blank})
    assert "only blank characters" in {p.field: p.message for p in err.value.problems}[field]
