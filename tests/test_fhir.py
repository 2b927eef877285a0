"""FHIR R4: every vignette and every generated case survives case -> Bundle -> case; absent data stays unknown;
contradicting resources are input errors naming both; golden Bundles stay as exported.

Regenerate the golden Bundles after changing a vignette or the mapping:
    spinemets fhir export cases/*.yaml --out-dir tests/golden/fhir
"""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinemets import CaseError, read_case_file
from spinemets.case import Case, Sins, case_from_values
from spinemets.case_io import case_from_data, parse_case_text
from spinemets.commands.cli import main
from spinemets.fhir import bundle_to_case, bundle_to_document, case_to_bundle, load
from spinemets.fhir.publish import codesystem, mapping_table

from .conftest import CASES_DIR, ROOT
from .strategies import case_values, cases, make_consistent

GOLDEN = ROOT / "tests" / "golden" / "fhir"
VIGNETTES = sorted(CASES_DIR.glob("*.yaml"))
PROJECT = load().project
REGENERATE = "spinemets fhir export cases/*.yaml --out-dir tests/golden/fhir"


def _through_json(bundle: dict) -> dict:
    return json.loads(json.dumps(bundle))


def _bundle(*resources: dict, patient: dict | None = None) -> dict:
    entries = [{"resource": patient or {"resourceType": "Patient", "id": "p1"}}]
    entries += [{"resource": r} for r in resources]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _obs(rid: str, code: str, system: str = PROJECT, **value) -> dict:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": {"coding": [{"system": system, "code": code}]}, "subject": {"reference": "Patient/p1"}, **value}


def _condition(rid: str, code: str, verification: str = "confirmed", system: str = PROJECT, **more) -> dict:
    return {"resourceType": "Condition", "id": rid, "code": {"coding": [{"system": system, "code": code}]},
            "verificationStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]},
            "subject": {"reference": "Patient/p1"}, **more}


# --- the mapping covers the data dictionary ------------------------------------------------------------------


def test_every_case_field_and_sins_component_has_one_mapping():
    expected = {n for n in Case.model_fields if n not in ("sins", "lesions")} | {f"sins.{c}" for c in Sins.model_fields}
    assert set(load().fields) == expected


def test_the_codesystem_is_valid_fhir_and_holds_every_project_code_the_mapping_writes():
    resource = codesystem()
    codes = set()

    def walk(concepts):
        for c in concepts:
            codes.add(c["code"])
            walk(c.get("concept", []))
    walk(resource["concept"])
    assert resource["count"] == len(codes)
    for fmap in load().fields.values():
        for code in list(fmap.codes) + [c for answers in fmap.answers.values() for c in answers]:
            if code.system == PROJECT:
                assert code.code in codes, (fmap.name, code.code)
    assert {"vertebra:L2", "option:TAE_PVP", "override:patient_preference", "bilsky_grade:1a"} <= codes


def test_the_published_codesystem_and_mapping_table_are_current():
    published = json.loads((ROOT / "docs" / "fhir-codesystem.json").read_text())
    assert published == codesystem(), "regenerate: spinemets fhir codesystem --out docs/fhir-codesystem.json"
    doc = (ROOT / "docs" / "interoperability.md").read_text()
    assert mapping_table() in doc, "paste the output of `spinemets fhir mapping` into docs/interoperability.md"


# --- round trips ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_every_vignette_round_trips_through_a_bundle(path):
    case = read_case_file(path).case
    assert bundle_to_case(_through_json(case_to_bundle(case))) == case


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_every_vignette_has_its_golden_bundle(path):
    case = read_case_file(path).case
    golden = GOLDEN / f"{case.id}.json"
    assert golden.exists(), f"no golden Bundle for {case.id}: {REGENERATE}"
    assert json.loads(golden.read_text()) == case_to_bundle(case), f"golden Bundle out of date: {REGENERATE}"
    assert read_case_file(golden).case == case


