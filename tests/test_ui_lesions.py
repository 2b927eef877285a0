"""Per-level entry of a case's lesions (ui/lesion_state.py, ui/lesion_form.py), driven through the app's widgets
(Streamlit AppTest) and through the state functions: add a level, copy findings, remove one, switch between flat and
per-level entry without losing anything, and a case with lesions through the agenda and the case files."""
from __future__ import annotations

import pytest
import yaml

from spinemets import Case, get_engine
from spinemets.whatif import sweep
from spinemets.case_io import case_from_data
from spinemets.ui import case_state, imports, lesion_form, lesion_state, session
from spinemets.ui.evaluation import evaluate_form, input_specs
from tests.ui_apptest import errors, set_field, start, statuses_shown, texts, widget

LESION_CASE = Case(id="two-levels", age=64, primary_tumor="breast", lesions=[
    {"level": "L1", "spinal_cord_compression": True, "bilsky_grade": "2", "painful": True,
     "sins": {"location": "junctional", "lesion": "lytic"}},
    {"level": "T11", "pathological_fracture": True, "height_loss_percent": 30.0, "painful": True},
])


@pytest.fixture(scope="module")
def specs():
    return input_specs(get_engine())


def _blank_state(specs) -> dict:
    state: dict = {}
    case_state.ensure(state, specs)
    return state


def _case(state, specs) -> Case:
    return case_from_data(case_state.read(state, specs).data).case


# --- the state, without a page -------------------------------------------------------------------------------------

def test_a_case_with_lesions_goes_into_the_form_and_back_unchanged(specs):
    state = _blank_state(specs)
    case_state.load(state, specs, LESION_CASE)
    assert lesion_state.on(state) and lesion_state.levels(state) == ["L1", "T11"]  # input order kept
    assert _case(state, specs) == LESION_CASE
    # and through a snapshot (the agenda, a reload) into another form
    other = _blank_state(specs)
    case_state.restore(other, specs, case_state.snapshot(state))
    assert _case(other, specs) == LESION_CASE


def test_a_flat_case_reads_exactly_as_before(specs):
    state = _blank_state(specs)
    flat = Case(id="flat", levels=["T9"], pathological_fracture=True, sins={"location": "semirigid"})
    case_state.load(state, specs, flat)
    assert not lesion_state.on(state) and lesion_state.slots(state) == []
    data = case_state.read(state, specs).data
    assert "lesions" not in data and data["levels"] == ["T9"]
    assert _case(state, specs) == flat


def test_per_level_entry_starts_one_lesion_per_level_with_the_flat_findings(specs):
    state = _blank_state(specs)
    state[case_state.key("levels")] = ["T12", "T11"]
    state[case_state.key("pathological_fracture")] = case_state.YES
    state[case_state.key("sins.location")] = "junctional"
    state[case_state.key("age")] = "71"
    state[lesion_state.PER_LEVEL] = True
    lesion_form.switched(state, specs)
    case = _case(state, specs)
    assert [lesion.level for lesion in case.lesions] == ["T12", "T11"]
    assert all(lesion.pathological_fracture and lesion.sins.location == "junctional" for lesion in case.lesions)
    # the patient's fields stay where they are; the flat per-level fields are not read (nor repeated) any more
    assert case.age == 71 and case.pathological_fracture is None and case.levels is None


def test_switching_back_and_forth_loses_nothing(specs):
    state = _blank_state(specs)
    state[case_state.key("levels")] = ["L2"]
    state[case_state.key("pain_score")] = "6"
    state[lesion_state.PER_LEVEL] = True
    lesion_form.switched(state, specs)
    slot = lesion_state.slots(state)[0]
    state[lesion_state.key(slot, "painful")] = case_state.YES
    state[lesion_state.PER_LEVEL] = False
    lesion_form.switched(state, specs)
    flat = _case(state, specs)
    assert flat.lesions is None and flat.levels == ["L2"] and flat.pain_score == 6
    state[lesion_state.PER_LEVEL] = True
    lesion_form.switched(state, specs)
    again = _case(state, specs)
    assert [(lesion.level, lesion.pain_score, lesion.painful) for lesion in again.lesions] == [("L2", 6, True)]


