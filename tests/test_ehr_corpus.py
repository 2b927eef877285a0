"""A corpus of FHIR R4 Bundles written the way hospital records emit them (tests/fixtures/ehr/): US Core and IPS
habits, SNOMED CT only, ICD-10-CM only, labs in several units, resent duplicates, stale values, entered-in-error
resources, wrong JSON types, dangling and contained references. Each Bundle has a golden file of the case it
holds, the provenance and notes of the reading, and the cards the CDS Hooks service gives for it; and every
absolute-contraindication fact it holds (listed by hand below) must reach the decision or the card.

Regenerate the golden files after a deliberate change to the reader or the mapping (then read the diff):
    .venv/bin/python -m tests.test_ehr_corpus
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spinemets import get_engine
from spinemets.fhir import bundle_to_document

from .conftest import ROOT

CORPUS = ROOT / "tests" / "fixtures" / "ehr"
GOLDEN = ROOT / "tests" / "golden" / "ehr"
BUNDLES = sorted(CORPUS.glob("*.json"))
CPT = "http://www.ama-assn.org/go/cpt"

# The resources of each Bundle that bear on an absolute contraindication of cement injection (coagulopathy,
# infection, PMMA allergy) and are current: each must be read as the field or asked as a question.
ABSOLUTE_FACTS: dict[str, set[str]] = {
    "uscore-apixaban-inr-platelets-pmma": {"MedicationRequest/apixaban", "Observation/inr", "Observation/plt",
                                           "AllergyIntolerance/pmma"},
    "ips-snomed-only-lung-sepsis-ecog": {"Condition/sepsis"},
    "claims-icd10cm-prostate-fracture": set(),
    "lab-units-platelets-inr": {"Observation/plt-si", "Observation/plt-gl", "Observation/inr"},
    "duplicates-resent-interface": set(),
    "stale-values-old-labs": set(),
    "entered-in-error-allergy-infection": set(),
    "two-active-primaries": set(),
    "myeloma-remission-breast-active": set(),
    "wrong-json-types": set(),
    "dangling-contained-future": {"MedicationRequest/clopidogrel", "MedicationRequest/unknown-med"},
    "no-spinal-metastasis": set(),
    "bleeding-disorders-enoxaparin": {"Condition/itp", "MedicationStatement/enox"},
    "blood-cultures-positive-negative-old": {"Observation/bc-pos"},
    "uscore-breast-three-levels-t11-l1-l3-pmma": {"AllergyIntolerance/pmma"},
    "ips-snomed-myeloma-t12-l1-l2-pain-per-level": set(),
    "claims-icd10cm-prostate-t8-t10-fractures": set(),
}


def _day(bundle: dict[str, Any]) -> datetime.date:
    return datetime.datetime.fromisoformat(bundle["timestamp"].replace("Z", "+00:00")).date()


def observed(path: Path) -> dict[str, Any]:
    """What the reader and the service make of one Bundle (the golden file's content)."""
    from fastapi.testclient import TestClient

    from spinemets.service.app import Settings, create_app

    from .cds_support import draft_orders, hook_request, prefetch_from_bundle

    bundle = json.loads(path.read_text())
    document = bundle_to_document(bundle, path.name)
    record = document.record
    assert record is not None
    decision = get_engine().evaluate(document.case)
    prefetch = prefetch_from_bundle(bundle, bundle["entry"][0]["resource"]["id"])
    patient = prefetch["patient"]["id"]
    with TestClient(create_app(Settings(board_db=None, today=_day(bundle)))) as client:
        view = client.post("/cds-services/spinemets-patient-view",
                           json=hook_request(patient_id=patient, prefetch=prefetch)).json()
        orders = draft_orders(("pvp", CPT, "22511"))
        for entry in orders["entry"]:
            entry["resource"]["subject"] = {"reference": f"Patient/{patient}"}
        order = client.post("/cds-services/spinemets-order-sign", json=hook_request(
            "order-sign", patient_id=patient, prefetch=prefetch, context={"draftOrders": orders})).json()

    def card(answer: dict[str, Any]) -> Any:
        return [{"indicator": c["indicator"], "summary": c["summary"]} for c in answer["cards"]]
    return {
        "case": document.case.model_dump(mode="json", exclude_none=True),
        "provenance": {f: p.model_dump(mode="json") for f, p in record.provenance.items()},
        "notes": [n.model_dump(mode="json", exclude_none=True) for n in record.notes],
        "statuses": decision.statuses(),
        "patient_view": card(view),
        "vertebroplasty_order": card(order),
    }


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem)
def test_each_bundle_gives_its_golden_case_and_cards(path):
    golden = GOLDEN / f"{path.stem}.expected.json"
    assert golden.exists(), "regenerate: python -m tests.test_ehr_corpus"
    assert observed(path) == json.loads(golden.read_text())


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem)
def test_every_absolute_contraindication_fact_reaches_the_decision_or_the_card(path):
    document = bundle_to_document(json.loads(path.read_text()), path.name)
    record = document.record
    reached = {p.resource for p in record.provenance.values()}
    reached |= {n.resource for n in record.notes if n.kind in ("question", "voided")}
    assert ABSOLUTE_FACTS[path.stem] <= reached, f"lost: {ABSOLUTE_FACTS[path.stem] - reached}"


