"""The rule language: parsing, and an error for each way a rule file can be wrong, naming file, line and rule."""
from __future__ import annotations

import json
import re

import pytest

from spinemets import RulebookError, load_rulebook
from spinemets.conditions import AllOf, AnyOf, Compare, NotOf, Presence, nnf, parse, to_text, to_yaml

from .conftest import CITATION, RATIONALE

CITE = json.dumps(CITATION)


def rule(rule_id: str, when: str, then: str, extra: str = "") -> str:
    return f"""
  - id: {rule_id}
    title: test rule
    when: {when}
    then: {then}
    text: a reason
    evidence_level: 5
    strength_rationale: {RATIONALE}
    citations: [{CITE}]{extra}
"""


def problems(folder) -> list:
    with pytest.raises(RulebookError) as err:
        load_rulebook(folder)
    return err.value.problems


def only_problem(folder):
    found = problems(folder)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_a_valid_scratch_rule_base_loads(scratch_rules):
    book = load_rulebook(scratch_rules("rules:" + rule("t.ok", "karnofsky < 40", "[{indicate: CONSERVATIVE}]")))
    assert [r.id for r in book.rules] == ["t.ok"]


def test_unknown_field_names_file_line_rule_and_suggests(scratch_rules):
    p = only_problem(scratch_rules("rules:" + rule("t.typo", "'posterior_wall_defct == true'", "[{indicate: PVP}]")))
    assert (p.file, p.line, p.rule) == ("rules/test_rules.yaml", 4, "t.typo")
    assert "unknown field 'posterior_wall_defct'" in p.message and "did you mean 'posterior_wall_defect'" in p.message


@pytest.mark.parametrize("when, fragment", [
    ("'karnofsky < true'", "is not a value of 'karnofsky'"),
    ("'karnofsky < 170'", "outside the range of 'karnofsky'"),
    ("'coagulopathy < 3'", "compares numbers"),
    ("'coagulopathy == 1'", "is not a value of 'coagulopathy'"),
    ("'bilsky_grade == 2'", "quote them"),
    ("'lesion_type == lytc'", "is not a value of 'lesion_type'"),
    ("'lesion_type in lytic'", "needs a non-empty list"),
    ("'age == [1, 2]'", "a list needs 'in'"),
    ("'age is 3'", "cannot read the comparison"),
    ("{all: []}", "non-empty list"),
    ("{some: [age > 3]}", "a condition is a comparison"),
    ("{known: agee}", "did you mean 'age'"),
])
def test_comparisons_of_the_wrong_type_are_refused(scratch_rules, when, fragment):
    p = only_problem(scratch_rules("rules:" + rule("t.bad", when, "[{indicate: PVP}]")))
    assert fragment in p.message and p.rule == "t.bad"


@pytest.mark.parametrize("then, fragment", [
    ("[{indicate: PVPP}]", "did you mean 'PVP'"),
    ("[{contraindicate: [KP], severity: absolut}]", "expected one of"),
    ("[{indicat: PVP}]", "did you mean 'indicate'"),
    ("[{indicate: PVP, contraindicate: KP}]", "exactly one of"),
    ("[{adjunct: biopsi}]", "did you mean 'biopsy'"),
    ("[{derive: no_such_fact}]", "undeclared fact"),
    ("[{prefer: PVP, over: [PVP]}]", "over itself"),
    ("[]", "non-empty list of effects"),
    ("[{indicate: PVP, strenght: strong}]", "did you mean 'strength'"),
])
def test_bad_effects_are_refused(scratch_rules, then, fragment):
    found = problems(scratch_rules("rules:" + rule("t.bad", "'age > 3'", then)))
    assert any(fragment in p.message for p in found), [str(p) for p in found]


