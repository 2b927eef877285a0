"""CDS Hooks cards for a patient with lesions (issue 19): an order is judged at the levels it names, or at every
level when it names none, and the card says where the procedure is advised and where it is contraindicated; the
patient-view card's summary is the plan, level by level."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from spinemets import get_engine
from spinemets.case import Case
from spinemets.fhir import case_to_bundle, load
from spinemets.service.app import Settings, create_app

from .cds_support import SERVICE, draft_orders, hook_request, prefetch_from_bundle, validate

CPT = "http://www.ama-assn.org/go/cpt"
SNOMED = "http://snomed.info/sct"
ORDER_SIGN = "/cds-services/spinemets-order-sign"
# A deficit from cord compression at T4 (the cement options contraindicated there), a painful fracture at L1 that
# causes no deficit (vertebroplasty recommended there).
MIXED = {"id": "mixed", "age": 65, "sex": "female", "primary_tumor": "breast", "histology_confirmed": True,
         "karnofsky": 80, "life_expectancy_months": 24, "coagulopathy": False, "active_infection": False,
         "cement_allergy": False, "severe_cardiopulmonary_disease": False, "neurological_deficit": True,
         "asia_grade": "D", "deficit_progressing": False, "deficit_onset_hours": 72, "refractory_to_analgesics": True,
         "refractory_to_conservative": True, "asa_class": 2, "lesions": [
             {"level": "T4", "pathological_fracture": False, "epidural_involvement": True, "bilsky_grade": "3",
              "spinal_cord_compression": True, "compression_site": "cord", "causes_deficit": True, "painful": True},
             {"level": "L1", "pathological_fracture": True, "height_loss_percent": 30, "posterior_wall_defect": False,
              "epidural_involvement": False, "bilsky_grade": "0", "spinal_cord_compression": False, "painful": True,
              "mechanical_pain": True, "pain_score": 8, "lesion_type": "lytic", "symptomatic_cement_leak": False,
              "prior_radiotherapy_at_level": False, "causes_deficit": False}]}


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Settings(board_db=None))) as c:
        yield c


@pytest.fixture(scope="module")
def decision():
    decision = get_engine().evaluate(Case.model_validate(MIXED))
    # the premise of these tests, from the rule base: PVP contraindicated at T4, recommended at L1
    assert decision.lesions[0].level == "T4" and decision.lesions[0].option("PVP").status == "contraindicated"
    assert decision.lesions[1].level == "L1" and decision.lesions[1].option("PVP").status == "recommended"
    return decision


def _prefetch() -> dict:
    return prefetch_from_bundle(case_to_bundle(Case.model_validate(MIXED)))


def _order(*levels: str) -> dict:
    orders = draft_orders(("o1", CPT, "22511"))
    if levels:
        orders["entry"][0]["resource"]["bodySite"] = [
            {"coding": [{"system": SNOMED, "code": load().vertebra_codes[lv].code}]} for lv in levels]
    return orders


def _card(client, orders: dict) -> dict:
    body = hook_request("order-sign", prefetch=_prefetch(), context={"draftOrders": orders})
    validate("request", body)
    response = client.post(ORDER_SIGN, json=body)
    assert response.status_code == 200, response.text
    validate("response", response.json())
    (card,) = response.json()["cards"]
    assert len(card["summary"]) < 140
    return card


def test_patient_view_summary_is_the_plan_level_by_level(client, decision):
    response = client.post(SERVICE, json=hook_request(prefetch=_prefetch()))
    (card,) = response.json()["cards"]
    plan = {level.level: level.advice for level in decision.plan.levels}
    assert plan == {"T4": "SURGERY", "L1": "PVP"}
    assert card["summary"].startswith("spinemets plan: ")
    assert "SURGERY at T4" in card["summary"] and "PVP at L1" in card["summary"]
    assert "| T4 | Open surgery |" in card["detail"] and "| L1 | Percutaneous vertebroplasty |" in card["detail"]
    assert [row["level"] for row in card["extension"]["spinemets"]["lesions"]] == ["T4", "L1"]
    assert card["extension"]["spinemets"]["lesions"][0]["statuses"]["PVP"] == "contraindicated"


def test_an_order_naming_no_level_is_critical_and_says_where_it_is_contraindicated(client, decision):
    card = _card(client, _order())
    assert card["indicator"] == "critical"
    assert card["summary"] == ("Percutaneous vertebroplasty: contraindicated at T4; recommended at L1 (the order "
                               "names no level)")
    assert "suggestions" not in card  # advised at L1: no replacement of the order as a whole
    assert "| T4 | Open surgery | recommended, provisional | contraindicated |" in card["detail"]


def test_an_order_at_the_advised_level_is_graded_there(client, decision):
    card = _card(client, _order("L1"))
    # the sources disagree on cement at L1 (the conflict note): a warning, as for a flat case
    assert any("L1" in c.levels for c in decision.conflicts)
    assert card["indicator"] == "warning" and card["summary"].endswith("ordered: recommended at L1")
    assert "contraindicated" not in card["summary"]


def test_an_order_at_the_contraindicated_level_is_critical_and_replaced_by_that_levels_top(client, decision):
    card = _card(client, _order("T4"))
    assert card["indicator"] == "critical" and "contraindicated at T4" in card["summary"]
    assert "Open surgery" in card["summary"]  # the top option at T4, not the patient's (which is PVP at L1)
    (suggestion,) = card["suggestions"]
    delete, create = suggestion["actions"]
    assert delete["resourceId"] == "ServiceRequest/o1"
    assert create["resource"]["code"]["coding"][0]["code"] == "option:SURGERY"


def test_an_order_at_a_vertebra_without_a_lesion_says_so(client, decision):
    card = _card(client, _order("L4"))
    assert card["indicator"] == "critical" and "no lesion recorded at L4" in card["summary"]
    assert "contraindicated at T4" in card["summary"]


def test_an_order_at_both_levels_is_critical_for_the_one_contraindicated(client, decision):
    card = _card(client, _order("L1", "T4"))
    assert card["indicator"] == "critical"
    assert "contraindicated at T4" in card["summary"] and "names no level" not in card["summary"]
    assert "suggestions" not in card


def test_an_order_at_an_advised_level_with_an_absolute_contraindication_unknown_asks_it_first(client):
    data = {k: v for k, v in MIXED.items() if k != "coagulopathy"}
    body = hook_request("order-sign", prefetch=prefetch_from_bundle(case_to_bundle(Case.model_validate(data))),
                        context={"draftOrders": _order("L1")})
    (card,) = client.post(ORDER_SIGN, json=body).json()["cards"]
    assert card["indicator"] == "warning"
    assert card["summary"] == "Percutaneous vertebroplasty: rule out first: Uncorrectable coagulopathy"