def test_back_to_flat_a_blank_flat_form_takes_the_levels_and_a_single_lesions_findings(specs):
    state = _blank_state(specs)
    state[lesion_state.PER_LEVEL] = True
    lesion_state.add(state, specs, "T7", {"pathological_fracture": case_state.YES, "painful": case_state.NO})
    state[lesion_state.PER_LEVEL] = False
    lesion_form.switched(state, specs)
    flat = _case(state, specs)
    assert flat.levels == ["T7"] and flat.pathological_fracture is True
    # the lesion (with what only a lesion holds) is still there for the way back
    assert lesion_state.values(state, lesion_state.slots(state)[0])["painful"] == case_state.NO


def test_a_problem_in_one_lesion_is_named_by_its_place_and_the_rest_is_decided(specs):
    engine = get_engine()
    state = _blank_state(specs)
    state[lesion_state.PER_LEVEL] = True
    lesion_state.add(state, specs, "T11")
    second = lesion_state.add(state, specs, "L1", {"pathological_fracture": case_state.YES})
    state[lesion_state.key(second, "height_loss_percent")] = "120"
    state[lesion_state.key(second, "kyphosis_degrees")] = "lots"
    outcome = evaluate_form(engine, state)
    assert set(outcome.field_problems) == {"lesions.1.height_loss_percent", "lesions.1.kyphosis_degrees"}
    assert outcome.ok and not outcome.complete
    # decided without the values at fault, the lesion's other findings kept
    assert [(lesion.level, lesion.pathological_fracture, lesion.height_loss_percent)
            for lesion in outcome.case.lesions] == [("T11", None, None), ("L1", True, None)]


def test_a_level_is_described_once(specs):
    state = _blank_state(specs)
    lesion_state.add(state, specs, "T4")
    with pytest.raises(ValueError, match="T4"):
        lesion_state.add(state, specs, "T4")
    assert "T4" not in lesion_state.free_levels(state)


# --- the page ------------------------------------------------------------------------------------------------------

def _per_level(at):
    at.toggle(key=lesion_state.PER_LEVEL).set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _click(at, label: str):
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _lesion_widget(at, slot: int, name: str):
    group = lesion_state.group_of(name, lesion_state.specs_for(input_specs(get_engine())).get(name))
    if at.session_state[lesion_form.GROUP] != group:
        at.segmented_control(key=lesion_form.GROUP).set_value(group).run()
    return widget(at, name, key=lesion_state.key(slot, name))


def _set_lesion(at, slot: int, name: str, shown):
    element = _lesion_widget(at, slot, name)
    (element.input if element.type == "text_input" else element.set_value)(shown)
    return at.run()