def test_unknown_source_is_refused_with_a_suggestion(scratch_rules):
    text = "rules:" + rule("t.src", "'age > 3'", "[{indicate: PVP}]").replace("barbanti-brodano-2007", "barbanti-2007")
    found = problems(scratch_rules(text))
    assert any("unknown source 'barbanti-2007'" in p.message and "barbanti-brodano-2007" in p.message for p in found)


@pytest.mark.parametrize("locator", ["too short", " ".join(["word"] * 31)])
def test_locators_must_be_4_to_30_words(scratch_rules, locator):
    text = "rules:" + rule("t.loc", "'age > 3'", "[{indicate: PVP}]").replace(CITATION["locator"], locator)
    assert "4-30 words" in only_problem(scratch_rules(text)).message


def test_a_rule_needs_a_citation(scratch_rules):
    text = "rules:" + rule("t.nocite", "'age > 3'", "[{indicate: PVP}]").replace(f"[{CITE}]", "[]")
    assert "at least 1 item" in only_problem(scratch_rules(text)).message


def test_a_conflict_cites_two_sources(scratch_rules):
    p = only_problem(scratch_rules("rules:" + rule("t.conflict", "'age > 3'", "[{conflict: [KP]}]")))
    assert "at least two different sources" in p.message


def test_evidence_level_cannot_beat_the_sources(scratch_rules):
    p = only_problem(scratch_rules("rules:" + rule("t.level", "'age > 3'", "[{indicate: PVP}]")
                                   .replace("evidence_level: 5", "evidence_level: 2")))
    assert "stronger than any cited source" in p.message


def test_duplicate_ids_name_both_places(scratch_rules):
    text = "rules:" + rule("t.same", "'age > 3'", "[{indicate: PVP}]") + rule("t.same", "'age > 4'", "[{indicate: KP}]")
    p = only_problem(scratch_rules(text))
    assert "duplicate rule id" in p.message and "test_rules.yaml:2" in p.message and p.line == 11


def test_a_derived_fact_nobody_tests_is_refused(scratch_rules):
    text = "rules:" + rule("t.derive", "'bilsky_grade == \"3\"'", "[{derive: high_grade_escc}]")
    assert "no rule tests it" in only_problem(scratch_rules(text)).message


def test_a_tested_fact_nobody_derives_is_refused(scratch_rules):
    text = "rules:" + rule("t.use", "'high_grade_escc == true'", "[{indicate: SURGERY}]")
    assert "no rule derives it" in only_problem(scratch_rules(text)).message


def test_a_cycle_of_derivations_is_refused(scratch_rules, tmp_path):
    folder = scratch_rules("rules:"
                           + rule("t.a", "'high_grade_escc == true'", "[{derive: other_fact}]")
                           + rule("t.b", "'other_fact == true'", "[{derive: high_grade_escc}]")
                           + rule("t.c", "'other_fact == true'", "[{indicate: PVP}]"))
    manifest = (folder / "rulebook.yaml").read_text().replace(
        "  facts:\n", "  facts:\n    other_fact:\n      title: another fact\n")
    (folder / "rulebook.yaml").write_text(manifest)
    p = only_problem(folder)
    assert "cycle" in p.message and "high_grade_escc" in p.message and "other_fact" in p.message


def test_yaml_errors_name_the_line(scratch_rules):
    folder = scratch_rules("rules:\n  - id: t.x\n    when: [unclosed\n")
    p = only_problem(folder)
    assert p.file == "rules/test_rules.yaml" and p.line == 4 and "not valid YAML" in p.message


def test_unknown_top_level_section_is_refused(scratch_rules):
    p = only_problem(scratch_rules("rulez: []\n"))
    assert "did you mean 'rules'" in p.message


def test_score_bands_must_tile_the_range(scratch_rules):
    folder = scratch_rules("rules:" + rule("t.ok", "'age > 3'", "[{indicate: PVP}]"))
    sins = folder / "scores" / "sins.yaml"
    sins.write_text(sins.read_text().replace("min: 7, max: 12", "min: 8, max: 12"))
    assert "starts at 8, expected 7" in only_problem(folder).message