def test_no_profile_is_claimed_that_the_written_resources_do_not_meet():
    # the Conditions use WHO ICD-10 categories and project codes where mCODE binds ICD-10-CM and SNOMED CT
    for path in sorted(GOLDEN.glob("*.json")):
        for entry in json.loads(path.read_text())["entry"]:
            assert "profile" not in entry["resource"].get("meta", {}), f"{path.name}: {entry['resource']['id']}"


def test_no_golden_bundle_without_its_vignette():
    ids = {read_case_file(p).case.id for p in VIGNETTES}
    assert {p.stem for p in GOLDEN.glob("*.json")} <= ids


@settings(max_examples=150)
@given(cases())
def test_generated_cases_round_trip(case):
    assert bundle_to_case(_through_json(case_to_bundle(case))) == case


@settings(max_examples=60)
@given(case_values(complete=True), st.text(min_size=1, max_size=40).filter(str.strip),
       st.text(min_size=1, max_size=200).filter(str.strip),
       st.sampled_from(["collection", "transaction"]))
def test_complete_cases_with_text_round_trip(values, title, presentation, bundle_type):
    case = case_from_values("gen-full", make_consistent(values), title=title, presentation=presentation)
    assert bundle_to_case(_through_json(case_to_bundle(case, bundle_type))) == case


def test_a_bundle_is_read_by_every_case_reader():
    case = read_case_file(VIGNETTES[0]).case
    bundle = case_to_bundle(case)
    assert case_from_data(bundle).case == case
    assert parse_case_text(json.dumps(bundle), "b.json").case == case
    assert parse_case_text(json.dumps(bundle).encode(), "upload").case == case


def test_evaluate_gives_the_same_decision_for_the_bundle_and_the_yaml(tmp_path, capsys):
    path = CASES_DIR / "tae-pvp-fig1-renal-l2-paravertebral.yaml"
    assert main(["fhir", "export", str(path), "--out", str(tmp_path / "b.json")]) == 0
    assert main(["evaluate", str(path), "--json"]) == 0
    from_yaml = capsys.readouterr().out
    assert main(["evaluate", str(tmp_path / "b.json"), "--json"]) == 0
    from_bundle = json.loads(capsys.readouterr().out)
    record = from_bundle.pop("record")  # the additive key: where each field was read
    assert from_bundle == json.loads(from_yaml)
    assert record["provenance"]["primary_tumor"]["resource"].startswith("Condition/")
    assert set(record["provenance"]) >= {"primary_tumor", "levels", "paravertebral_extension"}


# --- unknown is not false ------------------------------------------------------------------------------------


def test_a_bundle_with_only_a_patient_is_an_all_unknown_case():
    case = bundle_to_case(_bundle(patient={"resourceType": "Patient", "id": "p1", "gender": "unknown"}))
    assert case.id == "patient-p1"
    assert all(getattr(case, name) is None for name in Case.model_fields if name != "id")


@pytest.mark.parametrize("verification, clinical, expected", [
    ("confirmed", "active", True), ("confirmed", None, True), ("refuted", None, False),
    ("confirmed", "resolved", False), ("unconfirmed", None, None), ("provisional", "active", None),
    ("entered-in-error", None, None),
])
def test_condition_statuses(verification, clinical, expected):
    more = {"clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": clinical}]}} if clinical else {}
    case = bundle_to_case(_bundle(_condition("c1", "coagulopathy", verification, **more)))
    assert case.coagulopathy is expected


def test_an_observation_without_value_or_cancelled_is_unknown():
    absent = _obs("o1", "epidural_involvement", dataAbsentReason={"text": "not assessed"})
    cancelled = {**_obs("o2", "pedicle_lysis", valueBoolean=True), "status": "cancelled"}
    case = bundle_to_case(_bundle(absent, cancelled))
    assert case.epidural_involvement is None and case.pedicle_lysis is None


# --- contradictions and errors -------------------------------------------------------------------------------


def _voided(document, field):
    return [n for n in document.record.notes if n.kind == "voided" and n.field == field]


