"""The decision layer: status resolution, ranking, provisional flags, missing data, determinism, JSON form."""
from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spinemets import OPTIONS, STATUSES
from spinemets.case import case_from_values, input_fields, known_values
from spinemets.evaluator import case_values
from spinemets.kleene import Truth
from spinemets.decision import Decision, MissingField, rank_options, resolve_status

from . import strategies as gen


@pytest.mark.parametrize("floors, ceilings, expected", [
    ([], [], "not_recommended"),
    (["appropriate"], [], "appropriate"),
    (["appropriate", "recommended"], [], "recommended"),
    (["recommended"], ["caution"], "caution"),
    (["recommended"], ["not_recommended"], "not_recommended"),
    (["recommended"], ["caution", "contraindicated"], "contraindicated"),
    ([], ["caution"], "not_recommended"),          # a caution never lifts an option nobody indicated
    ([], ["contraindicated"], "contraindicated"),
    (["appropriate"], ["caution", "not_recommended"], "not_recommended"),
])
def test_the_highest_floor_capped_by_the_lowest_ceiling(floors, ceilings, expected):
    assert resolve_status(floors, ceilings) == expected


def test_ranking_by_status_then_preference_then_order():
    statuses = {"PVP": "appropriate", "KP": "appropriate", "TAE_PVP": "recommended", "PVP_ITR": "caution",
                "SURGERY": "contraindicated", "CONSERVATIVE": "appropriate"}
    order = ("CONSERVATIVE", "PVP", "KP", "TAE_PVP", "PVP_ITR", "SURGERY")
    assert rank_options(statuses, [], order) == ["TAE_PVP", "CONSERVATIVE", "PVP", "KP", "PVP_ITR"]
    # the first order (by the manifest) that keeps every preference
    assert rank_options(statuses, [("KP", "CONSERVATIVE")], order) == ["TAE_PVP", "PVP", "KP", "CONSERVATIVE", "PVP_ITR"]
    # a preference between options of different status changes nothing
    assert rank_options(statuses, [("PVP_ITR", "TAE_PVP")], order)[0] == "TAE_PVP"
    # a cycle falls back to the manifest's order, deterministically
    cycle = [("KP", "PVP"), ("PVP", "CONSERVATIVE"), ("CONSERVATIVE", "KP")]
    assert rank_options(statuses, cycle, order) == rank_options(statuses, cycle, order)


def contract_problems(d: dict) -> list[str]:
    """The shape ../shared/tools/check_contract.py requires of every decision."""
    names = [o["option"] for o in d["options"]]
    by = {o["option"]: o for o in d["options"]}
    problems = []
    if sorted(names) != sorted(OPTIONS):
        problems.append(f"options {names}")
    contra = [n for n in names if by[n]["status"] == "contraindicated"]
    if set(d["ranking"]) & set(contra) or set(d["ranking"]) | set(contra) != set(OPTIONS) or not d["ranking"]:
        problems.append("ranking")
    if names != d["ranking"] + [n for n in names if n not in d["ranking"]]:
        problems.append("order")
    ranks = [STATUSES.index(by[n]["status"]) for n in d["ranking"]]
    if ranks != sorted(ranks):
        problems.append("status order")
    for o in d["options"]:
        if o["status"] != "not_recommended" and not any(r["citations"] for r in o["reasons"]):
            problems.append(f"{o['option']} {o['status']} uncited")
    if d["missing"] and not any(o["provisional"] for o in d["options"]):
        problems.append("missing without provisional")
    return problems


@given(gen.cases())
@settings(max_examples=200)
def test_every_decision_keeps_the_contract(engine, case):
    assume(not engine.check(case))
    decision = json.loads(engine.evaluate(case).to_json())
    assert contract_problems(decision) == []


@given(st.data())
@settings(max_examples=120)
def test_a_status_not_marked_provisional_holds_for_every_completion(engine, data):
    partial = data.draw(gen.case_values())
    case = case_from_values("partial", partial)
    assume(not engine.check(case))
    decision = engine.evaluate(case)
    fixed = {o.option: o.status for o in decision.options if not o.provisional}
    for _ in range(8):
        completed = case_from_values("complete", data.draw(gen.completions(partial)))
        if engine.check(completed):
            continue
        statuses = engine.evaluate(completed).statuses()
        for option, status in fixed.items():
            assert statuses[option] == status, f"{option} was not provisional but became {statuses[option]}"


@given(gen.cases())
@settings(max_examples=150)
def test_missing_names_only_unknown_fields_and_provisional_options(engine, case):
    assume(not engine.check(case))
    decision = engine.evaluate(case)
    known = known_values(case)
    provisional = {o.option for o in decision.options if o.provisional}
    values, _ = case_values(case, engine.rulebook)
    _, _, facts = engine.evaluator.readings(values)
    asks = engine.questions_for(values, facts, [n for n in input_fields() if n not in values])
    for entry in decision.missing:
        assert entry.field not in known
        assert entry.affects and set(entry.affects) <= provisional
        assert entry.field not in asks  # a question not TRUE of the case sets the field aside
    # a provisional option and only a provisional one carries its range, which holds its status
    for option in decision.options:
        assert (option.range is not None) == option.provisional
        if option.range:
            rank = STATUSES.index
            assert rank(option.range.best) < rank(option.range.worst)
            assert rank(option.range.best) <= rank(option.status) <= rank(option.range.worst)
            assert option.range.toward_best or option.range.toward_worst
            assert not (set(option.range.toward_best) | set(option.range.toward_worst)) & set(known)