def test_every_problem_is_reported_in_one_run(scratch_rules):
    text = ("rules:" + rule("t.one", "'agee > 3'", "[{indicate: PVP}]")
            + rule("t.two", "'age > 3'", "[{indicate: PVX}]"))
    assert {p.rule for p in problems(scratch_rules(text))} == {"t.one", "t.two"}


# --- parsing and structure --------------------------------------------------------------------------------


def test_parse_reads_every_form(rulebook):
    cond = parse({"all": ["age >= 70", {"not": "lesion_type in [lytic, mixed]"},
                          {"any": [{"known": "karnofsky"}, {"unknown": "asa_class"}]}]}, rulebook.catalog)
    assert cond == AllOf(items=(
        Compare(field="age", op=">=", value=70),
        NotOf(item=Compare(field="lesion_type", op="in", value=("lytic", "mixed"))),
        AnyOf(items=(Presence(kind="known", field="karnofsky"), Presence(kind="unknown", field="asa_class"))),
    ))
    assert to_text(cond) == "(age >= 70 and not (lesion_type in [lytic, mixed]) and (known(karnofsky) or unknown(asa_class)))"


def test_nnf_pushes_negation_to_the_leaves(rulebook):
    cond = parse({"not": {"all": ["age < 70", {"not": {"known": "karnofsky"}}]}}, rulebook.catalog)
    assert nnf(cond) == AnyOf(items=(Compare(field="age", op=">=", value=70), Presence(kind="known", field="karnofsky")))


def test_to_yaml_is_the_inverse_of_parse(rulebook):
    for r in rulebook.rules:
        assert parse(to_yaml(r.when), rulebook.catalog) == r.when


def test_content_hash_ignores_file_layout_and_rule_order(rules_copy):
    original = load_rulebook(rules_copy).sha256
    for path in rules_copy.glob("*.yaml"):
        text = path.read_text()
        if text.startswith("rules:") or "\nrules:" in text:
            head, _, body = text.partition("rules:\n")
            items = body.split("\n  - id:")
            first, rest = items[0], items[1:]
            path.write_text(head + "rules:\n" + first + "".join("\n  - id:" + i for i in reversed(rest)))
    (rules_copy / "zz_moved").mkdir()
    (rules_copy / "consistency.yaml").rename(rules_copy / "zz_moved" / "consistency.yaml")
    assert load_rulebook(rules_copy).sha256 == original


def test_content_hash_changes_with_content(rules_copy):
    original = load_rulebook(rules_copy).sha256
    path = rules_copy / "rulebook.yaml"
    text = path.read_text()
    assert "\n  version: " in text
    path.write_text(re.sub(r"\n  version: \S+", "\n  version: 99.0.0", text, count=1))
    assert load_rulebook(rules_copy).sha256 != original


def test_evidence_figures_are_validated(scratch_rules):
    folder = scratch_rules("rules:" + rule("t.ok", "'age > 3'", "[{indicate: PVP}]"))
    (folder / "evidence.yaml").write_text(f"""evidence:
  - id: ev.test.leak
    title: leakage
    study: gu-2017
    design: test
    measure: cement_leakage
    unit: "%"
    arms:
      - {{option: PVP, label: PVP, events: 30, total: 20, per: vertebrae}}
    citations: [{CITE}]
""")
    p = only_problem(folder)
    assert "30 events out of 20" in p.message and p.file.endswith("evidence.yaml") and p.line == 9


def test_a_scale_must_define_exactly_its_fields_codes(scratch_rules):
    folder = scratch_rules("rules:" + rule("t.ok", "'age > 3'", "[{indicate: PVP}]"))
    (folder / "scale.yaml").write_text(f"""scales:
  - id: asia
    title: ASIA
    field: asia_grade
    grades:
      - {{code: A, title: a, description: a}}
      - {{code: F, title: f, description: f}}
    citations: [{CITE}]
""")
    assert "defines codes ['A', 'F']" in only_problem(folder).message


