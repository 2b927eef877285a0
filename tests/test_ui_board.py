"""The case and decision page, driven through its widgets (Streamlit AppTest)."""
from __future__ import annotations

import html
import itertools
import re
import shutil

import pytest

from spinemets import DEFAULT_RULES_DIR, get_engine
from spinemets.case import case_from_values, input_fields, known_values
from spinemets.whatif import candidate_values, sweep
from tests.ui_apptest import (deferred_downloads, document, errors, html_bodies, load_vignette, markdown_text,
                              open_decision_tab,
                              set_field, start, statuses_shown, texts, top_shown, vignette_files, widget)
from spinemets.ui import case_state, citations, labels, missing_rank, sins_link
from spinemets.ui.evaluation import input_specs
from spinemets.ui.labels import DISCLAIMER

VIGNETTES = vignette_files()
FIRST = VIGNETTES[0]


@pytest.fixture
def engine():
    # Not the session's engine: the app reloads the rule base from disk, so compare with the one on disk now.
    return get_engine()


def test_a_fresh_form_has_every_field_unknown_and_asks_for_the_case(engine):
    at = start()
    for name in input_fields():
        value = widget(at, name).value
        assert value in (case_state.UNKNOWN, "", []), f"{name} starts as {value!r}, not unknown"
    assert "Decision support, not a medical device" in texts(at)
    assert DISCLAIMER in [w.value for w in at.sidebar.warning][0]
    # An empty form is not advised on ("top suggestion: conservative care, not recommended" would mislead).
    assert top_shown(at) is None and "Enter the case" in texts(at)
    set_field(at, "coagulopathy", False)
    expected = engine.evaluate({"id": case_state.DEFAULT_ID, "coagulopathy": False})
    assert top_shown(at) == expected.top
    assert statuses_shown(at) == expected.statuses()


def _form_case(at):
    """The case the form holds, read back through its widgets' state."""
    from spinemets.case_io import case_from_data
    return case_from_data(case_state.read(at.session_state, input_specs(get_engine())).data).case


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_a_vignette_loads_into_the_form_and_gives_the_engines_decision(engine, path):
    at = load_vignette(start(), path)
    case = document(path).case
    known = known_values(case)
    held = known_values(_form_case(at))
    linked = sins_link.partners(engine)
    for name in input_fields():
        if name in linked and name not in known and name in held:
            # A SINS component the vignette leaves out but its other fields determine is filled from them.
            assert not engine.check(case_from_values("x", {**known, name: held[name]})), name
            continue
        assert held.get(name) == known.get(name), f"{name}: form holds {held.get(name)!r}, vignette {known.get(name)!r}"
    assert widget(at, "id").value == case.id
    held_lesions = _form_case(at).lesions
    assert (held_lesions is None) == (case.lesions is None)
    for mine, theirs in zip(held_lesions or (), case.lesions or (), strict=True):
        # as for the flat form, a SINS component the level leaves out but its own fields determine is filled in
        given = theirs.model_dump(exclude_none=True)
        shown = mine.model_dump(exclude_none=True)
        shown_sins, given_sins = shown.pop("sins", {}), given.pop("sins", {})
        assert shown == given
        assert {k: v for k, v in shown_sins.items() if k in given_sins} == given_sins
    decision = engine.evaluate(_form_case(at))
    # a case with lesions shows the plan, then the decision at its first level, cranio-caudally
    shown = decision.lesions[0] if decision.lesions else decision
    assert top_shown(at) == shown.top
    assert statuses_shown(at) == shown.statuses()
    assert list(statuses_shown(at)) == [o.option for o in shown.options], "cards are not best first"


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


def test_still_to_find_out_puts_the_fields_that_could_move_the_top_first(engine):
    def moving_and_asked(case):
        # A field the rule base does not ask about in this situation (rules/questions.yaml) is not listed,
        # even when setting it would move the top; among the listed fields, those that move it come first.
        asked = {m.field for m in engine.evaluate(case).missing}
        return {c.field for c in sweep(engine, case) if c.moves_top and c.before is None} & asked

    path = next(p for p in VIGNETTES if moving_and_asked(document(p).case))
    at = load_vignette(start(), path)
    open_decision_tab(at, "Still to find out")
    case = _form_case(at)
    moving = moving_and_asked(case)
    order = [m.group(1) for e in at.markdown for m in [re.match(r"(?:- )?\*\*(.+?)\?\*\*", e.value)] if m]
    titles = {engine.rulebook.catalog.get(f).title: f for f in input_fields() if engine.rulebook.catalog.get(f)}
    shown = [titles[t] for t in order if t in titles]
    assert shown and set(shown) == {m.field for m in engine.evaluate(case).missing}
    first = shown[:len(moving)]
    assert set(first) == moving, (first, moving)
    assert "could move the top suggestion" in texts(at)


def test_out_of_range_input_is_explained_kept_and_the_rest_of_the_decision_stays(engine):
    at = load_vignette(start(), FIRST)
    before = case_state.snapshot(at.session_state)
    case = _form_case(at)
    name = next(n for n in input_fields() if (s := engine.rulebook.catalog.get(n)) and s.numeric and s.maximum
                and n not in known_values(case))
    too_big = engine.rulebook.catalog.get(name).maximum + 70
    widget(at, name).input(f"{too_big:g}")
    at.run()
    assert any(f"must be <= {engine.rulebook.catalog.get(name).maximum:g}" in e for e in errors(at)), errors(at)
    # The decision shown is the one for the case without the bad value, said so, with its downloads.
    assert top_shown(at) == engine.evaluate(case).top
    assert statuses_shown(at) == engine.evaluate(case).statuses()
    assert f"Shown without {engine.rulebook.catalog.get(name).title}" in texts(at)
    assert {b.label for b in at.get("download_button")} >= {"Tumor board summary (PDF)", "Save the case (YAML)"}
    assert widget(at, name).value == f"{too_big:g}"
    assert {k: v for k, v in case_state.snapshot(at.session_state).items() if k != name} == \
           {k: v for k, v in before.items() if k != name}
    widget(at, name).input("")
    at.run()
    assert not errors(at) and "Shown without" not in texts(at)


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


