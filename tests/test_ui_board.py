"""The case and decision page, driven through its widgets (Streamlit AppTest)."""
from __future__ import annotations

import itertools
import shutil

import pytest

from spinemets import DEFAULT_RULES_DIR, get_engine
from spinemets.case import case_from_values, input_fields, known_values
from spinemets.whatif import candidate_values, sweep
from tests.ui_apptest import (deferred_downloads, document, errors, load_vignette, open_decision_tab, set_field,
                              start, statuses_shown, texts, top_shown, vignette_files, widget)
from spinemets.ui import case_state
from spinemets.ui.labels import DISCLAIMER

VIGNETTES = vignette_files()
FIRST = VIGNETTES[0]


@pytest.fixture
def engine():
    # Not the session's engine: the app reloads the rule base from disk, so compare with the one on disk now.
    return get_engine()


def test_a_fresh_form_has_every_field_and_all_of_them_unknown(engine):
    at = start()
    for name in input_fields():
        value = widget(at, name).value
        assert value in (case_state.UNKNOWN, "", []), f"{name} starts as {value!r}, not unknown"
    assert "Decision support, not a medical device" in texts(at)
    assert DISCLAIMER in [w.value for w in at.sidebar.warning][0]
    # An empty case still gets a decision, and it matches the engine's for a case with only an id.
    expected = engine.evaluate({"id": case_state.DEFAULT_ID})
    assert top_shown(at) == expected.top
    assert statuses_shown(at) == expected.statuses()


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_a_vignette_loads_into_the_form_and_gives_the_engines_decision(engine, path):
    at = load_vignette(start(), path)
    case = document(path).case
    known = known_values(case)
    for name in input_fields():
        value = widget(at, name).value
        expected = case_state.widget_value(name, engine.rulebook.catalog.get(name), known.get(name))
        assert value == expected, f"{name}: form shows {value!r}, vignette has {known.get(name)!r}"
    assert widget(at, "id").value == case.id
    decision = engine.evaluate(case)
    assert top_shown(at) == decision.top
    assert statuses_shown(at) == decision.statuses()
    assert list(statuses_shown(at)) == [o.option for o in decision.options], "cards are not best first"


def test_changing_a_field_changes_the_decision(engine):
    at = load_vignette(start(), FIRST)
    case = document(FIRST).case
    # Whatever the rule base holds today, the engine itself says which single change moves the top.
    change = next(c for c in sweep(engine, case) if c.moves_top)
    set_field(at, change.field, change.after)
    assert not errors(at)
    assert top_shown(at) == change.top_after != change.top_before
    after = statuses_shown(at)
    for status_change in change.changes:
        assert after[status_change.option] == status_change.after


def test_unknown_stays_unknown_and_is_not_no(engine):
    at = load_vignette(start(), FIRST)
    case = document(FIRST).case
    before = statuses_shown(at)
    missing = engine.evaluate(case).missing
    assert missing, "the vignette should leave some field unknown that matters"
    name = missing[0].field
    spec = engine.rulebook.catalog.get(name)
    no = False if spec.kind == "bool" else spec.values[0] if spec.kind == "enum" else spec.minimum
    set_field(at, name, no)
    set_field(at, name, None)
    assert widget(at, name).value in (case_state.UNKNOWN, "")
    assert statuses_shown(at) == before
    # The page lists the field as still to find out, i.e. the case it evaluated left it out.
    open_decision_tab(at, "Still to find out")
    assert f"**{spec.title}?**" in texts(at)


def test_out_of_range_input_is_explained_at_the_field_and_nothing_typed_is_lost(engine):
    at = load_vignette(start(), FIRST)
    before = {name: widget(at, name).value for name in input_fields()}
    name = next(n for n in input_fields() if (s := engine.rulebook.catalog.get(n)) and s.numeric and s.maximum)
    too_big = engine.rulebook.catalog.get(name).maximum + 70
    widget(at, name).input(f"{too_big:g}")
    at.run()
    assert any(f"must be <= {engine.rulebook.catalog.get(name).maximum:g}" in e for e in errors(at)), errors(at)
    assert top_shown(at) is None, "a decision was shown for a case the form does not hold"
    assert widget(at, name).value == f"{too_big:g}"
    assert {n: widget(at, n).value for n in input_fields() if n != name} == \
           {n: v for n, v in before.items() if n != name}
    widget(at, name).input("")
    at.run()
    assert not errors(at) and top_shown(at) is not None


def test_text_in_a_number_field_is_explained_and_kept():
    at = start()
    widget(at, "age").input("about sixty")
    at.run()
    assert any("expected a whole number" in e and "about sixty" in e for e in errors(at)), errors(at)
    assert widget(at, "age").value == "about sixty"
    widget(at, "age").input("61")
    at.run()
    assert not errors(at)


def _refused_values(engine, constraint) -> dict:
    """Values the consistency check refuses, found by asking the engine rather than restating the rule here."""
    fields = [f for f in constraint.fields if f in input_fields()]
    specs = engine.rulebook.catalog.specs
    grids = [candidate_values(specs[f], engine.rulebook.numeric_constants.get(f, ())) for f in fields]
    for combo in itertools.product(*grids):
        values = dict(zip(fields, combo))
        case = case_from_values("x", values)
        if any(p.rule == constraint.id for p in engine.check(case)):
            return values
    raise AssertionError(f"no values trip {constraint.id}")


