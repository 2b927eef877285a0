"""The SMT proofs: they prove what holds, refute what does not with a case the engine confirms, and
range over unknown fields, derived facts, computed values, scores and consistency checks."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
import z3

from spinemets import get_engine, load_rulebook
from spinemets.case_io import read_case_file
from spinemets.errors import RulebookError
from spinemets.rulebook import DEFAULT_RULES_DIR
from spinemets.verify import verify
from spinemets.verify.invariants import failed_claims, load_invariants
from spinemets.verify.report import EXIT_HOLDS, EXIT_INTERNAL, EXIT_VIOLATED

from .verify_support import check, invariant, rule, write_base

SCRIPT = Path(sys.executable).parent / "spinemets"
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "spinemets.commands.cli"]


def outcome(report, inv_id: str):
    return next(r for r in report.invariants if r.invariant.id == inv_id)


def engine_violates(rules_dir: Path, result) -> bool:
    """Independently of the report: the counterexample, loaded as a case file would be, breaks the claim."""
    engine = get_engine(load_rulebook(rules_dir))
    case = read_case_file_from(result.counterexample.case)
    return bool(failed_claims(result.invariant, engine.evaluate(case)))


def read_case_file_from(data: dict):
    from spinemets.case_io import parse_case_text
    return parse_case_text(yaml.safe_dump(data), "counterexample.yaml").case


# --- the shipped rule base -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_report(shipped_verify_report):
    return shipped_verify_report


def test_the_shipped_rule_base_is_verified_and_every_verdict_is_trustworthy(shipped_report):
    # how long verify takes is a benchmark's figure (benchmarks/run.py), never a test's assertion
    report = shipped_report
    assert len(report.invariants) >= 15 and {c.check.check for c in report.checks} == {
        "rules_can_fire", "no_shadowed_rules", "every_option_can_lead", "no_undeclared_contradictions",
        "provisional_is_sound", "range_is_sound", "invariants_at_every_lesion", "plan_advice_never_contraindicated"}
    # Whether every invariant holds is the CI's `spinemets verify` step; here: no proof is in doubt.
    assert report.internal_problems == []
    assert all(r.outcome in ("proved", "violated") for r in report.invariants)
    for r in report.violated:
        assert r.counterexample.confirmed, r.counterexample.engine_says


def test_every_shipped_invariant_cites_a_paper_an_external_source_or_the_semantics(rulebook):
    invariants, _ = load_invariants(rulebook)
    for inv in invariants:
        if inv.basis in ("paper", "external"):
            kinds = {rulebook.sources[c.source].kind for c in inv.citations}
            assert kinds and ("paper" in kinds) == (inv.basis == "paper")
        else:
            assert inv.see and "docs/" in inv.see and not inv.citations


def test_breaking_a_shipped_rule_is_caught_with_a_counterexample_the_engine_confirms(rules_copy, shipped_report):
    report = shipped_report
    if outcome(report, "inv.cement.coagulopathy").outcome != "proved":
        pytest.skip("the coagulopathy invariant does not hold on the rule base as it is (verify reports it)")
    # The mutation: every absolute contraindication that names KP becomes relative.
    changed = 0
    for path in sorted(rules_copy.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if not isinstance(data, dict) or "rules" not in data:
            continue
        for r in data["rules"]:
            for effect in r.get("then", []):
                names = effect.get("contraindicate")
                names = [names] if isinstance(names, str) else names or []
                if "KP" in names and effect.get("severity") == "absolute":
                    effect["severity"] = "relative"
                    changed += 1
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    assert changed
    mutated = verify(rules_copy, only={"inv.cement.coagulopathy"})
    result = outcome(mutated, "inv.cement.coagulopathy")
    assert result.outcome == "violated" and result.counterexample.confirmed
    assert result.counterexample.case.get("coagulopathy") is True
    assert engine_violates(rules_copy, result)
    assert mutated.exit_code == EXIT_VIOLATED


# --- thresholds, unknowns, derived facts, computed values, scores, consistency -------------------------------


SHORT_SURVIVAL = [
    rule("advise.surgery.short_survival", "life_expectancy_months < 3", {"advise_against": "SURGERY"}),
    rule("ind.surgery.deficit", "neurological_deficit == true", {"indicate": "SURGERY"}),
]


def test_a_threshold_moved_by_one_is_refuted_at_the_boundary(tmp_path):
    inv = invariant("inv.surgery", "life_expectancy_months < 3", {"status": {"option": "SURGERY", "at_most": "not_recommended"}})
    base = write_base(tmp_path / "ok", SHORT_SURVIVAL, [inv])
    assert outcome(verify(base), "inv.surgery").outcome == "proved"

    mutated = [rule("advise.surgery.short_survival", "life_expectancy_months < 2", {"advise_against": "SURGERY"}),
               SHORT_SURVIVAL[1]]
    base = write_base(tmp_path / "mutated", mutated, [inv])
    result = outcome(verify(base), "inv.surgery")
    assert result.outcome == "violated" and result.counterexample.confirmed
    assert 2 <= result.counterexample.case["life_expectancy_months"] < 3
    assert engine_violates(base, result)


def test_less_than_versus_at_most_is_told_apart(tmp_path):
    inv = invariant("inv.surgery", "life_expectancy_months <= 3", {"status": {"option": "SURGERY", "at_most": "not_recommended"}})
    base = write_base(tmp_path / "r", SHORT_SURVIVAL, [inv])
    result = outcome(verify(base), "inv.surgery")
    assert result.outcome == "violated" and result.counterexample.case["life_expectancy_months"] == 3
    assert engine_violates(base, result)


def test_unknown_is_not_false_in_the_proof(tmp_path):
    # Over true/false alone coagulopathy settles KP either way; the proof must find the case that leaves it unknown.
    rules = [rule("ci.kp.coagulopathy", "coagulopathy == true", {"contraindicate": "KP", "severity": "absolute"}),
             rule("ind.kp.fracture", {"all": ["pathological_fracture == true", "coagulopathy == false"]},
                  {"indicate": "KP"})]
    inv = invariant("inv.kp.settled", "pathological_fracture == true",
                    {"status": {"option": "KP", "in": ["contraindicated", "recommended"]}})
    base = write_base(tmp_path / "r", rules, [inv])
    result = outcome(verify(base), "inv.kp.settled")
    assert result.outcome == "violated" and "coagulopathy" not in result.counterexample.case
    assert engine_violates(base, result)
    # Kleene NOT of UNKNOWN is UNKNOWN: "not coagulopathy == false" speaks only of stated coagulopathy.
    inv = invariant("inv.kp.not_false", {"not": "coagulopathy == false"}, {"status": {"option": "KP", "is": "contraindicated"}})
    assert outcome(verify(write_base(tmp_path / "n", rules, [inv])), "inv.kp.not_false").outcome == "proved"


def test_a_rule_testing_unknown_is_encoded_as_the_engine_reads_it(tmp_path):
    rules = [rule("advise.kp.unknown_wall", {"unknown": "posterior_wall_defect"}, {"advise_against": "KP"}),
             rule("ind.kp", "pathological_fracture == true", {"indicate": "KP"})]
    holds = invariant("inv.kp.unknown_wall", {"unknown": "posterior_wall_defect"},
                      {"status": {"option": "KP", "at_most": "not_recommended"}})
    fails = invariant("inv.kp.known_wall", {"known": "posterior_wall_defect"},
                      {"status": {"option": "KP", "at_most": "not_recommended"}})
    base = write_base(tmp_path / "r", rules, [holds, fails])
    report = verify(base)
    assert outcome(report, "inv.kp.unknown_wall").outcome == "proved"
    result = outcome(report, "inv.kp.known_wall")
    assert result.outcome == "violated" and "posterior_wall_defect" in result.counterexample.case
    assert engine_violates(base, result)


def test_derived_facts_are_the_kleene_or_of_their_derivers(tmp_path):
    rules = [rule("derive.compressed.bilsky", 'bilsky_grade in ["2", "3"]', {"derive": "compressed"}),
             rule("derive.compressed.imaging", "spinal_cord_compression == true", {"derive": "compressed"}),
             rule("ind.kp.not_compressed", "compressed == false", {"indicate": "KP"})]
    # FALSE needs every deriver FALSE: one unknown deriver leaves the fact unknown and the rule silent.
    holds = invariant("inv.kp.needs_both_known", {"unknown": "spinal_cord_compression"},
                      {"status": {"option": "KP", "is": "not_recommended"}})
    fails = invariant("inv.kp.never", None, {"status": {"option": "KP", "is": "not_recommended"}})
    base = write_base(tmp_path / "r", rules, [holds, fails])
    report = verify(base)
    assert outcome(report, "inv.kp.needs_both_known").outcome == "proved"
    result = outcome(report, "inv.kp.never")
    case = result.counterexample.case
    assert result.outcome == "violated" and case["spinal_cord_compression"] is False
    assert case["bilsky_grade"] not in ("2", "3")
    assert engine_violates(base, result)


def test_levels_are_abstracted_exactly_by_count_and_regions(tmp_path):
    rules = [rule("ind.surgery.many_sacral", {"all": ["region_sacral == true", "level_count > 5"]}, {"indicate": "SURGERY"})]
    # Five sacral vertebrae: more than five levels touching the sacrum needs another region.
    holds = invariant("inv.sacral_only", {"all": ["region_cervical == false", "region_thoracic == false",
                                                  "region_lumbar == false"]},
                      {"status": {"option": "SURGERY", "is": "not_recommended"}})
    fails = invariant("inv.never", None, {"status": {"option": "SURGERY", "is": "not_recommended"}})
    base = write_base(tmp_path / "r", rules, [holds, fails])
    report = verify(base)
    assert outcome(report, "inv.sacral_only").outcome == "proved"
    result = outcome(report, "inv.never")
    levels = result.counterexample.case["levels"]
    assert len(levels) > 5 and any(v.startswith("S") for v in levels)
    assert engine_violates(base, result)


def test_a_score_is_known_only_when_every_component_is(tmp_path):
    rules = [rule("ind.kp.always", {"any": ["pathological_fracture == true", {"unknown": "pathological_fracture"}]},
                  {"indicate": "KP"}),
             rule("advise.kp.unstable", "sins_total >= 13", {"advise_against": "KP"})]
    inv = invariant("inv.kp.unstable_spine", {"all": ["sins.alignment == subluxation", "sins.collapse == over_50",
                                                       "sins.posterolateral == bilateral", "sins.location == junctional"]},
                    {"status": {"option": "KP", "at_most": "not_recommended"}})
    base = write_base(tmp_path / "r", rules, [inv])
    shutil.copytree(DEFAULT_RULES_DIR / "scores", base / "scores")
    result = outcome(verify(base), "inv.kp.unstable_spine")
    sins = result.counterexample.case["sins"]
    assert result.outcome == "violated" and len(sins) < 6  # a component left unknown: no total, no advice
    assert engine_violates(base, result)


def test_cases_the_consistency_checks_refuse_are_outside_the_domain(tmp_path):
    rules = [rule("ci.pvp.epidural", "epidural_involvement == true", {"contraindicate": "PVP", "severity": "absolute"})]
    inv = invariant("inv.bilsky_zero", 'bilsky_grade == "0"', {"ranked": "PVP"})
    refuse = [{"id": "consistency.bilsky_zero_with_epidural",
               "when": {"all": ['bilsky_grade == "0"', "epidural_involvement == true"]}, "message": "no"}]
    assert outcome(verify(write_base(tmp_path / "with", rules, [inv], refuse)), "inv.bilsky_zero").outcome == "proved"
    result = outcome(verify(write_base(tmp_path / "without", rules, [inv])), "inv.bilsky_zero")
    assert result.outcome == "violated" and result.counterexample.case["epidural_involvement"] is True


def test_the_top_suggestion_follows_preferences_then_manifest_order(tmp_path):
    rules = [rule("ind.both", "pathological_fracture == true", {"indicate": ["PVP", "KP"]}),
             rule("prefer.kp", "posterior_wall_defect == true", {"prefer": "KP", "over": ["PVP"]})]
    invs = [invariant("inv.pvp_first", {"all": ["pathological_fracture == true", "posterior_wall_defect == false"]},
                      {"top": {"in": ["PVP"]}}),
            invariant("inv.kp_first", {"all": ["pathological_fracture == true", "posterior_wall_defect == true"]},
                      {"top": {"in": ["KP"]}}),
            invariant("inv.conservative_first", "pathological_fracture == false", {"top": {"in": ["CONSERVATIVE"]}})]
    report = verify(write_base(tmp_path / "r", rules, invs))
    assert [r.outcome for r in report.invariants] == ["proved"] * 3


# --- structural checks ------------------------------------------------------------------------------------


def findings(report, check_id: str) -> list[str]:
    return [f.key for f in next(c for c in report.checks if c.check.id == check_id).findings]


def test_a_dead_rule_is_found(tmp_path):
    rules = [rule("ind.pvp.never", {"all": ["age < 10", "age > 20"]}, {"indicate": "PVP"}),
             rule("ind.kp.refused", {"all": ['bilsky_grade == "0"', "epidural_involvement == true"]}, {"indicate": "KP"}),
             rule("ind.kp.ok", "age > 20", {"indicate": "KP"})]
    refuse = [{"id": "consistency.bilsky_zero_with_epidural",
               "when": {"all": ['bilsky_grade == "0"', "epidural_involvement == true"]}, "message": "no"}]
    report = verify(write_base(tmp_path / "r", rules, [check("check.alive", "rules_can_fire")], refuse))
    assert sorted(findings(report, "check.alive")) == ["ind.kp.refused", "ind.pvp.never"]
    assert report.exit_code == EXIT_VIOLATED and report.internal_problems == []


def test_a_shadowed_rule_is_found_and_can_be_allowed_with_a_reason(tmp_path):
    rules = [rule("ci.cement.coagulopathy", "coagulopathy == true",
                  {"contraindicate": ["PVP", "KP"], "severity": "absolute"}),
             rule("ci.kp.coagulopathy_fracture", {"all": ["coagulopathy == true", "pathological_fracture == true"]},
                  {"contraindicate": "KP", "severity": "relative"}),
             rule("caution.kp.conflict", "coagulopathy == true", {"conflict": "KP"})]
    report = verify(write_base(tmp_path / "a", rules, [check("check.shadow", "no_shadowed_rules")]))
    # A conflict is another kind of effect than a contraindication: it does not shadow it.
    assert findings(report, "check.shadow") == ["ci.kp.coagulopathy_fracture by ci.cement.coagulopathy"]
    assert report.exit_code == EXIT_VIOLATED
    allowed = check("check.shadow", "no_shadowed_rules",
                    [{"finding": "ci.kp.coagulopathy_fracture by ci.cement.coagulopathy", "reason": "kept for its text"}])
    report = verify(write_base(tmp_path / "b", rules, [allowed]))
    assert report.exit_code == EXIT_HOLDS and "kept for its text" in report.render()


def test_an_option_that_can_never_lead_is_found(tmp_path):
    rules = [rule("ind.pvp", "pathological_fracture == true", {"indicate": "PVP"}),
             rule("ind.surgery", "pathological_fracture == true", {"indicate": "SURGERY", "strength": "moderate"})]
    report = verify(write_base(tmp_path / "r", rules, [check("check.lead", "every_option_can_lead")]))
    assert findings(report, "check.lead") == ["KP", "TAE_PVP", "PVP_ITR", "SURGERY"]


def test_an_indication_always_overridden_is_a_contradiction_unless_a_conflict_is_declared(tmp_path):
    rules = [rule("ind.kp.wall", "posterior_wall_defect == true", {"indicate": "KP"}),
             rule("caution.kp.wall", "posterior_wall_defect == true", {"contraindicate": "KP", "severity": "relative"}),
             # overrides only some of the cases ind.kp.wall fires on: how restrictions work, not a contradiction
             rule("ci.kp.coagulopathy", "coagulopathy == true", {"contraindicate": "KP", "severity": "absolute"}),
             rule("prefer.kp", "pathological_fracture == true", {"prefer": "KP", "over": "PVP"}),
             rule("prefer.pvp", "mechanical_pain == true", {"prefer": "PVP", "over": "KP"})]
    report = verify(write_base(tmp_path / "a", rules, [check("check.contra", "no_undeclared_contradictions")]))
    assert findings(report, "check.contra") == ["ind.kp.wall vs caution.kp.wall", "prefer.kp vs prefer.pvp"]
    contradiction = next(c for c in report.checks if c.check.id == "check.contra").findings[0]
    assert contradiction.witness.confirmed and contradiction.witness.cases[0]["posterior_wall_defect"] is True

    declared = rules + [rule("conflict.kp", {"any": ["posterior_wall_defect == true", "pathological_fracture == true"]},
                             {"conflict": ["KP"]})]
    report = verify(write_base(tmp_path / "b", declared, [check("check.contra", "no_undeclared_contradictions")]))
    assert findings(report, "check.contra") == []


def test_provisional_soundness_is_proved_and_a_broken_provisional_flag_is_caught(tmp_path, monkeypatch):
    rules = [rule("ind.pvp", "pathological_fracture == true", {"indicate": "PVP"}),
             rule("ci.pvp", "coagulopathy == true", {"contraindicate": "PVP", "severity": "absolute"}),
             rule("advise.pvp.unknown_pain", {"unknown": "pain_score"}, {"advise_against": "PVP"})]
    base = write_base(tmp_path / "r", rules, [check("check.prov", "provisional_is_sound")])
    assert verify(base).exit_code == EXIT_HOLDS

    # A provisional rule that is unsound (never provisional), in the engine and in its encoding alike:
    # the proof must find a case where it gets the status wrong.
    import spinemets.decision as decision
    from spinemets.verify.encode import Encoding
    never = lambda option, certain, undecided: []  # noqa: E731
    monkeypatch.setattr(decision, "pivotal_rules", never)
    monkeypatch.setattr(decision, "_pivotal", never, raising=False)  # the engine's precompiled copy of it
    monkeypatch.setattr(Encoding, "provisional", lambda self, option: z3.BoolVal(False))
    report = verify(base)
    found = next(c for c in report.checks if c.check.id == "check.prov").findings
    assert "PVP" in [f.key for f in found]
    pvp = next(f for f in found if f.key == "PVP")
    assert pvp.witness.confirmed and len(pvp.witness.cases) == 2


def test_range_soundness_is_proved_and_a_range_that_forgets_undecided_floors_is_caught(tmp_path, monkeypatch):
    rules = [rule("ind.pvp", "refractory_to_conservative == true", {"indicate": "PVP"}),
             rule("ci.pvp", "coagulopathy == true", {"contraindicate": "PVP", "severity": "absolute"})]
    base = write_base(tmp_path / "r", rules, [check("check.range", "range_is_sound")])
    assert verify(base).exit_code == EXIT_HOLDS

    # A range whose best ignores the undecided indications, in the engine and in its encoding alike: the proof
    # must find a partial case and a completion above the best it shows.
    import spinemets.decision as decision
    from spinemets.verify.encode import Encoding

    def forgetful(certain, undecided):
        worst, best = decision_span(certain, [(f, c) for f, c in undecided if f <= certain_floor(certain)])
        return worst, best
    decision_span, certain_floor = decision.span_of, lambda pairs: max([f for f, _ in pairs], default=2)
    monkeypatch.setattr(decision, "span_of", forgetful)
    monkeypatch.setattr(Encoding, "span", property(lambda self: {
        o: (self.status_of(o, self.certain, self.possible), self.status_of(o, self.certain, self.certain))
        for o in self.options}))
    report = verify(base)
    found = next(c for c in report.checks if c.check.id == "check.range").findings
    pvp = next(f for f in found if f.key == "PVP")
    assert pvp.witness.confirmed and len(pvp.witness.cases) == 2


# --- the invariants file ----------------------------------------------------------------------------------


@pytest.mark.parametrize("entry, fragment", [
    ({"status": {"option": "KPX", "is": "contraindicated"}}, "KPX"),
    ({"status": {"option": "KP", "is": "forbidden"}}, "forbidden"),
    ({"status": {"option": "KP", "is": "caution", "at_most": "caution"}}, "exactly one of"),
    ({"ranking_empty": True}, "one key, one of"),
    ({"adjunct": "radiotherapy"}, "unknown adjunct 'radiotherapy'"),
    ({"not_above": {"options": ["PVP", "KP"], "than": "PVP"}}, "never above itself"),
    ({"not_above": {"options": ["PVP"], "than": "TAE"}}, "TAE"),
])
def test_bad_claims_are_reported_with_file_and_line(tmp_path, entry, fragment):
    base = write_base(tmp_path / "r", SHORT_SURVIVAL, [invariant("inv.bad", None, entry)])
    with pytest.raises(RulebookError) as err:
        verify(base)
    assert fragment in str(err.value) and "invariants.yaml:" in str(err.value)


def test_an_invariant_names_its_basis(tmp_path):
    paper = invariant("inv.uncited", None, {"ranking_nonempty": True})
    paper["basis"] = "paper"
    semantic = invariant("inv.cited_semantics", None, {"ranking_nonempty": True})
    semantic["citations"] = [rule("x.y", "age > 1", {"indicate": "PVP"})["citations"][0]]
    bad_field = invariant("inv.typo", "coagulopaty == true", {"ranking_nonempty": True})
    base = write_base(tmp_path / "r", SHORT_SURVIVAL, [paper, semantic, bad_field])
    with pytest.raises(RulebookError) as err:
        verify(base)
    text = str(err.value)
    assert "cites at least one passage" in text and "cites no paper" in text and "did you mean 'coagulopathy'" in text


def test_an_invariants_basis_says_which_kind_of_source_it_cites(tmp_path):
    paper_citation = rule("x.y", "age > 1", {"indicate": "PVP"})["citations"][0]
    external_citation = {**paper_citation, "source": "fisher-2010-sins"}

    def cited(inv_id: str, basis: str, citation: dict) -> dict:
        entry = invariant(inv_id, None, {"ranking_nonempty": True})
        del entry["see"]
        return {**entry, "basis": basis, "citations": [citation]}

    base = write_base(tmp_path / "r", SHORT_SURVIVAL, [
        cited("inv.paper_but_external", "paper", external_citation),
        cited("inv.external_but_paper", "external", paper_citation),
        cited("inv.external_ok", "external", external_citation),
    ])
    with pytest.raises(RulebookError) as err:
        verify(base)
    text = str(err.value)
    assert "rule inv.paper_but_external" in text and "has basis 'external'" in text
    assert "rule inv.external_but_paper" in text and "use basis 'paper'" in text
    assert "inv.external_ok" not in text and len(err.value.problems) == 2

    # an undeclared source is refused earlier, by the rule base loader, with a suggestion
    typo = write_base(tmp_path / "t", SHORT_SURVIVAL, [cited("inv.typo", "paper", {**paper_citation, "source": "gu-2071"})])
    with pytest.raises(RulebookError) as err:
        verify(typo)
    assert "invariants.yaml:" in str(err.value) and "did you mean 'gu-2017'" in str(err.value)


# --- the command line -------------------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


def test_cli_exit_0_when_everything_holds_and_3_with_a_loadable_counterexample(tmp_path):
    holds = invariant("inv.surgery", "life_expectancy_months < 3", {"status": {"option": "SURGERY", "at_most": "not_recommended"}})
    ok = write_base(tmp_path / "ok", SHORT_SURVIVAL, [holds])
    out = run("verify", "--rules", str(ok))
    assert out.returncode == EXIT_HOLDS, out.stdout + out.stderr
    assert "PROVED" in out.stdout and "all invariants and checks hold" in out.stdout

    broken = invariant("inv.broken", "life_expectancy_months < 4", {"status": {"option": "SURGERY", "at_most": "not_recommended"}})
    bad = write_base(tmp_path / "bad", SHORT_SURVIVAL, [holds, broken])
    out = run("verify", "--rules", str(bad), "--counterexamples", str(tmp_path / "cx"))
    assert out.returncode == EXIT_VIOLATED, out.stdout + out.stderr
    assert "VIOLATED inv.broken" in out.stdout and "confirmed by the engine" in out.stdout
    document = read_case_file(tmp_path / "cx" / "inv.broken.yaml")
    assert 3 <= document.case.life_expectancy_months < 4 and document.case.neurological_deficit is True
    evaluated = run("evaluate", str(tmp_path / "cx" / "inv.broken.yaml"), "--rules", str(bad), "--json")
    assert json.loads(evaluated.stdout)["ranking"][0] == "SURGERY"

    as_json = json.loads(run("verify", "--rules", str(bad), "--json").stdout)
    assert as_json["exit_code"] == EXIT_VIOLATED
    assert [i["outcome"] for i in as_json["invariants"]] == ["proved", "violated"]


def test_cli_exit_2_for_invariants_that_do_not_load(tmp_path):
    base = write_base(tmp_path / "r", SHORT_SURVIVAL, [invariant("inv.bad", None, {"top": {"in": ["NOTHING"]}})])
    out = run("verify", "--rules", str(base))
    assert out.returncode == 2 and "invariants.yaml:" in out.stderr and "Traceback" not in out.stderr


def test_an_unconfirmed_counterexample_is_an_internal_error_not_a_verdict(tmp_path, monkeypatch):
    # Simulate an encoding that drifted from the engine: the engine never confirms anything.
    import spinemets.verify.prove as prove
    monkeypatch.setattr(prove, "failed_claims", lambda invariant, decision: [])
    broken = invariant("inv.broken", "life_expectancy_months < 4", {"status": {"option": "SURGERY", "at_most": "not_recommended"}})
    report = verify(write_base(tmp_path / "r", SHORT_SURVIVAL, [broken]))
    assert report.exit_code == EXIT_INTERNAL and "NOT confirmed" in report.render()


def test_a_rule_base_without_invariants_is_not_silently_verified(tmp_path):
    base = write_base(tmp_path / "r", SHORT_SURVIVAL, [])
    (base / "invariants.yaml").unlink()
    with pytest.raises(RulebookError, match="no invariants to prove"):
        verify(base)
    out = run("verify", "--rules", str(base))
    assert out.returncode == 2 and "no invariants" in out.stderr


def test_only_names_an_existing_invariant(tmp_path):
    base = write_base(tmp_path / "r", SHORT_SURVIVAL, [invariant("inv.one", None, {"ranking_nonempty": True})])
    out = run("verify", "--rules", str(base), "--only", "inv.two")
    assert out.returncode == 2 and "no invariant or check named inv.two" in out.stderr