def _flat_checks(engine):
    """The checks the flat form can trip: those over case fields alone (a check that reads a field only a lesion
    has, such as `painful`, is tripped level by level: tests/test_ui_lesions.py)."""
    return [c for c in engine.rulebook.constraints if set(c.fields) <= set(input_fields())]


def _unlinked_checks(engine):
    linked = set(sins_link.partners(engine))
    return [c for c in _flat_checks(engine) if not linked & set(c.fields)]


def _linked_checks(engine):
    linked = set(sins_link.partners(engine))
    return [c for c in _flat_checks(engine) if linked & set(c.fields)]


@pytest.mark.parametrize("index", [0, -1])
def test_an_impossible_combination_is_explained_next_to_each_field_and_kept(engine, index):
    constraint = _unlinked_checks(engine)[index]
    values = _refused_values(engine, constraint)
    at = start()
    for name, value in values.items():
        set_field(at, name, value)
    shown = errors(at)
    # once in the summary, once beside each field involved that is drawn (the open group's)
    group = at.session_state["form.group"]
    drawn = [n for n in values if n.startswith("sins.") or labels.field_group(engine.rulebook, n) == group]
    assert sum(constraint.message in e for e in shown) == len(drawn) + 1, shown
    assert "Shown without" in texts(at)
    specs = engine.rulebook.catalog.specs
    for name, value in values.items():
        assert widget(at, name).value == case_state.widget_value(name, specs[name], value)


@pytest.mark.parametrize("check", range(len(_linked_checks(get_engine()))))
def test_a_sins_component_cannot_contradict_the_field_it_shares_a_meaning_with(engine, check):
    """SINS is entered once: whatever order the board enters a refused combination in, the form never holds it."""
    constraint = _linked_checks(engine)[check]
    values = _refused_values(engine, constraint)
    for order in (list(values), list(reversed(values))):
        at = start()
        for name in order:
            try:
                set_field(at, name, values[name])
            except (KeyError, ValueError):
                pass  # the component is filled from its partner, or its widget does not offer the value
        assert constraint.message not in "\n".join(errors(at)), order
        # this combination; a field filled from a component cleared later may meet another (unlinked) check,
        # which the form shows beside its fields like any other
        assert constraint.id not in {p.rule for p in engine.check(_form_case(at))}, order


def test_a_sins_component_another_field_determines_is_filled_with_its_points(engine):
    at = start()
    set_field(at, "lesion_type", "lytic")
    points = labels.points_of(engine.rulebook, "sins.lesion")["lytic"]
    assert _form_case(at).sins.lesion == "lytic"
    assert f"lytic · {points} pts" in texts(at) and "from Lesion type" in texts(at)
    with pytest.raises(KeyError):
        widget(at, "sins.lesion")  # shown as filled, not asked


def test_choosing_a_sins_component_fills_the_unknown_yes_no_it_implies(engine):
    at = start()
    set_field(at, "sins.pain", "occasional")
    assert widget(at, "mechanical_pain").value == case_state.NO


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
    case = _form_case(at)
    name = missing_rank.ranked(engine, case, engine.evaluate(case))[0].field
    spec = engine.rulebook.catalog.get(name)
    value = True if spec.kind == "bool" else spec.values[-1] if spec.kind == "enum" else spec.maximum
    open_decision_tab(at, "Still to find out")
    set_field(at, name, value, key="prompt." + name)
    assert widget(at, name).value == case_state.widget_value(name, spec, value)


def test_sins_total_is_shown_once_every_component_is_known(engine):
    at = start()
    set_field(at, "coagulopathy", False)
    score = next(s for s in engine.rulebook.scores if s.id == "sins")
    assert f"{score.title}: between" in texts(at)
    for component in score.components:
        set_field(at, component.input, next(iter(component.points)))
    expected = sum(next(iter(c.points.values())) for c in score.components)
    assert f"{score.title}: **{expected}**" in texts(at), texts(at)


def test_the_rule_base_version_and_hash_are_shown(engine):
    at = set_field(start(), "coagulopathy", False)
    assert engine.sha256 in texts(at)
    assert engine.rulebook.version in texts(at)


def test_export_gives_a_pdf_and_markdown_of_the_decision(engine):
    with deferred_downloads() as downloads:
        at = load_vignette(start(), FIRST)
    case = document(FIRST).case
    pdf = downloads[f"spinemets-{case.id}.pdf"]()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    markdown = downloads[f"spinemets-{case.id}.md"]().decode()
    # The form's case, which may hold SINS components the vignette's other fields determine.
    decision = engine.evaluate(_form_case(at))
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
    assert len({c.source for c in conflict.citations}) >= 2
    shown = markdown_text(at)
    for c in conflict.citations:
        assert f"{citations.short_name(engine.rulebook, c.source)} - {c.section}" in shown
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
    cards = next(body for body in [e.value for e in at.markdown] + html_bodies(at) if "class='sm-card'" in body)
    items = re.findall(rf"<li data-rule='{re.escape(reason.rule)}'>(.*?)</li>", cards)
    deriver = engine.rulebook.rule_by_id[fact.because[0].rule].title
    assert items and all(f"<i>{html.escape(fact.title)}</i>" in i and html.escape(deriver) in i for i in items)