def test_a_locator_is_quoted_only_when_it_was_copied_from_a_paper(rulebook):
    citations = {c.source: c for rule in rulebook.active_rules for c in rule.citations}
    paper = next(c for s, c in citations.items() if rulebook.sources[s].kind == "paper")
    external = next(c for s, c in citations.items() if rulebook.sources[s].kind == "external")
    assert rulebook.passage(paper) == f'"{paper.locator}"'
    assert rulebook.passage(external).startswith(external.locator) and '"' not in rulebook.passage(external)


def test_every_effect_describes_itself_naming_its_options_and_its_yaml_key(rulebook):
    from spinemets.rulebook import effect_key, effect_options
    from spinemets.rulebook.models import _EFFECT_BY_KEY

    kinds = set()
    for rule in rulebook.active_rules:
        for effect in rule.then:
            words = effect.describe()
            kinds.add(effect_key(effect))
            assert isinstance(effect, _EFFECT_BY_KEY[effect_key(effect)])
            assert all(option in words for option in effect_options(effect)), (rule.id, words)
    assert kinds == set(_EFFECT_BY_KEY), "the shipped rule base no longer uses every kind of effect"


# --- strength and evidence (docs/rule-language.md, Strength and evidence) ----------------------------------

GU = {"source": "gu-2017", "section": "Results", "stance": "states",
      "locator": "The paraplegia recovery rate in patients with paraplegia in group A was higher"}
PATCHELL = {"source": "patchell-2005", "section": "Results", "stance": "states",
            "locator": "Results, primary endpoint: ability to walk after surgery plus radiotherapy versus radiotherapy alone"}


def graded_rule(strength: str, level: int, citation: dict, rationale: str | None = None) -> str:
    extra = f"\n    strength_rationale: {rationale}" if rationale else ""
    return f"""rules:
  - id: t.graded
    title: a graded rule
    when: 'age > 3'
    then: [{{indicate: PVP_ITR, strength: {strength}}}]
    text: a reason
    evidence_level: {level}{extra}
    citations: [{json.dumps(citation)}]
"""


@pytest.mark.parametrize("level, citation", [(4, GU), (5, GU), (5, CITATION)])
def test_a_strong_indication_on_level_4_or_5_evidence_without_a_rationale_is_refused(scratch_rules, level, citation):
    p = only_problem(scratch_rules(graded_rule("strong", level, citation)))
    assert "strength_rationale" in p.message and f"level-{level}" in p.message
    assert p.rule == "t.graded" and p.file == "rules/test_rules.yaml" and p.line == 7  # the evidence_level line


def test_a_strong_level_4_indication_with_a_rationale_loads(scratch_rules):
    book = load_rulebook(scratch_rules(graded_rule("strong", 4, GU, "several series agree")))
    assert book.rule_by_id["t.graded"].strength_rationale == "several series agree"


@pytest.mark.parametrize("level, citation", [(4, GU), (5, GU), (5, CITATION)])
def test_a_moderate_indication_is_never_refused_for_its_level(scratch_rules, level, citation):
    assert load_rulebook(scratch_rules(graded_rule("moderate", level, citation))).rule_by_id["t.graded"]


@pytest.mark.parametrize("level", [2, 3])
def test_a_strong_indication_on_level_2_or_3_evidence_needs_no_rationale(scratch_rules, level):
    assert load_rulebook(scratch_rules(graded_rule("strong", level, PATCHELL))).rule_by_id["t.graded"]


def test_a_blank_rationale_does_not_count(scratch_rules):
    p = only_problem(scratch_rules(graded_rule("strong", 4, GU, "'  '")))
    assert "strength_rationale" in p.message


