"""The what-if page: one field changed by hand, and the automatic list of changes that move the top suggestion."""
from __future__ import annotations

from spinemets import get_engine
from spinemets.whatif import diff, sweep, with_value
from tests.ui_apptest import document, errors, load_vignette, set_field, start, texts, vignette_files, widget
from spinemets.ui import case_state
from spinemets.ui.labels import status_label

FIRST = vignette_files()[0]


def _tables(at, column: str):
    """The page's tables that have this column, in page order (read-only tables carry no key)."""
    return [t.value for t in at.table if column in t.value.columns]


def _on_whatif(path=FIRST):
    at = load_vignette(start(), path)
    at.switch_page("views/whatif.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _top_moving_change_entered():
    """The what-if page with the first change that moves the top suggestion typed into it (not applied)."""
    engine = get_engine()
    case = document(FIRST).case
    change = next(c for c in sweep(engine, case) if c.moves_top)
    at = _on_whatif()
    at.selectbox(key="whatif.field").set_value(change.field).run()
    set_field(at, change.field, change.after, key=f"whatif.value.{change.field}")
    return engine, case, change, at


def test_a_changed_field_shows_which_statuses_change():
    engine, _, change, at = _top_moving_change_entered()
    titles = {o.code: o.title for o in engine.rulebook.manifest.options}
    table = _tables(at, "after the change")[0]
    changed = table[table["changed"] == "yes"]
    assert set(changed["option"]) == {titles[c.option] for c in change.changes}
    for c in change.changes:
        row = table[table["option"] == titles[c.option]].iloc[0]
        assert (row["now"], row["after the change"]) == (status_label(c.before), status_label(c.after))
    assert f"{titles[change.top_before]} → {titles[change.top_after]}" in texts(at)


def test_applying_a_what_if_value_can_be_undone():
    engine, _, change, at = _top_moving_change_entered()
    spec = engine.rulebook.catalog.get(change.field)
    next(b for b in at.button if b.label == "Apply this value to the case").click().run()
    at.switch_page("views/board.py").run()
    assert widget(at, change.field).value == case_state.widget_value(change.field, spec, change.after)
    next(b for b in at.button if b.label == "Undo").click().run()
    assert widget(at, change.field).value == case_state.widget_value(change.field, spec, change.before)


def test_the_what_if_does_not_touch_the_case_until_applied():
    engine, _, change, at = _top_moving_change_entered()
    spec = engine.rulebook.catalog.get(change.field)
    assert at.session_state[case_state.key(change.field)] == case_state.widget_value(change.field, spec, change.before)
    next(b for b in at.button if b.label == "Apply this value to the case").click().run()
    assert at.session_state[case_state.key(change.field)] == case_state.widget_value(change.field, spec, change.after)
    at.switch_page("views/board.py").run()
    assert widget(at, change.field).value == case_state.widget_value(change.field, spec, change.after)


def test_the_automatic_list_holds_exactly_the_changes_that_move_the_top():
    engine = get_engine()
    at = _on_whatif()
    # the case the form holds: SINS components other fields determine are filled in (ui/sins_link.py)
    from spinemets.case_io import case_from_data
    from spinemets.ui.evaluation import input_specs
    case = case_from_data(case_state.read(at.session_state, input_specs(engine)).data).case
    expected = [c for c in sweep(engine, case) if c.moves_top]
    table = _tables(at, "top suggestion")[0]
    assert len(table) == len(expected)
    for row, change in zip(table.to_dict("records"), expected):
        assert row["field"] == engine.rulebook.catalog.get(change.field).title
        titles = {o.code: o.title for o in engine.rulebook.manifest.options}
        assert row["top suggestion"] == f"{titles[change.top_before]} → {titles[change.top_after]}"
        # each listed change really does what it says
        after = engine.evaluate(with_value(case, change.field, change.after))
        assert after.top == change.top_after and diff(engine.evaluate(case), after) == change.changes


def test_an_invalid_case_sends_the_user_back_to_the_form():
    at = start()
    widget(at, "age").input("sixty")
    at.run()
    at.switch_page("views/whatif.py").run()
    assert "The case in the form has problems" in texts(at)
    at.switch_page("views/board.py").run()
    assert widget(at, "age").value == "sixty"
    assert errors(at)
