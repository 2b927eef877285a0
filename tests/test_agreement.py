"""durable-rules and the three-valued evaluator fire exactly the same rules, on any case and any rule base."""
from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spinemets import RulebookError, load_rulebook
from spinemets.case import case_from_values
from spinemets.conditions import AllOf, AnyOf, Compare, to_yaml
from spinemets.durable_ruleset import DurableRuleset, plain_number, stand_in
from spinemets.evaluator import RuleEvaluator, case_values
from spinemets.fields import FieldSpec, computed_specs

from . import strategies as gen
from .conftest import CITATION, RATIONALE, vocabulary_files


def fired_both_ways(engine, values: dict) -> tuple[frozenset, frozenset]:
    case = case_from_values("agree", values)
    known, _ = case_values(case, engine.rulebook)
    return engine.durable.fire(known), engine.evaluator.fired(known)


@given(gen.case_values(complete=True))
@settings(max_examples=300)
def test_built_in_rules_agree_on_complete_cases(engine, values):
    durable, kleene = fired_both_ways(engine, values)
    assert durable == kleene


@given(gen.case_values())
@settings(max_examples=300)
def test_built_in_rules_agree_on_partial_cases(engine, values):
    durable, kleene = fired_both_ways(engine, values)
    assert durable == kleene


FACTS = ("fact_a", "fact_b", "fact_c")
TESTABLE = {**gen.INPUTS, **{k: v for k, v in computed_specs().items()}}


@st.composite
def random_rule_bases(draw):
    """Rules over random condition trees; facts chain a -> b -> c, each derived and tested at least once."""
    rules = []
    for i, fact in enumerate(FACTS):
        visible = {**TESTABLE, **{f: _fact_spec(f) for f in FACTS[:i]}}
        for n in range(draw(st.integers(1, 2))):
            rules.append((f"gen.derive_{fact}_{n}", draw(gen.condition_trees(visible)), {"derive": fact}))
    every = {**TESTABLE, **{f: _fact_spec(f) for f in FACTS}}
    effects = [{"indicate": "PVP"}, {"contraindicate": ["KP"], "severity": "relative"}, {"advise_against": "SURGERY"},
               {"adjunct": "biopsy"}, {"indicate": "CONSERVATIVE", "strength": "moderate"},
               {"limit": ["PVP"], "at_most": "appropriate"}]
    for n in range(draw(st.integers(3, 8))):
        rules.append((f"gen.rule_{n}", draw(gen.condition_trees(every)), draw(st.sampled_from(effects))))
    for fact in FACTS:  # each fact tested, in either polarity
        polarity = draw(st.booleans())
        rules.append((f"gen.uses_{fact}", Compare(field=fact, op="==", value=polarity), {"indicate": "TAE_PVP"}))
    return rules


def _fact_spec(name: str) -> FieldSpec:
    return FieldSpec(name, "fact", name, origin="fact")


def generated_rulebook(tmp_path_factory, rules, name: str = "gen"):
    """The generated rules loaded as a rule base of their own (in a fresh temporary folder)."""
    folder = tmp_path_factory.mktemp(name) / "rules"
    vocabulary_files(folder)
    manifest = (folder / "rulebook.yaml").read_text()
    declared = "".join(f"    {f}:\n      title: generated fact {f}\n" for f in FACTS)
    (folder / "rulebook.yaml").write_text(manifest.replace("  facts:\n", "  facts:\n" + declared))
    (folder / "consistency.yaml").unlink()  # generated cases may violate it; agreement is about firing
    body = [{"id": rid, "title": rid, "when": to_yaml(cond), "then": [effect], "text": "generated",
             "evidence_level": 5, "strength_rationale": RATIONALE, "citations": [CITATION]} for rid, cond, effect in rules]
    (folder / "generated.yaml").write_text(gen.dump({"rules": body}))
    return load_rulebook(folder)


@given(rules=random_rule_bases(), cases=st.lists(gen.case_values(), min_size=5, max_size=5),
       complete=st.lists(gen.case_values(complete=True), min_size=3, max_size=3))
@settings(max_examples=60)
def test_random_rule_bases_with_forward_chaining_agree(tmp_path_factory, rules, cases, complete):
    book = generated_rulebook(tmp_path_factory, rules)
    try:
        durable = DurableRuleset(book)
    except RulebookError as err:  # refused as too large to compile: what validate says, tested below
        assume("durable form too large" not in str(err.problems))
        raise
    evaluator = RuleEvaluator(book)
    for values in cases + complete:
        known, _ = case_values(case_from_values("gen", values), book)
        assert durable.fire(known) == evaluator.fired(known), json.dumps(values, default=str)