def test_two_undated_resources_that_disagree_void_the_field_and_are_named():
    pain = _obs("p", "72514-3", "http://loinc.org", valueQuantity={"value": 7})
    document = bundle_to_document(_bundle(_obs("a", "epidural_involvement", valueBoolean=True),
                                          _obs("b", "epidural_involvement", valueBoolean=False), pain), "x.json")
    assert document.case.epidural_involvement is None and document.case.pain_score == 7
    note = _voided(document, "epidural_involvement")[-1]  # the note naming both (each statement is named too)
    assert "Observation/a" in note.message and "Observation/b" in note.message
    with pytest.raises(CaseError):  # nothing else in the Bundle: nothing can be read
        bundle_to_case(_bundle(_obs("a", "epidural_involvement", valueBoolean=True),
                               _obs("b", "epidural_involvement", valueBoolean=False)), "x.json")


def test_a_condition_and_its_refutation_undated_void_the_field():
    document = bundle_to_document(_bundle(_condition("c1", "active_infection"),
                                          _condition("c2", "active_infection", "refuted"),
                                          _obs("p", "pedicle_lysis", valueBoolean=True)))
    assert document.case.active_infection is None and document.case.pedicle_lysis is True
    note = _voided(document, "active_infection")[-1]
    assert "Condition/c1" in note.message and "Condition/c2" in note.message


def test_the_newer_of_two_dated_statements_counts():
    old = _obs("a", "89243-0", "http://loinc.org", valueInteger=80, effectiveDateTime="2024-01-02")
    new = _obs("b", "89243-0", "http://loinc.org", valueInteger=50, effectiveDateTime="2024-03-01T10:00:00Z")
    stamp = {"timestamp": "2024-03-05T00:00:00Z"}
    assert bundle_to_case({**_bundle(old, new), **stamp}).karnofsky == 50
    same_day = _obs("c", "89243-0", "http://loinc.org", valueInteger=60, effectiveDateTime="2024-03-01T10:00:00Z")
    pain = _obs("p", "72514-3", "http://loinc.org", valueQuantity={"value": 7})
    document = bundle_to_document({**_bundle(old, new, same_day, pain), **stamp})
    assert document.case.karnofsky is None and _voided(document, "karnofsky")


def test_a_value_older_than_its_window_or_dated_in_the_future_is_not_current():
    stale = _obs("k", "89243-0", "http://loinc.org", valueInteger=80, effectiveDateTime="2024-01-02")
    future = _obs("p", "72514-3", "http://loinc.org", valueQuantity={"value": 7}, effectiveDateTime="2030-01-01")
    lysis = _obs("l", "pedicle_lysis", valueBoolean=True)
    document = bundle_to_document({**_bundle(stale, future, lysis), "timestamp": "2024-06-01T00:00:00Z"})
    assert document.case.karnofsky is None and document.case.pain_score is None
    ignored = " ".join(n.message for n in document.record.of("ignored"))
    assert "Observation/k" in ignored and "90 days" in ignored and "Observation/p" in ignored and "2030" in ignored


def test_agreeing_duplicates_are_not_a_contradiction():
    case = bundle_to_case(_bundle(_obs("a", "pedicle_lysis", valueBoolean=True),
                                  _obs("b", "pedicle_lysis", valueBoolean=True)))
    assert case.pedicle_lysis is True


def test_two_patients_or_another_patients_resource_are_refused():
    bundle = _bundle(_obs("a", "pedicle_lysis", valueBoolean=True))
    two = copy.deepcopy(bundle)
    two["entry"].append({"resource": {"resourceType": "Patient", "id": "p2"}})
    with pytest.raises(CaseError, match="two patients"):
        bundle_to_case(two)
    other = copy.deepcopy(bundle)
    other["entry"][1]["resource"]["subject"] = {"reference": "Patient/p9"}
    with pytest.raises(CaseError, match="Patient/p9"):
        bundle_to_case(other)


def test_without_a_patient_entry_the_resources_must_name_one_patient():
    a = _obs("a", "pedicle_lysis", valueBoolean=True)
    b = {**_obs("b", "epidural_involvement", valueBoolean=True), "subject": {"reference": "Patient/OTHER"}}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": a}, {"resource": b}]}
    with pytest.raises(CaseError, match="Patient/OTHER"):
        bundle_to_case(bundle)