def test_levels_are_added_copied_and_removed_on_the_page_and_removing_can_be_undone():
    at = start()
    set_field(at, "age", 70)
    _per_level(at)
    assert "No level described yet" in texts(at)
    at.selectbox(key=lesion_form.ADD_LEVEL).set_value("T11").run()
    _click(at, "Add")
    first = at.session_state[lesion_form.FOCUS]
    _set_lesion(at, first, "pathological_fracture", case_state.YES)
    _set_lesion(at, first, "height_loss_percent", "40")
    # the next level offered is the one below; it starts as a copy of T11
    assert at.selectbox(key=lesion_form.ADD_LEVEL).value == "T12"
    at.selectbox(key=lesion_form.ADD_FROM).set_value(str(first)).run()
    _click(at, "Add")
    second = at.session_state[lesion_form.FOCUS]
    assert second != first and lesion_state.level_of(at.session_state, second) == "T12"
    assert _lesion_widget(at, second, "height_loss_percent").value == "40"
    # a third level, blank, then T11's findings copied into it
    at.selectbox(key=lesion_form.ADD_LEVEL).set_value("L2").run()
    at.selectbox(key=lesion_form.ADD_FROM).set_value(lesion_form.BLANK).run()
    _click(at, "Add")
    third = at.session_state[lesion_form.FOCUS]
    assert _lesion_widget(at, third, "pathological_fracture").value == case_state.UNKNOWN
    at.selectbox(key=lesion_form.COPY_FROM).set_value(str(first)).run()
    _click(at, "Copy")
    assert _lesion_widget(at, third, "pathological_fracture").value == case_state.YES
    # the level switcher lists them cranio-caudally with how much of each is known
    assert at.segmented_control(key=lesion_form.FOCUS).options[:3] == ["T11 2/26", "T12 2/26", "L2 2/26"]
    _click(at, "Remove L2")
    assert lesion_state.levels(at.session_state) == ["T11", "T12"]
    _click(at, "Undo")
    assert sorted(lesion_state.levels(at.session_state)) == ["L2", "T11", "T12"]
    case = case_from_data(case_state.read(at.session_state, input_specs(get_engine())).data).case
    assert case.age == 70 and {lesion.level: lesion.height_loss_percent for lesion in case.lesions} == {
        "T11": 40, "T12": 40, "L2": 40}
    assert not errors(at)


def test_a_wrong_value_at_one_level_is_shown_at_that_level():
    at = start()
    _per_level(at)
    at.selectbox(key=lesion_form.ADD_LEVEL).set_value("L3").run()
    _click(at, "Add")
    slot = at.session_state[lesion_form.FOCUS]
    _set_lesion(at, slot, "height_loss_percent", "150")
    shown = errors(at)
    assert any("L3: Height loss (%)" in e for e in shown), shown
    assert at.segmented_control(key=lesion_form.FOCUS).options[0].endswith("⚠")


def test_the_sins_of_a_level_is_entered_at_that_level_and_linked_to_its_own_findings():
    at = start()
    _per_level(at)
    at.selectbox(key=lesion_form.ADD_LEVEL).set_value("T8").run()
    _click(at, "Add")
    slot = at.session_state[lesion_form.FOCUS]
    _set_lesion(at, slot, "lesion_type", "lytic")
    # the SINS bone-lesion component follows this level's lesion type (rules/consistency.yaml), not another's
    assert at.session_state[lesion_state.key(slot, "sins.lesion")] == "lytic"
    _set_lesion(at, slot, "sins.location", "semirigid")
    case = case_from_data(case_state.read(at.session_state, input_specs(get_engine())).data).case
    assert case.lesions[0].sins.location == "semirigid" and case.sins is None


def test_a_case_file_with_lesions_opens_goes_on_the_agenda_and_comes_back_whole():
    at = start()
    specs = input_specs(get_engine())
    data = yaml.safe_dump(LESION_CASE.model_dump(mode="json", exclude_none=True)).encode()
    at.file_uploader(key="upload.case").set_value(("two-levels.yaml", data, "application/yaml")).run()
    assert not at.exception and lesion_state.on(at.session_state)
    assert case_from_data(case_state.read(at.session_state, specs).data).case == LESION_CASE
    _click(at, "Add this case to the agenda")
    item = at.session_state[session.CURRENT]
    at.switch_page("views/session.py").run()
    assert "2 levels: T11, L1" in texts(at)  # the agenda names the levels, cranio-caudally
    at.switch_page("views/board.py").run()
    _click(at, "Clear the form")
    assert not lesion_state.slots(at.session_state) and not lesion_state.on(at.session_state)
    at.selectbox(key="agenda.jump").set_value(item).run()
    assert case_from_data(case_state.read(at.session_state, specs).data).case == LESION_CASE
    # the case as saved from the form is the case, lesions and all
    saved = yaml.safe_load(imports.case_file(case_state.read(at.session_state, specs).data, "yaml"))
    assert case_from_data(saved).case == LESION_CASE


# --- the decision of a case with lesions ---------------------------------------------------------------------------