@given(value=st.floats(0, 1000, allow_nan=False),
       constants=st.lists(st.one_of(st.integers(0, 1000), st.decimals(0, 1000, places=2).map(float)), max_size=6))
def test_stand_ins_compare_like_the_value_they_replace(value, constants):
    cells = tuple(sorted(set(constants)))
    replaced = stand_in(value, cells)
    assert plain_number(replaced)
    for c in cells:
        assert (replaced < c, replaced == c, replaced > c) == (value < c, value == c, value > c)


def test_durable_reads_numbers_python_writes_with_an_exponent(engine):
    for tiny in (5e-324, 1e-05, 1e-300):
        durable, kleene = fired_both_ways(engine, {"pain_score": tiny, "height_loss_percent": tiny})
        assert durable == kleene


@given(gen.case_values())
@settings(max_examples=100)
def test_conditions_beyond_durables_expression_limit_still_agree(tmp_path_factory, values):
    # 14 nested groups, more than one durable join term can hold: split into alternatives. Seven such groups (the
    # test's first form) made 1.5e17 ways to match a case holding every alternative, and durable exhausted memory
    # firing it (the out-of-memory kill of `make test`): refused now, tested below.
    book = _deep_rule_base(tmp_path_factory, 5)
    known, _ = case_values(case_from_values("deep", values), book)
    assert DurableRuleset(book).fire(known) == RuleEvaluator(book).fired(known)


def test_a_deep_rule_durable_cannot_hold_is_refused_naming_it(tmp_path_factory):
    with pytest.raises(RulebookError, match=r"rule gen.deep: durable-rules could follow [\d,]+ ways of matching"):
        DurableRuleset(_deep_rule_base(tmp_path_factory, 7))


def _deep_rule_base(tmp_path_factory, groups: int):
    ors = [{"any": [f"karnofsky > {10 * i}", f"age < {5 * i}", {"all": ["coagulopathy == false", f"pain_score >= {i % 10}"]}]}
           for i in range(1, groups + 1)]
    deep = {"all": ors + [{"not": {"any": ["lesion_type in [lytic, mixed]", "asa_class not in [1, 2]"]}}]}
    folder = tmp_path_factory.mktemp("deep") / "rules"
    vocabulary_files(folder)
    (folder / "consistency.yaml").unlink()
    (folder / "deep.yaml").write_text(gen.dump({"rules": [{"id": "gen.deep", "title": "deep", "when": deep,
        "then": [{"indicate": "PVP"}], "text": "t", "evidence_level": 5, "strength_rationale": RATIONALE,
        "citations": [CITATION]}]}))
    return load_rulebook(folder)


def _chained_rule_base(tmp_path_factory, width: int):
    """Three facts, each derived by two rules of `width` alternatives that test the fact before; one rule tests
    the last fact false, which inlines the negation of its derivers, theirs in turn, and spells it all out."""
    def leaf(field: str, op: str, value: int) -> Compare:
        return Compare(field=field, op=op, value=value)

    rules, previous = [], None
    for n, fact in enumerate(FACTS):
        for d in range(2):
            base = 10 * n + 3 * d
            items = [AllOf(items=(leaf("karnofsky", ">", base + 2 * j), leaf("age", "<", base + 2 * j + 1)))
                     for j in range(width)]
            if previous:
                items.append(AllOf(items=(Compare(field=previous, op="==", value=True), leaf("karnofsky", ">", base + 50))))
            rules.append((f"gen.derive_{fact}_{d}", AnyOf(items=tuple(items)), {"derive": fact}))
        previous = fact
    rules.append(("gen.uses_c", Compare(field="fact_c", op="==", value=False), {"indicate": "PVP"}))
    rules += [(f"gen.uses_{f}", Compare(field=f, op="==", value=True), {"indicate": "TAE_PVP"}) for f in FACTS[:2]]
    return generated_rulebook(tmp_path_factory, rules, name=f"chained{width}")


def test_a_rule_whose_durable_form_explodes_is_refused_naming_it(tmp_path_factory):
    """The cause of an out-of-memory kill in this file: negated derived facts inlined and spelled out as
    alternatives grow exponentially (width 3 made 1.5 MB of definition, width 4 exhausted memory)."""
    # width 2: few alternatives (34), but 2,048 paths in each, multiplied: durable exhausted memory firing it
    with pytest.raises(RulebookError, match=r"rule gen.uses_c: durable-rules could follow [\d,]+ ways of matching"):
        DurableRuleset(_chained_rule_base(tmp_path_factory, 2))
    for width in (4, 8):  # past the bound while spelling the condition out: refused before it is built
        with pytest.raises(RulebookError, match=r"rule gen.uses_c: its durable-rules form needs more than"):
            DurableRuleset(_chained_rule_base(tmp_path_factory, width))
