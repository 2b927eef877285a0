"""The board meeting in the front end (AppTest): an agenda imported from files, stepped through without losing edits,
the board's decision recorded (in memory, or in the board log once recording is on), minutes, concordance, and a
case opened from or saved to a file with every overwrite undoable."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spinemets import get_engine, parse_case_text
from spinemets.board_log import BoardLog
from spinemets.case import known_values
from spinemets.registry_io import csv_columns
from tests.ui_apptest import (deferred_downloads, document, errors, set_field, start, texts, top_shown, vignette_files,
                              widget)
from spinemets.ui import case_state
from spinemets.ui.text import md
VIGNETTES = vignette_files()


def _case_yaml(path: Path) -> bytes:
    return path.read_bytes()


def _case_json(path: Path) -> bytes:
    case = document(path).case
    return json.dumps(case.model_dump(mode="json", exclude_none=True)).encode()


def _registry(paths: list[Path]) -> bytes:
    columns = csv_columns()
    rows = [",".join(columns)]
    for path in paths:
        values = known_values(document(path).case)
        cells = []
        for column in columns:
            value = {"id": document(path).case.id}.get(column, values.get(column))
            if isinstance(value, bool):
                value = str(value).lower()
            elif isinstance(value, list):
                value = ";".join(value)
            cells.append("" if value is None else str(value))
        rows.append(",".join(cells))
    return ("\n".join(rows) + "\n").encode()


def _session_page(at):
    at.switch_page("views/session.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _import(at, *files: tuple[str, bytes]):
    uploader = at.file_uploader(key="upload.agenda_files")
    uploader.set_value([(name, data, "application/octet-stream") for name, data in files])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _agenda_ids(at) -> list[str]:
    return [i.case_id for i in at.session_state["agenda.items"] if i.values is not None]


def _board(at):
    at.switch_page("views/board.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _record(at, chosen: list[str], reason: str | None = None, comment: str = ""):
    at.multiselect(key="record.chosen").set_value(chosen)
    if reason is not None:
        at.selectbox(key="record.reason").set_value(reason)
    at.text_input(key="record.comment").input(comment)
    next(b for b in at.button if b.label == "Record the board's decision").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def agenda():
    """An app with four patients on the agenda: a YAML case, a JSON case and a registry of two, plus a broken file."""
    at = _session_page(start())
    first, second, third, fourth = VIGNETTES[:4]
    _import(at, (first.name, _case_yaml(first)), (second.stem + ".json", _case_json(second)),
            ("registry.csv", _registry([third, fourth])), ("broken.yaml", b"id: [unclosed\n"))
    return at, [first, second, third, fourth]


def test_an_agenda_is_imported_from_case_files_and_a_registry_and_a_bad_file_is_listed(agenda):
    at, paths = agenda
    assert _agenda_ids(at) == [document(p).case.id for p in paths]
    assert "4 patients added to the agenda; 1 did not read" in texts(at)
    assert "broken.yaml" in texts(at) and "does not read" in texts(at)


def test_stepping_through_the_agenda_keeps_each_patients_edits(agenda, tmp_path):
    at, paths = agenda
    engine = get_engine()
    next(b for b in at.button if b.key == f"open.{at.session_state['agenda.items'][0].key}").click().run()
    at = _board(at)
    assert widget(at, "id").value == document(paths[0]).case.id
    assert top_shown(at) == engine.evaluate(document(paths[0]).case).top
    set_field(at, "coagulopathy", True)
    next(b for b in at.button if b.label == "Next").click().run()
    assert widget(at, "id").value == document(paths[1]).case.id
    next(b for b in at.button if b.label == "Previous").click().run()
    assert widget(at, "id").value == document(paths[0]).case.id
    assert widget(at, "coagulopathy").value == case_state.YES


def test_with_recording_off_a_decision_is_kept_for_the_minutes_and_nothing_is_written(agenda, tmp_path,
                                                                                        monkeypatch):
    monkeypatch.setenv("SPINEMETS_BOARD_DB", str(tmp_path / "board.sqlite"))
    at, paths = agenda
    next(b for b in at.button if b.key == f"open.{at.session_state['agenda.items'][0].key}").click().run()
    at = _board(at)
    engine = get_engine()
    top = engine.evaluate(document(paths[0]).case).top
    _record(at, [top])
    assert "Recorded" in texts(at) and "recording is off" in texts(at)
    assert not (tmp_path / "board.sqlite").exists()
    with deferred_downloads() as downloads:
        at = _session_page(at)
    minutes = next(v for k, v in downloads.items() if k.endswith(".md"))().decode()
    title = next(o.title for o in engine.rulebook.manifest.options if o.code == top)
    assert f"Board's decision: {title}" in minutes and "Follows the top suggestion: yes" in minutes
    assert "not recorded in a log" in minutes


def test_with_recording_on_an_override_needs_a_reason_and_goes_to_the_log(agenda, tmp_path):
    at, paths = agenda
    db = tmp_path / "log" / "board.sqlite"
    at.text_input(key="board.db_path").input(str(db))
    at.run()
    at.toggle(key="board.recording").set_value(True)
    at.multiselect(key="board.attendees").set_value(["spine surgery", "radiation oncology"])
    at.run()
    assert f"decisions go to `{md(db)}`" in texts(at)
    next(b for b in at.button if b.key == f"open.{at.session_state['agenda.items'][1].key}").click().run()
    at = _board(at)
    engine = get_engine()
    case = document(paths[1]).case
    decision = engine.evaluate(case)
    other = next(o for o in decision.ranking if o != decision.top) if len(decision.ranking) > 1 else \
        next(o for o in engine.rulebook.option_order if o != decision.top)
    _record(at, [other], comment="prefers to wait")
    assert any("is not the top suggestion" in e and "Choose why" in e for e in errors(at)), errors(at)
    assert not db.exists() or not list(BoardLog(db).records())
    # the refusal keeps what the board entered
    assert at.multiselect(key="record.chosen").value == [other]
    assert at.text_input(key="record.comment").value == "prefers to wait"
    _record(at, [other], reason="patient_preference", comment="prefers to wait")
    assert "record 1 of the board log" in texts(at)
    (stored,) = list(BoardLog(db).decisions())
    record = stored[1]
    assert record.case_id == case.id and record.chosen == (other,) and not record.follows_top
    assert record.override_reason == "patient_preference" and record.comment == "prefers to wait"
    assert record.attendees == ("spine surgery", "radiation oncology") and record.source == "ui"
    assert record.rulebook_sha256 == engine.sha256 and record.decision["ranking"][0] == decision.top
    assert BoardLog(db).verify().ok
    at.switch_page("views/concordance.py").run()
    assert not at.exception
    assert [m.value for m in at.metric][:3] == ["1", "0 (0%)", "1"]


def test_a_case_file_opens_into_the_form_and_the_replaced_case_can_be_brought_back():
    engine = get_engine()
    first, second = VIGNETTES[:2]
    at = start()
    set_field(at, "coagulopathy", True)
    at.file_uploader(key="upload.case").set_value((second.name, second.read_bytes(), "application/yaml"))
    at.run()
    assert widget(at, "id").value == document(second).case.id
    assert top_shown(at) == engine.evaluate(document(second).case).top
    next(b for b in at.button if b.label == "Undo").click().run()
    assert widget(at, "id").value == case_state.DEFAULT_ID
    assert widget(at, "coagulopathy").value == case_state.YES


def test_clearing_the_form_can_be_undone():
    at = start()
    set_field(at, "coagulopathy", True)
    widget(at, "karnofsky").input("70")
    at.run()
    next(b for b in at.button if b.label == "Clear the form").click().run()
    assert widget(at, "coagulopathy").value == case_state.UNKNOWN
    next(b for b in at.button if b.label == "Undo").click().run()
    assert widget(at, "coagulopathy").value == case_state.YES and widget(at, "karnofsky").value == "70"


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_the_case_saved_as_a_file_reads_back_as_the_same_case(fmt):
    path = VIGNETTES[0]
    with deferred_downloads() as downloads:
        at = start()
        at.selectbox(key="board.vignette").set_value(path.name)
        next(b for b in at.button if b.label == "Load into the form").click().run()
        set_field(at, "karnofsky", 70)
    case = document(path).case
    saved = downloads[f"{case.id}.{fmt}"]()
    again = parse_case_text(saved, f"saved.{fmt}").case
    assert again.id == case.id and again.karnofsky == 70
    expected = {k: v for k, v in known_values(case).items()}
    assert {k: v for k, v in known_values(again).items() if k in expected} == expected


def test_a_folder_of_case_files_and_a_json_lines_registry_become_patients():
    at = _session_page(start())
    first, second, third = VIGNETTES[:3]
    folder = at.file_uploader(key="upload.agenda_folder")
    folder.set_value([(f"cases/{p.name}", p.read_bytes(), "application/yaml") for p in (first, second)])
    at.run()
    assert _agenda_ids(at) == [document(first).case.id, document(second).case.id]
    line = json.dumps(document(third).case.model_dump(mode="json", exclude_none=True))
    _import(at, ("registry.jsonl", (line + "\n").encode()))
    assert _agenda_ids(at)[-1] == document(third).case.id


def test_a_case_typed_in_joins_the_agenda_and_gets_its_decision_recorded():
    at = start()
    set_field(at, "coagulopathy", True)
    next(b for b in at.button if b.label == "Add this case to the agenda").click().run()
    (item,) = at.session_state["agenda.items"]
    assert item.source == "typed in" and at.session_state["agenda.current"] == item.key
    decision = get_engine().evaluate({"id": case_state.DEFAULT_ID, "coagulopathy": True})
    _record(at, [decision.top])
    assert [d.decision.case_id for d in at.session_state["board.decisions"]] == [case_state.DEFAULT_ID]
    assert item.decided == [0]


def test_with_recording_off_a_typed_log_path_opens_nothing(tmp_path):
    """Typing an existing SQLite file's path while recording is off used to add the log's tables to it and switch
    it to WAL, and the page told whether any path existed (/etc/shadow: "not a database")."""
    import sqlite3

    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (x)")
    before = other.read_bytes()
    at = _session_page(start())
    shown = []
    for path in (other, Path("/etc/shadow"), tmp_path / "missing.sqlite"):
        at.text_input(key="board.db_path").input(str(path))
        at.run()
        assert not at.exception
        shown.append([t for t in texts(at).splitlines() if "log" in t.lower()])
    assert other.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["other.sqlite"]
    assert shown[0] == shown[1] == shown[2]  # nothing about any of the files


def test_with_recording_on_a_file_that_is_not_a_log_is_never_written_and_the_message_tells_nothing(agenda, tmp_path):
    import sqlite3

    at, paths = agenda
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (x)")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a log\n")
    before = {p: p.read_bytes() for p in (other, text_file)}
    top = get_engine().evaluate(document(paths[0]).case).top
    messages = []
    for path in (other, text_file, Path("/etc/shadow")):
        at = _session_page(at)
        at.toggle(key="board.recording").set_value(False).run()
        at.text_input(key="board.db_path").input(str(path)).run()
        at.toggle(key="board.recording").set_value(True).run()
        assert not at.exception
        next(b for b in at.button if b.key == f"open.{at.session_state['agenda.items'][0].key}").click().run()
        at = _board(at)
        _record(at, [top])
        found = [e for e in errors(at) if "Not recorded" in e]
        assert found, errors(at)
        messages.append(found[0].replace(md(path), "PATH").replace(str(path), "PATH"))
    assert {p: p.read_bytes() for p in before} == before
    assert not (tmp_path / "other.sqlite-wal").exists()
    assert len(set(messages)) == 1, messages  # the same words whatever the file: nothing about it is told


def test_an_agenda_from_a_registry_of_20000_rows_is_capped_with_a_message():
    from spinemets.ui import session

    header = "id,karnofsky\n"
    rows = "".join(f"r{i},70\n" for i in range(20_000))
    at = _session_page(start())
    _import(at, ("huge.csv", (header + rows).encode()))
    assert len(at.session_state["agenda.items"]) == session.AGENDA_LIMIT
    assert f"The agenda holds at most {session.AGENDA_LIMIT} patients" in texts(at)
    assert "spinemets batch" in texts(at)