@pytest.mark.parametrize("index", [0, -1])
def test_an_impossible_combination_is_explained_next_to_each_field_and_kept(engine, index):
    constraint = engine.rulebook.constraints[index]
    values = _refused_values(engine, constraint)
    at = start()
    for name, value in values.items():
        set_field(at, name, value)
    shown = errors(at)
    # once in the summary, once beside each field involved
    assert sum(constraint.message in e for e in shown) == len(values) + 1, shown
    assert top_shown(at) is None
    specs = engine.rulebook.catalog.specs
    for name, value in values.items():
        assert widget(at, name).value == case_state.widget_value(name, specs[name], value)


def test_an_invalid_case_id_is_explained_and_kept():
    at = start()
    widget(at, "id").input("Mrs Smith")
    at.run()
    assert any("no patient names" in e for e in errors(at)), errors(at)
    assert widget(at, "id").value == "Mrs Smith"


def test_values_survive_a_visit_to_another_page():
    at = start()
    set_field(at, "coagulopathy", True)
    widget(at, "karnofsky").input("70")
    at.run()
    at.switch_page("views/rule_base.py").run()
    at.switch_page("views/board.py").run()
    assert widget(at, "coagulopathy").value == case_state.YES
    assert widget(at, "karnofsky").value == "70"


def test_answering_a_prompt_under_still_to_find_out_fills_the_form(engine):
    at = load_vignette(start(), FIRST)
    name = engine.evaluate(document(FIRST).case).missing[0].field
    spec = engine.rulebook.catalog.get(name)
    value = True if spec.kind == "bool" else spec.values[-1] if spec.kind == "enum" else spec.maximum
    open_decision_tab(at, "Still to find out")
    set_field(at, name, value, key="prompt." + name)
    assert widget(at, name).value == case_state.widget_value(name, spec, value)


def test_sins_total_is_shown_once_every_component_is_known(engine):
    at = start()
    score = next(s for s in engine.rulebook.scores if s.id == "sins")
    assert f"{score.title}: between" in texts(at)
    for component in score.components:
        set_field(at, component.input, next(iter(component.points)))
    expected = sum(next(iter(c.points.values())) for c in score.components)
    assert f"{score.title}: **{expected}**" in texts(at), texts(at)


def test_the_rule_base_version_and_hash_are_shown(engine):
    at = start()
    assert engine.sha256 in texts(at)
    assert engine.rulebook.version in texts(at)


def test_export_gives_a_pdf_and_markdown_of_the_decision(engine):
    with deferred_downloads() as downloads:
        at = load_vignette(start(), FIRST)
    case = document(FIRST).case
    pdf = downloads[f"spinemets-{case.id}.pdf"]()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    markdown = downloads[f"spinemets-{case.id}.md"]().decode()
    decision = engine.evaluate(case)
    assert f"Top suggestion: {decision.top}" in markdown
    assert engine.sha256 in markdown and "not a medical device" in markdown
    for item in decision.missing:
        assert engine.rulebook.catalog.get(item.field).title in markdown
    assert not errors(at)


def test_a_rule_base_that_does_not_load_is_reported_and_no_advice_is_shown(tmp_path, monkeypatch):
    target = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, target)
    (target / "broken.yaml").write_text("rules:\n  - id: not a rule id\n    title: broken\n")
    monkeypatch.setenv("SPINEMETS_RULES", str(target))
    at = start()
    assert errors(at) and "The rule base does not load" in errors(at)[0]
    assert "broken.yaml" in errors(at)[0]
    assert top_shown(at) is None


def test_conflicts_and_adjuncts_are_shown_with_both_sides_cited(engine):
    path = next((p for p in VIGNETTES if engine.evaluate(document(p).case).conflicts), None)
    if path is None:
        pytest.skip("no vignette has a conflict between papers")
    decision = engine.evaluate(document(path).case)
    at = load_vignette(start(), path)
    open_decision_tab(at, "Papers disagree")
    conflict = decision.conflicts[0]
    assert conflict.text in texts(at)
    labels_shown = [e.label for e in at.expander]
    assert len({c.source for c in conflict.citations}) >= 2
    for c in conflict.citations:
        assert any(c.section in label for label in labels_shown)
    open_decision_tab(at, "Adjuncts")
    for adjunct in decision.adjuncts:
        assert adjunct.title in texts(at)


def test_an_external_sources_locator_is_shown_as_a_pointer_and_a_papers_as_a_quotation(engine):
    path, citation = next((p, c) for p in VIGNETTES for o in engine.evaluate(document(p).case).options
                          for r in o.reasons for c in r.citations
                          if engine.rulebook.sources[c.source].kind == "external")
    at = load_vignette(start(), path)
    shown = texts(at)
    assert "pointer, not a quotation" in shown
    assert f"> {citation.locator}" not in shown.replace("\\", "")


def test_a_reason_resting_on_an_estimated_survival_says_so_on_its_card(engine):
    path = next(p for p in VIGNETTES if "tokuhashi" in p.stem)
    decision = engine.evaluate(document(path).case)
    reason = next(r for o in decision.options for r in o.reasons if decision.rests_on(r.rule))
    fact = decision.rests_on(reason.rule)[0]
    at = load_vignette(start(), path)
    captions = [c.value for c in at.caption if f"rule `{reason.rule}`" in c.value]
    assert captions and all(f"rests on *{fact.title}*" in c and f"`{fact.because[0].rule}`" in c for c in captions)
