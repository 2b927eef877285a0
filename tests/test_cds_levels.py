"""What a CDS Hooks card says of levels (engine/service/levels.py): an order on a patient with lesions is judged at
the levels it names, or at every level when it names none; the plan is summarised level by level."""
from __future__ import annotations

from types import SimpleNamespace

from spinemets.fhir import load
from spinemets.service.levels import LevelStatus, grouped, order_at_levels, ordered_levels, plan_summary

SNOMED = "http://snomed.info/sct"
PVP_AT = [LevelStatus("L1", "contraindicated"), LevelStatus("T11", "recommended"), LevelStatus("T12", "recommended")]


def test_statuses_are_grouped_best_first_with_levels_cranio_caudal():
    assert grouped(PVP_AT) == "recommended at T11, T12; contraindicated at L1"
    assert grouped([LevelStatus("S1", "not_recommended")]) == "not recommended at S1"


def test_an_order_naming_no_level_is_judged_at_every_level():
    at = order_at_levels(PVP_AT, ())
    assert at.unnamed and at.contraindicated == ("L1",) and not at.everywhere
    assert at.concerned == ("T11", "T12", "L1")
    assert at.contraindicated_first == "contraindicated at L1; recommended at T11, T12"


def test_an_order_naming_its_levels_is_judged_there_only():
    at = order_at_levels(PVP_AT, ("T12", "T11"))
    assert not at.unnamed and at.contraindicated == () and at.phrase == "recommended at T11, T12"
    at = order_at_levels(PVP_AT, ("L1",))
    assert at.everywhere and at.contraindicated == ("L1",) and at.phrase == "contraindicated at L1"


def test_an_order_at_a_level_without_a_lesion_says_so_and_is_judged_at_every_level():
    at = order_at_levels(PVP_AT, ("L4",))
    assert at.elsewhere == ("L4",) and at.unnamed and at.contraindicated == ("L1",)


def test_contraindicated_at_every_level_is_everywhere():
    at = order_at_levels([LevelStatus("T5", "contraindicated"), LevelStatus("T7", "contraindicated")], ())
    assert at.everywhere and at.contraindicated == ("T5", "T7")


def test_the_plan_summary_groups_levels_by_advice():
    levels = [SimpleNamespace(level="T11", advice="PVP", status="recommended", provisional=False),
              SimpleNamespace(level="L1", advice="SURGERY", status="recommended", provisional=True),
              SimpleNamespace(level="T12", advice="PVP", status="recommended", provisional=False)]
    assert plan_summary(levels) == "PVP at T11, T12 (recommended); SURGERY at L1 (recommended, provisional)"


def test_an_orders_vertebrae_are_read_from_snomed_and_project_body_sites():
    code = load().vertebra_codes["L1"].code
    order = {"resourceType": "ServiceRequest", "bodySite": [
        {"coding": [{"system": SNOMED, "code": code}]},
        {"coding": [{"system": load().project, "code": "vertebra:T11"}]},
        {"text": "somewhere"}, {"coding": [{"system": SNOMED, "code": 12989004}]}]}
    assert ordered_levels(order) == ("T11", "L1")
    assert ordered_levels({"bodySite": "T11"}) == ()