def _lesion_page():
    """The case page holding LESION_CASE, as opened from its file."""
    at = start()
    data = yaml.safe_dump(LESION_CASE.model_dump(mode="json", exclude_none=True)).encode()
    at.file_uploader(key="upload.case").set_value(("two-levels.yaml", data, "application/yaml")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_spine_picture_and_the_plan_stand_above_the_decision_at_each_level():
    engine = get_engine()
    decision = engine.evaluate(LESION_CASE)
    at = _lesion_page()
    page = "\n".join(e.value for e in at.markdown)
    assert "data-spine='1'" in page and "data-plan='1'" in page
    # every level of the plan in the picture, with the advice of the plan, in the engine's own words
    for level in decision.plan.levels:
        assert f"data-level='{level.level}' data-involved='true' data-option='{level.advice}'" in page
        assert f"<tr data-level='{level.level}' data-option='{level.advice}' data-status='{level.status}'>" in page
    # the decision opened is the first level cranio-caudally, T11, whatever the input order (L1 first)
    assert [d.level for d in decision.lesions] == ["T11", "L1"]
    t11 = decision.lesions[0]
    assert f"<div class='sm-top' data-option='{t11.top}' data-level='T11'" in page
    assert "data-focus='true'" in page and page.index("data-plan='1'") < page.index("data-level='T11' style=")
    assert statuses_shown(at) == t11.statuses()


def test_opening_another_level_of_the_decision_moves_the_focus_of_the_form_and_the_picture():
    engine = get_engine()
    l1 = next(d for d in engine.evaluate(LESION_CASE).lesions if d.level == "L1")
    at = _lesion_page()
    at.segmented_control(key="decision.level").set_value("L1").run()
    assert not at.exception
    assert lesion_state.level_of(at.session_state, at.session_state[lesion_form.FOCUS]) == "L1"
    page = "\n".join(e.value for e in at.markdown)
    assert "data-level='L1' data-involved='true'" in page
    focused = page[page.index("data-focus='true'") - 300:page.index("data-focus='true'")]
    assert "data-level='L1'" in focused
    assert statuses_shown(at) == l1.statuses()
    # and the form's focus moves the decision back
    slot = next(s for s in lesion_state.slots(at.session_state) if lesion_state.level_of(at.session_state, s) == "T11")
    at.segmented_control(key=lesion_form.FOCUS).set_value(slot).run()
    assert at.session_state["decision.level"] == "T11"


def test_the_summaries_carry_each_level_and_the_plan():
    from spinemets.ui import report_content, report_markdown, report_pdf
    from tests.test_ui_report import pdf_text

    engine = get_engine()
    decision = engine.evaluate(LESION_CASE)
    summary = report_content.build(engine.rulebook, LESION_CASE, decision)
    text = report_markdown.render(summary)
    assert "## Plan for the patient" in text
    for level in decision.lesions:
        assert f"## Decision at {level.level}" in text
        assert f"**Top suggestion at {level.level}: {level.top} - " in text
    assert "**T11:** " in text and "Height loss (%): 30" in text and "Pain generator: yes" in text
    assert text.index("## Plan for the patient") < text.index("## Decision at T11") < text.index("## Decision at L1")
    pdf = pdf_text(report_pdf.render(summary))
    assert "Plan for the patient" in pdf and "Decision at T11" in pdf and "Decision at L1" in pdf


def test_the_board_log_records_the_lesions_and_the_plan(tmp_path):
    from spinemets.board_log import BoardLog

    db = tmp_path / "board.sqlite"
    at = _lesion_page()
    at.session_state["board.recording"] = True
    at.session_state["board.db_path"] = str(db)
    at.run()
    top = get_engine().evaluate(LESION_CASE).top
    at.multiselect(key="record.chosen").set_value([top])
    next(b for b in at.button if b.label == "Record the board's decision").click()
    at.run()
    assert "record 1 of the board log" in texts(at), errors(at)
    ((_, record),) = list(BoardLog(db).decisions())  # the record's BoardDecision
    assert [lesion["level"] for lesion in record.case["lesions"]] == ["L1", "T11"]
    assert [level["level"] for level in record.decision["plan"]["levels"]] == ["T11", "L1"]
    assert [lesion["level"] for lesion in record.decision["lesions"]] == ["T11", "L1"]
    # the minutes say the engine's advice at each level
    from spinemets import minutes

    titles = {o.code: o.title for o in get_engine().rulebook.manifest.options}
    text = minutes.markdown(minutes.entries_of([(None, record)]), titles)
    line = next(x for x in text.splitlines() if x.startswith("- Plan by level: "))
    for level in get_engine().evaluate(LESION_CASE).plan.levels:
        assert f"{level.level} {titles[level.advice]} ({level.advice})" in line


def test_a_what_if_changes_one_levels_finding_and_compares_each_levels_advice():
    at = _lesion_page()
    at.switch_page("views/whatif.py").run()
    assert not at.exception, [e.value for e in at.exception]
    slot = next(s for s in lesion_state.slots(at.session_state) if lesion_state.level_of(at.session_state, s) == "L1")
    choice = f"lesion.{slot}.painful"
    at.selectbox(key="whatif.field").set_value(choice).run()
    at.segmented_control(key=f"whatif.value.{choice}").set_value(case_state.NO).run()
    assert not at.exception and not errors(at), errors(at)
    tables = [t.value for t in at.table if "level" in t.value.columns]
    assert tables and list(tables[0]["level"]) == ["T11", "L1"]
    engine = get_engine()
    changed = LESION_CASE.model_copy(update={"lesions": [
        LESION_CASE.lesions[0].model_copy(update={"painful": False}), LESION_CASE.lesions[1]]})
    after = next(d for d in engine.evaluate(changed).lesions if d.level == "L1")
    row = tables[0][tables[0]["level"] == "L1"].iloc[0]
    assert f"({after.top})" in row["after the change"]
    # the single changes that move the top suggestion name the level whose finding they change
    moving = [c for c in sweep(engine, LESION_CASE) if c.moves_top]
    shown = [t.value for t in at.table if "top suggestion" in t.value.columns]
    if moving:
        assert sorted(shown[0]["level"]) == sorted(c.level or "the patient" for c in moving)
    else:
        assert "No single change of one field moves the top suggestion" in texts(at)
    # applied, the level's finding changes in the form (and only there); undo brings it back
    next(b for b in at.button if b.label == "Apply this value to the case").click().run()
    specs = input_specs(engine)
    assert case_from_data(case_state.read(at.session_state, specs).data).case == changed
    at.switch_page("views/board.py").run()
    _click(at, "Undo")
    assert case_from_data(case_state.read(at.session_state, specs).data).case == LESION_CASE


def test_a_vignette_with_lesions_is_named_neutrally_by_its_levels():
    from spinemets.ui import labels

    assert labels.neutral_title(get_engine().rulebook, 3, LESION_CASE) == "Vignette 3: breast; T11, L1"


def test_a_level_whose_findings_contradict_each_other_is_named_and_the_rest_still_decided():
    at = start()
    _per_level(at)
    for level in ("T4", "T5"):
        at.selectbox(key=lesion_form.ADD_LEVEL).set_value(level).run()
        _click(at, "Add")
    t5 = at.session_state[lesion_form.FOCUS]
    _set_lesion(at, t5, "painful", case_state.NO)
    _set_lesion(at, t5, "mechanical_pain", case_state.YES)
    shown = errors(at)
    message = next(c.message for c in get_engine().rulebook.constraints
                   if c.id == "consistency.level_not_painful_with_pain")
    # named by its level in the summary, and beside the field drawn (the pain group of T5)
    assert any("T5: Mechanical pain" in e and message in e for e in shown), shown
    assert any(e == message for e in shown), shown
    assert "No decision" not in texts(at)
    # decided without the fields at fault: both levels are still there
    page = "\n".join(e.value for e in at.markdown)
    assert "data-level='T4' data-involved='true'" in page and "data-level='T5' data-involved='true'" in page


def _lesion_vignettes():
    from tests.ui_apptest import document, vignette_files

    return [p for p in vignette_files() if document(p).case.lesions and document(p).board is not None]


def test_a_trainee_reads_a_vignettes_findings_level_by_level_and_sees_the_plan():
    from tests.ui_apptest import document

    found = _lesion_vignettes()
    assert found, "cases/ holds a teaching vignette in lesion form (issue 19)"
    path = found[0]
    case = document(path).case
    at = start()
    at.switch_page("views/trainee.py").run()
    at.selectbox(key="trainee.vignette").set_value(path.name).run()
    rows = at.dataframe[0].value
    for lesion in case.lesions:
        assert any(str(f).startswith(f"{lesion.level}: ") for f in rows["finding"]), lesion.level
    decision = get_engine().evaluate(case)
    at.radio(key=f"trainee.choice.{case.id}.scored").set_value(decision.top)
    next(b for b in at.button if b.label == "Commit and reveal").click().run()
    assert not at.exception, [e.value for e in at.exception]
    page = "\n".join(e.value for e in at.markdown)
    assert "data-plan='1'" in page and "data-spine='1'" in page
    assert f"data-level='{decision.lesions[0].level}'" in page


def test_the_presentation_view_of_a_case_with_lesions_shows_the_top_suggestion_large_and_the_plan():
    at = _lesion_page()
    at.toggle(key="board.present").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    page = "\n".join(e.value for e in at.markdown)
    assert "class='sm-present'" in page and "data-plan='1'" in page and "data-spine='1'" in page


def test_an_unknown_finding_of_another_level_is_asked_of_that_level():
    from spinemets import read_case_file
    from tests.ui_apptest import ROOT, open_decision_tab

    # T4 compresses the cord; whether T10, far below, does too decides whether there are two discrete compressions,
    # so T4's advice waits on T10's compression (a level between two compressions would put the three adjacent
    # levels under the multilevel caution whatever it answers)
    base = read_case_file(ROOT / "cases" / "teach-multilevel-discrete-compressions-renal.yaml").case
    lesions = [base.lesions[0].model_copy(update={"level": "T4"}),
               base.lesions[1].model_copy(update={"level": "T10", "spinal_cord_compression": None,
                                                  "epidural_involvement": None})]
    case = base.model_copy(update={"id": "t4-t10", "lesions": lesions})
    t4 = get_engine().evaluate(case).lesions[0]
    assert [m.levels for m in t4.missing if m.field == "spinal_cord_compression"] == [("T10",)]
    at = start()
    data = yaml.safe_dump(case.model_dump(mode="json", exclude_none=True)).encode()
    at.file_uploader(key="upload.case").set_value(("t4-t10.yaml", data, "application/yaml")).run()
    open_decision_tab(at, "Still to find out")
    assert "Cord compression (imaging) at T10?" in texts(at)
    t10 = next(s for s in lesion_state.slots(at.session_state) if lesion_state.level_of(at.session_state, s) == "T10")
    prompt = at.segmented_control(key=f"prompt.lesion.{t10}.spinal_cord_compression")
    prompt.set_value(case_state.NO).run()
    assert not at.exception, [e.value for e in at.exception]
    answered = case_from_data(case_state.read(at.session_state, input_specs(get_engine())).data).case
    assert [lesion.spinal_cord_compression for lesion in answered.lesions] == [True, False]


def test_the_lesions_come_back_after_a_reload(specs):
    from spinemets.ui import drafts

    state = _blank_state(specs)
    case_state.load(state, specs, LESION_CASE)
    state[lesion_form.FOCUS] = lesion_state.slots(state)[1]
    # a reload starts an empty session; the tab's work in progress is put back from the server's memory
    fresh = dict(drafts.work(state))
    assert _case(fresh, specs) == LESION_CASE
    assert lesion_form.focus_level(fresh) == "T11"