def test_the_expected_patient_is_the_only_one_read():
    bundle = _bundle(_obs("a", "pedicle_lysis", valueBoolean=True))
    assert bundle_to_document(bundle, patient_id="p1").case.pedicle_lysis is True
    with pytest.raises(CaseError, match="not Patient/p2"):
        bundle_to_document(bundle, patient_id="p2")
    unnamed = copy.deepcopy(bundle)
    del unnamed["entry"][1]["resource"]["subject"]
    with pytest.raises(CaseError, match="Observation/a names no patient"):
        bundle_to_document(unnamed, patient_id="p1")


def test_invalid_fhir_voids_its_field_and_names_the_resource_and_element():
    bad = _obs("o1", "30525-0", "http://loinc.org", valueQuantity={"value": "sixty", "code": "a"})
    with pytest.raises(CaseError) as err:  # the only resource: nothing can be read
        bundle_to_case(_bundle(bad), "in.json")
    assert "Observation/o1 is not valid FHIR R4" in str(err.value) and "valueQuantity" in str(err.value)
    document = bundle_to_document(_bundle(bad, _obs("l", "pedicle_lysis", valueBoolean=True)))
    assert document.case.age is None and document.case.pedicle_lysis is True and _voided(document, "age")


def test_an_unknown_project_code_and_an_unread_unit_void_the_field():
    lysis = _obs("l", "pedicle_lysis", valueBoolean=True)
    document = bundle_to_document(_bundle(lysis, _obs("o1", "bilsky_grade", valueCodeableConcept={
        "coding": [{"system": PROJECT, "code": "bilsky_grade:4"}]})))
    assert document.case.bilsky_grade is None
    assert "not a code of the spinemets CodeSystem" in _voided(document, "bilsky_grade")[0].message
    document = bundle_to_document(_bundle(lysis, _obs("o1", "30525-0", "http://loinc.org",
                                                      valueQuantity={"value": 60, "code": "kg"})))
    assert document.case.age is None and "unit 'kg'" in _voided(document, "age")[0].message


def test_a_bundle_whose_only_value_is_out_of_range_cannot_be_read():
    with pytest.raises(CaseError, match="nothing in the Bundle can be read"):
        bundle_to_document(_bundle(_obs("k", "89243-0", "http://loinc.org", valueInteger=150)))


def test_a_value_out_of_range_voids_the_field_and_names_the_resource():
    document = bundle_to_document(_bundle(_obs("k", "89243-0", "http://loinc.org", valueInteger=150),
                                          _obs("l", "pedicle_lysis", valueBoolean=True)))
    assert document.case.karnofsky is None and document.case.pedicle_lysis is True
    [note] = _voided(document, "karnofsky")
    assert "Observation/k" in note.message


# --- issue 21.1: every value read strictly by its JSON type ---------------------------------------------------


@pytest.mark.parametrize("field, code, system, value", [
    ("posterior_wall_defect", "posterior_wall_defect", PROJECT, {"valueBoolean": "false"}),
    ("posterior_wall_defect", "posterior_wall_defect", PROJECT, {"valueBoolean": 0}),
    ("karnofsky", "89243-0", "http://loinc.org", {"valueInteger": "80"}),
    ("karnofsky", "89243-0", "http://loinc.org", {"valueInteger": True}),
    ("pain_score", "72514-3", "http://loinc.org", {"valueQuantity": {"value": "8"}}),
    ("pain_score", "72514-3", "http://loinc.org", {"valueQuantity": {"value": True}}),
    ("bilsky_grade", "bilsky_grade", PROJECT, {"valueCodeableConcept": {"coding": [{"system": PROJECT,
                                                                                     "code": 3}]}}),
])
def test_a_value_of_the_wrong_json_type_voids_its_field(field, code, system, value):
    document = bundle_to_document(_bundle(_obs("v", code, system, **value),
                                          _obs("l", "pedicle_lysis", valueBoolean=True)))
    assert getattr(document.case, field) is None, "a value of the wrong JSON type must never become a value"
    assert document.case.pedicle_lysis is True
    [note] = _voided(document, field)
    assert "Observation/v" in note.message