def test_the_corpus_has_a_dozen_bundles_each_listed():
    assert len(BUNDLES) >= 12 and {p.stem for p in BUNDLES} == set(ABSOLUTE_FACTS)


def test_the_issue_patient_pmma_allergy_contraindicates_cement_and_coagulation_is_asked():
    path = CORPUS / "uscore-apixaban-inr-platelets-pmma.json"
    document = bundle_to_document(json.loads(path.read_text()), path.name)
    assert document.case.cement_allergy is True and document.case.coagulopathy is None
    decision = get_engine().evaluate(document.case)
    assert decision.option("PVP").status == "contraindicated" and decision.option("KP").status == "contraindicated"
    asked = " ".join(n.message for n in document.record.of("question"))
    assert "INR 2.4" in asked and "platelet count 45" in asked and "apixaban" in asked
    golden = json.loads((GOLDEN / f"{path.stem}.expected.json").read_text())
    assert golden["vertebroplasty_order"][0]["indicator"] == "critical"


def test_two_active_primaries_are_asked_never_the_newest_taken():
    document = bundle_to_document(json.loads((CORPUS / "two-active-primaries.json").read_text()))
    assert document.case.primary_tumor is None
    assert any(n.field == "primary_tumor" and "both active" in n.message for n in document.record.notes)


def test_a_remission_is_not_active_and_snomed_and_icd_primaries_are_read():
    assert bundle_to_document(json.loads((CORPUS / "myeloma-remission-breast-active.json").read_text())
                              ).case.primary_tumor == "breast"
    assert bundle_to_document(json.loads((CORPUS / "ips-snomed-only-lung-sepsis-ecog.json").read_text())
                              ).case.primary_tumor == "lung"


def test_no_spinal_metastasis_no_patient_view_card():
    golden = json.loads((GOLDEN / "no-spinal-metastasis.expected.json").read_text())
    assert golden["patient_view"] == []


def test_ten_thousand_entries_are_read_with_a_note_per_unread_resource():
    bundle = json.loads((CORPUS / "uscore-apixaban-inr-platelets-pmma.json").read_text())
    filler = [{"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{i:012d}", "resource": {
        "resourceType": "Observation", "id": f"hr{i}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/ex1"}, "valueQuantity": {"value": 70, "code": "/min"}}}
        for i in range(10_000 - len(bundle["entry"]))]
    bundle["entry"] += filler
    document = bundle_to_document(bundle)
    assert document.case.cement_allergy is True and document.case.primary_tumor == "breast"
    assert sum(n.kind == "ignored" for n in document.record.notes) >= len(filler)