def test_the_built_in_strong_indications_on_weak_evidence_all_say_why(rulebook):
    from spinemets.rulebook import Indicate

    weak_strong = [r for r in rulebook.rules if r.evidence_level >= 4
                   and any(isinstance(e, Indicate) and e.strength == "strong" for e in r.then)]
    assert weak_strong and all(len(r.strength_rationale or "") > 80 for r in weak_strong)


# --- citation stance ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (lambda c: {k: v for k, v in c.items() if k != "stance"}, "Field required"),
    (lambda c: {**c, "stance": "asserts"}, "expected one of"),
    (lambda c: {k: v for k, v in c.items() if k != "attributed_to"}, "names it in attributed_to"),
    (lambda c: {**c, "stance": "states"}, "only for stance 'reports'"),
    (lambda c: {**c, "stance": "speculates"}, "only for stance 'reports'"),
])
def test_a_citation_needs_a_stance_and_an_attribution_exactly_when_it_reports(scratch_rules, change, message):
    text = "rules:" + rule("t.stance", "'age > 3'", "[{indicate: PVP}]").replace(CITE, json.dumps(change(CITATION)))
    p = only_problem(scratch_rules(text))
    assert message in p.message and p.rule == "t.stance" and p.line is not None
    assert (p.field or "").startswith("citations.0")


def test_an_invariants_citation_is_checked_for_its_stance_too(rules_copy):
    text = (rules_copy / "invariants.yaml").read_text()
    first = text.index("        stance: reports")
    (rules_copy / "invariants.yaml").write_text(text[:first] + "        stance: maybe" + text[first + len("        stance: reports"):])
    found = problems(rules_copy)
    assert any("expected one of" in p.message and p.file.endswith("invariants.yaml") and p.line for p in found)


def test_every_citation_of_the_rule_base_has_a_stance_and_reports_name_whom(rulebook):
    cited = [c for r in rulebook.rules for c in r.citations]
    assert {c.stance for c in cited} == {"states", "reports", "speculates"}
    assert all((c.stance == "reports") == bool(c.attributed_to) for c in cited)


# --- questions: when a board would ask about a field (docs/decision.md, 4) ----------------------------------

@pytest.mark.parametrize("question, message", [
    ("{field: no_such_field, ask_when: 'age > 3', because: x}", "not a case input field"),
    ("{field: high_grade_escc, ask_when: 'age > 3', because: x}", "not a case input field"),
    ("{field: kyphosis_degrees, ask_when: 'kyphosis_degrees > 3', because: x}", "cannot depend on 'kyphosis_degrees'"),
    ("{field: kyphosis_degrees, ask_when: 'kyphosis > 3', because: x}", "unknown field"),
    ("{field: kyphosis_degrees, because: x}", "mapping with field, ask_when and because"),
    ("{field: kyphosis_degrees, ask_when: 'age > 3'}", "Field required"),
])
def test_a_bad_question_is_refused_with_its_file_and_line(rules_copy, question, message):
    (rules_copy / "questions.yaml").write_text(f"questions:\n  - {question}\n")
    p = only_problem(rules_copy)
    assert message in p.message and p.file == "rules/questions.yaml" and p.line == 2


def test_a_field_is_asked_about_once(rules_copy):
    (rules_copy / "questions.yaml").write_text(
        "questions:\n  - {field: kyphosis_degrees, ask_when: 'age > 3', because: x}\n"
        "  - {field: kyphosis_degrees, ask_when: 'age > 4', because: y}\n")
    assert "asked about twice" in only_problem(rules_copy).message


def test_questions_are_part_of_the_content_hash(rulebook, rules_copy):
    text = (rules_copy / "questions.yaml").read_text().replace("ask_when: pathological_fracture == true",
                                                               "ask_when: pathological_fracture == false", 1)
    (rules_copy / "questions.yaml").write_text(text)
    assert load_rulebook(rules_copy).sha256 != rulebook.sha256
