"""FHIR R4 and lesions (issue 19): a case in lesion form is one metastasis Condition per lesion with the SNOMED CT
body structure of its vertebra, and its findings on that vertebra; a record that describes its vertebrae one by one
is read as lesions, each finding on its own vertebra, never on one the reader chose; flat records read as before.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinemets.case import PER_LEVEL_FIELDS, VERTEBRAE, Case
from spinemets.commands.cli import main
from spinemets.fhir import bundle_to_case, bundle_to_document, case_to_bundle, load
from spinemets.lesion import LESION_ONLY_FIELDS

from .conftest import ROOT
from .strategies import INPUTS, values_for

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
PROJECT = load().project
SNOMED_OF = {level: code.code for level, code in load().vertebra_codes.items()}
PER_LEVEL = [n for n in INPUTS if n.split(".")[0] in PER_LEVEL_FIELDS]
PATIENT = [n for n in INPUTS if n.split(".")[0] not in PER_LEVEL_FIELDS]


def _json(bundle: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(bundle))


def _resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"]]


# --- the vertebrae's SNOMED CT codes ------------------------------------------------------------------------

_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
      [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
      [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
      [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
      [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
      [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]


def _verhoeff_ok(number: str) -> bool:
    check = 0
    for i, digit in enumerate(reversed(number)):
        check = _D[check][_P[i % 8][int(digit)]]
    return check == 0


def test_every_vertebra_has_a_verified_snomed_concept_code():
    data = yaml.safe_load((ROOT / "engine" / "fhir" / "vertebrae.yaml").read_text())["vertebrae"]
    header = (ROOT / "engine" / "fhir" / "vertebrae.yaml").read_text().split("vertebrae:")[0]
    assert list(data) == list(VERTEBRAE)
    for level, spec in data.items():
        code = spec["snomed"]
        # an SCTID: its last digit is the Verhoeff check digit, the two before it say "concept" (00)
        assert isinstance(code, str) and code.isdigit() and _verhoeff_ok(code) and code[-3:-1] == "00", level
        assert spec["verified_in"] and all(f"#   {source}" in header for source in spec["verified_in"]), level
    assert len({s["snomed"] for s in data.values()}) == len(VERTEBRAE)
    assert SNOMED_OF["T11"] == data["T11"]["snomed"]


# --- export ----------------------------------------------------------------------------------------------------

TWO_LESIONS = {"id": "two-lesions", "age": 70, "primary_tumor": "breast", "karnofsky": 70, "lesions": [
    {"level": "L1", "spinal_cord_compression": True, "bilsky_grade": "2", "epidural_involvement": True},
    {"level": "T11", "pathological_fracture": True, "height_loss_percent": 30, "painful": True,
     "sins": {"location": "junctional", "collapse": "under_50"}}]}


def test_each_lesion_is_a_metastasis_condition_with_its_snomed_vertebra_and_findings_tied_to_it():
    bundle = case_to_bundle(Case.model_validate(TWO_LESIONS))
    resources = _resources(bundle)
    urls = {e["resource"]["id"]: e["fullUrl"] for e in bundle["entry"]}
    metastases = [r for r in resources if r["id"].endswith("-metastasis")]
    assert [r["id"] for r in metastases] == ["l1-metastasis", "t11-metastasis"]  # the case's order
    for r, level in zip(metastases, ("L1", "T11"), strict=True):
        assert {"system": ICD10CM.replace("-cm", ""), "code": "C79.5"}.items() <= r["code"]["coding"][0].items()
        site = r["bodySite"][0]["coding"]
        assert site[0] == {"system": SNOMED, "code": SNOMED_OF[level], "display": load().vertebra_codes[level].display}
        assert site[1]["code"] == f"vertebra:{level}"
    fracture = next(r for r in resources if r["id"] == "t11-pathological-fracture")
    assert fracture["resourceType"] == "Condition" and fracture["bodySite"][0]["coding"][0]["code"] == SNOMED_OF["T11"]
    height = next(r for r in resources if r["id"] == "t11-height-loss-percent")
    assert height["bodySite"]["coding"][0]["code"] == SNOMED_OF["T11"]
    assert height["focus"] == [{"reference": urls["t11-metastasis"]}]
    painful = next(r for r in resources if r["id"] == "t11-painful")
    assert painful["code"]["coding"][0] == {"system": PROJECT, "code": "painful", "display": "Pain generator"}
    # the patient's own fields are written once, without a vertebra
    karnofsky = next(r for r in resources if r["id"] == "karnofsky")
    assert "bodySite" not in karnofsky and "focus" not in karnofsky
    assert not any(r["id"] in ("levels", "pathological-fracture", "bilsky-grade") for r in resources)


def test_a_flat_case_is_exported_without_snomed_vertebrae_as_before():
    flat = Case.model_validate({"id": "flat", "levels": ["T11", "L1"], "pathological_fracture": True})
    resources = _resources(case_to_bundle(flat))
    levels = next(r for r in resources if r["id"] == "levels")
    assert [s["coding"] for s in levels["bodySite"]] == [
        [{"system": PROJECT, "code": f"vertebra:{lv}", "display": f"{lv} vertebra"}] for lv in ("T11", "L1")]
    assert all("bodySite" not in r for r in resources if r["id"] == "pathological-fracture")


# --- round trips -------------------------------------------------------------------------------------------------


@st.composite
def lesion_cases(draw, min_lesions: int = 2, max_lesions: int = 6) -> Case:
    """A case in lesion form: patient fields at random, 2-6 lesions each with per-level findings at random."""
    data: dict[str, Any] = {"id": f"gen-lesions-{draw(st.integers(0, 10**6))}"}
    for name in PATIENT:
        if draw(st.booleans()):
            data[name] = draw(values_for(INPUTS[name]))
    levels = draw(st.lists(st.sampled_from(VERTEBRAE), min_size=min_lesions, max_size=max_lesions, unique=True))
    lesions = []
    for level in levels:
        lesion: dict[str, Any] = {"level": level}
        for name in PER_LEVEL:
            if draw(st.integers(0, 3)) == 0:
                value = draw(values_for(INPUTS[name]))
                if name.startswith("sins."):
                    lesion.setdefault("sins", {})[name.split(".", 1)[1]] = value
                else:
                    lesion[name] = value
        for name in LESION_ONLY_FIELDS:
            if draw(st.booleans()):
                lesion[name] = draw(st.booleans())
        lesions.append(lesion)
    data["lesions"] = lesions
    return Case.model_validate(data)


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(lesion_cases(), st.sampled_from(["collection", "transaction"]))
def test_generated_lesion_cases_round_trip(case, bundle_type):
    document = bundle_to_document(_json(case_to_bundle(case, bundle_type)))
    assert document.case == case
    assert document.record.of("voided") == [] and document.record.of("question") == []


@pytest.mark.parametrize("data", [
    TWO_LESIONS,
    {"id": "three-contiguous", "lesions": [{"level": lv, "pathological_fracture": True, "painful": lv != "L2"}
                                           for lv in ("T12", "L1", "L2")]},
    {"id": "cervical-and-sacral", "sex": "male", "lesions": [
        {"level": "C1", "sins": {"location": "junctional"}}, {"level": "S5", "pain_score": 3.5}]},
    {"id": "levels-only", "lesions": [{"level": "T4"}, {"level": "T8"}]},
], ids=lambda d: d["id"])
def test_lesion_examples_round_trip(data):
    case = Case.model_validate(data)
    assert bundle_to_case(_json(case_to_bundle(case))) == case


def test_one_lesion_round_trips_as_a_lesion_when_it_has_a_lesion_finding_else_as_its_flat_case():
    own = Case.model_validate({"id": "one", "lesions": [{"level": "T9", "painful": True, "height_loss_percent": 20}]})
    assert bundle_to_case(_json(case_to_bundle(own))) == own
    plain = Case.model_validate({"id": "one", "lesions": [{"level": "T9", "height_loss_percent": 20}]})
    assert bundle_to_case(_json(case_to_bundle(plain))) == Case.model_validate(
        {"id": "one", "levels": ["T9"], "height_loss_percent": 20})


def test_exported_lesion_bundles_pass_the_second_validator(tmp_path):
    node = ROOT / "node_modules" / "fhir"
    if not (shutil.which("node") and node.is_dir()):
        pytest.skip("the second FHIR validator is not installed (npm ci)")
    paths = []
    for i, data in enumerate([TWO_LESIONS, {"id": "s", "lesions": [{"level": "S1", "painful": False},
                                                                  {"level": "C2", "compression_site": "cord"}]}]):
        for kind in ("collection", "transaction"):
            path = tmp_path / f"b{i}-{kind}.json"
            path.write_text(json.dumps(case_to_bundle(Case.model_validate(data), kind)))
            paths.append(path)
    out = subprocess.run(["node", str(ROOT / "tests" / "fhir_validate.js"), *map(str, paths)], capture_output=True,
                         text=True, check=True, timeout=300).stdout
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == len(paths) and all(r["valid"] and not r["errors"] for r in results), results


def test_the_command_line_exports_and_imports_a_lesion_case(tmp_path, capsys):
    case_file = tmp_path / "two.yaml"
    case_file.write_text(yaml.safe_dump(TWO_LESIONS))
    out = tmp_path / "two.json"
    assert main(["fhir", "export", str(case_file), "--out", str(out)]) == 0
    assert main(["fhir", "import", str(out)]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert [lesion["level"] for lesion in printed["lesions"]] == ["L1", "T11"]
    assert Case.model_validate(printed) == Case.model_validate(TWO_LESIONS)


# --- reading a hospital's record -------------------------------------------------------------------------------


def _patient() -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", "gender": "female"}


def _site(*levels: str, project: bool = False) -> dict[str, Any]:
    codings = [{"system": PROJECT, "code": f"vertebra:{lv}"} if project else
               {"system": SNOMED, "code": SNOMED_OF[lv]} for lv in levels]
    return {"coding": codings, "text": " and ".join(levels)}


def _metastasis(rid: str, *levels: str, recorded: str = "2026-10-01") -> dict[str, Any]:
    return {"resourceType": "Condition", "id": rid,
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                               "code": "confirmed"}]},
            "code": {"coding": [{"system": ICD10CM, "code": "C79.51",
                                 "display": "Secondary malignant neoplasm of bone"}]},
            "bodySite": [_site(lv) for lv in levels], "subject": {"reference": "Patient/p1"},
            "recordedDate": recorded}


def _fracture(rid: str, *levels: str) -> dict[str, Any]:
    resource = _metastasis(rid, *levels)
    resource["code"] = {"coding": [{"system": ICD10CM, "code": "M84.58XA"}]}
    return resource


def _obs(rid: str, code: str, system: str = PROJECT, site: dict[str, Any] | None = None,
         focus: str | None = None, when: str | None = None, **value: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Observation", "id": rid, "status": "final",
                                "code": {"coding": [{"system": system, "code": code}]},
                                "subject": {"reference": "Patient/p1"}, **value}
    if site is not None:
        resource["bodySite"] = site
    if focus is not None:
        resource["focus"] = [{"reference": focus}]
    if when is not None:
        resource["effectiveDateTime"] = when
    return resource


def _read(*resources: dict[str, Any]):
    bundle = {"resourceType": "Bundle", "type": "collection", "timestamp": "2026-11-20T10:00:00Z",
              "entry": [{"resource": _patient()}] + [{"resource": r} for r in resources]}
    return bundle_to_document(bundle)


def _notes(document, kind: str) -> list[str]:
    return [n.message for n in document.record.notes if n.kind == kind]


def test_an_ehr_record_with_metastases_at_three_vertebrae_gives_a_lesion_per_vertebra():
    document = _read(_metastasis("m-l1", "L1"), _metastasis("m-t11", "T11"), _metastasis("m-l3", "L3"),
                     _fracture("fx", "L1"))
    case = document.case
    assert [lesion.level for lesion in case.lesions] == ["L1", "T11", "L3"]
    assert case.levels is None and case.pathological_fracture is None
    assert [lesion.pathological_fracture for lesion in case.lesions] == [True, None, None]
    assert document.record.provenance["lesions.0.pathological_fracture"].resource == "Condition/fx"
    assert document.record.provenance["lesions.1.level"].resource == "Condition/m-t11"
    assert not any("bodySite" in m for m in _notes(document, "ignored"))  # SNOMED body sites are read


def test_a_single_site_snomed_record_is_the_flat_case_it_always_was():
    document = _read(_metastasis("m", "T11"), _fracture("fx", "T11"),
                     _obs("pain", "72514-3", LOINC, valueQuantity={"value": 7}))
    case = document.case
    assert case.lesions is None and case.levels == ["T11"]
    assert case.pathological_fracture is True and case.pain_score == 7


def test_one_condition_naming_several_vertebrae_with_findings_that_name_none_stays_flat():
    case = _read(_metastasis("m", "T12", "L1", "L2"), _obs("h", "height_loss_percent",
                                                          valueQuantity={"value": 40, "code": "%"})).case
    assert case.lesions is None and case.levels == ["T12", "L1", "L2"] and case.height_loss_percent == 40


def test_a_finding_that_names_no_vertebra_is_not_put_on_any_of_several_lesions():
    document = _read(_metastasis("a", "T11"), _metastasis("b", "L1"),
                     _obs("pain", "72514-3", LOINC, valueQuantity={"value": 8}))
    assert all(lesion.pain_score is None for lesion in document.case.lesions)
    voided = [n for n in document.record.notes if n.kind == "voided" and n.resource == "Observation/pain"]
    assert len(voided) == 1 and "names no vertebra" in voided[0].message and "T11, L1" in voided[0].message


def test_with_one_lesion_a_finding_without_a_vertebra_is_that_lesions():
    case = _read(_metastasis("a", "T11"), _obs("p", "painful", valueBoolean=True),
                 _obs("pain", "72514-3", LOINC, valueQuantity={"value": 8})).case
    assert case.lesions is not None and len(case.lesions) == 1
    assert case.lesions[0].painful is True and case.lesions[0].pain_score == 8


def test_focus_on_a_metastasis_places_a_finding_and_a_body_site_that_contradicts_it_voids_it():
    document = _read(_metastasis("a", "T11"), _metastasis("b", "L1"),
                     _obs("h", "height_loss_percent", focus="Condition/b", valueQuantity={"value": 35}),
                     _obs("k", "kyphosis_degrees", site=_site("T11"), focus="Condition/b",
                          valueQuantity={"value": 12}),
                     _obs("w", "posterior_wall_defect", site=_site("T11", project=True), valueBoolean=True))
    t11, l1 = document.case.lesions
    assert l1.height_loss_percent == 35 and t11.height_loss_percent is None
    assert t11.kyphosis_degrees is None and l1.kyphosis_degrees is None
    assert any("Observation/k" in m and "focus is the metastasis at L1" in m for m in _notes(document, "voided"))
    assert t11.posterior_wall_defect is True and l1.posterior_wall_defect is None


def test_duplicates_newer_and_conflicting_statements_are_resolved_per_lesion():
    document = _read(
        _metastasis("a", "T11"), _metastasis("b", "L1"),
        # T11: the same value resent agrees
        _obs("h1", "height_loss_percent", site=_site("T11"), valueQuantity={"value": 30}),
        _obs("h2", "height_loss_percent", site=_site("T11"), valueQuantity={"value": 30}),
        # L1: two dated values, the newer counts; it is not mixed up with T11's
        _obs("h3", "height_loss_percent", site=_site("L1"), when="2026-09-01", valueQuantity={"value": 20}),
        _obs("h4", "height_loss_percent", site=_site("L1"), when="2026-11-01", valueQuantity={"value": 45}),
        # T11 undated values that disagree: unknown at T11 only
        _obs("e1", "epidural_involvement", site=_site("T11"), valueBoolean=True),
        _obs("e2", "epidural_involvement", site=_site("T11"), valueBoolean=False),
        _obs("e3", "epidural_involvement", site=_site("L1"), valueBoolean=True))
    t11, l1 = document.case.lesions
    assert (t11.height_loss_percent, l1.height_loss_percent) == (30, 45)
    assert t11.epidural_involvement is None and l1.epidural_involvement is True
    voided = [n for n in document.record.notes if n.kind == "voided" and n.field == "lesions.0.epidural_involvement"]
    assert voided and "Observation/e1" in voided[-1].message and "Observation/e2" in voided[-1].message


def test_a_stale_value_is_not_current_at_its_lesion():
    document = _read(_metastasis("a", "T11"), _metastasis("b", "L1"),
                     _obs("p", "72514-3", LOINC, site=_site("L1"), when="2026-01-05", valueQuantity={"value": 9}),
                     _obs("q", "72514-3", LOINC, site=_site("T11"), when="2026-11-19", valueQuantity={"value": 4}))
    t11, l1 = document.case.lesions
    assert t11.pain_score == 4 and l1.pain_score is None
    assert any("Observation/p" in m and "not read as current" in m for m in _notes(document, "ignored"))


def test_a_value_that_cannot_be_read_voids_the_field_at_its_lesion_only():
    document = _read(_metastasis("a", "T11"), _metastasis("b", "L1"),
                     _obs("w1", "posterior_wall_defect", site=_site("T11"), valueBoolean="true"),
                     _obs("w2", "posterior_wall_defect", site=_site("L1"), valueBoolean=True))
    t11, l1 = document.case.lesions
    assert t11.posterior_wall_defect is None and l1.posterior_wall_defect is True
    assert any("Observation/w1" in m for m in _notes(document, "voided"))


def test_a_value_out_of_range_voids_that_lesions_field_and_the_rest_is_read():
    document = _read(_metastasis("a", "T11"), _metastasis("b", "L1"),
                     _obs("h", "height_loss_percent", site=_site("L1"), valueQuantity={"value": 140}),
                     _obs("k", "kyphosis_degrees", site=_site("L1"), valueQuantity={"value": 10}))
    t11, l1 = document.case.lesions
    assert l1.height_loss_percent is None and l1.kyphosis_degrees == 10
    assert any(n.field == "lesions.1.height_loss_percent" for n in document.record.notes if n.kind == "voided")


def test_a_finding_at_a_vertebra_without_a_metastasis_is_not_read_there():
    document = _read(_metastasis("a", "T11"), _metastasis("b", "L1"), _fracture("fx", "L4"))
    assert all(lesion.pathological_fracture is None for lesion in document.case.lesions)
    assert [lesion.level for lesion in document.case.lesions] == ["T11", "L1"]
    assert any("Condition/fx" in m and "no spinal metastasis" in m for m in _notes(document, "ignored"))


def test_one_body_site_whose_codes_name_two_vertebrae_is_never_read_as_both():
    bad = _metastasis("m", "T11")
    bad["bodySite"] = [{"coding": [{"system": SNOMED, "code": SNOMED_OF["T11"]},
                                   {"system": PROJECT, "code": "vertebra:T12"}]}]
    document = _read(bad)
    assert document.case.levels is None and document.case.lesions is None
    assert any("T11, T12 at once" in m for m in _notes(document, "voided"))


def test_a_fracture_condition_at_two_vertebrae_is_a_fracture_at_each():
    case = _read(_metastasis("a", "T12"), _metastasis("b", "L1"), _metastasis("c", "L3"),
                 _fracture("fx", "T12", "L1")).case
    assert [lesion.pathological_fracture for lesion in case.lesions] == [True, True, None]


def test_the_issue_22_single_site_record_reads_the_vertebra_from_snomed():
    document = _read(_metastasis("m", "L1"))
    assert document.case.levels == ["L1"]
    assert document.record.provenance["levels"].resource == "Condition/m"
    assert not any("bodySite" in m for m in _notes(document, "ignored") + _notes(document, "question"))


def test_each_lesion_field_read_names_its_resource_by_path():
    document = _read(_metastasis("a", "T11"), _metastasis("b", "L1"),
                     _obs("h", "height_loss_percent", site=_site("L1"), valueQuantity={"value": 25}))
    assert document.record.provenance["lesions.1.height_loss_percent"].resource == "Observation/h"


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(lesion_cases(), st.randoms(use_true_random=False))
def test_the_order_of_a_records_entries_never_moves_a_finding_to_another_level(case, rnd):
    bundle = _json(case_to_bundle(case))
    rnd.shuffle(bundle["entry"])
    read = bundle_to_case(bundle)
    assert {lesion.level: lesion for lesion in read.lesions} == {lesion.level: lesion for lesion in case.lesions}
    assert read.model_dump(exclude={"lesions"}) == case.model_dump(exclude={"lesions"})