NODE_VALIDATOR = ROOT / "node_modules" / "fhir"


def _second_validator(paths: list[Path]) -> dict[str, list[str]]:
    """Each file's errors by FHIR.js (npm `fhir`, R4): independent of fhir.resources and of this reader."""
    if not (shutil.which("node") and NODE_VALIDATOR.is_dir()):
        if os.environ.get("CI") == "true":
            pytest.fail("the second FHIR validator is not installed: run `npm ci` (.ci/run does)")
        pytest.skip("the second FHIR validator is not installed (npm ci)")
    out = subprocess.run(["node", str(ROOT / "tests" / "fhir_validate.js"), *map(str, paths)], capture_output=True,
                         text=True, check=True, timeout=300).stdout
    return {Path(r["file"]).name: r["errors"] for r in map(json.loads, out.splitlines())}


def test_a_second_independent_validator_accepts_the_corpus_and_the_exports_and_refuses_wrong_types():
    exported = sorted((ROOT / "tests" / "golden" / "fhir").glob("*.json"))
    errors = _second_validator(BUNDLES + exported)
    assert len(errors) == len(BUNDLES) + len(exported)
    wrong = errors.pop("wrong-json-types.json")
    assert len(wrong) == 3 and all("valueBoolean" in e or "valueInteger" in e or "valueQuantity" in e for e in wrong)
    assert {name: e for name, e in errors.items() if e} == {}


def _regenerate() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for path in BUNDLES:
        text = json.dumps(observed(path), indent=2, ensure_ascii=False) + "\n"
        (GOLDEN / f"{path.stem}.expected.json").write_text(text)
        print(f"wrote {GOLDEN / path.stem}.expected.json", file=sys.stderr)


if __name__ == "__main__":
    _regenerate()


def test_metastases_coded_per_vertebra_give_a_lesion_per_vertebra_and_single_site_records_stay_flat():
    lesions = {"uscore-breast-three-levels-t11-l1-l3-pmma": ["T11", "L1", "L3"],
               "ips-snomed-myeloma-t12-l1-l2-pain-per-level": ["T12", "L1", "L2"],
               "claims-icd10cm-prostate-t8-t10-fractures": ["T8", "T10"]}
    for path in BUNDLES:
        case = bundle_to_document(json.loads(path.read_text()), path.name).case
        if path.stem in lesions:
            assert case.lesions is not None and [lesion.level for lesion in case.lesions] == lesions[path.stem]
            assert case.levels is None
            golden = json.loads((GOLDEN / f"{path.stem}.expected.json").read_text())
            assert golden["patient_view"], "a record of spinal metastases in lesion form gets its card"
        else:
            assert case.lesions is None, path.stem


def test_a_pain_score_that_names_no_vertebra_is_asked_never_put_on_a_level_and_the_pmma_allergy_is_read():
    path = CORPUS / "uscore-breast-three-levels-t11-l1-l3-pmma.json"
    document = bundle_to_document(json.loads(path.read_text()), path.name)
    assert document.case.cement_allergy is True
    assert [lesion.pain_score for lesion in document.case.lesions] == [None, None, None]
    assert [lesion.pathological_fracture for lesion in document.case.lesions] == [None, True, None]
    voided = [n for n in document.record.notes if n.kind == "voided" and n.resource == "Observation/pain"]
    assert len(voided) == 1 and "T11, L1, L3" in voided[0].message


def test_a_recent_positive_blood_culture_is_asked_about_and_a_negative_or_old_one_is_not():
    document = bundle_to_document(json.loads((CORPUS / "blood-cultures-positive-negative-old.json").read_text()))
    assert document.case.active_infection is None
    asked = [n for n in document.record.of("question") if n.field == "active_infection"]
    assert [n.resource for n in asked] == ["Observation/bc-pos"]
    ignored = {n.resource for n in document.record.of("ignored")}
    assert {"Observation/bc-neg", "Observation/bc-old"} <= ignored
