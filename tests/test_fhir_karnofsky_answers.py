"""Karnofsky given as a LOINC answer (list LL4986-7) rather than a number, as mCODE-profiled records give it."""
from __future__ import annotations

import json

import pytest

from spinemets import Case
from spinemets.fhir import bundle_to_document, case_to_bundle


def bundle_with_karnofsky(value: dict) -> dict:
    bundle = json.loads(json.dumps(case_to_bundle(Case(id="kps", primary_tumor="breast", levels=["T10"],
                                                       karnofsky=80))))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Observation" and any(
                c.get("code") == "89243-0" for c in resource["code"]["coding"]):
            del resource["valueInteger"]
            resource.update(value)
    return bundle


@pytest.mark.parametrize("code, score", [("LA29175-9", 100), ("LA29178-3", 70), ("LA29181-7", 40),
                                         ("LA29184-1", 10)])
def test_a_loinc_answer_code_gives_the_score(code, score):
    coded = {"valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": code}]}}
    assert bundle_to_document(bundle_with_karnofsky(coded), "b.json").case.karnofsky == score


def test_an_answer_code_outside_the_list_voids_the_field_with_a_message():
    coded = {"valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA9999-9"}]}}
    document = bundle_with_karnofsky(coded)
    read = bundle_to_document(document, "b.json")
    assert read.case.karnofsky is None
    assert [n for n in read.record.notes if n.kind == "voided" and n.field == "karnofsky"]


def test_a_number_and_no_answer_still_reads_as_before():
    bundle = json.loads(json.dumps(case_to_bundle(Case(id="kps", levels=["T10"], karnofsky=60))))
    assert bundle_to_document(bundle, "b.json").case.karnofsky == 60