_ELEMENT = {"boolean": "valueBoolean", "integer": "valueInteger", "quantity": "valueQuantity"}
_WRONG = {"boolean": ["true", "false", 1, 0, None, [True], {"value": True}],
          "integer": ["3", 3.5, True, [3], {"value": 3}],
          "quantity": [{"value": "3"}, {"value": True}, {"value": [3]}, "3", 3, {"value": 3, "code": 7}]}


@pytest.mark.parametrize("fmap", [f for f in load().fields.values() if f.kind in _ELEMENT], ids=lambda f: f.name)
def test_no_observation_field_takes_a_value_of_the_wrong_json_type(fmap):
    code = fmap.codes[0]
    for wrong in _WRONG[fmap.kind]:
        resource = _obs("w", code.code, code.system, **{_ELEMENT[fmap.kind]: wrong})
        try:
            document = bundle_to_document(_bundle(resource, _obs("l", "pedicle_lysis", valueBoolean=True))
                                          if fmap.name != "pedicle_lysis" else _bundle(
                                              resource, _obs("e", "epidural_involvement", valueBoolean=True)))
        except CaseError:
            continue  # refused outright is safe too
        value = document.case.sins if fmap.name.startswith("sins.") else getattr(document.case, fmap.name)
        assert value is None, f"{fmap.name} took {value!r} from {_ELEMENT[fmap.kind]}: {wrong!r}"


def test_a_string_false_never_flips_the_decision(tmp_path, capsys):
    path = CASES_DIR / "teach-sins-unstable-t12.yaml"
    bundle = case_to_bundle(read_case_file(path).case.model_copy(update={"posterior_wall_defect": False}))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if any(c.get("code") == "posterior_wall_defect" for c in resource.get("code", {}).get("coding", [])):
            resource["valueBoolean"] = "false"
    target = tmp_path / "b.json"
    target.write_text(json.dumps(bundle))
    assert main(["evaluate", str(target), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "posterior_wall_defect" in err and "valueBoolean must be JSON true or false" in err
    assert bundle_to_document(bundle).case.posterior_wall_defect is None


# --- standard codes read -------------------------------------------------------------------------------------


@pytest.mark.parametrize("system, code, expected", [
    ("http://hl7.org/fhir/sid/icd-10-cm", "C34.90", "lung"),
    ("http://hl7.org/fhir/sid/icd-10", "C50.9", "breast"),
    ("http://hl7.org/fhir/sid/icd-10", "C18.7", "colorectal"),
    ("http://hl7.org/fhir/sid/icd-10-cm", "C90.00", "multiple_myeloma"),
    ("http://hl7.org/fhir/sid/icd-10", "C92.1", "leukemia"),
    ("http://terminology.hl7.org/CodeSystem/icd-o-3", "9732/3", "multiple_myeloma"),
    ("http://hl7.org/fhir/sid/icd-10", "C25.9", "other"),
    ("http://hl7.org/fhir/sid/icd-10", "C80.0", "unknown_primary"),
    ("http://hl7.org/fhir/sid/icd-10", "C79.5", None),  # a secondary is no primary
])
def test_primary_tumour_from_icd_codes(system, code, expected):
    case = bundle_to_case(_bundle(_condition("t", code, system=system)))
    assert case.primary_tumor == expected


def test_two_active_primaries_leave_the_primary_unknown_and_a_resolved_one_is_history():
    lung = _condition("t1", "C34.1", system="http://hl7.org/fhir/sid/icd-10")
    breast = _condition("t2", "C50.4", system="http://hl7.org/fhir/sid/icd-10")
    document = bundle_to_document(_bundle(lung, breast, _obs("l", "pedicle_lysis", valueBoolean=True)))
    assert document.case.primary_tumor is None
    note = _voided(document, "primary_tumor")[-1]
    assert "Condition/t1" in note.message and "Condition/t2" in note.message
    breast["clinicalStatus"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                            "code": "resolved"}]}
    assert bundle_to_case(_bundle(lung, breast)).primary_tumor == "lung"