def test_a_histology_proven_metastasis_without_neurology_is_not_asked_about_a_leak_or_a_primary_bone_tumour(engine):
    case = {"id": "proven", "primary_tumor": "breast", "histology_confirmed": True, "pathological_fracture": True,
            "refractory_to_conservative": True, "neurological_deficit": False, "radicular_pain": False}
    asked = {m.field for m in engine.evaluate(case).missing}
    assert "symptomatic_cement_leak" not in asked and "primary_bone_tumor" not in asked
    assert {"coagulopathy", "kyphosis_degrees"} <= asked  # fields of its situation are still asked
    open_case = {**case, "histology_confirmed": None, "radicular_pain": None}
    decision = engine.evaluate(open_case)
    asked = {m.field: m for m in decision.missing}
    # while the situation is open, the field is not asked; what decides the situation is, by what it changes itself
    assert "symptomatic_cement_leak" not in asked and "primary_bone_tumor" not in asked
    # the histology alone changes no status here, so it is not in `missing`; the range of vertebroplasty names it
    assert "histology_confirmed" not in asked and "histology_confirmed" in decision.option("PVP").range.toward_worst
    # radicular pain alone (the leak still unknown) does not fire the leak rule, so it is not named for it ...
    assert "ind.surgery.symptomatic_cement_leak" not in asked.get("radicular_pain", MissingField(
        field="radicular_pain", affects=(), rules=())).rules
    # ... but the range of surgery names it as a question that moves surgery toward its best
    assert "radicular_pain" in decision.option("SURGERY").range.toward_best
    with_deficit = {**case, "neurological_deficit": True}
    assert "symptomatic_cement_leak" in {m.field for m in engine.evaluate(with_deficit).missing}


def test_without_a_fracture_no_one_asks_for_kyphosis_or_height_loss(engine):
    case = {"id": "lytic", "lesion_type": "lytic", "pathological_fracture": False, "refractory_to_conservative": True,
            "neurological_deficit": False, "epidural_involvement": True, "posterior_wall_defect": True}
    collapse = {"kyphosis_degrees", "severe_osteoporosis", "height_loss_percent"}
    decision = engine.evaluate(case)
    assert not {m.field for m in decision.missing} & collapse
    assert not questions(decision) & collapse  # nor among the questions of the ranges
    fractured = engine.evaluate({**case, "pathological_fracture": True})
    # with a fracture they are questions again: none changes a status alone (so none is in `missing`), but they
    # move tumour removal toward its worst
    assert {"kyphosis_degrees", "height_loss_percent"} <= set(fractured.option("PVP_ITR").range.toward_worst)


def questions(decision) -> set[str]:
    return {f for o in decision.options if o.range for f in (*o.range.toward_best, *o.range.toward_worst)}


@given(gen.cases(complete=True))
@settings(max_examples=100)
def test_a_complete_case_is_never_provisional(engine, case):
    assume(not engine.check(case))
    decision = engine.evaluate(case)
    assert decision.missing == ()
    assert not any(o.provisional for o in decision.options)


def test_the_same_case_gives_byte_identical_json(engine):
    case = {"id": "same", "pathological_fracture": True, "refractory_to_conservative": True,
            "neurological_deficit": False, "posterior_wall_defect": True}
    assert engine.evaluate(case).to_json() == engine.evaluate(dict(reversed(list(case.items())))).to_json()


@given(gen.cases())
@settings(max_examples=60)
def test_json_output_validates_against_the_exported_schema(engine, case):
    assume(not engine.check(case))
    schema = Decision.model_json_schema(mode="serialization")
    jsonschema.validate(json.loads(engine.evaluate(case).to_json()), schema)


def test_decision_carries_the_rule_base_version_and_hash(engine):
    decision = engine.evaluate({"id": "x"})
    assert decision.rulebook.sha256 == engine.rulebook.sha256 and len(decision.rulebook.sha256) == 64
    assert decision.rulebook.version == engine.rulebook.version


def test_unknown_is_not_false(engine):
    """An unknown contraindication leaves the option open but provisional; a false one settles it."""
    unknown = engine.evaluate({"id": "u", "pathological_fracture": True, "refractory_to_conservative": True,
                               "neurological_deficit": False})
    assert unknown.option("PVP").status == "recommended" and unknown.option("PVP").provisional
    assert any(m.field == "coagulopathy" and "PVP" in m.affects for m in unknown.missing)
    known = engine.evaluate({"id": "k", "pathological_fracture": True, "refractory_to_conservative": True,
                             "neurological_deficit": False, "coagulopathy": True})
    assert known.option("PVP").status == "contraindicated" and "PVP" not in known.ranking
