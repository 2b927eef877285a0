"""The status range of provisional options and the exact `missing` (docs/decision.md, 4), against brute force."""
from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spinemets import read_case_file
from spinemets.case import case_from_values, input_fields, known_values
from spinemets.decision import rank_options
from spinemets.evaluator import case_values
from spinemets.vocabulary import STATUS_RANK

from . import strategies as gen
from .conftest import CASES_DIR
from .missing_oracle import Oracle

MOSTLY_UNKNOWN = CASES_DIR / "teach-mostly-unknown-lung-t8.yaml"
CLEAR = ("coagulopathy", "active_infection", "cement_allergy", "severe_cardiopulmonary_disease",
         "symptomatic_cement_leak", "neurological_deficit", "spinal_cord_compression")


@pytest.fixture(scope="module")
def oracle(engine):
    return Oracle(engine)


def small_domain(oracle: Oracle, name: str, known: dict, draw) -> list:
    """A few values of the field: every code, or a handful of the rule base's numbers and their neighbours."""
    values = oracle.values_of(name, known)
    if len(values) <= 6:
        return values
    return draw(st.lists(st.sampled_from(values), min_size=3, max_size=5, unique_by=repr))


@given(st.data())
@settings(max_examples=100)
def test_every_completion_of_the_unknown_fields_lands_within_the_range(engine, oracle, data):
    """Soundness: blank a few fields of an admissible complete case, then fill them in every way over small domains:
    a provisional option's status stays within [worst, best], a settled one's does not move."""
    drawn = data.draw(gen.case_values(complete=True))
    for name in CLEAR:  # random cases are mostly contraindicated: clear the blanket contraindications often
        if data.draw(st.integers(0, 4)):
            drawn[name] = False
    complete = gen.make_consistent(drawn)
    assume(not engine.check(case_from_values("full", complete)))
    names = [n for n in [*input_fields()] if n in complete]
    blank = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=5, unique=True))
    partial = {k: v for k, v in complete.items() if k not in blank}
    case = case_from_values("partial", partial)
    decision = engine.evaluate(case)
    known = known_values(case)
    domains = [[complete[n], *(v for v in small_domain(oracle, n, known, data.draw) if v != complete[n])]
               for n in blank]
    checked = 0
    for combo in itertools.islice(itertools.product(*domains), 600):
        got = oracle.reading({**known, **dict(zip(blank, combo, strict=True))})
        if got is None:
            continue  # a combination the consistency checks refuse is no completion
        checked += 1
        for option in decision.options:
            rank = STATUS_RANK[got[0][option.option]]
            if option.range is None:
                assert got[0][option.option] == option.status, (option.option, dict(zip(blank, combo)))
            else:
                assert STATUS_RANK[option.range.worst] <= rank <= STATUS_RANK[option.range.best], (
                    option.option, option.range, got[0][option.option], dict(zip(blank, combo)))
    assert checked  # the original values are one admissible completion


@given(gen.cases())
@settings(max_examples=40)
def test_missing_is_exact(engine, oracle, case):
    """Each field listed has a value that alone changes the statuses it names, through the rules it names; no
    unknown field left out (other than those its question sets aside) has one."""
    assume(not engine.check(case))
    decision = engine.evaluate(case)
    values, _ = case_values(case, engine.rulebook)
    _, _, facts = engine.evaluator.readings(values)
    asks = engine.questions_for(values, facts, [n for n in input_fields() if n not in values])
    expected = {name: (set(affects), set(rules)) for name, (affects, rules)
                in oracle.single_changes(known_values(case)).items() if name not in asks}
    assert {m.field: (set(m.affects), set(m.rules)) for m in decision.missing} == expected


@given(gen.cases(complete=True))
@settings(max_examples=60)
def test_a_complete_case_has_no_range_and_ranks_as_before(engine, case):
    assume(not engine.check(case))
    decision = engine.evaluate(case)
    assert all(o.range is None for o in decision.options)
    assert '"range"' not in decision.to_json()
    fired = engine.rulebook.rule_by_id
    preferences = [(e.prefer, worse) for r in decision.fired for e in fired[r].then
                   if type(e).__name__ == "Prefer" for worse in e.over]
    assert list(decision.ranking) == rank_options(decision.statuses(), preferences, engine.rulebook.option_order)


def test_an_incomplete_referral_shows_what_each_option_can_still_become(engine):
    decision = engine.evaluate(read_case_file(MOSTLY_UNKNOWN))
    assert all(o.status == "not_recommended" and o.provisional for o in decision.options)
    ranges = {o.option: (o.range.worst, o.range.best) for o in decision.options}
    assert ranges["CONSERVATIVE"] == ("not_recommended", "recommended")  # never capped (docs/decision.md, 3)
    assert ranges["PVP"] == ("contraindicated", "recommended")
    assert ranges["SURGERY"] == ("contraindicated", "recommended")
    assert ranges["TAE_PVP"][1] == "appropriate"
    pvp = decision.option("PVP").range
    assert {"coagulopathy", "cement_allergy", "active_infection"} <= set(pvp.toward_worst)
    assert {"refractory_to_conservative", "neurological_deficit"} <= set(pvp.toward_best)
    assert "coagulopathy" not in pvp.toward_best  # an absolute contraindication can only lower it
    data = json.loads(decision.to_json())
    assert data["options"][1]["range"]["best"] == "recommended"
    assert decision.ranking[0] == "CONSERVATIVE"


def test_among_options_nothing_lifts_those_an_answer_could_lift_come_first(engine):
    """Nothing indicates any option; surgery is advised against whatever the answers (short survival), cement
    could still be lifted: it no longer trails surgery just because of the manifest's order."""
    base = {"id": "r", "life_expectancy_months": 2, "primary_tumor": "lung", "histology_confirmed": True,
            "levels": ["T8"], "pathological_fracture": True}
    decision = engine.evaluate(base)
    surgery = decision.option("SURGERY")
    assert surgery.status == "not_recommended"
    lifted = [o.option for o in decision.options if o.status == "not_recommended" and o.range
              and o.range.best != "not_recommended"]
    stuck = [o.option for o in decision.options if o.status == "not_recommended"
             and (o.range is None or o.range.best == "not_recommended")]
    order = list(decision.ranking)
    assert lifted and stuck
    assert max(order.index(o) for o in lifted) < min(order.index(o) for o in stuck), (order, lifted, stuck)


def test_the_range_is_absent_on_a_settled_option_and_present_on_a_provisional_one(engine):
    decision = engine.evaluate({"id": "u", "pathological_fracture": True, "refractory_to_conservative": True,
                                "neurological_deficit": False})
    data = {o["option"]: o for o in json.loads(decision.to_json())["options"]}
    for option in decision.options:
        assert ("range" in data[option.option]) == option.provisional
    pvp = data["PVP"]
    assert pvp["status"] == "recommended" and pvp["range"]["best"] == "recommended"
    assert pvp["range"]["worst"] == "contraindicated" and "coagulopathy" in pvp["range"]["toward_worst"]