def test_levels_gather_the_vertebrae_of_every_spinal_metastasis_condition():
    def sec(rid, *levels):
        return _condition(rid, "C79.51", system="http://hl7.org/fhir/sid/icd-10-cm", bodySite=[
            {"coding": [{"system": PROJECT, "code": f"vertebra:{lv}"}]} for lv in levels])
    case = bundle_to_case(_bundle(sec("s1", "L2", "T12"), sec("s2", "L2")))
    assert case.levels == ["T12", "L2"]


def test_age_in_months_reads_as_whole_years_and_pain_without_unit_as_score():
    case = bundle_to_case(_bundle(_obs("a", "30525-0", "http://loinc.org", valueQuantity={"value": 779, "code": "mo",
                                                                                          "system": "http://unitsofmeasure.org"}),
                                  _obs("p", "72514-3", "http://loinc.org", valueQuantity={"value": 6.5})))
    assert case.age == 64 and case.pain_score == 6.5


# --- the export command --------------------------------------------------------------------------------------


def test_export_writes_each_bundle_whole(tmp_path, capsys):
    assert main(["fhir", "export", *map(str, VIGNETTES[:3]), "--out-dir", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert len(written) == 3 and all(name.endswith(".json") for name in written)  # no temporary file left
    assert main(["fhir", "export", *map(str, VIGNETTES[:2])]) == 2
    assert "--out-dir" in capsys.readouterr().err


def test_export_makes_a_missing_out_dir_and_refuses_one_that_is_a_file(tmp_path, capsys):
    folder = tmp_path / "bundles" / "today"  # as docs/interoperability.md shows: a folder that is not there yet
    assert main(["fhir", "export", *map(str, VIGNETTES[:2]), "--out-dir", str(folder)]) == 0
    assert len(list(folder.glob("*.json"))) == 2
    (tmp_path / "plain").write_text("x")
    assert main(["fhir", "export", str(VIGNETTES[0]), "--out-dir", str(tmp_path / "plain")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_import_prints_the_case_and_refuses_a_case_file(tmp_path, capsys):
    path = CASES_DIR / "teach-sins-unstable-t12.yaml"
    main(["fhir", "export", str(path), "--out", str(tmp_path / "b.json")])
    capsys.readouterr()
    assert main(["fhir", "import", str(tmp_path / "b.json")]) == 0
    assert parse_case_text(capsys.readouterr().out, "x.yaml").case == read_case_file(path).case
    assert main(["fhir", "import", str(path)]) == 2


def test_import_explain_lists_sources_and_everything_not_read_and_exits_2_only_when_nothing_is_read(tmp_path, capsys):
    corpus = ROOT / "tests" / "fixtures" / "ehr"
    assert main(["fhir", "import", "--explain", str(corpus / "claims-icd10cm-prostate-fracture.json")]) == 0
    out, err = capsys.readouterr()
    assert "primary_tumor: prostate" in out and "pathological_fracture: true" in out
    assert "read pathological_fracture from Condition/fracture, 2026-08-01" in err
    assert "Condition/collapse (ICD-10-CM M48.56XA): no field of the case reads it" in err
    assert "MedicationStatement/warfarin (warfarin) has status 'completed'" in err
    assert main(["fhir", "import", str(corpus / "claims-icd10cm-prostate-fracture.json")]) == 0
    assert "not read (spinemets fhir import --explain lists them)" in capsys.readouterr().err
    nothing = _bundle(_obs("k", "89243-0", "http://loinc.org", valueInteger="80"))
    (tmp_path / "n.json").write_text(json.dumps(nothing))
    assert main(["fhir", "import", str(tmp_path / "n.json")]) == 2
    assert "nothing in the Bundle can be read" in capsys.readouterr().err
