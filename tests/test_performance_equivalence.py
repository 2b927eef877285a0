"""The optimised paths give byte-identical results to the plain ones they stand in for.

References: `decide` in engine/decision.py (the readable statement of docs/decision.md), and below an
evaluation and a what-if sweep written the straightforward way, as the engine first did them. Speed is
measured by benchmarks/run.py, never asserted here.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spinemets import CaseError, get_engine, load_rulebook, read_case_file
from spinemets.case import case_from_values, input_fields, known_values
from spinemets.case_io import case_from_data
from spinemets.conditions import fields_of
from spinemets.decision import DecisionPlan, decide
from spinemets.evaluator import RuleEvaluator, case_values
from spinemets.fields import input_specs
from spinemets.kleene import Truth
from spinemets.scores import ScoreResult
from spinemets.commands.synth import synthetic_cases
from spinemets.vocabulary import OPTIONS
from spinemets.whatif import FieldChange, candidate_values, diff, sweep, with_value

from . import strategies as gen
from .missing_oracle import Oracle
from .conftest import CASES_DIR, CITATION, RATIONALE, vocabulary_files
from .test_agreement import generated_rulebook, random_rule_bases

# The reference paths below are those of a flat case; a case in lesion form is each lesion's view through the
# same path (engine._decide), whose composition tests/test_lesions.py checks.
VIGNETTES = [p for p in sorted(CASES_DIR.glob("*.yaml")) if read_case_file(p).case.lesions is None]


def reference_evaluate(engine, case):
    """evaluate as first written: everything from the case, each status re-derived from the effects."""
    if engine.check(case):
        raise CaseError(f"case {case.id}: inconsistent")
    values, scores = case_values(case, engine.rulebook)
    fired = engine.durable.fire(values)
    assert fired == engine.evaluator.fired(values)
    settled, _ = engine.evaluator.evaluate(values, settled=True)
    undecided = [rid for rid, t in zip(engine.evaluator.rule_ids, settled) if t == Truth.UNKNOWN]
    known = known_values(case)
    unknown = [name for name in input_fields() if name not in known]
    facts = engine.evaluator.evaluate(values)[1]
    frameworks = engine.frameworks_for(values, facts, scores, unknown)
    asks = engine.questions_for(values, facts, unknown)
    exact = oracle(engine).single_changes(known)  # every unknown field tried, every value class, full evaluations
    decision = decide(engine.rulebook, case.id, fired, undecided, unknown, frameworks, asks,
                      lambda candidates, pivotal: exact)
    return decision.model_copy(update=engine.trace(fired))


_ORACLES: dict[str, Oracle] = {}


def oracle(engine) -> Oracle:
    if engine.sha256 not in _ORACLES:
        _ORACLES[engine.sha256] = Oracle(engine)
    return _ORACLES[engine.sha256]


def reference_sweep(engine, case):
    """The what-if sweep as first written: a validated case and a full decision for every variant."""
    baseline = engine.evaluate(case)
    constants = engine.rulebook.numeric_constants
    current = known_values(case)
    found = []
    for name, spec in input_specs().items():
        for value in candidate_values(spec, constants.get(name, ())):
            if name in current and current[name] == value:
                continue
            changed = with_value(case, name, value)
            if engine.check(changed):
                continue
            decision = engine.evaluate(changed)
            changes = diff(baseline, decision)
            if changes:
                found.append(FieldChange(name, current.get(name), value, baseline.top, decision.top, changes))
    order = {name: i for i, name in enumerate(input_specs())}
    found.sort(key=lambda c: (not c.moves_top, order[c.field]))
    return found


def assert_same_decision(engine, case) -> None:
    fast, plain = engine.evaluate(case), reference_evaluate(engine, case)
    assert fast.to_json() == plain.to_json()
    assert fast.model_dump_json() == plain.model_dump_json()  # the compact form the batch writes
    assert fast == plain


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_vignettes_give_byte_identical_decisions(engine, path):
    assert_same_decision(engine, read_case_file(path).case)


def test_synthetic_registry_gives_byte_identical_decisions(engine):
    for data in synthetic_cases(400, seed=17, engine=engine):
        assert_same_decision(engine, case_from_data(data).case)


@given(gen.cases())
@settings(max_examples=150)
def test_generated_partial_cases_give_byte_identical_decisions(engine, case):
    assume(not engine.check(case))
    assert_same_decision(engine, case)


@given(gen.cases(complete=True))
@settings(max_examples=60)
def test_generated_complete_cases_give_byte_identical_decisions(engine, case):
    assume(not engine.check(case))
    assert_same_decision(engine, case)


# --- the decision layer alone, on rule bases with every kind of effect ----------------------------------

SECOND_CITATION = {"source": "gu-2017", "section": "Discussion",
                   "locator": "it has the risk of damaging the posterior wall when the balloon is inflated too high",
                   "stance": "states"}
options = st.lists(st.sampled_from(OPTIONS), min_size=1, max_size=3, unique=True)
# The loader refuses a limit on conservative care (docs/decision.md, 3): limits name procedures only.
procedures = st.lists(st.sampled_from([o for o in OPTIONS if o != "CONSERVATIVE"]), min_size=1, max_size=3,
                      unique=True)
effects = st.one_of(
    st.builds(lambda o, s: {"indicate": o, "strength": s}, options, st.sampled_from(["strong", "moderate"])),
    st.builds(lambda o, s: {"contraindicate": o, "severity": s}, procedures, st.sampled_from(["absolute", "relative"])),
    st.builds(lambda o: {"advise_against": o}, procedures),
    st.builds(lambda o: {"limit": o, "at_most": "appropriate"}, procedures),
    st.builds(lambda o, c: {"conflict": o, "caution": c}, procedures, st.booleans()),
    st.builds(lambda p, o: {"prefer": p, "over": [x for x in o if x != p] or [x for x in OPTIONS if x != p][:1]},
              st.sampled_from(OPTIONS), options),
    st.builds(lambda o: {"adjunct": "biopsy", "options": o}, st.one_of(st.just([]), options)),
)


@st.composite
def effect_rule_bases(draw):
    rules = []
    for n in range(draw(st.integers(3, 10))):
        then = draw(st.lists(effects, min_size=1, max_size=3))
        rules.append({"id": f"gen.effect_{n}", "title": "t", "when": f"karnofsky > {n}", "then": then,
                      "text": "generated", "evidence_level": 5, "strength_rationale": RATIONALE,
                      "citations": [CITATION, SECOND_CITATION]})
    return rules


@given(rules=effect_rule_bases(), data=st.data())
@settings(max_examples=40)
def test_the_decision_plan_decides_exactly_like_decide(tmp_path_factory, rules, data):
    folder = vocabulary_files(tmp_path_factory.mktemp("effects") / "rules")
    (folder / "generated.yaml").write_text(gen.dump({"rules": rules}))
    book = load_rulebook(folder)
    plan = DecisionPlan(book)
    ids = [r.id for r in book.active_rules]
    for _ in range(6):
        fired = data.draw(st.sets(st.sampled_from(ids)))
        undecided = data.draw(st.sets(st.sampled_from(ids)))
        unknown = data.draw(st.sets(st.sampled_from(input_fields())))
        frameworks = {"sins": ScoreResult(score="sins", title="SINS", total=3, minimum=3, maximum=3)}
        fields = sorted(unknown) or ["age"]
        asks = data.draw(st.dictionaries(st.sampled_from(fields),  # questions: moot (), or asked through others
                                         st.lists(st.sampled_from(fields), max_size=3, unique=True).map(tuple),
                                         max_size=4))
        expected = decide(book, "case-1", fired, undecided, unknown, frameworks, asks)
        assert plan.decide("case-1", fired, undecided, unknown, frameworks, asks).to_json() == expected.to_json()
        statuses, ranking = plan.ranking(fired, undecided)
        assert statuses == expected.statuses() and tuple(ranking) == expected.ranking


# --- the three-valued evaluator's two readings ------------------------------------------------------------


@given(rules=random_rule_bases(), cases=st.lists(gen.case_values(), min_size=4, max_size=4))
@settings(max_examples=40)
def test_both_readings_at_once_equal_two_separate_readings(tmp_path_factory, rules, cases):
    book = generated_rulebook(tmp_path_factory, rules, "readings")
    evaluator = RuleEvaluator(book)
    for values in cases:
        known, _ = case_values(case_from_values("r", values), book)
        now, facts = evaluator.evaluate(known)
        assert evaluator.readings(known) == (now, evaluator.evaluate(known, settled=True)[0], facts)


# --- what-if ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_the_sweep_of_each_vignette_is_unchanged(engine, path):
    case = read_case_file(path).case
    assert sweep(engine, case) == reference_sweep(engine, case)


def test_the_sweep_of_synthetic_cases_is_unchanged(engine):
    for data in synthetic_cases(6, seed=23, engine=engine):
        case = case_from_data(data).case
        assert sweep(engine, case) == reference_sweep(engine, case)


# --- what durable-rules is given --------------------------------------------------------------------------


def test_the_case_fact_carries_only_what_rules_read_under_short_keys(engine):
    case = read_case_file(VIGNETTES[0]).case
    values, _ = case_values(case, engine.rulebook)
    fact = engine.durable.case_fact(values)
    keys = engine.durable.keys
    assert len(set(keys.values())) == len(keys)  # one key per field
    assert set(fact) - {"kind"} <= set(keys.values())
    read = {n for r in engine.rulebook.active_rules for n in fields_of(r.when)}
    unread = [name for name in values if name not in read]
    assert all(keys.get(name) is None for name in unread)
    assert len(json.dumps(fact)) < len(json.dumps(values, default=str))


def test_a_rule_base_edited_in_place_gets_its_own_engine(rules_copy):
    """Optimisations precompute from the rule base: a changed rule base must never reuse them."""
    first = get_engine(rules_copy)
    path = next(p for p in rules_copy.rglob("*.yaml") if "severity: absolute" in p.read_text())
    path.write_text(path.read_text().replace("severity: absolute", "severity: relative", 1))
    second = get_engine(rules_copy)
    assert second is not first and second.plan is not first.plan and second.durable.name != first.durable.name


def test_unchanged_rule_files_are_not_parsed_again_and_a_comment_keeps_the_engine(rules_copy, monkeypatch):
    from spinemets import engine as engine_module

    first = get_engine(rules_copy)
    monkeypatch.setattr(engine_module, "load_rulebook", lambda *_: pytest.fail("unchanged files were parsed again"))
    assert get_engine(rules_copy) is first
    monkeypatch.undo()
    path = next(iter(sorted(rules_copy.rglob("*.yaml"))))
    path.write_text("# a comment changes the bytes, not the rules\n" + path.read_text())
    assert get_engine(rules_copy) is first  # parsed again, same content hash, same engine
