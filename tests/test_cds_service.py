"""The CDS Hooks service: every request and response checked against the CDS Hooks OpenAPI (../shared/specs), the
EHR's FHIR server faked with respx, JWTs signed with keys made here, feedback in the board log, no patient data in
the logs, and the service on this machine only unless told otherwise."""
from __future__ import annotations

import datetime
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from spinemets import get_engine, read_case_file
from spinemets.board_log import BoardLog
from spinemets.commands import serve as serve_command
from spinemets.commands.cli import build_parser, main
from spinemets.fhir import load
from spinemets.service.app import Settings, create_app
from spinemets.service.auth import Issuer, Trust, load_trust
from spinemets.service.gather import prefetch_templates
from spinemets.service.outbound import NOT_FETCHED
from spinemets.vocabulary import STATUS_RANK

from .cds_support import SERVICE, Signer, draft_orders, hook_request, prefetch_from_bundle, validate
from .conftest import CASES_DIR, ROOT

VIGNETTES = sorted(CASES_DIR.glob("*.yaml"))
GOLDEN = ROOT / "tests" / "golden" / "fhir"
CPT = "http://www.ama-assn.org/go/cpt"
FHIR = "https://fhir.example/r4"
PROJECT = load().project


def _prefetch(name: str) -> dict:
    return prefetch_from_bundle(json.loads((GOLDEN / f"{read_case_file(CASES_DIR / name).case.id}.json").read_text()))


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Settings(board_db=None, fhir_servers=(FHIR,)))) as c:
        yield c


def _post(client, path, body, **kw):
    validate("request" if not path.endswith("/feedback") else "feedback", body)
    response = client.post(path, json=body, **kw)
    if response.status_code == 200 and not path.endswith("/feedback"):
        validate("response", response.json())
    return response


# --- discovery and the done-when: each vignette's card tops as `spinemets evaluate` does ---------------------


def test_an_incomplete_referral_card_shows_each_provisional_options_range(client):
    prefetch = _prefetch("teach-mostly-unknown-lung-t8.yaml")
    response = _post(client, SERVICE, hook_request(prefetch=prefetch))
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    ranges = card["extension"]["spinemets"]["ranges"]
    assert ranges["PVP"] == {"best": "recommended", "worst": "contraindicated"}
    assert set(ranges) == set(card["extension"]["spinemets"]["provisional"])
    line = next(x for x in card["detail"].splitlines() if x.startswith("- ") and "(`PVP`): recommended at best" in x)
    lift, lower = line.split("could lift it:", 1)[1].split("could lower it:", 1)
    assert "Uncorrectable coagulopathy" in lower and "Uncorrectable coagulopathy" not in lift
    assert "| provisional: recommended at best, contraindicated at worst |" in card["detail"]


def test_discovery_lists_the_three_hooks_with_prefetch(client):
    body = client.get("/cds-services").json()
    validate("discovery", body)
    assert {s["hook"] for s in body["services"]} == {"patient-view", "order-select", "order-sign"}
    for service in body["services"]:
        assert service["prefetch"] == prefetch_templates()
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_patient_view_from_each_vignettes_bundle_tops_as_evaluate_does(client, engine, path, capsys):
    case = read_case_file(path).case
    assert main(["evaluate", str(path), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    prefetch = prefetch_from_bundle(json.loads((GOLDEN / f"{case.id}.json").read_text()))
    response = _post(client, SERVICE, hook_request(prefetch=prefetch))
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    top = expected["ranking"][0]
    assert card["extension"]["spinemets"]["top"] == top
    assert card["extension"]["spinemets"]["statuses"] == {o["option"]: o["status"] for o in expected["options"]}
    assert len(card["summary"]) < 140
    if "plan" in expected:  # a case in lesion form: the summary is the plan, naming each level and its advice
        assert card["summary"].startswith("spinemets plan: ")
        for level in expected["plan"]["levels"]:
            assert level["level"] in card["summary"] and level["advice"] in card["summary"]
        assert [row["level"] for row in expected["lesions"]] == [
            r["level"] for r in card["extension"]["spinemets"]["lesions"]]
        assert "**Per level**" in card["detail"] and "**Plan for the patient:**" in card["detail"]
    else:
        assert f"({top})" in card["summary"]
    assert card["indicator"] == ("warning" if expected["conflicts"] else "info")
    assert expected["rulebook"]["sha256"] in card["source"]["label"]
    assert expected["rulebook"]["version"] in card["source"]["label"]
    for option in expected["options"]:
        assert f"`{option['option']}`) | {option['status']} |" in card["detail"]
    assert {r["code"] for r in card["overrideReasons"]} >= {"override:patient_preference", "override:other"}


def test_a_card_cites_its_reasons_and_links_the_papers_and_the_app(client):
    response = _post(client, SERVICE, hook_request(prefetch=_prefetch("tae-pvp-fig1-renal-l2-paravertebral.yaml")))
    card = response.json()["cards"][0]
    assert "(Embolization-vertebroplasty series, Pain Physician 2016, Discussion (reports), attributed to Chen et al." in card["detail"]
    urls = [link["url"] for link in card["links"]]
    assert "http://localhost:8501" in urls
    assert any(u.startswith("https://pubmed.ncbi.nlm.nih.gov/") or u.startswith("https://doi.org/") for u in urls)


WORKED_EXAMPLE_DAY = datetime.date(2026, 5, 2)  # the day the docs' example was written: its values are current


def test_the_worked_example_of_the_docs_gives_the_card_it_shows():
    doc = (ROOT / "docs" / "interoperability.md").read_text()
    section = doc.split("### A worked request and response", 1)[1]
    blocks = re.findall(r"```json\n(.*?)\n```", section, flags=re.S)
    request, shown = json.loads(blocks[0]), json.loads(blocks[1])
    with TestClient(create_app(Settings(board_db=None, today=WORKED_EXAMPLE_DAY))) as client:
        answer = _post(client, SERVICE, request).json()
    (card,) = answer["cards"]
    assert card["summary"] == shown["cards"][0]["summary"]
    # The rule base's hash changes with every rule edit; the docs show the one of the day they were written.
    for extension in (card["extension"], shown["cards"][0]["extension"]):
        extension["spinemets"]["rulebook"].pop("sha256")
    assert card["extension"] == shown["cards"][0]["extension"]
    assert card["indicator"] == shown["cards"][0]["indicator"]


# --- orders ------------------------------------------------------------------------------------------------


def test_a_contraindicated_order_gets_a_critical_card_and_a_replacement(client):
    prefetch = _prefetch("gu-fig2-prostate-t11-neuro.yaml")  # PVP contraindicated
    top = get_engine().evaluate(read_case_file(CASES_DIR / "gu-fig2-prostate-t11-neuro.yaml")).top
    body = hook_request("order-sign", prefetch=prefetch, context={"draftOrders": draft_orders(("o1", CPT, "22511"))})
    (card,) = _post(client, "/cds-services/spinemets-order-sign", body).json()["cards"]
    assert card["indicator"] == "critical" and "contraindicated" in card["summary"]
    (suggestion,) = card["suggestions"]
    assert card["selectionBehavior"] == "at-most-one" and suggestion["isRecommended"]
    delete, create = suggestion["actions"]
    # CDS Hooks 2.0: resourceId is a string
    assert delete == {"type": "delete", "description": delete["description"], "resourceId": "ServiceRequest/o1"}
    assert create["type"] == "create" and create["resource"]["resourceType"] == "ServiceRequest"
    assert {"system": PROJECT, "code": f"option:{top}"} == {k: create["resource"]["code"]["coding"][0][k]
                                                             for k in ("system", "code")}
    assert card["extension"]["spinemets"]["ordered"] == "PVP"


def test_a_contraindicated_order_when_conservative_care_tops_is_withdrawn_only(client):
    prefetch = _prefetch("teach-coagulopathy-lung-t9.yaml")
    body = hook_request("order-select", prefetch=prefetch, context={
        "draftOrders": draft_orders(("k1", CPT, "22513")), "selections": ["ServiceRequest/k1"]})
    (card,) = _post(client, "/cds-services/spinemets-order-select", body).json()["cards"]
    assert card["indicator"] == "critical"
    assert [a["type"] for a in card["suggestions"][0]["actions"]] == ["delete"]


def test_an_order_coded_otherwise_is_recognised_from_its_words_and_the_card_says_so(client):
    prefetch = _prefetch("gu-fig2-prostate-t11-neuro.yaml")  # PVP contraindicated
    orders = draft_orders(("o1", "http://snomed.info/sct", "000000000"))
    orders["entry"][0]["resource"]["code"]["coding"][0]["display"] = "Percutaneous vertebroplasty"
    body = hook_request("order-sign", prefetch=prefetch, context={"draftOrders": orders})
    (card,) = _post(client, "/cds-services/spinemets-order-sign", body).json()["cards"]
    assert card["indicator"] == "critical" and "contraindicated" in card["summary"] and "text" in card["summary"]
    # text naming both procedures, or cement augmentation in general: graded as the less favourable of the two
    for text in ("vertebroplasty or kyphoplasty", "Vertebral augmentation T11"):
        either = draft_orders(("o2", "http://snomed.info/sct", "000000001"))
        either["entry"][0]["resource"]["code"]["text"] = text
        body = hook_request("order-sign", prefetch=prefetch, context={"draftOrders": either})
        (card,) = _post(client, "/cds-services/spinemets-order-sign", body).json()["cards"]
        assert card["indicator"] == "critical" and "Cement augmentation (graded as" in card["summary"]
    other = draft_orders(("o3", "http://snomed.info/sct", "000000002"))
    other["entry"][0]["resource"]["code"]["text"] = "vertebroplasty, then open decompression"  # another kind
    other["entry"][0]["resource"]["code"]["coding"][0]["display"] = "Laminectomy"
    body = hook_request("order-sign", prefetch=prefetch, context={"draftOrders": other})
    (card,) = _post(client, "/cds-services/spinemets-order-sign", body).json()["cards"]
    assert card["extension"]["spinemets"]["ordered"] == "PVP"  # the one procedure it names


ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"


def test_an_icd10pcs_cement_order_is_graded_as_the_less_favourable_of_vertebroplasty_and_kyphoplasty(client):
    # ICD-10-PCS codes cement in a vertebra (0QU03JZ: Supplement Lumbar Vertebra with Synthetic Substitute,
    # Percutaneous Approach) without saying which technique: here PVP is recommended and KP appropriate
    prefetch = _prefetch("barbanti-fig1-breast-l3.yaml")
    body = hook_request("order-select", prefetch=prefetch, context={
        "draftOrders": draft_orders(("a1", ICD10PCS, "0QU03JZ")), "selections": ["ServiceRequest/a1"]})
    (card,) = _post(client, "/cds-services/spinemets-order-select", body).json()["cards"]
    # the record leaves the absolute contraindications open: the card asks them first (a warning in any case)
    assert card["summary"].startswith("Cement augmentation (graded as balloon kyphoplasty): rule out first:")
    assert card["indicator"] == "warning"
    assert card["extension"]["spinemets"]["ordered"] == "KP"
    assert "does not say which procedure" in card["detail"] and "percutaneous vertebroplasty: recommended" in \
        card["detail"]
    # a thoracic code on a patient for whom cement is contraindicated: critical, with a replacement
    prefetch = _prefetch("gu-fig2-prostate-t11-neuro.yaml")
    body = hook_request("order-sign", prefetch=prefetch,
                        context={"draftOrders": draft_orders(("a2", ICD10PCS, "0PU43JZ"))})
    (card,) = _post(client, "/cds-services/spinemets-order-sign", body).json()["cards"]
    assert card["indicator"] == "critical" and "contraindicated" in card["summary"] and card["suggestions"]
    # another ICD-10-PCS code (Supplement Sternum) is no spinal procedure: no card
    body = hook_request("order-sign", prefetch=prefetch,
                        context={"draftOrders": draft_orders(("a3", ICD10PCS, "0PU03JZ"))})
    assert _post(client, "/cds-services/spinemets-order-sign", body).json() == {"cards": []}


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_a_cement_order_of_unspecified_technique_never_hides_either_procedures_contraindication(path, engine,
                                                                                                 client):
    # The safety property of grading by the less favourable reading, on every vignette: the order is graded as
    # the procedure whose worst status over the levels it could be meant for (every lesion: it names none) is
    # lowest, so whenever vertebroplasty or kyphoplasty is contraindicated everywhere, the card is critical.
    decision = engine.evaluate(read_case_file(path))
    where = decision.lesions or [decision]
    worst = {o: min(STATUS_RANK[place.option(o).status] for place in where) for o in ("PVP", "KP")}
    body = hook_request("order-sign", prefetch=_prefetch(path.name),
                        context={"draftOrders": draft_orders(("u1", ICD10PCS, "0PU43JZ"))})
    (card,) = _post(client, "/cds-services/spinemets-order-sign", body).json()["cards"]
    ordered = card["extension"]["spinemets"]["ordered"]
    assert worst[ordered] == min(worst.values()), (ordered, worst)
    if any(all(place.option(o).status == "contraindicated" for place in where) for o in ("PVP", "KP")):
        assert card["indicator"] == "critical", card["summary"]
    assert card["summary"].startswith("Cement augmentation (graded as")


def test_an_indicated_order_is_info_or_warning_without_suggestions(client):
    prefetch = _prefetch("teach-melanoma-cord-biological-pain-t4.yaml")  # every absolute contraindication known
    body = hook_request("order-sign", prefetch=prefetch,
                        context={"draftOrders": draft_orders(("s1", PROJECT, "option:SURGERY"))})
    (card,) = _post(client, "/cds-services/spinemets-order-sign", body).json()["cards"]
    assert card["indicator"] == "info" and "suggestions" not in card
    assert "the top option" in card["summary"] and "_" not in card["summary"]  # status words, not codes


def test_an_order_whose_absolute_contraindication_is_unknown_gets_a_warning_naming_it(client):
    prefetch = _prefetch("barbanti-fig2-presumed-haemangioma-l2.yaml")  # coagulopathy and infection unknown
    body = hook_request("order-sign", prefetch=prefetch,
                        context={"draftOrders": draft_orders(("s1", PROJECT, "option:SURGERY"))})
    (card,) = _post(client, "/cds-services/spinemets-order-sign", body).json()["cards"]
    assert card["indicator"] == "warning"
    assert "rule out first" in card["summary"] and "Uncorrectable coagulopathy" in card["summary"]


def test_orders_that_are_no_spinal_procedure_or_not_selected_get_no_card_and_fetch_nothing(client):
    with respx.mock(assert_all_called=False) as fhir:
        route = fhir.get(url__startswith=FHIR).respond(500)
        other = hook_request("order-select", fhirServer=FHIR, context={
            "draftOrders": draft_orders(("x", "http://loinc.org", "24627-2"), ("p", CPT, "22510")),
            "selections": ["ServiceRequest/x"]})
        assert _post(client, "/cds-services/spinemets-order-select", other).json() == {"cards": []}
        assert not route.called


# --- the record fetched from the FHIR server ----------------------------------------------------------------


def _fake_server(fhir, prefetch, token="opaque-token"):
    def answer(body):
        def respond(request):
            assert request.headers["Authorization"] == f"Bearer {token}"
            return httpx.Response(200, json=body)
        return respond
    fhir.get(f"{FHIR}/Patient/patient").mock(side_effect=answer(prefetch["patient"]))
    for key, resource in (("conditions", "Condition"), ("observations", "Observation"),
                          ("allergies", "AllergyIntolerance"), ("medicationRequests", "MedicationRequest"),
                          ("medicationStatements", "MedicationStatement")):
        fhir.get(f"{FHIR}/{resource}").mock(side_effect=answer(prefetch[key]))


def _authorization(token="opaque-token"):
    return {"access_token": token, "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read",
            "subject": "spinemets"}


def test_what_prefetch_did_not_bring_is_fetched_with_the_token(client, engine):
    path = CASES_DIR / "teach-sepsis-breast-l1.yaml"
    prefetch = _prefetch(path.name)
    given = {"patient": prefetch["patient"]}
    with respx.mock(assert_all_called=False) as fhir:
        _fake_server(fhir, prefetch)
        body = hook_request(prefetch=given, fhirServer=FHIR, fhirAuthorization=_authorization())
        card = _post(client, SERVICE, body).json()["cards"][0]
        routes = list(fhir.routes)
        assert not routes[0].called  # the patient was prefetched
        assert all(route.called for route in routes[1:])
        observations = routes[2].calls.last.request.url
        assert observations.params["patient"] == "patient" and "http://loinc.org|89243-0" in \
            observations.params["code"]
        # the labs the coagulation questions read, newest first
        assert "http://loinc.org|6301-6" in observations.params["code"] and observations.params["_sort"] == "-date"
        medications = routes[4].calls.last.request.url
        assert medications.params["status"] == "active,on-hold"
    assert card["extension"]["spinemets"]["top"] == engine.evaluate(read_case_file(path).case).ranking[0]


def test_paging_follows_next_links_on_the_same_server_only(client):
    prefetch = _prefetch("teach-sepsis-breast-l1.yaml")
    conditions = prefetch["conditions"]
    first = {**conditions, "entry": conditions["entry"][:1],
             "link": [{"relation": "next", "url": f"{FHIR}/Condition?page=2"}]}
    second = {**conditions, "entry": conditions["entry"][1:]}
    body = hook_request(prefetch={k: v for k, v in prefetch.items() if k != "conditions"}, fhirServer=FHIR,
                        fhirAuthorization=_authorization())
    with respx.mock(assert_all_called=False) as fhir:
        page2 = fhir.get(f"{FHIR}/Condition", params={"page": "2"}).respond(200, json=second)
        page1 = fhir.get(f"{FHIR}/Condition").respond(200, json=first)
        card = _post(client, SERVICE, body).json()["cards"][0]
        assert page1.called and page2.called
    assert card["extension"]["spinemets"]["top"] == "CONSERVATIVE"  # sepsis, read from page 2
    # a next page elsewhere is not fetched, and the record it would have completed is not used cut short
    second["link"] = [{"relation": "next", "url": "https://elsewhere.example/Condition?page=3"}]
    with respx.mock(assert_all_called=False) as fhir:
        fhir.get(f"{FHIR}/Condition", params={"page": "2"}).respond(200, json=second)
        fhir.get(f"{FHIR}/Condition").respond(200, json=first)
        elsewhere = fhir.get(url__startswith="https://elsewhere.example").respond(200, json=conditions)
        response = _post(client, SERVICE, body)
        assert response.status_code == 412 and not elsewhere.called


def test_a_failing_fhir_server_or_nothing_to_read_is_412(client):
    with respx.mock as fhir:
        fhir.get(url__startswith=FHIR).respond(401)
        response = _post(client, SERVICE, hook_request(fhirServer=FHIR, fhirAuthorization=_authorization()))
    assert response.status_code == 412 and response.json()["detail"] == NOT_FETCHED  # the one message
    response = _post(client, SERVICE, hook_request())
    assert response.status_code == 412 and "prefetch" in response.json()["detail"]


# --- refusals and unreadable records ------------------------------------------------------------------------


@pytest.mark.parametrize("change, words", [
    (lambda b: b.pop("context"), "context"),
    (lambda b: b.update(hook="order-sign"), "patient-view"),
    (lambda b: b["context"].update(patientId="not/an id"), "patientId"),
    (lambda b: b["prefetch"].update(patient={"id": "x"}), "resourceType"),
    (lambda b: b["prefetch"].update(conditions={"resourceType": "Bundle", "entry": [{"x": 1}]}), "no resource"),
    (lambda b: b["prefetch"]["patient"].update(id="someone-else"), "not context.patientId"),
    # issue 21.2: every resource used must be the context's patient's, and the patient prefetch that Patient
    (lambda b: b["prefetch"]["observations"]["entry"][0]["resource"].update(subject={"reference": "Patient/OTHER"}),
     "is about Patient/OTHER"),
    (lambda b: b["prefetch"]["conditions"]["entry"][0]["resource"].update(
        subject={"reference": "https://other.example/fhir/Patient/OTHER"}), "not context.patientId"),
    (lambda b: b["prefetch"]["observations"]["entry"][0]["resource"].pop("subject"), "is about no patient"),
    (lambda b: b["prefetch"].update(patient={"resourceType": "Bundle", "type": "searchset", "entry": []}),
     "prefetch 'patient' must be the one Patient"),
    (lambda b: b["prefetch"].update(patient=b["prefetch"]["observations"]["entry"][0]["resource"]),
     "prefetch 'patient' must be the one Patient"),
    (lambda b: b.update(fhirAuthorization=_authorization()), "fhirAuthorization needs fhirServer"),
    (lambda b: b.update(fhirServer="ftp://x"), "fhirServer"),
])
def test_bad_requests_are_400_with_a_message(client, change, words):
    body = hook_request(prefetch=_prefetch("teach-sepsis-breast-l1.yaml"))
    change(body)
    response = client.post(SERVICE, json=body)
    assert response.status_code == 400, response.text
    assert words in response.json()["detail"]


def test_a_contradicting_record_voids_the_field_and_the_warning_card_names_both_resources(client):
    prefetch = _prefetch("teach-sepsis-breast-l1.yaml")
    observations = prefetch["observations"]["entry"]
    twin = json.loads(json.dumps(observations[0]))
    twin["resource"]["id"] = "twin"
    original = observations[0]["resource"]
    value_key = next(k for k in original if k.startswith("value"))
    if value_key == "valueBoolean":
        twin["resource"]["valueBoolean"] = not original["valueBoolean"]
    else:
        twin["resource"][value_key] = {"value": 1, "code": "a", "system": "http://unitsofmeasure.org"}
    observations.append(twin)
    response = _post(client, SERVICE, hook_request(prefetch=prefetch))
    (card,) = response.json()["cards"]
    assert card["indicator"] == "warning" and "cannot advise" not in card["summary"]  # the rest is read
    assert f"Observation/{original['id']}" in card["detail"] and "Observation/twin" in card["detail"]
    voided = [n for n in card["extension"]["spinemets"]["record"]["notes"] if n["kind"] == "voided"]
    assert voided and "Observation/twin" in voided[0]["message"]


def test_patient_view_without_a_spinal_metastasis_returns_no_card(client):
    prefetch = _prefetch("teach-sepsis-breast-l1.yaml")
    prefetch["conditions"]["entry"] = [e for e in prefetch["conditions"]["entry"]
                                       if not e["resource"].get("bodySite")]
    assert _post(client, SERVICE, hook_request(prefetch=prefetch)).json() == {"cards": []}


def test_an_unreadable_spinal_metastasis_still_gets_a_card(client):
    prefetch = _prefetch("teach-sepsis-breast-l1.yaml")
    mets = next(e["resource"] for e in prefetch["conditions"]["entry"] if e["resource"].get("bodySite"))
    mets["recordedDate"] = "not a date"  # invalid FHIR: the levels are voided, the card still comes
    (card,) = _post(client, SERVICE, hook_request(prefetch=prefetch)).json()["cards"]
    assert card["indicator"] == "warning" and "levels" in card["detail"]


def test_the_card_carries_the_provenance_of_each_field(client):
    response = _post(client, SERVICE, hook_request(prefetch=_prefetch("teach-sepsis-breast-l1.yaml")))
    (card,) = response.json()["cards"]
    provenance = card["extension"]["spinemets"]["record"]["provenance"]
    assert provenance["levels"]["resource"].startswith("Condition/")
    assert "**Read from the record:**" in card["detail"]


# --- feedback ------------------------------------------------------------------------------------------------


def _recording(db, signer):
    """A service that records feedback: it knows its callers (trusted issuers), and JWTs for its endpoints."""
    trust = Trust(issuers={signer.issuer: Issuer(signer.issuer, jwks=signer.jwks)}, audience="http://testserver")
    return TestClient(create_app(Settings(board_db=db, trust=trust)))


def _signed(c, signer, path, body):
    validate("request" if not path.endswith("/feedback") else "feedback", body)
    return c.post(path, json=body, headers=_bearer(signer.token(f"http://testserver{path}")))


def test_an_override_with_a_reason_is_in_the_board_log_and_the_log_verifies(tmp_path, engine, signer):
    db = tmp_path / "board.sqlite"
    with _recording(db, signer) as c:
        prefetch = _prefetch("gu-fig2-prostate-t11-neuro.yaml")
        body = hook_request("order-sign", prefetch=prefetch, context={"draftOrders": draft_orders(("o1", CPT, "22511"))})
        card = _signed(c, signer, "/cds-services/spinemets-order-sign", body).json()["cards"][0]
        reason = next(r for r in card["overrideReasons"] if r["code"] == "override:technical")
        feedback = {"feedback": [
            {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-05-04T10:00:00Z",
             "overrideReason": {"reason": reason, "userComment": "PVP_ITR is not offered here"}},
            {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-05-04T10:01:00Z",
             "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}]}
        response = _signed(c, signer, "/cds-services/spinemets-order-sign/feedback", feedback)
        assert response.status_code == 200, response.text
        wrong = _signed(c, signer, "/cds-services/spinemets-patient-view/feedback", feedback)
        assert wrong.status_code == 400
    with BoardLog(db) as log:
        records = list(log.records("cds_feedback"))
        assert log.verify().ok and log.verify().count == 2
    overridden, accepted = (r.payload for r in records)
    assert overridden["override_reason"] == "technical" and overridden["comment"] == "PVP_ITR is not offered here"
    top = engine.evaluate(read_case_file(CASES_DIR / "gu-fig2-prostate-t11-neuro.yaml")).top
    assert overridden["top"] == top and overridden["ordered"] == "PVP" and overridden["indicator"] == "critical"
    assert overridden["rulebook_sha256"] == engine.sha256
    assert accepted["accepted_suggestions"] == [card["suggestions"][0]["uuid"]]


@pytest.mark.parametrize("change, words", [
    (lambda item, card: item.update(outcomeTimestamp="yesterday"), "outcomeTimestamp"),
    (lambda item, card: item.update(outcomeTimestamp="2026-05-04T10:00:00"), "time zone"),
    (lambda item, card: item.update(outcomeTimestamp="2026-02-30T10:00:00Z"), "outcomeTimestamp"),
    (lambda item, card: item.update(acceptedSuggestions=[{"id": "11111111-1111-4111-8111-111111111111"}]),
     "not one of the card's"),
    (lambda item, card: item.update(card="00000000-0000-4000-8000-000000000000",
                                    acceptedSuggestions=[{"id": card["suggestions"][0]["uuid"]}]), "no such card"),
    (lambda item, card: item.update(outcome="overridden", acceptedSuggestions=[{"id": card["suggestions"][0]["uuid"]}]),
     "accepts no suggestion"),
])
def test_feedback_is_validated_before_it_enters_the_log(tmp_path, change, words):
    db = tmp_path / "board.sqlite"
    with TestClient(create_app(Settings(board_db=db))) as c:
        prefetch = _prefetch("gu-fig2-prostate-t11-neuro.yaml")
        body = hook_request("order-sign", prefetch=prefetch, context={"draftOrders": draft_orders(("o1", CPT, "22511"))})
        card = _post(c, "/cds-services/spinemets-order-sign", body).json()["cards"][0]
        item = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-05-04T10:01:00Z",
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}
        change(item, card)
        response = _post(c, "/cds-services/spinemets-order-sign/feedback", {"feedback": [item]})
        assert response.status_code in (400, 409) and words in response.json()["detail"]
    if db.exists():
        with BoardLog(db) as log:
            assert not list(log.records("cds_feedback"))


def test_cors_is_off_by_default_and_allows_only_the_configured_origins():
    origin = "https://ehr.hospital.example"
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    with TestClient(create_app(Settings(board_db=None))) as c:
        assert "access-control-allow-origin" not in c.get("/cds-services", headers={"Origin": origin}).headers
    with TestClient(create_app(Settings(board_db=None, cors_origins=(origin,)))) as c:
        assert c.get("/cds-services", headers={"Origin": origin}).headers["access-control-allow-origin"] == origin
        assert c.options(SERVICE, headers=preflight).status_code == 200
        other = c.get("/cds-services", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_feedback_with_the_clients_own_reason_keeps_its_coding(tmp_path, signer):
    db = tmp_path / "board.sqlite"
    with _recording(db, signer) as c:
        item = {"card": "9368d37b-283f-44a0-93ea-547cebab93ed", "outcome": "overridden",
                "outcomeTimestamp": "2026-05-04T10:00:00Z",
                "overrideReason": {"reason": {"system": "http://ehr.example/reasons", "code": "12354",
                                              "display": "Contraindicated"}}}
        assert _signed(c, signer, "/cds-services/spinemets-patient-view/feedback",
                       {"feedback": [item]}).status_code == 200
    with BoardLog(db) as log:
        (record,) = log.records("cds_feedback")
    assert record.payload["override_reason"] is None
    assert record.payload["override_coding"] == {"system": "http://ehr.example/reasons", "code": "12354",
                                                 "display": "Contraindicated"}


# --- JWT ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signer():
    return Signer()


@pytest.fixture(scope="module")
def guarded(signer):
    trust = Trust(issuers={signer.issuer: Issuer(signer.issuer, jwks=signer.jwks)}, audience="http://testserver")
    with TestClient(create_app(Settings(board_db=None, trust=trust))) as c:
        yield c


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_a_jwt_from_a_trusted_issuer_is_accepted(guarded, signer):
    body = hook_request(prefetch=_prefetch("teach-sepsis-breast-l1.yaml"))
    response = guarded.post(SERVICE, json=body, headers=_bearer(signer.token(f"http://testserver{SERVICE}")))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("make", [
    lambda s: None,
    lambda s: "not-a-jwt",
    lambda s: s.token("http://testserver/cds-services/spinemets-order-sign"),         # another endpoint
    lambda s: s.token(f"http://testserver{SERVICE}", exp=int(time.time()) - 600),     # expired
    lambda s: s.token(f"http://testserver{SERVICE}", exp=int(time.time()) + 3600),    # lives too long
    lambda s: s.token(f"http://testserver{SERVICE}", jti=None),                       # no jti
    lambda s: Signer(s.issuer, s.kid).token(f"http://testserver{SERVICE}"),           # the wrong key
    lambda s: Signer("https://rogue.example", s.kid).token(f"http://testserver{SERVICE}"),
])
def test_a_missing_or_untrusted_jwt_is_401(guarded, signer, make):
    token = make(signer)
    headers = _bearer(token) if token else {}
    response = guarded.post(SERVICE, json=hook_request(prefetch=_prefetch("teach-sepsis-breast-l1.yaml")),
                            headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer" and response.json()["detail"]


def test_a_replayed_jwt_is_401(guarded, signer):
    token = signer.token(f"http://testserver{SERVICE}")
    body = hook_request(prefetch=_prefetch("teach-sepsis-breast-l1.yaml"))
    assert guarded.post(SERVICE, json=body, headers=_bearer(token)).status_code == 200
    assert guarded.post(SERVICE, json=body, headers=_bearer(token)).status_code == 401


def test_keys_from_the_issuers_jwks_url_and_the_trust_file(tmp_path, signer):
    (tmp_path / "jwks.json").write_text(json.dumps(signer.jwks))
    (tmp_path / "issuers.yaml").write_text(
        f"audience: https://cds.hospital.example\nissuers:\n  {signer.issuer}:\n    jwks_file: jwks.json\n"
        "  https://other.example:\n    jwks_url: https://other.example/jwks.json\n")
    trust = load_trust(tmp_path / "issuers.yaml")
    other = Signer("https://other.example", "k2")
    with respx.mock as net, TestClient(create_app(Settings(board_db=None, trust=trust))) as c:
        net.get("https://other.example/jwks.json").respond(200, json=other.jwks)
        body = hook_request(prefetch=_prefetch("teach-sepsis-breast-l1.yaml"))
        public = f"https://cds.hospital.example{SERVICE}"  # the audience behind a proxy
        assert c.post(SERVICE, json=body, headers=_bearer(signer.token(public))).status_code == 200
        assert c.post(SERVICE, json=body, headers=_bearer(other.token(public))).status_code == 200
    (tmp_path / "bad.yaml").write_text("audience: https://cds.example\nissuers:\n  x: {}\n")
    with pytest.raises(Exception, match="jwks"):
        load_trust(tmp_path / "bad.yaml")


# --- no patient data in the logs -------------------------------------------------------------------------------


def test_no_patient_data_is_logged(tmp_path, caplog):
    secret_id, token, comment = "Sentinel-Patient-7731", "sentinel-token-5521", "sentinel comment 9932"
    prefetch = prefetch_from_bundle(json.loads((GOLDEN / "gu-fig2-prostate-t11-neuro.json").read_text()), secret_id)
    caplog.set_level(logging.DEBUG)
    with respx.mock as fhir, TestClient(create_app(Settings(board_db=tmp_path / "b.sqlite",
                                                            fhir_servers=(FHIR,)))) as c:
        for key, resource in (("conditions", "Condition"), ("observations", "Observation"),
                              ("allergies", "AllergyIntolerance"), ("medicationRequests", "MedicationRequest"),
                              ("medicationStatements", "MedicationStatement")):
            fhir.get(f"{FHIR}/{resource}").respond(200, json=prefetch[key])
        body = hook_request(patient_id=secret_id, prefetch={"patient": prefetch["patient"]}, fhirServer=FHIR,
                            fhirAuthorization=_authorization(token))
        card = c.post(SERVICE, json=body).json()["cards"][0]
        c.post("/cds-services/spinemets-patient-view/feedback", json={"feedback": [
            {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z",
             "overrideReason": {"userComment": comment}}]})
        c.post(SERVICE, json={**body, "context": {"patientId": secret_id}})  # a 400
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args}" for r in caplog.records)
    assert "spinemets-patient-view: 1 card(s)" in logged  # the service does log, and this test reads it
    for secret in (secret_id, token, comment, "Malignant neoplasm of prostate", "prostate"):
        assert secret not in logged


def test_an_internal_error_is_a_bare_500_logged_by_type_only(caplog, monkeypatch):
    from spinemets.service import deciding

    def explode(*args, **kwargs):
        raise ValueError("Sentinel-Patient-0042 broke it")
    monkeypatch.setattr(deciding, "bundle_to_document", explode)
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(Settings(board_db=None)), raise_server_exceptions=False) as c:
        response = c.post(SERVICE, json=hook_request(prefetch=_prefetch("teach-sepsis-breast-l1.yaml")))
    assert response.status_code == 500 and response.json() == {"detail": "internal error"}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ValueError" in logged and "Sentinel" not in logged


# --- where it listens --------------------------------------------------------------------------------------------


def test_serve_defaults_to_this_machine_only(monkeypatch, tmp_path, signer, capsys):
    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1"
    seen = {}
    import uvicorn
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    assert main(["serve", "--port", "8123"]) == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    # beyond this machine every caller must be known: without trusted issuers serve does not start
    assert main(["serve", "--host", "0.0.0.0", "--port", "8124"]) == 2 and seen["port"] == 8123
    assert "--issuers" in capsys.readouterr().err
    (tmp_path / "service.yaml").write_text(json.dumps({"audience": "https://cds.example",
                                                       "issuers": {signer.issuer: {"jwks": signer.jwks}}}))
    assert main(["serve", "--host", "0.0.0.0", "--port", "8124", "--issuers", str(tmp_path / "service.yaml")]) == 0
    assert seen["host"] == "0.0.0.0"
    assert serve_command.DEFAULT_HOST == "127.0.0.1"


def _listening(port: int) -> set[str]:
    """Local addresses listening on the port, from /proc/net/tcp and tcp6 (hex, as the kernel shows them)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux /proc/net/tcp")
def test_the_running_service_listens_on_loopback_only():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "spinemets.commands.cli", "serve", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not _listening(port):
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            time.sleep(0.2)
        assert _listening(port) == {"0100007F"}, _listening(port)  # 127.0.0.1, and nothing else
        assert httpx.get(f"http://127.0.0.1:{port}/cds-services", timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_cement_order_of_unspecified_technique_warns_when_the_two_readings_differ(engine):
    from spinemets.service.cards import CardMaker, DraftOrder

    decision = engine.evaluate(read_case_file(CASES_DIR / "teach-myeloma-mechanical-fracture-t9.yaml"))
    assert (decision.option("PVP").status, decision.option("KP").status) == ("recommended", "appropriate")
    # without its conflict notes (which make every order card a warning) the decision gives an info card
    decision = decision.model_copy(update={"conflicts": ()})
    maker = CardMaker(engine.rulebook, None)
    resource = {"resourceType": "ServiceRequest", "id": "c1"}
    either = maker.order(decision, DraftOrder("ServiceRequest/c1", "PVP", resource, could_be=("PVP", "KP")), "p")
    named = maker.order(decision, DraftOrder("ServiceRequest/c1", "PVP", resource), "p")
    assert named.indicator == "info" and named.summary.startswith("Percutaneous vertebroplasty ordered: recommended")
    assert either.indicator == "warning" and either.extension["spinemets"]["ordered"] == "KP"
    assert either.summary.startswith("Cement augmentation (graded as balloon kyphoplasty) ordered: appropriate")
    assert "balloon kyphoplasty: appropriate" in either.detail and "(PVP)" not in either.summary
